/* lpool.c: placeholder until this area lands. */
#include "lbind.h"

const braidB_Class braidB_pool_classes[] = {
  { NULL, NULL, NULL },
};

void braidB_open_pool(lua_State *L) {
  (void)L;
}

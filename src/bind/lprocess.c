/* lprocess.c: placeholder until this area lands. */
#include "lbind.h"

const braidB_Class braidB_process_classes[] = {
  { NULL, NULL, NULL },
};

void braidB_open_process(lua_State *L) {
  (void)L;
}

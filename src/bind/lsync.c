/* lsync.c: placeholder until the sync primitives land. */
#include "lbind.h"

const braidB_Class braidB_sync_classes[] = {
  { NULL, NULL, NULL },
};

void braidB_open_sync(lua_State *L) {
  (void)L;
}

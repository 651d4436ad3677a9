/* lshm.c: placeholder until shared memory lands. */
#include "lbind.h"

const braidB_Class braidB_shm_classes[] = {
  { NULL, NULL, NULL },
};

void braidB_open_shm(lua_State *L) {
  (void)L;
}

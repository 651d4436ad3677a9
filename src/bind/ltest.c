/*
** ltest.c: braid.core._test, compiled with BRAID_TESTS: probes that let
** specs prove reference counts reach zero and nothing leaks.
** See LICENSE for copyright and license.
*/
#include "lbind.h"


/* _test.refs(obj) -> reference count of a braid object */
static int test_refs(lua_State *L) {
  braid_handle *h = braidB_tohandle(L, 1);
  if (h == NULL) return braidB_typeerror(L, 1, "braid object");
  lua_pushinteger(L, (lua_Integer)braid__handle_refs(h));
  return 1;
}


/* _test.live() -> number of braid objects alive in the process */
static int test_live(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__handle_live());
  return 1;
}


/* _test.id(obj) -> light userdata address of the shared object */
static int test_id(lua_State *L) {
  braid_handle *h = braidB_tohandle(L, 1);
  if (h == NULL) return braidB_typeerror(L, 1, "braid object");
  lua_pushfstring(L, "%p", (void *)h);
  return 1;
}


static const luaL_Reg test_funcs[] = {
  { "refs", test_refs },
  { "live", test_live },
  { "id", test_id },
  { NULL, NULL },
};


void braidB_open_test(lua_State *L) {
  luaL_setfuncs(L, test_funcs, 0);
}

/*
** A C host built against an installed braid, by scripts/check_install.sh:
** once with find_package(braid) (CMakeLists.txt here), once with
** pkg-config. It opens braid, runs a thread and checks the version.
*/
#include <stdio.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "braidlib.h"

int main(void) {
  lua_State *L = luaL_newstate();
  int rc;
  if (braid_version() != ((BRAID_VERSION_MAJOR << 16) |
                          (BRAID_VERSION_MINOR << 8) | BRAID_VERSION_PATCH)) {
    fprintf(stderr, "header and library versions differ\n");
    return 1;
  }
  luaL_openlibs(L);
  braid_openlibs(L);
  rc = luaL_dostring(L,
    "local threading = require 'braid.threading'\n"
    "local q = require('braid.queue').Queue()\n"
    "local t = threading.Thread{target = function(out) out:put(42) end, args = {q}}\n"
    "t:start(); t:join()\n"
    "assert(q:get() == 42)\n"
    "print(require('braid').version)\n");
  if (rc != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  lua_close(L);
  return rc == LUA_OK ? 0 : 1;
}

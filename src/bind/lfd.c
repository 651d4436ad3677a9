/*
** lfd.c: descriptor owners, userdata that close one file descriptor when
** they are collected.
** See LICENSE for copyright and license.
**
** Lua code that keeps a descriptor as an integer (a Process's sentinel)
** pairs it with an owner, so that dropping the object releases the
** descriptor even when close() is never called, as Python's finalizers
** do. close() stays the prompt way. The owner is made before the
** descriptor exists (braidB_newfdowner), so no raise between the two can
** leak it. __gc only closes: it never blocks and takes no lock.
**
** Lua collects when memory grows, not when descriptors run out, and a
** Process or a Connection is small: a loop that drops them could fill
** the descriptor table long before a collection. So a constructor that
** meets EMFILE or ENFILE collects this state's garbage and tries once
** more (braidB_fdgc); only a table full of live objects fails.
*/
#include <errno.h>
#include <unistd.h>

#include "lbind.h"

#define FDOWNER_T "braid.FdOwner"


static int *checkowner(lua_State *L, int idx) {
  return (int *)luaL_checkudata(L, idx, FDOWNER_T);
}


/* owner:close(): closes the descriptor (once). */
static int owner_close(lua_State *L) {
  int *fd = checkowner(L, 1);
  if (*fd >= 0) close(*fd);
  *fd = -1;
  return 0;
}


/* owner:fileno() -> the descriptor, or -1 once closed */
static int owner_fileno(lua_State *L) {
  lua_pushinteger(L, *checkowner(L, 1));
  return 1;
}


/* owner:release() -> the descriptor, which the owner no longer closes */
static int owner_release(lua_State *L) {
  int *fd = checkowner(L, 1);
  lua_pushinteger(L, *fd);
  *fd = -1;
  return 1;
}


static int owner_tostring(lua_State *L) {
  lua_pushfstring(L, FDOWNER_T " (%d)", *checkowner(L, 1));
  return 1;
}


static const luaL_Reg owner_methods[] = {
  { "close", owner_close },
  { "fileno", owner_fileno },
  { "release", owner_release },
  { NULL, NULL },
};

static const luaL_Reg owner_meta[] = {
  { "__gc", owner_close },
  { "__close", owner_close },
  { "__tostring", owner_tostring },
  { NULL, NULL },
};


int *braidB_newfdowner(lua_State *L) {
  int *fd = (int *)lua_newuserdatauv(L, sizeof *fd, 0);
  *fd = -1;
  if (luaL_newmetatable(L, FDOWNER_T)) {
    luaL_setfuncs(L, owner_meta, 0);
    luaL_newlib(L, owner_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
  return fd;
}


int braidB_fdgc(lua_State *L, int err) {
  if (err != EMFILE && err != ENFILE) return 0;
  lua_gc(L, LUA_GCCOLLECT, 0);
  errno = err;
  return 1;
}

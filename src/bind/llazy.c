/*
** llazy.c: the libraries of a worker state, opened on first use.
** See LICENSE for copyright and license.
**
** An idle thread should cost little memory (issue 16: an idle Python
** thread is about 16 KB): a fresh state with every standard library open
** is about 20 KB, of which package, coroutine, table, io, os, math, utf8
** and debug are 12 KB that most short threads never touch. A worker state
** opens base and string at once (string also gives strings their
** metatable, which arithmetic on numeric strings needs) and the others
** when first reached (package with the paths of the thread's starter,
** braidB_lazy_paths):
**
**   - as a global: a metatable on the globals table whose __index opens
**     the library the missing name is, and returns it ('require' opens
**     package);
**   - through require: the same __index on package.loaded (require and
**     braid's name lookups read it with lua_getfield).
**
** Once all are open the metatable of the globals table is removed, so a
** program that uses every library ends with plain globals. Until then:
** rawget(_G, name), next and pairs on _G and on package.loaded do not see
** the libraries not yet used (docs/threading.md), and a missing global
** costs a C call. The metatable is invisible otherwise: getmetatable and
** debug.getmetatable return nil for the globals table while it is
** braid's, and setmetatable / debug.setmetatable on the globals table
** first open every library left, so a program that installs its own
** metatable there (a "strict" module) still finds them all.
**
** braid's embedded modules are found the same way: package.preload of a
** worker has an __index that makes the loader of an embedded module on
** first require, instead of 25 loaders made at start.
*/
#include <string.h>

#include "lbind.h"
#include "lualib.h"

static const char G_MT_KEY = 'g';      /* the globals table's metatable */
static const char LOADED_MT_KEY = 'l'; /* package.loaded's */

static const char PATHS_KEY = 'p';     /* { path, cpath } until package opens */

static const luaL_Reg lazy_libs[] = {
  { LUA_LOADLIBNAME, luaopen_package }, /* first: 'require' opens it */
  { LUA_COLIBNAME, luaopen_coroutine }, { LUA_TABLIBNAME, luaopen_table },
  { LUA_IOLIBNAME, luaopen_io },        { LUA_OSLIBNAME, luaopen_os },
  { LUA_MATHLIBNAME, luaopen_math },    { LUA_UTF8LIBNAME, luaopen_utf8 },
  { LUA_DBLIBNAME, luaopen_debug },     { NULL, NULL },
};

typedef struct Lazy {
  unsigned pending; /* bit i: lazy_libs[i] not opened yet */
} Lazy;


static Lazy *getlazy(lua_State *L) {
  return (Lazy *)lua_touserdata(L, lua_upvalueindex(1));
}


static void wrap_debug(lua_State *L);


/* package was just opened (at the top): the paths its state was given
** (braidB_lazy_paths), which replace those luaopen_package took from the
** environment, as they did when package was opened first. */
static void set_paths(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &PATHS_KEY) == LUA_TTABLE) {
    if (lua_rawgeti(L, -1, 1) == LUA_TSTRING) lua_setfield(L, -3, "path");
    else lua_pop(L, 1);
    if (lua_rawgeti(L, -1, 2) == LUA_TSTRING) lua_setfield(L, -3, "cpath");
    else lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &PATHS_KEY);
  }
  lua_pop(L, 1);
}


void braidB_lazy_paths(lua_State *L, const char *path, const char *cpath) {
  if (path == NULL && cpath == NULL) return;
  lua_createtable(L, 2, 0);
  if (path) {
    lua_pushstring(L, path);
    lua_rawseti(L, -2, 1);
  }
  if (cpath) {
    lua_pushstring(L, cpath);
    lua_rawseti(L, -2, 2);
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &PATHS_KEY);
}

/* Opens lazy_libs[i] (pending) as luaL_openlibs would; leaves it on the
** stack. When it was the last one, the globals table loses its metatable. */
static void open_one(lua_State *L, Lazy *z, int i) {
  z->pending &= ~(1u << i);
  /* requiref reads package.loaded[name] first: the bit is clear, so the
  ** __index there answers nil and the library is opened here */
  luaL_requiref(L, lazy_libs[i].name, lazy_libs[i].func, 1);
  if (lazy_libs[i].func == luaopen_debug) wrap_debug(L);
  if (lazy_libs[i].func == luaopen_package) set_paths(L);
  if (z->pending == 0) {
    lua_pushglobaltable(L);
    if (lua_getmetatable(L, -1)) {
      lua_rawgetp(L, LUA_REGISTRYINDEX, &G_MT_KEY);
      if (lua_rawequal(L, -1, -2)) {
        lua_pushnil(L);
        lua_setmetatable(L, -4);
      }
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  }
}


static void open_all(lua_State *L, Lazy *z) {
  int i;
  for (i = 0; lazy_libs[i].name != NULL; i++) {
    if (z->pending & (1u << i)) {
      open_one(L, z, i);
      lua_pop(L, 1);
    }
  }
}


/* __index of the globals table and of package.loaded: (t, k) */
static int lazy_index(lua_State *L) {
  Lazy *z = getlazy(L);
  const char *k;
  int i;
  if (z->pending == 0 || lua_type(L, 2) != LUA_TSTRING) return 0;
  k = lua_tostring(L, 2);
  if (strcmp(k, "require") == 0 && (z->pending & 1u)) {
    /* the global that package defines (lazy_libs[0]) */
    open_one(L, z, 0);
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    lua_getfield(L, -1, "require"); /* raw by now */
    return 1;
  }
  for (i = 0; lazy_libs[i].name != NULL; i++) {
    if ((z->pending & (1u << i)) && strcmp(k, lazy_libs[i].name) == 0) {
      open_one(L, z, i);
      return 1;
    }
  }
  return 0;
}


/* Whether the value at 'idx' is the globals table and still has braid's
** metatable. */
static int is_lazy_globals(lua_State *L, int idx) {
  int r = 0;
  idx = lua_absindex(L, idx);
  lua_pushglobaltable(L);
  if (lua_rawequal(L, idx, -1) && lua_getmetatable(L, idx)) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &G_MT_KEY);
    r = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return r;
}


/* setmetatable / debug.setmetatable: upvalue 2 is the original. On the
** globals table, every library is opened first. */
static int lazy_setmetatable(lua_State *L) {
  int n = lua_gettop(L);
  if (n >= 1 && is_lazy_globals(L, 1)) open_all(L, getlazy(L));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}


/* getmetatable / debug.getmetatable: nil for the globals table while its
** metatable is braid's. */
static int lazy_getmetatable(lua_State *L) {
  int n = lua_gettop(L);
  if (n >= 1 && is_lazy_globals(L, 1)) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}


/* Replaces t[name] (t at 'idx') by 'f' with upvalues (the Lazy
** userdata, the original function). */
static void wrap(lua_State *L, int idx, const char *name, lua_CFunction f) {
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &G_MT_KEY);
  lua_getfield(L, -1, "__index");
  lua_getupvalue(L, -1, 1); /* the Lazy userdata */
  lua_getfield(L, idx, name);
  lua_pushcclosure(L, f, 2);
  lua_setfield(L, idx, name);
  lua_pop(L, 2); /* the metatable, its __index */
}


static void wrap_debug(lua_State *L) {
  /* the library is at the top of the stack */
  wrap(L, -1, "setmetatable", lazy_setmetatable);
  wrap(L, -1, "getmetatable", lazy_getmetatable);
}


/* Sets a metatable {__index = lazy_index} (sharing 'lazy' at 'zi') on
** the table at 'idx', remembered in the registry under 'key'. */
static void set_lazy_mt(lua_State *L, int idx, int zi, const char *key) {
  idx = lua_absindex(L, idx);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, zi);
  lua_pushcclosure(L, lazy_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  lua_setmetatable(L, idx);
}


void braidB_openlibs_lazy(lua_State *L) {
  Lazy *z;
  int zi, i;
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  lua_pop(L, 2);
  z = (Lazy *)lua_newuserdatauv(L, sizeof *z, 0);
  zi = lua_gettop(L);
  z->pending = 0;
  for (i = 0; lazy_libs[i].name != NULL; i++) z->pending |= 1u << i;
  lua_pushglobaltable(L);
  set_lazy_mt(L, -1, zi, &G_MT_KEY);
  wrap(L, -1, "setmetatable", lazy_setmetatable);
  wrap(L, -1, "getmetatable", lazy_getmetatable);
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  set_lazy_mt(L, -1, zi, &LOADED_MT_KEY);
  lua_pop(L, 2); /* loaded, lazy */
}


int braidB_is_lazy_loaded_mt(lua_State *L, int idx) {
  int r;
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &LOADED_MT_KEY);
  r = lua_rawequal(L, idx, -1);
  lua_pop(L, 1);
  return r;
}

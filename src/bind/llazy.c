/*
** llazy.c: the libraries of a worker state, opened on first use.
** See LICENSE for copyright and license.
**
** An idle thread should cost little memory (issue 16: an idle Python
** thread is about 16 KB): a fresh state with every standard library open
** is about 20 KB, of which package, coroutine, table, io, os, math, utf8,
** debug and string are 14 KB that most short threads never touch. A
** worker state opens base at once and the others when first reached
** (package with the paths of the thread's starter, braidB_lazy_paths):
**
**   - as a global: a metatable on the globals table whose __index opens
**     the library the missing name is, and returns it ('require' opens
**     package);
**   - through require: the same __index on package.loaded (require and
**     braid's name lookups read it with lua_getfield);
**   - string only, through a string value: until string is open, strings
**     have a stand-in metatable whose __index (a method call, s:rep(3))
**     and arithmetic metamethods (numeric strings, "10" + 1, which Lua
**     5.4 leaves to the string library) open string, which installs the
**     real metatable, then do what was asked through it. getmetatable and
**     debug.getmetatable / setmetatable of a string open string first, so
**     a script never sees the stand-in (getmetatable("").__index ==
**     string holds); C code that reads a string's metatable with
**     lua_getmetatable before string is open sees it.
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

static const luaL_Reg lazy_libs[] = {
  { LUA_LOADLIBNAME, luaopen_package }, /* first: 'require' opens it */
  { LUA_COLIBNAME, luaopen_coroutine }, { LUA_TABLIBNAME, luaopen_table },
  { LUA_IOLIBNAME, luaopen_io },        { LUA_OSLIBNAME, luaopen_os },
  { LUA_MATHLIBNAME, luaopen_math },    { LUA_UTF8LIBNAME, luaopen_utf8 },
  { LUA_DBLIBNAME, luaopen_debug },     { LUA_STRLIBNAME, luaopen_string },
  { NULL, NULL },
};

#define STRING_LIB 8 /* string's index in lazy_libs */
#define STRING_BIT (1u << STRING_LIB)

typedef struct Lazy {
  unsigned pending; /* bit i: lazy_libs[i] not opened yet */
  /* braidB_lazy_paths's, until package opens: C strings, not Lua ones
  ** (an idle state would hold some 400 bytes of paths for nothing) */
  const char *path, *cpath;
} Lazy;


static Lazy *getlazy(lua_State *L) {
  return (Lazy *)lua_touserdata(L, lua_upvalueindex(1));
}


static void wrap_debug(lua_State *L);

/* The Lazy of the state, from the globals' __index (a string metamethod
** has no upvalue: light functions cost the idle state nothing). */
static Lazy *findlazy(lua_State *L) {
  Lazy *z;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &G_MT_KEY);
  lua_getfield(L, -1, "__index");
  lua_getupvalue(L, -1, 1);
  z = (Lazy *)lua_touserdata(L, -1);
  lua_pop(L, 3);
  return z;
}


/* package was just opened (at the top): the paths its state was given
** (braidB_lazy_paths), which replace those luaopen_package took from the
** environment, as they did when package was opened first. */
static void set_paths(lua_State *L, Lazy *z) {
  if (z->path != NULL) {
    lua_pushstring(L, z->path);
    lua_setfield(L, -2, "path");
  }
  if (z->cpath != NULL) {
    lua_pushstring(L, z->cpath);
    lua_setfield(L, -2, "cpath");
  }
  z->path = z->cpath = NULL;
}


void braidB_lazy_paths(lua_State *L, const char *path, const char *cpath) {
  Lazy *z = findlazy(L);
  z->path = path;
  z->cpath = cpath;
}

/* Opens lazy_libs[i] (pending) as luaL_openlibs would; leaves it on the
** stack. When it was the last one, the globals table loses its metatable. */
static void open_one(lua_State *L, Lazy *z, int i) {
  z->pending &= ~(1u << i);
  /* requiref reads package.loaded[name] first: the bit is clear, so the
  ** __index there answers nil and the library is opened here */
  luaL_requiref(L, lazy_libs[i].name, lazy_libs[i].func, 1);
  if (lazy_libs[i].func == luaopen_debug) wrap_debug(L);
  if (lazy_libs[i].func == luaopen_package) set_paths(L, z);
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


/* Opens string if it still is pending. */
static void open_string(lua_State *L) {
  Lazy *z = findlazy(L);
  if (z->pending & STRING_BIT) {
    open_one(L, z, STRING_LIB);
    lua_pop(L, 1);
  }
}


/* The stand-in __index of strings: (s, k) -> string[k], string opened. */
static int strmt_index(lua_State *L) {
  open_string(L);
  lua_settop(L, 2);
  lua_gettable(L, 1); /* through the real metatable now */
  return 1;
}


/* The stand-in arithmetic metamethods: (a, b) -> the real metamethod
** 'event' of strings (string just opened) on (a, b), which converts or
** raises. Its error gets the position luaL_error would have given it as
** the VM's callee (the caller's line): here its caller is C. */
static int strmt_arith(lua_State *L, const char *event) {
  int status;
  open_string(L);
  lua_settop(L, 2);
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1); /* the real one now */
  lua_getfield(L, -1, event);
  lua_replace(L, 3);
  lua_settop(L, 3);
  lua_insert(L, 1); /* mm a b */
  status = lua_pcall(L, 2, 1, 0);
  if (status != LUA_OK) {
    /* (a memory error's message stays as it is) */
    if (status == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING) {
      luaL_where(L, 1);
      lua_insert(L, -2);
      lua_concat(L, 2);
    }
    return lua_error(L);
  }
  return 1;
}

#define STRMT_ARITH(name, event) \
  static int name(lua_State *L) { return strmt_arith(L, event); }
STRMT_ARITH(strmt_add, "__add")
STRMT_ARITH(strmt_sub, "__sub")
STRMT_ARITH(strmt_mul, "__mul")
STRMT_ARITH(strmt_mod, "__mod")
STRMT_ARITH(strmt_pow, "__pow")
STRMT_ARITH(strmt_div, "__div")
STRMT_ARITH(strmt_idiv, "__idiv")
STRMT_ARITH(strmt_unm, "__unm")

/* the metamethods luaopen_string sets on strings, stand-ins */
static const luaL_Reg strmt_standin[] = {
  { "__index", strmt_index }, { "__add", strmt_add },
  { "__sub", strmt_sub },     { "__mul", strmt_mul },
  { "__mod", strmt_mod },     { "__pow", strmt_pow },
  { "__div", strmt_div },     { "__idiv", strmt_idiv },
  { "__unm", strmt_unm },     { NULL, NULL },
};


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
  if (n >= 1 && lua_type(L, 1) == LUA_TSTRING) open_string(L);
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
  if (n >= 1 && lua_type(L, 1) == LUA_TSTRING) open_string(L);
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
  /* A fresh state's globals table is empty: base's 26 names would grow
  ** it five times (1, 2, ... 32 nodes). Nothing refers to it yet, so it
  ** is replaced by one made at the size base fills (the size it ends
  ** with anyway). */
  lua_createtable(L, 0, 26);
  lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  lua_pop(L, 1);
  /* strings' stand-in metatable (light functions: no upvalue) */
  lua_createtable(L, 0, 9);
  luaL_setfuncs(L, strmt_standin, 0);
  lua_pushliteral(L, "");
  lua_insert(L, -2);
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  z = (Lazy *)lua_newuserdatauv(L, sizeof *z, 0);
  zi = lua_gettop(L);
  z->pending = 0;
  z->path = z->cpath = NULL;
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

/*
** lnames.c: the name cache of a state (see lnames.h): which C functions,
** modules and classes travel by name, and under which name.
** See LICENSE for copyright and license.
*/
#include <string.h>

#include "lauxlib.h"
#include "lbind.h"
#include "lnames.h"

static const char NAMES_KEY = 'n';
static const char NAMETAB_KEY = 't';


static int names_gc(lua_State *L) {
  braid_names *c = (braid_names *)lua_touserdata(L, 1);
  braid__ptrmap_free(&c->map);
  c->built = 0;
  return 0;
}


braid_names *braidB_names_get(lua_State *L) {
  braid_names *c;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &NAMES_KEY) == LUA_TNIL) {
    lua_pop(L, 1);
    c = (braid_names *)lua_newuserdatauv(L, sizeof(braid_names), 0);
    memset(c, 0, sizeof *c);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, names_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &NAMES_KEY);
  }
  c = (braid_names *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return c;
}


/* names[3i-2..3i] = mod, field, value (at -3, -2, -1 of the stack: consumed);
** nametab at 'tab'; 'c' is the cache being built (not yet the state's). */
static void names_add(lua_State *L, braid_names *c, int tab, lua_Integer *n) {
  const void *p = lua_topointer(L, -1);
  if (braid__ptrmap_find(&c->map, p) != NULL) {
    lua_pop(L, 3);
    return;
  }
  if (braid__ptrmap_put(&c->map, p, (uint64_t)(*n + 1)) != BRAID_OK) {
    lua_pop(L, 3);
    return; /* a missing name only means a later error, not a crash */
  }
  c->bloom[braidB_names_bit(p) / 64] |= (uint64_t)1 << (braidB_names_bit(p) % 64);
  (*n)++;
  lua_rawseti(L, tab, 3 * *n);
  lua_rawseti(L, tab, 3 * *n - 1);
  lua_rawseti(L, tab, 3 * *n - 2);
}


/* __newindex of package.loaded: a module was just loaded, so the name
** cache must be rebuilt before it is used again. Upvalue 1: the cache. */
static int loaded_newindex(lua_State *L) {
  braid_names *c = (braid_names *)lua_touserdata(L, lua_upvalueindex(1));
  lua_rawset(L, 1);
  c->built = 0;
  return 0;
}


/* Watches package.loaded for new modules (require sets new keys with
** lua_setfield, which goes through __newindex). A package.loaded that
** already has a metatable is left alone: the cache is then rebuilt only
** when a C function is not found in it. */
static void watch_loaded(lua_State *L, int loaded) {
  if (lua_getmetatable(L, loaded)) {
    /* a worker's lazy libraries (llazy.c) put one there: braid's own */
    if (braidB_is_lazy_loaded_mt(L, -1) &&
        lua_getfield(L, -1, "__newindex") == LUA_TNIL) {
      lua_pop(L, 1);
      lua_rawgetp(L, LUA_REGISTRYINDEX, &NAMES_KEY);
      lua_pushcclosure(L, loaded_newindex, 1);
      lua_setfield(L, -2, "__newindex");
      lua_pop(L, 1);
      return;
    }
    lua_settop(L, loaded);
    return;
  }
  lua_createtable(L, 0, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &NAMES_KEY);
  lua_pushcclosure(L, loaded_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, loaded);
}


/* The cache is built aside and installed at the end: building allocates,
** the collector may run a finalizer meanwhile, and a finalizer may encode
** (a manager proxy's decref) and so build the cache itself. That nested
** build installs a whole cache of its own; this one then replaces it
** with another whole one. Built in place, the two would mix one build's
** pointer map with the other's table of names, and a value could travel
** under another's name or an empty one (the module '' a receiver then
** fails to load). */
void braidB_names_build(lua_State *L, braid_names *c) {
  int tab, loaded;
  lua_Integer n = 0;
  const void *globals;
  braid_names *nc;
  luaL_checkstack(L, 12, "building braid's name cache");
  nc = (braid_names *)lua_newuserdatauv(L, sizeof *nc, 0);
  memset(nc, 0, sizeof *nc);
  /* freed by this function, or by the collector if building raises */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, names_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  globals = lua_topointer(L, -1);
  lua_pop(L, 1);
  lua_createtable(L, 64, 0);
  tab = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  loaded = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, loaded)) {
    /* key = module name, value = module */
    if (lua_type(L, -2) == LUA_TSTRING) {
      int isglobals = lua_topointer(L, -1) == globals;
      if (lua_type(L, -1) == LUA_TTABLE) {
        int mod = lua_gettop(L);
        if (!isglobals) {
          lua_pushvalue(L, -2);
          lua_pushliteral(L, "");
          lua_pushvalue(L, mod);
          names_add(L, nc, tab, &n);
        }
        lua_pushnil(L);
        while (lua_next(L, mod)) {
          int t = lua_type(L, -1);
          int isclass = 0;
          if (t == LUA_TTABLE && !isglobals) {
            /* classes and metatables: what Python pickles by reference */
            int top = lua_gettop(L);
            isclass = lua_getfield(L, top, "__index") != LUA_TNIL ||
                      lua_getfield(L, top, "__call") != LUA_TNIL;
            lua_settop(L, top);
          }
          if (lua_type(L, -2) == LUA_TSTRING &&
              ((t == LUA_TFUNCTION && lua_iscfunction(L, -1)) || isclass)) {
            lua_pushvalue(L, mod - 1);
            lua_pushvalue(L, -3);
            lua_pushvalue(L, -3);
            names_add(L, nc, tab, &n);
          }
          lua_pop(L, 1);
        }
      } else if (lua_iscfunction(L, -1)) {
        lua_pushvalue(L, -2);
        lua_pushliteral(L, "");
        lua_pushvalue(L, -3);
        names_add(L, nc, tab, &n);
      }
    }
    lua_pop(L, 1);
  }
  watch_loaded(L, loaded);
  lua_pop(L, 1); /* loaded */
  /* install: the table first (setting it may allocate, so a nested build
  ** may still run and install its own), then the map, which does not
  ** allocate: the state's cache is this build's, whole */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &NAMETAB_KEY);
  braid__ptrmap_free(&c->map);
  c->map = nc->map;
  memcpy(c->bloom, nc->bloom, sizeof c->bloom);
  memset(&nc->map, 0, sizeof nc->map); /* now the state's */
  lua_pop(L, 1); /* nc */
  c->built = 1;
}




void braidB_names_push(lua_State *L, lua_Integer i) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &NAMETAB_KEY);
  lua_rawgeti(L, -1, 3 * i - 2);
  lua_rawgeti(L, -2, 3 * i - 1);
  lua_remove(L, -3);
}

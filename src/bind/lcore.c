/*
** lcore.c: luaopen_braid_core, the embedded Lua layer, proxies of shared
** objects, typed errors and argument checks used by every binding file.
** See LICENSE for copyright and license.
*/
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lbind.h"
#include "lrawtab.h"
#include "lcodec.h"
#include "thread.h"
#include "spin.h"

/* Rows generated from lua/braid/ by cmake/embed_lua.cmake. */
typedef struct {
  const char *name, *chunkname, *src;
  size_t len;
} braid_lua_module;
BRAIDI_FUNC const braid_lua_module braid__lua_modules[];

static const char PROXIES_KEY = 'p'; /* weak table: handle -> proxy */


/*
** {======================================================
** The embedded Lua layer
** =======================================================
*/

static const braid_lua_module *find_module(const char *name) {
  const braid_lua_module *m;
  for (m = braid__lua_modules; m->name != NULL; m++)
    if (strcmp(m->name, name) == 0) return m;
  return NULL;
}


/* package.preload loader of an embedded module; upvalue 1 is its row. */
static int embedded_loader(lua_State *L) {
  const braid_lua_module *m =
      (const braid_lua_module *)lua_touserdata(L, lua_upvalueindex(1));
  if (luaL_loadbuffer(L, m->src, m->len, m->chunkname) != LUA_OK)
    return lua_error(L);
  lua_pushstring(L, m->name);
  lua_pushstring(L, m->chunkname + 1);
  lua_call(L, 2, 1);
  return 1;
}


void braid_openlibs(lua_State *L) {
  const braid_lua_module *m;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (m = braid__lua_modules; m->name != NULL; m++) {
    lua_pushlightuserdata(L, (void *)m);
    lua_pushcclosure(L, embedded_loader, 1);
    lua_setfield(L, -2, m->name);
  }
  lua_pushcfunction(L, luaopen_braid_core);
  lua_setfield(L, -2, "braid.core");
  lua_pop(L, 1);
}


/* __index of a worker's package.preload: (t, name) -> the loader of the
** embedded module 'name', made when require asks (llazy.c). */
static int preload_index(lua_State *L) {
  const char *name = lua_tostring(L, 2);
  const braid_lua_module *m;
  if (name == NULL) return 0;
  if (strcmp(name, "braid.core") == 0) {
    lua_pushcfunction(L, luaopen_braid_core);
    return 1;
  }
  if ((m = find_module(name)) == NULL) return 0;
  lua_pushlightuserdata(L, (void *)m);
  lua_pushcclosure(L, embedded_loader, 1);
  return 1;
}


void braidB_openbraid_lazy(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  if (lua_getmetatable(L, -1)) { /* not braid's to change: eager */
    lua_pop(L, 2);
    braid_openlibs(L);
    return;
  }
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, preload_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}


/* Pushes package.loaded[name], loading the embedded module when needed
** (without going through 'require', which a host may have removed). */
static void pushembedded(lua_State *L, const char *name) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, name) == LUA_TNIL) {
    const braid_lua_module *m = find_module(name);
    lua_pop(L, 1);
    if (m == NULL) luaL_error(L, "braid: embedded module '%s' missing", name);
    lua_pushlightuserdata(L, (void *)m);
    lua_pushcclosure(L, embedded_loader, 1);
    lua_call(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
  }
  lua_remove(L, -2);
}
/* }====================================================== */


/*
** {======================================================
** Proxies
** =======================================================
*/

static const braidB_Class *find_class(const braid_handle_type *type) {
  static const braidB_Class *const lists[] = {
    braidB_thread_classes, braidB_sync_classes, braidB_shm_classes,
    braidB_queue_classes, braidB_pool_classes, braidB_psync_classes,
    braidB_mpq_classes, braidB_conn_classes, braidB_mmap_classes,
    braidB_sched_classes, NULL,
  };
  int i;
  for (i = 0; lists[i] != NULL; i++) {
    const braidB_Class *c;
    for (c = lists[i]; c->type != NULL; c++)
      if (c->type == type) return c;
  }
  return NULL;
}


static int proxy_gc(lua_State *L) {
  braidB_Box *b = (braidB_Box *)lua_touserdata(L, 1);
  if (b != NULL && b->h != NULL) {
    braid_handle *h = b->h;
    b->h = NULL; /* mark as closed before releasing: release may destroy */
    braid__handle_release(h);
  }
  return 0;
}


static int proxy_tostring(lua_State *L) {
  braidB_Box *b = (braidB_Box *)lua_touserdata(L, 1);
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__name");
  if (b->h == NULL)
    lua_pushfstring(L, "%s (closed)", lua_tostring(L, -1));
  else
    lua_pushfstring(L, "%s (%p)", lua_tostring(L, -1), (void *)b->h);
  return 1;
}


/* Metatables of braid proxies keep their handle type at index 1, so that
** checking a proxy is one array read, not a string lookup. */
#define TYPE_SLOT 1

/* The number of functions in 'l'. */
static int nregs(const luaL_Reg *l) {
  int n = 0;
  if (l != NULL)
    while (l[n].name != NULL) n++;
  return n;
}


void braidB_pushmeta(lua_State *L, const braid_handle_type *type) {
  const braidB_Class *c;
  if (luaL_getmetatable(L, type->name) != LUA_TNIL) return;
  lua_pop(L, 1);
  c = find_class(type);
  if (c == NULL) luaL_error(L, "braid: no binding for type %s", type->name);
  /* luaL_newmetatable's table, made at its final size: grown field by
  ** field, its earlier node arrays would be garbage that a worker's pool
  ** keeps (an idle thread holds a class or two: idle_footprint). Fields:
  ** __name, __methods, __index, __gc, __tostring, __braidhandle and the
  ** class's metamethods (some of which replace those). */
  lua_createtable(L, 1, 6 + nregs(c->meta));
  lua_pushstring(L, type->name);
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, type->name);
  lua_pushlightuserdata(L, (void *)type);
  lua_rawseti(L, -2, TYPE_SLOT);
  lua_createtable(L, 0, nregs(c->methods));
  if (c->methods) luaL_setfuncs(L, c->methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__methods"); /* mt.__methods = methods */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");   /* default; meta may replace it */
  /* metamethods get the methods table as upvalue 1 (a fast __index
  ** looks methods up there before computing properties) */
  if (c->meta) luaL_setfuncs(L, c->meta, 1);
  else lua_pop(L, 1);
  if (lua_getfield(L, -1, "__gc") == LUA_TNIL) {
    lua_pushcfunction(L, proxy_gc);
    lua_setfield(L, -3, "__gc");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, -1, "__tostring") == LUA_TNIL) {
    lua_pushcfunction(L, proxy_tostring);
    lua_setfield(L, -3, "__tostring");
  }
  lua_pop(L, 1);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "__braidhandle"); /* marks braid proxies' metatables */
}


void braidB_pushmethods(lua_State *L, const braid_handle_type *type) {
  braidB_pushmeta(L, type);
  lua_getfield(L, -1, "__methods");
  lua_remove(L, -2);
}


void braidB_newweaktable(lua_State *L, const char *mode) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, mode);
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
}


void braidB_pushweakregistry(lua_State *L, const void *key, const char *mode) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) != LUA_TTABLE) {
    lua_pop(L, 1);
    braidB_newweaktable(L, mode);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  }
}


static void pushproxies(lua_State *L) {
  braidB_pushweakregistry(L, &PROXIES_KEY, "v");
}


static void pushproxy(lua_State *L, braid_handle *h, int adopt) {
  braidB_Box *b;
  pushproxies(L);
  if (lua_rawgetp(L, -1, h) != LUA_TNIL) {
    lua_remove(L, -2);
    if (adopt) braid__handle_release(h); /* the proxy already holds one */
    return;
  }
  lua_pop(L, 1);
  /* Create safe, then acquire: a memory error before 'b->h' is set leaves
  ** a closed box (and, with 'adopt', the caller's reference unowned:
  ** braidB_pushnewhandle protects that case); so everything that can fail
  ** happens before the box is filled. */
  b = (braidB_Box *)lua_newuserdatauv(L, sizeof(braidB_Box), 1);
  b->h = NULL;
  b->priv = NULL;
  b->self = b;
  braidB_pushmeta(L, h->type);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, -3, h);
  b->h = adopt ? h : braid__handle_retain(h);
  lua_remove(L, -2);
}


void braidB_pushhandle(lua_State *L, braid_handle *h) {
  pushproxy(L, h, 0);
}


static int pushproxy_protected(lua_State *L) {
  pushproxy(L, (braid_handle *)lua_touserdata(L, 1), 0);
  return 1;
}

/* The proxy takes a reference of its own, under protection; then the
** caller's is dropped whether that worked or not, so that a memory error
** while the proxy is made does not leave the new object unowned. (Object
** creation only: braidB_pushhandle, on the decoder's paths, retains last
** and needs no protection.) */
void braidB_pushnewhandle(lua_State *L, braid_handle *h) {
  int status;
  lua_pushcfunction(L, pushproxy_protected); /* light: cannot fail */
  lua_pushlightuserdata(L, h);
  status = lua_pcall(L, 1, 1, 0);
  braid__handle_release(h);
  if (status != LUA_OK) lua_error(L);
}


braid_handle *braidB_tohandle(lua_State *L, int idx) {
  braidB_Box *b;
  const braid_handle_type *t;
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
    return NULL;
  lua_rawgeti(L, -1, TYPE_SLOT);
  t = (const braid_handle_type *)lua_touserdata(L, -1);
  lua_pop(L, 2);
  if (t == NULL) return NULL;
  b = (braidB_Box *)lua_touserdata(L, idx);
  return b->h;
}


braid_handle *braidB_selfhandle(lua_State *L) {
  braidB_Box *b;
  /* a block of exactly a box's size that holds its own address where a
  ** box does: only pushproxy writes that (Lua code cannot write a
  ** userdata's bytes, and no C code stores a block's address inside the
  ** block at that offset by chance); light userdata are not boxes */
  if (lua_type(L, 1) != LUA_TUSERDATA ||
      lua_rawlen(L, 1) != sizeof(braidB_Box))
    return NULL;
  b = (braidB_Box *)lua_touserdata(L, 1);
  return b->self == b ? b->h : NULL;
}


braid_handle *braidB_checkhandle(lua_State *L, int idx,
                                 const braid_handle_type *type) {
  braidB_Box *b = (braidB_Box *)luaL_testudata(L, idx, type->name);
  if (b == NULL) {
    braidB_typeerror(L, idx, type->name);
    return NULL;
  }
  if (b->h == NULL)
    braidB_argerror(L, idx, "ValueError", "%s is closed", type->name);
  return b->h;
}


void braidB_closehandle(lua_State *L, int idx) {
  lua_pushcfunction(L, proxy_gc);
  lua_pushvalue(L, idx);
  lua_call(L, 1, 0);
}
/* }====================================================== */


/*
** {======================================================
** Errors
** =======================================================
*/

void braidB_pusherrors(lua_State *L) {
  pushembedded(L, "braid.errors");
}


void braidB_pushclass(lua_State *L, const char *cls) {
  pushembedded(L, "braid.errors");
  lua_getfield(L, -1, "lookup");
  lua_pushstring(L, cls);
  lua_call(L, 1, 1);
  lua_remove(L, -2);
}


static void pusherrorv(lua_State *L, const char *cls, const char *fmt,
                       va_list ap) {
  braidB_pushclass(L, cls);
  lua_pushvfstring(L, fmt, ap);
  lua_call(L, 1, 1);
}


void braidB_pusherror(lua_State *L, const char *cls, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pusherrorv(L, cls, fmt, ap);
  va_end(ap);
}


int braidB_raise(lua_State *L, const char *cls, const char *fmt, ...) {
  va_list ap;
  /* A wait that Ctrl-C ended reports a timeout: the interrupt wins. */
  if (braidB_intr_due()) return braidB_raise_interrupt(L);
  va_start(ap, fmt);
  pusherrorv(L, cls, fmt, ap);
  va_end(ap);
  return lua_error(L);
}


static int new_memerror(lua_State *L) {
  braidB_pusherror(L, "MemoryError", "%s", lua_tostring(L, 1));
  return 1;
}


int braidB_memerror(lua_State *L, int status) {
  if (status != LUA_ERRMEM) return status;
  if (!lua_checkstack(L, 3)) return status;
  lua_pushcfunction(L, new_memerror); /* a light function: no allocation */
  lua_pushvalue(L, -2);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK)
    lua_replace(L, -2);
  else
    lua_pop(L, 1); /* still out of memory: keep Lua's own message */
  return status;
}


/* Finds the function of frame 'ar' in package.loaded and pushes its name
** ("module.field", "_G." dropped), as lauxlib does for luaL_argerror. */
static int pushfuncname(lua_State *L, lua_Debug *ar) {
  int top = lua_gettop(L), found = 0;
  lua_getinfo(L, "f", ar);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushnil(L);
  while (!found && lua_next(L, top + 2)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, top + 1)) {
          const char *mod = lua_tostring(L, -4);
          if (strcmp(mod, "_G") == 0)
            lua_pushstring(L, lua_tostring(L, -2));
          else
            lua_pushfstring(L, "%s.%s", mod, lua_tostring(L, -2));
          lua_replace(L, top + 1);
          found = 1;
          lua_pop(L, 2);
          break;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_settop(L, top + found);
  return found;
}


/* Searches the methods table of the proxy metatable at 'mt' for the
** function at 'fn'; pushes its key and returns 1 when found. */
static int findmethod(lua_State *L, int mt, int fn) {
  lua_pushliteral(L, "__methods");
  if (lua_rawget(L, mt) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
      lua_pop(L, 1);
      lua_remove(L, -2); /* the methods table; the key stays */
      return 1;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 0;
}


/* Fallback for a braid method called as a plain value, as in
** pcall(q.put, q, x), where Lua knows no name and the function is in no
** module: pushes the name braid registered it under. The metatable of
** argument 1 (the usual 'self') is tried first, then every proxy metatable
** of this state (they live in the registry, marked '__braidhandle'). Only
** error paths call this, so the scan costs nothing on success. */
static int pushmethodname(lua_State *L, lua_Debug *ar) {
  int top = lua_gettop(L), fn = top + 1, found = 0;
  if (!lua_checkstack(L, 8)) return 0; /* the two nested traversals */
  lua_getinfo(L, "f", ar);
  if (lua_getmetatable(L, 1)) {
    found = findmethod(L, fn + 1, fn);
    if (found) lua_remove(L, -2); /* the metatable */
    else lua_pop(L, 1);
  }
  if (!found) {
    lua_pushnil(L);
    while (lua_next(L, LUA_REGISTRYINDEX)) { /* fn key value */
      if (lua_type(L, -1) == LUA_TTABLE) {
        int marked;
        lua_pushliteral(L, "__braidhandle");
        marked = lua_rawget(L, -2) == LUA_TBOOLEAN;
        lua_pop(L, 1);
        if (marked && findmethod(L, fn + 2, fn)) { /* fn key value name */
          lua_replace(L, fn + 1);
          lua_settop(L, fn + 1);
          found = 1;
          break;
        }
      }
      lua_pop(L, 1);
    }
  }
  if (found) lua_replace(L, fn); /* the name over the function */
  lua_settop(L, top + found);
  return found;
}


int braidB_argerror(lua_State *L, int arg, const char *cls, const char *fmt,
                    ...) {
  lua_Debug ar;
  const char *fname = "?";
  int msg;
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  msg = lua_gettop(L);
  if (lua_getstack(L, 0, &ar)) {
    lua_getinfo(L, "n", &ar);
    if (ar.namewhat != NULL && strcmp(ar.namewhat, "method") == 0) {
      arg--; /* do not count 'self' */
      if (arg == 0)
        return braidB_raise(L, cls, "calling '%s' on bad self (%s)",
                            ar.name ? ar.name : "?", lua_tostring(L, msg));
    }
    if (ar.name != NULL)
      fname = ar.name;
    else if (pushfuncname(L, &ar) || pushmethodname(L, &ar))
      fname = lua_tostring(L, -1);
  }
  return braidB_raise(L, cls, "bad argument #%d to '%s' (%s)", arg, fname,
                      lua_tostring(L, msg));
}


int braidB_typeerror(lua_State *L, int arg, const char *tname) {
  const char *typearg;
  if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
    typearg = lua_tostring(L, -1);
  else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
    typearg = "light userdata";
  else
    typearg = luaL_typename(L, arg);
  return braidB_argerror(L, arg, "TypeError", "%s expected, got %s", tname,
                         typearg);
}


static const char *code_class(int code) {
  switch (code) {
    case BRAID_ENOMEM: return "MemoryError";
    case BRAID_EINVAL: return "ValueError";
    case BRAID_ETIMEDOUT: return "TimeoutError";
    case BRAID_EEMPTY: return "queue.Empty";
    case BRAID_EFULL: return "queue.Full";
    case BRAID_EBROKEN: return "threading.BrokenBarrierError";
    case BRAID_ECANCELED: return "concurrent.futures.CancelledError";
    case BRAID_ECLOSED: return "ValueError";
    case BRAID_ENOTSUP: return "TypeError";
    case BRAID_ESTATE: return "RuntimeError";
    case BRAID_EPERM: return "RuntimeError";
    case BRAID_EAGAIN: return "RuntimeError";
    case BRAID_EOS: return "OSError";
    case BRAID_ESHUTDOWN: return "queue.ShutDown";
    default: return "RuntimeError";
  }
}


/* Python's OSError subclasses by errno (PEP 3151). */
static const char *errno_class(int e) {
  switch (e) {
    case ENOENT: return "FileNotFoundError";
    case EEXIST: return "FileExistsError";
    case EPIPE: case ESHUTDOWN: return "BrokenPipeError";
    case ECONNRESET: return "ConnectionResetError";
    case ECONNREFUSED: return "ConnectionRefusedError";
    case ECONNABORTED: return "ConnectionAbortedError";
    case EACCES: case EPERM: return "PermissionError";
    case ESRCH: return "ProcessLookupError";
    case ECHILD: return "ChildProcessError";
    case EINTR: return "InterruptedError";
    case ETIMEDOUT: return "TimeoutError";
    default: return "OSError";
  }
}


int braidB_oserror(lua_State *L, int err, const char *what) {
  const char *msg = strerror(err);
  braidB_pushclass(L, errno_class(err));
  if (what != NULL && what[0] != '\0')
    lua_pushfstring(L, "[Errno %d] %s: %s", err, msg, what);
  else
    lua_pushfstring(L, "[Errno %d] %s", err, msg);
  lua_call(L, 1, 1);
  lua_pushinteger(L, err);
  lua_setfield(L, -2, "errno");
  lua_pushstring(L, msg);
  lua_setfield(L, -2, "strerror");
  return lua_error(L);
}


int braidB_raisecode(lua_State *L, int code, const char *what) {
  if (code == BRAID_EOS) {
    int e = errno; /* before anything else may change it */
    if (e != 0) return braidB_oserror(L, e, what);
  }
  if (what != NULL)
    return braidB_raise(L, code_class(code), "%s", what);
  return braidB_raise(L, code_class(code), "%s", braid_strerror(code));
}


/* errors.code_class(name): the class a core code name maps to (specs walk
** every code with it, so that a new code cannot be forgotten). */
static int core_code_class(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
#define BRAID_X(n, num, msg) \
  if (strcmp(name, #n) == 0) { \
    lua_pushstring(L, code_class(num)); \
    return 1; \
  }
  BRAID_ERRNO_MAP(BRAID_X)
#undef BRAID_X
  return 0;
}


static int core_error_codes(lua_State *L) {
  lua_newtable(L);
#define BRAID_X(n, num, msg) \
  lua_pushinteger(L, num); \
  lua_setfield(L, -2, #n);
  BRAID_ERRNO_MAP(BRAID_X)
#undef BRAID_X
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** Argument checks
** =======================================================
*/

lua_Integer braidB_checkinteger(lua_State *L, int arg) {
  int isnum;
  lua_Integer d = lua_tointegerx(L, arg, &isnum);
  if (!isnum) {
    if (lua_type(L, arg) == LUA_TNUMBER)
      braidB_argerror(L, arg, "TypeError",
                      "number has no integer representation");
    else
      braidB_typeerror(L, arg, "integer");
  }
  return d;
}


lua_Integer braidB_optinteger(lua_State *L, int arg, lua_Integer def) {
  return lua_isnoneornil(L, arg) ? def : braidB_checkinteger(L, arg);
}


void braidB_checkany(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TNONE)
    braidB_argerror(L, arg, "TypeError", "value expected");
}


lua_Number braidB_checknumber(lua_State *L, int arg) {
  if (lua_type(L, arg) != LUA_TNUMBER) braidB_typeerror(L, arg, "number");
  return lua_tonumber(L, arg);
}


const char *braidB_checkstring(lua_State *L, int arg, size_t *len) {
  if (lua_type(L, arg) != LUA_TSTRING) braidB_typeerror(L, arg, "string");
  return lua_tolstring(L, arg, len);
}


int braidB_optboolean(lua_State *L, int arg, int def) {
  if (lua_isnoneornil(L, arg)) return def;
  return lua_toboolean(L, arg);
}


double braidB_opttimeout(lua_State *L, int arg, double def) {
  double t;
  if (lua_isnoneornil(L, arg)) return def;
  if (lua_type(L, arg) != LUA_TNUMBER) braidB_typeerror(L, arg, "number");
  t = (double)lua_tonumber(L, arg);
  if (t != t) braidB_argerror(L, arg, "ValueError", "timeout is NaN");
  if (t > BRAID_TIMEOUT_MAX)
    braidB_argerror(L, arg, "OverflowError", "timeout value is too large");
  return t;
}


double braidB_waittimeout(lua_State *L, int arg) {
  double t;
  if (lua_isnoneornil(L, arg)) return BRAID_FOREVER;
  t = braidB_opttimeout(L, arg, BRAID_FOREVER);
  return t < 0 ? 0 : t;
}


int braidB_iscallable(lua_State *L, int arg) {
  int ok;
  if (lua_type(L, arg) == LUA_TFUNCTION) return 1;
  ok = luaL_getmetafield(L, arg, "__call") != LUA_TNIL;
  if (ok) lua_pop(L, 1);
  return ok;
}


void braidB_checkcallable(lua_State *L, int arg) {
  if (!braidB_iscallable(L, arg)) braidB_typeerror(L, arg, "function");
}


int braidB_getopt(lua_State *L, int idx, const char *k) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, idx, k);
}
/* }====================================================== */


/*
** {======================================================
** Lock-likes: obj:with(fn, ...)
** =======================================================
*/

int braidB_lock_with(lua_State *L) {
  int n = lua_gettop(L), i, status;
  braidB_checkany(L, 2);
  lua_getfield(L, 1, "acquire");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  for (i = 2; i <= n; i++) lua_pushvalue(L, i); /* fn args... */
  status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
  lua_getfield(L, 1, "release");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  if (status != LUA_OK) return lua_error(L); /* fn's error, still on top */
  return lua_gettop(L) - n;
}
/* }====================================================== */


/*
** {======================================================
** luaopen_braid_core
** =======================================================
*/

/* Worker threads run code of this library while the state that loaded
** it may close and dlclose it: pin the library for the process's life. */
static void pin_library(void) {
  static atomic_int pinned;
  Dl_info info;
  if (atomic_exchange(&pinned, 1)) return;
  if (dladdr((void *)&pin_library, &info) && info.dli_fname != NULL)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
}


static int core_version(lua_State *L) {
  lua_pushstring(L, braid_version_string());
  return 1;
}


/* core.monotonic() -> seconds of a monotonic clock */
static int core_monotonic(lua_State *L) {
  lua_pushnumber(L, (lua_Number)braid__now());
  return 1;
}


/* core.sleep(seconds): blocks this thread only. */
static int core_sleep(lua_State *L) {
  double s = braidB_checknumber(L, 1);
  if (s < 0) return braidB_argerror(L, 1, "ValueError",
                                    "sleep length must be non-negative");
  braidB_poll(L);
  braid__sleep(s);
  braidB_intr_check(L); /* the main thread's sleep ends on Ctrl-C */
  return 0;
}


static const luaL_Reg core_funcs[] = {
  { "monotonic", core_monotonic },
  { "sleep", core_sleep },
  { "code_class", core_code_class },
  { "error_codes", core_error_codes },
  { "version", core_version },
  { "lock_with", braidB_lock_with },
  { NULL, NULL },
};


int luaopen_braid_core(lua_State *L) {
  luaL_checkversion(L);
  pin_library();
  braid__spin_register(); /* the opening thread runs (spin.h) */
  braid_openlibs(L);
  braid__serial_open(L);
  (void)braidB_rawwalk_active(L); /* its self-check, before any encode */
  lua_newtable(L);
  luaL_setfuncs(L, core_funcs, 0);
  braidB_open_thread(L);
  braidB_open_signal(L);
  braidB_open_serial(L);
  braidB_open_sync(L);
  braidB_open_shm(L);
  braidB_open_queue(L);
  braidB_open_pool(L);
  braidB_open_procpool(L);
  braidB_open_process(L);
  braidB_open_conn(L);
  braidB_open_listener(L);
  braidB_open_subprocess(L);
  braidB_open_mmap(L);
  braidB_open_sched(L);
  braidB_open_os(L);
#ifdef BRAID_TESTS
  lua_newtable(L);
  braidB_open_test(L);
  lua_setfield(L, -2, "_test");
#endif
  lua_pushstring(L, BRAID_VERSION_STRING);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
/* }====================================================== */

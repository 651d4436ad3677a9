/*
** ltest.c: braid.core._test, compiled with BRAID_TESTS: probes that let
** specs prove reference counts reach zero and nothing leaks.
** See LICENSE for copyright and license.
*/
#include <dirent.h>
#include <string.h>

#include "alloc.h"
#include "failalloc.h"
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


/* Main states whose allocator fail_alloc wrapped (failalloc.h): the
** wrappers must outlive their states, so they are static; a state is
** wrapped once and stays wrapped (the wrapper only costs a check). */
#define MAXWRAPPED 8
static braid_fail_alloc_ud wrapped[MAXWRAPPED];
static atomic_int nwrapped;

static void wrap_state(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  int i;
  /* worker states on braid's pool take part through it already (one on
  ** the system allocator would count its allocations twice: harmless) */
  if (f == braid__fail_lua_alloc || f == braid__salloc_alloc) return;
  i = atomic_fetch_add(&nwrapped, 1);
  if (i >= MAXWRAPPED) {
    luaL_error(L, "fail_alloc: too many states");
    return;
  }
  wrapped[i].f = f;
  wrapped[i].ud = ud;
  lua_setallocf(L, braid__fail_lua_alloc, &wrapped[i]);
}


/* _test.fail_alloc(n [, {count = k}]): from now on, braid's allocations
** (core objects, worker states, and this state's) are counted from 1
** and the n-th (and the k-1 after it; k <= 0: all from n on) fail. n = 0
** only counts. Stop with _test.fail_stop(). */
static int test_fail_alloc(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  lua_Integer count = 1;
  if (n < 0) return braidB_argerror(L, 1, "ValueError", "n must be >= 0");
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "count") != LUA_TNIL)
      count = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  wrap_state(L);
  braid__fail_arm((long)n, (long)count);
  return 0;
}


/* _test.fail_pcall(n, count, f, ...) -> seen, failed, ok, results...:
** fail_alloc(n, {count = count}), then pcall(f, ...), then fail_stop(),
** with nothing allocated between the end of the call and the disarming
** (in Lua, the call to fail_stop itself may need memory). */
static int test_fail_pcall(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  lua_Integer count = luaL_checkinteger(L, 2);
  long seen, failed;
  int status;
  luaL_checktype(L, 3, LUA_TFUNCTION);
  if (n < 0) return braidB_argerror(L, 1, "ValueError", "n must be >= 0");
  wrap_state(L);
  braid__fail_arm((long)n, (long)count);
  status = lua_pcall(L, lua_gettop(L) - 3, LUA_MULTRET, 0);
  braid__fail_disarm(&seen, &failed);
  luaL_checkstack(L, 3, "too many results");
  lua_pushinteger(L, (lua_Integer)seen);
  lua_pushinteger(L, (lua_Integer)failed);
  lua_pushboolean(L, status == LUA_OK);
  lua_rotate(L, 3, 3); /* n count seen failed ok results... */
  return lua_gettop(L) - 2;
}


/* _test.fail_stop() -> allocations counted, of which failed */
static int test_fail_stop(lua_State *L) {
  long seen, failed;
  braid__fail_disarm(&seen, &failed);
  lua_pushinteger(L, (lua_Integer)seen);
  lua_pushinteger(L, (lua_Integer)failed);
  return 2;
}


static void add_site(void *ud, const void *site) {
  lua_State *L = (lua_State *)ud;
  lua_pushstring(L, (const char *)site);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* _test.fail_sites([reset]) -> {"file:line", ...} of the distinct sites
** counted while armed since the last reset; reset = true clears them. */
static int test_fail_sites(lua_State *L) {
  int reset = lua_toboolean(L, 1);
  lua_newtable(L);
  braid__fail_sites(add_site, L);
  if (reset) braid__fail_sites_reset();
  return 1;
}


/* _test.fail_trace() -> {"file:line", ...}: the site of every allocation
** counted by the last arming, in order (after _test.fail_stop()). */
static int test_fail_trace(lua_State *L) {
  const void *site;
  lua_Integer k;
  lua_newtable(L);
  for (k = 1; (site = braid__fail_trace((long)k)) != NULL; k++) {
    lua_pushstring(L, (const char *)site);
    lua_rawseti(L, -2, k);
  }
  return 1;
}


/* _test.fds() -> number of open descriptors of the process (nil where
** /proc/self/fd cannot be read) */
static int test_fds(lua_State *L) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  lua_Integer n = 0;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  lua_pushinteger(L, n - 1); /* not the directory's own descriptor */
  return 1;
}


static const luaL_Reg test_funcs[] = {
  { "refs", test_refs },
  { "live", test_live },
  { "id", test_id },
  { "fds", test_fds },
  { "fail_alloc", test_fail_alloc },
  { "fail_stop", test_fail_stop },
  { "fail_pcall", test_fail_pcall },
  { "fail_sites", test_fail_sites },
  { "fail_trace", test_fail_trace },
  { NULL, NULL },
};


void braidB_open_test(lua_State *L) {
  luaL_setfuncs(L, test_funcs, 0);
}

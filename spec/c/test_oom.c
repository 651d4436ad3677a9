/*
** test_oom.c: allocation failure injection from C, where AddressSanitizer
** checks for leaks (scripts/test.sh runs the C tests with detect_leaks=1,
** the specs without). Each scenario runs in a host state whose allocator
** takes part in the injection (like the worker states and braid's own C
** allocations): once counting the allocations, then with the N-th failing
** (N over all of them, or a sample that fails every distinct site at
** least once), each followed by a clean run on the same objects. Each run
** must end in success or a MemoryError; after the state closes, no braid
** object is alive and no descriptor is open that was not before.
** BRAID_OOM_RUNS (default: every N) bounds the failing runs per scenario;
** BRAID_OOM_COUNT (default 2) is how many allocations fail in a row.
*/
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "braidlib.h"
#include "failalloc.h"
#include "lbind.h"
#include "ctest.h"

static braidB_fail_alloc_ud host_alloc;

static long count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  long n = 0;
  if (d == NULL) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}


/* A host state whose allocations take part in the injection. */
static lua_State *newhost(void) {
  lua_State *L = luaL_newstate();
  host_alloc.f = lua_getallocf(L, &host_alloc.ud);
  lua_setallocf(L, braidB_fail_lua_alloc, &host_alloc);
  luaL_openlibs(L);
  braid_openlibs(L);
  return L;
}


static const char PRELUDE[] =
  "local threading = require 'braid.threading'\n"
  "local queue = require 'braid.queue'\n"
  "local futures = require 'braid.futures'\n"
  "local mp = require 'braid.multiprocessing'\n"
  "local core = require 'braid.core'\n"
  "local errors = require 'braid.errors'\n"
  "local function memerr(e)\n"
  "  return errors.is(errors.MemoryError, e) or e == 'not enough memory'\n"
  "end\n"
  "local function expect(ok, err)\n"
  "  if not ok then assert(memerr(err), 'not a MemoryError: ' .. tostring(err)) end\n"
  "  return ok\n"
  "end\n"
  "local DATA = {}\n"
  "for i = 1, 20 do DATA[i] = {x = i, name = 'item' .. i} end\n"
  "local function sum(t) local s = 0; for _, v in ipairs(t) do s = s + v.x end; return s end\n";

/* Each scenario's chunk returns run(st) and clean(st, ok, result or
** error): run is called armed, clean disarmed (it releases what run left
** and raises when the outcome is wrong). */
/* (with more than two failures in a row, even the fresh state that would
** report a worker's failure may not be made: only stderr hears of it) */
static const char THREAD_START[] =
  "local LENIENT = (tonumber(os.getenv('BRAID_OOM_COUNT')) or 2) > 2\n"
  "local errs = {}\n"
  "threading.excepthook = function(a) errs[#errs + 1] = a.exc_value end\n"
  "local function f(q, d, k) q:put(sum(d) + k) end\n"
  "return function(st)\n"
  "  st.q = queue.Queue()\n"
  "  st.t = threading.Thread{target = f, args = {st.q, DATA, 1}}\n"
  "  st.t:start(); st.t:join(30)\n"
  "end, function(st, ok, err)\n"
  "  if st.t and st.t:is_alive() then st.t:join(30) end\n"
  "  assert(not (st.t and st.t:is_alive()), 'thread still running')\n"
  "  for _, e in ipairs(errs) do assert(memerr(e), tostring(e)) end\n"
  "  if expect(ok, err) and #errs == 0 and not (st.q:empty() and LENIENT) then\n"
  "    assert(not st.q:empty(), 'no result, and no error reported')\n"
  "    assert(st.q:get(false) == 211)\n"
  "  end\n"
  "  errs = {}\n"
  "end\n";

static const char QUEUE_TABLES[] =
  "local q = queue.Queue()\n"
  "return function(st)\n"
  "  q:put(DATA); q:put({a = {b = {c = 'deep'}}})\n"
  "  return {q:get(false), q:get(false)}\n"
  "end, function(st, ok, r)\n"
  "  while not q:empty() do q:get(false) end\n"
  "  if expect(ok, r) then assert(sum(r[1]) == 210 and r[2].a.b.c == 'deep') end\n"
  "end\n";

static const char FUTURE_RESULTS[] =
  "local ex = futures.ThreadPoolExecutor(2)\n"
  "local function f(d, k) local o = {}; for j, v in ipairs(d) do o[j] = {x = v.x * k} end; return o end\n"
  "return function(st)\n"
  "  st.fs = {}\n"
  "  for i = 1, 3 do st.fs[i] = ex:submit(f, DATA, i) end\n"
  "  local r = {}\n"
  "  for i = 1, 3 do r[i] = st.fs[i]:result(30) end\n"
  "  return r\n"
  "end, function(st, ok, r)\n"
  "  for _, f in ipairs(st.fs or {}) do pcall(f.result, f, 30) end\n"
  "  if expect(ok, r) then for i = 1, 3 do assert(sum(r[i]) == 210 * i) end end\n"
  "end, function() ex:shutdown(true) end\n";

static const char POOL_MAP[] =
  "local pool = mp.pool.ThreadPool(2)\n"
  "local function f(v) return {x = v.x * 2} end\n"
  "return function(st)\n"
  "  return pool:map(f, DATA, 3)\n"
  "end, function(st, ok, r)\n"
  "  if expect(ok, r) then assert(r.n == 20 and sum(r) == 420) end\n"
  "end, function() pool:close(); pool:join() end\n";

static const char DEEP_TABLE[] =
  "local deep = {v = 0}\n"
  "local t = deep\n"
  "for i = 1, 99 do t.next = {v = i, pad = {i}}; t = t.next end\n"
  "local q = queue.Queue()\n"
  "return function(st)\n"
  "  q:put(deep)\n"
  "  return core.loads(core.dumps(q:get(false)))\n"
  "end, function(st, ok, r)\n"
  "  while not q:empty() do q:get(false) end\n"
  "  if expect(ok, r) then\n"
  "    local n = 0; while r.next do n = n + 1; r = r.next end\n"
  "    assert(n == 99 and r.v == 99)\n"
  "  end\n"
  "end\n";


/* BRAID_OOM_COUNT (default 2): how many allocations fail in a row. */
static long fail_count(void) {
  const char *v = getenv("BRAID_OOM_COUNT");
  return v ? atol(v) : 2;
}


static int runs_budget(void) {
  const char *v = getenv("BRAID_OOM_RUNS");
  int n = v ? atoi(v) : 0;
  return n > 0 ? n : INT_MAX;
}


/* One run: run(st) armed to fail allocations n and n+1 (n = 0: none),
** then clean(st, ok, result) disarmed. Stack: run clean. Returns 1 when
** clean accepted the outcome; '*total' receives the allocations counted. */
static int one(lua_State *L, long n, long *total) {
  int status;
  long seen, failed;
  lua_newtable(L);                  /* st */
  lua_pushvalue(L, 1);              /* run */
  lua_pushvalue(L, -2);             /* st */
  braid__fail_arm(n, fail_count());
  status = lua_pcall(L, 1, 1, 0);
  braid__fail_disarm(&seen, &failed);
  if (total) *total = seen;
  /* st result */
  lua_pushvalue(L, 2);              /* clean */
  lua_pushvalue(L, -3);             /* st */
  lua_pushboolean(L, status == LUA_OK);
  lua_pushvalue(L, -4);             /* result or error */
  status = lua_pcall(L, 3, 0, 0);
  if (status != LUA_OK) {
    fprintf(stderr, "  N=%ld (%ld failed): %s\n", n, failed,
            luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
  }
  lua_pop(L, 2);
  return status == LUA_OK;
}


/* Sweeps 'code' (PRELUDE + scenario); '*points' and '*nsites' receive
** the runs with a failure injected and the distinct sites counted. */
static int sweep(const char *name, const char *code, long *points,
                 long *nsites) {
  lua_State *L = newhost();
  long before = braid_live_objects(), fds = count_fds();
  long total = 0, k, step, budget = runs_budget(), runs = 0;
  char *picked;
  int ok = 1;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, PRELUDE);
  luaL_addstring(&b, code);
  luaL_pushresult(&b);
  if (luaL_loadstring(L, lua_tostring(L, -1)) != LUA_OK ||
      lua_pcall(L, 0, 3, 0) != LUA_OK) {
    fprintf(stderr, "  %s: %s\n", name, lua_tostring(L, -1));
    lua_close(L);
    return 0;
  }
  lua_remove(L, 1);          /* the source: run clean close */
  ok = one(L, 0, NULL);      /* a warm-up */
  braid__fail_sites_reset();
  ok = ok && one(L, 0, &total);
  picked = (char *)calloc((size_t)total + 2, 1);
  if (!ok || picked == NULL || total == 0) {
    free(picked);
    lua_close(L);
    return 0;
  }
  /* the first allocation of every site, then an even spread */
  {
    const void **seen = (const void **)calloc((size_t)total, sizeof *seen);
    long nseen = 0, j;
    for (k = 1; seen != NULL && k <= total; k++) {
      const void *s = braid__fail_trace(k);
      for (j = 0; j < nseen && seen[j] != s; j++) {}
      if (j == nseen) {
        seen[nseen++] = s;
        picked[k] = 1;
      }
    }
    free(seen);
  }
  step = total > budget ? total / budget : 1;
  for (k = 1; k <= total; k += step) picked[k] = 1;
  if (getenv("BRAID_OOM_ONLY") != NULL) { /* a debugging aid: one N */
    long only = atol(getenv("BRAID_OOM_ONLY"));
    memset(picked, 0, (size_t)total + 2);
    if (only >= 1 && only <= total) picked[only] = 1;
    for (k = only; k >= 1 && k <= total && k < only + 2; k++)
      fprintf(stderr, "  %s: allocation %ld is at %s\n", name, k,
              (const char *)braid__fail_trace(k));
  }
  for (k = 1; ok && k <= total; k++) {
    if (!picked[k]) continue;
    runs++;
    ok = one(L, k, NULL) && one(L, 0, NULL);
  }
  free(picked);
  *points = runs;
  *nsites = braid__fail_sites(NULL, NULL);
  if (!lua_isnil(L, 3)) { /* close */
    lua_pushvalue(L, 3);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) ok = 0;
  }
  lua_close(L);
  if (braid_live_objects() != before) {
    fprintf(stderr, "  %s: %ld objects alive, %ld before\n", name,
            braid_live_objects(), before);
    ok = 0;
  }
  if (count_fds() != fds) {
    fprintf(stderr, "  %s: %ld descriptors open, %ld before\n", name,
            count_fds(), fds);
    ok = 0;
  }
  printf("# %s: %ld allocations, %ld runs failing N, %ld sites\n", name,
         total, runs, *nsites);
  return ok;
}


#define SWEEP(fname, title, code)                                          \
  static void fname(void) {                                                \
    long points = 0, sites = 0;                                            \
    CHECK(sweep(title, code, &points, &sites));                            \
    CHECK(points > 0);                                                     \
  }

SWEEP(test_thread_start, "thread start with args", THREAD_START)
SWEEP(test_queue_tables, "queue put/get of tables", QUEUE_TABLES)
SWEEP(test_future_results, "future results", FUTURE_RESULTS)
SWEEP(test_pool_map, "pool map", POOL_MAP)
SWEEP(test_deep_table, "transfer of a 100-level table", DEEP_TABLE)


/* Core allocations fail as MemoryError, not as a crash or a corrupt
** object: the first allocation of a put is the encoder's. */
static void test_core_allocation_fails(void) {
  lua_State *L = newhost();
  int status;
  CHECK(luaL_dostring(L, "q = require('braid.queue').Queue(); item = {1, 2}\n"
                         "return function() q:put(item) end") == LUA_OK);
  braid__fail_arm(1, 1);
  status = lua_pcall(L, 0, 0, 0);
  braid__fail_disarm(NULL, NULL);
  CHECK(status == LUA_ERRRUN);
  CHECK(luaL_loadstring(L, "local e = ...\n"
                           "assert(require('braid.errors').MemoryError:is(e), tostring(e))\n"
                           "q:put(item); assert(q:get(false)[2] == 2)\n"
                           "assert(q:empty())") == LUA_OK);
  lua_insert(L, -2);
  CHECK(lua_pcall(L, 1, 0, 0) == LUA_OK);
  lua_close(L);
}


int main(void) {
  static const ctest_case cases[] = {
    { "a failed core allocation raises MemoryError", test_core_allocation_fails },
    { "OOM sweep: thread start with args", test_thread_start },
    { "OOM sweep: queue put/get of tables", test_queue_tables },
    { "OOM sweep: future results", test_future_results },
    { "OOM sweep: pool map", test_pool_map },
    { "OOM sweep: transfer of a 100-level table", test_deep_table },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

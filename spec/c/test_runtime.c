/*
** test_runtime.c: what Lua cannot check: the embedding hooks (per-state
** initializers, allocator), reference counts of shared objects reaching
** zero once every state lets go, several runtimes in one process, and the
** join of non-daemon threads when a root state closes.
*/
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "braidlib.h"
#include "ctest.h"

static atomic_int init_calls;
static atomic_long alloc_calls;


static int host_add(lua_State *L) {
  lua_pushinteger(L, luaL_checkinteger(L, 1) + luaL_checkinteger(L, 2));
  return 1;
}


static int open_hostmod(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, host_add);
  lua_setfield(L, -2, "add");
  return 1;
}


/* The per-state initializer: makes 'hostmod' requirable in each worker. */
static int stateinit(lua_State *L, void *ud) {
  atomic_fetch_add(&init_calls, 1);
  if (ud != (void *)&init_calls) return 1;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, open_hostmod);
  lua_setfield(L, -2, "hostmod");
  lua_pop(L, 1);
  return 0;
}


static int failing_init(lua_State *L, void *ud) {
  (void)L;
  (void)ud;
  return 1;
}


static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  atomic_fetch_add(&alloc_calls, 1);
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}


static lua_State *newhost(braid_runtime_t *rt) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  braid_openlibs(L);
  if (rt != NULL && braid_attach(L, rt) != BRAID_OK) {
    lua_close(L);
    return NULL;
  }
  return L;
}


static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "  lua error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}


static void test_stateinit_runs_in_every_worker(void) {
  braid_runtime_t *rt;
  braid_runtime_options_t opts;
  lua_State *L;
  memset(&opts, 0, sizeof opts);
  opts.flags = BRAID_RUNTIME_HAS_STATEINIT;
  opts.stateinit = stateinit;
  opts.stateinit_ud = &init_calls;
  CHECK_EQ(braid_runtime_new(&rt, &opts), BRAID_OK);
  L = newhost(rt);
  CHECK(L != NULL);
  atomic_store(&init_calls, 0);
  CHECK(run(L,
            "local threading = require 'braid.threading'\n"
            "local ok = {}\n"
            "local ts = {}\n"
            "for i = 1, 4 do\n"
            "  ts[i] = threading.Thread{target = function(a, b)\n"
            "    assert(require('hostmod').add(a, b) == a + b)\n"
            "  end, args = {i, 10}}\n"
            "  ts[i]:start()\n"
            "end\n"
            "for i = 1, 4 do ts[i]:join() end\n"));
  lua_close(L);
  CHECK_EQ(atomic_load(&init_calls), 4);
  braid_runtime_release(rt);
}


static void test_add_stateinit_after_start_refused(void) {
  braid_runtime_t *rt;
  lua_State *L;
  CHECK_EQ(braid_runtime_new(&rt, NULL), BRAID_OK);
  CHECK_EQ(braid_runtime_add_stateinit(rt, stateinit, &init_calls), BRAID_OK);
  L = newhost(rt);
  CHECK(run(L, "local t = require('braid.threading').Thread{target=function() end}"
               " t:start() t:join()"));
  CHECK_EQ(braid_runtime_add_stateinit(rt, stateinit, NULL), BRAID_ESTATE);
  CHECK_EQ(braid_runtime_add_stateinit(NULL, stateinit, NULL), BRAID_EINVAL);
  lua_close(L);
  braid_runtime_release(rt);
}


static void test_custom_allocator_used_by_workers(void) {
  braid_runtime_t *rt;
  braid_runtime_options_t opts;
  lua_State *L;
  memset(&opts, 0, sizeof opts);
  opts.flags = BRAID_RUNTIME_HAS_ALLOC;
  opts.alloc = counting_alloc;
  CHECK_EQ(braid_runtime_new(&rt, &opts), BRAID_OK);
  L = newhost(rt);
  atomic_store(&alloc_calls, 0);
  CHECK(run(L, "local t = require('braid.threading').Thread{target=function()"
               " local x = {} for i = 1, 100 do x[i] = {i} end end}"
               " t:start() t:join()"));
  CHECK(atomic_load(&alloc_calls) > 100);
  lua_close(L);
  braid_runtime_release(rt);
  opts.alloc = NULL;
  CHECK_EQ(braid_runtime_new(&rt, &opts), BRAID_EINVAL);
}


static void test_failing_stateinit_does_not_hang(void) {
  braid_runtime_t *rt;
  braid_runtime_options_t opts;
  lua_State *L;
  memset(&opts, 0, sizeof opts);
  opts.flags = BRAID_RUNTIME_HAS_STATEINIT;
  opts.stateinit = failing_init;
  CHECK_EQ(braid_runtime_new(&rt, &opts), BRAID_OK);
  L = newhost(rt);
  CHECK(run(L, "local t = require('braid.threading').Thread{target=function()"
               " error('must not run') end} t:start() t:join()"
               " assert(not t:is_alive())"));
  lua_close(L);
  braid_runtime_release(rt);
}


/* The live-object count once it reaches 'want' (or after 10 s): a worker
** thread drops its last references just after its join returns, so a count
** taken at once may still see an object of the test before. */
static long live_objects_settled(long want) {
  struct timespec pause = { 0, 1000000 }; /* 1 ms */
  int i;
  for (i = 0; i < 10000 && braid_live_objects() != want; i++)
    nanosleep(&pause, NULL);
  return braid_live_objects();
}


static void test_objects_freed_when_last_state_lets_go(void) {
  long before = live_objects_settled(0);
  lua_State *L = newhost(NULL);
  CHECK(run(L,
            "local threading = require 'braid.threading'\n"
            "local core = require 'braid.core'\n"
            "local ts = {}\n"
            "for i = 1, 8 do\n"
            "  ts[i] = threading.Thread{target = function() end}\n"
            "  ts[i]:start()\n"
            "end\n"
            "for i = 1, 8 do ts[i]:join() end\n"
            "assert(core.live_objects() > 0)\n"));
  CHECK(braid_live_objects() > before);
  lua_close(L); /* frees the main thread object too */
  CHECK_EQ(live_objects_settled(before), before);
}


static void test_two_runtimes_one_process(void) {
  braid_runtime_t *a, *b;
  lua_State *La, *Lb;
  CHECK_EQ(braid_runtime_new(&a, NULL), BRAID_OK);
  CHECK_EQ(braid_runtime_new(&b, NULL), BRAID_OK);
  La = newhost(a);
  Lb = newhost(b);
  CHECK(run(La, "T = require('braid.threading').Thread{target=function() end}"
                " T:start() T:join()"));
  CHECK(run(Lb, "T = require('braid.threading').Thread{target=function() end}"
                " T:start() T:join()"));
  CHECK_EQ(braid_attach(La, b), BRAID_ESTATE);
  lua_close(La);
  lua_close(Lb);
  braid_runtime_release(a);
  braid_runtime_release(b);
}


static void test_close_waits_for_nondaemon_threads(void) {
  lua_State *L = newhost(NULL);
  /* The thread sleeps 0.2 s: lua_close must not return before that. */
  CHECK(run(L, "local t = require('braid.threading').Thread{target=function()"
               " require('braid.core').sleep(0.2) end} t:start()"
               " T0 = require('braid.core').monotonic()"));
  {
    double t0;
    lua_getglobal(L, "T0");
    t0 = lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_close(L);
    {
      struct timespec ts;
      double now;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
      CHECK(now - t0 >= 0.19);
    }
  }
}


static void test_version(void) {
  CHECK_EQ(braid_version(), (BRAID_VERSION_MAJOR << 16) |
                                (BRAID_VERSION_MINOR << 8) |
                                BRAID_VERSION_PATCH);
  CHECK(strcmp(braid_strerror(BRAID_ETIMEDOUT), "timed out") == 0);
  CHECK(strcmp(braid_err_name(BRAID_EFULL), "EFULL") == 0);
  CHECK(strcmp(braid_err_name(12345), "EUNKNOWN") == 0);
}


/* Streamed starts (every path: complete, started over on a patched copy,
** failed after the thread started) free their streams, buffers and the
** references they took: the live-object count returns to where it was,
** and LeakSanitizer (the ASan pass) sees no block left. */
static void test_streamed_starts_free_everything(void) {
  long before = live_objects_settled(0);
  lua_State *L = newhost(NULL);
  CHECK(run(L,
            "local threading = require 'braid.threading'\n"
            "local core = require 'braid.core'\n"
            "local min, step = core._stream_min(256, 64)\n"
            "local ev, q = threading.Event(), require('braid.queue').Queue()\n"
            "local function big(late)\n"
            "  local t = {}\n"
            "  for i = 1, 3000 do t[i] = {id = i, name = 'n' .. i} end\n"
            "  t[3000].ev, t[3000].q = ev, q\n"
            "  if late then t[3000].back = t[1] end\n"
            "  return t\n"
            "end\n"
            "local function f(t) t[3000].q:put(#t) end\n"
            "for _, late in ipairs{false, true} do\n"
            "  local th = threading.Thread{target = f, args = {big(late)}}\n"
            "  th:start(); th:join()\n"
            "  assert(q:get() == 3000)\n"
            "end\n"
            "local bad = big(false); bad[2999].co = coroutine.create(print)\n"
            "local th = threading.Thread{target = f, args = {bad}}\n"
            "assert(not pcall(th.start, th))\n"
            "bad[2999].co = nil\n"
            "th:start(); th:join()\n"
            "assert(q:get() == 3000)\n"
            "core._stream_min(min, step)\n"));
  lua_close(L);
  CHECK_EQ(live_objects_settled(before), before);
}


int main(void) {
  static const ctest_case cases[] = {
    { "per-state initializer runs in every worker", test_stateinit_runs_in_every_worker },
    { "initializers are frozen once a thread started", test_add_stateinit_after_start_refused },
    { "custom allocator is used by worker states", test_custom_allocator_used_by_workers },
    { "a failing initializer does not hang join", test_failing_stateinit_does_not_hang },
    { "objects are freed when the last state lets go", test_objects_freed_when_last_state_lets_go },
    { "two runtimes in one process", test_two_runtimes_one_process },
    { "closing a root state waits for non-daemon threads", test_close_waits_for_nondaemon_threads },
    { "streamed starts free everything", test_streamed_starts_free_everything },
    { "version and error names", test_version },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

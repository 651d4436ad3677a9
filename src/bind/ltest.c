/*
** ltest.c: braid.core._test, compiled with BRAID_TESTS: probes that let
** specs prove reference counts reach zero and nothing leaks.
** See LICENSE for copyright and license.
*/
#include <dirent.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "failalloc.h"
#include "lbind.h"
#include "lcodec.h"
#include "lpool.h"
#include "process.h"
#include "intr.h"
#include "park.h"


/* _test.refs(obj) -> reference count of a braid object */
static int test_refs(lua_State *L) {
  braid_handle *h = braidB_tohandle(L, 1);
  if (h == NULL) return braidB_typeerror(L, 1, "braid object");
  lua_pushinteger(L, (lua_Integer)braid__handle_refs(h));
  return 1;
}


/* _test.intr_mask([delta]) -> the calling thread's interrupt mask count
** after adding 'delta' (intr.h): lets specs prove a parked thread's
** next run starts unmasked. */
static int test_intr_mask(lua_State *L) {
  braid__intr_mask((int)luaL_optinteger(L, 1, 0));
  lua_pushinteger(L, braid__intr_masked());
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
static braidB_fail_alloc_ud wrapped[MAXWRAPPED];
static atomic_int nwrapped;

static void wrap_state(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  int i;
  /* worker states on braid's pool take part through it already (one on
  ** the system allocator would count its allocations twice: harmless) */
  if (f == braidB_fail_lua_alloc || f == braid__salloc_alloc) return;
  i = atomic_fetch_add(&nwrapped, 1);
  if (i >= MAXWRAPPED) {
    luaL_error(L, "fail_alloc: too many states");
    return;
  }
  wrapped[i].f = f;
  wrapped[i].ud = ud;
  lua_setallocf(L, braidB_fail_lua_alloc, &wrapped[i]);
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


/* _test.fd_count() -> descriptors open in this process (/proc/self/fd,
** without the directory's own) */
static int test_fd_count(lua_State *L) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  lua_Integer n = 0;
  if (d == NULL) return braidB_oserror(L, errno, "/proc/self/fd");
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  lua_pushinteger(L, n - 1);
  return 1;
}


/* _test.child_count([except]) -> how many children this process has (running or
** zombies) but pid 'except', from /proc/self/task/<tid>/children */
static int test_child_count(lua_State *L) {
  long except = (long)luaL_optinteger(L, 1, 0);
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  lua_Integer n = 0;
  if (d == NULL) return braidB_oserror(L, errno, "/proc/self/task");
  while ((e = readdir(d)) != NULL) {
    char path[300];
    FILE *f;
    long pid;
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    f = fopen(path, "re");
    if (f == NULL) continue; /* the thread ended meanwhile */
    while (fscanf(f, "%ld", &pid) == 1)
      if (pid != except) n++;
    fclose(f);
  }
  closedir(d);
  lua_pushinteger(L, n);
  return 1;
}


/* A full descriptor table: the descriptors _test.fill_fds took. */
#define FILLER_T "braid._test.Filler"

typedef struct Filler {
  int n, *fds;
} Filler;

static int filler_free(lua_State *L) {
  Filler *f = (Filler *)luaL_checkudata(L, 1, FILLER_T);
  lua_Integer k = luaL_optinteger(L, 2, f->n);
  while (k-- > 0 && f->n > 0) close(f->fds[--f->n]);
  if (f->n == 0) {
    free(f->fds);
    f->fds = NULL;
  }
  lua_pushinteger(L, f->n);
  return 1;
}


/* _test.fill_fds([limit]) -> filler, count: lowers the soft
** RLIMIT_NOFILE to 'limit' when it is above (so filling stays cheap),
** then takes descriptors until EMFILE. filler:free([k]) gives back 'k'
** of them (all by default) and returns how many it still holds; __gc
** frees them all. The limit stays lowered. */
static int test_fill_fds(lua_State *L) {
  lua_Integer limit = luaL_optinteger(L, 1, 256);
  struct rlimit rl;
  Filler *f;
  int cap = 0, d;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > (rlim_t)limit) {
    rl.rlim_cur = (rlim_t)limit;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      return braidB_oserror(L, errno, "setrlimit");
  }
  f = (Filler *)lua_newuserdatauv(L, sizeof *f, 0);
  f->n = 0;
  f->fds = NULL;
  if (luaL_newmetatable(L, FILLER_T)) {
    lua_pushcfunction(L, filler_free);
    lua_setfield(L, -2, "__gc");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, filler_free);
    lua_setfield(L, -2, "free");
  }
  lua_setmetatable(L, -2);
  for (;;) {
    if (f->n == cap) {
      int *g = (int *)braid__realloc(f->fds, sizeof(int) * (size_t)(cap ? cap * 2 : 64));
      if (g == NULL) return braidB_nomem(L);
      f->fds = g;
      cap = cap ? cap * 2 : 64;
    }
    d = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (d < 0) break;
    f->fds[f->n++] = d;
  }
  if (errno != EMFILE) return braidB_oserror(L, errno, "/dev/null");
  lua_pushinteger(L, f->n);
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


/* _test.fail_forks(n): the next 'n' process creations fail (EAGAIN). */
static int test_fail_forks(lua_State *L) {
  braid__proc_fail_forks((int)luaL_checkinteger(L, 1));
  return 0;
}


/* _test.children() -> {[pid] = state letter} of this process's children
** (any thread's), from /proc/<pid>/stat (state "Z": a zombie nobody
** reaped); nil off Linux */
static int test_children(lua_State *L) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  long me = (long)getpid();
  if (d == NULL) return 0;
  lua_newtable(L);
  while ((e = readdir(d)) != NULL) {
    char path[300], buf[512], state;
    const char *rp;
    long ppid;
    FILE *f;
    size_t n;
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    f = fopen(path, "re");
    if (f == NULL) continue; /* ended meanwhile */
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    rp = strrchr(buf, ')'); /* the command may hold spaces and parens */
    if (rp == NULL || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2) continue;
    if (ppid != me) continue;
    lua_pushlstring(L, &state, 1);
    lua_rawseti(L, -2, (lua_Integer)strtol(e->d_name, NULL, 10));
  }
  closedir(d);
  return 1;
}


/* _test.trim(): lets the parked OS threads exit (park.h), gives the
** chunks cached for worker states (braid__alloc_trim) and malloc's free
** memory (malloc_trim, glibc only) back to the system, so that a memory figure taken next counts what is
** allocated, not what is kept for later */
static int test_trim(lua_State *L) {
  (void)L;
  braid__park_flush(); /* parked threads: a cache of OS threads */
  braid__alloc_trim();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  return 0;
}


/* _test.heap() -> bytes malloc has handed out and not got back (in its
** arenas and in mappings of their own; glibc's mallinfo2), or nil */
static int test_heap(lua_State *L) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 mi = mallinfo2();
  lua_pushinteger(L, (lua_Integer)(mi.uordblks + mi.hblkhd));
  return 1;
#else
  (void)L;
  return 0;
#endif
}


/* _test.ready() -> worker states prepared ahead (lready.c) in all, taken
** by a run, held now by parked threads */
static int test_ready(lua_State *L) {
  long made, taken, live;
  braidB_ready_counts(&made, &taken, &live);
  lua_pushinteger(L, (lua_Integer)made);
  lua_pushinteger(L, (lua_Integer)taken);
  lua_pushinteger(L, (lua_Integer)live);
  return 3;
}


/* _test.map_batch(items, chunksize, proc) -> length, call_lo, call_hi:
** encodes items[1..#items] as a pool's map encodes a segment of them
** (lpool.c encode_items: chunks share references, a table every chunk
** carries is written once, T_CALLV), for another process when 'proc',
** and tells the message's size and the bytes of its call values. */
static int test_map_batch(lua_State *L) {
  lua_Integer n, cs = luaL_checkinteger(L, 2);
  braid_msg *m;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  m = braid__encode_batch_shared(
      L, 1, 1, n, "iterable",
      (lua_toboolean(L, 3) ? BRAID_ENC_PIPE : 0) | BRAID_ENC_CALLV, cs);
  lua_pushinteger(L, (lua_Integer)m->len);
  lua_pushinteger(L, (lua_Integer)m->call_lo);
  lua_pushinteger(L, (lua_Integer)m->call_hi);
  braid__msg_free(m);
  return 3;
}


/* _test.batch_dumps(items, group, callv) -> bytes, offsets: the message
** of a batch of items[1..#items] whose items share references within runs
** of 'group' (braid__encode_batch_shared; 0: none; 'callv': as a map
** call's batch, BRAID_ENC_CALLV), and where each item starts (specs
** compare the raw and the API walks' bytes). */
static int test_batch_dumps(lua_State *L) {
  lua_Integer n, i, g = luaL_checkinteger(L, 2);
  braid_msg *m;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  m = braid__encode_batch_shared(
      L, 1, 1, n, "items", lua_toboolean(L, 3) ? BRAID_ENC_CALLV : 0, g);
  lua_pushlstring(L, (const char *)m->data, m->len);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)m->offs[i]);
    lua_rawseti(L, -2, i + 1);
  }
  braid__msg_free(m);
  return 2;
}


static const luaL_Reg test_funcs[] = {
  { "batch_dumps", test_batch_dumps },
  { "ready", test_ready },
  { "fd_count", test_fd_count },
  { "map_batch", test_map_batch },
  { "pool_misreply", braidB_test_pool_misreply },
  { "pool_stall", braidB_test_pool_stall },
  { "fill_fds", test_fill_fds },
  { "child_count", test_child_count },
  { "children", test_children },
  { "heap", test_heap },
  { "trim", test_trim },
  { "fail_forks", test_fail_forks },
  { "refs", test_refs },
  { "live", test_live },
  { "intr_mask", test_intr_mask },
  { "id", test_id },
  { "fds", test_fd_count },
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

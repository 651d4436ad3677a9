/*
** lpool.c: Lua binding of thread pools (the C half of
** braid.futures.ThreadPoolExecutor and braid.multiprocessing.pool): a
** pool's construction, the submission of tasks (submit for apply and
** Executor.submit, map for every map), shutdown and join; and the
** registration of the whole pool binding (lpool.h lists its files).
** See LICENSE for copyright and license.
**
** A submitted function travels as an entry: encoded once by the
** submitting state, which caches the entry per function and pool in an
** ephemeron table, and decoded once per worker (lworker.c).
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lbind.h"
#include "lpool.h"
#include "pool.h"
#include "lcodec.h"
#include "lpstream.h"

static const char FNCACHE_KEY = 'f'; /* weak: pool proxy -> {fn -> FnRef} */


/*
** {======================================================
** Sending values
** =======================================================
*/

/* The 'n' values at idx.. as one message named by 'roots' (on the stack
** just above them: popped here). */
static braid_msg *encode_named(lua_State *L, int idx, int n,
                               const char **roots, int proc) {
  braid_msg *m = proc ? braid__encode_proc(L, idx, n, roots,
                                           proc > 1 ? proc : BRAID_ENC_PIPE)
                      : braid__encode_n(L, idx, n, roots);
  lua_pop(L, 1);
  return m;
}


braid_msg *braidB_encode_values(lua_State *L, int idx, int n,
                                const char *root, int proc) {
  const char **roots;
  int i;
  idx = lua_absindex(L, idx);
  if (n == 1 && !proc) return braid__encode(L, idx, root);
  roots = (const char **)lua_newuserdatauv(L, (size_t)n * sizeof *roots, 0);
  for (i = 0; i < n; i++) roots[i] = root;
  return encode_named(L, idx, n, roots, proc);
}


const char **braidB_indexed_roots(lua_State *L, const char *name,
                                  lua_Integer first, int n) {
  const char **roots =
      (const char **)lua_newuserdatauv(L, (size_t)n * sizeof *roots, 1);
  int i;
  lua_createtable(L, n, 0); /* the names, alive as long as the userdata */
  for (i = 0; i < n; i++) {
    roots[i] = lua_pushfstring(L, "%s[%I]", name, first + i);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setiuservalue(L, -2, 1);
  return roots;
}


/* A call's arguments as one message, each named by its position. */
static braid_msg *encode_args(lua_State *L, int idx, int n, int proc) {
  idx = lua_absindex(L, idx);
  return encode_named(L, idx, n, braidB_indexed_roots(L, "args", 1, n),
                      proc);
}


static int msgbox_gc(lua_State *L) {
  braid_msg **b = (braid_msg **)lua_touserdata(L, 1);
  if (*b) braid__msg_free(*b);
  *b = NULL;
  return 0;
}


braid_msg **braidB_newmsgbox(lua_State *L) {
  braid_msg **b = (braid_msg **)lua_newuserdatauv(L, sizeof *b, 0);
  *b = NULL;
  if (luaL_newmetatable(L, "braid.MsgBox")) {
    lua_pushcfunction(L, msgbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return b;
}
/* }====================================================== */


/*
** {======================================================
** Pools
** =======================================================
*/

static braid_pool *checkpool(lua_State *L, int i) {
  return (braid_pool *)braidB_checkhandle(L, i, &braid__pool_type);
}


typedef struct FnRef {
  braid_fnent *e;
} FnRef;

static int fnref_gc(lua_State *L) {
  FnRef *r = (FnRef *)lua_touserdata(L, 1);
  braid__fnent_release(r->e);
  r->e = NULL;
  return 0;
}


/* The entry of the function at 'fn' for the pool proxy at 'pidx', encoded
** on first use in this state; returned with a reference for the caller. */
static braid_fnent *get_fnent(lua_State *L, int pidx, int fn) {
  FnRef *r;
  braid_fnent *e;
  braid_msg *m;
  pidx = lua_absindex(L, pidx);
  fn = lua_absindex(L, fn);
  braidB_pushweakregistry(L, &FNCACHE_KEY, "k");
  lua_pushvalue(L, pidx);
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    braidB_newweaktable(L, "k"); /* ephemeron: fn -> FnRef */
    lua_pushvalue(L, pidx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
  }
  lua_pushvalue(L, fn);
  if (lua_rawget(L, -2) == LUA_TUSERDATA) {
    r = (FnRef *)lua_touserdata(L, -1);
    e = braid__fnent_retain(r->e);
    lua_pop(L, 3);
    return e;
  }
  lua_pop(L, 1);
  r = (FnRef *)lua_newuserdatauv(L, sizeof *r, 0);
  r->e = NULL;
  if (luaL_newmetatable(L, "braid.FnRef")) {
    lua_pushcfunction(L, fnref_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  m = braidB_encode_values(L, fn, 1, "fn", braid__pool_is_process(
                            (braid_pool *)braidB_tohandle(L, pidx)));
  r->e = braid__fnent_new(m);
  if (r->e == NULL) {
    braid__msg_free(m);
    braidB_nomem(L);
  }
  lua_pushvalue(L, fn);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);
  e = braid__fnent_retain(r->e);
  lua_pop(L, 3);
  return e;
}


static int raise_pool(lua_State *L, braid_pool *p, int rc) {
  if (rc == BRAID_EBROKEN && braid__pool_is_process(p))
    return braidB_raise(L, BRAIDB_BROKEN_PROC_CLASS, "%s",
                        "A child process terminated abruptly, the process "
                        "pool is not usable anymore");
  if (rc == BRAID_EBROKEN)
    return braidB_raise(L, BRAIDB_BROKEN_CLASS, "%s", BRAIDB_BROKEN_MSG);
  if (rc == BRAID_ESHUTDOWN)
    return braidB_raise(L, "RuntimeError",
                        "cannot schedule new futures after shutdown");
  return braidB_raisecode(L, rc, NULL);
}


/* Raises what submitting to a pool that takes no more work raises: the
** pool's Broken...Pool error, or RuntimeError after a shutdown. */
static void check_open(lua_State *L, braid_pool *p) {
  if (braid__pool_broken(p)) raise_pool(L, p, BRAID_EBROKEN);
  if (braid__pool_is_shutdown(p)) raise_pool(L, p, BRAID_ESHUTDOWN);
}


/* A submission that the pool refused with 'rc': drops the function entry
** 'e' it did not take and raises. */
static int refused(lua_State *L, braid_pool *p, braid_fnent *e, int rc) {
  braid__fnent_release(e);
  return raise_pool(L, p, rc);
}


/* 1 when one of the 'n' values from 'idx' is likely big enough to stream
** (braidB_pstream_wanted). */
static int any_wanted(lua_State *L, int idx, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (braidB_pstream_wanted(L, idx + i)) return 1;
  return 0;
}


/* p:submit(fn, ...) -> future */
static int pool_submit(lua_State *L) {
  braid_pool *p = checkpool(L, 1);
  int nargs = lua_gettop(L) - 2, rc;
  braid_msg **box;
  braid_fnent *e;
  braid_future *f;
  braidB_checkcallable(L, 2);
  check_open(L, p);
  box = braidB_newmsgbox(L); /* at nargs + 3: the arguments stay at 3.. */
  if (nargs > 0 && braid__pool_is_process(p) && any_wanted(L, 3, nargs)) {
    f = braid__future_new();
    if (f == NULL) return braidB_nomem(L);
    braidB_pushnewhandle(L, (braid_handle *)f);
    e = get_fnent(L, 1, 2);
    /* the arguments, one a big table, stream to the child as they are
    ** encoded (lprocpool.c) */
    *box = braidB_procpool_submit_streamed(L, p, 3, nargs, f, e);
    if (*box == NULL) return 1;
  } else {
    if (nargs > 0)
      *box = encode_args(L, 3, nargs, braid__pool_is_process(p));
    f = braid__future_new();
    if (f == NULL) return braidB_nomem(L);
    braidB_pushnewhandle(L, (braid_handle *)f);
    e = get_fnent(L, 1, 2);
  }
  rc = braid__pool_submit(p, f, e, *box);
  if (rc != BRAID_OK) return refused(L, p, e, rc);
  *box = NULL;
  return 1;
}


/* Items in the first segment of a map job's items (see
** braid__pool_map_begin; the next ones double): the workers start once it
** is encoded. */
#define SEG_ITEMS 1024

/* Map items t[first..first+n-1] as a batch, for another process when
** 'proc'. MAY RAISE. */
static braid_msg *encode_items(lua_State *L, int t, lua_Integer first,
                               lua_Integer n, int proc, lua_Integer cs) {
  /* the items of a chunk share references: one transfer per chunk (the
  ** segment starts on a chunk boundary, so groups of 'cs' are chunks),
  ** and a table that every chunk carries is written once (T_CALLV) */
  return braid__encode_batch_shared(
      L, t, first, n, "iterable",
      (proc ? BRAID_ENC_PIPE : 0) | BRAID_ENC_CALLV, cs);
}


/* (items, first, count, proc, chunksize) -> encode_items as a light
** userdata */
static int encode_items_protected(lua_State *L) {
  lua_pushlightuserdata(L, encode_items(L, 1, lua_tointeger(L, 2),
                                        lua_tointeger(L, 3),
                                        lua_toboolean(L, 4),
                                        lua_tointeger(L, 5)));
  return 1;
}


/* Encodes the segment items[first..first+cnt-1] of p:map (the items at
** 3) into *box. Once the job 'j' exists (not NULL) an item that cannot
** be sent cancels it before its error goes on: the workers stop at what
** was published. MAY RAISE. */
static void encode_segment(lua_State *L, braid_msg **box, lua_Integer first,
                           lua_Integer cnt, int proc, lua_Integer cs,
                           braid_job *j) {
  if (j == NULL) {
    *box = encode_items(L, 3, first, cnt, proc, cs);
    return;
  }
  lua_pushcfunction(L, encode_items_protected);
  lua_pushvalue(L, 3);
  lua_pushinteger(L, first);
  lua_pushinteger(L, cnt);
  lua_pushboolean(L, proc);
  lua_pushinteger(L, cs);
  if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
    braid__job_cancel(j);
    lua_error(L);
  }
  *box = (braid_msg *)lua_touserdata(L, -1);
  lua_pop(L, 1);
}


/* Publishes the segment in *box to the workers of 'j' (taking it); when
** the pool was shut down meanwhile, cancels the job and raises. */
static void publish_segment(lua_State *L, braid_pool *p, braid_job *j,
                            braid_msg **box) {
  int rc = braid__job_publish(j, *box);
  if (rc != BRAID_OK) {
    braid__job_cancel(j);
    raise_pool(L, p, rc);
  }
  *box = NULL;
}


/* 1 when the item of a process pool's map at 'idx' ('star': a
** starmap's list of arguments, its first one looked at) is likely big
** enough to stream. */
static int item_wanted(lua_State *L, int idx, int star) {
  int r = braidB_pstream_wanted(L, idx);
  if (!r && star && lua_type(L, idx) == LUA_TTABLE) {
    lua_rawgeti(L, idx, 1);
    r = braidB_pstream_wanted(L, -1);
    lua_pop(L, 1);
  }
  return r;
}

/* Items of the first chunk looked at by items_wanted: enough for a chunk
** of big items (a map of big items has small chunks), and a bound on
** what a map of many small ones pays for the look. */
#define WANTED_LOOK 16

/* The most items of a chunk that streams: its items are values on the
** stack of the caller's encode and of the child's chunk runner. */
#define STREAM_MAX_CHUNK 8192

/* 1 when one of the first chunk's items (at most WANTED_LOOK of them) of
** the map's items at 3 is likely big: the map's chunks then stream. */
static int items_wanted(lua_State *L, lua_Integer cs, int star) {
  lua_Integer i, last = cs < WANTED_LOOK ? cs : WANTED_LOOK;
  int r = 0;
  if (cs > STREAM_MAX_CHUNK) return 0;
  for (i = 1; i <= last && !r; i++) {
    lua_rawgeti(L, 3, i);
    r = item_wanted(L, -1, star);
    lua_pop(L, 1);
  }
  return r;
}


/* (job, first, count, items...) -> braidB_procpool_map_streamed's
** message as a light userdata, and the refusal's code */
static int map_streamed_protected(lua_State *L) {
  int rc;
  braid_msg *m = braidB_procpool_map_streamed(
      L, (braid_job *)lua_touserdata(L, 1), 4, (int)lua_tointeger(L, 3),
      lua_tointeger(L, 2), &rc);
  lua_pushlightuserdata(L, m);
  lua_pushinteger(L, rc);
  return 2;
}


/* Publishes the chunk of p:map's items[first..first+cnt-1] (the items at
** 3, the job 'j' at 8, begun with BRAID_MAP_EACH_CHUNK, its message box at
** 7) streamed to the child as it is encoded (lprocpool.c). Returns 1
** when it streamed; 0 when it was under the threshold after all: it was
** encoded again as a batch (the streamed encoding is a message of
** values) and published as usual. An item that cannot be sent cancels the
** job and raises, as the unstreamed map does. MAY RAISE. */
static int map_chunk_streamed(lua_State *L, braid_pool *p, braid_job *j,
                              lua_Integer first, lua_Integer cnt) {
  braid_msg **box = (braid_msg **)lua_touserdata(L, 7);
  lua_Integer i;
  int rc;
  luaL_checkstack(L, (int)cnt + 4, "too many items");
  lua_pushcfunction(L, map_streamed_protected);
  lua_pushlightuserdata(L, j);
  lua_pushinteger(L, first);
  lua_pushinteger(L, cnt);
  for (i = 0; i < cnt; i++) lua_rawgeti(L, 3, first + i);
  if (lua_pcall(L, (int)cnt + 3, 2, 0) != LUA_OK) {
    braid__job_cancel(j);
    lua_error(L);
  }
  *box = (braid_msg *)lua_touserdata(L, -2);
  rc = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  if (*box == NULL && rc == BRAID_OK) return 1; /* streamed */
  if (*box == NULL) { /* the pool refused the stream's chunk */
    braid__job_cancel(j);
    raise_pool(L, p, rc);
  }
  /* small after all: encoded again as the chunk's batch */
  braid__msg_free(*box);
  *box = NULL;
  encode_segment(L, box, first, cnt, 1, cnt, j);
  publish_segment(L, p, j, box);
  return 0;
}


/* p:map on a process pool whose items (at 3, 'n' of them, chunks of
** 'cs') are likely big: every chunk is a segment of the job, streamed to
** a child as it is encoded, so a child decodes chunk 1 while the caller
** encodes the rest of it and then chunk 2. A chunk that turns out under
** the threshold goes as a batch, and so do the chunks after it (their
** items are not that big: the streamed attempt would be paid twice).
** Leaves the job at 8. MAY RAISE. */
static void map_streamed(lua_State *L, braid_pool *p, lua_Integer n,
                         lua_Integer cs, int star) {
  braid_fnent *e = get_fnent(L, 1, 2);
  braid_msg **box = (braid_msg **)lua_touserdata(L, 7);
  lua_Integer first, cnt;
  braid_job *j;
  int rc, stream = 1;
  rc = braid__pool_map_begin(p, e, (uint32_t)n, (uint32_t)cs,
                             BRAID_MAP_EACH_CHUNK, star, &j);
  if (rc != BRAID_OK) refused(L, p, e, rc);
  braidB_pushnewhandle(L, (braid_handle *)j); /* 8 */
  for (first = 1; first <= n; first += cs) {
    cnt = n - first + 1 < cs ? n - first + 1 : cs;
    if (stream) stream = map_chunk_streamed(L, p, j, first, cnt);
    else {
      encode_segment(L, box, first, cnt, 1, cs, j);
      publish_segment(L, p, j, box);
    }
  }
}


/* p:map(fn, items, n, chunksize, star) -> job
** The items are encoded segment by segment, each published as soon as it
** is encoded. An item that cannot be sent raises its TypeError, and a
** shutdown before the last segment raises as a shutdown before the call
** does, once the job is cancelled (the chunks published before may have
** run). */
static int pool_map(lua_State *L) {
  braid_pool *p = checkpool(L, 1);
  lua_Integer n, cs, first, seg;
  uint32_t segchunks;
  int star, rc, proc;
  braid_msg **box;
  braid_fnent *e;
  braid_job *j;
  braidB_checkcallable(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  n = braidB_checkinteger(L, 4);
  cs = braidB_checkinteger(L, 5);
  star = lua_toboolean(L, 6);
  if (n < 1 || n > 0x7fffffff)
    return braidB_argerror(L, 4, "ValueError", "bad number of items");
  if (cs < 1)
    return braidB_argerror(L, 5, "ValueError", "chunksize must be >= 1");
  if (cs > n) cs = n;
  check_open(L, p);
  lua_settop(L, 6);
  segchunks = (uint32_t)(cs >= SEG_ITEMS ? 1 : SEG_ITEMS / cs);
  seg = (lua_Integer)segchunks * cs; /* items in the first segment */
  proc = braid__pool_is_process(p);
  box = braidB_newmsgbox(L); /* 7 */
  if (proc && items_wanted(L, cs, star)) {
    /* a map of big items: each chunk streams to a child */
    map_streamed(L, p, n, cs, star);
    lua_settop(L, 8);
    return 1;
  }
  encode_segment(L, box, 1, n < seg ? n : seg, proc, cs, NULL);
  e = get_fnent(L, 1, 2);
  rc = braid__pool_map_begin(p, e, (uint32_t)n, (uint32_t)cs, segchunks,
                             star, &j);
  if (rc != BRAID_OK) return refused(L, p, e, rc);
  braidB_pushnewhandle(L, (braid_handle *)j); /* 8 */
  publish_segment(L, p, j, box);
  for (first = seg + 1; first <= n; first += seg) {
    seg *= 2;
    encode_segment(L, box, first, n - first + 1 < seg ? n - first + 1 : seg,
                   proc, cs, j);
    publish_segment(L, p, j, box);
  }
  lua_settop(L, 8);
  return 1;
}


/* p:shutdown([cancel]) : no more work; 'cancel' cancels what is queued. */
static int pool_shutdown(lua_State *L) {
  braid__pool_shutdown(checkpool(L, 1), lua_toboolean(L, 2));
  braidB_poll(L);
  return 0;
}


/* p:terminate() : shutdown(true), and a pool of processes kills its
** workers (what they ran fails with CancelledError). */
static int pool_terminate(lua_State *L) {
  braid__pool_terminate(checkpool(L, 1));
  braidB_poll(L);
  return 0;
}


static int wait_pool(void *ud, const braid__deadline *d) {
  return braid__pool_join((braid_pool *)ud, d);
}


/* p:join([timeout]) -> true when every worker has ended */
static int pool_join(lua_State *L) {
  return braidB_wait_push(L, wait_pool, checkpool(L, 1), 2);
}


/* p:info() -> max_workers, alive, broken, shut down */
static int pool_info(lua_State *L) {
  braid_pool *p = checkpool(L, 1);
  lua_pushinteger(L, braid__pool_max_workers(p));
  lua_pushinteger(L, braid__pool_alive(p));
  lua_pushboolean(L, braid__pool_broken(p));
  lua_pushboolean(L, braid__pool_is_shutdown(p));
  return 4;
}


static const luaL_Reg pool_methods[] = {
  { "submit", pool_submit },
  { "map", pool_map },
  { "shutdown", pool_shutdown },
  { "terminate", pool_terminate },
  { "join", pool_join },
  { "info", pool_info },
  { NULL, NULL },
};


static char *getpath(lua_State *L, const char *field) {
  char *r = NULL;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "package") == LUA_TTABLE) {
    const char *s;
    lua_getfield(L, -1, field);
    s = lua_tostring(L, -1);
    if (s) r = braid__strdup(s);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return r;
}


/*
** core.ThreadPool{max_workers=, lazy=, maxtasksperchild=, prefix=,
**                 initializer=, initargs=, mperr=} -> pool
** ('mperr': the workers of a multiprocessing Pool, BRAIDB_POOL_MPERR)
** A lazy pool (an executor) starts workers as work comes; otherwise all
** start now (RuntimeError when none can).
*/
static int core_threadpool(lua_State *L) {
  braid_pool_opts o;
  braid_pool *p;
  braid_msg **box;
  char *path, *cpath;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  memset(&o, 0, sizeof o);
  braidB_getopt(L, 1, "max_workers");
  o.max_workers = (int)braidB_optinteger(L, -1, 1);
  braidB_getopt(L, 1, "lazy");
  o.lazy = lua_toboolean(L, -1);
  braidB_getopt(L, 1, "maxtasksperchild");
  o.maxtasks = (long)braidB_optinteger(L, -1, 0);
  braidB_getopt(L, 1, "mperr"); /* a multiprocessing Pool's workers */
  o.flags = lua_toboolean(L, -1) ? BRAIDB_POOL_MPERR : 0;
  lua_pop(L, 1);
  braidB_getopt(L, 1, "prefix"); /* 5 */
  o.prefix = lua_tostring(L, 5);
  lua_settop(L, 5);
  box = braidB_newmsgbox(L); /* 6 */
  braidB_getopt(L, 1, "initializer"); /* 7 */
  if (!lua_isnil(L, 7)) {
    static const char *const roots[] = { "initializer", "initargs" };
    braidB_checkcallable(L, 7);
    if (braidB_getopt(L, 1, "initargs") == LUA_TNIL) { /* 8 */
      lua_pop(L, 1);
      lua_newtable(L);
    }
    /* in-process also for a pool of processes: the message keeps the
    ** objects it carries alive, and each new child inherits them */
    *box = braid__encode_n(L, 7, 2, roots);
  }
  o.entry = braidB_pool_thread_entry;
  lua_settop(L, 6);
  if (braidB_getopt(L, 1, "process") != LUA_TNIL)
    braidB_procpool_opts(L, 7, &o); /* may raise: before anything is owned */
  path = getpath(L, "path");
  cpath = getpath(L, "cpath");
  o.path = path;
  o.cpath = cpath;
  o.init = *box;
  rc = braid__pool_new(&p, braidB_runtime(L), &o);
  free(path);
  free(cpath);
  if (rc != BRAID_OK) {
    if (o.ext_free) o.ext_free(o.ext);
    return braidB_nomem(L);
  }
  *box = NULL;
  braidB_pushnewhandle(L, (braid_handle *)p);
  if (!o.lazy && braid__pool_start(p) != BRAID_OK &&
      braid__pool_alive(p) == 0)
    return braidB_raise(L, "RuntimeError", "can't start new thread");
  return 1;
}


/* core.isatty(fd) -> true when the descriptor is a terminal */
static int core_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)braidB_checkinteger(L, 1)));
  return 1;
}
/* }====================================================== */


const braidB_Class braidB_pool_classes[] = {
  { &braid__future_type, braidB_future_methods, braidB_future_meta },
  { &braid__waiter_type, braidB_waiter_methods, NULL },
  { &braid__job_type, braidB_job_methods, NULL },
  { &braid__pool_type, pool_methods, NULL },
  { NULL, NULL, NULL },
};


static const luaL_Reg pool_funcs[] = {
  { "ThreadPool", core_threadpool },
  { "isatty", core_isatty },
  { NULL, NULL },
};


void braidB_open_pool(lua_State *L) {
  luaL_setfuncs(L, pool_funcs, 0);
  braidB_open_futures(L);
  braidB_open_workers(L);
}

/*
** ljob.c: Lua binding of map jobs, the results of a pool's map (Pool.map,
** imap, imap_unordered, map_async, Executor.map): a job's chunks are read
** one at a time (chunk, next_done), all at once into one table
** (results), or one result at a time in order (iter).
** See LICENSE for copyright and license.
**
** A job's results stay with the job (each chunk's encoded outcome), so
** any state can read them any number of times; readers decode them where
** they go.
*/
#include <string.h>

#include "lbind.h"
#include "lpool.h"
#include "pool.h"
#include "lcodec.h"
#include "lpstream.h"
#include "sync.h"


/*
** {======================================================
** Map jobs
** =======================================================
*/

static braid_job *checkjob(lua_State *L, int i) {
  return (braid_job *)braidB_checkhandle(L, i, &braid__job_type);
}


/* Pushes what a chunk gave: true, value (OK) or false, partial, exc (EXC);
** raises for cancelled and broken chunks. */
static int push_chunk(lua_State *L, int st, const braid_msg *m) {
  int n;
  switch (st) {
    case BRAID_CHUNK_OK:
      lua_pushboolean(L, 1);
      if (m && m->tag == BRAID_RESULT_ITEMS) { /* the results as a table */
        lua_createtable(L, (int)m->nitems, 1);
        braid__decode_range(L, m, 0, m->nitems, -1, 1);
        lua_pushinteger(L, (lua_Integer)m->nitems);
        lua_setfield(L, -2, "n");
        return 2;
      }
      n = m ? braid__decode(L, m) : 0;
      if (n == 0) {
        lua_pushnil(L);
        n = 1;
      }
      return 1 + n;
    case BRAID_CHUNK_EXC:
      lua_pushboolean(L, 0);
      if (m == NULL) {
        lua_pushnil(L);
        braidB_pusherror(L, "MemoryError", "%s", BRAIDB_NOMEM_SEND_MSG);
        return 3;
      }
      n = braid__decode(L, m);
      return 1 + n;
    case BRAID_CHUNK_CANCELLED:
      return braidB_raise(L, "concurrent.futures.CancelledError", "");
    case BRAID_CHUNK_BROKEN_PROCESS:
      return braidB_raise(L, BRAIDB_BROKEN_PROC_CLASS, "%s",
                          BRAIDB_BROKEN_PROC_MSG);
    case BRAID_CHUNK_NOMEM:
      return braidB_nomem(L);
    default:
      return braidB_raise(L, BRAIDB_BROKEN_CLASS, "%s", BRAIDB_BROKEN_MSG);
  }
}


typedef struct ChunkArgs {
  braid_job *j;
  uint32_t k, seen, ahead;
  int st;
  const braid_msg *m;
  int fd; /* await_chunk_early: the chunk's stream (a dup) */
} ChunkArgs;

static int wait_chunk(void *ud, const braid__deadline *d) {
  ChunkArgs *a = (ChunkArgs *)ud;
  a->st = braid__job_wait_chunk(a->j, a->k, d, &a->m);
  return a->st == BRAID_ETIMEDOUT ? BRAID_ETIMEDOUT : BRAID_OK;
}


/* Waits up to 'timeout' seconds (negative: forever) for chunk 'k' of 'j'
** and fills 'a' (a->st: the chunk's status, a->m: its outcome). A chunk
** done already is taken without polling (the fast path of map loops).
** Returns BRAID_OK, or BRAID_ETIMEDOUT (a->st too). */
static int await_chunk(lua_State *L, ChunkArgs *a, braid_job *j, uint32_t k,
                       double timeout) {
  braid__deadline now = braid__deadline_in(0);
  a->j = j;
  a->k = k;
  a->st = braid__job_wait_chunk(j, k, &now, &a->m);
  if (a->st != BRAID_ETIMEDOUT) return BRAID_OK;
  return braidB_blocking_wait(L, wait_chunk, a, timeout);
}


static int wait_chunk_early(void *ud, const braid__deadline *d) {
  ChunkArgs *a = (ChunkArgs *)ud;
  a->st = braid__job_wait_chunk_early(a->j, a->k, a->ahead, d, &a->m,
                                      &a->fd);
  return a->st == BRAID_ETIMEDOUT ? BRAID_ETIMEDOUT : BRAID_OK;
}


/* Chunk a->k pending with its early descriptor a->fd (-1: none): decodes
** its stream while the child encodes it (closing the descriptor, also
** when it raises: Ctrl-C, a corrupt stream), then awaits its outcome, both
** by 'until'. Returns as await_chunk_early does: 1 with the value read
** pushed when the outcome is a success, 0 with nothing pushed, -1 when
** time ran out (nothing pushed). */
static int read_early(lua_State *L, ChunkArgs *a, braid_job *j,
                      const braid__deadline *until) {
  int top = lua_gettop(L), got = 0;
  if (a->fd >= 0 && (got = braidB_pstream_read_until(L, a->fd, until)) < 0)
    return -1;
  if (await_chunk(L, a, j, a->k, braid__deadline_left(until)) != BRAID_OK) {
    lua_settop(L, top); /* the outcome, not in time */
    return -1;
  }
  if (got && a->st == BRAID_CHUNK_OK) {
    lua_settop(L, top + 1);
    return 1;
  }
  lua_settop(L, top);
  return 0;
}


/* await_chunk for a reader of chunks in order: a chunk whose result (of
** its one task, or the table of its tasks' results) streams from a
** process pool's child (lprocpool.c) is decoded
** while the child encodes it, then its outcome is awaited; when that is a
** success the value read is left pushed and 1 returned (the caller uses
** it instead of a->m), else nothing is left and 0 returned (a->st, a->m:
** the outcome). 'timeout' bounds the whole wait, the stream's reading
** included (a read cut short drops what it decoded: the chunk is read
** again from its stream's start next time). Returns -1 when it timed
** out. */
static int await_chunk_early(lua_State *L, ChunkArgs *a, braid_job *j,
                             uint32_t k, uint32_t ahead, double timeout) {
  braid__deadline now = braid__deadline_in(0);
  braid__deadline until = braid__deadline_in(timeout);
  a->j = j;
  a->k = k;
  a->ahead = ahead;
  a->st = braid__job_wait_chunk_early(j, k, ahead, &now, &a->m, &a->fd);
  if (a->st == BRAID_ETIMEDOUT &&
      braidB_blocking_wait(L, wait_chunk_early, a, timeout) != BRAID_OK)
    return -1;
  if (a->st != BRAID_CHUNK_PENDING) return 0;
  return read_early(L, a, j, &until);
}


/* j:chunk(k [, timeout]) -> true, value | false, partial, exc */
static int job_chunk(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  lua_Integer k = braidB_checkinteger(L, 2);
  double timeout = braidB_waittimeout(L, 3);
  uint32_t nchunks;
  ChunkArgs a;
  braid__job_info(j, NULL, NULL, &nchunks);
  if (k < 1 || k > (lua_Integer)nchunks)
    return braidB_argerror(L, 2, "IndexError", "no chunk %d", (int)k);
  lua_settop(L, 1);
  switch (await_chunk_early(L, &a, j, (uint32_t)(k - 1), 0, timeout)) {
    case -1: return braidB_raise(L, "TimeoutError", "");
    case 1: /* the value, read from its stream */
      lua_pushboolean(L, 1);
      lua_insert(L, -2);
      return 2;
  }
  return push_chunk(L, a.st, a.m);
}


static int wait_next_early(void *ud, const braid__deadline *d) {
  ChunkArgs *a = (ChunkArgs *)ud;
  a->st = braid__job_wait_next_early(a->j, &a->seen, &a->k, d, &a->m,
                                     &a->fd);
  return a->st == BRAID_ETIMEDOUT ? BRAID_ETIMEDOUT : BRAID_OK;
}


/* j:next_done(seen [, timeout]) -> k, true, value | k, false, partial,
** exc | nil when every chunk was seen ('seen' counts chunks taken).
** Chunks come in the order they became readable: a chunk whose result
** streams from a process pool's child (lprocpool.c) comes as its stream
** begins, is decoded while the child encodes, and is returned with its
** outcome once that is known (a failed one's error, nothing half-made);
** 'timeout' bounds the whole, the stream's reading included (a read cut
** short raises TimeoutError: the same 'seen' gives that chunk again). */
static int job_next_done(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  lua_Integer seen = braidB_checkinteger(L, 2);
  double timeout = braidB_waittimeout(L, 3);
  braid__deadline until = braid__deadline_in(timeout);
  ChunkArgs a;
  a.j = j;
  a.seen = (uint32_t)(seen < 0 ? 0 : seen);
  a.fd = -1;
  if (braidB_blocking_wait(L, wait_next_early, &a, timeout) != BRAID_OK)
    return braidB_raise(L, "TimeoutError", "");
  if (a.st == BRAID_EEMPTY) return 0;
  lua_settop(L, 1);
  lua_pushinteger(L, (lua_Integer)a.k + 1);
  if (a.st == BRAID_CHUNK_PENDING) { /* it streams: read it, then wait */
    switch (read_early(L, &a, j, &until)) {
      case -1: return braidB_raise(L, "TimeoutError", "");
      case 1: /* the value read */
        lua_pushboolean(L, 1);
        lua_insert(L, 3);
        return 3;
    }
  }
  return 1 + push_chunk(L, a.st, a.m);
}


/* j:try_next(seen) -> k, true, value | k, false, partial, exc, as
** next_done without waiting; nothing when no chunk beyond the 'seen'
** taken is done yet, false when every chunk was seen. */
static int job_try_next(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  lua_Integer seen = braidB_checkinteger(L, 2);
  braid__deadline now = braid__deadline_in(0);
  ChunkArgs a;
  a.j = j;
  a.seen = (uint32_t)(seen < 0 ? 0 : seen);
  a.st = braid__job_wait_next(j, &a.seen, &a.k, &now, &a.m);
  if (a.st == BRAID_ETIMEDOUT) return 0;
  if (a.st == BRAID_EEMPTY) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_settop(L, 1);
  lua_pushinteger(L, (lua_Integer)a.k + 1);
  return 1 + push_chunk(L, a.st, a.m);
}


/* j:set_bell(semaphore): the semaphore (a threading.Semaphore) is
** released once per chunk done (braid__job_set_bell), so a reader of
** several jobs waits on it for the next chunk of any of them. */
static int job_set_bell(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  braid_semaphore *s =
      (braid_semaphore *)braidB_checkhandle(L, 2, &braid__semaphore_type);
  if (braid__job_set_bell(j, s) != BRAID_OK)
    return braidB_raise(L, "RuntimeError", "the job has a bell already");
  return 0;
}


/* Copies t[1..t.n] of the table at 't' into the table at 'out' from
** position 'pos'; returns t.n. */
static lua_Integer copy_counted(lua_State *L, int t, int out,
                                lua_Integer pos) {
  lua_Integer i, cnt;
  t = lua_absindex(L, t);
  out = lua_absindex(L, out);
  lua_getfield(L, t, "n");
  cnt = lua_tointeger(L, -1);
  lua_pop(L, 1);
  for (i = 1; i <= cnt; i++) {
    lua_rawgeti(L, t, i);
    lua_rawseti(L, out, pos + i - 1);
  }
  return cnt;
}


/* Copies the results of a chunk that succeeded with 'm' into the table
** at 'out' from position 'pos'; returns how many. */
static lua_Integer chunk_into(lua_State *L, const braid_msg *m, uint32_t cs,
                              int out, lua_Integer pos) {
  lua_Integer cnt = 0;
  int n;
  if (m == NULL) { /* one task that returned nothing */
    lua_pushnil(L);
    lua_rawseti(L, out, pos);
    return 1;
  }
  if (m->tag == BRAID_RESULT_ITEMS) {
    braid__decode_range(L, m, 0, m->nitems, out, pos);
    return (lua_Integer)m->nitems;
  }
  out = lua_absindex(L, out);
  n = braid__decode(L, m);
  if (cs == 1) { /* the task's first value */
    if (n == 0) lua_pushnil(L);
    else lua_pop(L, n - 1);
    lua_rawseti(L, out, pos);
    return 1;
  }
  if (n > 0 && lua_type(L, -n) == LUA_TTABLE) /* a table with 'n' */
    cnt = copy_counted(L, -n, out, pos);
  lua_pop(L, n);
  return cnt;
}


/* Pops the value of a chunk read from its stream (await_chunk_early)
** into the table at 'out' from position 'pos', as chunk_into does: the
** result of a chunk of one, else a table of results with 'n'; returns how
** many. */
static lua_Integer early_into(lua_State *L, uint32_t cs, int out,
                              lua_Integer pos) {
  lua_Integer cnt = 1;
  out = lua_absindex(L, out);
  if (cs == 1) {
    lua_rawseti(L, out, pos);
    return 1;
  }
  cnt = lua_type(L, -1) == LUA_TTABLE ? copy_counted(L, -1, out, pos) : 0;
  lua_pop(L, 1);
  return cnt;
}


/* j:results() -> out | nil, k. Every chunk's results in order in one
** table with 'n' (presized; each chunk decoded straight into it once it
** and the next one are done, while the workers go on), or nil and the
** first chunk k (1-based, in order) that did not succeed. Waits as long
** as needed.
** Why the next one too (RESULTS_AHEAD): woken for every chunk, the caller
** of a map whose workers are slower than its decode slept and was woken
** ~7 times per 8 chunks, each a futex wait, a wake-up from the proxy and
** two context switches (~10 us of the caller's process CPU on this VM:
** bench/README.md "starmap_shared"). Nothing is returned before the last
** chunk, so waiting for two at a time costs the wall time one chunk's
** decode at the end. */
#define RESULTS_AHEAD 1
static int job_results(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  uint32_t n, cs, nchunks, k;
  lua_settop(L, 1);
  braid__job_info(j, &n, &cs, &nchunks);
  lua_createtable(L, (int)n, 1); /* 2: out */
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, 2, "n");
  for (k = 0; k < nchunks; k++) {
    ChunkArgs a;
    if (await_chunk_early(L, &a, j, k, RESULTS_AHEAD, BRAID_FOREVER) == 1) {
      early_into(L, cs, 2, (lua_Integer)k * cs + 1);
      continue;
    }
    if (a.st != BRAID_CHUNK_OK) {
      lua_pushnil(L);
      lua_pushinteger(L, (lua_Integer)k + 1);
      return 2;
    }
    chunk_into(L, a.m, cs, 2, (lua_Integer)k * cs + 1);
  }
  lua_settop(L, 2);
  return 1;
}


/* The state of a j:iter() loop: the iterator's upvalue 1, and its
** to-be-closed value (cancels what has not started when the loop ends
** early). The current chunk's results are decoded one by one from its
** message 'm' when it holds them as items, else taken from upvalue 2 of
** the iterator, a table (reused from chunk to chunk); user value 1 of the
** state holds the exception that ends the results of a failed chunk. */
typedef struct MapIter {
  braid_job *j; /* retained */
  const braid_msg *m; /* the current chunk's (owned by the job) or NULL */
  uint32_t k, nchunks, cs; /* k: next chunk to fetch */
  lua_Integer pos, cn, idx;
  double deadline; /* monotonic seconds; negative: none */
  int finished, exc;
} MapIter;

static int mapiter_gc(lua_State *L) {
  MapIter *it = (MapIter *)luaL_checkudata(L, 1, "braid.MapIter");
  if (it->j) braid__handle_release((braid_handle *)it->j);
  it->j = NULL;
  return 0;
}


static int mapiter_close(lua_State *L) {
  MapIter *it = (MapIter *)luaL_checkudata(L, 1, "braid.MapIter");
  if (it->j && !it->finished) braid__job_cancel(it->j);
  return 0;
}


/* Waits for chunk it->k and puts its results in the table at 'cur'
** (it->cn of them); a failed chunk's partial results, its exception kept
** for when they end. Raises TimeoutError, CancelledError and
** BrokenThreadPool. */
static void mapiter_fetch(lua_State *L, MapIter *it, int state, int cur) {
  ChunkArgs a;
  double left = BRAID_FOREVER;
  int n;
  if (it->deadline >= 0) {
    left = it->deadline - braid__now();
    if (left < 0) left = 0;
  }
  n = await_chunk_early(L, &a, it->j, it->k++, 0, left);
  if (n < 0) braidB_raise(L, "TimeoutError", "");
  it->pos = 0;
  it->m = NULL;
  if (n == 1) { /* read from its stream */
    it->cn = early_into(L, it->cs, cur, 1);
    return;
  }
  if (a.st == BRAID_CHUNK_OK) {
    if (a.m != NULL && a.m->tag == BRAID_RESULT_ITEMS) {
      it->m = a.m;
      it->cn = (lua_Integer)a.m->nitems;
    } else {
      it->cn = chunk_into(L, a.m, it->cs, cur, 1);
    }
    return;
  }
  n = push_chunk(L, a.st, a.m); /* false, partial, exc (or raises) */
  it->cn = 0;
  if (lua_type(L, -2) == LUA_TTABLE) /* the results before the error */
    it->cn = copy_counted(L, -2, cur, 1);
  lua_setiuservalue(L, state, 1); /* the exception */
  it->exc = 1;
  lua_pop(L, n - 1);
}


/* The iterator of j:iter(): index, result in order; raises a task's
** error when its element is reached. */
static int mapiter_next(lua_State *L) {
  MapIter *it = (MapIter *)lua_touserdata(L, lua_upvalueindex(1));
  if (it->j == NULL) return luaL_error(L, "map iterator collected");
  while (it->pos >= it->cn) {
    if (it->exc) {
      it->finished = 1;
      lua_getiuservalue(L, lua_upvalueindex(1), 1);
      return braidB_raise_remote(L, -1);
    }
    if (it->k >= it->nchunks) {
      it->finished = 1;
      lua_pushnil(L);
      return 1;
    }
    mapiter_fetch(L, it, lua_upvalueindex(1), lua_upvalueindex(2));
  }
  it->idx++;
  lua_pushinteger(L, it->idx);
  if (it->m)
    braid__decode_range(L, it->m, (uint32_t)it->pos++, 1, 0, 0);
  else
    lua_rawgeti(L, lua_upvalueindex(2), ++it->pos);
  return 2;
}


/* j:iter([deadline]) -> iterator, closing value: a generic-for iterator
** yielding index, result in order (a task's error is raised when its
** element is reached; 'deadline': monotonic seconds, TimeoutError when a
** result is not there by then). Closing the loop before its end cancels
** the chunks not started. */
static int job_iter(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  double deadline = luaL_optnumber(L, 2, -1);
  uint32_t cs, nchunks;
  MapIter *it;
  braid__job_info(j, NULL, &cs, &nchunks);
  it = (MapIter *)lua_newuserdatauv(L, sizeof *it, 1);
  memset(it, 0, sizeof *it);
  it->nchunks = nchunks;
  it->cs = cs;
  it->deadline = deadline < 0 ? -1 : deadline;
  if (luaL_newmetatable(L, "braid.MapIter")) {
    lua_pushcfunction(L, mapiter_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, mapiter_close);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  it->j = (braid_job *)braid__handle_retain((braid_handle *)j);
  lua_pushvalue(L, -1);
  lua_createtable(L, (int)(cs < 4096 ? cs : 4096), 0);
  lua_pushcclosure(L, mapiter_next, 2);
  lua_insert(L, -2);
  return 2;
}


static int wait_job(void *ud, const braid__deadline *d) {
  return braid__job_wait((braid_job *)ud, d);
}


/* j:wait([timeout]) -> ready */
static int job_wait(lua_State *L) {
  return braidB_wait_push(L, wait_job, checkjob(L, 1), 2);
}


/* j:ready() -> ready, first failed chunk (1-based) or nil */
static int job_ready(lua_State *L) {
  long failed;
  int r = braid__job_ready(checkjob(L, 1), &failed);
  lua_pushboolean(L, r);
  if (failed < 0) return 1;
  lua_pushinteger(L, (lua_Integer)failed + 1);
  return 2;
}


static int job_future(lua_State *L) {
  braid_future *f = braid__job_future(checkjob(L, 1));
  braidB_pushhandle(L, (braid_handle *)f);
  return 1;
}


static int job_cancel(lua_State *L) {
  braid__job_cancel(checkjob(L, 1));
  return 0;
}


/* j:info() -> n, chunksize, nchunks */
static int job_info(lua_State *L) {
  uint32_t n, cs, nc;
  braid__job_info(checkjob(L, 1), &n, &cs, &nc);
  lua_pushinteger(L, n);
  lua_pushinteger(L, cs);
  lua_pushinteger(L, nc);
  return 3;
}


const luaL_Reg braidB_job_methods[] = {
  { "chunk", job_chunk },
  { "next_done", job_next_done },
  { "try_next", job_try_next },
  { "set_bell", job_set_bell },
  { "results", job_results },
  { "iter", job_iter },
  { "wait", job_wait },
  { "ready", job_ready },
  { "future", job_future },
  { "cancel", job_cancel },
  { "info", job_info },
  { NULL, NULL },
};
/* }====================================================== */

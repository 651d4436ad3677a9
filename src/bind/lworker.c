/*
** lworker.c: the pool workers of the pool binding: a worker's state and
** its function cache, the task runners (a call, a chunk of a map) that
** thread workers and process-pool children share, the sending of a
** task's error, the initializer, and the worker threads' entry.
** See LICENSE for copyright and license.
**
** Pool workers run worker_body in their own state, kept across tasks:
** the initializer once, then tasks. A function comes as an entry (encoded
** once by the submitting state, which caches entry per function and pool
** in an ephemeron table, see lpool.c) and is decoded once per worker
** (cache by uid). Nothing here raises into the worker's loop: a task's
** error, even one that cannot travel, becomes its outcome.
*/
#include <stdio.h>
#include <string.h>

#include "lbind.h"
#include "lpool.h"
#include "lpstream.h"
#include "pool.h"
#include "lcodec.h"
#include "thread.h"

#define WORKER_FN_CACHE 256

static const char WCTX_KEY = 'w';    /* pool worker: its WorkerCtx */
static const char WFN_KEY = 'F';     /* pool worker: uid -> function */
static const char CHUNKRES_KEY = 'r'; /* pool worker: running chunk results */

typedef braidB_WorkerCtx WorkerCtx;


/*
** {======================================================
** Pool workers
** =======================================================
*/

static int wctx_gc(lua_State *L) {
  WorkerCtx *c = (WorkerCtx *)lua_touserdata(L, 1);
  braid__free(c->buf);
  c->buf = NULL;
  c->cap = 0;
  return 0;
}


/* Pushes the function of entry 'e', decoding it on first sight. */
static void push_fn(lua_State *L, WorkerCtx *c, braid_fnent *e) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &WFN_KEY);
  if (lua_rawgeti(L, -1, (lua_Integer)e->uid) != LUA_TNIL) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  if (++c->cached > WORKER_FN_CACHE) { /* bounded: start afresh */
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &WFN_KEY);
    c->cached = 1;
  }
  if (braid__decode(L, e->m) != 1) luaL_error(L, "bad function entry");
  c->decodes++;
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, (lua_Integer)e->uid);
  lua_remove(L, -2);
}


/* Pushes the fields 1..n of the table at 'idx' (starmap); returns n. */
static int unpack_args(lua_State *L, int idx) {
  lua_Integer n, i;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) {
    lua_pushvalue(L, idx); /* a single argument */
    lua_remove(L, idx);
    return 1;
  }
  if (lua_getfield(L, idx, "n") == LUA_TNUMBER)
    n = lua_tointeger(L, -1);
  else
    n = (lua_Integer)lua_rawlen(L, idx);
  lua_pop(L, 1);
  if (n < 0) n = 0;
  luaL_checkstack(L, (int)n + 2, "too many arguments");
  for (i = 1; i <= n; i++) lua_rawgeti(L, idx, i);
  lua_remove(L, idx);
  return (int)n;
}


/* How a task's results are encoded: one table of 'n' results as a batch
** of items ('batch'), or the 'n' values as one message; 'm': the
** message. */
typedef struct EncArgs {
  int batch, n, proc;
  braid_msg *m;
  WorkerCtx *c; /* NULL: never streamed */
  int big; /* streamed whatever its length says (a chunk's results table
           ** holding results that are likely big) */
} EncArgs;

/* Encodes the results at 'idx' as 'a' says (MAY RAISE): NULL when a
** single big result went streamed (WorkerCtx 'stream'). */
static braid_msg *encode_direct(lua_State *L, int idx, const EncArgs *a) {
  braid_msg *m;
  if (a->c != NULL && a->c->stream != NULL && !a->batch && a->n == 1 &&
      (a->big || braidB_pstream_wanted(L, idx))) {
    m = a->c->stream(L, idx, a->c->stream_ud);
    if (m == NULL) a->c->streamed = 1;
    return m;
  }
  if (!a->batch) return braidB_encode_values(L, idx, a->n, "result", a->proc);
  m = a->proc ? braid__encode_batch_range_proc(
                    L, idx, 1, (lua_Integer)a->n, "result",
                    a->proc > 1 ? a->proc : BRAID_ENC_PIPE)
              : braid__encode_batch(L, idx, (lua_Integer)a->n, "result");
  m->tag = BRAID_RESULT_ITEMS;
  return m;
}

/* Protected, (EncArgs, values...): encode_direct into a->m. */
static int encode_results_protected(lua_State *L) {
  EncArgs *a = (EncArgs *)lua_touserdata(L, 1);
  a->m = encode_direct(L, 2, a);
  return 0;
}


/* Pushes a description of the value at 'idx' (Python's repr): its
** tostring, strings quoted, at most 200 bytes of it. */
static void push_description(lua_State *L, int idx) {
  size_t len;
  const char *s;
  int str = lua_type(L, idx) == LUA_TSTRING;
  s = luaL_tolstring(L, idx, &len);
  if (str) lua_pushliteral(L, "\"");
  lua_pushlstring(L, s, len > 200 ? 200 : len);
  if (str) {
    lua_pushliteral(L, "\"");
    lua_concat(L, 3);
  }
  lua_remove(L, -2);
}


/* Raises multiprocessing.pool.MaybeEncodingError for the values that
** could not be sent (at 'idx': 'n' values, or with 'list' one table of
** 'n' results, described as "{a, b, ...}", at most 8 of them) and the
** error 'why' at the top: Python's message "Error sending result:
** '<value>'. Reason: '<error>'", with the fields 'value' and 'exc' (and
** 'args' = {exc, value}, Python's e.args). */
static int raise_maybe_encoding(lua_State *L, int idx, int n, int list) {
  int why = lua_gettop(L), i, shown = n < 8 ? n : 8;
  luaL_checkstack(L, 2 * shown + 12, "too many results");
  if (list) lua_pushliteral(L, "{");
  for (i = 0; i < shown; i++) {
    if (i > 0) lua_pushliteral(L, ", ");
    if (list) {
      lua_rawgeti(L, idx, i + 1);
      push_description(L, lua_gettop(L));
      lua_remove(L, -2);
    } else {
      push_description(L, idx + i);
    }
  }
  if (shown < n) lua_pushliteral(L, ", ...");
  if (list) lua_pushliteral(L, "}");
  lua_concat(L, lua_gettop(L) - why);       /* why+1: value */
  luaL_tolstring(L, why, NULL);             /* why+2: exc */
  braidB_pushclass(L, "multiprocessing.pool.MaybeEncodingError");
  lua_pushfstring(L, "Error sending result: '%s'. Reason: '%s'",
                  lua_tostring(L, why + 1), lua_tostring(L, why + 2));
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, why + 1);
  lua_setfield(L, -2, "value");
  lua_pushvalue(L, why + 2);
  lua_setfield(L, -2, "exc");
  lua_createtable(L, 2, 1);
  lua_pushvalue(L, why + 2);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, why + 1);
  lua_rawseti(L, -2, 2);
  lua_pushinteger(L, 2);
  lua_setfield(L, -2, "n");
  lua_setfield(L, -2, "args");
  lua_call(L, 2, 1);
  /* a chunk's results went with it: no partial results (exec_chunk) */
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CHUNKRES_KEY);
  return lua_error(L);
}


/* The encoding of results failed with the error on top: raises it again
** when it is a memory error, else raise_maybe_encoding. */
static void fail_encoding(lua_State *L, int idx, int n, int list) {
  if (lua_type(L, -1) == LUA_TSTRING) lua_error(L); /* Lua's memory error */
  braidB_pushclass(L, "MemoryError");
  lua_getfield(L, -1, "is");
  lua_insert(L, -2);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 1);
  if (lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    lua_error(L);
  }
  lua_pop(L, 1);
  raise_maybe_encoding(L, idx, n, list);
}


/* Encodes the results at 'idx' (see EncArgs) of a task. MAY RAISE (the
** caller is protected): the encoding's error, or, in a multiprocessing
** Pool's worker, MaybeEncodingError for a value that cannot be sent
** (memory errors stay what they are). */
static braid_msg *encode_results(lua_State *L, WorkerCtx *c, int idx, int n,
                                 int batch) {
  EncArgs a;
  int i, nv = batch ? 1 : n;
  a.batch = batch;
  a.n = n;
  a.proc = c->proc;
  a.m = NULL;
  a.c = c;
  a.big = 0;
  idx = lua_absindex(L, idx);
  if (!c->mperr) return encode_direct(L, idx, &a);
  luaL_checkstack(L, nv + 4, "too many results");
  lua_pushcfunction(L, encode_results_protected);
  lua_pushlightuserdata(L, &a);
  for (i = 0; i < nv; i++) lua_pushvalue(L, idx + i);
  if (lua_pcall(L, nv + 1, 0, 0) != LUA_OK) fail_encoding(L, idx, n, batch);
  return a.m;
}


/* Protected: runs a call; returns the encoded results as light userdata. */
static int call_protected(lua_State *L) {
  braid_work *w = (braid_work *)lua_touserdata(L, 1);
  WorkerCtx *c = (WorkerCtx *)lua_touserdata(L, 2);
  int base, n, nres;
  braid_msg *args;
  lua_settop(L, 0);
  push_fn(L, c, w->fn);
  base = lua_gettop(L) - 1;
  args = w->args;
  if (args != NULL && braid__pstream_is_mark(args->data, args->len, args->nsegs)) {
    /* a process pool's argument streamed by the caller (lprocpool.c),
    ** decoded as it is written; w->args keeps the message, freed by the
    ** caller also when this raises (the caller's encode failed: the
    ** function is not called) */
    n = braidB_pstream_msg(L, args);
  } else {
    w->args = NULL;
    n = args ? braid__decode_owned(L, args) : 0;
  }
  lua_call(L, n, LUA_MULTRET);
  nres = lua_gettop(L) - base;
  lua_pushlightuserdata(L, nres > 0 ? encode_results(L, c, base + 1, nres, 0)
                                    : NULL);
  return 1;
}


/* Protected: runs a chunk; returns the encoded result as light userdata
** (the value for a chunk of one, else a batch of the results when they
** are plain values, or a table of them with 'n'). Items are
** decoded one by one as the loop reaches them (no table of items); the
** caller releases them (run_chunk). */
static int chunk_protected(lua_State *L) {
  braid_work *w = (braid_work *)lua_touserdata(L, 1);
  WorkerCtx *c = (WorkerCtx *)lua_touserdata(L, 2);
  uint32_t cs, i;
  int nargs, objects = 0, streamed, big = 0;
  braid_msg *m;
  lua_settop(L, 0);
  cs = w->chunksize;
  if (cs == 1) {
    m = w->items[0].m;
    if (braid__pstream_is_mark(m->data, m->len, m->nsegs)) {
      /* a process pool's chunk whose one item the caller streams
      ** (lprocpool.c), decoded as it is written; a stream its writer
      ** failed raises here, before the function runs */
      if (braidB_pstream_msg(L, m) != 1)
        return braidB_raise(L, "ValueError", "corrupt transfer data");
    } else braid__decode_range(L, m, w->items[0].idx, 1, 0, 0);
    push_fn(L, c, w->fn);
    lua_insert(L, 1);
    nargs = w->star ? unpack_args(L, 2) : 1;
    lua_call(L, nargs, 1);
    lua_pushlightuserdata(L, encode_results(L, c, 1, 1, 0));
    return 1;
  }
  push_fn(L, c, w->fn);                    /* 1: fn */
  lua_createtable(L, (int)w->nitems, 0);   /* 2: results */
  lua_pushvalue(L, 2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CHUNKRES_KEY);
  /* 3: the chunk's shared objects (its items are one group of the job's
  ** batch: an object named by several items is decoded once and is the
  ** same object in each, as Python's one unpickling per task batch) */
  lua_pushnil(L);
  m = w->items[0].m;
  streamed = braid__pstream_is_mark(m->data, m->len, m->nsegs);
  if (streamed) {
    /* a process pool's chunk whose items the caller streams as one
    ** message (lprocpool.c), decoded as they are written, at 4...: one
    ** encoding, so they share references as a batch group's do. A stream
    ** its writer failed raises here, before the function runs. */
    luaL_checkstack(L, (int)w->nitems + 4, "too many items");
    if (braidB_pstream_msg(L, m) != (int)w->nitems)
      return braidB_raise(L, "ValueError", "corrupt transfer data");
  }
  c->progress = 0;
  for (i = 0; i < w->nitems; i++) {
    lua_pushvalue(L, 1);
    if (streamed) {
      lua_pushvalue(L, 4 + (int)i);
      lua_pushnil(L); /* the chunk's results hold what they keep */
      lua_replace(L, 4 + (int)i);
    } else {
      if (i > 0 && w->items[i].m != w->items[i - 1].m) { /* never: groups */
        lua_pushnil(L);                     /* do not straddle segments */
        lua_replace(L, 3);
      }
      braid__decode_range_cache(L, w->items[i].m, w->items[i].idx, 1, 0, 0,
                                3);
    }
    nargs = w->star ? unpack_args(L, -1) : 1;
    lua_call(L, nargs, 1);
    objects |= lua_type(L, -1) >= LUA_TTABLE;
    if (c->stream != NULL && !big) big = braidB_pstream_wanted(L, -1);
    lua_rawseti(L, 2, (lua_Integer)i + 1);
    c->progress = (long)i + 1;
  }
  if (objects) { /* one value: objects met in several results stay shared */
    /* a result likely big: the table of results streams back (a
    ** process pool's child, WorkerCtx 'stream'), as a single result does */
    EncArgs a = { 0, 1, c->proc, NULL, big ? c : NULL, big };
    lua_pushinteger(L, w->nitems);
    lua_setfield(L, 2, "n");
    if (c->mperr) { /* MaybeEncodingError describes the list of results */
      lua_pushcfunction(L, encode_results_protected);
      lua_pushlightuserdata(L, &a);
      lua_pushvalue(L, 2);
      if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        fail_encoding(L, 2, (int)w->nitems, 1);
      m = a.m;
    } else {
      m = encode_direct(L, 2, &a);
    }
    lua_pushlightuserdata(L, m);
    return 1;
  }
  /* one item per result: no key to write, read or check for each */
  lua_pushlightuserdata(L, encode_results(L, c, 2, (int)w->nitems, 1));
  return 1;
}


static int encode_protected(lua_State *L) {
  int n = (int)lua_tointeger(L, 1);
  int proc = lua_toboolean(L, 2);
  lua_remove(L, 1);
  lua_remove(L, 1);
  lua_pushlightuserdata(L, braidB_encode_values(L, 1, n, "error", proc));
  return 1;
}


/* (n, proc, values..., why): encode_protected with the error (the last
** value) replaced by a RuntimeError carrying its text (what cannot travel
** is dropped), or by a MemoryError when 'why' the first encoding failed
** is one. Making that error may run out of memory too, hence protected. */
static int encode_text_protected(lua_State *L) {
  int top = lua_gettop(L) - 1;
  const char *cls = "RuntimeError";
  if (lua_type(L, top + 1) == LUA_TSTRING) { /* Lua's own memory error */
    cls = "MemoryError";
  } else {
    braidB_pushclass(L, "MemoryError");
    lua_getfield(L, -1, "is");
    lua_insert(L, -2);
    lua_pushvalue(L, top + 1);
    lua_call(L, 2, 1);
    if (lua_toboolean(L, -1)) cls = "MemoryError";
  }
  lua_settop(L, top);
  braidB_pushclass(L, cls);
  lua_pushstring(L, luaL_tolstring(L, top, NULL));
  lua_remove(L, -2);
  lua_call(L, 1, 1);
  lua_replace(L, top);
  return encode_protected(L);
}


/* Pushes 'fn', n, proc and copies of the 'n' values above 'base': a
** call of encode_protected or encode_text_protected (which takes one
** argument more, pushed by the caller). */
static void push_encode_call(lua_State *L, lua_CFunction fn, int base, int n,
                             int proc) {
  int i;
  lua_pushcfunction(L, fn);
  lua_pushinteger(L, n);
  lua_pushboolean(L, proc);
  for (i = 1; i <= n; i++) lua_pushvalue(L, base + i);
}


/* Encodes the 'n' values on top (an error last), with a fallback when
** the error cannot be sent. Pops them. Never raises (a worker that raised
** here would die with its task unfinished): NULL when even the fallback
** fails. */
static braid_msg *encode_error(lua_State *L, int n, int proc) {
  int base = lua_gettop(L) - n;
  braid_msg *m = NULL;
  if (!lua_checkstack(L, n + 6)) {
    lua_settop(L, base);
    return NULL;
  }
  push_encode_call(L, encode_protected, base, n, proc);
  if (lua_pcall(L, n + 2, 1, 0) == LUA_OK) {
    m = (braid_msg *)lua_touserdata(L, -1);
  } else {
    /* the error holds something that cannot travel (or memory ran
    ** out): send its text */
    int why = lua_gettop(L);
    push_encode_call(L, encode_text_protected, base, n, proc);
    lua_pushvalue(L, why);
    if (lua_pcall(L, n + 3, 1, 0) == LUA_OK)
      m = (braid_msg *)lua_touserdata(L, -1);
  }
  lua_settop(L, base);
  return m;
}


braid_msg *braidB_exec_call(lua_State *L, WorkerCtx *c, braid_work *w,
                            int *exc) {
  int top = lua_gettop(L);
  braid_msg *m;
  lua_pushcfunction(L, braidB_add_traceback);
  lua_pushcfunction(L, call_protected);
  lua_pushlightuserdata(L, w);
  lua_pushlightuserdata(L, c);
  if (braidB_memerror(L, lua_pcall(L, 2, 1, top + 1)) == LUA_OK) {
    m = (braid_msg *)lua_touserdata(L, -1);
    *exc = BRAID_EXC_NONE;
  } else {
    m = encode_error(L, 1, c->proc);
    *exc = BRAID_EXC_REMOTE;
  }
  if (w->args) braid__msg_free(w->args);
  w->args = NULL;
  lua_settop(L, top);
  return m;
}


static void run_call(lua_State *L, WorkerCtx *c, braid_work *w) {
  if (braid__future_set_running(w->fut) == 1) {
    int exc;
    braid_msg *m = braidB_exec_call(L, c, w, &exc);
    if (braid__future_finish(w->fut, m, exc) != BRAID_OK && m)
      braid__msg_free(m);
  }
  if (w->args) braid__msg_free(w->args);
  braid__handle_release((braid_handle *)w->fut);
  braid__fnent_release(w->fn);
}


/* Releases the 'n' items (runs of one message at once). */
static void release_items(const braid_item *it, uint32_t n) {
  uint32_t i = 0;
  while (i < n) {
    uint32_t r = 1;
    while (i + r < n && it[i + r].m == it[i].m) r++;
    braid__msg_release(it[i].m, r);
    i += r;
  }
}


braid_msg *braidB_exec_chunk(lua_State *L, WorkerCtx *c, braid_work *w,
                             int *status) {
  int top = lua_gettop(L), ok;
  braid_msg *m;
  lua_pushcfunction(L, braidB_add_traceback);
  lua_pushcfunction(L, chunk_protected);
  lua_pushlightuserdata(L, w);
  lua_pushlightuserdata(L, c);
  ok = braidB_memerror(L, lua_pcall(L, 2, 1, top + 1)) == LUA_OK;
  release_items(w->items, w->nitems);
  if (ok) {
    m = (braid_msg *)lua_touserdata(L, -1);
    *status = BRAID_CHUNK_OK;
  } else {
    /* partial results (chunks of more than one), then the error */
    if (w->chunksize > 1 && lua_rawgetp(L, LUA_REGISTRYINDEX,
                                        &CHUNKRES_KEY) == LUA_TTABLE) {
      lua_pushinteger(L, c->progress);
      lua_setfield(L, -2, "n");
    } else {
      lua_settop(L, top + 2);
      lua_pushnil(L);
    }
    lua_insert(L, -2); /* partial, err */
    m = encode_error(L, 2, c->proc);
    *status = BRAID_CHUNK_EXC;
  }
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CHUNKRES_KEY);
  lua_settop(L, top);
  return m;
}


static void run_chunk(lua_State *L, WorkerCtx *c, braid_work *w) {
  int st;
  braid_msg *m = braidB_exec_chunk(L, c, w, &st);
  braid__pool_chunk_done(w, st, m);
}


static int init_protected(lua_State *L) {
  const braid_msg *m = (const braid_msg *)lua_touserdata(L, 1);
  int n;
  lua_settop(L, 0);
  if (braid__decode(L, m) != 2) return luaL_error(L, "bad initializer");
  n = unpack_args(L, 2);
  lua_call(L, n, 0);
  return 0;
}


WorkerCtx *braidB_worker_ctx(lua_State *L, braid_pool *p, int proc,
                             int mperr) {
  WorkerCtx *c = (WorkerCtx *)lua_newuserdatauv(L, sizeof *c, 0);
  memset(c, 0, sizeof *c);
  c->p = p;
  c->proc = proc;
  c->mperr = mperr;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, wctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &WCTX_KEY);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &WFN_KEY);
  return c;
}


int braidB_run_initializer(lua_State *L, const braid_msg *init) {
  int top = lua_gettop(L), ok;
  lua_pushcfunction(L, braidB_add_traceback);
  lua_pushcfunction(L, init_protected);
  lua_pushlightuserdata(L, (void *)init);
  ok = lua_pcall(L, 1, 0, top + 1) == LUA_OK;
  if (!ok) {
    fprintf(stderr, "Exception in initializer:\n%s\n",
            luaL_tolstring(L, -1, NULL));
    fflush(stderr);
  }
  lua_settop(L, top);
  return ok;
}


/* The body of a pool worker, in its own state (kept across tasks). */
static int worker_body(lua_State *L) {
  braid_pool *p = (braid_pool *)lua_touserdata(L, 1);
  braid_msg *init;
  WorkerCtx *c;
  braid_work w;
  int base;
  lua_settop(L, 0);
  c = braidB_worker_ctx(L, p, 0,
                        (braid__pool_flags(p) & BRAIDB_POOL_MPERR) != 0);
  base = lua_gettop(L);
  init = braid__pool_init_msg(p);
  if (init != NULL && !braidB_run_initializer(L, init)) {
    braid__pool_break(p);
    return 0;
  }
  while (braid__pool_take(p, &w, &c->buf, &c->cap) == BRAID_OK) {
    if (w.job)
      run_chunk(L, c, &w);
    else
      run_call(L, c, &w);
    c->tasks++;
    lua_settop(L, base);
    braidB_poll(L);
    if (braid__pool_retire(p, c->tasks)) break;
  }
  return 0;
}


/* A worker whose state could not be made (out of memory) tries again
** while its pool is not broken: a pool whose workers all went away would
** leave its queued work waiting forever. */
static int pool_wants_worker(void *ud) {
  return !braid__pool_broken((braid_pool *)ud);
}


void *braidB_pool_thread_entry(void *arg) {
  braid_thread *t = (braid_thread *)arg;
  braid_pool *p = (braid_pool *)t->ud;
  braidB_worker_run_retry(t, worker_body, p, pool_wants_worker);
  braid__pool_worker_exit(p);
  return NULL;
}


/* core.pool_worker_stats() -> {decodes=, tasks=, cached=} in a pool
** worker (function decodes by this worker: the probe of the cache), or
** nil elsewhere. */
static int core_pool_worker_stats(lua_State *L) {
  WorkerCtx *c;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &WCTX_KEY);
  c = (WorkerCtx *)lua_touserdata(L, -1);
  if (c == NULL) return 0;
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, c->decodes);
  lua_setfield(L, -2, "decodes");
  lua_pushinteger(L, c->tasks);
  lua_setfield(L, -2, "tasks");
  lua_pushinteger(L, c->cached);
  lua_setfield(L, -2, "cached");
  return 1;
}
/* }====================================================== */


static const luaL_Reg worker_funcs[] = {
  { "pool_worker_stats", core_pool_worker_stats },
  { NULL, NULL },
};


void braidB_open_workers(lua_State *L) {
  luaL_setfuncs(L, worker_funcs, 0);
}

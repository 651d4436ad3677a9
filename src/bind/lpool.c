/*
** lpool.c: Lua binding of futures, waiters, map jobs and thread pools
** (the C half of braid.futures and braid.multiprocessing.pool).
** See LICENSE for copyright and license.
**
** Futures carry encoded results; result() decodes without consuming, so
** it can be called many times from any state. A done-callback is stored
** in the registering state (braidB_ref_callback) wrapped in a closure that
** frees its key and calls fn(future) protected; the future posts one
** message per callback at completion. Blocking calls poll first; in a
** state that registered callbacks they wait in slices of SLICE seconds
** and poll between them, so callbacks arrive during a long wait.
**
** Pool workers run worker_body in their own state, kept across tasks:
** the initializer once, then tasks. A function comes as an entry (encoded
** once by the submitting state, which caches entry per function and pool
** in an ephemeron table) and is decoded once per worker (cache by uid).
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lbind.h"
#include "lpool.h"
#include "pool.h"
#include "lcodec.h"
#include "thread.h"

#define SLICE 0.05
#define WORKER_FN_CACHE 256

static const char FNCACHE_KEY = 'f'; /* weak: pool proxy -> {fn -> FnRef} */
static const char HASCB_KEY = 'h';   /* this state registered callbacks */
static const char WCTX_KEY = 'w';    /* pool worker: its WorkerCtx */
static const char WFN_KEY = 'F';     /* pool worker: uid -> function */
static const char CHUNKRES_KEY = 'r'; /* pool worker: running chunk results */

static const char *const BROKEN_MSG =
    "A thread initializer failed, the thread pool is not usable anymore";
static const char *const BROKEN_PROC_CLASS =
    "concurrent.futures.process.BrokenProcessPool";
static const char *const BROKEN_PROC_MSG =
    "A process in the process pool was terminated abruptly while the "
    "future was running or pending.";


/*
** {======================================================
** Helpers
** =======================================================
*/

static int has_callbacks(lua_State *L) {
  int r = lua_rawgetp(L, LUA_REGISTRYINDEX, &HASCB_KEY) != LUA_TNIL;
  lua_pop(L, 1);
  return r;
}


typedef int (*waitfn)(void *ud, const braid__deadline *d);

/* Waits with 'fn' up to 'timeout' seconds (negative: forever), polling
** first and, when this state has callbacks, between slices. */
static int blocking_wait(lua_State *L, waitfn fn, void *ud, double timeout) {
  braid__deadline d = braid__deadline_in(timeout);
  braidB_poll(L);
  if (!has_callbacks(L)) return fn(ud, &d);
  for (;;) {
    double left = braid__deadline_left(&d);
    braid__deadline s = braid__deadline_in(left < 0 || left > SLICE ? SLICE
                                                                     : left);
    if (fn(ud, &s) == BRAID_OK) return BRAID_OK;
    if (braid__deadline_passed(&d)) return BRAID_ETIMEDOUT;
    braidB_poll(L);
  }
}


/* A user timeout: nil waits forever, negative ones do not wait. */
static double checktimeout(lua_State *L, int arg) {
  double t = braidB_opttimeout(L, arg, BRAID_FOREVER);
  if (lua_isnoneornil(L, arg)) return BRAID_FOREVER;
  return t < 0 ? 0 : t;
}


static int iscallable(lua_State *L, int i) {
  int t = lua_type(L, i);
  if (t == LUA_TFUNCTION) return 1;
  if ((t == LUA_TTABLE || t == LUA_TUSERDATA) &&
      luaL_getmetafield(L, i, "__call") != LUA_TNIL) {
    lua_pop(L, 1);
    return 1;
  }
  return 0;
}


static void checkcallable(lua_State *L, int i) {
  if (!iscallable(L, i)) braidB_typeerror(L, i, "function");
}


/* Encodes the 'n' values at idx.. as one message, for this process or
** ('proc') for another one. MAY RAISE. */
static braid_msg *encode_values_for(lua_State *L, int idx, int n,
                                    const char *root, int proc) {
  const char **roots;
  braid_msg *m;
  int i;
  idx = lua_absindex(L, idx);
  if (n == 1 && !proc) return braid__encode(L, idx, root);
  roots = (const char **)lua_newuserdatauv(L, (size_t)n * sizeof *roots, 0);
  for (i = 0; i < n; i++) roots[i] = root;
  m = proc ? braid__encode_proc(L, idx, n, roots, BRAID_ENC_PIPE)
           : braid__encode_n(L, idx, n, roots);
  lua_pop(L, 1);
  return m;
}

#define encode_values(L, idx, n, root) encode_values_for(L, idx, n, root, 0)


static int msgbox_gc(lua_State *L) {
  braid_msg **b = (braid_msg **)lua_touserdata(L, 1);
  if (*b) braid__msg_free(*b);
  *b = NULL;
  return 0;
}


/* A message owned by the Lua stack until taken (freed by __gc). */
static braid_msg **newmsgbox(lua_State *L) {
  braid_msg **b = (braid_msg **)lua_newuserdatauv(L, sizeof *b, 0);
  *b = NULL;
  if (luaL_newmetatable(L, "braid.MsgBox")) {
    lua_pushcfunction(L, msgbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return b;
}


/* Raises a copy of the exception at 'idx' (from another worker) whose
** 'cause' is that exception, so its traceback stays with it. */
static int raise_remote(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) {
    lua_pushvalue(L, idx);
    return lua_error(L);
  }
  lua_newtable(L); /* mt copy */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k && (strcmp(k, "traceback") == 0 || strcmp(k, "cause") == 0)) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, "cause");
  lua_insert(L, -2);
  lua_setmetatable(L, -2);
  return lua_error(L);
}


static int l_raise_remote(lua_State *L) {
  luaL_checkany(L, 1);
  return raise_remote(L, 1);
}


typedef braidB_WorkerCtx WorkerCtx;
/* }====================================================== */


/*
** {======================================================
** Futures
** =======================================================
*/

static braid_future *checkfuture(lua_State *L, int i) {
  return (braid_future *)braidB_checkhandle(L, i, &braid__future_type);
}


static const char *const state_desc[] = { "pending", "running", "cancelled",
                                          "cancelled", "finished" };
static const char *const state_name[] = { "PENDING", "RUNNING", "CANCELLED",
                                          "CANCELLED_AND_NOTIFIED",
                                          "FINISHED" };


/* A failed task whose error (or, to a process, the task itself) could
** not be sent: encode_error's fallback fails only for want of memory. */
#define NOMEM_SEND_MSG \
  "not enough memory to send the task or its error"

/* Pushes the exception of a finished future that failed. */
static void push_exception(lua_State *L, braid_future *f, int exc) {
  const braid_msg *m = braid__future_value(f);
  if (exc == BRAID_EXC_BROKEN) {
    braidB_pusherror(L, "concurrent.futures.thread.BrokenThreadPool", "%s",
                     BROKEN_MSG);
  } else if (exc == BRAID_EXC_BROKEN_PROCESS) {
    braidB_pusherror(L, BROKEN_PROC_CLASS, "%s", BROKEN_PROC_MSG);
  } else if (m == NULL) { /* only memory stops the fallback (encode_error) */
    braidB_pusherror(L, "MemoryError", "%s", NOMEM_SEND_MSG);
  } else {
    int n = braid__decode(L, m);
    if (n != 1) lua_settop(L, lua_gettop(L) - n + 1);
  }
}


/* Raises what result() raises for a done future that did not succeed. */
static int raise_outcome(lua_State *L, braid_future *f, int st, int exc) {
  if (st == BRAID_FUT_CANCELLED || st == BRAID_FUT_CANCELLED_AND_NOTIFIED)
    return braidB_raise(L, "concurrent.futures.CancelledError", "");
  push_exception(L, f, exc);
  if (exc == BRAID_EXC_REMOTE) return raise_remote(L, -1);
  return lua_error(L);
}


static int future_tostring(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  int exc, st = braid__future_state(f, &exc);
  if (st != BRAID_FUT_FINISHED) {
    lua_pushfstring(L, "<Future at %p state=%s>", (void *)f, state_desc[st]);
  } else if (exc != BRAID_EXC_NONE) {
    const char *name = "Exception";
    push_exception(L, f, exc);
    if (lua_type(L, -1) == LUA_TTABLE &&
        lua_getfield(L, -1, "type") == LUA_TTABLE &&
        lua_getfield(L, -1, "name") == LUA_TSTRING)
      name = lua_tostring(L, -1);
    lua_pushfstring(L, "<Future at %p state=finished raised %s>", (void *)f,
                    name);
  } else {
    const braid_msg *m = braid__future_value(f);
    int n = m ? braid__decode(L, m) : 0;
    lua_pushfstring(L, "<Future at %p state=finished returned %s>", (void *)f,
                    n > 0 ? luaL_typename(L, -n) : "nil");
  }
  return 1;
}


/* Calls fn(fut) protected; an error is reported as Python logs it:
** braid.futures._report_callback_error(fut, err) if loaded, else stderr. */
static void call_callback(lua_State *L, int fn, int fut) {
  int top = lua_gettop(L);
  fn = lua_absindex(L, fn);
  fut = lua_absindex(L, fut);
  lua_pushcfunction(L, braidB_add_traceback);
  lua_pushvalue(L, fn);
  lua_pushvalue(L, fut);
  if (lua_pcall(L, 1, 0, top + 1) != LUA_OK) {
    int err = lua_gettop(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "braid.futures") == LUA_TTABLE &&
        lua_getfield(L, -1, "_report_callback_error") == LUA_TFUNCTION) {
      lua_pushvalue(L, fut);
      lua_pushvalue(L, err);
      if (lua_pcall(L, 2, 0, 0) == LUA_OK) {
        lua_settop(L, top);
        return;
      }
    }
    lua_settop(L, err);
    fprintf(stderr, "exception calling callback for %s\n",
            luaL_tolstring(L, fut, NULL));
    fprintf(stderr, "%s\n", luaL_tolstring(L, err, NULL));
    fflush(stderr);
  }
  lua_settop(L, top);
}


/* The closure stored for a callback: upvalues fn, future; argument: its
** own key, freed first (a callback runs once). */
static int cb_run(lua_State *L) {
  braidB_unref_callback(L, lua_tointeger(L, 1));
  call_callback(L, lua_upvalueindex(1), lua_upvalueindex(2));
  return 0;
}


/* Registers fn (at 'fn') to run with the future at 'fut' (a proxy) when
** that future is done: at this state's next poll, or at once when done
** already. */
static void add_callback(lua_State *L, braid_future *f, int fut, int fn) {
  braid_mailbox *mb;
  lua_Integer ref;
  braid_fcb *cb;
  braid_msg *m;
  fut = lua_absindex(L, fut);
  fn = lua_absindex(L, fn);
  if (braid__future_state(f, NULL) >= BRAID_FUT_CANCELLED) {
    call_callback(L, fn, fut);
    return;
  }
  lua_pushboolean(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &HASCB_KEY);
  lua_pushvalue(L, fn);
  lua_pushvalue(L, fut);
  lua_pushcclosure(L, cb_run, 2);
  ref = braidB_ref_callback(L, -1, &mb);
  lua_pop(L, 1);
  cb = (braid_fcb *)braid__calloc(1, sizeof *cb);
  if (cb == NULL) {
    braid__mailbox_release(mb);
    braidB_unref_callback(L, ref);
    braidB_nomem(L);
  }
  cb->mb = mb;
  lua_pushinteger(L, ref);
  m = braid__encode(L, -1, "callback"); /* an integer: fails only for memory */
  lua_pop(L, 1);
  m->tag = ref;
  cb->msg = m;
  if (braid__future_add_callback(f, cb) != BRAID_OK) {
    braid__fcb_free(cb);
    braidB_unref_callback(L, ref);
    call_callback(L, fn, fut);
  }
}


static int future_add_done_callback(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  checkcallable(L, 2);
  add_callback(L, f, 1, 2);
  return 0;
}


static int future_cancel(lua_State *L) {
  int r = braid__future_cancel(checkfuture(L, 1));
  braidB_poll(L); /* this state's callbacks run now, as Python's do */
  lua_pushboolean(L, r);
  return 1;
}


static int future_cancelled(lua_State *L) {
  int st = braid__future_state(checkfuture(L, 1), NULL);
  lua_pushboolean(L, st == BRAID_FUT_CANCELLED ||
                         st == BRAID_FUT_CANCELLED_AND_NOTIFIED);
  return 1;
}


static int future_running(lua_State *L) {
  lua_pushboolean(L, braid__future_state(checkfuture(L, 1), NULL) ==
                         BRAID_FUT_RUNNING);
  return 1;
}


static int future_done(lua_State *L) {
  lua_pushboolean(L, braid__future_state(checkfuture(L, 1), NULL) >=
                         BRAID_FUT_CANCELLED);
  return 1;
}


static int wait_future(void *ud, const braid__deadline *d) {
  return braid__future_wait((braid_future *)ud, d);
}


/* f:result([timeout]) -> the call's results; raises its error (a copy
** whose 'cause' is the worker's error), CancelledError, TimeoutError. */
static int future_result(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  double timeout = checktimeout(L, 2);
  int st, exc;
  const braid_msg *m;
  lua_settop(L, 1);
  if (blocking_wait(L, wait_future, f, timeout) != BRAID_OK)
    return braidB_raise(L, "TimeoutError", "");
  braidB_poll(L); /* this state's callbacks of 'f' ran before we return */
  st = braid__future_state(f, &exc);
  if (st != BRAID_FUT_FINISHED || exc != BRAID_EXC_NONE)
    return raise_outcome(L, f, st, exc);
  m = braid__future_value(f);
  return m ? braid__decode(L, m) : 0;
}


/* f:exception([timeout]) -> the error object or nil. */
static int future_exception(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  double timeout = checktimeout(L, 2);
  int st, exc;
  lua_settop(L, 1);
  if (blocking_wait(L, wait_future, f, timeout) != BRAID_OK)
    return braidB_raise(L, "TimeoutError", "");
  braidB_poll(L);
  st = braid__future_state(f, &exc);
  if (st != BRAID_FUT_FINISHED) return raise_outcome(L, f, st, exc);
  if (exc == BRAID_EXC_NONE) return 0;
  push_exception(L, f, exc);
  return 1;
}


/* f:_wait([timeout]) -> done (braid's: what AsyncResult.wait needs) */
static int future_wait(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  double timeout = checktimeout(L, 2);
  int r = blocking_wait(L, wait_future, f, timeout) == BRAID_OK;
  braidB_poll(L);
  lua_pushboolean(L, r);
  return 1;
}


static int future_set_running(lua_State *L) {
  int r = braid__future_set_running(checkfuture(L, 1));
  if (r == BRAID_ESTATE)
    return braidB_raise(L, "RuntimeError", "Future in unexpected state");
  lua_pushboolean(L, r);
  return 1;
}


static int invalid_state(lua_State *L, braid_future *f) {
  int st = braid__future_state(f, NULL);
  lua_settop(L, 1);
  future_tostring(L);
  return braidB_raise(L, "concurrent.futures.InvalidStateError", "%s: %s",
                      state_name[st], lua_tostring(L, -1));
}


/* f:set_result(...) : the values result() will return. */
static int future_set_result(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  int n = lua_gettop(L) - 1;
  braid_msg **box;
  if (braid__future_state(f, NULL) >= BRAID_FUT_CANCELLED)
    return invalid_state(L, f);
  box = newmsgbox(L);
  if (n > 0) *box = encode_values(L, 2, n, "result");
  if (braid__future_finish(f, *box, BRAID_EXC_NONE) != BRAID_OK)
    return invalid_state(L, f);
  *box = NULL;
  braidB_poll(L);
  return 0;
}


/* f:set_exception(err): non-exception values are wrapped (errors.wrap). */
static int future_set_exception(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  braid_msg **box;
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  if (braid__future_state(f, NULL) >= BRAID_FUT_CANCELLED)
    return invalid_state(L, f);
  braidB_pusherrors(L);
  lua_getfield(L, -1, "wrap");
  lua_pushvalue(L, 2);
  lua_call(L, 1, 1);
  box = newmsgbox(L);
  *box = braid__encode(L, -2, "exception");
  if (braid__future_finish(f, *box, BRAID_EXC_VALUE) != BRAID_OK)
    return invalid_state(L, f);
  *box = NULL;
  braidB_poll(L);
  return 0;
}


/* f:_state() -> Python's state name */
static int future_state(lua_State *L) {
  lua_pushstring(L, state_name[braid__future_state(checkfuture(L, 1), NULL)]);
  return 1;
}


static const luaL_Reg future_methods[] = {
  { "cancel", future_cancel },
  { "cancelled", future_cancelled },
  { "running", future_running },
  { "done", future_done },
  { "result", future_result },
  { "exception", future_exception },
  { "add_done_callback", future_add_done_callback },
  { "set_running_or_notify_cancel", future_set_running },
  { "set_result", future_set_result },
  { "set_exception", future_set_exception },
  { "_state", future_state },
  { "_wait", future_wait },
  { NULL, NULL },
};

static const luaL_Reg future_meta[] = {
  { "__tostring", future_tostring },
  { NULL, NULL },
};


static int core_future(lua_State *L) {
  braid_future *f = braid__future_new();
  if (f == NULL) return braidB_nomem(L);
  braidB_pushnewhandle(L, (braid_handle *)f);
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** Waiters
** =======================================================
*/

static braid_waiter *checkwaiter(lua_State *L, int i) {
  return (braid_waiter *)braidB_checkhandle(L, i, &braid__waiter_type);
}


/* w:add(f) -> true when f was done already */
static int waiter_add(lua_State *L) {
  braid_waiter *w = checkwaiter(L, 1);
  int r = braid__waiter_add(w, checkfuture(L, 2));
  if (r < 0) return braidB_raisecode(L, r, NULL);
  lua_pushboolean(L, r);
  return 1;
}


#define TAKE_MAX 256

typedef struct TakeArgs {
  braid_waiter *w;
  braid_future *out[TAKE_MAX];
  size_t n;
} TakeArgs;

static int wait_take(void *ud, const braid__deadline *d) {
  TakeArgs *a = (TakeArgs *)ud;
  a->n = braid__waiter_take(a->w, a->out, TAKE_MAX, d);
  return a->n ? BRAID_OK : BRAID_ETIMEDOUT;
}


/* w:take([timeout]) -> { futures done since the last take } (maybe empty) */
static int waiter_take(lua_State *L) {
  TakeArgs *a;
  size_t i;
  braid_waiter *w = checkwaiter(L, 1);
  double timeout = checktimeout(L, 2);
  a = (TakeArgs *)lua_newuserdatauv(L, sizeof *a, 0);
  a->w = w;
  a->n = 0;
  lua_createtable(L, 8, 0);
  luaL_checkstack(L, 4, NULL);
  blocking_wait(L, wait_take, a, timeout);
  for (i = 0; i < a->n; i++) {
    braidB_pushnewhandle(L, (braid_handle *)a->out[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}


static int waiter_close(lua_State *L) {
  braid__waiter_close(checkwaiter(L, 1));
  return 0;
}


static const luaL_Reg waiter_methods[] = {
  { "add", waiter_add },
  { "take", waiter_take },
  { "close", waiter_close },
  { NULL, NULL },
};


static int core_waiter(lua_State *L) {
  braid_waiter *w = braid__waiter_new();
  if (w == NULL) return braidB_nomem(L);
  braidB_pushnewhandle(L, (braid_handle *)w);
  return 1;
}
/* }====================================================== */


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
        braidB_pusherror(L, "MemoryError", "%s", NOMEM_SEND_MSG);
        return 3;
      }
      n = braid__decode(L, m);
      return 1 + n;
    case BRAID_CHUNK_CANCELLED:
      return braidB_raise(L, "concurrent.futures.CancelledError", "");
    case BRAID_CHUNK_BROKEN_PROCESS:
      return braidB_raise(L, BROKEN_PROC_CLASS, "%s", BROKEN_PROC_MSG);
    case BRAID_CHUNK_NOMEM:
      return braidB_nomem(L);
    default:
      return braidB_raise(L, "concurrent.futures.thread.BrokenThreadPool",
                          "%s", BROKEN_MSG);
  }
}


typedef struct ChunkArgs {
  braid_job *j;
  uint32_t k, seen;
  int st;
  const braid_msg *m;
} ChunkArgs;

static int wait_chunk(void *ud, const braid__deadline *d) {
  ChunkArgs *a = (ChunkArgs *)ud;
  a->st = braid__job_wait_chunk(a->j, a->k, d, &a->m);
  return a->st == BRAID_ETIMEDOUT ? BRAID_ETIMEDOUT : BRAID_OK;
}


/* j:chunk(k [, timeout]) -> true, value | false, partial, exc */
static int job_chunk(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  lua_Integer k = braidB_checkinteger(L, 2);
  double timeout = checktimeout(L, 3);
  uint32_t nchunks;
  ChunkArgs a;
  braid__job_info(j, NULL, NULL, &nchunks);
  if (k < 1 || k > (lua_Integer)nchunks)
    return braidB_argerror(L, 2, "IndexError", "no chunk %d", (int)k);
  a.j = j;
  a.k = (uint32_t)(k - 1);
  {
    /* done already: no poll (the fast path of map loops) */
    braid__deadline now = braid__deadline_in(0);
    a.st = braid__job_wait_chunk(j, a.k, &now, &a.m);
  }
  if (a.st == BRAID_ETIMEDOUT &&
      blocking_wait(L, wait_chunk, &a, timeout) != BRAID_OK)
    return braidB_raise(L, "TimeoutError", "");
  lua_settop(L, 1);
  return push_chunk(L, a.st, a.m);
}


static int wait_next(void *ud, const braid__deadline *d) {
  ChunkArgs *a = (ChunkArgs *)ud;
  a->st = braid__job_wait_next(a->j, &a->seen, &a->k, d, &a->m);
  return a->st == BRAID_ETIMEDOUT ? BRAID_ETIMEDOUT : BRAID_OK;
}


/* j:next_done(seen [, timeout]) -> k, true, value | k, false, partial,
** exc | nil when every chunk was seen ('seen' counts chunks taken). */
static int job_next_done(lua_State *L) {
  braid_job *j = checkjob(L, 1);
  lua_Integer seen = braidB_checkinteger(L, 2);
  double timeout = checktimeout(L, 3);
  ChunkArgs a;
  a.j = j;
  a.seen = (uint32_t)(seen < 0 ? 0 : seen);
  if (blocking_wait(L, wait_next, &a, timeout) != BRAID_OK)
    return braidB_raise(L, "TimeoutError", "");
  if (a.st == BRAID_EEMPTY) return 0;
  lua_settop(L, 1);
  lua_pushinteger(L, (lua_Integer)a.k + 1);
  return 1 + push_chunk(L, a.st, a.m);
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
  if (n > 0 && lua_type(L, -n) == LUA_TTABLE) { /* a table with 'n' */
    lua_Integer i;
    int v = lua_gettop(L) - n + 1;
    lua_getfield(L, v, "n");
    cnt = lua_tointeger(L, -1);
    lua_pop(L, 1);
    for (i = 1; i <= cnt; i++) {
      lua_rawgeti(L, v, i);
      lua_rawseti(L, out, pos + i - 1);
    }
  }
  lua_pop(L, n);
  return cnt;
}


/* j:results() -> out | nil, k. Every chunk's results in order in one
** table with 'n' (presized; each chunk decoded straight into it as soon
** as it is done, while the workers go on), or nil and the first chunk k
** (1-based, in order) that did not succeed. Waits as long as needed. */
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
    braid__deadline now = braid__deadline_in(0);
    a.j = j;
    a.k = k;
    a.st = braid__job_wait_chunk(j, k, &now, &a.m);
    if (a.st == BRAID_ETIMEDOUT)
      blocking_wait(L, wait_chunk, &a, BRAID_FOREVER);
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
  braid__deadline now = braid__deadline_in(0);
  int n;
  a.j = it->j;
  a.k = it->k++;
  a.st = braid__job_wait_chunk(a.j, a.k, &now, &a.m);
  if (a.st == BRAID_ETIMEDOUT) {
    double left = BRAID_FOREVER;
    if (it->deadline >= 0) {
      left = it->deadline - braid__now();
      if (left < 0) left = 0;
    }
    if (blocking_wait(L, wait_chunk, &a, left) != BRAID_OK)
      braidB_raise(L, "TimeoutError", "");
  }
  it->pos = 0;
  it->m = NULL;
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
  if (lua_type(L, -2) == LUA_TTABLE) { /* the results before the error */
    lua_Integer i, cnt;
    lua_getfield(L, -2, "n");
    cnt = lua_tointeger(L, -1);
    lua_pop(L, 1);
    for (i = 1; i <= cnt; i++) {
      lua_rawgeti(L, -2, i);
      lua_rawseti(L, cur, i);
    }
    it->cn = cnt;
  }
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
      return raise_remote(L, -1);
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
  braid_job *j = checkjob(L, 1);
  double timeout = checktimeout(L, 2);
  int r = blocking_wait(L, wait_job, j, timeout) == BRAID_OK;
  braidB_poll(L);
  lua_pushboolean(L, r);
  return 1;
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


static const luaL_Reg job_methods[] = {
  { "chunk", job_chunk },
  { "next_done", job_next_done },
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
  w->args = NULL;
  n = args ? braid__decode_owned(L, args) : 0;
  lua_call(L, n, LUA_MULTRET);
  nres = lua_gettop(L) - base;
  lua_pushlightuserdata(L, nres > 0 ? encode_values_for(L, base + 1, nres,
                                                        "result", c->proc)
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
  int nargs, objects = 0;
  braid_msg *m;
  lua_settop(L, 0);
  cs = w->chunksize;
  if (cs == 1) {
    braid__decode_range(L, w->items[0].m, w->items[0].idx, 1, 0, 0);
    push_fn(L, c, w->fn);
    lua_insert(L, 1);
    nargs = w->star ? unpack_args(L, 2) : 1;
    lua_call(L, nargs, 1);
    lua_pushlightuserdata(L, encode_values_for(L, 1, 1, "result", c->proc));
    return 1;
  }
  push_fn(L, c, w->fn);                    /* 1: fn */
  lua_createtable(L, (int)w->nitems, 0);   /* 2: results */
  lua_pushvalue(L, 2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CHUNKRES_KEY);
  c->progress = 0;
  for (i = 0; i < w->nitems; i++) {
    lua_pushvalue(L, 1);
    braid__decode_range(L, w->items[i].m, w->items[i].idx, 1, 0, 0);
    nargs = w->star ? unpack_args(L, -1) : 1;
    lua_call(L, nargs, 1);
    objects |= lua_type(L, -1) >= LUA_TTABLE;
    lua_rawseti(L, 2, (lua_Integer)i + 1);
    c->progress = (long)i + 1;
  }
  if (objects) { /* one value: objects met in several results stay shared */
    lua_pushinteger(L, w->nitems);
    lua_setfield(L, 2, "n");
    lua_pushlightuserdata(L, encode_values_for(L, 2, 1, "result", c->proc));
    return 1;
  }
  /* one item per result: no key to write, read or check for each */
  m = c->proc ? braid__encode_batch_range_proc(L, 2, 1,
                                               (lua_Integer)w->nitems,
                                               "result", BRAID_ENC_PIPE)
              : braid__encode_batch(L, 2, (lua_Integer)w->nitems, "result");
  m->tag = BRAID_RESULT_ITEMS;
  lua_pushlightuserdata(L, m);
  return 1;
}


static int encode_protected(lua_State *L) {
  int n = (int)lua_tointeger(L, 1);
  int proc = lua_toboolean(L, 2);
  lua_remove(L, 1);
  lua_remove(L, 1);
  lua_pushlightuserdata(L, encode_values_for(L, 1, n, "error", proc));
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


/* Encodes the 'n' values on top (an error last), with a fallback when
** the error cannot be sent. Pops them. Never raises (a worker that raised
** here would die with its task unfinished): NULL when even the fallback
** fails. */
static braid_msg *encode_error(lua_State *L, int n, int proc) {
  int base = lua_gettop(L) - n, i;
  braid_msg *m = NULL;
  if (!lua_checkstack(L, n + 6)) {
    lua_settop(L, base);
    return NULL;
  }
  lua_pushcfunction(L, encode_protected);
  lua_pushinteger(L, n);
  lua_pushboolean(L, proc);
  for (i = 1; i <= n; i++) lua_pushvalue(L, base + i);
  if (lua_pcall(L, n + 2, 1, 0) == LUA_OK) {
    m = (braid_msg *)lua_touserdata(L, -1);
  } else {
    /* the error holds something that cannot travel (or memory ran
    ** out): send its text */
    int why = lua_gettop(L);
    lua_pushcfunction(L, encode_text_protected);
    lua_pushinteger(L, n);
    lua_pushboolean(L, proc);
    for (i = 1; i <= n; i++) lua_pushvalue(L, base + i);
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


WorkerCtx *braidB_worker_ctx(lua_State *L, braid_pool *p, int proc) {
  WorkerCtx *c = (WorkerCtx *)lua_newuserdatauv(L, sizeof *c, 0);
  memset(c, 0, sizeof *c);
  c->p = p;
  c->proc = proc;
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
  c = braidB_worker_ctx(L, p, 0);
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


static void *pool_thread_entry(void *arg) {
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
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &FNCACHE_KEY) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &FNCACHE_KEY);
  }
  lua_pushvalue(L, pidx);
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L); /* ephemeron: fn -> FnRef */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
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
  m = encode_values_for(L, fn, 1, "fn", braid__pool_is_process(
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
    return braidB_raise(L, BROKEN_PROC_CLASS, "%s",
                        "A child process terminated abruptly, the process "
                        "pool is not usable anymore");
  if (rc == BRAID_EBROKEN)
    return braidB_raise(L, "concurrent.futures.thread.BrokenThreadPool", "%s",
                        BROKEN_MSG);
  if (rc == BRAID_ESHUTDOWN)
    return braidB_raise(L, "RuntimeError",
                        "cannot schedule new futures after shutdown");
  return braidB_raisecode(L, rc, NULL);
}


/* p:submit(fn, ...) -> future */
static int pool_submit(lua_State *L) {
  braid_pool *p = checkpool(L, 1);
  int nargs = lua_gettop(L) - 2, rc;
  braid_msg **box;
  braid_fnent *e;
  braid_future *f;
  checkcallable(L, 2);
  if (braid__pool_broken(p)) return raise_pool(L, p, BRAID_EBROKEN);
  if (braid__pool_is_shutdown(p)) return raise_pool(L, p, BRAID_ESHUTDOWN);
  box = newmsgbox(L);
  if (nargs > 0)
    *box = encode_values_for(L, 3, nargs, "args", braid__pool_is_process(p));
  f = braid__future_new();
  if (f == NULL) return braidB_nomem(L);
  braidB_pushnewhandle(L, (braid_handle *)f);
  e = get_fnent(L, 1, 2);
  rc = braid__pool_submit(p, f, e, *box);
  if (rc != BRAID_OK) {
    braid__fnent_release(e);
    return raise_pool(L, p, rc);
  }
  *box = NULL;
  return 1;
}


/* Items in the first segment of a map job's items (see
** braid__pool_map_begin; the next ones double): the workers start once it
** is encoded. */
#define SEG_ITEMS 1024

/* (items, first, count) -> the batch of items[first..first+count-1] as a
** light userdata */
/* Map items t[first..first+n-1] as a batch, for another process when
** 'proc'. MAY RAISE. */
static braid_msg *encode_items(lua_State *L, int t, lua_Integer first,
                               lua_Integer n, int proc) {
  return proc ? braid__encode_batch_range_proc(L, t, first, n, "iterable",
                                               BRAID_ENC_PIPE)
              : braid__encode_batch_range(L, t, first, n, "iterable");
}

static int encode_segment(lua_State *L) {
  lua_pushlightuserdata(L, encode_items(L, 1, lua_tointeger(L, 2),
                                        lua_tointeger(L, 3),
                                        lua_toboolean(L, 4)));
  return 1;
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
  checkcallable(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  n = braidB_checkinteger(L, 4);
  cs = braidB_checkinteger(L, 5);
  star = lua_toboolean(L, 6);
  if (n < 1 || n > 0x7fffffff)
    return braidB_argerror(L, 4, "ValueError", "bad number of items");
  if (cs < 1) return braidB_argerror(L, 5, "ValueError", "chunksize must be >= 1");
  if (cs > n) cs = n;
  if (braid__pool_broken(p)) return raise_pool(L, p, BRAID_EBROKEN);
  if (braid__pool_is_shutdown(p)) return raise_pool(L, p, BRAID_ESHUTDOWN);
  lua_settop(L, 6);
  segchunks = (uint32_t)(cs >= SEG_ITEMS ? 1 : SEG_ITEMS / cs);
  seg = (lua_Integer)segchunks * cs; /* items in the first segment */
  proc = braid__pool_is_process(p);
  box = newmsgbox(L); /* 7 */
  *box = encode_items(L, 3, 1, n < seg ? n : seg, proc);
  e = get_fnent(L, 1, 2);
  rc = braid__pool_map_begin(p, e, (uint32_t)n, (uint32_t)cs, segchunks,
                             star, &j);
  if (rc != BRAID_OK) {
    braid__fnent_release(e);
    return raise_pool(L, p, rc);
  }
  braidB_pushnewhandle(L, (braid_handle *)j); /* 8 */
  rc = braid__job_publish(j, *box);
  if (rc != BRAID_OK) {
    braid__job_cancel(j);
    return raise_pool(L, p, rc);
  }
  *box = NULL;
  for (first = seg + 1; first <= n; first += seg) {
    lua_Integer cnt;
    seg *= 2;
    cnt = n - first + 1 < seg ? n - first + 1 : seg;
    lua_pushcfunction(L, encode_segment);
    lua_pushvalue(L, 3);
    lua_pushinteger(L, first);
    lua_pushinteger(L, cnt);
    lua_pushboolean(L, proc);
    if (lua_pcall(L, 4, 1, 0) != LUA_OK) {
      braid__job_cancel(j); /* the workers stop at what was published */
      return lua_error(L);
    }
    *box = (braid_msg *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    rc = braid__job_publish(j, *box);
    if (rc != BRAID_OK) { /* shut down meanwhile */
      braid__job_cancel(j);
      return raise_pool(L, p, rc);
    }
    *box = NULL;
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
  braid_pool *p = checkpool(L, 1);
  double timeout = checktimeout(L, 2);
  int r = blocking_wait(L, wait_pool, p, timeout) == BRAID_OK;
  braidB_poll(L);
  lua_pushboolean(L, r);
  return 1;
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
**                 initializer=, initargs=} -> pool
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
  braidB_getopt(L, 1, "prefix"); /* 5 */
  o.prefix = lua_tostring(L, 5);
  lua_settop(L, 5);
  box = newmsgbox(L); /* 6 */
  braidB_getopt(L, 1, "initializer"); /* 7 */
  if (!lua_isnil(L, 7)) {
    static const char *const roots[] = { "initializer", "initargs" };
    checkcallable(L, 7);
    if (braidB_getopt(L, 1, "initargs") == LUA_TNIL) { /* 8 */
      lua_pop(L, 1);
      lua_newtable(L);
    }
    /* in-process also for a pool of processes: the message keeps the
    ** objects it carries alive, and each new child inherits them */
    *box = braid__encode_n(L, 7, 2, roots);
  }
  o.entry = pool_thread_entry;
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
  { &braid__future_type, future_methods, future_meta },
  { &braid__waiter_type, waiter_methods, NULL },
  { &braid__job_type, job_methods, NULL },
  { &braid__pool_type, pool_methods, NULL },
  { NULL, NULL, NULL },
};


static const luaL_Reg pool_funcs[] = {
  { "Future", core_future },
  { "FutureWaiter", core_waiter },
  { "ThreadPool", core_threadpool },
  { "pool_worker_stats", core_pool_worker_stats },
  { "raise_remote", l_raise_remote },
  { "isatty", core_isatty },
  { NULL, NULL },
};


void braidB_open_pool(lua_State *L) {
  luaL_setfuncs(L, pool_funcs, 0);
}

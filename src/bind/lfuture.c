/*
** lfuture.c: Lua binding of futures and future waiters (the results of
** braid.futures' submit and of multiprocessing.pool's apply_async), and
** the wait that every blocking call of the pool binding uses.
** See LICENSE for copyright and license.
**
** Futures carry encoded results; result() decodes without consuming, so
** it can be called many times from any state. A done-callback is stored
** in the registering state (braidB_ref_callback) wrapped in a closure that
** frees its key and calls fn(future) protected; the future posts one
** message per callback at completion. Blocking calls poll first; in a
** state that registered callbacks they wait in slices of SLICE seconds
** and poll between them, so callbacks arrive during a long wait.
*/
#include <stdio.h>
#include <string.h>

#include "lbind.h"
#include "lpool.h"
#include "pool.h"
#include "lcodec.h"
#include "lpstream.h"
#include "thread.h"

#define SLICE 0.05

static const char HASCB_KEY = 'h';   /* this state registered callbacks */


/*
** {======================================================
** Waiting
** =======================================================
*/

static int has_callbacks(lua_State *L) {
  int r = lua_rawgetp(L, LUA_REGISTRYINDEX, &HASCB_KEY) != LUA_TNIL;
  lua_pop(L, 1);
  return r;
}


int braidB_blocking_wait(lua_State *L, braidB_waitfn fn, void *ud,
                         double timeout) {
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


int braidB_wait_push(lua_State *L, braidB_waitfn fn, void *ud, int arg) {
  double timeout = braidB_waittimeout(L, arg);
  int r = braidB_blocking_wait(L, fn, ud, timeout) == BRAID_OK;
  braidB_poll(L);
  lua_pushboolean(L, r);
  return 1;
}


int braidB_raise_remote(lua_State *L, int idx) {
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
  return braidB_raise_remote(L, 1);
}
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


/* Pushes the exception of a finished future that failed. */
static void push_exception(lua_State *L, braid_future *f, int exc) {
  const braid_msg *m = braid__future_value(f);
  if (exc == BRAID_EXC_BROKEN) {
    braidB_pusherror(L, BRAIDB_BROKEN_CLASS, "%s", BRAIDB_BROKEN_MSG);
  } else if (exc == BRAID_EXC_BROKEN_PROCESS) {
    braidB_pusherror(L, BRAIDB_BROKEN_PROC_CLASS, "%s",
                     BRAIDB_BROKEN_PROC_MSG);
  } else if (m == NULL) { /* only memory stops the fallback (encode_error) */
    braidB_pusherror(L, "MemoryError", "%s", BRAIDB_NOMEM_SEND_MSG);
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
  if (exc == BRAID_EXC_REMOTE) return braidB_raise_remote(L, -1);
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
  braidB_checkcallable(L, 2);
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


/* A result() wait: until the future is done or its result can be read
** while it is made (braid__future_wait_early: 'fd' is then a dup). */
typedef struct EarlyWait {
  braid_future *f;
  int fd;
} EarlyWait;

static int wait_early(void *ud, const braid__deadline *d) {
  EarlyWait *e = (EarlyWait *)ud;
  return braid__future_wait_early(e->f, d, &e->fd);
}


/* Pushes the results of 'f' above the stack's top, waiting up to 'timeout';
** -1 (nothing pushed) when it did not finish in time. A result that
** streams (a process pool's, lprocpool.c) is decoded from its stream while
** the child still encodes it; the future stays undone until the child's
** outcome, which is awaited before the value read is returned, so
** result() and exception()/done() never disagree: a stream that failed,
** or whose child died, raises the outcome the future is finished with.
** 'timeout' bounds the whole wait, the stream's reading included: a read
** cut short drops what it decoded and leaves the future pending (the
** next result() reads the stream again from its start). */
static int push_result(lua_State *L, braid_future *f, double timeout) {
  int st, exc, n = 0, base = lua_gettop(L), got;
  const braid_msg *m;
  braid__deadline until = braid__deadline_in(timeout);
  EarlyWait e;
  e.f = f;
  e.fd = -1;
  if (braidB_blocking_wait(L, wait_early, &e, timeout) != BRAID_OK)
    return -1;
  if (e.fd >= 0) {
    /* closes the dup, also when it raises (Ctrl-C, a corrupt stream) */
    got = braidB_pstream_read_until(L, e.fd, &until);
    if (got < 0) return -1;
    if (got) n = lua_gettop(L) - base;
    if (braidB_blocking_wait(L, wait_future, f,
                             braid__deadline_left(&until)) != BRAID_OK) {
      lua_settop(L, base);
      return -1;
    }
  }
  braidB_poll(L); /* this state's callbacks of 'f' ran before we return */
  st = braid__future_state(f, &exc);
  if (st != BRAID_FUT_FINISHED || exc != BRAID_EXC_NONE)
    return raise_outcome(L, f, st, exc);
  if (n > 0) return n; /* the value read from the stream */
  lua_settop(L, base);
  m = braid__future_value(f);
  return m ? braid__decode(L, m) : 0;
}


/* f:result([timeout]) -> the call's results; raises its error (a copy
** whose 'cause' is the worker's error), CancelledError, TimeoutError. */
static int future_result(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  double timeout = braidB_waittimeout(L, 2);
  int n;
  lua_settop(L, 1);
  n = push_result(L, f, timeout);
  if (n < 0) return braidB_raise(L, "TimeoutError", "");
  return n;
}


/* f:_result([timeout]) -> true, results; or false when not done in time
** (AsyncResult.get raises multiprocessing's TimeoutError for it). */
static int future_result_or_false(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  double timeout = braidB_waittimeout(L, 2);
  int n;
  lua_settop(L, 1);
  lua_pushboolean(L, 1);
  n = push_result(L, f, timeout);
  if (n < 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return n + 1; /* true, results */
}


/* f:exception([timeout]) -> the error object or nil. */
static int future_exception(lua_State *L) {
  braid_future *f = checkfuture(L, 1);
  double timeout = braidB_waittimeout(L, 2);
  int st, exc;
  lua_settop(L, 1);
  if (braidB_blocking_wait(L, wait_future, f, timeout) != BRAID_OK)
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
  return braidB_wait_push(L, wait_future, checkfuture(L, 1), 2);
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
  box = braidB_newmsgbox(L);
  if (n > 0) *box = braidB_encode_values(L, 2, n, "result", 0);
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
  braidB_checkany(L, 2);
  lua_settop(L, 2);
  if (braid__future_state(f, NULL) >= BRAID_FUT_CANCELLED)
    return invalid_state(L, f);
  braidB_pusherrors(L);
  lua_getfield(L, -1, "wrap");
  lua_pushvalue(L, 2);
  lua_call(L, 1, 1);
  box = braidB_newmsgbox(L);
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


const luaL_Reg braidB_future_methods[] = {
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
  { "_result", future_result_or_false },
  { NULL, NULL },
};

const luaL_Reg braidB_future_meta[] = {
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
  double timeout = braidB_waittimeout(L, 2);
  a = (TakeArgs *)lua_newuserdatauv(L, sizeof *a, 0);
  a->w = w;
  a->n = 0;
  lua_createtable(L, 8, 0);
  luaL_checkstack(L, 4, NULL);
  braidB_blocking_wait(L, wait_take, a, timeout);
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


const luaL_Reg braidB_waiter_methods[] = {
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


static const luaL_Reg future_funcs[] = {
  { "Future", core_future },
  { "FutureWaiter", core_waiter },
  { "raise_remote", l_raise_remote },
  { NULL, NULL },
};


void braidB_open_futures(lua_State *L) {
  luaL_setfuncs(L, future_funcs, 0);
}

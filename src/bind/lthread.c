/*
** lthread.c: Lua binding of the thread runtime: per-state context, the
** worker bootstrap, thread handles, excepthook, callbacks and poll().
** See LICENSE for copyright and license.
**
** Every state braid runs in has a context (a userdata in the registry):
** its runtime, its own thread object, whether braid created it (worker)
** and its mailbox. A root state (one the host or lua5.4 made) joins the
** runtime's non-daemon threads when it closes, as Python does at exit.
*/
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "failalloc.h"
#include "lbind.h"
#include "lcodec.h"
#include "park.h"
#include "stream.h"
#include "thread.h"
#include "spin.h"

typedef struct StateCtx {
  braid_runtime_t *rt;   /* retained */
  braid_thread *self;    /* retained: the thread running this state */
  braid_mailbox *mb;     /* retained, created on first use */
  int worker;
  int polling;           /* callbacks are running: blocking calls made by a
                            callback do not run others (no nesting) */
} StateCtx;

static const char CTX_KEY = 'c';
static const char CALLBACKS_KEY = 'k'; /* registry table: ref -> function */
static const char INSTANCE_KEY = 'i';  /* the Thread object run by a worker */

#define MODE_TARGET 0   /* payload: target, args */
#define MODE_INSTANCE 1 /* payload: a Thread object whose run() to call */
#define MODE_LOW 2      /* as MODE_TARGET, for _thread.start_new_thread:
                        ** a SystemExit ends it without any hook (Python
                        ** ignores it there before any hook is called) */


/*
** {======================================================
** Per-state context
** =======================================================
*/

static int ctx_gc(lua_State *L) {
  StateCtx *c = (StateCtx *)lua_touserdata(L, 1);
  if (c->rt == NULL) return 0;
  if (!c->worker) {
    /* What Python does at interpreter exit: wait for non-daemon threads.
    ** A worker's state does not wait: its children belong to the
    ** process, which the root state waits for. */
    braid_runtime_join_threads(c->rt);
    braidB_intr_close(L);
  }
  if (c->mb) {
    braid__mailbox_close(c->mb);
    braid__mailbox_release(c->mb);
    c->mb = NULL;
  }
  if (c->self) {
    if (c->self->kind != BRAID_THREAD_WORKER) braid__thread_retire(c->self);
    braid__handle_release(&c->self->h);
    c->self = NULL;
  }
  braid_runtime_release(c->rt);
  c->rt = NULL;
  return 0;
}


static StateCtx *getctx(lua_State *L) {
  StateCtx *c;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &CTX_KEY);
  c = (StateCtx *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return c;
}


/* Creates the context of 'L' (runtime 'rt' retained by the caller and
** given to the context). */
static StateCtx *newctx(lua_State *L, braid_runtime_t *rt, int worker) {
  StateCtx *c = (StateCtx *)lua_newuserdatauv(L, sizeof(StateCtx), 0);
  memset(c, 0, sizeof *c);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, ctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  c->rt = rt;
  c->worker = worker;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CTX_KEY);
  return c;
}


int braid_attach(lua_State *L, braid_runtime_t *rt) {
  if (getctx(L) != NULL) return BRAID_ESTATE;
  newctx(L, braid__runtime_retain(rt), 0);
  return BRAID_OK;
}


/* The context of 'L', made as a root state's on first use. */
static StateCtx *ctx(lua_State *L) {
  StateCtx *c = getctx(L);
  if (c == NULL) {
    braid_runtime_t *rt = braid__runtime_default();
    if (rt == NULL) luaL_error(L, "braid: cannot create the runtime");
    c = newctx(L, rt, 0);
  }
  return c;
}


braid_runtime_t *braidB_runtime(lua_State *L) {
  return ctx(L)->rt;
}


int braidB_isworker(lua_State *L) {
  return ctx(L)->worker;
}


/* The thread object of the OS thread running 'L' (made on first use for
** root states: the main thread, or a dummy for other OS threads). */
static braid_thread *selfthread(lua_State *L) {
  StateCtx *c = ctx(L);
  if (c->self == NULL) {
    braid_runtime_t *rt = c->rt;
    braid_thread *t;
    int ismain;
    braid__mutex_lock(&rt->mu);
    ismain = rt->main == NULL ||
             rt->main->ident == (lua_Integer)(uintptr_t)pthread_self();
    if (rt->main != NULL && ismain) {
      t = rt->main;
      braid__handle_retain(&t->h);
    } else {
      t = NULL;
    }
    braid__mutex_unlock(&rt->mu);
    if (t == NULL) {
      t = braid__thread_new(rt, ismain ? "MainThread" : NULL, !ismain,
                            ismain ? BRAID_THREAD_MAIN : BRAID_THREAD_DUMMY);
      if (t == NULL) braidB_nomem(L);
    }
    c->self = t;
  }
  return c->self;
}


static braid_mailbox *mailbox(lua_State *L) {
  StateCtx *c = ctx(L);
  if (c->mb == NULL) {
    c->mb = braid__mailbox_new();
    if (c->mb == NULL) braidB_nomem(L);
  }
  return c->mb;
}
/* }====================================================== */


/*
** {======================================================
** Callbacks and poll
** =======================================================
*/

static void pushcallbacks(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CALLBACKS_KEY) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &CALLBACKS_KEY);
  }
}


lua_Integer braidB_ref_callback(lua_State *L, int idx, braid_mailbox **mb) {
  lua_Integer ref;
  idx = lua_absindex(L, idx);
  *mb = braid__mailbox_retain(mailbox(L));
  pushcallbacks(L);
  lua_pushvalue(L, idx);
  ref = luaL_ref(L, -2);
  lua_pop(L, 1);
  return ref;
}


void braidB_unref_callback(lua_State *L, lua_Integer ref) {
  pushcallbacks(L);
  luaL_unref(L, -1, (int)ref);
  lua_pop(L, 1);
}


/* Message handler: makes every error an exception object carrying the
** traceback of where it was raised (errors.wrap). */
int braidB_add_traceback(lua_State *L) {
  luaL_traceback(L, L, NULL, 1);
  braidB_pusherrors(L);
  lua_getfield(L, -1, "wrap");
  lua_pushvalue(L, 1);
  lua_pushvalue(L, -4);
  lua_call(L, 2, 1);
  return 1;
}


/* Runs one mailbox message: its values are the arguments of the callback
** whose reference is the message's tag. Frees the message. */
static int run_callback(lua_State *L) {
  braid_msg *m = (braid_msg *)lua_touserdata(L, 1);
  lua_Integer ref = m->tag;
  int n;
  lua_settop(L, 0);
  n = braid__decode_owned(L, m);
  pushcallbacks(L);
  lua_rawgeti(L, -1, ref);
  lua_remove(L, -2);
  if (lua_type(L, -1) != LUA_TFUNCTION) return 0; /* unregistered since */
  lua_insert(L, 1);
  lua_call(L, n, 0);
  return 0;
}


static int tostring_protected(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}


/* The text of the value at 'idx' (its __tostring may raise or allocate:
** run it protected; the result stays on the stack). Never raises. */
static const char *safe_tostring(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, tostring_protected);
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1))
    return "(error object cannot be shown)";
  return lua_tostring(L, -1);
}


int braidB_poll(lua_State *L) {
  StateCtx *c = getctx(L);
  braid_msg *m;
  int ran = 0;
  if (c == NULL || c->mb == NULL || c->polling) return 0;
  if (!lua_checkstack(L, 4)) return 0; /* nothing below may raise */
  m = braid__mailbox_take(c->mb);
  c->polling = 1;
  while (m != NULL) {
    braid_msg *next = m->next;
    int top = lua_gettop(L);
    m->next = NULL;
    lua_pushcfunction(L, braidB_add_traceback);
    lua_pushcfunction(L, run_callback);
    lua_pushlightuserdata(L, m);
    if (lua_pcall(L, 1, 0, top + 1) != LUA_OK) {
      fprintf(stderr, "Exception in braid callback:\n%s\n",
              safe_tostring(L, -1));
      fflush(stderr);
    }
    lua_settop(L, top);
    ran++;
    m = next;
  }
  c->polling = 0;
  return ran;
}


/* braid.poll() -> number of callbacks run */
static int core_poll(lua_State *L) {
  lua_pushinteger(L, braidB_poll(L));
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** Worker threads
** =======================================================
*/

/* Default excepthook: print from the failing thread, like Python. */
static void print_exception(lua_State *L, braid_thread *t, int err) {
  const char *msg;
  char *name;
  braid__mutex_lock(&t->mu);
  name = braid__strdup(t->name);
  braid__mutex_unlock(&t->mu);
  msg = luaL_tolstring(L, err, NULL);
  fprintf(stderr, "Exception in thread %s:\n%s\n", name ? name : "?", msg);
  fflush(stderr);
  free(name);
  lua_pop(L, 1);
}


/* Hands an uncaught error (at 'err', an exception object) to the custom
** excepthook's state, or prints it. As in Python, a custom hook sees
** SystemExit too; only the default one is silent for it. */
static int report_error(lua_State *L) {
  braid_thread *t = (braid_thread *)lua_touserdata(L, 2);
  braid_runtime_t *rt = t->rt;
  braid_mailbox *mb = NULL;
  lua_Integer ref = 0;
  int hooked, sysexit;
  braidB_pushclass(L, "SystemExit");
  lua_getfield(L, -1, "is");
  lua_insert(L, -2);
  lua_pushvalue(L, 1);
  lua_call(L, 2, 1);
  sysexit = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (sysexit && t->mode == MODE_LOW) return 0; /* _thread.exit() */
  /* A worker cancelled by Ctrl-C (lsignal.c) ends silently too: the
  ** main state reports the KeyboardInterrupt. */
  if (braidB_intr_due() && braid_is_interrupt(L, 1)) return 0;
  braid__mutex_lock(&rt->mu);
  hooked = rt->hook_mb != NULL;
  braid__mutex_unlock(&rt->mu);
  if (hooked) {
    /* args = { exc_type, exc_value, exc_traceback, thread }; everything
    ** that may raise (out of memory) comes before the mailbox is held */
    braid_msg *m;
    int ok;
    lua_createtable(L, 0, 4);
    lua_getfield(L, 1, "type");
    lua_setfield(L, -2, "exc_type");
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "exc_value");
    lua_getfield(L, 1, "traceback");
    lua_setfield(L, -2, "exc_traceback");
    braidB_pushhandle(L, &t->h);
    lua_setfield(L, -2, "thread");
    m = braid__encode(L, -1, "excepthook args");
    braid__mutex_lock(&rt->mu);
    if (rt->hook_mb != NULL) {
      mb = braid__mailbox_retain(rt->hook_mb);
      ref = rt->hook_ref;
    }
    braid__mutex_unlock(&rt->mu);
    if (mb == NULL) { /* the hook went away meanwhile */
      braid__msg_free(m);
    } else {
      m->tag = ref;
      ok = braid__mailbox_post(mb, m) == BRAID_OK; /* frees m if not */
      braid__mailbox_release(mb);
      if (ok) return 0;
    }
  }
  if (!sysexit) print_exception(L, t, 1);
  return 0;
}


/* Prepares a worker's fresh state: libraries, paths, braid, context,
** the host's initializers. */
static void worker_setup(lua_State *L, braid_thread *t, int prepared) {
  braid_runtime_t *rt = t->rt;
  StateCtx *c;
  int i;
  /* an idle thread's memory: llazy.c; done ahead on a parked thread */
  if (!prepared) braidB_ready_setup(L);
  braidB_lazy_paths(L, t->path, t->cpath);
  c = newctx(L, braid__runtime_retain(rt), 1);
  c->self = (braid_thread *)braid__handle_retain(&t->h);
  for (i = 0; i < rt->ninits; i++) {
    if (rt->inits[i].fn(L, rt->inits[i].ud) != 0)
      luaL_error(L, "state initializer #%d failed", i + 1);
  }
}


/* What a Thread's worker runs, protected, after worker_setup: the target
** (or the Thread object's run method). */
static int thread_body(lua_State *L) {
  braid_thread *t = (braid_thread *)lua_touserdata(L, 1);
  int n, status;
  lua_settop(L, 0);
  lua_pushcfunction(L, braidB_add_traceback); /* 1: message handler */
  if (t->stream != NULL) { /* the arguments come as they are encoded */
    braid_stream *s = t->stream;
    t->stream = NULL;
    n = braid__decode_stream_owned(L, s);
    if (n < 0) return 0; /* start() failed and raised there: run nothing */
  } else {
    braid_msg *m = t->payload;
    t->payload = NULL;
    n = braid__decode_owned(L, m);
  }
  /* the set-up and the decoding went deeper than most targets will:
  ** an idle thread keeps only the stack it uses (park.h; done at its
  ** first sleep, so a target that never sleeps pays nothing) */
  braid__park_trim_stack();
  if (t->mode == MODE_INSTANCE) {
    /* stack: msgh instance */
    lua_pushvalue(L, 2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &INSTANCE_KEY);
    lua_getfield(L, 2, "run");
    lua_insert(L, 2); /* msgh run instance */
    status = lua_pcall(L, 1, 0, 1);
  } else {
    /* stack: msgh target args -> call target(table.unpack(args, 1, n)) */
    lua_Integer nargs, k;
    if (n != 2 || !lua_istable(L, 3))
      return luaL_error(L, "bad thread payload");
    if (lua_getfield(L, 3, "n") == LUA_TNUMBER)
      nargs = lua_tointeger(L, -1);
    else
      nargs = (lua_Integer)lua_rawlen(L, 3);
    lua_pop(L, 1);
    luaL_checkstack(L, (int)nargs + 2, "too many thread arguments");
    for (k = 1; k <= nargs; k++) lua_rawgeti(L, 3, k);
    lua_remove(L, 3);
    status = lua_pcall(L, (int)nargs, 0, 1);
  }
  if (braidB_memerror(L, status) != LUA_OK) {
    int err = lua_gettop(L);
    lua_pushcfunction(L, report_error);
    lua_pushvalue(L, err);
    lua_pushlightuserdata(L, t);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) print_exception(L, t, err);
  }
  return 0;
}


static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if ((ptr == NULL || nsize > osize) &&
      braid__fail_check(braid__fail_site_worker))
    return NULL; /* injected failure (failalloc.h) */
  return realloc(ptr, nsize);
}


static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "braid: PANIC in a worker state: %s\n",
          msg ? msg : "error object is not a string");
  fflush(stderr);
  return 0;
}


typedef struct WorkerRun {
  braid_thread *t;
  lua_CFunction body;
  void *ud;
  int started; /* body was called */
  int prepared; /* the state came from braidB_ready_take */
} WorkerRun;


/* Protected: set-up, then body(ud). */
static int worker_pmain(lua_State *L) {
  WorkerRun *r = (WorkerRun *)lua_touserdata(L, 1);
  worker_setup(L, r->t, r->prepared);
  lua_settop(L, 0);
  r->started = 1;
  lua_pushcfunction(L, r->body);
  lua_pushlightuserdata(L, r->ud);
  lua_call(L, 1, 0);
  return 0;
}


static lua_State *new_worker_state(braid_runtime_t *rt, braid_salloc **pool) {
  *pool = NULL;
  if (rt->alloc != NULL) return lua_newstate(rt->alloc, rt->alloc_ud);
  if ((*pool = braid__salloc_new()) != NULL)
    return lua_newstate(braid__salloc_alloc, *pool);
  return lua_newstate(l_alloc, NULL);
}


/* (t, message): sets up the state, then hands MemoryError(message) to
** the thread's excepthook (report_error). */
static int report_fresh_protected(lua_State *L) {
  braid_thread *t = (braid_thread *)lua_touserdata(L, 1);
  worker_setup(L, t, 0);
  lua_pushcfunction(L, report_error);
  braidB_pusherror(L, "MemoryError", "%s", (const char *)lua_touserdata(L, 2));
  lua_pushlightuserdata(L, t);
  lua_call(L, 2, 0);
  return 0;
}


/* A Thread whose state ran out of memory before its target could run
** (or could not be made at all) tells its excepthook from a fresh state,
** the first being unusable; printed when even that fails. */
static void report_fresh(braid_thread *t, const char *msg) {
  braid_salloc *pool;
  lua_State *L = new_worker_state(t->rt, &pool);
  int ok = 0;
  if (L != NULL) {
    lua_atpanic(L, panic);
    lua_pushcfunction(L, report_fresh_protected);
    lua_pushlightuserdata(L, t);
    lua_pushlightuserdata(L, (void *)msg);
    ok = lua_pcall(L, 2, 0, 0) == LUA_OK;
    lua_close(L);
  }
  braid__salloc_free(pool);
  if (!ok) {
    fprintf(stderr, "Exception in thread %s:\nMemoryError: %s\n", t->name,
            msg);
    fflush(stderr);
  }
}


static int is_memerror_protected(lua_State *L) {
  braidB_pushclass(L, "MemoryError");
  lua_getfield(L, -1, "is");
  lua_insert(L, -2);
  lua_pushvalue(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

/* Whether the error at 'idx' (of a pcall that returned 'status') is a
** memory error: Lua's own, or a MemoryError. Never raises. */
static int is_memerror(lua_State *L, int idx, int status) {
  int r;
  if (status == LUA_ERRMEM) return 1;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_pushcfunction(L, is_memerror_protected);
  lua_pushvalue(L, idx);
  r = lua_pcall(L, 1, 1, 0) == LUA_OK && lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}


/* One attempt at running 'r' in a new state. Returns 1 when it is over
** (the body ran, or failed for another reason than memory: reported),
** 0 when it ran out of memory before it could be of use ('quiet': say
** nothing; else it is reported). */
static int worker_attempt(WorkerRun *r, int quiet) {
  braid_thread *t = r->t;
  braid_salloc *pool;
  lua_State *L = braidB_ready_take(t->rt, &pool);
  int status, err, done = 1;
  r->prepared = L != NULL;
  if (L == NULL) L = new_worker_state(t->rt, &pool);
  if (L == NULL) {
    braid__salloc_free(pool);
    if (quiet) return 0;
    if (r->body == thread_body)
      report_fresh(t, "cannot create a Lua state");
    else
      fprintf(stderr, "Exception in thread %s:\nMemoryError: cannot create "
                      "a Lua state\n", t->name);
    return 0;
  }
  lua_atpanic(L, panic);
  lua_pushcfunction(L, worker_pmain);
  lua_pushlightuserdata(L, r);
  status = lua_pcall(L, 1, 0, 0);
  err = lua_gettop(L);
  /* a Thread's target never runs twice; a pool worker's body raises only
  ** outside its tasks (they run protected), so it may start over */
  if (status != LUA_OK && (!r->started || r->body != thread_body) &&
      is_memerror(L, err, status)) {
    done = 0;
    if (quiet) status = LUA_OK;
  }
  if (status != LUA_OK && r->body == thread_body) {
    /* the set-up or the decoding of a Thread's arguments failed (out of
    ** memory, mostly): its excepthook hears of it, as of its target's
    ** errors, when this state can still tell it */
    int hooked;
    braidB_memerror(L, status);
    lua_pushcfunction(L, report_error);
    lua_pushvalue(L, err);
    lua_pushlightuserdata(L, t);
    hooked = lua_pcall(L, 2, 0, 0) == LUA_OK;
    lua_settop(L, err);
    if (hooked) {
      status = LUA_OK;
    } else if (status == LUA_ERRMEM) {
      lua_close(L);
      L = NULL;
      braid__salloc_free(pool);
      pool = NULL;
      report_fresh(t, "not enough memory");
      status = LUA_OK;
    }
  }
  if (status != LUA_OK) print_exception(L, t, err);
  if (L != NULL) lua_close(L);
  braid__salloc_free(pool);
  return done;
}


void braidB_worker_run_retry(braid_thread *t, lua_CFunction body, void *ud,
                             int (*again)(void *ud)) {
  WorkerRun r;
  braid_runtime_t *rt;
  double pause = 0.001;
  r.t = t;
  r.body = body;
  r.ud = ud;
  r.started = 0;
  r.prepared = 0;
  braid__spin_register(); /* a running thread, for the spin policy */
  braid__mutex_lock(&t->mu);
  t->ident = (lua_Integer)(uintptr_t)pthread_self();
  t->native_id = braid__native_id();
  braid__cond_broadcast(&t->cv);
  braid__set_thread_name(t->name);
  braid__mutex_unlock(&t->mu);
  /* the first failure is reported; the retries are quiet */
  if (!worker_attempt(&r, 0) && again != NULL) {
    while (again(ud)) {
      braid__sleep(pause);
      if (pause < 0.1) pause *= 2;
      if (worker_attempt(&r, 1)) break;
    }
  }
  rt = braid__runtime_retain(t->rt);
  braid__thread_finish(t); /* drops the worker's reference */
  /* off the joiner's path: the next run's state (lready.c) */
  braidB_ready_prepare(rt);
  braid_runtime_release(rt);
}


void braidB_worker_run(braid_thread *t, lua_CFunction body, void *ud) {
  braidB_worker_run_retry(t, body, ud, NULL);
}


static void *worker_main(void *arg) {
  braid_thread *t = (braid_thread *)arg;
  braidB_worker_run(t, thread_body, t);
  return NULL;
}
/* }====================================================== */


/*
** {======================================================
** Thread handles
** =======================================================
*/

static braid_thread *checkthread(lua_State *L, int i) {
  return (braid_thread *)braidB_checkhandle(L, i, &braid__thread_type);
}


/* Gives 't' the calling state's package.path and package.cpath (shared
** with the threads started before with the same ones). */
static void setpaths(lua_State *L, braid_thread *t) {
  const char *path = NULL, *cpath = NULL;
  int top = lua_gettop(L);
  if (lua_getglobal(L, "package") == LUA_TTABLE) {
    lua_getfield(L, -1, "path");
    lua_getfield(L, -2, "cpath");
    path = lua_tostring(L, -2);
    cpath = lua_tostring(L, -1);
  }
  braid__thread_set_paths(t, path, cpath); /* copies them */
  lua_settop(L, top);
}


/* A start whose arguments are big starts the thread while it encodes
** them (braid__encode_streamed): the worker decodes what is written so
** far meanwhile, so the transfer costs about the longer of encoding and
** decoding instead of their sum. */
typedef struct StartJob {
  braid_thread *t;
  int mode;
  braid_stream *s; /* the starter's reference, once streaming */
} StartJob;

static int start_streaming(void *ud, braid_stream *s) {
  StartJob *j = (StartJob *)ud;
  int rc;
  j->t->stream = braid__stream_retain(s); /* the worker's */
  rc = braid__thread_start(j->t, worker_main);
  if (rc != BRAID_OK) {
    j->t->stream = NULL;
    braid__stream_release(s);
    return rc;
  }
  j->s = s;
  return BRAID_OK;
}


/* (job, values...) -> message or nothing (streamed) */
static int encode_start(lua_State *L) {
  static const char *const target_roots[] = { "target", "args" };
  static const char *const instance_roots[] = { "thread" };
  StartJob *j = (StartJob *)lua_touserdata(L, 1);
  braid_msg *m = braid__encode_streamed(
      L, 2, j->mode != MODE_INSTANCE ? 2 : 1,
      j->mode != MODE_INSTANCE ? target_roots : instance_roots,
      start_streaming, j);
  if (m == NULL) return 0;
  lua_pushlightuserdata(L, m);
  return 1;
}


/*
** h:start(mode, ...) -> nothing
** mode 0: ..., = target, args; mode 1: ... = the Thread object; mode 2:
** as 0, for a _thread thread (SystemExit quiet even with a hook). Raises
** RuntimeError when started before or when the OS cannot make a thread,
** TypeError (with the path) when something cannot be sent.
*/
static int thread_start(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  int mode = (int)braidB_checkinteger(L, 2);
  int target = mode != MODE_INSTANCE;
  braid_msg *m;
  StartJob job;
  int rc, status;
  if (braid__thread_status(t) != BRAID_THREAD_NEW || t->payload != NULL)
    return braidB_raise(L, "RuntimeError", "threads can only be started once");
  if (mode < MODE_TARGET || mode > MODE_LOW)
    return braidB_argerror(L, 2, "ValueError", "bad start mode");
  if (target && lua_type(L, 4) != LUA_TTABLE)
    braidB_typeerror(L, 4, "table");
  setpaths(L, t);
  t->mode = mode;
  job.t = t;
  job.mode = mode;
  job.s = NULL;
  lua_settop(L, target ? 4 : 3);
  lua_pushcfunction(L, encode_start);
  lua_insert(L, 3);
  lua_pushlightuserdata(L, &job);
  lua_insert(L, 4);
  status = lua_pcall(L, target ? 3 : 2, 1, 0);
  if (job.s != NULL) { /* streamed: the thread runs */
    if (status != LUA_OK) {
      /* the worker stops decoding and ends; the thread can start again */
      braid__stream_fail(job.s);
      braid__thread_join(t, BRAID_FOREVER);
      braid__thread_reset(t);
    }
    braid__stream_release(job.s);
  }
  if (status != LUA_OK) return lua_error(L);
  if (job.s != NULL) return 0;
  m = (braid_msg *)lua_touserdata(L, -1);
  t->payload = m;
  rc = braid__thread_start(t, worker_main);
  if (rc != BRAID_OK) {
    t->payload = NULL;
    braid__msg_free(m);
    if (rc == BRAID_ESTATE)
      return braidB_raise(L, "RuntimeError",
                          "threads can only be started once");
    return braidB_raise(L, "RuntimeError", "can't start new thread");
  }
  return 0;
}


/*
** h:join([timeout]) -> nothing
** Waits for the thread to end, or 'timeout' seconds (negative: no wait).
*/
static int thread_join(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  double timeout = braidB_opttimeout(L, 2, BRAID_FOREVER);
  int st;
  if (lua_isnil(L, 2)) timeout = BRAID_FOREVER;
  else if (timeout < 0) timeout = 0; /* Python: a negative timeout polls */
  st = braid__thread_status(t);
  if (st == BRAID_THREAD_NEW)
    return braidB_raise(L, "RuntimeError",
                        "cannot join thread before it is started");
  if (t == selfthread(L))
    return braidB_raise(L, "RuntimeError", "cannot join current thread");
  if (t->kind != BRAID_THREAD_WORKER && lua_isnil(L, 2))
    return braidB_raise(L, "RuntimeError",
                        "cannot join the main or a foreign thread forever");
  braidB_poll(L);
  braid__thread_join(t, timeout);
  braidB_poll(L);
  return 0;
}


static int thread_is_alive(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  lua_pushboolean(L, braid__thread_status(t) == BRAID_THREAD_RUNNING);
  return 1;
}


static int thread_started(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  lua_pushboolean(L, braid__thread_status(t) != BRAID_THREAD_NEW);
  return 1;
}


/* h:getname() / h:setname(s) */
static int thread_getname(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  char *name;
  braid__mutex_lock(&t->mu);
  name = braid__strdup(t->name); /* pushing could raise: not under the lock */
  braid__mutex_unlock(&t->mu);
  if (name == NULL) return braidB_nomem(L);
  lua_pushstring(L, name);
  free(name);
  return 1;
}


static int thread_setname(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  const char *s = braidB_checkstring(L, 2, NULL);
  char *n = braid__strdup(s), *old;
  if (n == NULL) return braidB_nomem(L);
  braid__mutex_lock(&t->mu);
  old = t->name;
  t->name = n;
  braid__mutex_unlock(&t->mu);
  free(old);
  return 0;
}


static int thread_getdaemon(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  braid__mutex_lock(&t->mu);
  lua_pushboolean(L, t->daemon);
  braid__mutex_unlock(&t->mu);
  return 1;
}


static int thread_setdaemon(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  int v = lua_toboolean(L, 2), ok;
  braid__mutex_lock(&t->mu);
  ok = t->status == BRAID_THREAD_NEW;
  if (ok) t->daemon = v;
  braid__mutex_unlock(&t->mu);
  if (!ok)
    return braidB_raise(L, "RuntimeError",
                        "cannot set daemon status of active thread");
  return 0;
}


/* h:ident() -> integer or nil before start */
static int thread_ident(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  lua_Integer id;
  braid__mutex_lock(&t->mu);
  id = t->status == BRAID_THREAD_NEW ? 0 : t->ident;
  braid__mutex_unlock(&t->mu);
  if (id == 0) return 0;
  lua_pushinteger(L, id);
  return 1;
}


static int thread_native_id(lua_State *L) {
  braid_thread *t = checkthread(L, 1);
  long id = braid__thread_native_id(t);
  if (id == 0) return 0;
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}


static int thread_kind(lua_State *L) {
  static const char *const kinds[] = { "worker", "main", "dummy" };
  braid_thread *t = checkthread(L, 1);
  lua_pushstring(L, kinds[t->kind]);
  return 1;
}


static int thread_tostring(lua_State *L) {
  checkthread(L, 1);
  lua_pushliteral(L, "braid.ThreadHandle (");
  thread_getname(L);
  lua_pushliteral(L, ")");
  lua_concat(L, 3);
  return 1;
}


static const luaL_Reg thread_methods[] = {
  { "start", thread_start },
  { "join", thread_join },
  { "is_alive", thread_is_alive },
  { "started", thread_started },
  { "getname", thread_getname },
  { "setname", thread_setname },
  { "getdaemon", thread_getdaemon },
  { "setdaemon", thread_setdaemon },
  { "ident", thread_ident },
  { "native_id", thread_native_id },
  { "kind", thread_kind },
  { NULL, NULL },
};

static const luaL_Reg thread_meta[] = {
  { "__tostring", thread_tostring },
  { NULL, NULL },
};

const braidB_Class braidB_thread_classes[] = {
  { &braid__thread_type, thread_methods, thread_meta },
  { NULL, NULL, NULL },
};
/* }====================================================== */


/*
** {======================================================
** Module functions
** =======================================================
*/

/* core.thread_new([name [, daemon]]) -> handle; daemon nil inherits. */
static int core_thread_new(lua_State *L) {
  const char *name = lua_isnoneornil(L, 1) ? NULL : braidB_checkstring(L, 1, NULL);
  int daemon;
  braid_thread *t;
  if (lua_isnoneornil(L, 2)) {
    braid_thread *self = selfthread(L);
    braid__mutex_lock(&self->mu);
    daemon = self->daemon;
    braid__mutex_unlock(&self->mu);
  } else {
    daemon = lua_toboolean(L, 2);
  }
  t = braid__thread_new(braidB_runtime(L), name, daemon, BRAID_THREAD_WORKER);
  if (t == NULL) return braidB_nomem(L);
  braidB_pushnewhandle(L, &t->h);
  return 1;
}


/* core.current_thread() -> handle, Thread object run by this worker or nil */
static int core_current_thread(lua_State *L) {
  braidB_pushhandle(L, &selfthread(L)->h);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &INSTANCE_KEY);
  return 2;
}


static int core_main_thread(lua_State *L) {
  braid_runtime_t *rt = braidB_runtime(L);
  braid_thread *m;
  selfthread(L); /* makes the main thread if this is it */
  braid__mutex_lock(&rt->mu);
  m = rt->main;
  if (m) braid__handle_retain(&m->h);
  braid__mutex_unlock(&rt->mu);
  if (m == NULL) return 0;
  braidB_pushnewhandle(L, &m->h);
  return 1;
}


/* core.enumerate() -> { handle... } of alive threads */
static int core_enumerate(lua_State *L) {
  braid_runtime_t *rt = braidB_runtime(L);
  braid_thread **list = NULL, *t;
  size_t n = 0, i;
  selfthread(L);
  braid__mutex_lock(&rt->mu);
  for (t = rt->threads; t; t = t->next) n++;
  list = (braid_thread **)braid__malloc((n ? n : 1) * sizeof *list);
  if (list != NULL) {
    n = 0;
    for (t = rt->threads; t; t = t->next)
      list[n++] = (braid_thread *)braid__handle_retain(&t->h);
  }
  braid__mutex_unlock(&rt->mu);
  if (list == NULL) return braidB_nomem(L);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    /* adopt the reference: nothing before this can fail for this one */
    braidB_pushnewhandle(L, &list[i]->h);
    lua_rawseti(L, -2, (lua_Integer)(n - i));
  }
  braid__free(list);
  return 1;
}


static int core_get_ident(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)(uintptr_t)pthread_self());
  return 1;
}


static int core_get_native_id(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__native_id());
  return 1;
}


/* core.stack_size([size]) -> previous size; ValueError when not 0 or at
** least 32 KiB. */
static int core_stack_size(lua_State *L) {
  braid_runtime_t *rt = braidB_runtime(L);
  size_t old;
  braid__mutex_lock(&rt->mu);
  old = rt->stack_size;
  braid__mutex_unlock(&rt->mu);
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = braidB_checkinteger(L, 1);
    if (n != 0 && (n < 32768 || n > ((lua_Integer)1 << 40)))
      return braidB_argerror(L, 1, "ValueError", "size not valid: %d bytes",
                             (int)n);
    braid__mutex_lock(&rt->mu);
    rt->stack_size = (size_t)n;
    braid__mutex_unlock(&rt->mu);
  }
  lua_pushinteger(L, (lua_Integer)old);
  return 1;
}


/* core.thread_reuse([max [, idle_timeout]]) -> previous max, timeout:
** how many ended threads' OS threads stay parked for reuse (park.h), and
** how many seconds one waits before it exits. nil keeps a value. */
static int core_thread_reuse(lua_State *L) {
  int max = -1, oldmax;
  double idle = -1, oldidle;
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = braidB_checkinteger(L, 1);
    if (n < 0 || n > 1000000)
      return braidB_argerror(L, 1, "ValueError",
                             "max must be between 0 and 1000000");
    max = (int)n;
  }
  if (!lua_isnoneornil(L, 2)) {
    idle = braidB_checknumber(L, 2);
    if (!(idle >= 0 && idle <= 1e9)) /* NaN fails too */
      return braidB_argerror(L, 2, "ValueError",
                             "idle_timeout must be between 0 and 1e9");
  }
  braid__park_config(max, idle, &oldmax, &oldidle);
  lua_pushinteger(L, oldmax);
  lua_pushnumber(L, oldidle);
  return 2;
}


/* core.parked() -> OS threads parked now, OS threads created for braid
** threads so far */
static int core_parked(lua_State *L) {
  lua_pushinteger(L, braid__park_idle());
  lua_pushinteger(L, (lua_Integer)braid__park_created());
  return 2;
}


/* core.set_excepthook(fn | nil): fn runs in this state at its next poll. */
static int core_set_excepthook(lua_State *L) {
  braid_runtime_t *rt = braidB_runtime(L);
  braid_mailbox *mb = NULL, *old;
  lua_Integer ref = 0, oldref;
  int samestate;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    mb = braid__mailbox_retain(mailbox(L));
    pushcallbacks(L);
    lua_pushvalue(L, 1);
    ref = luaL_ref(L, -2);
    lua_pop(L, 1);
  }
  braid__mutex_lock(&rt->mu);
  old = rt->hook_mb;
  oldref = rt->hook_ref;
  rt->hook_mb = mb;
  rt->hook_ref = ref;
  braid__mutex_unlock(&rt->mu);
  samestate = old != NULL && old == getctx(L)->mb;
  if (samestate) { /* free the previous function's slot */
    pushcallbacks(L);
    luaL_unref(L, -1, (int)oldref);
    lua_pop(L, 1);
  }
  if (old) braid__mailbox_release(old);
  return 0;
}


static int core_is_worker(lua_State *L) {
  lua_pushboolean(L, braidB_isworker(L));
  return 1;
}


static int core_live_objects(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__handle_live());
  return 1;
}


static const luaL_Reg thread_funcs[] = {
  { "thread_new", core_thread_new },
  { "current_thread", core_current_thread },
  { "main_thread", core_main_thread },
  { "enumerate", core_enumerate },
  { "get_ident", core_get_ident },
  { "get_native_id", core_get_native_id },
  { "stack_size", core_stack_size },
  { "thread_reuse", core_thread_reuse },
  { "parked", core_parked },
  { "set_excepthook", core_set_excepthook },
  { "poll", core_poll },
  { "is_worker", core_is_worker },
  { "live_objects", core_live_objects },
  { NULL, NULL },
};


void braidB_open_thread(lua_State *L) {
  ctx(L);
  luaL_setfuncs(L, thread_funcs, 0);
}
/* }====================================================== */

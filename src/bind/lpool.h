/*
** lpool.h: what the files of the pool binding share. The binding of
** concurrent.futures and multiprocessing.pool is split by concern:
**   lfuture.c   futures, waiters, and the callback-polling wait they use;
**   ljob.c      map jobs: reading a map's results (chunk, iter, results);
**   lworker.c   pool workers: their state, the task runners, the entry;
**   lpool.c     pools: construction, task submission (submit, map),
**               shutdown and join, and the registration of all of them;
**   lprocpool.c pools of processes (proxy threads, the child's serve loop).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LPOOL_H
#define BRAID_LPOOL_H

#include "lua.h"
#include "lauxlib.h"

#include "braidint.h"
#include "pool.h"
#include "lcodec.h"

/* The errors of a broken pool and of a task that could not be sent,
** shared by futures (result()), map jobs (chunk()) and pools (submit()). */
#define BRAIDB_BROKEN_CLASS "concurrent.futures.thread.BrokenThreadPool"
#define BRAIDB_BROKEN_MSG \
  "A thread initializer failed, the thread pool is not usable anymore"
#define BRAIDB_BROKEN_PROC_CLASS "concurrent.futures.process.BrokenProcessPool"
#define BRAIDB_BROKEN_PROC_MSG                                          \
  "A process in the process pool was terminated abruptly while the " \
  "future was running or pending."
/* A failed task whose error (or, to a process, the task itself) could
** not be sent: encode_error's fallback (lworker.c) fails only for want of
** memory. */
#define BRAIDB_NOMEM_SEND_MSG "not enough memory to send the task or its error"


/* { ====== waiting (lfuture.c) */

/* Waits on a core object until 'd': BRAID_OK, or BRAID_ETIMEDOUT. */
typedef int (*braidB_waitfn)(void *ud, const braid__deadline *d);

/* Waits with 'fn' up to 'timeout' seconds (negative: forever), polling
** first and, when this state has registered future callbacks, between
** slices of 50 ms, so callbacks run during a long wait. Returns what
** 'fn' last returned. */
BRAIDI_FUNC int braidB_blocking_wait(lua_State *L, braidB_waitfn fn,
                                     void *ud, double timeout);
/* obj:wait([timeout]) / obj:join([timeout]): the timeout at 'arg'
** (braidB_waittimeout), a braidB_blocking_wait, a poll (callbacks due
** by then ran before the caller sees the outcome), and pushes whether
** 'fn' succeeded. Returns 1. MAY RAISE (a bad timeout). */
BRAIDI_FUNC int braidB_wait_push(lua_State *L, braidB_waitfn fn, void *ud,
                                 int arg);
/* Raises a copy of the exception at 'idx' (from another worker) whose
** 'cause' is that exception, so its traceback stays with it. */
BRAIDI_FUNC int braidB_raise_remote(lua_State *L, int idx);
/* } ====== */

/* { ====== sending values (lpool.c) */

/* Encodes the 'n' values at idx.. as one message, for this process or
** ('proc') for another one; root: the name errors give the values.
** MAY RAISE. */
BRAIDI_FUNC braid_msg *braidB_encode_values(lua_State *L, int idx, int n,
                                            const char *root, int proc);
/* The names of 'n' values for the encoder's error paths,
** "name[first]".."name[first + n - 1]" (a call's arguments "args[i]", as
** a thread start's are named; a map chunk's items "iterable[k]"): pushes
** one value that keeps them (the caller pops it) and returns them. */
BRAIDI_FUNC const char **braidB_indexed_roots(lua_State *L, const char *name,
                                              lua_Integer first, int n);
/* Pushes a box for a message owned by the Lua stack until taken (set
** *box = NULL); __gc frees what is still in it, so a raise leaks
** nothing. */
BRAIDI_FUNC braid_msg **braidB_newmsgbox(lua_State *L);
/* } ====== */

/* { ====== pool workers (lworker.c) */

/* A pool worker's state: its pool, counters, item buffer. 'proc': results
** and errors are encoded for another process. */
typedef struct braidB_WorkerCtx {
  braid_pool *p;
  long decodes, tasks, cached, progress;
  braid_item *buf;
  size_t cap;
  /* 0: results stay in this process; else they go to another process:
  ** 1 (BRAID_ENC_PIPE) or an encode mode (a child of a process pool:
  ** BRAID_ENC_PIPE | BRAID_ENC_SEGS, its socket carries descriptors) */
  int proc;
  int mperr; /* a multiprocessing Pool's worker: see BRAIDB_POOL_MPERR */
  /* A process pool's child (lprocpool.c): a task's single result that
  ** braidB_pstream_wanted is encoded by 'stream' (MAY RAISE as
  ** braidB_put_streamed), which returns the whole message, or NULL when
  ** the value went streamed: 'streamed' is then set (the caller clears
  ** it before each task). NULL elsewhere. */
  braid_msg *(*stream)(lua_State *L, int idx, void *ud);
  void *stream_ud;
  int streamed;
} braidB_WorkerCtx;

/* braid_pool_opts.flags: the workers serve a multiprocessing Pool, where
** a result that cannot be sent back fails its task with Python's
** multiprocessing.pool.MaybeEncodingError (an executor's task fails with
** the TypeError naming the path, as Python's ProcessPoolExecutor gives
** the pickling error). */
#define BRAIDB_POOL_MPERR 1u

/* Creates this state's worker context (kept in the registry); 'mperr':
** BRAIDB_POOL_MPERR's behaviour. */
BRAIDI_FUNC braidB_WorkerCtx *braidB_worker_ctx(lua_State *L, braid_pool *p,
                                                int proc, int mperr);
/* Runs the initializer message (initializer, initargs); on error prints
** "Exception in initializer:" and the traceback, returns 0. */
BRAIDI_FUNC int braidB_run_initializer(lua_State *L, const braid_msg *init);
/* Run the call or chunk of 'w' (its function and arguments or items) and
** return the encoded outcome: results, or an error with '*exc'
** BRAID_EXC_REMOTE / '*status' BRAID_CHUNK_EXC (partial results, error).
** The call's arguments are freed, the chunk's items released. Never
** raise; NULL when even the error could not be encoded. */
BRAIDI_FUNC braid_msg *braidB_exec_call(lua_State *L, braidB_WorkerCtx *c,
                                        braid_work *w, int *exc);
BRAIDI_FUNC braid_msg *braidB_exec_chunk(lua_State *L, braidB_WorkerCtx *c,
                                         braid_work *w, int *status);
/* The entry of a thread pool's worker threads (braid_pool_opts.entry):
** runs tasks in the worker's own state until the pool retires it. */
BRAIDI_FUNC void *braidB_pool_thread_entry(void *arg);
/* } ====== */

/* { ====== registration: each file's methods, listed in
** braidB_pool_classes (lpool.c), and its constructors */
BRAIDI_FUNC const luaL_Reg braidB_future_methods[];
BRAIDI_FUNC const luaL_Reg braidB_future_meta[];
BRAIDI_FUNC const luaL_Reg braidB_waiter_methods[];
BRAIDI_FUNC const luaL_Reg braidB_job_methods[];
/* Each adds its functions to the braid.core table on top of the stack:
** Future, FutureWaiter, raise_remote (lfuture.c); pool_worker_stats
** (lworker.c). */
BRAIDI_FUNC void braidB_open_futures(lua_State *L);
BRAIDI_FUNC void braidB_open_workers(lua_State *L);
/* } ====== */

/* _test.pool_misreply(mode [, exit]) (a task in a pool's child: its reply
** breaks the framing's rules) and _test.pool_stall([seconds]) (how long a
** proxy waits for the rest of a frame its child began): lprocpool.c. */
BRAIDI_FUNC int braidB_test_pool_misreply(lua_State *L);
BRAIDI_FUNC int braidB_test_pool_stall(lua_State *L);

/* core.ThreadPool{process = {...}}: makes the options of a pool of
** processes from the table at 'idx' (lprocpool.c). MAY RAISE. */
BRAIDI_FUNC void braidB_procpool_opts(lua_State *L, int idx,
                                      braid_pool_opts *o);
/* Submits a call of 'e' with the 'n' arguments from 'idx' (one at least
** a table likely big) to the process pool 'p' for future 'f', the
** arguments streamed to the child as one message as they are encoded
** (lprocpool.c): NULL when they went so ('e' taken), else the whole
** encoded arguments ('e' still the caller's, who
** submits as usual: they were small after all, no stream could be
** made, or the pool refused it). MAY RAISE (an argument's TypeError with
** its path, "args[i]..." as the unstreamed path names it; 'e' is then
** released, and a call already submitted is
** cancelled, or fails in the child, which runs nothing of it). */
BRAIDI_FUNC braid_msg *braidB_procpool_submit_streamed(lua_State *L,
                                                       braid_pool *p, int idx,
                                                       int n,
                                                       braid_future *f,
                                                       braid_fnent *e);
/* Publishes the next chunk of the process pool map job 'j' (begun with
** BRAID_MAP_EACH_CHUNK): its 'n' items from 'idx' (iterable[first] and
** on; one of them likely big, braidB_pstream_wanted) streamed to the
** child as one message as they are encoded (lprocpool.c): NULL when it
** went so (published), else the items encoded whole as one message of
** values (under the threshold, or no stream could be made), for the
** caller to encode as a batch and publish as usual; '*rc' is the pool's
** refusal of the stream (NULL returned, nothing published: the caller
** cancels and raises). MAY RAISE (an item's TypeError with its path as
** "iterable[k]...": the job is cancelled, a chunk published already
** fails in the child before its function runs). */
BRAIDI_FUNC braid_msg *braidB_procpool_map_streamed(lua_State *L,
                                                    braid_job *j, int idx,
                                                    int n, lua_Integer first,
                                                    int *rc);

#endif

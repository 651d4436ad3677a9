/*
** lpool.h: what the process-pool binding (lprocpool.c) shares with the
** pool binding (lpool.c): the worker context and the task runners.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LPOOL_H
#define BRAID_LPOOL_H

#include "lua.h"

#include "braidint.h"
#include "pool.h"
#include "lcodec.h"

/* A pool worker's state: its pool, counters, item buffer. 'proc': results
** and errors are encoded for another process. */
typedef struct braidB_WorkerCtx {
  braid_pool *p;
  long decodes, tasks, cached, progress;
  braid_item *buf;
  size_t cap;
  int proc;
} braidB_WorkerCtx;

/* Creates this state's worker context (kept in the registry). */
BRAIDI_FUNC braidB_WorkerCtx *braidB_worker_ctx(lua_State *L, braid_pool *p,
                                                int proc);
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

/* core.ThreadPool{process = {...}}: makes the options of a pool of
** processes from the table at 'idx' (lprocpool.c). MAY RAISE. */
BRAIDI_FUNC void braidB_procpool_opts(lua_State *L, int idx,
                                      braid_pool_opts *o);

#endif

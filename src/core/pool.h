/*
** pool.h: futures, multi-future waiters, map jobs and thread pools
** (concurrent.futures and multiprocessing.pool on threads).
** See LICENSE for copyright and license.
**
** A future holds the encoded result (or exception) of one call; readers
** decode it without consuming it. Done-callbacks are (mailbox, message)
** pairs posted at completion: the message's tag is the callback's key in
** the registering state, which runs it at its next poll. A waiter is
** registered on many futures and collects them as they finish (wait,
** as_completed). A pool runs tasks on worker threads that keep their Lua
** state: a task is either a call (function entry + encoded arguments ->
** a future) or one chunk of a map job (function entry + a range of the
** job's batch of items -> one result message per chunk). Functions travel
** as refcounted entries encoded once ('braid_fnent'); a worker decodes an
** entry the first time it sees its uid and caches the function.
** Nothing here calls Lua or raises; no mutex is held on return.
*/
#ifndef BRAID_POOL_H
#define BRAID_POOL_H

#include "braidint.h"
#include "handle.h"
#include "os.h"
#include "wire.h"
#include "thread.h"

/* { ------ futures */
enum {
  BRAID_FUT_PENDING,
  BRAID_FUT_RUNNING,
  BRAID_FUT_CANCELLED,
  BRAID_FUT_CANCELLED_AND_NOTIFIED,
  BRAID_FUT_FINISHED
};

/* How a finished future failed: an encoded exception (a task's error or
** set_exception), or a pool that broke before the task ran. */
enum { BRAID_EXC_NONE, BRAID_EXC_VALUE, BRAID_EXC_REMOTE, BRAID_EXC_BROKEN,
       BRAID_EXC_BROKEN_PROCESS /* the same, for a pool of processes */ };

typedef struct braid_future braid_future;
typedef struct braid_waiter braid_waiter;

/* A done-callback: 'msg' (tag = the key of the callback in the state that
** owns 'mb') is posted to 'mb' once. */
typedef struct braid_fcb {
  struct braid_fcb *next;
  braid_mailbox *mb; /* retained */
  braid_msg *msg;
} braid_fcb;

BRAIDI_FUNC const braid_handle_type braid__future_type;
BRAIDI_FUNC const braid_handle_type braid__waiter_type;

BRAIDI_FUNC braid_future *braid__future_new(void); /* NULL: no memory */
/* State, and (when FINISHED) the kind of exception. */
BRAIDI_FUNC int braid__future_state(braid_future *f, int *exc);
/* Python's cancel(): 1 when the future is (now or already) cancelled, 0
** when it runs or has finished. Posts the callbacks. */
BRAIDI_FUNC int braid__future_cancel(braid_future *f);
/* Python's set_running_or_notify_cancel(): 1 (PENDING -> RUNNING), 0
** (CANCELLED -> CANCELLED_AND_NOTIFIED), BRAID_ESTATE otherwise. */
BRAIDI_FUNC int braid__future_set_running(braid_future *f);
/* Finishes the future with 'value' (a message of result values, or of one
** exception when 'exc' is not BRAID_EXC_NONE; may be NULL for no values).
** Takes 'value' on BRAID_OK; returns BRAID_ESTATE (value not taken) when
** the future is cancelled or finished. Posts the callbacks and wakes
** waiters. */
BRAIDI_FUNC int braid__future_finish(braid_future *f, braid_msg *value,
                                     int exc);
/* Waits until the future is cancelled or finished, or 'd' passes.
** BRAID_OK or BRAID_ETIMEDOUT. */
BRAIDI_FUNC int braid__future_wait(braid_future *f, const braid__deadline *d);
/* A result read while it is made (a process pool's streamed result,
** lprocpool.c). The future stays RUNNING, and done() false, until it is
** finished with the outcome; meanwhile braid__future_set_early hands it a
** descriptor to read the result from (taken on BRAID_OK; BRAID_ESTATE
** when the future is not RUNNING or has one already), which the future
** closes when it is done. braid__future_wait_early waits until the
** future is done or has such a descriptor, or 'd' passes (BRAID_OK or
** BRAID_ETIMEDOUT): '*fd' is then the caller's own dup of it, or -1 when
** the future is done (or no descriptor was left for a dup). A reader of the
** descriptor still waits for the outcome before it trusts what it read. */
BRAIDI_FUNC int braid__future_set_early(braid_future *f, int fd);
BRAIDI_FUNC int braid__future_wait_early(braid_future *f,
                                         const braid__deadline *d, int *fd);
/* The stored message; only valid (and immutable) once FINISHED. */
BRAIDI_FUNC const braid_msg *braid__future_value(braid_future *f);
/* Adds a callback (takes 'cb' on BRAID_OK). BRAID_ESTATE when the future
** is done already: the caller keeps 'cb' and runs the callback itself. */
BRAIDI_FUNC int braid__future_add_callback(braid_future *f, braid_fcb *cb);
BRAIDI_FUNC void braid__fcb_free(braid_fcb *cb);
/* } ------ */

/* { ------ waiters: collect futures as they finish or are cancelled */
BRAIDI_FUNC braid_waiter *braid__waiter_new(void);
/* Registers 'w' on 'f'. Returns 1 when 'f' is done already (it is then
** recorded as done at once), 0 otherwise, BRAID_ENOMEM. */
BRAIDI_FUNC int braid__waiter_add(braid_waiter *w, braid_future *f);
/* Waits until some registered future is done or 'd' passes, then moves
** up to 'max' done futures into 'out' (each with a reference the caller
** now owns). Returns how many (0: timed out). */
BRAIDI_FUNC size_t braid__waiter_take(braid_waiter *w, braid_future **out,
                                      size_t max, const braid__deadline *d);
/* Unregisters from every future (also done by destroy). */
BRAIDI_FUNC void braid__waiter_close(braid_waiter *w);
/* } ------ */

/* { ------ function entries: a function encoded once for many tasks */
typedef struct braid_fnent {
  atomic_long refs;
  uint64_t uid; /* unique in the process, never reused */
  braid_msg *m; /* the encoded function */
} braid_fnent;

BRAIDI_FUNC braid_fnent *braid__fnent_new(braid_msg *m); /* takes 'm' */
BRAIDI_FUNC braid_fnent *braid__fnent_retain(braid_fnent *e);
BRAIDI_FUNC void braid__fnent_release(braid_fnent *e);
/* } ------ */

/* { ------ map jobs: a batch of items cut in chunks */
enum {
  BRAID_CHUNK_PENDING,
  BRAID_CHUNK_OK,
  BRAID_CHUNK_EXC, /* message: partial results table, exception */
  BRAID_CHUNK_CANCELLED,
  BRAID_CHUNK_BROKEN,
  BRAID_CHUNK_BROKEN_PROCESS,
  BRAID_CHUNK_NOMEM /* a thread pool's worker could not take it: MemoryError */
};

/* The message of a chunk that succeeded is one of: the result (chunks of
** one task), a table of the results with field 'n' (tag 0), or a batch
** holding one item per task (tag BRAID_RESULT_ITEMS: cheaper to encode,
** and decoded straight into the reader's table). Messages of failed
** chunks are (partial results table or nil, exception). */
#define BRAID_RESULT_ITEMS 1

typedef struct braid_job braid_job;
typedef struct braid_pool braid_pool;
struct braid_semaphore; /* sync.h: a job's bell */

BRAIDI_FUNC const braid_handle_type braid__job_type;

/* Waits for chunk 'k' (0-based) and returns its status; '*m' is its
** message (owned by the job, immutable). BRAID_ETIMEDOUT when 'd' passed
** first. */
BRAIDI_FUNC int braid__job_wait_chunk(braid_job *j, uint32_t k,
                                      const braid__deadline *d,
                                      const braid_msg **m);
/* A chunk's result read while it is made, as a future's
** (braid__future_set_early): braid__job_set_early hands chunk 'k', still
** pending, a descriptor (taken on BRAID_OK; BRAID_ESTATE, BRAID_ENOMEM,
** BRAID_EINVAL otherwise), closed when the chunk is done.
** braid__job_wait_chunk_early waits as braid__job_wait_chunk, and also
** returns BRAID_CHUNK_PENDING with '*fd' the caller's dup of such a
** descriptor (-1 when no dup could be made). With 'ahead' > 0, while it
** waits for chunk k it waits for chunk k + 'ahead' (the last one at most)
** as well, unless that one is readable already: a reader that takes every
** chunk in order, and only returns once it has them all (a blocking map's
** results), then sleeps and is woken once per 'ahead' + 1 chunks instead
** of once per chunk. 0 for a reader that hands each chunk on as it comes
** (imap, j:chunk). */
BRAIDI_FUNC int braid__job_set_early(braid_job *j, uint32_t k, int fd);
BRAIDI_FUNC int braid__job_wait_chunk_early(braid_job *j, uint32_t k,
                                            uint32_t ahead,
                                            const braid__deadline *d,
                                            const braid_msg **m, int *fd);
/* Waits for the next chunk in completion order after the '*seen' already
** taken: returns its status, index in '*k', message in '*m', and
** increments '*seen'. BRAID_ETIMEDOUT, or BRAID_EEMPTY when all were seen.
** braid__job_wait_next_early takes the chunks in the order they became
** readable instead (done, or given an early descriptor: the same order
** as long as no chunk streams), and returns BRAID_CHUNK_PENDING with
** '*fd' the caller's dup of a chunk's early descriptor (-1 when no dup
** could be made), as braid__job_wait_chunk_early does. A reader keeps to
** one of the two orders. */
BRAIDI_FUNC int braid__job_wait_next(braid_job *j, uint32_t *seen,
                                     uint32_t *k, const braid__deadline *d,
                                     const braid_msg **m);
BRAIDI_FUNC int braid__job_wait_next_early(braid_job *j, uint32_t *seen,
                                           uint32_t *k,
                                           const braid__deadline *d,
                                           const braid_msg **m, int *fd);
/* Waits until every chunk is done (failed, cancelled or not: a failure
** is reported with the whole map). BRAID_OK/ETIMEDOUT. */
BRAIDI_FUNC int braid__job_wait(braid_job *j, const braid__deadline *d);
/* Ready (every chunk done), and the first failed chunk (in the order
** failures happened) or -1. */
BRAIDI_FUNC int braid__job_ready(braid_job *j, long *failed);
BRAIDI_FUNC void braid__job_info(braid_job *j, uint32_t *n,
                                 uint32_t *chunksize, uint32_t *nchunks);
/* The future finished (without values) when the job is ready. */
BRAIDI_FUNC braid_future *braid__job_future(braid_job *j);
/* Rings semaphore 's' (retained) once per chunk done: as many times at
** once as chunks are done already, then once as each of the others is
** done (so that one reader waits for the next chunk of several jobs).
** BRAID_ESTATE when the job has a bell already. */
BRAIDI_FUNC int braid__job_set_bell(braid_job *j, struct braid_semaphore *s);
/* Cancels the chunks no worker took yet (and any segment not published:
** no more are taken). */
BRAIDI_FUNC void braid__job_cancel(braid_job *j);
/* } ------ */

/* { ------ pools */
typedef struct braid_pool_opts {
  int max_workers;
  int lazy;              /* start workers as tasks come (executor) */
  long maxtasks;         /* per worker; 0: unlimited */
  const char *prefix;    /* thread names: prefix_0, prefix_1... */
  braid_msg *init;       /* initializer, initargs (taken) or NULL */
  const char *path, *cpath;
  void *(*entry)(void *); /* thread entry (binding): arg = braid_thread* */
  /* A pool of processes: each worker thread drives one child process.
  ** Work that fails because the pool broke fails as BROKEN_PROCESS. */
  int process;
  /* The binding's flags for its workers, opaque here
  ** (braid__pool_flags). */
  unsigned flags;
  /* Binding data for the workers ('ext', freed by 'ext_free' with the
  ** pool), told of BRAID_POOL_BROKEN and BRAID_POOL_TERMINATE by
  ** 'ext_notify' (called without the pool's mutex). All optional. */
  void *ext;
  void (*ext_free)(void *ext);
  void (*ext_notify)(void *ext, int event);
} braid_pool_opts;

enum { BRAID_POOL_BROKEN = 1, BRAID_POOL_TERMINATE };

/* What a worker got from braid__pool_take. */
typedef struct braid_work {
  braid_future *fut; /* a call: retained */
  braid_fnent *fn;   /* retained */
  braid_msg *args;
  braid_job *job;    /* a chunk: retained */
  uint32_t chunk;
  braid_item *items; /* the chunk's items (points into the worker's buffer) */
  uint32_t nitems;
  uint32_t chunksize; /* the job's: a chunk of 1 gives its value, not a table */
  int star;
} braid_work;

BRAIDI_FUNC const braid_handle_type braid__pool_type;

BRAIDI_FUNC int braid__pool_new(braid_pool **out, braid_runtime_t *rt,
                                const braid_pool_opts *o);
/* Starts every worker now (Pool; an executor starts them as work comes).
** BRAID_OK or the error of the last start that failed. */
BRAIDI_FUNC int braid__pool_start(braid_pool *p);
/* Queues a call of 'fn' with 'args' (both taken on BRAID_OK) that
** finishes 'fut' (retained by the pool). BRAID_ESHUTDOWN after shutdown,
** BRAID_EBROKEN when broken, BRAID_EAGAIN when no worker can start. */
BRAIDI_FUNC int braid__pool_submit(braid_pool *p, braid_future *fut,
                                   braid_fnent *fn, braid_msg *args);
/* Queues a map job over the 'n' items of batch 'items' (taken, with
** 'fn', on BRAID_OK). Returns the job (one reference for the caller) in
** '*out'. */
BRAIDI_FUNC int braid__pool_map(braid_pool *p, braid_fnent *fn,
                                braid_msg *items, uint32_t n,
                                uint32_t chunksize, int star,
                                braid_job **out);
/* A map job whose items come in segments of 'segchunks' chunks, then
** twice, four times as many... (0: one segment; BRAID_MAP_EACH_CHUNK:
** every chunk a segment of its own, for a caller that sends each chunk
** as soon as it is made, a process pool's streamed chunks), each published with
** braid__job_publish as soon as it is encoded, so that workers start on
** the first while the caller encodes the next. Takes 'fn' on BRAID_OK;
** returns the job (one reference for the caller) in '*out'. The job is
** queued with its first segment. */
#define BRAID_MAP_EACH_CHUNK 0xffffffffu
BRAIDI_FUNC int braid__pool_map_begin(braid_pool *p, braid_fnent *fn,
                                      uint32_t n, uint32_t chunksize,
                                      uint32_t segchunks, int star,
                                      braid_job **out);
/* Publishes the job's next segment: a batch of its items (taken on
** BRAID_OK). BRAID_ESHUTDOWN/BRAID_EBROKEN when the pool was shut down or
** broke before the last segment (a map is accepted only if the pool runs
** until all its items are published), BRAID_ECANCELED when the job was
** cancelled. A caller that cannot publish every segment (any of these,
** or an item that cannot be encoded) calls braid__job_cancel: the chunks
** not handed out are cancelled, also those never published. */
BRAIDI_FUNC int braid__job_publish(braid_job *j, braid_msg *items);
/* No more submits; 'cancel' cancels what is queued; workers end once the
** queue is empty. */
BRAIDI_FUNC void braid__pool_shutdown(braid_pool *p, int cancel);
/* Shutdown with cancel, and tells the workers (ext_notify TERMINATE) to
** stop what runs now (a process pool kills its children). */
BRAIDI_FUNC void braid__pool_terminate(braid_pool *p);
BRAIDI_FUNC int braid__pool_is_process(braid_pool *p);
BRAIDI_FUNC unsigned braid__pool_flags(braid_pool *p);
BRAIDI_FUNC void *braid__pool_ext(braid_pool *p);
/* Waits until every worker has ended. BRAID_OK/ETIMEDOUT. */
BRAIDI_FUNC int braid__pool_join(braid_pool *p, const braid__deadline *d);
BRAIDI_FUNC int braid__pool_broken(braid_pool *p);
BRAIDI_FUNC int braid__pool_is_shutdown(braid_pool *p);
BRAIDI_FUNC int braid__pool_max_workers(braid_pool *p);
BRAIDI_FUNC int braid__pool_alive(braid_pool *p); /* workers running */

/* For workers (the binding's entry function). 'p' is t->ud. */
BRAIDI_FUNC braid_msg *braid__pool_init_msg(braid_pool *p); /* NULL: none */
/* Blocks for work. BRAID_OK (filled '*w'), BRAID_ESHUTDOWN (exit), or
** BRAID_EBROKEN (exit). '*buf'/'*cap' is the worker's item buffer. */
BRAIDI_FUNC int braid__pool_take(braid_pool *p, braid_work *w,
                                 braid_item **buf, size_t *cap);
/* Like braid__pool_take without waiting, for a worker that has work
** already: only the next chunk of 'job', and only while no other worker
** is idle. BRAID_EAGAIN otherwise. */
BRAIDI_FUNC int braid__pool_try_take(braid_pool *p, braid_work *w,
                                     braid_item **buf, size_t *cap,
                                     const braid_job *job);
BRAIDI_FUNC long braid__pool_maxtasks(braid_pool *p); /* 0: unlimited */
/* Stores a chunk's result (status OK/EXC; 'm' taken) and drops the
** work's references. */
BRAIDI_FUNC void braid__pool_chunk_done(braid_work *w, int status,
                                        braid_msg *m);
/* Marks the pool broken (an initializer failed): queued work fails. */
BRAIDI_FUNC void braid__pool_break(braid_pool *p);
/* 1 when this worker should end after 'ntasks' tasks (maxtasksperchild):
** a replacement is started. */
BRAIDI_FUNC int braid__pool_retire(braid_pool *p, long ntasks);
/* The worker's last act, after its state is closed and its thread
** finished: drops its reference to the pool. */
BRAIDI_FUNC void braid__pool_worker_exit(braid_pool *p);
/* } ------ */

#endif

/*
** queue.h: multi-producer, multi-consumer queues of encoded messages
** (FIFO, LIFO, priority, simple), with Python's queue semantics.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_QUEUE_H
#define BRAID_QUEUE_H

#include "braidint.h"
#include "handle.h"
#include "os.h"
#include "qval.h"
#include "wire.h"

typedef struct braid_queue braid_queue;

enum {
  BRAID_QUEUE_FIFO,
  BRAID_QUEUE_LIFO,
  BRAID_QUEUE_PRIORITY,
  BRAID_QUEUE_SIMPLE
};

BRAIDI_FUNC const braid_handle_type braid__queue_type;
BRAIDI_FUNC const braid_handle_type braid__lifoqueue_type;
BRAIDI_FUNC const braid_handle_type braid__priorityqueue_type;
BRAIDI_FUNC const braid_handle_type braid__simplequeue_type;

/* 'maxsize' <= 0 means unbounded. Returns BRAID_OK or BRAID_ENOMEM. */
BRAIDI_FUNC int braid__queue_new(braid_queue **out, int kind, long maxsize);
BRAIDI_FUNC int braid__queue_kind(const braid_queue *q);

/* Puts the 'n' messages of 'ms' in order, waiting for room when the queue
** is bounded (unless '!block'; 'timeout' < 0 waits forever) and counting
** each item as an unfinished task. A message may be a batch (several
** items) only when the queue is unbounded. Messages put are owned by the
** queue; '*put' tells how many (the caller frees the rest). Returns BRAID_OK (all put),
** BRAID_EFULL (room did not come in time), BRAID_ESHUTDOWN, or, for a
** priority queue, BRAID_ENOTSUP when an item cannot be ordered against
** the items it must be compared with ('why' then names the two types).
** Never calls into Lua. */
BRAIDI_FUNC int braid__queue_put(braid_queue *q, braid_msg **ms, size_t n,
                                 int block, double timeout, size_t *put,
                                 char *why, size_t whylen);

/* Takes between 1 and 'max' items into 'out' (oldest first for FIFO),
** waiting for the first one unless '!block' ('timeout' < 0: forever).
** Returns BRAID_OK with '*n' >= 1, BRAID_EEMPTY, or BRAID_ESHUTDOWN (shut
** down and empty). The caller decodes and releases the items
** (braid__decode_items). Scalars put with braid__queue_put_val come as
** new messages; if memory for one is short, it stays queued and the call
** returns the items before it, or BRAID_ENOMEM. Never calls into Lua. */
BRAIDI_FUNC int braid__queue_get(braid_queue *q, braid_item *out, size_t max,
                                 size_t *n, int block, double timeout);

/* braid__queue_get for consumers that take scalars as they are (qval.h):
** the items go to 'out' as BRAID_QV_MSG (an item to decode and release
** as braid__queue_get's) or as a scalar, which needs nothing more. */
BRAIDI_FUNC int braid__queue_get_vals(braid_queue *q, braid_qval *out,
                                      size_t max, size_t *n, int block,
                                      double timeout);

/* Puts scalar 'v' (not BRAID_QV_MSG) in a slot of a fast queue (an
** unbounded FIFO or a SimpleQueue: they never wait for room), without a
** message: no allocation, no encoding, no cache line of a message going
** from producer to consumer. Counts it as an unfinished task as put does.
** Returns BRAID_OK, BRAID_ESHUTDOWN, BRAID_ENOMEM (a new segment), or
** BRAID_EAGAIN when the queue is not (or no longer) fast: the caller
** then encodes the value and uses braid__queue_put. A C consumer's
** braid__queue_get receives the scalar as a message. */
BRAIDI_FUNC int braid__queue_put_val(braid_queue *q, const braid_qval *v);

/* 1 while the queue takes the fast path (unbounded FIFO or SimpleQueue,
** never given a bound): the one braid__queue_put_val takes. */
BRAIDI_FUNC int braid__queue_is_fast(braid_queue *q);

/* Returns BRAID_OK, or BRAID_EINVAL when called more times than items
** were put. */
BRAIDI_FUNC int braid__queue_task_done(braid_queue *q);
/* Waits until every item put has been marked done (or 'timeout' passes:
** BRAID_ETIMEDOUT). */
BRAIDI_FUNC int braid__queue_join(braid_queue *q, double timeout);
/* Python 3.13's shutdown: later puts raise ShutDown, gets raise it once
** the queue is empty; 'immediate' also drops what is queued (and counts
** those items done). Wakes every waiter. */
BRAIDI_FUNC void braid__queue_shutdown(braid_queue *q, int immediate);
BRAIDI_FUNC size_t braid__queue_qsize(braid_queue *q);
BRAIDI_FUNC long braid__queue_maxsize(braid_queue *q);
/* Python's 'q.maxsize = n': every later put sees the new bound ('maxsize'
** <= 0: unbounded). A larger bound (or none) wakes every blocked putter
** to look again; a smaller one only makes later puts wait (items queued
** stay). An unbounded FIFO given a bound leaves its fast path for good
** (BRAID_ENOMEM, nothing changed, if its scalars cannot become messages).
** A put_many batch made while the queue was unbounded may still go in
** whole. BRAID_EINVAL for a SimpleQueue (it has no maxsize). */
BRAIDI_FUNC int braid__queue_set_maxsize(braid_queue *q, long maxsize);
BRAIDI_FUNC int braid__queue_is_shutdown(braid_queue *q);
BRAIDI_FUNC long braid__queue_unfinished(braid_queue *q);

/* The process-wide spin of blocked gets and puts, in nanoseconds, before
** they sleep (BRAID_SPIN_NS, or the environment variable BRAID_SPIN_NS
** read once). Returns the current value; 'set' >= 0 changes it. */
BRAIDI_FUNC long braid__queue_spin_ns(long set);

/* Small messages go back to their producers instead of to free(): a
** consumer hands each item it decoded to braid__queue_done (a lock-free
** push for spare messages, a release otherwise) and a producer takes the
** whole stack with braid__queue_take_spares (one atomic exchange, so no
** ABA problem) into its own cache. Saves a malloc/free pair per item on
** the two threads that would otherwise fight over the allocator. */
BRAIDI_FUNC void braid__queue_done(braid_msg *m, void *q);
BRAIDI_FUNC braid_msg *braid__queue_take_spares(braid_queue *q);

#endif

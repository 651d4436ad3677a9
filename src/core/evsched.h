/*
** evsched.h: the event queue of braid.sched (Python's sched.scheduler),
** shared by reference between threads.
** See LICENSE for copyright and license.
**
** Each event is one encoded message of the Lua sequence {time, priority,
** sequence, action, argument}; events are kept sorted by
** braid__item_compare on it, which is Python's tuple order of
** (time, priority, sequence) (sequences are unique, so the comparison
** never reaches the action). The object also keeps the encoded pair
** {timefunc, delayfunc}, decoded by each state that uses it.
**
** Events are reference-counted (braid_sched_event) so that a state can
** decode one outside the lock while another thread cancels or runs it.
** Nothing here calls Lua; the mutex is held only to link and unlink.
*/
#ifndef BRAID_EVSCHED_H
#define BRAID_EVSCHED_H

#include <stdint.h>

#include "braidint.h"
#include "handle.h"
#include "os.h"
#include "wire.h"

typedef struct braid_sched_event {
  atomic_long refs;
  braid_msg *m; /* owned */
  double time;
  int64_t seq;
} braid_sched_event;

typedef struct braid_sched {
  braid_handle h;
  braid__mutex mu;
  braid_sched_event **ev; /* sorted, earliest first */
  size_t n, cap;
  int64_t next_seq;
  braid_msg *funcs; /* {timefunc, delayfunc}, owned, immutable */
} braid_sched;

BRAIDI_FUNC const braid_handle_type braid__sched_type;

/* A new scheduler adopting 'funcs'. */
BRAIDI_FUNC int braid__sched_new(braid_sched **out, braid_msg *funcs);
/* The next sequence number (Python's itertools.count). */
BRAIDI_FUNC int64_t braid__sched_next_seq(braid_sched *s);
/* Adopts 'm' (the encoded event, its sequence 'seq', its time) and links
** it in order. BRAID_ENOTSUP when its priority cannot be ordered against
** another event's (*why_a and *why_b name the kinds; 'm' is freed). */
BRAIDI_FUNC int braid__sched_push(braid_sched *s, braid_msg *m, double time,
                                  int64_t seq, const char **why_a,
                                  const char **why_b);
/* Unlinks the event of sequence 'seq'; BRAID_EINVAL when it is not
** queued (ran, or cancelled before). */
BRAIDI_FUNC int braid__sched_cancel(braid_sched *s, int64_t seq);
BRAIDI_FUNC size_t braid__sched_count(braid_sched *s);
/* The run loop's step: with the queue empty, BRAID_EEMPTY; when the
** first event's time is after 'now', BRAID_ETIMEDOUT with *time set;
** otherwise unlinks it and gives it in *out (the caller releases it). */
BRAIDI_FUNC int braid__sched_pop_due(braid_sched *s, double now,
                                     braid_sched_event **out, double *time);
/* A snapshot of the queue, in order: *out is an array of *n retained
** events (braid__free it after releasing each). */
BRAIDI_FUNC int braid__sched_snapshot(braid_sched *s,
                                      braid_sched_event ***out, size_t *n);
BRAIDI_FUNC void braid__sched_event_release(braid_sched_event *e);

#endif

/*
** psync.h: multiprocessing's synchronisation objects (Lock, RLock,
** Semaphore, BoundedSemaphore, Condition, Event, Barrier) in shared memory.
** See LICENSE for copyright and license.
**
** Each object is a small region mapped MAP_SHARED from a memfd, holding a
** process-shared robust mutex, a condition variable and the object's
** state, so the same object works between threads and between processes:
** a forked child inherits the mapping, a spawned one receives the fd and
** maps it again (braid__psync_attach).
**
** Owner death: a Lock or RLock records its owner's pid. A waiter that
** finds the owner dead (gone, or a zombie) takes the lock over and its
** acquire reports BRAID_PSYNC_OWNER_DIED. The internal mutex is robust, so
** a process killed inside a call never blocks the others either.
**
** Timeouts are seconds; negative means forever (the binding applies
** multiprocessing's rule that a user's negative timeout is 0).
*/
#ifndef BRAID_PSYNC_H
#define BRAID_PSYNC_H

#include "braidint.h"
#include "handle.h"

enum {
  BRAID_PS_LOCK, BRAID_PS_RLOCK, BRAID_PS_SEMAPHORE, BRAID_PS_BSEMAPHORE,
  BRAID_PS_CONDITION, BRAID_PS_EVENT, BRAID_PS_BARRIER, BRAID_PS_NKINDS
};

/* acquire: a positive result besides BRAID_OK */
#define BRAID_PSYNC_OWNER_DIED 1

typedef struct braid_psync_shm braid_psync_shm;

typedef struct braid_psync {
  braid_handle h;
  int kind;
  int fd;           /* memfd (-1: anonymous, fork only) */
  size_t size;      /* bytes mapped */
  braid_psync_shm *s;
  struct braid_psync *lock; /* Condition: its lock (retained) */
} braid_psync;

BRAIDI_FUNC const braid_handle_type braid__psync_types[BRAID_PS_NKINDS];

/* New object; 'value' is the initial value of semaphores, the parties of
** a barrier; 'lock' (retained) the lock of a condition; 'action' the
** encoded action of a barrier (copied, may be NULL); 'timeout' a barrier's
** default. Returns BRAID_OK, BRAID_ENOMEM or BRAID_EOS. */
BRAIDI_FUNC int braid__psync_new(braid_psync **out, int kind, int64_t value,
                                 braid_psync *lock, const void *action,
                                 size_t action_len, double timeout);
/* Maps the object of 'fd' (dup'ed: the caller keeps its fd). Checks the
** kind and size. Returns BRAID_OK, BRAID_EINVAL or BRAID_EOS. */
BRAIDI_FUNC int braid__psync_attach(braid_psync **out, int kind, int fd,
                                    size_t size, braid_psync *lock);

/* Lock / RLock / Semaphore. Returns BRAID_OK, BRAID_PSYNC_OWNER_DIED
** (taken over from a dead owner), or BRAID_ETIMEDOUT. */
BRAIDI_FUNC int braid__psync_acquire(braid_psync *p, int blocking,
                                     double timeout);
/* Lock: BRAID_ESTATE when not locked. RLock: BRAID_EPERM when not owned.
** Semaphore: BRAID_EINVAL when a bounded one would pass its initial. */
BRAIDI_FUNC int braid__psync_release(braid_psync *p);
/* Lock/RLock: locked?  Semaphore: the value.  Event: the flag. */
BRAIDI_FUNC int64_t braid__psync_value(braid_psync *p);
/* RLock: count when owned by the caller (0 otherwise). */
BRAIDI_FUNC int64_t braid__psync_owned(braid_psync *p);

/* Condition (its lock must be held by the caller: BRAID_EPERM otherwise).
** wait returns BRAID_OK (notified) or BRAID_ETIMEDOUT. */
BRAIDI_FUNC int braid__psync_wait(braid_psync *c, double timeout);
BRAIDI_FUNC int braid__psync_notify(braid_psync *c, int64_t n);

/* Event */
BRAIDI_FUNC void braid__psync_set(braid_psync *e, int flag);
BRAIDI_FUNC int braid__psync_event_wait(braid_psync *e, double timeout);

/* Barrier: like sync.h's. '*index' 0..parties-1; '*run_action' set for
** the last arrival, which runs the action and then calls
** braid__psync_action_done. BRAID_OK or BRAID_EBROKEN. */
BRAIDI_FUNC int braid__psync_bwait(braid_psync *b, double timeout,
                                   int64_t *index, int *run_action);
BRAIDI_FUNC void braid__psync_action_done(braid_psync *b, int ok);
BRAIDI_FUNC void braid__psync_action(braid_psync *b, const void **p,
                                     size_t *len);
BRAIDI_FUNC void braid__psync_reset(braid_psync *b);
BRAIDI_FUNC void braid__psync_abort(braid_psync *b);
BRAIDI_FUNC void braid__psync_binfo(braid_psync *b, int64_t *parties,
                                    int64_t *n_waiting, int *broken,
                                    double *timeout);

/* Helpers shared with the other shared-memory objects (mpqueue.c). */
/* Maps 'size' zeroed shared bytes: '*fd' a memfd (or -1). */
BRAIDI_FUNC void *braid__pshm_map(size_t size, const char *name, int *fd);
/* Maps an existing 'fd' of at least 'size' bytes (dup'ed into '*dupfd'). */
BRAIDI_FUNC void *braid__pshm_attach(int fd, size_t size, int *dupfd);
/* 1 when process 'pid' is gone or a zombie. */
BRAIDI_FUNC int braid__pid_dead(int pid);

#endif

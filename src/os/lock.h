/*
** lock.h: a small mutual-exclusion lock for short critical sections that
** are taken on every queue operation (the fast queue's producer and
** consumer locks), without a condition variable.
** See LICENSE for copyright and license.
**
** Why not braid__mutex: an uncontended pthread mutex costs a call into
** libc through the PLT, its type checks and owner bookkeeping on lock and
** unlock, on top of the one atomic instruction each needs; on the
** single-item queue path that was a sixth of the CPU time. Here the
** uncontended lock is one compare-and-swap and the unlock one exchange,
** both inline. Contended, a taker spins briefly (the holder's section is
** a few pointer moves), then sleeps on the lock word (a futex on Linux,
** a yield loop elsewhere); the unlock wakes one sleeper only when the
** word says someone sleeps. The word: 0 free, 1 held, 2 held with
** (possible) sleepers, as in Drepper's "Futexes Are Tricky".
**
** Acquire/release orderings make everything written under the lock
** visible to the next holder; ThreadSanitizer sees them as such.
*/
#ifndef BRAID_LOCK_H
#define BRAID_LOCK_H

#include <stdatomic.h>

typedef struct braid__lock {
  atomic_int w;
} braid__lock;

/* The contended paths (lock.c). */
void braid__lock_wait(braid__lock *l);
void braid__lock_wake(braid__lock *l);

static inline void braid__lock_init(braid__lock *l) {
  atomic_init(&l->w, 0);
}

/* 1 when taken, 0 when another holds it (not waited for). */
static inline int braid__lock_try(braid__lock *l) {
  int e = 0;
  return atomic_compare_exchange_strong_explicit(&l->w, &e, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed);
}

static inline void braid__lock_acquire(braid__lock *l) {
  if (!braid__lock_try(l)) braid__lock_wait(l);
}

static inline void braid__lock_release(braid__lock *l) {
  if (atomic_exchange_explicit(&l->w, 0, memory_order_release) == 2)
    braid__lock_wake(l);
}

#endif

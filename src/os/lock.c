/*
** lock.c: the contended paths of braid__lock (lock.h).
** See LICENSE for copyright and license.
*/
#include <sched.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "lock.h"
#include "os.h"

/* Polls of the word before sleeping: the holder's section is a few
** pointer moves, so a holder running on another CPU lets go within this
** many; one that was preempted does not, and then we sleep. */
#define LOCK_SPINS 100


void braid__lock_wait(braid__lock *l) {
  int i, e;
  for (i = 0; i < LOCK_SPINS; i++) {
    braid__cpu_relax();
    e = 0;
    if (atomic_load_explicit(&l->w, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&l->w, &e, 1,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      return;
  }
  /* mark the word "held with sleepers" and sleep while it stays held;
  ** whoever takes it this way leaves it at 2, so its unlock wakes the
  ** next sleeper (at worst one wake-up too many) */
  while (atomic_exchange_explicit(&l->w, 2, memory_order_acquire) != 0) {
#if defined(__linux__)
    syscall(SYS_futex, &l->w, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
#else
    sched_yield();
#endif
  }
}


void braid__lock_wake(braid__lock *l) {
#if defined(__linux__)
  syscall(SYS_futex, &l->w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
  (void)l;
#endif
}

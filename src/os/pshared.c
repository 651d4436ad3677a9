/*
** pshared.c: process-shared robust mutexes and condition variables.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "intr.h"
#include "pshared.h"
#include "spin.h"

int braid__pmutex_init(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  int rc;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  rc = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  return rc;
}


static void fatal(const char *what, int rc) {
  fprintf(stderr, "braid: %s failed: error %d\n", what, rc);
  abort();
}


int braid__pmutex_lock(pthread_mutex_t *m) {
  int rc = pthread_mutex_lock(m);
  if (rc == 0) return 0;
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(m);
    return 1;
  }
  fatal("pthread_mutex_lock (process-shared)", rc);
  return 0;
}


void braid__pmutex_unlock(pthread_mutex_t *m) {
  int rc = pthread_mutex_unlock(m);
  if (rc != 0) fatal("pthread_mutex_unlock (process-shared)", rc);
}


int braid__pcond_init(pthread_cond_t *c) {
  pthread_condattr_t a;
  int rc;
  pthread_condattr_init(&a);
  pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  rc = pthread_cond_init(c, &a);
  pthread_condattr_destroy(&a);
  return rc;
}


static int waitat(pthread_cond_t *c, pthread_mutex_t *m,
                  const struct timespec *at) {
  int rc;
  braid__block_begin(); /* the count of running threads (spin.h) */
  rc = at ? pthread_cond_timedwait(c, m, at) : pthread_cond_wait(c, m);
  braid__block_end();
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(m);
    return 0;
  }
  if (rc == ETIMEDOUT) return 1;
  if (rc != 0 && rc != EINTR) fatal("pthread_cond_wait (process-shared)", rc);
  return 0;
}


/* Once a SIGINT handler exists, waits with a deadline are sliced and end
** as timed out when the interrupt state says so (intr.h, as
** braid__cond_wait). */
static int interrupted(pthread_cond_t *c, pthread_mutex_t *m) {
  braid__deadline s;
  if (!braid__intr_stop()) return 0;
  if (!braid__intr_armed()) { /* a cancelled worker: no spinning caller */
    s = braid__deadline_in(BRAID_INTR_SLICE);
    waitat(c, m, &s.at);
  }
  return 1;
}


int braid__pcond_wait(pthread_cond_t *c, pthread_mutex_t *m,
                      const braid__deadline *d) {
  /* nothing to wait for: no sleep until an expired timer (os_posix.c) */
  if (d != NULL && braid__deadline_expired(d)) return 1;
  if (d != NULL &&
      atomic_load_explicit(&braid__intr_active, memory_order_relaxed)) {
    if (interrupted(c, m)) return 1;
    return braid__pcond_wait_slice(c, m, d, braid__intr_slice());
  }
  if (d == NULL || d->forever) return waitat(c, m, NULL);
  return waitat(c, m, &d->at);
}


int braid__pcond_wait_slice(pthread_cond_t *c, pthread_mutex_t *m,
                            const braid__deadline *d, double slice) {
  braid__deadline s;
  if (atomic_load_explicit(&braid__intr_active, memory_order_relaxed) &&
      interrupted(c, m))
    return 1;
  if (atomic_load_explicit(&braid__intr_active, memory_order_relaxed) &&
      slice > braid__intr_slice())
    slice = braid__intr_slice();
  s = braid__deadline_in(slice);
  if (d != NULL && !d->forever &&
      (d->at.tv_sec < s.at.tv_sec ||
       (d->at.tv_sec == s.at.tv_sec && d->at.tv_nsec <= s.at.tv_nsec)))
    return waitat(c, m, &d->at);
  waitat(c, m, &s.at);
  return (d != NULL && braid__deadline_passed(d)) ||
         (atomic_load_explicit(&braid__intr_active, memory_order_relaxed) &&
          braid__intr_stop());
}


long braid__pfutex(_Atomic uint32_t *w, int op, uint32_t v,
                   const struct timespec *ts) {
  /* not FUTEX_PRIVATE_FLAG: the word is in a mapping shared by processes */
  return syscall(SYS_futex, (uint32_t *)w, op, v, ts, NULL, 0);
}


int braid__pwrite_all(int fd, const void *p, size_t n, off_t at) {
  const char *c = (const char *)p;
  while (n > 0) {
    ssize_t k = pwrite(fd, c, n, at);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += k;
    at += k;
    n -= (size_t)k;
  }
  return 0;
}


int braid__pmutex_held(pthread_mutex_t *m) {
  int rc = pthread_mutex_trylock(m);
  if (rc == EBUSY) return 1;
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(m);
    pthread_mutex_unlock(m);
    errno = EPIPE;
    return -1;
  }
  if (rc != 0) { /* ENOTRECOVERABLE, or bytes that are no mutex */
    errno = EIO;
    return -1;
  }
  pthread_mutex_unlock(m);
  return 0;
}

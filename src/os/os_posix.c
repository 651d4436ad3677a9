/*
** os_posix.c: the platform seam on POSIX systems.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "braidconf.h"
#include "intr.h"
#include "os.h"
#include "spin.h"


static void fatal(const char *what, int err) {
  fprintf(stderr, "braid: %s failed: %s\n", what, strerror(err));
  abort();
}


void braid__mutex_init(braid__mutex *m) {
  int err = pthread_mutex_init(m, NULL);
  if (err) fatal("pthread_mutex_init", err);
}


void braid__mutex_init_adaptive(braid__mutex *m) {
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
  pthread_mutexattr_t attr;
  int err = pthread_mutexattr_init(&attr);
  if (err) fatal("pthread_mutexattr_init", err);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  err = pthread_mutex_init(m, &attr);
  if (err) fatal("pthread_mutex_init", err);
  pthread_mutexattr_destroy(&attr);
#else
  braid__mutex_init(m);
#endif
}


void braid__mutex_destroy(braid__mutex *m) {
  pthread_mutex_destroy(m);
}


void braid__mutex_lock(braid__mutex *m) {
  int err = pthread_mutex_lock(m);
  if (err) fatal("pthread_mutex_lock", err);
}


void braid__mutex_unlock(braid__mutex *m) {
  int err = pthread_mutex_unlock(m);
  if (err) fatal("pthread_mutex_unlock", err);
}


int braid__mutex_trylock(braid__mutex *m) {
  int err = pthread_mutex_trylock(m);
  if (err == 0) return 1;
  if (err != EBUSY) fatal("pthread_mutex_trylock", err);
  return 0;
}


void braid__cond_init(braid__cond *c) {
  pthread_condattr_t attr;
  int err = pthread_condattr_init(&attr);
  if (err) fatal("pthread_condattr_init", err);
  err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (err) fatal("pthread_condattr_setclock", err);
  err = pthread_cond_init(c, &attr);
  if (err) fatal("pthread_cond_init", err);
  pthread_condattr_destroy(&attr);
}


void braid__cond_destroy(braid__cond *c) {
  pthread_cond_destroy(c);
}


void braid__cond_signal(braid__cond *c) {
  int err = pthread_cond_signal(c);
  if (err) fatal("pthread_cond_signal", err);
}


void braid__cond_broadcast(braid__cond *c) {
  int err = pthread_cond_broadcast(c);
  if (err) fatal("pthread_cond_broadcast", err);
}


/* A wait with a deadline once a SIGINT handler exists (intr.h): at most
** BRAID_INTR_SLICE at a time, and "deadline passed" when the interrupt
** state says this thread must stop. A wake-up at the end of a slice is a
** spurious one for the caller, which loops on its predicate. A cancelled
** worker sleeps its slice before it is told, so that a caller which
** retries on timeouts cannot spin. */
static int sliced_wait(braid__cond *c, braid__mutex *m,
                       const braid__deadline *d) {
  braid__deadline s;
  int err;
  if (braid__intr_stop()) {
    if (braid__intr_armed()) return 1;
    s = braid__deadline_in(BRAID_INTR_SLICE);
    pthread_cond_timedwait(c, m, &s.at);
    return 1;
  }
  s = braid__deadline_in(braid__intr_slice());
  if (!d->forever && (d->at.tv_sec < s.at.tv_sec ||
                      (d->at.tv_sec == s.at.tv_sec &&
                       d->at.tv_nsec <= s.at.tv_nsec)))
    s = *d;
  err = pthread_cond_timedwait(c, m, &s.at);
  if (err == ETIMEDOUT) return braid__deadline_passed(d);
  if (err && err != EINTR) fatal("pthread_cond_timedwait", err);
  return 0;
}


static int cond_wait(braid__cond *c, braid__mutex *m,
                     const braid__deadline *d) {
  int err;
  if (d != NULL &&
      atomic_load_explicit(&braid__intr_active, memory_order_relaxed))
    return sliced_wait(c, m, d);
  if (d == NULL || d->forever) {
    err = pthread_cond_wait(c, m);
    if (err) fatal("pthread_cond_wait", err);
    return 0;
  }
  err = pthread_cond_timedwait(c, m, &d->at);
  if (err == ETIMEDOUT) return 1;
  if (err && err != EINTR) fatal("pthread_cond_timedwait", err);
  return 0;
}


/* The sleep brackets keep the count of running threads (spin.h). A
** deadline that has passed (a poll: a zero timeout, the first check of a
** blocking wait) returns at once: pthread_cond_timedwait would still go
** to sleep in the kernel until its expired timer woke it, a context
** switch each (~5-10 us here; seen as half of a map caller's sleeps). */
int braid__cond_wait(braid__cond *c, braid__mutex *m,
                     const braid__deadline *d) {
  int r;
  if (d != NULL && braid__deadline_expired(d)) return 1;
  braid__block_begin();
  r = cond_wait(c, m, d);
  braid__block_end();
  return r;
}


double braid__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


braid__deadline braid__deadline_in(double timeout) {
  braid__deadline d;
  memset(&d, 0, sizeof d);
  if (timeout < 0 || timeout >= BRAID_TIMEOUT_MAX) {
    d.forever = 1;
    return d;
  }
  clock_gettime(CLOCK_MONOTONIC, &d.at);
  {
    time_t whole = (time_t)timeout;
    long nsec = (long)((timeout - (double)whole) * 1e9);
    d.at.tv_sec += whole;
    d.at.tv_nsec += nsec;
    if (d.at.tv_nsec >= 1000000000L) {
      d.at.tv_sec += 1;
      d.at.tv_nsec -= 1000000000L;
    }
  }
  return d;
}


/* Once a SIGINT handler exists, a thread that must stop (intr.h) finds
** every deadline passed: loops that test their deadline end as timed out. */
#define STOPPING() \
  (atomic_load_explicit(&braid__intr_active, memory_order_relaxed) && \
   braid__intr_stop())


double braid__deadline_left(const braid__deadline *d) {
  struct timespec now;
  double left;
  if (STOPPING()) return 0;
  if (d->forever) return -1;
  clock_gettime(CLOCK_MONOTONIC, &now);
  left = (double)(d->at.tv_sec - now.tv_sec) +
         (double)(d->at.tv_nsec - now.tv_nsec) * 1e-9;
  return left > 0 ? left : 0;
}


int braid__deadline_expired(const braid__deadline *d) {
  struct timespec now;
  if (d->forever) return 0;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (now.tv_sec != d->at.tv_sec) return now.tv_sec > d->at.tv_sec;
  return now.tv_nsec >= d->at.tv_nsec;
}


int braid__deadline_passed(const braid__deadline *d) {
  if (STOPPING()) return 1;
  return braid__deadline_expired(d);
}


int braid__deadline_poll_ms(const braid__deadline *d) {
  double left = braid__deadline_left(d);
  if (atomic_load_explicit(&braid__intr_active, memory_order_relaxed)) {
    double slice = braid__intr_slice();
    if (left < 0 || left > slice) left = slice;
  }
  return left < 0 ? -1 : (int)(left * 1000.0 + 0.999);
}


static void sleep_for(double seconds) {
  struct timespec ts;
  if (braid__intr_armed()) { /* the main thread: in slices (intr.h) */
    braid__deadline d = braid__deadline_in(seconds);
    double left;
    while (!braid__intr_stop() && (left = braid__deadline_left(&d)) != 0) {
      if (left < 0 || left > BRAID_INTR_SLICE) left = BRAID_INTR_SLICE;
      ts.tv_sec = 0;
      ts.tv_nsec = (long)(left * 1e9);
      while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
      }
    }
    return;
  }
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}


void braid__sleep(double seconds) {
  if (seconds <= 0) return;
  braid__block_begin();
  sleep_for(seconds);
  braid__block_end();
}


long braid__native_id(void) {
#ifdef SYS_gettid
  return (long)syscall(SYS_gettid);
#else
  return (long)getpid();
#endif
}


void braid__set_thread_name(const char *name) {
#if defined(__linux__)
  char buf[16];
  snprintf(buf, sizeof buf, "%s", name);
  pthread_setname_np(pthread_self(), buf);
#else
  (void)name;
#endif
}


void braid__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__("pause");
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}


/* The descriptor waits' spin adapts per thread, as each queue's does
** (queue.c, spin_until): 'tl_budget' (ns; 0: not set, the caller's
** longest) halves after a spin that saw nothing, down to POLL_SPIN_MIN_NS,
** doubles after one that saw its descriptor ready, and a blocking poll
** that follows a failed spin and returns ready sooner than the longest
** spin sets it to twice that wait: a partner answering in 10 us is met by
** spinning, one answering in a millisecond costs a 1 us spin per wait. */
#define POLL_SPIN_MIN_NS 1000
static BRAID_TLS long tl_budget;
static BRAID_TLS double tl_failed_at; /* when a failed spin began; 0 */
static BRAID_TLS long tl_max;         /* its caller's longest spin */


void braid__os_thread_reset(void) {
  tl_budget = 0;
  tl_failed_at = 0;
  tl_max = 0;
  braid__spin_thread_reset();
  braid__intr_thread_reset();
}

int braid__poll(struct pollfd *p, unsigned long n, int ms) {
  int r;
  if (ms == 0) return poll(p, (nfds_t)n, 0);
  braid__block_begin();
  r = poll(p, (nfds_t)n, ms);
  braid__block_end(); /* keeps errno: atomics only */
  if (tl_failed_at > 0) {
    if (r > 0) {
      double waited = (braid__now() - tl_failed_at) * 1e9;
      if (waited < (double)tl_max && (long)(waited * 2) > tl_budget)
        tl_budget = (long)(waited * 2) < tl_max ? (long)(waited * 2) : tl_max;
    }
    if (r != 0) tl_failed_at = 0;
  }
  return r;
}


int braid__poll_spin(struct pollfd *p, unsigned long n, long ns,
                     double timeout) {
  double t0, end, span;
  long budget = tl_budget;
  if (budget <= 0 || budget > ns) budget = ns;
  span = (double)budget * 1e-9;
  if (timeout >= 0 && timeout < span) span = timeout;
  tl_failed_at = 0;
  if (span <= 0 || !braid__spin_start()) return 0;
  t0 = braid__now();
  end = t0 + span;
  do {
    int r = poll(p, (nfds_t)n, 0);
    if (r != 0) {
      if (r > 0 && budget < ns) tl_budget = budget * 2 < ns ? budget * 2 : ns;
      return r > 0 ? r : 0;
    }
    braid__cpu_relax();
  } while (braid__now() < end && braid__spin_continue());
  if (braid__now() >= end && span >= (double)budget * 1e-9) {
    /* a whole spin saw nothing (not one cut short by a timeout or by
    ** the CPUs being needed, which say nothing of the partner) */
    tl_budget = budget / 2 > POLL_SPIN_MIN_NS ? budget / 2 : POLL_SPIN_MIN_NS;
    tl_failed_at = t0;
    tl_max = ns;
  }
  return 0;
}

/*
** os.h: the platform seam: mutexes, condition variables, monotonic time,
** deadlines and threads. Core files use these and never pthreads directly.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_OS_H
#define BRAID_OS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

typedef pthread_mutex_t braid__mutex;
typedef pthread_cond_t braid__cond;

/* A point in monotonic time, or 'never' when 'forever' is set. Every wait
** turns its timeout into a deadline once and loops on its predicate until
** the deadline, so spurious wake-ups neither shorten nor extend it. */
typedef struct braid__deadline {
  struct timespec at;
  int forever;
} braid__deadline;

/* Lock and unlock cannot fail in a correct program: they abort on error. */
void braid__mutex_init(braid__mutex *m);
/* A mutex that spins briefly before sleeping (for short, hot sections). */
void braid__mutex_init_adaptive(braid__mutex *m);
void braid__mutex_destroy(braid__mutex *m);
void braid__mutex_lock(braid__mutex *m);
void braid__mutex_unlock(braid__mutex *m);
int braid__mutex_trylock(braid__mutex *m); /* 1 when acquired */

void braid__cond_init(braid__cond *c); /* waits measure CLOCK_MONOTONIC */
void braid__cond_destroy(braid__cond *c);
void braid__cond_signal(braid__cond *c);
void braid__cond_broadcast(braid__cond *c);
/* Waits until signalled or 'd' passes. Returns 0, or 1 when 'd' passed
** (at once, the mutex kept, when it had passed already). Callers loop on
** their predicate. */
int braid__cond_wait(braid__cond *c, braid__mutex *m, const braid__deadline *d);

double braid__now(void); /* monotonic seconds */
/* Deadline 'timeout' seconds from now; a negative timeout never expires. */
braid__deadline braid__deadline_in(double timeout);
int braid__deadline_passed(const braid__deadline *d);
/* 1 when the time of 'd' has come (never for forever), whatever the
** interrupt state: the waits' check that there is nothing to wait for. */
int braid__deadline_expired(const braid__deadline *d);
/* Seconds left before 'd' (0 when passed, -1 for forever). Once a SIGINT
** handler exists, a thread that must stop for an interrupt (intr.h) finds
** every deadline passed. */
double braid__deadline_left(const braid__deadline *d);
/* Milliseconds for the next poll() of a wait until 'd' (-1: forever): at
** most one interrupt slice once a SIGINT handler exists. */
int braid__deadline_poll_ms(const braid__deadline *d);

/* Sleeps; 'seconds' may be fractional. On the thread armed for SIGINT
** (intr.h) it ends early when an interrupt is pending. */
void braid__sleep(double seconds);

/* Kernel thread id of the calling thread (Python's get_native_id). */
long braid__native_id(void);
/* Short OS-visible name of the calling thread (best effort). */
void braid__set_thread_name(const char *name);
/* Puts back what the seam keeps per thread (spin budgets and decisions,
** the interrupt mask) to a new thread's values: a parked thread (park.h)
** calls it between two runs, so that nothing of one leaks into the next.
** The spin registration stays: the thread still exists. */
void braid__os_thread_reset(void);

/* Spin hint for busy-wait loops. */
void braid__cpu_relax(void);

/* Polls 'p' (n descriptors) without sleeping for up to 'ns' nanoseconds
** (less where the calling thread's spins have been failing; not at all
** where the spin policy, spin.h, says a spin would take a CPU another
** thread needs), and no longer than 'timeout' seconds when that is >= 0
** (0: not at all):
** the number ready (> 0), or 0 when none became ready meanwhile (or on an
** error, which the caller's blocking poll then reports). A peer's answer
** that arrives while we spin costs no wake-up, which takes tens of
** microseconds across cores on some virtual machines. */
struct pollfd;
int braid__poll_spin(struct pollfd *p, unsigned long n, long ns,
                     double timeout);

/* poll(), as a sleep for the count of running threads that tells a
** waiter whether it may spin (spin.h): every wait that blocks in poll()
** uses this. Same result and errno as poll(). */
int braid__poll(struct pollfd *p, unsigned long n, int ms);

#endif

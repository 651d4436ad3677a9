/*
** intr.c: the SIGINT handler, the interrupt state and the children
** registry (intr.h has the design).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "intr.h"

atomic_int braid__intr_active;

static atomic_int state;     /* BRAID_INTR_* */
static atomic_int cancelled; /* workers' waits end (a KeyboardInterrupt was
                                raised) */
/* Nonzero while anything may stop a wait (PENDING, or cancelled): the one
** load the hot paths pay (a _Thread_local in a dlopen'ed module costs a
** __tls_get_addr call). */
static atomic_int anything;
static atomic_int installed;
static struct sigaction old_action;
static void (*volatile notify_fn)(void);
static _Thread_local int armed;
static pthread_t armed_thread; /* the armed thread, while 'installed' */
/* SIGINTs sent by braid__intr_simulate not yet handled: the handler
** takes them as first interrupts only, never as the second Ctrl-C that
** ends the process. */
static atomic_int simulated;
static _Thread_local int masked; /* braid__intr_mask: waits not cut */

/* Lock-free so that the handler can walk it: a slot holds a pid or 0;
** 'hiwater' bounds the walk. */
static atomic_int kids[BRAID_INTR_MAXKIDS];
static atomic_int hiwater;


/* Async-signal-safe: SIGKILL for the forkserver's children first (the
** server, one of ours, reaps them), then for ours, reaped here so that no
** zombie is left to an init that may not reap; bounded by ~0.5 s. */
void braid__children_kill_now(void) {
  struct timespec ts = {0, 2000000L};
  int k;
  braid__children_signal(SIGKILL, BRAID_KIDS_SERVED);
  for (k = 0; k < 100 && braid__children_reap(BRAID_KIDS_SERVED) > 0; k++)
    nanosleep(&ts, NULL);
  braid__children_signal(SIGKILL, BRAID_KIDS_ALL);
  for (k = 0; k < 150 && braid__children_reap(BRAID_KIDS_ALL) > 0; k++)
    nanosleep(&ts, NULL);
}


static void on_sigint(int sig) {
  int e = errno, expected = BRAID_INTR_IDLE, sim = atomic_load(&simulated);
  (void)sig;
  while (sim > 0 && !atomic_compare_exchange_weak(&simulated, &sim, sim - 1)) {
  }
  if (atomic_compare_exchange_strong(&state, &expected, BRAID_INTR_PENDING)) {
    void (*fn)(void) = notify_fn;
    atomic_store(&anything, 1);
    if (fn != NULL) fn();
    errno = e;
    return;
  }
  if (sim > 0) { /* an interrupt_main while one is under way: nothing */
    errno = e;
    return;
  }
  /* A second SIGINT: no more unwinding, the tree goes now. */
  braid__children_kill_now();
  braid__intr_die(0);
}


int braid__intr_install(void (*notify)(void)) {
  struct sigaction sa, cur;
  if (atomic_load(&installed)) return 0;
  if (sigaction(SIGINT, NULL, &cur) != 0) return 0;
  if (cur.sa_handler == SIG_IGN) return 0; /* ignored: a background job */
  notify_fn = notify;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESTART; /* reads and writes of other code go on */
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, &old_action) != 0) return 0;
  atomic_store(&state, BRAID_INTR_IDLE);
  armed_thread = pthread_self();
  atomic_store(&installed, 1);
  atomic_store(&braid__intr_active, 1);
  armed = 1;
  return 1;
}


void braid__intr_uninstall(void) {
  if (!atomic_exchange(&installed, 0)) return;
  sigaction(SIGINT, &old_action, NULL);
  notify_fn = NULL;
  armed = 0;
  /* waits stay sliced: a worker may be in one; slicing is harmless */
}


int braid__intr_armed(void) { return armed; }
void braid__intr_mask(int delta) { masked += delta; }
int braid__intr_masked(void) { return masked; }
/* A worker run ended on this (parked) thread: a mask it left (a raise
** between mask and unmask) must not hold for the next run. 'armed' stays:
** it belongs to the state that installed the handler, which uninstalls. */
void braid__intr_thread_reset(void) { masked = 0; }
int braid__intr_state(void) { return atomic_load(&state); }
void braid__intr_set_state(int st) {
  atomic_store(&state, st);
  if (st == BRAID_INTR_PENDING) atomic_store(&anything, 1);
  else if (!atomic_load(&cancelled)) atomic_store(&anything, 0);
}


int braid__intr_take(void) {
  int expected = BRAID_INTR_PENDING;
  return atomic_compare_exchange_strong(&state, &expected, BRAID_INTR_RAISED);
}


int braid__intr_stop(void) {
  if (!atomic_load_explicit(&anything, memory_order_relaxed)) return 0;
  if (masked) return 0;
  /* the main thread is interrupted once; it then unwinds (its <close>
  ** handlers wait normally); workers stay cancelled */
  if (armed)
    return atomic_load_explicit(&state, memory_order_relaxed) ==
           BRAID_INTR_PENDING;
  return atomic_load_explicit(&cancelled, memory_order_relaxed);
}


int braid__intr_simulate(void) {
  if (!atomic_load(&installed)) return 0;
  if (atomic_load(&state) != BRAID_INTR_IDLE) return 1; /* one is coming */
  atomic_fetch_add(&simulated, 1);
  if (pthread_kill(armed_thread, SIGINT) != 0) {
    atomic_fetch_sub(&simulated, 1);
    return 0;
  }
  return 1;
}


void braid__intr_cancel(void) {
  atomic_store(&cancelled, 1);
  atomic_store(&anything, 1);
}
int braid__intr_cancelled(void) { return atomic_load(&cancelled); }
void braid__intr_uncancel(void) {
  atomic_store(&cancelled, 0);
  if (atomic_load(&state) != BRAID_INTR_PENDING) atomic_store(&anything, 0);
}


void braid__intr_after_fork(void) {
  int i, n = atomic_load(&hiwater);
  for (i = 0; i < n; i++) atomic_store(&kids[i], 0);
  atomic_store(&hiwater, 0);
  atomic_store(&state, BRAID_INTR_IDLE);
  atomic_store(&cancelled, 0);
  atomic_store(&anything, 0);
  atomic_store(&simulated, 0);
  if (armed) armed_thread = pthread_self();
  if (!armed && atomic_load(&installed)) {
    /* Forked from a worker thread: the main state is not running here,
    ** nobody would take an interrupt; SIGINT gets its default action. */
    signal(SIGINT, SIG_DFL);
    atomic_store(&installed, 0);
    notify_fn = NULL;
  }
}


void braid__intr_block(sigset_t *old) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  pthread_sigmask(SIG_BLOCK, &s, old);
}


void braid__intr_unblock(const sigset_t *old) {
  pthread_sigmask(SIG_SETMASK, old, NULL);
}


void braid__intr_die(int flush) {
  struct sigaction dfl;
  sigset_t s;
  if (flush) fflush(NULL);
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGINT, &dfl, NULL);
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  raise(SIGINT); /* this thread: delivered before raise returns */
  _exit(130);             /* not reached unless SIGINT could not kill */
}


/*
** {======================================================
** Children
** =======================================================
*/

void braid__child_add(pid_t pid, int direct) {
  int i, v = direct ? (int)pid : -(int)pid;
  for (i = 0; i < BRAID_INTR_MAXKIDS; i++) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&kids[i], &expected, v)) {
      int hw = atomic_load(&hiwater);
      while (hw < i + 1 &&
             !atomic_compare_exchange_weak(&hiwater, &hw, i + 1)) {
      }
      return;
    }
  }
}


void braid__child_remove(pid_t pid) {
  int i, n = atomic_load(&hiwater);
  for (i = 0; i < n; i++) {
    int expected = (int)pid;
    if (atomic_compare_exchange_strong(&kids[i], &expected, 0)) return;
    expected = -(int)pid;
    if (atomic_compare_exchange_strong(&kids[i], &expected, 0)) return;
  }
}


void braid__children_signal(int sig, int which) {
  int i, n = atomic_load(&hiwater);
  for (i = 0; i < n; i++) {
    int v = atomic_load(&kids[i]);
    if (v > 0 && (which & BRAID_KIDS_DIRECT)) kill((pid_t)v, sig);
    if (v < 0 && (which & BRAID_KIDS_SERVED)) kill((pid_t)-v, sig);
  }
}


int braid__children_reap(int which) {
  int i, n = atomic_load(&hiwater), left = 0;
  for (i = 0; i < n; i++) {
    int v = atomic_load(&kids[i]), pid = v < 0 ? -v : v, status;
    pid_t r;
    if (v == 0 || !(which & (v > 0 ? BRAID_KIDS_DIRECT : BRAID_KIDS_SERVED)))
      continue;
    r = waitpid((pid_t)pid, &status, WNOHANG);
    if (r == (pid_t)pid ||
        (r < 0 && errno == ECHILD && kill((pid_t)pid, 0) != 0 &&
         errno == ESRCH)) {
      /* reaped here; or not ours (a forkserver's, or reaped by its
      ** proxy thread meanwhile) and gone */
      int expected = v;
      atomic_compare_exchange_strong(&kids[i], &expected, 0);
      continue;
    }
    left++;
  }
  return left;
}
/* }====================================================== */

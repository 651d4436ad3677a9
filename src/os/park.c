/*
** park.c: parked OS threads (park.h has the design).
** See LICENSE for copyright and license.
**
** Each pool thread has a Parker on its own stack; the idle ones are in a
** doubly linked list under 'mu' (a leaf lock: nothing else is taken
** while it is held). A Parker's 'state' moves BUSY -> IDLE (offered,
** listed) -> GIVEN (a spawn unlisted it and set its next entry) -> BUSY,
** all under 'mu'; the thread sleeps on its own 'cv' while IDLE, so a
** spawn wakes exactly the thread it took.
*/
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "intr.h"
#include "os.h"
#include "park.h"
#include "spin.h"

enum { P_BUSY, P_IDLE, P_GIVEN };

typedef struct Parker {
  braid__cond cv;
  int state;                 /* guarded by 'mu' */
  void *(*entry)(void *);    /* guarded by 'mu': the run to do when GIVEN */
  void *arg;
  size_t stack;              /* fixed: the size it was created with */
  pthread_t tid;             /* fixed: the thread */
  char *stack_lo;            /* fixed: the lowest usable stack address */
  int quit;                  /* guarded by 'mu': over a lowered bound */
  /* spawns that gave it a run and have yet to signal 'cv' (they signal
  ** after releasing 'mu', so that the woken thread does not block on it
  ** at once): the thread does not end while one is pending */
  atomic_int waking;
  struct Parker *prev, *next; /* guarded by 'mu': the idle list */
} Parker;

/* The most threads parked at once unless configured: enough for the
** waves of starts a program makes on a small machine (a pool's workers,
** a batch of short threads); each costs its touched stack pages while
** parked, tens of KiB. */
#define DEFAULT_MIN 64
#define DEFAULT_PER_CPU 8
#define DEFAULT_IDLE 5.0

static pthread_once_t once = PTHREAD_ONCE_INIT;
static braid__mutex mu;
static Parker *idle_head;  /* guarded by 'mu' */
static int nidle;          /* guarded by 'mu' */
static int max_parked = -1; /* guarded by 'mu'; -1 until first read */
static double idle_timeout = DEFAULT_IDLE; /* guarded by 'mu' */
static atomic_long created;

static BRAID_TLS Parker *tl_self; /* the calling thread's, if a pool one */
/* braid__park_trim_stack was called and the thread has not slept since */
static BRAID_TLS int tl_trim_due;

/* How long a parked thread keeps the stack pages its run touched before
** it gives them back: a thread reused within it (waves of starts) pays no
** madvise, whose TLB shoot-down interrupts every CPU running a thread of
** the process, nor the page faults after it. */
#define TRIM_GRACE 0.02


static void atfork_prepare(void) { braid__mutex_lock(&mu); }
static void atfork_parent(void) { braid__mutex_unlock(&mu); }
/* The child has only the forking thread: the parked ones are gone, and
** their Parkers (on their stacks, copied into the child) are never
** touched again. The forking thread may itself be a pool thread: its
** own Parker is on its stack, still valid, and it is BUSY (running). */
static void atfork_child(void) {
  braid__mutex_init(&mu);
  idle_head = NULL;
  nidle = 0;
  /* a spawn of the parent may have been signalling the forking thread:
  ** it does not exist here, and the thread must not wait for it */
  if (tl_self != NULL) atomic_store_explicit(&tl_self->waking, 0,
                                             memory_order_relaxed);
}

static void init_once(void) {
  braid__mutex_init(&mu);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}


static int limit_locked(void) {
  if (max_parked < 0) {
    int n = braid__spin_cpus() * DEFAULT_PER_CPU;
    max_parked = n > DEFAULT_MIN ? n : DEFAULT_MIN;
  }
  return max_parked;
}


static void unlist_locked(Parker *p) {
  if (p->prev) p->prev->next = p->next;
  else idle_head = p->next;
  if (p->next) p->next->prev = p->prev;
  p->prev = p->next = NULL;
  nidle--;
}


/* Lists 'p' idle if the pool has room; 0 when it has not. */
static int offer_locked(Parker *p) {
  if (nidle >= limit_locked()) return 0;
  p->state = P_IDLE;
  p->quit = 0;
  p->entry = NULL;
  p->arg = NULL;
  p->prev = NULL;
  p->next = idle_head;
  if (idle_head) idle_head->prev = p;
  idle_head = p;
  nidle++;
  return 1;
}


/* Kept under the frame that trims: room for the frames of mincore and
** madvise themselves (the page holding a return address must not be
** given back under it) and the red zone (128 bytes on x86-64). */
#define TRIM_KEEP 512

/* Pages of this thread's stack more than 'keep' bytes below the caller's
** frame are dead: give them back (the page at 'keep' bytes below stays:
** the next calls reuse it). */
static void trim_below(Parker *p, size_t keep) {
  char here;
  unsigned char resident = 0;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t lo = (uintptr_t)p->stack_lo;
  uintptr_t top = ((uintptr_t)&here - keep) & ~(page - 1);
  if (lo == 0 || top <= lo) return;
  /* A stack is touched downwards: when the page under 'top' is not
  ** resident, nothing below it is (since the last trim). The check costs
  ** no TLB shootdown, which madvise does on every CPU running a thread
  ** of the process. */
  if (mincore((void *)(top - page), page, &resident) == 0 && !(resident & 1))
    return;
  madvise((void *)lo, top - lo, MADV_DONTNEED);
}


void braid__park_trim_stack(void) {
  if (tl_self != NULL) tl_trim_due = 1;
}


void braid__park_sleeping(void) {
  if (tl_trim_due) {
    tl_trim_due = 0;
    trim_below(tl_self, TRIM_KEEP);
  }
}


void braid__park_offer(void) {
  Parker *p = tl_self;
  if (p == NULL) return;
  braid__mutex_lock(&mu);
  if (p->state == P_BUSY) offer_locked(p);
  braid__mutex_unlock(&mu);
}


int braid__park_listed(void) {
  Parker *p = tl_self;
  int r;
  if (p == NULL) return 0;
  braid__mutex_lock(&mu);
  r = p->state != P_BUSY;
  braid__mutex_unlock(&mu);
  return r;
}


typedef struct Start {
  void *(*entry)(void *);
  void *arg;
  size_t stack;
} Start;

static void *park_main(void *arg) {
  Parker self;
  sigset_t mask;
  char name[16]; /* Linux's limit, the terminating zero included */
  Start *s = (Start *)arg;
  self.state = P_BUSY;
  self.entry = s->entry;
  self.arg = s->arg;
  self.stack = s->stack;
  self.prev = self.next = NULL;
  self.tid = pthread_self();
  self.stack_lo = NULL;
  {
    pthread_attr_t a;
    void *lo;
    size_t size;
    if (pthread_getattr_np(self.tid, &a) == 0) {
      if (pthread_attr_getstack(&a, &lo, &size) == 0) self.stack_lo = lo;
      pthread_attr_destroy(&a);
    }
  }
  self.quit = 0;
  atomic_init(&self.waking, 0);
  free(s);
  braid__cond_init(&self.cv);
  pthread_sigmask(SIG_SETMASK, NULL, &mask); /* what every run starts with */
#if defined(__linux__)
  /* the name a new thread has (its creator's), given back at each park:
  ** a parked thread must not show the name of the run that ended */
  if (pthread_getname_np(self.tid, name, sizeof name) != 0) name[0] = '\0';
#endif
  tl_self = &self;
  for (;;) {
    braid__deadline d;
    double t;
    int trimmed = 0;
    self.entry(self.arg);
    tl_trim_due = 0; /* the trim below, when parked long enough, does it */
    /* Nothing of the run may leak into the next: the seam's per-thread
    ** state and the signal mask go back to a new thread's. */
    braid__os_thread_reset();
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
#if defined(__linux__)
    if (name[0] != '\0') pthread_setname_np(self.tid, name);
#endif
    braid__mutex_lock(&mu);
    if (self.state == P_BUSY && !offer_locked(&self)) { /* pool full */
      braid__mutex_unlock(&mu);
      break;
    }
    t = idle_timeout;
    d = braid__deadline_in(t);
    while (self.state == P_IDLE && !self.quit) {
      if (!trimmed) {
        /* Parked past the grace (or the timeout, if shorter): what the
        ** run touched below this frame stays dead while parked. The
        ** trim runs without 'mu' (a leaf lock; madvise is slow). */
        braid__deadline g = braid__deadline_in(t < TRIM_GRACE ? t : TRIM_GRACE);
        if (braid__cond_wait(&self.cv, &mu, &g) && self.state == P_IDLE &&
            !self.quit) {
          trimmed = 1;
          braid__mutex_unlock(&mu);
          trim_below(&self, TRIM_KEEP);
          braid__mutex_lock(&mu);
        }
        continue;
      }
      if (braid__cond_wait(&self.cv, &mu, &d) && idle_timeout == t) break;
      if (idle_timeout != t) { /* reconfigured: the new timeout from now */
        t = idle_timeout;
        d = braid__deadline_in(t);
      }
    }
    if (self.state == P_IDLE) { /* timed out, or the bound was lowered */
      unlist_locked(&self);
      braid__mutex_unlock(&mu);
      break;
    }
    self.state = P_BUSY; /* GIVEN: entry and arg are set */
    braid__mutex_unlock(&mu);
  }
  tl_self = NULL;
  /* a spawn that took this thread may still be signalling 'cv' (it was
  ** given a run then; this is a later exit, so rarely, and briefly) */
  while (atomic_load_explicit(&self.waking, memory_order_acquire) > 0)
    sched_yield();
  braid__cond_destroy(&self.cv);
  return NULL;
}


int braid__park_spawn(void *(*entry)(void *), void *arg, size_t stack,
                      pthread_t *tid) {
  Parker *p;
  Start *s;
  pthread_attr_t attr;
  sigset_t old;
  int err;
  pthread_once(&once, init_once);
  braid__mutex_lock(&mu);
  for (p = idle_head; p != NULL; p = p->next)
    if (p->stack == stack) break;
  if (p != NULL) {
    unlist_locked(p);
    p->state = P_GIVEN;
    p->entry = entry;
    p->arg = arg;
    *tid = p->tid;
    atomic_fetch_add_explicit(&p->waking, 1, memory_order_relaxed);
    braid__mutex_unlock(&mu);
    /* a late signal only wakes the thread spuriously in a later park */
    braid__cond_signal(&p->cv);
    atomic_fetch_sub_explicit(&p->waking, 1, memory_order_release);
    return 0;
  }
  braid__mutex_unlock(&mu);
  s = (Start *)malloc(sizeof *s);
  if (s == NULL) return ENOMEM;
  s->entry = entry;
  s->arg = arg;
  s->stack = stack;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (stack > 0) pthread_attr_setstacksize(&attr, stack);
  /* Worker threads start with SIGINT blocked, so that Ctrl-C reaches
  ** the main thread, whose waits it ends (intr.h). */
  braid__intr_block(&old);
  err = pthread_create(tid, &attr, park_main, s);
  braid__intr_unblock(&old);
  pthread_attr_destroy(&attr);
  if (err != 0) free(s);
  else atomic_fetch_add_explicit(&created, 1, memory_order_relaxed);
  return err;
}


void braid__park_config(int max, double idle, int *oldmax, double *oldidle) {
  Parker *p;
  int n;
  pthread_once(&once, init_once);
  braid__mutex_lock(&mu);
  if (oldmax) *oldmax = limit_locked();
  if (oldidle) *oldidle = idle_timeout;
  if (idle >= 0) idle_timeout = idle;
  if (max >= 0) max_parked = max;
  /* the idle threads over the bound leave now (they unlist themselves);
  ** with a new timeout, each waits it from now */
  n = 0;
  for (p = idle_head; p != NULL; p = p->next) {
    if (++n > max_parked) p->quit = 1;
    if (p->quit || idle >= 0) braid__cond_signal(&p->cv);
  }
  braid__mutex_unlock(&mu);
}


void braid__park_flush(void) {
  Parker *p;
  pthread_once(&once, init_once);
  braid__mutex_lock(&mu);
  for (p = idle_head; p != NULL; p = p->next) {
    p->quit = 1;
    braid__cond_signal(&p->cv);
  }
  braid__mutex_unlock(&mu);
}


int braid__park_idle(void) {
  int n;
  pthread_once(&once, init_once);
  braid__mutex_lock(&mu);
  n = nidle;
  braid__mutex_unlock(&mu);
  return n;
}


long braid__park_created(void) {
  return atomic_load_explicit(&created, memory_order_relaxed);
}

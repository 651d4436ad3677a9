/*
** sync.c: the synchronisation objects of threading, shared by workers.
** See LICENSE for copyright and license.
**
** Each object has its own mutex 'mu' guarding its fields, and nothing here
** calls Lua. Only Condition touches two objects: it never holds its own
** 'mu' while taking its lock's 'mu' (or the reverse), so there is no lock
** order to respect. A condition waiter is a node on the waiter's stack with
** its own condition variable, so notify(n) wakes exactly the 'n' oldest
** waiters. A Barrier's action is Lua code: the last thread to arrive runs
** it in its own state after braid__barrier_wait returns, while the barrier
** sits in the internal RUNNING state (where Python holds the barrier's
** lock), and ends it with braid__barrier_action_done.
*/
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "intr.h"
#include "sync.h"

uintptr_t braid__sync_self(void) {
  return (uintptr_t)pthread_self();
}


/*
** {======================================================
** Lock
** =======================================================
*/

struct braid_lock {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv; /* signalled when 'locked' drops and someone waits */
  int locked;     /* guarded by 'mu' */
  long waiters;   /* guarded by 'mu' */
};

static void lock_destroy(braid_handle *h) {
  braid_lock *l = (braid_lock *)h;
  braid__cond_destroy(&l->cv);
  braid__mutex_destroy(&l->mu);
  braid__free(l);
}

const braid_handle_type braid__lock_type = { "braid.Lock", lock_destroy };


int braid__lock_new(braid_lock **out) {
  braid_lock *l = (braid_lock *)braid__calloc(1, sizeof *l);
  if (l == NULL) return BRAID_ENOMEM;
  braid__handle_init(&l->h, &braid__lock_type);
  braid__mutex_init(&l->mu);
  braid__cond_init(&l->cv);
  *out = l;
  return BRAID_OK;
}


/* Waits while '*busy' with 'mu' held; returns with 'mu' held. The caller
** counts itself in '*waiters' so that releasers know to signal. */
static void wait_while(braid__cond *cv, braid__mutex *mu, const int *busy,
                       long *waiters, double timeout) {
  braid__deadline d = braid__deadline_in(timeout);
  (*waiters)++;
  while (*busy) {
    if (braid__cond_wait(cv, mu, &d) && *busy) break;
  }
  (*waiters)--;
}


int braid__lock_acquire(braid_lock *l, int blocking, double timeout) {
  int rc = BRAID_OK;
  braid__mutex_lock(&l->mu);
  if (l->locked && blocking && timeout != 0)
    wait_while(&l->cv, &l->mu, &l->locked, &l->waiters, timeout);
  if (l->locked)
    rc = BRAID_ETIMEDOUT;
  else
    l->locked = 1;
  braid__mutex_unlock(&l->mu);
  return rc;
}


int braid__lock_release(braid_lock *l) {
  int rc = BRAID_OK;
  braid__mutex_lock(&l->mu);
  if (!l->locked) {
    rc = BRAID_ESTATE;
  } else {
    l->locked = 0;
    if (l->waiters > 0) braid__cond_signal(&l->cv);
  }
  braid__mutex_unlock(&l->mu);
  return rc;
}


int braid__lock_locked(braid_lock *l) {
  int v;
  braid__mutex_lock(&l->mu);
  v = l->locked;
  braid__mutex_unlock(&l->mu);
  return v;
}
/* }====================================================== */


/*
** {======================================================
** RLock
** =======================================================
*/

struct braid_rlock {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv;   /* signalled when 'count' drops to 0 and someone waits */
  int held;         /* guarded by 'mu': count > 0 */
  long count;       /* guarded by 'mu' */
  uintptr_t owner;  /* guarded by 'mu': 0 when not held */
  long waiters;     /* guarded by 'mu' */
};

static void rlock_destroy(braid_handle *h) {
  braid_rlock *r = (braid_rlock *)h;
  braid__cond_destroy(&r->cv);
  braid__mutex_destroy(&r->mu);
  braid__free(r);
}

const braid_handle_type braid__rlock_type = { "braid.RLock", rlock_destroy };


int braid__rlock_new(braid_rlock **out) {
  braid_rlock *r = (braid_rlock *)braid__calloc(1, sizeof *r);
  if (r == NULL) return BRAID_ENOMEM;
  braid__handle_init(&r->h, &braid__rlock_type);
  braid__mutex_init(&r->mu);
  braid__cond_init(&r->cv);
  *out = r;
  return BRAID_OK;
}


/* Takes 'r' for the caller with recursion count 'count' ('r->mu' held). */
static int rlock_take(braid_rlock *r, uintptr_t me, long count,
                      int blocking, double timeout) {
  if (r->held && blocking && timeout != 0)
    wait_while(&r->cv, &r->mu, &r->held, &r->waiters, timeout);
  if (r->held) return BRAID_ETIMEDOUT;
  r->held = 1;
  r->owner = me;
  r->count = count;
  return BRAID_OK;
}


int braid__rlock_acquire(braid_rlock *r, int blocking, double timeout) {
  uintptr_t me = braid__sync_self();
  int rc = BRAID_OK;
  braid__mutex_lock(&r->mu);
  if (r->held && r->owner == me) {
    if (r->count == LONG_MAX)
      rc = BRAID_EINVAL;
    else
      r->count++;
  } else {
    rc = rlock_take(r, me, 1, blocking, timeout);
  }
  braid__mutex_unlock(&r->mu);
  return rc;
}


/* Drops 'levels' levels (all of them when < 0) and reports how many the
** caller held in '*saved'. 'r->mu' held. */
static int rlock_drop(braid_rlock *r, long levels, long *saved) {
  if (!r->held || r->owner != braid__sync_self()) return BRAID_EPERM;
  if (saved) *saved = r->count;
  if (levels < 0 || levels >= r->count) {
    r->held = 0;
    r->count = 0;
    r->owner = 0;
    if (r->waiters > 0) braid__cond_signal(&r->cv);
  } else {
    r->count -= levels;
  }
  return BRAID_OK;
}


int braid__rlock_release(braid_rlock *r) {
  int rc;
  braid__mutex_lock(&r->mu);
  rc = rlock_drop(r, 1, NULL);
  braid__mutex_unlock(&r->mu);
  return rc;
}


void braid__rlock_state(braid_rlock *r, uintptr_t *owner, long *count) {
  braid__mutex_lock(&r->mu);
  *owner = r->held ? r->owner : 0;
  *count = r->count;
  braid__mutex_unlock(&r->mu);
}


int braid__rlock_is_owned(braid_rlock *r) {
  int v;
  braid__mutex_lock(&r->mu);
  v = r->held && r->owner == braid__sync_self();
  braid__mutex_unlock(&r->mu);
  return v;
}
/* }====================================================== */


/*
** {======================================================
** Condition
** =======================================================
*/

typedef struct waiter {
  struct waiter *next;
  braid__cond cv;
  int notified; /* guarded by the condition's 'mu' */
} waiter;

struct braid_condition {
  braid_handle h;
  braid_handle *lock;    /* retained; a braid_lock or braid_rlock */
  braid__mutex mu;
  waiter *head, *tail;   /* guarded by 'mu': FIFO of unnotified waiters */
  long nwaiters;         /* guarded by 'mu' */
};

static void condition_destroy(braid_handle *h) {
  braid_condition *c = (braid_condition *)h;
  braid__handle_release(c->lock);
  braid__mutex_destroy(&c->mu);
  braid__free(c);
}

const braid_handle_type braid__condition_type = { "braid.Condition",
                                                  condition_destroy };


int braid__condition_new(braid_condition **out, braid_handle *lock) {
  braid_condition *c;
  if (lock->type != &braid__lock_type && lock->type != &braid__rlock_type)
    return BRAID_EINVAL;
  c = (braid_condition *)braid__calloc(1, sizeof *c);
  if (c == NULL) return BRAID_ENOMEM;
  braid__handle_init(&c->h, &braid__condition_type);
  braid__mutex_init(&c->mu);
  c->lock = braid__handle_retain(lock);
  *out = c;
  return BRAID_OK;
}


braid_handle *braid__condition_lock(braid_condition *c) {
  return c->lock;
}


static int isrlock(braid_condition *c) {
  return c->lock->type == &braid__rlock_type;
}


int braid__condition_is_owned(braid_condition *c) {
  if (isrlock(c)) return braid__rlock_is_owned((braid_rlock *)c->lock);
  /* Python cannot tell who holds a plain Lock: held by anyone counts. */
  return braid__lock_locked((braid_lock *)c->lock);
}


/* Python's _release_save: frees the lock entirely, remembering how deep
** an RLock was held in '*saved'. */
static int release_save(braid_condition *c, long *saved) {
  int rc;
  *saved = 0;
  if (isrlock(c)) {
    braid_rlock *r = (braid_rlock *)c->lock;
    braid__mutex_lock(&r->mu);
    rc = rlock_drop(r, -1, saved);
    braid__mutex_unlock(&r->mu);
    return rc;
  }
  return braid__lock_release((braid_lock *)c->lock) == BRAID_OK ? BRAID_OK
                                                                 : BRAID_EPERM;
}


/* Python's _acquire_restore: takes the lock back, however long it takes. */
static void acquire_restore(braid_condition *c, long saved) {
  braid__intr_mask(1); /* Ctrl-C must not end this wait (intr.h) */
  if (isrlock(c)) {
    braid_rlock *r = (braid_rlock *)c->lock;
    braid__mutex_lock(&r->mu);
    rlock_take(r, braid__sync_self(), saved, 1, BRAID_FOREVER);
    braid__mutex_unlock(&r->mu);
  } else {
    braid__lock_acquire((braid_lock *)c->lock, 1, BRAID_FOREVER);
  }
  braid__intr_mask(-1);
}


static void unlink_waiter(braid_condition *c, waiter *w) {
  waiter **p = &c->head, *prev = NULL;
  while (*p != NULL && *p != w) {
    prev = *p;
    p = &(*p)->next;
  }
  if (*p == NULL) return;
  *p = w->next;
  if (c->tail == w) c->tail = prev;
  c->nwaiters--;
}


int braid__condition_wait(braid_condition *c, double timeout) {
  waiter w;
  long saved;
  int notified;
  if (!braid__condition_is_owned(c)) return BRAID_EPERM;
  memset(&w, 0, sizeof w);
  braid__cond_init(&w.cv);
  /* Queued before the lock is released, so that a notify made by whoever
  ** takes the lock next cannot be missed. */
  braid__mutex_lock(&c->mu);
  if (c->tail)
    c->tail->next = &w;
  else
    c->head = &w;
  c->tail = &w;
  c->nwaiters++;
  braid__mutex_unlock(&c->mu);
  if (release_save(c, &saved) != BRAID_OK) {
    /* Lost a race for a plain Lock released by another thread. */
    braid__mutex_lock(&c->mu);
    if (!w.notified) unlink_waiter(c, &w);
    braid__mutex_unlock(&c->mu);
    braid__cond_destroy(&w.cv);
    return BRAID_EPERM;
  }
  braid__mutex_lock(&c->mu);
  if (!w.notified && timeout != 0) {
    braid__deadline d = braid__deadline_in(timeout);
    while (!w.notified) {
      if (braid__cond_wait(&w.cv, &c->mu, &d) && !w.notified) break;
    }
  }
  notified = w.notified;
  if (!notified) unlink_waiter(c, &w);
  braid__mutex_unlock(&c->mu);
  braid__cond_destroy(&w.cv);
  acquire_restore(c, saved);
  return notified ? BRAID_OK : BRAID_ETIMEDOUT;
}


int braid__condition_notify(braid_condition *c, long n) {
  if (!braid__condition_is_owned(c)) return BRAID_EPERM;
  braid__mutex_lock(&c->mu);
  while (n != 0 && c->head != NULL) {
    waiter *w = c->head;
    c->head = w->next;
    if (c->head == NULL) c->tail = NULL;
    c->nwaiters--;
    w->notified = 1; /* 'w' stays valid until we unlock: it waits on 'mu' */
    braid__cond_signal(&w->cv);
    if (n > 0) n--;
  }
  braid__mutex_unlock(&c->mu);
  return BRAID_OK;
}


long braid__condition_waiters(braid_condition *c) {
  long n;
  braid__mutex_lock(&c->mu);
  n = c->nwaiters;
  braid__mutex_unlock(&c->mu);
  return n;
}
/* }====================================================== */


/*
** {======================================================
** Semaphore and BoundedSemaphore
** =======================================================
*/

struct braid_semaphore {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv;  /* signalled when 'value' grows and someone waits */
  int64_t value;   /* guarded by 'mu' */
  int64_t initial; /* fixed */
  int bounded;     /* fixed */
  int empty;       /* guarded by 'mu': value == 0 */
  long waiters;    /* guarded by 'mu' */
};

static void semaphore_destroy(braid_handle *h) {
  braid_semaphore *s = (braid_semaphore *)h;
  braid__cond_destroy(&s->cv);
  braid__mutex_destroy(&s->mu);
  braid__free(s);
}

const braid_handle_type braid__semaphore_type = { "braid.Semaphore",
                                                  semaphore_destroy };
const braid_handle_type braid__bsemaphore_type = { "braid.BoundedSemaphore",
                                                   semaphore_destroy };


int braid__semaphore_new(braid_semaphore **out, int64_t value, int bounded) {
  braid_semaphore *s;
  if (value < 0) return BRAID_EINVAL;
  s = (braid_semaphore *)braid__calloc(1, sizeof *s);
  if (s == NULL) return BRAID_ENOMEM;
  braid__handle_init(&s->h, bounded ? &braid__bsemaphore_type
                                    : &braid__semaphore_type);
  braid__mutex_init(&s->mu);
  braid__cond_init(&s->cv);
  s->value = s->initial = value;
  s->empty = value == 0;
  s->bounded = bounded;
  *out = s;
  return BRAID_OK;
}


int braid__semaphore_acquire(braid_semaphore *s, int blocking,
                             double timeout) {
  int rc = BRAID_OK;
  braid__mutex_lock(&s->mu);
  if (s->empty && blocking && timeout != 0)
    wait_while(&s->cv, &s->mu, &s->empty, &s->waiters, timeout);
  if (s->empty) {
    rc = BRAID_ETIMEDOUT;
  } else {
    s->value--;
    s->empty = s->value == 0;
  }
  braid__mutex_unlock(&s->mu);
  return rc;
}


int braid__semaphore_release(braid_semaphore *s, int64_t n) {
  int rc = BRAID_OK;
  braid__mutex_lock(&s->mu);
  /* Checked before adding: a refused release changes nothing. */
  if (n < 1 || (s->bounded ? n > s->initial - s->value
                           : n > INT64_MAX - s->value)) {
    rc = BRAID_EINVAL;
  } else {
    s->value += n;
    s->empty = 0;
    if (s->waiters <= n) {
      if (s->waiters > 0) braid__cond_broadcast(&s->cv);
    } else {
      int64_t i;
      for (i = 0; i < n; i++) braid__cond_signal(&s->cv);
    }
  }
  braid__mutex_unlock(&s->mu);
  return rc;
}


void braid__semaphore_state(braid_semaphore *s, int64_t *value,
                            int64_t *initial) {
  braid__mutex_lock(&s->mu);
  *value = s->value;
  *initial = s->initial;
  braid__mutex_unlock(&s->mu);
}
/* }====================================================== */


/*
** {======================================================
** Event
** =======================================================
*/

struct braid_event {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv;
  int flag;            /* guarded by 'mu' */
  unsigned long gen;   /* guarded by 'mu': counts set() calls */
};

static void event_destroy(braid_handle *h) {
  braid_event *e = (braid_event *)h;
  braid__cond_destroy(&e->cv);
  braid__mutex_destroy(&e->mu);
  braid__free(e);
}

const braid_handle_type braid__event_type = { "braid.Event", event_destroy };


int braid__event_new(braid_event **out) {
  braid_event *e = (braid_event *)braid__calloc(1, sizeof *e);
  if (e == NULL) return BRAID_ENOMEM;
  braid__handle_init(&e->h, &braid__event_type);
  braid__mutex_init(&e->mu);
  braid__cond_init(&e->cv);
  *out = e;
  return BRAID_OK;
}


void braid__event_set(braid_event *e) {
  braid__mutex_lock(&e->mu);
  e->flag = 1;
  e->gen++; /* a clear() right after must not hide this set from waiters */
  braid__cond_broadcast(&e->cv);
  braid__mutex_unlock(&e->mu);
}


void braid__event_clear(braid_event *e) {
  braid__mutex_lock(&e->mu);
  e->flag = 0;
  braid__mutex_unlock(&e->mu);
}


int braid__event_is_set(braid_event *e) {
  int v;
  braid__mutex_lock(&e->mu);
  v = e->flag;
  braid__mutex_unlock(&e->mu);
  return v;
}


int braid__event_wait(braid_event *e, double timeout) {
  int r;
  braid__mutex_lock(&e->mu);
  r = e->flag;
  if (!r && timeout != 0) {
    unsigned long g = e->gen;
    braid__deadline d = braid__deadline_in(timeout);
    while (e->gen == g) {
      if (braid__cond_wait(&e->cv, &e->mu, &d) && e->gen == g) break;
    }
    r = e->gen != g;
  }
  braid__mutex_unlock(&e->mu);
  return r;
}
/* }====================================================== */


/*
** {======================================================
** Barrier
** =======================================================
*/

/* Python's states, plus RUNNING: the last thread runs the action. */
enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2, RUNNING = 2 };

struct braid_barrier {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv;    /* broadcast on every state change */
  long parties;      /* fixed */
  braid_msg *action; /* fixed; owned */
  double timeout;    /* fixed */
  int state;         /* guarded by 'mu' */
  long count;        /* guarded by 'mu' */
  uintptr_t runner;  /* guarded by 'mu': who runs the action (RUNNING) */
};

static void barrier_destroy(braid_handle *h) {
  braid_barrier *b = (braid_barrier *)h;
  if (b->action) braid__msg_free(b->action);
  braid__cond_destroy(&b->cv);
  braid__mutex_destroy(&b->mu);
  braid__free(b);
}

const braid_handle_type braid__barrier_type = { "braid.Barrier",
                                                barrier_destroy };


int braid__barrier_new(braid_barrier **out, long parties, braid_msg *action,
                       double timeout) {
  braid_barrier *b;
  if (parties < 1) {
    if (action) braid__msg_free(action);
    return BRAID_EINVAL;
  }
  b = (braid_barrier *)braid__calloc(1, sizeof *b);
  if (b == NULL) {
    if (action) braid__msg_free(action);
    return BRAID_ENOMEM;
  }
  braid__handle_init(&b->h, &braid__barrier_type);
  braid__mutex_init(&b->mu);
  braid__cond_init(&b->cv);
  b->parties = parties;
  b->action = action;
  b->timeout = timeout;
  b->state = FILLING;
  *out = b;
  return BRAID_OK;
}


static void break_locked(braid_barrier *b) {
  b->state = BROKEN;
  braid__cond_broadcast(&b->cv);
}


/* Python's _exit, after count -= 1: the last one out refills. */
static void exit_locked(braid_barrier *b) {
  b->count--;
  if (b->count == 0 && (b->state == RESETTING || b->state == DRAINING)) {
    b->state = FILLING;
    braid__cond_broadcast(&b->cv);
  }
}


/* While the action runs Python holds the barrier's lock, so callers wait
** for it to end; the runner itself would deadlock (as in Python). */
static int wait_action(braid_barrier *b) {
  if (b->state == RUNNING && b->runner == braid__sync_self())
    return BRAID_ESTATE;
  while (b->state == RUNNING) braid__cond_wait(&b->cv, &b->mu, NULL);
  return BRAID_OK;
}


int braid__barrier_wait(braid_barrier *b, double timeout, long *index,
                        int *run_action) {
  int rc = BRAID_OK;
  long idx;
  *run_action = 0;
  braid__mutex_lock(&b->mu);
  if (wait_action(b) != BRAID_OK) {
    braid__mutex_unlock(&b->mu);
    return BRAID_ESTATE;
  }
  /* _enter */
  while (b->state == RESETTING || b->state == DRAINING ||
         b->state == RUNNING)
    braid__cond_wait(&b->cv, &b->mu, NULL);
  if (b->state == BROKEN) {
    braid__mutex_unlock(&b->mu);
    return BRAID_EBROKEN;
  }
  idx = b->count++;
  *index = idx;
  if (idx + 1 == b->parties) {
    /* _release */
    if (b->action != NULL) {
      b->state = RUNNING;
      b->runner = braid__sync_self();
      *run_action = 1;
      braid__mutex_unlock(&b->mu);
      return BRAID_OK; /* braid__barrier_action_done finishes */
    }
    b->state = DRAINING;
    braid__cond_broadcast(&b->cv);
  } else {
    /* _wait: wait_for(state != FILLING, timeout); while the action runs
    ** the predicate cannot be evaluated (Python: the lock is held), so a
    ** deadline passing meanwhile is judged once the action has ended. */
    braid__deadline d = braid__deadline_in(timeout);
    int timedout = 0;
    for (;;) {
      if (b->state == RUNNING) {
        braid__cond_wait(&b->cv, &b->mu, NULL);
        continue;
      }
      if (b->state != FILLING) break;
      if (timedout) {
        break_locked(b);
        break;
      }
      timedout = timeout == 0 || braid__cond_wait(&b->cv, &b->mu, &d);
    }
    if (b->state < 0) rc = BRAID_EBROKEN;
  }
  exit_locked(b);
  braid__mutex_unlock(&b->mu);
  return rc;
}


const braid_msg *braid__barrier_action(braid_barrier *b) {
  return b->action;
}


void braid__barrier_action_done(braid_barrier *b, int ok) {
  braid__mutex_lock(&b->mu);
  b->runner = 0;
  if (ok) {
    b->state = DRAINING;
    braid__cond_broadcast(&b->cv);
  } else {
    break_locked(b);
  }
  exit_locked(b);
  braid__mutex_unlock(&b->mu);
}


int braid__barrier_reset(braid_barrier *b) {
  int rc;
  braid__mutex_lock(&b->mu);
  rc = wait_action(b);
  if (rc == BRAID_OK) {
    if (b->count > 0) {
      if (b->state == FILLING || b->state == BROKEN) b->state = RESETTING;
    } else {
      b->state = FILLING;
    }
    braid__cond_broadcast(&b->cv);
  }
  braid__mutex_unlock(&b->mu);
  return rc;
}


int braid__barrier_abort(braid_barrier *b) {
  int rc;
  braid__mutex_lock(&b->mu);
  rc = wait_action(b);
  if (rc == BRAID_OK) break_locked(b);
  braid__mutex_unlock(&b->mu);
  return rc;
}


void braid__barrier_info(braid_barrier *b, long *parties, long *n_waiting,
                         int *broken) {
  braid__mutex_lock(&b->mu);
  *parties = b->parties;
  *n_waiting =
      (b->state == FILLING || b->state == RUNNING) ? b->count : 0;
  *broken = b->state == BROKEN;
  braid__mutex_unlock(&b->mu);
}


double braid__barrier_timeout(braid_barrier *b) {
  return b->timeout;
}
/* }====================================================== */


/*
** {======================================================
** local
** =======================================================
*/

typedef struct braid_local {
  braid_handle h;
  braid_msg *init; /* a subclass's methods and arguments, or NULL */
} braid_local;


static void local_destroy(braid_handle *h) {
  braid_local *l = (braid_local *)h;
  if (l->init != NULL) braid__msg_free(l->init);
  braid__free(l);
}

const braid_handle_type braid__local_type = { "braid.local", local_destroy };


int braid__local_new(braid_handle **out, braid_msg *init) {
  braid_local *l = (braid_local *)braid__calloc(1, sizeof *l);
  *out = NULL;
  if (l == NULL) return BRAID_ENOMEM; /* 'init' stays the caller's */
  l->init = init;
  braid__handle_init(&l->h, &braid__local_type);
  *out = &l->h;
  return BRAID_OK;
}


const braid_msg *braid__local_init(braid_handle *h) {
  return ((braid_local *)h)->init;
}
/* }====================================================== */

/*
** future.c: futures (a task's result, waited for and called back) and
** waiters (concurrent.futures.wait / as_completed); pools and map jobs
** finish them (pool.c).
** See LICENSE for copyright and license.
**
** Lock order: a future's 'mu' before a waiter's 'mu' (completion records
** the future in its waiters). Callbacks are posted with no lock held.
*/
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "sync.h"


/*
** {======================================================
** Futures
** =======================================================
*/

typedef struct wlink {
  struct wlink *next;
  braid_waiter *w;
} wlink;

struct braid_future {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv;
  int state;         /* guarded by 'mu' */
  int exc;           /* guarded by 'mu' */
  braid_msg *value;  /* set once with FINISHED, immutable after */
  braid_fcb *cbs;    /* guarded by 'mu': in order of registration */
  braid_fcb **cbtail;
  wlink *waiters;    /* guarded by 'mu' */
  /* A descriptor the result can be read from while it is made (a process
  ** pool's stream memfd), or -1: guarded by 'mu', set while RUNNING,
  ** closed when the future is done (readers read their own dup). */
  int early;
};

struct braid_waiter {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv;
  braid_future **reg; /* owner only: futures registered on (retained) */
  size_t nreg, capreg;
  braid_future **done; /* guarded by 'mu': done, not yet taken (retained) */
  size_t ndone, capdone;
};


void braid__fcb_free(braid_fcb *cb) {
  if (cb == NULL) return;
  if (cb->msg) braid__msg_free(cb->msg);
  if (cb->mb) braid__mailbox_release(cb->mb);
  braid__free(cb);
}


static void future_destroy(braid_handle *h) {
  braid_future *f = (braid_future *)h;
  braid_fcb *cb = f->cbs;
  while (cb) {
    braid_fcb *next = cb->next;
    braid__fcb_free(cb);
    cb = next;
  }
  /* waiters hold a reference while registered: none is left here */
  if (f->value) braid__msg_free(f->value);
  if (f->early >= 0) close(f->early);
  braid__cond_destroy(&f->cv);
  braid__mutex_destroy(&f->mu);
  braid__free(f);
}

const braid_handle_type braid__future_type = { "braid.Future",
                                               future_destroy };


braid_future *braid__future_new(void) {
  braid_future *f = (braid_future *)braid__calloc(1, sizeof *f);
  if (f == NULL) return NULL;
  braid__handle_init(&f->h, &braid__future_type);
  braid__mutex_init(&f->mu);
  braid__cond_init(&f->cv);
  f->state = BRAID_FUT_PENDING;
  f->cbtail = &f->cbs;
  f->early = -1;
  return f;
}


int braid__future_state(braid_future *f, int *exc) {
  int s;
  braid__mutex_lock(&f->mu);
  s = f->state;
  if (exc) *exc = f->exc;
  braid__mutex_unlock(&f->mu);
  return s;
}


/* Records 'f' in waiter 'w' (f->mu held). */
static void waiter_record(braid_waiter *w, braid_future *f) {
  braid__mutex_lock(&w->mu);
  if (w->ndone < w->capdone) { /* capacity reserved by waiter_add */
    w->done[w->ndone++] = (braid_future *)braid__handle_retain(&f->h);
  }
  braid__cond_signal(&w->cv);
  braid__mutex_unlock(&w->mu);
}


/* With f->mu held, after a change to a done state: wakes result() waiters
** and waiters, and returns the callbacks to post. */
static void post_callbacks(braid_fcb *cb);

static braid_fcb *notify_locked(braid_future *f) {
  braid_fcb *cbs = f->cbs;
  wlink *l = f->waiters;
  f->cbs = NULL;
  f->cbtail = &f->cbs;
  f->waiters = NULL;
  /* Callbacks are queued before anyone wakes: a reader that wakes and
  ** polls finds its callbacks (AsyncResult callbacks run before get()
  ** returns, as in Python). Mailboxes never take a future's lock. */
  post_callbacks(cbs);
  cbs = NULL;
  braid__cond_broadcast(&f->cv);
  while (l) {
    wlink *next = l->next;
    waiter_record(l->w, f);
    braid__free(l);
    l = next;
  }
  return cbs;
}


static void post_callbacks(braid_fcb *cb) {
  while (cb) {
    braid_fcb *next = cb->next;
    braid_msg *m = cb->msg;
    cb->msg = NULL;
    braid__mailbox_post(cb->mb, m); /* frees 'm' when the state is gone */
    braid__fcb_free(cb);
    cb = next;
  }
}


int braid__future_cancel(braid_future *f) {
  braid_fcb *cbs = NULL;
  int r;
  braid__mutex_lock(&f->mu);
  switch (f->state) {
    case BRAID_FUT_PENDING:
      f->state = BRAID_FUT_CANCELLED;
      cbs = notify_locked(f);
      r = 1;
      break;
    case BRAID_FUT_CANCELLED:
    case BRAID_FUT_CANCELLED_AND_NOTIFIED: r = 1; break;
    default: r = 0;
  }
  braid__mutex_unlock(&f->mu);
  post_callbacks(cbs);
  return r;
}


int braid__future_set_running(braid_future *f) {
  int r;
  braid__mutex_lock(&f->mu);
  switch (f->state) {
    case BRAID_FUT_PENDING: f->state = BRAID_FUT_RUNNING; r = 1; break;
    case BRAID_FUT_CANCELLED:
      f->state = BRAID_FUT_CANCELLED_AND_NOTIFIED;
      r = 0;
      break;
    default: r = BRAID_ESTATE;
  }
  braid__mutex_unlock(&f->mu);
  return r;
}


int braid__future_finish(braid_future *f, braid_msg *value, int exc) {
  braid_fcb *cbs;
  int early;
  braid__mutex_lock(&f->mu);
  if (f->state != BRAID_FUT_PENDING && f->state != BRAID_FUT_RUNNING) {
    braid__mutex_unlock(&f->mu);
    return BRAID_ESTATE;
  }
  f->value = value;
  f->exc = exc;
  f->state = BRAID_FUT_FINISHED;
  early = f->early;
  f->early = -1;
  cbs = notify_locked(f);
  braid__mutex_unlock(&f->mu);
  post_callbacks(cbs);
  if (early >= 0) close(early);
  return BRAID_OK;
}


int braid__future_set_early(braid_future *f, int fd) {
  braid__mutex_lock(&f->mu);
  if (f->state != BRAID_FUT_RUNNING || f->early >= 0) {
    braid__mutex_unlock(&f->mu);
    return BRAID_ESTATE;
  }
  f->early = fd;
  /* wakes the readers waiting in braid__future_wait_early (and the
  ** others, who find the future not done and wait on) */
  braid__cond_broadcast(&f->cv);
  braid__mutex_unlock(&f->mu);
  return BRAID_OK;
}


static int isdone(int s) {
  return s != BRAID_FUT_PENDING && s != BRAID_FUT_RUNNING;
}


int braid__future_wait(braid_future *f, const braid__deadline *d) {
  int rc = BRAID_OK;
  braid__mutex_lock(&f->mu);
  while (!isdone(f->state)) {
    if (braid__cond_wait(&f->cv, &f->mu, d) && !isdone(f->state)) {
      rc = BRAID_ETIMEDOUT;
      break;
    }
  }
  braid__mutex_unlock(&f->mu);
  return rc;
}


int braid__future_wait_early(braid_future *f, const braid__deadline *d,
                             int *fd) {
  int rc = BRAID_OK;
  *fd = -1;
  braid__mutex_lock(&f->mu);
  while (!isdone(f->state) && f->early < 0) {
    if (braid__cond_wait(&f->cv, &f->mu, d) && !isdone(f->state) &&
        f->early < 0) {
      rc = BRAID_ETIMEDOUT;
      break;
    }
  }
  /* the dup is made under the lock: finish closes the future's own. No
  ** dup (no descriptor left) leaves '*fd' -1: the caller then waits for
  ** the outcome and reads the result from the finished future. */
  if (rc == BRAID_OK && !isdone(f->state))
    *fd = fcntl(f->early, F_DUPFD_CLOEXEC, 0);
  braid__mutex_unlock(&f->mu);
  return rc;
}


const braid_msg *braid__future_value(braid_future *f) {
  return f->value;
}


int braid__future_add_callback(braid_future *f, braid_fcb *cb) {
  braid__mutex_lock(&f->mu);
  if (isdone(f->state)) {
    braid__mutex_unlock(&f->mu);
    return BRAID_ESTATE;
  }
  cb->next = NULL;
  *f->cbtail = cb;
  f->cbtail = &cb->next;
  braid__mutex_unlock(&f->mu);
  return BRAID_OK;
}
/* }====================================================== */


/*
** {======================================================
** Waiters
** =======================================================
*/

static void waiter_destroy(braid_handle *h) {
  braid_waiter *w = (braid_waiter *)h;
  size_t i;
  braid__waiter_close(w);
  for (i = 0; i < w->ndone; i++) braid__handle_release(&w->done[i]->h);
  braid__free(w->done);
  braid__free(w->reg);
  braid__cond_destroy(&w->cv);
  braid__mutex_destroy(&w->mu);
  braid__free(w);
}

const braid_handle_type braid__waiter_type = { "braid.FutureWaiter",
                                               waiter_destroy };


braid_waiter *braid__waiter_new(void) {
  braid_waiter *w = (braid_waiter *)braid__calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  braid__handle_init(&w->h, &braid__waiter_type);
  braid__mutex_init(&w->mu);
  braid__cond_init(&w->cv);
  return w;
}


int braid__waiter_add(braid_waiter *w, braid_future *f) {
  wlink *l;
  int done;
  /* room for one more done entry, and for the registration */
  braid__mutex_lock(&w->mu);
  if (w->capdone < w->nreg + w->ndone + 1 || w->capdone == w->ndone) {
    size_t nc = (w->capdone ? w->capdone * 2 : 8);
    braid_future **nd;
    while (nc < w->nreg + w->ndone + 1) nc *= 2;
    nd = (braid_future **)braid__realloc(w->done, nc * sizeof *nd);
    if (nd == NULL) {
      braid__mutex_unlock(&w->mu);
      return BRAID_ENOMEM;
    }
    w->done = nd;
    w->capdone = nc;
  }
  braid__mutex_unlock(&w->mu);
  if (w->nreg == w->capreg) {
    size_t nc = w->capreg ? w->capreg * 2 : 8;
    braid_future **nr = (braid_future **)braid__realloc(w->reg,
                                                        nc * sizeof *nr);
    if (nr == NULL) return BRAID_ENOMEM;
    w->reg = nr;
    w->capreg = nc;
  }
  l = (wlink *)braid__malloc(sizeof *l);
  if (l == NULL) return BRAID_ENOMEM;
  l->w = w;
  braid__mutex_lock(&f->mu);
  done = isdone(f->state);
  if (done) {
    waiter_record(w, f);
  } else {
    l->next = f->waiters;
    f->waiters = l;
  }
  braid__mutex_unlock(&f->mu);
  if (done) {
    braid__free(l);
    return 1;
  }
  w->reg[w->nreg++] = (braid_future *)braid__handle_retain(&f->h);
  return 0;
}


size_t braid__waiter_take(braid_waiter *w, braid_future **out, size_t max,
                          const braid__deadline *d) {
  size_t n;
  braid__mutex_lock(&w->mu);
  while (w->ndone == 0) {
    if (braid__cond_wait(&w->cv, &w->mu, d) && w->ndone == 0) break;
  }
  n = w->ndone < max ? w->ndone : max;
  memcpy(out, w->done, n * sizeof *out);
  memmove(w->done, w->done + n, (w->ndone - n) * sizeof *out);
  w->ndone -= n;
  braid__mutex_unlock(&w->mu);
  return n;
}


void braid__waiter_close(braid_waiter *w) {
  size_t i;
  for (i = 0; i < w->nreg; i++) {
    braid_future *f = w->reg[i];
    wlink **pl, *found = NULL;
    braid__mutex_lock(&f->mu);
    for (pl = &f->waiters; *pl; pl = &(*pl)->next) {
      if ((*pl)->w == w) {
        found = *pl;
        *pl = found->next;
        break;
      }
    }
    braid__mutex_unlock(&f->mu);
    braid__free(found);
    braid__handle_release(&f->h);
  }
  w->nreg = 0;
}
/* }====================================================== */

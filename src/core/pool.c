/*
** pool.c: futures, waiters, function entries, map jobs and thread pools.
** See LICENSE for copyright and license.
**
** Lock order: pool 'mu' before a job's 'mu' (cancel) ; a future's 'mu'
** before a waiter's 'mu' (completion records the future in its waiters).
** Callbacks are posted and futures finished with no pool or job lock
** held. A pool has two counts: its handle's (users: proxies, messages)
** and 'irefs' (the users' handle as one, each worker, each job). When the
** users are gone the pool shuts down as Python's executor does when it is
** collected: queued work still runs, then the workers end.
*/
#include <stdio.h>
#include <string.h>

#include "pool.h"


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
  braid__mutex_lock(&f->mu);
  if (f->state != BRAID_FUT_PENDING && f->state != BRAID_FUT_RUNNING) {
    braid__mutex_unlock(&f->mu);
    return BRAID_ESTATE;
  }
  f->value = value;
  f->exc = exc;
  f->state = BRAID_FUT_FINISHED;
  cbs = notify_locked(f);
  braid__mutex_unlock(&f->mu);
  post_callbacks(cbs);
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


/*
** {======================================================
** Function entries
** =======================================================
*/

static atomic_ullong fn_uids;

braid_fnent *braid__fnent_new(braid_msg *m) {
  braid_fnent *e = (braid_fnent *)braid__malloc(sizeof *e);
  if (e == NULL) return NULL;
  atomic_init(&e->refs, 1);
  e->uid = atomic_fetch_add_explicit(&fn_uids, 1, memory_order_relaxed) + 1;
  e->m = m;
  return e;
}


braid_fnent *braid__fnent_retain(braid_fnent *e) {
  atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
  return e;
}


void braid__fnent_release(braid_fnent *e) {
  if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
    braid__msg_free(e->m);
    braid__free(e);
  }
}
/* }====================================================== */


/*
** {======================================================
** Pools and jobs
** =======================================================
*/

typedef struct pool_entry {
  struct pool_entry *next;
  braid_future *fut;
  braid_fnent *fn;
  braid_msg *args;
  braid_job *job;
} pool_entry;

struct braid_pool {
  braid_handle h;
  atomic_long irefs;
  braid_runtime_t *rt;
  braid__mutex mu;
  braid__cond cv;      /* workers wait for work */
  braid__cond exit_cv; /* joiners wait for 'alive' to reach 0 */
  pool_entry *head, *tail; /* guarded by 'mu' */
  int max_workers, lazy;
  long maxtasks;
  int alive;           /* guarded by 'mu': started and not ended */
  int idle;            /* guarded by 'mu': waiting for work */
  int started;         /* guarded by 'mu': for thread names */
  int shutdown, broken; /* guarded by 'mu' */
  char *prefix, *path, *cpath;
  braid_msg *init;     /* guarded by 'mu' */
  void *(*entry)(void *);
  int process;
  void *ext;
  void (*ext_free)(void *);
  void (*ext_notify)(void *, int);
};

struct braid_job {
  braid_handle h;
  braid__mutex mu;
  braid__cond cv;
  braid_pool *pool;  /* internal reference */
  braid_fnent *fn;
  braid_msg *items;  /* batch of 'n' items */
  uint32_t n, chunksize, nchunks;
  int star;
  uint32_t next;     /* guarded by pool->mu: next chunk to hand out */
  uint32_t ndone;    /* guarded by 'mu' */
  unsigned char *status; /* guarded by 'mu' */
  braid_msg **res;   /* set with status, immutable after */
  uint32_t *order;   /* guarded by 'mu': chunks in completion order */
  long failed;       /* guarded by 'mu': first failed chunk, -1 */
  int waiting;       /* guarded by 'mu' */
  braid_future *done;
};


static void pool_irelease(braid_pool *p);


static uint32_t chunk_len(braid_job *j, uint32_t k) {
  uint32_t a = k * j->chunksize;
  uint32_t left = j->n - a;
  return left < j->chunksize ? left : j->chunksize;
}


static void job_destroy(braid_handle *h) {
  braid_job *j = (braid_job *)h;
  uint32_t k;
  for (k = 0; k < j->nchunks; k++)
    if (j->res[k]) braid__msg_free(j->res[k]);
  /* the items of chunks never handed out (all others were released) */
  {
    uint32_t left = 0;
    for (k = j->next; k < j->nchunks; k++) left += chunk_len(j, k);
    if (left) braid__msg_release(j->items, left);
  }
  braid__fnent_release(j->fn);
  if (j->done) braid__handle_release(&j->done->h);
  braid__free(j->status);
  braid__free(j->res);
  braid__free(j->order);
  braid__cond_destroy(&j->cv);
  braid__mutex_destroy(&j->mu);
  pool_irelease(j->pool);
  braid__free(j);
}

const braid_handle_type braid__job_type = { "braid.MapJob", job_destroy };


/* Stores chunk 'k' as done (status 'st', message 'm' taken). */
static void job_store(braid_job *j, uint32_t k, int st, braid_msg *m) {
  int ready = 0;
  braid__mutex_lock(&j->mu);
  if (j->status[k] == BRAID_CHUNK_PENDING) {
    j->status[k] = (unsigned char)st;
    j->res[k] = m;
    m = NULL;
    j->order[j->ndone++] = k;
    if (st != BRAID_CHUNK_OK && j->failed < 0) {
      j->failed = (long)k;
      ready = 1;
    }
    if (j->ndone == j->nchunks) ready = 1;
    if (j->waiting) braid__cond_broadcast(&j->cv);
  }
  braid__mutex_unlock(&j->mu);
  if (m) braid__msg_free(m);
  if (ready) braid__future_finish(j->done, NULL, BRAID_EXC_NONE);
}


/* Chunks from..nchunks-1 were never handed out: mark them 'st' and
** release their items ('next' was set to nchunks under the pool lock). */
static void job_fail_rest(braid_job *j, uint32_t from, int st) {
  uint32_t k, left = 0;
  int ready = 0;
  if (from >= j->nchunks) return;
  for (k = from; k < j->nchunks; k++) left += chunk_len(j, k);
  braid__msg_release(j->items, left);
  braid__mutex_lock(&j->mu);
  for (k = from; k < j->nchunks; k++) {
    if (j->status[k] != BRAID_CHUNK_PENDING) continue;
    j->status[k] = (unsigned char)st;
    j->order[j->ndone++] = k;
    if (j->failed < 0) j->failed = (long)k;
  }
  ready = 1;
  braid__cond_broadcast(&j->cv);
  braid__mutex_unlock(&j->mu);
  if (ready) braid__future_finish(j->done, NULL, BRAID_EXC_NONE);
}


int braid__job_wait_chunk(braid_job *j, uint32_t k, const braid__deadline *d,
                          const braid_msg **m) {
  int st;
  if (k >= j->nchunks) return BRAID_EINVAL;
  braid__mutex_lock(&j->mu);
  while ((st = j->status[k]) == BRAID_CHUNK_PENDING) {
    int to;
    j->waiting++;
    to = braid__cond_wait(&j->cv, &j->mu, d);
    j->waiting--;
    if (to && (st = j->status[k]) == BRAID_CHUNK_PENDING) {
      braid__mutex_unlock(&j->mu);
      return BRAID_ETIMEDOUT;
    }
  }
  *m = j->res[k];
  braid__mutex_unlock(&j->mu);
  return st;
}


int braid__job_wait_next(braid_job *j, uint32_t *seen, uint32_t *k,
                         const braid__deadline *d, const braid_msg **m) {
  int st;
  if (*seen >= j->nchunks) return BRAID_EEMPTY;
  braid__mutex_lock(&j->mu);
  while (j->ndone <= *seen) {
    int to;
    j->waiting++;
    to = braid__cond_wait(&j->cv, &j->mu, d);
    j->waiting--;
    if (to && j->ndone <= *seen) {
      braid__mutex_unlock(&j->mu);
      return BRAID_ETIMEDOUT;
    }
  }
  *k = j->order[*seen];
  st = j->status[*k];
  *m = j->res[*k];
  (*seen)++;
  braid__mutex_unlock(&j->mu);
  return st;
}


int braid__job_wait(braid_job *j, const braid__deadline *d) {
  return braid__future_wait(j->done, d);
}


int braid__job_ready(braid_job *j, long *failed) {
  int r;
  braid__mutex_lock(&j->mu);
  r = j->ndone == j->nchunks || j->failed >= 0;
  if (failed) *failed = j->failed;
  braid__mutex_unlock(&j->mu);
  return r;
}


void braid__job_info(braid_job *j, uint32_t *n, uint32_t *chunksize,
                     uint32_t *nchunks) {
  if (n) *n = j->n;
  if (chunksize) *chunksize = j->chunksize;
  if (nchunks) *nchunks = j->nchunks;
}


braid_future *braid__job_future(braid_job *j) {
  return j->done;
}


/* { ------ pools */

/* How queued work is dropped: cancelled, or failed as broken. */
enum { DROP_CANCEL, DROP_BROKEN, DROP_BROKEN_PROCESS };

static void entry_drop(pool_entry *e, int how) {
  if (e->fut) {
    if (how == DROP_CANCEL)
      braid__future_cancel(e->fut);
    else
      braid__future_finish(e->fut, NULL,
                           how == DROP_BROKEN ? BRAID_EXC_BROKEN
                                              : BRAID_EXC_BROKEN_PROCESS);
    braid__handle_release(&e->fut->h);
    braid__fnent_release(e->fn);
    if (e->args) braid__msg_free(e->args);
  }
  braid__free(e);
}


static void pool_free(braid_pool *p) {
  pool_entry *e = p->head;
  while (e) { /* only when no worker ever ran them */
    pool_entry *next = e->next;
    if (e->job) braid__handle_release(&e->job->h);
    entry_drop(e, DROP_CANCEL);
    e = next;
  }
  if (p->init) braid__msg_free(p->init);
  braid__free(p->prefix);
  braid__free(p->path);
  braid__free(p->cpath);
  braid__cond_destroy(&p->cv);
  braid__cond_destroy(&p->exit_cv);
  braid__mutex_destroy(&p->mu);
  braid_runtime_release(p->rt);
  if (p->ext_free) p->ext_free(p->ext);
  braid__free(p);
}


static void pool_iretain(braid_pool *p) {
  atomic_fetch_add_explicit(&p->irefs, 1, memory_order_relaxed);
}


static void pool_irelease(braid_pool *p) {
  if (atomic_fetch_sub_explicit(&p->irefs, 1, memory_order_acq_rel) == 1)
    pool_free(p);
}


static void pool_destroy(braid_handle *h) {
  braid_pool *p = (braid_pool *)h;
  braid_msg *init = NULL;
  braid__pool_shutdown(p, 0);
  braid__mutex_lock(&p->mu);
  if (p->alive == 0) {
    init = p->init;
    p->init = NULL;
  }
  braid__mutex_unlock(&p->mu);
  if (init) braid__msg_free(init);
  pool_irelease(p);
}

const braid_handle_type braid__pool_type = { "braid.ThreadPool",
                                             pool_destroy };


static char *dupstr(const char *s) {
  return s ? strdup(s) : NULL;
}


int braid__pool_new(braid_pool **out, braid_runtime_t *rt,
                    const braid_pool_opts *o) {
  braid_pool *p = (braid_pool *)braid__calloc(1, sizeof *p);
  *out = NULL;
  if (p == NULL) return BRAID_ENOMEM;
  p->prefix = dupstr(o->prefix ? o->prefix : "ThreadPool");
  p->path = dupstr(o->path);
  p->cpath = dupstr(o->cpath);
  if (p->prefix == NULL || (o->path && !p->path) || (o->cpath && !p->cpath)) {
    braid__free(p->prefix);
    braid__free(p->path);
    braid__free(p->cpath);
    braid__free(p);
    return BRAID_ENOMEM;
  }
  braid__handle_init(&p->h, &braid__pool_type);
  atomic_init(&p->irefs, 1);
  p->rt = braid__runtime_retain(rt);
  braid__mutex_init(&p->mu);
  braid__cond_init(&p->cv);
  braid__cond_init(&p->exit_cv);
  p->max_workers = o->max_workers > 0 ? o->max_workers : 1;
  p->lazy = o->lazy;
  p->maxtasks = o->maxtasks;
  p->init = o->init;
  p->entry = o->entry;
  p->process = o->process;
  p->ext = o->ext;
  p->ext_free = o->ext_free;
  p->ext_notify = o->ext_notify;
  *out = p;
  return BRAID_OK;
}


/* Starts one worker; the caller counted it in 'alive' already. On failure
** 'alive' is given back. */
static int spawn(braid_pool *p) {
  char name[96];
  braid_thread *t;
  int idx, rc;
  braid__mutex_lock(&p->mu);
  idx = p->started++;
  braid__mutex_unlock(&p->mu);
  snprintf(name, sizeof name, "%s_%d", p->prefix, idx);
  t = braid__thread_new(p->rt, name, 0, BRAID_THREAD_WORKER);
  rc = BRAID_ENOMEM;
  if (t != NULL) {
    t->path = dupstr(p->path);
    t->cpath = dupstr(p->cpath);
    t->ud = p;
    pool_iretain(p);
    rc = braid__thread_start(t, p->entry);
    if (rc != BRAID_OK) pool_irelease(p);
    braid__handle_release(&t->h); /* the OS thread holds its own */
  }
  if (rc != BRAID_OK) {
    braid__mutex_lock(&p->mu);
    if (--p->alive == 0) braid__cond_broadcast(&p->exit_cv);
    braid__mutex_unlock(&p->mu);
  }
  return rc;
}


/* How many workers to start for 'want' new units of work (p->mu held);
** counts them in 'alive'. */
static int to_spawn_locked(braid_pool *p, uint32_t want) {
  int n = 0;
  if (!p->lazy) return 0;
  while (p->alive < p->max_workers && (uint32_t)(p->idle + n) < want) {
    p->alive++;
    n++;
  }
  return n;
}


static int spawn_n(braid_pool *p, int n) {
  int rc = BRAID_OK, i;
  for (i = 0; i < n; i++) {
    int r = spawn(p);
    if (r != BRAID_OK) rc = r;
  }
  return rc;
}


int braid__pool_start(braid_pool *p) {
  int n;
  braid__mutex_lock(&p->mu);
  n = p->max_workers - p->alive;
  p->alive += n;
  braid__mutex_unlock(&p->mu);
  return spawn_n(p, n);
}


static int enqueue(braid_pool *p, pool_entry *e, uint32_t units) {
  int n, rc, alive;
  braid__mutex_lock(&p->mu);
  if (p->broken) {
    braid__mutex_unlock(&p->mu);
    return BRAID_EBROKEN;
  }
  if (p->shutdown) {
    braid__mutex_unlock(&p->mu);
    return BRAID_ESHUTDOWN;
  }
  e->next = NULL;
  if (p->tail)
    p->tail->next = e;
  else
    p->head = e;
  p->tail = e;
  n = to_spawn_locked(p, units);
  if (p->idle > 0) {
    if (units > 1)
      braid__cond_broadcast(&p->cv);
    else
      braid__cond_signal(&p->cv);
  }
  braid__mutex_unlock(&p->mu);
  if (n == 0) return BRAID_OK;
  rc = spawn_n(p, n);
  if (rc == BRAID_OK) return BRAID_OK;
  braid__mutex_lock(&p->mu);
  alive = p->alive;
  braid__mutex_unlock(&p->mu);
  return alive > 0 ? BRAID_OK : BRAID_EAGAIN;
}


int braid__pool_submit(braid_pool *p, braid_future *fut, braid_fnent *fn,
                       braid_msg *args) {
  pool_entry *e = (pool_entry *)braid__calloc(1, sizeof *e);
  int rc;
  if (e == NULL) return BRAID_ENOMEM;
  e->fut = (braid_future *)braid__handle_retain(&fut->h);
  e->fn = fn;
  e->args = args;
  rc = enqueue(p, e, 1);
  if (rc == BRAID_ESHUTDOWN || rc == BRAID_EBROKEN) {
    braid__handle_release(&fut->h);
    braid__free(e);
  }
  /* BRAID_EAGAIN: the entry stays queued; a later worker may run it */
  return rc == BRAID_EAGAIN ? BRAID_OK : rc;
}


int braid__pool_map(braid_pool *p, braid_fnent *fn, braid_msg *items,
                    uint32_t n, uint32_t chunksize, int star,
                    braid_job **out) {
  braid_job *j;
  pool_entry *e;
  int rc;
  *out = NULL;
  if (n == 0 || chunksize == 0) return BRAID_EINVAL;
  j = (braid_job *)braid__calloc(1, sizeof *j);
  e = (pool_entry *)braid__calloc(1, sizeof *e);
  if (j == NULL || e == NULL) goto nomem;
  j->nchunks = (n + chunksize - 1) / chunksize;
  j->status = (unsigned char *)braid__calloc(j->nchunks, 1);
  j->res = (braid_msg **)braid__calloc(j->nchunks, sizeof(braid_msg *));
  j->order = (uint32_t *)braid__calloc(j->nchunks, sizeof(uint32_t));
  j->done = braid__future_new();
  if (!j->status || !j->res || !j->order || !j->done) goto nomem;
  braid__handle_init(&j->h, &braid__job_type);
  braid__mutex_init(&j->mu);
  braid__cond_init(&j->cv);
  pool_iretain(p);
  j->pool = p;
  j->fn = fn;
  j->items = items;
  j->n = n;
  j->chunksize = chunksize;
  j->star = star;
  j->failed = -1;
  braid__future_set_running(j->done);
  e->job = (braid_job *)braid__handle_retain(&j->h);
  rc = enqueue(p, e, j->nchunks);
  if (rc == BRAID_ESHUTDOWN || rc == BRAID_EBROKEN) {
    braid__free(e);
    j->fn = NULL;          /* the caller keeps fn and items */
    j->items = NULL;
    j->next = j->nchunks;  /* nothing to release */
    braid__handle_release(&j->h);
    braid__handle_release(&j->h);
    return rc;
  }
  *out = j;
  return BRAID_OK;
nomem:
  if (j) {
    braid__free(j->status);
    braid__free(j->res);
    braid__free(j->order);
    if (j->done) braid__handle_release(&j->done->h);
    braid__free(j);
  }
  braid__free(e);
  return BRAID_ENOMEM;
}


/* Unlinks every queued entry (p->mu held) and marks their jobs fully
** handed out; returns the list with each job's first undispatched chunk
** in 'chunk'-like use of 'args' (stored in e->args as NULL; see callers). */
static pool_entry *detach_locked(braid_pool *p, uint32_t **froms,
                                 size_t *nfrom) {
  pool_entry *list = p->head, *e;
  size_t n = 0;
  for (e = list; e; e = e->next)
    if (e->job) n++;
  *froms = NULL;
  *nfrom = 0;
  if (n) {
    *froms = (uint32_t *)braid__malloc(n * sizeof(uint32_t));
    if (*froms == NULL) return NULL; /* leave the queue as it is */
  }
  n = 0;
  for (e = list; e; e = e->next) {
    if (e->job) {
      (*froms)[n++] = e->job->next;
      e->job->next = e->job->nchunks;
    }
  }
  *nfrom = n;
  p->head = p->tail = NULL;
  return list;
}


static void drop_list(pool_entry *list, uint32_t *froms, int how) {
  size_t i = 0;
  while (list) {
    pool_entry *next = list->next;
    if (list->job) {
      braid_job *j = list->job;
      job_fail_rest(j, froms[i++],
                    how == DROP_CANCEL   ? BRAID_CHUNK_CANCELLED
                    : how == DROP_BROKEN ? BRAID_CHUNK_BROKEN
                                         : BRAID_CHUNK_BROKEN_PROCESS);
      braid__handle_release(&j->h);
    }
    entry_drop(list, how);
    list = next;
  }
  braid__free(froms);
}


void braid__pool_shutdown(braid_pool *p, int cancel) {
  pool_entry *list = NULL;
  uint32_t *froms = NULL;
  size_t nfrom;
  braid__mutex_lock(&p->mu);
  p->shutdown = 1;
  if (cancel) list = detach_locked(p, &froms, &nfrom);
  braid__cond_broadcast(&p->cv);
  braid__mutex_unlock(&p->mu);
  drop_list(list, froms, DROP_CANCEL);
}


void braid__pool_terminate(braid_pool *p) {
  braid__pool_shutdown(p, 1);
  if (p->ext_notify) p->ext_notify(p->ext, BRAID_POOL_TERMINATE);
}


int braid__pool_is_process(braid_pool *p) { return p->process; }
void *braid__pool_ext(braid_pool *p) { return p->ext; }


void braid__pool_break(braid_pool *p) {
  pool_entry *list;
  uint32_t *froms = NULL;
  size_t nfrom;
  braid__mutex_lock(&p->mu);
  p->broken = 1;
  list = detach_locked(p, &froms, &nfrom);
  braid__cond_broadcast(&p->cv);
  braid__mutex_unlock(&p->mu);
  drop_list(list, froms, p->process ? DROP_BROKEN_PROCESS : DROP_BROKEN);
  if (p->ext_notify) p->ext_notify(p->ext, BRAID_POOL_BROKEN);
}


void braid__job_cancel(braid_job *j) {
  braid_pool *p = j->pool;
  pool_entry **pe, *found = NULL;
  uint32_t from = 0;
  braid__mutex_lock(&p->mu);
  for (pe = &p->head; *pe; pe = &(*pe)->next) {
    if ((*pe)->job == j) {
      found = *pe;
      *pe = found->next;
      if (p->tail == found) {
        pool_entry *t = p->head;
        while (t && t->next) t = t->next;
        p->tail = t;
      }
      from = j->next;
      j->next = j->nchunks;
      break;
    }
  }
  braid__mutex_unlock(&p->mu);
  if (found) {
    job_fail_rest(j, from, BRAID_CHUNK_CANCELLED);
    braid__handle_release(&j->h);
    braid__free(found);
  }
}


int braid__pool_join(braid_pool *p, const braid__deadline *d) {
  int rc = BRAID_OK;
  braid__mutex_lock(&p->mu);
  while (p->alive > 0) {
    if (braid__cond_wait(&p->exit_cv, &p->mu, d) && p->alive > 0) {
      rc = BRAID_ETIMEDOUT;
      break;
    }
  }
  braid__mutex_unlock(&p->mu);
  return rc;
}


static int locked_int(braid_pool *p, const int *field) {
  int v;
  braid__mutex_lock(&p->mu);
  v = *field;
  braid__mutex_unlock(&p->mu);
  return v;
}

int braid__pool_broken(braid_pool *p) { return locked_int(p, &p->broken); }
int braid__pool_is_shutdown(braid_pool *p) {
  return locked_int(p, &p->shutdown);
}
int braid__pool_max_workers(braid_pool *p) { return p->max_workers; }
int braid__pool_alive(braid_pool *p) { return locked_int(p, &p->alive); }


braid_msg *braid__pool_init_msg(braid_pool *p) {
  braid_msg *m;
  braid__mutex_lock(&p->mu);
  m = p->init; /* freed only once no worker is alive */
  braid__mutex_unlock(&p->mu);
  return m;
}


/* 'block' 0: only a chunk of 'only', and only when no worker is idle
** (that one should have it). */
static int take(braid_pool *p, braid_work *w, braid_item **buf, size_t *cap,
                int block, const braid_job *only) {
  pool_entry *e;
  memset(w, 0, sizeof *w);
  braid__mutex_lock(&p->mu);
  for (;;) {
    if (p->broken) {
      braid__mutex_unlock(&p->mu);
      return BRAID_EBROKEN;
    }
    e = p->head;
    if (e != NULL && !block && (e->job != only || p->idle > 0)) {
      braid__mutex_unlock(&p->mu);
      return BRAID_EAGAIN;
    }
    if (e != NULL) break;
    if (p->shutdown) {
      braid__mutex_unlock(&p->mu);
      return BRAID_ESHUTDOWN;
    }
    if (!block) {
      braid__mutex_unlock(&p->mu);
      return BRAID_EAGAIN;
    }
    p->idle++;
    braid__cond_wait(&p->cv, &p->mu, NULL);
    p->idle--;
  }
  if (e->job) {
    braid_job *j = e->job;
    uint32_t k = j->next++, a, i, cnt;
    int last = j->next >= j->nchunks;
    if (last) {
      p->head = e->next;
      if (p->head == NULL) p->tail = NULL;
    } else {
      braid__handle_retain(&j->h); /* the entry keeps its own */
    }
    braid__mutex_unlock(&p->mu);
    if (last) braid__free(e);
    a = k * j->chunksize;
    cnt = chunk_len(j, k);
    if (*cap < cnt) {
      braid_item *nb = (braid_item *)braid__realloc(*buf, cnt * sizeof **buf);
      if (nb == NULL) { /* cannot even hold the items: fail the chunk */
        braid__msg_release(j->items, cnt);
        job_store(j, k, p->process ? BRAID_CHUNK_BROKEN_PROCESS
                                   : BRAID_CHUNK_BROKEN, NULL);
        braid__handle_release(&j->h);
        return take(p, w, buf, cap, block, only);
      }
      *buf = nb;
      *cap = cnt;
    }
    for (i = 0; i < cnt; i++) {
      (*buf)[i].m = j->items;
      (*buf)[i].idx = a + i;
    }
    w->job = j;
    w->chunk = k;
    w->items = *buf;
    w->nitems = cnt;
    w->chunksize = j->chunksize;
    w->fn = j->fn;
    w->star = j->star;
    return BRAID_OK;
  }
  p->head = e->next;
  if (p->head == NULL) p->tail = NULL;
  braid__mutex_unlock(&p->mu);
  w->fut = e->fut;
  w->fn = e->fn;
  w->args = e->args;
  braid__free(e);
  return BRAID_OK;
}


int braid__pool_take(braid_pool *p, braid_work *w, braid_item **buf,
                     size_t *cap) {
  return take(p, w, buf, cap, 1, NULL);
}


int braid__pool_try_take(braid_pool *p, braid_work *w, braid_item **buf,
                         size_t *cap, const braid_job *job) {
  return take(p, w, buf, cap, 0, job);
}


long braid__pool_maxtasks(braid_pool *p) { return p->maxtasks; }


void braid__pool_chunk_done(braid_work *w, int status, braid_msg *m) {
  braid_job *j = w->job;
  job_store(j, w->chunk, status, m);
  w->job = NULL;
  w->fn = NULL; /* the job's */
  braid__handle_release(&j->h);
}


int braid__pool_retire(braid_pool *p, long ntasks) {
  int go = 0;
  if (p->maxtasks <= 0 || ntasks < p->maxtasks) return 0;
  braid__mutex_lock(&p->mu);
  if (!p->shutdown && !p->broken) {
    p->alive++; /* the replacement */
    go = 1;
  }
  braid__mutex_unlock(&p->mu);
  if (go) spawn(p);
  return 1;
}


void braid__pool_worker_exit(braid_pool *p) {
  braid__mutex_lock(&p->mu);
  p->alive--;
  if (p->alive == 0 && (p->shutdown || p->broken) && p->init) {
    /* freed under the lock: a joiner that wakes must find nothing alive
    ** that the initializer's arguments held */
    braid__msg_free(p->init);
    p->init = NULL;
  }
  if (p->alive == 0) braid__cond_broadcast(&p->exit_cv);
  braid__mutex_unlock(&p->mu);
  pool_irelease(p);
}
/* } ------ */
/* }====================================================== */

/*
** pool.c: map jobs and thread pools (futures and waiters: future.c;
** function entries: fnent.c).
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
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "sync.h"


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
  unsigned flags;      /* the binding's (braid_pool_opts.flags) */
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
  /* The items come in segments, each a batch published in order
  ** (braid__job_publish): workers start on the first while the caller
  ** encodes the next. Segment s holds chunks segchunks * (2^s - 1) up to
  ** the next segment's first: sizes double, so that the workers, which
  ** may wait for the next segment, wait a few times only (each wait is a
  ** sleep and a wake-up). The job owns the items of the published chunks
  ** not handed out yet. */
  braid_msg **segs;  /* set under pool->mu when published, immutable after */
  uint32_t segchunks, nsegs; /* chunks of the first segment; segments */
  int each;          /* every chunk a segment (BRAID_MAP_EACH_CHUNK) */
  uint32_t published; /* guarded by pool->mu: chunks with their items */
  int closed;        /* guarded by pool->mu: takes no more segments */
  pool_entry *entry; /* until queued (first publish): its queue entry */
  uint32_t n, chunksize, nchunks;
  int star;
  uint32_t next;     /* guarded by pool->mu: next chunk to hand out */
  uint32_t ndone;    /* guarded by 'mu' */
  unsigned char *status; /* guarded by 'mu' */
  braid_msg **res;   /* set with status, immutable after */
  uint32_t *order;   /* guarded by 'mu': chunks in completion order */
  long failed;       /* guarded by 'mu': first failed chunk, -1 */
  /* guarded by 'mu': readers waiting for one chunk (wantk: the chunk of
  ** the only one, or ANY_CHUNK), for the next chunk done */
  uint32_t waitchunk, wantk, waitnext;
  braid_future *done;
  /* set once under 'mu' (braid__job_set_bell), retained: released once per
  ** chunk done */
  braid_semaphore *bell;
  /* guarded by 'mu': per chunk, a descriptor its result can be read from
  ** while it is made (braid__job_set_early), or -1, or -2 once the chunk
  ** is in 'ann'; NULL until the first. A chunk's is closed when the chunk
  ** is done. 'ann' (allocated with it): chunks in the order they became
  ** readable (an early descriptor, or done), 'nann' of them: the order of
  ** braid__job_wait_next_early; in the block of 'early'. */
  int *early;
  uint32_t *ann, nann;
};


static void pool_irelease(braid_pool *p);

#define ANY_CHUNK 0xffffffffu


static uint32_t chunk_len(braid_job *j, uint32_t k) {
  uint32_t a = k * j->chunksize;
  uint32_t left = j->n - a;
  return left < j->chunksize ? left : j->chunksize;
}


/* The number of items of chunks a..b-1. */
static uint32_t chunks_items(braid_job *j, uint32_t a, uint32_t b) {
  uint64_t lo = (uint64_t)a * j->chunksize, hi = (uint64_t)b * j->chunksize;
  if (hi > j->n) hi = j->n;
  return lo < hi ? (uint32_t)(hi - lo) : 0;
}


/* The first chunk of segment 's' (may be past the last chunk). */
static uint64_t seg_first(braid_job *j, uint32_t s) {
  if (j->each) return s;
  return ((uint64_t)j->segchunks << s) - j->segchunks;
}


/* The segment of chunk 'k'. */
static uint32_t seg_of(braid_job *j, uint32_t k) {
  uint64_t q = (uint64_t)k / j->segchunks + 1; /* 2^s <= q < 2^(s+1) */
  uint32_t s = 0;
  if (j->each) return k;
  while (q > 1) {
    q >>= 1;
    s++;
  }
  return s;
}


/* Releases the items of the published chunks from..to-1. */
static void release_chunks(braid_job *j, uint32_t from, uint32_t to) {
  while (from < to) {
    uint32_t s = seg_of(j, from);
    uint64_t end = seg_first(j, s + 1);
    uint32_t e = end < to ? (uint32_t)end : to;
    braid__msg_release(j->segs[s], chunks_items(j, from, e));
    from = e;
  }
}


static void job_destroy(braid_handle *h) {
  braid_job *j = (braid_job *)h;
  uint32_t k;
  for (k = 0; k < j->nchunks; k++) {
    if (j->res[k]) braid__msg_free(j->res[k]);
    if (j->early && j->early[k] >= 0) close(j->early[k]);
  }
  braid__free(j->early); /* and 'ann' */
  /* the items of chunks never handed out (all others were released) */
  if (j->next < j->published) release_chunks(j, j->next, j->published);
  braid__free(j->segs);
  braid__free(j->entry);
  braid__fnent_release(j->fn);
  if (j->done) braid__handle_release((braid_handle *)j->done);
  if (j->bell) braid__handle_release((braid_handle *)j->bell);
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
  int ready = 0, early = -1;
  braid_semaphore *bell = NULL;
  braid__mutex_lock(&j->mu);
  if (j->status[k] == BRAID_CHUNK_PENDING) {
    bell = j->bell;
    if (j->early) {
      early = j->early[k];
      if (early == -1) j->ann[j->nann++] = k; /* readable from now */
      j->early[k] = -2;
    }
    j->status[k] = (unsigned char)st;
    j->res[k] = m;
    m = NULL;
    j->order[j->ndone++] = k;
    if (st != BRAID_CHUNK_OK && j->failed < 0) j->failed = (long)k;
    /* ready once every chunk is done, failed or not (Python's MapResult:
    ** a map's error is reported when the rest of it has run too) */
    if (j->ndone == j->nchunks) ready = 1;
    /* no spurious wake-up for the reader of the chunks in order, which
    ** waits for one while the others complete */
    if (j->waitnext ||
        (j->waitchunk && (j->wantk == k || j->wantk == ANY_CHUNK)))
      braid__cond_broadcast(&j->cv);
  }
  braid__mutex_unlock(&j->mu);
  if (early >= 0) close(early);
  if (m) braid__msg_free(m);
  if (bell) braid__semaphore_release(bell, 1);
  if (ready) braid__future_finish(j->done, NULL, BRAID_EXC_NONE);
}


/* Chunks from..nchunks-1 were never handed out: mark them 'st' and
** release the items of those published (from..to-1) ('next' was set to
** nchunks and the job closed under the pool lock). */
static void job_fail_rest(braid_job *j, uint32_t from, uint32_t to, int st) {
  uint32_t k, nfailed = 0;
  int ready = 0;
  braid_semaphore *bell;
  if (from >= j->nchunks) return;
  release_chunks(j, from, to);
  braid__mutex_lock(&j->mu);
  for (k = from; k < j->nchunks; k++) {
    if (j->status[k] != BRAID_CHUNK_PENDING) continue;
    j->status[k] = (unsigned char)st;
    j->order[j->ndone++] = k;
    if (j->early && j->early[k] == -1) { /* never handed out: no stream */
      j->early[k] = -2;
      j->ann[j->nann++] = k;
    }
    nfailed++;
    if (j->failed < 0) j->failed = (long)k;
  }
  ready = j->ndone == j->nchunks; /* chunks handed out may still run */
  bell = j->bell;
  braid__cond_broadcast(&j->cv);
  braid__mutex_unlock(&j->mu);
  if (bell && nfailed) braid__semaphore_release(bell, (int64_t)nfailed);
  if (ready) braid__future_finish(j->done, NULL, BRAID_EXC_NONE);
}


int braid__job_wait_chunk(braid_job *j, uint32_t k, const braid__deadline *d,
                          const braid_msg **m) {
  int st;
  if (k >= j->nchunks) return BRAID_EINVAL;
  braid__mutex_lock(&j->mu);
  while ((st = j->status[k]) == BRAID_CHUNK_PENDING) {
    int to;
    j->wantk = j->waitchunk++ ? ANY_CHUNK : k;
    to = braid__cond_wait(&j->cv, &j->mu, d);
    j->waitchunk--;
    if (to && (st = j->status[k]) == BRAID_CHUNK_PENDING) {
      braid__mutex_unlock(&j->mu);
      return BRAID_ETIMEDOUT;
    }
  }
  *m = j->res[k];
  braid__mutex_unlock(&j->mu);
  return st;
}


int braid__job_set_early(braid_job *j, uint32_t k, int fd) {
  int rc = BRAID_OK;
  uint32_t i;
  if (k >= j->nchunks) return BRAID_EINVAL;
  braid__mutex_lock(&j->mu);
  if (j->early == NULL &&
      (j->early = (int *)braid__malloc(
           j->nchunks * (sizeof(int) + sizeof *j->ann))) != NULL) {
    j->ann = (uint32_t *)(j->early + j->nchunks); /* the same block */
    for (i = 0; i < j->nchunks; i++) j->early[i] = -1;
    /* the chunks done so far became readable in that order */
    for (i = 0; i < j->ndone; i++) j->early[j->ann[i] = j->order[i]] = -2;
    j->nann = j->ndone;
  }
  if (j->early == NULL) rc = BRAID_ENOMEM;
  else if (j->status[k] != BRAID_CHUNK_PENDING || j->early[k] != -1)
    rc = BRAID_ESTATE;
  else {
    j->early[k] = fd;
    j->ann[j->nann++] = k;
    braid__cond_broadcast(&j->cv); /* others wait on: spurious for them */
  }
  braid__mutex_unlock(&j->mu);
  return rc;
}


/* Chunk k is done or has its early descriptor (under 'mu'). */
#define readable(j, k) \
  ((j)->status[k] != BRAID_CHUNK_PENDING || ((j)->early && (j)->early[k] >= 0))

int braid__job_wait_chunk_early(braid_job *j, uint32_t k, uint32_t ahead,
                                const braid__deadline *d,
                                const braid_msg **m, int *fd) {
  int st;
  *fd = -1;
  *m = NULL;
  if (k >= j->nchunks) return BRAID_EINVAL;
  braid__mutex_lock(&j->mu);
  while (!readable(j, k)) {
    int to;
    uint32_t want = k, far = j->nchunks - 1 - k < ahead ? j->nchunks - 1
                                                        : k + ahead;
    if (!readable(j, far)) want = far; /* woken by that one, not by k */
    j->wantk = j->waitchunk++ ? ANY_CHUNK : want;
    to = braid__cond_wait(&j->cv, &j->mu, d);
    j->waitchunk--;
    if (to && !readable(j, k)) {
      braid__mutex_unlock(&j->mu);
      return BRAID_ETIMEDOUT;
    }
  }
  st = j->status[k];
  if (st == BRAID_CHUNK_PENDING) /* a dup under the lock: see the future's */
    *fd = fcntl(j->early[k], F_DUPFD_CLOEXEC, 0);
  else
    *m = j->res[k];
  braid__mutex_unlock(&j->mu);
  return st;
}


/* braid__job_wait_next (completion order: 'fd' NULL) and _early (the
** order chunks became readable in, 'ann', once a chunk streams). */
static int wait_next(braid_job *j, uint32_t *seen, uint32_t *k,
                     const braid__deadline *d, const braid_msg **m,
                     int *fd) {
  int st;
  if (*seen >= j->nchunks) return BRAID_EEMPTY;
  braid__mutex_lock(&j->mu);
#define READABLE(j) (fd != NULL && (j)->ann ? (j)->nann : (j)->ndone)
  while (READABLE(j) <= *seen) {
    int to;
    j->waitnext++;
    to = braid__cond_wait(&j->cv, &j->mu, d);
    j->waitnext--;
    if (to && READABLE(j) <= *seen) {
      braid__mutex_unlock(&j->mu);
      return BRAID_ETIMEDOUT;
    }
  }
  *k = fd != NULL && j->ann ? j->ann[*seen] : j->order[*seen];
#undef READABLE
  st = j->status[*k];
  *m = j->res[*k];
  if (st == BRAID_CHUNK_PENDING) /* only from 'ann': its stream, a dup */
    *fd = fcntl(j->early[*k], F_DUPFD_CLOEXEC, 0);
  (*seen)++;
  braid__mutex_unlock(&j->mu);
  return st;
}

int braid__job_wait_next(braid_job *j, uint32_t *seen, uint32_t *k,
                         const braid__deadline *d, const braid_msg **m) {
  return wait_next(j, seen, k, d, m, NULL);
}

int braid__job_wait_next_early(braid_job *j, uint32_t *seen, uint32_t *k,
                               const braid__deadline *d,
                               const braid_msg **m, int *fd) {
  *fd = -1;
  return wait_next(j, seen, k, d, m, fd);
}


int braid__job_wait(braid_job *j, const braid__deadline *d) {
  return braid__future_wait(j->done, d);
}


int braid__job_ready(braid_job *j, long *failed) {
  int r;
  braid__mutex_lock(&j->mu);
  r = j->ndone == j->nchunks;
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


int braid__job_set_bell(braid_job *j, struct braid_semaphore *s) {
  uint32_t n;
  braid__mutex_lock(&j->mu);
  if (j->bell != NULL) {
    braid__mutex_unlock(&j->mu);
    return BRAID_ESTATE;
  }
  j->bell = (braid_semaphore *)braid__handle_retain((braid_handle *)s);
  n = j->ndone; /* those done before: every later one rings by itself */
  braid__mutex_unlock(&j->mu);
  if (n) braid__semaphore_release(s, (int64_t)n);
  return BRAID_OK;
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
    braid__handle_release((braid_handle *)e->fut);
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
  return s ? braid__strdup(s) : NULL;
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
  p->flags = o->flags;
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
    braid__thread_set_paths(t, p->path, p->cpath);
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


/* Wakes idle workers for 'units' new units of work (p->mu held). */
static void wake_locked(braid_pool *p, uint32_t units) {
  if (p->idle > 0) {
    if (units > 1)
      braid__cond_broadcast(&p->cv);
    else
      braid__cond_signal(&p->cv);
  }
}


/* Appends 'e' (p->mu held); '*n': workers to start (spawn_started) for
** 'units' units of work ('wake' of them can start now). */
static int enqueue_locked(braid_pool *p, pool_entry *e, uint32_t units,
                          uint32_t wake, int *n) {
  *n = 0;
  if (p->broken) return BRAID_EBROKEN;
  if (p->shutdown) return BRAID_ESHUTDOWN;
  e->next = NULL;
  if (p->tail)
    p->tail->next = e;
  else
    p->head = e;
  p->tail = e;
  *n = to_spawn_locked(p, units);
  wake_locked(p, wake);
  return BRAID_OK;
}


/* Starts the 'n' workers enqueue_locked asked for (no lock held). */
static int spawn_started(braid_pool *p, int n) {
  int rc, alive;
  if (n == 0) return BRAID_OK;
  rc = spawn_n(p, n);
  if (rc == BRAID_OK) return BRAID_OK;
  braid__mutex_lock(&p->mu);
  alive = p->alive;
  braid__mutex_unlock(&p->mu);
  return alive > 0 ? BRAID_OK : BRAID_EAGAIN;
}


static int enqueue(braid_pool *p, pool_entry *e, uint32_t units) {
  int n, rc;
  braid__mutex_lock(&p->mu);
  rc = enqueue_locked(p, e, units, units, &n);
  braid__mutex_unlock(&p->mu);
  if (rc != BRAID_OK) return rc;
  return spawn_started(p, n);
}


int braid__pool_submit(braid_pool *p, braid_future *fut, braid_fnent *fn,
                       braid_msg *args) {
  pool_entry *e = (pool_entry *)braid__calloc(1, sizeof *e);
  int rc;
  if (e == NULL) return BRAID_ENOMEM;
  e->fut = (braid_future *)braid__handle_retain((braid_handle *)fut);
  e->fn = fn;
  e->args = args;
  rc = enqueue(p, e, 1);
  if (rc == BRAID_ESHUTDOWN || rc == BRAID_EBROKEN) {
    braid__handle_release((braid_handle *)fut);
    braid__free(e);
  }
  /* BRAID_EAGAIN: the entry stays queued; a later worker may run it */
  return rc == BRAID_EAGAIN ? BRAID_OK : rc;
}


int braid__pool_map_begin(braid_pool *p, braid_fnent *fn, uint32_t n,
                          uint32_t chunksize, uint32_t segchunks, int star,
                          braid_job **out) {
  braid_job *j;
  pool_entry *e;
  *out = NULL;
  if (n == 0 || chunksize == 0) return BRAID_EINVAL;
  j = (braid_job *)braid__calloc(1, sizeof *j);
  e = (pool_entry *)braid__calloc(1, sizeof *e);
  if (j == NULL || e == NULL) goto nomem;
  j->nchunks = (uint32_t)(((uint64_t)n + chunksize - 1) / chunksize);
  if (segchunks == BRAID_MAP_EACH_CHUNK) {
    j->each = 1;
    segchunks = 1;
  }
  if (segchunks == 0 || segchunks > j->nchunks) segchunks = j->nchunks;
  j->segchunks = segchunks;
  j->nsegs = seg_of(j, j->nchunks - 1) + 1;
  j->segs = (braid_msg **)braid__calloc(j->nsegs, sizeof(braid_msg *));
  j->status = (unsigned char *)braid__calloc(j->nchunks, 1);
  j->res = (braid_msg **)braid__calloc(j->nchunks, sizeof(braid_msg *));
  j->order = (uint32_t *)braid__calloc(j->nchunks, sizeof(uint32_t));
  j->done = braid__future_new();
  if (!j->segs || !j->status || !j->res || !j->order || !j->done) goto nomem;
  braid__handle_init(&j->h, &braid__job_type);
  braid__mutex_init(&j->mu);
  braid__cond_init(&j->cv);
  pool_iretain(p);
  j->pool = p;
  j->fn = fn;
  j->entry = e;
  j->n = n;
  j->chunksize = chunksize;
  j->star = star;
  j->failed = -1;
  braid__future_set_running(j->done);
  *out = j;
  return BRAID_OK;
nomem:
  if (j) {
    braid__free(j->segs);
    braid__free(j->status);
    braid__free(j->res);
    braid__free(j->order);
    if (j->done) braid__handle_release((braid_handle *)j->done);
    braid__free(j);
  }
  braid__free(e);
  return BRAID_ENOMEM;
}


int braid__job_publish(braid_job *j, braid_msg *items) {
  braid_pool *p = j->pool;
  uint32_t s, to, from;
  pool_entry *e = NULL;
  int rc = BRAID_OK, n = 0;
  braid__mutex_lock(&p->mu);
  from = j->published;
  s = from < j->nchunks ? seg_of(j, from) : j->nsegs;
  /* a map is accepted only if the pool runs while all its items are
  ** encoded (as when they were all encoded before it was queued) */
  rc = p->broken     ? BRAID_EBROKEN
       : p->shutdown ? BRAID_ESHUTDOWN
       : j->closed   ? BRAID_ECANCELED
       : s >= j->nsegs ? BRAID_EINVAL
                       : BRAID_OK;
  if (rc != BRAID_OK) {
    braid__mutex_unlock(&p->mu);
    return rc;
  }
  to = seg_first(j, s + 1) < j->nchunks ? (uint32_t)seg_first(j, s + 1)
                                         : j->nchunks;
  if (j->entry != NULL) { /* the first segment queues the job */
    e = j->entry;
    e->job = j;
    rc = enqueue_locked(p, e, j->nchunks, to - from, &n);
    if (rc != BRAID_OK) {
      e->job = NULL;
      j->closed = 1;
      braid__mutex_unlock(&p->mu);
      return rc;
    }
    braid__handle_retain(&j->h); /* the entry's */
    j->entry = NULL;
  } else {
    wake_locked(p, to - from);
  }
  j->segs[s] = items;
  j->published = to;
  if (to == j->nchunks) j->closed = 1;
  braid__mutex_unlock(&p->mu);
  if (e != NULL) spawn_started(p, n);
  return BRAID_OK;
}


int braid__pool_map(braid_pool *p, braid_fnent *fn, braid_msg *items,
                    uint32_t n, uint32_t chunksize, int star,
                    braid_job **out) {
  braid_job *j;
  int rc = braid__pool_map_begin(p, fn, n, chunksize, 0, star, &j);
  *out = NULL;
  if (rc != BRAID_OK) return rc;
  rc = braid__job_publish(j, items);
  if (rc != BRAID_OK) { /* the caller keeps fn and items */
    braid__fnent_retain(fn);
    braid__handle_release(&j->h);
    return rc;
  }
  *out = j;
  return BRAID_OK;
}


/* Unlinks every queued entry (p->mu held), closes their jobs and marks
** them fully handed out; '*froms' gets each job's first and last+1
** published chunk not handed out (two numbers per job, in queue order). */
static pool_entry *detach_locked(braid_pool *p, uint32_t **froms,
                                 size_t *nfrom) {
  pool_entry *list = p->head, *e;
  size_t n = 0;
  for (e = list; e; e = e->next)
    if (e->job) n++;
  *froms = NULL;
  *nfrom = 0;
  if (n) {
    *froms = (uint32_t *)braid__malloc(2 * n * sizeof(uint32_t));
    if (*froms == NULL) return NULL; /* leave the queue as it is */
  }
  n = 0;
  for (e = list; e; e = e->next) {
    if (e->job) {
      braid_job *j = e->job;
      (*froms)[n++] = j->next;
      (*froms)[n++] = j->published;
      j->next = j->nchunks;
      j->closed = 1;
    }
  }
  *nfrom = n / 2;
  p->head = p->tail = NULL;
  return list;
}


static void drop_list(pool_entry *list, uint32_t *froms, int how) {
  size_t i = 0;
  while (list) {
    pool_entry *next = list->next;
    if (list->job) {
      braid_job *j = list->job;
      job_fail_rest(j, froms[i], froms[i + 1],
                    how == DROP_CANCEL   ? BRAID_CHUNK_CANCELLED
                    : how == DROP_BROKEN ? BRAID_CHUNK_BROKEN
                                         : BRAID_CHUNK_BROKEN_PROCESS);
      i += 2;
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
unsigned braid__pool_flags(braid_pool *p) { return p->flags; }
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
  uint32_t from = 0, to = 0;
  int fail = 0;
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
      break;
    }
  }
  if (j->next < j->nchunks) { /* also a job not queued or published yet */
    from = j->next;
    to = j->published;
    j->next = j->nchunks;
    fail = 1;
  }
  j->closed = 1;
  /* workers that waited for this job's segments may exit now */
  if (found && p->head == NULL && p->shutdown) braid__cond_broadcast(&p->cv);
  braid__mutex_unlock(&p->mu);
  if (fail) job_fail_rest(j, from, to, BRAID_CHUNK_CANCELLED);
  if (found) {
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


/* Whether entry 'e' has work to hand out now (p->mu held): a call, or a
** job with published chunks not handed out (a job still being published
** may have none for a moment: later entries go first meanwhile). */
static int has_work(pool_entry *e) {
  return e->job == NULL || e->job->next < e->job->published;
}


/* 'block' 0: only a chunk of 'only', and only when no worker is idle
** (that one should have it). */
static int take(braid_pool *p, braid_work *w, braid_item **buf, size_t *cap,
                int block, const braid_job *only) {
  pool_entry *e, *prev;
  memset(w, 0, sizeof *w);
  braid__mutex_lock(&p->mu);
  for (;;) {
    if (p->broken) {
      braid__mutex_unlock(&p->mu);
      return BRAID_EBROKEN;
    }
    for (prev = NULL, e = p->head; e && !has_work(e); prev = e, e = e->next)
      ;
    if (e != NULL && !block && (e->job != only || p->idle > 0)) {
      braid__mutex_unlock(&p->mu);
      return BRAID_EAGAIN;
    }
    if (e != NULL) break;
    if (p->head == NULL && p->shutdown) {
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
    uint32_t s = seg_of(j, k);
    braid_msg *seg = j->segs[s];
    if (last) {
      if (prev)
        prev->next = e->next;
      else
        p->head = e->next;
      if (p->tail == e) p->tail = prev;
      /* workers that waited for this job's segments may exit now */
      if (p->head == NULL && p->shutdown) braid__cond_broadcast(&p->cv);
    } else {
      braid__handle_retain(&j->h); /* the entry keeps its own */
    }
    braid__mutex_unlock(&p->mu);
    if (last) braid__free(e);
    a = (uint32_t)(k - seg_first(j, s)) * j->chunksize; /* in the segment */
    cnt = chunk_len(j, k);
    if (*cap < cnt) {
      braid_item *nb = (braid_item *)braid__realloc(*buf, cnt * sizeof **buf);
      if (nb == NULL) { /* cannot even hold the items: fail the chunk */
        braid__msg_release(seg, cnt);
        job_store(j, k, p->process ? BRAID_CHUNK_BROKEN_PROCESS
                                   : BRAID_CHUNK_NOMEM, NULL);
        braid__handle_release(&j->h);
        return take(p, w, buf, cap, block, only);
      }
      *buf = nb;
      *cap = cnt;
    }
    for (i = 0; i < cnt; i++) {
      (*buf)[i].m = seg;
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
  if (prev)
    prev->next = e->next;
  else
    p->head = e->next;
  if (p->tail == e) p->tail = prev;
  if (p->head == NULL && p->shutdown) braid__cond_broadcast(&p->cv);
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


/* A retiring worker is replaced while the pool runs, and after shutdown
** (close) while work is still queued: join() after close() waits for every
** submitted task (Python's Pool keeps starting workers until the queue is
** drained). A queued entry that has nothing to hand out yet (a map still
** being published) counts: its chunks need a worker too. The replacement
** is counted in 'alive' before the retiring worker leaves, so a joiner
** never sees 0 in between. */
int braid__pool_retire(braid_pool *p, long ntasks) {
  int go = 0;
  if (p->maxtasks <= 0 || ntasks < p->maxtasks) return 0;
  braid__mutex_lock(&p->mu);
  if (!p->broken && (!p->shutdown || p->head != NULL)) {
    p->alive++; /* the replacement */
    go = 1;
  }
  braid__mutex_unlock(&p->mu);
  if (go) spawn(p);
  return 1;
}


void braid__pool_worker_exit(braid_pool *p) {
  braid__mutex_lock(&p->mu);
  /* The last worker leaves a pool that starts no more workers (one shut
  ** down, or one that starts none on demand and whose replacement could
  ** not start): the work still queued fails rather than stay pending
  ** forever, and a running pool of the second kind is broken (submits
  ** raise). Done while this worker still counts in 'alive', so a joiner
  ** finds the futures finished. */
  if (p->alive == 1 && !p->broken && (p->shutdown || !p->lazy) &&
      (p->head != NULL || !p->shutdown)) {
    uint32_t *froms = NULL;
    size_t nfrom;
    pool_entry *list = detach_locked(p, &froms, &nfrom);
    if (!p->shutdown) p->broken = 1;
    braid__mutex_unlock(&p->mu);
    drop_list(list, froms, p->process ? DROP_BROKEN_PROCESS : DROP_BROKEN);
    braid__mutex_lock(&p->mu);
  }
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

/*
** thread.c: the thread runtime.
** See LICENSE for copyright and license.
**
** A runtime says how worker states are made (allocator, host
** initializers) and keeps the list of alive threads (for enumerate and
** the join at exit). A braid_thread is the shared object behind a Thread:
** every state that sees the thread holds a reference, and the OS thread
** holds one until it has closed its state. OS threads are detached and
** parked for reuse when their run ends (park.h): a join waits for the
** DONE status, set after the worker's state is closed, so no Lua code of
** the worker runs after a join returns.
**
** Mailboxes carry messages to a Lua state from other threads (callbacks
** such as a custom excepthook). They are refcounted independently of the
** state, so posting to a state that has closed is safe: the post fails.
*/
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "intr.h"
#include "park.h"
#include "thread.h"

struct braid_mailbox {
  atomic_long refs;
  atomic_int pending;
  braid__mutex mu;
  braid_msg *head, *tail; /* guarded by 'mu' */
  int closed;             /* guarded by 'mu' */
};


/*
** {======================================================
** Runtimes
** =======================================================
*/

static braid_runtime_t *default_runtime;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;


static braid_runtime_t *runtime_alloc(void) {
  braid_runtime_t *rt = (braid_runtime_t *)braid__calloc(1, sizeof *rt);
  if (rt == NULL) return NULL;
  atomic_init(&rt->refs, 1);
  braid__mutex_init(&rt->mu);
  braid__cond_init(&rt->cv);
  return rt;
}


static void make_default(void) {
  default_runtime = runtime_alloc(); /* lives as long as the process */
}


braid_runtime_t *braid__runtime_default(void) {
  pthread_once(&default_once, make_default);
  if (default_runtime == NULL) return NULL;
  return braid__runtime_retain(default_runtime);
}


braid_runtime_t *braid__runtime_retain(braid_runtime_t *rt) {
  atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
  return rt;
}


int braid_runtime_new(braid_runtime_t **rtp,
                      const braid_runtime_options_t *opts) {
  braid_runtime_t *rt;
  if (rtp == NULL) return BRAID_EINVAL;
  *rtp = NULL;
  rt = runtime_alloc();
  if (rt == NULL) return BRAID_ENOMEM;
  if (opts != NULL) {
    if (opts->flags & BRAID_RUNTIME_HAS_ALLOC) {
      if (opts->alloc == NULL) {
        braid_runtime_release(rt);
        return BRAID_EINVAL;
      }
      rt->alloc = opts->alloc;
      rt->alloc_ud = opts->alloc_ud;
    }
    if ((opts->flags & BRAID_RUNTIME_HAS_STATEINIT) &&
        opts->stateinit != NULL) {
      int rc = braid_runtime_add_stateinit(rt, opts->stateinit,
                                           opts->stateinit_ud);
      if (rc != BRAID_OK) {
        braid_runtime_release(rt);
        return rc;
      }
    }
  }
  *rtp = rt;
  return BRAID_OK;
}


int braid_runtime_add_stateinit(braid_runtime_t *rt, braid_stateinit_cb fn,
                                void *ud) {
  braid_stateinit *n;
  int rc = BRAID_OK;
  if (rt == NULL || fn == NULL) return BRAID_EINVAL;
  braid__mutex_lock(&rt->mu);
  if (rt->started) {
    rc = BRAID_ESTATE;
  } else {
    n = (braid_stateinit *)braid__realloc(
        rt->inits, (size_t)(rt->ninits + 1) * sizeof *n);
    if (n == NULL) {
      rc = BRAID_ENOMEM;
    } else {
      n[rt->ninits].fn = fn;
      n[rt->ninits].ud = ud;
      rt->inits = n;
      rt->ninits++;
    }
  }
  braid__mutex_unlock(&rt->mu);
  return rc;
}


/* A shared path string: the bytes follow the count. */
typedef struct PathStr {
  atomic_long refs;
  char s[];
} PathStr;

#define pathstr(p) ((PathStr *)(void *)((p) - offsetof(PathStr, s)))

static void path_release(char *p) {
  if (p != NULL &&
      atomic_fetch_sub_explicit(&pathstr(p)->refs, 1, memory_order_acq_rel) == 1)
    braid__free(pathstr(p));
}


/* A reference to a copy of 's': the runtime's last one when equal, else
** a new one that becomes the last. Called with rt->mu held. */
static char *path_share(braid_runtime_t *rt, char **last, const char *s) {
  PathStr *n;
  size_t len;
  if (s == NULL) return NULL;
  if (*last == NULL || strcmp(*last, s) != 0) {
    len = strlen(s);
    n = (PathStr *)braid__malloc(sizeof *n + len + 1);
    if (n == NULL) return NULL;
    atomic_init(&n->refs, 1); /* the runtime's */
    memcpy(n->s, s, len + 1);
    path_release(*last);
    *last = n->s;
  }
  atomic_fetch_add_explicit(&pathstr(*last)->refs, 1, memory_order_relaxed);
  return *last;
}


void braid__thread_set_paths(braid_thread *t, const char *path,
                             const char *cpath) {
  braid_runtime_t *rt = t->rt;
  char *p, *c;
  braid__mutex_lock(&rt->mu);
  p = path_share(rt, &rt->last_path, path);
  c = path_share(rt, &rt->last_cpath, cpath);
  braid__mutex_unlock(&rt->mu);
  path_release(t->path);
  path_release(t->cpath);
  t->path = p;
  t->cpath = c;
}


void braid_runtime_release(braid_runtime_t *rt) {
  if (rt == NULL) return;
  if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1) {
    path_release(rt->last_path);
    path_release(rt->last_cpath);
    if (rt->hook_mb) braid__mailbox_release(rt->hook_mb);
    braid__free(rt->inits);
    braid__cond_destroy(&rt->cv);
    braid__mutex_destroy(&rt->mu);
    braid__free(rt);
  }
}


void braid_runtime_join_threads(braid_runtime_t *rt) {
  braid__mutex_lock(&rt->mu);
  while (rt->nondaemon > 0) braid__cond_wait(&rt->cv, &rt->mu, NULL);
  braid__mutex_unlock(&rt->mu);
}
/* }====================================================== */


/*
** {======================================================
** Threads
** =======================================================
*/

static void thread_destroy(braid_handle *h) {
  braid_thread *t = (braid_thread *)h;
  /* braid__thread_finish drops the worker's reference under t->mu and
  ** then still broadcasts on t->cv: when another state releases the last
  ** reference in that window, wait for the worker to leave t->mu before
  ** the mutex and the condition variable go (found by TSan). */
  braid__mutex_lock(&t->mu);
  braid__mutex_unlock(&t->mu);
  braid__msg_free(t->payload);
  braid__stream_release(t->stream);
  path_release(t->path);
  path_release(t->cpath);
  braid__free(t->name);
  braid__cond_destroy(&t->cv);
  braid__mutex_destroy(&t->mu);
  braid_runtime_release(t->rt);
  braid__free(t);
}

const braid_handle_type braid__thread_type = { "braid.ThreadHandle",
                                               thread_destroy };


static void list_add(braid_runtime_t *rt, braid_thread *t) {
  t->prev = NULL;
  t->next = rt->threads;
  if (rt->threads) rt->threads->prev = t;
  rt->threads = t;
}


static void list_remove(braid_runtime_t *rt, braid_thread *t) {
  if (t->prev)
    t->prev->next = t->next;
  else if (rt->threads == t)
    rt->threads = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
}


braid_thread *braid__thread_new(braid_runtime_t *rt, const char *name,
                                int daemon, int kind) {
  braid_thread *t = (braid_thread *)braid__calloc(1, sizeof *t);
  char buf[32];
  if (t == NULL) return NULL;
  if (name == NULL) {
    braid__mutex_lock(&rt->mu);
    if (kind == BRAID_THREAD_DUMMY)
      snprintf(buf, sizeof buf, "Dummy-%ld", ++rt->dummies);
    else
      snprintf(buf, sizeof buf, "Thread-%ld", ++rt->counter);
    braid__mutex_unlock(&rt->mu);
    name = buf;
  }
  t->name = braid__strdup(name);
  if (t->name == NULL) {
    braid__free(t);
    return NULL;
  }
  braid__handle_init(&t->h, &braid__thread_type);
  t->rt = braid__runtime_retain(rt);
  t->kind = kind;
  t->daemon = daemon;
  braid__mutex_init(&t->mu);
  braid__cond_init(&t->cv);
  if (kind != BRAID_THREAD_WORKER) { /* an OS thread that already runs */
    t->status = BRAID_THREAD_RUNNING;
    t->ident = (int64_t)(uintptr_t)pthread_self();
    t->native_id = braid__native_id();
    braid__mutex_lock(&rt->mu);
    list_add(rt, t);
    if (kind == BRAID_THREAD_MAIN && rt->main == NULL) {
      rt->main = t;
      braid__handle_retain(&t->h); /* the runtime's reference */
    }
    braid__mutex_unlock(&rt->mu);
  }
  return t;
}


/* The least stack an OS thread of a worker gets, whatever stack_size()
** says (Python's minimum, 32 KiB, is what a caller may set; the value
** it reads back is the one it set). Lua raises "C stack overflow" after
** LUAI_MAXCCALLS (200) nested C calls, and the codec at its nesting
** limit (200): the stack must hold that many levels of the deepest
** standard frames, or deep recursion crashes the process instead of
** raising. Measured: 200 nested string.gsub callbacks need 384-512 KiB
** (its string buffer is on the stack), table.sort and pcall 128-192 KiB.
** Twice the worst, as untouched stack pages cost only address space.
** Under the sanitizers their interceptors' frames come on top (200
** levels of gsub need 1-2 MiB under ThreadSanitizer): four times more. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STACK_FLOOR ((size_t)4 << 20)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STACK_FLOOR ((size_t)4 << 20)
#endif
#endif
#ifndef STACK_FLOOR
#define STACK_FLOOR ((size_t)1 << 20)
#endif

static size_t os_stack(size_t requested) {
  if (requested == 0) { /* the default, unless RLIMIT_STACK makes it small */
    pthread_attr_t a;
    size_t def = 0;
    if (pthread_attr_init(&a) == 0) {
      if (pthread_attr_getstacksize(&a, &def) != 0) def = 0;
      pthread_attr_destroy(&a);
    }
    return def != 0 && def < STACK_FLOOR ? STACK_FLOOR : 0;
  }
  return requested < STACK_FLOOR ? STACK_FLOOR : requested;
}


int braid__thread_start(braid_thread *t, void *(*entry)(void *)) {
  braid_runtime_t *rt = t->rt;
  pthread_t tid;
  int err;
  size_t stack;
  braid__mutex_lock(&rt->mu);
  braid__mutex_lock(&t->mu);
  if (t->status != BRAID_THREAD_NEW) {
    braid__mutex_unlock(&t->mu);
    braid__mutex_unlock(&rt->mu);
    return BRAID_ESTATE;
  }
  t->status = BRAID_THREAD_RUNNING;
  rt->started = 1;
  if (!t->daemon) rt->nondaemon++;
  list_add(rt, t);
  stack = os_stack(rt->stack_size);
  braid__handle_retain(&t->h); /* the OS thread's reference */
  braid__mutex_unlock(&t->mu);
  braid__mutex_unlock(&rt->mu);
  /* a parked OS thread if one is idle (park.h), else a new one */
  err = braid__park_spawn(entry, t, stack, &tid);
  braid__mutex_lock(&rt->mu);
  braid__mutex_lock(&t->mu);
  if (err != 0) {
    t->status = BRAID_THREAD_NEW;
    if (!t->daemon && --rt->nondaemon == 0) braid__cond_broadcast(&rt->cv);
    list_remove(rt, t);
  } else {
    t->ident = (int64_t)(uintptr_t)tid; /* the worker sets the same */
  }
  braid__mutex_unlock(&t->mu);
  braid__mutex_unlock(&rt->mu);
  if (err != 0) {
    braid__handle_release(&t->h);
    return BRAID_EAGAIN;
  }
  return BRAID_OK;
}


void braid__thread_finish(braid_thread *t) {
  braid_runtime_t *rt = braid__runtime_retain(t->rt);
  int last;
  braid__mutex_lock(&rt->mu);
  list_remove(rt, t);
  if (!t->daemon && --rt->nondaemon == 0) braid__cond_broadcast(&rt->cv);
  braid__mutex_lock(&t->mu);
  t->status = BRAID_THREAD_DONE;
  /* The worker's reference goes before joiners wake, so that once join()
  ** returns, the thread holds nothing (specs count live objects). A
  ** joiner holds its own reference, so this is the last one only when
  ** nobody waits. */
  last = braid__handle_unref(&t->h);
  /* The OS thread is free from here on: offered to the next start before
  ** a joiner wakes, so that a start right after join() reuses it. */
  braid__park_offer();
  braid__cond_broadcast(&t->cv);
  braid__mutex_unlock(&t->mu);
  braid__mutex_unlock(&rt->mu);
  if (last) braid__handle_destroy(&t->h);
  braid_runtime_release(rt);
}


void braid__thread_reset(braid_thread *t) {
  braid__mutex_lock(&t->mu);
  if (t->status == BRAID_THREAD_DONE && t->kind == BRAID_THREAD_WORKER) {
    t->status = BRAID_THREAD_NEW;
    t->ident = 0;
    t->native_id = 0;
  }
  braid__mutex_unlock(&t->mu);
}


void braid__thread_retire(braid_thread *t) {
  braid_runtime_t *rt = t->rt;
  int wasmain;
  braid__mutex_lock(&rt->mu);
  list_remove(rt, t);
  wasmain = rt->main == t;
  if (wasmain) rt->main = NULL; /* the runtime's reference goes below */
  braid__mutex_lock(&t->mu);
  t->status = BRAID_THREAD_DONE;
  braid__cond_broadcast(&t->cv);
  braid__mutex_unlock(&t->mu);
  braid__mutex_unlock(&rt->mu);
  /* The main thread holds the runtime and the runtime held it: break the
  ** cycle when the main state closes. */
  if (wasmain) braid__handle_release(&t->h);
}


int braid__thread_join(braid_thread *t, double timeout) {
  braid__deadline d = braid__deadline_in(timeout);
  int rc = BRAID_OK;
  braid__mutex_lock(&t->mu);
  while (t->status != BRAID_THREAD_DONE) {
    if (braid__cond_wait(&t->cv, &t->mu, &d) &&
        t->status != BRAID_THREAD_DONE) {
      rc = BRAID_ETIMEDOUT;
      break;
    }
  }
  braid__mutex_unlock(&t->mu);
  return rc;
}


long braid__thread_native_id(braid_thread *t) {
  long id;
  braid__mutex_lock(&t->mu);
  while (t->status == BRAID_THREAD_RUNNING && t->native_id == 0)
    braid__cond_wait(&t->cv, &t->mu, NULL);
  id = t->native_id;
  braid__mutex_unlock(&t->mu);
  return id;
}


int braid__thread_status(braid_thread *t) {
  int s;
  braid__mutex_lock(&t->mu);
  s = t->status;
  braid__mutex_unlock(&t->mu);
  return s;
}
/* }====================================================== */


/*
** {======================================================
** Mailboxes
** =======================================================
*/

/* Messages sitting in any mailbox of the process: lets hot blocking calls
** (q:get, q:put) skip braidB_poll's registry lookup when nothing at all
** was posted. Incremented before a message becomes visible in its
** mailbox, decremented after it is taken out, so it is never 0 while a
** message waits. */
static atomic_long posts_pending;

int braid__mailbox_any_pending(void) {
  return atomic_load_explicit(&posts_pending, memory_order_acquire) != 0;
}


static long list_length(const braid_msg *m) {
  long n = 0;
  for (; m != NULL; m = m->next) n++;
  return n;
}


braid_mailbox *braid__mailbox_new(void) {
  braid_mailbox *mb = (braid_mailbox *)braid__calloc(1, sizeof *mb);
  if (mb == NULL) return NULL;
  atomic_init(&mb->refs, 1);
  atomic_init(&mb->pending, 0);
  braid__mutex_init(&mb->mu);
  return mb;
}


braid_mailbox *braid__mailbox_retain(braid_mailbox *mb) {
  atomic_fetch_add_explicit(&mb->refs, 1, memory_order_relaxed);
  return mb;
}


static void free_list(braid_msg *m) {
  while (m != NULL) {
    braid_msg *next = m->next;
    braid__msg_free(m);
    m = next;
  }
}


void braid__mailbox_release(braid_mailbox *mb) {
  if (atomic_fetch_sub_explicit(&mb->refs, 1, memory_order_acq_rel) == 1) {
    atomic_fetch_sub_explicit(&posts_pending, list_length(mb->head),
                              memory_order_relaxed);
    free_list(mb->head);
    braid__mutex_destroy(&mb->mu);
    braid__free(mb);
  }
}


int braid__mailbox_post(braid_mailbox *mb, braid_msg *m) {
  braid__mutex_lock(&mb->mu);
  if (mb->closed) {
    braid__mutex_unlock(&mb->mu);
    braid__msg_free(m);
    return BRAID_ECLOSED;
  }
  m->next = NULL;
  atomic_fetch_add_explicit(&posts_pending, 1, memory_order_relaxed);
  if (mb->tail)
    mb->tail->next = m;
  else
    mb->head = m;
  mb->tail = m;
  atomic_store_explicit(&mb->pending, 1, memory_order_release);
  braid__mutex_unlock(&mb->mu);
  return BRAID_OK;
}


braid_msg *braid__mailbox_take(braid_mailbox *mb) {
  braid_msg *m;
  if (!atomic_load_explicit(&mb->pending, memory_order_acquire)) return NULL;
  braid__mutex_lock(&mb->mu);
  m = mb->head;
  mb->head = mb->tail = NULL;
  atomic_store_explicit(&mb->pending, 0, memory_order_relaxed);
  braid__mutex_unlock(&mb->mu);
  atomic_fetch_sub_explicit(&posts_pending, list_length(m),
                            memory_order_relaxed);
  return m;
}


void braid__mailbox_close(braid_mailbox *mb) {
  braid_msg *m;
  braid__mutex_lock(&mb->mu);
  mb->closed = 1;
  m = mb->head;
  mb->head = mb->tail = NULL;
  braid__mutex_unlock(&mb->mu);
  atomic_fetch_sub_explicit(&posts_pending, list_length(m),
                            memory_order_relaxed);
  free_list(m);
}


int braid__mailbox_pending(braid_mailbox *mb) {
  return atomic_load_explicit(&mb->pending, memory_order_acquire);
}
/* }====================================================== */

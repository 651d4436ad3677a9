/*
** queue.c: queues of encoded messages shared between workers.
** See LICENSE for copyright and license.
**
** An item is encoded once by the producer (outside any lock), linked into
** the queue under the queue's mutex, unlinked by a consumer under the
** mutex, and decoded by the consumer after releasing it: the mutex guards
** only pointer moves, never a Lua call or a copy. FIFO queues are a
** singly linked list of messages through braid_msg.next, LIFO queues a
** stack on the same link; a message may be a batch of items (put_many),
** taken from the front (FIFO: 'tag' = next index) or the back (LIFO:
** 'tag' = items left). Priority queues are a binary heap of items
** ordered by braid__item_compare (pure C) with an insertion sequence as
** tie-break, so equal priorities come out in FIFO order.
**
** Waiting: a consumer that finds the queue empty first spins for up to
** BRAID_SPIN_NS on the item count (an atomic mirror of 'count'), then
** sleeps on 'not_empty'. Each put signals one sleeper per item put, never
** all of them (no thundering herd); puts on a bounded queue do the same
** with 'not_full'. Shutdown and task accounting follow Python 3.13.
**
** Lock order: only 'mu'. Nothing here calls into Lua.
*/
#include <string.h>
#include <stdio.h>

#include "queue.h"

typedef struct HeapEntry {
  braid_item it;
  lua_Integer seq;
} HeapEntry;

struct braid_queue {
  braid_handle h;
  int kind;
  long maxsize;            /* 0: unbounded */
  braid__mutex mu;
  braid__cond not_empty;   /* guarded by 'mu' */
  braid__cond not_full;    /* guarded by 'mu' */
  braid__cond all_done;    /* guarded by 'mu' */
  braid_msg *head, *tail;  /* FIFO / LIFO, guarded by 'mu' */
  HeapEntry *heap;         /* PRIORITY, guarded by 'mu' */
  size_t heapcap, heapn;
  size_t count;            /* guarded by 'mu': items */
  atomic_size_t count_hint; /* 'count' for spinners, written under 'mu' */
  long unfinished;         /* guarded by 'mu' */
  int shutdown;            /* guarded by 'mu' */
  int sleeping_getters;    /* guarded by 'mu' */
  int sleeping_putters;    /* guarded by 'mu' */
  lua_Integer seq;         /* guarded by 'mu': priority tie-break */
  _Atomic(braid_msg *) spares; /* lock-free stack of reusable messages */
  atomic_int nspares;          /* approximate size, to bound it */
};

#define MAX_SPARES 4096


/* Items of list node 'm' still in the queue. */
static uint32_t node_left(const braid_queue *q, const braid_msg *m) {
  return q->kind == BRAID_QUEUE_LIFO ? (uint32_t)m->tag
                                     : m->nitems - (uint32_t)m->tag;
}


static void drop_all(braid_queue *q) {
  braid_msg *m = q->head;
  size_t i;
  while (m) {
    braid_msg *next = m->next;
    braid__msg_release(m, node_left(q, m));
    m = next;
  }
  q->head = q->tail = NULL;
  for (i = 0; i < q->heapn; i++) braid__msg_release(q->heap[i].it.m, 1);
  q->heapn = 0;
  q->count = 0;
}


static void free_list(braid_msg *m) {
  while (m) {
    braid_msg *next = m->next;
    braid__msg_free(m);
    m = next;
  }
}


static void queue_destroy(braid_handle *h) {
  braid_queue *q = (braid_queue *)h;
  drop_all(q);
  free_list(atomic_load(&q->spares));
  braid__free(q->heap);
  braid__cond_destroy(&q->not_empty);
  braid__cond_destroy(&q->not_full);
  braid__cond_destroy(&q->all_done);
  braid__mutex_destroy(&q->mu);
  braid__free(q);
}

const braid_handle_type braid__queue_type = { "braid.Queue", queue_destroy };
const braid_handle_type braid__lifoqueue_type = { "braid.LifoQueue",
                                                  queue_destroy };
const braid_handle_type braid__priorityqueue_type = { "braid.PriorityQueue",
                                                      queue_destroy };
const braid_handle_type braid__simplequeue_type = { "braid.SimpleQueue",
                                                    queue_destroy };


int braid__queue_new(braid_queue **out, int kind, long maxsize) {
  static const braid_handle_type *const types[] = {
    &braid__queue_type, &braid__lifoqueue_type, &braid__priorityqueue_type,
    &braid__simplequeue_type,
  };
  braid_queue *q = (braid_queue *)braid__calloc(1, sizeof *q);
  *out = NULL;
  if (q == NULL) return BRAID_ENOMEM;
  braid__handle_init(&q->h, types[kind]);
  q->kind = kind;
  q->maxsize = maxsize > 0 && kind != BRAID_QUEUE_SIMPLE ? maxsize : 0;
  braid__mutex_init_adaptive(&q->mu);
  braid__cond_init(&q->not_empty);
  braid__cond_init(&q->not_full);
  braid__cond_init(&q->all_done);
  atomic_init(&q->count_hint, 0);
  atomic_init(&q->spares, NULL);
  atomic_init(&q->nspares, 0);
  *out = q;
  return BRAID_OK;
}


int braid__queue_kind(const braid_queue *q) {
  return q->kind;
}


/* { ------ the containers, under 'mu' */

/* 1 when 'a' comes out before 'b'. Pairs that cannot be ordered never get
** into the heap together through a put (the put fails first); should a
** sibling pair met while sifting down not be orderable, the insertion
** order decides, so no item is ever lost or stuck. */
static int before(const HeapEntry *a, const HeapEntry *b) {
  int cmp;
  const char *x, *y;
  if (braid__item_compare(&a->it, &b->it, &cmp, &x, &y) != BRAID_OK ||
      cmp == 0)
    return a->seq < b->seq;
  return cmp < 0;
}


static int heap_reserve(braid_queue *q, size_t n) {
  if (q->heapn + n > q->heapcap) {
    size_t ncap = q->heapcap ? q->heapcap : 16;
    HeapEntry *nh;
    while (ncap < q->heapn + n) ncap *= 2;
    nh = (HeapEntry *)braid__realloc(q->heap, ncap * sizeof *nh);
    if (nh == NULL) return BRAID_ENOMEM;
    q->heap = nh;
    q->heapcap = ncap;
  }
  return BRAID_OK;
}


/* Inserts item 'it' into the heap: first finds its place by comparing
** with its would-be ancestors, so that an item that cannot be ordered is
** refused with the heap untouched, then moves the ancestors down. */
static int heap_push(braid_queue *q, braid_item it, char *why,
                     size_t whylen) {
  size_t i = q->heapn, j;
  HeapEntry e;
  int rc = heap_reserve(q, 1);
  if (rc != BRAID_OK) return rc;
  e.it = it;
  e.seq = q->seq;
  for (j = i; j > 0;) {
    size_t parent = (j - 1) / 2;
    int cmp;
    const char *x, *y;
    rc = braid__item_compare(&it, &q->heap[parent].it, &cmp, &x, &y);
    if (rc == BRAID_ENOTSUP) {
      if (why)
        snprintf(why, whylen,
                 "'<' not supported between instances of '%s' and '%s'", x,
                 y);
      return rc;
    }
    if (rc != BRAID_OK) return rc;
    if (!(cmp < 0)) break; /* equal: the older stays above */
    j = parent;
  }
  while (i > j) { /* shift the chain from 'i' up to 'j' down one level */
    size_t parent = (i - 1) / 2;
    q->heap[i] = q->heap[parent];
    i = parent;
  }
  q->heap[j] = e;
  q->heapn++;
  q->seq++;
  return BRAID_OK;
}


static braid_item heap_pop(braid_queue *q) {
  braid_item top = q->heap[0].it;
  HeapEntry last;
  size_t i = 0, n = --q->heapn;
  if (n == 0) return top;
  last = q->heap[n];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, c;
    if (l >= n) break;
    c = (r < n && before(&q->heap[r], &q->heap[l])) ? r : l;
    if (!before(&q->heap[c], &last)) break;
    q->heap[i] = q->heap[c];
    i = c;
  }
  q->heap[i] = last;
  return top;
}


/* Links message 'm' (all its items). For a priority queue a batch is
** refused whole if any item cannot be ordered: items already placed are
** taken back out first. */
static int push_msg(braid_queue *q, braid_msg *m, char *why, size_t whylen) {
  if (q->kind == BRAID_QUEUE_PRIORITY) {
    uint32_t i;
    for (i = 0; i < m->nitems; i++) {
      braid_item it;
      int rc;
      it.m = m;
      it.idx = i;
      rc = heap_push(q, it, why, whylen);
      if (rc != BRAID_OK) {
        /* remove this message's items placed so far (rare path) */
        size_t k = 0, w = 0;
        for (k = 0; k < q->heapn; k++)
          if (q->heap[k].it.m != m) q->heap[w++] = q->heap[k];
        q->heapn = w;
        for (k = w; k-- > 0;) { /* re-heapify: sift every parent down */
          size_t pi = k;
          HeapEntry v = q->heap[pi];
          for (;;) {
            size_t l = 2 * pi + 1, r = l + 1, c;
            if (l >= w) break;
            c = (r < w && before(&q->heap[r], &q->heap[l])) ? r : l;
            if (!before(&q->heap[c], &v)) break;
            q->heap[pi] = q->heap[c];
            pi = c;
          }
          q->heap[pi] = v;
        }
        return rc;
      }
    }
  } else {
    m->next = NULL;
    if (q->kind == BRAID_QUEUE_LIFO) {
      m->tag = m->nitems; /* items left, taken from the back */
      m->next = q->head;
      q->head = m;
      if (q->tail == NULL) q->tail = m;
    } else {
      m->tag = 0; /* next item, taken from the front */
      if (q->tail)
        q->tail->next = m;
      else
        q->head = m;
      q->tail = m;
    }
  }
  q->count += m->nitems;
  atomic_store_explicit(&q->count_hint, q->count, memory_order_release);
  return BRAID_OK;
}


static braid_item pop_item(braid_queue *q) {
  braid_item it;
  if (q->kind == BRAID_QUEUE_PRIORITY) {
    it = heap_pop(q);
  } else {
    braid_msg *m = q->head;
    it.m = m;
    if (q->kind == BRAID_QUEUE_LIFO)
      it.idx = (uint32_t)--m->tag;
    else
      it.idx = (uint32_t)m->tag++;
    if (node_left(q, m) == 0) {
      q->head = m->next;
      if (q->head == NULL) q->tail = NULL;
      m->next = NULL;
    }
  }
  q->count--;
  atomic_store_explicit(&q->count_hint, q->count, memory_order_release);
  return it;
}


/* Spins (unlocked) until 'ready' holds or BRAID_SPIN_NS pass. */
static void spin_until(braid_queue *q, int want_items) {
  double until = braid__now() + BRAID_SPIN_NS * 1e-9;
  int i;
  for (;;) {
    for (i = 0; i < 64; i++) {
      size_t c = atomic_load_explicit(&q->count_hint, memory_order_acquire);
      if (want_items ? c > 0 : (q->maxsize == 0 || c < (size_t)q->maxsize))
        return;
      braid__cpu_relax();
    }
    if (braid__now() >= until) return;
  }
}


static int full(braid_queue *q) {
  return q->maxsize > 0 && q->count >= (size_t)q->maxsize;
}


int braid__queue_put(braid_queue *q, braid_msg **ms, size_t n, int block,
                     double timeout, size_t *put, char *why, size_t whylen) {
  braid__deadline d;
  int rc = BRAID_OK, spun = 0, deadline_set = 0;
  size_t i = 0, woken;
  *put = 0;
  braid__mutex_lock(&q->mu);
  while (i < n) {
    if (q->shutdown) {
      rc = BRAID_ESHUTDOWN;
      break;
    }
    if (full(q)) {
      if (!block) {
        rc = BRAID_EFULL;
        break;
      }
      if (!deadline_set) {
        d = braid__deadline_in(timeout);
        deadline_set = 1;
      }
      if (!spun) {
        spun = 1;
        braid__mutex_unlock(&q->mu);
        spin_until(q, 0);
        braid__mutex_lock(&q->mu);
        continue;
      }
      q->sleeping_putters++;
      if (braid__cond_wait(&q->not_full, &q->mu, &d) && full(q) &&
          !q->shutdown) {
        q->sleeping_putters--;
        rc = BRAID_EFULL;
        break;
      }
      q->sleeping_putters--;
      continue;
    }
    rc = push_msg(q, ms[i], why, whylen);
    if (rc != BRAID_OK) break;
    if (q->kind != BRAID_QUEUE_SIMPLE) q->unfinished += ms[i]->nitems;
    i++;
  }
  /* one sleeper per item, never a herd */
  for (woken = 0; woken < i && (int)woken < q->sleeping_getters; woken++)
    braid__cond_signal(&q->not_empty);
  braid__mutex_unlock(&q->mu);
  *put = i;
  return rc;
}


int braid__queue_get(braid_queue *q, braid_item *out, size_t max,
                     size_t *n, int block, double timeout) {
  braid__deadline d;
  int rc = BRAID_OK, spun = 0, deadline_set = 0;
  size_t k = 0, woken;
  *n = 0;
  if (block && atomic_load_explicit(&q->count_hint, memory_order_acquire) == 0) {
    spin_until(q, 1); /* before taking the lock the producer needs */
    spun = 1;
  }
  braid__mutex_lock(&q->mu);
  while (q->count == 0) {
    if (q->shutdown) {
      rc = BRAID_ESHUTDOWN;
      break;
    }
    if (!block) {
      rc = BRAID_EEMPTY;
      break;
    }
    if (!deadline_set) {
      d = braid__deadline_in(timeout);
      deadline_set = 1;
    }
    if (!spun) {
      spun = 1;
      braid__mutex_unlock(&q->mu);
      spin_until(q, 1);
      braid__mutex_lock(&q->mu);
      continue;
    }
    q->sleeping_getters++;
    if (braid__cond_wait(&q->not_empty, &q->mu, &d) && q->count == 0) {
      q->sleeping_getters--;
      rc = q->shutdown ? BRAID_ESHUTDOWN : BRAID_EEMPTY;
      break;
    }
    q->sleeping_getters--;
  }
  if (rc == BRAID_OK) {
    while (k < max && q->count > 0) out[k++] = pop_item(q);
    for (woken = 0; woken < k && (int)woken < q->sleeping_putters; woken++)
      braid__cond_signal(&q->not_full);
    /* items left and sleepers waiting: pass the baton (a put signalled
    ** one sleeper per item, but this get took several) */
    if (q->count > 0 && q->sleeping_getters > 0)
      braid__cond_signal(&q->not_empty);
  }
  braid__mutex_unlock(&q->mu);
  *n = k;
  return rc;
}


int braid__queue_task_done(braid_queue *q) {
  int rc = BRAID_OK;
  braid__mutex_lock(&q->mu);
  if (q->unfinished <= 0) {
    rc = BRAID_EINVAL;
  } else if (--q->unfinished == 0) {
    braid__cond_broadcast(&q->all_done);
  }
  braid__mutex_unlock(&q->mu);
  return rc;
}


int braid__queue_join(braid_queue *q, double timeout) {
  braid__deadline d = braid__deadline_in(timeout);
  int rc = BRAID_OK;
  braid__mutex_lock(&q->mu);
  while (q->unfinished > 0) {
    if (braid__cond_wait(&q->all_done, &q->mu, &d) && q->unfinished > 0) {
      rc = BRAID_ETIMEDOUT;
      break;
    }
  }
  braid__mutex_unlock(&q->mu);
  return rc;
}


void braid__queue_shutdown(braid_queue *q, int immediate) {
  braid_queue dropped; /* what immediate drops, freed after unlocking */
  memset(&dropped, 0, sizeof dropped);
  dropped.kind = q->kind;
  braid__mutex_lock(&q->mu);
  q->shutdown = 1;
  if (immediate) {
    /* Python drops the items one get at a time, counting each done */
    long n = (long)q->count;
    q->unfinished = q->unfinished > n ? q->unfinished - n : 0;
    dropped.head = q->head;
    dropped.heap = q->heap;
    dropped.heapn = q->heapn;
    q->head = q->tail = NULL;
    q->heap = NULL;
    q->heapn = q->heapcap = 0;
    q->count = 0;
    atomic_store_explicit(&q->count_hint, 0, memory_order_release);
    braid__cond_broadcast(&q->all_done);
  }
  braid__cond_broadcast(&q->not_empty);
  braid__cond_broadcast(&q->not_full);
  braid__mutex_unlock(&q->mu);
  drop_all(&dropped);
  braid__free(dropped.heap);
}


void braid__queue_done(braid_msg *m, void *ud) {
  braid_queue *q = (braid_queue *)ud;
  braid_msg *head;
  if (!braid__msg_is_spare(m) ||
      atomic_load_explicit(&q->nspares, memory_order_relaxed) > MAX_SPARES) {
    braid__msg_release(m, 1);
    return;
  }
  atomic_fetch_add_explicit(&q->nspares, 1, memory_order_relaxed);
  head = atomic_load_explicit(&q->spares, memory_order_relaxed);
  do {
    m->next = head;
  } while (!atomic_compare_exchange_weak_explicit(
      &q->spares, &head, m, memory_order_release, memory_order_relaxed));
}


braid_msg *braid__queue_take_spares(braid_queue *q) {
  braid_msg *list;
  if (atomic_load_explicit(&q->spares, memory_order_relaxed) == NULL)
    return NULL;
  list = atomic_exchange_explicit(&q->spares, NULL, memory_order_acquire);
  atomic_store_explicit(&q->nspares, 0, memory_order_relaxed);
  return list;
}


size_t braid__queue_qsize(braid_queue *q) {
  return atomic_load_explicit(&q->count_hint, memory_order_acquire);
}


long braid__queue_maxsize(const braid_queue *q) {
  return q->maxsize;
}


int braid__queue_is_shutdown(braid_queue *q) {
  int s;
  braid__mutex_lock(&q->mu);
  s = q->shutdown;
  braid__mutex_unlock(&q->mu);
  return s;
}


long braid__queue_unfinished(braid_queue *q) {
  long u;
  braid__mutex_lock(&q->mu);
  u = q->unfinished;
  braid__mutex_unlock(&q->mu);
  return u;
}

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
** Unbounded FIFO queues and SimpleQueues (the common case, and the one
** that must stream millions of items a second) take a faster path, a
** two-lock queue in the manner of Michael and Scott: producers serialise
** on 'pmu' and append to a list of segments of slots (a message, or a
** scalar carried in the slot itself: qval.h), consumers serialise on 'cmu'
** (both braid__lock, lock.h) and take from the front; a slot is published with a
** release store and read with an acquire load, so a producer and a
** consumer never share a lock, and share cache lines only where they meet
** (the slot, the message). Producers count items put in 'enq', consumers
** items taken in 'deq' (each on its own cache line); qsize is enq - deq.
** A consumer that finds nothing spins (bounded), then sleeps on
** 'not_empty' under 'mu' after announcing itself in 'waiters'; a producer
** reads 'waiters' after publishing (both sides use sequentially
** consistent operations, so one of them sees the other: no lost wake-up)
** and only then takes 'mu' to signal one sleeper per item: the common
** put with no sleeper takes no lock but its own. Shutdown takes 'pmu'
** (so no put straddles it), then 'cmu' to drop items when immediate.
** Bounded, LIFO and priority queues use one mutex, 'mu', for everything.
**
** 'maxsize' can change (Python's q.maxsize is a plain attribute that every
** put re-reads): braid__queue_set_maxsize. Giving a fast queue a bound
** moves it for good to the one-mutex path (to_slow): under all three
** locks the segments' items become the list's and 'fast' drops to 0; each
** fast entry point looks at 'fast' again under its own lock and, seeing
** 0, goes the one-mutex way (FAST_GONE), and fast getters asleep are
** woken to do the same. 'fast' never goes back to 1.
**
** Waiting (one-mutex path): a consumer that finds the queue empty first
** spins on the item count (an atomic mirror of 'count'), then sleeps on
** 'not_empty'. Each put signals one sleeper per item put, never all of
** them (no thundering herd); puts on a bounded queue do the same with
** 'not_full'. Shutdown and task accounting follow Python 3.13.
**
** Spinning (both paths, see spin_until): at most BRAID_SPIN_NS (or the
** environment variable BRAID_SPIN_NS, read once; core._queue_spin_ns
** changes it at run time), adapted per queue (halved after a spin that
** found nothing, doubled after one that did), and one spinner per queue
** at a time: the others sleep at once, and a fast put wakes a sleeper
** only for the items a spinner will not take. Only where the spin policy
** (spin.h) allows: never with one usable CPU or more running threads than
** CPUs, yielding while a woken thread waits for a CPU; wake-ups tell it
** how many sleepers they made runnable (braid__spin_woke). Where it may
** not spin, a waiter yields its CPU SPIN_YIELDS times, looking again after
** each, before it sleeps: a partner sharing its CPU runs on at once.
**
** Lock order: 'pmu', then 'cmu', then 'mu'. Nothing here calls into Lua,
** copies an item or allocates under a lock except the occasional segment
** (one per SEG_SLOTS messages, usually recycled).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "lock.h"
#include "order.h"
#include "qval.h"
#include "spin.h"

typedef struct HeapEntry {
  braid_item it;
  int64_t seq;
} HeapEntry;

/* A slot of the fast path: 'w' is 0 (empty), a message pointer, or a
** scalar's tag with the scalar in 'v' (qval.h). A producer writes 'v'
** and then publishes 'w' with a release store; a consumer reads 'w' with
** an acquire load, then 'v'. Four slots share a cache line, so a
** consumer following its producer misses once per four scalars, where a
** message per item cost a miss on the message and another when it went
** back to its producer for reuse. */
typedef struct Slot {
  _Atomic(uintptr_t) w;
  uint64_t v;
} Slot;

/* A segment of the fast path's list: slots filled in order by producers
** and emptied in order by consumers (4 KiB with its link). */
#define SEG_SLOTS 255
typedef struct Seg {
  _Atomic(struct Seg *) next;
  Slot slot[SEG_SLOTS];
} Seg;

#define PAD(name) char name[64]

struct braid_queue {
  braid_handle h;
  int kind;
  atomic_int fast;         /* unbounded FIFO or SimpleQueue: two locks;
                           ** drops to 0 once (to_slow), under all locks */
  int segs;                /* made fast: 'pmu', 'cmu' and segments exist */
  atomic_long maxsize;     /* 0: unbounded; written under 'mu' */
  atomic_int shutdown;     /* written once, under 'mu' (and 'pmu' if fast) */
  braid__mutex mu;
  braid__cond not_empty;   /* guarded by 'mu' */
  braid__cond not_full;    /* guarded by 'mu' */
  braid__cond all_done;    /* guarded by 'mu' */
  braid_msg *head, *tail;  /* FIFO / LIFO, guarded by 'mu' */
  HeapEntry *heap;         /* PRIORITY, guarded by 'mu' */
  size_t heapcap, heapn;
  size_t count;            /* guarded by 'mu': items */
  atomic_size_t count_hint; /* 'count' for spinners, written under 'mu' */
  int sleeping_getters;    /* guarded by 'mu' */
  int sleeping_putters;    /* guarded by 'mu' */
  int64_t seq;         /* guarded by 'mu': priority tie-break */
  /* Each group below on its own cache lines: a producer and a consumer
  ** that write the same line make each other miss on every item. */
  PAD(pad0);
  /* fast path, producers' side */
  braid__lock pmu;          /* lock.h: inline, taken on every put */
  Seg *ptail;              /* guarded by 'pmu' */
  unsigned ptail_idx;      /* guarded by 'pmu': next free slot */
  atomic_long unfinished;  /* changed under 'mu', or by fast puts */
  PAD(pad1a);
  /* apart from 'pmu': a spinning consumer polls it, and on the lock's
  ** line every poll would make the producer's next lock a miss */
  atomic_size_t enq;       /* items put, after publishing them */
  PAD(pad1);
  /* fast path, consumers' side */
  braid__lock cmu;          /* lock.h: inline, taken on every get */
  Seg *chead;              /* guarded by 'cmu' */
  unsigned chead_idx;      /* guarded by 'cmu': next slot to read */
  atomic_size_t deq;       /* items taken, written under 'cmu' */
  atomic_int spinning;     /* 1 while a getter or putter spins */
  atomic_long spin_budget; /* ns, adaptive (see spin_until); 0: the most */
  PAD(pad2);
  atomic_int woken;        /* signals sent to them and not yet taken up
                           ** by a getter leaving its sleep (under 'mu') */
  atomic_int waiters;      /* fast getters asleep (changed under 'mu'),
                           ** read by every fast put */
  _Atomic(Seg *) spare_seg; /* one emptied segment kept for reuse */
  PAD(pad3);
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


/* Fast path: scalars in the slots not taken yet (under 'cmu', or with no
** other user). */
static size_t fast_count_scalars(braid_queue *q) {
  Seg *s = q->chead;
  unsigned i = q->chead_idx;
  size_t k = 0;
  for (;;) {
    uintptr_t w;
    if (i == SEG_SLOTS) {
      s = atomic_load_explicit(&s->next, memory_order_acquire);
      if (s == NULL) break;
      i = 0;
    }
    w = atomic_load_explicit(&s->slot[i].w, memory_order_acquire);
    if (w == 0) break;
    k += (size_t)braid__qval_is_scalar(w);
    i++;
  }
  return k;
}


/* Fast path: unlinks every item left (under 'cmu', or with no other
** user) into a list of messages through 'next', 'tag' = items taken.
** A scalar becomes a message taken from the list 'pool' (through 'next';
** fast_count_scalars of them), or is dropped when 'pool' is NULL. */
static size_t fast_unlink_all(braid_queue *q, braid_msg **list,
                              braid_msg **pool) {
  size_t k = 0;
  *list = NULL;
  for (;;) {
    braid_msg *m;
    Slot *sl;
    uintptr_t w;
    if (q->chead_idx == SEG_SLOTS) {
      Seg *next = atomic_load_explicit(&q->chead->next, memory_order_acquire);
      if (next == NULL) break;
      braid__free(q->chead);
      q->chead = next;
      q->chead_idx = 0;
    }
    sl = &q->chead->slot[q->chead_idx];
    w = atomic_load_explicit(&sl->w, memory_order_acquire);
    if (w == 0) break;
    q->chead_idx++;
    if (braid__qval_is_scalar(w)) {
      braid_qval v;
      k++;
      if (pool == NULL || *pool == NULL) continue; /* dropped */
      braid__qval_from_slot(&v, w, sl->v);
      m = *pool;
      *pool = m->next;
      braid__qval_write(&v, m);
      m->next = *list;
      *list = m;
      continue;
    }
    m = (braid_msg *)w;
    k += m->nitems - (uint32_t)m->tag;
    m->next = *list;
    *list = m;
  }
  atomic_store_explicit(&q->deq,
                        atomic_load_explicit(&q->deq, memory_order_relaxed) + k,
                        memory_order_relaxed);
  return k;
}


static void release_list(braid_msg *m) {
  while (m) {
    braid_msg *next = m->next;
    braid__msg_release(m, m->nitems - (uint32_t)m->tag);
    m = next;
  }
}


static void queue_destroy(braid_handle *h) {
  braid_queue *q = (braid_queue *)h;
  if (q->segs) {
    braid_msg *list;
    fast_unlink_all(q, &list, NULL); /* nothing left after to_slow */
    release_list(list);
    braid__free(q->chead); /* the last segment, also the producers' */
    braid__free(atomic_load(&q->spare_seg));
  }
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
  q->kind = kind;
  maxsize = maxsize > 0 && kind != BRAID_QUEUE_SIMPLE ? maxsize : 0;
  atomic_init(&q->maxsize, maxsize);
  q->segs = maxsize == 0 &&
            (kind == BRAID_QUEUE_FIFO || kind == BRAID_QUEUE_SIMPLE);
  atomic_init(&q->fast, q->segs);
  if (q->segs) {
    q->chead = q->ptail = (Seg *)braid__calloc(1, sizeof(Seg));
    if (q->chead == NULL) {
      braid__free(q);
      return BRAID_ENOMEM;
    }
    braid__lock_init(&q->pmu);
    braid__lock_init(&q->cmu);
  }
  /* counted alive from here on, when nothing can fail any more */
  braid__handle_init(&q->h, types[kind]);
  atomic_init(&q->unfinished, 0);
  atomic_init(&q->shutdown, 0);
  atomic_init(&q->enq, 0);
  atomic_init(&q->deq, 0);
  atomic_init(&q->waiters, 0);
  atomic_init(&q->woken, 0);
  atomic_init(&q->spin_budget, 0);
  atomic_init(&q->spinning, 0);
  atomic_init(&q->spare_seg, NULL);
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


/* { ------ the spin before sleeping: BRAID_SPIN_NS, or the environment
** variable BRAID_SPIN_NS read once, or braid__queue_spin_ns */
static atomic_long spin_ns = -1; /* -1: not read yet */

long braid__queue_spin_ns(long set) {
  long v = atomic_load_explicit(&spin_ns, memory_order_relaxed);
  if (v < 0) {
    const char *env = getenv("BRAID_SPIN_NS");
    char *end;
    long e = env ? strtol(env, &end, 10) : -1;
    long want = (env && *env && *end == '\0' && e >= 0) ? e : BRAID_SPIN_NS;
    long expect = -1;
    if (atomic_compare_exchange_strong(&spin_ns, &expect, want)) v = want;
    else v = expect;
  }
  if (set >= 0) atomic_store_explicit(&spin_ns, set, memory_order_relaxed);
  return v;
}
/* } ------ */


enum { SPIN_ROOM, SPIN_ITEMS, SPIN_FAST_ITEMS };

static int is_fast(braid_queue *q) {
  return atomic_load_explicit(&q->fast, memory_order_acquire);
}


/* 1 when a fast getter would find an item: the consumers' next slot is
** filled, or the segment after a full one is linked (or the queue left
** the fast path). The spinner looks at the line the item itself is on,
** which the put writes anyway: polling 'enq' instead made every hand-off
** two misses one after the other ('enq', then the slot), and each poll
** pulled 'enq' away from the producer. 'cmu' is tried, never waited
** for: a consumer taking meanwhile is not held up, and a spinner that
** finds it taken looks again on its next poll. */
static int fast_ready(braid_queue *q) {
  int ready;
  if (!braid__lock_try(&q->cmu)) return 0;
  if (!is_fast(q))
    ready = 1;
  else if (q->chead_idx == SEG_SLOTS)
    ready = atomic_load_explicit(&q->chead->next, memory_order_relaxed) != NULL;
  else
    ready = atomic_load_explicit(&q->chead->slot[q->chead_idx].w,
                                 memory_order_relaxed) != 0;
  braid__lock_release(&q->cmu);
  return ready;
}

static int spin_ready(braid_queue *q, int what) {
  size_t c;
  long max;
  switch (what) {
    case SPIN_FAST_ITEMS:
      return fast_ready(q) ||
             atomic_load_explicit(&q->shutdown, memory_order_relaxed);
    case SPIN_ITEMS:
      return atomic_load_explicit(&q->count_hint, memory_order_relaxed) > 0;
    default:
      c = atomic_load_explicit(&q->count_hint, memory_order_relaxed);
      max = atomic_load_explicit(&q->maxsize, memory_order_relaxed);
      return max == 0 || c < (size_t)max;
  }
}


/* Spins (unlocked) until 'what' holds or the spin budget passes; returns
** when it began (also when it did not spin). The
** budget adapts per queue, as glibc's adaptive mutexes do: a spin that
** ends without success (the other side was not running, or had nothing
** to give: sleeping would have cost the same) halves it, down to
** SPIN_MIN_NS; a spin that succeeds doubles it, up to the configured
** spin. So a partner answering from another core is met by spinning,
** while a partner sharing our core, or an idle one, costs almost nothing.
**
** Within a spin the looks back off: the first comes after one pause, and
** the pauses before each next one double, up to SPIN_GAP_MAX. Each look
** pulls the line the partner writes next away from it (the slot of the
** next item), and its next locked instruction (the put's lock) then waits
** for that line to come back: a consumer that looked every few pauses
** held a producer that was only slightly slower to one line round trip
** an item. Backing off, an answer that comes at once is seen sooner (one
** pause, not four: two threads' ping-pong 0.28-0.35 -> 0.21-0.27 us),
** and a partner a little behind is looked at less often (docs/HACKING.md,
** "Spinning before sleeping"). */
#define SPIN_MIN_NS 2000
#ifndef SPIN_GAP_MAX
#define SPIN_GAP_MAX 32
#endif
#ifndef SPIN_YIELDS
#define SPIN_YIELDS 4
#endif

static double spin_until(braid_queue *q, int what) {
  long max = braid__queue_spin_ns(-1);
  long budget = atomic_load_explicit(&q->spin_budget, memory_order_relaxed);
  double t0, until;
  int i, gap = 1; /* pauses before the next look */
  /* never while a runnable thread, perhaps the one we wait for, would
  ** have no CPU (spin.h): a single CPU, or more running threads than
  ** CPUs; the spin then costs nothing and leaves the budget as it was */
  if (max == 0) return braid__now();
  if (!braid__spin_start()) {
    t0 = braid__now();
    for (i = 0; i < SPIN_YIELDS && !spin_ready(q, what); i++)
      braid__spin_yield();
    return t0;
  }
  /* one spinner per queue: more burn cores the other side may need (a
  ** producer feeding several consumers), and a second spinner would wait
  ** for the same item anyway; the others sleep at once */
  if (atomic_load_explicit(&q->spinning, memory_order_relaxed) ||
      atomic_exchange_explicit(&q->spinning, 1, memory_order_acquire))
    return braid__now();
  if (budget <= 0 || budget > max) budget = max;
  t0 = braid__now();
  until = t0 + (double)budget * 1e-9;
  for (;;) {
    for (i = 0; i < 16; i++) {
      int j;
      if (spin_ready(q, what)) {
        if (budget < max)
          atomic_store_explicit(&q->spin_budget,
                                budget * 2 < max ? budget * 2 : max,
                                memory_order_relaxed);
        atomic_store_explicit(&q->spinning, 0, memory_order_release);
        return t0;
      }
      for (j = 0; j < gap; j++) braid__cpu_relax();
      if (gap < SPIN_GAP_MAX) gap *= 2;
    }
    if (braid__now() >= until) break;
    if (!braid__spin_continue()) { /* others need the CPUs: yield them */
      atomic_store_explicit(&q->spinning, 0, memory_order_release);
      return t0;
    }
  }
  atomic_store_explicit(&q->spin_budget,
                        budget / 2 > SPIN_MIN_NS ? budget / 2 : SPIN_MIN_NS,
                        memory_order_relaxed);
  atomic_store_explicit(&q->spinning, 0, memory_order_release);
  return t0;
}


/* After a getter slept and then got an item, 'since' being when it began
** to wait: had the wait been shorter than the longest spin, a spin that
** long would have caught the item, so the budget grows to twice the
** wait. Without this, a partner that answers in, say, 5 us would be met
** with a 2 us spin forever after the first misses. */
static void spin_learn(braid_queue *q, double since) {
  long max = braid__queue_spin_ns(-1);
  double waited = (braid__now() - since) * 1e9;
  long budget = atomic_load_explicit(&q->spin_budget, memory_order_relaxed);
  if (budget <= 0 || budget > max) budget = max;
  if (waited < (double)max && (long)(waited * 2) > budget)
    atomic_store_explicit(&q->spin_budget,
                          (long)(waited * 2) < max ? (long)(waited * 2) : max,
                          memory_order_relaxed);
}


/* Signals 'c' 'n' times, outside the mutex it pairs with: the 'n'
** sleepers were counted under that mutex, which each releases only inside
** its wait, so they are in the wait already; a sleeper woken while we
** still held the mutex would wake only to block on it. The spin policy
** learns of the wakees (braid__spin_woke). */
static void signal_n(braid__cond *c, size_t n) {
  size_t k;
  for (k = 0; k < n; k++) braid__cond_signal(c);
  braid__spin_woke((int)n);
}


static int full(braid_queue *q) {
  long max = atomic_load_explicit(&q->maxsize, memory_order_relaxed);
  return max > 0 && q->count >= (size_t)max;
}


/* What a fast entry point returns when it found the queue moved to the
** one-mutex path (to_slow): the caller goes that way instead. */
#define FAST_GONE 1

/* { ------ the fast path (unbounded FIFO, SimpleQueue) */

/* Wakes up to 'items' sleeping fast getters, one per item. The signals
** come after unlocking 'mu': a sleeper woken while we hold it would wake
** only to block on it (on one core, the wakee preempts us at the signal:
** two more context switches per hand-off). No wake-up is lost: a getter
** counted in 'waiters' announced itself under 'mu' and releases 'mu'
** only inside its condition wait, so once we have held 'mu' it is in the
** wait (or gone), and a signal after unlocking reaches it.
** Only sleepers no signal is on its way to count ('waiters' - 'woken'):
** a getter signalled but not running yet (a wake-up takes microseconds,
** milliseconds on a loaded machine) still counts in 'waiters', and
** without 'woken' every put meanwhile took 'mu' and made a system call
** to signal it again (a stream fell to a few hundred thousand items a
** second under load). A getter leaving its sleep, for any reason, takes
** one off each; one woken by a time-out may take the token of another
** one signalled, which then takes none: the counts still agree once both
** have run, and until then a put only signals once more than needed. */
static void fast_wake(braid_queue *q, size_t items) {
  size_t n = 0;
  int w;
  braid__mutex_lock(&q->mu);
  w = atomic_load_explicit(&q->waiters, memory_order_relaxed) -
      atomic_load_explicit(&q->woken, memory_order_relaxed);
  if (w > 0) {
    n = (size_t)w < items ? (size_t)w : items;
    atomic_store_explicit(&q->woken,
                          atomic_load_explicit(&q->woken,
                                               memory_order_relaxed) +
                              (int)n,
                          memory_order_relaxed);
  }
  braid__mutex_unlock(&q->mu);
  signal_n(&q->not_empty, n);
}


/* 1 when a fast getter sleeps that no signal is on its way to (read
** after publishing, see fast_put_end): 'waiters' first, with the
** ordering the protocol needs, then 'woken', which is at least as new. */
static int fast_sleepers(braid_queue *q) {
  int w = atomic_load_explicit(&q->waiters, memory_order_seq_cst);
  return w > 0 && w > atomic_load_explicit(&q->woken, memory_order_relaxed);
}


/* Items queued (approximate while others work: deq is read first, so it
** never exceeds the enq read after it, except that a consumer may count
** an item taken before its producer counted it put). */
static size_t fast_count(braid_queue *q) {
  size_t d = atomic_load_explicit(&q->deq, memory_order_seq_cst);
  size_t e = atomic_load_explicit(&q->enq, memory_order_seq_cst);
  return e > d ? e - d : 0;
}


/* The next free slot for a producer holding 'pmu' (linking a new
** segment when the last is full), or NULL when memory is short. */
static Slot *fast_slot(braid_queue *q) {
  if (q->ptail_idx == SEG_SLOTS) { /* the segment is full: link another */
    Seg *s = atomic_exchange_explicit(&q->spare_seg, NULL,
                                      memory_order_acquire);
    if (s != NULL)
      memset(s, 0, sizeof *s);
    else if ((s = (Seg *)braid__calloc(1, sizeof *s)) == NULL)
      return NULL;
    atomic_store_explicit(&q->ptail->next, s, memory_order_release);
    q->ptail = s;
    q->ptail_idx = 0;
  }
  return &q->ptail->slot[q->ptail_idx++];
}


/* Takes 'pmu' for a put: 0 with 'pmu' held, or FAST_GONE / ESHUTDOWN
** (not held). */
static int fast_put_begin(braid_queue *q) {
  braid__lock_acquire(&q->pmu);
  if (!is_fast(q)) {
    braid__lock_release(&q->pmu);
    return FAST_GONE;
  }
  if (atomic_load_explicit(&q->shutdown, memory_order_relaxed)) {
    braid__lock_release(&q->pmu);
    return BRAID_ESHUTDOWN;
  }
  return 0;
}


/* Counts 'items' about to be published as unfinished tasks (a Queue's
** task_done and join): before they are published, since a consumer may
** take one and call task_done at once. */
static void fast_count_tasks(braid_queue *q, size_t items) {
  if (q->kind != BRAID_QUEUE_SIMPLE && items)
    atomic_fetch_add_explicit(&q->unfinished, (long)items,
                              memory_order_relaxed);
}


/* Ends a put of 'items' items published under 'pmu': counts them in
** 'enq', unlocks and wakes sleepers as needed. */
static void fast_put_end(braid_queue *q, size_t items) {
  /* seq_cst: ordered before the load of 'waiters' below, against the
  ** getter's increment of 'waiters' before its load of 'enq' */
  if (items) atomic_fetch_add_explicit(&q->enq, items, memory_order_seq_cst);
  braid__lock_release(&q->pmu);
  /* a getter spinning on the queue takes one item without a wake-up (a
  ** getter that stops spinning checks the queue again after announcing
  ** itself in 'waiters', so it cannot miss it): wake sleepers only for
  ** the items beyond that */
  if (items && fast_sleepers(q)) {
    if (atomic_load_explicit(&q->spinning, memory_order_relaxed)) {
      size_t c = fast_count(q);
      if (c > 1) fast_wake(q, c - 1 < items ? c - 1 : items);
    } else {
      fast_wake(q, items);
    }
  }
}


static int fast_put(braid_queue *q, braid_msg **ms, size_t n, size_t *put) {
  size_t i, items = 0;
  int rc = fast_put_begin(q);
  if (rc != 0) {
    *put = 0;
    return rc;
  }
  for (i = 0; i < n; i++) {
    braid_msg *m = ms[i];
    Slot *sl = fast_slot(q);
    if (sl == NULL) {
      rc = BRAID_ENOMEM;
      break;
    }
    m->next = NULL;
    m->tag = 0; /* next item, taken from the front */
    items += m->nitems; /* 'm' may be taken and freed once published */
    fast_count_tasks(q, m->nitems);
    atomic_store_explicit(&sl->w, (uintptr_t)m, memory_order_release);
  }
  fast_put_end(q, items);
  *put = i;
  return rc;
}


int braid__queue_put_val(braid_queue *q, const braid_qval *v) {
  Slot *sl;
  int rc;
  if (!is_fast(q)) return BRAID_EAGAIN;
  rc = fast_put_begin(q);
  if (rc == FAST_GONE) return BRAID_EAGAIN;
  if (rc != 0) return rc;
  sl = fast_slot(q);
  if (sl == NULL) {
    braid__lock_release(&q->pmu);
    return BRAID_ENOMEM;
  }
  sl->v = v->u.bits;
  fast_count_tasks(q, 1);
  atomic_store_explicit(&sl->w, braid__qval_word(v), memory_order_release);
  fast_put_end(q, 1);
  return BRAID_OK;
}


/* Takes up to 'max' items, under 'cmu', into 'vout' (scalars as they are)
** or, when 'vout' is NULL, into 'iout' (scalars written as messages:
** the C consumers' braid__queue_get; a scalar whose message cannot be
** allocated stays queued and sets '*nomem'). Segments left behind are
** chained on '*retired' (freed after unlocking). */
static size_t fast_take(braid_queue *q, braid_qval *vout, braid_item *iout,
                        size_t max, Seg **retired, int *nomem) {
  size_t k = 0;
  while (k < max) {
    braid_msg *m;
    Slot *sl;
    uintptr_t w;
    uint32_t t;
    if (q->chead_idx == SEG_SLOTS) {
      Seg *next = atomic_load_explicit(&q->chead->next, memory_order_acquire);
      if (next == NULL) break;
      atomic_store_explicit(&q->chead->next, *retired, memory_order_relaxed);
      *retired = q->chead;
      q->chead = next;
      q->chead_idx = 0;
    }
    sl = &q->chead->slot[q->chead_idx];
    w = atomic_load_explicit(&sl->w, memory_order_acquire);
    if (w == 0) break;
    if (braid__qval_is_scalar(w)) {
      if (vout != NULL) {
        braid__qval_from_slot(&vout[k], w, sl->v);
      } else {
        braid_qval v;
        braid__qval_from_slot(&v, w, sl->v);
        /* allocates under 'cmu': only C consumers come this way */
        if ((iout[k].m = braid__qval_to_msg(&v)) == NULL) {
          *nomem = 1;
          break;
        }
        iout[k].idx = 0;
      }
      k++;
      q->chead_idx++;
      continue;
    }
    m = (braid_msg *)w;
    t = (uint32_t)m->tag;
    while (k < max && t < m->nitems) {
      if (vout != NULL) {
        vout[k].kind = BRAID_QV_MSG;
        vout[k].it.m = m;
        vout[k].it.idx = t++;
      } else {
        iout[k].m = m;
        iout[k].idx = t++;
      }
      k++;
    }
    m->tag = t;
    if (t == m->nitems) q->chead_idx++;
  }
  /* release, not seq_cst (a full barrier on every get): a reader that
  ** sees an older 'deq' only thinks an item is left, and looks again
  ** under 'cmu' (a getter deciding to sleep), or reports an approximate
  ** qsize; no wake-up depends on this store */
  if (k)
    atomic_store_explicit(
        &q->deq, atomic_load_explicit(&q->deq, memory_order_relaxed) + k,
        memory_order_release);
  return k;
}


static void retire_segs(braid_queue *q, Seg *s) {
  while (s != NULL) {
    Seg *next = atomic_load_explicit(&s->next, memory_order_relaxed);
    s = atomic_exchange_explicit(&q->spare_seg, s, memory_order_acq_rel);
    braid__free(s);
    s = next;
  }
}


static int fast_get(braid_queue *q, braid_qval *vout, braid_item *iout,
                    size_t max, size_t *n, int block, double *timeout) {
  braid__deadline d;
  int spun = 0, deadline_set = 0, last = 0, slept = 0, nomem = 0, waited;
  double since = 0;
  *n = 0;
  for (;;) {
    Seg *retired = NULL;
    size_t k;
    /* read before taking: a shutdown seen here came after every put */
    int sd = atomic_load_explicit(&q->shutdown, memory_order_acquire);
    braid__lock_acquire(&q->cmu);
    if (!is_fast(q)) { /* the rest of the wait goes the one-mutex way */
      braid__lock_release(&q->cmu);
      if (deadline_set) *timeout = braid__deadline_left(&d);
      return FAST_GONE;
    }
    k = fast_take(q, vout, iout, max, &retired, &nomem);
    braid__lock_release(&q->cmu);
    if (retired) retire_segs(q, retired);
    if (k > 0) {
      /* items left and sleepers waiting: pass the baton (a put signalled
      ** one sleeper per item, but this get took several) */
      if (fast_sleepers(q) &&
          fast_count(q) > 0)
        fast_wake(q, 1);
      if (slept) spin_learn(q, since);
      *n = k;
      return BRAID_OK;
    }
    if (nomem) return BRAID_ENOMEM;
    if (sd) return BRAID_ESHUTDOWN;
    if (!block || last) return BRAID_EEMPTY;
    if (!deadline_set) {
      d = braid__deadline_in(*timeout);
      deadline_set = 1;
    }
    if (!spun) {
      spun = 1;
      since = spin_until(q, SPIN_FAST_ITEMS);
      continue;
    }
    slept = 1;
    braid__mutex_lock(&q->mu);
    atomic_fetch_add_explicit(&q->waiters, 1, memory_order_seq_cst);
    waited = 0;
    if (atomic_load_explicit(&q->enq, memory_order_seq_cst) ==
            atomic_load_explicit(&q->deq, memory_order_seq_cst) &&
        !atomic_load_explicit(&q->shutdown, memory_order_seq_cst) &&
        is_fast(q)) {
      waited = 1;
      if (braid__cond_wait(&q->not_empty, &q->mu, &d))
        last = 1; /* timed out: one more look, then Empty */
    }
    atomic_fetch_sub_explicit(&q->waiters, 1, memory_order_relaxed);
    /* a getter leaving a sleep takes one signal's token (fast_wake) */
    if (waited && atomic_load_explicit(&q->woken, memory_order_relaxed) > 0)
      atomic_fetch_sub_explicit(&q->woken, 1, memory_order_relaxed);
    braid__mutex_unlock(&q->mu);
  }
}


static int fast_shutdown(braid_queue *q, int immediate) {
  braid_msg *list = NULL;
  size_t dropped = 0;
  braid__lock_acquire(&q->pmu);
  if (!is_fast(q)) {
    braid__lock_release(&q->pmu);
    return FAST_GONE;
  }
  atomic_store_explicit(&q->shutdown, 1, memory_order_seq_cst);
  if (immediate) {
    braid__lock_acquire(&q->cmu);
    dropped = fast_unlink_all(q, &list, NULL); /* scalars just go */
    braid__lock_release(&q->cmu);
  }
  braid__lock_release(&q->pmu);
  braid__mutex_lock(&q->mu);
  if (immediate) {
    /* Python drops the items one get at a time, counting each done */
    long u = atomic_load(&q->unfinished);
    atomic_store(&q->unfinished, u > (long)dropped ? u - (long)dropped : 0);
    braid__cond_broadcast(&q->all_done);
  }
  braid__cond_broadcast(&q->not_empty);
  braid__mutex_unlock(&q->mu);
  release_list(list);
  return BRAID_OK;
}


/* Moves a fast queue to the one-mutex path for good (a bound was set):
** under 'pmu', 'cmu' and 'mu' (the lock order), the items left in the
** segments become the list's, in order, with what was taken of a batch
** still noted in 'tag' (the same meaning on both paths); the segments
** stay until the queue goes. The one-mutex path holds messages only: a
** scalar in a slot becomes one (allocated under the locks: this happens
** once per queue); BRAID_ENOMEM, with nothing changed, when memory for
** them is short. */
static int to_slow(braid_queue *q) {
  braid__lock_acquire(&q->pmu);
  braid__lock_acquire(&q->cmu);
  braid__mutex_lock(&q->mu);
  if (is_fast(q)) {
    braid_msg *list, *m, *pool = NULL;
    size_t k, ns = fast_count_scalars(q);
    for (k = 0; k < ns; k++) {
      if ((m = braid__msg_new()) == NULL) {
        free_list(pool);
        braid__mutex_unlock(&q->mu);
        braid__lock_release(&q->cmu);
        braid__lock_release(&q->pmu);
        return BRAID_ENOMEM;
      }
      m->next = pool;
      pool = m;
    }
    k = fast_unlink_all(q, &list, &pool); /* newest first */
    while (list != NULL) { /* the list is empty on a fast queue */
      m = list;
      list = m->next;
      m->next = q->head;
      q->head = m;
      if (q->tail == NULL) q->tail = m;
    }
    q->count = k;
    atomic_store_explicit(&q->count_hint, k, memory_order_release);
    atomic_store_explicit(&q->fast, 0, memory_order_release);
    /* fast getters asleep look again, and go the one-mutex way */
    braid__cond_broadcast(&q->not_empty);
  }
  braid__mutex_unlock(&q->mu);
  braid__lock_release(&q->cmu);
  braid__lock_release(&q->pmu);
  return BRAID_OK;
}
/* } ------ */


int braid__queue_set_maxsize(braid_queue *q, long maxsize) {
  long old;
  if (q->kind == BRAID_QUEUE_SIMPLE) return BRAID_EINVAL;
  if (maxsize < 0) maxsize = 0;
  if (maxsize > 0 && is_fast(q) && to_slow(q) != BRAID_OK)
    return BRAID_ENOMEM;
  braid__mutex_lock(&q->mu);
  old = atomic_load_explicit(&q->maxsize, memory_order_relaxed);
  atomic_store_explicit(&q->maxsize, maxsize, memory_order_relaxed);
  /* more room: every sleeping putter looks again (each checks 'full') */
  if (maxsize == 0 || (old > 0 && maxsize > old))
    braid__cond_broadcast(&q->not_full);
  braid__mutex_unlock(&q->mu);
  return BRAID_OK;
}


int braid__queue_put(braid_queue *q, braid_msg **ms, size_t n, int block,
                     double timeout, size_t *put, char *why, size_t whylen) {
  braid__deadline d;
  int rc = BRAID_OK, spun = 0, deadline_set = 0;
  size_t i = 0, woken;
  if (is_fast(q) && (rc = fast_put(q, ms, n, put)) != FAST_GONE) return rc;
  rc = BRAID_OK;
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
        spin_until(q, SPIN_ROOM);
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
  /* one sleeper per item, never a herd; signalled after unlocking, as
  ** fast_wake does (the sleepers counted are in their wait by now) */
  woken = i < (size_t)q->sleeping_getters ? i : (size_t)q->sleeping_getters;
  braid__mutex_unlock(&q->mu);
  signal_n(&q->not_empty, woken);
  *put = i;
  return rc;
}


/* braid__queue_get and braid__queue_get_vals: items go to 'vout' when it
** is not NULL, else to 'iout'. */
static int queue_get(braid_queue *q, braid_qval *vout, braid_item *iout,
                     size_t max, size_t *n, int block, double timeout) {
  braid__deadline d;
  int rc = BRAID_OK, spun = 0, deadline_set = 0, slept = 0, baton = 0;
  size_t k = 0, woken = 0;
  double since = 0;
  if (is_fast(q) && (rc = fast_get(q, vout, iout, max, n, block,
                                   &timeout)) != FAST_GONE)
    return rc;
  rc = BRAID_OK;
  *n = 0;
  if (block && atomic_load_explicit(&q->count_hint, memory_order_acquire) == 0) {
    /* before taking the lock the producer needs */
    since = spin_until(q, SPIN_ITEMS);
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
      since = spin_until(q, SPIN_ITEMS);
      braid__mutex_lock(&q->mu);
      continue;
    }
    slept = 1;
    q->sleeping_getters++;
    if (braid__cond_wait(&q->not_empty, &q->mu, &d) && q->count == 0) {
      q->sleeping_getters--;
      rc = q->shutdown ? BRAID_ESHUTDOWN : BRAID_EEMPTY;
      break;
    }
    q->sleeping_getters--;
  }
  if (rc == BRAID_OK) {
    for (; k < max && q->count > 0; k++) {
      if (vout != NULL) {
        vout[k].kind = BRAID_QV_MSG;
        vout[k].it = pop_item(q);
      } else {
        iout[k] = pop_item(q);
      }
    }
    woken = k < (size_t)q->sleeping_putters ? k : (size_t)q->sleeping_putters;
    /* items left and sleepers waiting: pass the baton (a put signalled
    ** one sleeper per item, but this get took several) */
    baton = q->count > 0 && q->sleeping_getters > 0;
  }
  braid__mutex_unlock(&q->mu);
  /* after unlocking, as fast_wake does */
  signal_n(&q->not_full, woken);
  signal_n(&q->not_empty, (size_t)baton);
  if (slept && rc == BRAID_OK) spin_learn(q, since);
  *n = k;
  return rc;
}


int braid__queue_get(braid_queue *q, braid_item *out, size_t max,
                     size_t *n, int block, double timeout) {
  return queue_get(q, NULL, out, max, n, block, timeout);
}


int braid__queue_get_vals(braid_queue *q, braid_qval *out, size_t max,
                          size_t *n, int block, double timeout) {
  return queue_get(q, out, NULL, max, n, block, timeout);
}


int braid__queue_is_fast(braid_queue *q) {
  return is_fast(q);
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
  if (is_fast(q) && fast_shutdown(q, immediate) != FAST_GONE) return;
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
  if (is_fast(q)) return fast_count(q);
  return atomic_load_explicit(&q->count_hint, memory_order_acquire);
}


long braid__queue_maxsize(braid_queue *q) {
  return atomic_load_explicit(&q->maxsize, memory_order_relaxed);
}


int braid__queue_is_shutdown(braid_queue *q) {
  return atomic_load_explicit(&q->shutdown, memory_order_acquire);
}


long braid__queue_unfinished(braid_queue *q) {
  return atomic_load_explicit(&q->unfinished, memory_order_acquire);
}

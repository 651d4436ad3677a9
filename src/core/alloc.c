/*
** alloc.c: the allocator of worker states.
** See LICENSE for copyright and license.
**
** A worker's state is new, so with the system allocator everything it
** builds (a decoded argument of 100,000 records is 400,000 blocks) first
** goes through malloc's bookkeeping for a fresh arena and then faults in
** page after page, and its random accesses (the string table, the
** collector) miss the TLB all over a heap of small pages. The pool hands
** out small blocks from big chunks instead: a bump pointer in allocation
** order (the order the state walks them), per-size free lists for reuse,
** and chunks of 2 MiB and up on transparent huge pages (when the system
** has them: madvise mode is enough). Lua tells the allocator the size of
** every block it frees or resizes, so blocks carry no header.
**
** Trade-off: memory a state frees stays in its pool (for its own later
** allocations of the same size class, or, a freed medium block, of small
** classes carved out of it) until the state closes.
*/
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"
#include "failalloc.h"
#include "segblock.h"
#include "thp.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif

#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

#define GRAIN 16                 /* alignment and small class step */
#define MAXSMALL 512             /* small classes: 16, 32, ... 512 */
/* then medium classes up to BRAID_BIG_MIN, four per power of two (640,
** 768, 896, 1024, 1280, ...: at most a quarter wasted) */
#define NCLASS (MAXSMALL / GRAIN + 4 * 11)
/* A fresh worker state uses about this much (its libraries open on first
** use, llazy.c): an idle thread holds no more (idle_footprint). Not a
** page multiple: chunks from malloc lie side by side in its arena, so
** the unused tail of one shares pages with its neighbour and what a
** state never reaches of its first chunk is resident all the same; an
** idle thread with an Event and a Semaphore reaches 12.2 KB of it. The
** chunks after it are powers of two (16 KiB, 32 KiB, ...). */
#define FIRST_CHUNK (25u << 9)
#define HUGE_PAGE (2u << 20)
#define MAX_CHUNK (8u << 20) /* (bigger ones would be used in part) */

typedef struct Chunk {
  struct Chunk *next;
  size_t size; /* of the mapping, this header included */
  size_t used;  /* bumped, this header included; set once the next chunk
                ** takes over the bump (0 while this one has it) */
  size_t freeb; /* an owned pool's: bytes of its blocks not live (on
                ** 'freel', stashed, or forgotten by a child) */
  int left;     /* CHUNK_LEFT / CHUNK_GONE (braid__salloc_prefork), or 0 */
} Chunk;

/* Left out of the fork under way (its pages but the header's are
** MADV_DONTFORK); in a child: absent but for the header's page. Left
** out whole, live blocks and all, of forks by other threads only. */
enum { CHUNK_LEFT = 1, CHUNK_GONE = 2, CHUNK_FOREIGN = 3 };

#define CHUNK_HEAD ((sizeof(Chunk) + GRAIN - 1) / GRAIN * GRAIN)

/* The chunk of an owned pool's block: its chunks are one huge page each,
** aligned (new_chunk), so a block's chunk starts its region. */
static Chunk *chunk_of(const void *b) {
  return (Chunk *)((uintptr_t)b & ~(uintptr_t)(HUGE_PAGE - 1));
}

typedef struct FreeBlock {
  struct FreeBlock *next;
} FreeBlock;

#define FIRST_MEDIUM (MAXSMALL / GRAIN + 1) /* the class of 640 bytes */

/* After a fork, the blocks freed before it (braid__salloc_sync_fork). */
typedef struct Stash {
  FreeBlock *list[NCLASS + 1]; /* by class */
  FreeBlock *tail[NCLASS + 1]; /* the oldest block of each free list */
  size_t bytes;                /* in 'list' */
  size_t fresh; /* bytes the bump may still hand out before the stash */
} Stash;

/* What one fork may let a pool hand out from its bump (new chunks) before
** it takes stashed blocks, and the most the stash may hold for a fork to
** allow it: the memory this costs (new chunks mapped while freed blocks
** wait) is bounded by the two. */
#define STASH_FRESH_MAX (64u << 20)

struct braid_salloc {
  FreeBlock *freel[NCLASS + 1]; /* by class (see sizeclass) */
  char *bump, *end;             /* the rest of the newest chunk */
  char *spare, *spare_end;      /* the rest of a freed medium block */
  uint64_t medium;              /* bit c: freel[FIRST_MEDIUM + c] not empty */
  Chunk *chunks;
  size_t nextsize;              /* of the next chunk */
  size_t freebytes;             /* in 'freel' */
  Stash *stash;                 /* made by the first fork, else NULL */
  unsigned forks;               /* fork_count when it last looked */
  /* braid__salloc_new_owned: the 2 MiB regions of its chunks, as region
  ** number + 1 in an open-addressed set (0: empty slot) */
  int owned;
  uintptr_t *regions;
  size_t rcap, rcount;
};


static int pool_disabled(void) {
  static atomic_int state; /* 0 unknown, 1 enabled, 2 disabled */
  int s = atomic_load_explicit(&state, memory_order_relaxed);
  if (s == 0) {
    const char *v = getenv("BRAID_WORKER_ALLOC");
    s = (v != NULL && strcmp(v, "system") == 0) ? 2 : 1;
    atomic_store_explicit(&state, s, memory_order_relaxed);
  }
  return s == 2;
}


/* Forks made by this process (braid__alloc_note_fork). */
static atomic_uint fork_count;


braid_salloc *braid__salloc_new(void) {
  braid_salloc *p;
  if (pool_disabled()) return NULL;
  p = (braid_salloc *)braid__calloc(1, sizeof *p);
  if (p != NULL) {
    p->nextsize = FIRST_CHUNK;
    p->forks = atomic_load_explicit(&fork_count, memory_order_relaxed);
  }
  return p;
}


braid_salloc *braid__salloc_new_owned(void) {
  braid_salloc *p = braid__salloc_new();
  if (p != NULL) {
    p->owned = 1;
    p->nextsize = HUGE_PAGE; /* every chunk a mapping: see region_add */
  }
  return p;
}


/* {------ the regions of an owned pool's chunks
** A block's owner is found by its 2 MiB region: owned chunks are mapped
** 2 MiB-aligned and span whole regions, so a region is either all one
** chunk of this pool or none of it. */

static size_t region_slot(uintptr_t key, size_t cap) {
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static int region_insert(uintptr_t *set, size_t cap, uintptr_t key) {
  size_t i = region_slot(key, cap);
  while (set[i] != 0) {
    if (set[i] == key) return 0;
    i = (i + 1) & (cap - 1);
  }
  set[i] = key;
  return 1;
}

/* Records the regions of chunk 'c' (of 'size' bytes); 0 when out of
** memory (nothing recorded then). */
static int region_add(braid_salloc *p, const Chunk *c, size_t size) {
  size_t n = size / HUGE_PAGE, i;
  if ((p->rcount + n) * 2 > p->rcap) {
    size_t cap = p->rcap ? p->rcap : 64, j;
    uintptr_t *set;
    while ((p->rcount + n) * 2 > cap) cap *= 2;
    if ((set = (uintptr_t *)braid__calloc(cap, sizeof *set)) == NULL)
      return 0;
    for (j = 0; j < p->rcap; j++)
      if (p->regions[j] != 0) region_insert(set, cap, p->regions[j]);
    braid__free(p->regions);
    p->regions = set;
    p->rcap = cap;
  }
  for (i = 0; i < n; i++)
    p->rcount += (size_t)region_insert(
        p->regions, p->rcap, ((uintptr_t)c + i * HUGE_PAGE) / HUGE_PAGE + 1);
  return 1;
}

int braid__salloc_owns(const braid_salloc *p, const void *ptr) {
  uintptr_t key = (uintptr_t)ptr / HUGE_PAGE + 1;
  size_t i;
  if (p->rcap == 0) return 0;
  for (i = region_slot(key, p->rcap); p->regions[i] != 0;
       i = (i + 1) & (p->rcap - 1))
    if (p->regions[i] == key) return 1;
  return 0;
}
/* }------ */


/* A private anonymous mapping of 'size' bytes (a multiple of HUGE_PAGE)
** starting on a huge page, with 'prot' and the extra mmap 'flags'; NULL
** when mmap fails. */
static char *map_aligned(size_t size, int prot, int flags) {
  char *m = (char *)mmap(NULL, size + HUGE_PAGE, prot,
                         MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  char *a;
  if (m == MAP_FAILED) return NULL;
  a = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (a > m) munmap(m, (size_t)(a - m));
  munmap(a + size, (size_t)(m + HUGE_PAGE - a)); /* at least one byte */
  return a;
}


/* Chunks smaller than a huge page come from malloc (whose memory is
** warm when threads come and go: a short-lived worker should not pay for
** fresh pages); from a huge page on they are mapped, aligned, and given
** huge pages while the system backs them quickly (thp.h). */
static void *map_chunk(size_t size) {
  char *a;
  if (size < HUGE_PAGE) return braid__malloc(size);
  if (braid__fail_check(braid__site())) return NULL;
  if ((a = map_aligned(size, PROT_READ | PROT_WRITE, 0)) == NULL)
    return NULL;
  braid__thp_fresh(a, size, 0); /* huge pages while they are cheap */
  return a;
}


/* {------ chunks of closed states, for the next states
** A worker that decodes a big argument fills tens of MiB; the pages of a
** fresh mapping must be faulted in and cleared by the kernel first (an
** eighth of such a worker's time). So the mapped chunks of a closed state
** are kept (up to CACHE_MAX bytes) for the states that come next, with
** MADV_FREE: the kernel may still take their pages back under memory
** pressure (they then come back cleared), otherwise they are reused as
** they are. The lock is only ever tried: when it is taken (or held by a
** thread that a fork left behind) the cache is skipped. */

#define CACHE_MAX (64u << 20)

static atomic_flag cache_lock = ATOMIC_FLAG_INIT;
static Chunk *cache_list;
static size_t cache_bytes;

/* The smallest cached chunk of at least 'size' bytes (of 'size' exactly
** when 'exact'), or NULL. */
static Chunk *cache_take(size_t size, int exact) {
  Chunk **pc, **best = NULL, *c = NULL;
  if (atomic_flag_test_and_set_explicit(&cache_lock, memory_order_acquire))
    return NULL;
  for (pc = &cache_list; *pc != NULL; pc = &(*pc)->next)
    if ((*pc)->size >= size && (!exact || (*pc)->size == size) &&
        (best == NULL || (*pc)->size < (*best)->size))
      best = pc;
  if (best != NULL) {
    c = *best;
    *best = c->next;
    cache_bytes -= c->size;
  }
  atomic_flag_clear_explicit(&cache_lock, memory_order_release);
  return c;
}

/* Keeps the mapped chunk 'c'; 0 when the cache is full or busy. */
static int cache_put(Chunk *c) {
  int kept = 0;
  if (c->size > CACHE_MAX) return 0;
#ifdef MADV_FREE
  madvise((char *)c + HUGE_PAGE, c->size - HUGE_PAGE, MADV_FREE);
#endif
  if (atomic_flag_test_and_set_explicit(&cache_lock, memory_order_acquire))
    return 0;
  if (cache_bytes + c->size <= CACHE_MAX) {
    c->next = cache_list;
    cache_list = c;
    cache_bytes += c->size;
    kept = 1;
  }
  atomic_flag_clear_explicit(&cache_lock, memory_order_release);
  return kept;
}

void braid__alloc_trim(void) {
  Chunk *list;
  if (atomic_flag_test_and_set_explicit(&cache_lock, memory_order_acquire))
    return;
  list = cache_list;
  cache_list = NULL;
  cache_bytes = 0;
  atomic_flag_clear_explicit(&cache_lock, memory_order_release);
  while (list != NULL) {
    Chunk *next = list->next;
    munmap(list, list->size);
    list = next;
  }
}
/* }------ */


/* {------ big blocks: a mapping each (from the cache when it has one),
** rounded up to huge pages, with a chunk header before the block */

static size_t big_cap(void *block) {
  Chunk *c = (Chunk *)((char *)block - CHUNK_HEAD);
  return c->size - CHUNK_HEAD;
}

void *braid__big_alloc(size_t n, size_t *cap) {
  size_t size;
  Chunk *c;
  if (n > ((size_t)-1) / 2) return NULL;
  size = (n + CHUNK_HEAD + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
  if ((c = cache_take(size, 0)) == NULL) {
    if ((c = (Chunk *)map_chunk(size)) == NULL) return NULL;
    c->size = size;
  }
  if (cap != NULL) *cap = c->size - CHUNK_HEAD;
  return (char *)c + CHUNK_HEAD;
}

void braid__big_free(void *block) {
  Chunk *c;
  if (block == NULL) return;
  c = (Chunk *)((char *)block - CHUNK_HEAD);
  if (!cache_put(c)) munmap(c, c->size);
}


/* Grows the big block 'block' to at least 'n' bytes by moving its
** mapping (mremap) to a 2 MiB-aligned place of the new size: its pages
** go along as they are, none copied and none faulted in again; what is
** added is fresh (thp.h). NULL when it cannot (the caller copies). Not
** for a block of a segment's pages (segblock.h): buffers only. */
static void *big_remap(void *block, size_t n, size_t *cap) {
#ifdef MREMAP_FIXED
  Chunk *c = (Chunk *)((char *)block - CHUNK_HEAD);
  size_t osize = c->size, size;
  char *a;
  void *r;
  if (n > ((size_t)-1) / 2) return NULL;
  size = (n + CHUNK_HEAD + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
  if (size <= osize) {
    *cap = osize - CHUNK_HEAD;
    return block;
  }
  /* a reservation to move into, aligned as a chunk's */
  if ((a = map_aligned(size, PROT_NONE, MAP_NORESERVE)) == NULL) return NULL;
  r = mremap(c, osize, size, MREMAP_MAYMOVE | MREMAP_FIXED, a);
  if (r == MAP_FAILED) {
    munmap(a, size);
    return NULL;
  }
  c = (Chunk *)r;
  c->size = size;
  braid__thp_fresh((char *)c + osize, size - osize, 0);
  *cap = size - CHUNK_HEAD;
  return (char *)c + CHUNK_HEAD;
#else
  (void)block, (void)n, (void)cap;
  return NULL;
#endif
}


unsigned char *braid__buf_grow(void *b, size_t cap, size_t len, size_t n,
                               size_t *ncap) {
  unsigned char *nb;
  if (b != NULL && cap >= BRAID_BIG_MIN && n >= BRAID_BIG_MIN &&
      n <= ((size_t)-1) / 2) {
    /* a cached chunk's pages are present already: copying into one
    ** costs less than fresh pages; without one, the block moves */
    size_t size = (n + CHUNK_HEAD + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    Chunk *c = cache_take(size, 0);
    if (c != NULL) {
      nb = (unsigned char *)c + CHUNK_HEAD;
      *ncap = c->size - CHUNK_HEAD;
      memcpy(nb, b, len);
      braid__big_free(b);
      return nb;
    }
    if ((nb = (unsigned char *)big_remap(b, n, ncap)) != NULL) return nb;
  }
  nb = braid__buf_alloc(n, ncap);
  if (nb != NULL && b != NULL) {
    memcpy(nb, b, len);
    braid__buf_free(b, cap);
  }
  return nb;
}


unsigned char *braid__buf_alloc(size_t n, size_t *cap) {
  if (n >= BRAID_BIG_MIN) return (unsigned char *)braid__big_alloc(n, cap);
  *cap = n;
  return (unsigned char *)braid__malloc(n);
}


void braid__buf_free(void *b, size_t cap) {
  if (cap >= BRAID_BIG_MIN)
    braid__big_free(b);
  else
    braid__free(b);
}
/* }------ */


/* The least power of two above 'size' (2 * size for a power of two). */
static size_t pow2_above(size_t size) {
  return (size_t)1 << (64 - __builtin_clzll((unsigned long long)size));
}


/* A new chunk for a block of 'n' bytes; the rest of the old one (less
** than 'n' bytes) is left unused. */
static int new_chunk(braid_salloc *p, size_t n) {
  size_t size = p->nextsize;
  Chunk *c = NULL;
  while (size < n + CHUNK_HEAD) size = pow2_above(size);
  /* an owned pool's are one huge page each: see chunk_of */
  if (size >= HUGE_PAGE && (c = cache_take(size, p->owned)) != NULL)
    size = c->size;
  if (c == NULL && (c = (Chunk *)map_chunk(size)) == NULL) return 0;
  if (p->owned && !region_add(p, c, size)) {
    c->size = size;
    if (!cache_put(c)) munmap(c, size);
    return 0;
  }
  if (p->chunks != NULL && p->bump != NULL) /* (NULL: gone, after_fork) */
    p->chunks->used = (size_t)(p->bump - (char *)p->chunks);
  c->next = p->chunks;
  c->size = size;
  c->used = 0;
  c->freeb = 0;
  c->left = 0;
  p->chunks = c;
  p->bump = (char *)c + CHUNK_HEAD;
  p->end = (char *)c + size;
  poison(p->bump, (size_t)(p->end - p->bump));
  /* (an owned pool's stay at 2 MiB: braid__salloc_prefork) */
  if (p->nextsize < MAX_CHUNK && !p->owned) p->nextsize = pow2_above(size);
  return 1;
}


static void small_free(braid_salloc *p, void *ptr, unsigned cls, size_t n);


/* The size of the blocks of medium class 'cls' (see sizeclass). */
static size_t medium_size(unsigned cls) {
  unsigned k = cls - FIRST_MEDIUM;
  return (size_t)(5 + k % 4) << (9 + k / 4 - 2);
}


/* A small block of 'n' bytes (a class size, at most MAXSMALL) carved out
** of a freed medium block, or NULL when there is none. Small blocks
** would otherwise come from the bump while freed medium blocks (a grown
** stack's old one, a rehashed table's old nodes) wait for a request of
** their own class that may never come: a fresh state's first chunk ends
** up holding them (idle_footprint). Nothing is lost: the rest of a
** spare block too small for a request is a multiple of GRAIN no bigger
** than MAXSMALL, so a small class of its own. */
static void *carve(braid_salloc *p, size_t n) {
  char *b;
  if ((size_t)(p->spare_end - p->spare) < n) {
    size_t rest = (size_t)(p->spare_end - p->spare);
    if (rest >= GRAIN) {
      unpoison(p->spare, sizeof(FreeBlock));
      small_free(p, p->spare, (unsigned)(rest / GRAIN), rest);
    }
    p->spare = p->spare_end = NULL;
    if (p->medium == 0) return NULL;
    {
      unsigned cls = FIRST_MEDIUM + (unsigned)__builtin_ctzll(p->medium);
      FreeBlock *f = p->freel[cls];
      p->freel[cls] = f->next;
      p->freebytes -= medium_size(cls);
      if (p->owned) chunk_of(f)->freeb -= medium_size(cls);
      if (f->next == NULL) p->medium &= ~((uint64_t)1 << (cls - FIRST_MEDIUM));
      p->spare = (char *)f;
      p->spare_end = (char *)f + medium_size(cls);
      poison(f, sizeof(FreeBlock));
    }
  }
  b = p->spare;
  p->spare += n;
  unpoison(b, n);
  return b;
}


/* Takes the head of a free list of blocks of 'n' bytes (not empty). The
** next block is read (its link) and written (by the state) at the next
** request: freed blocks lie anywhere in the pool, long out of cache (a
** decode into a state that freed a big value takes 400,000 of them in a
** row), so it is fetched now. */
static FreeBlock *pop_block(FreeBlock **list, size_t n) {
  FreeBlock *b = *list;
  unpoison(b, n);
  *list = b->next;
  if (b->next != NULL) __builtin_prefetch(b->next, 1);
  return b;
}


/* A block of 'n' bytes for class 'cls' once the free list and the spare
** had none: from the bump while the last fork's allowance lasts (NULL,
** the allowance charged), then from the stash (NULL when it has none of
** that class: then from the bump, and a new chunk when that is used up). */
static void *stash_take(braid_salloc *p, unsigned cls, size_t n) {
  Stash *s = p->stash;
  FreeBlock *b;
  if (s->fresh >= n) {
    s->fresh -= n;
    return NULL;
  }
  s->fresh = 0;
  if (s->list[cls] == NULL) return NULL;
  s->bytes -= n;
  b = pop_block(&s->list[cls], n);
  if (p->owned) chunk_of(b)->freeb -= n;
  return b;
}


static void *small_alloc(braid_salloc *p, unsigned cls, size_t n) {
  FreeBlock *b;
  if (p->freel[cls] != NULL) {
    b = pop_block(&p->freel[cls], n);
    p->freebytes -= n;
    if (p->owned) chunk_of(b)->freeb -= n;
    if (cls >= FIRST_MEDIUM && p->freel[cls] == NULL)
      p->medium &= ~((uint64_t)1 << (cls - FIRST_MEDIUM));
    return b;
  }
  if (cls < FIRST_MEDIUM && (p->medium != 0 || p->spare != NULL) &&
      (b = (FreeBlock *)carve(p, n)) != NULL)
    return b;
  /* before the bump once the allowance is spent: a chunk mapped for a
  ** class the stash lacks must not serve the classes it holds, or the
  ** stash would never be taken */
  if (p->stash != NULL && (b = (FreeBlock *)stash_take(p, cls, n)) != NULL)
    return b;
  if (braid__unlikely((size_t)(p->end - p->bump) < n) && !new_chunk(p, n))
    return NULL;
  b = (FreeBlock *)p->bump;
  p->bump += n;
  unpoison(b, n);
  return b;
}


static void small_free(braid_salloc *p, void *ptr, unsigned cls, size_t n) {
  FreeBlock *b = (FreeBlock *)ptr;
  if (p->stash != NULL && p->freel[cls] == NULL) p->stash->tail[cls] = b;
  b->next = p->freel[cls];
  p->freel[cls] = b;
  p->freebytes += n;
  if (p->owned) chunk_of(b)->freeb += n;
  if (cls >= FIRST_MEDIUM) p->medium |= (uint64_t)1 << (cls - FIRST_MEDIUM);
  poison((char *)b + sizeof(FreeBlock), n - sizeof(FreeBlock));
}


/* The class of a block of 'n' bytes (0 < n < BRAID_BIG_MIN), and its size
** in '*size'. */
static unsigned sizeclass(size_t n, size_t *size) {
  size_t x;
  unsigned e, m;
  if (n <= MAXSMALL) {
    unsigned c = (unsigned)((n + GRAIN - 1) / GRAIN);
    *size = (size_t)c * GRAIN;
    return c;
  }
  x = n - 1; /* in [2^e, 2^(e+1)), e >= 9 */
  e = 63u - (unsigned)__builtin_clzll((unsigned long long)x);
  m = (unsigned)(x >> (e - 2)) & 3;
  *size = (size_t)(5 + m) << (e - 2);
  return MAXSMALL / GRAIN + 1 + (e - 9) * 4 + m;
}

#define isbig(n) ((n) >= BRAID_BIG_MIN)

static void *block_alloc(braid_salloc *p, size_t n) {
  size_t sz;
  unsigned cls;
  if (isbig(n)) return braid__big_alloc(n, NULL);
  cls = sizeclass(n, &sz);
  return small_alloc(p, cls, sz);
}

static void block_free(braid_salloc *p, void *ptr, size_t n) {
  size_t sz;
  unsigned cls;
  if (isbig(n)) {
    braid__big_free(ptr);
    return;
  }
  cls = sizeclass(n, &sz);
  small_free(p, ptr, cls, sz);
}

void *braid__salloc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  if (nsize != 0 && (ptr == NULL || nsize > osize) &&
      braid__fail_check(braid__fail_site_worker))
    return NULL; /* injected failure (failalloc.h): Lua keeps the block */
  return braid__salloc_realloc((braid_salloc *)ud, ptr, osize, nsize);
}


void *braid__salloc_realloc(braid_salloc *p, void *ptr, size_t osize,
                            size_t nsize) {
  void *np;
  if (ptr == NULL) /* osize is a type tag then */
    return nsize == 0 ? NULL : block_alloc(p, nsize);
  if (isbig(osize) && braid__seg_block_owns(ptr)) {
    /* a string made of a segment's mapping (segblock.h): never one of
    ** ours, whatever its size */
    np = nsize == 0 ? NULL : block_alloc(p, nsize);
    if (nsize != 0 && np == NULL) return NULL; /* Lua keeps the old block */
    return braid__seg_block_move(ptr, osize, np, nsize);
  }
  if (nsize == 0) {
    block_free(p, ptr, osize);
    return NULL;
  }
  if (!isbig(osize) && !isbig(nsize)) {
    size_t so, sn;
    if (sizeclass(osize, &so) == sizeclass(nsize, &sn)) return ptr;
  } else if (isbig(osize) && isbig(nsize) && nsize <= big_cap(ptr) &&
             nsize >= big_cap(ptr) / 4) {
    return ptr; /* fits in its mapping, which it still mostly uses */
  }
  np = block_alloc(p, nsize);
  if (np == NULL) return NULL; /* Lua keeps the old block */
  memcpy(np, ptr, osize < nsize ? osize : nsize);
  block_free(p, ptr, osize);
  return np;
}


void *braid__huge_alloc(size_t size) {
  if (size < HUGE_PAGE) return braid__calloc(1, size);
  size = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
  return map_chunk(size); /* zero-filled */
}


static atomic_uint fork_epoch;
static pthread_once_t epoch_once = PTHREAD_ONCE_INIT;

static void epoch_child(void) {
  atomic_fetch_add_explicit(&fork_epoch, 1, memory_order_relaxed);
}

static void epoch_init(void) { pthread_atfork(NULL, NULL, epoch_child); }


unsigned braid__fork_epoch(void) {
  return atomic_load_explicit(&fork_epoch, memory_order_relaxed);
}


void *braid__huge_alloc_unforked(size_t size, int *left) {
  void *p = braid__huge_alloc(size);
  *left = 0;
  if (p == NULL || size < HUGE_PAGE) return p;
  /* before the first table is left out: forks before it need no count */
  pthread_once(&epoch_once, epoch_init);
#ifdef MADV_DONTFORK
  size = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
  *left = madvise(p, size, MADV_DONTFORK) == 0;
#endif
  return p;
}


void braid__huge_free(void *p, size_t size) {
  if (p == NULL) return;
  if (size < HUGE_PAGE) {
    free(p);
    return;
  }
  size = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
  munmap(p, size);
}


void braid__salloc_free(braid_salloc *p) {
  Chunk *c, *next;
  if (p == NULL) return;
  for (c = p->chunks; c != NULL; c = next) {
    next = c->next;
    unpoison(c, c->size);
    if (c->size < HUGE_PAGE)
      free(c);
    else if (c->left == CHUNK_GONE || !cache_put(c))
      munmap(c, c->size); /* (a gone chunk's absent pages: no error) */
  }
  braid__free(p->regions);
  braid__free(p->stash);
  braid__free(p);
}


void braid__salloc_after_fork(braid_salloc *p) {
  if (p != NULL) {
    Chunk *c;
    for (c = p->chunks; c != NULL; c = c->next)
      if (c->left == CHUNK_LEFT) c->left = CHUNK_GONE;
    /* the bump's chunk gone: the next block comes from a new one */
    if (p->chunks != NULL && p->chunks->left == CHUNK_GONE)
      p->bump = p->end = NULL;
    memset(p->freel, 0, sizeof p->freel);
    p->medium = 0;
    p->freebytes = 0;
    p->spare = p->spare_end = NULL;
    braid__free(p->stash);
    p->stash = NULL;
    p->forks = atomic_load_explicit(&fork_count, memory_order_relaxed);
  }
  /* the lock may have been held by a thread the fork left behind */
  cache_list = NULL;
  cache_bytes = 0;
  atomic_flag_clear_explicit(&cache_lock, memory_order_release);
}


void braid__alloc_note_fork(void) {
  atomic_fetch_add_explicit(&fork_count, 1, memory_order_relaxed);
}


void braid__salloc_sync_fork(braid_salloc *p) {
  unsigned n = atomic_load_explicit(&fork_count, memory_order_relaxed);
  Stash *s = p->stash;
  unsigned c;
  if (p->forks == n) return;
  p->forks = n;
  if (p->freebytes == 0) return;
  if (s == NULL) { /* the first fork: no tails were kept, none needed */
    if ((s = (Stash *)braid__calloc(1, sizeof *s)) == NULL) return;
    p->stash = s;
  }
  if (s->bytes <= STASH_FRESH_MAX)
    s->fresh = p->freebytes < STASH_FRESH_MAX ? p->freebytes : STASH_FRESH_MAX;
  for (c = 1; c <= NCLASS; c++) {
    if (p->freel[c] == NULL) continue;
    if (s->list[c] != NULL) s->tail[c]->next = s->list[c];
    s->list[c] = p->freel[c];
    p->freel[c] = NULL;
  }
  s->bytes += p->freebytes;
  p->freebytes = 0;
  p->medium = 0;
}


/* { ------ chunks left out of forks
** A state that freed a big value (a decoded table collected) holds whole
** chunks of free blocks. Forked as they are, those pages are shared with
** the child until one side writes, and the parent's next big decode
** would copy every page it reuses (9,700 faults: 45-50 ms for a decode of
** 100,000 records that takes 22 without a child, here); the stash
** (braid__salloc_sync_fork) trades that for as many fresh pages, no
** cheaper here. So around forks (a window: one fork of the pool's own
** thread, or a pool's workers started by other threads while this one
** waits), the pool leaves its chunks that hold nothing live out of the
** children (MADV_DONTFORK, but for the header's page, which a child of
** the pool's own thread reads to unmap them), and forks them again at the
** window's end. A chunk holds nothing live when the bytes of its blocks
** not live ('freeb', kept by every free and every reuse of a free block),
** with the spare's, are all it handed out. A window of other threads'
** forks only ('foreign') leaves every chunk out, live blocks and all:
** none of those children runs this pool's state (a forked child runs only
** the thread that forked, and ends with _exit, closing no state). Who may
** not touch them:
** - a child of the pool's own thread: it forgets every free block
**   (braid__salloc_after_fork, which marks them gone), and when the
**   newest chunk, holding the bump, is one of them, its bump starts anew
**   in a chunk of its own;
** - a child of another thread: it never runs this pool's state at all.
** A block the state allocates in one during the window is seen by no
** child: by none of its own (its own fork ends the window first and opens
** another), and other threads' children do not run it.
** When any chunk is left out, the window's forks put nothing aside: the
** parent reuses its free blocks as they are, those left out without a
** fault, the others (in chunks that hold live blocks too) at a copy a
** page, where the stash would have taken as many fresh pages for all of
** them (a fault each as well, and memory). (A fork by another thread
** just after the window, before its end looks at the fork count, is
** taken for one of the window's: its child shares the blocks left out,
** and reusing them costs copies; never more than that.)
** An owned pool's chunks are one huge page each (chunk_of), so that a few
** live blocks keep less in the children, and a block finds its chunk's
** count by its address. */
#define PREFORK_MIN (4u << 20)
#define PAGE 4096u

/* Gives chunk 'c', left out as 'how' (CHUNK_LEFT: but for its header's
** page; CHUNK_FOREIGN: whole), the fork 'advice'; 1 when done. */
static int advise_left(Chunk *c, int how, int advice) {
  size_t skip = how == CHUNK_LEFT ? PAGE : 0;
  return madvise((char *)c + skip, c->size - skip, advice) == 0;
}

/* 1 while 'c' is left out of the forks of an open window. */
static int is_left(const Chunk *c) {
  return c->left == CHUNK_LEFT || c->left == CHUNK_FOREIGN;
}

int braid__salloc_prefork(braid_salloc *p, int foreign) {
  Chunk *c;
  int left = 0;
  if (p == NULL || !p->owned) return 0;
  braid__salloc_postfork(p); /* a window still open ends here */
  braid__salloc_sync_fork(p); /* the forks before it: their blocks aside */
  if (foreign) { /* no child runs this state: it needs none of it */
    for (c = p->chunks; c != NULL; c = c->next)
      if (c->left == 0 && advise_left(c, CHUNK_FOREIGN, MADV_DONTFORK)) {
        c->left = CHUNK_FOREIGN;
        left++;
      }
    return left;
  }
  if (p->freebytes < PREFORK_MIN) return 0;
  for (c = p->chunks; c != NULL; c = c->next) {
    size_t used = c == p->chunks ? (size_t)(p->bump - (char *)c) : c->used;
    size_t freeb = c->freeb;
    if (p->spare != NULL && p->spare >= (char *)c &&
        p->spare < (char *)c + c->size)
      freeb += (size_t)(p->spare_end - p->spare);
    /* not a gone one, nor one with a live block */
    if (c->left != 0 || used <= CHUNK_HEAD || freeb != used - CHUNK_HEAD)
      continue;
    if (!advise_left(c, CHUNK_LEFT, MADV_DONTFORK)) continue;
    c->left = CHUNK_LEFT;
    left++;
  }
  return left;
}

void braid__salloc_postfork(braid_salloc *p) {
  Chunk *c;
  int any = 0;
  if (p == NULL) return;
  for (c = p->chunks; c != NULL; c = c->next)
    if (is_left(c)) {
      any = 1;
      if (advise_left(c, c->left, MADV_DOFORK)) c->left = 0;
    }
  /* a window with chunks left out: its forks are accounted for, nothing
  ** is put aside for them */
  if (any) p->forks = atomic_load_explicit(&fork_count, memory_order_relaxed);
}
/* } ------ */


void braid__salloc_stats(const braid_salloc *p, braid_salloc_stats *st) {
  const Chunk *c;
  memset(st, 0, sizeof *st);
  for (c = p->chunks; c != NULL; c = c->next) {
    st->mapped += c->size;
    if (is_left(c)) st->left += c->size;
  }
  st->free = p->freebytes;
  if (p->stash != NULL) {
    st->stashed = p->stash->bytes;
    st->fresh = p->stash->fresh;
  }
}

/*
** thp.c: transparent huge pages for fresh memory, while they are cheap
** (see thp.h). See LICENSE for copyright and license.
*/
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "thp.h"

#define HUGE ((uintptr_t)2 << 20)
#define PAGE ((uintptr_t)4096)

enum {
  MODE_UNKNOWN = 0,
  MODE_ADAPTIVE = BRAID_THP_ADAPTIVE,
  MODE_NEVER = BRAID_THP_NEVER,
  MODE_ALWAYS = BRAID_THP_ALWAYS
};

static atomic_int mode;
/* The adaptive rule's state: races between threads only make one more
** or one fewer range probe. */
static atomic_int slow;             /* the last probe found a slow page */
static atomic_llong slow_at;        /* when (CLOCK_MONOTONIC, ns) */
static atomic_size_t small_bytes;   /* given small pages since then */


static long long clock_ns(clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) return 0;
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}


static int mode_get(void) {
  int m = atomic_load_explicit(&mode, memory_order_relaxed);
  if (m == MODE_UNKNOWN) {
    const char *v = getenv("BRAID_HUGE_PAGES");
    m = MODE_ADAPTIVE;
    if (v != NULL && strcmp(v, "never") == 0) m = MODE_NEVER;
    else if (v != NULL && strcmp(v, "always") == 0) m = MODE_ALWAYS;
    atomic_store_explicit(&mode, m, memory_order_relaxed);
  }
  return m;
}


int braid__thp_mode(int set) {
  if (set == MODE_ADAPTIVE || set == MODE_NEVER || set == MODE_ALWAYS)
    atomic_store_explicit(&mode, set, memory_order_relaxed);
  return mode_get();
}


int braid__thp_cheap(void) {
  int m = mode_get();
  if (m != MODE_ADAPTIVE) return m == MODE_ALWAYS;
  if (!atomic_load_explicit(&slow, memory_order_relaxed)) return 1;
  if (atomic_load_explicit(&small_bytes, memory_order_relaxed) >=
          BRAID_THP_RETRY_BYTES ||
      clock_ns(CLOCK_MONOTONIC) -
              atomic_load_explicit(&slow_at, memory_order_relaxed) >=
          BRAID_THP_RETRY_NS) {
    atomic_store_explicit(&slow, 0, memory_order_relaxed);
    return 1;
  }
  return 0;
}


/* Faults in the huge page at 'lo' (advised huge) and returns the CPU
** time it took, in ns. */
static long long probe(uintptr_t lo) {
  long long t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  int done = 0;
#ifdef MADV_POPULATE_WRITE
  done = madvise((void *)lo, HUGE, MADV_POPULATE_WRITE) == 0;
#endif
  if (!done) { /* older kernels: one write faults in the whole page */
    volatile char *b = (volatile char *)lo;
    *b = *b;
  }
  return clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
}


int braid__thp_note_probe(long long ns) {
  if (ns <= BRAID_THP_SLOW_NS) {
    atomic_store_explicit(&slow, 0, memory_order_relaxed);
    return 0;
  }
  atomic_store_explicit(&small_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&slow_at, clock_ns(CLOCK_MONOTONIC),
                        memory_order_relaxed);
  atomic_store_explicit(&slow, 1, memory_order_relaxed);
  return 1;
}


void braid__thp_fresh(void *p, size_t n, int populate) {
  uintptr_t a = (uintptr_t)p, lo = (a + HUGE - 1) & ~(HUGE - 1),
            hi = (a + n) & ~(HUGE - 1);
  if (hi > lo) {
    if (!braid__thp_cheap()) {
      madvise((void *)lo, hi - lo, MADV_NOHUGEPAGE);
      atomic_fetch_add_explicit(&small_bytes, hi - lo, memory_order_relaxed);
    } else {
      madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
      if (mode_get() == MODE_ADAPTIVE && braid__thp_note_probe(probe(lo)) &&
          hi - lo > HUGE)
        madvise((void *)(lo + HUGE), hi - lo - HUGE, MADV_NOHUGEPAGE);
    }
  }
#ifdef MADV_POPULATE_WRITE
  if (populate) {
    uintptr_t plo = (a + PAGE - 1) & ~(PAGE - 1), phi = (a + n) & ~(PAGE - 1);
    if (phi > plo) madvise((void *)plo, phi - plo, MADV_POPULATE_WRITE);
  }
#else
  (void)populate;
#endif
}

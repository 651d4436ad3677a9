/*
** failalloc.c: allocation failure injection, for tests.
** See LICENSE for copyright and license.
**
** Every allocation braid makes (core objects through braid__malloc and
** its siblings, worker states through their allocators, a main state
** whose allocator a test wrapped with braid__fail_wrap_state) asks
** braid__fail_check first. Off (the normal case) that is one relaxed
** atomic load. Armed, each allocation is counted process-wide, in the
** order the threads make them, and the ones numbered nth .. nth+count-1
** (counting from 1 since the arming) return NULL; arming with nth = 0
** only counts, which tells a test how many allocations a scenario makes.
** The distinct sites ("file:line" of the call, or the kind of Lua state)
** that were counted are kept too, so a test can report its coverage.
*/
#include <string.h>

#include "failalloc.h"
#include "spin.h" /* BRAID_TLS */

atomic_int braid__fail_on;

static atomic_long seen;   /* allocations counted since the arming */
static atomic_long failed; /* of which returned NULL */
static atomic_long fail_first, fail_last; /* set while off */

/* Distinct sites: an open-addressed set of pointers, filled lock-free.
** When it is full, further sites are not recorded (only counted). */
#define NSITES 4096
static _Atomic(const void *) sites[NSITES];
static atomic_long nsites;


static void note_site(const void *site) {
  uintptr_t h = (uintptr_t)site;
  unsigned i, k;
  h ^= h >> 17;
  h *= (uintptr_t)0x9E3779B97F4A7C15u;
  i = (unsigned)(h >> 20) & (NSITES - 1);
  for (k = 0; k < NSITES; k++, i = (i + 1) & (NSITES - 1)) {
    const void *cur = atomic_load_explicit(&sites[i], memory_order_relaxed);
    if (cur == site) return;
    if (cur == NULL) {
      const void *expect = NULL;
      if (atomic_compare_exchange_strong(&sites[i], &expect, site)) {
        atomic_fetch_add_explicit(&nsites, 1, memory_order_relaxed);
        return;
      }
      if (expect == site) return;
    }
  }
}


/* The site of each allocation counted, in order (the first TRACE ones):
** lets a test choose which allocations to fail so that every site is
** covered without failing every single allocation. */
#define TRACE (1 << 17)
static _Atomic(const void *) trace[TRACE];


static BRAID_TLS int tl_quiet;

int braid__fail_quiet(int on) {
  int old = tl_quiet;
  tl_quiet = on;
  return old;
}


int braid__fail_hit(const void *site) {
  long k;
  if (tl_quiet) return 0;
  k = atomic_fetch_add_explicit(&seen, 1, memory_order_relaxed) + 1;
  note_site(site);
  long first = atomic_load_explicit(&fail_first, memory_order_relaxed);
  if (k <= TRACE)
    atomic_store_explicit(&trace[k - 1], site, memory_order_relaxed);
  if (first > 0 && k >= first &&
      k <= atomic_load_explicit(&fail_last, memory_order_relaxed)) {
    atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
    return 1;
  }
  return 0;
}


char *braid__strdup_at(const char *s, const void *site) {
  size_t n = strlen(s) + 1;
  char *r = (char *)braid__malloc_at(n, site);
  if (r != NULL) memcpy(r, s, n);
  return r;
}


void braid__fail_arm(long nth, long count) {
  atomic_store(&braid__fail_on, 0);
  atomic_store(&seen, 0);
  atomic_store(&failed, 0);
  atomic_store(&fail_first, nth > 0 ? nth : 0);
  atomic_store(&fail_last, count <= 0 ? LONG_MAX
                           : nth > LONG_MAX - count ? LONG_MAX
                                                    : nth + count - 1);
  atomic_store(&braid__fail_on, 1); /* publishes the bounds (seq_cst) */
}


void braid__fail_disarm(long *nseen, long *nfailed) {
  atomic_store(&braid__fail_on, 0);
  if (nseen != NULL) *nseen = atomic_load(&seen);
  if (nfailed != NULL) *nfailed = atomic_load(&failed);
}


long braid__fail_sites(void (*each)(void *ud, const void *site), void *ud) {
  unsigned i;
  if (each != NULL)
    for (i = 0; i < NSITES; i++) {
      const void *s = atomic_load(&sites[i]);
      if (s != NULL) each(ud, s);
    }
  return atomic_load(&nsites);
}


const void *braid__fail_trace(long k) {
  long n = atomic_load(&seen);
  if (atomic_load(&braid__fail_on) || k < 1 || k > n || k > TRACE)
    return NULL;
  return atomic_load_explicit(&trace[k - 1], memory_order_relaxed);
}


void braid__fail_sites_reset(void) {
  unsigned i;
  for (i = 0; i < NSITES; i++) atomic_store(&sites[i], NULL);
  atomic_store(&nsites, 0);
}


/* The sites of Lua's own allocations (the allocators are the worker
** pool's, alloc.c, and the binding's braidB_fail_lua_alloc). */
const char braid__fail_site_worker[] = "lua: a worker state";
const char braid__fail_site_main[] = "lua: a main state";

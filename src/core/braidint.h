/*
** braidint.h: internal common header of braid's core and binding.
** See LICENSE for copyright and license.
*/
#ifndef BRAIDINT_H
#define BRAIDINT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "braid.h"

/* BRAIDI_FUNC and braid__likely/unlikely come from braidconf.h. */

#define braid__unused(x) ((void)(x))

/* Allocation failure injection (failalloc.c), for tests: once armed,
** the Nth allocation made through braid's allocators (the wrappers below,
** worker states' allocators, the main state's when a test wraps it)
** fails. Off, it costs one relaxed atomic load on a predictable branch.
** braid__fail_hit(site) counts one allocation made at 'site' (a
** "file:line" string, or braid__fail_site_worker/main for a Lua state's
** own allocations) and says whether it must fail. */
BRAIDI_FUNC atomic_int braid__fail_on;
BRAIDI_FUNC int braid__fail_hit(const void *site);

#define braid__fail_check(site)                                               \
  (braid__unlikely(atomic_load_explicit(&braid__fail_on,                      \
                                        memory_order_relaxed)) &&             \
   braid__fail_hit(site))

/* Allocation of core objects (not of Lua states, whose allocator the
** runtime chooses). Failures are reported as BRAID_ENOMEM. Every malloc,
** calloc, realloc and strdup of braid goes through these, so failure
** injection reaches them all. */
static inline void *braid__malloc_at(size_t n, const void *site) {
  return braid__fail_check(site) ? NULL : malloc(n);
}
static inline void *braid__calloc_at(size_t n, size_t s, const void *site) {
  return braid__fail_check(site) ? NULL : calloc(n, s);
}
static inline void *braid__realloc_at(void *p, size_t n, const void *site) {
  return braid__fail_check(site) ? NULL : realloc(p, n);
}
BRAIDI_FUNC char *braid__strdup_at(const char *s, const void *site);
/* The site of an allocation: "file:line", one string per call site. */
#define braid__str_(x) #x
#define braid__str(x) braid__str_(x)
#define braid__site() ((const void *)(__FILE__ ":" braid__str(__LINE__)))
#define braid__malloc(n) braid__malloc_at((n), braid__site())
#define braid__calloc(n, s) braid__calloc_at((n), (s), braid__site())
#define braid__realloc(p, n) braid__realloc_at((p), (n), braid__site())
#define braid__strdup(s) braid__strdup_at((s), braid__site())
#define braid__free(p) free(p)

#endif

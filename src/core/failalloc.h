/*
** failalloc.h: allocation failure injection, for tests (see failalloc.c;
** the check itself, braid__fail_check, is in braidint.h).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_FAILALLOC_H
#define BRAID_FAILALLOC_H

#include <limits.h>

#include "braidint.h"

/* Arms the injection: from now on allocations are counted from 1, and
** the ones numbered nth .. nth+count-1 fail (count <= 0: every one from
** nth on). nth = 0 only counts. Call it while no other thread allocates
** through braid, or accept that those allocations land anywhere in the
** count. */
BRAIDI_FUNC void braid__fail_arm(long nth, long count);

/* Disarms it; '*nseen' and '*nfailed' (if not NULL) receive how many
** allocations were counted and how many of them failed. */
BRAIDI_FUNC void braid__fail_disarm(long *nseen, long *nfailed);

/* Calls each(ud, site) for every distinct site counted since the last
** braid__fail_sites_reset (each may be NULL); returns their number. A
** site is a "file:line" string, or one of the braid__fail_site_* below. */
BRAIDI_FUNC long braid__fail_sites(void (*each)(void *ud, const void *site),
                                   void *ud);
BRAIDI_FUNC void braid__fail_sites_reset(void);

/* The site of the k-th allocation counted by the last arming (while
** disarmed, k from 1; the first 2^17 only), or NULL. */
BRAIDI_FUNC const void *braid__fail_trace(long k);

/* While 'on' is set, the calling thread's allocations are not injection
** sites (neither counted nor failed): for work done ahead of need, at
** times a test cannot order against its arming (a parked thread's
** prepared state, src/bind/lready.c). Returns the previous setting. */
BRAIDI_FUNC int braid__fail_quiet(int on);

/* The sites of Lua's own allocations, by kind of state. */
BRAIDI_FUNC const char braid__fail_site_worker[];
BRAIDI_FUNC const char braid__fail_site_main[];

/* The allocator function that makes a Lua state's own allocations take
** part is the binding's (src/bind/lfailalloc.c, declared in lbind.h). */

#endif

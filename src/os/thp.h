/*
** thp.h: transparent huge pages for fresh memory, while they are cheap.
** See LICENSE for copyright and license.
**
** Why: where the kernel has memory ready, a huge page is one fault for
** 2 MiB (~0.1 ms here) against 512 faults in small pages (~0.65 ms),
** and one TLB entry. Under a hypervisor that takes free guest memory
** back (free page reporting, ballooning: Firecracker, many cloud VMs),
** a huge page cut from memory the host took back is backed again by
** the host 4 KiB at a time while the kernel clears it: measured
** 4.5-5 ms per 2 MiB, seven times the small pages' cost. The kernel
** hands out its recently freed memory first, so the first few huge
** pages of a burst are cheap and, once that is used up, every further
** one costs this (bench/README.md, "Huge pages while they are cheap").
** A process cannot tell in advance which it will get, only time it.
**
** How: the first huge page of a fresh range is faulted at once and
** timed in the thread's CPU time (which counts the host's work and not
** a preemption). Slower than BRAID_THP_SLOW_NS, it was not ready: the
** rest of the range takes small pages, and so do the ranges after it,
** until BRAID_THP_RETRY_BYTES have been mapped that way or
** BRAID_THP_RETRY_NS have passed; then a range tries again. A wrong
** guess either way costs at most one slow huge page per retry period,
** or small pages where huge ones would have been ready.
**
** BRAID_HUGE_PAGES (read once): "never" gives every range small pages,
** "always" huge ones without the timing (the rule before this one);
** anything else, or unset, is the adaptive rule.
**
** Contracts: best effort, thread-safe, never fails (kernels without
** madvise's advice ignore it); the range's contents are kept.
*/
#ifndef BRAID_THP_H
#define BRAID_THP_H

#include <stddef.h>

#define BRAID_THP_SLOW_NS 1000000L            /* per 2 MiB: 1 ms */
#define BRAID_THP_RETRY_BYTES ((size_t)16 << 20)
#define BRAID_THP_RETRY_NS 250000000LL        /* 250 ms */

/* Advises the fresh range [p, p+n), about to be filled, to use huge
** pages or small ones by the rule above; with 'populate', every page of
** it is also faulted in now (one call instead of a fault per page),
** else only the probed huge page is. */
void braid__thp_fresh(void *p, size_t n, int populate);

/* The rules (BRAID_HUGE_PAGES's values). */
#define BRAID_THP_ADAPTIVE 1
#define BRAID_THP_NEVER 2
#define BRAID_THP_ALWAYS 3

/* The rule in use; 'set' (a rule) replaces it for the whole process
** first, 0 keeps it (the specs' hook: core._huge_pages). */
int braid__thp_mode(int set);

/* Whether a range would take huge pages now. */
int braid__thp_cheap(void);

/* Records a probe that took 'ns' of CPU time for one huge page (the
** rule's own measurement; callable by tests): when that is slow, starts
** a period of small pages and returns 1; else ends any such period and
** returns 0. */
int braid__thp_note_probe(long long ns);

#endif

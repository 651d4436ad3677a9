/*
** alloc.h: the allocator of worker states.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_ALLOC_H
#define BRAID_ALLOC_H

#include "braidint.h"

/* A per-state pool: small blocks come from size-class free lists carved
** out of big chunks (huge pages from 2 MiB on), big ones on mappings.
** A state is used by one thread at a time, so the pool takes no lock. It
** keeps what the state frees for the state's own later allocations and
** gives its chunks back to the system only in braid__salloc_free, after
** the state is closed. */
typedef struct braid_salloc braid_salloc;

/* A new pool, or NULL when out of memory (or when the pool is disabled:
** BRAID_WORKER_ALLOC=system in the environment, read once). */
BRAIDI_FUNC braid_salloc *braid__salloc_new(void);

/* The allocator function of a pool (a braid_alloc_cb); 'ud' is the pool.
** A new block or a growth is a failure injection site (failalloc.h). */
BRAIDI_FUNC void *braid__salloc_alloc(void *ud, void *ptr, size_t osize,
                                    size_t nsize);

/* A pool that can tell its blocks from any other allocator's: its chunks
** are mappings of their own from the first on (2 MiB-aligned, on huge
** pages), each recorded by its 2 MiB regions. For a state that adopts a
** pool after it allocated elsewhere (ladopt.c). NULL when out of memory or
** disabled (as braid__salloc_new). */
BRAIDI_FUNC braid_salloc *braid__salloc_new_owned(void);

/* 1 when 'ptr' lies in a chunk of 'p', a pool made by
** braid__salloc_new_owned (else always 0). */
BRAIDI_FUNC int braid__salloc_owns(const braid_salloc *p, const void *ptr);

/* braid__salloc_alloc without the failure injection site: for an
** allocator that checks its own site first (or none). Blocks of
** BRAID_BIG_MIN bytes or more are big blocks (braid__big_alloc), as
** there. */
BRAIDI_FUNC void *braid__salloc_realloc(braid_salloc *p, void *ptr,
                                      size_t osize, size_t nsize);

/* Frees the pool and everything still in it (call after its state is closed). */
BRAIDI_FUNC void braid__salloc_free(braid_salloc *p);

/* In a forked child, for the pool of the state it goes on running: forgets
** the blocks the parent had freed (and the process's cache of mapped
** chunks), so that what the child allocates comes from memory of its own.
** Those blocks lie in pages the child shares with its parent until one of
** them writes there: reusing them would copy page after page (a fault, a
** 4 KiB copy and a TLB flush each: decoding 100,000 records into a
** churned pool took 70 ms instead of 40), and keeping them unused costs
** the child no memory (they are the parent's pages). The memory stays
** mapped until the child exits. */
BRAIDI_FUNC void braid__salloc_after_fork(braid_salloc *p);

/* Counts a fork of this process (in the parent, once it succeeded). */
BRAIDI_FUNC void braid__alloc_note_fork(void);

/* Called by the pool's own thread (before a big decode): when the process
** forked since the pool last looked, the blocks it had freed lie in pages
** a child shares until one of them writes there, so they are put aside
** (a stash). What the pool hands out next comes from blocks freed since
** and from its bump (new chunks), up to as many bytes as were put aside
** and at most 64 MiB (none when the stash holds more than that already);
** then from the stash again, and from the bump only for what it lacks. The memory this costs is bounded
** by those two limits; what it saves, a copied page for each page written
** (braid__salloc_after_fork). */
BRAIDI_FUNC void braid__salloc_sync_fork(braid_salloc *p);

/* Opens a window of forks, on the pool's own thread: just before its own
** fork, or, 'foreign', before other threads fork while it waits (a fork
** Pool's workers). Leaves the pool's chunks that hold no live block out
** of the children (their pages but the header's are MADV_DONTFORK), or
** every chunk for a foreign window (no child runs this pool's state), so
** that the parent reuses them after without a copy-on-write fault; when
** any is left out, braid__salloc_sync_fork puts nothing aside for the
** window's forks. Returns the number of chunks left out (0 for a pool
** that is not owned; for an own fork also with less than 4 MiB free).
** braid__salloc_postfork closes the window in the parent, whether the
** forks succeeded or not (an open one is closed by the next prefork);
** in a child of the pool's own thread, after_fork marks the chunks gone
** (unmapped at the end, never cached). */
BRAIDI_FUNC int braid__salloc_prefork(braid_salloc *p, int foreign);
BRAIDI_FUNC void braid__salloc_postfork(braid_salloc *p);

/* What a pool holds, for the specs (core._pool_stats): bytes of its
** chunks, bytes of freed blocks it hands out first, bytes stashed by a
** fork, bytes of new chunks it may still map before taking stashed
** blocks, bytes of chunks left out of forks now (braid__salloc_prefork). */
typedef struct braid_salloc_stats {
  size_t mapped, free, stashed, fresh;
  size_t left;
} braid_salloc_stats;
BRAIDI_FUNC void braid__salloc_stats(const braid_salloc *p,
                                     braid_salloc_stats *st);

/* Big blocks (of BRAID_BIG_MIN bytes or more: big messages, a state's
** big arrays): a mapping each, on huge pages, reused through a process-wide
** cache of mappings (so their pages are seldom faulted in anew), not
** zero-filled. '*cap' (if not NULL) receives the usable size, at least 'n'.
** NULL when out of memory. */
#define BRAID_BIG_MIN ((size_t)1 << 20)
BRAIDI_FUNC void *braid__big_alloc(size_t n, size_t *cap);
BRAIDI_FUNC void braid__big_free(void *block);

/* Byte buffers (the serializer's, messages'): from BRAID_BIG_MIN bytes
** on a big block (so a big message does not fault in fresh pages in the
** sender), else malloc. Which one a buffer is follows from its capacity,
** which braid__buf_free takes back ('*cap' receives it). */
BRAIDI_FUNC unsigned char *braid__buf_alloc(size_t n, size_t *cap);
BRAIDI_FUNC void braid__buf_free(void *b, size_t cap);
/* Grows the buffer 'b' (of capacity 'cap', 'len' bytes used; NULL: none)
** to at least 'n' bytes, its bytes kept, 'b' freed; '*ncap' receives the
** new capacity. A big buffer is copied into a cached chunk when there is
** one (its pages are present), else moved (mremap: its pages go along;
** in a fresh process, copying a 4.7 MB message's buffer at each doubling
** faulted in a new block each time, ~1,500 faults). NULL when out of
** memory ('b' then stays). */
BRAIDI_FUNC unsigned char *braid__buf_grow(void *b, size_t cap, size_t len,
                                           size_t n, size_t *ncap);

/* 'size' zero-filled bytes for a big table with random access (the
** serializer's pointer maps): from 2 MiB on, mapped on huge pages, which
** spare a TLB miss per access. Freed with braid__huge_free and the same
** size. NULL when out of memory. */
BRAIDI_FUNC void *braid__huge_alloc(size_t size);
BRAIDI_FUNC void braid__huge_free(void *p, size_t size);

/* As braid__huge_alloc, for a table a forked child will not use (an
** encoder's pointer maps): a mapped one (2 MiB on) is left out of forks
** (MADV_DONTFORK), and '*left' is then 1, else 0. Why: after a fork every
** page of the table is shared with the child until someone writes there,
** so the parent's next encode of the 100k-record table copied 3,200
** pages, one fault each (13.7 -> 18.9 ms), on the way to every child it
** had just started. The child must not touch a left-out table: it has
** none there (braid__fork_epoch tells). Freed with braid__huge_free. */
BRAIDI_FUNC void *braid__huge_alloc_unforked(size_t size, int *left);

/* How many forks made this process, counted in each child as it starts
** (0 in a process that no fork made): a table left out of forks and
** made under another count is not there. */
BRAIDI_FUNC unsigned braid__fork_epoch(void);

/* Gives the cached chunks back to the system: before a fork, whose cost
** grows with what the process has mapped (the child would not use them). */
BRAIDI_FUNC void braid__alloc_trim(void);

#endif

/*
** segblock.h: a big segment's bytes taken as they lie, with no copy: the
** block of a Lua string made from a private mapping of the segment
** (segfill.h). See LICENSE for copyright and license.
**
** Why: copying a 64 MiB segment out cost its receiver a fresh 64 MiB
** block (12-38 ms of page faults, even on huge pages) plus the copy
** (~12 ms), on top of the sender's fill, and under load the two sides
** competed for the same cores (bench/README.md, "bigx"). Mapped, the
** receiver's part is two mmap calls; the string's pages are the
** segment's, faulted in as they are read (16 at a time: the kernel's
** fault-around), and copied only where the receiver writes: the string
** header in front of the bytes and the terminating zero after them.
**
** Layout: the segment's data starts at file offset BRAID_SEG_CTL (a page
** boundary), so the block starts 'hdr' bytes before it, inside the
** private copy of the control page. The mapping is made over an
** anonymous reservation one byte longer than the file, so the zero after
** the bytes has a page even when the file ends on a page boundary.
**
** Contracts:
** - Only a segment sealed against shrinking (F_SEAL_SHRINK: a mapping
**   of a file cut short would fault with SIGBUS on a read) is mapped;
**   others are refused (EPERM) and the caller copies instead. Its bytes
**   are its sender's promise: braid's senders never write them again
**   once filled (segfill.h). Not sealed against writes, because the
**   control page in front stays writable for the processes' mutex; a
**   peer that wrote them later would change the string, as it could
**   have changed them before a copy.
** - The caller has waited until the segment is filled (braid__seg_wait).
** - A block lives until braid__seg_block_free; the descriptor may be
**   closed at once. Blocks are kept in a process-wide list so that an
**   allocator can tell them from its own (braid__seg_block_owns): every
**   allocator that may be handed one (alloc.c's pools, ladopt.c's hybrid)
**   asks before it frees or moves a big block. Lists and locks survive a
**   fork (the child's copy of each mapping is its own).
*/
#ifndef BRAID_SEGBLOCK_H
#define BRAID_SEGBLOCK_H

#include <stddef.h>

/* A block whose bytes [hdr, hdr + n) are the 'n' data bytes of the sealed
** segment 'fd' and whose byte hdr + n is writable (hdr < BRAID_SEG_CTL);
** all of it readable and writable, private to this process. NULL with
** errno set (EPERM: not sealed; EINVAL: not a segment of 'n' bytes). */
void *braid__seg_block_map(int fd, size_t n, size_t hdr);

/* 1 when 'block' is one braid__seg_block_map made and has not freed. */
int braid__seg_block_owns(const void *block);

/* Unmaps 'block' when it is one of braid__seg_block_map's: 1; else 0,
** and nothing happens. */
int braid__seg_block_free(void *block);

/* An allocator's realloc of such a block ('block', of 'osize' bytes) to
** 'nsize' bytes, once it made the new block 'np' (NULL for a free, when
** nsize is 0): copies what fits into 'np', unmaps 'block', returns 'np'.
** (An allocator that could not make 'np' returns NULL without calling
** this: Lua keeps the old block.) */
void *braid__seg_block_move(void *block, size_t osize, void *np,
                            size_t nsize);

/* How many blocks are mapped now (the specs' probe). */
long braid__seg_block_count(void);

#endif

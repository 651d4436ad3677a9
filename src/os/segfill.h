/*
** segfill.h: a segment's bytes and its control page, and the fill that
** overlaps the receiver's copy. See LICENSE for copyright and license.
**
** Layout of every segment (a memfd): a control page of BRAID_SEG_CTL
** bytes, then the string's 'n' bytes. The control page holds a magic, 'n',
** the count of bytes filled so far (published with a release store after
** each chunk), a futex word bumped with each publication, a "failed" flag,
** and a robust process-shared mutex that the sender holds while it fills.
**
** Why: written and read in sequence, 64 MiB cost the sender's write()
** (~28 ms) plus the receiver's copy (~22 ms). A late segment
** (braid__seg_late_begin) is created at its full size and sent at once;
** its sender fills it in chunks after the message is on its way
** (braid__seg_late_fill), and the receiver copies each chunk as the count
** passes it, so the two copies overlap.
**
** Contracts:
** - The receiver never reads data beyond the published count, and checks
**   the control page (magic, size, count <= size) before trusting it.
** - A sender that dies mid-fill leaves its mutex to the kernel's robust
**   list: the receiver's trylock sees EOWNERDEAD and fails with EPIPE. A
**   sender that gives up (braid__seg_late_abandon, or a fill that fails)
**   sets "failed" and unlocks: the receiver fails with EIO. Nothing half
**   filled is ever handed on.
** - Late segments are per thread. braid__seg_new_late of 'n' >=
**   braid__seg_late_min bytes only records the source bytes: the caller
**   must keep them alive and unchanged until braid__seg_late_fill (a Lua
**   string on the stack of the put/send that sent it), and must call
**   _fill or _abandon right after the message is sent (or not), before
**   anything can raise. braid__seg_late_begin (an encoder starting)
**   abandons what an encode that raised left.
** - Waits are sliced and end early (EINTR) when braid__intr_stop() says so.
** - Segments are made sealed against shrinking and growing, so that a
**   receiver may map a filled one instead of copying it (segblock.h).
**   Their bytes are never written again once the count covers them.
*/
#ifndef BRAID_SEGFILL_H
#define BRAID_SEGFILL_H

#include <stddef.h>

/* The control page in front of a segment's bytes. */
#define BRAID_SEG_CTL 4096

/* A new memfd ("braid-seg") holding the 'n' bytes at 'p' after its control
** page: its descriptor, or -1 with errno set. */
int braid__seg_new(const void *p, size_t n);

/* The same, but from braid__seg_late_min bytes the segment is made at its
** size, empty, and filled by braid__seg_late_fill (see above). */
int braid__seg_new_late(const void *p, size_t n);

/* How many segments this process made (braid__seg_new) and read
** (braid__seg_map, braid__seg_read): the specs' proof that a path sends
** out of line. */
void braid__seg_counts(long *made, long *read);

/* The data size of the segment 'fd' into '*n' (fstat, less the control
** page); EINVAL when it is no file or too small for its control page. */
int braid__seg_size(int fd, size_t *n);

/* A shared mapping of the whole segment 'fd' of 'n' data bytes (the
** control page writable, for its mutex; the data read-only), its control
** page checked (EINVAL when it does not describe 'n' bytes); NULL with
** errno set. braid__seg_unmap(p, n) drops it. */
const void *braid__seg_map(int fd, size_t n);
void braid__seg_unmap(const void *p, size_t n);

/* Copies the 'n' data bytes of the mapping 'p' (braid__seg_map) into
** 'dst' as they are filled. 0, or -1 with errno: EPIPE (the sender died
** mid-fill), EIO (it gave up), EINVAL (a bad control page), EINTR (an
** interrupt ended the wait: braid__intr_stop). */
int braid__seg_copy(const void *p, size_t n, void *dst);

/* Waits, as braid__seg_copy does, until all 'n' data bytes of the mapping
** 'p' are filled, copying nothing (a receiver that then maps the bytes
** as they lie: segblock.h). 0, or -1 with braid__seg_copy's errors. */
int braid__seg_wait(const void *p, size_t n);

/* braid__seg_map + braid__seg_copy + unmap of the segment 'fd'. */
int braid__seg_read(int fd, void *dst, size_t n);

/* The late segments of the calling thread (see above). _fill returns 0, or
** -1 with errno set when a fill failed (its receiver fails with EIO). */
void braid__seg_late_begin(void);
int braid__seg_late_fill(void);
void braid__seg_late_abandon(void);

/* Tunables and test hooks: the size from which a segment is filled late
** (SIZE_MAX: never), the chunk size, and a delay before each chunk
** (seconds; specs make a fill slow with it instead of sleeping). Each
** returns the old value and sets the new one when 'set'. */
size_t braid__seg_late_min(int set, size_t n);
size_t braid__seg_chunk(int set, size_t n);
double braid__seg_fill_delay(int set, double s);

#endif

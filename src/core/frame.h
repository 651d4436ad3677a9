/*
** frame.h: the framing of Connection messages, Python's
** multiprocessing.connection format: a 4-byte big-endian signed length,
** then the bytes; a message longer than 0x7fffffff bytes has the length
** -1, then an 8-byte big-endian unsigned length. Lua-free (fuzzed by
** fuzz/fuzz_frame.c).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_FRAME_H
#define BRAID_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "braidint.h"

/* Longest header (the 8-byte form). */
#define BRAID_FRAME_HDRMAX 12

/* Writes the header of an 'n'-byte message into 'h'; returns its size
** (4 or 12). */
BRAIDI_FUNC size_t braid__frame_header(uint64_t n, unsigned char *h);

/* Reads a header from its first 'have' bytes at 'h'. BRAID_OK with
** '*len' set when complete; BRAID_EAGAIN when it is the 8-byte form and
** 'have' < 12 (read up to 12 and call again); BRAID_EINVAL for a negative
** length other than -1 or 'have' < 4. */
BRAIDI_FUNC int braid__frame_parse(const unsigned char *h, size_t have,
                                   uint64_t *len);

/* Sends one frame (header and body in one system call where the kernel
** takes them: no small-segment delay for small messages). BRAID_OK,
** BRAID_ECLOSED (the peer is gone) or BRAID_EOS (errno). */
BRAIDI_FUNC int braid__frame_write(int fd, const void *p, size_t n);

/* Reads one header from 'fd' (blocking). BRAID_OK with '*len';
** BRAID_ECLOSED at end of file, '*got' telling how many header bytes came
** before it (0: a clean end between messages); BRAID_EINVAL for a bad
** length; BRAID_EOS (errno). */
BRAIDI_FUNC int braid__frame_read_header(int fd, uint64_t *len, size_t *got);

/* braid__frame_read_header without waiting for the first byte: a
** non-blocking read of the header, tried again for up to 'spin_ns' while
** nothing has come (a reply that arrives meanwhile costs no poll before
** the read and no sleep). BRAID_EAGAIN when nothing came (or 'fd' is no
** socket): wait for it and call braid__frame_read_header. Once a first
** byte came the rest of the header is read blocking (it is on its way);
** other results as braid__frame_read_header's. */
BRAIDI_FUNC int braid__frame_try_header(int fd, long spin_ns, uint64_t *len,
                                        size_t *got);

#endif

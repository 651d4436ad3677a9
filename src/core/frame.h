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
#include "memseg.h"

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

/* { ====== descriptors with frames (braid's Pipes only, see lconn.c)
** A frame may carry descriptors (SCM_RIGHTS on its first bytes): the
** segments of a message's T_SEG strings (memseg.h). And a braid-only
** header, -2 then an 8-byte length, says the frame's bytes are not in the
** stream but in the one descriptor it carries (send_bytes of a big
** buffer). Python's peers never see either: only connections whose both
** ends are braid's (Pipe) use them. */
typedef struct braid_frame_fds {
  int fds[BRAID_SEG_MAX]; /* received with the header (close-on-exec) */
  int n;
  int seg; /* the -2 form: the bytes are fds[0]'s */
} braid_frame_fds;

/* braid__frame_parse that also takes the -2 form when 'seg' is not NULL
** (then '*seg' says which form it was). */
BRAIDI_FUNC int braid__frame_parse_seg(const unsigned char *h, size_t have,
                                       uint64_t *len, int *seg);

/* braid__frame_write with the 'nfds' descriptors 'fds' (may be 0) sent
** with the header; 'seg': the -2 form for 'n' bytes held by fds[0] ('p'
** unused, no body). The caller keeps its descriptors (close them after:
** the receiver has its own). */
BRAIDI_FUNC int braid__frame_write_fx(int fd, const void *p, size_t n,
                                      const int *fds, int nfds, int seg);

/* braid__frame_read_header / _try_header that also take the descriptors
** sent with the header into 'fx' (the caller owns them, also when an
** error is returned after they came: fx->n says how many) and the -2
** form. 'fx' NULL: as the plain functions. */
BRAIDI_FUNC int braid__frame_read_header_fx(int fd, uint64_t *len,
                                            size_t *got, braid_frame_fds *fx);
BRAIDI_FUNC int braid__frame_try_header_fx(int fd, long spin_ns,
                                           uint64_t *len, size_t *got,
                                           braid_frame_fds *fx);
/* } ====== */

#endif

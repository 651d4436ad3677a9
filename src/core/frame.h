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

/*
** Read-ahead. A connection that reads ahead takes what the socket holds,
** up to BRAID_RBUF_SIZE bytes, each time it needs a header: a small
** message's header and body come in one system call (a manager's answer),
** and the bytes of the messages after it wait in the buffer. Whatever
** waits on such a connection must look at the buffer first (its
** descriptor is not readable for bytes already taken): see lconn.c.
** Not synchronised: the connection's readers take turns, as on a plain
** socket (the indices are checked against the buffer's size on every use,
** so misuse garbles messages but never touches memory outside it).
*/
#define BRAID_RBUF_SIZE 4096

typedef struct braid_rbuf {
  size_t pos, end; /* b[pos, end): read from the socket, not yet taken */
  int greedy;      /* 0: read only the header bytes missing (no read-ahead) */
  /* Descriptors read ahead (a connection that takes them, 'fx' below):
  ** they belong to the header holding byte b[fdend - 1]. A sender puts a
  ** frame's descriptors on a send of the header alone, and the kernel
  ** ends a read after the bytes that carried descriptors, so they came
  ** with the last bytes read, which are that header's. Until that header
  ** is taken nothing more is read ahead (one set pending at most). */
  int fds[BRAID_SEG_MAX];
  int nfds;
  size_t fdend;
  unsigned char b[BRAID_RBUF_SIZE];
} braid_rbuf;

/* Bytes read ahead and not yet taken. */
BRAIDI_FUNC size_t braid__rbuf_avail(const braid_rbuf *rb);

/* Appends 'n' bytes (a connection's buffered bytes arriving with it from
** another process). BRAID_OK, or BRAID_EINVAL when they do not fit. */
BRAIDI_FUNC int braid__rbuf_put(braid_rbuf *rb, const void *p, size_t n);

/* braid__frame_try_header_fx and braid__frame_read_header_fx through 'rb':
** a header already buffered is taken from it; otherwise reads go into the
** buffer (all the socket holds that fits when 'rb->greedy'). Same results;
** '*got' at BRAID_ECLOSED counts the buffered bytes of the torn header.
** 'fx' (NULL: the connection takes no descriptors) receives the
** descriptors that came with the header taken. */
BRAIDI_FUNC int braid__frame_try_header_rb(int fd, braid_rbuf *rb,
                                           long spin_ns, uint64_t *len,
                                           size_t *got, braid_frame_fds *fx);
BRAIDI_FUNC int braid__frame_read_header_rb(int fd, braid_rbuf *rb,
                                            uint64_t *len, size_t *got,
                                            braid_frame_fds *fx);

/* Closes the descriptors 'rb' holds for a header not taken yet. */
BRAIDI_FUNC void braid__rbuf_drop_fds(braid_rbuf *rb);

/* Reads a body of 'n' bytes into 'p': the buffered bytes first, the rest
** straight from 'fd' (never more than the body: no copy through the
** buffer for a large message). BRAID_OK, BRAID_ECLOSED, BRAID_EOS. */
BRAIDI_FUNC int braid__frame_read_body_rb(int fd, braid_rbuf *rb, void *p,
                                          size_t n);

#endif

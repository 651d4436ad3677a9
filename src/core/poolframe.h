/*
** poolframe.h: the framing between a process pool's proxy thread and its
** child (src/bind/lprocpool.c), Lua-free: the frame and reply headers,
** their writers, and readers that validate everything they take from the
** other side (header fields, lengths, the descriptors sent with a header)
** before anything is handed on. fuzz/fuzz_poolframe.c drives the readers
** over a socket pair as the proxy and the child run them.
** See LICENSE for copyright and license.
**
** Contracts of every reader here: on an error nothing is held (every
** descriptor received is closed, every message freed), whatever the other
** side wrote (a truncated header, a lying length, descriptors too many,
** too few or of any kind, end of file mid-frame); a length is never
** trusted for more memory than the bytes that actually came
** (BRAID_PF_EAGER at a time); every read ends at the peer's end of file.
*/
#ifndef BRAID_POOLFRAME_H
#define BRAID_POOLFRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "braidint.h"
#include "wire.h"

/* Parent -> child. A new function (fnlen > 0) comes before the payload:
** the child keeps the last one. So do the values of a map call
** (calllen > 0: bytes [callorigin, callorigin + calllen) of the job's
** batch, which its chunks name with T_CALLV): sent with the first chunk
** of the batch a child gets, so once per call and child (a replacement
** child gets them with its first chunk). A chunk's payload is 'nitems'
** 32-bit item offsets, then 'len' bytes of items cut at 'origin' of the
** batch. A call whose arguments stream has as its payload the stream's
** mark (BRAID_PSTREAM_MARK), and its memfd on the header's first bytes
** ('nfds' 1): the child decodes while the caller encodes. So has a chunk
** whose items stream (braidB_procpool_map_streamed): its first item is
** the mark, the others empty, the K items the stream's K values. */
enum { BRAID_PF_CALL = 1, BRAID_PF_CHUNK, BRAID_PF_EXIT };

typedef struct braid_pf_hdr {
  uint32_t kind;
  uint32_t nitems;
  uint32_t chunksize;
  uint32_t star;
  uint32_t origin;
  uint32_t callorigin;
  uint32_t nfds; /* 1: a call's arguments or a chunk's items stream (the
                 ** memfd on the header) */
  uint32_t spare;
  uint64_t fnlen;
  uint64_t calllen;
  uint64_t len;
} braid_pf_hdr;

/* Child -> parent: an encoded outcome follows: for a batch ('nitems' >
** 0, a chunk's results one item each) its item offsets, then 'len'
** bytes, with the message's segment descriptors on the header. 'tag' is
** the message's (BRAID_RESULT_ITEMS for such a batch). A big single
** result streams: REPLY_STREAM, with nothing after it but the stream's
** memfd as its descriptor, comes as soon as the encoding passes the
** threshold; the task's own reply follows once the child has written the
** stream: REPLY_STREAMED (nothing after it: the result is the stream) or
** REPLY_EXC (the stream failed, a value found unsendable late: its error,
** as an unstreamed result's). A stream's memfd, and a payload's, must be
** a regular file (a memfd), or the frame is bad. READY / INITFAIL: the child's first reply,
** once its initializer ran. */
enum { BRAID_PF_READY = 1, BRAID_PF_INITFAIL, BRAID_PF_OK, BRAID_PF_EXC,
       BRAID_PF_STREAM, BRAID_PF_STREAMED };

typedef struct braid_pf_reply_hdr {
  uint32_t status;
  uint32_t tag;
  uint32_t nitems;
  uint32_t nfds; /* the descriptors sent with it: as many, or it is bad */
  uint64_t len;
} braid_pf_reply_hdr;

/* Nothing sane is this big; a larger length is a corrupt frame. */
#define BRAID_PF_FRAME_MAX ((uint64_t)1 << 40)
#define BRAID_PF_MAXITEMS ((uint32_t)1 << 28)
/* A length is believed this far ahead of the bytes that came (the fuzz
** build makes it small, so that its inputs reach the growing). */
#ifndef BRAID_PF_EAGER
#define BRAID_PF_EAGER ((size_t)16 << 20)
#endif

/* Where a reader reads: the socket 'fd', and 'wait' (NULL: reads block):
** called when the peer has begun a frame and the rest has not come yet,
** returns BRAID_OK once 'fd' is readable, or an error to give the frame
** up (the proxy's: its child died, its pool stops, or the child stalled
** mid-frame past a bound). Reads do not block with a 'wait'. */
typedef struct braid_pf_in {
  int fd;
  int (*wait)(void *ud);
  void *ud;
} braid_pf_in;

/* sendmsg of all of 'iov' (no SIGPIPE), with the 'nfds' descriptors
** 'fds' on its first bytes. BRAID_OK, BRAID_ECLOSED, BRAID_EOS. */
BRAIDI_FUNC int braid__pf_send(int fd, struct iovec *iov, int n,
                               const int *fds, int nfds);

/* A reply: 'status', and the message 'm' (NULL: none) with its items'
** offsets and its segment descriptors. */
BRAIDI_FUNC int braid__pf_send_reply(int fd, uint32_t status,
                                     const braid_msg *m);

/* Reads a header of 'size' bytes and the descriptors sent on its first
** bytes (at most BRAID_SEG_MAX, into 'fds', close-on-exec, the caller's
** also on an error). '*got': the bytes read (0 with BRAID_ECLOSED: a
** clean end between frames). BRAID_OK, BRAID_ECLOSED, BRAID_EOS. */
BRAIDI_FUNC int braid__pf_read_hdr(const braid_pf_in *in, void *r, size_t size, int *fds,
                                   int *nfds, size_t *got);

/* Reads a message of 'len' bytes (none for 0 with 'nitems' 0: '*out'
** NULL), a batch of 'nitems' items cut at 'origin' when 'nitems' > 0
** (their offsets come first; the decoder checks them). BRAID_EINVAL for
** lengths past the limits above. */
BRAIDI_FUNC int braid__pf_read_msg(const braid_pf_in *in, uint64_t len, uint32_t nitems,
                                   uint32_t origin, braid_msg **out);

/* What the child reads of one work frame. */
typedef struct braid_pf_work {
  braid_pf_hdr h;
  braid_msg *fn;    /* h.fnlen > 0: the new function's message */
  braid_msg *calls; /* h.calllen > 0: a map call's values (origin set) */
  /* a call's arguments (NULL: none) or a chunk's items (h.nitems of
  ** them); a streamed payload holds its memfd as its one segment */
  braid_msg *payload;
} braid_pf_work;

/* The child reads a work frame: BRAID_OK with 'w' filled (its messages
** the caller's); BRAID_ECLOSED for F_EXIT or an end of file between
** frames; else an error (BRAID_EINVAL: a frame that breaks the rules) and
** nothing held. */
BRAIDI_FUNC int braid__pf_read_work(const braid_pf_in *in,
                                    braid_pf_work *w);
/* Frees what 'w' holds. */
BRAIDI_FUNC void braid__pf_work_free(braid_pf_work *w);

/* What the proxy reads of one reply. */
enum { BRAID_PF_R_OUTCOME, BRAID_PF_R_STREAM };

typedef struct braid_pf_reply {
  int ok;       /* R_OUTCOME: REPLY_OK or REPLY_STREAMED, not REPLY_EXC */
  int sfd;      /* R_STREAM: the stream's memfd (the caller's) */
  braid_msg *m; /* R_OUTCOME: the outcome (NULL after REPLY_STREAMED) */
} braid_pf_reply;

/* The proxy reads the reply to its oldest work ('items': its chunk's
** item count, 0 for a call; 'streaming': its stream entry came, so only
** REPLY_STREAMED or REPLY_EXC may follow). BRAID_PF_R_OUTCOME or
** BRAID_PF_R_STREAM with 'r' filled, or a negative error code (the child
** broke the rules, or its socket ended) with nothing held. */
BRAIDI_FUNC int braid__pf_read_reply(const braid_pf_in *in, uint32_t items, int streaming,
                                     braid_pf_reply *r);

/* The proxy reads the child's first reply: BRAID_OK for READY, else an
** error (INITFAIL, anything else, an end of file); nothing held. */
BRAIDI_FUNC int braid__pf_read_ready(const braid_pf_in *in);

#endif

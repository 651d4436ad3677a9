/*
** mpqueue.h: multiprocessing.Queue / JoinableQueue / SimpleQueue: a byte
** ring in shared memory (memfd, MAP_SHARED) carrying encoded messages,
** guarded by a process-shared robust mutex.
** See LICENSE for copyright and license.
**
** A message larger than the ring streams through it: the writer blocks
** while readers drain (one writer and one reader at a time stream; the
** others wait). A process killed in the middle of a message leaves the
** queue unusable, as a Python Queue whose feeder dies mid-write is.
*/
#ifndef BRAID_MPQUEUE_H
#define BRAID_MPQUEUE_H

#include "braidint.h"
#include "handle.h"
#include "memseg.h"

typedef struct braid_mpq_shm braid_mpq_shm;

/* Out-of-line segments (memseg.h): a message's segment descriptors travel
** on a datagram socket pair shared by every process of the queue, one
** datagram per message that has any, sent by the writer and received by
** the reader while each holds the ring's mutex at that message's header,
** so the datagrams stay in the ring's order. A message's header says how
** many it carries. Descriptors of messages nobody will read stay in the
** socket's queue, which the kernel frees when the last process holding
** the queue closes it. */
typedef struct braid_mpq {
  braid_handle h;
  int fd;
  size_t size;
  braid_mpq_shm *s;
  int sk[2]; /* [0] writers send, [1] readers receive; -1: no segments */
} braid_mpq;

BRAIDI_FUNC const braid_handle_type braid__mpq_type; /* "braid.mp.Queue" */

/* 'maxsize' <= 0: unbounded (items); 'ringsize' bytes of buffer. */
BRAIDI_FUNC int braid__mpq_new(braid_mpq **out, int64_t maxsize,
                               size_t ringsize);
/* 'sk0', 'sk1': the segment sockets (taken: closed with the queue, also
** on failure), or -1 for none. */
BRAIDI_FUNC int braid__mpq_attach(braid_mpq **out, int fd, size_t size,
                                  int sk0, int sk1);
/* BRAID_OK or BRAID_ETIMEDOUT (full). With 'nsegs' > 0 segment
** descriptors (the caller keeps its own: close them after), BRAID_EAGAIN
** when they cannot be handed over now (the socket's buffer is full, or
** the user's limit of descriptors in flight is reached): nothing was
** put, send the message again without segments. */
BRAIDI_FUNC int braid__mpq_put(braid_mpq *q, const void *p, size_t len,
                               const int *segs, int nsegs, int blocking,
                               double timeout);
/* BRAID_OK with '*out' (braid__malloc'ed, '*len' bytes) and its segment
** descriptors in 'segs' ('*nsegs', at most BRAID_SEG_MAX, the caller's
** to close; fewer than its header said only if the other end failed,
** which the decoder then reports), or BRAID_ETIMEDOUT (empty) or
** BRAID_ENOMEM. */
BRAIDI_FUNC int braid__mpq_get(braid_mpq *q, unsigned char **out,
                               size_t *len, int *segs, int *nsegs,
                               int blocking, double timeout);
BRAIDI_FUNC void braid__mpq_info(braid_mpq *q, int64_t *count,
                                 int64_t *maxsize, int64_t *unfinished);
/* Python's maxsize, changed for every process sharing the queue ('maxsize'
** <= 0: unbounded): later puts see it; a larger bound wakes the blocked
** writers to look again, a smaller one makes later puts wait only. */
BRAIDI_FUNC void braid__mpq_set_maxsize(braid_mpq *q, int64_t maxsize);
/* BRAID_OK or BRAID_EINVAL (called too many times). */
BRAIDI_FUNC int braid__mpq_task_done(braid_mpq *q);
BRAIDI_FUNC void braid__mpq_join(braid_mpq *q);

#endif

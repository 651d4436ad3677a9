/*
** stream.h: a message read while it is being written. One thread encodes
** a value into a buffer and publishes how much of it is final; another
** decodes the published bytes meanwhile (a thread being started decodes
** its arguments while the starter still encodes them). Published bytes
** never change and never move: a buffer that grows is copied, and the old
** one is kept ("retired") until both sides let go.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_STREAM_H
#define BRAID_STREAM_H

#include "braidint.h"
#include "handle.h"
#include "os.h"
#include "wire.h"

enum { BRAID_STREAM_OPEN, BRAID_STREAM_DONE, BRAID_STREAM_FAILED };

/* What the reader may read: bytes [base, base + len) and the first
** 'nhandles' handles. */
typedef struct braid_stream_view {
  const unsigned char *base;
  size_t len;
  braid_handle *const *handles;
  size_t nhandles;
  int state;   /* BRAID_STREAM_* */
  int restart; /* DONE: decode 'final' from its start instead */
} braid_stream_view;

typedef struct braid_stream_block {
  void *p;
  size_t cap;      /* as braid__buf_free takes it */
  size_t nrelease; /* handles in 'p' still to release (a handle array) */
} braid_stream_block;

struct braid_stream {
  atomic_int refs;
  braid__mutex mu;
  braid__cond cv;
  braid_stream_view pub; /* guarded by 'mu' */
  int waiting;           /* guarded by 'mu': readers asleep */
  size_t want;           /* guarded by 'mu': the length that wakes them */
  braid_msg *final;      /* set once, with state DONE */
  /* The writer's alone (the reader frees nothing): the blocks the reader
  ** may still be reading, freed with the stream. */
  braid_stream_block *retired;
  size_t nretired, capretired;
  braid_stream_block cur_buf, cur_handles; /* not yet in 'final' */
  /* A stream whose other side is another process (lpstream.c). The
  ** writer's 'sink', when set, is called after every publish, complete
  ** and fail with the view as a local reader would get it (the writer's
  ** thread, outside 'mu'; a stream with a sink has no local reader). The
  ** reader's 'pull', when set, replaces braid__stream_wait's wait: it
  ** fills the view from the other process's publications. */
  void (*sink)(void *ud, const braid_stream_view *v);
  void (*pull)(void *ud, braid_stream *s, size_t want, braid_stream_view *v);
  void *ud;
};

/* A new stream with one reference, or NULL when out of memory. */
BRAIDI_FUNC braid_stream *braid__stream_new(void);
BRAIDI_FUNC braid_stream *braid__stream_retain(braid_stream *s);
/* The last release frees the final message, the retired blocks and what
** a failed writer left. */
BRAIDI_FUNC void braid__stream_release(braid_stream *s);

/* Writer: makes 'len' bytes of 'base' (and 'nhandles' handles) readable. */
BRAIDI_FUNC void braid__stream_publish(braid_stream *s,
                                       const unsigned char *base, size_t len,
                                       braid_handle *const *handles,
                                       size_t nhandles);
/* Writer: keeps block 'b' until the stream is freed. BRAID_ENOMEM. */
BRAIDI_FUNC int braid__stream_retire(braid_stream *s, braid_stream_block b);
/* Writer: the encoding is complete; 'final' (owned by the stream now)
** holds every byte. 'restart': bytes published earlier differ from it
** (see lencode.c), so a reader must decode 'final' from its start. */
BRAIDI_FUNC void braid__stream_complete(braid_stream *s, braid_msg *final,
                                        int restart);
/* Writer: the encoding failed; readers stop. */
BRAIDI_FUNC void braid__stream_fail(braid_stream *s);

/* Reader: waits until at least 'want' bytes are readable or the stream
** has ended, and fills '*v'. */
BRAIDI_FUNC void braid__stream_wait(braid_stream *s, size_t want,
                                    braid_stream_view *v);

/* Thread starts stream their arguments from 'min' encoded bytes on,
** publishing every 'step' bytes. Reads them into '*min'/'*step' and, when
** 'set', first sets them (0 keeps a value). */
BRAIDI_FUNC void braid__stream_limits(size_t *min, size_t *step, int set);

#endif

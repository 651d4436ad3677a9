/*
** qstream.c: a queue item that is a stream (see qstream.h).
** See LICENSE for copyright and license.
*/
#include "qstream.h"

#include "alloc.h"

typedef struct QStream {
  braid_handle h;
  braid_stream *s; /* one reference */
} QStream;

static void qstream_destroy(braid_handle *h) {
  QStream *q = (QStream *)(void *)h;
  braid__stream_release(q->s);
  braid__free(q);
}

/* Never a Lua proxy: readers take the stream out before decoding. */
const braid_handle_type braid__qstream_type = { "braid.QueueStream",
                                                qstream_destroy };


braid_msg *braid__qstream_msg(braid_stream *s) {
  braid_msg *m = braid__msg_new();
  QStream *q;
  if (m == NULL) return NULL;
  q = (QStream *)braid__malloc(sizeof *q);
  m->handles = (braid_handle **)braid__malloc(sizeof(braid_handle *));
  if (q == NULL || m->handles == NULL) {
    braid__free(q);
    braid__msg_free(m); /* frees 'handles' (none counted yet) */
    return NULL;
  }
  braid__handle_init(&q->h, &braid__qstream_type);
  q->s = braid__stream_retain(s);
  m->handles[0] = &q->h;
  m->nhandles = 1;
  /* the bytes of one value naming handle 0: what a reader that missed
  ** braid__qstream_of would see (it raises: no such proxy type) */
  m->data[0] = BRAID_WIRE_VERSION;
  m->data[1] = 1;
  m->data[2] = T_HANDLE;
  m->data[3] = 0;
  m->len = 4;
  return m;
}

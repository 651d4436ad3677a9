/*
** qstream.h: a queue item that is a stream (stream.h). A put of a big
** value to a threading queue (lqstream.c) links this item at the point
** where the encoding passes the streaming threshold, so a waiting get
** decodes the value while the producer still encodes it.
** See LICENSE for copyright and license.
**
** The item is an ordinary message of one value, a T_HANDLE naming a
** handle of type braid__qstream_type that holds one reference to the
** stream: the queue counts, orders (FIFO/LIFO), drops and frees it as any
** item, and freeing it (a queue collected, shut down) releases the stream.
** Readers check braid__qstream_of before decoding a queue item.
*/
#ifndef BRAID_QSTREAM_H
#define BRAID_QSTREAM_H

#include "braidint.h"
#include "handle.h"
#include "stream.h"
#include "wire.h"

BRAIDI_FUNC const braid_handle_type braid__qstream_type; /* "braid.QueueStream" */

/* A new queue item for stream 's' (takes a reference of its own to it),
** or NULL when out of memory. */
BRAIDI_FUNC braid_msg *braid__qstream_msg(braid_stream *s);

/* The stream of queue item 'm' when it is one (the item keeps its
** reference), else NULL. Cheap: a look at the handle count first. */
static inline braid_stream *braid__qstream_of(const braid_msg *m) {
  typedef struct { braid_handle h; braid_stream *s; } QS;
  if (braid__likely(m->nhandles != 1) ||
      m->handles[0]->type != &braid__qstream_type)
    return NULL;
  return ((const QS *)(const void *)m->handles[0])->s;
}

#endif

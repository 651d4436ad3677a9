/*
** wire.c: messages and the write buffer of the transfer format (wire.h):
** allocation and release of messages, growth of the buffer and its handle
** table, the hand-over of blocks to a stream being read while written,
** and the move of a finished buffer into a message. No Lua state: every
** failure is a return code.
** See LICENSE for copyright and license.
*/
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "memseg.h"
#include "stream.h"
#include "wire.h"


/*
** {======================================================
** Messages
** =======================================================
*/

void braid__msg_free(braid_msg *m) {
  size_t i;
  if (m == NULL) return;
  for (i = 0; i < m->nhandles; i++) braid__handle_release(m->handles[i]);
  braid__free(m->handles);
  braid__free(m->offs);
  for (i = 0; i < m->nsegs; i++) {
    if (m->segs[i] >= 0) close(m->segs[i]);
    if (m->segmaps != NULL && m->segmaps[i] != NULL)
      braid__seg_unmap(m->segmaps[i], m->seglens[i]);
  }
  braid__free(m->segs);
  braid__free(m->segmaps);
  braid__free(m->seglens);
  if (m->data != m->inline_data) braid__buf_free(m->data, m->cap);
  braid__free(m);
}


int braid__msg_map_segs(braid_msg *m) {
  uint32_t i;
  if (m->nsegs == 0 || m->segmaps != NULL) return BRAID_OK;
  m->segmaps = (const void **)braid__calloc(m->nsegs, sizeof *m->segmaps);
  m->seglens = (size_t *)braid__calloc(m->nsegs, sizeof *m->seglens);
  if (m->segmaps == NULL || m->seglens == NULL) {
    braid__free(m->segmaps);
    braid__free(m->seglens);
    m->segmaps = NULL;
    m->seglens = NULL;
    return BRAID_ENOMEM;
  }
  for (i = 0; i < m->nsegs; i++) {
    size_t n;
    const void *p;
    if (braid__seg_size(m->segs[i], &n) != 0) return BRAID_EOS;
    if (n == 0) continue; /* nothing to map: the descriptor stays */
    /* a big one stays a descriptor too: its receiver may make the string
    ** of the segment's own pages (segblock.h), which takes a new mapping
    ** of it; a few such results pending hold a few descriptors */
    if (n + BRAID_SEG_CTL >= BRAID_BIG_MIN) continue;
    p = braid__seg_map(m->segs[i], n);
    if (p == NULL) return BRAID_EOS;
    m->segmaps[i] = p;
    m->seglens[i] = n;
    close(m->segs[i]);
    m->segs[i] = -1;
  }
  return BRAID_OK;
}


int braid__msg_take_segs(braid_msg *m, const int *fds, int n) {
  int i, *ns;
  if (n <= 0) return BRAID_OK;
  if (m->segmaps != NULL) { /* mapped already: these stay descriptors */
    for (i = 0; i < n; i++) close(fds[i]);
    return BRAID_ENOMEM;
  }
  ns = (int *)braid__realloc(m->segs, (m->nsegs + (size_t)n) * sizeof(int));
  if (ns == NULL) {
    for (i = 0; i < n; i++) close(fds[i]);
    return BRAID_ENOMEM;
  }
  m->segs = ns;
  memcpy(m->segs + m->nsegs, fds, (size_t)n * sizeof(int));
  m->nsegs += (uint32_t)n;
  return BRAID_OK;
}


void braid__msg_release(braid_msg *m, uint32_t k) {
  if (atomic_fetch_sub_explicit(&m->pending, k, memory_order_acq_rel) == k)
    braid__msg_free(m);
}


braid_msg *braid__msg_new(void) {
  braid_msg *m = (braid_msg *)braid__malloc(sizeof(braid_msg));
  if (m == NULL) return NULL;
  m->next = NULL;
  m->tag = 0;
  m->len = 0;
  m->handles = NULL;
  m->nhandles = 0;
  m->data = m->inline_data;
  m->cap = sizeof m->inline_data;
  m->nitems = 1;
  m->offs = NULL;
  m->origin = 0;
  m->nsegs = 0;
  m->segs = NULL;
  m->segmaps = NULL;
  m->seglens = NULL;
  m->call_lo = m->call_hi = 0;
  m->calluid = 0;
  m->callsrc = NULL;
  atomic_init(&m->pending, 1);
  return m;
}


braid_msg *braid__msg_alloc(size_t len, uint32_t nitems, uint32_t origin) {
  braid_msg *m = braid__msg_new();
  if (m == NULL) return NULL;
  if (len > m->cap) {
    size_t cap;
    m->data = braid__buf_alloc(len, &cap);
    if (m->data == NULL) {
      braid__free(m);
      return NULL;
    }
    m->cap = cap;
  }
  m->len = len;
  if (nitems > 0) {
    m->offs = (uint32_t *)braid__malloc((size_t)nitems * sizeof(uint32_t));
    if (m->offs == NULL) {
      braid__msg_free(m);
      return NULL;
    }
    m->nitems = nitems;
    m->origin = origin;
    atomic_store_explicit(&m->pending, nitems, memory_order_relaxed);
  }
  return m;
}


braid_msg *braid__msg_from_bytes(const void *p, size_t len) {
  braid_msg *m = braid__msg_alloc(len, 0, 0);
  if (m != NULL && len > 0) memcpy(m->data, p, len);
  return m;
}


int braid__msg_is_spare(const braid_msg *m) {
  return m->data == m->inline_data && m->nhandles == 0 && m->offs == NULL &&
         m->nitems == 1;
}


void braid__item_bounds(const braid_msg *m, uint32_t idx, size_t *off,
                        size_t *end) {
  if (m->offs != NULL) {
    *off = m->offs[idx];
    *end = idx + 1 < m->nitems ? m->offs[idx + 1] : m->len;
  } else {
    size_t p = 1;
    while (p < m->len && (m->data[p] & 0x80)) p++; /* the value count */
    *off = p + 1;
    *end = m->len;
  }
}


size_t braid__items_bytes(const braid_item *items, size_t n, size_t cap) {
  size_t i, sum = 0;
  for (i = 0; i < n && sum < cap; i++) {
    size_t off, end;
    braid__item_bounds(items[i].m, items[i].idx, &off, &end);
    if (off <= end) sum += end - off;
  }
  return sum;
}
/* }====================================================== */


/*
** {======================================================
** Write buffer
** =======================================================
*/

static int wbuf_nomem(braid_wbuf *w) {
  if (w->nomem != NULL) w->nomem(w); /* the binding raises */
  w->err = BRAID_ENOMEM;
  return BRAID_ENOMEM;
}


/* Keeps block 'b' of a started stream for its reader. */
static int wbuf_retire(braid_wbuf *w, braid_stream_block b) {
  /* on failure the block is leaked rather than freed under the reader;
  ** unreachable in practice (the list holds a few dozen blocks) */
  if (b.p != NULL && braid__stream_retire(w->stream, b) != BRAID_OK)
    return BRAID_ENOMEM;
  return BRAID_OK;
}


int braid__wbuf_grow(braid_wbuf *w, size_t n) {
  size_t ncap = w->cap ? w->cap : 256;
  unsigned char *nb;
  if (w->err != BRAID_OK) return w->err;
  while (ncap - w->len < n) {
    if (ncap > ((size_t)-1) / 2) return wbuf_nomem(w);
    ncap *= 2;
  }
  if (w->stream != NULL && w->stream->sink != NULL) {
    /* another process reads (from the sink's copies), none here: the
    ** buffer may move */
    nb = braid__buf_grow(w->buf, w->cap, w->len, ncap, &ncap);
    if (nb == NULL) return wbuf_nomem(w);
    w->stream->cur_buf.p = nb;
    w->stream->cur_buf.cap = ncap;
    w->buf = nb;
    w->cap = ncap;
    return BRAID_OK;
  }
  if (w->stream != NULL) { /* the reader may read the old buffer: keep it */
    braid_stream_block old = w->stream->cur_buf;
    nb = braid__buf_alloc(ncap, &ncap);
    if (nb == NULL) return wbuf_nomem(w);
    if (w->len > 0) memcpy(nb, w->buf, w->len);
    w->stream->cur_buf.p = nb;
    w->stream->cur_buf.cap = ncap;
    w->buf = nb; /* the stream owns it already */
    w->cap = ncap;
    if (wbuf_retire(w, old) != BRAID_OK) return wbuf_nomem(w);
    return BRAID_OK;
  } else if (ncap < BRAID_BIG_MIN) {
    nb = (unsigned char *)braid__realloc(w->buf, ncap);
  } else { /* a big block: moved (or copied into one) */
    nb = braid__buf_grow(w->buf, w->cap, w->len, ncap, &ncap);
  }
  if (nb == NULL) return wbuf_nomem(w);
  w->buf = nb;
  w->cap = ncap;
  return BRAID_OK;
}


int braid__wbuf_add_handle(braid_wbuf *w, braid_handle *h) {
  if (w->nhandles == w->caphandles) {
    size_t ncap = w->caphandles ? w->caphandles * 2 : 4;
    braid_handle **nh;
    if (w->stream != NULL) { /* the reader may read the old array: keep it */
      braid_stream_block old = w->stream->cur_handles;
      nh = (braid_handle **)braid__malloc(ncap * sizeof(braid_handle *));
      if (nh == NULL) return BRAID_ENOMEM;
      if (w->nhandles > 0)
        memcpy(nh, w->handles, w->nhandles * sizeof(braid_handle *));
      w->stream->cur_handles.p = nh;
      w->handles = nh;
      w->caphandles = ncap;
      old.nrelease = 0; /* the references moved to the new array */
      if (wbuf_retire(w, old) != BRAID_OK) return BRAID_ENOMEM;
    } else {
      nh = (braid_handle **)braid__realloc(w->handles,
                                           ncap * sizeof(braid_handle *));
      if (nh == NULL) return BRAID_ENOMEM;
      w->handles = nh;
      w->caphandles = ncap;
    }
  }
  w->handles[w->nhandles++] = braid__handle_retain(h);
  if (w->stream != NULL) w->stream->cur_handles.nrelease = w->nhandles;
  return BRAID_OK;
}


void braid__wbuf_reset(braid_wbuf *w) {
  size_t i;
  for (i = 0; i < w->nhandles; i++) /* left by a writer that failed */
    braid__handle_release(w->handles[i]);
  w->nhandles = 0;
  for (i = 0; i < (size_t)w->nsegs; i++) close(w->segs[i]);
  w->nsegs = 0;
  w->len = 0;
  w->err = BRAID_OK;
}


int braid__wbuf_to_msg(braid_wbuf *w, braid_msg **out) {
  braid_msg *m;
  int took = 0; /* the message took the writer's buffer */
  if (w->err != BRAID_OK) return w->err;
  m = braid__msg_new();
  if (m == NULL) return BRAID_ENOMEM;
  if (w->len <= m->cap) {
    if (w->len > 0) memcpy(m->data, w->buf, w->len);
  } else if (w->len >= 4096) {
    /* large: the message takes the writer's buffer instead of a copy */
    m->data = w->buf;
    m->cap = w->cap;
    w->buf = NULL;
    w->cap = 0;
    took = 1;
  } else { /* 4096 > len: malloc'd */
    m->data = (unsigned char *)braid__malloc(w->len);
    if (m->data == NULL) {
      braid__free(m);
      return BRAID_ENOMEM;
    }
    memcpy(m->data, w->buf, w->len);
    m->cap = w->len;
  }
  m->len = w->len;
  if (w->nhandles > 0) {
    m->handles =
        (braid_handle **)braid__malloc(w->nhandles * sizeof(braid_handle *));
    if (m->handles == NULL) {
      if (took) { /* back to the writer, unchanged */
        w->buf = m->data;
        w->cap = m->cap;
      } else if (m->data != m->inline_data) { /* a copy */
        braid__free(m->data);
      }
      braid__free(m);
      return BRAID_ENOMEM;
    }
    memcpy(m->handles, w->handles, w->nhandles * sizeof(braid_handle *));
    m->nhandles = w->nhandles;
    w->nhandles = 0; /* the message owns the references now */
  }
  if (w->nsegs > 0) {
    int rc = braid__msg_take_segs(m, w->segs, w->nsegs);
    w->nsegs = 0; /* the message's now (closed if that failed) */
    if (rc != BRAID_OK) {
      braid__msg_free(m);
      return rc;
    }
  }
  w->len = 0;
  if (w->cap > (1u << 20)) { /* do not keep a huge buffer around */
    braid__buf_free(w->buf, w->cap);
    w->buf = NULL;
    w->cap = 0;
  }
  *out = m;
  return BRAID_OK;
}


void braid__wbuf_free(braid_wbuf *w) {
  size_t i;
  braid__wbuf_stream_detach(w);
  for (i = 0; i < w->nhandles; i++) braid__handle_release(w->handles[i]);
  for (i = 0; i < (size_t)w->nsegs; i++) close(w->segs[i]);
  w->nsegs = 0;
  braid__free(w->handles);
  if (w->buf != NULL) braid__buf_free(w->buf, w->cap);
  w->buf = NULL;
  w->handles = NULL;
  w->len = w->cap = w->nhandles = w->caphandles = 0;
}
/* }====================================================== */


/*
** {======================================================
** Streaming: the buffer's blocks handed to a stream's reader
** =======================================================
*/

void braid__wbuf_stream_attach(braid_wbuf *w, braid_stream *s) {
  s->cur_buf.p = w->buf;
  s->cur_buf.cap = w->cap;
  s->cur_handles.p = w->handles;
  s->cur_handles.nrelease = w->nhandles;
  w->stream = s;
}


void braid__wbuf_stream_detach(braid_wbuf *w) {
  if (w->stream == NULL) return;
  w->stream = NULL;
  w->buf = NULL;
  w->cap = 0;
  w->handles = NULL;
  w->nhandles = w->caphandles = 0;
}


void braid__wbuf_publish(braid_wbuf *w) {
  braid__stream_publish(w->stream, w->buf, w->len, w->handles, w->nhandles);
}


int braid__wbuf_stream_abandon(braid_wbuf *w) {
  braid_stream *s = w->stream;
  int rc = wbuf_retire(w, s->cur_buf);
  s->cur_buf.p = NULL;
  if (rc == BRAID_OK) rc = wbuf_retire(w, s->cur_handles); /* with refs */
  s->cur_handles.p = NULL;
  s->cur_handles.nrelease = 0;
  w->buf = NULL;
  w->cap = 0;
  w->handles = NULL;
  w->nhandles = w->caphandles = 0;
  return rc;
}


int braid__wbuf_stream_finish(braid_wbuf *w, const size_t *late,
                              size_t nlate, int restart) {
  braid_stream *s = w->stream;
  braid_msg *m;
  if (w->err != BRAID_OK) return w->err;
  if (nlate > 0) {
    size_t cap, i;
    unsigned char *nb = braid__buf_alloc(w->len, &cap);
    braid_stream_block old = s->cur_buf;
    if (nb == NULL) return BRAID_ENOMEM;
    memcpy(nb, w->buf, w->len);
    for (i = 0; i < nlate; i++) nb[late[i] + 1] |= F_SHARED;
    s->cur_buf.p = nb;
    s->cur_buf.cap = cap;
    w->buf = nb;
    w->cap = cap;
    if (wbuf_retire(w, old) != BRAID_OK) return BRAID_ENOMEM;
    restart = 1;
  }
  m = braid__msg_new();
  if (m == NULL) return BRAID_ENOMEM;
  m->data = w->buf;
  m->cap = w->cap;
  m->len = w->len;
  m->handles = w->handles;
  m->nhandles = w->nhandles;
  s->cur_buf.p = s->cur_handles.p = NULL; /* the message owns them */
  s->cur_handles.nrelease = 0;
  braid__wbuf_stream_detach(w);
  braid__stream_complete(s, m, restart);
  return BRAID_OK;
}
/* }====================================================== */

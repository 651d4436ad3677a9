/*
** lqstream.c: streamed puts of big values to threading queues (issue 16,
** item 4). A put of a big table encodes with braid__encode_streamed, as a
** thread start does: once the encoding passes the streaming threshold
** (stream.h, 128 KiB) the put links a stream item (qstream.h) into the
** queue and goes on encoding, publishing every 64 KiB; a get that takes
** the item decodes the published bytes meanwhile. So a big item costs
** about the longer of its encode and decode instead of their sum.
**
** Queue semantics stay Python's: the item is linked once, where a put
** links its item (maxsize counts it once, a put waits for room then;
** FIFO/LIFO place it as any item, so an item put after this put returned
** is got after it). A PriorityQueue never streams (its order compares
** complete items). Failure: when the value turns out unsendable after the
** item was linked, the put fails the stream, takes its item back from
** the unfinished count (join() does not wait for it) and raises the
** TypeError naming the path; a get that took the item (or takes it
** later) gets nothing from it and goes on to the next item within its
** timeout. A reader that stops mid-stream, a queue dropped with the item
** in it: the stream's references are released, the writer never waits
** for a reader.
** See LICENSE for copyright and license.
*/
#include "lqstream.h"

#include "lauxlib.h"
#include "lbind.h"
#include "lcodec.h"
#include "qstream.h"
#include "stream.h"
#include "os.h"

/* Sequences at least this long may stream (a shorter table is put as
** usual: the common small put pays one lua_rawlen and nothing else). */
#define BRAID_QSTREAM_MIN_LEN 2048

/* The default streaming threshold (stream.c): below it the specs forced
** small values to stream, and so does this. */
#define QSTREAM_DEFAULT_MIN (128 * 1024)

#define WHYLEN 160

int braidB_qstream_wanted(lua_State *L, braid_queue *q, int idx) {
  size_t min, step;
  if (lua_type(L, idx) != LUA_TTABLE ||
      braid__queue_kind(q) == BRAID_QUEUE_PRIORITY)
    return 0;
  if (lua_rawlen(L, idx) >= BRAID_QSTREAM_MIN_LEN) return 1;
  braid__stream_limits(&min, &step, 0);
  return min < QSTREAM_DEFAULT_MIN;
}


typedef struct QPut {
  braid_queue *q;
  int block;
  double timeout;
  int rc;            /* of linking the item, BRAID_OK once linked */
  int linked;
  braid_stream *s;   /* the put's reference, once streaming */
  char why[WHYLEN];
} QPut;

/* The encoding passed the threshold: link the stream item. On success
** the put takes the encoder's reference to 's' (released when the encode
** returns or raises); on failure it takes nothing (the encoder releases
** it and raises, see enc_publish). */
static int qput_start(void *ud, braid_stream *s) {
  QPut *p = (QPut *)ud;
  size_t put = 0;
  braid_msg *m = braid__qstream_msg(s);
  if (m == NULL) {
    p->rc = BRAID_ENOMEM;
    return BRAID_ENOMEM; /* the encoder keeps its reference and raises */
  }
  p->rc = braid__queue_put(p->q, &m, 1, p->block, p->timeout, &put, p->why,
                           sizeof p->why);
  if (put == 0) braid__msg_free(m); /* drops the item's reference */
  if (p->rc != BRAID_OK) return p->rc; /* as above */
  p->linked = 1;
  p->s = s;
  return BRAID_OK;
}


/* (QPut, value) -> message or nothing (streamed) */
static int qput_encode(lua_State *L) {
  static const char *const roots[] = { "item" };
  QPut *p = (QPut *)lua_touserdata(L, 1);
  braid_msg *m = braid__encode_streamed(L, 2, 1, roots, qput_start, p);
  if (m == NULL) return 0;
  lua_pushlightuserdata(L, m);
  return 1;
}


int braidB_qstream_put(lua_State *L, braid_queue *q, int idx, int block,
                       double timeout) {
  QPut p;
  int status;
  size_t put = 0;
  braid_msg *m;
  p.q = q;
  p.block = block;
  p.timeout = timeout;
  p.rc = BRAID_OK;
  p.linked = 0;
  p.s = NULL;
  p.why[0] = '\0';
  idx = lua_absindex(L, idx);
  if (block && braid__queue_maxsize(q) > 0) braidB_poll(L);
  lua_pushcfunction(L, qput_encode);
  lua_pushlightuserdata(L, &p);
  lua_pushvalue(L, idx);
  status = lua_pcall(L, 2, 1, 0);
  if (p.s != NULL) { /* linked: a reader may hold the stream */
    if (status != LUA_OK) {
      braid__stream_fail(p.s); /* the reader drops the item */
      /* Python never counted it: a join() must not wait for it */
      if (braid__queue_kind(q) != BRAID_QUEUE_SIMPLE)
        (void)braid__queue_task_done(q);
    }
    braid__stream_release(p.s);
  }
  if (status != LUA_OK) {
    if (p.rc != BRAID_OK) { /* linking failed: Full, ShutDown... */
      lua_pop(L, 1);
      return braidB_queue_raise_put(L, p.rc, p.why);
    }
    return lua_error(L);
  }
  if (p.linked) return 0;
  /* under the threshold: an ordinary put */
  m = (braid_msg *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  p.rc = braid__queue_put(q, &m, 1, block, timeout, &put, p.why,
                          sizeof p.why);
  if (put == 0) braid__msg_free(m);
  if (p.rc != BRAID_OK) return braidB_queue_raise_put(L, p.rc, p.why);
  return 0;
}


int braidB_qstream_read(lua_State *L, braid_msg *m) {
  braid_stream *s = braid__stream_retain(braid__qstream_of(m));
  braid__msg_release(m, 1); /* the stream lives on by our reference */
  return braid__decode_stream_owned(L, s) < 0 ? 0 : 1;
}


int braidB_qstream_get(lua_State *L, braid_queue *q, braid_msg *m,
                       int block, double timeout) {
  double end = 0;
  int forever = !block || timeout == BRAID_FOREVER;
  if (!forever) end = braid__now() + timeout;
  for (;;) {
    braid_item it;
    size_t n;
    int rc;
    if (braidB_qstream_read(L, m)) return 1;
    /* its writer failed: the item was never put; take the next one */
    if (!forever) {
      timeout = end - braid__now();
      if (timeout < 0) timeout = 0;
    }
    rc = braid__queue_get(q, &it, 1, &n, block, timeout);
    if (rc != BRAID_OK) return braidB_queue_raise_get(L, rc);
    if (braid__qstream_of(it.m) == NULL)
      return braid__decode_items_with(L, &it, 1, 0, 0, braid__queue_done, q);
    m = it.m;
  }
}


typedef struct Many {
  braid_queue *q;
  braid_item *items;
  size_t n, next;     /* items from 'next' on are still to hand out */
  lua_Integer holes;  /* items whose writer failed */
} Many;

static const char hole_mark = 'h';

void *braidB_qstream_hole(void) { return (void *)&hole_mark; }


/* (Many, table) -> nothing: decodes items[next..n) into the table, item i
** at i + 1 */
static int many_protected(lua_State *L) {
  Many *w = (Many *)lua_touserdata(L, 1);
  while (w->next < w->n) {
    size_t i = w->next, r = 0;
    if (braid__qstream_of(w->items[i].m) != NULL) {
      w->next = i + 1; /* released by the read, raise or not */
      if (!braidB_qstream_read(L, w->items[i].m)) {
        lua_pushlightuserdata(L, braidB_qstream_hole());
        w->holes++;
      }
      lua_rawseti(L, 2, (lua_Integer)i + 1);
      continue;
    }
    while (i + r < w->n && braid__qstream_of(w->items[i + r].m) == NULL) r++;
    w->next = i + r; /* released by the decode, raise or not */
    braid__decode_items_with(L, w->items + i, r, 2, (lua_Integer)i + 1,
                             braid__queue_done, w->q);
  }
  return 0;
}


lua_Integer braidB_qstream_many(lua_State *L, braid_queue *q,
                                braid_item *items, size_t n, int tidx) {
  Many w;
  int status;
  w.q = q;
  w.items = items;
  w.n = n;
  w.next = 0;
  w.holes = 0;
  tidx = lua_absindex(L, tidx);
  if (!lua_checkstack(L, 4)) {
    status = LUA_ERRMEM;
    lua_pushliteral(L, "out of stack space");
  } else {
    lua_pushcfunction(L, many_protected);
    lua_pushlightuserdata(L, &w);
    lua_pushvalue(L, tidx);
    status = lua_pcall(L, 2, 0, 0);
  }
  if (status != LUA_OK) {
    for (; w.next < n; w.next++) braid__msg_release(items[w.next].m, 1);
    return lua_error(L);
  }
  return w.holes;
}

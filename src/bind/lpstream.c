/*
** lpstream.c: big values streamed to another process (issue 16, item 4).
** A put of a big table to an mp.Queue encodes with
** braid__encode_streamed_proc, as a threading Queue's put does
** (lqstream.c): once the encoding passes the streaming threshold (stream.h,
** 128 KiB) the put creates a stream memfd (pstream.h), puts a small entry
** naming it into the ring (its descriptor goes on the queue's datagram
** socket, as a segment's does) and goes on encoding; every publication of
** the encoder (every 64 KiB) is appended to the memfd, and a get that
** took the entry decodes from a mapping of it meanwhile. So the transfer
** costs about the longer of the encode and the decode, with no copy
** through the ring.
**
** Failure: a value found unsendable after the entry was put (or an
** interrupt, or a failed write) fails the stream: the reader's decode
** ends with nothing pushed and its get goes on to the next item within
** its timeout; the put takes its item back from the unfinished count and
** raises. A reader that dies or stops costs the writer nothing (it never
** waits for the reader). A writer that dies: the robust mutex tells the
** reader, which skips the item likewise.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lpstream.h"

#include "lauxlib.h"
#include "lbind.h"
#include "lcodec.h"
#include "intr.h"
#include "pstream.h"
#include "stream.h"

/* As lqstream.c: sequences at least this long may stream; the default
** threshold below which the specs forced small values to stream. */
#define PSTREAM_MIN_LEN 2048
#define PSTREAM_DEFAULT_MIN (128 * 1024)


int braidB_pstream_wanted(lua_State *L, int idx) {
  size_t min, step;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  if (lua_rawlen(L, idx) >= PSTREAM_MIN_LEN) return 1;
  braid__stream_limits(&min, &step, 0);
  return min < PSTREAM_DEFAULT_MIN;
}


/* {====================== writer ====================== */

typedef struct PsPut {
  const braidB_pstarget *t;
  int n;                     /* values encoded as one message */
  const char *const *roots;  /* their names in errors */
  int rc;             /* of putting the entry */
  braid_pstream_w *w; /* once the entry is in the ring */
  braid_stream *s;    /* the encoder's reference, once streaming */
  int err;            /* errno of a failed publication (EINTR: interrupt) */
} PsPut;


/* The encoder published (or completed, or failed): append to the memfd. */
static void ps_sink(void *ud, const braid_stream_view *v) {
  PsPut *p = (PsPut *)ud;
  if (p->err != 0) return;
  if (v->state == BRAID_STREAM_OPEN) {
    if (braid__intr_stop()) { /* Ctrl-C: stop at once, deliver nothing */
      p->err = EINTR;
      braid__pstream_fail(p->w);
    } else if (braid__pstream_write(p->w, v->base, v->len) != 0) {
      p->err = errno ? errno : EIO;
    }
  } else if (v->state == BRAID_STREAM_DONE) {
    if (braid__pstream_done(p->w, v->base, v->len, v->restart) != 0)
      p->err = errno ? errno : EIO;
  }
}


/* The encoding passed the threshold: put the stream's entry. */
static int ps_start(void *ud, braid_stream *s) {
  PsPut *p = (PsPut *)ud;
  int fd, rc;
  if (braid__pstream_new(&p->w, &fd) != 0) return BRAID_EAGAIN; /* plain */
  rc = p->t->entry(p->t->ud, fd);
  close(fd); /* the reader has its own */
  if (rc != BRAID_OK) {
    braid__pstream_end(p->w);
    p->w = NULL;
    if (rc == BRAID_EAGAIN) return BRAID_EAGAIN; /* no room for the fd */
    p->rc = rc;
    return rc; /* the encoder raises; the caller raises for 'rc' */
  }
  s->sink = ps_sink;
  s->ud = p;
  p->s = s;
  return BRAID_OK;
}


/* (PsPut, values...) -> message or nothing (streamed) */
static int ps_encode(lua_State *L) {
  PsPut *p = (PsPut *)lua_touserdata(L, 1);
  braid_msg *m;
  m = braid__encode_streamed_proc(L, 2, p->n, p->roots, BRAID_ENC_PIPE,
                                  ps_start, p);
  if (m == NULL) return 0;
  lua_pushlightuserdata(L, m);
  return 1;
}


braid_msg *braidB_put_streamed(lua_State *L, int idx,
                               const braidB_pstarget *t, int *entry_rc) {
  return braidB_put_streamed_n(L, idx, 1, NULL, t, entry_rc);
}


braid_msg *braidB_put_streamed_n(lua_State *L, int idx, int n,
                                 const char *const *roots,
                                 const braidB_pstarget *t, int *entry_rc) {
  PsPut p;
  int status, err, i;
  braid_msg *m;
  memset(&p, 0, sizeof p);
  p.t = t;
  p.n = n;
  p.rc = BRAID_OK;
  *entry_rc = BRAID_OK;
  idx = lua_absindex(L, idx);
  if (roots == NULL) { /* every value named by t->root, as one message's */
    const char **r = (const char **)lua_newuserdatauv(
        L, (size_t)n * sizeof *r, 0);
    for (i = 0; i < n; i++) r[i] = t->root != NULL ? t->root : "obj";
    roots = r; /* kept on the stack until the encode is over */
  } else {
    lua_pushnil(L); /* the same stack either way */
  }
  p.roots = roots;
  luaL_checkstack(L, n + 2, "too many values");
  lua_pushcfunction(L, ps_encode);
  lua_pushlightuserdata(L, &p);
  for (i = 0; i < n; i++) lua_pushvalue(L, idx + i);
  status = lua_pcall(L, n + 1, 1, 0);
  lua_remove(L, -2); /* the roots' box */
  if (p.s != NULL) {
    if (status != LUA_OK) braid__stream_fail(p.s);
    braid__stream_release(p.s);
  }
  err = p.err;
  if (p.w != NULL) {
    if (status != LUA_OK || err != 0) {
      braid__pstream_fail(p.w);
      if (t->failed != NULL) t->failed(t->ud); /* never put */
    }
    braid__pstream_end(p.w); /* the reader keeps the memfd */
  }
  if (status != LUA_OK) {
    if (p.rc != BRAID_OK) { /* putting the entry failed */
      lua_pop(L, 1);
      *entry_rc = p.rc;
      return NULL;
    }
    lua_error(L);
  }
  if (p.w != NULL) {
    if (err == EINTR) braidB_raise_interrupt(L);
    if (err != 0) braidB_oserror(L, err, "cannot stream an item");
    lua_pop(L, 1);
    return NULL;
  }
  /* under the threshold (or no stream could be made): the whole message */
  m = (braid_msg *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return m;
}


braid_msg *braidB_pstream_mark(int fd, uint32_t nitems) {
  braid_msg *m = nitems > 0
                     ? braid__msg_alloc(BRAID_PSTREAM_MARKLEN, nitems, 0)
                     : braid__msg_from_bytes(BRAID_PSTREAM_MARK,
                                             BRAID_PSTREAM_MARKLEN);
  uint32_t i;
  if (m == NULL) {
    close(fd);
    return NULL;
  }
  if (nitems > 0) { /* item 0 is the mark, the others empty after it */
    memcpy(m->data, BRAID_PSTREAM_MARK, BRAID_PSTREAM_MARKLEN);
    m->offs[0] = 0;
    for (i = 1; i < nitems; i++) m->offs[i] = BRAID_PSTREAM_MARKLEN;
  }
  if (braid__msg_take_segs(m, &fd, 1) != BRAID_OK) { /* it closed 'fd' */
    braid__msg_free(m);
    return NULL;
  }
  return m;
}


typedef struct MpqTarget {
  braid_mpq *q;
  int block;
  double timeout;
} MpqTarget;

static int mpq_entry(void *ud, int fd) {
  MpqTarget *t = (MpqTarget *)ud;
  return braid__mpq_put(t->q, BRAID_PSTREAM_MARK, BRAID_PSTREAM_MARKLEN, &fd,
                        1, t->block, t->timeout);
}

static void mpq_failed(void *ud) {
  /* join() must not wait for an item never put */
  (void)braid__mpq_task_done(((MpqTarget *)ud)->q);
}


void braidB_mpq_put_streamed(lua_State *L, braid_mpq *q, int idx, int block,
                             double timeout) {
  MpqTarget mt;
  braidB_pstarget t;
  braid_msg *m;
  int rc;
  mt.q = q;
  mt.block = block;
  mt.timeout = timeout;
  t.entry = mpq_entry;
  t.failed = mpq_failed;
  t.ud = &mt;
  t.root = NULL;
  m = braidB_put_streamed(L, idx, &t, &rc);
  if (m != NULL) {
    rc = braid__mpq_put(q, m->data, m->len, NULL, 0, block, timeout);
    braid__msg_free(m);
  }
  if (rc == BRAID_ETIMEDOUT) braidB_raise(L, "queue.Full", "");
  if (rc != BRAID_OK) braidB_raisecode(L, rc, "cannot put a stream");
}
/* }==================================================== */


/* {====================== reader ====================== */

typedef struct PsRead {
  braid_pstream_r r;
  int err; /* why the stream ended early */
} PsRead;


static void ps_pull(void *ud, braid_stream *s, size_t want,
                    braid_stream_view *v) {
  PsRead *p = (PsRead *)ud;
  braid_pstream_view pv;
  size_t min, step;
  braid__stream_limits(&min, &step, 0);
  memset(v, 0, sizeof *v);
  if (p->err != 0 ||
      braid__pstream_wait(&p->r, want, 4 * step, &pv) != 0) {
    if (p->err == 0) p->err = errno ? errno : EIO;
    v->state = BRAID_STREAM_FAILED;
    return;
  }
  v->base = pv.base;
  v->len = pv.len;
  v->state = pv.state == BRAID_PSTREAM_DONE ? BRAID_STREAM_DONE
                                             : BRAID_STREAM_OPEN;
  v->restart = pv.restart;
  if (pv.restart && s->final == NULL &&
      (s->final = braid__msg_from_bytes(pv.base, pv.len)) == NULL) {
    p->err = ENOMEM;
    v->state = BRAID_STREAM_FAILED;
  }
}


/* (PsRead) -> the stream's value, or nothing (failed) */
static int ps_decode(lua_State *L) {
  PsRead *p = (PsRead *)lua_touserdata(L, 1);
  braid_stream *s = braid__stream_new();
  int n;
  if (s == NULL) return braidB_nomem(L);
  s->pull = ps_pull;
  s->ud = p;
  lua_settop(L, 0);
  n = braid__decode_stream_owned(L, s);
  return n < 0 ? 0 : n;
}


int braidB_pstream_read(lua_State *L, int fd) {
  return braidB_pstream_read_until(L, fd, NULL);
}


int braidB_pstream_read_until(lua_State *L, int fd,
                              const braid__deadline *until) {
  PsRead p;
  int status, top = lua_gettop(L), err;
  memset(&p, 0, sizeof p);
  if (braid__pstream_open(&p.r, fd) != 0) {
    err = errno;
    close(fd);
    if (err == EINVAL)
      return braidB_raise(L, "ValueError", "corrupt transfer data");
    return braidB_oserror(L, err, "cannot map a stream");
  }
  p.r.until = until;
  /* what a stream builds (a big table by construction) goes to a pool on
  ** huge pages, not through malloc's heap (ladopt.c) */
  (void)braidB_adopt_pool(L);
  lua_pushcfunction(L, ps_decode);
  lua_pushlightuserdata(L, &p);
  status = lua_pcall(L, 1, LUA_MULTRET, 0);
  braid__pstream_close(&p.r);
  close(fd);
  if (status != LUA_OK) return lua_error(L);
  if (lua_gettop(L) > top) return lua_gettop(L) - top;
  switch (p.err) {
    case EIO:
    case EPIPE: return 0; /* the writer failed or died: never put */
    case ETIMEDOUT: return -1; /* 'until' passed: read it again later */
    case EINTR: return braidB_raise_interrupt(L);
    case EINVAL: return braidB_raise(L, "ValueError", "corrupt transfer data");
    case ENOMEM: return braidB_nomem(L);
    default: return braidB_oserror(L, p.err, "cannot read a stream");
  }
}


int braidB_pstream_msg(lua_State *L, const braid_msg *m) {
  /* the message keeps its descriptor: a result may be read again */
  int fd = fcntl(m->segs[0], F_DUPFD_CLOEXEC, 0), n;
  if (fd < 0) return braidB_oserror(L, errno, "cannot read a stream");
  n = braidB_pstream_read(L, fd);
  if (n > 0) return n;
  /* such a message is a result only once its writer said it is whole */
  return braidB_raise(L, "ValueError", "a stream never completed");
}
/* }==================================================== */


int braidB_pstream_delay(lua_State *L) {
  double old;
  if (lua_isnoneornil(L, 1)) old = braid__pstream_delay(0, 0);
  else old = braid__pstream_delay(1, luaL_checknumber(L, 1));
  lua_pushnumber(L, old);
  return 1;
}


int braidB_pstream_counts(lua_State *L) {
  long w, r;
  braid__pstream_counts(&w, &r);
  lua_pushinteger(L, (lua_Integer)w);
  lua_pushinteger(L, (lua_Integer)r);
  return 2;
}

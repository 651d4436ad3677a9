/*
** lmpqueue.c: Lua binding of multiprocessing.Queue, a ring of encoded
** messages in shared memory (mpqueue.h) that reaches child processes by
** inheritance or sent (__braidexport, see ltravel.c).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "lbind.h"
#include "lprocess.h"
#include "lpstream.h"
#include "mpqueue.h"
#include "lcodec.h"
#include "segfill.h"


/*
** {======================================================
** Queue (shared-memory ring)
** =======================================================
*/

static braid_mpq *checkmpq(lua_State *L, int idx) {
  return (braid_mpq *)braidB_checkhandle(L, idx, &braid__mpq_type);
}


/* core.mp_Queue([maxsize], [ringbytes]) */
static int core_mp_queue(lua_State *L) {
  lua_Integer maxsize = braidB_optinteger(L, 1, 0);
  lua_Integer ring = braidB_optinteger(L, 2, 1 << 20);
  braid_mpq *q;
  int rc;
  if (ring < 64 || ring > ((lua_Integer)1 << 40))
    return braidB_argerror(L, 2, "ValueError", "bad ring size");
  rc = braid__mpq_new(&q, maxsize, (size_t)ring);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno))
    rc = braid__mpq_new(&q, maxsize, (size_t)ring);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, "cannot create a queue");
  braidB_pushnewhandle(L, &q->h);
  return 1;
}


/* One of the queue's segment sockets (argument 'idx': nil when it has
** none): a descriptor this queue object will own, or -1. */
static int attach_sock(lua_State *L, int idx) {
  int fd, d;
  if (lua_isnoneornil(L, idx)) return -1;
  if (braidB_attach_fd(L, idx, "Queue", &fd)) { /* cannot be: never kept */
    lua_pop(L, 1);
    return -1;
  }
  if (!lua_isinteger(L, idx)) return fd; /* redeemed: ours */
  d = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* inherited: the child's number */
  return d; /* -1: the queue works without segments */
}


static int core_mpq_attach(lua_State *L) {
  braid_mpq *q;
  size_t size = (size_t)braidB_checkinteger(L, 2);
  int fd, rc, sk0, sk1;
  if (braidB_attach_fd(L, 1, "Queue", &fd)) {
    /* received before: redeem the sockets' tickets of this send too, so
    ** that the sender's duplicates close */
    int top = lua_gettop(L), s0 = attach_sock(L, 3), s1 = attach_sock(L, 4);
    if (s0 >= 0) close(s0);
    if (s1 >= 0) close(s1);
    lua_settop(L, top);
    return 1;
  }
  sk0 = attach_sock(L, 3);
  sk1 = attach_sock(L, 4);
  if (sk0 < 0 || sk1 < 0) { /* both or none */
    if (sk0 >= 0) close(sk0);
    if (sk1 >= 0) close(sk1);
    sk0 = sk1 = -1;
  }
  rc = braid__mpq_attach(&q, fd, size, sk0, sk1);
  if (rc != BRAID_OK) {
    braidB_attach_drop(L, 1, fd);
    return braidB_oserror(L, errno, "cannot map a queue");
  }
  braidB_pushnewhandle(L, &q->h);
  braidB_attach_done(L, 1, fd);
  return 1;
}


static int mpq_export(lua_State *L) {
  braid_mpq *q = checkmpq(L, 1);
  if (q->fd < 0)
    return braidB_raise(L, "OSError", "this system has no memfd");
  lua_pushcfunction(L, core_mpq_attach);
  braidB_export_fd(L, q->fd, "Queue");
  lua_pushinteger(L, (lua_Integer)q->size);
  if (q->sk[0] < 0) return 3;
  braidB_export_fd(L, q->sk[0], "Queue");
  braidB_export_fd(L, q->sk[1], "Queue");
  return 5;
}


/* q:put(obj, [block=true], [timeout]) */
static int mpq_put(lua_State *L) {
  static const char *const roots[] = { "obj" };
  braid_mpq *q = checkmpq(L, 1);
  int blocking = braidB_optboolean(L, 3, 1);
  double t = braidB_waittimeout(L, 4);
  braid_msg *m;
  int rc;
  luaL_checkany(L, 2);
  if (q->sk[0] >= 0 && braidB_pstream_wanted(L, 2)) { /* lpstream.c */
    braidB_mpq_put_streamed(L, q, 2, blocking, t);
    braidB_poll(L);
    return 0;
  }
  m = braid__encode_proc(L, 2, 1, roots,
                         BRAID_ENC_PIPE |
                         (q->sk[0] >= 0 ? BRAID_ENC_SEGS | BRAID_ENC_LATE : 0));
  rc = braid__mpq_put(q, m->data, m->len, m->segs, (int)m->nsegs, blocking, t);
  braid__msg_free(m); /* the reader has its own descriptors */
  /* Big segments are filled here, inside put, after the item is in the
  ** queue: a reader copies them out meanwhile. put returns once they are
  ** full (the object is on our stack until then). */
  if (rc != BRAID_OK) braid__seg_late_abandon();
  else if (braid__seg_late_fill() != 0)
    return braidB_oserror(L, errno, "cannot fill a segment");
  if (rc == BRAID_EAGAIN) { /* the segments could not be handed over */
    m = braid__encode_proc(L, 2, 1, roots, BRAID_ENC_PIPE);
    rc = braid__mpq_put(q, m->data, m->len, NULL, 0, blocking, t);
    braid__msg_free(m);
  }
  braidB_poll(L);
  if (rc == BRAID_ETIMEDOUT) return braidB_raise(L, "queue.Full", "");
  return 0;
}


/* q:get([block=true], [timeout]) -> obj */
static int mpq_get(lua_State *L) {
  braid_mpq *q = checkmpq(L, 1);
  int blocking = braidB_optboolean(L, 2, 1);
  double t = braidB_waittimeout(L, 3);
  unsigned char *p;
  size_t len;
  braid_msg *m;
  int rc, segs[BRAID_SEG_MAX], nsegs;
  /* a get() without a timeout (the common one) reads no clock */
  int timed = blocking && t != BRAID_FOREVER;
  double end = timed ? braid__now() + t : 0;
  braidB_poll(L);
  for (;;) {
    rc = braid__mpq_get(q, &p, &len, segs, &nsegs, blocking, t);
    if (rc == BRAID_ETIMEDOUT) return braidB_raise(L, "queue.Empty", "");
    if (rc != BRAID_OK) return braidB_nomem(L);
    if (!braid__pstream_is_mark(p, len, nsegs)) break;
    braid__free(p);
    lua_settop(L, 0);
    if (braidB_pstream_read(L, segs[0])) return 1;
    /* its writer failed: the item was never put; take the next one */
    if (timed) {
      t = end - braid__now();
      if (t < 0) t = 0;
    }
  }
  m = braid__msg_from_bytes(p, len);
  braid__free(p);
  if (m == NULL || braid__msg_take_segs(m, segs, nsegs) != BRAID_OK) {
    if (m == NULL)
      while (nsegs > 0) close(segs[--nsegs]);
    braid__msg_free(m);
    return braidB_nomem(L);
  }
  lua_settop(L, 0);
  return braid__decode_owned(L, m);
}


static int mpq_qsize(lua_State *L) {
  int64_t n, max, unf;
  braid__mpq_info(checkmpq(L, 1), &n, &max, &unf);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


static int mpq_empty(lua_State *L) {
  int64_t n, max, unf;
  braid__mpq_info(checkmpq(L, 1), &n, &max, &unf);
  lua_pushboolean(L, n == 0);
  return 1;
}


static int mpq_full(lua_State *L) {
  int64_t n, max, unf;
  braid__mpq_info(checkmpq(L, 1), &n, &max, &unf);
  lua_pushboolean(L, max > 0 && n >= max);
  return 1;
}


/* q:maxsize([n]) -> the bound (0: unbounded); with 'n', sets it first
** (the Lua layer's q.maxsize field). */
static int mpq_maxsize(lua_State *L) {
  braid_mpq *q = checkmpq(L, 1);
  int64_t n, max, unf;
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer v;
    if (!lua_isinteger(L, 2) && !(lua_type(L, 2) == LUA_TNUMBER &&
                                  lua_tointeger(L, 2) == lua_tonumber(L, 2)))
      return braidB_raise(L, "TypeError", "maxsize must be an integer, not %s",
                          luaL_typename(L, 2));
    v = lua_tointeger(L, 2);
    braid__mpq_set_maxsize(q, (int64_t)v);
  }
  braid__mpq_info(q, &n, &max, &unf);
  lua_pushinteger(L, (lua_Integer)max);
  return 1;
}


static int mpq_task_done(lua_State *L) {
  if (braid__mpq_task_done(checkmpq(L, 1)) != BRAID_OK)
    return braidB_raise(L, "ValueError", "task_done() called too many times");
  return 0;
}


static int mpq_join(lua_State *L) {
  braid_mpq *q = checkmpq(L, 1);
  braidB_poll(L);
  braid__mpq_join(q);
  return 0;
}


static const luaL_Reg mpq_methods[] = {
  { "put", mpq_put },
  { "get", mpq_get },
  { "qsize", mpq_qsize },
  { "empty", mpq_empty },
  { "full", mpq_full },
  { "maxsize", mpq_maxsize },
  { "task_done", mpq_task_done },
  { "join", mpq_join },
  { NULL, NULL },
};

static const luaL_Reg mpq_meta[] = {
  { "__braidexport", mpq_export },
  { NULL, NULL },
};
/* }====================================================== */


const braidB_Class braidB_mpq_classes[] = {
  { &braid__mpq_type, mpq_methods, mpq_meta },
  { NULL, NULL, NULL },
};


static const luaL_Reg mpq_funcs[] = {
  { "mp_Queue", core_mp_queue },
  { "_mpq_attach", core_mpq_attach },
  { "_pstream_delay", braidB_pstream_delay },
  { "_pstream_counts", braidB_pstream_counts },
  { "_alloc_kind", braidB_alloc_kind },
  { "_huge_pages", braidB_huge_pages_hook },
  { "_pool_stats", braidB_pool_stats_hook },
  { "_fork_window", braidB_fork_window_hook },
  { NULL, NULL },
};


void braidB_open_mpqueue(lua_State *L) {
  luaL_setfuncs(L, mpq_funcs, 0);
}

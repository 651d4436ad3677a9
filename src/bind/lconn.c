/*
** lconn.c: multiprocessing's Connection (Pipe, Listener, Client): a
** stream socket carrying frames in Python's format (src/core/frame.h),
** objects by value transfer (braid's format, not pickle).
** See LICENSE for copyright and license.
**
** A Connection is a shared handle owning its descriptor: closed by
** close(), or when the last reference (any state) goes, so a dropped
** Connection gives its descriptor back at collection.
*/
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "lbind.h"
#include "lpstream.h"
#include "lconn.h"
#include "os.h"
#include "process.h"
#include "queue.h"
#include "lcodec.h"
#include "segfill.h"
#include "shm.h"


/*
** {======================================================
** Connection (Pipe)
** =======================================================
*/

typedef struct Conn {
  braid_handle h;
  atomic_int fd; /* -1 once closed */
  int readable, writable;
  int allow_code;   /* recv may load functions (see lconn.h) */
  /* Both ends are braid's (a Pipe, and what it was sent as): big strings
  ** and buffers go out of line, a memfd handed over with the frame
  ** (frame.h's descriptors, memseg.h). Never on Listener/Client
  ** connections, whose peer may be Python. */
  int segs;
  uint64_t maxsize; /* largest message recv takes (BRAIDB_NOMAX: any) */
  /* 1 when the last message waited for came later than BRAID_SPIN_NS
  ** after the read began: the next read does not spin (a peer that answers
  ** slowly, e.g. a manager's queue get that waits for a put, would only
  ** have the spin take a core from the processes doing the work); set
  ** back to 0 by the first message that comes within the spin time.
  ** Relaxed: a hint shared by the threads that read this connection. */
  atomic_int nospin;
  /* After a non-blocking try of a read that found nothing, the reads
  ** left before the next try when they do not spin (BRAID_CONN_RETRY;
  ** relaxed, a hint as 'nospin'). */
  atomic_int waited;
  /* The read-ahead buffer (frame.h), made when 'readahead' is first set
  ** or bytes read ahead arrive with the connection; freed with it. */
  _Atomic(braid_rbuf *) rb;
} Conn;

/* Reads without a try after one that found nothing (then one tries
** again: a connection whose data is there when it reads, a server's
** after its poll, goes back to trying first). */
#define BRAID_CONN_RETRY 16

static void conn_destroy(braid_handle *h) {
  Conn *c = (Conn *)h;
  int fd = atomic_load(&c->fd);
  braid_rbuf *rb = atomic_load(&c->rb);
  if (fd >= 0) close(fd);
  if (rb != NULL) braid__rbuf_drop_fds(rb);
  braid__free(rb);
  braid__free(c);
}

static const braid_handle_type conn_type = { "braid.Connection",
                                             conn_destroy };


/* Pushes a new Connection owning 'fd'. Out of memory, closes 'fd' and
** 'other' (the pair's second end not yet owned, or -1) and raises. */
void braidB_pushconn(lua_State *L, int fd, int r, int w, int other,
                     int allow_code, uint64_t maxsize) {
  Conn *c = (Conn *)braid__calloc(1, sizeof *c);
  if (c == NULL) {
    close(fd);
    if (other >= 0) close(other);
    braidB_nomem(L);
  }
  atomic_init(&c->fd, fd);
  atomic_init(&c->nospin, 0);
  atomic_init(&c->waited, 0);
  atomic_init(&c->rb, NULL);
  c->readable = r;
  c->writable = w;
  c->allow_code = allow_code;
  c->maxsize = maxsize;
  braid__handle_init(&c->h, &conn_type);
  braidB_pushnewhandle(L, &c->h);
}


static Conn *toconn(lua_State *L, int idx) {
  return (Conn *)braidB_checkhandle(L, idx, &conn_type);
}


/* The connection's read-ahead buffer, made on first use (NULL: out of
** memory). Two threads making it at once keep the first one's. */
static braid_rbuf *getrb(Conn *c) {
  braid_rbuf *rb = atomic_load(&c->rb), *none = NULL;
  if (rb != NULL) return rb;
  rb = (braid_rbuf *)braid__calloc(1, sizeof *rb);
  if (rb == NULL) return NULL;
  if (!atomic_compare_exchange_strong(&c->rb, &none, rb)) {
    braid__free(rb);
    rb = none;
  }
  return rb;
}


/* Bytes read ahead and not yet taken (0 without a buffer). */
static size_t buffered(Conn *c) {
  braid_rbuf *rb = atomic_load(&c->rb);
  return rb ? braid__rbuf_avail(rb) : 0;
}


static int connfd(lua_State *L, Conn *c, int want) {
  int fd = atomic_load(&c->fd);
  if (fd < 0) braidB_raise(L, "OSError", "handle is closed");
  if (want == 'r' && !c->readable)
    braidB_raise(L, "OSError", "connection is write-only");
  if (want == 'w' && !c->writable)
    braidB_raise(L, "OSError", "connection is read-only");
  return fd;
}


/* core.Pipe(duplex) -> conn1, conn2 (conn1 reads, conn2 writes when not
** duplex). Always a socket pair: no SIGPIPE, and poll sees end of file. */
static int core_pipe(lua_State *L) {
  int duplex = braidB_optboolean(L, 1, 1);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 &&
      (!braidB_fdgc(L, errno) ||
       socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0))
    return braidB_oserror(L, errno, "socketpair");
  if (!duplex) {
    shutdown(sv[0], SHUT_WR);
    shutdown(sv[1], SHUT_RD);
  }
  /* both ends are this program's: code travels, as it always did */
  braidB_pushconn(L, sv[0], 1, duplex, sv[1], 1, BRAIDB_NOMAX);
  ((Conn *)braidB_checkhandle(L, -1, &conn_type))->segs = 1;
  braidB_pushconn(L, sv[1], duplex, 1, -1, 1, BRAIDB_NOMAX);
  ((Conn *)braidB_checkhandle(L, -1, &conn_type))->segs = 1;
  return 2;
}


static int core_conn_attach(lua_State *L) {
  int fd, d;
  if (braidB_attach_fd(L, 1, "Connection", &fd)) return 1;
  if (!lua_isinteger(L, 1)) d = fd; /* redeemed: already ours */
  else {
    d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0 && braidB_fdgc(L, errno)) d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) return braidB_oserror(L, errno, "cannot take over a connection");
  }
  braidB_pushconn(L, d, lua_toboolean(L, 2), lua_toboolean(L, 3), -1,
                  lua_toboolean(L, 4),
                  lua_isinteger(L, 5) ? (uint64_t)lua_tointeger(L, 5)
                                      : BRAIDB_NOMAX);
  ((Conn *)braidB_checkhandle(L, -1, &conn_type))->segs = lua_toboolean(L, 6);
  if (lua_toboolean(L, 7) || lua_type(L, 8) == LUA_TSTRING) {
    /* the sender's read-ahead and the bytes it had read ahead: they are
    ** the beginning of what this end reads */
    Conn *c = toconn(L, -1);
    size_t n = 0;
    const char *p = lua_type(L, 8) == LUA_TSTRING ? lua_tolstring(L, 8, &n) : "";
    braid_rbuf *rb = getrb(c);
    if (rb == NULL) return braidB_nomem(L);
    rb->greedy = lua_toboolean(L, 7);
    if (braid__rbuf_put(rb, p, n) != BRAID_OK)
      return braidB_raise(L, "ValueError", "read-ahead bytes do not fit");
  }
  braidB_attach_keep(L, 1);
  return 1;
}


static int conn_export(lua_State *L) {
  Conn *c = toconn(L, 1);
  int fd = atomic_load(&c->fd);
  if (fd < 0) return braidB_raise(L, "OSError", "handle is closed");
  lua_pushcfunction(L, core_conn_attach);
  braidB_export_fd(L, fd, "Connection");
  lua_pushboolean(L, c->readable);
  lua_pushboolean(L, c->writable);
  lua_pushboolean(L, c->allow_code);
  if (c->maxsize == BRAIDB_NOMAX) lua_pushnil(L);
  else lua_pushinteger(L, (lua_Integer)c->maxsize);
  lua_pushboolean(L, c->segs);
  {
    /* A copy of the bytes read ahead goes with the connection: they are
    ** the beginning of what the receiver reads. This end keeps its own,
    ** as a fork child and its parent each have the buffer (one of them
    ** should read the stream from then on, as with any shared socket). */
    braid_rbuf *rb = atomic_load(&c->rb);
    size_t n = rb ? braid__rbuf_avail(rb) : 0;
    if (rb != NULL && rb->nfds > 0) /* they would need to travel too */
      return braidB_raise(L, "ValueError",
                          "a Connection holding a message's descriptors "
                          "read ahead cannot be sent: receive it first");
    lua_pushboolean(L, rb != NULL && rb->greedy);
    if (n == 0) lua_pushnil(L);
    else {
      lua_pushlstring(L, (const char *)rb->b + rb->pos, n);
    }
  }
  return 9;
}


static void send_frame(lua_State *L, Conn *c, int fd, const void *p,
                       size_t len) {
  int rc;
  if (c->segs && len >= braid__seg_min(0, 0) && len > 0) {
    /* out of line: one copy into a memfd, handed over with the header */
    int sfd;
    braid__seg_late_begin();
    sfd = braid__seg_new_late(p, len);
    if (sfd >= 0) {
      rc = braid__frame_write_fx(fd, NULL, len, &sfd, 1, 1);
      close(sfd);
      /* filled now, while the receiver copies it out ('p' is the caller's
      ** argument, alive until it returns) */
      if (rc != BRAID_OK) braid__seg_late_abandon();
      else if (braid__seg_late_fill() != 0)
        braidB_oserror(L, errno, "cannot fill a segment");
      goto sent;
    }
  }
  rc = braid__frame_write(fd, p, len);
sent:
  if (rc == BRAID_ECLOSED) {
    errno = EPIPE;
    braidB_oserror(L, errno, "the other end of the connection is closed");
  }
  if (rc != BRAID_OK) braidB_oserror(L, errno, "send");
}


/* A big table's stream (lpstream.c): its entry is an ordinary frame
** whose 4 bytes are BRAID_PSTREAM_MARK, with the stream's memfd. */
static int conn_entry(void *ud, int sfd) {
  return braid__frame_write_fx(*(int *)ud, BRAID_PSTREAM_MARK,
                               BRAID_PSTREAM_MARKLEN, &sfd, 1, 0);
}


/* conn:send(obj) */
static int conn_send(lua_State *L) {
  static const char *const roots[] = { "obj" };
  Conn *c = toconn(L, 1);
  int fd = connfd(L, c, 'w');
  braid_msg *m;
  int rc;
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  if (c->segs && braidB_pstream_wanted(L, 2)) { /* both ends braid's */
    braidB_pstarget t;
    t.entry = conn_entry;
    t.failed = NULL;
    t.ud = &fd;
    t.root = NULL;
    m = braidB_put_streamed(L, 2, &t, &rc);
    if (m == NULL) goto sent;
    rc = braid__frame_write(fd, m->data, m->len);
    braid__msg_free(m);
    goto sent;
  }
  m = braid__encode_proc(L, 2, 1, roots,
                         BRAID_ENC_PIPE |
                         (c->segs ? BRAID_ENC_SEGS | BRAID_ENC_LATE : 0));
  /* the receiver gets its own descriptors of the segments; ours close
  ** with the message */
  rc = braid__frame_write_fx(fd, m->data, m->len, m->segs, (int)m->nsegs, 0);
  braid__msg_free(m);
  /* big segments are filled now, while the receiver copies them out (the
  ** object stays on our stack until then) */
  if (rc != BRAID_OK) braid__seg_late_abandon();
  else if (braid__seg_late_fill() != 0)
    return braidB_oserror(L, errno, "cannot fill a segment");
sent:
  if (rc == BRAID_ECLOSED) {
    errno = EPIPE;
    return braidB_oserror(L, errno, "the other end of the connection is closed");
  }
  if (rc != BRAID_OK) return braidB_oserror(L, errno, "send");
  return 0;
}


/* conn:send_bytes(buf, [offset=0], [size]) */
static int conn_send_bytes(lua_State *L) {
  Conn *c = toconn(L, 1);
  size_t len;
  const char *p = braidB_checkstring(L, 2, &len);
  lua_Integer off = braidB_optinteger(L, 3, 0), size;
  int fd;
  if (off < 0) return braidB_argerror(L, 3, "ValueError", "offset is negative");
  if ((size_t)off > len)
    return braidB_argerror(L, 3, "ValueError", "buffer length < offset");
  size = lua_isnoneornil(L, 4) ? (lua_Integer)(len - (size_t)off)
                               : braidB_checkinteger(L, 4);
  if (size < 0) return braidB_argerror(L, 4, "ValueError", "size is negative");
  if ((size_t)off + (size_t)size > len)
    return braidB_argerror(L, 4, "ValueError", "buffer length < offset + size");
  fd = connfd(L, c, 'w');
  send_frame(L, c, fd, p + off, (size_t)size);
  return 0;
}


/* A length the reader refuses: the stream is out of step from here on, so
** the connection stops reading (closed if it cannot write either), as
** Python's _bad_message_length does. */
static void bad_length(lua_State *L, Conn *c) {
  if (c->writable) {
    c->readable = 0;
  } else {
    int fd = atomic_exchange(&c->fd, -1);
    if (fd >= 0) close(fd);
  }
  braidB_raise(L, "OSError", "bad message length");
}


/* Reads a frame's header: its length (at most 'limit', checked before
** anything is allocated), or raises EOFError at the end. */
/* The descriptors received with a header, in a userdata that closes them
** if the receive raises (none is left behind by an error). */
static void fdset_close(braid_frame_fds *fx) {
  int i;
  for (i = 0; i < fx->n; i++) close(fx->fds[i]);
  fx->n = 0;
}

static int fdset_gc(lua_State *L) {
  fdset_close((braid_frame_fds *)lua_touserdata(L, 1));
  return 0;
}


/* Pushes an empty descriptor set for a read on 'c', or returns NULL
** (nothing pushed) when 'c' takes no descriptors. */
static braid_frame_fds *push_fdset(lua_State *L, Conn *c) {
  braid_frame_fds *fx;
  if (!c->segs) return NULL;
  fx = (braid_frame_fds *)lua_newuserdatauv(L, sizeof *fx, 0);
  fx->n = 0;
  fx->seg = 0;
  if (luaL_newmetatable(L, "braid.fdset")) {
    lua_pushcfunction(L, fdset_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return fx;
}


/* A -2 frame (its bytes in the one descriptor it came with): checks that
** the descriptor is there and holds 'n' bytes, else the stream cannot be
** trusted any more (bad_length). */
static void check_segframe(lua_State *L, Conn *c, braid_frame_fds *fx,
                           uint64_t n) {
  size_t size;
  if (fx->n < 1 || braid__seg_size(fx->fds[0], &size) != 0 ||
      (uint64_t)size != n)
    bad_length(L, c);
}


/* Reads a frame's header (with 'fx': and the descriptors and -2 form
** that come with it, see frame.h). */
static uint64_t recv_header_fx(lua_State *L, Conn *c, int fd, uint64_t limit,
                               braid_frame_fds *fx) {
  uint64_t n = 0;
  size_t got = 0;
  int rc;
  long full = braid__queue_spin_ns(-1), spin = braid__fd_spin_ns();
  int nospin = atomic_load_explicit(&c->nospin, memory_order_relaxed), waited;
  double t0 = 0;
  braid_rbuf *rb = atomic_load(&c->rb);
  braidB_poll(L);
  if (rb != NULL && braid__rbuf_avail(rb) > 0) {
    /* read ahead: a header there, or begun (its rest is coming) */
    rc = braid__frame_read_header_rb(fd, rb, &n, &got, fx);
    goto done;
  }
  if (nospin) {
    spin = 0;
    t0 = braid__now();
  }
  /* A header already there (or arriving within the spin) is read at once.
  ** Otherwise the read would not end on Ctrl-C: wait (sliced) for data
  ** first, without spinning again. With no spin, a connection whose last
  ** try found nothing (a client waiting for its answer) waits first for
  ** its next BRAID_CONN_RETRY reads: the try would cost a system call for
  ** nothing; one whose data is there when it reads (a server after its
  ** poll) goes on trying first. */
  waited = atomic_load_explicit(&c->waited, memory_order_relaxed);
  if (spin == 0 && waited > 0) {
    atomic_store_explicit(&c->waited, waited - 1, memory_order_relaxed);
    rc = BRAID_EAGAIN;
  } else {
    rc = rb != NULL ? braid__frame_try_header_rb(fd, rb, spin, &n, &got, fx)
                    : braid__frame_try_header_fx(fd, spin, &n, &got, fx);
    atomic_store_explicit(&c->waited, rc == BRAID_EAGAIN ? BRAID_CONN_RETRY : 0,
                          memory_order_relaxed);
  }
  if (rc == BRAID_EAGAIN) {
    if (spin > 0) atomic_store_explicit(&c->nospin, 1, memory_order_relaxed);
    if (!braid__fd_wait_spin(fd, -1, 0)) braidB_intr_check(L);
    rc = rb != NULL ? braid__frame_read_header_rb(fd, rb, &n, &got, fx)
                    : braid__frame_read_header_fx(fd, &n, &got, fx);
  }
  /* an answer within the spin time: spinning pays again */
  if (nospin && (braid__now() - t0) * 1e9 < (double)full)
    atomic_store_explicit(&c->nospin, 0, memory_order_relaxed);
done:
  if (rc == BRAID_ECLOSED && got == 0) braidB_raise(L, "EOFError", "");
  if (rc == BRAID_EINVAL) bad_length(L, c);
  if (rc != BRAID_OK) {
    if (rc == BRAID_ECLOSED) errno = ECONNRESET;
    braidB_oserror(L, errno, "recv");
  }
  if (n > limit || n > (uint64_t)(SIZE_MAX / 2)) bad_length(L, c);
  return n;
}


static int read_body(Conn *c, int fd, char *p, size_t n) {
  braid_rbuf *rb = atomic_load(&c->rb);
  return rb != NULL ? braid__frame_read_body_rb(fd, rb, p, n)
                    : braid__fd_read_all(fd, p, n, NULL);
}


static void recv_body(lua_State *L, Conn *c, int fd, char *p, size_t n) {
  int rc = read_body(c, fd, p, n);
  if (rc == BRAID_ECLOSED) braidB_raise(L, "EOFError", "truncated message");
  if (rc != BRAID_OK) braidB_oserror(L, errno, "recv");
}


static void body_error(lua_State *L, int rc);

/* From this size a body is read straight into the block Lua keeps its
** string in (braidB_pushfilled): a 64 KiB message is then copied once,
** by the kernel, instead of twice. Below it the copy costs less than the
** hand-over. */
#define BODY_IN_PLACE 4096

typedef struct BodyRead {
  Conn *c;
  int fd, rc;
} BodyRead;

static int fill_from_socket(void *ud, char *dst, size_t n) {
  BodyRead *r = (BodyRead *)ud;
  r->rc = read_body(r->c, r->fd, dst, n);
  return r->rc != BRAID_OK;
}


void braidB_conn_recvframe(lua_State *L, int idx, uint64_t limit) {
  Conn *c = toconn(L, idx);
  int fd = connfd(L, c, 'r');
  braid_frame_fds *fx = push_fdset(L, c);
  uint64_t n = recv_header_fx(L, c, fd,
                              limit < c->maxsize ? limit : c->maxsize, fx);
  luaL_Buffer b;
  char *p;
  if (fx != NULL && fx->seg) { /* one copy, out of the segment */
    check_segframe(L, c, fx, n);
    braidB_pushsegment(L, fx->fds[0], (size_t)n);
  } else if (n >= BODY_IN_PLACE) { /* read where Lua keeps the string */
    BodyRead r;
    r.c = c;
    r.fd = fd;
    r.rc = BRAID_OK;
    if (braidB_pushfilled(L, (size_t)n, fill_from_socket, &r) != 0)
      body_error(L, r.rc);
  } else {
    p = luaL_buffinitsize(L, &b, (size_t)n);
    recv_body(L, c, fd, p, (size_t)n);
    luaL_pushresultsize(&b, (size_t)n);
  }
  if (fx != NULL) { /* the descriptors are not needed any more */
    int stream = !fx->seg && braid__pstream_is_mark(
        (const unsigned char *)lua_tostring(L, -1), (size_t)n, fx->n);
    fdset_close(fx);
    lua_remove(L, -2);
    /* a big table that send() streamed has no bytes to give: its entry
    ** is a marker, not the value's encoding */
    if (stream)
      braidB_raise(L, "ValueError", "recv_bytes got a value that send() "
                   "streamed (a big table): read it with recv()");
  }
}


void braidB_conn_sendframe(lua_State *L, int idx, const void *p, size_t n) {
  Conn *c = toconn(L, idx);
  send_frame(L, c, connfd(L, c, 'w'), p, n);
}


int braidB_connfd(lua_State *L, int idx) {
  return connfd(L, toconn(L, idx), 0);
}


/* conn:recv_bytes([maxlength]) -> string */
static int conn_recv_bytes(lua_State *L) {
  lua_Integer maxlen = braidB_optinteger(L, 2, -1);
  toconn(L, 1);
  if (!lua_isnoneornil(L, 2) && maxlen < 0)
    return braidB_argerror(L, 2, "ValueError", "negative maxlength");
  braidB_conn_recvframe(L, 1, maxlen < 0 ? BRAIDB_NOMAX : (uint64_t)maxlen);
  return 1;
}


/*
** Several values as one message (braid's extension, for a manager's
** requests and answers): conn:_sendv(v1, ..., vn) sends them as the n
** roots of one message, conn:_recvv() returns them, conn:_callv(...) does
** both (a call's request and its answer in one C call). A request of
** scalars then encodes no table at all: about 3x less codec work than the
** same values in tables (bench/README.md, "managers").
*/

/* Sends the values from 'first' to the top as one message. */
static void sendv(lua_State *L, int fd, int first) {
  static const char *const names[] = {
    "value 1", "value 2", "value 3", "value 4", "value 5", "value 6",
    "value 7", "value 8" };
  const char *few[sizeof names / sizeof names[0]];
  const char **roots = few;
  int n = lua_gettop(L) - first + 1, i, rc;
  braid_msg *m;
  if (n > (int)(sizeof names / sizeof names[0])) {
    roots = (const char **)lua_newuserdatauv(L, (size_t)n * sizeof *roots, 0);
    lua_insert(L, first); /* kept below the values while they encode */
    first++;
  }
  for (i = 0; i < n; i++)
    roots[i] = i < (int)(sizeof names / sizeof names[0]) ? names[i] : "value";
  m = braid__encode_proc(L, first, n, roots, BRAID_ENC_PIPE);
  rc = braid__frame_write(fd, m->data, m->len);
  braid__msg_free(m);
  if (rc == BRAID_ECLOSED) {
    errno = EPIPE;
    braidB_oserror(L, errno, "the other end of the connection is closed");
  }
  if (rc != BRAID_OK) braidB_oserror(L, errno, "send");
}


static void body_error(lua_State *L, int rc) {
  if (rc == BRAID_ECLOSED) braidB_raise(L, "EOFError", "truncated message");
  braidB_oserror(L, errno, "recv");
}


/* Reads one message and pushes its values (after clearing the stack);
** returns how many. On a connection that takes descriptors, the message
** owns the segments of its T_SEG strings, and a -2 frame (send_bytes of
** a big buffer) is read out of its segment. */
static int recvv(lua_State *L, Conn *c, int fd) {
  int allow = c->allow_code, rc;
  braid_frame_fds *fx = push_fdset(L, c);
  uint64_t n = recv_header_fx(L, c, fd, c->maxsize, fx);
  /* the body goes straight into the message the decoder takes (no Lua
  ** string between: one copy less, nothing for the collector) */
  braid_msg *m = braid__msg_alloc((size_t)n, 0, 0);
  if (m == NULL) return braidB_nomem(L);
  if (fx != NULL && fx->seg) { /* its bytes are the segment's */
    size_t size;
    rc = (fx->n >= 1 && braid__seg_size(fx->fds[0], &size) == 0 &&
          (uint64_t)size == n)
             ? BRAID_OK
             : BRAID_EINVAL;
    if (rc == BRAID_OK && n > 0 && braid__seg_read(fx->fds[0], m->data, n))
      rc = BRAID_EOS;
  } else {
    rc = read_body(c, fd, (char *)m->data, (size_t)n);
    if (rc == BRAID_OK && fx != NULL && fx->n == 1 &&
        braid__pstream_is_mark(m->data, (size_t)n, 1)) { /* a stream's entry */
      int sfd = fx->fds[0];
      fx->n = 0; /* braidB_pstream_read closes it */
      braid__msg_free(m);
      lua_settop(L, 0);
      if (braidB_pstream_read(L, sfd)) return 1;
      return recvv(L, c, fd); /* its writer failed: never sent */
    }
    if (rc == BRAID_OK && fx != NULL && fx->n > 0) {
      if (braid__msg_take_segs(m, fx->fds, fx->n) != BRAID_OK)
        rc = BRAID_ENOMEM;
      else
        fx->n = 0; /* the message's now */
    }
  }
  if (rc != BRAID_OK) {
    int e = errno;
    braid__msg_free(m);
    if (rc == BRAID_EINVAL) bad_length(L, c);
    if (rc == BRAID_ENOMEM) braidB_nomem(L);
    errno = e;
    body_error(L, rc);
  }
  if (fx != NULL) fdset_close(fx); /* a -2 frame's */
  lua_settop(L, 0);
  return braid__decode_owned_flags(L, m, allow ? 0 : BRAID_DEC_NOCODE);
}


static int conn_sendv(lua_State *L) {
  Conn *c = toconn(L, 1);
  sendv(L, connfd(L, c, 'w'), 2);
  return 0;
}


static int conn_recvv(lua_State *L) {
  Conn *c = toconn(L, 1);
  return recvv(L, c, connfd(L, c, 'r'));
}


static int conn_callv(lua_State *L) {
  Conn *c = toconn(L, 1);
  int wfd = connfd(L, c, 'w'), rfd = connfd(L, c, 'r');
  sendv(L, wfd, 2);
  return recvv(L, c, rfd);
}


/* conn:recv() -> obj */
static int conn_recv(lua_State *L) {
  Conn *c = toconn(L, 1);
  int n = recvv(L, c, connfd(L, c, 'r'));
  /* a message of several values (_sendv) gives its first */
  if (n > 1) lua_settop(L, 1);
  return n > 0 ? 1 : 0;
}


/* conn:recv_bytes_into(buf, [offset=0]) -> bytes read. 'buf' is a braid
** Array (any typecode: its bytes) or a SharedMemory. */
static int conn_recv_bytes_into(lua_State *L) {
  Conn *c = toconn(L, 1);
  lua_Integer off = braidB_optinteger(L, 3, 0);
  unsigned char *dst;
  size_t cap;
  int fd;
  uint64_t n;
  braid_frame_fds *fx;
  braid_handle *h = braidB_tohandle(L, 2);
  if (h != NULL && (h->type == &braid__array_type ||
                    h->type == &braid__value_type)) {
    braid_shm *s = (braid_shm *)h;
    dst = s->data;
    cap = s->length * s->ct->size;
  } else if (luaL_testudata(L, 2, "braid.SharedMemory")) {
    void **u = (void **)lua_touserdata(L, 2);
    dst = (unsigned char *)u[0];
    cap = (size_t)(uintptr_t)u[1];
    if (dst == NULL) return braidB_raise(L, "ValueError", "SharedMemory is closed");
  } else {
    return braidB_typeerror(L, 2, "braid.Array or SharedMemory");
  }
  if (off < 0 || (size_t)off > cap)
    return braidB_argerror(L, 3, "ValueError", "offset out of bounds");
  fd = connfd(L, c, 'r');
  fx = push_fdset(L, c);
  n = recv_header_fx(L, c, fd, c->maxsize, fx);
  if (fx != NULL && fx->seg) check_segframe(L, c, fx, n);
  if (n > cap - (size_t)off) {
    if (fx != NULL && fx->seg) {
      braidB_pushsegment(L, fx->fds[0], (size_t)n);
      fdset_close(fx); /* now, not when the collector finds the set */
    } else {
      luaL_Buffer b;
      char *p = luaL_buffinitsize(L, &b, (size_t)n);
      recv_body(L, c, fd, p, (size_t)n);
      luaL_pushresultsize(&b, (size_t)n);
    }
    braidB_pushclass(L, "multiprocessing.BufferTooShort");
    lua_pushfstring(L, "buffer too short: %I bytes needed", (lua_Integer)n);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "value"); /* the message (braid's older name) */
    lua_createtable(L, 1, 0); /* Python: BufferTooShort(msg), e.args[0] */
    lua_pushvalue(L, -3);
    lua_rawseti(L, -2, 1);
    lua_setfield(L, -2, "args");
    return lua_error(L);
  }
  if (fx != NULL && fx->seg) { /* straight into the target: one copy */
    if (braid__seg_read(fx->fds[0], (char *)dst + off, (size_t)n) != 0) {
      int e = errno;
      fdset_close(fx); /* now, not when the collector finds the set */
      /* braidB_raise takes the interrupt (pending -> raised), so that an
      ** uncaught one still ends the process by SIGINT */
      if (e == EINTR) return braidB_raise(L, "KeyboardInterrupt", "");
      if (e == EPIPE) /* segfill.h: the sender died mid-fill */
        return braidB_raise(L, "EOFError", "the sender of a segment died "
                            "while filling it");
      return braidB_oserror(L, e, "recv");
    }
  } else {
    recv_body(L, c, fd, (char *)dst + off, (size_t)n);
  }
  if (fx != NULL) fdset_close(fx);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


/* conn:poll([timeout=0]) -> data (or end of file) available? */
static int conn_poll(lua_State *L) {
  Conn *c = toconn(L, 1);
  int fd = connfd(L, c, 'r');
  double t = lua_isnoneornil(L, 2) ? 0 : braidB_opttimeout(L, 2, 0);
  if (lua_gettop(L) >= 2 && lua_isnil(L, 2)) t = -1; /* poll(nil): forever */
  else if (t < 0) t = 0;
  braidB_poll(L);
  /* bytes read ahead are data available, though the socket has none */
  lua_pushboolean(L, buffered(c) > 0 || braid__fd_wait(fd, t));
  return 1;
}


static int conn_fileno(lua_State *L) {
  Conn *c = toconn(L, 1);
  lua_pushinteger(L, connfd(L, c, 0));
  return 1;
}


static int conn_close(lua_State *L) {
  Conn *c = toconn(L, 1);
  int fd = atomic_exchange(&c->fd, -1);
  if (fd >= 0) close(fd);
  return 0;
}


static int conn_index(lua_State *L) {
  Conn *c = toconn(L, 1);
  const char *k = lua_tostring(L, 2);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (k == NULL) return 1;
  if (strcmp(k, "buffered") == 0) /* first: a manager's loop asks each call */
    lua_pushinteger(L, (lua_Integer)buffered(c));
  else if (strcmp(k, "closed") == 0) lua_pushboolean(L, atomic_load(&c->fd) < 0);
  else if (strcmp(k, "readable") == 0) lua_pushboolean(L, c->readable);
  else if (strcmp(k, "writable") == 0) lua_pushboolean(L, c->writable);
  else if (strcmp(k, "allow_code") == 0) lua_pushboolean(L, c->allow_code);
  else if (strcmp(k, "readahead") == 0) {
    braid_rbuf *rb = atomic_load(&c->rb);
    lua_pushboolean(L, rb != NULL && rb->greedy);
  } else if (strcmp(k, "maxsize") == 0) {
    if (c->maxsize == BRAIDB_NOMAX) lua_pushnil(L);
    else lua_pushinteger(L, (lua_Integer)c->maxsize);
  } else lua_pushnil(L);
  return 1;
}


/* conn.allow_code = bool, conn.maxsize = n|nil: the receiver's choices
** (see lconn.h); other fields are read-only. */
static int conn_newindex(lua_State *L) {
  Conn *c = toconn(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k != NULL && strcmp(k, "allow_code") == 0) {
    c->allow_code = lua_toboolean(L, 3);
  } else if (k != NULL && strcmp(k, "readahead") == 0) {
    braid_rbuf *rb = atomic_load(&c->rb);
    if (rb == NULL && !lua_toboolean(L, 3)) return 0;
    if (rb == NULL && (rb = getrb(c)) == NULL) return braidB_nomem(L);
    rb->greedy = lua_toboolean(L, 3);
  } else if (k != NULL && strcmp(k, "maxsize") == 0) {
    lua_Integer n;
    if (lua_isnil(L, 3)) {
      c->maxsize = BRAIDB_NOMAX;
      return 0;
    }
    n = braidB_checkinteger(L, 3);
    if (n < 0) return braidB_argerror(L, 3, "ValueError", "maxsize is negative");
    c->maxsize = (uint64_t)n;
  } else {
    return braidB_raise(L, "AttributeError",
                        "Connection attribute '%s' is read-only",
                        k ? k : "?");
  }
  return 0;
}


static const luaL_Reg conn_methods[] = {
  { "send", conn_send },
  { "recv", conn_recv },
  { "send_bytes", conn_send_bytes },
  { "recv_bytes", conn_recv_bytes },
  { "recv_bytes_into", conn_recv_bytes_into },
  { "_sendv", conn_sendv },
  { "_recvv", conn_recvv },
  { "_callv", conn_callv },
  { "poll", conn_poll },
  { "fileno", conn_fileno },
  { "close", conn_close },
  { NULL, NULL },
};

static const luaL_Reg conn_meta[] = {
  { "__index", conn_index },
  { "__newindex", conn_newindex },
  { "__close", conn_close },
  { "__braidexport", conn_export },
  { NULL, NULL },
};
/* }====================================================== */


const braidB_Class braidB_conn_classes[] = {
  { &conn_type, conn_methods, conn_meta },
  { NULL, NULL, NULL },
};


static const luaL_Reg conn_funcs[] = {
  { "Pipe", core_pipe },
  { "_conn_attach", core_conn_attach },
  { NULL, NULL },
};


void braidB_open_conn(lua_State *L) {
  luaL_setfuncs(L, conn_funcs, 0);
}

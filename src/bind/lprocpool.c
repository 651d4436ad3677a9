/*
** lprocpool.c: pools of worker processes (multiprocessing.Pool,
** concurrent.futures.ProcessPoolExecutor) on the thread pool of pool.c.
** See LICENSE for copyright and license.
**
** Each worker of the pool is a thread of this process (a "proxy") that
** drives one child process over a socket pair: it takes work from the
** pool as a thread worker does, sends it to its child as a frame, waits
** for the reply and finishes the future or the map chunk. Everything the
** pool queues was encoded for another process (no handles: the
** __braidexport path), so the proxy forwards bytes and never re-encodes;
** a chunk goes as its slice of the job's batch. The child, started by
** braid.multiprocessing.process (fork, spawn or forkserver) from the
** proxy's own state, runs the same task runners as a thread worker
** (lpool.h) and encodes its replies for another process.
**
** The proxy waits for a reply on the socket, the child's sentinel and
** the pool's wake pipe at once, so a child that dies is seen at once
** (whatever else holds the socket), and terminate() or a broken pool
** stops a proxy in the middle of a task. A child that dies fails its
** task; then an executor breaks (BrokenProcessPool for everything
** pending, and for later submits) and a Pool starts a replacement.
** Children die with their proxy thread (PR_SET_PDEATHSIG) and are always
** reaped by it: no orphans, no zombies.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "lbind.h"
#include "lpool.h"
#include "pool.h"
#include "poolframe.h"
#include "process.h"
#include "lcodec.h"
#include "lpstream.h"
#include "segfill.h"
#include "thread.h"


/*
** {======================================================
** Frames
** =======================================================
*/

/* The frames and their readers are poolframe.c's (Lua-free, fuzzed by
** fuzz/fuzz_poolframe.c): braid_pf_hdr parent -> child, braid_pf_reply_hdr
** child -> parent. */
enum { F_CALL = BRAID_PF_CALL, F_CHUNK = BRAID_PF_CHUNK,
       F_EXIT = BRAID_PF_EXIT };
enum { REPLY_READY = BRAID_PF_READY, REPLY_INITFAIL = BRAID_PF_INITFAIL,
       REPLY_OK = BRAID_PF_OK, REPLY_EXC = BRAID_PF_EXC,
       REPLY_STREAM = BRAID_PF_STREAM, REPLY_STREAMED = BRAID_PF_STREAMED };
typedef braid_pf_hdr FrameHdr;
typedef braid_pf_reply_hdr ReplyHdr;
/* }====================================================== */


/*
** {======================================================
** The child: serves frames in its own state
** =======================================================
*/

/* Points 'w' at the items of a chunk frame's payload 'm' (taken: the
** items' message, freed on failure; a streamed item holds its memfd). */
static int chunk_items(const FrameHdr *h, braid_msg *m, braid_work *w,
                       braidB_WorkerCtx *c, const braid_msg *calls) {
  uint32_t i;
  m->callsrc = calls; /* kept by the child until the next call's */
  if (c->cap < h->nitems) {
    braid_item *nb = (braid_item *)braid__realloc(
        c->buf, (size_t)h->nitems * sizeof *nb);
    if (nb == NULL) {
      braid__msg_free(m);
      return BRAID_ENOMEM;
    }
    c->buf = nb;
    c->cap = h->nitems;
  }
  for (i = 0; i < h->nitems; i++) {
    c->buf[i].m = m;
    c->buf[i].idx = i;
  }
  w->items = c->buf;
  w->nitems = h->nitems;
  w->chunksize = h->chunksize;
  w->star = (int)h->star;
  return BRAID_OK;
}


/* A result's stream entry: REPLY_STREAM with the memfd (ud: the socket). */
static int stream_entry(void *ud, int sfd) {
  ReplyHdr h;
  struct iovec iov;
  memset(&h, 0, sizeof h);
  h.status = REPLY_STREAM;
  h.nfds = 1;
  iov.iov_base = &h;
  iov.iov_len = sizeof h;
  return braid__pf_send(*(int *)ud, &iov, 1, &sfd, 1);
}

/* braidB_WorkerCtx 'stream' of a child: a big result goes streamed. */
static braid_msg *stream_result(lua_State *L, int idx, void *ud) {
  braidB_pstarget t;
  braid_msg *m;
  int rc;
  t.entry = stream_entry;
  t.failed = NULL; /* the task's reply says it (REPLY_EXC) */
  t.ud = ud;
  t.root = "result"; /* as braidB_encode_values names it */
  m = braidB_put_streamed(L, idx, &t, &rc);
  if (m == NULL && rc != BRAID_OK)
    braidB_raisecode(L, rc, "cannot send a result");
  return m;
}


/* {====================== a call's argument streamed ================= */

/* The caller's side of braidB_procpool_submit_streamed: at the stream's
** threshold the call is submitted with a message standing for the stream
** (the mark, a dup of the memfd as its one segment), which the proxy
** sends as the call's payload with the memfd on the frame's header. */
typedef struct SubmitTarget {
  braid_pool *p;
  braid_future *f;
  braid_fnent **e; /* a box: NULL once the pool took the entry */
} SubmitTarget;

static int submit_entry(void *ud, int fd) {
  SubmitTarget *t = (SubmitTarget *)ud;
  int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  braid_msg *m = dfd >= 0 ? braidB_pstream_mark(dfd, 0) : NULL;
  if (m == NULL || braid__pool_submit(t->p, t->f, *t->e, m) != BRAID_OK) {
    braid__msg_free(m); /* closes its memfd */
    return BRAID_EAGAIN; /* the whole value, or the refusal, follows */
  }
  *t->e = NULL;
  return BRAID_OK;
}

/* The argument was found unsendable after the call was submitted: a call
** no proxy took yet never runs; one a child took fails there, reading a
** stream its writer failed, before its function is called. Nobody holds
** that future: the caller raises instead of returning it. */
static void submit_failed(void *ud) {
  (void)braid__future_cancel(((SubmitTarget *)ud)->f);
}

static int fnbox_gc(lua_State *L) {
  braid_fnent **b = (braid_fnent **)lua_touserdata(L, 1);
  if (*b != NULL) braid__fnent_release(*b);
  *b = NULL;
  return 0;
}

braid_msg *braidB_procpool_submit_streamed(lua_State *L, braid_pool *p,
                                           int idx, int n, braid_future *f,
                                           braid_fnent *e) {
  braidB_pstarget t;
  SubmitTarget st;
  braid_msg *m;
  braid_fnent **box;
  int rc;
  idx = lua_absindex(L, idx);
  /* the entry is released by the box's __gc when the encode raises
  ** before the pool took it */
  box = (braid_fnent **)lua_newuserdatauv(L, sizeof *box, 0);
  *box = e;
  if (luaL_newmetatable(L, "braid.FnentBox")) {
    lua_pushcfunction(L, fnbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  st.p = p;
  st.f = f;
  st.e = box;
  t.entry = submit_entry;
  t.failed = submit_failed;
  t.ud = &st;
  t.root = NULL;
  /* the arguments are one message, as the unstreamed path's: references
  ** shared between them are kept; each is named by its position */
  m = braidB_put_streamed_n(L, idx, n,
                            braidB_indexed_roots(L, "args", 1, n), &t, &rc);
  *box = NULL; /* the pool's, or the caller's again */
  lua_pop(L, 2);
  if (m == NULL && rc != BRAID_OK)
    braidB_raisecode(L, rc, "cannot send a call's argument");
  return m;
}
/* }==================================================== */


/* A map's chunk streamed (braidB_procpool_map_streamed): at the
** threshold the chunk's segment (the job's segments are its chunks,
** BRAID_MAP_EACH_CHUNK) is published as a batch of the chunk's items whose
** first is the mark, with a dup of the memfd as the message's one
** segment; the proxy sends it as the chunk with the memfd on the frame
** header (send_work), and the child's chunk runner decodes the chunk's
** items, the stream's values, as they are written (lworker.c
** chunk_protected). */
typedef struct MapTarget {
  braid_job *j;
  uint32_t nitems;
} MapTarget;

static int map_entry(void *ud, int fd) {
  MapTarget *t = (MapTarget *)ud;
  int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), rc;
  braid_msg *m = dfd >= 0 ? braidB_pstream_mark(dfd, t->nitems) : NULL;
  if (m == NULL) return BRAID_EAGAIN; /* the whole values follow */
  rc = braid__job_publish(t->j, m);
  if (rc != BRAID_OK) braid__msg_free(m); /* refused: the caller raises */
  return rc;
}

/* Found unsendable after the chunk was published: a chunk no proxy took
** never runs, one a child took fails there on the failed stream; chunks
** published before are dropped with the job (their results unread). */
static void map_failed(void *ud) { braid__job_cancel(((MapTarget *)ud)->j); }

braid_msg *braidB_procpool_map_streamed(lua_State *L, braid_job *j, int idx,
                                        int n, lua_Integer first, int *rc) {
  braidB_pstarget t;
  MapTarget mt;
  const char **roots;
  braid_msg *m;
  idx = lua_absindex(L, idx);
  /* each value named by its place in the iterable, as
  ** braid__encode_batch_shared names it */
  roots = braidB_indexed_roots(L, "iterable", first, n);
  mt.j = j;
  mt.nitems = (uint32_t)n;
  t.entry = map_entry;
  t.failed = map_failed;
  t.ud = &mt;
  t.root = NULL;
  m = braidB_put_streamed_n(L, idx, n, roots, &t, rc);
  lua_pop(L, 1);
  return m;
}


/* {====================== the specs' misbehaving child ================ */
/* (compiled always, as ltest.c is; reachable only through core._test,
** which only a BRAID_TESTS build registers) */

/* _test.pool_misreply(mode [, exit]), called by a task in a pool's child:
** the reply to this task breaks the rules as 'mode' says, then the child
** exits (status 7) when 'exit', else it serves on (poolframe_spec). */
static const char *const misreply_modes[] = {
  "none", "truncated", "length", "extrafd", "nostream", "badstream",
  "fewerfd", NULL
};
enum { MIS_NONE, MIS_TRUNCATED, MIS_LENGTH, MIS_EXTRAFD, MIS_NOSTREAM,
       MIS_BADSTREAM, MIS_FEWERFD };
static int misreply_mode, misreply_exit; /* the child's main thread's */

int braidB_test_pool_misreply(lua_State *L) {
  misreply_mode = luaL_checkoption(L, 1, NULL, misreply_modes);
  misreply_exit = lua_toboolean(L, 2);
  return 0;
}

/* Writes the reply to the task whose outcome is 'm' as the mode says. */
static int misreply(int fd, const braid_msg *m) {
  ReplyHdr h;
  struct iovec iov[2];
  int fds[2] = { -1, -1 }, n = 1, nfds = 0, rc, mode = misreply_mode;
  memset(&h, 0, sizeof h);
  misreply_mode = MIS_NONE; /* the next reply is a good one */
  h.status = REPLY_OK;
  h.len = m != NULL ? m->len : 0;
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof h;
  if (m != NULL && m->len > 0) {
    iov[1].iov_base = m->data;
    iov[1].iov_len = m->len;
    n = 2;
  }
  switch (mode) {
  case MIS_TRUNCATED: /* the header's first half, nothing after */
    iov[0].iov_len = sizeof h / 2;
    n = 1;
    break;
  case MIS_LENGTH: /* says 1,000 bytes more than it sends */
    h.len += 1000;
    break;
  case MIS_EXTRAFD: /* a descriptor the header does not count */
    fds[nfds++] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    break;
  case MIS_FEWERFD: /* the header counts one that does not come */
    h.nfds = 1;
    break;
  case MIS_NOSTREAM: /* a stream entry without its memfd */
    h.status = REPLY_STREAM;
    h.len = 0;
    h.nfds = 1;
    n = 1;
    break;
  case MIS_BADSTREAM: { /* a stream entry whose "memfd" is a pipe */
    int pp[2];
    h.status = REPLY_STREAM;
    h.len = 0;
    h.nfds = 1;
    n = 1;
    if (pipe2(pp, O_CLOEXEC) == 0) {
      close(pp[1]);
      fds[nfds++] = pp[0];
    }
    break;
  }
  }
  rc = braid__pf_send(fd, iov, n, fds, nfds);
  while (nfds > 0) close(fds[--nfds]);
  if (misreply_exit) _exit(7);
  return rc;
}
/* }==================================================== */


/* Serves one frame (read and checked by braid__pf_read_work); BRAID_ECLOSED
** after F_EXIT or at end of file. */
static int serve_frame(lua_State *L, int fd, braidB_WorkerCtx *c,
                       braid_fnent **fn, braid_msg **calls) {
  braid_pf_in in = { fd, NULL, NULL }; /* the pool's frames: blocking */
  braid_pf_work pw;
  braid_work w;
  braid_msg *m;
  int rc, st;
  rc = braid__pf_read_work(&in, &pw);
  if (rc != BRAID_OK) return rc;
  if (pw.fn != NULL) { /* the function from now on */
    if (*fn) braid__fnent_release(*fn);
    *fn = braid__fnent_new(pw.fn);
    if (*fn == NULL) {
      braid__pf_work_free(&pw);
      return BRAID_ENOMEM;
    }
    pw.fn = NULL;
  }
  if (*fn == NULL) { /* a task before any function */
    braid__pf_work_free(&pw);
    return BRAID_EINVAL;
  }
  if (pw.calls != NULL) { /* the values of a new map call */
    braid__msg_free(*calls);
    *calls = pw.calls;
    pw.calls = NULL;
  }
  memset(&w, 0, sizeof w);
  w.fn = *fn;
  c->streamed = 0;
  if (pw.h.kind == F_CALL) {
    w.args = pw.payload; /* a streamed argument: the mark, and its memfd */
    m = braidB_exec_call(L, c, &w, &st);
    st = st == BRAID_EXC_NONE ? REPLY_OK : REPLY_EXC;
  } else {
    rc = chunk_items(&pw.h, pw.payload, &w, c, *calls);
    if (rc != BRAID_OK) return rc;
    m = braidB_exec_chunk(L, c, &w, &st);
    st = st == BRAID_CHUNK_OK ? REPLY_OK : REPLY_EXC;
  }
  /* a result that went streamed succeeded: nothing can fail after it */
  if (misreply_mode != 0) rc = misreply(fd, m); /* a spec's hook */
  else
    rc = braid__pf_send_reply(
        fd, st == REPLY_OK && c->streamed ? REPLY_STREAMED : st, m);
  if (m) braid__msg_free(m);
  /* The result's big segments (BRAID_ENC_LATE) are filled now, while the
  ** parent copies them out. Their strings are off the stack since the
  ** task's pcall returned, but nothing allocated from this state since
  ** (braidB_exec_call/_chunk only pop and push non-collectable values),
  ** so no collection step can have freed them. */
  if (rc != BRAID_OK) braid__seg_late_abandon();
  else if (braid__seg_late_fill() != 0) rc = BRAID_EOS;
  c->tasks++;
  return rc;
}


static int fd_of_conn(lua_State *L, int idx) {
  int fd;
  lua_getfield(L, idx, "fileno");
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  fd = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return fd;
}


/* core.procpool_serve(conn, parent_pid|0, init_ok, mperr): the body of
** a pool's child process, once its initializer ran (init_ok: it did not
** fail; mperr: a multiprocessing Pool's, see BRAIDB_POOL_MPERR). Returns true when the pool lets it go, false when the
** initializer failed; raises when the parent sent garbage. */
static int core_procpool_serve(lua_State *L) {
  int fd = fd_of_conn(L, 1), rc;
  int ok = lua_toboolean(L, 3), mperr = lua_toboolean(L, 4);
  braidB_WorkerCtx *c;
  braid_fnent *fn = NULL;
  braid_msg *calls = NULL;
#ifdef PR_SET_PDEATHSIG
  /* dies with the proxy thread that started it (fork/spawn) */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (lua_tointeger(L, 2) > 0 && getppid() != (pid_t)lua_tointeger(L, 2))
    return braidB_raise(L, "OSError", "the pool is gone");
#endif
  lua_settop(L, 1);
  /* results go back with their big strings out of line (their segments) */
  c = braidB_worker_ctx(L, NULL,
                        BRAID_ENC_PIPE | BRAID_ENC_SEGS | BRAID_ENC_LATE,
                        mperr);
  c->stream = stream_result;
  c->stream_ud = &fd;
  if (braid__pf_send_reply(fd, ok ? REPLY_READY : REPLY_INITFAIL, NULL) !=
          BRAID_OK ||
      !ok) {
    lua_pushboolean(L, 0); /* the caller exits with status 1 */
    return 1;
  }
  for (;;) {
    rc = serve_frame(L, fd, c, &fn, &calls);
    lua_settop(L, 1);
    if (rc != BRAID_OK) break;
    braidB_poll(L);
  }
  if (fn) braid__fnent_release(fn);
  braid__msg_free(calls);
  if (rc != BRAID_ECLOSED)
    return braidB_raisecode(L, rc, "bad frame from the pool");
  lua_pushboolean(L, 1);
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** The proxy: a pool worker thread driving one child
** =======================================================
*/

/* Shared by the proxies of one pool. */
typedef struct ProcExt {
  char *method, *exe, *prefix;
  int builtin;
  int replace;        /* Pool: a dead worker is replaced, not fatal */
  atomic_int stop;    /* BRAID_POOL_BROKEN / BRAID_POOL_TERMINATE */
  atomic_int counter; /* worker names */
  int wake[2];        /* readable once 'stop' is set */
  braid__mutex mu;
  braid__cond cv;
  int started;        /* guarded by 'mu': first children started (or not) */
  int raise_start;    /* the constructor waits: a first start's OSError is
                         raised there (start_errno), not printed */
  int start_errno;    /* guarded by 'mu': errno of the first such failure */
} ProcExt;

static void ext_free(void *ud) {
  ProcExt *x = (ProcExt *)ud;
  if (x == NULL) return;
  free(x->method);
  free(x->exe);
  free(x->prefix);
  if (x->wake[0] >= 0) close(x->wake[0]);
  if (x->wake[1] >= 0) close(x->wake[1]);
  braid__cond_destroy(&x->cv);
  braid__mutex_destroy(&x->mu);
  braid__free(x);
}

static void ext_notify(void *ud, int event) {
  ProcExt *x = (ProcExt *)ud;
  int zero = 0;
  if (atomic_compare_exchange_strong(&x->stop, &zero, event)) {
    char b = 1;
    if (write(x->wake[1], &b, 1) < 0) { /* a full pipe is readable anyway */
    }
  }
}


/* One child as the proxy sees it. Its Process object and the parent's
** end of the socket live in the proxy state's registry ('ref'). */
typedef struct Child {
  int ref;
  int fd, sentinel;
  long pid;
  uint64_t fnuid; /* the function the child holds, 0: none */
  uint64_t calluid; /* the map call's values it holds, 0: none */
} Child;


static void push_poolmod(lua_State *L, const char *fname) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "braid.multiprocessing.pool");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, fname);
  lua_remove(L, -2);
}


static const char INIT_KEY = 'i'; /* proxy state: {initializer, initargs} */

/* Protected: pool._start_worker(method, name, exe, builtin, initializer,
** initargs, mperr) -> record (mperr: a Pool's, which replaces workers). The initializer message is decoded in this state
** once: the child gets it by inheritance, like a Process's arguments. */
static int start_protected(lua_State *L) {
  ProcExt *x = (ProcExt *)lua_touserdata(L, 1);
  const braid_msg *init = (const braid_msg *)lua_touserdata(L, 2);
  int n = atomic_fetch_add(&x->counter, 1) + 1;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &INIT_KEY) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_createtable(L, 2, 0);
    if (init != NULL) {
      if (braid__decode(L, init) != 2) return luaL_error(L, "bad initializer");
      lua_rawseti(L, -3, 2);
      lua_rawseti(L, -2, 1);
    }
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &INIT_KEY);
  }
  push_poolmod(L, "_start_worker");
  lua_pushstring(L, x->method);
  lua_pushfstring(L, "%s-%d", x->prefix, n);
  if (x->exe) lua_pushstring(L, x->exe);
  else lua_pushnil(L);
  lua_pushboolean(L, x->builtin);
  lua_rawgeti(L, -6, 1);
  lua_rawgeti(L, -7, 2);
  lua_pushboolean(L, x->replace);
  lua_call(L, 7, 1);
  return 1;
}


static int field_int(lua_State *L, int idx, const char *k) {
  int v;
  lua_getfield(L, idx, k);
  v = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}


/* pool._stop_worker(record, how) -> exit code (protected) */
static int stop_protected(lua_State *L) {
  push_poolmod(L, "_stop_worker");
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}


/* Ends the child: 'how' "exit" (asked to exit: waits), "terminate" or
** "kill"; reaps it and frees the record. Returns its exit code. */
static int stop_child(lua_State *L, Child *ch, const char *how) {
  int code = 0;
  if (ch->ref == LUA_NOREF) return 0;
  lua_pushcfunction(L, stop_protected);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ch->ref);
  lua_pushstring(L, how);
  if (lua_pcall(L, 2, 1, 0) == LUA_OK) {
    code = (int)lua_tointeger(L, -1);
  } else { /* cannot happen short of memory: say so rather than hide it */
    fprintf(stderr, "braid: cannot stop pool worker %ld: %s\n", ch->pid,
            luaL_tolstring(L, -1, NULL));
    fflush(stderr);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, ch->ref);
  ch->ref = LUA_NOREF;
  ch->fd = ch->sentinel = -1;
  return code;
}


/* Waits for a reply header, the child's end or the pool's stop. */
enum { W_REPLY, W_DIED, W_STOP, W_STREAM };

static int wait_reply(ProcExt *x, Child *ch) {
  struct pollfd pf[3];
  for (;;) {
    int r;
    pf[0].fd = ch->fd;
    pf[1].fd = ch->sentinel;
    pf[2].fd = x->wake[0];
    pf[0].events = pf[1].events = pf[2].events = POLLIN;
    pf[0].revents = pf[1].revents = pf[2].revents = 0;
    r = braid__poll(pf, 3, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return W_DIED;
    if (atomic_load(&x->stop)) return W_STOP;
    if (pf[0].revents) return W_REPLY; /* a reply, or end of file */
    if (pf[1].revents) return W_DIED;
  }
}


/* How long a child may stall in the middle of a frame it began (no byte
** for that long while it lives) before the proxy takes it for broken:
** a child writes a frame back to back while its proxy reads, so only a
** child gone wrong (a lying length, a truncated header, then silence)
** stops there. In milliseconds; _test.pool_stall sets it. */
static atomic_int frame_stall_ms = 30000;

/* braid_pf_in 'wait' of a proxy reading a frame its child began: the rest
** of it, the child's end, the pool's stop, or the stall bound. */
typedef struct FrameWait {
  ProcExt *x;
  Child *ch;
} FrameWait;

static int frame_wait(void *ud) {
  FrameWait *fw = (FrameWait *)ud;
  struct pollfd pf[3];
  for (;;) {
    int r;
    pf[0].fd = fw->ch->fd;
    pf[1].fd = fw->ch->sentinel;
    pf[2].fd = fw->x->wake[0];
    pf[0].events = pf[1].events = pf[2].events = POLLIN;
    pf[0].revents = pf[1].revents = pf[2].revents = 0;
    r = braid__poll(pf, 3, atomic_load(&frame_stall_ms));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return BRAID_EOS;
    if (r == 0) return BRAID_ETIMEDOUT; /* stalled mid-frame */
    if (atomic_load(&fw->x->stop)) return BRAID_ECANCELED;
    if (pf[0].revents) return BRAID_OK; /* more bytes, or end of file */
    if (pf[1].revents) return BRAID_ECLOSED;
  }
}

/* _test.pool_stall(seconds) -> the previous bound: frame_stall_ms. */
int braidB_test_pool_stall(lua_State *L) {
  int old = atomic_load(&frame_stall_ms);
  if (!lua_isnoneornil(L, 1))
    atomic_store(&frame_stall_ms, (int)(luaL_checknumber(L, 1) * 1000));
  lua_pushnumber(L, old / 1000.0);
  return 1;
}


/* Work sent to the child and not answered yet. Behind a chunk of a map
** the proxy sends the next chunk of the same map when no other worker is
** idle (up to DEPTH pieces in flight), so that the child finds it waiting
** when it answers (a wake-up across processes costs tens of microseconds
** here). Calls are never queued behind other work: a task may wait for
** another one, as in Python's Pool. */
#define DEPTH 2

typedef struct Flight {
  braid_work w;
  braid_msg *batch; /* a chunk's batch, and where its items start */
  uint32_t first;
} Flight;


/* Sends the work of 'f' to the child. */
/* A task frame bigger than this is not sent while another task is in
** flight: the child, writing that task's reply, is not reading, and the
** proxy, blocked writing into a full socket, would not read the reply
** either (a Pool(1) map of 200,000 items hung so). Smaller frames, two at
** most, fit in the socket's buffer: their writes never block. */
#define PIPELINE_MAX (64 * 1024)

/* The bytes send_work(ch, f) writes (its frame header aside). */
static size_t work_size(const Child *ch, const Flight *f) {
  const braid_work *w = &f->w;
  size_t n = w->fn->uid != ch->fnuid ? w->fn->m->len : 0;
  if (w->job == NULL) return n + (w->args ? w->args->len : 0);
  {
    const braid_msg *b = f->batch;
    uint32_t last = f->first + w->nitems;
    size_t from = b->offs[f->first];
    size_t to = last < b->nitems ? b->offs[last] : b->len;
    n += to - from + w->nitems * sizeof(uint32_t);
    if (b->call_hi != 0 && b->calluid != ch->calluid)
      n += b->call_hi - b->call_lo;
  }
  return n;
}


static int send_work(Child *ch, Flight *f) {
  braid_work *w = &f->w;
  FrameHdr h;
  struct iovec iov[5];
  int n = 0, rc;
  uint32_t *offs = NULL;
  memset(&h, 0, sizeof h);
  iov[n].iov_base = &h;
  iov[n++].iov_len = sizeof h;
  if (w->fn->uid != ch->fnuid) {
    h.fnlen = w->fn->m->len;
    iov[n].iov_base = w->fn->m->data;
    iov[n++].iov_len = w->fn->m->len;
  }
  if (w->job == NULL) {
    h.kind = F_CALL;
    if (w->args) {
      h.len = w->args->len;
      iov[n].iov_base = w->args->data;
      iov[n++].iov_len = w->args->len;
      if (braid__pstream_is_mark(w->args->data, w->args->len, w->args->nsegs))
        h.nfds = 1; /* its memfd goes on the header (a dup in the child) */
    }
  } else {
    /* the chunk's items lie back to back in the batch */
    const braid_msg *b = f->batch;
    uint32_t last = f->first + w->nitems, i;
    size_t from = b->offs[f->first];
    size_t to = last < b->nitems ? b->offs[last] : b->len;
    offs = (uint32_t *)braid__malloc(w->nitems * sizeof *offs);
    if (offs == NULL) return BRAID_ENOMEM;
    for (i = 0; i < w->nitems; i++)
      offs[i] = (uint32_t)(b->offs[f->first + i] - from);
    if (b->call_hi != 0 && b->calluid != ch->calluid) {
      h.callorigin = b->call_lo;
      h.calllen = b->call_hi - b->call_lo;
      iov[n].iov_base = b->data + b->call_lo;
      iov[n++].iov_len = h.calllen;
    }
    h.kind = F_CHUNK;
    h.nitems = w->nitems;
    h.chunksize = w->chunksize;
    h.star = (uint32_t)w->star;
    h.origin = (uint32_t)from;
    h.len = to - from;
    iov[n].iov_base = offs;
    iov[n++].iov_len = w->nitems * sizeof *offs;
    iov[n].iov_base = b->data + from;
    iov[n++].iov_len = to - from;
    /* a chunk whose items stream (braidB_procpool_map_streamed) */
    if (b->nsegs == 1 && braid__pstream_is_mark(b->data, b->len, b->nsegs))
      h.nfds = 1;
  }
  rc = braid__pf_send(ch->fd, iov, n,
                    h.nfds == 0      ? NULL
                    : w->job == NULL ? w->args->segs
                                     : f->batch->segs,
                    (int)h.nfds);
  braid__free(offs);
  if (rc == BRAID_OK) {
    ch->fnuid = w->fn->uid;
    if (h.calllen > 0) ch->calluid = f->batch->calluid;
  }
  return rc;
}


/* Protected: an error object of class 'cls' with message 'msg', encoded
** as a task's error (for a chunk: no partial results, then the error). */
static int failure_protected(lua_State *L) {
  const char *cls = lua_tostring(L, 1);
  const char *msg = lua_tostring(L, 2);
  int chunk = lua_toboolean(L, 3);
  static const char *const roots[] = { "error", "error" };
  lua_settop(L, 3);
  if (chunk) lua_pushnil(L);
  braidB_pusherror(L, cls, "%s", msg);
  lua_pushlightuserdata(L, braid__encode_proc(L, 4, chunk ? 2 : 1, roots,
                                              BRAID_ENC_PIPE));
  return 1;
}

static braid_msg *failure(lua_State *L, const char *cls, const char *msg,
                          int chunk) {
  braid_msg *m = NULL;
  lua_pushcfunction(L, failure_protected);
  lua_pushstring(L, cls);
  lua_pushstring(L, msg);
  lua_pushboolean(L, chunk);
  if (lua_pcall(L, 3, 1, 0) == LUA_OK) m = (braid_msg *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return m;
}


/* How the proxy finishes a piece of work. */
enum { DONE_OK, DONE_EXC, DONE_BROKEN, DONE_CANCELLED };

/* Finishes the work of 'f' with 'm' (taken; the encoded outcome for
** DONE_OK and DONE_EXC): a call's future, or a chunk (whose items are
** released). */
static void finish_work(lua_State *L, Flight *f, braid_msg *m, int how) {
  braid_work *w = &f->w;
  if (w->job) {
    static const int chunk_status[] = { BRAID_CHUNK_OK, BRAID_CHUNK_EXC,
                                        BRAID_CHUNK_BROKEN_PROCESS,
                                        BRAID_CHUNK_CANCELLED };
    braid__msg_release(f->batch, w->nitems);
    braid__pool_chunk_done(w, chunk_status[how], m);
    return;
  }
  if (how == DONE_CANCELLED)
    m = failure(L, "concurrent.futures.CancelledError",
                "the pool was terminated while this task ran", 0);
  if (braid__future_finish(w->fut, m,
                           how == DONE_OK       ? BRAID_EXC_NONE
                           : how == DONE_BROKEN ? BRAID_EXC_BROKEN_PROCESS
                                                : BRAID_EXC_REMOTE) !=
          BRAID_OK && m)
    braid__msg_free(m);
  if (w->args) braid__msg_free(w->args);
  braid__handle_release((braid_handle *)w->fut);
  braid__fnent_release(w->fn);
}


/* The errno of the error on top of the stack (an OSError from starting
** the child: no descriptor left, fork failed), or 0. */
static int error_errno(lua_State *L) {
  int e = 0;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "errno");
    e = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  return e;
}


/* Starts a child, which runs the initializer. 1: ready; 0: could not
** start or the initializer failed; -1: the child was killed by a signal
** before it was ready (an OOM kill, a stray SIGKILL). A proxy's first
** start that fails with an OSError, in a pool whose constructor waits, is
** not printed: the constructor raises it (core.procpool_wait_started). */
static int start_child(lua_State *L, braid_pool *p, ProcExt *x, Child *ch,
                       int first) {
  int ok, ev, code;
  ch->ref = LUA_NOREF;
  ch->fd = ch->sentinel = -1;
  ch->fnuid = 0;
  ch->calluid = 0;
  lua_pushcfunction(L, braidB_add_traceback);
  lua_pushcfunction(L, start_protected);
  lua_pushlightuserdata(L, x);
  lua_pushlightuserdata(L, braid__pool_init_msg(p));
  if (lua_pcall(L, 2, 1, -4) != LUA_OK) {
    int e = first && x->raise_start ? error_errno(L) : 0;
    if (e != 0) {
      braid__mutex_lock(&x->mu);
      if (x->start_errno == 0) x->start_errno = e;
      braid__mutex_unlock(&x->mu);
      lua_pop(L, 2); /* traceback, error */
      return 0;
    }
    fprintf(stderr, "braid: cannot start a pool worker process:\n%s\n",
            luaL_tolstring(L, -1, NULL));
    fflush(stderr);
    lua_pop(L, 3); /* traceback, error, its string */
    return 0;
  }
  lua_remove(L, -2);
  ch->fd = field_int(L, -1, "fd");
  ch->sentinel = field_int(L, -1, "sentinel");
  ch->pid = field_int(L, -1, "pid");
  ch->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  ev = wait_reply(x, ch);
  {
    FrameWait fw = { x, ch };
    braid_pf_in in = { ch->fd, frame_wait, &fw };
    ok = ev == W_REPLY && braid__pf_read_ready(&in) == BRAID_OK;
  }
  if (ok) return 1;
  if (ev != W_STOP && !atomic_load(&x->stop)) {
    /* its socket ended: the child is exiting; its sentinel says when (a
    ** child that answered garbage and lives on is killed below) */
    struct pollfd pf;
    pf.fd = ch->sentinel;
    pf.events = POLLIN;
    pf.revents = 0;
    while (poll(&pf, 1, 2000) < 0 && errno == EINTR)
      ;
    if (pf.revents) {
      code = stop_child(L, ch, "kill"); /* reaps: its own exit code */
      return code < 0 ? -1 : 0;
    }
  }
  stop_child(L, ch, "kill");
  return 0;
}


/* How many children in a row a Pool starts for one worker when each is
** killed before it is ready; then the pool breaks (something kills every
** child it starts). */
#define START_TRIES 5

/* start_child, and for a Pool (which replaces dead workers) again while
** the new child is killed before it is ready: a worker killed while it
** starts is replaced like one killed later. 1: ready; 0: not started. */
static int start_worker(lua_State *L, braid_pool *p, ProcExt *x, Child *ch,
                        int first) {
  int tries = 0, r;
  do {
    r = start_child(L, p, x, ch, first);
  } while (r < 0 && x->replace && ++tries < START_TRIES &&
           !atomic_load(&x->stop));
  return r > 0;
}


/* The message a task gets when its worker died under it (a Pool). */
static void fail_lost(lua_State *L, Flight *f, long pid, int code) {
  char msg[160];
  snprintf(msg, sizeof msg,
           "the worker process (pid %ld) running this task died "
           "(exitcode %d); the pool replaced it", pid, code);
  finish_work(L, f, failure(L, "concurrent.futures.process.BrokenProcessPool",
                            msg, f->w.job != NULL),
              DONE_EXC);
}


/* Reads the reply to the oldest work in flight (braid__pf_read_reply
** checks it: a chunk's results are one item per task of it). W_REPLY with
** '*m' and '*ok', W_STREAM with '*sfd' (a result's stream entry: its
** memfd, the caller's), or W_DIED / W_STOP (also for a reply that breaks
** the rules: a child gone wrong). 'streaming': a stream entry came, the
** reply is the task's own after it (REPLY_STREAMED, '*ok' and no
** message; or REPLY_EXC). */
static int read_reply(ProcExt *x, Child *ch, const Flight *f, int streaming,
                      braid_msg **m, int *ok, int *sfd) {
  braid_pf_reply r;
  FrameWait fw = { x, ch };
  braid_pf_in in = { ch->fd, frame_wait, &fw };
  int ev = wait_reply(x, ch), rc;
  *m = NULL;
  if (ev != W_REPLY) return ev;
  rc = braid__pf_read_reply(&in, f->w.job != NULL ? f->w.nitems : 0,
                            streaming, &r);
  if (rc == BRAID_PF_R_STREAM) {
    *sfd = r.sfd;
    return W_STREAM;
  }
  if (rc != BRAID_PF_R_OUTCOME) return atomic_load(&x->stop) ? W_STOP : W_DIED;
  *m = r.m;
  *ok = r.ok;
  return W_REPLY;
}


/* 1 when the child ended already (seen before giving it work). */
static int child_ended(Child *ch) {
  struct pollfd pf;
  pf.fd = ch->sentinel;
  pf.events = POLLIN;
  pf.revents = 0;
  return poll(&pf, 1, 0) > 0;
}


typedef struct Proxy {
  lua_State *L;
  braid_pool *p;
  ProcExt *x;
  braidB_WorkerCtx *c;
  Child ch;
  Flight fl[DEPTH];
  int head, n; /* works in flight: fl[head], fl[head+1]... */
  int unsent;  /* the child died idle: fl[head] was not sent */
  int held;    /* the newest work is not sent yet (PIPELINE_MAX) */
  /* The oldest work's result streams (its entry came): the child's reply
  ** after the stream is awaited, and the work stays in flight until it
  ** comes. 'smsg' (NULL when there was no memory for it) stands for the
  ** stream: the work is finished with it when the reply says the stream
  ** is whole. */
  int streaming;
  braid_msg *smsg;
} Proxy;

static Flight *oldest(Proxy *px) { return &px->fl[px->head]; }

static void pop_oldest(Proxy *px) {
  px->head = (px->head + 1) % DEPTH;
  px->n--;
}

/* Finishes every work in flight with 'how'. */
static void fail_all(Proxy *px, int how) {
  while (px->n > 0) {
    finish_work(px->L, oldest(px), NULL, how);
    pop_oldest(px);
  }
}


/* The child sent the oldest work's stream entry (memfd 'sfd', taken).
** The work stays in flight, its future or chunk undone, until the
** child's reply after the stream gives the outcome (end_stream): done(),
** exception(), callbacks and waiters never see a result that may still
** fail. A call's future gets a dup of the memfd at once
** (braid__future_set_early), so that a result() already waiting decodes
** while the child encodes; so does a map chunk, whose value is the result
** of its one task, or the table of its tasks' results (braid__job_set_early:
** its in-order readers, ljob.c). Without
** memory or descriptors the overlap is lost, never the result. */
static void begin_stream(Proxy *px, int sfd) {
  braid_msg *m = braidB_pstream_mark(sfd, 0); /* 'sfd' is its from now */
  Flight *f = oldest(px);
  int early;
  px->streaming = 1;
  px->smsg = m;
  if (m == NULL) return; /* the outcome finishes the work with a MemoryError */
  early = fcntl(sfd, F_DUPFD_CLOEXEC, 0);
  if (early >= 0 &&
      (f->w.job == NULL
           ? braid__future_set_early(f->w.fut, early)
           : braid__job_set_early(f->w.job, f->w.chunk, early)) != BRAID_OK)
    close(early);
}

/* The child's reply after a stream: its outcome finishes the oldest work,
** with the stream's message when it is whole ('ok'), else with the
** error 'm' (taken) the child sent. */
static void end_stream(Proxy *px, braid_msg *m, int ok) {
  braid_msg *s = px->smsg;
  px->smsg = NULL;
  px->streaming = 0;
  if (ok && s != NULL) {
    finish_work(px->L, oldest(px), s, DONE_OK);
  } else {
    braid__msg_free(s);
    finish_work(px->L, oldest(px), m, DONE_EXC); /* NULL: MemoryError */
    m = NULL;
  }
  braid__msg_free(m);
  pop_oldest(px);
  px->c->tasks++;
}

/* A child that died or was stopped mid-stream: the stream is dropped (a
** reader of its early descriptor sees its writer's death), and the work,
** still the oldest, fails as any work of such a child does. */
static void drop_stream(Proxy *px) {
  braid__msg_free(px->smsg);
  px->smsg = NULL;
  px->streaming = 0;
}


/* Takes work (waiting only when none is in flight) and sends it, up to
** 'depth' pieces. 0 once the pool has no more work for this proxy. */
static int fill(Proxy *px, int depth) {
  while (px->n < depth) {
    Flight *f = &px->fl[(px->head + px->n) % DEPTH];
    const braid_job *job =
        px->n > 0 ? px->fl[(px->head + px->n - 1) % DEPTH].w.job : NULL;
    int rc = px->n == 0
                 ? braid__pool_take(px->p, &f->w, &px->c->buf, &px->c->cap)
                 : job == NULL ? BRAID_EAGAIN /* calls are never queued */
                               : braid__pool_try_take(px->p, &f->w,
                                                      &px->c->buf,
                                                      &px->c->cap, job);
    if (rc == BRAID_EAGAIN) return 1;
    if (rc != BRAID_OK) return 0;
    if (f->w.job) {
      f->batch = f->w.items[0].m;
      f->first = f->w.items[0].idx;
      f->w.items = NULL; /* the buffer is the next take's */
    } else if (braid__future_set_running(f->w.fut) != 1) {
      finish_work(px->L, f, NULL, DONE_OK); /* cancelled: let it go */
      continue;
    }
    if (px->n == 0 && child_ended(&px->ch)) {
      px->n++; /* it died idle: the work goes to its replacement */
      px->unsent = 1;
      return 1;
    }
    if (px->n > 0 && work_size(&px->ch, f) > PIPELINE_MAX) {
      px->n++; /* sent once the works before it are answered */
      px->held = 1;
      return 1;
    }
    rc = send_work(&px->ch, f);
    if (rc == BRAID_ENOMEM) {
      finish_work(px->L, f, NULL, DONE_EXC); /* "could not be sent" */
      continue;
    }
    px->n++;
    if (rc != BRAID_OK) return 1; /* the child is gone: seen when waiting */
  }
  return 1;
}


/* Sends the work held back by fill, now the oldest (DEPTH is 2). A send
** that fails for want of memory fails that work; one to a child that is
** gone is seen when the proxy waits for its reply. */
static void send_held(Proxy *px) {
  px->held = 0;
  if (px->n > 0 && send_work(&px->ch, oldest(px)) == BRAID_ENOMEM) {
    finish_work(px->L, oldest(px), NULL, DONE_EXC); /* "could not be sent" */
    pop_oldest(px);
  }
}


static int proxy_body(lua_State *L) {
  Proxy px;
  int taking = 1, depth;
  memset(&px, 0, sizeof px);
  px.L = L;
  px.p = (braid_pool *)lua_touserdata(L, 1);
  px.x = (ProcExt *)braid__pool_ext(px.p);
  lua_settop(L, 0);
  px.c = braidB_worker_ctx(L, px.p, 1, 0); /* runs no task itself */
  /* a worker with a task quota takes no more than it may run */
  depth = braid__pool_maxtasks(px.p) > 0 ? 1 : DEPTH;
  taking = start_worker(L, px.p, px.x, &px.ch, 1);
  if (!taking && !atomic_load(&px.x->stop))
    braid__pool_break(px.p); /* before a waiting constructor returns */
  braid__mutex_lock(&px.x->mu);
  px.x->started++;
  braid__cond_broadcast(&px.x->cv);
  braid__mutex_unlock(&px.x->mu);
  if (!taking) return 0;
  for (;;) {
    braid_msg *m = NULL;
    int ok = 0, ev, sfd = -1;
    if (taking) taking = fill(&px, depth);
    if (px.n == 0) break;
    ev = px.unsent ? W_DIED
                   : read_reply(px.x, &px.ch, oldest(&px), px.streaming, &m,
                                &ok, &sfd);
    if (ev == W_STREAM) {
      begin_stream(&px, sfd);
      continue;
    }
    if (ev == W_REPLY) {
      if (px.streaming) { /* the outcome of the result that streamed */
        end_stream(&px, m, ok);
      } else {
        finish_work(L, oldest(&px), m, ok ? DONE_OK : DONE_EXC);
        pop_oldest(&px);
        px.c->tasks++;
      }
      if (braid__pool_retire(px.p, px.c->tasks)) taking = 0;
      if (px.held) send_held(&px);
      continue;
    }
    if (ev == W_STOP) {
      stop_child(L, &px.ch, "terminate");
      drop_stream(&px);
      fail_all(&px, atomic_load(&px.x->stop) == BRAID_POOL_TERMINATE
                        ? DONE_CANCELLED : DONE_BROKEN);
      return 0;
    } else {
      long pid = px.ch.pid;
      int code = stop_child(L, &px.ch, "kill"), i;
      drop_stream(&px);
      if (!px.x->replace) { /* an executor breaks: submits raise from now */
        braid__pool_break(px.p);
        fail_all(&px, DONE_BROKEN);
        return 0;
      }
      if (!px.unsent) {
        fail_lost(L, oldest(&px), pid, code);
        pop_oldest(&px);
        px.c->tasks++;
      }
      px.unsent = 0;
      if (!start_worker(L, px.p, px.x, &px.ch, 0)) {
        if (!atomic_load(&px.x->stop)) braid__pool_break(px.p);
        fail_all(&px, DONE_BROKEN);
        return 0;
      }
      /* what the dead child had not started goes to the new one (a big
      ** second work once the first is answered, as in fill) */
      px.held = 0;
      for (i = 0; i < px.n; i++) {
        Flight *f = &px.fl[(px.head + i) % DEPTH];
        if (i > 0 && work_size(&px.ch, f) > PIPELINE_MAX) {
          px.held = 1;
          break;
        }
        (void)send_work(&px.ch, f);
      }
    }
  }
  stop_child(L, &px.ch, atomic_load(&px.x->stop) ? "terminate" : "exit");
  return 0;
}


static void *proxy_thread_entry(void *arg) {
  braid_thread *t = (braid_thread *)arg;
  braid_pool *p = (braid_pool *)t->ud;
  braidB_worker_run(t, proxy_body, p);
  braid__pool_worker_exit(p);
  return NULL;
}


/* core.procpool_wait_started(pool, n): waits until 'n' proxies have
** started their first child (or failed to). A pool starts its workers
** before it returns, as Python's does: a child forked later by a proxy
** thread would inherit whatever descriptors the program opened meanwhile
** (the pipe of an io.popen, whose reader would then never see its end).
** When a first start failed with an OSError (no descriptor left, fork
** failed), the pool is terminated, its workers are joined (they kill
** their children: bounded), 'pool' is closed (its descriptors go now,
** not at the next collection) and the OSError is raised: nothing of the
** pool is left. */
static int core_procpool_wait_started(lua_State *L) {
  braid_pool *p = (braid_pool *)braidB_checkhandle(L, 1, &braid__pool_type);
  lua_Integer n = braidB_checkinteger(L, 2);
  ProcExt *x = (ProcExt *)braid__pool_ext(p);
  int e;
  if (!braid__pool_is_process(p) || x == NULL) return 0;
  braid__mutex_lock(&x->mu);
  while (x->started < n && !braid__pool_broken(p))
    braid__cond_wait(&x->cv, &x->mu, NULL);
  e = x->start_errno;
  braid__mutex_unlock(&x->mu);
  if (e == 0) return 0;
  braid__pool_terminate(p);
  (void)braid__pool_join(p, NULL);
  /* The proxies have ended, and the pool was never handed out: nothing
  ** can notify it any more. Its wake pipe goes now, not when the last
  ** proxy thread lets the pool go (just after join returns). */
  close(x->wake[0]);
  close(x->wake[1]);
  x->wake[0] = x->wake[1] = -1;
  braidB_closehandle(L, 1);
  return braidB_oserror(L, e, "cannot start a worker process");
}


/* Sends F_EXIT: the child leaves its loop (core.procpool_exit(fd)). */
static int core_procpool_exit(lua_State *L) {
  FrameHdr h;
  memset(&h, 0, sizeof h);
  h.kind = F_EXIT;
  lua_pushboolean(L, braid__fd_write_all((int)braidB_checkinteger(L, 1), &h,
                                         sizeof h) == BRAID_OK);
  return 1;
}


void braidB_procpool_opts(lua_State *L, int idx, braid_pool_opts *o) {
  const char *method, *name, *exe;
  ProcExt *x;
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "method");
  lua_getfield(L, idx, "name");
  lua_getfield(L, idx, "executable");
  lua_getfield(L, idx, "builtin");
  lua_getfield(L, idx, "replace");
  lua_getfield(L, idx, "raise_start");
  method = lua_tostring(L, -6);
  name = lua_tostring(L, -5);
  exe = lua_tostring(L, -4);
  x = (ProcExt *)braid__calloc(1, sizeof *x);
  if (x == NULL) braidB_nomem(L);
  x->wake[0] = x->wake[1] = -1;
  braid__mutex_init(&x->mu);
  braid__cond_init(&x->cv);
  x->method = braid__strdup(method ? method : "fork");
  x->prefix = braid__strdup(name ? name : "PoolWorker");
  x->exe = exe ? braid__strdup(exe) : NULL;
  x->builtin = lua_toboolean(L, -3);
  x->replace = lua_toboolean(L, -2);
  x->raise_start = lua_toboolean(L, -1);
  lua_pop(L, 6);
  if (x->method == NULL || x->prefix == NULL || (exe && x->exe == NULL)) {
    ext_free(x);
    braidB_nomem(L);
  }
  if (pipe2(x->wake, O_CLOEXEC) != 0 &&
      (!braidB_fdgc(L, errno) || pipe2(x->wake, O_CLOEXEC) != 0)) {
    int e = errno;
    ext_free(x);
    braidB_oserror(L, e, "cannot set up a process pool");
  }
  o->process = 1;
  o->entry = proxy_thread_entry;
  o->ext = x;
  o->ext_free = ext_free;
  o->ext_notify = ext_notify;
}
/* }====================================================== */


static const luaL_Reg procpool_funcs[] = {
  { "procpool_serve", core_procpool_serve },
  { "procpool_exit", core_procpool_exit },
  { "procpool_wait_started", core_procpool_wait_started },
  { NULL, NULL },
};


void braidB_open_procpool(lua_State *L) {
  luaL_setfuncs(L, procpool_funcs, 0);
}

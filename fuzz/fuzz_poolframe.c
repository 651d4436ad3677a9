/*
** fuzz_poolframe.c: libFuzzer target for the framing between a process
** pool's proxy thread and its child (src/core/poolframe.c, driven as
** src/bind/lprocpool.c drives it): the child's reading of work frames
** (braid__pf_read_work: a call's arguments, a chunk's items, a new
** function, a map call's values, a streamed payload's memfd), and the
** proxy's reading of the child's replies (braid__pf_read_ready, then
** braid__pf_read_reply with the proxy's state: a result's stream entry
** with its memfd, then its outcome, outcomes with segment descriptors, a
** chunk's results). The bytes and the descriptors attached to them are the
** input's; a memfd may hold a stream whose control page says what the
** input says (braid__pstream_forge), which is decoded as the proxy's
** caller (or the child) decodes it. An outcome's message is decoded as a
** result() does (BRAID_DEC_NOCODE: its bytes are fuzz_decode's business;
** here the descriptors that come with it are).
**
** Input: byte 0: bit 0 the reader (0 the child, 1 the proxy), bit 1 the
** proxy reads the READY handshake first, bits 2-6 the items of the chunk
** the proxy waits for (0: a call), bit 7 (the proxy) the writing end
** stays open: a frame cut short is a peer that went silent, which the
** proxy's 'wait' gives up on as lprocpool.c's stall bound does. Then writes, each: a byte whose low 2
** bits are how many descriptors go with it (then per descriptor a byte:
** its kind in the low 2 bits (0 a memfd holding a forged stream, 1 a
** pipe's read end, 2 /dev/null, 3 a memfd of (byte >> 2) * 64 bytes),
** and for a forged stream 3 more bytes: which message and how much of it
** is published, its state and restart flag, where its final message
** lies), then a 2-byte length and that many bytes. The writes go into a
** socket pair whose writing end is then shut (but see bit 7), so every
** read ends.
**
** Checks: no crash or sanitizer report; every descriptor the readers got
** is closed or handed on (the open descriptors are counted before and
** after each input); a message handed on obeys the header (a chunk's
** results one per task, a streamed payload the mark with one memfd); the
** run ends (libFuzzer's -timeout).
**
** BRAID_POOLFRAME_SEEDS=dir: writes the seed corpus (real frames made by
** the writers, braid__pf_send and braid__pf_send_reply, with messages
** encoded by braid.core.dumps) into 'dir' and exits.
** See LICENSE for copyright and license.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "braidlib.h"
#include "lcodec.h"
#include "lpstream.h"
#include "pool.h"
#include "poolframe.h"
#include "process.h"
#include "pstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static lua_State *FL;
static int trace; /* BRAID_POOLFRAME_TRACE set: says what each read gave */

#define TRACE(...) \
  do { \
    if (trace) fprintf(stderr, __VA_ARGS__); \
  } while (0)

/* The messages a forged stream may hold (core.dumps of plain values:
** nothing in them runs code, so no sandbox is needed). */
#define NTEMPL 4
static const char *const TEMPL_SRC[NTEMPL] = {
  "return 'hello'",
  "return {1, 2, 3, x = 'y', t = {true, false, 2.5}}",
  "return string.rep('abcdefgh', 200)",
  "local t = {} for i = 1, 300 do t[i] = {i, tostring(i)} end return t",
};
static char *templ[NTEMPL];
static size_t templ_len[NTEMPL];


static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  if (d == NULL) abort();
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory's own */
}


static void close_state(void) {
  if (FL != NULL) lua_close(FL);
  FL = NULL;
}

static void init(void) {
  int i;
  FL = luaL_newstate();
  if (FL == NULL) abort();
  trace = getenv("BRAID_POOLFRAME_TRACE") != NULL;
  atexit(close_state);
  luaL_openlibs(FL);
  luaL_requiref(FL, "braid.core", luaopen_braid_core, 0);
  for (i = 0; i < NTEMPL; i++) {
    size_t n;
    const char *s;
    lua_getfield(FL, -1, "dumps");
    if (luaL_loadstring(FL, TEMPL_SRC[i]) != LUA_OK ||
        lua_pcall(FL, 0, 1, 0) != LUA_OK || lua_pcall(FL, 1, 1, 0) != LUA_OK)
      abort();
    s = lua_tolstring(FL, -1, &n);
    templ[i] = (char *)malloc(n);
    if (templ[i] == NULL) abort();
    memcpy(templ[i], s, n);
    templ_len[i] = n;
    lua_pop(FL, 1);
  }
  lua_settop(FL, 0);
}


/* A memfd holding a stream of template message p[0] % NTEMPL whose
** control page lies as p[0..2] say: the published count (all, less, or
** more than there is), the state and restart flag, the final message's
** place. -1 when the system refuses. */
static int forged_stream(const uint8_t *p) {
  unsigned t = p[0] % NTEMPL;
  size_t len = templ_len[t];
  unsigned long long count = len, off = 0, flen = 0;
  int fd = memfd_create("braid-stream", MFD_CLOEXEC);
  if (fd < 0) return -1;
  switch ((p[0] >> 2) & 3) {
  case 1: count = len / 2; break;
  case 2: count = len + (p[0] >> 4) + 1; break; /* past the bytes */
  case 3: count = (unsigned long long)p[2] << 56; break;
  }
  if (p[1] & 4) { /* a restart: the final message somewhere */
    off = p[2] & 0x7f;
    flen = (p[2] & 0x80) ? len : len - off % (len ? len : 1);
  }
  if (ftruncate(fd, BRAID_PSTREAM_CTL) != 0 ||
      braid__pstream_forge(fd, count, p[1] % 4, (p[1] >> 2) & 1, off,
                           flen) != 0 ||
      pwrite(fd, templ[t], len, BRAID_PSTREAM_CTL) != (ssize_t)len) {
    close(fd);
    return -1;
  }
  return fd;
}


/* Writes the input's writes into 'w' (see the top). */
static void write_input(int w, const uint8_t *data, size_t size) {
  size_t at = 0;
  while (at < size) {
    int fds[3], nfds = 0, want = data[at++] & 3, i;
    size_t len;
    while (nfds < want && at < size) {
      uint8_t k = data[at++];
      int fd = -1;
      switch (k & 3) {
      case 0:
        if (size - at < 3) { at = size; break; }
        fd = forged_stream(data + at);
        at += 3;
        break;
      case 1: {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC) == 0) {
          close(pp[1]); /* its reader sees the end at once */
          fd = pp[0];
        }
        break;
      }
      case 2: fd = open("/dev/null", O_RDONLY | O_CLOEXEC); break;
      case 3:
        fd = memfd_create("braid-seg", MFD_CLOEXEC);
        if (fd >= 0 && ftruncate(fd, (off_t)(k >> 2) * 64) != 0) {
          close(fd);
          fd = -1;
        }
        break;
      }
      if (fd >= 0) fds[nfds++] = fd;
    }
    if (size - at < 2) len = size - at;
    else {
      len = (size_t)data[at] | (size_t)data[at + 1] << 8;
      at += 2;
    }
    if (len > size - at) len = size - at;
    if (len > 0) {
      struct iovec iov;
      iov.iov_base = (void *)(data + at);
      iov.iov_len = len;
      (void)braid__pf_send(w, &iov, 1, fds, nfds);
    }
    for (i = 0; i < nfds; i++) close(fds[i]);
    at += len;
  }
}


/* Decodes a message standing for a stream ('ud' the message). */
static int decode_stream(lua_State *L) {
  return braidB_pstream_msg(L, (const braid_msg *)lua_touserdata(L, 1));
}

/* Decodes an outcome as a result() of it does, but refusing code. */
static int decode_msg(lua_State *L) {
  braid_msg *m = (braid_msg *)lua_touserdata(L, 1);
  lua_settop(L, 0);
  return braid__decode_owned_flags(L, m, BRAID_DEC_NOCODE);
}

static void run(lua_CFunction f, braid_msg *m) {
  lua_pushcfunction(FL, f);
  lua_pushlightuserdata(FL, m);
  if (lua_pcall(FL, 1, 1, 0) != LUA_OK) TRACE("decode: %s\n", lua_tostring(FL, -1));
  else TRACE("decoded a %s\n", luaL_typename(FL, -1));
  lua_settop(FL, 0);
}


/* The child's side: work frames until one ends the loop. */
static void child(int fd) {
  braid_pf_in in = { fd, NULL, NULL }; /* as the child reads: blocking */
  braid_pf_work w;
  int rc;
  while ((rc = braid__pf_read_work(&in, &w)) == BRAID_OK) {
    braid_msg *p = w.payload;
    TRACE("work kind %u fn %d calls %d nfds %u payload %zu\n", w.h.kind,
          w.fn != NULL, w.calls != NULL, w.h.nfds, p ? p->len : 0);
    if (w.h.kind != BRAID_PF_CALL && w.h.kind != BRAID_PF_CHUNK) abort();
    if (w.h.kind == BRAID_PF_CHUNK &&
        (p == NULL || p->nitems != w.h.nitems || w.h.chunksize == 0))
      abort();
    if ((w.fn != NULL) != (w.h.fnlen > 0) ||
        (w.calls != NULL) != (w.h.calllen > 0))
      abort();
    if (w.h.nfds == 1) { /* the payload streams */
      if (p == NULL || p->nsegs != 1 ||
          !braid__pstream_is_mark(p->data, p->len, p->nsegs))
        abort();
      run(decode_stream, p);
    }
    braid__pf_work_free(&w);
  }
  TRACE("work: %d\n", rc);
}


/* The proxy's 'wait' mid-frame: called only when the writing end stayed
** open and the bytes ran out (a shut end reads as the end of file): the
** peer went silent, given up at once as a stall (lprocpool.c waits for
** its bound first). */
static int proxy_wait(void *ud) {
  (void)ud;
  return BRAID_ETIMEDOUT;
}


/* The proxy's side: READY (when asked), then replies to a call or a
** chunk of 'items' tasks, as proxy_body reads them, until one breaks. */
static void proxy(int fd, int ready, uint32_t items) {
  braid_pf_in in = { fd, proxy_wait, NULL };
  braid_msg *smsg = NULL; /* the stream of the work in flight */
  if (ready && braid__pf_read_ready(&in) != BRAID_OK) {
    TRACE("not ready\n");
    return;
  }
  for (;;) {
    braid_pf_reply r;
    int rc = braid__pf_read_reply(&in, items, smsg != NULL, &r);
    TRACE("reply %d ok %d m %zu segs %u\n", rc, r.ok, r.m ? r.m->len : 0,
          r.m ? r.m->nsegs : 0);
    if (rc == BRAID_PF_R_STREAM) {
      if (smsg != NULL || r.sfd < 0) abort();
      smsg = braidB_pstream_mark(r.sfd, 0);
      if (smsg == NULL) break;
      continue;
    }
    if (rc != BRAID_PF_R_OUTCOME) break;
    if (r.m != NULL && r.m->tag == BRAID_RESULT_ITEMS &&
        (items == 0 || r.m->nitems != items || smsg != NULL))
      abort();
    if (smsg != NULL) { /* the stream's outcome */
      if (r.ok && r.m != NULL) abort();
      if (r.ok) run(decode_stream, smsg);
      braid__msg_free(smsg);
      smsg = NULL;
    }
    if (r.m != NULL) {
      if (r.m->tag == BRAID_RESULT_ITEMS) braid__msg_free(r.m);
      else run(decode_msg, r.m); /* frees it */
    }
  }
  braid__msg_free(smsg);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int sv[2], before;
  if (size < 1) return 0;
  if (FL == NULL) init();
  before = count_fds();
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  write_input(sv[1], data + 1, size - 1);
  /* the child's reads block: its writer is always shut */
  if (!(data[0] & 1) || !(data[0] & 0x80)) shutdown(sv[1], SHUT_WR);
  if (data[0] & 1) proxy(sv[0], data[0] & 2, ((uint32_t)data[0] >> 2) & 31);
  else child(sv[0]);
  close(sv[0]);
  close(sv[1]);
  if (count_fds() != before) {
    fprintf(stderr, "fuzz_poolframe: %d descriptors before, %d after\n",
            before, count_fds());
    abort();
  }
  return 0;
}


/* {====================== the seed corpus ====================== */

/* Captures what the writers write for one frame: 'iov' sent with 'nfds'
** descriptors (the seed describes them as kinds, 'kinds'), appended to
** the seed in 'out' as one write. */
typedef struct Seed {
  unsigned char b[8192];
  size_t n;
} Seed;

static void seed_put(Seed *s, const void *p, size_t n) {
  if (s->n + n > sizeof s->b) abort();
  memcpy(s->b + s->n, p, n);
  s->n += n;
}

/* One write: 'nfds' descriptors of the given kind bytes, the bytes. */
static void seed_write(Seed *s, const uint8_t *kinds, int nkinds,
                       const void *p, size_t n) {
  uint8_t c = (uint8_t)nkinds, l[2];
  int i;
  seed_put(s, &c, 1);
  for (i = 0; i < nkinds; i++) {
    seed_put(s, &kinds[4 * i], 1);
    if ((kinds[4 * i] & 3) == 0) seed_put(s, &kinds[4 * i + 1], 3);
  }
  l[0] = (uint8_t)(n & 0xff);
  l[1] = (uint8_t)(n >> 8);
  seed_put(s, l, 2);
  seed_put(s, p, n);
}

/* The bytes a writer wrote into a socket pair's other end. */
static size_t drain(int fd, unsigned char *buf, size_t cap) {
  size_t n = 0;
  ssize_t k;
  while (n < cap && (k = recv(fd, buf + n, cap - n, MSG_DONTWAIT)) > 0)
    n += (size_t)k;
  return n;
}

static braid_msg *dumped(const char *src, int items) {
  size_t n;
  const char *s;
  braid_msg *m;
  lua_getglobal(FL, "require");
  lua_pushliteral(FL, "braid.core");
  lua_call(FL, 1, 1);
  lua_getfield(FL, -1, "dumps");
  if (luaL_loadstring(FL, src) != LUA_OK || lua_pcall(FL, 0, 1, 0) != LUA_OK ||
      lua_pcall(FL, 1, 1, 0) != LUA_OK)
    abort();
  s = lua_tolstring(FL, -1, &n);
  if (items) { /* a batch of one item, its bytes as dumps wrote them */
    m = braid__msg_alloc(n, 1, 0);
    memcpy(m->data, s, n);
    m->offs[0] = 0;
  } else m = braid__msg_from_bytes(s, n);
  lua_settop(FL, 0);
  return m;
}

static void seed_file(const char *dir, const char *name, const Seed *s) {
  char path[512];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* A reply as braid__pf_send_reply writes it, described with 'kinds'. */
static void seed_reply(Seed *s, uint32_t status, const braid_msg *m,
                       const uint8_t *kinds, int nkinds) {
  int sv[2];
  unsigned char buf[8192];
  size_t n;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  if (status == BRAID_PF_STREAM) { /* as lprocpool.c's stream_entry */
    braid_pf_reply_hdr h;
    struct iovec iov;
    memset(&h, 0, sizeof h);
    h.status = status;
    h.nfds = 1;
    iov.iov_base = &h;
    iov.iov_len = sizeof h;
    if (braid__pf_send(sv[1], &iov, 1, NULL, 0) != BRAID_OK) abort();
  } else if (braid__pf_send_reply(sv[1], status, m) != BRAID_OK) {
    abort(); /* its descriptors, if any, are dropped unread */
  }
  n = drain(sv[0], buf, sizeof buf);
  seed_write(s, kinds, nkinds, buf, n);
  close(sv[0]);
  close(sv[1]);
}

/* A work frame as lprocpool.c's send_work lays it out. */
static void seed_work(Seed *s, const braid_pf_hdr *h, const braid_msg *fn,
                      const braid_msg *calls, const braid_msg *payload,
                      const uint8_t *kinds, int nkinds) {
  int sv[2], n = 0;
  unsigned char buf[8192];
  struct iovec iov[5];
  iov[n].iov_base = (void *)h;
  iov[n++].iov_len = sizeof *h;
  if (fn) {
    iov[n].iov_base = fn->data;
    iov[n++].iov_len = fn->len;
  }
  if (calls) {
    iov[n].iov_base = calls->data;
    iov[n++].iov_len = calls->len;
  }
  if (payload && payload->offs) {
    iov[n].iov_base = payload->offs;
    iov[n++].iov_len = payload->nitems * sizeof(uint32_t);
  }
  if (payload) {
    iov[n].iov_base = payload->data;
    iov[n++].iov_len = payload->len;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  if (braid__pf_send(sv[1], iov, n, NULL, 0) != BRAID_OK) abort();
  seed_write(s, kinds, nkinds, buf, drain(sv[0], buf, sizeof buf));
  close(sv[0]);
  close(sv[1]);
}

static void make_seeds(const char *dir) {
  static const uint8_t stream_fd[4] = { 0, 1, 1, 0 }; /* a whole stream */
  static const uint8_t seg_fds[8] = { 3 | (2 << 2), 0, 0, 0, 2, 0, 0, 0 };
  braid_msg *fn = dumped("return function(x) return x end", 0);
  braid_msg *arg = dumped("return {1, 'two', {3}}", 0);
  braid_msg *res = dumped("return {ok = true, n = 42}", 0);
  braid_msg *item = dumped("return {1, 2, 3}", 1);
  braid_msg *mark = braid__msg_from_bytes(BRAID_PSTREAM_MARK,
                                          BRAID_PSTREAM_MARKLEN);
  braid_msg *mark1 = braid__msg_alloc(BRAID_PSTREAM_MARKLEN, 1, 0);
  braid_pf_hdr h;
  Seed s;
  memcpy(mark1->data, BRAID_PSTREAM_MARK, BRAID_PSTREAM_MARKLEN);
  mark1->offs[0] = 0;
  /* the child: a call, a chunk, a streamed call, a streamed chunk, exit */
  memset(&s, 0, sizeof s);
  s.b[s.n++] = 0;
  memset(&h, 0, sizeof h);
  h.kind = BRAID_PF_CALL;
  h.fnlen = fn->len;
  h.len = arg->len;
  seed_work(&s, &h, fn, NULL, arg, NULL, 0);
  memset(&h, 0, sizeof h);
  h.kind = BRAID_PF_CHUNK;
  h.nitems = 1;
  h.chunksize = 1;
  h.calllen = arg->len;
  h.len = item->len;
  seed_work(&s, &h, NULL, arg, item, NULL, 0);
  h.kind = BRAID_PF_EXIT;
  h.calllen = h.len = h.nitems = 0;
  seed_work(&s, &h, NULL, NULL, NULL, NULL, 0);
  seed_file(dir, "work_call_chunk_exit", &s);
  memset(&s, 0, sizeof s);
  s.b[s.n++] = 0;
  memset(&h, 0, sizeof h);
  h.kind = BRAID_PF_CALL;
  h.fnlen = fn->len;
  h.len = mark->len;
  h.nfds = 1;
  seed_work(&s, &h, fn, NULL, mark, stream_fd, 1);
  memset(&h, 0, sizeof h);
  h.kind = BRAID_PF_CHUNK;
  h.nitems = h.chunksize = 1;
  h.len = mark1->len;
  h.nfds = 1;
  seed_work(&s, &h, NULL, NULL, mark1, stream_fd, 1);
  seed_file(dir, "work_streamed", &s);
  /* the proxy: READY, a result, an error, a result with segments */
  memset(&s, 0, sizeof s);
  s.b[s.n++] = 1 | 2;
  seed_reply(&s, BRAID_PF_READY, NULL, NULL, 0);
  seed_reply(&s, BRAID_PF_OK, res, NULL, 0);
  seed_reply(&s, BRAID_PF_EXC, res, NULL, 0);
  {
    int d[2];
    braid_msg *segd = dumped("return {ok = true, n = 42}", 0);
    d[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    d[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (braid__msg_take_segs(segd, d, 2) != BRAID_OK) abort();
    seed_reply(&s, BRAID_PF_OK, segd, seg_fds, 2); /* its header says 2 */
    braid__msg_free(segd);
  }
  seed_file(dir, "reply_ready_ok_exc", &s);
  /* a streamed result: the entry with its memfd, then STREAMED */
  memset(&s, 0, sizeof s);
  s.b[s.n++] = 1;
  seed_reply(&s, BRAID_PF_STREAM, NULL, stream_fd, 1);
  seed_reply(&s, BRAID_PF_STREAMED, NULL, NULL, 0);
  seed_reply(&s, BRAID_PF_STREAM, NULL, stream_fd, 1);
  seed_reply(&s, BRAID_PF_EXC, res, NULL, 0);
  seed_file(dir, "reply_stream", &s);
  /* a chunk of one task's results */
  memset(&s, 0, sizeof s);
  s.b[s.n++] = 1 | (1 << 2);
  item->tag = BRAID_RESULT_ITEMS;
  seed_reply(&s, BRAID_PF_OK, item, NULL, 0);
  seed_file(dir, "reply_chunk", &s);
  /* bigger than the fuzz build's BRAID_PF_EAGER (64): the buffers grow;
  ** a chunk of 20 tasks' results (20 offsets: more than 64 bytes) */
  memset(&s, 0, sizeof s);
  s.b[s.n++] = 1;
  {
    braid_msg *big = dumped(
        "local t = {} for i = 1, 40 do t[i] = 'item' .. i end return t", 0);
    braid_msg *items = braid__msg_alloc(20, 20, 0);
    int i;
    seed_reply(&s, BRAID_PF_OK, big, NULL, 0);
    seed_file(dir, "reply_big", &s);
    memset(&s, 0, sizeof s);
    s.b[s.n++] = 1 | (20 << 2);
    for (i = 0; i < 20; i++) {
      items->data[i] = 0x0b; /* one byte each: not decoded here */
      items->offs[i] = (uint32_t)i;
    }
    items->tag = BRAID_RESULT_ITEMS;
    seed_reply(&s, BRAID_PF_OK, items, NULL, 0);
    seed_file(dir, "reply_chunk20", &s);
    braid__msg_free(big);
    braid__msg_free(items);
  }
  /* a reply whose length lies, its writer silent but open */
  memset(&s, 0, sizeof s);
  s.b[s.n++] = 1 | 0x80;
  {
    braid_pf_reply_hdr rh;
    memset(&rh, 0, sizeof rh);
    rh.status = BRAID_PF_OK;
    rh.len = res->len + 1000;
    seed_write(&s, NULL, 0, &rh, sizeof rh);
    seed_write(&s, NULL, 0, res->data, res->len);
    seed_file(dir, "reply_stalled", &s);
  }
  braid__msg_free(fn);
  braid__msg_free(arg);
  braid__msg_free(res);
  braid__msg_free(item);
  braid__msg_free(mark);
  braid__msg_free(mark1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *dir = getenv("BRAID_POOLFRAME_SEEDS");
  (void)argc;
  (void)argv;
  if (dir != NULL) {
    init();
    make_seeds(dir);
    exit(0);
  }
  return 0;
}
/* }==================================================== */

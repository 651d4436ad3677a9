/*
** test_poolframe.c: a process pool's framing (poolframe.h) from C alone,
** with core headers only, over a socket pair: a reply and its segment
** round trip; replies that break the rules (a descriptor the header does
** not count, one it counts that does not come, a stream entry with a pipe
** for its memfd, READY with a descriptor) are refused with every
** descriptor closed; a peer that stops mid-frame (a truncated header, a
** lying length) while its end stays open is given up through the 'wait'
** hook, not waited for; a length far past the bytes that came costs no
** allocation of that length; work frames with a descriptor where none
** may come are refused and the descriptor closed.
*/
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "braidint.h"
#include "pool.h"
#include "poolframe.h"
#include "pstream.h"
#include "wire.h"
#include "ctest.h"

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  if (d == NULL) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static int pair(int sv[2]) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

/* Sends a reply header as given, with 'nfds' descriptors, then 'extra'. */
static int send_hdr(int fd, const braid_pf_reply_hdr *h, const int *fds,
                    int nfds, const void *extra, size_t n) {
  struct iovec iov[2];
  iov[0].iov_base = (void *)h;
  iov[0].iov_len = sizeof *h;
  iov[1].iov_base = (void *)extra;
  iov[1].iov_len = n;
  return braid__pf_send(fd, iov, n > 0 ? 2 : 1, fds, nfds);
}

/* The 'wait' of a reader whose peer stays silent: after 50 ms of
** nothing, gives the frame up. */
static int waits;
static int give_up(void *ud) {
  struct pollfd pf;
  pf.fd = *(int *)ud;
  pf.events = POLLIN;
  pf.revents = 0;
  waits++;
  return poll(&pf, 1, 50) > 0 ? BRAID_OK : BRAID_ETIMEDOUT;
}

static void test_round_trip(void) {
  int sv[2], seg, fds0 = count_fds();
  braid_pf_in in;
  braid_pf_reply r;
  braid_msg *m = braid__msg_from_bytes("hello", 5);
  CHECK(m != NULL && pair(sv) == 0);
  seg = memfd_create("braid-seg", MFD_CLOEXEC);
  CHECK(seg >= 0 && ftruncate(seg, 4096) == 0);
  CHECK_EQ(braid__msg_take_segs(m, &seg, 1), BRAID_OK);
  CHECK_EQ(braid__pf_send_reply(sv[1], BRAID_PF_OK, m), BRAID_OK);
  braid__msg_free(m);
  in.fd = sv[0];
  in.wait = NULL;
  in.ud = NULL;
  CHECK_EQ(braid__pf_read_reply(&in, 0, 0, &r), BRAID_PF_R_OUTCOME);
  CHECK(r.ok && r.m != NULL && r.m->len == 5);
  CHECK(memcmp(r.m->data, "hello", 5) == 0);
  CHECK_EQ(r.m->nsegs, 1);
  braid__msg_free(r.m);
  close(sv[0]);
  close(sv[1]);
  CHECK_EQ(count_fds(), fds0);
}

/* A reply that breaks the rules with descriptors: refused, all closed. */
static void refused(uint32_t status, uint32_t hnfds, int nfds, int pipe_kind,
                    int streaming) {
  int sv[2], fds[2], i, fds0 = count_fds();
  braid_pf_in in;
  braid_pf_reply r;
  braid_pf_reply_hdr h;
  memset(&h, 0, sizeof h);
  h.status = status;
  h.nfds = hnfds;
  CHECK(pair(sv) == 0);
  for (i = 0; i < nfds; i++) {
    if (pipe_kind) {
      int pp[2];
      CHECK(pipe2(pp, O_CLOEXEC) == 0);
      close(pp[1]);
      fds[i] = pp[0];
    } else {
      fds[i] = memfd_create("braid-stream", MFD_CLOEXEC);
      CHECK(fds[i] >= 0);
    }
  }
  CHECK_EQ(send_hdr(sv[1], &h, fds, nfds, NULL, 0), BRAID_OK);
  for (i = 0; i < nfds; i++) close(fds[i]);
  in.fd = sv[0];
  in.wait = NULL;
  in.ud = NULL;
  CHECK(braid__pf_read_reply(&in, 0, streaming, &r) < 0);
  CHECK(r.m == NULL && r.sfd == -1);
  close(sv[0]);
  close(sv[1]);
  CHECK_EQ(count_fds(), fds0);
}

static void test_refused(void) {
  refused(BRAID_PF_STREAM, 0, 1, 0, 0);      /* a descriptor not counted */
  if (ctest_failed_now) return;
  refused(BRAID_PF_STREAM, 1, 0, 0, 0);      /* counted, not come */
  if (ctest_failed_now) return;
  refused(BRAID_PF_STREAM, 1, 1, 1, 0);      /* a pipe for the memfd */
  if (ctest_failed_now) return;
  refused(BRAID_PF_STREAM, 2, 2, 0, 0);      /* two for a stream */
  if (ctest_failed_now) return;
  refused(BRAID_PF_STREAM, 1, 1, 0, 1);      /* a second stream entry */
  if (ctest_failed_now) return;
  refused(BRAID_PF_STREAMED, 1, 1, 0, 1);    /* STREAMED brings nothing */
}

static void test_ready(void) {
  int sv[2], fd = memfd_create("x", MFD_CLOEXEC), fds0;
  braid_pf_in in;
  braid_pf_reply_hdr h;
  CHECK(fd >= 0 && pair(sv) == 0);
  fds0 = count_fds() - 1; /* 'fd' is closed below */
  memset(&h, 0, sizeof h);
  h.status = BRAID_PF_READY;
  h.nfds = 1;
  CHECK_EQ(send_hdr(sv[1], &h, &fd, 1, NULL, 0), BRAID_OK);
  close(fd);
  h.nfds = 0;
  CHECK_EQ(send_hdr(sv[1], &h, NULL, 0, NULL, 0), BRAID_OK);
  in.fd = sv[0];
  in.wait = NULL;
  in.ud = NULL;
  CHECK_EQ(braid__pf_read_ready(&in), BRAID_EINVAL); /* with a descriptor */
  CHECK_EQ(count_fds(), fds0);
  CHECK_EQ(braid__pf_read_ready(&in), BRAID_OK);
  close(sv[0]);
  close(sv[1]);
}

/* The peer stops mid-frame and stays: the 'wait' hook gives it up. */
static void test_stalled(void) {
  int sv[2], fds0 = count_fds();
  braid_pf_in in;
  braid_pf_reply r;
  braid_pf_reply_hdr h;
  CHECK(pair(sv) == 0);
  memset(&h, 0, sizeof h);
  h.status = BRAID_PF_OK;
  h.len = 1000; /* 10 come */
  CHECK_EQ(send_hdr(sv[1], &h, NULL, 0, "0123456789", 10), BRAID_OK);
  in.fd = sv[0];
  in.wait = give_up;
  in.ud = &sv[0];
  waits = 0;
  CHECK_EQ(braid__pf_read_reply(&in, 0, 0, &r), BRAID_ETIMEDOUT);
  CHECK(r.m == NULL && waits >= 1);
  /* half a header */
  CHECK(write(sv[1], &h, sizeof h / 2) == (ssize_t)(sizeof h / 2));
  waits = 0;
  CHECK_EQ(braid__pf_read_reply(&in, 0, 0, &r), BRAID_ETIMEDOUT);
  CHECK(waits >= 1);
  close(sv[0]);
  close(sv[1]);
  CHECK_EQ(count_fds(), fds0);
}

/* A length of 512 GiB, then the end: the end is seen, as for any cut
** frame, without 512 GiB being asked for first (BRAID_PF_EAGER). */
static void test_lying_length(void) {
  int sv[2];
  braid_pf_in in;
  braid_pf_reply r;
  braid_pf_reply_hdr h;
  CHECK(pair(sv) == 0);
  memset(&h, 0, sizeof h);
  h.status = BRAID_PF_OK;
  h.len = (uint64_t)1 << 39;
  h.nitems = 1u << 27; /* and 512 MiB of item offsets */
  CHECK_EQ(send_hdr(sv[1], &h, NULL, 0, "abc", 3), BRAID_OK);
  shutdown(sv[1], SHUT_WR);
  in.fd = sv[0];
  in.wait = NULL;
  in.ud = NULL;
  CHECK_EQ(braid__pf_read_reply(&in, 0, 0, &r), BRAID_ECLOSED);
  close(sv[0]);
  close(sv[1]);
}

/* Work frames with a descriptor where none may come: refused, closed. */
static void test_work_refused(void) {
  static const struct { uint32_t kind, nitems, nfds; const char *payload; }
      cases[] = {
        { BRAID_PF_CALL, 0, 1, "\x01\x01\x01\x00" }, /* not the mark */
        { BRAID_PF_CHUNK, 2, 1, "\x01\x01\x01\x00" }, /* not the mark */
        { BRAID_PF_EXIT, 0, 1, "" },                 /* with EXIT */
        { BRAID_PF_CALL, 0, 0, "\xb7STR" },          /* counted, not come */
      };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int sv[2], fd, fds0 = count_fds(), sent = 0;
    braid_pf_in in;
    braid_pf_work w;
    braid_pf_hdr h;
    struct iovec iov[3];
    uint32_t offs[2] = { 0, 2 };
    int n = 1;
    CHECK(pair(sv) == 0);
    memset(&h, 0, sizeof h);
    h.kind = cases[i].kind;
    h.nitems = cases[i].nitems;
    h.chunksize = 1;
    h.nfds = 1;
    h.len = strlen(cases[i].payload);
    iov[0].iov_base = &h;
    iov[0].iov_len = sizeof h;
    if (h.nitems > 0) {
      iov[n].iov_base = offs;
      iov[n++].iov_len = h.nitems * sizeof(uint32_t);
    }
    iov[n].iov_base = (void *)cases[i].payload;
    iov[n++].iov_len = h.len;
    fd = memfd_create("braid-stream", MFD_CLOEXEC);
    CHECK(fd >= 0);
    if (cases[i].nfds > 0) sent = 1;
    CHECK_EQ(braid__pf_send(sv[1], iov, n, &fd, sent), BRAID_OK);
    close(fd);
    shutdown(sv[1], SHUT_WR);
    in.fd = sv[0];
    in.wait = NULL;
    in.ud = NULL;
    CHECK_EQ(braid__pf_read_work(&in, &w), BRAID_EINVAL);
    CHECK(w.fn == NULL && w.calls == NULL && w.payload == NULL);
    close(sv[0]);
    close(sv[1]);
    CHECK_EQ(count_fds(), fds0);
  }
}

/* The streamed call the pool sends: the mark with its memfd. */
static void test_work_streamed(void) {
  int sv[2], fd, fds0 = count_fds();
  braid_pf_in in;
  braid_pf_work w;
  braid_pf_hdr h;
  struct iovec iov[2];
  CHECK(pair(sv) == 0);
  memset(&h, 0, sizeof h);
  h.kind = BRAID_PF_CALL;
  h.nfds = 1;
  h.len = 4;
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof h;
  iov[1].iov_base = (void *)"\xb7STR";
  iov[1].iov_len = 4;
  fd = memfd_create("braid-stream", MFD_CLOEXEC);
  CHECK(fd >= 0);
  CHECK_EQ(braid__pf_send(sv[1], iov, 2, &fd, 1), BRAID_OK);
  close(fd);
  in.fd = sv[0];
  in.wait = NULL;
  in.ud = NULL;
  CHECK_EQ(braid__pf_read_work(&in, &w), BRAID_OK);
  CHECK(w.payload != NULL && w.payload->nsegs == 1);
  CHECK(braid__pstream_is_mark(w.payload->data, w.payload->len, 1));
  braid__pf_work_free(&w);
  { /* a chunk of two items that stream: the mark, then an empty item */
    struct iovec ic[3];
    uint32_t offs[2] = { 0, 4 };
    memset(&h, 0, sizeof h);
    h.kind = BRAID_PF_CHUNK;
    h.nitems = 2;
    h.chunksize = 2;
    h.nfds = 1;
    h.len = 4;
    ic[0].iov_base = &h;
    ic[0].iov_len = sizeof h;
    ic[1].iov_base = offs;
    ic[1].iov_len = sizeof offs;
    ic[2].iov_base = (void *)"\xb7STR";
    ic[2].iov_len = 4;
    fd = memfd_create("braid-stream", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(braid__pf_send(sv[1], ic, 3, &fd, 1), BRAID_OK);
    close(fd);
    CHECK_EQ(braid__pf_read_work(&in, &w), BRAID_OK);
    CHECK(w.payload != NULL && w.payload->nsegs == 1 &&
          w.payload->nitems == 2);
    braid__pf_work_free(&w);
  }
  shutdown(sv[1], SHUT_WR);
  CHECK_EQ(braid__pf_read_work(&in, &w), BRAID_ECLOSED); /* a clean end */
  close(sv[0]);
  close(sv[1]);
  CHECK_EQ(count_fds(), fds0);
}

int main(void) {
  static const ctest_case cases[] = {
    { "a reply and its segment round trip", test_round_trip },
    { "replies with wrong descriptors are refused, all closed", test_refused },
    { "READY with a descriptor is refused", test_ready },
    { "a peer stalled mid-frame is given up through 'wait'", test_stalled },
    { "a lying length costs no allocation of it", test_lying_length },
    { "work frames with a stray descriptor are refused", test_work_refused },
    { "a streamed call's and chunk's frames: the mark and its memfd",
      test_work_streamed },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

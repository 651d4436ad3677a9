/*
** test_frame.c: Connection framing (frame.h) and the authentication
** handshake (auth.h) from C alone, with core headers only: Python's
** header forms (the 8-byte one without sending 2 GiB), a frame through a
** socket pair, the answers to a {sha256} and to a legacy challenge
** checked against digests computed by Python's hmac module, and the two
** sides of the handshake run against each other with the same and with
** different keys. braid__frame_try_header: a header read without waiting
** (nothing there, one there, one split in two writes, the 8-byte form, end
** of file, a pipe), and one that arrives while it spins. braid's own
** forms: descriptors on a header, the -2 header.
*/
#include <openssl/hmac.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "braidint.h"
#include "frame.h"
#include "process.h"
#include "ctest.h"

static void test_headers(void) {
  unsigned char h[BRAID_FRAME_HDRMAX];
  uint64_t len = 0;
  static const unsigned char small[4] = { 0, 0, 0, 5 };
  static const unsigned char big[12] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
                                         0x80, 0, 0, 0 };
  static const unsigned char neg[4] = { 0xff, 0xff, 0xff, 0xfb }; /* -5 */
  CHECK_EQ(braid__frame_header(5, h), 4);
  CHECK(memcmp(h, small, 4) == 0);
  CHECK_EQ(braid__frame_header(0x7fffffffu, h), 4);
  CHECK_EQ(braid__frame_parse(h, 4, &len), BRAID_OK);
  CHECK_EQ(len, 0x7fffffffu);
  CHECK_EQ(braid__frame_header(0x80000000u, h), 12);
  CHECK(memcmp(h, big, 12) == 0);
  CHECK_EQ(braid__frame_parse(h, 4, &len), BRAID_EAGAIN);
  CHECK_EQ(braid__frame_parse(h, 12, &len), BRAID_OK);
  CHECK_EQ(len, 0x80000000u);
  CHECK_EQ(braid__frame_parse(neg, 4, &len), BRAID_EINVAL);
  CHECK_EQ(braid__frame_parse(small, 3, &len), BRAID_EINVAL);
}

static void test_socket_frame(void) {
  int sv[2];
  uint64_t len = 0;
  size_t got = 0;
  char body[8] = { 0 };
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK_EQ(braid__frame_write(sv[0], "hello", 5), BRAID_OK);
  CHECK_EQ(braid__frame_write(sv[0], "", 0), BRAID_OK);
  close(sv[0]);
  CHECK_EQ(braid__frame_read_header(sv[1], &len, &got), BRAID_OK);
  CHECK_EQ(len, 5);
  CHECK_EQ(braid__fd_read_all(sv[1], body, 5, NULL), BRAID_OK);
  CHECK(memcmp(body, "hello", 5) == 0);
  CHECK_EQ(braid__frame_read_header(sv[1], &len, &got), BRAID_OK);
  CHECK_EQ(len, 0);
  CHECK_EQ(braid__frame_read_header(sv[1], &len, &got), BRAID_ECLOSED);
  CHECK_EQ(got, 0); /* a clean end between frames */
  close(sv[1]);
}

/* braid's Pipes: descriptors on a frame's header (segments of a message)
** and the -2 form (the bytes in the one descriptor sent); a reader that
** does not ask for descriptors gets the bytes and the kernel drops them. */
static void test_segment_frames(void) {
  int sv[2], fds[2];
  uint64_t len = 0;
  size_t got = 0, size = 0;
  char body[8] = { 0 };
  braid_frame_fds fx;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  fds[0] = braid__seg_new("segment", 7);
  fds[1] = braid__seg_new("", 0);
  CHECK(fds[0] >= 0 && fds[1] >= 0);
  CHECK_EQ(braid__frame_write_fx(sv[0], "msg", 3, fds, 2, 0), BRAID_OK);
  CHECK_EQ(braid__frame_write_fx(sv[0], NULL, 7, fds, 1, 1), BRAID_OK);
  CHECK_EQ(braid__frame_write_fx(sv[0], "xy", 2, fds, 1, 0), BRAID_OK);
  close(fds[0]);
  close(fds[1]);
  CHECK_EQ(braid__frame_read_header_fx(sv[1], &len, &got, &fx), BRAID_OK);
  CHECK_EQ(len, 3);
  CHECK_EQ(fx.seg, 0);
  CHECK_EQ(fx.n, 2);
  CHECK_EQ(braid__seg_size(fx.fds[0], &size), 0);
  CHECK_EQ(size, 7);
  CHECK_EQ(braid__seg_read(fx.fds[0], body, 7), 0);
  CHECK(memcmp(body, "segment", 7) == 0);
  close(fx.fds[0]);
  close(fx.fds[1]);
  CHECK_EQ(braid__fd_read_all(sv[1], body, 3, NULL), BRAID_OK);
  CHECK(memcmp(body, "msg", 3) == 0);
  /* the -2 form: no body; the plain reader refuses it */
  CHECK_EQ(braid__frame_try_header_fx(sv[1], 0, &len, &got, &fx), BRAID_OK);
  CHECK_EQ(fx.seg, 1);
  CHECK_EQ(len, 7);
  CHECK_EQ(fx.n, 1);
  close(fx.fds[0]);
  /* without asking: the bytes come, the descriptor does not */
  CHECK_EQ(braid__frame_read_header(sv[1], &len, &got), BRAID_OK);
  CHECK_EQ(len, 2);
  CHECK_EQ(braid__fd_read_all(sv[1], body, 2, NULL), BRAID_OK);
  CHECK(memcmp(body, "xy", 2) == 0);
  close(sv[0]);
  close(sv[1]);
}

static void unhex(const char *s, unsigned char *out) {
  size_t i;
  for (i = 0; s[2 * i]; i++) {
    unsigned v;
    sscanf(s + 2 * i, "%2x", &v);
    out[i] = (unsigned char)v;
  }
}

/* Answers computed with Python: hmac.new(b'k', msg, alg).digest(). */
/* Writes 'n' bytes of 'p' to 'fd' from another thread (try_header's
** spin and its reading of a split header). */
typedef struct Writer {
  int fd;
  const unsigned char *p;
  size_t n;
} Writer;

static void *writer_main(void *ud) {
  Writer *w = (Writer *)ud;
  braid__fd_write_all(w->fd, w->p, w->n);
  return NULL;
}

static void test_try_header(void) {
  int sv[2], pp[2];
  uint64_t len = 0;
  size_t got = 99;
  char body[8] = { 0 };
  unsigned char h[BRAID_FRAME_HDRMAX];
  pthread_t t;
  Writer w;
  int rc;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  /* nothing there: at once, and after a spin of 0.2 ms */
  CHECK_EQ(braid__frame_try_header(sv[1], 0, &len, &got), BRAID_EAGAIN);
  CHECK_EQ(got, 0);
  CHECK_EQ(braid__frame_try_header(sv[1], 200000, &len, &got), BRAID_EAGAIN);
  /* a frame there: its header, then its body as usual */
  CHECK_EQ(braid__frame_write(sv[0], "hello", 5), BRAID_OK);
  CHECK_EQ(braid__frame_try_header(sv[1], 0, &len, &got), BRAID_OK);
  CHECK_EQ(len, 5);
  CHECK_EQ(got, 4);
  CHECK_EQ(braid__fd_read_all(sv[1], body, 5, NULL), BRAID_OK);
  CHECK(memcmp(body, "hello", 5) == 0);
  /* a header whose first byte comes alone: the rest is read blocking */
  CHECK_EQ(braid__frame_header(3, h), 4);
  CHECK(write(sv[0], h, 1) == 1);
  w.fd = sv[0]; w.p = h + 1; w.n = 3;
  CHECK(pthread_create(&t, NULL, writer_main, &w) == 0);
  CHECK_EQ(braid__frame_try_header(sv[1], 0, &len, &got), BRAID_OK);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_EQ(len, 3);
  CHECK_EQ(got, 4);
  /* the 8-byte form (no body follows: only the header is read) */
  CHECK_EQ(braid__frame_header(0x80000000u, h), 12);
  CHECK(write(sv[0], h, 12) == 12);
  CHECK_EQ(braid__frame_try_header(sv[1], 0, &len, &got), BRAID_OK);
  CHECK_EQ(len, 0x80000000u);
  CHECK_EQ(got, 12);
  /* a frame written by another thread while this one spins (2 s at most:
  ** any scheduler runs the writer long before). The spin policy
  ** (src/os/spin.h) may cut the spin short on a busy machine: then the
  ** try answers EAGAIN having consumed nothing, and a blocking read of
  ** the header must still find the whole frame. */
  CHECK_EQ(braid__frame_header(7, h), 4);
  w.fd = sv[0]; w.p = h; w.n = 4;
  CHECK(pthread_create(&t, NULL, writer_main, &w) == 0);
  rc = braid__frame_try_header(sv[1], 2000000000L, &len, &got);
  if (rc == BRAID_EAGAIN) {
    CHECK_EQ(got, 0);
    rc = braid__frame_read_header(sv[1], &len, &got);
  }
  CHECK_EQ(rc, BRAID_OK);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_EQ(len, 7);
  /* end of file between frames */
  close(sv[0]);
  CHECK_EQ(braid__frame_try_header(sv[1], 0, &len, &got), BRAID_ECLOSED);
  CHECK_EQ(got, 0);
  close(sv[1]);
  /* not a socket: the caller waits and reads as before */
  CHECK(pipe(pp) == 0);
  CHECK(write(pp[1], h, 4) == 4);
  CHECK_EQ(braid__frame_try_header(pp[0], 100000, &len, &got), BRAID_EAGAIN);
  CHECK_EQ(braid__frame_read_header(pp[0], &len, &got), BRAID_OK);
  CHECK_EQ(len, 7);
  close(pp[0]);
  close(pp[1]);
}

static void test_known_answers(void) {
  braid_auth a;
  unsigned char in[80], out[BRAID_AUTH_OUTMAX], want[32];
  size_t n = 0, i;
  memcpy(in, "#CHALLENGE#{sha256}", 19);
  for (i = 0; i < 40; i++) in[19 + i] = (unsigned char)i;
  braid__auth_init(&a, BRAID_AUTH_ANSWER, "k", 1);
  CHECK(braid__auth_wants(&a));
  CHECK_EQ(braid__auth_step(&a, in, 59, out, &n), BRAID_OK);
  CHECK_EQ(n, 8 + 32);
  CHECK(memcmp(out, "{sha256}", 8) == 0);
  unhex("e2d18d2266efaf3d644ed631dfa02c401ec26e092bef5993514fbbe8a5cd1f7e", want);
  CHECK(memcmp(out + 8, want, 32) == 0);
  /* then the verdict: "#FAILURE#" is a rejection */
  CHECK_EQ(braid__auth_step(&a, (const unsigned char *)"#FAILURE#", 9, out, &n),
           BRAID_EPERM);
  CHECK(a.why != NULL);
  /* Python <= 3.11: a bare 20-byte challenge gets a bare HMAC-MD5 */
  memcpy(in, "#CHALLENGE#", 11);
  for (i = 0; i < 20; i++) in[11 + i] = (unsigned char)(100 + i);
  braid__auth_init(&a, BRAID_AUTH_ANSWER, "k", 1);
  CHECK_EQ(braid__auth_step(&a, in, 31, out, &n), BRAID_OK);
  CHECK_EQ(n, 16);
  unhex("5a0609398c52968531df079a4305d8b0", want);
  CHECK(memcmp(out, want, 16) == 0);
  CHECK_EQ(braid__auth_step(&a, (const unsigned char *)"#WELCOME#", 9, out, &n),
           BRAID_OK);
  CHECK(braid__auth_done(&a));
  /* not a challenge */
  braid__auth_init(&a, BRAID_AUTH_ANSWER, "k", 1);
  CHECK_EQ(braid__auth_step(&a, (const unsigned char *)"hello", 5, out, &n),
           BRAID_EINVAL);
}

/* Runs a SERVER machine with key 'ks' against a CLIENT machine with key
** 'kc', each message going to the other's mailbox; returns the server's
** last code and sets '*crc' to the client's. Stops when both are done or
** neither can move (a side failed). */
static int run_pair(const char *ks, const char *kc, int *crc) {
  braid_auth side[2];
  unsigned char box[2][BRAID_AUTH_OUTMAX];
  size_t boxn[2] = { 0, 0 };
  int full[2] = { 0, 0 }, rc[2] = { BRAID_OK, BRAID_OK }, moved = 1, i;
  braid__auth_init(&side[0], BRAID_AUTH_SERVER, ks, strlen(ks));
  braid__auth_init(&side[1], BRAID_AUTH_CLIENT, kc, strlen(kc));
  while (moved) {
    moved = 0;
    for (i = 0; i < 2; i++) {
      braid_auth *me = &side[i];
      unsigned char in[BRAID_AUTH_OUTMAX];
      size_t n = 0, outn = 0;
      int wants;
      if (rc[i] != BRAID_OK || braid__auth_done(me)) continue;
      wants = braid__auth_wants(me);
      if (wants && !full[i]) continue;
      if (wants) {
        memcpy(in, box[i], boxn[i]);
        n = boxn[i];
        full[i] = 0;
      }
      rc[i] = braid__auth_step(me, wants ? in : NULL, n, box[!i], &outn);
      if (outn > 0) {
        boxn[!i] = outn;
        full[!i] = 1;
      }
      moved = 1;
    }
  }
  *crc = rc[1];
  return rc[0];
}

static void test_handshake_pairs(void) {
  int crc;
  CHECK_EQ(run_pair("same key", "same key", &crc), BRAID_OK);
  CHECK_EQ(crc, BRAID_OK);
  CHECK_EQ(run_pair("server key", "client key", &crc), BRAID_EPERM);
  CHECK_EQ(crc, BRAID_EPERM);
}

/* A Python 3.11 client answers the {sha256} challenge with a bare
** HMAC-MD5 of the whole of it: accepted. */
static void test_legacy_answer_accepted(void) {
  braid_auth d;
  unsigned char out[BRAID_AUTH_OUTMAX], mac[16];
  unsigned int ml = 0;
  size_t n = 0;
  braid__auth_init(&d, BRAID_AUTH_DELIVER, "k", 1);
  CHECK_EQ(braid__auth_step(&d, NULL, 0, out, &n), BRAID_OK);
  CHECK_EQ(n, 11 + 8 + 40);
  CHECK(HMAC(EVP_md5(), "k", 1, out + 11, n - 11, mac, &ml) != NULL);
  CHECK_EQ(braid__auth_step(&d, mac, 16, out, &n), BRAID_OK);
  CHECK(n == 9 && memcmp(out, "#WELCOME#", 9) == 0);
  CHECK(braid__auth_done(&d));
  /* a wrong one of the right length is refused, "#FAILURE#" sent */
  braid__auth_init(&d, BRAID_AUTH_DELIVER, "k", 1);
  CHECK_EQ(braid__auth_step(&d, NULL, 0, out, &n), BRAID_OK);
  mac[0] ^= 1;
  CHECK_EQ(braid__auth_step(&d, mac, 16, out, &n), BRAID_EPERM);
  CHECK(n == 9 && memcmp(out, "#FAILURE#", 9) == 0);
}

/* deliver_challenge(..., digest_name): the challenge names it; an answer
** with that digest passes; names Python does not allow are refused. */
static void test_digest_names(void) {
  braid_auth d, an;
  unsigned char ch[BRAID_AUTH_OUTMAX], resp[BRAID_AUTH_OUTMAX];
  unsigned char verdict[BRAID_AUTH_OUTMAX];
  size_t n = 0, rn = 0, vn = 0;
  braid__auth_init(&d, BRAID_AUTH_DELIVER, "k", 1);
  CHECK_EQ(braid__auth_set_digest(&d, "sha1"), BRAID_EINVAL);
  CHECK_EQ(braid__auth_set_digest(&d, "sha3_384"), BRAID_OK);
  CHECK_EQ(braid__auth_step(&d, NULL, 0, ch, &n), BRAID_OK);
  CHECK_EQ(n, 11 + 10 + 40);
  CHECK(memcmp(ch, "#CHALLENGE#{sha3_384}", 21) == 0);
  braid__auth_init(&an, BRAID_AUTH_ANSWER, "k", 1);
  CHECK_EQ(braid__auth_step(&an, ch, n, resp, &rn), BRAID_OK);
  CHECK_EQ(rn, 10 + 48);
  CHECK(memcmp(resp, "{sha3_384}", 10) == 0);
  CHECK_EQ(braid__auth_step(&d, resp, rn, verdict, &vn), BRAID_OK);
  CHECK(vn == 9 && memcmp(verdict, "#WELCOME#", 9) == 0);
}

int main(void) {
  static const ctest_case cases[] = {
    { "Python's header forms, the 8-byte one included", test_headers },
    { "frames through a socket pair, a clean end", test_socket_frame },
    { "a header read without waiting, or while spinning", test_try_header },
    { "descriptors with frames, the -2 form (braid's Pipes)",
      test_segment_frames },
    { "answers to {sha256} and legacy challenges match Python's hmac",
      test_known_answers },
    { "the two sides agree with one key, both fail with two",
      test_handshake_pairs },
    { "a legacy bare HMAC-MD5 answer is accepted, a wrong one refused",
      test_legacy_answer_accepted },
    { "a challenge asks for the digest chosen; others are refused",
      test_digest_names },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

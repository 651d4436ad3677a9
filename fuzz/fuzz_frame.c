/*
** fuzz_frame.c: libFuzzer target for what a Listener/Client connection
** runs on a peer's bytes before trusting it: the frame header parser
** (src/core/frame.c) and the authentication handshake state machine
** (src/core/auth.c), driven exactly as llistener.c's conn_auth drives
** them: frames read from a socket (a length, at most 256 bytes taken, as
** recv_bytes(256) does), each fed to braid__auth_step, its answers written
** back. Lua-free.
**
** Input: byte 0 picks the role (deliver, answer, server, client), the
** rest is what the peer sends, in Python's framing. A bad frame or a
** failed step ends the run (an expected error); crashes, sanitizer
** reports, leaks and hangs are bugs. The input is written into a socket
** pair whose writing end is then shut, so a read past it sees the end of
** the stream instead of blocking. The same bytes are also read as frames
** through the read-ahead buffer (readahead below), checked against a
** direct parse.
** See LICENSE for copyright and license.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "braidint.h"
#include "frame.h"
#include "process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char KEY[] = "fuzz key";

/* The parser on its own: every prefix length a reader may hand it. */
static void parse_all(const uint8_t *data, size_t size) {
  size_t have;
  for (have = 0; have <= BRAID_FRAME_HDRMAX && have <= size; have++) {
    uint64_t len = 0;
    int rc = braid__frame_parse(data, have, &len), seg = 0;
    if (rc == BRAID_OK && have < 4) abort(); /* a header needs 4 bytes */
    if (rc == BRAID_OK && len > 0x7fffffffu && have < 12) abort();
    /* braid's Pipes also take the -2 form (bytes in a segment): it must
    ** agree with the plain parser on everything else */
    {
      uint64_t len2 = 0;
      int rc2 = braid__frame_parse_seg(data, have, &len2, &seg);
      if (seg && (rc != BRAID_EINVAL ||
                  rc2 != (have < 12 ? BRAID_EAGAIN : BRAID_OK)))
        abort();
      if (!seg && (rc2 != rc || (rc == BRAID_OK && len2 != len))) abort();
    }
  }
}

/* One handshake against the peer bytes on 'fd'. */
static void handshake(int fd, int role) {
  braid_auth a;
  unsigned char in[BRAID_AUTH_MAXMSG], out[BRAID_AUTH_OUTMAX];
  braid__auth_init(&a, role, KEY, sizeof KEY - 1);
  while (!braid__auth_done(&a)) {
    size_t n = 0, outn = 0, got;
    int rc;
    if (braid__auth_wants(&a)) {
      uint64_t len;
      if (braid__frame_read_header(fd, &len, &got) != BRAID_OK) return;
      if (len > BRAID_AUTH_MAXMSG) return; /* "bad message length" */
      if (braid__fd_read_all(fd, in, (size_t)len, NULL) != BRAID_OK) return;
      n = (size_t)len;
    }
    rc = braid__auth_step(&a, braid__auth_wants(&a) ? in : NULL, n, out,
                          &outn);
    if (outn > BRAID_AUTH_OUTMAX) abort();
    if (outn > 0 && braid__frame_write(fd, out, outn) != BRAID_OK) return;
    if (rc != BRAID_OK) {
      if (a.why == NULL) abort(); /* every failure says why */
      return;
    }
  }
}

/* The read-ahead reader (frame.h, braid_rbuf) over the same bytes: every
** frame it returns must be the one a direct parse of the bytes finds,
** whatever the socket hands each read; 'greedy' off reads only headers'
** missing bytes. Frames are capped at 64 KiB (the input's size). */
static void readahead(const uint8_t *data, size_t size, int greedy) {
  static braid_rbuf rb;
  static unsigned char body[65536];
  int sv[2];
  size_t at = 0;
  memset(&rb, 0, sizeof rb);
  rb.greedy = greedy;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
  if (braid__fd_write_all(sv[1], data, size) != BRAID_OK) goto out;
  shutdown(sv[1], SHUT_WR);
  for (;;) {
    uint64_t len = 0, want = 0;
    size_t got = 0;
    int rc = (at & 1) ? braid__frame_read_header_rb(sv[0], &rb, &len, &got, NULL)
                      : braid__frame_try_header_rb(sv[0], &rb, 0, &len, &got, NULL);
    int wrc = size - at >= 4 ? braid__frame_parse(data + at, size - at < 12
                                                  ? size - at : 12, &want)
                             : BRAID_ECLOSED;
    if (rc == BRAID_EAGAIN) abort(); /* written and shut: never empty */
    if (rc == BRAID_ECLOSED) {
      if (got != size - at || wrc == BRAID_OK) abort(); /* a whole header */
      break;
    }
    if (rc == BRAID_EINVAL) {
      if (wrc != BRAID_EINVAL) abort();
      break;
    }
    if (rc != BRAID_OK || wrc != BRAID_OK || len != want) abort();
    at += (data[at] & data[at + 1] & data[at + 2] & data[at + 3]) == 0xff ? 12 : 4;
    if (len > sizeof body) break;
    rc = braid__frame_read_body_rb(sv[0], &rb, body, (size_t)len);
    if (len > size - at) { /* torn body: the stream ends inside it */
      if (rc != BRAID_ECLOSED) abort();
      break;
    }
    if (rc != BRAID_OK || memcmp(body, data + at, (size_t)len) != 0) abort();
    at += (size_t)len;
    if (braid__rbuf_avail(&rb) > size - at) abort();
  }
out:
  close(sv[0]);
  close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int sv[2];
  if (size < 1) return 0;
  parse_all(data + 1, size - 1);
  if (size > 65536) return 0; /* more than a socket buffer holds at once */
  readahead(data + 1, size - 1, data[0] & 4);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  if (braid__fd_write_all(sv[1], data + 1, size - 1) == BRAID_OK) {
    shutdown(sv[1], SHUT_WR);
    handshake(sv[0], BRAID_AUTH_DELIVER + data[0] % 4);
  }
  close(sv[0]);
  close(sv[1]);
  return 0;
}

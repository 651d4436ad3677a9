/*
** fuzz_fdshare.c: libFuzzer target for the bytes the descriptor sharer
** (src/core/fdshare.c) reads from another process: the request parser on
** every prefix, and the running server fed each input over a real
** connection. Lua-free.
**
** Once: a pipe's read end is put in the sharer (one ticket). Per input:
** connect to the sharer's socket, write the input, shut the writing side
** (so a short request ends instead of waiting for the server's deadline),
** read the answer. The invariants: the parser accepts exactly 32 bytes of
** the right header; the server never hands a descriptor but for a request
** (the first 32 bytes) naming the secret and serial it issued; nothing
** crashes, leaks or hangs.
** See LICENSE for copyright and license.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "braidint.h"
#include "fdshare.h"
#include "process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char ticket[BRAID_FDSHARE_TICKET];
static int ready;

static void setup(void) {
  int p[2];
  if (pipe(p) != 0) abort();
  if (braid__fdshare_put(p[0], ticket) != BRAID_OK) abort();
  close(p[0]);
  close(p[1]);
  ready = 1;
}

/* Whether the input starts with a request for the issued ticket
** (libFuzzer finds the secret: it watches memcmp). */
static int issued(const uint8_t *data, size_t size) {
  unsigned char key[24];
  return size >= BRAID_FDSHARE_REQUEST &&
         braid__fdshare_parse(data, BRAID_FDSHARE_REQUEST, key) ==
             BRAID_OK &&
         memcmp(key, ticket + 16, 24) == 0; /* secret and serial */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char key[24], status = 9;
  struct sockaddr_un a;
  socklen_t al;
  size_t have;
  int s, rc = BRAID_EINVAL;
  char cbuf[CMSG_SPACE(4 * sizeof(int))];
  struct msghdr mh;
  struct iovec iov;
  struct cmsghdr *c;
  ssize_t r;
  if (!ready) setup();
  for (have = 0; have <= size && have <= 64; have++) {
    rc = braid__fdshare_parse(data, have, key);
    if (rc == BRAID_OK && have != BRAID_FDSHARE_REQUEST) abort();
    if (rc == BRAID_EAGAIN && have >= BRAID_FDSHARE_REQUEST) abort();
  }
  if (size > 4096) return 0;
  if (braid__fdshare_addr(ticket, sizeof ticket, &a, &al) != BRAID_OK) abort();
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 0;
  if (connect(s, (struct sockaddr *)&a, al) != 0) abort();
  if (size > 0 && braid__fd_write_all(s, data, size) != BRAID_OK) {
    close(s); /* the server hung up on a bad request: fine */
    return 0;
  }
  shutdown(s, SHUT_WR);
  memset(&mh, 0, sizeof mh);
  iov.iov_base = &status;
  iov.iov_len = 1;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  r = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
  for (c = CMSG_FIRSTHDR(&mh); r > 0 && c != NULL; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      /* only the issued secret may be answered with a descriptor (the
      ** server reads one request and ignores what follows it) */
      if (!issued(data, size)) abort();
      close(fd);
    }
  }
  if (r == 1 && status == 0 && !issued(data, size)) abort();
  close(s);
  return 0;
}

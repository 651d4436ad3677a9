/*
** memseg.c: out-of-line segments (see memseg.h).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memseg.h"
#include "thp.h"

_Static_assert(CMSG_SPACE(sizeof(int) * BRAID_SEG_MAX) <= BRAID_SEG_CMSG,
               "control buffer too small");


void braid__seg_prefault(void *p, size_t n) {
  braid__thp_fresh(p, n, 1);
}


void braid__seg_put_rights(struct msghdr *m, void *cbuf, const int *fds,
                           int n) {
  struct cmsghdr *c;
  memset(cbuf, 0, BRAID_SEG_CMSG);
  m->msg_control = cbuf;
  m->msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
  c = CMSG_FIRSTHDR(m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
  memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
}


int braid__seg_take_rights(struct msghdr *m, int *fds, int max) {
  struct cmsghdr *c;
  int kept = 0;
  if (m->msg_controllen == 0) return 0;
  for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    size_t k, cnt;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (k = 0; k < cnt; k++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
      if (fds != NULL && kept < max) fds[kept++] = fd;
      else close(fd);
    }
  }
  return kept;
}


int braid__seg_send_dgram(int sock, const int *fds, int n) {
  unsigned char cbuf[BRAID_SEG_CMSG] __attribute__((aligned(8)));
  char one = 'S';
  struct iovec iov = { &one, 1 };
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  braid__seg_put_rights(&m, cbuf, fds, n);
  for (;;) {
    if (sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) return 0;
    if (errno != EINTR) return -1;
  }
}


int braid__seg_recv_dgram(int sock, int *fds, int max) {
  unsigned char cbuf[BRAID_SEG_CMSG] __attribute__((aligned(8)));
  char one;
  struct iovec iov = { &one, 1 };
  struct msghdr m;
  for (;;) {
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    if (recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) >= 0)
      return braid__seg_take_rights(&m, fds, max);
    if (errno != EINTR) return -1;
  }
}

/*
** frame.c: Connection framing (see frame.h).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"
#include "os.h"
#include "process.h"
#include "spin.h"


size_t braid__frame_header(uint64_t n, unsigned char *h) {
  int i;
  if (n <= 0x7fffffffu) {
    for (i = 0; i < 4; i++) h[i] = (unsigned char)(n >> (24 - 8 * i));
    return 4;
  }
  memset(h, 0xff, 4); /* -1: the 8-byte length follows */
  for (i = 0; i < 8; i++) h[4 + i] = (unsigned char)(n >> (56 - 8 * i));
  return 12;
}


int braid__frame_parse(const unsigned char *h, size_t have, uint64_t *len) {
  uint32_t u;
  uint64_t q = 0;
  int i;
  if (have < 4) return BRAID_EINVAL;
  u = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) |
      ((uint32_t)h[2] << 8) | h[3];
  if (u <= 0x7fffffffu) {
    *len = u;
    return BRAID_OK;
  }
  if (u != 0xffffffffu) return BRAID_EINVAL; /* negative, not -1 */
  if (have < 12) return BRAID_EAGAIN;
  for (i = 0; i < 8; i++) q = (q << 8) | h[4 + i];
  *len = q;
  return BRAID_OK;
}


int braid__frame_write(int fd, const void *p, size_t n) {
  unsigned char h[BRAID_FRAME_HDRMAX];
  struct iovec iov[2];
  struct msghdr m;
  int i = 0, cnt = 2;
  iov[0].iov_base = h;
  iov[0].iov_len = braid__frame_header(n, h);
  iov[1].iov_base = (void *)p;
  iov[1].iov_len = n;
  if (n == 0) cnt = 1;
  while (i < cnt) {
    ssize_t w;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov + i;
    m.msg_iovlen = (size_t)(cnt - i);
    w = sendmsg(fd, &m, MSG_NOSIGNAL);
    if (w < 0 && errno == ENOTSOCK) w = writev(fd, iov + i, cnt - i);
    if (w < 0) {
      if (errno == EINTR) continue;
      return (errno == EPIPE || errno == ECONNRESET) ? BRAID_ECLOSED
                                                    : BRAID_EOS;
    }
    while (i < cnt && (size_t)w >= iov[i].iov_len) {
      w -= (ssize_t)iov[i].iov_len;
      i++;
    }
    if (i < cnt) {
      iov[i].iov_base = (char *)iov[i].iov_base + w;
      iov[i].iov_len -= (size_t)w;
    }
  }
  return BRAID_OK;
}


int braid__frame_read_header(int fd, uint64_t *len, size_t *got) {
  unsigned char h[BRAID_FRAME_HDRMAX];
  size_t k = 0;
  int rc = braid__fd_read_all(fd, h, 4, &k);
  *got = k;
  if (rc != BRAID_OK) return rc;
  rc = braid__frame_parse(h, 4, len);
  if (rc != BRAID_EAGAIN) return rc;
  rc = braid__fd_read_all(fd, h + 4, 8, &k);
  *got = 4 + k;
  if (rc != BRAID_OK) return rc;
  return braid__frame_parse(h, 12, len);
}


int braid__frame_try_header(int fd, long spin_ns, uint64_t *len,
                            size_t *got) {
  unsigned char h[BRAID_FRAME_HDRMAX];
  double end = spin_ns > 0 ? braid__now() + (double)spin_ns * 1e-9 : 0;
  size_t k, more = 0;
  ssize_t r;
  int rc;
  *got = 0;
  for (;;) {
    r = recv(fd, h, 4, MSG_DONTWAIT);
    if (r > 0) break;
    if (r == 0) return BRAID_ECLOSED;
    if (errno == EINTR) continue;
    if (errno == ENOTSOCK) return BRAID_EAGAIN;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return errno == ECONNRESET ? BRAID_ECLOSED : BRAID_EOS;
    if (spin_ns <= 0 || braid__now() >= end || !braid__spin_continue())
      return BRAID_EAGAIN;
    braid__cpu_relax();
  }
  k = (size_t)r;
  if (k < 4) {
    rc = braid__fd_read_all(fd, h + k, 4 - k, &more);
    *got = k + more;
    if (rc != BRAID_OK) return rc;
  }
  *got = 4;
  rc = braid__frame_parse(h, 4, len);
  if (rc != BRAID_EAGAIN) return rc;
  rc = braid__fd_read_all(fd, h + 4, 8, &more);
  *got = 4 + more;
  if (rc != BRAID_OK) return rc;
  return braid__frame_parse(h, 12, len);
}


/*
** {======================================================
** Read-ahead (see frame.h)
** =======================================================
*/

size_t braid__rbuf_avail(const braid_rbuf *rb) {
  size_t pos = rb->pos, end = rb->end;
  if (end > BRAID_RBUF_SIZE || pos > end) return 0;
  return end - pos;
}


int braid__rbuf_put(braid_rbuf *rb, const void *p, size_t n) {
  size_t have = braid__rbuf_avail(rb);
  if (n > BRAID_RBUF_SIZE - have) return BRAID_EINVAL;
  if (have > 0) memmove(rb->b, rb->b + rb->pos, have);
  memcpy(rb->b + have, p, n);
  rb->pos = 0;
  rb->end = have + n;
  return BRAID_OK;
}


/* Takes a complete header from the buffer: BRAID_OK (consumed, '*len'
** set), BRAID_EAGAIN (more bytes needed), BRAID_EINVAL (a bad length). */
static int rb_header(braid_rbuf *rb, uint64_t *len) {
  size_t have = braid__rbuf_avail(rb);
  const unsigned char *h = rb->b + rb->pos;
  int rc;
  if (have < 4) return BRAID_EAGAIN;
  rc = braid__frame_parse(h, have < BRAID_FRAME_HDRMAX ? have
                                                       : BRAID_FRAME_HDRMAX,
                          len);
  if (rc != BRAID_OK) return rc;
  /* the 8-byte form is marked by -1, whatever length it then carries */
  rb->pos += (h[0] & h[1] & h[2] & h[3]) == 0xff ? BRAID_FRAME_HDRMAX : 4;
  return BRAID_OK;
}


/* Reads into the buffer: what the socket holds (greedy) or the header
** bytes still missing. 'dontwait': BRAID_EAGAIN when nothing is there
** (or 'fd' is no socket). BRAID_OK when at least one byte came. */
static int rb_fill(int fd, braid_rbuf *rb, int dontwait) {
  size_t have = braid__rbuf_avail(rb), want;
  ssize_t r;
  if (rb->pos > 0 || have == 0) { /* room for a whole header at the end */
    if (have > 0) memmove(rb->b, rb->b + rb->pos, have);
    rb->pos = 0;
    rb->end = have;
  }
  want = rb->greedy ? BRAID_RBUF_SIZE - have
         : (have < 4 ? 4 - have : BRAID_FRAME_HDRMAX - have);
  for (;;) {
    r = recv(fd, rb->b + have, want, dontwait ? MSG_DONTWAIT : 0);
    if (r < 0 && errno == ENOTSOCK) {
      if (dontwait) return BRAID_EAGAIN;
      r = read(fd, rb->b + have, want);
    }
    if (r > 0) break;
    if (r == 0) return BRAID_ECLOSED;
    if (errno == EINTR) continue;
    if (dontwait && (errno == EAGAIN || errno == EWOULDBLOCK))
      return BRAID_EAGAIN;
    return errno == ECONNRESET ? BRAID_ECLOSED : BRAID_EOS;
  }
  rb->end = have + (size_t)r;
  return BRAID_OK;
}


int braid__frame_try_header_rb(int fd, braid_rbuf *rb, long spin_ns,
                               uint64_t *len, size_t *got) {
  double end = 0;
  int rc;
  for (;;) {
    rc = rb_header(rb, len);
    if (rc != BRAID_EAGAIN) break;
    if (braid__rbuf_avail(rb) > 0) { /* a header begun: the rest is coming */
      rc = rb_fill(fd, rb, 0);
    } else {
      rc = rb_fill(fd, rb, 1);
      if (rc == BRAID_EAGAIN) {
        if (spin_ns <= 0) break;
        if (end == 0) end = braid__now() + (double)spin_ns * 1e-9;
        else if (braid__now() >= end || !braid__spin_continue()) break;
        braid__cpu_relax();
        continue;
      }
    }
    if (rc != BRAID_OK) break;
  }
  *got = rc == BRAID_OK ? 4 : braid__rbuf_avail(rb);
  return rc;
}


int braid__frame_read_header_rb(int fd, braid_rbuf *rb, uint64_t *len,
                                size_t *got) {
  int rc;
  while ((rc = rb_header(rb, len)) == BRAID_EAGAIN) {
    rc = rb_fill(fd, rb, 0);
    if (rc != BRAID_OK) break;
  }
  *got = rc == BRAID_OK ? 4 : braid__rbuf_avail(rb);
  return rc;
}


int braid__frame_read_body_rb(int fd, braid_rbuf *rb, void *p, size_t n) {
  size_t k = braid__rbuf_avail(rb);
  if (k > n) k = n;
  if (k > 0) {
    memcpy(p, rb->b + rb->pos, k);
    rb->pos += k;
  }
  if (k == n) return BRAID_OK;
  return braid__fd_read_all(fd, (char *)p + k, n - k, NULL);
}
/* }====================================================== */

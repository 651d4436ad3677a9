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
  return braid__frame_parse_seg(h, have, len, NULL);
}


int braid__frame_parse_seg(const unsigned char *h, size_t have, uint64_t *len,
                           int *seg) {
  uint32_t u;
  uint64_t q = 0;
  int i;
  if (seg != NULL) *seg = 0;
  if (have < 4) return BRAID_EINVAL;
  u = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) |
      ((uint32_t)h[2] << 8) | h[3];
  if (u <= 0x7fffffffu) {
    *len = u;
    return BRAID_OK;
  }
  if (u == 0xfffffffeu && seg != NULL) *seg = 1; /* -2: braid's, see .h */
  else if (u != 0xffffffffu) return BRAID_EINVAL; /* negative, not -1 */
  if (have < 12) return BRAID_EAGAIN;
  for (i = 0; i < 8; i++) q = (q << 8) | h[4 + i];
  *len = q;
  return BRAID_OK;
}


int braid__frame_write(int fd, const void *p, size_t n) {
  return braid__frame_write_fx(fd, p, n, NULL, 0, 0);
}


int braid__frame_write_fx(int fd, const void *p, size_t n, const int *fds,
                          int nfds, int seg) {
  unsigned char h[BRAID_FRAME_HDRMAX];
  unsigned char cbuf[BRAID_SEG_CMSG] __attribute__((aligned(8)));
  struct iovec iov[2];
  struct msghdr m;
  int i = 0, cnt = 2, rights = nfds > 0;
  iov[0].iov_base = h;
  iov[0].iov_len = braid__frame_header(n, h);
  iov[1].iov_base = (void *)p;
  iov[1].iov_len = n;
  if (seg) { /* -2, the 8-byte length, no body */
    braid__frame_header(0xffffffffffffffffull, h); /* the 12-byte form */
    h[3] = 0xfe;
    for (i = 0; i < 8; i++) h[4 + i] = (unsigned char)(n >> (56 - 8 * i));
    iov[0].iov_len = 12;
    i = 0;
    cnt = 1;
  }
  if (n == 0) cnt = 1;
  while (i < cnt) {
    ssize_t w;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov + i;
    m.msg_iovlen = (size_t)(cnt - i);
    /* The descriptors go with the first bytes sent, once, on a send of the
    ** header alone: a reader that reads ahead then knows whose they are
    ** (the kernel ends a read after the bytes that carried descriptors:
    ** frame.h, braid_rbuf). */
    if (rights) {
      braid__seg_put_rights(&m, cbuf, fds, nfds);
      m.msg_iovlen = 1;
    }
    w = sendmsg(fd, &m, MSG_NOSIGNAL);
    if (w < 0 && errno == ENOTSOCK && !rights)
      w = writev(fd, iov + i, cnt - i);
    if (w > 0) rights = 0;
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


/* recv() of up to 'n' bytes; with 'fx', recvmsg taking the descriptors
** that come with them (a header's first bytes). */
static ssize_t recv_fx(int fd, void *p, size_t n, int flags,
                       braid_frame_fds *fx) {
  unsigned char cbuf[BRAID_SEG_CMSG] __attribute__((aligned(8)));
  struct iovec iov;
  struct msghdr m;
  ssize_t r;
  if (fx == NULL) return recv(fd, p, n, flags);
  iov.iov_base = p;
  iov.iov_len = n;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = cbuf;
  m.msg_controllen = sizeof cbuf;
  r = recvmsg(fd, &m, flags | MSG_CMSG_CLOEXEC);
  if (r > 0)
    fx->n += braid__seg_take_rights(&m, fx->fds + fx->n, BRAID_SEG_MAX - fx->n);
  return r;
}


int braid__frame_read_header(int fd, uint64_t *len, size_t *got) {
  return braid__frame_read_header_fx(fd, len, got, NULL);
}


int braid__frame_read_header_fx(int fd, uint64_t *len, size_t *got,
                                braid_frame_fds *fx) {
  unsigned char h[BRAID_FRAME_HDRMAX];
  size_t k = 0, more = 0;
  int *seg = fx != NULL ? &fx->seg : NULL;
  int rc;
  if (fx != NULL) fx->n = 0;
  for (;;) { /* the first bytes (with their descriptors) */
    ssize_t r = recv_fx(fd, h, 4, 0, fx);
    if (r > 0) {
      k = (size_t)r;
      break;
    }
    if (r < 0 && errno == ENOTSOCK) { /* a pipe: no descriptors */
      rc = braid__fd_read_all(fd, h, 4, &k);
      *got = k;
      if (rc != BRAID_OK) return rc;
      break;
    }
    if (r < 0 && errno == EINTR) continue;
    *got = 0;
    if (r == 0) return BRAID_ECLOSED;
    return errno == ECONNRESET ? BRAID_ECLOSED : BRAID_EOS;
  }
  if (k < 4) {
    rc = braid__fd_read_all(fd, h + k, 4 - k, &more);
    *got = k + more;
    if (rc != BRAID_OK) return rc;
  }
  *got = 4;
  rc = braid__frame_parse_seg(h, 4, len, seg);
  if (rc != BRAID_EAGAIN) return rc;
  rc = braid__fd_read_all(fd, h + 4, 8, &k);
  *got = 4 + k;
  if (rc != BRAID_OK) return rc;
  return braid__frame_parse_seg(h, 12, len, seg);
}


int braid__frame_try_header(int fd, long spin_ns, uint64_t *len,
                            size_t *got) {
  return braid__frame_try_header_fx(fd, spin_ns, len, got, NULL);
}


int braid__frame_try_header_fx(int fd, long spin_ns, uint64_t *len,
                               size_t *got, braid_frame_fds *fx) {
  unsigned char h[BRAID_FRAME_HDRMAX];
  int *seg = fx != NULL ? &fx->seg : NULL;
  double end = spin_ns > 0 ? braid__now() + (double)spin_ns * 1e-9 : 0;
  size_t k, more = 0;
  ssize_t r;
  int rc;
  *got = 0;
  if (fx != NULL) fx->n = 0;
  for (;;) {
    r = recv_fx(fd, h, 4, MSG_DONTWAIT, fx);
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
  rc = braid__frame_parse_seg(h, 4, len, seg);
  if (rc != BRAID_EAGAIN) return rc;
  rc = braid__fd_read_all(fd, h + 4, 8, &more);
  *got = 4 + more;
  if (rc != BRAID_OK) return rc;
  return braid__frame_parse_seg(h, 12, len, seg);
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
static int rb_header(braid_rbuf *rb, uint64_t *len, braid_frame_fds *fx) {
  size_t have = braid__rbuf_avail(rb), hsize;
  const unsigned char *h = rb->b + rb->pos;
  int seg = 0, rc;
  if (have < 4) return BRAID_EAGAIN;
  rc = braid__frame_parse_seg(h, have < BRAID_FRAME_HDRMAX ? have
                                                           : BRAID_FRAME_HDRMAX,
                              len, fx != NULL ? &seg : NULL);
  if (rc != BRAID_OK) return rc;
  /* the 8-byte forms are marked by -1 (and -2), whatever length follows */
  hsize = (h[0] & h[1] & h[2]) == 0xff && h[3] >= 0xfe ? BRAID_FRAME_HDRMAX
                                                        : 4;
  if (fx != NULL) {
    fx->n = 0;
    fx->seg = seg;
    if (rb->nfds > 0 && rb->fdend > rb->pos && rb->fdend <= rb->pos + hsize) {
      memcpy(fx->fds, rb->fds, (size_t)rb->nfds * sizeof rb->fds[0]);
      fx->n = rb->nfds;
      rb->nfds = 0;
    }
  }
  rb->pos += hsize;
  if (rb->nfds > 0 && rb->fdend <= rb->pos) /* never: no header had them */
    braid__rbuf_drop_fds(rb);
  return BRAID_OK;
}


void braid__rbuf_drop_fds(braid_rbuf *rb) {
  int i;
  for (i = 0; i < rb->nfds; i++) close(rb->fds[i]);
  rb->nfds = 0;
}


/* Reads into the buffer: what the socket holds (greedy) or the header
** bytes still missing. 'dontwait': BRAID_EAGAIN when nothing is there
** (or 'fd' is no socket). BRAID_OK when at least one byte came. */
static int rb_fill(int fd, braid_rbuf *rb, int dontwait, int takefds) {
  size_t have = braid__rbuf_avail(rb), want;
  braid_frame_fds got;
  ssize_t r;
  if (rb->pos > 0 || have == 0) { /* room for a whole header at the end */
    if (have > 0) memmove(rb->b, rb->b + rb->pos, have);
    if (rb->nfds > 0) rb->fdend -= rb->pos;
    rb->pos = 0;
    rb->end = have;
  }
  /* with descriptors pending, only their header's missing bytes: a read
  ** past it could bring the next header's descriptors */
  want = rb->greedy && rb->nfds == 0
             ? BRAID_RBUF_SIZE - have
             : (have < 4 ? 4 - have : BRAID_FRAME_HDRMAX - have);
  got.n = 0;
  for (;;) {
    r = recv_fx(fd, rb->b + have, want, dontwait ? MSG_DONTWAIT : 0,
                takefds ? &got : NULL);
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
  if (got.n > 0) { /* they came with the last bytes read: frame.h */
    int i;
    for (i = 0; i < got.n; i++) {
      if (rb->nfds < BRAID_SEG_MAX) rb->fds[rb->nfds++] = got.fds[i];
      else close(got.fds[i]);
    }
    rb->fdend = rb->end;
  }
  return BRAID_OK;
}


int braid__frame_try_header_rb(int fd, braid_rbuf *rb, long spin_ns,
                               uint64_t *len, size_t *got,
                               braid_frame_fds *fx) {
  double end = 0;
  int rc;
  for (;;) {
    rc = rb_header(rb, len, fx);
    if (rc != BRAID_EAGAIN) break;
    if (braid__rbuf_avail(rb) > 0) { /* a header begun: the rest is coming */
      rc = rb_fill(fd, rb, 0, fx != NULL);
    } else {
      rc = rb_fill(fd, rb, 1, fx != NULL);
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
                                size_t *got, braid_frame_fds *fx) {
  int rc;
  while ((rc = rb_header(rb, len, fx)) == BRAID_EAGAIN) {
    rc = rb_fill(fd, rb, 0, fx != NULL);
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

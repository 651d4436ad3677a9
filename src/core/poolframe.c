/*
** poolframe.c: a process pool's framing between proxy and child (see
** poolframe.h). Lua-free; fuzzed by fuzz/fuzz_poolframe.c.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc.h"
#include "pool.h"
#include "poolframe.h"
#include "process.h"
#include "pstream.h"


int braid__pf_send(int fd, struct iovec *iov, int n, const int *fds,
                   int nfds) {
  unsigned char cbuf[BRAID_SEG_CMSG] __attribute__((aligned(8)));
  while (n > 0) {
    struct msghdr mh;
    ssize_t w;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)(n > IOV_MAX ? IOV_MAX : n);
    if (nfds > 0) braid__seg_put_rights(&mh, cbuf, fds, nfds);
    w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (w > 0) nfds = 0; /* sent with the first bytes */
    if (w < 0) {
      if (errno == EINTR) continue;
      return (errno == EPIPE || errno == ECONNRESET) ? BRAID_ECLOSED
                                                    : BRAID_EOS;
    }
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return BRAID_OK;
}


int braid__pf_send_reply(int fd, uint32_t status, const braid_msg *m) {
  braid_pf_reply_hdr h;
  struct iovec iov[3];
  int n = 1;
  memset(&h, 0, sizeof h);
  h.status = status;
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof h;
  if (m != NULL) {
    h.len = m->len;
    h.tag = (uint32_t)m->tag;
    h.nfds = m->nsegs;
    if (m->offs != NULL) {
      h.nitems = m->nitems;
      iov[n].iov_base = m->offs;
      iov[n++].iov_len = (size_t)m->nitems * sizeof(uint32_t);
    }
    iov[n].iov_base = m->data;
    iov[n++].iov_len = m->len;
  }
  return braid__pf_send(fd, iov, n, m != NULL ? m->segs : NULL,
                        m != NULL ? (int)m->nsegs : 0);
}


/* Reads 'n' bytes ('*got' of them read, also on an error): BRAID_OK,
** BRAID_ECLOSED at the end of the stream, BRAID_EOS, or what 'wait'
** said. */
static int read_in(const braid_pf_in *in, void *p, size_t n, size_t *got) {
  size_t done = 0;
  int rc = BRAID_OK;
  while (done < n) {
    ssize_t r = recv(in->fd, (char *)p + done, n - done,
                     in->wait != NULL ? MSG_DONTWAIT : 0);
    if (r > 0) {
      done += (size_t)r;
      continue;
    }
    if (r == 0) {
      rc = BRAID_ECLOSED;
      break;
    }
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && in->wait != NULL) {
      rc = in->wait(in->ud);
      if (rc != BRAID_OK) break;
      continue;
    }
    rc = errno == ECONNRESET ? BRAID_ECLOSED : BRAID_EOS;
    break;
  }
  if (got != NULL) *got = done;
  return rc;
}

int braid__pf_read_hdr(const braid_pf_in *in, void *r, size_t size,
                       int *fds, int *nfds, size_t *got) {
  unsigned char cbuf[BRAID_SEG_CMSG] __attribute__((aligned(8)));
  struct iovec iov;
  struct msghdr mh;
  ssize_t k;
  *nfds = 0;
  *got = 0;
  for (;;) {
    iov.iov_base = r;
    iov.iov_len = size;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    k = recvmsg(in->fd, &mh,
                MSG_CMSG_CLOEXEC | (in->wait != NULL ? MSG_DONTWAIT : 0));
    if (k >= 0) break;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && in->wait != NULL) {
      int rc = in->wait(in->ud);
      if (rc != BRAID_OK) return rc;
      continue;
    }
    break;
  }
  if (k <= 0) return k == 0 ? BRAID_ECLOSED : BRAID_EOS;
  /* more descriptors than BRAID_SEG_MAX (or than the control buffer
  ** holds) are closed, by braid__seg_take_rights or by the kernel */
  *nfds = braid__seg_take_rights(&mh, fds, BRAID_SEG_MAX);
  *got = (size_t)k;
  if ((size_t)k < size) {
    size_t more = 0;
    int rc = read_in(in, (char *)r + k, size - (size_t)k, &more);
    *got += more;
    return rc;
  }
  return BRAID_OK;
}


static void close_fds(int *fds, int *n) {
  while (*n > 0) close(fds[--*n]);
}

/* 1 when 'fd' is a memfd's kind of descriptor (a regular file): a
** stream's is mapped, a pipe or a device is not. */
static int is_file(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}


/* Reads the 'n' item offsets of a batch into '*out' (the caller's to
** free), the array grown as they come: a lying count costs no more memory
** than the bytes sent. */
static int read_offs(const braid_pf_in *in, uint32_t n, uint32_t **out) {
  size_t have = 0, cap = n < BRAID_PF_EAGER / 4 ? n : BRAID_PF_EAGER / 4;
  uint32_t *o = (uint32_t *)braid__malloc(cap * sizeof *o);
  *out = NULL;
  if (o == NULL) return BRAID_ENOMEM;
  while (have < n) {
    int rc;
    size_t step;
    if (have == cap) {
      size_t ncap = 2 * cap < n ? 2 * cap : n;
      uint32_t *no = (uint32_t *)braid__realloc(o, ncap * sizeof *o);
      if (no == NULL) {
        braid__free(o);
        return BRAID_ENOMEM;
      }
      o = no;
      cap = ncap;
    }
    step = cap - have;
    rc = read_in(in, o + have, step * sizeof *o, NULL);
    if (rc != BRAID_OK) {
      braid__free(o);
      return rc;
    }
    have += step;
  }
  *out = o;
  return BRAID_OK;
}

/* Reads 'len' bytes into the data of 'm' (allocated for the first
** min(len, BRAID_PF_EAGER) of them), growing it as they come. */
static int read_data(const braid_pf_in *in, braid_msg *m, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t step = (m->cap < len ? m->cap : len) - done;
    int rc;
    if (step == 0) { /* full, and more to come: twice the room */
      size_t ncap;
      unsigned char *nb =
          braid__buf_alloc(2 * done < len ? 2 * done : len, &ncap);
      if (nb == NULL) return BRAID_ENOMEM;
      memcpy(nb, m->data, done);
      if (m->data != m->inline_data) braid__buf_free(m->data, m->cap);
      m->data = nb;
      m->cap = ncap;
      continue;
    }
    rc = read_in(in, m->data + done, step, NULL);
    if (rc != BRAID_OK) return rc;
    done += step;
  }
  m->len = len;
  return BRAID_OK;
}

int braid__pf_read_msg(const braid_pf_in *in, uint64_t len, uint32_t nitems,
                       uint32_t origin, braid_msg **out) {
  braid_msg *m;
  int rc = BRAID_OK;
  *out = NULL;
  if (len == 0 && nitems == 0) return BRAID_OK;
  if (len > BRAID_PF_FRAME_MAX || nitems > BRAID_PF_MAXITEMS)
    return BRAID_EINVAL;
  /* believed as far as BRAID_PF_EAGER: the rest is made room for as it
  ** comes (a child that dies mid-frame, or lies, costs what it sent) */
  m = braid__msg_alloc(len < BRAID_PF_EAGER ? (size_t)len : BRAID_PF_EAGER,
                       0, 0);
  if (m == NULL) return BRAID_ENOMEM;
  if (nitems > 0) {
    rc = read_offs(in, nitems, &m->offs);
    if (rc == BRAID_OK) {
      m->nitems = nitems;
      m->origin = origin;
      atomic_store_explicit(&m->pending, nitems, memory_order_relaxed);
    }
  }
  if (rc == BRAID_OK) rc = read_data(in, m, (size_t)len);
  if (rc != BRAID_OK) {
    braid__msg_free(m);
    return rc;
  }
  *out = m;
  return BRAID_OK;
}


void braid__pf_work_free(braid_pf_work *w) {
  braid__msg_free(w->fn);
  braid__msg_free(w->calls);
  braid__msg_free(w->payload);
  w->fn = w->calls = w->payload = NULL;
}


int braid__pf_read_work(const braid_pf_in *in, braid_pf_work *w) {
  braid_pf_hdr *h = &w->h;
  int rc, sfd[BRAID_SEG_MAX], nsfd = 0;
  size_t got = 0;
  w->fn = w->calls = w->payload = NULL;
  rc = braid__pf_read_hdr(in, h, sizeof *h, sfd, &nsfd, &got);
  /* one descriptor at most, as the header says, for a streamed payload */
  if (rc == BRAID_OK &&
      (nsfd != (int)h->nfds || nsfd > 1 ||
       (nsfd == 1 && h->kind != BRAID_PF_CALL &&
        h->kind != BRAID_PF_CHUNK)))
    rc = BRAID_EINVAL;
  if (rc != BRAID_OK) {
    close_fds(sfd, &nsfd);
    return got == 0 ? BRAID_ECLOSED : rc;
  }
  if (h->kind == BRAID_PF_EXIT) return BRAID_ECLOSED;
  if (h->kind != BRAID_PF_CALL && h->kind != BRAID_PF_CHUNK)
    return BRAID_EINVAL;
  /* from here the stream's memfd (nsfd 1) is closed on every error, or
  ** taken by the payload */
  if (h->fnlen > 0 &&
      (rc = braid__pf_read_msg(in, h->fnlen, 0, 0, &w->fn)) != BRAID_OK)
    goto fail;
  if (h->calllen > 0) { /* the values of a new map call */
    rc = BRAID_EINVAL;
    if (h->kind != BRAID_PF_CHUNK) goto fail;
    rc = braid__pf_read_msg(in, h->calllen, 0, 0, &w->calls);
    if (rc != BRAID_OK) goto fail;
    w->calls->origin = h->callorigin;
  }
  if (h->kind == BRAID_PF_CALL) {
    rc = braid__pf_read_msg(in, h->len, 0, 0, &w->payload);
  } else {
    rc = BRAID_EINVAL;
    if (h->nitems == 0 || h->chunksize == 0) goto fail;
    rc = braid__pf_read_msg(in, h->len, h->nitems, h->origin, &w->payload);
  }
  if (rc != BRAID_OK) goto fail;
  if (nsfd == 1) { /* the payload streams: the mark, and its memfd */
    rc = BRAID_EINVAL;
    if (w->payload == NULL ||
        !braid__pstream_is_mark(w->payload->data, w->payload->len, 1) ||
        !is_file(sfd[0]))
      goto fail;
    nsfd = 0;
    rc = braid__msg_take_segs(w->payload, sfd, 1); /* closed if it fails */
    if (rc != BRAID_OK) goto fail;
  }
  return BRAID_OK;
fail:
  close_fds(sfd, &nsfd);
  braid__pf_work_free(w);
  return rc;
}


int braid__pf_read_reply(const braid_pf_in *in, uint32_t items, int streaming,
                         braid_pf_reply *out) {
  braid_pf_reply_hdr r;
  int fds[BRAID_SEG_MAX], nfds = 0, rc;
  size_t got;
  braid_msg *m = NULL;
  out->ok = 0;
  out->sfd = -1;
  out->m = NULL;
  rc = braid__pf_read_hdr(in, &r, sizeof r, fds, &nfds, &got);
  if (rc != BRAID_OK) goto bad;
  rc = BRAID_EINVAL;
  if (nfds != (int)r.nfds) goto bad; /* too many or too few */
  if (r.len == 0 && r.nitems == 0 && !streaming &&
      r.status == BRAID_PF_STREAM && nfds == 1) {
    if (!is_file(fds[0])) goto bad;
    out->sfd = fds[0];
    return BRAID_PF_R_STREAM;
  }
  if (streaming && r.status == BRAID_PF_STREAMED && nfds == 0 &&
      r.len == 0 && r.nitems == 0) {
    out->ok = 1;
    return BRAID_PF_R_OUTCOME;
  }
  rc = BRAID_EINVAL;
  if ((r.status != BRAID_PF_OK && r.status != BRAID_PF_EXC) ||
      (streaming && r.status != BRAID_PF_EXC) ||
      (r.tag != 0 && r.tag != BRAID_RESULT_ITEMS))
    goto bad;
  rc = braid__pf_read_msg(in, r.len, r.nitems, 0, &m);
  if (rc != BRAID_OK) goto bad;
  if (nfds > 0) {
    rc = BRAID_EINVAL;
    if (m == NULL) goto bad;
    /* the segments are the message's from here, closed with it */
    rc = braid__msg_take_segs(m, fds, nfds);
    nfds = 0;
    if (rc != BRAID_OK) goto bad;
  }
  if (m != NULL) {
    m->tag = (int64_t)r.tag;
    /* a chunk's results: one item per task of it, never for a call or
    ** for a stream's outcome */
    rc = BRAID_EINVAL;
    if (r.tag == BRAID_RESULT_ITEMS &&
        (streaming || items == 0 || m->nitems != items))
      goto bad;
    /* a result may wait long unread, and many may: mapped, its segments
    ** hold no descriptor (failing that, they stay descriptors) */
    if (m->nsegs > 0) (void)braid__msg_map_segs(m);
  }
  out->m = m;
  out->ok = r.status == BRAID_PF_OK;
  return BRAID_PF_R_OUTCOME;
bad:
  close_fds(fds, &nfds);
  braid__msg_free(m);
  return rc == BRAID_OK ? BRAID_EINVAL : rc;
}


int braid__pf_read_ready(const braid_pf_in *in) {
  braid_pf_reply_hdr r;
  int fds[BRAID_SEG_MAX], nfds = 0, rc;
  size_t got;
  rc = braid__pf_read_hdr(in, &r, sizeof r, fds, &nfds, &got);
  if (rc == BRAID_OK &&
      (r.status != BRAID_PF_READY || r.len != 0 || nfds != 0))
    rc = BRAID_EINVAL;
  close_fds(fds, &nfds);
  return rc;
}

/*
** mpqueue.c: a message ring in shared memory for multiprocessing queues.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpqueue.h"
#include "pshared.h"
#include "psync.h"

#define MPQ_MAGIC 0x6251755au
#define HDR 8      /* each message: 8-byte length, then its bytes */
/* The header's top byte: how many segment descriptors the message has
** on the queue's socket (braid_mpq's 'sk'); the rest is the length. */
#define SEGSHIFT 56
#define LENMASK ((UINT64_C(1) << SEGSHIFT) - 1)
#define SPINS 4000 /* polls of a lock-free counter before sleeping */

struct braid_mpq_shm {
  uint32_t magic, pad;
  pthread_mutex_t mu;
  pthread_cond_t readers, writers, done;
  uint64_t cap;
  uint64_t head, tail; /* bytes read / written so far (tail - head used) */
  int64_t maxsize, count, unfinished;
  uint32_t wbusy, rbusy;  /* a message is streaming in / out */
  uint32_t rwait, wwait;  /* sleepers */
  unsigned char ring[];
};


static void mpq_destroy(braid_handle *h) {
  braid_mpq *q = (braid_mpq *)h;
  if (q->s) munmap(q->s, q->size);
  if (q->fd >= 0) close(q->fd);
  if (q->sk[0] >= 0) close(q->sk[0]);
  if (q->sk[1] >= 0) close(q->sk[1]);
  braid__free(q);
}

const braid_handle_type braid__mpq_type = { "braid.mp.Queue", mpq_destroy };


static braid_mpq *wrap(int fd, size_t size, braid_mpq_shm *s, int sk0,
                       int sk1) {
  braid_mpq *q = (braid_mpq *)braid__calloc(1, sizeof *q);
  if (q == NULL) {
    if (sk0 >= 0) close(sk0);
    if (sk1 >= 0) close(sk1);
    return NULL;
  }
  q->fd = fd;
  q->size = size;
  q->s = s;
  q->sk[0] = sk0;
  q->sk[1] = sk1;
  braid__handle_init(&q->h, &braid__mpq_type);
  return q;
}


int braid__mpq_new(braid_mpq **out, int64_t maxsize, size_t ringsize) {
  size_t size;
  braid_mpq_shm *s;
  int fd;
  *out = NULL;
  if (ringsize < 64) ringsize = 64;
  size = sizeof(braid_mpq_shm) + ringsize;
  s = (braid_mpq_shm *)braid__pshm_map(size, "braid-Queue", &fd);
  if (s == NULL) return BRAID_EOS;
  if (braid__pmutex_init(&s->mu) || braid__pcond_init(&s->readers) ||
      braid__pcond_init(&s->writers) || braid__pcond_init(&s->done)) {
    munmap(s, size);
    if (fd >= 0) close(fd);
    return BRAID_EOS;
  }
  s->magic = MPQ_MAGIC;
  s->cap = ringsize;
  s->maxsize = maxsize > 0 ? maxsize : 0;
  {
    int sk[2] = { -1, -1 };
    /* no socket (no descriptor left): the queue works without segments */
    if (fd < 0 ||
        socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sk) != 0)
      sk[0] = sk[1] = -1;
    *out = wrap(fd, size, s, sk[0], sk[1]);
  }
  if (*out == NULL) {
    munmap(s, size);
    if (fd >= 0) close(fd);
    return BRAID_ENOMEM;
  }
  return BRAID_OK;
}


int braid__mpq_attach(braid_mpq **out, int fd, size_t size, int sk0,
                      int sk1) {
  braid_mpq_shm *s;
  int d;
  *out = NULL;
  if (size < sizeof *s + 64 || (s = (braid_mpq_shm *)braid__pshm_attach(
                                    fd, size, &d)) == NULL) {
    int e = errno;
    if (sk0 >= 0) close(sk0);
    if (sk1 >= 0) close(sk1);
    errno = e;
    return size < sizeof *s + 64 ? BRAID_EINVAL : BRAID_EOS;
  }
  if (s->magic != MPQ_MAGIC || s->cap != size - sizeof *s) {
    munmap(s, size);
    close(d);
    if (sk0 >= 0) close(sk0);
    if (sk1 >= 0) close(sk1);
    return BRAID_EINVAL;
  }
  *out = wrap(d, size, s, sk0, sk1);
  if (*out == NULL) {
    munmap(s, size);
    close(d);
    return BRAID_ENOMEM;
  }
  return BRAID_OK;
}


static void ring_write(braid_mpq_shm *s, const unsigned char *p, size_t n) {
  size_t at = (size_t)(s->tail % s->cap), first = s->cap - at;
  if (first > n) first = n;
  memcpy(s->ring + at, p, first);
  memcpy(s->ring, p + first, n - first);
  s->tail += n;
}


static void ring_read(braid_mpq_shm *s, unsigned char *p, size_t n) {
  size_t at = (size_t)(s->head % s->cap), first = s->cap - at;
  if (first > n) first = n;
  memcpy(p, s->ring + at, first);
  memcpy(p + first, s->ring, n - first);
  s->head += n;
}


/* Spins (unlocked) until 'ok' would likely hold; the caller re-checks. */
#define SPIN_UNTIL(s, cond)                                   \
  do {                                                        \
    int k_;                                                   \
    braid__pmutex_unlock(&(s)->mu);                           \
    for (k_ = 0; k_ < SPINS && !(cond); k_++) braid__cpu_relax(); \
    braid__pmutex_lock(&(s)->mu);                             \
  } while (0)

#define LOADU(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)


static void wake(pthread_cond_t *c, uint32_t sleepers, int all) {
  if (sleepers == 0) return;
  if (all) pthread_cond_broadcast(c);
  else pthread_cond_signal(c);
}


int braid__mpq_put(braid_mpq *q, const void *p, size_t len,
                   const int *segs, int nsegs, int blocking, double timeout) {
  braid_mpq_shm *s = q->s;
  braid__deadline d = braid__deadline_in(blocking ? timeout : 0);
  const unsigned char *c = (const unsigned char *)p;
  unsigned char hdr[HDR];
  uint64_t ulen = len | ((uint64_t)nsegs << SEGSHIFT),
           whole = HDR + (uint64_t)len;
  int spun = 0;
  if (nsegs > 0 && (q->sk[0] < 0 || nsegs > BRAID_SEG_MAX))
    return BRAID_EAGAIN;
  memcpy(hdr, &ulen, HDR);
  braid__pmutex_lock(&s->mu);
  for (;;) {
    uint64_t freeb = s->cap - (s->tail - s->head);
    int roomy = whole <= s->cap ? freeb >= whole : freeb >= HDR;
    if (!s->wbusy && roomy && (s->maxsize == 0 || s->count < s->maxsize))
      break;
    if (!blocking || braid__deadline_passed(&d)) {
      braid__pmutex_unlock(&s->mu);
      return BRAID_ETIMEDOUT;
    }
    if (!spun) {
      spun = 1;
      SPIN_UNTIL(s, LOADU(s->tail) - LOADU(s->head) + whole <= s->cap);
      continue;
    }
    s->wwait++;
    braid__pcond_wait(&s->writers, &s->mu, &d);
    s->wwait--;
  }
  /* the descriptors first, in the ring's order (see braid_mpq) */
  if (nsegs > 0 && braid__seg_send_dgram(q->sk[0], segs, nsegs) != 0) {
    braid__pmutex_unlock(&s->mu);
    return BRAID_EAGAIN;
  }
  ring_write(s, hdr, HDR);
  s->count++;
  s->unfinished++;
  if (whole <= s->cap) {
    ring_write(s, c, len);
    wake(&s->readers, s->rwait, s->rbusy);
  } else { /* stream it: readers drain while we wait */
    size_t done = 0;
    s->wbusy = 1;
    while (done < len) {
      uint64_t freeb = s->cap - (s->tail - s->head);
      if (freeb == 0) {
        wake(&s->readers, s->rwait, 1);
        s->wwait++;
        braid__pcond_wait(&s->writers, &s->mu, NULL);
        s->wwait--;
        continue;
      }
      if (freeb > len - done) freeb = len - done;
      ring_write(s, c + done, (size_t)freeb);
      done += (size_t)freeb;
    }
    s->wbusy = 0;
    wake(&s->readers, s->rwait, 1);
    wake(&s->writers, s->wwait, 1);
  }
  braid__pmutex_unlock(&s->mu);
  return BRAID_OK;
}


int braid__mpq_get(braid_mpq *q, unsigned char **out, size_t *len,
                   int *segs, int *nsegs, int blocking, double timeout) {
  braid_mpq_shm *s = q->s;
  braid__deadline d = braid__deadline_in(blocking ? timeout : 0);
  unsigned char hdr[HDR], *buf;
  uint64_t ulen;
  size_t done = 0;
  int spun = 0, want;
  *out = NULL;
  *nsegs = 0;
  braid__pmutex_lock(&s->mu);
  while (s->rbusy || s->count == 0) {
    if (!blocking || braid__deadline_passed(&d)) {
      braid__pmutex_unlock(&s->mu);
      return BRAID_ETIMEDOUT;
    }
    if (!spun) {
      spun = 1;
      SPIN_UNTIL(s, LOADU(s->count) > 0);
      continue;
    }
    s->rwait++;
    braid__pcond_wait(&s->readers, &s->mu, &d);
    s->rwait--;
  }
  ring_read(s, hdr, HDR);
  memcpy(&ulen, hdr, HDR);
  want = (int)(ulen >> SEGSHIFT);
  ulen &= LENMASK;
  if (want > 0 && q->sk[1] >= 0) { /* this message's datagram */
    int k = braid__seg_recv_dgram(q->sk[1], segs, BRAID_SEG_MAX);
    *nsegs = k > 0 ? k : 0;
  }
  s->count--;
  buf = (unsigned char *)braid__malloc(ulen ? (size_t)ulen : 1);
  if (buf == NULL) { /* drop the message, keeping the ring consistent */
    s->rbusy = 1;
  }
  if (HDR + ulen <= s->cap && s->tail - s->head >= ulen) {
    if (buf) ring_read(s, buf, (size_t)ulen);
    else s->head += ulen;
  } else {
    s->rbusy = 1;
    while (done < ulen) {
      uint64_t avail = s->tail - s->head;
      if (avail == 0) {
        wake(&s->writers, s->wwait, 1);
        s->rwait++;
        braid__pcond_wait(&s->readers, &s->mu, NULL);
        s->rwait--;
        continue;
      }
      if (avail > ulen - done) avail = ulen - done;
      if (buf) ring_read(s, buf + done, (size_t)avail);
      else s->head += avail;
      done += (size_t)avail;
    }
  }
  s->rbusy = 0;
  wake(&s->writers, s->wwait, 1);
  if (s->count > 0) wake(&s->readers, s->rwait, 0);
  braid__pmutex_unlock(&s->mu);
  if (buf == NULL) {
    while (*nsegs > 0) close(segs[--*nsegs]);
    return BRAID_ENOMEM;
  }
  *out = buf;
  *len = (size_t)ulen;
  return BRAID_OK;
}


void braid__mpq_info(braid_mpq *q, int64_t *count, int64_t *maxsize,
                     int64_t *unfinished) {
  braid_mpq_shm *s = q->s;
  braid__pmutex_lock(&s->mu);
  *count = s->count;
  *maxsize = s->maxsize;
  *unfinished = s->unfinished;
  braid__pmutex_unlock(&s->mu);
}


void braid__mpq_set_maxsize(braid_mpq *q, int64_t maxsize) {
  braid_mpq_shm *s = q->s;
  int64_t old;
  braid__pmutex_lock(&s->mu);
  old = s->maxsize;
  s->maxsize = maxsize > 0 ? maxsize : 0;
  /* more room: every sleeping writer looks again (each re-reads it) */
  if (s->maxsize == 0 || (old > 0 && s->maxsize > old))
    wake(&s->writers, s->wwait, 1);
  braid__pmutex_unlock(&s->mu);
}


int braid__mpq_task_done(braid_mpq *q) {
  braid_mpq_shm *s = q->s;
  int rc = BRAID_OK;
  braid__pmutex_lock(&s->mu);
  if (s->unfinished <= 0) rc = BRAID_EINVAL;
  else if (--s->unfinished == 0) pthread_cond_broadcast(&s->done);
  braid__pmutex_unlock(&s->mu);
  return rc;
}


void braid__mpq_join(braid_mpq *q) {
  braid_mpq_shm *s = q->s;
  braid__pmutex_lock(&s->mu);
  while (s->unfinished > 0) braid__pcond_wait(&s->done, &s->mu, NULL);
  braid__pmutex_unlock(&s->mu);
}

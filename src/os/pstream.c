/*
** pstream.c: a message streamed to another process through a memfd (see
** pstream.h). See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "intr.h"
#include "pshared.h"
#include "pstream.h"

#define PS_MAGIC 0x3154535044494152ull /* "RAIDPST1" */

/* The control page (its first bytes). 'count' is stored (release) after
** the bytes it covers are written, 'state' after 'count' and the final
** message's place. */
typedef struct PsCtl {
  uint64_t magic;
  _Atomic uint64_t count;   /* bytes published */
  _Atomic uint64_t want;    /* a sleeping reader's wake-up count */
  _Atomic uint32_t seq;     /* futex word: bumped with each publication */
  _Atomic uint32_t waiters; /* a reader sleeps on 'seq' */
  _Atomic uint32_t state;   /* BRAID_PSTREAM_* */
  uint32_t restart;         /* DONE: the final message is at 'final_off' */
  uint64_t final_off, final_len;
  pthread_mutex_t lock; /* held by the writer until it ends the stream */
} PsCtl;

_Static_assert(sizeof(PsCtl) <= BRAID_PSTREAM_CTL, "control page too small");

struct braid_pstream_w {
  PsCtl *ctl;
  int fd;
  int failed;
  size_t written;
};

static _Atomic double pub_delay = 0.0;
static _Atomic long nwritten, nread;

double braid__pstream_delay(int set, double d) {
  return set ? atomic_exchange(&pub_delay, d) : atomic_load(&pub_delay);
}

void braid__pstream_counts(long *written, long *read) {
  *written = atomic_load_explicit(&nwritten, memory_order_relaxed);
  *read = atomic_load_explicit(&nread, memory_order_relaxed);
}




static void sleep_for(double s) {
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}


/* {====================== writer ====================== */

int braid__pstream_new(braid_pstream_w **out, int *fdout) {
  braid_pstream_w *w;
  PsCtl *ctl;
  int fd, e, dup;
  *out = NULL;
  w = (braid_pstream_w *)calloc(1, sizeof *w);
  if (w == NULL) return -1;
  fd = memfd_create("braid-stream", MFD_CLOEXEC);
  if (fd < 0) goto fail_w;
  if (ftruncate(fd, BRAID_PSTREAM_CTL) != 0) goto fail_fd;
  ctl = (PsCtl *)mmap(NULL, BRAID_PSTREAM_CTL, PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, 0);
  if (ctl == MAP_FAILED) goto fail_fd;
  ctl->magic = PS_MAGIC;
  if (braid__pmutex_init(&ctl->lock) != 0 ||
      pthread_mutex_lock(&ctl->lock) != 0) {
    munmap(ctl, BRAID_PSTREAM_CTL);
    errno = ENOMEM;
    goto fail_fd;
  }
  dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    e = errno;
    pthread_mutex_unlock(&ctl->lock);
    munmap(ctl, BRAID_PSTREAM_CTL);
    errno = e;
    goto fail_fd;
  }
  w->ctl = ctl;
  w->fd = fd;
  *out = w;
  *fdout = dup;
  atomic_fetch_add_explicit(&nwritten, 1, memory_order_relaxed);
  return 0;
fail_fd:
  e = errno;
  close(fd);
  errno = e;
fail_w:
  e = errno;
  free(w);
  errno = e;
  return -1;
}


static void wake(PsCtl *c, int always) {
  atomic_fetch_add(&c->seq, 1);
  if (atomic_load(&c->waiters) &&
      (always || atomic_load(&c->count) >= atomic_load(&c->want)))
    braid__pfutex(&c->seq, FUTEX_WAKE, INT32_MAX, NULL);
}


static void fail(braid_pstream_w *w) {
  if (w->failed) return;
  w->failed = 1;
  atomic_store_explicit(&w->ctl->state, BRAID_PSTREAM_FAILED,
                        memory_order_release);
  wake(w->ctl, 1);
}


void braid__pstream_fail(braid_pstream_w *w) { fail(w); }


int braid__pstream_write(braid_pstream_w *w, const void *base, size_t len) {
  double d = braid__pstream_delay(0, 0);
  if (w->failed) {
    errno = EIO;
    return -1;
  }
  if (len <= w->written) return 0;
  if (d > 0) sleep_for(d);
  if (braid__pwrite_all(w->fd, (const unsigned char *)base + w->written,
                len - w->written,
                (off_t)(BRAID_PSTREAM_CTL + w->written)) != 0) {
    int e = errno;
    fail(w);
    errno = e;
    return -1;
  }
  w->written = len;
  atomic_store_explicit(&w->ctl->count, len, memory_order_release);
  wake(w->ctl, 0);
  return 0;
}


int braid__pstream_done(braid_pstream_w *w, const void *base, size_t len,
                        int restart) {
  PsCtl *c = w->ctl;
  if (w->failed) {
    errno = EIO;
    return -1;
  }
  if (restart) { /* the final message whole, after what was published */
    size_t at = w->written;
    if (braid__pwrite_all(w->fd, (const unsigned char *)base, len,
                  (off_t)(BRAID_PSTREAM_CTL + at)) != 0) {
      int e = errno;
      fail(w);
      errno = e;
      return -1;
    }
    c->final_off = at;
    c->final_len = len;
    c->restart = 1;
    w->written = at + len;
    atomic_store_explicit(&c->count, w->written, memory_order_release);
  } else if (braid__pstream_write(w, base, len) != 0) {
    return -1;
  }
  atomic_store_explicit(&c->state, BRAID_PSTREAM_DONE, memory_order_release);
  wake(c, 1);
  return 0;
}


void braid__pstream_end(braid_pstream_w *w) {
  if (w == NULL) return;
  if (atomic_load(&w->ctl->state) != BRAID_PSTREAM_DONE) fail(w);
  /* unlocked before it is unmapped: the robust list must not keep it */
  pthread_mutex_unlock(&w->ctl->lock);
  munmap(w->ctl, BRAID_PSTREAM_CTL);
  close(w->fd);
  free(w);
}


size_t braid__pstream_written(const braid_pstream_w *w) {
  return w->written;
}
/* }==================================================== */


int braid__pstream_forge(int fd, unsigned long long count, unsigned state,
                         unsigned restart, unsigned long long final_off,
                         unsigned long long final_len) {
  PsCtl c;
  memset(&c, 0, sizeof c);
  c.magic = PS_MAGIC;
  atomic_init(&c.count, count);
  atomic_init(&c.state, state);
  c.restart = restart;
  c.final_off = final_off;
  c.final_len = final_len;
  if (braid__pmutex_init(&c.lock) != 0) {
    errno = ENOMEM;
    return -1;
  }
  return braid__pwrite_all(fd, (const unsigned char *)&c, sizeof c, 0);
}


/* {====================== reader ====================== */

int braid__pstream_open(braid_pstream_r *r, int fd) {
  struct stat st;
  PsCtl *c;
  memset(r, 0, sizeof *r);
  r->fd = fd;
  if (fstat(fd, &st) != 0) return -1;
  if (!S_ISREG(st.st_mode) || st.st_size < BRAID_PSTREAM_CTL) {
    errno = EINVAL;
    return -1;
  }
  c = (PsCtl *)mmap(NULL, BRAID_PSTREAM_CTL, PROT_READ | PROT_WRITE,
                    MAP_SHARED, fd, 0);
  if (c == MAP_FAILED) return -1;
  if (c->magic != PS_MAGIC) {
    munmap(c, BRAID_PSTREAM_CTL);
    errno = EINVAL;
    return -1;
  }
  r->ctl = c;
  r->known = (size_t)st.st_size - BRAID_PSTREAM_CTL;
  atomic_fetch_add_explicit(&nread, 1, memory_order_relaxed);
  return 0;
}


/* Makes the first 'n' bytes readable through r->map: checks the file holds
** them (a lying count would fault past its end), maps more when needed. */
static int ensure(braid_pstream_r *r, size_t n) {
  size_t len;
  void *p;
  if (n <= r->maplen && r->map != NULL) return 0; /* no NULL base: UB */
  if (n > r->known) {
    struct stat st;
    if (fstat(r->fd, &st) != 0) return -1;
    r->known = st.st_size > BRAID_PSTREAM_CTL
                   ? (size_t)st.st_size - BRAID_PSTREAM_CTL
                   : 0;
    if (n > r->known) {
      errno = EINVAL;
      return -1;
    }
  }
  /* at least double: few mappings, kept until close (the decoder may hold
  ** pointers into an older one, as a local stream's retired blocks) */
  len = r->maplen * 2;
  if (len < ((size_t)4 << 20)) len = (size_t)4 << 20;
  if (len < n) len = (n + 4095) & ~(size_t)4095;
  if (r->nold == (int)(sizeof r->old / sizeof r->old[0])) {
    errno = ENOMEM;
    return -1;
  }
  /* beyond the file's end is never touched: only [0, n) is read */
  p = mmap(NULL, len, PROT_READ, MAP_SHARED, r->fd, BRAID_PSTREAM_CTL);
  if (p == MAP_FAILED) return -1;
  if (r->map != NULL) {
    r->old[r->nold] = r->map;
    r->oldlen[r->nold++] = r->maplen;
  }
  r->map = (const unsigned char *)p;
  r->maplen = len;
  r->populated = 0;
  return 0;
}


/* Maps the pages of bytes [populated, n) in one call instead of a fault
** per 4 KiB page as the decoder reaches them. */
static void populate(braid_pstream_r *r, size_t n) {
#ifdef MADV_POPULATE_READ
  const uintptr_t pg = 4096;
  uintptr_t lo = ((uintptr_t)(r->map + r->populated)) & ~(pg - 1),
            hi = ((uintptr_t)(r->map + n)) & ~(pg - 1);
  if (hi > lo) {
    (void)madvise((void *)lo, hi - lo, MADV_POPULATE_READ);
    r->populated = (size_t)(hi - (uintptr_t)r->map);
  }
#else
  (void)r;
  (void)n;
#endif
}


/* The count has not reached what the reader needs: is the writer still
** at it? 0: yes (or it just ended: the caller looks again); -1 with
** errno: it died (EPIPE). */
static int writer_alive(PsCtl *c) {
  int held = braid__pmutex_held(&c->lock);
  if (held != 0) return held > 0 ? 0 : -1;
  /* it let go: it ended the stream, or died between its last store and
  ** the state's (the caller sees the state, else this says so) */
  if (atomic_load_explicit(&c->state, memory_order_acquire) ==
      BRAID_PSTREAM_OPEN) {
    errno = EPIPE;
    return -1;
  }
  return 0;
}


int braid__pstream_wait(braid_pstream_r *r, size_t want, size_t ahead,
                        braid_pstream_view *v) {
  PsCtl *c = (PsCtl *)r->ctl;
  for (;;) {
    uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
    uint64_t n = atomic_load_explicit(&c->count, memory_order_acquire);
    uint32_t seq;
    struct timespec ts;
    if (st == BRAID_PSTREAM_FAILED) {
      errno = EIO;
      return -1;
    }
    if (st > BRAID_PSTREAM_FAILED || n > SIZE_MAX) {
      errno = EINVAL;
      return -1;
    }
    if (st == BRAID_PSTREAM_DONE || n >= want) {
      if (ensure(r, (size_t)n) != 0) return -1;
      populate(r, (size_t)n);
      v->base = r->map;
      v->len = (size_t)n;
      v->state = (int)st;
      v->restart = 0;
      if (st == BRAID_PSTREAM_DONE && c->restart) {
        uint64_t off = c->final_off, len = c->final_len;
        if (off > n || len > n - off) {
          errno = EINVAL;
          return -1;
        }
        v->base = r->map + off;
        v->len = (size_t)len;
        v->restart = 1;
      }
      return 0;
    }
    if (braid__intr_stop()) {
      errno = EINTR;
      return -1;
    }
    seq = atomic_load(&c->seq);
    atomic_store(&c->want, want > SIZE_MAX - ahead ? want : want + ahead);
    atomic_store(&c->waiters, 1);
    if (atomic_load_explicit(&c->count, memory_order_acquire) != n ||
        atomic_load(&c->state) != st)
      continue; /* published meanwhile: the wake may have been missed */
    /* before each sleep: a writer that died is seen at once */
    if (writer_alive(c) != 0) {
      if (atomic_load(&c->state) != BRAID_PSTREAM_OPEN) continue;
      return -1;
    }
    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000 * 1000;
    if (r->until != NULL && !r->until->forever) {
      double left = braid__deadline_left(r->until);
      if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      if (left < 0.05) ts.tv_nsec = (long)(left * 1e9) + 1;
    }
    braid__pfutex(&c->seq, FUTEX_WAIT, seq, &ts);
  }
}


void braid__pstream_close(braid_pstream_r *r) {
  int i;
  for (i = 0; i < r->nold; i++) munmap((void *)r->old[i], r->oldlen[i]);
  r->nold = 0;
  if (r->map != NULL) munmap((void *)r->map, r->maplen);
  r->map = NULL;
  r->maplen = 0;
  if (r->ctl != NULL) munmap(r->ctl, BRAID_PSTREAM_CTL);
  r->ctl = NULL;
}
/* }==================================================== */

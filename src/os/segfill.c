/*
** segfill.c: segments with a control page, filled while their receiver
** copies them out (see segfill.h). See LICENSE for copyright and license.
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
#include "memseg.h"
#include "pshared.h"
#include "segfill.h"

#define SEG_MAGIC 0x3147455344494152ull /* "RAIDSEG1" */

/* A new segment of 'n' data bytes, sized, and sealed against shrinking
** (a receiver may map it as it lies, and a mapping of a file cut short
** faults with SIGBUS: segblock.h) and growing. Not against writes: the
** receiver's control page has to stay writable for its mutex. */
static int seg_create(size_t n) {
  int fd = memfd_create("braid-seg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  if (ftruncate(fd, (off_t)(BRAID_SEG_CTL + n)) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  return fd;
}

/* The control page (its first bytes). Shared by two processes that may
** not trust each other's bytes: the receiver checks magic, size and
** filled <= size, and reads only what 'filled' covers. */
typedef struct SegCtl {
  uint64_t magic;
  uint64_t size;            /* data bytes after the control page */
  _Atomic uint64_t filled;  /* bytes published (release) */
  _Atomic uint32_t seq;     /* futex word: bumped with each publication */
  _Atomic uint32_t waiters; /* a receiver sleeps on 'seq' */
  _Atomic uint32_t failed;  /* the sender gave up */
  pthread_mutex_t lock;     /* held by the sender while it fills */
} SegCtl;

_Static_assert(sizeof(SegCtl) <= BRAID_SEG_CTL, "control page too small");

static _Atomic long nmade, nread;
/* 8 MiB: below it the overlap does not pay for the control page's mapping
** and the per-chunk wake-ups (bench/README.md "bigx"). */
static _Atomic size_t late_min = (size_t)8 << 20;
static _Atomic size_t chunk = (size_t)2 << 20;
static _Atomic double fill_delay = 0.0;

size_t braid__seg_late_min(int set, size_t n) {
  return set ? atomic_exchange(&late_min, n) : atomic_load(&late_min);
}

size_t braid__seg_chunk(int set, size_t n) {
  if (set && n < 4096) n = 4096;
  return set ? atomic_exchange(&chunk, n) : atomic_load(&chunk);
}

double braid__seg_fill_delay(int set, double s) {
  return set ? atomic_exchange(&fill_delay, s) : atomic_load(&fill_delay);
}

void braid__seg_counts(long *made, long *read) {
  *made = atomic_load_explicit(&nmade, memory_order_relaxed);
  *read = atomic_load_explicit(&nread, memory_order_relaxed);
}




/* The late window: the segments made in it, filled or abandoned at its
** end. At most BRAID_SEG_MAX per message; one message per window. */
typedef struct Late {
  SegCtl *ctl; /* its control page, mapped (the mutex is ours) */
  int fd;      /* a descriptor of our own (the message's may be closed) */
  const char *src;
  size_t n;
} Late;

/* Heap, not TLS: a module's static TLS room is small. Allocated by the
** first late segment, freed when the last one ends. */
static __thread int nlate;
static __thread Late *lates;


int braid__seg_new_late(const void *p, size_t n) {
  SegCtl *ctl;
  int fd, own;
  if (nlate >= BRAID_SEG_MAX || n < braid__seg_late_min(0, 0))
    return braid__seg_new(p, n);
  if (lates == NULL &&
      (lates = (Late *)calloc(BRAID_SEG_MAX, sizeof *lates)) == NULL)
    return braid__seg_new(p, n);
  fd = seg_create(n);
  if (fd < 0) return -1;
  ctl = (SegCtl *)mmap(NULL, BRAID_SEG_CTL, PROT_READ | PROT_WRITE,
                       MAP_SHARED, fd, 0);
  if (ctl == MAP_FAILED) goto fail;
  ctl->magic = SEG_MAGIC;
  ctl->size = n;
  atomic_init(&ctl->filled, 0);
  if (braid__pmutex_init(&ctl->lock) != 0 ||
      pthread_mutex_lock(&ctl->lock) != 0 ||
      (own = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
    munmap(ctl, BRAID_SEG_CTL);
    goto fail;
  }
  lates[nlate].ctl = ctl;
  lates[nlate].fd = own;
  lates[nlate].src = (const char *)p;
  lates[nlate].n = n;
  nlate++;
  atomic_fetch_add_explicit(&nmade, 1, memory_order_relaxed);
  return fd;
fail: {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
}


int braid__seg_new(const void *p, size_t n) {
  /* the control page as a full segment has it: filled == size (the rest
  ** of the page is the zeros ftruncate leaves) */
  SegCtl hdr;
  int fd = seg_create(n);
  if (fd < 0) return -1;
  memset(&hdr, 0, sizeof hdr);
  hdr.magic = SEG_MAGIC;
  hdr.size = n;
  atomic_init(&hdr.filled, n);
  if (braid__pmutex_init(&hdr.lock) != 0 ||
      braid__pwrite_all(fd, (const char *)&hdr, sizeof hdr, 0) != 0 ||
      braid__pwrite_all(fd, (const char *)p, n, BRAID_SEG_CTL) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  atomic_fetch_add_explicit(&nmade, 1, memory_order_relaxed);
  return fd;
}


int braid__seg_size(int fd, size_t *n) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  if (!S_ISREG(st.st_mode) || st.st_size < BRAID_SEG_CTL) {
    errno = EINVAL;
    return -1;
  }
  *n = (size_t)st.st_size - BRAID_SEG_CTL;
  return 0;
}


const void *braid__seg_map(int fd, size_t n) {
  char *p = (char *)mmap(NULL, BRAID_SEG_CTL + n, PROT_READ, MAP_SHARED, fd,
                         0);
  const SegCtl *c = (const SegCtl *)p;
  atomic_fetch_add_explicit(&nread, 1, memory_order_relaxed);
  if (p == MAP_FAILED) return NULL;
  if (c->magic != SEG_MAGIC || c->size != n ||
      atomic_load_explicit(&c->filled, memory_order_relaxed) > n ||
      mprotect(p, BRAID_SEG_CTL, PROT_READ | PROT_WRITE) != 0) {
    munmap(p, BRAID_SEG_CTL + n);
    errno = EINVAL;
    return NULL;
  }
  return p;
}


void braid__seg_unmap(const void *p, size_t n) {
  munmap((void *)p, BRAID_SEG_CTL + n);
}


/* The filled count has not moved for a slice: is the sender still at it?
** 0: yes (or it just finished); -1 with errno: it died (EPIPE) or gave up
** without finishing (EIO). */
static int sender_alive(SegCtl *c, size_t n) {
  int held = braid__pmutex_held(&c->lock);
  if (held != 0) return held > 0 ? 0 : -1;
  /* the sender let go: it finished (the count says so) or gave up */
  if (atomic_load_explicit(&c->filled, memory_order_acquire) < n) {
    errno = EIO;
    return -1;
  }
  return 0;
}


int braid__seg_copy(const void *p, size_t n, void *dst) {
  SegCtl *c = (SegCtl *)p;
  const char *src = (const char *)p + BRAID_SEG_CTL;
  size_t done = 0;
  while (done < n) {
    uint64_t f = atomic_load_explicit(&c->filled, memory_order_acquire);
    uint32_t seq;
    struct timespec ts;
    if (f > n) {
      errno = EINVAL;
      return -1;
    }
    if (f > done) {
      if (dst != NULL) {
#ifdef MADV_POPULATE_READ
        /* one call maps the chunk's pages instead of a fault per page */
        const uintptr_t pg = 4096;
        uintptr_t lo = ((uintptr_t)(src + done)) & ~(pg - 1),
                  hi = ((uintptr_t)(src + f) + pg - 1) & ~(pg - 1);
        madvise((void *)lo, hi - lo, MADV_POPULATE_READ);
#endif
        memcpy((char *)dst + done, src + done, (size_t)f - done);
      }
      done = (size_t)f;
      continue;
    }
    if (atomic_load(&c->failed)) {
      errno = EIO;
      return -1;
    }
    if (braid__intr_stop()) {
      errno = EINTR;
      return -1;
    }
    seq = atomic_load(&c->seq);
    atomic_store(&c->waiters, 1);
    if (atomic_load_explicit(&c->filled, memory_order_acquire) != f)
      continue; /* published meanwhile: the wake may have been missed */
    /* before each sleep (not only after a slice without progress): a
    ** sender that let go or died is seen at once */
    if (sender_alive(c, n) != 0) return -1;
    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000 * 1000;
    braid__pfutex(&c->seq, FUTEX_WAIT, seq, &ts);
  }
  return 0;
}


int braid__seg_wait(const void *p, size_t n) {
  return braid__seg_copy(p, n, NULL);
}


int braid__seg_read(int fd, void *dst, size_t n) {
  const void *p;
  int rc, e;
  if (n == 0) return 0;
  p = braid__seg_map(fd, n);
  if (p == NULL) return -1;
  rc = braid__seg_copy(p, n, dst);
  e = errno;
  braid__seg_unmap(p, n);
  errno = e;
  return rc;
}


static void late_end(Late *l, int failed) {
  if (failed) atomic_store(&l->ctl->failed, 1);
  atomic_fetch_add(&l->ctl->seq, 1);
  braid__pfutex(&l->ctl->seq, FUTEX_WAKE, INT32_MAX, NULL);
  /* unlocked before it is unmapped: the robust list must not keep it */
  pthread_mutex_unlock(&l->ctl->lock);
  munmap(l->ctl, BRAID_SEG_CTL);
  close(l->fd);
}


void braid__seg_late_abandon(void) {
  while (nlate > 0) late_end(&lates[--nlate], 1);
  free(lates);
  lates = NULL;
}


void braid__seg_late_begin(void) {
  braid__seg_late_abandon();
}


static void delay(double s) {
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}


int braid__seg_late_fill(void) {
  int i, rc = 0, e = 0;
  size_t step = braid__seg_chunk(0, 0);
  double d = braid__seg_fill_delay(0, 0);
  for (i = 0; i < nlate; i++) {
    Late *l = &lates[i];
    size_t at = 0;
    int failed = 0;
    while (at < l->n) {
      size_t k = l->n - at < step ? l->n - at : step;
      if (d > 0) delay(d);
      if (braid__pwrite_all(l->fd, l->src + at, k,
                            (off_t)(BRAID_SEG_CTL + at))) {
        e = errno;
        failed = 1;
        rc = -1;
        break;
      }
      at += k;
      atomic_store_explicit(&l->ctl->filled, at, memory_order_release);
      atomic_fetch_add(&l->ctl->seq, 1);
      if (atomic_load(&l->ctl->waiters))
        braid__pfutex(&l->ctl->seq, FUTEX_WAKE, INT32_MAX, NULL);
    }
    late_end(l, failed);
  }
  nlate = 0;
  free(lates);
  lates = NULL;
  errno = e;
  return rc;
}

/*
** mmap.c: memory-mapped files and anonymous shared memory (mmap.h).
** See LICENSE for copyright and license.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap, memfd_create, memrchr */
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmap.h"


static void mmap_destroy(braid_handle *h) {
  braid_mmap *m = (braid_mmap *)h;
  braid__mmap_close(m);
  braid__mutex_destroy(&m->mu);
  braid__free(m);
}

const braid_handle_type braid__mmap_type = { "braid.mmap", mmap_destroy };


static int einval(const char **why, const char *msg) {
  if (why != NULL) *why = msg;
  return BRAID_EINVAL;
}


static int oserr(int e) {
  errno = e; /* BRAID_EOS: the binding reports errno */
  return BRAID_EOS;
}


/* Checks the file under 'fd' as Python does before mapping it, and
** returns the length to map in *len (0 asks for the rest of the file). */
static int check_file(int fd, int64_t offset, int64_t *len,
                      const char **why) {
  struct stat st;
  if (fstat(fd, &st) != 0) return oserr(errno);
  if (!S_ISREG(st.st_mode)) return BRAID_OK; /* a device: as given */
  if (*len == 0) {
    if (st.st_size == 0) return einval(why, "cannot mmap an empty file");
    if (offset >= st.st_size)
      return einval(why, "mmap offset is greater than file size");
    *len = (int64_t)st.st_size - offset;
  } else if (offset > st.st_size || st.st_size - offset < *len) {
    return einval(why, "mmap length is greater than file size");
  }
  return BRAID_OK;
}


int braid__mmap_new(braid_mmap **out, int fd, int anon, int64_t length,
                    int flags, int prot, int access, int64_t offset,
                    const char **why) {
  braid_mmap *m;
  void *p;
  int d = -1, rc;
  *out = NULL;
  if (fd >= 0 && !anon) {
    rc = check_file(fd, offset, &length, why);
    if (rc != BRAID_OK) return rc;
  }
  if ((uint64_t)length > (uint64_t)(SIZE_MAX / 2))
    return einval(why, "mmap length is too large");
  m = (braid_mmap *)braid__calloc(1, sizeof *m);
  if (m == NULL) return BRAID_ENOMEM;
  if (fd >= 0) {
    /* Our own descriptor: the caller may close theirs, and a spawned
    ** child receives this one. CLOEXEC: programs we exec get none. */
    d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) {
      braid__free(m);
      return oserr(errno);
    }
  } else if (flags & MAP_SHARED) {
    /* Anonymous shared memory on a memfd, so that a spawned child can
    ** map the same pages; without memfd (old kernel, seccomp) forked
    ** children still share it. */
    d = memfd_create("braid-mmap", MFD_CLOEXEC);
    if (d >= 0 && ftruncate(d, (off_t)length) != 0) {
      int e = errno;
      close(d);
      braid__free(m);
      return oserr(e);
    }
    if (d < 0 && errno != ENOSYS && errno != EPERM) {
      int e = errno;
      braid__free(m);
      return oserr(e);
    }
    anon = 1;
    offset = 0;
  } else {
    anon = 1;
  }
  if (d >= 0)
    p = mmap(NULL, (size_t)length, prot, flags & ~MAP_ANONYMOUS, d,
             (off_t)offset);
  else
    p = mmap(NULL, (size_t)length, prot, flags | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    if (d >= 0) close(d);
    braid__free(m);
    return oserr(e);
  }
  m->data = (unsigned char *)p;
  m->size = m->maplen = (size_t)length;
  m->offset = offset;
  m->fd = d;
  m->anon = anon;
  m->flags = flags;
  m->prot = prot;
  m->access = access;
  braid__mutex_init(&m->mu);
  braid__handle_init(&m->h, &braid__mmap_type);
  *out = m;
  return BRAID_OK;
}


void braid__mmap_close(braid_mmap *m) {
  braid__mutex_lock(&m->mu);
  if (m->data != NULL) munmap(m->data, m->maplen);
  if (m->fd >= 0) close(m->fd);
  m->data = NULL;
  m->fd = -1;
  braid__mutex_unlock(&m->mu);
}


int braid__mmap_closed(braid_mmap *m) {
  int c;
  braid__mutex_lock(&m->mu);
  c = m->data == NULL;
  braid__mutex_unlock(&m->mu);
  return c;
}


/* Takes the mutex of an open map; on a closed one returns ECLOSED
** unlocked. */
static int lock_open(braid_mmap *m) {
  braid__mutex_lock(&m->mu);
  if (m->data == NULL) {
    braid__mutex_unlock(&m->mu);
    return BRAID_ECLOSED;
  }
  return BRAID_OK;
}


static int done(braid_mmap *m, int rc) {
  braid__mutex_unlock(&m->mu);
  return rc;
}


/* Writes are refused on ACCESS_READ maps (Python's TypeError). */
static int writable(const braid_mmap *m) {
  return m->access != BRAID_ACCESS_READ;
}


int braid__mmap_len(braid_mmap *m, size_t *len) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  *len = m->size;
  return done(m, BRAID_OK);
}


int braid__mmap_info(braid_mmap *m, int *fd, size_t *maplen) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  *fd = m->fd;
  *maplen = m->maplen;
  return done(m, BRAID_OK);
}


static size_t remaining(const braid_mmap *m) {
  return m->pos < m->size ? m->size - m->pos : 0;
}


int braid__mmap_read(braid_mmap *m, int64_t n, int line, void *dst,
                     size_t cap, size_t *got) {
  size_t k, rest;
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  rest = remaining(m);
  if (line) {
    const unsigned char *nl = rest ? (const unsigned char *)memchr(
                                         m->data + m->pos, '\n', rest)
                                   : NULL;
    k = nl ? (size_t)(nl - (m->data + m->pos)) + 1 : rest;
  } else {
    k = (n < 0 || (uint64_t)n > rest) ? rest : (size_t)n;
  }
  *got = k;
  if (k > cap) return done(m, BRAID_EAGAIN);
  if (k) memcpy(dst, m->data + m->pos, k);
  m->pos += k;
  return done(m, BRAID_OK);
}


/* Python's slice bounds: negative counts from the end, then clipped. */
static size_t clip(int64_t i, int has, size_t size, size_t dflt) {
  if (!has) return dflt;
  if (i < 0) {
    i += (int64_t)size;
    if (i < 0) i = 0;
  }
  return (uint64_t)i > size ? size : (size_t)i;
}


int braid__mmap_slice(braid_mmap *m, int64_t i, int has_i, int64_t j,
                      int has_j, void *dst, size_t cap, size_t *got) {
  size_t a, b;
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  a = clip(i, has_i, m->size, 0);
  b = clip(j, has_j, m->size, m->size);
  *got = b > a ? b - a : 0;
  if (*got > cap) return done(m, BRAID_EAGAIN);
  if (*got) memcpy(dst, m->data + a, *got);
  return done(m, BRAID_OK);
}


int braid__mmap_read_byte(braid_mmap *m, int *byte) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (m->pos >= m->size) return done(m, BRAID_EINVAL);
  *byte = m->data[m->pos++];
  return done(m, BRAID_OK);
}


int braid__mmap_write(braid_mmap *m, const void *src, size_t n) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (!writable(m)) return done(m, BRAID_EPERM);
  if (n > remaining(m)) return done(m, BRAID_EINVAL);
  if (n) memcpy(m->data + m->pos, src, n);
  m->pos += n;
  return done(m, BRAID_OK);
}


int braid__mmap_write_byte(braid_mmap *m, int byte) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (!writable(m)) return done(m, BRAID_EPERM);
  if (m->pos >= m->size) return done(m, BRAID_EINVAL);
  m->data[m->pos++] = (unsigned char)byte;
  return done(m, BRAID_OK);
}


int braid__mmap_set(braid_mmap *m, int64_t off, const void *src, size_t n) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (!writable(m)) return done(m, BRAID_EPERM);
  if (off < 0 || (uint64_t)off > m->size || n > m->size - (size_t)off)
    return done(m, BRAID_EINVAL);
  if (n) memcpy(m->data + off, src, n);
  return done(m, BRAID_OK);
}


int braid__mmap_seek(braid_mmap *m, int64_t pos, int whence,
                     size_t *newpos) {
  int64_t where;
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  switch (whence) {
    case 0: where = pos; break;
    case 1: where = (int64_t)m->pos + pos; break;
    case 2: where = (int64_t)m->size + pos; break;
    default: return done(m, BRAID_ESTATE); /* unknown seek type */
  }
  if (where < 0 || (uint64_t)where > m->size) return done(m, BRAID_EINVAL);
  m->pos = (size_t)where;
  *newpos = m->pos;
  return done(m, BRAID_OK);
}


int braid__mmap_tell(braid_mmap *m, size_t *pos) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  *pos = m->pos;
  return done(m, BRAID_OK);
}


int braid__mmap_find(braid_mmap *m, const void *sub, size_t n, int64_t start,
                     int has_start, int64_t end, int has_end, int reverse,
                     int64_t *at) {
  size_t a, b, i;
  const unsigned char *s = (const unsigned char *)sub;
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  a = clip(start, has_start, m->size, m->pos > m->size ? m->size : m->pos);
  b = clip(end, has_end, m->size, m->size);
  *at = -1;
  if (b < a || b - a < n) return done(m, BRAID_OK);
  if (n == 0) {
    *at = (int64_t)(reverse ? b : a);
    return done(m, BRAID_OK);
  }
  if (!reverse) {
    for (i = a; i + n <= b;) {
      const unsigned char *p =
          (const unsigned char *)memchr(m->data + i, s[0], b - n + 1 - i);
      if (p == NULL) break;
      i = (size_t)(p - m->data);
      if (memcmp(p, s, n) == 0) {
        *at = (int64_t)i;
        break;
      }
      i++;
    }
  } else {
    for (i = b - n + 1; i > a;) {
      const unsigned char *p =
          (const unsigned char *)memrchr(m->data + a, s[0], i - a);
      if (p == NULL) break;
      i = (size_t)(p - m->data);
      if (memcmp(p, s, n) == 0) {
        *at = (int64_t)i;
        break;
      }
    }
  }
  return done(m, BRAID_OK);
}


int braid__mmap_move(braid_mmap *m, int64_t dest, int64_t src,
                     int64_t count) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (!writable(m)) return done(m, BRAID_EPERM);
  if (dest < 0 || src < 0 || count < 0 || (uint64_t)dest > m->size ||
      (uint64_t)src > m->size || (uint64_t)count > m->size - (size_t)dest ||
      (uint64_t)count > m->size - (size_t)src)
    return done(m, BRAID_EINVAL);
  if (count) memmove(m->data + dest, m->data + src, (size_t)count);
  return done(m, BRAID_OK);
}


int braid__mmap_resize(braid_mmap *m, int64_t newsize) {
  void *p;
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (m->access != BRAID_ACCESS_WRITE && m->access != BRAID_ACCESS_DEFAULT)
    return done(m, BRAID_EPERM);
  if (newsize < 0 || (uint64_t)newsize > SIZE_MAX / 2 ||
      (m->fd >= 0 && newsize > INT64_MAX - m->offset))
    return done(m, BRAID_EINVAL);
  if (m->fd >= 0 && ftruncate(m->fd, (off_t)(m->offset + newsize)) != 0)
    return done(m, oserr(errno));
  /* May move: other threads reach the bytes only under the mutex. */
  p = mremap(m->data, m->maplen, (size_t)newsize, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return done(m, oserr(errno));
  m->data = (unsigned char *)p;
  m->size = m->maplen = (size_t)newsize;
  return done(m, BRAID_OK);
}


int braid__mmap_filesize(braid_mmap *m, int64_t *size) {
  struct stat st;
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (m->anon || m->fd < 0) {
    *size = (int64_t)m->size;
    return done(m, BRAID_OK);
  }
  if (fstat(m->fd, &st) != 0) return done(m, oserr(errno));
  *size = (int64_t)st.st_size;
  return done(m, BRAID_OK);
}


int braid__mmap_flush(braid_mmap *m, int64_t off, int64_t n,
                      const char **why) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (off < 0 || n < 0 || (uint64_t)off > m->size ||
      (uint64_t)n > m->size - (size_t)off)
    return done(m, einval(why, "flush values out of range"));
  /* Nothing of a read-only or private map goes to the file. */
  if (m->access == BRAID_ACCESS_READ || m->access == BRAID_ACCESS_COPY)
    return done(m, BRAID_OK);
  if (n && msync(m->data + off, (size_t)n, MS_SYNC) != 0)
    return done(m, oserr(errno));
  return done(m, BRAID_OK);
}


int braid__mmap_madvise(braid_mmap *m, int option, int64_t start,
                        int64_t length, int has_length, const char **why) {
  int rc = lock_open(m);
  if (rc != BRAID_OK) return rc;
  if (start < 0 || (uint64_t)start >= m->size)
    return done(m, einval(why, "madvise start out of bounds"));
  if (!has_length) length = (int64_t)m->size;
  if (length < 0) return done(m, einval(why, "madvise length invalid"));
  if ((uint64_t)length > m->size - (size_t)start)
    length = (int64_t)(m->size - (size_t)start);
  if (madvise(m->data + start, (size_t)length, option) != 0)
    return done(m, oserr(errno));
  return done(m, BRAID_OK);
}

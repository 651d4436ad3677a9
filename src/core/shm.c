/*
** shm.c: shared typed memory (multiprocessing.Value / Array).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm.h"

/* Typecodes of Python's array/ctypes, with their C types. 'l' and 'L'
** follow the platform's long, as ctypes' c_long does. */
static const braid_ctype ctypes[] = {
  { 'b', sizeof(signed char), BRAID_CT_SIGNED, "signed char", SCHAR_MIN,
    SCHAR_MAX },
  { 'B', sizeof(unsigned char), BRAID_CT_UNSIGNED, "unsigned char", 0,
    UCHAR_MAX },
  { 'h', sizeof(short), BRAID_CT_SIGNED, "short", SHRT_MIN, SHRT_MAX },
  { 'H', sizeof(unsigned short), BRAID_CT_UNSIGNED, "unsigned short", 0,
    USHRT_MAX },
  { 'i', sizeof(int), BRAID_CT_SIGNED, "int", INT_MIN, INT_MAX },
  { 'I', sizeof(unsigned int), BRAID_CT_UNSIGNED, "unsigned int", 0,
    UINT_MAX },
  { 'l', sizeof(long), BRAID_CT_SIGNED, "long", LONG_MIN, LONG_MAX },
#if ULONG_MAX > 0xffffffffUL
  { 'L', sizeof(unsigned long), BRAID_CT_UNSIGNED, "unsigned long",
    INT64_MIN, INT64_MAX },
#else
  { 'L', sizeof(unsigned long), BRAID_CT_UNSIGNED, "unsigned long", 0,
    ULONG_MAX },
#endif
  { 'q', sizeof(long long), BRAID_CT_SIGNED, "long long", INT64_MIN,
    INT64_MAX },
  { 'Q', sizeof(unsigned long long), BRAID_CT_UNSIGNED,
    "unsigned long long", INT64_MIN, INT64_MAX },
  { 'f', sizeof(float), BRAID_CT_FLOAT, "float", 0, 0 },
  { 'd', sizeof(double), BRAID_CT_FLOAT, "double", 0, 0 },
  { 'c', sizeof(char), BRAID_CT_CHAR, "char", 0, UCHAR_MAX },
};


const braid_ctype *braid__ctype(int code) {
  size_t i;
  for (i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++)
    if (ctypes[i].code == code) return &ctypes[i];
  return NULL;
}


const char *braid__ctype_list(void) {
  return "b, B, h, H, i, I, l, L, q, Q, f, d or c";
}


int braid__ctype_checkint(const braid_ctype *ct, int64_t v) {
  return (v < ct->min || v > ct->max) ? BRAID_EINVAL : BRAID_OK;
}


/*
** {======================================================
** Objects
** =======================================================
*/

static void shm_destroy(braid_handle *h) {
  braid_shm *s = (braid_shm *)h;
  if (s->lock != NULL) braid__handle_release(s->lock);
  if (s->base != NULL) {
    braid__handle_release(&s->base->h); /* the owner unmaps */
  } else {
    if (s->data != NULL) munmap(s->data, s->mapsize);
    if (s->fd >= 0) close(s->fd);
  }
  braid__free(s);
}


const braid_handle_type braid__value_type = { "braid.Value", shm_destroy };
const braid_handle_type braid__array_type = { "braid.Array", shm_destroy };


static int oserr(int e) {
  errno = e; /* BRAID_EOS: the binding reports errno */
  return (e == ENOMEM || e == EFBIG || e == ENOSPC || e == EOVERFLOW)
             ? BRAID_ENOMEM
             : BRAID_EOS;
}


/* Maps 'size' zeroed bytes shared with whoever gets 'fd' (or, without
** memfd, with forked children only). Sets s->data, s->fd, s->mapsize. */
static int map_region(braid_shm *s, size_t size) {
  void *p;
  int fd;
  if (size == 0) size = 1; /* mmap refuses an empty mapping */
  /* CLOEXEC: a process start method that wants the fd in a child hands
  ** it over explicitly; other programs we exec must not inherit it. */
  fd = memfd_create(s->h.type == &braid__value_type ? "braid-Value"
                                                     : "braid-Array",
                    MFD_CLOEXEC);
  if (fd >= 0) {
    if (ftruncate(fd, (off_t)size) != 0) {
      int e = errno;
      close(fd);
      return oserr(e);
    }
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  } else if (errno == ENOSYS || errno == EPERM) {
    /* No memfd (old kernel, seccomp): anonymous shared memory still
    ** reaches forked children, only spawn cannot map it again. */
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0);
  } else {
    return oserr(errno);
  }
  if (p == MAP_FAILED) {
    int e = errno;
    if (fd >= 0) close(fd);
    return oserr(e);
  }
  s->data = (unsigned char *)p;
  s->fd = fd;
  s->mapsize = size;
  return BRAID_OK;
}


int braid__shm_new(braid_shm **out, const braid_handle_type *type,
                   const braid_ctype *ct, size_t length, braid_handle *lock) {
  braid_shm *s;
  int rc;
  *out = NULL;
  if (length > (SIZE_MAX / 2) / ct->size) return BRAID_ENOMEM;
  s = (braid_shm *)braid__calloc(1, sizeof *s);
  if (s == NULL) return BRAID_ENOMEM;
  s->h.type = type; /* map_region names the memfd after it */
  s->ct = ct;
  s->length = length;
  s->fd = -1;
  rc = map_region(s, length * ct->size);
  if (rc != BRAID_OK) {
    braid__free(s);
    return rc;
  }
  braid__handle_init(&s->h, type);
  s->lock = lock ? braid__handle_retain(lock) : NULL;
  *out = s;
  return BRAID_OK;
}


int braid__shm_view(braid_shm **out, braid_shm *s, braid_handle *lock) {
  braid_shm *v = (braid_shm *)braid__calloc(1, sizeof *v);
  braid_shm *owner = s->base ? s->base : s;
  *out = NULL;
  if (v == NULL) return BRAID_ENOMEM;
  v->ct = s->ct;
  v->length = s->length;
  v->data = s->data;
  v->fd = -1;
  v->base = (braid_shm *)braid__handle_retain(&owner->h);
  v->lock = lock ? braid__handle_retain(lock) : NULL;
  braid__handle_init(&v->h, s->h.type);
  *out = v;
  return BRAID_OK;
}


int braid__shm_attach(braid_shm **out, const braid_handle_type *type,
                      const braid_ctype *ct, size_t length, int fd,
                      size_t mapsize, braid_handle *lock) {
  braid_shm *s;
  void *p;
  int d;
  *out = NULL;
  if (length > (SIZE_MAX / 2) / ct->size || length * ct->size > mapsize)
    return BRAID_EINVAL;
  d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return BRAID_EOS;
  p = mmap(NULL, mapsize, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
  if (p == MAP_FAILED) {
    close(d);
    return BRAID_EOS;
  }
  s = (braid_shm *)braid__calloc(1, sizeof *s);
  if (s == NULL) {
    munmap(p, mapsize);
    close(d);
    return BRAID_ENOMEM;
  }
  s->ct = ct;
  s->length = length;
  s->data = (unsigned char *)p;
  s->fd = d;
  s->mapsize = mapsize;
  braid__handle_init(&s->h, type);
  s->lock = lock ? braid__handle_retain(lock) : NULL;
  *out = s;
  return BRAID_OK;
}


int braid__shm_fd(const braid_shm *s, size_t *mapsize) {
  const braid_shm *owner = s->base ? s->base : s;
  if (mapsize != NULL) *mapsize = owner->mapsize;
  return owner->fd;
}
/* }====================================================== */


/*
** {======================================================
** Element access
** =======================================================
*/

/* Elements are naturally aligned (the mapping is page-aligned and every
** element size divides the next ones' offsets), so each access below is
** a single machine load or store. */
#define LOAD(T, p) __atomic_load_n((const T *)(p), __ATOMIC_RELAXED)
#define STORE(T, p, v) __atomic_store_n((T *)(p), (T)(v), __ATOMIC_RELAXED)

void braid__shm_load(const braid_shm *s, size_t i, braid_elem *v) {
  const braid_ctype *ct = s->ct;
  const unsigned char *p = s->data + i * ct->size;
  uint64_t bits = 0;
  switch (ct->size) {
    case 1: bits = LOAD(uint8_t, p); break;
    case 2: bits = LOAD(uint16_t, p); break;
    case 4: bits = LOAD(uint32_t, p); break;
    default: bits = LOAD(uint64_t, p); break;
  }
  switch (ct->kind) {
    case BRAID_CT_SIGNED:
      switch (ct->size) {
        case 1: v->i = (int8_t)bits; break;
        case 2: v->i = (int16_t)bits; break;
        case 4: v->i = (int32_t)bits; break;
        default: v->i = (int64_t)bits; break;
      }
      break;
    case BRAID_CT_UNSIGNED:
      v->i = (int64_t)bits; /* zero-extended; 64 bits: two's complement */
      break;
    case BRAID_CT_FLOAT:
      if (ct->size == sizeof(float)) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        v->d = (double)f;
      } else {
        memcpy(&v->d, &bits, sizeof v->d);
      }
      break;
    default:
      v->c = (unsigned char)bits;
      break;
  }
}


void braid__shm_store(braid_shm *s, size_t i, const braid_elem *v) {
  const braid_ctype *ct = s->ct;
  unsigned char *p = s->data + i * ct->size;
  uint64_t bits;
  switch (ct->kind) {
    case BRAID_CT_FLOAT:
      if (ct->size == sizeof(float)) {
        float f = (float)v->d; /* rounds; IEEE gives inf beyond FLT_MAX */
        uint32_t b32;
        memcpy(&b32, &f, sizeof b32);
        bits = b32;
      } else {
        memcpy(&bits, &v->d, sizeof bits);
      }
      break;
    case BRAID_CT_CHAR:
      bits = v->c;
      break;
    default:
      bits = (uint64_t)v->i; /* truncated to the element size below */
      break;
  }
  switch (ct->size) {
    case 1: STORE(uint8_t, p, bits); break;
    case 2: STORE(uint16_t, p, bits); break;
    case 4: STORE(uint32_t, p, bits); break;
    default: STORE(uint64_t, p, bits); break;
  }
}


void braid__shm_read(const braid_shm *s, size_t off, void *dst, size_t n) {
  unsigned char *d = (unsigned char *)dst;
  size_t k;
  for (k = 0; k < n; k++) d[k] = LOAD(uint8_t, s->data + off + k);
}


void braid__shm_write(braid_shm *s, size_t off, const void *src, size_t n) {
  const unsigned char *c = (const unsigned char *)src;
  size_t k;
  for (k = 0; k < n; k++) STORE(uint8_t, s->data + off + k, c[k]);
}
/* }====================================================== */

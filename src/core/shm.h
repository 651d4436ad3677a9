/*
** shm.h: shared typed memory, the core of multiprocessing.Value and
** multiprocessing.Array.
** See LICENSE for copyright and license.
**
** An object is a typed region of memory mapped MAP_SHARED from a memfd
** file descriptor, so that the same bytes can later be seen by child
** processes (a fork inherits the mapping; a spawned child receives the fd
** and maps it again). Threads share it simply by sharing the handle.
**
** Several objects may share one mapping: a "view" (see braid__shm_view)
** holds a reference to the object that owns the mapping ('base') and
** differs from it only in its lock. That is how the raw object of a
** synchronized wrapper (get_obj) and sharedctypes.synchronized are made.
**
** Element accesses are single relaxed atomic loads and stores of the
** element's size: they never tear and are no data race for the compiler
** or ThreadSanitizer, but a read-modify-write ('v.value = v.value + 1')
** is not atomic; users hold the object's lock for that, as in Python.
*/
#ifndef BRAID_SHM_H
#define BRAID_SHM_H

#include "braidint.h"
#include "handle.h"

/* How the bits of an element are read. */
enum {
  BRAID_CT_SIGNED,   /* integers of 1, 2, 4 or 8 bytes, sign-extended */
  BRAID_CT_UNSIGNED, /* integers, zero-extended (8 bytes: two's complement) */
  BRAID_CT_FLOAT,    /* float or double */
  BRAID_CT_CHAR      /* one byte, a 1-byte string in Lua */
};

/* One typecode ('i') and the C type it stands for. 'min'/'max' bound the
** integers an element takes; 64-bit unsigned types take every int64_t
** (a negative value stands for its two's complement bit pattern). */
typedef struct braid_ctype {
  char code;
  unsigned char size;
  unsigned char kind;
  const char *cname; /* "int", "unsigned long long"... */
  int64_t min, max;
} braid_ctype;

/* A value of one element. Integers are kept as int64_t whatever their C
** type (unsigned 64-bit values in two's complement). */
typedef union braid_elem {
  int64_t i;
  double d;
  unsigned char c;
} braid_elem;

typedef struct braid_shm {
  braid_handle h;
  const braid_ctype *ct;
  size_t length;    /* elements (1 for a Value) */
  unsigned char *data;
  braid_handle *lock; /* retained, or NULL for a raw object */
  struct braid_shm *base; /* retained owner of the mapping, or NULL */
  /* Owner of the mapping only (base == NULL): */
  int fd;           /* memfd, or -1 when the system has no memfd */
  size_t mapsize;   /* bytes mapped: length * size, at least 1 */
} braid_shm;

BRAIDI_FUNC const braid_handle_type braid__value_type; /* "braid.Value" */
BRAIDI_FUNC const braid_handle_type braid__array_type; /* "braid.Array" */

/* The C type of typecode 'code', or NULL for an unknown typecode. */
BRAIDI_FUNC const braid_ctype *braid__ctype(int code);
/* "b, B, h, H, i, I, l, L, q, Q, f, d or c", for error messages. */
BRAIDI_FUNC const char *braid__ctype_list(void);

/* Creates a zero-filled object of 'length' elements of 'ct' with one
** reference for the caller. 'type' is &braid__value_type (length 1) or
** &braid__array_type. 'lock' (may be NULL) is retained by the object.
** Returns BRAID_OK, BRAID_ENOMEM (also for a size that overflows) or
** BRAID_EOS (the system refused a file descriptor or a mapping). */
BRAIDI_FUNC int braid__shm_new(braid_shm **out, const braid_handle_type *type,
                               const braid_ctype *ct, size_t length,
                               braid_handle *lock);

/* Creates another object of the same type over the memory of 's', with
** 'lock' (retained; NULL for a raw object) instead of the lock of 's'.
** Returns BRAID_OK or BRAID_ENOMEM. */
BRAIDI_FUNC int braid__shm_view(braid_shm **out, braid_shm *s,
                                braid_handle *lock);

/* The file descriptor of the mapping of 's' (-1 when there is none) and
** the bytes it maps (for processes that will map it again). */
BRAIDI_FUNC int braid__shm_fd(const braid_shm *s, size_t *mapsize);

/* Maps the memory of 'fd' ('mapsize' bytes, as braid__shm_fd gave) as a
** new object (the fd is dup'ed). For processes started with spawn or the
** forkserver. Returns BRAID_OK, BRAID_EINVAL or BRAID_EOS. */
BRAIDI_FUNC int braid__shm_attach(braid_shm **out,
                                  const braid_handle_type *type,
                                  const braid_ctype *ct, size_t length,
                                  int fd, size_t mapsize,
                                  braid_handle *lock);

/* Converts an integer for an element of 'ct': BRAID_OK, or BRAID_EINVAL
** when 'v' is out of the C type's range (ctypes would wrap silently). */
BRAIDI_FUNC int braid__ctype_checkint(const braid_ctype *ct, int64_t v);

/* Element 'i' (0-based, i < length) of 's', read/written atomically with
** relaxed order. Integers of 'v' must have passed braid__ctype_checkint;
** doubles stored into a float are rounded to float. */
BRAIDI_FUNC void braid__shm_load(const braid_shm *s, size_t i, braid_elem *v);
BRAIDI_FUNC void braid__shm_store(braid_shm *s, size_t i,
                                  const braid_elem *v);

/* Copies 'n' bytes at byte offset 'off' out of / into the data of 's'
** (byte-wise relaxed atomics: each byte is one access). */
BRAIDI_FUNC void braid__shm_read(const braid_shm *s, size_t off, void *dst,
                                 size_t n);
BRAIDI_FUNC void braid__shm_write(braid_shm *s, size_t off, const void *src,
                                  size_t n);

#endif

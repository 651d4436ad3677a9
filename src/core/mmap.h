/*
** mmap.h: memory-mapped files and anonymous shared memory, the core of
** braid.mmap (Python's mmap.mmap).
** See LICENSE for copyright and license.
**
** One braid_mmap is one mapping of this process, shared by reference by
** every state (thread) that holds its handle; the file position is the
** object's, as in Python, so threads that read through one object share
** it. Each operation runs under the object's mutex (which is held only
** for the copy, never while Lua runs), so a close() or resize() in one
** thread never unmaps bytes another thread is copying.
**
** Sharing with processes: a forked child keeps the mapping (a shared one
** stays shared, a private one becomes the child's copy-on-write copy).
** Other children map the same file again from a descriptor the object
** keeps ('fd', close-on-exec: a duplicate of the caller's for a file map,
** a memfd for an anonymous shared map), with braid__mmap_new given that
** descriptor and 'anon' set.
**
** Offsets and sizes are byte counts; every function returns BRAID_OK or
** a BRAID_E* code: BRAID_ECLOSED on a closed map, BRAID_EPERM for a write
** to a read-only map, BRAID_EINVAL for an argument out of range (with a
** Python message in *why where the caller needs one), BRAID_EOS with
** errno set, BRAID_ENOMEM.
*/
#ifndef BRAID_MMAP_H
#define BRAID_MMAP_H

#include <stdint.h>

#include "braidint.h"
#include "handle.h"
#include "os.h"

/* Python's access values (mmap.ACCESS_*). */
enum {
  BRAID_ACCESS_DEFAULT = 0,
  BRAID_ACCESS_READ = 1,
  BRAID_ACCESS_WRITE = 2,
  BRAID_ACCESS_COPY = 3
};

typedef struct braid_mmap {
  braid_handle h;
  braid__mutex mu;
  unsigned char *data; /* NULL once closed */
  size_t size;         /* len(m); 'maplen' differs only for an empty map */
  size_t maplen;
  size_t pos;          /* may exceed 'size' after a shrinking resize */
  int64_t offset;      /* in the file */
  int fd;              /* see above; -1: anonymous without memfd */
  int anon;            /* made from fileno -1 (size() is len(m)) */
  int flags, prot, access; /* as resolved from Python's arguments */
} braid_mmap;

BRAIDI_FUNC const braid_handle_type braid__mmap_type;

/* Python's mmap(fileno, length, flags, prot, access, offset): 'flags' and
** 'prot' already resolved by the caller from 'access' (see lmmap.c), a
** negative 'fd' maps anonymous memory. 'anon' with fd >= 0: the memfd of
** an anonymous map received from a parent. *why: the ValueError message
** of a BRAID_EINVAL. */
BRAIDI_FUNC int braid__mmap_new(braid_mmap **out, int fd, int anon,
                                int64_t length, int flags, int prot,
                                int access, int64_t offset, const char **why);
/* Unmaps and closes the descriptor; idempotent. */
BRAIDI_FUNC void braid__mmap_close(braid_mmap *m);
BRAIDI_FUNC int braid__mmap_closed(braid_mmap *m);
BRAIDI_FUNC int braid__mmap_len(braid_mmap *m, size_t *len);
/* What a child needs to map it again: the descriptor (-1: none) and the
** mapped length, read under the lock (a close may run meanwhile). */
BRAIDI_FUNC int braid__mmap_info(braid_mmap *m, int *fd, size_t *maplen);

/* Copies out up to 'n' bytes (n < 0: the rest) from the position (or, for
** _readline, up to and including the next '\n') into 'dst' of 'cap'
** bytes and advances. When more than 'cap' bytes are due it copies
** nothing and returns BRAID_EAGAIN with *got = the count needed: the
** caller allocates that much and calls again. */
BRAIDI_FUNC int braid__mmap_read(braid_mmap *m, int64_t n, int line,
                                 void *dst, size_t cap, size_t *got);
/* Python's m[i:j] with 'has_i'/'has_j' false for an omitted bound
** (negative bounds count from the end, both are clipped); same protocol
** as braid__mmap_read. */
BRAIDI_FUNC int braid__mmap_slice(braid_mmap *m, int64_t i, int has_i,
                                  int64_t j, int has_j, void *dst, size_t cap,
                                  size_t *got);
BRAIDI_FUNC int braid__mmap_read_byte(braid_mmap *m, int *byte);
/* Writes 'n' bytes at the position and advances (EINVAL "data out of
** range" when they do not fit). */
BRAIDI_FUNC int braid__mmap_write(braid_mmap *m, const void *src, size_t n);
BRAIDI_FUNC int braid__mmap_write_byte(braid_mmap *m, int byte);
/* m[off:off+n] = src (EINVAL when the range does not fit). */
BRAIDI_FUNC int braid__mmap_set(braid_mmap *m, int64_t off, const void *src,
                                size_t n);
BRAIDI_FUNC int braid__mmap_seek(braid_mmap *m, int64_t pos, int whence,
                                 size_t *newpos);
BRAIDI_FUNC int braid__mmap_tell(braid_mmap *m, size_t *pos);
/* find/rfind: *at = the index or -1; start defaults to the position. */
BRAIDI_FUNC int braid__mmap_find(braid_mmap *m, const void *sub, size_t n,
                                 int64_t start, int has_start, int64_t end,
                                 int has_end, int reverse, int64_t *at);
BRAIDI_FUNC int braid__mmap_move(braid_mmap *m, int64_t dest, int64_t src,
                                 int64_t count);
/* Resizes the mapping (and the file or memfd under it) to 'newsize'. */
BRAIDI_FUNC int braid__mmap_resize(braid_mmap *m, int64_t newsize);
/* Python's size(): the file's size, or len(m) for an anonymous map. */
BRAIDI_FUNC int braid__mmap_filesize(braid_mmap *m, int64_t *size);
BRAIDI_FUNC int braid__mmap_flush(braid_mmap *m, int64_t off, int64_t n,
                                  const char **why);
BRAIDI_FUNC int braid__mmap_madvise(braid_mmap *m, int option, int64_t start,
                                    int64_t length, int has_length,
                                    const char **why);

#endif

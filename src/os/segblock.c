/*
** segblock.c: a big segment's bytes taken as they lie (see segblock.h).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segblock.h"
#include "segfill.h"

#define PAGE ((size_t)4096)

/* The blocks mapped now: a short list (each block is at least a
** segment's worth of bytes), searched only when a big block is freed or
** moved, and not at all while it is empty ('count'). */
typedef struct Mapped {
  void *block;
  void *base; /* the mapping: 'len' bytes */
  size_t len;
} Mapped;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static Mapped *list;
static size_t nlist, caplist;
static _Atomic long count;

/* A fork keeps the list whole: it is never copied half updated. */
static void atfork_prepare(void) { pthread_mutex_lock(&mu); }
static void atfork_release(void) { pthread_mutex_unlock(&mu); }
static void init_once(void) {
  pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}


/* Index of 'block' in the list, or -1 (under 'mu'). */
static long find(const void *block) {
  size_t i;
  for (i = 0; i < nlist; i++)
    if (list[i].block == block) return (long)i;
  return -1;
}


static int add(void *block, void *base, size_t len) {
  if (nlist == caplist) {
    size_t nc = caplist ? 2 * caplist : 16;
    Mapped *nl = (Mapped *)realloc(list, nc * sizeof *nl);
    if (nl == NULL) return -1;
    list = nl;
    caplist = nc;
  }
  list[nlist].block = block;
  list[nlist].base = base;
  list[nlist].len = len;
  nlist++;
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return 0;
}


void *braid__seg_block_map(int fd, size_t n, size_t hdr) {
  struct stat st;
  size_t flen, len;
  char *base;
  int seals, e;
  if (hdr >= BRAID_SEG_CTL || n > SIZE_MAX / 2 || fstat(fd, &st) != 0 ||
      !S_ISREG(st.st_mode) || (size_t)st.st_size != BRAID_SEG_CTL + n) {
    errno = EINVAL;
    return NULL;
  }
  seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
    errno = EPERM;
    return NULL;
  }
  pthread_once(&once, init_once);
  flen = (BRAID_SEG_CTL + n + PAGE - 1) & ~(PAGE - 1);
  len = (BRAID_SEG_CTL + n + 1 + PAGE - 1) & ~(PAGE - 1);
  base = (char *)mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return NULL;
  if (mmap(base, flen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
           0) == MAP_FAILED)
    goto fail;
  pthread_mutex_lock(&mu);
  if (add(base + BRAID_SEG_CTL - hdr, base, len) != 0) {
    pthread_mutex_unlock(&mu);
    errno = ENOMEM;
    goto fail;
  }
  pthread_mutex_unlock(&mu);
  return base + BRAID_SEG_CTL - hdr;
fail:
  e = errno;
  munmap(base, len);
  errno = e;
  return NULL;
}


int braid__seg_block_owns(const void *block) {
  long i;
  if (atomic_load_explicit(&count, memory_order_relaxed) == 0) return 0;
  pthread_mutex_lock(&mu);
  i = find(block);
  pthread_mutex_unlock(&mu);
  return i >= 0;
}


int braid__seg_block_free(void *block) {
  Mapped m;
  long i;
  if (atomic_load_explicit(&count, memory_order_relaxed) == 0) return 0;
  pthread_mutex_lock(&mu);
  i = find(block);
  if (i >= 0) {
    m = list[i];
    list[i] = list[--nlist];
    atomic_fetch_sub_explicit(&count, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&mu);
  if (i < 0) return 0;
  munmap(m.base, m.len);
  return 1;
}


void *braid__seg_block_move(void *block, size_t osize, void *np,
                            size_t nsize) {
  if (np != NULL) memcpy(np, block, osize < nsize ? osize : nsize);
  braid__seg_block_free(block);
  return np;
}


long braid__seg_block_count(void) {
  return atomic_load_explicit(&count, memory_order_relaxed);
}

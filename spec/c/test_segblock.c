/*
** test_segblock.c: a big segment's bytes taken as they lie (segblock.h),
** from C alone with core headers only: the block holds the segment's
** bytes at 'hdr' and a writable byte after them (also when the file ends
** on a page boundary); writes to the block stay private (the segment's
** other readers still see its bytes); a segment that is not sealed
** against shrinking is refused; a pool (alloc.c) frees such a block by
** unmapping it and moves it (a realloc) into a block of its own, the
** bytes kept; a forked child's copy is its own.
*/
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "braidint.h"
#include "ctest.h"
#include "segblock.h"
#include "segfill.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define HDR 24 /* a Lua long string's header here; any size below a page */

static void fill(char *p, size_t n, unsigned seed) {
  size_t i;
  for (i = 0; i < n; i++) p[i] = (char)((i * 7 + seed) % 251);
}

static int same(const char *p, size_t n, unsigned seed) {
  size_t i;
  for (i = 0; i < n; i++)
    if (p[i] != (char)((i * 7 + seed) % 251)) return 0;
  return 1;
}

/* A sealed segment of 'n' pattern bytes (braid__seg_new), or -1. */
static int segment(size_t n, unsigned seed) {
  char *src = (char *)malloc(n);
  int fd;
  if (src == NULL) return -1;
  fill(src, n, seed);
  fd = braid__seg_new(src, n);
  free(src);
  return fd;
}

/* The segment's data byte 'i', read through a shared mapping. */
static int seg_byte(int fd, size_t n, size_t i) {
  const char *p = (const char *)braid__seg_map(fd, n);
  int c;
  if (p == NULL) return -1;
  c = (unsigned char)p[BRAID_SEG_CTL + i];
  braid__seg_unmap(p, n);
  return c;
}

static void test_bytes_in_place(void) {
  /* the second size ends the file on a page boundary: the byte after the
  ** data lies in the reservation's own page */
  static const size_t sizes[] = { 1 * MiB + 5, 4 * MiB - BRAID_SEG_CTL,
                                  3 * MiB };
  size_t k;
  for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    int fd = segment(n, (unsigned)k);
    char *b;
    CHECK(fd >= 0);
    b = (char *)braid__seg_block_map(fd, n, HDR);
    CHECK(b != NULL);
    CHECK_EQ(braid__seg_block_count(), 1);
    CHECK(braid__seg_block_owns(b));
    CHECK(!braid__seg_block_owns(b + 1));
    CHECK(same(b + HDR, n, (unsigned)k));
    /* the header and the terminating zero are written: privately */
    memset(b, 0x5a, HDR);
    b[HDR + n] = '\0';
    b[HDR] = (char)0x77;
    CHECK_EQ(seg_byte(fd, n, 0), (int)k); /* byte 0 of the pattern */
    close(fd); /* the block outlives the descriptor */
    b[HDR] = (char)k;
    CHECK(same(b + HDR, n, (unsigned)k));
    CHECK_EQ(b[HDR + n], '\0');
    CHECK_EQ(braid__seg_block_free(b), 1);
    CHECK_EQ(braid__seg_block_count(), 0);
    CHECK_EQ(braid__seg_block_free(b), 0); /* once */
  }
}

static void test_refused(void) {
  size_t n = 2 * MiB;
  int fd = memfd_create("braid-seg", MFD_CLOEXEC); /* not sealed */
  CHECK(fd >= 0);
  CHECK(ftruncate(fd, (off_t)(BRAID_SEG_CTL + n)) == 0);
  errno = 0;
  CHECK(braid__seg_block_map(fd, n, HDR) == NULL);
  CHECK_EQ(errno, EPERM);
  close(fd);
  /* sealed, but not of the size asked for; a header past the page */
  fd = segment(n, 1);
  CHECK(fd >= 0);
  errno = 0;
  CHECK(braid__seg_block_map(fd, n + 1, HDR) == NULL);
  CHECK_EQ(errno, EINVAL);
  CHECK(braid__seg_block_map(fd, n, BRAID_SEG_CTL) == NULL);
  CHECK_EQ(braid__seg_block_count(), 0);
  close(fd);
}

static void test_pool_frees_and_moves(void) {
  size_t n = 5 * MiB + 3;
  braid_salloc *a = braid__salloc_new();
  int fd = segment(n, 9);
  char *b, *nb;
  CHECK(a != NULL && fd >= 0);
  /* freed: unmapped, not taken for the pool's own */
  b = (char *)braid__seg_block_map(fd, n, HDR);
  CHECK(b != NULL);
  CHECK(braid__salloc_realloc(a, b, HDR + n + 1, 0) == NULL);
  CHECK_EQ(braid__seg_block_count(), 0);
  /* moved: a block of the pool's with the same bytes, the mapping gone */
  b = (char *)braid__seg_block_map(fd, n, HDR);
  CHECK(b != NULL);
  b[HDR + n] = '\0';
  nb = (char *)braid__salloc_realloc(a, b, HDR + n + 1, HDR + n + 1 + MiB);
  CHECK(nb != NULL && nb != b);
  CHECK_EQ(braid__seg_block_count(), 0);
  CHECK(same(nb + HDR, n, 9));
  CHECK(!braid__seg_block_owns(nb));
  CHECK(braid__salloc_realloc(a, nb, HDR + n + 1 + MiB, 0) == NULL);
  /* shrunk below a big block: the same */
  b = (char *)braid__seg_block_map(fd, n, HDR);
  CHECK(b != NULL);
  nb = (char *)braid__salloc_realloc(a, b, HDR + n + 1, 64 * KiB);
  CHECK(nb != NULL);
  CHECK(same(nb + HDR, 64 * KiB - HDR, 9));
  CHECK_EQ(braid__seg_block_count(), 0);
  braid__salloc_realloc(a, nb, 64 * KiB, 0);
  close(fd);
  braid__salloc_free(a);
}

static void test_fork(void) {
  size_t n = 2 * MiB;
  int fd = segment(n, 4), st = 0;
  char *b;
  pid_t pid;
  CHECK(fd >= 0);
  b = (char *)braid__seg_block_map(fd, n, HDR);
  CHECK(b != NULL);
  pid = fork();
  if (pid == 0) { /* the child's copy: its own to write and to free */
    int ok = same(b + HDR, n, 4) && braid__seg_block_count() == 1;
    b[HDR] = 'c';
    ok = ok && braid__seg_block_free(b) == 1 &&
         braid__seg_block_count() == 0;
    _exit(ok ? 0 : 1);
  }
  CHECK(pid > 0);
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(same(b + HDR, n, 4)); /* the child's write stayed there */
  CHECK_EQ(braid__seg_block_free(b), 1);
  close(fd);
}


int main(void) {
  static const ctest_case cases[] = {
    { "a block holds the bytes in place, its writes private", test_bytes_in_place },
    { "a segment not sealed, or not of the size, is refused", test_refused },
    { "a pool frees such a block by unmapping it, and moves it", test_pool_frees_and_moves },
    { "a forked child's copy is its own", test_fork },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

/*
** test_alloc.c: a state's pool (alloc.h) across forks, from C alone with
** core headers only: a fork stashes the blocks freed before it, and the
** blocks handed out next come from new chunks, up to the allowance, then
** from the stash again before any new chunk; blocks freed after the fork
** come first; a forked child forgets every freed block; repeated forks
** with big allocations in between keep the pool bounded. Every block is
** written whole and checked, so a block handed out twice or out of its
** chunk shows (and ASan's pass checks the poisoning of freed blocks).
** Buffers (braid__buf_grow): a big one grows with its bytes kept, by
** moving when no cached chunk fits, and into the cached chunk when one
** does; from malloc's sizes to big ones and back to none.
*/
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "braidint.h"
#include "ctest.h"

#define MiB ((size_t)1 << 20)
#define BLOCK 48 /* a record's small array: a small class */
#define FRESH_MAX (64 * MiB) /* alloc.c's STASH_FRESH_MAX */

typedef struct Blocks {
  unsigned char **p;
  size_t n;
} Blocks;

/* Allocates n blocks, each filled with its own pattern. */
static int take(braid_salloc *a, Blocks *b, size_t n, unsigned char tag) {
  size_t i;
  b->p = (unsigned char **)malloc(n * sizeof *b->p);
  b->n = n;
  if (b->p == NULL) return 0;
  for (i = 0; i < n; i++) {
    b->p[i] = (unsigned char *)braid__salloc_realloc(a, NULL, 0, BLOCK);
    if (b->p[i] == NULL) return 0;
    memset(b->p[i], (int)(tag + i % 7), BLOCK);
  }
  return 1;
}

/* Whether every block still holds its pattern (none was handed out
** twice), then frees them. */
static int give_back(braid_salloc *a, Blocks *b, unsigned char tag) {
  size_t i, j;
  int ok = 1;
  for (i = 0; i < b->n; i++) {
    for (j = 0; j < BLOCK; j++)
      if (b->p[i][j] != (unsigned char)(tag + i % 7)) ok = 0;
    braid__salloc_realloc(a, b->p[i], BLOCK, 0);
  }
  free(b->p);
  b->p = NULL;
  return ok;
}

static braid_salloc_stats stats(braid_salloc *a) {
  braid_salloc_stats st;
  braid__salloc_stats(a, &st);
  return st;
}


static void test_stash(void) {
  braid_salloc *a = braid__salloc_new_owned();
  braid_salloc_stats s0, s1, s2, s3;
  Blocks old, fresh, late, more;
  CHECK(a != NULL);
  CHECK(take(a, &old, 100000, 1)); /* about 4.6 MiB */
  CHECK(give_back(a, &old, 1));
  s0 = stats(a);
  CHECK_EQ(s0.free, 100000 * BLOCK);
  CHECK_EQ(s0.stashed, 0);
  /* no fork: nothing moves */
  braid__salloc_sync_fork(a);
  CHECK_EQ(stats(a).stashed, 0);
  /* a fork: the freed blocks go aside, the allowance is what they hold */
  braid__alloc_note_fork();
  braid__salloc_sync_fork(a);
  s1 = stats(a);
  CHECK_EQ(s1.free, 0);
  CHECK_EQ(s1.stashed, 100000 * BLOCK);
  CHECK_EQ(s1.fresh, 100000 * BLOCK);
  /* what comes next comes from new chunks */
  CHECK(take(a, &fresh, 50000, 2));
  s2 = stats(a);
  CHECK(s2.mapped > s1.mapped);
  CHECK_EQ(s2.stashed, 100000 * BLOCK);
  /* freed after the fork: handed out first */
  CHECK(take(a, &late, 1000, 3));
  CHECK(give_back(a, &late, 3));
  CHECK_EQ(stats(a).free, 1000 * BLOCK);
  CHECK(take(a, &late, 1000, 4));
  CHECK_EQ(stats(a).free, 0);
  CHECK_EQ(stats(a).stashed, 100000 * BLOCK);
  /* the allowance spent, the stash is taken before any new chunk */
  CHECK(take(a, &more, 150000, 5));
  s3 = stats(a);
  CHECK_EQ(s3.fresh, 0);
  CHECK(s3.stashed < 100000 * BLOCK);
  CHECK(s3.mapped <= s2.mapped + 8 * MiB);
  CHECK(give_back(a, &fresh, 2));
  CHECK(give_back(a, &late, 4));
  CHECK(give_back(a, &more, 5));
  braid__salloc_free(a);
}


static void test_child_forgets(void) {
  braid_salloc *a = braid__salloc_new_owned();
  braid_salloc_stats s0, s1;
  Blocks b, c;
  CHECK(a != NULL);
  CHECK(take(a, &b, 20000, 6));
  CHECK(give_back(a, &b, 6));
  braid__alloc_note_fork();
  braid__salloc_sync_fork(a); /* stashed */
  CHECK(take(a, &b, 100, 7));
  CHECK(give_back(a, &b, 7)); /* and freed since */
  s0 = stats(a);
  CHECK(s0.stashed > 0 && s0.free > 0);
  braid__salloc_after_fork(a); /* as in a forked child */
  s1 = stats(a);
  CHECK_EQ(s1.free, 0);
  CHECK_EQ(s1.stashed, 0);
  CHECK_EQ(s1.fresh, 0);
  CHECK(take(a, &c, 40000, 8)); /* from the bump and new chunks only */
  CHECK(stats(a).mapped > s1.mapped);
  CHECK(give_back(a, &c, 8));
  braid__salloc_free(a);
}


/* Forks with big allocations between them: each fork may allow new
** chunks only while the stash holds at most FRESH_MAX, so the pool's size
** levels off. */
static void test_bounded(void) {
  braid_salloc *a = braid__salloc_new_owned();
  size_t first = 0, round;
  CHECK(a != NULL);
  for (round = 0; round < 40; round++) {
    Blocks b;
    braid__alloc_note_fork();
    braid__salloc_sync_fork(a);
    CHECK(take(a, &b, 200000, (unsigned char)round)); /* about 9 MiB */
    CHECK(give_back(a, &b, (unsigned char)round));
    if (round == 0) first = stats(a).mapped;
    CHECK(stats(a).mapped <= first + 2 * FRESH_MAX + 16 * MiB);
  }
  braid__salloc_free(a);
}


static void fill_buf(unsigned char *b, size_t n, unsigned seed) {
  size_t i;
  for (i = 0; i < n; i += 4093) b[i] = (unsigned char)(i / 4093 * 7 + seed);
  b[n - 1] = (unsigned char)(seed + 1);
}

static int buf_same(const unsigned char *b, size_t n, unsigned seed) {
  size_t i;
  for (i = 0; i < n; i += 4093)
    if (b[i] != (unsigned char)(i / 4093 * 7 + seed)) return 0;
  return b[n - 1] == (unsigned char)(seed + 1);
}

static void test_buf_grow(void) {
  size_t cap, ncap, len;
  unsigned char *b, *nb;
  braid__alloc_trim(); /* no cached chunk: the big steps move */
  b = braid__buf_alloc(4096, &cap);
  CHECK(b != NULL && cap >= 4096);
  fill_buf(b, 4096, 4096 % 251);
  len = 4096;
  while (len < 40 * MiB) { /* 4 KiB (malloc) ... 40 MiB (mapped) */
    nb = braid__buf_grow(b, cap, len, len * 3, &ncap);
    CHECK(nb != NULL && ncap >= len * 3);
    CHECK(buf_same(nb, len, (unsigned)len % 251));
    b = nb;
    cap = ncap;
    len *= 3;
    fill_buf(b, len, (unsigned)len % 251);
  }
  braid__buf_free(b, cap);
}

static void test_buf_grow_cached(void) {
  size_t cap, ncap, ccap;
  unsigned char *b, *nb, *cached;
  braid__alloc_trim();
  cached = braid__buf_alloc(6 * MiB, &ccap); /* to the cache when freed */
  CHECK(cached != NULL);
  braid__buf_free(cached, ccap);
  b = braid__buf_alloc(2 * MiB, &cap);
  CHECK(b != NULL);
  fill_buf(b, 2 * MiB, 9);
  nb = braid__buf_grow(b, cap, 2 * MiB, 5 * MiB, &ncap);
  CHECK(nb == cached); /* present pages: taken before a move */
  CHECK_EQ(ncap, ccap);
  CHECK(buf_same(nb, 2 * MiB, 9));
  fill_buf(nb, 5 * MiB, 3);
  CHECK(buf_same(nb, 5 * MiB, 3));
  braid__buf_free(nb, ncap);
  braid__alloc_trim();
}


int main(void) {
  static const ctest_case cases[] = {
    { "a fork stashes freed blocks; new chunks, then the stash", test_stash },
    { "a forked child forgets every freed block", test_child_forgets },
    { "forks with big allocations between them stay bounded", test_bounded },
    { "a buffer grows from malloc's sizes to 40 MiB, bytes kept",
      test_buf_grow },
    { "a big buffer grows into a cached chunk when one fits",
      test_buf_grow_cached },
    { NULL, NULL },
  };
  if (getenv("BRAID_WORKER_ALLOC") != NULL) unsetenv("BRAID_WORKER_ALLOC");
  return ctest_run(cases);
}

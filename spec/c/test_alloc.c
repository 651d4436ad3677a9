/*
** test_alloc.c: a state's pool (alloc.h) across forks, from C alone with
** core headers only: a fork stashes the blocks freed before it, and the
** blocks handed out next come from new chunks, up to the allowance, then
** from the stash again before any new chunk; blocks freed after the fork
** come first; a forked child forgets every freed block; repeated forks
** with big allocations in between keep the pool bounded. Every block is
** written whole and checked, so a block handed out twice or out of its
** chunk shows (and ASan's pass checks the poisoning of freed blocks).
** Chunks left out of forks (braid__salloc_prefork): those holding no live
** block are advised not to be copied, and the advice is lifted after;
** the window's forks then put nothing aside (with none left out, all of
** them as before); a window of other threads' forks leaves every chunk
** out; a real child (not in the
** ASan pass, whose allocator a fork can hang) does not have them, forgets
** them and allocates from chunks of its own.
** Buffers (braid__buf_grow): a big one grows with its bytes kept, by
** moving when no cached chunk fits, and into the cached chunk when one
** does; from malloc's sizes to big ones and back to none.
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

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


/* Whether the mapping holding 'p' is advised not to be copied into
** children ("dc" in its VmFlags, /proc/self/smaps): 1, 0, or -1 when
** not found. */
static int dontcopy_at(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0, found = -1;
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    if (strncmp(line, "VmFlags:", 8) != 0 &&
        sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
      in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) {
      found = strstr(line, " dc") != NULL;
      break;
    }
  }
  fclose(f);
  return found;
}

#define PREFORK_BLOCKS 200000 /* about 9 MiB: five chunks of 2 MiB */
#define PINNED 10             /* the first blocks, kept live */

/* A pool whose first blocks live and whose others are free: its first
** chunk holds live blocks, the ones after it none. '*late' gets a block
** of a chunk that holds none. */
static braid_salloc *churned_pool(Blocks *pinned, unsigned char **late) {
  braid_salloc *a = braid__salloc_new_owned();
  Blocks b;
  size_t i;
  if (a == NULL || !take(a, &b, PREFORK_BLOCKS, 9)) return NULL;
  pinned->n = PINNED;
  pinned->p = (unsigned char **)malloc(PINNED * sizeof *pinned->p);
  if (pinned->p == NULL) return NULL;
  for (i = 0; i < PINNED; i++) pinned->p[i] = b.p[i];
  *late = b.p[PREFORK_BLOCKS - 1000];
  for (i = PINNED; i < PREFORK_BLOCKS; i++)
    braid__salloc_realloc(a, b.p[i], BLOCK, 0);
  free(b.p);
  return a;
}

static void test_prefork(void) {
  Blocks pinned, again;
  unsigned char *late;
  braid_salloc *a = churned_pool(&pinned, &late);
  braid_salloc_stats s0, s1, s2, s3;
  int left;
  CHECK(a != NULL);
  s0 = stats(a);
  CHECK_EQ(s0.free, (PREFORK_BLOCKS - PINNED) * BLOCK);
  CHECK_EQ(dontcopy_at(late), 0);
  left = braid__salloc_prefork(a, 0);
  s1 = stats(a);
  /* every chunk but the first: 9 MiB in chunks of 2 MiB */
  CHECK(left >= 3);
  CHECK_EQ(s1.left, (size_t)left * 2 * MiB);
  CHECK_EQ(dontcopy_at(late), 1);
  CHECK_EQ(dontcopy_at(pinned.p[0]), 0);
  /* nothing moves: the blocks of the chunks left out are most of them */
  CHECK_EQ(s1.stashed, 0);
  CHECK_EQ(s1.free, s0.free);
  /* the window's forks (two, say) put nothing more aside */
  braid__alloc_note_fork();
  braid__alloc_note_fork();
  braid__salloc_postfork(a);
  s2 = stats(a);
  CHECK_EQ(s2.left, 0);
  CHECK_EQ(dontcopy_at(late), 0);
  braid__salloc_sync_fork(a);
  CHECK_EQ(stats(a).free, s1.free);
  CHECK_EQ(stats(a).stashed, 0);
  /* what comes next comes from those free blocks: no new chunk */
  CHECK(take(a, &again, (PREFORK_BLOCKS - PINNED) / 2, 10));
  s3 = stats(a);
  CHECK_EQ(s3.mapped, s2.mapped);
  CHECK(give_back(a, &again, 10));
  CHECK(give_back(a, &pinned, 9));
  /* a fork after the window is a fork as before: all of it aside */
  braid__alloc_note_fork();
  braid__salloc_sync_fork(a);
  CHECK_EQ(stats(a).free, 0);
  braid__salloc_free(a);
}

/* A foreign window (forks by other threads, whose children never run this
** pool's state) leaves every chunk out, live blocks and all. */
static void test_prefork_foreign(void) {
  Blocks pinned;
  unsigned char *late;
  braid_salloc *a = churned_pool(&pinned, &late);
  braid_salloc_stats s0, s1;
  int left;
  CHECK(a != NULL);
  s0 = stats(a);
  left = braid__salloc_prefork(a, 1);
  s1 = stats(a);
  CHECK_EQ((size_t)left * 2 * MiB, s0.mapped);
  CHECK_EQ(s1.left, s0.mapped);
  CHECK_EQ(dontcopy_at(pinned.p[0]), 1);
  CHECK_EQ(dontcopy_at(late), 1);
  braid__alloc_note_fork();
  braid__salloc_postfork(a);
  CHECK_EQ(stats(a).left, 0);
  CHECK_EQ(dontcopy_at(pinned.p[0]), 0);
  braid__salloc_sync_fork(a);
  CHECK_EQ(stats(a).stashed, 0); /* all its free blocks stayed its own */
  CHECK(give_back(a, &pinned, 9));
  braid__salloc_free(a);
}

/* With a live block in every chunk, none is left out, and the window's
** forks are forks as before: the free blocks all go aside. */
static void test_prefork_none_left(void) {
  braid_salloc *a = braid__salloc_new_owned();
  Blocks b, keep;
  size_t i, k = 0, per_chunk = 2 * MiB / BLOCK / 2;
  CHECK(a != NULL);
  CHECK(take(a, &b, PREFORK_BLOCKS, 12));
  keep.p = (unsigned char **)malloc((PREFORK_BLOCKS / per_chunk + 1) *
                                    sizeof *keep.p);
  CHECK(keep.p != NULL);
  for (i = 0; i < PREFORK_BLOCKS; i++) {
    if (i % per_chunk == 0) { /* two a chunk */
      keep.p[k++] = b.p[i];
      continue;
    }
    braid__salloc_realloc(a, b.p[i], BLOCK, 0);
  }
  keep.n = k;
  free(b.p);
  CHECK_EQ(braid__salloc_prefork(a, 0), 0);
  CHECK_EQ(stats(a).left, 0);
  braid__alloc_note_fork();
  braid__salloc_postfork(a);
  braid__salloc_sync_fork(a);
  CHECK_EQ(stats(a).free, 0);
  CHECK_EQ(stats(a).stashed, (PREFORK_BLOCKS - k) * BLOCK);
  for (i = 0; i < k; i++) braid__salloc_realloc(a, keep.p[i], BLOCK, 0);
  free(keep.p);
  braid__salloc_free(a);
}

/* In a child: the chunks left out are absent, the pool forgets them and
** takes its blocks from chunks of its own; the parent gets its chunks
** back. (Not under ASan: its allocator can hang a forked child.) */
static void test_prefork_child(void) {
#if defined(__SANITIZE_ADDRESS__)
  printf("# skipped under ASan\n");
#else
  Blocks pinned;
  unsigned char *late;
  braid_salloc *a = churned_pool(&pinned, &late);
  pid_t pid;
  int status = -1;
  CHECK(a != NULL);
  CHECK(braid__salloc_prefork(a, 0) >= 3);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    unsigned char vec;
    Blocks b;
    int ok;
    braid__salloc_after_fork(a);
    /* absent here: mincore fails with ENOMEM on an unmapped page */
    ok = mincore((void *)((uintptr_t)late & ~(uintptr_t)4095), 4096, &vec) != 0;
    ok = ok && stats(a).free == 0 && stats(a).left == 0;
    ok = ok && take(a, &b, PREFORK_BLOCKS, 11) && give_back(a, &b, 11);
    ok = ok && give_back(a, &pinned, 9);
    braid__salloc_free(a); /* unmaps the gone chunks, caches none */
    _exit(ok ? 0 : 1);
  }
  braid__alloc_note_fork();
  braid__salloc_postfork(a);
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_EQ(stats(a).left, 0);
  late[0] = 1; /* still the parent's */
  CHECK(give_back(a, &pinned, 9));
  braid__salloc_free(a);
#endif
}


int main(void) {
  static const ctest_case cases[] = {
    { "a fork stashes freed blocks; new chunks, then the stash", test_stash },
    { "a forked child forgets every freed block", test_child_forgets },
    { "forks with big allocations between them stay bounded", test_bounded },
    { "chunks with nothing live are left out of a fork window",
      test_prefork },
    { "a window of other threads' forks leaves every chunk out",
      test_prefork_foreign },
    { "with a live block in every chunk a window is a fork as before",
      test_prefork_none_left },
    { "a child forgets the chunks left out and allocates its own",
      test_prefork_child },
    { "a buffer grows from malloc's sizes to 40 MiB, bytes kept",
      test_buf_grow },
    { "a big buffer grows into a cached chunk when one fits",
      test_buf_grow_cached },
    { NULL, NULL },
  };
  if (getenv("BRAID_WORKER_ALLOC") != NULL) unsetenv("BRAID_WORKER_ALLOC");
  return ctest_run(cases);
}

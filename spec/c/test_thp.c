/*
** test_thp.c: huge pages for fresh memory while they are cheap (thp.h),
** from C alone with core headers only: a range taken while huge pages
** are cheap is advised huge and its first huge page is faulted in (the
** probe); after a slow probe, ranges are advised small until
** BRAID_THP_RETRY_BYTES have been given out that way or
** BRAID_THP_RETRY_NS have passed; 'populate' faults in every page and
** keeps the contents; BRAID_HUGE_PAGES=never and =always (read once, so
** checked in a re-run of this binary) give small pages and unprobed
** huge ones.
*/
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"
#include "thp.h"

#define MiB ((size_t)1 << 20)
#define HUGE (2 * MiB)

static const char *self_path;

/* A fresh anonymous mapping of 'n' bytes starting on a huge page, or
** NULL; 'base'/'len' receive what to unmap. */
static char *fresh_map(size_t n, char **base, size_t *len) {
  char *m = (char *)mmap(NULL, n + HUGE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  *base = m;
  *len = n + HUGE;
  return (char *)(((uintptr_t)m + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
}

/* Whether the system has transparent huge pages at all (else madvise's
** advice is refused and shows in no VmFlags). */
static int have_thp(void) {
  return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

/* The advice on the mapping holding 'p', from /proc/self/smaps: 'h'
** (hg: huge), 'n' (nh: no huge), '-' (neither) or '?' (not found). */
static char advice_at(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0;
  char found = '?';
  if (f == NULL) return '?';
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') != NULL &&
        strncmp(line, "VmFlags", 7) != 0) {
      in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) {
      found = strstr(line, " hg") ? 'h' : strstr(line, " nh") ? 'n' : '-';
      break;
    }
  }
  fclose(f);
  return found;
}

/* How many of the pages of [p, p+n) are resident. */
static size_t resident(const char *p, size_t n) {
  size_t pages = n / 4096, i, count = 0;
  unsigned char *v = (unsigned char *)malloc(pages);
  if (v == NULL || mincore((void *)p, n, v) != 0) {
    free(v);
    return (size_t)-1;
  }
  for (i = 0; i < pages; i++) count += v[i] & 1;
  free(v);
  return count;
}

static void cheap_range_is_huge_and_probed(void) {
  char *base, *p;
  size_t len;
  braid__thp_note_probe(0); /* a fast probe: huge pages are cheap */
  CHECK(braid__thp_cheap());
  CHECK((p = fresh_map(8 * MiB, &base, &len)) != NULL);
  braid__thp_fresh(p, 8 * MiB, 0);
  CHECK_EQ(resident(p, HUGE), HUGE / 4096); /* the probe's huge page */
  CHECK_EQ(resident(p + HUGE, 6 * MiB), 0); /* the rest comes on use */
  if (have_thp()) {
    CHECK_EQ(advice_at(p), 'h');
    /* the rest follows the probe: still huge unless it was slow here */
    CHECK_EQ(advice_at(p + HUGE), braid__thp_cheap() ? 'h' : 'n');
  }
  munmap(base, len);
}

static void slow_probe_gives_small_pages(void) {
  char *base, *p;
  size_t len;
  CHECK_EQ(braid__thp_note_probe(BRAID_THP_SLOW_NS + 1), 1);
  CHECK(!braid__thp_cheap());
  CHECK((p = fresh_map(8 * MiB, &base, &len)) != NULL);
  braid__thp_fresh(p, 8 * MiB, 0);
  CHECK_EQ(resident(p, 8 * MiB), 0); /* no probe while small */
  if (have_thp()) CHECK_EQ(advice_at(p), 'n');
  munmap(base, len);
  CHECK_EQ(braid__thp_note_probe(0), 0);
  CHECK(braid__thp_cheap());
}

static void retry_after_bytes(void) {
  char *base, *p;
  size_t len, given = 0;
  braid__thp_note_probe(BRAID_THP_SLOW_NS * 5);
  CHECK((p = fresh_map(BRAID_THP_RETRY_BYTES, &base, &len)) != NULL);
  /* in ranges of 4 MiB: small pages until the bound is reached */
  while (given < BRAID_THP_RETRY_BYTES) {
    CHECK(!braid__thp_cheap());
    braid__thp_fresh(p + given, 4 * MiB, 0);
    given += 4 * MiB;
  }
  CHECK(braid__thp_cheap());
  if (have_thp()) CHECK_EQ(advice_at(p + given - HUGE), 'n');
  munmap(base, len);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void retry_after_time(void) {
  double t0 = now_s();
  braid__thp_note_probe(BRAID_THP_SLOW_NS * 5);
  CHECK(!braid__thp_cheap());
  /* bounded: the period is BRAID_THP_RETRY_NS; allow 3 times it */
  while (!braid__thp_cheap() && now_s() - t0 < 3.0 * BRAID_THP_RETRY_NS / 1e9)
    usleep(10000);
  CHECK(braid__thp_cheap());
  CHECK(now_s() - t0 >= BRAID_THP_RETRY_NS / 1e9 * 0.99);
}

static void populate_keeps_contents(void) {
  char *base, *p;
  size_t len, i;
  int ok = 1;
  CHECK((p = fresh_map(6 * MiB + 12345, &base, &len)) != NULL);
  p += 100; /* not aligned: the huge interior and the ends */
  for (i = 0; i < 6 * MiB; i += 4096 * 3) p[i] = (char)(i / 4096 + 1);
  braid__thp_fresh(p, 6 * MiB, 1);
  for (i = 0; i < 6 * MiB; i++)
    if (p[i] != (i % (4096 * 3) == 0 ? (char)(i / 4096 + 1) : 0)) ok = 0;
  CHECK(ok);
  CHECK_EQ(resident(p + 4096 - 100, 6 * MiB - 4096),
           (6 * MiB - 4096) / 4096);
  munmap(base, len);
}

/* Runs this binary again with BRAID_HUGE_PAGES=value and 'mode' as its
** argument; returns its exit status. */
static int rerun(const char *value, const char *mode) {
  pid_t pid = fork();
  int status = -1;
  if (pid == 0) {
    setenv("BRAID_HUGE_PAGES", value, 1);
    execl(self_path, self_path, mode, (char *)NULL);
    _exit(127);
  }
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* In the re-run: 0 when the mode behaves as documented. */
static int mode_child(int huge) {
  char *base, *p;
  size_t len;
  if ((p = fresh_map(8 * MiB, &base, &len)) == NULL) return 2;
  braid__thp_note_probe(0);
  if (braid__thp_cheap() != huge) return 3;
  braid__thp_fresh(p, 8 * MiB, 0);
  if (resident(p, 8 * MiB) != 0) return 4; /* neither mode probes */
  if (have_thp() && advice_at(p) != (huge ? 'h' : 'n')) return 5;
  braid__thp_note_probe(BRAID_THP_SLOW_NS * 5);
  if (braid__thp_cheap() != huge) return 6; /* probes change nothing */
  return 0;
}

static void mode_never(void) { CHECK_EQ(rerun("never", "never"), 0); }
static void mode_always(void) { CHECK_EQ(rerun("always", "always"), 0); }

int main(int argc, char **argv) {
  static const ctest_case cases[] = {
      {"a cheap range is advised huge and its first page probed",
       cheap_range_is_huge_and_probed},
      {"after a slow probe ranges take small pages",
       slow_probe_gives_small_pages},
      {"huge pages are tried again after RETRY_BYTES of small ones",
       retry_after_bytes},
      {"huge pages are tried again after RETRY_NS", retry_after_time},
      {"populate faults in every page and keeps the contents",
       populate_keeps_contents},
      {"BRAID_HUGE_PAGES=never gives small pages", mode_never},
      {"BRAID_HUGE_PAGES=always gives huge pages unprobed", mode_always},
      {NULL, NULL}};
  self_path = argv[0];
  if (argc > 1 && strcmp(argv[1], "never") == 0) return mode_child(0);
  if (argc > 1 && strcmp(argv[1], "always") == 0) return mode_child(1);
  return ctest_run(cases);
}

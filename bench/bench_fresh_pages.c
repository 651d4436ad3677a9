/*
** bench_fresh_pages.c: what fresh memory costs on this machine, the
** measurement behind src/os/thp.h's rule (bench/README.md, "Huge pages
** while they are cheap"). Each of 'rounds' fresh child processes maps
** 'mib' MiB (2 MiB-aligned) and faults it in 2 MiB at a time
** (MADV_POPULATE_WRITE), advised huge or small; the parent waits
** 'pause_ms' between children, so that the memory a child gave back is
** either still warm or has been taken back by the host (a guest with free
** page reporting reports free memory after ~2 s).
**
** Usage: bench_fresh_pages [mib [rounds [pause_ms]]] (40 6 3000).
** Prints, per advice, one line per child: the CPU ms of the whole range,
** and how many of its 2 MiB steps took over 1 ms (BRAID_THP_SLOW_NS).
*/
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define HUGE ((size_t)2 << 20)

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* In a child: maps and faults in 'n' bytes; prints the line. */
static void child(size_t n, int huge) {
  char *m = (char *)mmap(NULL, n + HUGE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *a;
  double total = 0;
  size_t off;
  int slow = 0;
  if (m == MAP_FAILED) _exit(1);
  a = (char *)(((uintptr_t)m + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
  madvise(a, n, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  for (off = 0; off < n; off += HUGE) {
    double t0 = cpu_ms(), dt;
    if (madvise(a + off, HUGE, MADV_POPULATE_WRITE) != 0) {
      size_t i; /* older kernels: a write per page */
      for (i = 0; i < HUGE; i += 4096) a[off + i] = 1;
    }
    dt = cpu_ms() - t0;
    total += dt;
    slow += dt > 1.0;
  }
  printf("  %6.1f ms, %2d of %zu steps over 1 ms\n", total, slow, n / HUGE);
  fflush(stdout);
  _exit(0);
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 40;
  int rounds = argc > 2 ? atoi(argv[2]) : 6;
  int pause_ms = argc > 3 ? atoi(argv[3]) : 3000;
  int huge, r;
  mib = (mib + 1) & ~(size_t)1; /* whole huge pages */
  for (huge = 1; huge >= 0; huge--) {
    printf("%s pages, %zu MiB per child, %d ms apart:\n",
           huge ? "huge" : "small", mib, pause_ms);
    for (r = 0; r < rounds; r++) {
      pid_t pid;
      fflush(stdout);
      pid = fork();
      if (pid == 0) child(mib << 20, huge);
      if (pid < 0 || waitpid(pid, NULL, 0) != pid) return 1;
      usleep((useconds_t)pause_ms * 1000);
    }
  }
  return 0;
}

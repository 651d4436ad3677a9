/*
** bench_spawn_c.c: the C baseline of the subprocess bench: posix_spawnp
** of "true" + waitpid, one after another, and 100 of them from 8 threads.
** Prints `key value` lines: single_us (per run, best of 'reps' rounds of
** 'n'), threads_ms (wall time of 100 runs from 8 threads, best of 'reps').
*/
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_true(void) {
  static char name[] = "true";
  char *argv[] = { name, NULL };
  pid_t pid;
  int st;
  if (posix_spawnp(&pid, "true", NULL, NULL, argv, environ) != 0) exit(1);
  if (waitpid(pid, &st, 0) != pid || st != 0) exit(1);
}

static int per_thread;

static void *worker(void *arg) {
  int i;
  (void)arg;
  for (i = 0; i < per_thread; i++) run_true();
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  int r, i, total = 100, nthreads = 8;
  double best = 1e9, tbest = 1e9;
  run_true(); /* warm */
  for (r = 0; r < reps; r++) {
    double t0 = now();
    for (i = 0; i < n; i++) run_true();
    if ((now() - t0) / n < best) best = (now() - t0) / n;
  }
  for (r = 0; r < reps; r++) {
    pthread_t t[8];
    double t0 = now();
    int done;
    /* 13 runs per thread (104 in all), scaled to 100 */
    per_thread = (total + nthreads - 1) / nthreads;
    for (i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    done = per_thread * nthreads;
    if ((now() - t0) * total / done < tbest) tbest = (now() - t0) * total / done;
  }
  printf("single_us %.1f\n", best * 1e6);
  printf("threads_ms %.2f\n", tbest * 1e3);
  return 0;
}

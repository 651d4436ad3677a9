/*
** bench_baseline.c: the plain C baselines of the thread benchmarks.
**
**   bench_baseline [total [window [reps]]]   (defaults 1000 50 3)
**
** Thread start+join (bench/run.lua): prints one "key value" line per figure
** (microseconds per operation, the best of 'reps' repetitions):
**   pthread_us  pthread_create + pthread_join of an empty function, started
**               in waves of 'window' threads (the pattern of the braid run)
**   state_us    luaL_newstate + luaL_openlibs + lua_close
**   state_min_us  luaL_newstate + base and string libraries + lua_close
**               (what a braid worker opens before its target runs)
**
**   bench_baseline speedup [iterations [tasks [threads]]]
**                                     (defaults 40000000 8 online CPUs)
**
** CPU-bound speedup (bench/pool_bench.lua): the job of the braid workload,
** burn(n) = sum of i % 7 for i = 1..n, over 'iterations' in all cut in
** 'tasks' equal tasks; run once on this thread, then once over 'threads'
** pthreads taking the tasks one at a time from a shared counter (threads
** created and joined inside the timing). One run of each per invocation:
** the caller interleaves invocations with its own runs. Prints:
**   seq_ms      the tasks one after the other, milliseconds
**   par_ms      the tasks over 'threads' threads, milliseconds
**   speedup     seq_ms / par_ms
**   seq_cpu_ms, par_cpu_ms   the process's CPU time in each run (clock())
**   threads     the number of threads
**   sum         the sum of the tasks' results (the same in both runs)
** See LICENSE for copyright and license.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


static void *empty(void *arg) { return arg; }


static double bench_pthread(int total, int window) {
  pthread_t *t = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)window);
  double t0;
  int done = 0, i, n;
  if (t == NULL) abort();
  t0 = now();
  while (done < total) {
    n = total - done < window ? total - done : window;
    for (i = 0; i < n; i++)
      if (pthread_create(&t[i], NULL, empty, NULL) != 0) abort();
    for (i = 0; i < n; i++) pthread_join(t[i], NULL);
    done += n;
  }
  t0 = now() - t0;
  free(t);
  return t0 * 1e6 / total;
}


static double bench_state_min(int total) {
  double t0 = now();
  int i;
  for (i = 0; i < total; i++) {
    lua_State *L = luaL_newstate();
    if (L == NULL) abort();
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    lua_close(L);
  }
  return (now() - t0) * 1e6 / total;
}


static double bench_state(int total) {
  double t0 = now();
  int i;
  for (i = 0; i < total; i++) {
    lua_State *L = luaL_newstate();
    if (L == NULL) abort();
    luaL_openlibs(L);
    lua_close(L);
  }
  return (now() - t0) * 1e6 / total;
}


/* { ------ CPU-bound speedup */

/* Keeps 'x' in a register the compiler knows nothing about, once per
** iteration: the loop cannot be folded into a formula or vectorised. */
#if defined(__GNUC__)
#define OPAQUE(x) __asm__ volatile("" : "+r"(x))
#else
#define OPAQUE(x) ((x) = *(volatile long long *)&(x))
#endif

/* The braid workload's task: local s = 0; for i = 1, n do s = s + i % 7 end */
static long long burn(long long n) {
  long long s = 0, i;
  for (i = 1; i <= n; i++) {
    s += i % 7;
    OPAQUE(s);
  }
  return s;
}


typedef struct Job {
  pthread_mutex_t mu;
  int next, ntasks;       /* the next task to take */
  long long per_task;     /* iterations per task */
  long long *res;         /* a result per task */
} Job;

static void *speedup_worker(void *arg) {
  Job *j = (Job *)arg;
  for (;;) {
    int k;
    pthread_mutex_lock(&j->mu);
    k = j->next++;
    pthread_mutex_unlock(&j->mu);
    if (k >= j->ntasks) return NULL;
    j->res[k] = burn(j->per_task);
  }
}


static long long job_sum(const Job *j) {
  long long s = 0;
  int k;
  for (k = 0; k < j->ntasks; k++) s += j->res[k];
  return s;
}


static int speedup(int argc, char **argv) {
  long long iterations = argc > 2 ? atoll(argv[2]) : 40000000;
  int ntasks = argc > 3 ? atoi(argv[3]) : 8;
  int nthreads = argc > 4 ? atoi(argv[4]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
  pthread_t *t;
  Job j;
  double t0, seq, par;
  clock_t c0, seq_cpu, par_cpu;
  long long seq_sum;
  int i;
  if (iterations < 1 || ntasks < 1 || nthreads < 1) {
    fprintf(stderr, "usage: bench_baseline speedup [iterations [tasks [threads]]]\n");
    return 2;
  }
  t = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)nthreads);
  j.res = (long long *)malloc(sizeof(long long) * (size_t)ntasks);
  if (t == NULL || j.res == NULL) abort();
  pthread_mutex_init(&j.mu, NULL);
  j.ntasks = ntasks;
  j.per_task = iterations / ntasks;
  /* sequential: the tasks one after the other on this thread */
  c0 = clock();
  t0 = now();
  for (i = 0; i < ntasks; i++) j.res[i] = burn(j.per_task);
  seq = now() - t0;
  seq_cpu = clock() - c0;
  seq_sum = job_sum(&j);
  memset(j.res, 0, sizeof(long long) * (size_t)ntasks);
  /* parallel: 'nthreads' threads take the tasks one at a time */
  j.next = 0;
  c0 = clock();
  t0 = now();
  for (i = 0; i < nthreads; i++)
    if (pthread_create(&t[i], NULL, speedup_worker, &j) != 0) abort();
  for (i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
  par = now() - t0;
  par_cpu = clock() - c0;
  if (job_sum(&j) != seq_sum) abort();
  printf("seq_ms %.3f\n", seq * 1e3);
  printf("par_ms %.3f\n", par * 1e3);
  printf("speedup %.4f\n", seq / par);
  printf("seq_cpu_ms %.3f\n", (double)seq_cpu * 1e3 / CLOCKS_PER_SEC);
  printf("par_cpu_ms %.3f\n", (double)par_cpu * 1e3 / CLOCKS_PER_SEC);
  printf("threads %d\n", nthreads);
  printf("sum %lld\n", seq_sum);
  pthread_mutex_destroy(&j.mu);
  free(j.res);
  free(t);
  return 0;
}
/* } ------ */


int main(int argc, char **argv) {
  int total = argc > 1 ? atoi(argv[1]) : 1000;
  int window = argc > 2 ? atoi(argv[2]) : 50;
  int reps = argc > 3 ? atoi(argv[3]) : 3;
  double best_thread = 1e30, best_state = 1e30, best_min = 1e30;
  int r;
  if (argc > 1 && strcmp(argv[1], "speedup") == 0) return speedup(argc, argv);
  if (total < 1 || window < 1 || reps < 1) {
    fprintf(stderr, "usage: bench_baseline [total [window [reps]]]\n");
    return 2;
  }
  bench_pthread(window, window); /* warm-up */
  bench_state(10);
  for (r = 0; r < reps; r++) {
    double a = bench_pthread(total, window), b = bench_state(total);
    double c = bench_state_min(total);
    if (a < best_thread) best_thread = a;
    if (b < best_state) best_state = b;
    if (c < best_min) best_min = c;
  }
  printf("pthread_us %.3f\n", best_thread);
  printf("state_us %.3f\n", best_state);
  printf("state_min_us %.3f\n", best_min);
  return 0;
}

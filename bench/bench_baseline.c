/*
** bench_baseline.c: the C baselines of the thread start+join benchmark.
**
**   bench_baseline [total [window [reps]]]   (defaults 1000 50 3)
**
** Prints one "key value" line per figure (microseconds per operation, the
** best of 'reps' repetitions), read by bench/run.lua:
**   pthread_us  pthread_create + pthread_join of an empty function, started
**               in waves of 'window' threads (the pattern of the braid run)
**   state_us    luaL_newstate + luaL_openlibs + lua_close
** See LICENSE for copyright and license.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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


int main(int argc, char **argv) {
  int total = argc > 1 ? atoi(argv[1]) : 1000;
  int window = argc > 2 ? atoi(argv[2]) : 50;
  int reps = argc > 3 ? atoi(argv[3]) : 3;
  double best_thread = 1e30, best_state = 1e30;
  int r;
  if (total < 1 || window < 1 || reps < 1) {
    fprintf(stderr, "usage: bench_baseline [total [window [reps]]]\n");
    return 2;
  }
  bench_pthread(window, window); /* warm-up */
  bench_state(10);
  for (r = 0; r < reps; r++) {
    double a = bench_pthread(total, window), b = bench_state(total);
    if (a < best_thread) best_thread = a;
    if (b < best_state) best_state = b;
  }
  printf("pthread_us %.3f\n", best_thread);
  printf("state_us %.3f\n", best_state);
  return 0;
}

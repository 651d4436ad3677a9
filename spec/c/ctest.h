/*
** ctest.h: a minimal harness for braid's C tests. Each TEST is a function;
** main() runs them in order and prints "N passed, N failed".
*/
#ifndef BRAID_CTEST_H
#define BRAID_CTEST_H

#include <stdio.h>
#include <stdlib.h>

static int ctest_failed_now;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__,   \
              #cond);                                                      \
      ctest_failed_now = 1;                                                \
      return;                                                              \
    }                                                                      \
  } while (0)

#define CHECK_EQ(a, b)                                                     \
  do {                                                                     \
    long long ctest_a = (long long)(a), ctest_b = (long long)(b);          \
    if (ctest_a != ctest_b) {                                              \
      fprintf(stderr, "  %s:%d: %s == %s failed (%lld vs %lld)\n",         \
              __FILE__, __LINE__, #a, #b, ctest_a, ctest_b);               \
      ctest_failed_now = 1;                                                \
      return;                                                              \
    }                                                                      \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
} ctest_case;

static int ctest_run(const ctest_case *cases) {
  int passed = 0, failed = 0;
  for (; cases->name != NULL; cases++) {
    ctest_failed_now = 0;
    cases->fn();
    if (ctest_failed_now) {
      printf("not ok - %s\n", cases->name);
      failed++;
    } else {
      printf("ok - %s\n", cases->name);
      passed++;
    }
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#endif

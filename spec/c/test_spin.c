/*
** test_spin.c: the busy-machine rule of the spin policy (spin.h), from C
** alone with core headers only. Readings of the machine's runnable
** threads over the CPUs stop spins only after 4 in a row; one reading
** that is not over ends it; a run broken by such a reading starts again.
** Then the whole path: with more busy processes than CPUs, a spin may
** no longer start, and once they are gone it may again (both waits
** bounded).
*/
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"
#include "spin.h"

#define CPUS 2

/* Ends any run of readings over the CPUs left by an earlier case. */
static void reset(void) {
  braid__spin_load_reading(1, CPUS);
}

static void single_reading_does_not_stop_spins(void) {
  reset();
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(1, CPUS), 0);
  /* a reading of exactly as many runnable threads as CPUs is not over */
  CHECK_EQ(braid__spin_load_reading(CPUS, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS, CPUS), 0);
}

static void four_in_a_row_stop_spins(void) {
  reset();
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 5, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 1);
  CHECK_EQ(braid__spin_load_reading(CPUS + 9, CPUS), 1); /* stays busy */
}

static void one_reading_not_over_ends_busy(void) {
  int i;
  reset();
  for (i = 0; i < 6; i++) braid__spin_load_reading(CPUS + 2, CPUS);
  CHECK_EQ(braid__spin_load_reading(CPUS + 2, CPUS), 1);
  CHECK_EQ(braid__spin_load_reading(CPUS, CPUS), 0);
  /* and the next run has to be four long again */
  CHECK_EQ(braid__spin_load_reading(CPUS + 2, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 2, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 2, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 2, CPUS), 1);
}

static void broken_run_starts_again(void) {
  reset();
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 0);
  CHECK_EQ(braid__spin_load_reading(CPUS + 1, CPUS), 1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Polls braid__spin_start until it answers 'want' or 'secs' pass. */
static int spin_start_becomes(int want, double secs) {
  double until = now_s() + secs;
  do {
    if (braid__spin_start() == want) return 1;
    usleep(1000);
  } while (now_s() < until);
  return 0;
}

static void busy_machine_stops_spins_until_it_is_not(void) {
  enum { MAXHOGS = 64 };
  pid_t hog[MAXHOGS];
  int n, i, stopped, resumed;
  reset();
  n = braid__spin_cpus();
  if (n < 2) { /* nothing ever spins here: the rule cannot show */
    printf("# skipped: %d usable CPU\n", n);
    return;
  }
  /* as many spinning processes as CPUs, and us: over the CPUs */
  if (n + 1 > MAXHOGS) n = MAXHOGS - 1;
  for (i = 0; i <= n; i++) {
    hog[i] = fork();
    if (hog[i] == 0) {
      alarm(60); /* never outlives a test run that dies */
      for (;;) {
      }
    }
    CHECK(hog[i] > 0);
  }
  stopped = spin_start_becomes(0, 10.0);
  for (i = 0; i <= n; i++) kill(hog[i], SIGKILL);
  for (i = 0; i <= n; i++) waitpid(hog[i], NULL, 0);
  resumed = spin_start_becomes(1, 10.0);
  CHECK(stopped);
  CHECK(resumed);
}

int main(void) {
  static const ctest_case cases[] = {
      {"a single reading over the CPUs does not stop spins",
       single_reading_does_not_stop_spins},
      {"four readings over the CPUs in a row stop spins",
       four_in_a_row_stop_spins},
      {"one reading not over the CPUs lets spins start again",
       one_reading_not_over_ends_busy},
      {"a run of readings broken by one not over starts again",
       broken_run_starts_again},
      {"more busy processes than CPUs stop spins until they are gone",
       busy_machine_stops_spins_until_it_is_not},
      {NULL, NULL}};
  return ctest_run(cases);
}

/*
** spin.c: when a waiter may spin (the policy is described in spin.h).
** See LICENSE for copyright and license.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT_S */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "park.h"
#include "spin.h"

/* Threads registered and not asleep in a braid wait. */
static atomic_int running;
/* Threads woken by a braid signal that have not run yet (a hint: any
** thread leaving a sleep takes one off). */
static atomic_int pending;
/* CPUs this process may use; 0 until first read. */
static atomic_int cpus;

/* Per thread: 0 unknown, 1 registered. 'depth' counts nested blocks
** (only the outermost changes 'running'); 'woke' the sleepers this thread
** woke since its last spin decision. */
static BRAID_TLS int tl_registered;
static BRAID_TLS int tl_depth;
/* This thread's spin decisions (when to read the CPUs again): per thread,
** so that no two spinners write one cache line for it. */
static BRAID_TLS unsigned tl_decisions;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int have_key;


/* { ------ CPUs: affinity and cgroup quota */

static int affinity_cpus(void) {
  cpu_set_t *set;
  size_t size;
  int n = 0, ncpu = 1024;
  for (;;) { /* machines with more CPUs than a cpu_set_t holds */
    set = CPU_ALLOC(ncpu);
    if (set == NULL) return 0;
    size = CPU_ALLOC_SIZE(ncpu);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      n = CPU_COUNT_S(size, set);
      CPU_FREE(set);
      return n;
    }
    CPU_FREE(set);
    if (ncpu >= (1 << 16)) return 0;
    ncpu *= 2;
  }
}


/* The quota in 'path' ("QUOTA PERIOD" for cgroup v2's cpu.max, or a
** cfs_quota_us file whose period is in 'period_path'), as CPUs rounded
** up; 0 when there is none (unlimited, or nothing readable). */
static int quota_cpus(const char *path, const char *period_path) {
  FILE *f = fopen(path, "re");
  long long quota = -1, period = 0;
  char word[32];
  if (f == NULL) return 0;
  if (fscanf(f, "%31s", word) == 1 && strcmp(word, "max") != 0) {
    quota = atoll(word);
    if (period_path == NULL && fscanf(f, "%lld", &period) != 1) period = 0;
  }
  fclose(f);
  if (quota <= 0) return 0;
  if (period_path != NULL) {
    f = fopen(period_path, "re");
    if (f == NULL) return 0;
    if (fscanf(f, "%lld", &period) != 1) period = 0;
    fclose(f);
  }
  if (period <= 0) return 0;
  return (int)((quota + period - 1) / period);
}


/* The smallest CPU quota on this process's cgroup v2 path (its own
** cgroup and every ancestor's: a parent's quota binds its children), or
** cgroup v1's at the root of the cpu hierarchy (a container's own);
** 0 when there is none. */
static int cgroup_cpus(void) {
  char line[512], path[600];
  int best = 0, q;
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (f != NULL) {
    while (fgets(line, sizeof line, f) != NULL) {
      char *p;
      if (strncmp(line, "0::", 3) != 0) continue;
      p = line + 3;
      p[strcspn(p, "\n")] = '\0';
      for (;;) { /* this cgroup, then each ancestor */
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max",
                 strcmp(p, "/") == 0 ? "" : p);
        q = quota_cpus(path, NULL);
        if (q > 0 && (best == 0 || q < best)) best = q;
        {
          char *slash = strrchr(p, '/');
          if (slash == NULL || slash == p) {
            if (strcmp(p, "/") == 0 || *p == '\0') break;
            strcpy(p, "/");
          } else {
            *slash = '\0';
          }
        }
      }
    }
    fclose(f);
  }
  q = quota_cpus("/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                 "/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (q > 0 && (best == 0 || q < best)) best = q;
  return best;
}


/* How many spin decisions between two reads of the affinity (a system
** call, ~1 us amortised to a few ns) and of the cgroup quota (file
** reads, tens of us). */
#define AFFINITY_EVERY 256u
#define CGROUP_EVERY (AFFINITY_EVERY * 64u)

static atomic_int quota; /* the last cgroup reading (0: no quota) */

static int refresh_cpus(unsigned k) {
  int n = affinity_cpus(), q;
  if (k % CGROUP_EVERY == 0)
    atomic_store_explicit(&quota, cgroup_cpus(), memory_order_relaxed);
  q = atomic_load_explicit(&quota, memory_order_relaxed);
  if (n <= 0) n = 1;
  if (q > 0 && q < n) n = q;
  atomic_store_explicit(&cpus, n, memory_order_relaxed);
  return n;
}


/* { ------ the machine: runnable threads of every process */

/* Another process's busy threads take CPUs our count cannot see: on a
** machine with more runnable threads than CPUs, a spinner (waiting for
** another process through a pipe, or for a thread of its own) holds a CPU
** that a runnable thread, perhaps the partner, waits for. The kernel's
** instantaneous count (the fourth field of /proc/loadavg, "running/
** threads", every CPU's run queue) is read at most every LOAD_EVERY_MS by
** whichever spinner finds it stale; reading it costs a few microseconds.
** One reading over the CPUs proves little: with two threads spinning on
** 2 CPUs, a fifth of the readings here counted 3 or 4 (a kernel thread,
** a timer's work, runnable for microseconds), and each such reading
** stopped every spin for 10 ms, taking a ping-pong from 0.2 to 0.2-0.7
** us a round trip, by chance. So the machine counts as busy only after
** LOAD_CONFIRM readings over the CPUs in a row, taken LOAD_CONFIRM_MS
** apart once the first is over (a real load is still seen within a few
** coarse clock ticks), and stops counting as busy at the first reading
** that is not over. */
#define LOAD_EVERY_MS 10
#define LOAD_CONFIRM_MS 1
#define LOAD_CONFIRM 4

static atomic_long load_stamp; /* ms on the coarse clock; 0: never read */
static atomic_int load_over;   /* readings over the CPUs in a row */
static atomic_int machine_busy;
/* CPUs online; 0 until read (two first readers may both read it: the
** same value, so relaxed atomics suffice) */
static atomic_int online;

static long coarse_ms(void) {
  struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}


static void read_load(void) {
  char buf[128];
  int run = 0, on = atomic_load_explicit(&online, memory_order_relaxed);
  size_t got;
  FILE *f = fopen("/proc/loadavg", "re");
  if (on <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    on = n > 0 ? (int)n : 1;
    atomic_store_explicit(&online, on, memory_order_relaxed);
  }
  if (f == NULL) return; /* no /proc: the count alone decides */
  got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[got] = '\0';
  {
    /* "0.50 0.40 0.30 RUNNING/THREADS LASTPID" */
    char *p = strchr(buf, '/');
    if (p == NULL) return;
    while (p > buf && p[-1] >= '0' && p[-1] <= '9') p--;
    run = atoi(p);
  }
  braid__spin_load_reading(run, on);
}


/* One reader at a time (load_stamp's compare-and-swap), and tests. */
int braid__spin_load_reading(int run, int cpus_online) {
  /* the reader itself is one of the 'run' */
  int over = atomic_load_explicit(&load_over, memory_order_relaxed);
  over = run > cpus_online ? (over < LOAD_CONFIRM ? over + 1 : over) : 0;
  atomic_store_explicit(&load_over, over, memory_order_relaxed);
  atomic_store_explicit(&machine_busy, over >= LOAD_CONFIRM,
                        memory_order_relaxed);
  return over >= LOAD_CONFIRM;
}


static int machine_oversubscribed(void) {
  long now = coarse_ms();
  long at = atomic_load_explicit(&load_stamp, memory_order_relaxed);
  int over = atomic_load_explicit(&load_over, memory_order_relaxed);
  long every = over > 0 && over < LOAD_CONFIRM ? LOAD_CONFIRM_MS
                                               : LOAD_EVERY_MS;
  if (now - at >= every &&
      atomic_compare_exchange_strong_explicit(&load_stamp, &at, now,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
    read_load();
  return atomic_load_explicit(&machine_busy, memory_order_relaxed);
}
/* } ------ */


int braid__spin_cpus(void) {
  int n = atomic_load_explicit(&cpus, memory_order_relaxed);
  return n > 0 ? n : refresh_cpus(0);
}
/* } ------ */


/* { ------ running threads */

/* A thread that exits stops counting. Its key's value (set only once it
** registered) says it counted; it is running, since waits return before
** their thread ends. No _Thread_local is touched here: this runs while
** the thread's TLS is being torn down (and ThreadSanitizer cannot see
** that ordering for a dlopen'ed module's TLS). */
static void on_exit_thread(void *registered) {
  if (registered != NULL)
    atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
}


/* After fork() only the forking thread exists in the child. */
/* Between two runs of a parked thread (park.h): its decisions count
** starts over, as a new thread's. It stays registered and running. */
void braid__spin_thread_reset(void) { tl_decisions = 0; }


static void on_fork_child(void) {
  atomic_store_explicit(&running, tl_registered && tl_depth == 0 ? 1 : 0,
                        memory_order_relaxed);
  atomic_store_explicit(&pending, 0, memory_order_relaxed); /* no wakees */
  tl_decisions = 0;
  atomic_store_explicit(&cpus, 0, memory_order_relaxed);
}


static void init_once(void) {
  have_key = pthread_key_create(&exit_key, on_exit_thread) == 0;
  pthread_atfork(NULL, NULL, on_fork_child);
}


void braid__spin_register(void) {
  if (tl_registered) return;
  pthread_once(&once, init_once);
  tl_registered = 1;
  /* the key's value makes its destructor run at thread exit */
  if (have_key) pthread_setspecific(exit_key, (void *)&running);
  if (tl_depth == 0)
    atomic_fetch_add_explicit(&running, 1, memory_order_relaxed);
}


void braid__block_begin(void) {
  if (!tl_registered) braid__spin_register();
  braid__park_sleeping(); /* a worker's stack trim, once a run (park.h) */
  if (tl_depth++ == 0)
    atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
}


void braid__block_end(void) {
  int p = atomic_load_explicit(&pending, memory_order_relaxed);
  if (tl_depth > 0 && --tl_depth == 0)
    atomic_fetch_add_explicit(&running, 1, memory_order_relaxed);
  /* we run: one woken thread fewer waits for a CPU (maybe another's
  ** signal woke us, maybe a timeout did: the count is a hint that any
  ** return drains, so a signal that woke nobody cannot leave it high) */
  while (p > 0 && !atomic_compare_exchange_weak_explicit(
                      &pending, &p, p - 1, memory_order_relaxed,
                      memory_order_relaxed)) {
  }
}


void braid__spin_woke(int n) {
  if (n > 0) atomic_fetch_add_explicit(&pending, n, memory_order_relaxed);
}


int braid__spin_running(void) {
  return atomic_load_explicit(&running, memory_order_relaxed);
}
/* } ------ */


int braid__spin_start(void) {
  unsigned k = tl_decisions++;
  int n = atomic_load_explicit(&cpus, memory_order_relaxed);
  if (n <= 0 || k % AFFINITY_EVERY == 0) n = refresh_cpus(k);
  if (n < 2) return 0;
  if (!tl_registered) braid__spin_register();
  return atomic_load_explicit(&running, memory_order_relaxed) <= n &&
         !machine_oversubscribed();
}


int braid__spin_continue(void) {
  if (atomic_load_explicit(&running, memory_order_relaxed) >
          atomic_load_explicit(&cpus, memory_order_relaxed) ||
      machine_oversubscribed())
    return 0;
  /* a thread we (or another) woke waits for a CPU, maybe behind us on
  ** ours: let it run first. Where it found a CPU of its own, this returns
  ** at once (nothing else to run here) and the spin goes on. */
  if (atomic_load_explicit(&pending, memory_order_relaxed) > 0) sched_yield();
  return 1;
}


void braid__spin_yield(void) {
  sched_yield();
}

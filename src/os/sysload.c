/*
** sysload.c: the machine's runnable tasks against its CPUs (sysload.h).
** See LICENSE for copyright and license.
*/
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os.h"
#include "sysload.h"

/* The last sample: its time in microseconds since an arbitrary start
** (0: none yet), and its verdict. Relaxed: two threads sampling at once
** both read the file; either answer is a fine hint. */
static atomic_llong sampled_us;
static atomic_int busy;

/* Runnable tasks now (the 4th field of /proc/loadavg, "R/T"), or -1. */
static long runnable(void) {
  char buf[128];
  ssize_t n;
  char *p;
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  p = strchr(buf, '/'); /* "0.50 0.40 0.30 3/250 12345" */
  if (p == NULL) return -1;
  while (p > buf && p[-1] >= '0' && p[-1] <= '9') p--;
  return strtol(p, NULL, 10);
}

int braid__cpus_busy(void) {
  long long now = (long long)(braid__now() * 1e6);
  long long last = atomic_load_explicit(&sampled_us, memory_order_relaxed);
  if (last == 0 || now - last >= BRAID_SYSLOAD_MS * 1000LL) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long r = runnable();
    atomic_store_explicit(&busy, r > 0 && cpus > 0 && r > cpus,
                          memory_order_relaxed);
    atomic_store_explicit(&sampled_us, now > 0 ? now : 1, memory_order_relaxed);
  }
  return atomic_load_explicit(&busy, memory_order_relaxed);
}

/*
** sysload.h: whether the machine's CPUs are all busy, for the waits on
** descriptors that spin before they sleep.
** See LICENSE for copyright and license.
**
** A reader that spins for its peer's answer (another process: a manager,
** a Listener's client) wins only while both can run at once. When more
** tasks are runnable than the machine has CPUs (other programs, or the
** peers themselves on a small machine), the spinner takes the time slice
** its peer needs, and each answer costs a slice instead of a wake-up
** (a manager's round trips on 2 loaded cores: 19 k/s spinning 30 us,
** 60-85 k/s with no or a short spin). Waits within one process have their
** own policy (queue.c); this one sees the whole machine, because the peer
** is elsewhere: the kernel's count of runnable tasks (/proc/loadavg, the
** number before the slash), sampled at most every BRAID_SYSLOAD_MS.
*/
#ifndef BRAID_SYSLOAD_H
#define BRAID_SYSLOAD_H

/* How old a sample may be (milliseconds). */
#define BRAID_SYSLOAD_MS 10

/* 1 when the last sample counted more runnable tasks than online CPUs
** (the caller, running, is one of them); 0 otherwise, and where the count
** cannot be read. Thread-safe; costs a clock read between samples. */
int braid__cpus_busy(void);

#endif

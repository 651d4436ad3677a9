/*
** spin.h: when a waiter may spin, for the platform seam and the core.
** See LICENSE for copyright and license.
**
** A waiter that spins instead of sleeping answers a partner on another
** core in about a microsecond, against tens of microseconds for a
** cross-core wake-up on a virtual machine. But a spin only pays while
** the partner is running: on a machine with more runnable threads than
** CPUs (both ends pinned to one core, a pool of 8 on 2 cores, a container
** with a CPU quota), the spinner burns the time slice the partner needs,
** and every hand-off costs a slice instead of a wake-up. The policy here,
** in the spirit of Go's runtime (spin only if more than one CPU and
** another thread is running with no work queued behind it):
**
** - CPUs: those this process may use, the smaller of its affinity mask
**   (sched_getaffinity) and its cgroup CPU quota rounded up (cpu.max, or
**   cgroup v1's cfs quota). Re-read every few hundred spin decisions, so
**   a changed affinity is seen within milliseconds of busy waiting.
**   With fewer than two, nothing ever spins.
** - Running threads: a process-wide count of the threads known to braid
**   (registered: every braid worker at start, any other thread at its
**   first wait) that are not asleep in a braid wait. A thread counts from
**   the moment it leaves its sleep until it enters the next one, so a
**   spinner counts (it holds a CPU) and so does a thread preempted while
**   running. Waits bracket their sleep with braid__block_begin/end.
** - The machine: another process's busy threads take CPUs this count
**   cannot see. The kernel's count of runnable threads on every CPU
**   (/proc/loadavg) is sampled at most every 10 ms; once it has exceeded
**   the CPUs online in 4 readings in a row (a millisecond or more apart:
**   a single reading is often a kernel thread runnable for microseconds),
**   nothing spins until a reading does not.
** - Threads woken but not yet running are invisible to that count (they
**   count once they run): a waker adds them to a "pending" count
**   (braid__spin_woke), which any thread leaving a sleep takes one off.
** - A spin may start only while running threads <= CPUs (and the machine
**   is not oversubscribed) and stops as soon as that no longer holds: then some runnable thread, perhaps
**   the partner, has no CPU and a spin would take it from it. While a
**   woken thread is pending, the spinner yields its CPU between polls
**   (sched_yield): the scheduler often queues a wakee on its waker's CPU,
**   behind the spinner, and would run it only when the spin ends; the
**   yield lets it run at once, and costs one system call where the wakee
**   found a CPU of its own.
**
** The count is a hint read with relaxed loads: a wrong answer costs one
** spin too many or too few, never a lost wake-up (waiters always end in
** a real sleep with a predicate check).
*/
#ifndef BRAID_SPIN_H
#define BRAID_SPIN_H

/* Thread-local state of the waits (spin.c, os_posix.c). braid is usually a
** dlopen'ed module, whose _Thread_local variables would live in dynamic
** TLS: blocks glibc allocates on first use and frees with free() when a
** later thread reuses the exited thread's stack, an ordering
** ThreadSanitizer cannot see (it reported the free as a race with the
** exited thread's last wait). The initial-exec model puts them in the
** static TLS area, allocated with each thread; a few words fit in the
** surplus glibc keeps for dlopen'ed modules. */
#if defined(__GNUC__) || defined(__clang__)
#define BRAID_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define BRAID_TLS _Thread_local
#endif

/* Counts the calling thread as a running thread (once; later calls do
** nothing). It stops counting when the thread exits. */
void braid__spin_register(void);
/* Puts the calling thread's per-thread spin state back to a new
** thread's (between two runs of a parked thread, park.h). */
void braid__spin_thread_reset(void);

/* The calling thread is about to sleep in a wait / has left that sleep.
** Calls pair up; registers the thread when needed. */
void braid__block_begin(void);
void braid__block_end(void);

/* The calling thread made 'n' sleeping threads runnable (a signal to a
** condition variable it knows has sleepers). */
void braid__spin_woke(int n);

/* May the calling thread start a spin now? */
int braid__spin_start(void);

/* May a spin under way go on? Two relaxed loads; yields the CPU while a
** woken thread waits for one. */
int braid__spin_continue(void);

/* Gives the CPU to another runnable thread, if any (sched_yield): what a
** waiter that may not spin does a few times before it sleeps, so that a
** partner sharing its CPU runs on at once, without a wake-up. */
void braid__spin_yield(void);

/* CPUs this process may use (>= 1), as the policy sees them. */
int braid__spin_cpus(void);

/* Feeds one reading of the machine's runnable threads ('run', the caller
** included) against 'cpus_online' to the busy-machine rule; returns 1
** when the machine now counts as busy (spins stop). For the sampler and
** tests. */
int braid__spin_load_reading(int run, int cpus_online);

/* Threads counted as running now (for tests and benchmarks). */
int braid__spin_running(void);

#endif

/*
** park.h: parked OS threads, kept after a braid thread ends so that the
** next start reuses one (and its stack) instead of creating a thread.
** See LICENSE for copyright and license.
**
** A start costs pthread_create plus a fresh Lua state; on this kind of
** machine the OS thread is about half of it. A worker that has closed
** its state offers its OS thread (braid__park_offer, called just before
** its end becomes visible to joiners, so that a start right after a
** join finds it); the thread then waits, up to the idle timeout, for the
** next braid__park_spawn, which hands it the new entry function (what
** its run touched of its stack stays resident for the first 20 ms, so
** that waves of starts pay no madvise). The
** pool is bounded (braid__park_config); a thread over the bound, or idle
** past the timeout, exits. Parked threads are detached and asleep: they
** never keep a process from exiting, and a fork's child starts with an
** empty pool (the parent's parked threads do not exist there).
**
** Between two runs the thread resets what the platform seam keeps per
** thread (braid__os_thread_reset: spin budgets, the interrupt mask) and
** its signal mask. What it keeps, as any reused thread would: its stack,
** its kernel thread id (native_id) and its pthread_t (ident: Python, too,
** may give an ended thread's ident to a new one).
*/
#ifndef BRAID_PARK_H
#define BRAID_PARK_H

#include <pthread.h>
#include <stddef.h>

#include "braidconf.h"

/* Runs 'entry(arg)' on a parked OS thread of stack size 'stack' (0: the
** system default) when one is idle, else on a new detached thread; both
** run with SIGINT blocked (intr.h). '*tid' receives the thread. Returns
** 0 or pthread_create's error (nothing was started). */
BRAIDI_FUNC int braid__park_spawn(void *(*entry)(void *), void *arg,
                                  size_t stack, pthread_t *tid);

/* Called by a run on a parked-pool thread once it will touch nothing of
** its caller's any more: lists the calling OS thread as idle (if the
** pool has room) so that the next spawn can take it even before this
** run has returned. Does nothing on other threads. */
BRAIDI_FUNC void braid__park_offer(void);

/* On a pool thread: the pages of its stack below the frame of its next
** sleep (braid__block_begin: a condition wait, a sleep, a poll) are given
** back when it goes to sleep (the page the frame is on, and 512 bytes
** under the frame, are kept). A worker calls it once its state is set up
** and its arguments decoded, which go deeper into the stack than the
** target of a thread that waits: an idle thread then holds only the
** stack its wait uses (two pages instead of three), while a run that
** never sleeps pays no madvise (a TLB shoot-down on every CPU that runs a
** thread of the process, then page faults). No effect on other threads. */
BRAIDI_FUNC void braid__park_trim_stack(void);

/* Called by braid__block_begin as the calling thread goes to sleep: does
** the trim braid__park_trim_stack asked for, from the sleeping frame. */
BRAIDI_FUNC void braid__park_sleeping(void);

/* On a pool thread after its braid__park_offer: 1 when it was listed
** (it will run again: a start may even have taken it already), 0 when
** the pool had no room (the thread exits once its run returns) or on
** other threads. */
BRAIDI_FUNC int braid__park_listed(void);

/* Reads and (when 'max' >= 0 / 'idle' >= 0) sets the most threads kept
** parked and how long (seconds) one waits before it exits. Lowering the
** bound lets the idle threads over it exit at once. The previous values
** are returned through 'oldmax' and 'oldidle' (may be NULL). */
BRAIDI_FUNC void braid__park_config(int max, double idle, int *oldmax,
                                    double *oldidle);

/* Lets every thread parked now exit (they unlist themselves soon after):
** the memory they hold (stack pages, malloc's per-thread cache) goes
** back, as the other caches do before a measurement (_test.trim). */
BRAIDI_FUNC void braid__park_flush(void);

/* Threads parked now, and OS threads the pool has created in all (both
** for specs and benchmarks). */
BRAIDI_FUNC int braid__park_idle(void);
BRAIDI_FUNC long braid__park_created(void);

#endif

/*
** intr.h: Ctrl-C (SIGINT) plumbing of the platform seam: the handler, the
** process-wide interrupt state, which waits an interrupt ends, and the
** registry of child processes to take down on an interrupted exit.
** See LICENSE for copyright and license.
**
** Design (docs/HACKING.md "Ctrl-C" has the user-visible rules):
** - The binding installs one SIGINT handler when braid opens in a root
**   state (braidB_intr_open in lsignal.c); the thread that opened it is
**   "armed". Worker threads block SIGINT, so the kernel delivers it to the
**   main thread (or another foreign thread), never to a worker.
** - The handler is async-signal-safe: it moves the state IDLE -> PENDING
**   and calls the binding's notify function, which only sets a Lua hook on
**   the main state (documented by Lua as safe in a signal handler), so
**   running Lua code raises KeyboardInterrupt at its next instruction.
**   Any later SIGINT (one already pending, raised, or an exit under way)
**   kills the registered children and ends the process at once, by SIGINT.
** - A blocked wait cannot be woken from a handler (no condvar call is
**   signal-safe), so once the handler is installed every wait that has a
**   deadline is cut into slices of BRAID_INTR_SLICE seconds and ends as
**   if its deadline passed when braid__intr_stop() says so: on the armed
**   thread while an interrupt is PENDING, and on any thread once an
**   interrupted exit cancelled everything. Callers already treat "deadline
**   passed" as a timeout that leaves their object as it was (a lock not
**   taken, an item not consumed); the binding then raises KeyboardInterrupt
**   instead of the timeout (braidB_raise) or its hook does at the return.
**   Waits without a deadline (NULL) are internal, short, and not cut.
*/
#ifndef BRAID_INTR_H
#define BRAID_INTR_H

#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "braidconf.h"

/* Seconds a sliced wait sleeps before it looks at the interrupt state:
** the main (armed) thread must see a pending interrupt at once; other
** threads only need to see a cancellation within the exit's grace, and a
** longer slice keeps idle threads cheap (each wake-up costs tens of us on
** a VM: 1,000 threads blocked in a wait would cost 20 % of a core at
** 0.05 s, 4 % at 0.25 s). braid__intr_slice() gives the caller's. */
#define BRAID_INTR_SLICE 0.05
#define BRAID_INTR_WORKER_SLICE 0.25
#define braid__intr_slice() \
  (braid__intr_armed() ? BRAID_INTR_SLICE : BRAID_INTR_WORKER_SLICE)

enum {
  BRAID_INTR_IDLE,    /* no SIGINT seen, or a REPL took it */
  BRAID_INTR_PENDING, /* SIGINT seen, KeyboardInterrupt not raised yet */
  BRAID_INTR_RAISED,  /* KeyboardInterrupt raised: the program unwinds */
  BRAID_INTR_EXITING  /* the interrupted exit is under way */
};

/* Nonzero once a handler is installed in this process: waits are sliced. */
BRAIDI_FUNC atomic_int braid__intr_active;

/* Installs the SIGINT handler (SA_RESTART; the previous action is kept to
** be restored) unless SIGINT is ignored (a background job: as Python, leave
** it so) or a handler is installed already. 'notify' is called from the
** handler on the first SIGINT. Arms the calling thread. Returns 1 when
** installed. */
BRAIDI_FUNC int braid__intr_install(void (*notify)(void));
/* Restores the previous action and disarms (the main state closes). */
BRAIDI_FUNC void braid__intr_uninstall(void);
BRAIDI_FUNC int braid__intr_armed(void); /* the calling thread is armed */
BRAIDI_FUNC int braid__intr_state(void);
BRAIDI_FUNC void braid__intr_set_state(int st);
/* PENDING -> RAISED: 1 when the caller is the one to raise. */
BRAIDI_FUNC int braid__intr_take(void);
/* Should the calling thread's wait end now? The armed thread: while an
** interrupt is PENDING; others: once cancelled. (Cheap: a TLS flag and
** one relaxed load.) */
BRAIDI_FUNC int braid__intr_stop(void);
/* braid__intr_mask(1) ... braid__intr_mask(-1): the calling thread's
** waits in between are not ended by an interrupt (a Condition taking its
** lock back: Python's _acquire_restore must succeed). */
BRAIDI_FUNC void braid__intr_mask(int delta);
/* The calling thread's mask count (specs); braid__intr_thread_reset puts
** it back to 0 between two runs of a parked thread (park.h). */
BRAIDI_FUNC int braid__intr_masked(void);
BRAIDI_FUNC void braid__intr_thread_reset(void);
/* _thread.interrupt_main: sends SIGINT to the armed thread, so that the
** handler runs there as for a Ctrl-C (no Lua state is touched from
** another thread), but flagged so that it is only ever a first interrupt:
** with one already pending or raised it does nothing (Python's
** interrupt_main sets a flag; it never ends the process). Returns 0 when
** no handler is installed (SIGINT is not braid's: nothing is done, as
** Python does when SIGINT is not handled by Python), 1 otherwise. */
BRAIDI_FUNC int braid__intr_simulate(void);
/* Interrupted exit: every sliced wait of every thread ends from now on. */
BRAIDI_FUNC void braid__intr_cancel(void);
BRAIDI_FUNC int braid__intr_cancelled(void);
BRAIDI_FUNC void braid__intr_uncancel(void);
/* In a forked child: no interrupt pending, no children; the child keeps
** the handler only when forked from the armed thread ('armed'). */
BRAIDI_FUNC void braid__intr_after_fork(void);
/* Blocks SIGINT in the calling thread ('old' receives the mask), so that a
** thread created meanwhile starts with it blocked; braid__intr_unblock
** restores. */
BRAIDI_FUNC void braid__intr_block(sigset_t *old);
BRAIDI_FUNC void braid__intr_unblock(const sigset_t *old);
/* Ends the process by SIGINT with its default action (the shell sees
** 128+2, as after Python's KeyboardInterrupt); stdio is not flushed when
** 'flush' is 0 (signal context). Does not return. */
BRAIDI_FUNC void braid__intr_die(int flush);

/* { ------ children (processes this process started, for the exit) */
/* Lists 'pid': a process started by fork or spawn ('direct': ours to
** reap) or by the forkserver (its child: the server reaps it). At most
** BRAID_INTR_MAXKIDS are tracked at once; more are not listed. */
BRAIDI_FUNC void braid__child_add(pid_t pid, int direct);
BRAIDI_FUNC void braid__child_remove(pid_t pid);
#define BRAID_KIDS_DIRECT 1
#define BRAID_KIDS_SERVED 2
#define BRAID_KIDS_ALL 3
/* Sends 'sig' to the listed children of kinds 'which' (signal-safe). */
BRAIDI_FUNC void braid__children_signal(int sig, int which);
/* Reaps the listed children of kinds 'which' that ended (ours by
** waitpid, the forkserver's once gone) and unlists them; returns how many
** of those kinds are left. */
BRAIDI_FUNC int braid__children_reap(int which);
/* SIGKILL for every listed child, reaping ours (async-signal-safe; what a
** second SIGINT does before the process ends). */
BRAIDI_FUNC void braid__children_kill_now(void);
/* } ------ */

#define BRAID_INTR_MAXKIDS 4096

#endif

/*
** subproc.h: running other programs (braid.subprocess): spawning with
** redirections, waiting without blocking other threads, and pipe I/O
** that Ctrl-C can interrupt.
** See LICENSE for copyright and license.
**
** Contracts:
** - Every descriptor made here is close-on-exec (pipe2/O_CLOEXEC), so a
**   spawn in one thread never leaks another spawn's pipes into its child.
** - The child is made with vfork(): the parent's page tables are not
**   copied (a 20 GB parent spawns as fast as a small one). Between vfork
**   and exec the child runs only async-signal-safe calls on its own stack
**   and reports a failure (which step, errno) on a close-on-exec pipe.
** - Waits are sliced (intr.h): they end early, as on a timeout, when the
**   calling thread must stop for Ctrl-C; the binding then raises.
*/
#ifndef BRAID_SUBPROC_H
#define BRAID_SUBPROC_H

#include <stddef.h>
#include <sys/types.h>

#include "braidint.h"

/* Child's standard descriptor 2 is a copy of its descriptor 1 (STDOUT). */
#define BRAID_SPAWN_STDOUT (-2)

typedef struct braid_spawn {
  char *const *paths; /* programs to try in order (PATH already searched) */
  int npaths;
  char *const *argv;  /* argv[0] is what the program sees as its name */
  char *const *envp;  /* NULL: this process's environment */
  int fd[3];          /* source of the child's 0, 1, 2; -1: inherited */
  const char *cwd;    /* NULL: unchanged */
  int close_fds;      /* close every descriptor >= 3 but pass_fds */
  const int *pass_fds; /* ascending, >= 3; inherited under their numbers */
  int npass;
  int new_session;    /* setsid() */
  int pgroup;         /* setpgid(0, pgroup) when >= 0 */
  int umask;          /* umask(umask) when >= 0 */
  int restore_signals; /* SIGPIPE, SIGXFSZ back to their default action */
  int track;          /* listed for Ctrl-C's exit (intr.h children) */
} braid_spawn;

/* The step of the child that failed (braid__subproc_spawn's '*stage'). */
enum { BRAID_SPAWN_OK, BRAID_SPAWN_FORK, BRAID_SPAWN_CWD, BRAID_SPAWN_EXEC,
       BRAID_SPAWN_SETUP };

/* Starts the child. Returns its pid with '*pidfd' a close-on-exec pidfd
** (-1 where the kernel has none: waits then poll the child), or
** BRAID_EOS with errno set and '*stage' naming the failed step (the
** child, if one was made, is reaped). */
BRAIDI_FUNC pid_t braid__subproc_spawn(const braid_spawn *s, int *pidfd,
                                       int *stage);
/* Waits up to 'timeout' seconds (negative: forever) for 'pid' to end and
** reaps it: 1 with '*code' (negative signal number when killed), 0 when
** it is still running (timeout, or the caller must stop for Ctrl-C), -1
** when it is not our child (ECHILD: reaped elsewhere). */
BRAIDI_FUNC int braid__subproc_wait(pid_t pid, int pidfd, double timeout,
                                    int *code);
/* A pipe whose ends are both close-on-exec (dup2 in the child makes the
** child's end inheritable there). Both stay blocking, as Python's: the
** parent's end may be handed to another child (p1.stdout as the stdin of
** p2), which expects a blocking descriptor; the parent polls before it
** reads and writes at most PIPE_BUF bytes per POLLOUT, so it never
** blocks in the kernel. 'parent_reads': the parent reads.
** BRAID_OK or BRAID_EOS. */
BRAIDI_FUNC int braid__subproc_pipe(int parent_reads, int *parent,
                                    int *child);
/* Reads at most 'n' bytes from 'fd', waiting (sliced) until
** some arrive: >0 bytes, 0 at end of file, BRAID_ETIMEDOUT when the caller
** must stop for Ctrl-C, BRAID_EOS on error (errno). */
BRAIDI_FUNC ssize_t braid__subproc_read(int fd, void *p, size_t n);
/* Writes all of 'p' to 'fd' (waiting, sliced, while it is
** full) without raising SIGPIPE: BRAID_OK, BRAID_ECLOSED (reader gone:
** EPIPE), BRAID_ETIMEDOUT (Ctrl-C; '*done' bytes went), BRAID_EOS. */
BRAIDI_FUNC int braid__subproc_write(int fd, const void *p, size_t n,
                                     size_t *done);
/* One write(2) of at most PIPE_BUF bytes without SIGPIPE, for a 'fd'
** that poll found writable: bytes written, 0 when the pipe is full
** (non-blocking descriptors), BRAID_ECLOSED (EPIPE) or BRAID_EOS. */
BRAIDI_FUNC ssize_t braid__subproc_write_some(int fd, const void *p,
                                              size_t n);
/* A child whose owner was collected while it still ran: reaped later (at
** the next spawn or braid__subproc_reap_orphans), so it never stays a
** zombie. Lock-free; callable from __gc. */
BRAIDI_FUNC void braid__subproc_orphan(pid_t pid);
BRAIDI_FUNC void braid__subproc_reap_orphans(void);

#endif

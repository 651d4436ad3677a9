/*
** process.h: child processes for multiprocessing: fork, spawn (fork+exec
** through posix_spawn), the forkserver, sentinels and exit codes.
** See LICENSE for copyright and license.
**
** A sentinel is a file descriptor that becomes readable when the child
** ends: a pidfd for fork and spawn children (a pipe whose write end only
** the child holds where pidfds are missing), and for forkserver children
** the status pipe on which the forkserver writes the wait status.
*/
#ifndef BRAID_PROCESS_H
#define BRAID_PROCESS_H

#include <sys/types.h>

#include "braidint.h"

/* fork(): stdio is flushed first. Returns the pid (0 in the child) or
** BRAID_EOS with errno set (EMFILE: no descriptor for the sentinel, then
** no child was made; EAGAIN: fork failed). '*sentinel' (parent) as
** above. */
BRAIDI_FUNC pid_t braid__proc_fork(int *sentinel);
/* Test hook: the next 'n' process creations (fork, spawn, forkserver
** requests, whose server then does not fork) fail with EAGAIN. */
BRAIDI_FUNC void braid__proc_fail_forks(int n);
/* posix_spawn of 'argv[0]' (the environment is inherited); 'keep' are
** descriptors the child inherits under the same numbers. Returns the pid
** or BRAID_EOS (errno set). */
BRAIDI_FUNC pid_t braid__proc_spawn(char *const argv[], const int *keep,
                                    int nkeep, int *sentinel);
/* Reaps 'pid' if it ended (waits when 'block'): 1 with '*code' the exit
** code (negative signal number when killed), 0 when still running, -1
** when it is not our child (ECHILD). */
BRAIDI_FUNC int braid__proc_reap(pid_t pid, int block, int *code);
/* Exit code of a wait status. */
BRAIDI_FUNC int braid__proc_code(int status);
/* 1 when 'fd' is readable (or at end of file / hung up) within
** 'timeout' seconds (negative: forever), 0 otherwise. */
BRAIDI_FUNC int braid__fd_wait(int fd, double timeout);
/* How long a wait on a descriptor spins before it sleeps: BRAID_SPIN_NS
** (queue.h's braid__queue_spin_ns), or 0 where a spin would take the CPU
** the peer needs (src/os/spin.h's braid__spin_start: one usable CPU, more
** running braid threads than CPUs, or a busy machine). */
BRAIDI_FUNC long braid__fd_spin_ns(void);
/* The same with a spin of 'spin_ns' (0: none) instead of BRAID_SPIN_NS,
** for a caller that already spun in its own way. */
BRAIDI_FUNC int braid__fd_wait_spin(int fd, double timeout, long spin_ns);
/* Writes/reads exactly 'n' bytes (EINTR retried; sockets without
** SIGPIPE). BRAID_OK, BRAID_ECLOSED (peer gone / end of file at the
** start when 'eof_ok') or BRAID_EOS. '*got' (read) counts bytes read. */
BRAIDI_FUNC int braid__fd_write_all(int fd, const void *p, size_t n);
BRAIDI_FUNC int braid__fd_read_all(int fd, void *p, size_t n, size_t *got);

/* { ------ forkserver */
/* Server loop, run by the forkserver process on 'sock'. Returns only in
** a forked child: 0 with '*payload' (braid__malloc'ed, '*len' bytes) and
** the received descriptors moved to the numbers they had in the client.
** Exits the process when the client closes the socket. */
BRAIDI_FUNC int braid__forkserver_serve(int sock, unsigned char **payload,
                                        size_t *len);
/* Client: asks the server on 'sock' for a child running 'payload' with
** 'fds' (their numbers here are kept in the child). Returns the pid and
** '*sentinel' (the status pipe), or BRAID_EOS with errno set (the
** server's fork's, EPIPE when the server is gone). Calls
** are serialised by a process-wide mutex. */
BRAIDI_FUNC pid_t braid__forkserver_request(int sock, const void *payload,
                                            size_t len, const int *fds,
                                            int nfds, int *sentinel);
/* Reads the exit code a forkserver wrote on 'sentinel': 1 with '*code',
** 0 when not yet available, -1 when the server vanished. */
BRAIDI_FUNC int braid__forkserver_status(int sentinel, int *code);
/* } ------ */

#define BRAID_PROC_MAXFDS 200

#endif

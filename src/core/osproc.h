/*
** osproc.h: the process functions of braid.os that start, replace and
** wait for programs (exec*, spawn*, system, waitpid).
** See LICENSE for copyright and license.
**
** Starting or replacing a program reads the environment: these hold
** braid__environ_lock (environ.h) meanwhile. Return BRAID_OK or a pid,
** BRAID_EOS with errno set, BRAID_ECANCELED when a wait was ended by
** Ctrl-C (intr.h: the binding raises KeyboardInterrupt).
*/
#ifndef BRAID_OSPROC_H
#define BRAID_OSPROC_H

#include <sys/types.h>

#include "braidint.h"

/* posix_spawn(p) of 'path' with 'argv' and 'envp' (NULL: this process's
** environment); 'search': look 'path' up in PATH (of 'envp' when given,
** else of the environment). The child gets an empty signal mask and
** SIGPIPE, SIGINT, SIGTERM at their default actions. */
BRAIDI_FUNC pid_t braid__os_spawn(const char *path, char *const argv[],
                                  char *const envp[], int search);
/* execv/execve/execvp/execvpe: returns only on failure (BRAID_EOS). With
** 'search' and 'envp', PATH is taken from 'envp', as Python's execvpe
** does. Flushes C stdio first (Lua's io buffers live there). */
BRAIDI_FUNC int braid__os_exec(const char *path, char *const argv[],
                               char *const envp[], int search);
/* waitpid(pid, &status, options), EINTR retried. A blocking wait is
** sliced (pidfd poll, or WNOHANG naps when 'pid' <= 0) so that Ctrl-C
** ends it: BRAID_ECANCELED. '*rpid' 0 with WNOHANG and nothing ended. */
BRAIDI_FUNC int braid__os_waitpid(pid_t pid, int options, pid_t *rpid,
                                  int *status);
/* Threads of this process (from /proc), or -1 when unknown. */
BRAIDI_FUNC int braid__os_thread_count(void);

#endif

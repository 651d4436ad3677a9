/*
** environ.h: the process environment, serialised against braid's spawns.
** See LICENSE for copyright and license.
**
** setenv/unsetenv may move 'environ' while another thread reads it (a
** getenv, a posix_spawn copying it for a child). Every braid function that
** changes or reads the environment, or starts a program that inherits it,
** holds braid__environ_lock() meanwhile: braid.os's environ, getenv,
** putenv, unsetenv, its exec*, spawn*, system and popen, and the spawns of
** multiprocessing (process.c); subprocess (subproc.c) copies the array
** under it and execs with the copy. So a child always gets a consistent
** environment. Code outside braid (Lua's os.getenv, a C
** library) does not take it.
*/
#ifndef BRAID_ENVIRON_H
#define BRAID_ENVIRON_H

#include "braidint.h"

BRAIDI_FUNC void braid__environ_lock(void);
BRAIDI_FUNC void braid__environ_unlock(void);
/* In a forked child (braid__proc_fork calls it): the lock may have been
** held by a thread that does not exist there. Makes it free again. */
BRAIDI_FUNC void braid__environ_after_fork(void);

/* BRAID_EINVAL (*why: Python's ValueError message) for a name that is
** empty or holds '=', or a name or value with a NUL byte (give the
** lengths); BRAID_EOS, BRAID_ENOMEM. */
BRAIDI_FUNC int braid__env_set(const char *name, size_t nlen,
                               const char *value, size_t vlen,
                               const char **why);
BRAIDI_FUNC int braid__env_unset(const char *name, size_t nlen,
                                 const char **why);
/* A braid__malloc'ed copy of the value of 'name' in *out (NULL when
** unset). */
BRAIDI_FUNC int braid__env_get(const char *name, char **out);
/* A copy of the whole environment: *out is a braid__malloc'ed array of
** *n braid__malloc'ed "NAME=value" strings (braid__env_free frees it). */
BRAIDI_FUNC int braid__env_snapshot(char ***out, size_t *n);
BRAIDI_FUNC void braid__env_free(char **list, size_t n);

#endif

/*
** pshared.h: process-shared, robust mutexes and condition variables, for
** objects that live in MAP_SHARED memory (multiprocessing's locks, queues).
** See LICENSE for copyright and license.
**
** A process that dies while holding one of these mutexes does not block
** the others: the next locker gets it (the kernel's robust futex list) and
** is told so (return value 1); the data the mutex guarded may be half
** updated, so callers keep their critical sections to single-step updates.
*/
#ifndef BRAID_PSHARED_H
#define BRAID_PSHARED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "os.h"

/* Initializes in place (in shared memory). Returns 0 or an errno. */
int braid__pmutex_init(pthread_mutex_t *m);
/* Whether the process holding robust mutex 'm' still holds it (a writer
** of a memfd control page holds its lock while it writes): 1 it does
** (the lock is busy); 0 it let go; -1 with errno EPIPE: it died holding
** it (the lock is made consistent and left free), or EIO: 'm' is not a
** usable mutex (bytes from another process that lie). */
int braid__pmutex_held(pthread_mutex_t *m);
/* 0: locked; 1: locked, and the previous owner died holding it. */
int braid__pmutex_lock(pthread_mutex_t *m);
void braid__pmutex_unlock(pthread_mutex_t *m);
int braid__pcond_init(pthread_cond_t *c); /* CLOCK_MONOTONIC */
/* Waits until signalled or 'd' passes: 0, or 1 when 'd' passed (at once, the
** mutex kept, when it had passed already). */
int braid__pcond_wait(pthread_cond_t *c, pthread_mutex_t *m,
                      const braid__deadline *d);
/* Like braid__pcond_wait, but never past 'slice' seconds from now. */
int braid__pcond_wait_slice(pthread_cond_t *c, pthread_mutex_t *m,
                            const braid__deadline *d, double slice);

/* For memfd control pages shared by processes (segfill.c, pstream.c):
** futex(2) on a word of such a page (not FUTEX_PRIVATE_FLAG), and
** pwrite(2) of all 'n' bytes at offset 'at' (EINTR retried; -1 with errno
** otherwise). */
long braid__pfutex(_Atomic uint32_t *w, int op, uint32_t v,
                   const struct timespec *ts);
int braid__pwrite_all(int fd, const void *p, size_t n, off_t at);

#endif

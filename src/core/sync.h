/*
** sync.h: locks, reentrant locks, conditions, semaphores, events,
** barriers and thread-local holders shared between workers.
** See LICENSE for copyright and license.
**
** Every object starts with a braid_handle; '_new' gives the caller one
** reference. Timeouts are seconds; a negative timeout means "forever"
** (BRAID_FOREVER) and 0 means "do not wait". Python's per-call rules for
** negative user timeouts are applied by the binding, not here. Nothing in
** this file touches a Lua state, raises, or holds a mutex on return.
*/
#ifndef BRAID_SYNC_H
#define BRAID_SYNC_H

#include "braidint.h"
#include "handle.h"
#include "os.h"
#include "wire.h"

typedef struct braid_lock braid_lock;
typedef struct braid_rlock braid_rlock;
typedef struct braid_condition braid_condition;
typedef struct braid_semaphore braid_semaphore;
typedef struct braid_event braid_event;
typedef struct braid_barrier braid_barrier;

BRAIDI_FUNC const braid_handle_type braid__lock_type;
BRAIDI_FUNC const braid_handle_type braid__rlock_type;
BRAIDI_FUNC const braid_handle_type braid__condition_type;
BRAIDI_FUNC const braid_handle_type braid__semaphore_type;
BRAIDI_FUNC const braid_handle_type braid__bsemaphore_type;
BRAIDI_FUNC const braid_handle_type braid__event_type;
BRAIDI_FUNC const braid_handle_type braid__barrier_type;
BRAIDI_FUNC const braid_handle_type braid__local_type;

/* Identity of the calling OS thread, as RLock owners record it (the value
** threading.get_ident() returns). Never 0. */
BRAIDI_FUNC uintptr_t braid__sync_self(void);

/* { ------ Lock: a plain mutex any thread may release */
/* Returns BRAID_OK or BRAID_ENOMEM. */
BRAIDI_FUNC int braid__lock_new(braid_lock **out);
/* Takes the lock; may block (unless '!blocking') up to 'timeout'. Returns
** BRAID_OK, or BRAID_ETIMEDOUT when it was not taken. */
BRAIDI_FUNC int braid__lock_acquire(braid_lock *l, int blocking,
                                    double timeout);
/* Returns BRAID_OK, or BRAID_ESTATE when the lock was not locked. */
BRAIDI_FUNC int braid__lock_release(braid_lock *l);
BRAIDI_FUNC int braid__lock_locked(braid_lock *l);
/* } ------ */

/* { ------ RLock: owner (braid__sync_self) + recursion count */
BRAIDI_FUNC int braid__rlock_new(braid_rlock **out);
/* Like braid__lock_acquire; the owner re-enters at once. Returns
** BRAID_EINVAL when the recursion count would overflow. */
BRAIDI_FUNC int braid__rlock_acquire(braid_rlock *r, int blocking,
                                     double timeout);
/* Returns BRAID_OK, or BRAID_EPERM when the caller does not own it. */
BRAIDI_FUNC int braid__rlock_release(braid_rlock *r);
/* Owner and count, read together (owner 0: unlocked). */
BRAIDI_FUNC void braid__rlock_state(braid_rlock *r, uintptr_t *owner,
                                    long *count);
BRAIDI_FUNC int braid__rlock_is_owned(braid_rlock *r);
/* } ------ */

/* { ------ Condition: FIFO waiters, each woken by its own flag */
/* 'lock' is a braid_lock or braid_rlock handle; the condition retains it. */
BRAIDI_FUNC int braid__condition_new(braid_condition **out,
                                     braid_handle *lock);
/* The condition's lock (borrowed: valid while the condition lives). */
BRAIDI_FUNC braid_handle *braid__condition_lock(braid_condition *c);
/* Python's _is_owned: an RLock owned by the caller, or a Lock held by
** anyone. */
BRAIDI_FUNC int braid__condition_is_owned(braid_condition *c);
/* Releases the lock entirely (all RLock levels), waits for a notify or
** 'timeout', re-takes the lock as it was. Returns BRAID_OK (notified),
** BRAID_ETIMEDOUT, or BRAID_EPERM (lock not owned: nothing done). Blocks. */
BRAIDI_FUNC int braid__condition_wait(braid_condition *c, double timeout);
/* Wakes up to 'n' waiters, oldest first ('n' < 0: all). Returns BRAID_OK
** or BRAID_EPERM (lock not owned). */
BRAIDI_FUNC int braid__condition_notify(braid_condition *c, long n);
BRAIDI_FUNC long braid__condition_waiters(braid_condition *c);
/* } ------ */

/* { ------ Semaphore and BoundedSemaphore ('bounded': value <= initial) */
BRAIDI_FUNC int braid__semaphore_new(braid_semaphore **out, int64_t value,
                                     int bounded);
/* Returns BRAID_OK or BRAID_ETIMEDOUT (not taken). May block. */
BRAIDI_FUNC int braid__semaphore_acquire(braid_semaphore *s, int blocking,
                                         double timeout);
/* Adds 'n' (>= 1) and wakes up to 'n' waiters. Returns BRAID_OK, or
** BRAID_EINVAL with the value unchanged when a bounded semaphore would
** pass its initial value or an unbounded one would overflow. */
BRAIDI_FUNC int braid__semaphore_release(braid_semaphore *s, int64_t n);
BRAIDI_FUNC void braid__semaphore_state(braid_semaphore *s, int64_t *value,
                                        int64_t *initial);
/* } ------ */

/* { ------ Event */
BRAIDI_FUNC int braid__event_new(braid_event **out);
BRAIDI_FUNC void braid__event_set(braid_event *e);
BRAIDI_FUNC void braid__event_clear(braid_event *e);
BRAIDI_FUNC int braid__event_is_set(braid_event *e);
/* 1 if the flag is set, or becomes set (even briefly) before 'timeout';
** else 0. May block. */
BRAIDI_FUNC int braid__event_wait(braid_event *e, double timeout);
/* } ------ */

/* { ------ Barrier: Python's algorithm, with the action run by the caller */
/* 'action' (may be NULL) is an encoded Lua callable; the barrier owns it
** from now on, also when this fails. 'timeout' is the default of wait(). */
BRAIDI_FUNC int braid__barrier_new(braid_barrier **out, long parties,
                                   braid_msg *action, double timeout);
/* Waits for the barrier to trip. On BRAID_OK, '*index' is the arrival
** index (0..parties-1). When '*run_action' is set the caller arrived last:
** it must run the action (braid__barrier_action) and then call
** braid__barrier_action_done, whatever happens; nobody is released
** before. Returns BRAID_OK, BRAID_EBROKEN, or BRAID_ESTATE when called by
** the thread running this barrier's action. Blocks. */
BRAIDI_FUNC int braid__barrier_wait(braid_barrier *b, double timeout,
                                    long *index, int *run_action);
/* The encoded action (NULL if none); immutable, readable without a lock. */
BRAIDI_FUNC const braid_msg *braid__barrier_action(braid_barrier *b);
/* Ends the action run: 'ok' releases the waiters, otherwise the barrier
** breaks. */
BRAIDI_FUNC void braid__barrier_action_done(braid_barrier *b, int ok);
/* Return BRAID_OK or BRAID_ESTATE (called from the running action). */
BRAIDI_FUNC int braid__barrier_reset(braid_barrier *b);
BRAIDI_FUNC int braid__barrier_abort(braid_barrier *b);
BRAIDI_FUNC void braid__barrier_info(braid_barrier *b, long *parties,
                                     long *n_waiting, int *broken);
/* Default timeout given to braid__barrier_new. */
BRAIDI_FUNC double braid__barrier_timeout(braid_barrier *b);
/* } ------ */

/* { ------ local: attributes live in each Lua state; the handle keeps
** only what a subclass's instance must run in each state on first use
** ('init', owned from a successful call on, never changed: read without
** a lock), or NULL for a plain local. */
BRAIDI_FUNC int braid__local_new(braid_handle **out, braid_msg *init);
BRAIDI_FUNC const braid_msg *braid__local_init(braid_handle *h);
/* } ------ */

#endif

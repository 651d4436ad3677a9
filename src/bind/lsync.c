/*
** lsync.c: Lua binding of the synchronisation objects of threading:
** Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier
** and local.
** See LICENSE for copyright and license.
**
** Python decides what raises and what returns false (see each function);
** no C mutex is held while Lua runs (predicates, barrier actions, errors).
*/
#include <string.h>

#include "lbind.h"
#include "lcodec.h"
#include "sync.h"

/* Every object starts with its braid_handle. */
#define H(p) ((braid_handle *)(p))


/*
** {======================================================
** Shared argument rules
** =======================================================
*/

/* Python's lock acquire(blocking=True, timeout=-1) rules, arguments at
** 2 and 3. -1 (or nil) waits forever. */
static void checklockargs(lua_State *L, int *blocking, double *timeout) {
  *blocking = braidB_optboolean(L, 2, 1);
  *timeout = braidB_opttimeout(L, 3, -1);
  if (!*blocking && *timeout != -1)
    braidB_argerror(L, 3, "ValueError",
                    "can't specify a timeout for a non-blocking call");
  if (*timeout < 0 && *timeout != -1)
    braidB_argerror(L, 3, "ValueError",
                    "timeout value must be a non-negative number");
}


/* Replaces a single table argument by its fields 'names', in order, so
** that constructors take Python's positional or named parameters. */
static void unpackopts(lua_State *L, const char *const *names) {
  if (lua_gettop(L) == 1 && lua_type(L, 1) == LUA_TTABLE) {
    int i;
    for (i = 0; names[i] != NULL; i++) lua_getfield(L, 1, names[i]);
    lua_remove(L, 1);
  }
}
/* }====================================================== */


/*
** {======================================================
** Lock and RLock
** =======================================================
*/

static braid_lock *checklock(lua_State *L, int i) {
  return (braid_lock *)braidB_checkhandle(L, i, &braid__lock_type);
}


static braid_rlock *checkrlock(lua_State *L, int i) {
  return (braid_rlock *)braidB_checkhandle(L, i, &braid__rlock_type);
}


/* Acquires the Lock or RLock 'h' with the arguments at 2 and 3; pushes
** the result. */
static int acquire_lockish(lua_State *L, braid_handle *h) {
  int blocking, rc;
  double timeout;
  checklockargs(L, &blocking, &timeout);
  if (blocking && timeout != 0) braidB_poll(L);
  if (h->type == &braid__lock_type)
    rc = braid__lock_acquire((braid_lock *)h, blocking, timeout);
  else
    rc = braid__rlock_acquire((braid_rlock *)h, blocking, timeout);
  if (rc == BRAID_EINVAL)
    return braidB_raise(L, "OverflowError", "internal lock count overflowed");
  lua_pushboolean(L, rc == BRAID_OK);
  return 1;
}


static int release_lockish(lua_State *L, braid_handle *h) {
  if (h->type == &braid__lock_type) {
    if (braid__lock_release((braid_lock *)h) != BRAID_OK)
      return braidB_raise(L, "RuntimeError", "release unlocked lock");
  } else if (braid__rlock_release((braid_rlock *)h) != BRAID_OK) {
    return braidB_raise(L, "RuntimeError", "cannot release un-acquired lock");
  }
  return 0;
}


/* Pushes Python's repr of the Lock or RLock 'h'. */
static void pushlockrepr(lua_State *L, braid_handle *h) {
  if (h->type == &braid__lock_type) {
    lua_pushfstring(L, "<%s braid.Lock object at %p>",
                    braid__lock_locked((braid_lock *)h) ? "locked"
                                                        : "unlocked",
                    (void *)h);
  } else {
    uintptr_t owner;
    long count;
    braid__rlock_state((braid_rlock *)h, &owner, &count);
    lua_pushfstring(L, "<%s braid.RLock object owner=%I count=%I at %p>",
                    owner ? "locked" : "unlocked", (lua_Integer)owner,
                    (lua_Integer)count, (void *)h);
  }
}


/* lock:acquire([blocking [, timeout]]) -> boolean
** ValueError for a timeout with blocking false, or negative but not -1;
** OverflowError above TIMEOUT_MAX. */
static int lock_acquire(lua_State *L) {
  return acquire_lockish(L, H(checklock(L, 1)));
}


/* lock:release(): RuntimeError when unlocked; any thread may release. */
static int lock_release(lua_State *L) {
  return release_lockish(L, H(checklock(L, 1)));
}


static int lock_locked(lua_State *L) {
  lua_pushboolean(L, braid__lock_locked(checklock(L, 1)));
  return 1;
}


/* lock:guard() -> lock, acquired (blocking); release it with <close>. */
static int lock_guard(lua_State *L) {
  braid_lock *l = checklock(L, 1);
  braidB_poll(L);
  braid__lock_acquire(l, 1, BRAID_FOREVER);
  lua_settop(L, 1);
  return 1;
}


static int lock_tostring(lua_State *L) {
  pushlockrepr(L, H(checklock(L, 1)));
  return 1;
}


/* rlock:acquire([blocking [, timeout]]) -> boolean (rules of Lock). */
static int rlock_acquire(lua_State *L) {
  return acquire_lockish(L, H(checkrlock(L, 1)));
}


/* rlock:release(): RuntimeError unless the calling thread owns it. */
static int rlock_release(lua_State *L) {
  return release_lockish(L, H(checkrlock(L, 1)));
}


static int rlock_locked(lua_State *L) {
  uintptr_t owner;
  long count;
  braid__rlock_state(checkrlock(L, 1), &owner, &count);
  lua_pushboolean(L, owner != 0);
  return 1;
}


static int rlock_is_owned(lua_State *L) {
  lua_pushboolean(L, braid__rlock_is_owned(checkrlock(L, 1)));
  return 1;
}


/* rlock:_recursion_count() -> levels held by the calling thread */
static int rlock_recursion_count(lua_State *L) {
  braid_rlock *r = checkrlock(L, 1);
  uintptr_t owner;
  long count;
  braid__rlock_state(r, &owner, &count);
  lua_pushinteger(L, owner == braid__sync_self() ? (lua_Integer)count : 0);
  return 1;
}


static int rlock_guard(lua_State *L) {
  braid_rlock *r = checkrlock(L, 1);
  braidB_poll(L);
  if (braid__rlock_acquire(r, 1, BRAID_FOREVER) == BRAID_EINVAL)
    return braidB_raise(L, "OverflowError", "internal lock count overflowed");
  lua_settop(L, 1);
  return 1;
}


static int rlock_tostring(lua_State *L) {
  pushlockrepr(L, H(checkrlock(L, 1)));
  return 1;
}


static const luaL_Reg lock_methods[] = {
  { "acquire", lock_acquire },
  { "release", lock_release },
  { "locked", lock_locked },
  { "guard", lock_guard },
  { "with", braidB_lock_with },
  { NULL, NULL },
};

static const luaL_Reg lock_meta[] = {
  { "__close", lock_release },
  { "__tostring", lock_tostring },
  { NULL, NULL },
};

static const luaL_Reg rlock_methods[] = {
  { "acquire", rlock_acquire },
  { "release", rlock_release },
  { "locked", rlock_locked },
  { "_is_owned", rlock_is_owned },
  { "_recursion_count", rlock_recursion_count },
  { "guard", rlock_guard },
  { "with", braidB_lock_with },
  { NULL, NULL },
};

static const luaL_Reg rlock_meta[] = {
  { "__close", rlock_release },
  { "__tostring", rlock_tostring },
  { NULL, NULL },
};


/* core.Lock() -> a new unlocked Lock */
static int sync_lock(lua_State *L) {
  braid_lock *l;
  if (braid__lock_new(&l) != BRAID_OK)
    return braidB_nomem(L);
  braidB_pushnewhandle(L, H(l));
  return 1;
}


/* core.RLock() -> a new unowned RLock */
static int sync_rlock(lua_State *L) {
  braid_rlock *r;
  if (braid__rlock_new(&r) != BRAID_OK)
    return braidB_nomem(L);
  braidB_pushnewhandle(L, H(r));
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** Condition
** =======================================================
*/

static braid_condition *checkcond(lua_State *L, int i) {
  return (braid_condition *)braidB_checkhandle(L, i, &braid__condition_type);
}


/* cond:acquire([blocking [, timeout]]) -> boolean, from its lock */
static int cond_acquire(lua_State *L) {
  return acquire_lockish(L, braid__condition_lock(checkcond(L, 1)));
}


static int cond_release(lua_State *L) {
  return release_lockish(L, braid__condition_lock(checkcond(L, 1)));
}


static int cond_guard(lua_State *L) {
  braid_handle *h = braid__condition_lock(checkcond(L, 1));
  braidB_poll(L);
  if (h->type == &braid__lock_type)
    braid__lock_acquire((braid_lock *)h, 1, BRAID_FOREVER);
  else if (braid__rlock_acquire((braid_rlock *)h, 1, BRAID_FOREVER) != BRAID_OK)
    return braidB_raise(L, "OverflowError", "internal lock count overflowed");
  lua_settop(L, 1);
  return 1;
}


static int cond_is_owned(lua_State *L) {
  lua_pushboolean(L, braid__condition_is_owned(checkcond(L, 1)));
  return 1;
}


/* Core of wait(): 'timeout' as braidB_waittimeout gives it. Pushes the
** result. */
static int dowait(lua_State *L, braid_condition *c, double timeout) {
  int rc;
  if (!braid__condition_is_owned(c))
    return braidB_raise(L, "RuntimeError", "cannot wait on un-acquired lock");
  if (timeout != 0) braidB_poll(L);
  rc = braid__condition_wait(c, timeout);
  if (rc == BRAID_EPERM)
    return braidB_raise(L, "RuntimeError", "cannot wait on un-acquired lock");
  lua_pushboolean(L, rc == BRAID_OK);
  return 1;
}


/*
** cond:wait([timeout]) -> boolean
** False when 'timeout' passed without a notify (nil: forever; <= 0: no
** wait). RuntimeError unless the caller holds the lock (a plain Lock:
** held by anyone). The lock is released entirely while waiting, however
** deep an RLock was held, and restored before returning.
*/
static int cond_wait(lua_State *L) {
  braid_condition *c = checkcond(L, 1);
  return dowait(L, c, braidB_waittimeout(L, 2));
}


/*
** cond:wait_for(predicate [, timeout]) -> the predicate's last value
** Python's loop: calls predicate() first and after each wake-up, until
** it returns a true value or 'timeout' seconds passed in total.
*/
static int cond_wait_for(lua_State *L) {
  braid_condition *c = checkcond(L, 1);
  int hastimeout = !lua_isnoneornil(L, 3);
  double waittime = hastimeout ? braidB_opttimeout(L, 3, 0) : 0;
  double endtime = 0;
  int started = 0;
  braidB_checkcallable(L, 2);
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  lua_call(L, 0, 1); /* result at 3 */
  while (!lua_toboolean(L, 3)) {
    if (hastimeout) {
      if (!started) {
        endtime = braid__now() + waittime;
        started = 1;
      } else {
        waittime = endtime - braid__now();
        if (waittime <= 0) break;
      }
    }
    dowait(L, c, hastimeout ? (waittime < 0 ? 0 : waittime) : BRAID_FOREVER);
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    lua_call(L, 0, 1);
  }
  return 1;
}


/* Wakes 'n' waiters (-1: all); RuntimeError unless the lock is held. */
static int donotify(lua_State *L, braid_condition *c, long n) {
  if (braid__condition_notify(c, n) != BRAID_OK)
    return braidB_raise(L, "RuntimeError",
                        "cannot notify on un-acquired lock");
  return 0;
}


/* cond:notify([n=1]): wakes the 'n' longest waiting threads. */
static int cond_notify(lua_State *L) {
  braid_condition *c = checkcond(L, 1);
  lua_Integer n = braidB_optinteger(L, 2, 1);
  if (n < 0) return braidB_argerror(L, 2, "ValueError", "n must be >= 0");
  return donotify(L, c, n > LONG_MAX ? LONG_MAX : (long)n);
}


static int cond_notify_all(lua_State *L) {
  return donotify(L, checkcond(L, 1), -1);
}


static int cond_tostring(lua_State *L) {
  braid_condition *c = checkcond(L, 1);
  long n = braid__condition_waiters(c);
  pushlockrepr(L, braid__condition_lock(c));
  lua_pushfstring(L, "<braid.Condition(%s, %I)>", lua_tostring(L, -1),
                  (lua_Integer)n);
  return 1;
}


static const luaL_Reg cond_methods[] = {
  { "acquire", cond_acquire },
  { "release", cond_release },
  { "wait", cond_wait },
  { "wait_for", cond_wait_for },
  { "notify", cond_notify },
  { "notify_all", cond_notify_all },
  { "_is_owned", cond_is_owned },
  { "guard", cond_guard },
  { "with", braidB_lock_with },
  { NULL, NULL },
};

static const luaL_Reg cond_meta[] = {
  { "__close", cond_release },
  { "__tostring", cond_tostring },
  { NULL, NULL },
};


/* core.Condition([lock]) / core.Condition{lock=} -> Condition
** 'lock' must be a Lock or an RLock; nil makes a new RLock. */
static int sync_condition(lua_State *L) {
  static const char *const names[] = { "lock", NULL };
  braid_handle *lock;
  braid_condition *c;
  braid_rlock *own = NULL;
  int rc;
  unpackopts(L, names);
  if (lua_isnoneornil(L, 1)) {
    if (braid__rlock_new(&own) != BRAID_OK)
      return braidB_nomem(L);
    lock = H(own);
  } else {
    lock = braidB_tohandle(L, 1);
    if (lock == NULL || (lock->type != &braid__lock_type &&
                         lock->type != &braid__rlock_type))
      return braidB_typeerror(L, 1, "braid.Lock or braid.RLock");
  }
  rc = braid__condition_new(&c, lock);
  if (own != NULL) braid__handle_release(H(own)); /* 'c' holds it now */
  if (rc != BRAID_OK) return braidB_nomem(L);
  braidB_pushnewhandle(L, H(c));
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** Semaphore and BoundedSemaphore
** =======================================================
*/

static braid_semaphore *checksem(lua_State *L, int i) {
  braidB_Box *b = (braidB_Box *)luaL_testudata(L, i, "braid.Semaphore");
  if (b == NULL)
    b = (braidB_Box *)luaL_testudata(L, i, "braid.BoundedSemaphore");
  if (b == NULL) {
    braidB_typeerror(L, i, "braid.Semaphore");
    return NULL;
  }
  if (b->h == NULL)
    braidB_argerror(L, i, "ValueError", "braid.Semaphore is closed");
  return (braid_semaphore *)b->h;
}


/*
** sem:acquire([blocking [, timeout]]) -> boolean
** False when it could not take one in time; a negative timeout does not
** wait. ValueError for a timeout with blocking false.
*/
static int sem_acquire(lua_State *L) {
  braid_semaphore *s = checksem(L, 1);
  int blocking = braidB_optboolean(L, 2, 1);
  double timeout;
  if (!blocking && !lua_isnoneornil(L, 3))
    return braidB_argerror(L, 3, "ValueError",
                           "can't specify timeout for non-blocking acquire");
  timeout = braidB_waittimeout(L, 3);
  if (blocking && timeout != 0) braidB_poll(L);
  lua_pushboolean(L, braid__semaphore_acquire(s, blocking, timeout) ==
                         BRAID_OK);
  return 1;
}


/*
** sem:release([n=1])
** ValueError when n < 1, or (BoundedSemaphore) when the value would pass
** its initial value: then nothing is released.
*/
static int sem_release(lua_State *L) {
  braid_semaphore *s = checksem(L, 1);
  lua_Integer n = braidB_optinteger(L, 2, 1);
  if (n < 1)
    return braidB_argerror(L, 2, "ValueError", "n must be one or more");
  if (braid__semaphore_release(s, (int64_t)n) != BRAID_OK) {
    if (H(s)->type == &braid__bsemaphore_type)
      return braidB_raise(L, "ValueError", "Semaphore released too many times");
    return braidB_raise(L, "OverflowError", "semaphore value too large");
  }
  return 0;
}


/* __close: gives back the unit a guard() took ('err' at 2 is ignored). */
static int sem_close(lua_State *L) {
  lua_settop(L, 1);
  return sem_release(L);
}


static int sem_guard(lua_State *L) {
  braid_semaphore *s = checksem(L, 1);
  braidB_poll(L);
  braid__semaphore_acquire(s, 1, BRAID_FOREVER);
  lua_settop(L, 1);
  return 1;
}


static int sem_tostring(lua_State *L) {
  braid_semaphore *s = checksem(L, 1);
  int64_t value, initial;
  braid__semaphore_state(s, &value, &initial);
  if (H(s)->type == &braid__bsemaphore_type)
    lua_pushfstring(L, "<braid.BoundedSemaphore at %p: value=%I/%I>",
                    (void *)s, (lua_Integer)value, (lua_Integer)initial);
  else
    lua_pushfstring(L, "<braid.Semaphore at %p: value=%I>", (void *)s,
                    (lua_Integer)value);
  return 1;
}


static const luaL_Reg sem_methods[] = {
  { "acquire", sem_acquire },
  { "release", sem_release },
  { "guard", sem_guard },
  { "with", braidB_lock_with },
  { NULL, NULL },
};

static const luaL_Reg sem_meta[] = {
  { "__close", sem_close },
  { "__tostring", sem_tostring },
  { NULL, NULL },
};


static int newsem(lua_State *L, int bounded) {
  static const char *const names[] = { "value", NULL };
  braid_semaphore *s;
  lua_Integer v;
  unpackopts(L, names);
  v = braidB_optinteger(L, 1, 1);
  if (v < 0)
    return braidB_argerror(L, 1, "ValueError",
                           "semaphore initial value must be >= 0");
  if (braid__semaphore_new(&s, (int64_t)v, bounded) != BRAID_OK)
    return braidB_nomem(L);
  braidB_pushnewhandle(L, (braid_handle *)s);
  return 1;
}


/* core.Semaphore([value=1]) / core.Semaphore{value=} */
static int sync_semaphore(lua_State *L) {
  return newsem(L, 0);
}


/* core.BoundedSemaphore([value=1]) / core.BoundedSemaphore{value=} */
static int sync_bsemaphore(lua_State *L) {
  return newsem(L, 1);
}
/* }====================================================== */


/*
** {======================================================
** Event
** =======================================================
*/

static braid_event *checkevent(lua_State *L, int i) {
  return (braid_event *)braidB_checkhandle(L, i, &braid__event_type);
}


static int event_is_set(lua_State *L) {
  lua_pushboolean(L, braid__event_is_set(checkevent(L, 1)));
  return 1;
}


static int event_set(lua_State *L) {
  braid__event_set(checkevent(L, 1));
  return 0;
}


static int event_clear(lua_State *L) {
  braid__event_clear(checkevent(L, 1));
  return 0;
}


/*
** ev:wait([timeout]) -> boolean
** True when the flag is set, or was set while waiting (even if cleared
** since); false after 'timeout' (nil: forever; <= 0: returns the flag).
*/
static int event_wait(lua_State *L) {
  braid_event *e = checkevent(L, 1);
  double timeout = braidB_waittimeout(L, 2);
  if (timeout != 0) braidB_poll(L);
  lua_pushboolean(L, braid__event_wait(e, timeout));
  return 1;
}


static int event_tostring(lua_State *L) {
  braid_event *e = checkevent(L, 1);
  lua_pushfstring(L, "<braid.Event at %p: %s>", (void *)e,
                  braid__event_is_set(e) ? "set" : "unset");
  return 1;
}


static const luaL_Reg event_methods[] = {
  { "is_set", event_is_set },
  { "set", event_set },
  { "clear", event_clear },
  { "wait", event_wait },
  { NULL, NULL },
};

static const luaL_Reg event_meta[] = {
  { "__tostring", event_tostring },
  { NULL, NULL },
};


/* core.Event() -> a new Event, not set */
static int sync_event(lua_State *L) {
  braid_event *e;
  if (braid__event_new(&e) != BRAID_OK)
    return braidB_nomem(L);
  braidB_pushnewhandle(L, (braid_handle *)e);
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** Barrier
** =======================================================
*/

static braid_barrier *checkbarrier(lua_State *L, int i) {
  return (braid_barrier *)braidB_checkhandle(L, i, &braid__barrier_type);
}


/* Runs the barrier's action; argument 1 is the barrier (light userdata). */
static int run_action(lua_State *L) {
  braid_barrier *b = (braid_barrier *)lua_touserdata(L, 1);
  int n = braid__decode(L, braid__barrier_action(b));
  lua_call(L, n - 1, 0);
  return 0;
}


/*
** barrier:wait([timeout]) -> arrival index, 1..parties
** nil uses the barrier's timeout. Raises threading.BrokenBarrierError when
** the barrier is or becomes broken (a timeout breaks it). The last thread
** to arrive runs the action first; if it raises, the barrier breaks and
** its error propagates from this call.
*/
static int barrier_wait(lua_State *L) {
  braid_barrier *b = checkbarrier(L, 1);
  double timeout = lua_isnoneornil(L, 2) ? braid__barrier_timeout(b)
                                         : braidB_waittimeout(L, 2);
  long idx = 0;
  int run, rc;
  braidB_poll(L);
  rc = braid__barrier_wait(b, timeout, &idx, &run);
  if (rc == BRAID_EBROKEN) return braidB_raisecode(L, rc, NULL);
  if (rc == BRAID_ESTATE)
    return braidB_raise(L, "RuntimeError",
                        "cannot wait on a barrier from its own action");
  if (run) {
    int status;
    lua_pushcfunction(L, run_action);
    lua_pushlightuserdata(L, b); /* kept alive by the proxy at 1 */
    status = lua_pcall(L, 1, 0, 0);
    braid__barrier_action_done(b, status == LUA_OK);
    if (status != LUA_OK) return lua_error(L);
  }
  lua_pushinteger(L, (lua_Integer)idx + 1);
  return 1;
}


static int barrier_check(lua_State *L, int rc, const char *what) {
  if (rc == BRAID_ESTATE)
    return braidB_raise(L, "RuntimeError",
                        "cannot %s a barrier from its own action", what);
  return 0;
}


/* barrier:reset(): waiting threads get BrokenBarrierError. */
static int barrier_reset(lua_State *L) {
  return barrier_check(L, braid__barrier_reset(checkbarrier(L, 1)), "reset");
}


/* barrier:abort(): breaks it, for waiting and future threads alike. */
static int barrier_abort(lua_State *L) {
  return barrier_check(L, braid__barrier_abort(checkbarrier(L, 1)), "abort");
}


/* Fields parties, n_waiting, broken; anything else from the methods. */
static int barrier_index(lua_State *L) {
  braid_barrier *b = checkbarrier(L, 1);
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (k != NULL) {
    long parties, n_waiting;
    int broken;
    if (strcmp(k, "parties") == 0 || strcmp(k, "n_waiting") == 0 ||
        strcmp(k, "broken") == 0) {
      braid__barrier_info(b, &parties, &n_waiting, &broken);
      if (k[0] == 'p')
        lua_pushinteger(L, (lua_Integer)parties);
      else if (k[0] == 'n')
        lua_pushinteger(L, (lua_Integer)n_waiting);
      else
        lua_pushboolean(L, broken);
      return 1;
    }
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2); /* mt.__methods[k] */
  return 1;
}


static int barrier_tostring(lua_State *L) {
  braid_barrier *b = checkbarrier(L, 1);
  long parties, n_waiting;
  int broken;
  braid__barrier_info(b, &parties, &n_waiting, &broken);
  if (broken)
    lua_pushfstring(L, "<braid.Barrier at %p: broken>", (void *)b);
  else
    lua_pushfstring(L, "<braid.Barrier at %p: waiters=%I/%I>", (void *)b,
                    (lua_Integer)n_waiting, (lua_Integer)parties);
  return 1;
}


static const luaL_Reg barrier_methods[] = {
  { "wait", barrier_wait },
  { "reset", barrier_reset },
  { "abort", barrier_abort },
  { NULL, NULL },
};

static const luaL_Reg barrier_meta[] = {
  { "__index", barrier_index },
  { "__tostring", barrier_tostring },
  { NULL, NULL },
};


/*
** core.Barrier(parties [, action [, timeout]]) or
** core.Barrier{parties=, action=, timeout=} -> Barrier
** ValueError when parties < 1; TypeError when the action is not callable
** or cannot be sent to other threads (it is copied into the barrier).
*/
static int sync_barrier(lua_State *L) {
  static const char *const names[] = { "parties", "action", "timeout", NULL };
  braid_barrier *b;
  braid_msg *action = NULL;
  lua_Integer parties;
  double timeout;
  int rc;
  unpackopts(L, names);
  parties = braidB_checkinteger(L, 1);
  if (parties < 1 || parties > LONG_MAX)
    return braidB_argerror(L, 1, "ValueError", "parties must be > 0");
  if (!lua_isnoneornil(L, 2) && !braidB_iscallable(L, 2))
    return braidB_typeerror(L, 2, "function");
  timeout = braidB_waittimeout(L, 3);
  if (!lua_isnoneornil(L, 2)) action = braid__encode(L, 2, "action");
  rc = braid__barrier_new(&b, (long)parties, action, timeout);
  if (rc != BRAID_OK) return braidB_nomem(L);
  braidB_pushnewhandle(L, (braid_handle *)b);
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** local: attributes per Lua state
** =======================================================
*/

static const char LOCALS_KEY = 'l'; /* registry: weak proxy -> attrs */

/*
** The attributes of a local live in a table of this state, found through
** the state's one proxy of the object (an ephemeron in the registry), so
** each thread sees its own. They die with the proxy, so a later object at
** a reused address cannot see stale ones. Pushes the attributes of the
** local at 1, or nothing (returning 0) when it has none and '!create'.
** An instance of a subclass (threading.lua: local:subclass) gets its
** table on any first use in a state, as Python's: the table looks up
** the class's methods, then __init(self, args...) runs (MAY RAISE its
** error, the table then forgotten so that the next use tries again).
*/
static int pushattrs(lua_State *L, int create) {
  braid_handle *h = braidB_checkhandle(L, 1, &braid__local_type);
  const braid_msg *init = braid__local_init(h);
  if (init != NULL) create = 1;
  braidB_pushweakregistry(L, &LOCALS_KEY, "k");
  lua_pushvalue(L, 1);
  if (lua_rawget(L, -2) == LUA_TTABLE) {
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 1);
  if (!create) {
    lua_pop(L, 1);
    return 0;
  }
  lua_newtable(L);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4); /* locals[proxy] = attrs */
  lua_remove(L, -2);
  if (init != NULL) {
    int attrs = lua_gettop(L), n;
    lua_Integer i, nargs;
    luaL_checkstack(L, 6, "local");
    braid__decode(L, init); /* { methods, args } */
    lua_rawgeti(L, -1, 1);  /* methods */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, attrs);
    if (lua_getfield(L, -1, "__init") == LUA_TNIL) {
      lua_settop(L, attrs);
      return 1;
    }
    lua_pushvalue(L, 1);
    lua_rawgeti(L, attrs + 1, 2); /* args, packed */
    lua_getfield(L, -1, "n");
    nargs = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (nargs < 0 || nargs > 250) nargs = 0;
    luaL_checkstack(L, (int)nargs + 1, "local");
    /* stack: attrs box methods __init self args */
    for (i = 1; i <= nargs; i++) lua_rawgeti(L, attrs + 5, i);
    lua_remove(L, attrs + 5);
    n = (int)nargs + 1;
    if (lua_pcall(L, n, 0, 0) != LUA_OK) { /* __init(self, args...) */
      /* as Python's: forget this state's table, so that the next use
      ** runs __init again, then raise its error */
      lua_rawgetp(L, LUA_REGISTRYINDEX, &LOCALS_KEY);
      lua_pushvalue(L, 1);
      lua_pushnil(L);
      lua_rawset(L, -3);
      lua_pop(L, 1);
      return lua_error(L);
    }
    lua_settop(L, attrs);
  }
  return 1;
}


static int local_index(lua_State *L) {
  if (!pushattrs(L, 0)) return 0;
  lua_pushvalue(L, 2);
  lua_gettable(L, -2); /* a subclass's methods through the metatable */
  return 1;
}


static int local_newindex(lua_State *L) {
  luaL_checkany(L, 3);
  pushattrs(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  return 0;
}


static int local_next(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}


/* pairs(local) walks this thread's attributes. */
static int local_pairs(lua_State *L) {
  lua_pushcfunction(L, local_next);
  pushattrs(L, 1);
  lua_pushnil(L);
  return 3;
}


static int local_tostring(lua_State *L) {
  braid_handle *h = braidB_checkhandle(L, 1, &braid__local_type);
  lua_pushfstring(L, "<braid.local object at %p>", (void *)h);
  return 1;
}


static const luaL_Reg local_meta[] = {
  { "__index", local_index },
  { "__newindex", local_newindex },
  { "__pairs", local_pairs },
  { "__tostring", local_tostring },
  { NULL, NULL },
};


/* core.Local() -> a threading.local: fields separate in each thread.
** Python's local() takes no arguments (only a subclass's __init__ may). */
static int sync_local(lua_State *L) {
  braid_handle *h;
  if (lua_gettop(L) > 0)
    return braidB_raise(L, "TypeError",
                        "Initialization arguments are not supported");
  if (braid__local_new(&h, NULL) != BRAID_OK)
    return braidB_nomem(L);
  braidB_pushnewhandle(L, h);
  return 1;
}


/* core.Local_sub(methods, args) -> an instance of a subclass of local:
** 'methods' (the class's fields, flattened) and 'args' (table.pack'ed)
** are copied into the object, for the __init of every state that uses it
** (TypeError naming the value when one cannot be copied); this state's
** runs now, as Python's constructor calls __init__. */
static int sync_local_sub(lua_State *L) {
  braid_handle *h;
  braid_msg *m;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_createtable(L, 2, 0);
  lua_insert(L, 1);
  lua_rawseti(L, 1, 2);
  lua_rawseti(L, 1, 1);
  m = braid__encode(L, 1, "local");
  if (braid__local_new(&h, m) != BRAID_OK) {
    braid__msg_free(m);
    return braidB_nomem(L);
  }
  lua_settop(L, 0);
  braidB_pushnewhandle(L, h);
  pushattrs(L, 1);
  lua_settop(L, 1);
  return 1;
}
/* }====================================================== */


const braidB_Class braidB_sync_classes[] = {
  { &braid__lock_type, lock_methods, lock_meta },
  { &braid__rlock_type, rlock_methods, rlock_meta },
  { &braid__condition_type, cond_methods, cond_meta },
  { &braid__semaphore_type, sem_methods, sem_meta },
  { &braid__bsemaphore_type, sem_methods, sem_meta },
  { &braid__event_type, event_methods, event_meta },
  { &braid__barrier_type, barrier_methods, barrier_meta },
  { &braid__local_type, NULL, local_meta },
  { NULL, NULL, NULL },
};


static const luaL_Reg sync_funcs[] = {
  { "Lock", sync_lock },
  { "RLock", sync_rlock },
  { "Condition", sync_condition },
  { "Semaphore", sync_semaphore },
  { "BoundedSemaphore", sync_bsemaphore },
  { "Event", sync_event },
  { "Barrier", sync_barrier },
  { "Local", sync_local },
  { "Local_sub", sync_local_sub },
  { NULL, NULL },
};


/* Adds the constructors to the module table on top of the stack. */
void braidB_open_sync(lua_State *L) {
  luaL_setfuncs(L, sync_funcs, 0);
}

/*
** lpsync.c: Lua binding of multiprocessing's synchronisation objects,
** which live in shared memory (psync.h): Lock, RLock, Semaphore,
** BoundedSemaphore, Condition, Event, Barrier. They reach other processes
** by reference, inherited or sent (__braidexport, see ltravel.c).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <string.h>

#include "lbind.h"
#include "lprocess.h"
#include "psync.h"
#include "lcodec.h"


/*
** {======================================================
** Synchronisation objects in shared memory
** =======================================================
*/

static braid_psync *topsync(lua_State *L, int idx) {
  braid_handle *h = braidB_tohandle(L, idx);
  if (h != NULL && h->type >= &braid__psync_types[0] &&
      h->type < &braid__psync_types[BRAID_PS_NKINDS])
    return (braid_psync *)h;
  return NULL;
}


static braid_psync *checkpsync(lua_State *L, int idx, int kind) {
  return (braid_psync *)braidB_checkhandle(L, idx, &braid__psync_types[kind]);
}


/* Any of the kinds in 'mask' (bits 1 << kind). */
static braid_psync *checkpsync_any(lua_State *L, int idx, int mask,
                                   const char *what) {
  braid_psync *p = topsync(L, idx);
  if (p == NULL || !(mask & (1 << p->kind))) {
    braidB_typeerror(L, idx, what);
    return NULL;
  }
  return p;
}

#define LOCKS ((1 << BRAID_PS_LOCK) | (1 << BRAID_PS_RLOCK))
#define SEMS ((1 << BRAID_PS_SEMAPHORE) | (1 << BRAID_PS_BSEMAPHORE))
#define ACQ (LOCKS | SEMS)

/* braid__psync_new, once more after a collection if descriptors ran
** out. */
static int psync_new(lua_State *L, braid_psync **p, int kind, int64_t value,
                     braid_psync *lock, const void *action, size_t len,
                     double timeout) {
  int rc = braid__psync_new(p, kind, value, lock, action, len, timeout);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno))
    rc = braid__psync_new(p, kind, value, lock, action, len, timeout);
  return rc;
}


static void pushnewpsync(lua_State *L, int rc, braid_psync *p) {
  if (rc != BRAID_OK) braidB_raisecode(L, rc, "cannot create a shared object");
  braidB_pushnewhandle(L, &p->h);
}


/* Creates a shared object without a barrier action and pushes it. */
static int newpsync(lua_State *L, int kind, int64_t value,
                    braid_psync *lock) {
  braid_psync *p = NULL;
  int rc = psync_new(L, &p, kind, value, lock, NULL, 0, 0);
  pushnewpsync(L, rc, p);
  return 1;
}


static int core_mp_lock(lua_State *L) {
  return newpsync(L, BRAID_PS_LOCK, 0, NULL);
}


static int core_mp_rlock(lua_State *L) {
  return newpsync(L, BRAID_PS_RLOCK, 0, NULL);
}


static int newsem(lua_State *L, int kind) {
  lua_Integer v = braidB_optinteger(L, 1, 1);
  if (v < 0)
    return braidB_argerror(L, 1, "ValueError",
                           "semaphore initial value must be >= 0");
  return newpsync(L, kind, v, NULL);
}

static int core_mp_semaphore(lua_State *L) {
  return newsem(L, BRAID_PS_SEMAPHORE);
}

static int core_mp_bsemaphore(lua_State *L) {
  return newsem(L, BRAID_PS_BSEMAPHORE);
}


/* core.mp_Condition(lock) */
static int core_mp_condition(lua_State *L) {
  braid_psync *lock = checkpsync_any(L, 1, LOCKS,
                                     "braid.mp.Lock or braid.mp.RLock");
  return newpsync(L, BRAID_PS_CONDITION, 0, lock);
}


static int core_mp_event(lua_State *L) {
  return newpsync(L, BRAID_PS_EVENT, 0, NULL);
}


/* core.mp_Barrier(parties, [action], [timeout]) */
static int core_mp_barrier(lua_State *L) {
  static const char *const roots[] = { "action" };
  lua_Integer parties = braidB_checkinteger(L, 1);
  double timeout = lua_isnoneornil(L, 3) ? -1 : braidB_opttimeout(L, 3, -1);
  braid_msg *m = NULL;
  braid_psync *p;
  int rc;
  if (parties < 1)
    return braidB_argerror(L, 1, "ValueError", "parties must be >= 1");
  if (!lua_isnoneornil(L, 2)) m = braid__encode_proc(L, 2, 1, roots,
                                                     BRAID_ENC_STORE);
  rc = psync_new(L, &p, BRAID_PS_BARRIER, parties, NULL, m ? m->data : NULL,
                 m ? m->len : 0, timeout < 0 ? -1 : timeout);
  braid__msg_free(m);
  pushnewpsync(L, rc, p);
  return 1;
}


/* core._mp_attach(kind, fd, size, [lock]) */
static int core_mp_attach(lua_State *L) {
  int kind = (int)braidB_checkinteger(L, 1);
  size_t size = (size_t)braidB_checkinteger(L, 3);
  braid_psync *lock = lua_isnoneornil(L, 4) ? NULL : topsync(L, 4);
  braid_psync *p;
  int fd, rc;
  if (braidB_attach_fd(L, 2, "synchronisation object", &fd)) return 1;
  rc = braid__psync_attach(&p, kind, fd, size, lock);
  if (rc != BRAID_OK) {
    braidB_attach_drop(L, 2, fd);
    return braidB_oserror(L, errno, "cannot map a shared object");
  }
  braidB_pushnewhandle(L, &p->h);
  braidB_attach_done(L, 2, fd);
  return 1;
}


/* __braidexport(obj, mode) -> core._mp_attach, kind, fd, size, [lock] */
static int psync_export(lua_State *L) {
  static const char *const names[] = { "Lock", "RLock", "Semaphore",
                                       "BoundedSemaphore", "Condition",
                                       "Event", "Barrier" };
  braid_psync *p = topsync(L, 1);
  if (p == NULL) return 0;
  if (p->fd < 0)
    return braidB_raise(L, "OSError", "this system has no memfd: shared "
                                      "objects reach forked children only");
  lua_pushcfunction(L, core_mp_attach);
  lua_pushinteger(L, p->kind);
  braidB_export_fd(L, p->fd, names[p->kind]);
  lua_pushinteger(L, (lua_Integer)p->size);
  if (p->lock) {
    braidB_pushhandle(L, &p->lock->h);
    return 5;
  }
  return 4;
}


/* acquire(block=true, timeout=nil) -> true [, "owner died"] | false */
static int ps_acquire(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, ACQ, "multiprocessing lock");
  int blocking = braidB_optboolean(L, 2, 1);
  double t = braidB_waittimeout(L, 3);
  int rc;
  braidB_poll(L);
  rc = braid__psync_acquire(p, blocking, t);
  lua_pushboolean(L, rc != BRAID_ETIMEDOUT);
  if (rc == BRAID_PSYNC_OWNER_DIED) {
    lua_pushliteral(L, "owner died");
    return 2;
  }
  return 1;
}


static int ps_release(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, ACQ, "multiprocessing lock");
  int rc = braid__psync_release(p);
  if (rc == BRAID_ESTATE || rc == BRAID_EINVAL)
    return braidB_raise(L, "ValueError",
                        "semaphore or lock released too many times");
  if (rc == BRAID_EPERM)
    return braidB_raise(L, "AssertionError",
                        "attempt to release recursive lock not owned by "
                        "thread");
  return 0;
}


static int ps_guard(lua_State *L) {
  lua_settop(L, 1);
  lua_getfield(L, 1, "acquire");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  return 1;
}


static int ps_close(lua_State *L) {
  lua_getfield(L, 1, "release");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  return 0;
}


static int ps_locked(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, LOCKS, "multiprocessing lock");
  lua_pushboolean(L, braid__psync_value(p) > 0);
  return 1;
}


static int ps_is_owned(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, LOCKS, "multiprocessing lock");
  lua_pushboolean(L, braid__psync_owned(p) > 0);
  return 1;
}


static int ps_get_value(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, SEMS, "multiprocessing semaphore");
  lua_pushinteger(L, (lua_Integer)braid__psync_value(p));
  return 1;
}


/* Condition */
static int cond_acquire(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  braidB_pushhandle(L, &c->lock->h);
  lua_replace(L, 1);
  return ps_acquire(L);
}

static int cond_release(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  braidB_pushhandle(L, &c->lock->h);
  lua_replace(L, 1);
  return ps_release(L);
}

static int cond_wait(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  double t = braidB_waittimeout(L, 2);
  int rc;
  braidB_poll(L);
  rc = braid__psync_wait(c, t);
  if (rc == BRAID_EPERM)
    return braidB_raise(L, "AssertionError",
                        "cannot wait on un-acquired lock");
  lua_pushboolean(L, rc == BRAID_OK);
  return 1;
}

static int cond_notify(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  lua_Integer n = braidB_optinteger(L, 2, 1);
  if (braid__psync_notify(c, n) == BRAID_EPERM)
    return braidB_raise(L, "AssertionError", "lock is not owned");
  return 0;
}

static int cond_notify_all(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  if (braid__psync_notify(c, -1) == BRAID_EPERM)
    return braidB_raise(L, "AssertionError", "lock is not owned");
  return 0;
}

/* wait_for(predicate, timeout) -> the predicate's last result */
static int cond_wait_for(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  double t = braidB_waittimeout(L, 3);
  braid__deadline d = braid__deadline_in(t);
  braidB_checkcallable(L, 2);
  for (;;) {
    lua_pushvalue(L, 2);
    lua_call(L, 0, 1);
    if (lua_toboolean(L, -1)) return 1;
    if (t >= 0 && braid__deadline_passed(&d)) return 1;
    lua_pop(L, 1);
    if (braid__psync_wait(c, braid__deadline_left(&d)) == BRAID_EPERM)
      return braidB_raise(L, "AssertionError",
                          "cannot wait on un-acquired lock");
  }
}


/* Event */
static int ev_is_set(lua_State *L) {
  lua_pushboolean(L, braid__psync_value(checkpsync(L, 1, BRAID_PS_EVENT)) != 0);
  return 1;
}

static int ev_set(lua_State *L) {
  braid__psync_set(checkpsync(L, 1, BRAID_PS_EVENT), 1);
  return 0;
}

static int ev_clear(lua_State *L) {
  braid__psync_set(checkpsync(L, 1, BRAID_PS_EVENT), 0);
  return 0;
}

static int ev_wait(lua_State *L) {
  braid_psync *e = checkpsync(L, 1, BRAID_PS_EVENT);
  double t = braidB_waittimeout(L, 2);
  braidB_poll(L);
  lua_pushboolean(L, braid__psync_event_wait(e, t));
  return 1;
}


/* Barrier: wait(timeout) -> 1..parties */
static int bar_wait(lua_State *L) {
  braid_psync *b = checkpsync(L, 1, BRAID_PS_BARRIER);
  int64_t parties, nw, index = 0;
  int broken, run = 0, rc;
  double deft, t;
  braid__psync_binfo(b, &parties, &nw, &broken, &deft);
  t = lua_isnoneornil(L, 2) ? deft : braidB_waittimeout(L, 2);
  braidB_poll(L);
  rc = braid__psync_bwait(b, t, &index, &run);
  if (rc == BRAID_EBROKEN)
    return braidB_raise(L, "threading.BrokenBarrierError", "barrier broken");
  if (run) {
    const void *p;
    size_t len;
    braid_msg *m;
    int st;
    braid__psync_action(b, &p, &len);
    m = braid__msg_from_bytes(p, len);
    lua_settop(L, 1);
    if (m == NULL) {
      braid__psync_action_done(b, 0);
      return braidB_nomem(L);
    }
    if (braid__decode_owned(L, m) != 1) {
      braid__psync_action_done(b, 0);
      return luaL_error(L, "bad barrier action");
    }
    st = lua_pcall(L, 0, 0, 0);
    braid__psync_action_done(b, st == LUA_OK);
    if (st != LUA_OK) return lua_error(L);
  }
  lua_pushinteger(L, (lua_Integer)index + 1);
  return 1;
}

static int bar_reset(lua_State *L) {
  braid__psync_reset(checkpsync(L, 1, BRAID_PS_BARRIER));
  return 0;
}

static int bar_abort(lua_State *L) {
  braid__psync_abort(checkpsync(L, 1, BRAID_PS_BARRIER));
  return 0;
}

static int bar_index(lua_State *L) {
  braid_psync *b = checkpsync(L, 1, BRAID_PS_BARRIER);
  const char *k = lua_tostring(L, 2);
  int64_t parties, nw;
  int broken;
  double t;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (k == NULL) return 1;
  braid__psync_binfo(b, &parties, &nw, &broken, &t);
  if (strcmp(k, "parties") == 0) lua_pushinteger(L, (lua_Integer)parties);
  else if (strcmp(k, "n_waiting") == 0) lua_pushinteger(L, (lua_Integer)nw);
  else if (strcmp(k, "broken") == 0) lua_pushboolean(L, broken);
  else lua_pushnil(L);
  return 1;
}


static const luaL_Reg lock_methods[] = {
  { "acquire", ps_acquire },
  { "release", ps_release },
  { "guard", ps_guard },
  { "with", braidB_lock_with },
  { "locked", ps_locked },
  { "_is_owned", ps_is_owned },
  { NULL, NULL },
};

static const luaL_Reg sem_methods[] = {
  { "acquire", ps_acquire },
  { "release", ps_release },
  { "guard", ps_guard },
  { "with", braidB_lock_with },
  { "get_value", ps_get_value },
  { NULL, NULL },
};

static const luaL_Reg cond_methods[] = {
  { "acquire", cond_acquire },
  { "release", cond_release },
  { "guard", ps_guard },
  { "with", braidB_lock_with },
  { "wait", cond_wait },
  { "wait_for", cond_wait_for },
  { "notify", cond_notify },
  { "notify_all", cond_notify_all },
  { NULL, NULL },
};

static const luaL_Reg event_methods[] = {
  { "is_set", ev_is_set },
  { "set", ev_set },
  { "clear", ev_clear },
  { "wait", ev_wait },
  { NULL, NULL },
};

static const luaL_Reg barrier_methods[] = {
  { "wait", bar_wait },
  { "reset", bar_reset },
  { "abort", bar_abort },
  { NULL, NULL },
};

static const luaL_Reg lock_meta[] = {
  { "__close", ps_close },
  { "__braidexport", psync_export },
  { NULL, NULL },
};

static const luaL_Reg plain_meta[] = {
  { "__braidexport", psync_export },
  { NULL, NULL },
};

static const luaL_Reg barrier_meta[] = {
  { "__index", bar_index },
  { "__braidexport", psync_export },
  { NULL, NULL },
};
/* }====================================================== */


const braidB_Class braidB_psync_classes[] = {
  { &braid__psync_types[BRAID_PS_LOCK], lock_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_RLOCK], lock_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_SEMAPHORE], sem_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_BSEMAPHORE], sem_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_CONDITION], cond_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_EVENT], event_methods, plain_meta },
  { &braid__psync_types[BRAID_PS_BARRIER], barrier_methods, barrier_meta },
  { NULL, NULL, NULL },
};


static const luaL_Reg psync_funcs[] = {
  { "mp_Lock", core_mp_lock },
  { "mp_RLock", core_mp_rlock },
  { "mp_Semaphore", core_mp_semaphore },
  { "mp_BoundedSemaphore", core_mp_bsemaphore },
  { "mp_Condition", core_mp_condition },
  { "mp_Event", core_mp_event },
  { "mp_Barrier", core_mp_barrier },
  { "_mp_attach", core_mp_attach },
  { NULL, NULL },
};


void braidB_open_psync(lua_State *L) {
  luaL_setfuncs(L, psync_funcs, 0);
}

/*
** lsched.c: Lua binding of braid.sched's scheduler (Python's
** sched.scheduler) over evsched.c.
** See LICENSE for copyright and license.
**
** A scheduler is a braid handle: a thread that receives it uses the same
** event queue. Events are stored encoded (so any thread's run() can run
** them: the action and its arguments are copied there, as a Barrier's
** action is), and the state that entered an event also keeps the
** original action and argument table (this state's 'mine' table, keyed
** by sequence), so that a run() in that state calls the very function it
** was given, closures and all, as in Python.
**
** Python's lock is replaced by evsched.c's mutex, held only to link and
** unlink: timefunc, delayfunc and actions run unlocked, as Python's do.
*/
#include <string.h>

#include "lbind.h"
#include "lcodec.h"
#include "evsched.h"

static const char MINE_KEY = 'm'; /* registry: proxy -> {seq -> {f, args}} */

static braid_sched *checksched(lua_State *L, int idx) {
  return (braid_sched *)braidB_checkhandle(L, idx, &braid__sched_type);
}


/* Pushes this state's table of its own events of the scheduler at 'idx'. */
static void pushmine(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  braidB_pushweakregistry(L, &MINE_KEY, "k");
  lua_pushvalue(L, idx);
  if (lua_rawget(L, -2) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
  }
  lua_remove(L, -2);
}


/* core.scheduler(timefunc, delayfunc) */
static int core_scheduler(lua_State *L) {
  braid_msg *m;
  braid_sched *s;
  int rc;
  lua_settop(L, 2);
  if (lua_isnil(L, 1)) {
    lua_getfield(L, lua_upvalueindex(1), "monotonic");
    lua_replace(L, 1);
  }
  if (lua_isnil(L, 2)) {
    lua_getfield(L, lua_upvalueindex(1), "sleep");
    lua_replace(L, 2);
  }
  braidB_checkcallable(L, 1);
  braidB_checkcallable(L, 2);
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 2);
  m = braid__encode(L, 3, "scheduler");
  rc = braid__sched_new(&s, m);
  if (rc != BRAID_OK) {
    braid__msg_free(m);
    return braidB_raisecode(L, rc, NULL);
  }
  braidB_pushnewhandle(L, &s->h);
  pushmine(L, -1); /* this state calls the very functions it was given */
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "funcs");
  lua_pop(L, 1);
  return 1;
}


/* Pushes timefunc and delayfunc of the scheduler at 1: this state's own
** if it made it, else the decoded copies. */
static void pushfuncs(lua_State *L, braid_sched *s) {
  pushmine(L, 1);
  if (lua_getfield(L, -1, "funcs") == LUA_TTABLE) {
    lua_remove(L, -2);
  } else {
    lua_pop(L, 2);
    braid__decode(L, s->funcs);
  }
  lua_rawgeti(L, -1, 1);
  lua_rawgeti(L, -2, 2);
  lua_remove(L, -3);
}


/* Drops from this state's table at 'mine' the originals of events that
** are no longer queued (other threads ran or cancelled them), once the
** table holds more than twice the queue plus 64: a state that only enters
** events keeps a bounded table. Counts entries in mine.n. */
static void prune_mine(lua_State *L, braid_sched *s, int mine) {
  lua_Integer n;
  size_t queued = braid__sched_count(s), k, i;
  braid_sched_event **a;
  lua_getfield(L, mine, "n");
  n = lua_tointeger(L, -1) + 1;
  lua_pop(L, 1);
  if ((size_t)n > 2 * queued + 64) {
    lua_newtable(L); /* the queued sequences */
    if (braid__sched_snapshot(s, &a, &k) == BRAID_OK) {
      int ok = lua_checkstack(L, 2);
      for (i = 0; i < k; i++) {
        if (ok) {
          lua_pushboolean(L, 1);
          lua_rawseti(L, -2, a[i]->seq); /* may raise only for memory */
        }
        braid__sched_event_release(a[i]);
      }
      braid__free(a);
      n = 0;
      lua_pushnil(L);
      while (lua_next(L, mine)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
          if (lua_rawgeti(L, -2, lua_tointeger(L, -1)) == LUA_TNIL) {
            lua_pushvalue(L, -2);
            lua_pushnil(L);
            lua_rawset(L, mine);
          } else {
            n++;
          }
          lua_pop(L, 1);
        }
      }
      n++; /* the event being entered */
    }
    lua_pop(L, 1);
  }
  lua_pushinteger(L, n);
  lua_setfield(L, mine, "n");
}


/* s:enterabs(time, priority, action, argument, kwargs) -> event */
static int sched_enterabs(lua_State *L) {
  braid_sched *s = checksched(L, 1);
  lua_Number t = braidB_checknumber(L, 2);
  const char *wa = "value", *wb = "value";
  braid_msg *m;
  int64_t seq;
  int rc;
  if (lua_isnoneornil(L, 3))
    return braidB_argerror(L, 3, "TypeError",
                           "priority must not be nil (events are ordered by it)");
  braidB_checkcallable(L, 4);
  if (lua_isnoneornil(L, 5)) {
    lua_newtable(L);
    lua_replace(L, 5);
  } else if (!lua_istable(L, 5)) {
    return braidB_typeerror(L, 5, "table");
  }
  lua_settop(L, 5); /* kwargs dropped (API.md) */
  seq = braid__sched_next_seq(s);
  lua_createtable(L, 5, 0); /* 6: {time, priority, sequence, action, argument} */
  lua_pushvalue(L, 2);
  lua_rawseti(L, 6, 1);
  lua_pushvalue(L, 3);
  lua_rawseti(L, 6, 2);
  lua_pushinteger(L, seq);
  lua_rawseti(L, 6, 3);
  lua_pushvalue(L, 4);
  lua_rawseti(L, 6, 4);
  lua_pushvalue(L, 5);
  lua_rawseti(L, 6, 5);
  /* keep the originals for this state's run() (before the push: after it
  ** another thread may already be running the event), and before the
  ** encode, so that nothing that may raise comes between the encode and
  ** the push (the message would leak); an entry left by a failed encode
  ** is dropped when run() empties the queue */
  pushmine(L, 1); /* 7 */
  prune_mine(L, s, 7);
  lua_pushvalue(L, 6);
  lua_rawseti(L, 7, seq);
  m = braid__encode(L, 6, "event");
  rc = braid__sched_push(s, m, (double)t, seq, &wa, &wb);
  if (rc != BRAID_OK) {
    lua_pushnil(L);
    lua_rawseti(L, 7, seq);
    if (rc == BRAID_ENOTSUP)
      return braidB_raise(L, "TypeError",
                          "'<' not supported between instances of '%s' and "
                          "'%s' (event priorities)", wa, wb);
    return braidB_raisecode(L, rc, NULL);
  }
  lua_createtable(L, 0, 5);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "time");
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "priority");
  lua_pushinteger(L, seq);
  lua_setfield(L, -2, "sequence");
  lua_pushvalue(L, 4);
  lua_setfield(L, -2, "action");
  lua_pushvalue(L, 5);
  lua_setfield(L, -2, "argument");
  return 1;
}


/* s:enter(delay, priority, action, argument, kwargs) -> event */
static int sched_enter(lua_State *L) {
  braid_sched *s = checksched(L, 1);
  lua_Number delay = braidB_checknumber(L, 2);
  lua_settop(L, 6);
  pushfuncs(L, s);
  lua_pop(L, 1);
  lua_call(L, 0, 1);
  if (lua_type(L, -1) != LUA_TNUMBER)
    return braidB_raise(L, "TypeError", "timefunc must return a number, got %s",
                        luaL_typename(L, -1));
  lua_pushnumber(L, lua_tonumber(L, -1) + delay);
  lua_replace(L, 2);
  lua_settop(L, 6);
  return sched_enterabs(L);
}


/* s:cancel(event) */
static int sched_cancel(lua_State *L) {
  braid_sched *s = checksched(L, 1);
  lua_Integer seq;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (lua_getfield(L, 2, "sequence") != LUA_TNUMBER || !lua_isinteger(L, -1))
    return braidB_argerror(L, 2, "TypeError", "not an event of a scheduler");
  seq = lua_tointeger(L, -1);
  if (braid__sched_cancel(s, seq) != BRAID_OK)
    return braidB_raise(L, "ValueError", "list.remove(x): x not in list");
  pushmine(L, 1);
  lua_pushnil(L);
  lua_rawseti(L, -2, seq);
  return 0;
}


static int sched_empty(lua_State *L) {
  lua_pushboolean(L, braid__sched_count(checksched(L, 1)) == 0);
  return 1;
}


/* Pushes the event of 'e' as a named table: this state's original when
** it entered it (entry of 'mine' at 'mine'), else the decoded copy.
** Returns LUA_OK, or the status of a failed decode (its error pushed);
** 'e' stays the caller's to release. */
static int decode_event(lua_State *L) {
  braid_sched_event *e = (braid_sched_event *)lua_touserdata(L, 1);
  braid__decode(L, e->m);
  return 1;
}

static int push_event(lua_State *L, braid_sched_event *e, int mine) {
  if (lua_rawgeti(L, mine, e->seq) != LUA_TTABLE) {
    int st;
    lua_pop(L, 1);
    lua_pushcfunction(L, decode_event);
    lua_pushlightuserdata(L, e);
    st = lua_pcall(L, 1, 1, 0);
    if (st != LUA_OK) return st;
  }
  lua_createtable(L, 0, 5);
  lua_rawgeti(L, -2, 1);
  lua_setfield(L, -2, "time");
  lua_rawgeti(L, -2, 2);
  lua_setfield(L, -2, "priority");
  lua_rawgeti(L, -2, 3);
  lua_setfield(L, -2, "sequence");
  lua_rawgeti(L, -2, 4);
  lua_setfield(L, -2, "action");
  lua_rawgeti(L, -2, 5);
  lua_setfield(L, -2, "argument");
  lua_remove(L, -2);
  return LUA_OK;
}


/* s:run([blocking=true]) -> nil, or (not blocking) the delay until the
** next event */
static int sched_run(lua_State *L) {
  braid_sched *s = checksched(L, 1);
  int blocking = braidB_optboolean(L, 2, 1);
  lua_settop(L, 1);
  pushfuncs(L, s); /* 2 timefunc, 3 delayfunc */
  pushmine(L, 1);  /* 4 */
  for (;;) {
    braid_sched_event *e;
    double t = 0, now;
    int rc;
    lua_pushvalue(L, 2);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TNUMBER)
      return braidB_raise(L, "TypeError", "timefunc must return a number, got %s",
                          luaL_typename(L, -1));
    now = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
    rc = braid__sched_pop_due(s, now, &e, &t);
    if (rc == BRAID_EEMPTY) {
      /* events this state entered and other threads ran or cancelled */
      lua_pushnil(L);
      while (lua_next(L, 4)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
          lua_pushvalue(L, -1);
          lua_pushnil(L);
          lua_rawset(L, 4);
        }
      }
      lua_pushinteger(L, 0);
      lua_setfield(L, 4, "n");
      return 0;
    }
    if (rc == BRAID_ETIMEDOUT) {
      if (!blocking) {
        lua_pushnumber(L, (lua_Number)(t - now));
        return 1;
      }
      lua_pushvalue(L, 3);
      lua_pushnumber(L, (lua_Number)(t - now));
      lua_call(L, 1, 0);
      continue;
    }
    {
      int64_t seq = e->seq;
      int n;
      int st = push_event(L, e, 4); /* 5 */
      braid__sched_event_release(e);
      if (st != LUA_OK) return lua_error(L);
      lua_pushnil(L);
      lua_rawseti(L, 4, seq);
      lua_getfield(L, 5, "action");
      lua_getfield(L, 5, "argument");
      lua_remove(L, 5);
      n = (int)luaL_len(L, -1);
      if (lua_getfield(L, -1, "n") == LUA_TNUMBER) n = (int)lua_tointeger(L, -1);
      lua_pop(L, 1);
      luaL_checkstack(L, n, "too many arguments");
      {
        int i, targ = lua_gettop(L);
        for (i = 1; i <= n; i++) lua_rawgeti(L, targ, i);
        lua_remove(L, targ);
      }
      lua_call(L, n, 0);
      lua_pushvalue(L, 3); /* let other threads run, as Python's */
      lua_pushinteger(L, 0);
      lua_call(L, 1, 0);
    }
  }
}


/* s.queue: the events in the order they will run (a sequence table). */
static int sched_queue(lua_State *L, braid_sched *s) {
  braid_sched_event **a;
  size_t n, i;
  int rc, mine, st = LUA_OK;
  pushmine(L, 1);
  mine = lua_gettop(L);
  lua_newtable(L);
  rc = braid__sched_snapshot(s, &a, &n);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, NULL);
  for (i = 0; i < n; i++) {
    if (st == LUA_OK) {
      st = push_event(L, a[i], mine);
      if (st == LUA_OK) lua_rawseti(L, mine + 1, (lua_Integer)i + 1);
    }
    braid__sched_event_release(a[i]); /* all of them, even after a raise */
  }
  braid__free(a);
  if (st != LUA_OK) return lua_error(L);
  return 1;
}


static int sched_index(lua_State *L) {
  braid_sched *s = checksched(L, 1);
  const char *k;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  k = lua_tostring(L, 2);
  if (k == NULL || lua_type(L, 2) != LUA_TSTRING) return 1;
  if (strcmp(k, "queue") == 0) return sched_queue(L, s);
  if (strcmp(k, "timefunc") == 0 || strcmp(k, "delayfunc") == 0) {
    pushfuncs(L, s);
    if (k[0] == 't') lua_pop(L, 1);
    return 1;
  }
  lua_pushnil(L);
  return 1;
}


static const luaL_Reg sched_methods[] = {
  { "enterabs", sched_enterabs },
  { "enter", sched_enter },
  { "cancel", sched_cancel },
  { "empty", sched_empty },
  { "run", sched_run },
  { NULL, NULL },
};

static const luaL_Reg sched_meta[] = {
  { "__index", sched_index },
  { NULL, NULL },
};

const braidB_Class braidB_sched_classes[] = {
  { &braid__sched_type, sched_methods, sched_meta },
  { NULL, NULL, NULL },
};


void braidB_open_sched(lua_State *L) {
  lua_pushvalue(L, -1); /* braid.core, for the defaults */
  lua_pushcclosure(L, core_scheduler, 1);
  lua_setfield(L, -2, "scheduler");
}

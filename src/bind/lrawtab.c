/*
** lrawtab.c: the self-check that allows the encoder's raw walk (reading
** Lua tables through lrawtab.h's layout), once per process; and the one
** that allows reading the string table (braidB_rawstrt).
** See LICENSE for copyright and license.
**
** The layout is Lua's private business: a Lua built with other options or
** a future release may lay tables out differently. So before the first
** raw read, probe tables built through the public API are read both ways
** and must agree in every slot (order, keys, tags, payloads, string
** addresses and lengths, metatable, array size). The checks go from the
** table's header outwards: the metatable pointer (the header's last field
** that we read) and the sizes are checked before any array or node is
** read through them, so an unexpected layout fails on a plausible field
** of a real table instead of reading wild memory.
*/
#include <stdlib.h>
#include <string.h>

#include "lbind.h"
#include "lrawtab.h"

/* -1: not checked yet; 0: refused (or BRAID_RAWWALK=0); 1: passed. Two
** threads may check at once: they find the same. */
static _Atomic int rawwalk_state = -1;
/* Set by the test hook (core._rawwalk(false)). */
static _Atomic int rawwalk_off = 0;


/* Whether the value at 'idx' is the one that tag 'tag' and payload 'v'
** describe. A string's address is compared before its length is read
** through it. */
static int same_value(lua_State *L, int idx, unsigned char tag,
                      const braid_rawval *v) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return braid_rt_isempty(tag);
    case LUA_TBOOLEAN:
      return tag == (lua_toboolean(L, idx) ? BRAID_RT_TRUE : BRAID_RT_FALSE);
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        return tag == BRAID_RT_INT && v->i == lua_tointeger(L, idx);
      else {
        lua_Number d = lua_tonumber(L, idx);
        return tag == BRAID_RT_FLT && memcmp(&v->n, &d, sizeof d) == 0;
      }
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      if (tag != BRAID_RT_SHRSTR && tag != BRAID_RT_LNGSTR) return 0;
      if (v->gc == NULL ||
          (const char *)v->gc + offsetof(braid_rawstring, contents) != s)
        return 0;
      return braid_raw_strlen(v->gc, tag) == n;
    }
    case LUA_TTABLE:
      return tag == BRAID_RT_TABLE && v->gc == lua_topointer(L, idx);
    default: return 0;
  }
}


/* Whether reading the table at 'idx' slot by slot (its array part, then
** its nodes, skipping empty slots) gives what lua_next gives, in the same
** order, and nothing more. Probes are small: bigger sizes mean a wrong
** layout. */
static int same_walk(lua_State *L, int idx) {
  const braid_rawtable *t = (const braid_rawtable *)lua_topointer(L, idx);
  unsigned int asize = braid_raw_asize(t);
  size_t pos = 0, total;
  int ok = 1;
  idx = lua_absindex(L, idx);
  if (asize > 64 || t->lsizenode > 6 || (asize > 0 && t->array == NULL) ||
      t->node == NULL)
    return 0;
  total = asize + braid_raw_nsize(t);
  lua_pushnil(L);
  while (ok && lua_next(L, idx)) {
    unsigned char tag = 0;
    for (; pos < total; pos++) { /* the next slot that holds a value */
      tag = pos < asize ? t->array[pos].tag : t->node[pos - asize].tag;
      if (!braid_rt_isempty(tag)) break;
    }
    if (pos == total) {
      ok = 0;
    } else if (pos < asize) {
      ok = lua_isinteger(L, -2) &&
           lua_tointeger(L, -2) == (lua_Integer)pos + 1 &&
           same_value(L, -1, tag, &t->array[pos].v);
    } else {
      const braid_rawnode *n = &t->node[pos - asize];
      ok = same_value(L, -2, n->ktag, &n->k) && same_value(L, -1, tag, &n->v);
    }
    pos++;
    lua_pop(L, ok ? 1 : 2); /* the key stays for lua_next while ok */
  }
  for (; ok && pos < total; pos++) /* nothing after lua_next's end */
    if (!braid_rt_isempty(pos < asize ? t->array[pos].tag
                                      : t->node[pos - asize].tag))
      ok = 0;
  return ok;
}


static void set_long(lua_State *L) {
  char buf[100];
  memset(buf, 'x', sizeof buf); /* longer than any short string */
  lua_pushlstring(L, buf, sizeof buf);
}


/* Builds the probes on L's stack and compares; leaves the stack as it was
** (called protected: building them may raise a memory error). */
static int self_check(lua_State *L) {
  const braid_rawtable *t;
  int base = lua_gettop(L), ok = 0;
  luaL_checkstack(L, 10, "raw walk self-check");
  /* 1: the header, up to the metatable (nothing read through it yet) */
  lua_newtable(L); /* base + 1: a metatable */
  lua_newtable(L);
  lua_pushvalue(L, base + 1);
  lua_setmetatable(L, -2);
  t = (const braid_rawtable *)lua_topointer(L, -1);
  if (t->gctag != LUA_TTABLE || t->mt != lua_topointer(L, base + 1))
    goto done;
  lua_newtable(L);
  t = (const braid_rawtable *)lua_topointer(L, -1);
  if (t->mt != NULL || t->alimit != 0 || t->lastfree != NULL) goto done;
  lua_settop(L, base);
  /* 2: an array part of every leaf type, a table and a hole; then a
  ** border below its size (lua_rawlen sets it) */
  lua_createtable(L, 8, 0);
  t = (const braid_rawtable *)lua_topointer(L, -1);
  lua_pushinteger(L, 7);
  lua_rawseti(L, -2, 1);
  lua_pushnumber(L, 2.5);
  lua_rawseti(L, -2, 2);
  lua_pushboolean(L, 1);
  lua_rawseti(L, -2, 3);
  lua_pushboolean(L, 0);
  lua_rawseti(L, -2, 4);
  lua_pushliteral(L, "short");
  lua_rawseti(L, -2, 5);
  set_long(L);
  lua_rawseti(L, -2, 6);
  lua_newtable(L);
  lua_rawseti(L, -2, 7);
  if (t->alimit != 8 || braid_raw_asize(t) != 8 || t->array == NULL ||
      !same_walk(L, -1))
    goto done;
  if (lua_rawlen(L, -1) != 7 || t->alimit != 7 || braid_raw_asize(t) != 8 ||
      !same_walk(L, -1))
    goto done;
  lua_settop(L, base);
  /* 3: a hash part with keys of every leaf type */
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, 1);
  lua_setfield(L, -2, "a");
  lua_pushnumber(L, 2.5);
  lua_rawseti(L, -2, 100);
  lua_pushnumber(L, 2.5);
  lua_pushliteral(L, "x");
  lua_rawset(L, -3);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, 0);
  lua_rawset(L, -3);
  set_long(L);
  lua_pushinteger(L, -3);
  lua_rawset(L, -3);
  lua_newtable(L);
  lua_rawseti(L, -2, -1);
  set_long(L);
  lua_setfield(L, -2, "b");
  if (braid_raw_asize(lua_topointer(L, -1)) != 0 || !same_walk(L, -1))
    goto done;
  lua_settop(L, base);
  /* 4: both parts, an integer key in the hash part */
  lua_createtable(L, 3, 2);
  lua_pushinteger(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, 2);
  lua_rawseti(L, -2, 2);
  lua_pushinteger(L, 5);
  lua_rawseti(L, -2, 5);
  lua_pushliteral(L, "y");
  lua_setfield(L, -2, "x");
  ok = same_walk(L, -1);
done:
  lua_settop(L, base);
  return ok;
}


static int self_check_protected(lua_State *L) {
  lua_pushboolean(L, self_check(L));
  return 1;
}


/* Runs a self-check ('check', a lua_CFunction returning a boolean)
** protected, since building its probes may raise a memory error: 1 or 0
** as it found, -1 when it could not run (not now: tried again at the
** next call). */
static int run_check(lua_State *L, lua_CFunction check) {
  int s;
  if (!lua_checkstack(L, 2)) return -1;
  lua_pushcfunction(L, check);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return -1;
  }
  s = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return s;
}


int braidB_rawwalk_active(lua_State *L) {
  int s = atomic_load_explicit(&rawwalk_state, memory_order_acquire);
  if (braid__unlikely(s < 0)) {
    const char *env = getenv("BRAID_RAWWALK");
    if (env != NULL && strcmp(env, "0") == 0) {
      s = 0;
    } else if ((s = run_check(L, self_check_protected)) < 0) {
      return 0; /* out of memory building the probes: the API walk now */
    }
    atomic_store_explicit(&rawwalk_state, s, memory_order_release);
  }
  return s == 1 && !atomic_load_explicit(&rawwalk_off, memory_order_relaxed);
}


int braidB_rawwalk_hook(lua_State *L) {
  if (!lua_isnoneornil(L, 1))
    atomic_store_explicit(&rawwalk_off, !lua_toboolean(L, 1),
                          memory_order_relaxed);
  lua_pushboolean(L, braidB_rawwalk_active(L));
  return 1;
}


/*
** {======================================================
** The string table (braidB_rawstrt)
** =======================================================
*/

/* -1: not checked yet; 0: refused; 1: passed. */
static _Atomic int rawstrt_state = -1;

static const braid_rawstrt *strt_of(lua_State *L) {
  return &((const braid_rawglobal *)((const braid_rawstate *)L)->l_G)->strt;
}


/* The seed: luaS_hash of the empty string is the seed itself. */
static unsigned int seed_of(lua_State *L) {
  unsigned int h;
  lua_pushliteral(L, "");
  h = ((const braid_rawstring *)lua_topointer(L, -1))->hash;
  lua_pop(L, 1);
  return h;
}


/* Whether the string at 'idx' is a short string whose hash is ours and
** which lies in the bucket that hash names. */
static int interned_where_expected(lua_State *L, int idx, unsigned int seed) {
  const braid_rawstrt *tb = strt_of(L);
  const braid_rawstring *ts = (const braid_rawstring *)lua_topointer(L, idx);
  const braid_rawstring *c;
  size_t n, steps = 0;
  const char *s = lua_tolstring(L, idx, &n);
  if (ts == NULL || ts->contents != s || ts->gctag != LUA_TSTRING ||
      ts->shrlen != n || ts->hash != braid_raw_strhash(s, n, seed))
    return 0;
  for (c = tb->hash[ts->hash & (unsigned int)(tb->size - 1)];
       c != NULL && steps < 100000; c = (const braid_rawstring *)c->u.hnext)
    if (c == ts) return 1;
  return 0;
}


/* Reads L's head and its global state's head (each field checked against
** what the API tells before the next one is trusted), then the probes. */
static int strt_check(lua_State *L) {
  static const char *const probes[] = {
    "", "a", "id", "item12345", "0123456789012345678901234567890123456789",
  };
  const braid_rawstate *st = (const braid_rawstate *)L;
  const braid_rawglobal *g = (const braid_rawglobal *)st->l_G;
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  unsigned int seed;
  size_t i;
  int base = lua_gettop(L), ok = 1;
  if (st->gctag != LUA_TTHREAD || g == NULL || g->ud != ud ||
      memcmp(&g->frealloc, &f, sizeof f) != 0)
    return 0;
  if (g->strt.size <= 0 || (g->strt.size & (g->strt.size - 1)) != 0 ||
      g->strt.nuse <= 0 || g->strt.hash == NULL)
    return 0;
  luaL_checkstack(L, 2, "string table self-check");
  seed = seed_of(L);
  for (i = 0; ok && i < sizeof probes / sizeof probes[0]; i++) {
    lua_pushstring(L, probes[i]);
    ok = interned_where_expected(L, -1, seed);
    lua_pop(L, 1);
  }
  lua_settop(L, base);
  return ok;
}


static int strt_check_protected(lua_State *L) {
  lua_pushboolean(L, strt_check(L));
  return 1;
}


const braid_rawstrt *braidB_rawstrt(lua_State *L, unsigned int *seed) {
  int s = atomic_load_explicit(&rawstrt_state, memory_order_acquire);
  if (!braidB_rawwalk_active(L) || !lua_checkstack(L, 2)) return NULL;
  if (braid__unlikely(s < 0)) {
    if ((s = run_check(L, strt_check_protected)) < 0) return NULL;
    atomic_store_explicit(&rawstrt_state, s, memory_order_release);
  }
  if (s != 1) return NULL;
  *seed = seed_of(L);
  return strt_of(L);
}
/* } ====================================================== */

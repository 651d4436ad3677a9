/*
** ldcallv.c: the decoder's side of T_CALLV (wire.h): a value of a map
** call that several chunks share, written once in the batch's first
** group (lencgroup.c). Each chunk that names it gets a fresh table built
** from those bytes (a task's changes to it are seen by the later tasks of
** its chunk only, as Python's one unpickling per task batch), so the
** bytes are never trusted: only a flat table (scalars and strings) that
** lies wholly inside the message's declared call range is accepted.
** See LICENSE for copyright and license.
*/
#include <math.h>
#include <string.h>

#include "lbind.h"
#include "lcodec.h"

typedef struct Flat {
  const unsigned char *p, *end;
} Flat;

static int flat_varint(Flat *f, uint64_t *v) {
  int shift;
  *v = 0;
  for (shift = 0; shift <= 63; shift += 7) {
    if (f->p >= f->end) return 0;
    *v |= (uint64_t)(*f->p & 0x7f) << shift;
    if (!(*f->p++ & 0x80)) return 1;
  }
  return 0;
}


/* Pushes one scalar or string; returns its type, or -1 (nothing pushed)
** for anything else or truncated bytes. */
static int flat_leaf(lua_State *L, Flat *f) {
  uint64_t u;
  if (f->p >= f->end) return -1;
  switch (*f->p++) {
    case T_NIL: lua_pushnil(L); return LUA_TNIL;
    case T_FALSE: lua_pushboolean(L, 0); return LUA_TBOOLEAN;
    case T_TRUE: lua_pushboolean(L, 1); return LUA_TBOOLEAN;
    case T_INT:
      if (!flat_varint(f, &u)) return -1;
      lua_pushinteger(L, braid__wire_unzigzag(u));
      return LUA_TNUMBER;
    case T_FLOAT: {
      lua_Number v;
      if (f->end - f->p < (ptrdiff_t)sizeof v) return -1;
      memcpy(&v, f->p, sizeof v);
      f->p += sizeof v;
      lua_pushnumber(L, v);
      return LUA_TNUMBER;
    }
    case T_STR: case T_STRS:
      if (!flat_varint(f, &u) || u > (uint64_t)(f->end - f->p)) return -1;
      lua_pushlstring(L, (const char *)f->p, (size_t)u);
      f->p += u;
      return LUA_TSTRING;
    default: return -1;
  }
}


/* Pushes the flat table at the start of the 'n' bytes at 'p' and returns
** 1, or returns 0 (nothing pushed) when they do not hold one. */
static int push_flat(lua_State *L, const unsigned char *p, size_t n) {
  Flat f;
  uint64_t narr, i;
  uint32_t nhash, k;
  int top = lua_gettop(L), t;
  f.p = p;
  f.end = p + n;
  if (n < 2 || p[0] != T_TABLE || (p[1] & (F_OPEN | F_META))) return 0;
  f.p += 2;
  if (!flat_varint(&f, &narr) || f.end - f.p < 4) return 0;
  memcpy(&nhash, f.p, 4);
  f.p += 4;
  /* every value takes a byte at least: bounds the sizes asked for */
  if (narr > (uint64_t)(f.end - f.p) || nhash > (uint64_t)(f.end - f.p) / 2)
    return 0;
  luaL_checkstack(L, 4, "call value");
  lua_createtable(L, narr > 0x7fffffff ? 0x7fffffff : (int)narr,
                  nhash > 0x7fffffff ? 0x7fffffff : (int)nhash);
  for (i = 1; i <= narr; i++) {
    if ((t = flat_leaf(L, &f)) < 0) goto bad;
    if (t == LUA_TNIL) lua_pop(L, 1);
    else lua_rawseti(L, top + 1, (lua_Integer)i);
  }
  for (k = 0; k < nhash; k++) {
    if ((t = flat_leaf(L, &f)) < 0) goto bad;
    if (t == LUA_TNIL ||
        (t == LUA_TNUMBER && !lua_isinteger(L, -1) && isnan(lua_tonumber(L, -1))))
      goto bad; /* not a key */
    if ((t = flat_leaf(L, &f)) < 0) goto bad;
    lua_rawset(L, top + 1);
  }
  return 1;
bad:
  lua_settop(L, top);
  return 0;
}


int braidB_push_callv(lua_State *L, const braid_msg *m, size_t origin,
                      size_t item_off, uint64_t to) {
  const braid_msg *src;
  uint64_t lo, hi;
  size_t off, lim;
  if (m == NULL) return 0;
  if (m->callsrc != NULL) { /* a chunk in a process pool's child */
    src = m->callsrc;
    lo = src->origin;
    hi = lo + src->len;
  } else { /* the whole batch: an earlier item of it */
    src = m;
    lo = m->call_lo;
    hi = m->call_hi;
    if (hi == 0 || to >= (uint64_t)origin + item_off) return 0;
  }
  if (to < lo || to >= hi || to < src->origin) return 0;
  off = (size_t)(to - src->origin);
  lim = (size_t)(hi - src->origin);
  if (lim > src->len) lim = src->len;
  if (off >= lim) return 0;
  return push_flat(L, src->data + off, lim - off);
}

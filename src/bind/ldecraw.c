/*
** ldecraw.c: the decoder's fast paths that need no decoder state: the
** leaves of a fresh table's array part written straight into its slots
** (through lrawtab.h's layout, after its self-check), and scalar items
** pushed without a decoder. See ldecraw.h for the contracts.
** See LICENSE for copyright and license.
**
** Why the raw fill: an array of numbers (a record's {i, 2*i, 3*i}, a
** 1,000-float vector) costs a lua_pushinteger and a lua_rawseti per
** element through the API (the index checked against the array's limit,
** the value copied from the stack and popped): about a tenth of decoding
** the 100,000-record table. Writing the slot is a store of 8 bytes and a
** tag.
**
** Why it is safe: the table is the one open_dtable made with
** lua_createtable(L, n, ...) (its array part is exactly n slots, all
** empty, limit n) and nothing reached it since: the check below looks at
** its size and limit each time a run begins (a constructor or a __gc
** finalizer run by the API path between two runs could have resized it;
** then the API writes the rest). Only numbers and booleans are written:
** a collectable value stored into a table needs the collector's write
** barrier (luaC_barrierback), which is Lua's private code; a number or a
** boolean never does, whatever the table's colour or age (incremental or
** generational). A nil is an empty slot, which a fresh array holds
** already. Lua's own luaH_getint would also move the limit of a table
** whose limit is a border below its size; a fresh table's limit is its
** size, so no limit is moved here.
*/
#include <string.h>

#include "ldecraw.h"
#include "lrawtab.h"
#include "wire.h"

/* Slots written raw by this thread since the hook last read it (the
** specs' proof that the path runs: core._rawfill()). Thread-local: a
** plain add per run. */
static _Thread_local lua_Integer rawfilled;


const unsigned char *braidB_dec_rawfill(lua_State *L, int t,
                                        const unsigned char *p,
                                        const unsigned char *end,
                                        uint64_t *i, uint64_t n) {
  braid_rawtable *h;
  braid_rawtv *a;
  uint64_t k = *i;
  if (n > 0xffffffffu || k == 0 || k > n || !braidB_rawwalk_active(L))
    return p;
  h = (braid_rawtable *)lua_topointer(L, t);
  if (h == NULL || h->alimit != (unsigned int)n ||
      braid_raw_asize(h) != (unsigned int)n || h->array == NULL)
    return p;
  a = h->array;
  for (; k <= n && p < end; k++) {
    braid_rawtv *s = &a[k - 1];
    switch (*p) {
      case T_INT: {
        const unsigned char *q = p + 1;
        uint64_t u = 0;
        int shift = 0;
        for (;;) { /* at most 9 bytes (63 bits); longer: the API path */
          if (q >= end || shift > 56) goto out;
          u |= (uint64_t)(*q & 0x7f) << shift;
          if (!(*q++ & 0x80)) break;
          shift += 7;
        }
        s->v.i = (lua_Integer)braid__wire_unzigzag(u);
        s->tag = BRAID_RT_INT;
        p = q;
        break;
      }
      case T_FLOAT:
        if ((size_t)(end - p) < 1 + sizeof(lua_Number)) goto out;
        memcpy(&s->v.n, p + 1, sizeof(lua_Number));
        s->tag = BRAID_RT_FLT;
        p += 1 + sizeof(lua_Number);
        break;
      case T_TRUE: s->tag = BRAID_RT_TRUE; p++; break;
      case T_FALSE: s->tag = BRAID_RT_FALSE; p++; break;
      case T_NIL: p++; break; /* the slot is empty already */
      default: goto out;
    }
  }
out:
  rawfilled += (lua_Integer)(k - *i);
  *i = k;
  return p;
}


int braidB_rawfill_hook(lua_State *L) {
  lua_pushinteger(L, rawfilled);
  rawfilled = 0;
  return 1;
}


int braidB_push_scalar(lua_State *L, const unsigned char *p,
                       const unsigned char *end) {
  if (p >= end) return 0;
  switch (*p) {
    case T_NIL: lua_pushnil(L); return p + 1 == end;
    case T_FALSE: lua_pushboolean(L, 0); return p + 1 == end;
    case T_TRUE: lua_pushboolean(L, 1); return p + 1 == end;
    case T_INT: {
      lua_Integer v;
      if (!braidB_int_bytes(p, end, &v)) return 0;
      lua_pushinteger(L, v);
      return 1;
    }
    case T_FLOAT: {
      lua_Number d;
      if (end - p != 1 + (ptrdiff_t)sizeof d) return 0;
      memcpy(&d, p + 1, sizeof d);
      lua_pushnumber(L, d);
      return 1;
    }
    default: return 0;
  }
}


int braidB_int_bytes(const unsigned char *p, const unsigned char *end,
                     lua_Integer *v) {
  uint64_t u = 0;
  int shift = 0;
  if (p >= end || end - p > 11 || *p != T_INT) return 0;
  for (p++; p < end && shift <= 63; shift += 7) {
    unsigned char b = *p++;
    u |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (p != end) return 0;
      *v = (lua_Integer)braid__wire_unzigzag(u);
      return 1;
    }
  }
  return 0;
}

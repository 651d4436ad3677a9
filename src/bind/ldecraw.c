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
#include <stdatomic.h>
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


/*
** {======================================================
** Prefetching the string table (see ldecraw.h)
** =======================================================
*/

/* Set by the test hooks (core._strahead(true), the fuzz target): every
** decode prefetches, whatever its size and the table's. */
static _Atomic int strahead_forced;
/* Strings the prefetcher found on this thread (core._strahead()). */
static _Thread_local lua_Integer strahead_found;


void braidB_strahead_init(lua_State *L, braid_strahead *a, int big) {
  int forced = atomic_load_explicit(&strahead_forced, memory_order_relaxed);
  const braid_rawstrt *tb;
  a->strt = a->later = NULL;
  a->until = 0;
  a->blocked = 0;
  a->scan = 0;
  a->head = a->count = 0;
  if (!big && !forced) return;
  tb = braidB_rawstrt(L, &a->seed);
  if (tb == NULL) return;
  /* only while the table holds many strings: its bucket array and chains
  ** are then past the caches. Into a state with few strings the scan
  ** costs more than it saves (a tenth of the decode) until the decode's
  ** own new strings have grown the table that far: then it is turned on
  ** (bench/README.md, "Strings prefetched once the table is big") */
  if (forced || braidB_strahead_full(tb)) {
    a->strt = tb;
  } else {
    a->later = tb;
    a->until = BRAID_AHEAD_RECHECK;
  }
}


int braidB_strahead_full(const void *strt) {
  return ((const braid_rawstrt *)strt)->nuse >= BRAID_AHEAD_MINSTR;
}


void braidB_strahead_force(int on) {
  atomic_store_explicit(&strahead_forced, on, memory_order_relaxed);
}


int braidB_strahead_hook(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) braidB_strahead_force(lua_toboolean(L, 1));
  lua_pushinteger(L, strahead_found);
  strahead_found = 0;
  return 1;
}


/* Reads the token at r->p and moves r->p past it: 1; or 0, r->p where it
** was, when it is not wholly before r->end (more may come), with *stop
** set when the scanner cannot step over it at all (a tag it does not know,
** a function's dump). The tags that begin a structure (a table, a reduce,
** a class or a value by name) are read as their header only: what they
** hold are more tokens. A short string's bytes and length are returned
** in *s and *n (*s NULL for any other token). */
static int scan_token(braid_wire_rd *r, int *stop, const unsigned char **s,
                      size_t *n) {
  braid_wire_rd t = *r;
  unsigned tag, flags;
  uint64_t v;
  uint32_t u;
  *s = NULL;
  if (braid__wire_get_byte(&t, &tag)) return 0;
  switch (tag) {
    case T_NIL: case T_FALSE: case T_TRUE: case T_GLOBALS: case T_END:
    case T_CLASS: case T_BYNAME:
      break;
    case T_INT: case T_REF: case T_HANDLE:
      if (braid__wire_get_varint(&t, &v)) return 0;
      break;
    case T_FLOAT:
      if (t.end - t.p < 8) return 0;
      t.p += 8;
      break;
    case T_STR: case T_STRS:
      if (braid__wire_get_varint(&t, &v) || (uint64_t)(t.end - t.p) < v)
        return 0;
      if (v <= BRAID_RAW_MAXSHORTLEN) {
        *s = t.p;
        *n = (size_t)v;
      }
      t.p += v;
      break;
    case T_SEG: /* segment, length */
      if (braid__wire_get_varint(&t, &v) || braid__wire_get_varint(&t, &v))
        return 0;
      break;
    case T_TABLE: /* flags, narr, u32 nhash */
      if (braid__wire_get_byte(&t, &flags) ||
          braid__wire_get_varint(&t, &v) || braid__wire_get_u32(&t, &u))
        return 0;
      break;
    case T_REDUCE: case T_CALLV: /* flags, a varint */
      if (braid__wire_get_byte(&t, &flags) || braid__wire_get_varint(&t, &v))
        return 0;
      break;
    default: *stop = 1; return 0;
  }
  *r = t;
  return 1;
}


/* Prefetches a string of the table's chains: its header, and its bytes
** where they go on into the next line (they are 'len' long if it is the
** string looked for). */
static void fetch_string(const braid_rawstring *ts, unsigned len) {
  if (ts != NULL) {
    __builtin_prefetch(ts);
    __builtin_prefetch(ts->contents + len);
  }
}


void braidB_strahead_step(braid_strahead *a, const unsigned char *base,
                          const unsigned char *p, const unsigned char *end) {
  const braid_rawstrt *tb = (const braid_rawstrt *)a->strt;
  size_t at = (size_t)(p - base), lim = (size_t)(end - base);
  unsigned int mask = (unsigned int)tb->size - 1, k;
  int budget = 4 * BRAID_AHEAD_N;
  braid_wire_rd r;
  while (a->count > 0 && a->q[a->head].off < at) { /* decoded already */
    a->head = (a->head + 1) % BRAID_AHEAD_N;
    a->count--;
  }
  if (a->scan < at || a->scan > lim) { /* passed, or other bytes: restart */
    a->scan = at;
    a->blocked = 0;
    a->count = 0;
  }
  if (a->count > BRAID_AHEAD_NODE) { /* its bucket is in cache by now */
    k = (a->head + BRAID_AHEAD_NODE) % BRAID_AHEAD_N;
    fetch_string(tb->hash[a->q[k].h & mask], a->q[k].len);
  }
  if (a->count > BRAID_AHEAD_NEXT) { /* the first in cache: the second */
    const braid_rawstring *first;
    k = (a->head + BRAID_AHEAD_NEXT) % BRAID_AHEAD_N;
    if ((first = tb->hash[a->q[k].h & mask]) != NULL)
      fetch_string((const braid_rawstring *)first->u.hnext, a->q[k].len);
  }
  r.p = base + a->scan;
  r.end = end;
  while (!a->blocked && a->count < BRAID_AHEAD_N && budget-- > 0) {
    const unsigned char *s;
    size_t n = 0;
    if (!scan_token(&r, &a->blocked, &s, &n)) break; /* later, or never */
    if (s != NULL) {
      unsigned int h = braid_raw_strhash((const char *)s, n, a->seed);
      k = (a->head + a->count) % BRAID_AHEAD_N;
      a->q[k].off = a->scan;
      a->q[k].h = h;
      a->q[k].len = (unsigned char)n;
      a->count++;
      strahead_found++;
      __builtin_prefetch(&tb->hash[h & mask]);
    }
    a->scan = (size_t)(r.p - base);
  }
}
/* } ====================================================== */

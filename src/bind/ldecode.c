/*
** ldecode.c: the Lua value walker, decoding side: a message of the
** transfer format (wire.h) into Lua values of the receiving state, also
** while the message is still being written (a stream, stream.h).
** See LICENSE for copyright and license.
**
** The decoder trusts nothing: every read is bounds-checked, tags and
** counts are validated, nesting is bounded by memory only, and bytecode
** is checked (ldump.c) and loaded in binary-only mode. Errors raise a
** ValueError naming the offset. Objects that the encoder marked SHARED
** are remembered by offset and a later T_REF pushes them again, so cycles
** and shared sub-tables survive; upvalues shared by two closures are
** rejoined with lua_upvaluejoin. Big messages are decoded with the
** collector stopped (see braid__decode).
*/
#include <errno.h>
#include <string.h>

#include "lauxlib.h"
#include "lbind.h"
#include "lcodec.h"
#include "ldecraw.h"
#include "lpstream.h"
#include "lspill.h"
#include "stream.h"


/*
** {======================================================
** Decoder
** =======================================================
*/

#define NREFSLOTS 16
#define refslot(at) ((unsigned)((at) ^ ((at) >> 4) ^ ((at) >> 8)) % NREFSLOTS)

/* The decoder, like the encoder, walks without recursing in C: each
** table, Lua function and reduced object being built is a DFrame, and the
** objects themselves (with a pending key) stay in Lua stack slots, two or
** three per level (lua_checkstack'd per frame; past 2 * BRAID_SPILL_W
** levels the bottom ones move to a spill table, cache[-2], and back: see
** dec_spill, so depth is bounded by memory only). The first DEC_LOCAL
** frames are in the Dec (on the C stack); a deeper value moves them to a
** block owned by a userdata (DecFrames, whose __gc frees it) kept in the
** cache table, so a raise leaks nothing. */
#define DEC_LOCAL 16

/* How many tables dec_open fills inline, one inside the other (their C
** frames: the only recursion, bounded). */
#define DEC_INLINE 2

enum { DF_TABLE, DF_FUNC, DF_REDUCE };

/* What the value on top of the stack is for, when a frame resumes. */
enum { DS_NONE, DS_ELEM, DS_KEY, DS_VAL, DS_META, DS_UPV, DS_CTOR, DS_ARG };

typedef struct DFrame {
  unsigned char kind, st, flags, phase; /* table: array, pairs */
  int t;      /* stack index of the table or function; reduce: of the
                 constructor (the frame's lowest slot, see dec_spill) */
  uint64_t i; /* table: next array index, pairs read; function: upvalue;
                 reduce: arguments read */
  uint64_t n; /* table: narr; function: upvalues; reduce: arguments */
  uint64_t nhash;
  size_t at;  /* reduce: offset, remembered if shared */
} DFrame;

typedef struct DecFrames {
  DFrame *p;
  size_t cap;
} DecFrames;

static const char DFRAMES_KEY = 'd';

typedef struct Dec {
  lua_State *L;
  const unsigned char *base, *p, *end;
  braid_handle *const *handles;
  size_t nhandles;
  const int *segs; /* the message's segment descriptors (T_SEG) */
  size_t nsegs;
  const void *const *segmaps; /* or their mappings (braid__msg_map_segs) */
  const size_t *seglens;
  braid_stream *stream; /* being written: 'end' may move on (dec_more) */
  DFrame *frames; /* 'local' or a DecFrames block */
  size_t nframes, capframes;
  size_t spill_hi;     /* frames below (from BRAID_SPILL_KEEP) are spilled */
  lua_Integer spilled; /* entries in the spill table */
  int inl; /* table steps run inline by dec_open (at most DEC_INLINE) */
  int cache; /* stack index of the table of shared objects, 0 if none */
  size_t origin; /* offset of 'base' in the message it was cut from */
  int gcstopped; /* this decode stopped the collector (big messages) */
  int nocode; /* BRAID_DEC_NOCODE: refuse what would run or load code */
  /* An item of a batch whose items share references
  ** (braid__encode_batch_shared): its message, and where the item starts
  ** in 'base'; a reference before that start names an object of an
  ** earlier item (recall_earlier). 'msg' is NULL otherwise. */
  const braid_msg *msg;
  size_t item_off;
  int nest; /* recall_earlier decodes nested in this one */
  /* The first shared objects (the keys repeated in every record) are
  ** also kept in stack slots, direct-mapped by offset: recalling one is a
  ** lua_pushvalue instead of a lookup in the cache table. */
  int slots;                  /* index of the first of them, 0 if none */
  size_t slot_at[NREFSLOTS];  /* offset kept in each (0: none) */
  braid_strahead ahead; /* big decodes: prefetching strings (ldecraw.h) */
  DFrame local[DEC_LOCAL];
} Dec;


static void dec_init_frames(Dec *d) {
  d->nocode = 0;
  d->segs = NULL;
  d->nsegs = 0;
  d->segmaps = NULL;
  d->seglens = NULL;
  d->msg = NULL;
  d->item_off = 0;
  d->nest = 0;
  d->inl = 0;
  d->frames = d->local;
  d->nframes = 0;
  d->spill_hi = BRAID_SPILL_KEEP;
  d->spilled = 0;
  d->capframes = DEC_LOCAL;
  d->ahead.strt = d->ahead.later = NULL;
}


static __attribute__((noreturn)) void dec_fail(Dec *d, const char *what) {
  braidB_raise(d->L, "ValueError", "corrupt transfer data at byte %d: %s",
               (int)(d->p - d->base), what);
  __builtin_unreachable();
}


/* { ------ streams: the bytes after 'end' may still be coming */

/* Raised (as a light userdata) to the protected call of
** braid__decode_stream_owned. */
static const char STREAM_RESTART = 'r'; /* decode 'final' from its start */
static const char STREAM_FAILED = 'f';  /* the writer gave up */

static __attribute__((noreturn)) void dec_throw(Dec *d, const char *what) {
  lua_pushlightuserdata(d->L, (void *)what);
  lua_error(d->L);
  __builtin_unreachable();
}


/* Takes the stream's view: the same bytes, maybe moved, and more. */
static void dec_view(Dec *d, const braid_stream_view *v) {
  if (v->state == BRAID_STREAM_FAILED) dec_throw(d, &STREAM_FAILED);
  if (v->state == BRAID_STREAM_DONE && v->restart)
    dec_throw(d, &STREAM_RESTART);
  d->p = v->base + (d->p - d->base);
  d->base = v->base;
  d->end = v->base + v->len;
  d->handles = v->handles;
  d->nhandles = v->nhandles;
}


/* 1 when 'n' more bytes can be read after waiting for the writer of a
** stream; 0 when they never will (truncated data). */
static int dec_more(Dec *d, size_t n) {
  braid_stream_view v;
  if (d->stream == NULL) return 0;
  braid__stream_wait(d->stream, (size_t)(d->p - d->base) + n, &v);
  dec_view(d, &v);
  return (size_t)(d->end - d->p) >= n;
}

#define has(d, n) ((size_t)((d)->end - (d)->p) >= (size_t)(n) || dec_more(d, n))


/* Waits until the stream's writer has finished (before running code that
** must not run twice, or deciding that data is bad). */
static void dec_wait_done(Dec *d) {
  braid_stream_view v;
  if (d->stream == NULL) return;
  braid__stream_wait(d->stream, SIZE_MAX, &v);
  dec_view(d, &v);
}
/* } ------ */


static unsigned char get_byte(Dec *d) {
  if (!has(d, 1)) dec_fail(d, "truncated");
  return *d->p++;
}


static uint64_t get_varint_slow(Dec *d) {
  uint64_t v = 0;
  int shift = 0;
  const unsigned char *p = d->p;
  if (d->end - p >= 4) { /* 2 or 3 bytes (integers up to 2^21): unrolled */
    if (p[1] < 0x80) {
      d->p = p + 2;
      return (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
    }
    if (p[2] < 0x80) {
      d->p = p + 3;
      return (uint64_t)(p[0] & 0x7f) | (uint64_t)(p[1] & 0x7f) << 7 |
             (uint64_t)p[2] << 14;
    }
  }
  for (;;) {
    unsigned char b = get_byte(d);
    if (shift == 63 && b > 1) dec_fail(d, "varint overflow");
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
    shift += 7;
    if (shift > 63) dec_fail(d, "varint overflow");
  }
}


/* Most varints are one byte: that case inline. */
static inline uint64_t get_varint(Dec *d) {
  if (braid__likely(d->p < d->end && *d->p < 0x80)) return *d->p++;
  return get_varint_slow(d);
}


static uint32_t get_u32(Dec *d) {
  uint32_t v;
  if (!has(d, 4)) dec_fail(d, "truncated");
  memcpy(&v, d->p, 4);
  d->p += 4;
  return v;
}


static const char *get_lstring(Dec *d, size_t *n) {
  const char *s;
  uint64_t len;
  if (get_byte(d) != T_STR) dec_fail(d, "string expected");
  len = get_varint(d);
  if (len > SIZE_MAX / 2 || !has(d, len)) dec_fail(d, "truncated string");
  s = (const char *)d->p;
  d->p += len;
  *n = (size_t)len;
  return s;
}


static __attribute__((noreturn)) void dec_deep_nomem(Dec *d) {
  /* the slots above the cache are the decode's: freed first, as raising
  ** calls the error class, which needs stack */
  lua_settop(d->L, d->cache);
  braidB_raise(d->L, "MemoryError",
               "not enough memory to decode a value nested %I levels deep",
               (lua_Integer)d->nframes + 1);
  __builtin_unreachable();
}


static int dframes_gc(lua_State *L) {
  DecFrames *b = (DecFrames *)lua_touserdata(L, 1);
  braid__free(b->p);
  b->p = NULL;
  return 0;
}


/* Moves the frames to a block twice as big, owned by a DecFrames kept in
** the cache table (key -1: offsets are never negative). */
static void dec_grow_frames(Dec *d) {
  lua_State *L = d->L;
  size_t ncap = 2 * d->capframes;
  DecFrames *b;
  DFrame *nf;
  if (ncap > SIZE_MAX / sizeof(DFrame) || !lua_checkstack(L, 4))
    dec_deep_nomem(d);
  if (lua_type(L, d->cache) != LUA_TTABLE) {
    lua_createtable(L, 0, 4);
    lua_replace(L, d->cache);
  }
  if (d->frames == d->local) { /* the first block: its owner */
    b = (DecFrames *)lua_newuserdatauv(L, sizeof(DecFrames), 0);
    b->p = NULL;
    b->cap = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &DFRAMES_KEY) == LUA_TNIL) {
      lua_pop(L, 1);
      lua_createtable(L, 0, 1);
      lua_pushcfunction(L, dframes_gc);
      lua_setfield(L, -2, "__gc");
      lua_pushvalue(L, -1);
      lua_rawsetp(L, LUA_REGISTRYINDEX, &DFRAMES_KEY);
    }
    lua_setmetatable(L, -2);
    lua_rawseti(L, d->cache, -1);
  }
  lua_rawgeti(L, d->cache, -1);
  b = (DecFrames *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  nf = (DFrame *)braid__realloc(b->p, ncap * sizeof(DFrame));
  if (nf == NULL) dec_deep_nomem(d); /* 'b' still owns the old block */
  if (d->frames == d->local)
    memcpy(nf, d->local, d->nframes * sizeof(DFrame));
  b->p = d->frames = nf;
  b->cap = d->capframes = ncap;
}


/* Enters a new frame (depth is bounded by memory only: see dec_spill). */
static DFrame *dec_push(Dec *d, int kind) {
  DFrame *f;
  if (braid__unlikely(d->nframes == d->capframes)) dec_grow_frames(d);
  if (!lua_checkstack(d->L, BRAID_FRAME_SLOTS)) dec_deep_nomem(d);
  f = &d->frames[d->nframes++];
  f->kind = (unsigned char)kind;
  f->st = DS_NONE;
  f->phase = 0;
  f->i = 0;
  return f;
}


/* Remembers the object on top under offset 'at' (it is referenced again). */
static void remember(Dec *d, size_t at) {
  lua_State *L = d->L;
  if (d->slots != 0 && at != 0) {
    unsigned h = refslot(at);
    if (d->slot_at[h] == 0) {
      d->slot_at[h] = at;
      lua_copy(L, -1, d->slots + (int)h);
      return;
    }
  }
  if (lua_type(L, d->cache) != LUA_TTABLE) {
    lua_createtable(L, 0, 4);
    lua_replace(L, d->cache);
  }
  lua_pushvalue(L, -1);
  lua_rawseti(L, d->cache, (lua_Integer)at);
}


static int recall_cached(Dec *d, uint64_t at);

/* Pushes the object remembered at offset 'at'; returns its type. */
static inline int recall(Dec *d, uint64_t at) {
  if (d->slots != 0 && at != 0 && at == d->slot_at[refslot(at)]) {
    lua_pushvalue(d->L, d->slots + (int)refslot(at));
    return lua_type(d->L, -1);
  }
  return recall_cached(d, at);
}


/* A string written at 'at' (before the current position) that the
** decoder did not keep (its T_STR tag was published before the encoder
** met it again, see put_str): read once more. */
static int recall_string(Dec *d, uint64_t at) {
  const unsigned char *q, *lim = d->p;
  uint64_t len = 0;
  int shift = 0;
  if (at < d->origin || at - d->origin >= (uint64_t)(d->p - d->base))
    return 0;
  q = d->base + (at - d->origin);
  if (*q != T_STR && *q != T_STRS) return 0;
  for (q++;; shift += 7) {
    if (q >= lim || shift > 63) return 0;
    len |= (uint64_t)(*q & 0x7f) << shift;
    if (!(*q++ & 0x80)) break;
  }
  if (len > (uint64_t)(lim - q)) return 0;
  lua_pushlstring(d->L, (const char *)q, (size_t)len);
  remember(d, (size_t)at);
  return 1;
}


static int decode_value(Dec *d);
static void decode_item(Dec *d, const braid_msg *m, uint32_t idx);

/* Nested decodes of objects of earlier items (each a Dec on the C stack)
** go at most this deep; the last level decodes the items before in order
** instead, which resolves every reference from its own cache and never
** nests again. */
#define EARLIER_NEST 4

/* The object at offset 'at' lies in an earlier item of the batch being
** read (items of a shared group, braid__encode_batch_shared) that this
** decode did not read: a get() of one item of a put_many batch, a chunk
** whose reader starts past the first item. Decodes it from the bytes
** (still there: the message lives while any of its items does) into a
** cache of its own, then moves what that cache holds into d's, so the
** objects inside it keep their identity for the rest of this decode
** too. Pushes it and returns its type, or returns 0 (nothing pushed)
** when 'at' is not such an object. */
static __attribute__((noinline)) int recall_earlier(Dec *d, uint64_t at) {
  lua_State *L = d->L;
  const braid_msg *m = d->msg;
  size_t rel;
  unsigned char tag;
  int sc, t;
  Dec sub;
  if (m == NULL || d->nest > EARLIER_NEST || at < d->origin) return 0;
  rel = (size_t)(at - d->origin);
  if (rel + 1 >= d->item_off) return 0;
  tag = d->base[rel];
  if ((tag != T_TABLE && tag != T_LFUNC && tag != T_REDUCE) ||
      !(d->base[rel + 1] & F_SHARED))
    return 0;
  if (!lua_checkstack(L, BRAID_FRAME_SLOTS)) dec_deep_nomem(d);
  memset(&sub, 0, sizeof sub);
  dec_init_frames(&sub);
  sub.L = L;
  sub.base = d->base;
  sub.origin = d->origin;
  sub.handles = d->handles;
  sub.nhandles = d->nhandles;
  sub.nocode = d->nocode;
  sub.segs = d->segs;
  sub.nsegs = d->nsegs;
  sub.segmaps = d->segmaps;
  sub.seglens = d->seglens;
  sub.msg = m;
  sub.nest = d->nest + 1;
  lua_createtable(L, 0, 4);
  sc = sub.cache = lua_gettop(L);
  if (sub.nest <= EARLIER_NEST) { /* the object alone */
    sub.p = d->base + rel;
    sub.end = d->base + d->item_off;
    sub.item_off = rel; /* what it names lies before it */
    decode_value(&sub);
    lua_pop(L, 1);
  } else { /* the items up to the one holding it, in order */
    uint32_t i;
    for (i = 0; i < m->nitems; i++) {
      size_t off, end;
      braid__item_bounds(m, i, &off, &end);
      if (off > rel) break;
      decode_item(&sub, m, i);
      lua_pop(L, 1);
    }
  }
  if (lua_type(L, d->cache) != LUA_TTABLE) {
    lua_createtable(L, 0, 4);
    lua_replace(L, d->cache);
  }
  lua_pushnil(L);
  while (lua_next(L, sc) != 0) { /* offsets are keys >= 0 */
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 0) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, d->cache);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1); /* sub's cache */
  t = lua_rawgeti(L, d->cache, (lua_Integer)at);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  return t;
}


static int recall_cached(Dec *d, uint64_t at) {
  lua_State *L = d->L;
  int t;
  if (at <= (uint64_t)LUA_MAXINTEGER && lua_type(L, d->cache) == LUA_TTABLE) {
    if ((t = lua_rawgeti(L, d->cache, (lua_Integer)at)) != LUA_TNIL) return t;
    lua_pop(L, 1);
  }
  if (recall_string(d, at)) return LUA_TSTRING;
  if ((t = recall_earlier(d, at)) != 0) return t;
  /* a SHARED flag published late: the final message tells (restart) */
  dec_wait_done(d);
  dec_fail(d, "reference to an unknown object");
  return LUA_TNIL;
}


static int dec_open(Dec *d);

/* The top frame. A dec_open that returns a value (>= 0) may have grown
** and moved the frames (a table it completed inline): steps take their
** frame again after it. */
#define dec_top(d) (&(d)->frames[(d)->nframes - 1])


/* A key read: nil and NaN cannot be keys. */
static inline void check_key(Dec *d, int kt) {
  if (kt != LUA_TSTRING) {
    if (kt == LUA_TNIL) dec_fail(d, "nil table key");
    if (kt == LUA_TNUMBER) {
      lua_Number k = lua_tonumber(d->L, -1);
      if (k != k) dec_fail(d, "NaN table key");
    }
  }
}


/* 1 at the T_END of a section of an F_OPEN table (stepped over). */
static inline int at_end(Dec *d) {
  if (!has(d, 1)) dec_fail(d, "truncated table");
  if (*d->p != T_END) return 0;
  d->p++;
  return 1;
}


/* Most a stream's size hint may ask for (its bytes are this process's
** own encoder's, but a hint is no promise). */
#define STREAM_MAX_HINT (1u << 24)

/* T_TABLE (tag read): pushes the table and opens its frame; or returns 1
** with no frame when it was filled whole here (an array of numbers and
** booleans, written raw: ldecraw.c). */
static int open_dtable(Dec *d, size_t at) {
  lua_State *L = d->L;
  unsigned char flags = get_byte(d);
  uint64_t narr = get_varint(d);
  uint32_t nhash = get_u32(d);
  DFrame *f;
  if (d->stream == NULL) {
    /* every element takes at least one byte: bound the sizes before
    ** allocating, so a corrupt count cannot ask for a huge table */
    if (narr > (uint64_t)(d->end - d->p) || nhash > (uint64_t)(d->end - d->p))
      dec_fail(d, "table size exceeds the data");
  } else {
    if (narr > STREAM_MAX_HINT) narr = STREAM_MAX_HINT;
    if (nhash > STREAM_MAX_HINT) nhash = STREAM_MAX_HINT;
  }
  if (nhash == 0 && narr > 0 && !(flags & F_META) && d->p < d->end &&
      *d->p <= T_FLOAT) { /* a vector, a record's vals */
    uint64_t i = 1;
    lua_createtable(L, (int)narr, 0);
    if (flags & F_SHARED) remember(d, at);
    d->p = braidB_dec_rawfill(L, -1, d->p, d->end, &i, narr);
    if (i > narr && !(flags & F_OPEN)) return 1;
    /* a streamed one (counts are hints) is whole when both of its sections
    ** end here; else table_dstep reads on from element i */
    if (i > narr && d->end - d->p >= 2 && d->p[0] == T_END &&
        d->p[1] == T_END) {
      d->p += 2;
      return 1;
    }
    f = dec_push(d, DF_TABLE); /* the rest through table_dstep */
    f->i = i;
  } else {
    f = dec_push(d, DF_TABLE);
    f->i = 1;
    lua_createtable(L, (int)narr, (int)nhash);
    if (flags & F_SHARED) remember(d, at);
  }
  f->flags = flags;
  f->n = narr;
  f->nhash = nhash;
  f->t = lua_gettop(L);
  return 0;
}


/* Fills the table of frame 'f' (top). Returns -1 when a child opened a
** frame (then 'f' may have moved: the child runs first, and this resumes
** with its value on top, f->st telling what it is for), or LUA_TTABLE
** when the table is complete (the frame is popped, the table on top).
** Leaves are read here, integer elements and repeated keys inline. */
static int table_dstep(Dec *d, DFrame *f, int ct) {
  lua_State *L = d->L;
  int t = f->t, r, open = f->flags & F_OPEN;
  uint64_t i; /* f->i, in a register: stored before a child may open */
  switch (f->st) {
    case DS_ELEM:
      if (ct == LUA_TNIL)
        lua_pop(L, 1);
      else
        lua_rawseti(L, t, (lua_Integer)f->i);
      f->i++;
      break;
    case DS_KEY:
      check_key(d, ct);
      f->st = DS_VAL;
      if (dec_open(d) < 0) return -1;
      f = dec_top(d);
      /* FALLTHROUGH */
    case DS_VAL: lua_rawset(L, t); break;
    case DS_META: goto meta;
    default: break;
  }
  i = f->i;
  if (f->phase == 0) { /* the array section */
    uint64_t n = f->n;
    for (;; i++) {
      if (open) {
        if (at_end(d)) break; /* (it made d->p < d->end) */
        if (i > (uint64_t)LUA_MAXINTEGER) dec_fail(d, "array too long");
        if (i <= n && *d->p <= T_FLOAT) { /* a run within the hint: raw */
          uint64_t from = i;
          d->p = braidB_dec_rawfill(L, t, d->p, d->end, &i, n);
          if (i != from) { i--; continue; } /* at_end again, for i */
        }
      } else if (i > n) {
        break;
      } else if (d->p < d->end && *d->p <= T_FLOAT) {
        /* a run of numbers, booleans, nils: into the slots (ldecraw.c;
        ** it checks again that the array is the one we made) */
        d->p = braidB_dec_rawfill(L, t, d->p, d->end, &i, n);
        if (i > n) break;
      }
      if (d->p < d->end && *d->p == T_INT) { /* the common element: inline */
        uint64_t u;
        d->p++;
        u = get_varint(d);
        lua_pushinteger(L, braid__wire_unzigzag(u));
        lua_rawseti(L, t, (lua_Integer)i);
        continue;
      }
      f->i = i;
      f->st = DS_ELEM;
      if ((r = dec_open(d)) < 0) return -1;
      f = dec_top(d);
      if (r == LUA_TNIL)
        lua_pop(L, 1);
      else
        lua_rawseti(L, t, (lua_Integer)i);
    }
    f->phase = 1;
    i = 0;
  }
  for (;;) { /* the pairs */
    if (open) {
      if (at_end(d)) break;
    } else if (i >= f->nhash) {
      break;
    }
    i++;
    if (d->p < d->end && *d->p == T_REF) { /* a key met before: inline */
      d->p++;
      r = recall(d, get_varint(d));
    } else {
      f->i = i;
      f->st = DS_KEY;
      if ((r = dec_open(d)) < 0) return -1;
      f = dec_top(d);
    }
    check_key(d, r);
    f->i = i;
    f->st = DS_VAL;
    if (dec_open(d) < 0) return -1;
    f = dec_top(d);
    lua_rawset(L, t);
  }
  if (f->flags & F_META) {
    f->st = DS_META;
    if ((ct = dec_open(d)) < 0) return -1;
  meta:
    if (ct != LUA_TTABLE) dec_fail(d, "metatable is not a table");
    lua_setmetatable(L, t);
  }
  d->nframes--;
  return LUA_TTABLE;
}


typedef struct ReadState {
  const char *p;
  size_t n;
} ReadState;

static const char *dump_reader(lua_State *L, void *ud, size_t *size) {
  ReadState *rs = (ReadState *)ud;
  (void)L;
  *size = rs->n;
  rs->n = 0;
  return *size ? rs->p : NULL;
}


/* T_LFUNC (tag read): pushes the function and opens a frame for its
** upvalues. */
static void open_dfunction(Dec *d, size_t at) {
  lua_State *L = d->L;
  unsigned char flags = get_byte(d);
  uint32_t n = get_u32(d);
  ReadState rs;
  DFrame *f;
  int status;
  if (!has(d, n)) dec_fail(d, "truncated function");
  f = dec_push(d, DF_FUNC);
  if (!braidB_check_dump(d->p, n)) dec_fail(d, "malformed function");
  rs.p = (const char *)d->p;
  rs.n = n;
  status = lua_load(L, dump_reader, &rs, "=(transfer)", "b");
  if (status != LUA_OK) {
    if (status == LUA_ERRMEM) braidB_nomem(L); /* not corrupt: out of memory */
    dec_fail(d, lua_tostring(L, -1));
  }
  d->p += n;
  f->t = lua_gettop(L);
  if (flags & F_SHARED) remember(d, at);
  f->n = get_byte(d);
}


/* Sets the upvalues of the function of frame 'f' (top); returns as
** table_dstep does (LUA_TFUNCTION when done). */
static int func_dstep(Dec *d, DFrame *f, int ct) {
  lua_State *L = d->L;
  int fn = f->t;
  (void)ct;
  if (f->st == DS_UPV) {
    lua_setupvalue(L, fn, (int)f->i);
    f->st = DS_NONE;
  }
  while (f->i < f->n) {
    int i = (int)++f->i;
    unsigned char kind = get_byte(d);
    if (lua_getupvalue(L, fn, i) == NULL) dec_fail(d, "bad upvalue count");
    lua_pop(L, 1);
    switch (kind) {
      case UPV_ENV:
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        lua_setupvalue(L, fn, i);
        break;
      case UPV_VAL:
        f->st = DS_UPV;
        if (dec_open(d) < 0) return -1;
        f = dec_top(d);
        lua_setupvalue(L, fn, i);
        f->st = DS_NONE;
        break;
      case UPV_JOIN: {
        uint64_t fat = get_varint(d);
        int j = get_byte(d);
        recall(d, fat);
        if (lua_type(L, -1) != LUA_TFUNCTION || lua_iscfunction(L, -1) ||
            j < 1 || lua_getupvalue(L, -1, j) == NULL)
          dec_fail(d, "bad shared upvalue");
        lua_pop(L, 1);
        lua_upvaluejoin(L, fn, i, -1, j);
        lua_pop(L, 1);
        break;
      }
      default: dec_fail(d, "bad upvalue kind");
    }
  }
  if (lua_getupvalue(L, fn, (int)f->n + 1) != NULL)
    dec_fail(d, "bad upvalue count");
  d->nframes--;
  return LUA_TFUNCTION;
}


/* Around user code (require, constructors): the collector runs. */
static void dec_gc_resume(Dec *d) {
  if (d->gcstopped) lua_gc(d->L, LUA_GCRESTART);
}

static void dec_gc_pause(Dec *d) {
  if (d->gcstopped) lua_gc(d->L, LUA_GCSTOP);
}


static void decode_byname(Dec *d) {
  lua_State *L = d->L;
  size_t nm, nf;
  const char *mod = get_lstring(d, &nm);
  const char *field = get_lstring(d, &nf);
  lua_pushlstring(L, mod, nm);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 2);
    if (lua_getglobal(L, "require") != LUA_TFUNCTION)
      braidB_raise(L, "ImportError", "cannot load module '%s': no 'require'",
                   lua_tostring(L, -2));
    lua_pushvalue(L, -2);
    dec_gc_resume(d);
    lua_call(L, 1, 1);
    dec_gc_pause(d);
  } else {
    lua_remove(L, -2);
  }
  lua_remove(L, -2); /* module name */
  if (nf > 0) {
    lua_pushlstring(L, field, nf);
    dec_gc_resume(d); /* __index */
    lua_gettable(L, -2);
    dec_gc_pause(d);
    lua_remove(L, -2);
    if (lua_isnil(L, -1))
      braidB_raise(L, "ImportError", "cannot find '%s.%s' in this worker",
                   lua_pushlstring(L, mod, nm),
                   lua_pushlstring(L, field, nf));
  }
}


/* T_REDUCE (tag read): opens a frame that reads the constructor and
** its arguments (left on the stack) and calls it. */
static void open_dreduce(Dec *d, size_t at) {
  lua_State *L = d->L;
  unsigned char flags = get_byte(d);
  uint64_t nargs = get_varint(d);
  DFrame *f;
  /* a constructor runs once: not before the final message is known */
  dec_wait_done(d);
  if (nargs > 250 || nargs > (uint64_t)(d->end - d->p))
    dec_fail(d, "bad argument count");
  f = dec_push(d, DF_REDUCE);
  f->flags = flags;
  f->n = nargs;
  f->at = at;
  f->t = lua_gettop(L) + 1; /* the constructor's slot */
  if (!lua_checkstack(L, (int)nargs + BRAID_FRAME_SLOTS)) dec_deep_nomem(d);
}


static int reduce_dstep(Dec *d, DFrame *f, int ct) {
  lua_State *L = d->L;
  if (f->st == DS_NONE) {
    f->st = DS_CTOR;
    if ((ct = dec_open(d)) < 0) return -1;
    f = dec_top(d);
  }
  if (f->st == DS_CTOR) {
    if (ct != LUA_TFUNCTION) dec_fail(d, "constructor expected");
    f->st = DS_ARG;
  } else { /* DS_ARG: an argument that was a frame */
    f->i++;
  }
  for (; f->i < f->n; f->i++) {
    if (dec_open(d) < 0) return -1;
    f = dec_top(d);
  }
  dec_gc_resume(d);
  lua_call(L, (int)f->n, 1);
  dec_gc_pause(d);
  if (f->flags & F_SHARED) remember(d, f->at);
  d->nframes--;
  return lua_type(L, -1);
}


/* Pushes the path segment of the child that frame 'j' is reading
** ("[3]", ".name", "(key)", "(metatable)"). Its key, while it reads a
** pair's value, is the slot just below the next frame's lowest slot, or
** 'top' (the stack's top when the refusal began) for the top frame. */
static void dec_pathseg(Dec *d, size_t j, int top) {
  lua_State *L = d->L;
  const DFrame *f = &d->frames[j];
  int k;
  if (f->kind != DF_TABLE) {
    lua_pushliteral(L, "(?)");
    return;
  }
  if (f->st == DS_META) {
    lua_pushliteral(L, "(metatable)");
    return;
  }
  if (f->phase == 0) {
    lua_pushfstring(L, "[%I]", (lua_Integer)f->i);
    return;
  }
  if (f->st == DS_KEY) {
    lua_pushliteral(L, "(a key)");
    return;
  }
  if (j >= BRAID_SPILL_KEEP && j < d->spill_hi) {
    lua_pushliteral(L, "[?]"); /* its slots are spilled: not looked up */
    return;
  }
  k = j + 1 < d->nframes ? d->frames[j + 1].t - 1 : top;
  switch (lua_type(L, k)) {
    case LUA_TSTRING: {
      const char *s = lua_tostring(L, k), *c = s;
      int ident = (*s < '0' || *s > '9');
      for (; *c && ident; c++)
        ident = (*c == '_' || (*c >= 'a' && *c <= 'z') ||
                 (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'));
      if (ident && *s) lua_pushfstring(L, ".%s", s);
      else lua_pushfstring(L, "[\"%s\"]", s);
      break;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, k))
        lua_pushfstring(L, "[%I]", (lua_Integer)lua_tointeger(L, k));
      else
        lua_pushfstring(L, "[%f]", (LUAI_UACNUMBER)lua_tonumber(L, k));
      break;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, k) ? "[true]" : "[false]");
      break;
    default: lua_pushfstring(L, "[%s]", luaL_typename(L, k)); break;
  }
}


/* BRAID_DEC_NOCODE met 'what' (a Lua function, a value by name...):
** raises ValueError naming its path from "obj". */
static __attribute__((noreturn)) void dec_refuse(Dec *d, const char *what) {
  lua_State *L = d->L;
  size_t j;
  int n = 1, top = lua_gettop(L);
  if (!lua_checkstack(L, 32)) braidB_nomem(L);
  lua_pushliteral(L, "obj");
  for (j = 0; j < d->nframes; j++) {
    dec_pathseg(d, j, top);
    n++;
    if (n > 20) { /* keep the stack small: fold as we go */
      lua_concat(L, n);
      n = 1;
    }
  }
  lua_concat(L, n);
  braidB_raise(L, "ValueError",
               "%s is %s: refused from a connection that did not "
               "authenticate (set allow_code to accept code from a "
               "trusted peer)", lua_tostring(L, -1), what);
  __builtin_unreachable();
}


/* T_SEG: the string whose bytes are segment i of the message (memseg.h),
** copied out of a read-only mapping (one copy). The index and the length
** are checked against the descriptors the message came with, so bytes
** from another process cannot make it read what it was not given. The
** descriptor stays the message's (a message may be decoded again). */
static void push_seg(Dec *d) {
  lua_State *L = d->L;
  uint64_t i = get_varint(d), len = get_varint(d);
  size_t size;
  if (i >= d->nsegs) dec_fail(d, "missing segment");
  if (d->segmaps != NULL && d->segmaps[i] != NULL) { /* mapped already */
    if (len != (uint64_t)d->seglens[i])
      dec_fail(d, "segment length does not match");
    braidB_pushsegmap(L, d->segmaps[i], (size_t)len);
    return;
  }
  if (braid__seg_size(d->segs[i], &size) != 0 || len != (uint64_t)size ||
      len > SIZE_MAX / 2)
    dec_fail(d, "segment length does not match");
  braidB_pushsegment(L, d->segs[i], (size_t)len);
}


/* Pushes one value and returns its type, or opens a frame for a table,
** Lua function or reduced object and returns -1 (decode_value runs it). */
static int dec_open(Dec *d) {
  lua_State *L = d->L;
  size_t at = (size_t)(d->p - d->base) + d->origin;
  unsigned char tag = get_byte(d);
  if (braid__unlikely(d->nocode)) {
    /* code, or what could reach it: a constructor called by name, a
    ** module's function, the receiver's globals */
    switch (tag) {
      case T_LFUNC: dec_refuse(d, "a Lua function");
      case T_BYNAME: dec_refuse(d, "a value by name");
      case T_REDUCE: dec_refuse(d, "an object rebuilt by a constructor");
      case T_GLOBALS: dec_refuse(d, "the globals table");
      default: break;
    }
  }
  switch (tag) {
    case T_NIL: lua_pushnil(L); return LUA_TNIL;
    case T_FALSE: lua_pushboolean(L, 0); return LUA_TBOOLEAN;
    case T_TRUE: lua_pushboolean(L, 1); return LUA_TBOOLEAN;
    case T_INT: {
      uint64_t u = get_varint(d);
      lua_pushinteger(L, braid__wire_unzigzag(u));
      return LUA_TNUMBER;
    }
    case T_FLOAT: {
      lua_Number v;
      if (!has(d, sizeof v)) dec_fail(d, "truncated");
      memcpy(&v, d->p, sizeof v);
      d->p += sizeof v;
      lua_pushnumber(L, v);
      return LUA_TNUMBER;
    }
    case T_STR:
    case T_STRS: {
      uint64_t len = get_varint(d);
      if (len > SIZE_MAX / 2 || !has(d, len)) dec_fail(d, "truncated string");
      lua_pushlstring(L, (const char *)d->p, (size_t)len);
      d->p += len;
      if (d->ahead.strt != NULL)
        braidB_strahead_step(&d->ahead, d->base, d->p, d->end);
      else
        braidB_strahead_later(&d->ahead);
      if (tag == T_STRS) remember(d, at);
      return LUA_TSTRING;
    }
    case T_SEG: push_seg(d); return LUA_TSTRING;
    case T_TABLE:
      if (open_dtable(d, at)) return LUA_TTABLE;
      if (d->inl >= DEC_INLINE) return -1;
      { /* most tables hold leaves only: filled here, without going back
        ** to decode_value's loop (a bounded recursion) */
        int r;
        d->inl++;
        r = table_dstep(d, dec_top(d), -1);
        d->inl--;
        return r;
      }
    case T_REF: return recall(d, get_varint(d));
    case T_CALLV: { /* a value of the map call: a fresh copy per chunk */
      unsigned char fl = get_byte(d);
      if (!braidB_push_callv(L, d->msg, d->origin, d->item_off,
                             get_varint(d)))
        dec_fail(d, "bad reference to a value of the call");
      if (fl & F_SHARED) remember(d, at);
      return LUA_TTABLE;
    }
    case T_LFUNC: open_dfunction(d, at); return -1;
    case T_BYNAME: decode_byname(d); break;
    case T_GLOBALS:
      return lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    case T_HANDLE: {
      uint64_t i = get_varint(d);
      if (i >= d->nhandles) dec_fail(d, "bad object index");
      braidB_pushhandle(L, d->handles[i]);
      break;
    }
    case T_CLASS: {
      size_t n;
      const char *s = get_lstring(d, &n);
      lua_pushlstring(L, s, n);
      braidB_pushclass(L, lua_tostring(L, -1));
      lua_remove(L, -2);
      break;
    }
    case T_REDUCE: open_dreduce(d, at); return -1;
    default: d->p--; dec_fail(d, "unknown tag");
  }
  return lua_type(L, -1);
}


/* Pushes the spill table (cache[-2]), made on first need. */
static void dec_spill_table(Dec *d) {
  lua_State *L = d->L;
  if (!lua_checkstack(L, 4)) dec_deep_nomem(d);
  if (lua_type(L, d->cache) != LUA_TTABLE) {
    lua_createtable(L, 0, 4);
    lua_replace(L, d->cache);
  }
  if (lua_rawgeti(L, d->cache, -2) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 3 * BRAID_SPILL_W, 0);
    lua_pushvalue(L, -1);
    lua_rawseti(L, d->cache, -2);
  }
}


/* Spills the slots of the BRAID_SPILL_W frames above 'spill_hi' (from the
** lowest's to below the next frame's lowest slot: a frame's slots all lie
** above its parent's), as the encoder does (enc_spill). Called between
** steps, when no C variable holds a stack index. */
static void dec_spill(Dec *d) {
  size_t lo = d->spill_hi, hi = lo + BRAID_SPILL_W, i;
  int from = d->frames[lo].t, n = d->frames[hi].t - from;
  dec_spill_table(d);
  braidB_spill_out(d->L, &d->spilled, from, n);
  for (i = hi; i < d->nframes; i++) d->frames[i].t -= n;
  d->spill_hi = hi;
}


/* Brings back the last spilled frames' slots (the walk came back down to
** them). */
static void dec_unspill(Dec *d) {
  size_t lo = d->spill_hi - BRAID_SPILL_W, i;
  int n;
  dec_spill_table(d);
  if ((n = braidB_spill_in(d->L, &d->spilled, d->frames[lo].t)) < 0)
    dec_deep_nomem(d);
  for (i = d->spill_hi; i < d->nframes; i++) d->frames[i].t += n;
  d->spill_hi = lo;
}


/* Pushes one value; returns its type. The frames it opens run to the
** end, the top one first; each returns -1 while a child's frame runs. */
static int decode_value(Dec *d) {
  size_t base = d->nframes;
  int t = dec_open(d);
  while (d->nframes > base) {
    DFrame *f;
    if (braid__unlikely(d->nframes >= d->spill_hi + 2 * BRAID_SPILL_W))
      dec_spill(d);
    else if (braid__unlikely(d->nframes <= d->spill_hi &&
                             d->spill_hi > BRAID_SPILL_KEEP))
      dec_unspill(d);
    f = &d->frames[d->nframes - 1];
    switch (f->kind) {
      case DF_TABLE: t = table_dstep(d, f, t); break;
      case DF_FUNC: t = func_dstep(d, f, t); break;
      default: t = reduce_dstep(d, f, t); break;
    }
  }
  return t;
}


/* Decodes the values of the message whose bytes 'd' reads (base, p, end,
** handles, stream set) and pushes them; returns how many. */
static int decode_values(Dec *d) {
  lua_State *L = d->L;
  uint64_t n, i;
  d->nframes = 0;
  d->slots = 0;
  if (!lua_checkstack(L, NREFSLOTS + 12)) dec_fail(d, "out of stack space");
  lua_pushnil(L); /* slot for the table of shared objects */
  d->cache = lua_gettop(L);
  for (i = 0; i < NREFSLOTS; i++) {
    lua_pushnil(L);
    d->slot_at[i] = 0;
  }
  d->slots = d->cache + 1;
  if (get_byte(d) != BRAID_WIRE_VERSION) {
    d->p--;
    dec_fail(d, "unknown format version");
  }
  n = get_varint(d);
  if (n > 0x7fffffff || !has(d, n)) dec_fail(d, "bad value count");
  if (!lua_checkstack(L, (int)n + 4)) dec_fail(d, "too many values");
  for (i = 0; i < n; i++) decode_value(d);
  dec_wait_done(d); /* the length is final */
  if (d->p != d->end) dec_fail(d, "trailing bytes");
  lua_rotate(L, d->cache, -(1 + NREFSLOTS));
  lua_pop(L, 1 + NREFSLOTS);
  return (int)n;
}


static int decode_msg(lua_State *L, const braid_msg *m, int gcstopped,
                      int flags) {
  Dec d;
  d.L = L;
  d.base = d.p = m->data;
  d.origin = 0;
  d.end = m->data + m->len;
  d.handles = m->handles;
  d.nhandles = m->nhandles;
  d.stream = NULL;
  d.gcstopped = gcstopped;
  dec_init_frames(&d);
  braidB_strahead_init(L, &d.ahead, gcstopped);
  d.nocode = (flags & BRAID_DEC_NOCODE) != 0;
  d.segs = m->segs;
  d.nsegs = m->nsegs;
  d.segmaps = m->segmaps;
  d.seglens = m->seglens;
  return decode_values(&d);
}


/* (message, flags) -> its values, with the collector stopped */
static int decode_nogc(lua_State *L) {
  const braid_msg *m = (const braid_msg *)lua_touserdata(L, 1);
  int flags = (int)lua_tointeger(L, 2);
  lua_pop(L, 2);
  return decode_msg(L, m, 1, flags);
}


/* Messages from this size on are decoded with the collector stopped: what
** a decode allocates stays reachable (it is the value being built), so
** the cycles that the growing heap would start in the middle of it, each
** traversing everything built so far, are wasted work (a third of the
** time for 100,000 records in a fresh worker). The collector runs again
** around the user code a decode may call (require, constructors) and is
** restarted however the decode ends. The same for queue items from this
** size on (braid__decode_items_with: a big table a put did not stream).
** From this size on too, a state still on luaL_newstate's allocator (a
** process's main state: core.loads, a Queue's get in the main thread, a
** Connection's recv) moves onto a pool first (braidB_adopt_pool,
** ladopt.c), as a reader of a process stream does: malloc's bookkeeping
** and first-touch page faults cost a sixth of decoding 100,000 records
** (bench/README.md). Worker states are on pools already. */
#define NOGC_MIN_BYTES 65536

static int decode_flags(lua_State *L, const braid_msg *m, int flags) {
  int top, status;
  if (m->len >= NOGC_MIN_BYTES) (void)braidB_adopt_pool(L);
  if (m->len < NOGC_MIN_BYTES || !lua_gc(L, LUA_GCISRUNNING))
    return decode_msg(L, m, 0, flags);
  if (!lua_checkstack(L, 4)) return luaL_error(L, "out of stack space");
  top = lua_gettop(L);
  lua_pushcfunction(L, decode_nogc);
  lua_pushlightuserdata(L, (void *)m);
  lua_pushinteger(L, flags);
  lua_gc(L, LUA_GCSTOP);
  status = lua_pcall(L, 2, LUA_MULTRET, 0);
  lua_gc(L, LUA_GCRESTART);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}


int braid__decode(lua_State *L, const braid_msg *m) {
  if (m->nsegs == 1 && braid__pstream_is_mark(m->data, m->len, 1)) /* pool's */
    return braidB_pstream_msg(L, m);
  return decode_flags(L, m, 0);
}


/* (message, [flags]) -> its values */
static int decode_protected(lua_State *L) {
  const braid_msg *m = (const braid_msg *)lua_touserdata(L, 1);
  int flags = (int)lua_tointeger(L, 2);
  lua_settop(L, 0);
  return decode_flags(L, m, flags);
}


/* (stream, gcstopped) -> its values */
static int decode_stream_protected(lua_State *L) {
  Dec d;
  braid_stream_view v;
  d.L = L;
  d.stream = (braid_stream *)lua_touserdata(L, 1);
  d.gcstopped = lua_toboolean(L, 2);
  d.origin = 0;
  dec_init_frames(&d);
  braidB_strahead_init(L, &d.ahead, 1); /* a stream: big by construction */
  lua_pop(L, 2);
  braid__stream_wait(d.stream, 1, &v);
  d.base = d.p = d.end = v.base;
  dec_view(&d, &v);
  return decode_values(&d);
}


int braid__decode_stream_owned(lua_State *L, braid_stream *s) {
  int top = lua_gettop(L), status, gc;
  if (!lua_checkstack(L, 4)) {
    braid__stream_release(s);
    return luaL_error(L, "out of stack space");
  }
  /* big by construction: decoded with the collector stopped (see
  ** NOGC_MIN_BYTES) */
  gc = lua_gc(L, LUA_GCISRUNNING);
  (void)braidB_adopt_pool(L); /* see NOGC_MIN_BYTES */
  lua_pushcfunction(L, decode_stream_protected);
  lua_pushlightuserdata(L, s);
  lua_pushboolean(L, gc);
  if (gc) lua_gc(L, LUA_GCSTOP);
  status = lua_pcall(L, 2, LUA_MULTRET, 0);
  if (gc) lua_gc(L, LUA_GCRESTART);
  if (status != LUA_OK && lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
    const void *why = lua_touserdata(L, -1);
    lua_settop(L, top);
    if (why == &STREAM_FAILED) {
      braid__stream_release(s);
      return -1;
    }
    if (why == &STREAM_RESTART) { /* 's->final' is set: the stream is DONE */
      lua_pushcfunction(L, decode_protected);
      lua_pushlightuserdata(L, s->final);
      status = lua_pcall(L, 1, LUA_MULTRET, 0);
    } else {
      lua_pushlightuserdata(L, (void *)why); /* not ours: raised again */
    }
  }
  braid__stream_release(s);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}


int braid__decode_owned(lua_State *L, braid_msg *m) {
  return braid__decode_owned_flags(L, m, 0);
}


int braid__decode_owned_flags(lua_State *L, braid_msg *m, int flags) {
  int top = lua_gettop(L), status, n;
  if (!lua_checkstack(L, 4)) {
    braid__msg_free(m);
    return luaL_error(L, "out of stack space");
  }
  lua_pushcfunction(L, decode_protected);
  lua_pushlightuserdata(L, m);
  lua_pushinteger(L, flags);
  status = lua_pcall(L, 2, LUA_MULTRET, 0);
  braid__msg_free(m);
  if (status != LUA_OK) return lua_error(L);
  n = lua_gettop(L) - top;
  return n;
}


/* Decodes item 'idx' of 'm' with the decoder 'd' (whose cache slot is
** shared by the items of one message: offsets are unique within it, and
** an item may name an object of an earlier one of its group, see
** braid__encode_batch_shared). */
static void decode_item(Dec *d, const braid_msg *m, uint32_t idx) {
  size_t off, end;
  braid__item_bounds(m, idx, &off, &end);
  d->msg = m->nitems > 1 || m->callsrc != NULL ? m : NULL;
  d->item_off = off;
  d->base = m->data;
  d->origin = m->origin;
  d->p = m->data + off;
  d->end = m->data + end;
  if (off > end || end > m->len) dec_fail(d, "bad item bounds");
  if (braidB_push_scalar(d->L, d->p, d->end)) return;
  d->handles = m->handles;
  d->nhandles = m->nhandles;
  d->segs = m->segs;
  d->nsegs = m->nsegs;
  d->segmaps = m->segmaps;
  d->seglens = m->seglens;
  d->nframes = 0;
  decode_value(d);
  if (d->p != d->end) dec_fail(d, "trailing bytes in item");
}


/* Another message's items follow: its offsets name other objects. */
static void new_cache(Dec *d) {
  if (lua_type(d->L, d->cache) == LUA_TNIL) return;
  lua_pushnil(d->L);
  lua_replace(d->L, d->cache);
}


typedef struct ItemsJob {
  const braid_item *items;
  size_t n;
  lua_Integer k;
  int gcstopped; /* items of NOGC_MIN_BYTES and more: stopped by the caller */
} ItemsJob;

/* (job, table | nil) -> nothing, or the items when there is no table */
static int decode_items_protected(lua_State *L) {
  ItemsJob *j = (ItemsJob *)lua_touserdata(L, 1);
  int tab = lua_istable(L, 2) ? 2 : 0;
  Dec d;
  size_t i;
  memset(&d, 0, sizeof d);
  dec_init_frames(&d);
  d.L = L;
  d.gcstopped = j->gcstopped;
  braidB_strahead_init(L, &d.ahead, d.gcstopped);
  lua_settop(L, 2);
  lua_pushnil(L); /* 3: cache of shared objects */
  d.cache = 3;
  if (!tab && !lua_checkstack(L, (int)j->n + 4))
    return luaL_error(L, "too many values");
  if (tab) { /* each item goes straight into the table: one stack check */
    if (!lua_checkstack(L, 12)) return luaL_error(L, "out of stack space");
    for (i = 0; i < j->n; i++) {
      if (i > 0 && j->items[i].m != j->items[i - 1].m) new_cache(&d);
      decode_item(&d, j->items[i].m, j->items[i].idx);
      lua_rawseti(L, tab, j->k + (lua_Integer)i);
    }
    return 0;
  }
  for (i = 0; i < j->n; i++) {
    if (!lua_checkstack(L, 12)) return luaL_error(L, "out of stack space");
    if (i > 0 && j->items[i].m != j->items[i - 1].m) new_cache(&d);
    decode_item(&d, j->items[i].m, j->items[i].idx);
  }
  return (int)j->n;
}


int braid__decode_items_with(lua_State *L, const braid_item *items,
                             size_t n, int tidx, lua_Integer k,
                             void (*done)(braid_msg *, void *), void *ud) {
  ItemsJob job;
  int top, status, gc = 0;
  size_t i;
  if (n == 0) return 0;
  if (n == 1 && tidx == 0) { /* the common get(): no pcall for scalars */
    size_t off, end;
    braid__item_bounds(items[0].m, items[0].idx, &off, &end);
    if (off <= end && end <= items[0].m->len &&
        lua_checkstack(L, 1) &&
        braidB_push_scalar(L, items[0].m->data + off, items[0].m->data + end)) {
      if (done)
        done(items[0].m, ud);
      else
        braid__msg_release(items[0].m, 1);
      return 1;
    }
  }
  tidx = tidx ? lua_absindex(L, tidx) : 0;
  top = lua_gettop(L);
  job.items = items;
  job.n = n;
  job.k = k;
  if (!lua_checkstack(L, 4)) {
    status = LUA_ERRMEM;
    lua_pushliteral(L, "out of stack space");
  } else {
    lua_pushcfunction(L, decode_items_protected);
    lua_pushlightuserdata(L, &job);
    if (tidx)
      lua_pushvalue(L, tidx);
    else
      lua_pushnil(L);
    if (braid__items_bytes(items, n, NOGC_MIN_BYTES) >= NOGC_MIN_BYTES) {
      (void)braidB_adopt_pool(L); /* see NOGC_MIN_BYTES */
      gc = lua_gc(L, LUA_GCISRUNNING);
    }
    job.gcstopped = gc;
    if (gc) lua_gc(L, LUA_GCSTOP);
    status = lua_pcall(L, 2, tidx ? 0 : (int)n, 0);
    if (gc) lua_gc(L, LUA_GCRESTART); /* however the decode ended */
  }
  for (i = 0; i < n;) {
    braid_msg *m = items[i].m;
    size_t r = 1;
    while (i + r < n && items[i + r].m == m) r++;
    if (r > 1) /* a run of one batch's items: one release (never a spare) */
      braid__msg_release(m, (uint32_t)r);
    else if (done)
      done(m, ud);
    else
      braid__msg_release(m, 1);
    i += r;
  }
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}


int braid__decode_items(lua_State *L, const braid_item *items, size_t n,
                        int tidx, lua_Integer k) {
  return braid__decode_items_with(L, items, n, tidx, k, NULL, NULL);
}


/* Item 'idx' of batch 'm' when it is an integer (the common result of a
** map): 1 and its value in '*v', else 0. */
static int int_item(const braid_msg *m, uint32_t idx, lua_Integer *v) {
  size_t off = m->offs[idx];
  size_t end = idx + 1 < m->nitems ? m->offs[idx + 1] : m->len;
  if (off >= end || end > m->len) return 0;
  return braidB_int_bytes(m->data + off, m->data + end, v);
}


int braid__decode_range(lua_State *L, const braid_msg *m, uint32_t first,
                        uint32_t n, int tidx, lua_Integer k) {
  return braid__decode_range_cache(L, m, first, n, tidx, k, 0);
}


int braid__decode_range_cache(lua_State *L, const braid_msg *m,
                              uint32_t first, uint32_t n, int tidx,
                              lua_Integer k, int cache) {
  Dec d;
  uint32_t i;
  lua_Integer v;
  if (first > m->nitems || n > m->nitems - first)
    return luaL_error(L, "bad item range");
  if (n == 1 && tidx == 0) { /* one item to push: scalars need no decoder */
    size_t off, end;
    if (m->offs != NULL && int_item(m, first, &v) && lua_checkstack(L, 1)) {
      lua_pushinteger(L, v);
      return 1;
    }
    braid__item_bounds(m, first, &off, &end);
    if (off <= end && end <= m->len && lua_checkstack(L, 1) &&
        braidB_push_scalar(L, m->data + off, m->data + end))
      return 1;
  }
  tidx = tidx ? lua_absindex(L, tidx) : 0;
  cache = cache ? lua_absindex(L, cache) : 0;
  if (!lua_checkstack(L, 12) || (!tidx && !lua_checkstack(L, (int)n + 12)))
    return luaL_error(L, "out of stack space");
  memset(&d, 0, sizeof d);
  dec_init_frames(&d);
  d.L = L;
  if (cache) { /* the caller's, kept across calls */
    d.cache = cache;
  } else {
    lua_pushnil(L); /* cache of shared objects, shared by the items */
    d.cache = lua_gettop(L);
  }
  for (i = 0; i < n; i++) {
    if (tidx && m->offs != NULL && int_item(m, first + i, &v))
      lua_pushinteger(L, v);
    else
      decode_item(&d, m, first + i);
    if (tidx) lua_rawseti(L, tidx, k + (lua_Integer)i);
  }
  if (!cache) lua_remove(L, d.cache);
  return tidx ? 0 : (int)n;
}


/* }====================================================== */


/*
** lrawtab.h: how a Lua 5.4 table, string and value lie in memory, for the
** encoder's raw walk (lencraw.c), which reads a table's slots directly
** instead of making several Lua API calls per value, and the decoder's
** raw fill (ldecraw.c); and where a state's string table lies, for the
** decoder's string prefetch (ldecraw.h), behind a self-check of its own
** (braidB_rawstrt).
** See LICENSE for copyright and license.
**
** These are our own minimal declarations of the layouts that every Lua
** release from 5.4.0 to 5.4.8 uses (they did not change between them);
** they are not part of Lua's API. Nothing reads through them unless the
** self-check (braidB_rawwalk_active, lrawtab.c) found, once per process,
** that probe tables built through the public API read back through them
** exactly as lua_rawgeti, lua_next, lua_getmetatable and lua_tolstring
** give them. Otherwise (another layout, BRAID_RAWWALK=0 in the
** environment) the encoder walks tables through the API only.
**
** Contract for readers: a table's array and node pointers and sizes are
** valid only until the next Lua API call that may allocate or run Lua
** code (a GC step can run a __gc finalizer that resizes the table); they
** are read again after any such call.
*/
#ifndef BRAID_LRAWTAB_H
#define BRAID_LRAWTAB_H

#include <stddef.h>

#include "braidconf.h"
#include "lua.h"

#if LUA_VERSION_NUM != 504
#error "the raw table layout (lrawtab.h) describes Lua 5.4"
#endif

/* A value's payload: a collectable object's address, an integer or a
** float (Lua's union also holds light userdata and C functions, the same
** size). */
typedef union braid_rawval {
  void *gc;
  lua_Integer i;
  lua_Number n;
} braid_rawval;

/* A value: payload, then its tag byte. */
typedef struct braid_rawtv {
  braid_rawval v;
  unsigned char tag;
} braid_rawtv;

/* A hash node: its value (payload, tag), the key's tag, the collision
** chain's offset, the key's payload. */
typedef struct braid_rawnode {
  braid_rawval v;
  unsigned char tag;
  unsigned char ktag;
  int next;
  braid_rawval k;
} braid_rawnode;

/* A table: the collector's header (next object, type tag, mark bits),
** the metamethod-absence flags, log2 of the node count, the array's size
** or a border below it (see braid_raw_asize), the array, the nodes, the
** free-node cursor (NULL: the shared empty node), the metatable. */
typedef struct braid_rawtable {
  void *gcnext;
  unsigned char gctag, marked;
  unsigned char flags, lsizenode;
  unsigned int alimit;
  braid_rawtv *array;
  braid_rawnode *node;
  braid_rawnode *lastfree;
  struct braid_rawtable *mt;
  void *gclist;
} braid_rawtable;

/* A string: the collector's header, a reserved-word index, the short
** length (5.4.7 and later set 0xFF in a long string: the tag tells short
** from long), the hash, the long length (or the intern chain), then the
** bytes. */
typedef struct braid_rawstring {
  void *gcnext;
  unsigned char gctag, marked;
  unsigned char extra, shrlen;
  unsigned int hash;
  union {
    size_t lnglen;
    void *hnext;
  } u;
  char contents[1];
} braid_rawstring;

/* Tags: the basic type (LUA_T*) in bits 0-3, a variant in bits 4-5, bit 6
** set for collectable objects. Every nil variant (nil, an empty slot, an
** absent key) has LUA_TNIL in the low bits. */
#define BRAID_RT_COLLECTABLE 0x40
#define BRAID_RT_VARIANT(t, v) ((t) | ((v) << 4))
#define BRAID_RT_FALSE BRAID_RT_VARIANT(LUA_TBOOLEAN, 0)
#define BRAID_RT_TRUE BRAID_RT_VARIANT(LUA_TBOOLEAN, 1)
#define BRAID_RT_INT BRAID_RT_VARIANT(LUA_TNUMBER, 0)
#define BRAID_RT_FLT BRAID_RT_VARIANT(LUA_TNUMBER, 1)
#define BRAID_RT_SHRSTR \
  (BRAID_RT_VARIANT(LUA_TSTRING, 0) | BRAID_RT_COLLECTABLE)
#define BRAID_RT_LNGSTR \
  (BRAID_RT_VARIANT(LUA_TSTRING, 1) | BRAID_RT_COLLECTABLE)
#define BRAID_RT_TABLE (BRAID_RT_VARIANT(LUA_TTABLE, 0) | BRAID_RT_COLLECTABLE)

#define braid_rt_isempty(tag) (((tag) & 0x0f) == LUA_TNIL)

/* The bit that says 'alimit' is a border below the array's real size
** (bit 7 of 'flags' from 5.4.1, of 'marked' in 5.4.0; the other one's
** bit 7 is unused in either, outside Lua's own test builds). */
#define BRAID_RT_NOTREALSIZE 0x80

/* The array part's size: 'alimit', or, when the flag says it is a border
** below it and it is not a power of two, the next power of two. */
static inline unsigned int braid_raw_asize(const braid_rawtable *t) {
  unsigned int a = t->alimit;
  if (!((t->flags | t->marked) & BRAID_RT_NOTREALSIZE) || (a & (a - 1)) == 0)
    return a;
  a--;
  a |= a >> 1;
  a |= a >> 2;
  a |= a >> 4;
  a |= a >> 8;
  a |= a >> 16;
  return a + 1;
}

#define braid_raw_nsize(t) ((size_t)1 << (t)->lsizenode)

/* The bytes and length of the string whose tag is 'tag' (short or long). */
#define braid_raw_str(p) (((const braid_rawstring *)(p))->contents)
static inline size_t braid_raw_strlen(const void *p, unsigned char tag) {
  const braid_rawstring *s = (const braid_rawstring *)p;
  return tag == BRAID_RT_SHRSTR ? (size_t)s->shrlen : s->u.lnglen;
}

/* The head of a state (lua_State): the collector's header, status,
** hook flag, CallInfo count, stack top, then the global state. */
typedef struct braid_rawstate {
  void *gcnext;
  unsigned char gctag, marked, status, allowhook;
  unsigned short nci;
  void *top;
  void *l_G;
} braid_rawstate;

/* The interned short strings' table: buckets, strings held, bucket count
** (a power of two; a string lies in bucket hash & (size - 1), chained
** through u.hnext). */
typedef struct braid_rawstrt {
  braid_rawstring **hash;
  int nuse, size;
} braid_rawstrt;

/* The head of the global state: allocator, its data, four counters of
** the collector, the string table. */
typedef struct braid_rawglobal {
  void *frealloc, *ud;
  ptrdiff_t totalbytes, GCdebt;
  size_t GCestimate, lastatomic;
  braid_rawstrt strt;
} braid_rawglobal;

/* The longest short (interned) string of a default Lua build. */
#define BRAID_RAW_MAXSHORTLEN 40

/* The hash Lua gives a short string (luaS_hash with step 1). */
static inline unsigned int braid_raw_strhash(const char *s, size_t l,
                                             unsigned int seed) {
  unsigned int h = seed ^ (unsigned int)l;
  for (; l > 0; l--) h ^= ((h << 5) + (h >> 2) + (unsigned char)s[l - 1]);
  return h;
}

/* L's string table and its hash seed, for prefetching the buckets that
** strings about to be made will look up (a hint: nothing is written
** through it). NULL when the raw walk is not active or the once-per-
** process self-check of these layouts failed (probe strings must lie in
** the buckets their hash names, with the hash computed as above). May
** allocate (raises only a memory error). */
BRAIDI_FUNC const braid_rawstrt *braidB_rawstrt(lua_State *L,
                                                unsigned int *seed);

/* Whether the raw walk may be used in this process: the self-check (run
** once, at the first call: braid.core's opening or the first encode,
** with probe tables built on L's stack, protected) passed, BRAID_RAWWALK=0
** is not set and the test hook has not turned it off. A check that ran
** out of memory answers 0 and is tried again at the next call. */
BRAIDI_FUNC int braidB_rawwalk_active(lua_State *L);

/* core._rawwalk([on]) -> whether the raw walk is active (a test hook: on
** = false makes every encode use the API walk; true cannot turn on a
** walk the self-check refused). */
BRAIDI_FUNC int braidB_rawwalk_hook(lua_State *L);

#endif

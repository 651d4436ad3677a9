/*
** serial.c: transfer of Lua values between states.
** See LICENSE for copyright and license.
**
** A value is encoded once, in the sender's state, into a flat buffer owned
** by no state (a braid_msg), and decoded once in the receiver. Nothing is
** copied twice and no lock is held while either side runs.
**
** Format (version 2, host byte order: messages never leave the machine):
**   msg   := VERSION varint(count) value*count
**   value := tag payload, tags in enum 'Tag' below.
** Tables and Lua functions carry a flags byte whose SHARED bit the encoder
** patches in place when it meets the same object again; it then writes a
** REF to the offset of the first occurrence. So the decoder remembers only
** objects that are referenced again (not each of 100,000 records), and
** cycles and shared sub-tables survive. Upvalues shared by two closures
** are rejoined with lua_upvaluejoin. Strings met again (by address: keys
** repeated in every record) become REFs too, the first copy's tag patched
** from STR to STRS (version 2; see put_str). A table is written in one
** lua_next pass (see encode_table). Big messages are decoded with the
** collector stopped (see braid__decode).
**
** A thread start streams its arguments (braid__encode_streamed, stream.h):
** the worker decodes the bytes published so far while they are being
** written. Published bytes are never patched: such tables are F_OPEN
** (counts are hints, sections end with T_END), a string met again keeps
** its T_STR tag (the decoder reads it once more), and a SHARED flag due
** there goes into a copy that the decoder starts over on.
**
** Encoding uses a per-state encoder (a userdata in the registry, reused so
** that a put costs no allocation besides the message) holding the byte
** buffer, a pointer hash for the objects seen in this message, the path to
** the value being encoded (for error messages), and the references taken
** on braid objects. A raise (bad value, memory error) leaves the encoder
** with its temporaries, which the next encode or the state's close frees.
**
** C functions, the tables of loaded modules, and "classes" (tables with an
** '__index' field stored in a module) travel by name: module name plus
** field, resolved on the other side through 'require'. The names are
** looked up in a per-state cache built from package.loaded on first use
** and rebuilt once when a C function is not found in it.
**
** The decoder trusts nothing: every read is bounds-checked, tags and
** counts are validated, nesting is bounded, and bytecode is loaded in
** binary-only mode. Errors raise a ValueError naming the offset.
*/
#include <string.h>

#include "alloc.h"
#include "lbind.h"
#include "serial.h"
#include "serialfmt.h"
#include "lspill.h"
#include "stream.h"

/* 16 bytes: the pointer, and a 48-bit value over a 16-bit generation
** stamp (entries of older generations are empty). */
typedef struct PtrEntry {
  const void *key;
  uint64_t vg; /* val << 16 | gen */
} PtrEntry;

#define PTR_VALBITS 48
#define PTR_GENMASK 0xffffu

/* Open-addressing pointer hash; clearing it between messages costs one
** increment of 'gen'. */
typedef struct PtrMap {
  PtrEntry *e;
  size_t cap, used; /* cap is a power of 2 or 0 */
  uint32_t gen;     /* 1..PTR_GENMASK, 0 before the first use */
} PtrMap;

typedef enum SegKind { SEG_KEY, SEG_UPVAL, SEG_META, SEG_ARG, SEG_NONE } SegKind;

typedef struct PathSeg {
  SegKind kind;
  int idx;          /* SEG_KEY: stack index of the key; SEG_ARG: number */
  const char *name; /* SEG_UPVAL */
} PathSeg;

/* The encoder walks a value without recursing in C (a value may be nested
** 100,000 levels deep, and worker threads have small stacks): each table,
** Lua function and reduced object being written is a Frame on a growable
** heap stack, whose Lua values (the object, a table's key and value being
** written, its metatable) stay in Lua stack slots, about three per level
** (lua_checkstack'd per frame). Past 2 * BRAID_SPILL_W levels the slots of
** the bottom BRAID_SPILL_W (above the first BRAID_SPILL_KEEP) move to a
** spill table (registry[e]) and come back when the walk returns to them
** (enc_spill, enc_unspill): depth is bounded by memory only. The path of
** an error message is read from the frames (its first and last PATH_KEEP
** steps from frames kept in slots). */
enum { FR_TABLE, FR_FUNC, FR_REDUCE };

/* What a frame does when the child it returned has been written. */
enum { ST_LOOP, ST_VAL, ST_POST, ST_META };

typedef struct Frame {
  unsigned char kind, st;
  unsigned char seg;   /* SegKind of the child being written, for paths */
  unsigned char inarr, open, w; /* table: in the array section, F_OPEN,
                                   width of narr */
  int idx;             /* the object */
  int k;    /* table: key slot; function, reduce: number of the child */
  int n;    /* table: metatable slot or 0; function: upvalues;
               reduce: constructor and arguments */
  int base; /* reduce: slot below the constructor */
  int endtop;          /* reduce: top to leave when done */
  const char *name;    /* function: name of the upvalue being written */
  size_t hdr;          /* table: offset of T_TABLE */
  lua_Unsigned narr, m;
  uint32_t nhash;
} Frame;

typedef struct Enc {
  lua_State *L;
  unsigned char *buf;
  size_t len, cap;
  braid_handle **handles;
  size_t nhandles, caphandles;
  PtrMap seen;
  PtrMap strs; /* strings written (by address) -> offset, see put_str */
  const void *globals;
  Frame *frames; /* the walk's stack (see Frame) */
  size_t nframes, capframes;
  size_t spill_hi;     /* frames below (from BRAID_SPILL_KEEP) are spilled */
  lua_Integer spilled; /* entries in the spill table (0: none) */
  int ctype; /* type of the child a frame's step returned */
  int inl;   /* table steps running inline (at most ENC_INLINE) */
  int busy;
  int top; /* the stack's top when the encode began (slots above: ours) */
  int procmode; /* BRAID_ENC_PROCESS/_PIPE: for another process, else 0 */
  int names_rebuilt; /* the name cache was rebuilt during this encode */
  struct NameCache *names; /* this state's, looked up once per encode */
  int npath;        /* segments before the frames' (a batch's item) */
  PathSeg path[2];
  const char *root;
  uint32_t *offs; /* item offsets of a batch being encoded */
  size_t offscap;
  /* Streaming (braid__encode_streamed). Once the stream has started,
  ** 'buf' and 'handles' belong to it (the reader may be reading them):
  ** they are never freed nor reused by the encoder, and bytes below 'pub'
  ** are never written again. A SHARED flag due there is noted in 'late'
  ** and set in a copy at the end. */
  braid_stream *stream;
  int (*start)(void *, braid_stream *); /* called at the first publish */
  void *start_ud;
  int open_tables; /* write F_OPEN tables */
  size_t pub;      /* bytes of 'buf' published */
  size_t pub_next; /* publish when 'len' reaches it; SIZE_MAX: never */
  size_t step;
  size_t *late;
  size_t nlate, caplate;
} Enc;

/* Name cache: pointer -> index i in the names table (registry), where
** names[3i-2] is the module, names[3i-1] the field, names[3i] the value
** (kept alive by the cache). */
typedef struct NameCache NameCache;
#define NAME_BLOOM_BITS 8192

struct NameCache {
  PtrMap map;
  int built;
  /* a bit per hash of the pointers in 'map': most tables that are not
  ** in it (all of a big structure's) are told by one bit, in L1 */
  uint64_t bloom[NAME_BLOOM_BITS / 64];
};

static unsigned bloom_bit(const void *p) {
  uintptr_t x = (uintptr_t)p;
  return (unsigned)((x >> 4) ^ (x >> 17)) & (NAME_BLOOM_BITS - 1);
}

#define bloom_has(c, p) \
  (((c)->bloom[bloom_bit(p) / 64] >> (bloom_bit(p) % 64)) & 1)

static const char ENC_KEY = 'e';
static const char NAMES_KEY = 'n';
static const char NAMETAB_KEY = 't';


/*
** {======================================================
** Pointer hash
** =======================================================
*/

/* Nearby addresses land in nearby slots: Lua allocates the tables of a
** structure close together, so walking it touches the map sequentially
** instead of missing the cache on every lookup. Each 4 KiB of addresses
** (64 slots) starts at a pseudo-random slot: folding the upper bits in by
** XOR mapped regions a power of two apart (a worker's allocator chunks)
** onto nearly the same slots, where the probe runs grew with the entries
** (a 300,000-node list a worker had received took 3-4 s to encode, now
** 0.1 s). */
static size_t ptrhash(const void *p, size_t mask) {
  uintptr_t x = (uintptr_t)p;
  uint64_t off = ((uint64_t)(x >> 12) * UINT64_C(0x9E3779B97F4A7C15)) >> 32;
  return (size_t)((x >> 6) + off) & mask;
}

#define pe_live(m, e) (((e)->vg & PTR_GENMASK) == (m)->gen)
#define pe_val(e) ((e)->vg >> 16)
#define pe_set(m, e, k, v) \
  ((e)->key = (k), (e)->vg = ((uint64_t)(v) << 16) | (m)->gen)


/* Starts loading the slot of 'key' into the cache (a hint only). */
static void map_prefetch(const PtrMap *m, const void *key) {
  if (m->cap != 0) __builtin_prefetch(&m->e[ptrhash(key, m->cap - 1)]);
}


static PtrEntry *map_find(PtrMap *m, const void *key) {
  size_t mask, i;
  if (m->cap == 0) return NULL;
  mask = m->cap - 1;
  for (i = ptrhash(key, mask);; i = (i + 1) & mask) {
    PtrEntry *e = &m->e[i];
    if (!pe_live(m, e)) return NULL;
    if (e->key == key) return e;
  }
}


static int map_grow(PtrMap *m) {
  size_t ncap = m->cap ? m->cap * 2 : 256, i;
  PtrEntry *ne = (PtrEntry *)braid__huge_alloc(ncap * sizeof(PtrEntry));
  PtrMap nm;
  if (ne == NULL) return BRAID_ENOMEM;
  nm.e = ne;
  nm.cap = ncap;
  nm.used = 0;
  nm.gen = 1;
  for (i = 0; i < m->cap; i++) {
    PtrEntry *e = &m->e[i];
    if (m->gen != 0 && pe_live(m, e)) {
      size_t j, mask = ncap - 1;
      for (j = ptrhash(e->key, mask); pe_live(&nm, &ne[j]); j = (j + 1) & mask) {
      }
      pe_set(&nm, &ne[j], e->key, pe_val(e));
      nm.used++;
    }
  }
  braid__huge_free(m->e, m->cap * sizeof(PtrEntry));
  *m = nm;
  return BRAID_OK;
}


/* Finds 'key', or inserts it with 'val' (one probe sequence for both).
** Returns the entry if it was already there, NULL if it was inserted;
** sets '*nomem' when the table could not grow. */
static PtrEntry *map_find_or_put(PtrMap *m, const void *key, uint64_t val,
                                 int *nomem) {
  size_t mask, i;
  if (braid__unlikely(m->gen == 0 || (m->used + 1) * 2 > m->cap)) {
    if (map_grow(m) != BRAID_OK) {
      *nomem = 1;
      return NULL;
    }
  }
  mask = m->cap - 1;
  for (i = ptrhash(key, mask);; i = (i + 1) & mask) {
    PtrEntry *e = &m->e[i];
    if (!pe_live(m, e)) {
      pe_set(m, e, key, val);
      m->used++;
      return NULL;
    }
    if (e->key == key) return e;
  }
}


/* Inserts 'key' (not present). Returns BRAID_OK or BRAID_ENOMEM. */
static int map_put(PtrMap *m, const void *key, uint64_t val) {
  size_t mask, i;
  if (m->gen == 0 || (m->used + 1) * 2 > m->cap) {
    int rc = map_grow(m);
    if (rc != BRAID_OK) return rc;
  }
  mask = m->cap - 1;
  for (i = ptrhash(key, mask); pe_live(m, &m->e[i]); i = (i + 1) & mask) {
  }
  pe_set(m, &m->e[i], key, val);
  m->used++;
  return BRAID_OK;
}


static void map_clear(PtrMap *m) {
  m->used = 0;
  if (m->gen == 0) return; /* never used: map_grow starts it */
  if (++m->gen > PTR_GENMASK) { /* wrapped: old stamps could look current */
    if (m->e) memset(m->e, 0, m->cap * sizeof(PtrEntry));
    m->gen = 1;
  }
}


static void map_free(PtrMap *m) {
  braid__huge_free(m->e, m->cap * sizeof(PtrEntry));
  memset(m, 0, sizeof *m);
}
/* }====================================================== */


/*
** {======================================================
** Messages
** =======================================================
*/

void braid__msg_free(braid_msg *m) {
  size_t i;
  if (m == NULL) return;
  for (i = 0; i < m->nhandles; i++) braid__handle_release(m->handles[i]);
  braid__free(m->handles);
  braid__free(m->offs);
  if (m->data != m->inline_data) braid__buf_free(m->data, m->cap);
  braid__free(m);
}


void braid__msg_release(braid_msg *m, uint32_t k) {
  if (atomic_fetch_sub_explicit(&m->pending, k, memory_order_acq_rel) == k)
    braid__msg_free(m);
}


static braid_msg *msg_new(void) {
  braid_msg *m = (braid_msg *)braid__malloc(sizeof(braid_msg));
  if (m == NULL) return NULL;
  m->next = NULL;
  m->tag = 0;
  m->len = 0;
  m->handles = NULL;
  m->nhandles = 0;
  m->data = m->inline_data;
  m->cap = sizeof m->inline_data;
  m->nitems = 1;
  m->offs = NULL;
  m->origin = 0;
  atomic_init(&m->pending, 1);
  return m;
}


braid_msg *braid__msg_alloc(size_t len, uint32_t nitems, uint32_t origin) {
  braid_msg *m = msg_new();
  if (m == NULL) return NULL;
  if (len > m->cap) {
    size_t cap;
    m->data = braid__buf_alloc(len, &cap);
    if (m->data == NULL) {
      braid__free(m);
      return NULL;
    }
    m->cap = cap;
  }
  m->len = len;
  if (nitems > 0) {
    m->offs = (uint32_t *)braid__malloc((size_t)nitems * sizeof(uint32_t));
    if (m->offs == NULL) {
      braid__msg_free(m);
      return NULL;
    }
    m->nitems = nitems;
    m->origin = origin;
    atomic_store_explicit(&m->pending, nitems, memory_order_relaxed);
  }
  return m;
}


braid_msg *braid__msg_from_bytes(const void *p, size_t len) {
  braid_msg *m = braid__msg_alloc(len, 0, 0);
  if (m != NULL && len > 0) memcpy(m->data, p, len);
  return m;
}
/* }====================================================== */


/*
** {======================================================
** Encoder
** =======================================================
*/

/* Forgets the buffer and handles of a stream that an encode raising
** left (the stream frees them: its reader may still read them). Does not
** touch the stream, which may be gone. */
static void enc_detach(Enc *e) {
  if (e->stream == NULL) return;
  e->stream = NULL;
  e->buf = NULL;
  e->cap = 0;
  e->handles = NULL;
  e->nhandles = e->caphandles = 0;
}


/* The encoder writes plain messages again (no streaming). */
static void enc_stream_off(Enc *e) {
  e->start = NULL;
  e->open_tables = 0;
  e->pub = 0;
  e->pub_next = SIZE_MAX;
}


static int enc_gc(lua_State *L) {
  Enc *e = (Enc *)lua_touserdata(L, 1);
  size_t i;
  enc_detach(e);
  for (i = 0; i < e->nhandles; i++) braid__handle_release(e->handles[i]);
  braid__free(e->handles);
  if (e->buf != NULL) braid__buf_free(e->buf, e->cap);
  braid__free(e->offs);
  braid__free(e->late);
  braid__free(e->frames);
  map_free(&e->seen);
  map_free(&e->strs);
  memset(e, 0, sizeof *e);
  return 0;
}


static int names_gc(lua_State *L) {
  NameCache *c = (NameCache *)lua_touserdata(L, 1);
  map_free(&c->map);
  c->built = 0;
  return 0;
}


static Enc *newenc(lua_State *L) {
  Enc *e = (Enc *)lua_newuserdatauv(L, sizeof(Enc), 0);
  memset(e, 0, sizeof *e);
  enc_stream_off(e);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, enc_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  return e;
}


void braid__serial_open(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ENC_KEY) == LUA_TNIL) {
    newenc(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ENC_KEY);
  }
  lua_pop(L, 1);
}


static void enc_fail(Enc *e, const char *cls, const char *what)
    __attribute__((noreturn));

static __attribute__((noreturn)) void enc_nomem(Enc *e) {
  enc_fail(e, "MemoryError", "not enough memory to encode the value");
}


/* Keeps block 'b' of a started stream for its reader. */
static void enc_retire(Enc *e, braid_stream_block b) {
  if (b.p != NULL && braid__stream_retire(e->stream, b) != BRAID_OK) {
    /* leaked rather than freed under the reader; unreachable in practice
    ** (the list holds a few dozen blocks) */
    enc_nomem(e);
  }
}


static __attribute__((noinline)) void grow(Enc *e, size_t n) {
  size_t ncap = e->cap ? e->cap : 256;
  unsigned char *nb;
  while (ncap - e->len < n) {
    if (ncap > ((size_t)-1) / 2) enc_nomem(e);
    ncap *= 2;
  }
  if (e->stream != NULL) { /* the reader may read the old buffer: keep it */
    braid_stream_block old = e->stream->cur_buf;
    nb = braid__buf_alloc(ncap, &ncap);
    if (nb == NULL) enc_nomem(e);
    if (e->len > 0) memcpy(nb, e->buf, e->len);
    e->stream->cur_buf.p = nb;
    e->stream->cur_buf.cap = ncap;
    enc_retire(e, old);
  } else if (ncap < BRAID_BIG_MIN) {
    nb = (unsigned char *)braid__realloc(e->buf, ncap);
  } else { /* a big block: copied, not realloc'd */
    nb = braid__buf_alloc(ncap, &ncap);
    if (nb != NULL && e->buf != NULL) {
      memcpy(nb, e->buf, e->len);
      braid__buf_free(e->buf, e->cap);
    }
  }
  if (nb == NULL) enc_nomem(e);
  e->buf = nb;
  e->cap = ncap;
}


static inline void reserve(Enc *e, size_t n) {
  if (braid__unlikely(e->cap - e->len < n)) grow(e, n);
}


static void put_byte(Enc *e, unsigned char b) {
  reserve(e, 1);
  e->buf[e->len++] = b;
}


static void put_bytes(Enc *e, const void *p, size_t n) {
  reserve(e, n);
  memcpy(e->buf + e->len, p, n);
  e->len += n;
}


static void put_varint(Enc *e, uint64_t v) {
  reserve(e, 10);
  while (v >= 0x80) {
    e->buf[e->len++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  e->buf[e->len++] = (unsigned char)v;
}


/* T_INT and the zigzag varint of 'v' */
static void put_int(Enc *e, lua_Integer v) {
  uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
  reserve(e, 11);
  e->buf[e->len++] = T_INT;
  while (u >= 0x80) {
    e->buf[e->len++] = (unsigned char)(u | 0x80);
    u >>= 7;
  }
  e->buf[e->len++] = (unsigned char)u;
}


static void put_u32_at(Enc *e, size_t at, uint32_t v) {
  memcpy(e->buf + at, &v, 4);
}


static void put_string(Enc *e, const char *s, size_t n) {
  reserve(e, n + 11);
  e->buf[e->len++] = T_STR;
  put_varint(e, n);
  memcpy(e->buf + e->len, s, n);
  e->len += n;
}


static void put_ref(Enc *e, size_t at) {
  reserve(e, 11);
  e->buf[e->len++] = T_REF;
  put_varint(e, at);
}


/* Whether the string written at offset 'at' (T_STR or T_STRS) is 's'. */
static int same_string(Enc *e, size_t at, const char *s, size_t n) {
  const unsigned char *p = e->buf + at + 1, *end = e->buf + e->len;
  uint64_t len = 0;
  int shift = 0;
  if (e->buf[at] != T_STR && e->buf[at] != T_STRS) return 0;
  for (;;) {
    unsigned char b = *p++;
    len |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  return len == n && (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}


/* Strings of STR_MINREF bytes or more are remembered by address (short
** strings are interned, so a key repeated in 100,000 records is one
** address): one met again becomes a T_REF to its first copy, whose tag is
** patched to T_STRS so that the decoder keeps it, and the decoder pushes
** it without interning it again. The first copy is compared before a REF
** is written, so an address that a collected string left to another one
** cannot alias. At most STR_MAXMAP strings are remembered per message, in
** a map that stays in the cache: a stream of distinct strings costs one
** probe each. */
#define STR_MINREF 2
#define STR_MAXMAP 2048

static void put_str(Enc *e, const char *s, size_t n) {
  if (n >= STR_MINREF) {
    PtrMap *m = &e->strs;
    PtrEntry *pe;
    if (m->used < STR_MAXMAP) {
      int nomem = 0;
      pe = map_find_or_put(m, s, e->len, &nomem);
      if (nomem) enc_nomem(e);
    } else {
      pe = map_find(m, s);
    }
    if (pe != NULL) {
      size_t at = (size_t)pe_val(pe);
      if (same_string(e, at, s, n)) {
        /* published: left T_STR (the decoder reads it again, see
        ** recall_string) */
        if (at >= e->pub) e->buf[at] = T_STRS;
        put_ref(e, at);
        return;
      }
      pe_set(m, pe, s, e->len); /* the address holds another string now */
    }
  }
  put_string(e, s, n);
}


/* The path segment of frame 'f' (the child it is writing). */
static PathSeg frame_seg(const Frame *f) {
  PathSeg s;
  s.kind = (SegKind)f->seg;
  s.idx = f->kind == FR_TABLE ? f->k : f->k - 1;
  s.name = f->name;
  return s;
}


/* Appends segment 's' of a path to a luaL_Buffer. */
static void addseg(Enc *e, luaL_Buffer *b, const PathSeg *s) {
  lua_State *L = e->L;
  {
    switch (s->kind) {
      case SEG_ARG:
        if (s->idx == 0)
          lua_pushliteral(L, "(__braidreduce constructor)");
        else
          lua_pushfstring(L, "(__braidreduce argument %d)", s->idx);
        break;
      case SEG_META: lua_pushliteral(L, "(metatable)"); break;
      case SEG_UPVAL: lua_pushfstring(L, "(upvalue '%s')", s->name); break;
      case SEG_KEY: {
        int k = s->idx;
        if (lua_type(L, k) == LUA_TSTRING) {
          size_t n, j;
          const char *str = lua_tolstring(L, k, &n);
          int ident = n > 0 && !(str[0] >= '0' && str[0] <= '9');
          for (j = 0; j < n && ident; j++) {
            char c = str[j];
            ident = (c == '_' || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
          }
          if (ident)
            lua_pushfstring(L, ".%s", str);
          else
            lua_pushfstring(L, "[\"%s\"]", str);
        } else if (lua_type(L, k) == LUA_TNUMBER) {
          lua_pushvalue(L, k); /* tostring a copy: never convert the key */
          lua_pushfstring(L, "[%s]", luaL_tolstring(L, -1, NULL));
          lua_remove(L, -2);
          lua_remove(L, -2);
        } else {
          lua_pushfstring(L, "[<%s>]", luaL_typename(L, k));
        }
        break;
      }
      default: return;
    }
    luaL_addvalue(b);
  }
}


/* Paths longer than twice this many segments show their first and last
** PATH_KEEP segments around " ... " and end with their length. */
#define PATH_KEEP 8

/* Appends the path of the value being encoded to a luaL_Buffer. */
static void addpath(Enc *e, luaL_Buffer *b) {
  size_t n = (size_t)e->npath, i, j = 0;
  luaL_addstring(b, e->root);
  for (i = 0; i < e->nframes; i++) n += e->frames[i].seg != SEG_NONE;
  for (i = 0; i < (size_t)e->npath + e->nframes; i++) {
    PathSeg s;
    size_t fi = i - (size_t)e->npath;
    if (i < (size_t)e->npath) {
      s = e->path[i];
    } else {
      s = frame_seg(&e->frames[fi]);
      if (s.kind == SEG_NONE) continue;
    }
    if (n <= 2 * PATH_KEEP || j < PATH_KEEP || j >= n - PATH_KEEP) {
      if (i >= (size_t)e->npath && fi >= BRAID_SPILL_KEEP && fi < e->spill_hi)
        luaL_addstring(b, "[?]"); /* spilled (not expected: see enc_unspill) */
      else
        addseg(e, b, &s);
    }
    else if (j == PATH_KEEP)
      luaL_addstring(b, " ... ");
    j++;
  }
  if (n > 2 * PATH_KEEP) {
    lua_pushfstring(e->L, " (%I levels)", (lua_Integer)n);
    luaL_addvalue(b);
  }
}


/* Drops the spill table (the slots in it are the walk's: not needed once
** the walk ended or failed). */
static void enc_drop_spill(Enc *e) {
  if (e->spilled != 0) {
    lua_pushnil(e->L);
    lua_rawsetp(e->L, LUA_REGISTRYINDEX, e);
    e->spilled = 0;
  }
  e->spill_hi = BRAID_SPILL_KEEP;
}


/* Raises 'cls' with "<path>: <what>". Leaves the encoder busy-free. */
static void enc_fail(Enc *e, const char *cls, const char *what) {
  lua_State *L = e->L;
  luaL_Buffer b;
  e->busy = 0;
  luaL_buffinit(L, &b);
  addpath(e, &b);
  luaL_addstring(&b, ": ");
  luaL_addstring(&b, what);
  luaL_pushresult(&b);
  /* free the slots of the walk first: raising calls the error class,
  ** which needs stack even when the walk used all Lua allows */
  lua_copy(L, -1, e->top + 1);
  lua_settop(L, e->top + 1);
  enc_drop_spill(e);
  braidB_raise(L, cls, "%s", lua_tostring(L, -1));
  __builtin_unreachable();
}


static void push_seg(Enc *e, SegKind kind, int idx, const char *name) {
  PathSeg *s = &e->path[e->npath++];
  s->kind = kind;
  s->idx = idx;
  s->name = name;
}


/* Slots a frame may use, with room left for raising (the error message
** is built on the stack): checked per frame. */
#define FRAME_SLOTS 40

static __attribute__((noreturn)) void enc_deep_nomem(Enc *e) {
  char msg[96];
  snprintf(msg, sizeof msg,
           "not enough memory to encode a value nested %zu levels deep",
           e->nframes + 1);
  enc_fail(e, "MemoryError", msg);
}


/* A new frame for the object at 'idx' (entered: depth is bounded by
** memory only, see enc_spill). */
static Frame *push_frame(Enc *e, int kind, int idx) {
  Frame *f;
  if (braid__unlikely(e->nframes == e->capframes)) {
    size_t ncap = e->capframes ? 2 * e->capframes : 64;
    Frame *nf = NULL;
    if (ncap <= SIZE_MAX / sizeof(Frame))
      nf = (Frame *)braid__realloc(e->frames, ncap * sizeof(Frame));
    if (nf == NULL) enc_deep_nomem(e);
    e->frames = nf;
    e->capframes = ncap;
  }
  if (!lua_checkstack(e->L, FRAME_SLOTS)) enc_deep_nomem(e);
  f = &e->frames[e->nframes++];
  f->kind = (unsigned char)kind;
  f->st = ST_LOOP;
  f->seg = SEG_NONE;
  f->idx = idx;
  f->k = 0;
  return f;
}


/* { ------ name cache */

static NameCache *getnames(lua_State *L) {
  NameCache *c;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &NAMES_KEY) == LUA_TNIL) {
    lua_pop(L, 1);
    c = (NameCache *)lua_newuserdatauv(L, sizeof(NameCache), 0);
    memset(c, 0, sizeof *c);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, names_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &NAMES_KEY);
  }
  c = (NameCache *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return c;
}


/* names[3i-2..3i] = mod, field, value (at -3, -2, -1 of the stack: consumed);
** nametab at 'tab'. */
static void names_add(lua_State *L, NameCache *c, int tab, lua_Integer *n) {
  const void *p = lua_topointer(L, -1);
  if (map_find(&c->map, p) != NULL) {
    lua_pop(L, 3);
    return;
  }
  if (map_put(&c->map, p, (uint64_t)(*n + 1)) != BRAID_OK) {
    lua_pop(L, 3);
    return; /* a missing name only means a later error, not a crash */
  }
  c->bloom[bloom_bit(p) / 64] |= (uint64_t)1 << (bloom_bit(p) % 64);
  (*n)++;
  lua_rawseti(L, tab, 3 * *n);
  lua_rawseti(L, tab, 3 * *n - 1);
  lua_rawseti(L, tab, 3 * *n - 2);
}


/* __newindex of package.loaded: a module was just loaded, so the name
** cache must be rebuilt before it is used again. Upvalue 1: the cache. */
static int loaded_newindex(lua_State *L) {
  NameCache *c = (NameCache *)lua_touserdata(L, lua_upvalueindex(1));
  lua_rawset(L, 1);
  c->built = 0;
  return 0;
}


/* Watches package.loaded for new modules (require sets new keys with
** lua_setfield, which goes through __newindex). A package.loaded that
** already has a metatable is left alone: the cache is then rebuilt only
** when a C function is not found in it. */
static void watch_loaded(lua_State *L, int loaded) {
  if (lua_getmetatable(L, loaded)) {
    lua_pop(L, 1);
    return;
  }
  lua_createtable(L, 0, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &NAMES_KEY);
  lua_pushcclosure(L, loaded_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, loaded);
}


static void names_build(lua_State *L, NameCache *c) {
  int tab, loaded;
  lua_Integer n = 0;
  const void *globals;
  luaL_checkstack(L, 12, "building braid's name cache");
  map_free(&c->map);
  memset(c->bloom, 0, sizeof c->bloom);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  globals = lua_topointer(L, -1);
  lua_pop(L, 1);
  lua_createtable(L, 64, 0);
  tab = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  loaded = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, loaded)) {
    /* key = module name, value = module */
    if (lua_type(L, -2) == LUA_TSTRING) {
      int isglobals = lua_topointer(L, -1) == globals;
      if (lua_type(L, -1) == LUA_TTABLE) {
        int mod = lua_gettop(L);
        if (!isglobals) {
          lua_pushvalue(L, -2);
          lua_pushliteral(L, "");
          lua_pushvalue(L, mod);
          names_add(L, c, tab, &n);
        }
        lua_pushnil(L);
        while (lua_next(L, mod)) {
          int t = lua_type(L, -1);
          int isclass = 0;
          if (t == LUA_TTABLE && !isglobals) {
            /* classes and metatables: what Python pickles by reference */
            int top = lua_gettop(L);
            isclass = lua_getfield(L, top, "__index") != LUA_TNIL ||
                      lua_getfield(L, top, "__call") != LUA_TNIL;
            lua_settop(L, top);
          }
          if (lua_type(L, -2) == LUA_TSTRING &&
              ((t == LUA_TFUNCTION && lua_iscfunction(L, -1)) || isclass)) {
            lua_pushvalue(L, mod - 1);
            lua_pushvalue(L, -3);
            lua_pushvalue(L, -3);
            names_add(L, c, tab, &n);
          }
          lua_pop(L, 1);
        }
      } else if (lua_iscfunction(L, -1)) {
        lua_pushvalue(L, -2);
        lua_pushliteral(L, "");
        lua_pushvalue(L, -3);
        names_add(L, c, tab, &n);
      }
    }
    lua_pop(L, 1);
  }
  watch_loaded(L, loaded);
  lua_pop(L, 1); /* loaded */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &NAMETAB_KEY);
  c->built = 1;
}


/* If the value at 'idx' (whose lua_topointer is 'p') travels by name,
** writes T_BYNAME and returns 1. */
static int put_byname(Enc *e, int idx, const void *p, int isfunc) {
  lua_State *L = e->L;
  NameCache *c = e->names != NULL ? e->names : (e->names = getnames(L));
  PtrEntry *pe;
  if (!c->built) names_build(L, c);
  if (!isfunc && !bloom_has(c, p)) return 0;
  pe = map_find(&c->map, p);
  if (pe == NULL && isfunc && !e->names_rebuilt) {
    /* maybe loaded since the cache was built */
    names_build(L, c);
    e->names_rebuilt = 1;
    pe = map_find(&c->map, p);
  }
  if (pe == NULL) return 0;
  {
    lua_Integer i = (lua_Integer)pe_val(pe);
    size_t n;
    const char *s;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &NAMETAB_KEY);
    put_byte(e, T_BYNAME);
    lua_rawgeti(L, -1, 3 * i - 2);
    s = lua_tolstring(L, -1, &n);
    put_string(e, s, n);
    lua_rawgeti(L, -2, 3 * i - 1);
    s = lua_tolstring(L, -1, &n);
    put_string(e, s, n);
    lua_pop(L, 3);
  }
  return 1;
}
/* } ------ */




/* If the object at 'idx' was met before, writes a REF, marks the first
** occurrence SHARED and returns 1; otherwise records its offset. */
/* Sets the SHARED flag of the object written at 'at' (or, once those
** bytes are published, notes it for the final copy). */
static void mark_shared(Enc *e, size_t at) {
  if (at >= e->pub) {
    e->buf[at + 1] |= F_SHARED;
    return;
  }
  if (e->nlate == e->caplate) {
    size_t ncap = e->caplate ? 2 * e->caplate : 16;
    size_t *nl = (size_t *)braid__realloc(e->late, ncap * sizeof *nl);
    if (nl == NULL) enc_nomem(e);
    e->late = nl;
    e->caplate = ncap;
  }
  e->late[e->nlate++] = at;
}


/* Writes 'v' as a varint padded to 'w' bytes at 'at' (v fits in w). */
static void put_padded_at(Enc *e, size_t at, int w, lua_Unsigned v) {
  unsigned char *q = e->buf + at;
  int j;
  for (j = 0; j < w - 1; j++) {
    *q++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *q = (unsigned char)v;
}


/* Makes the bytes written so far readable by the stream's reader,
** starting the stream (and its reader, through e->start) the first time. */
static __attribute__((noinline)) void enc_publish(Enc *e) {
  braid_stream *s = e->stream;
  if (s == NULL) {
    int rc;
    if (e->start == NULL) { /* not a streamed encode, or restarted */
      e->pub_next = SIZE_MAX;
      return;
    }
    s = braid__stream_new();
    if (s == NULL) enc_nomem(e);
    s->cur_buf.p = e->buf;
    s->cur_buf.cap = e->cap;
    s->cur_handles.p = e->handles;
    s->cur_handles.nrelease = e->nhandles;
    e->stream = s;
    rc = e->start(e->start_ud, s);
    e->start = NULL;
    if (rc != BRAID_OK) { /* nobody reads: the encoder keeps its buffer */
      s->cur_buf.p = s->cur_handles.p = NULL;
      s->cur_handles.nrelease = 0;
      e->stream = NULL;
      braid__stream_release(s);
      e->busy = 0;
      braidB_raise(e->L, "RuntimeError", "%s",
                   rc == BRAID_ESTATE ? "threads can only be started once"
                                      : "can't start new thread");
    }
  }
  braid__stream_publish(s, e->buf, e->len, e->handles, e->nhandles);
  e->pub = e->len;
  e->pub_next = e->len + e->step;
}

#define maybe_publish(e) \
  do { if (braid__unlikely((e)->len >= (e)->pub_next)) enc_publish(e); } \
  while (0)


static int seen_before(Enc *e, const void *p) {
  int nomem = 0;
  PtrEntry *pe = map_find_or_put(&e->seen, p, e->len, &nomem);
  if (pe != NULL) {
    size_t at = (size_t)pe_val(pe);
    mark_shared(e, at);
    put_ref(e, at);
    return 1;
  }
  if (nomem) enc_nomem(e);
  return 0;
}


/* Calls the __braidreduce (or __braidexport) function on top of the
** stack for the object at 'idx', writes T_REDUCE and opens a frame that
** writes the constructor and arguments it returns; the frame leaves the
** stack at 'endtop' when done. */
static void open_reduce(Enc *e, int idx, int mode, int endtop) {
  lua_State *L = e->L;
  int base = lua_gettop(L) - 1, nres;
  Frame *f;
  lua_pushvalue(L, idx);
  if (mode) lua_pushinteger(L, mode); /* __braidexport(obj, mode) */
  lua_call(L, mode ? 2 : 1, LUA_MULTRET);
  nres = lua_gettop(L) - base;
  if (nres < 1 || lua_type(L, base + 1) != LUA_TFUNCTION) {
    lua_settop(L, base);
    enc_fail(e, "TypeError", "__braidreduce must return a function");
  }
  if (nres - 1 > 250) {
    lua_settop(L, base);
    enc_fail(e, "TypeError", "__braidreduce returned too many arguments");
  }
  put_byte(e, T_REDUCE);
  put_byte(e, 0);
  put_varint(e, (uint64_t)(nres - 1));
  f = push_frame(e, FR_REDUCE, idx);
  f->base = base;
  f->n = nres;
  f->endtop = endtop;
}


/* With the metatable of the object at 'idx' on top of the stack, applies
** its __braidreduce if it has one. Returns 0 if it has none (the
** metatable stays), 1 if the object was written (the caller pops the
** metatable), 2 if a frame was opened (which pops it when done). */
static int reduce_with_mt(Enc *e, int idx) {
  lua_State *L = e->L;
  lua_pushliteral(L, "__braidreduce"); /* raw, as Lua reads metamethods */
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (seen_before(e, lua_topointer(L, idx))) {
    lua_pop(L, 1);
    return 1;
  }
  open_reduce(e, idx, 0, lua_gettop(L) - 2);
  return 2;
}


/* Process modes: a braid object crosses to another process only through
** its type's __braidexport(obj, mode) (a constructor and arguments, like
** __braidreduce; the type records the file descriptors to hand over). */
static int try_export(Enc *e, int idx) {
  lua_State *L = e->L;
  if (!lua_getmetatable(L, idx)) return 0;
  lua_pushliteral(L, "__braidexport");
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 2);
    return 0;
  }
  lua_remove(L, -2);
  if (seen_before(e, lua_topointer(L, idx))) {
    lua_pop(L, 1);
    return 1;
  }
  open_reduce(e, idx, e->procmode, lua_gettop(L) - 1);
  return 1;
}


static void cannot_send_proc(Enc *e, int idx) {
  lua_State *L = e->L;
  luaL_getmetafield(L, idx, "__name");
  enc_fail(e, "TypeError",
           lua_pushfstring(L, "a %s cannot be sent to another process "
                              "(use the objects of braid.multiprocessing)",
                           lua_tostring(L, -1)));
}


/* Tries __braidreduce on the object at 'idx'; returns 1 if it applied. */
static int try_reduce(Enc *e, int idx) {
  int r;
  if (!lua_getmetatable(e->L, idx)) return 0;
  r = reduce_with_mt(e, idx);
  if (r != 2) lua_pop(e->L, 1);
  return r != 0;
}


static int varint_len(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}


/* Holes of up to this many nils inside the sequence travel in its array
** section; a larger gap ends it (the rest travels as pairs). */
#define MAX_GAP 16

/* Writes nil, booleans, numbers and strings (returns 0); returns the
** type of anything else (not 0: nil is written). */
static inline int put_leaf(Enc *e, int idx) {
  lua_State *L = e->L;
  int t = lua_type(L, idx);
  switch (t) {
    case LUA_TNIL: put_byte(e, T_NIL); return 0;
    case LUA_TBOOLEAN:
      put_byte(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
      return 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        put_int(e, lua_tointeger(L, idx));
      } else {
        lua_Number d = lua_tonumber(L, idx);
        put_byte(e, T_FLOAT);
        put_bytes(e, &d, sizeof d);
      }
      return 0;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      put_str(e, s, n);
      return 0;
    }
    default: return t;
  }
}


/* T_TABLE flags narr nhash: one lua_next pass. Lua returns the array part
** first, in order, so the leading keys 1, 2, ... (up to the border
** lua_rawlen gives) are written as the array section; the first key that
** does not continue it ends the section, and it and the rest are written
** as pairs (also integer keys that Lua keeps in the hash part: the
** receiver gets the same table). narr is written after the pass, in the
** width reserved for lua_rawlen (a padded varint). An F_OPEN table (a
** streamed encode) also ends each section with T_END, and its counts are
** hints: they stay lua_rawlen and 0 if the header was published before
** the table ended. open_table writes the header and opens the frame,
** table_step the rest. */
static int table_step(Enc *e, Frame *f);

/* Returns as table_step does (0: written; -1: a frame to run; else a
** child of the top frame to open). */
static int open_table(Enc *e, int idx) {
  lua_State *L = e->L;
  const void *p = lua_topointer(L, idx);
  size_t hdr;
  lua_Unsigned narr;
  int w, mt = 0, open = e->open_tables;
  Frame *f;
  if (p == e->globals) {
    put_byte(e, T_GLOBALS);
    return 0;
  }
  map_prefetch(&e->seen, p);
  if (put_byname(e, idx, p, 0)) return 0;
  if (lua_getmetatable(L, idx)) {
    int r;
    mt = lua_gettop(L);
    if ((r = reduce_with_mt(e, idx)) != 0) {
      if (r == 1) lua_pop(L, 1);
      return r == 1 ? 0 : -1;
    }
  }
  if (seen_before(e, p)) {
    if (mt) lua_pop(L, 1);
    return 0;
  }
  f = push_frame(e, FR_TABLE, idx);
  narr = lua_rawlen(L, idx);
  w = varint_len(narr);
  reserve(e, 2 + (size_t)w + 4 + 1);
  hdr = e->len;
  e->buf[e->len++] = T_TABLE;
  e->buf[e->len++] = (unsigned char)((mt ? F_META : 0) | (open ? F_OPEN : 0));
  e->len += (size_t)w + 4;
  if (open) { /* the hints, should the header be published early */
    put_padded_at(e, hdr + 2, w, narr);
    put_u32_at(e, hdr + 2 + (size_t)w, 0);
  }
  f->n = mt;
  f->hdr = hdr;
  f->w = (unsigned char)w;
  f->open = (unsigned char)open;
  f->narr = narr;
  f->m = 0;
  f->nhash = 0;
  f->inarr = narr > 0;
  if (open && !f->inarr) e->buf[e->len++] = T_END; /* no array section */
  lua_pushnil(L);
  f->k = lua_gettop(L); /* the key; lua_next pushes the value at k + 1 */
  return table_step(e, f); /* at once: most tables hold leaves only */
}


static int open_value(Enc *e, int idx, int t);

/* How many tables a table step opens and writes inline, one inside the
** other, instead of returning them to encode_value's loop (their C frames:
** the only recursion, bounded). */
#define ENC_INLINE 2

/* Goes on writing the table of frame 'f' (top). Returns 0 when the table
** is written (the frame is popped); the stack index of a child for
** encode_value to open (its type in e->ctype), or -1 when a frame opened
** above this one is to run first. Leaves are written here, and tables
** inline up to ENC_INLINE deep. */
static int table_step(Enc *e, Frame *f) {
  lua_State *L = e->L;
  int idx = f->idx, k = f->k, inarr = f->inarr;
  lua_Unsigned m = f->m, narr = f->narr; /* in registers in the loop */
  uint32_t nhash = f->nhash;
resume:
  switch (f->st) {
    case ST_VAL: /* the key of a pair was a child */
      f->st = ST_POST;
      if ((e->ctype = put_leaf(e, k + 1)) != 0) {
        k++;
        goto child;
      }
      /* FALLTHROUGH */
    case ST_POST:
      lua_settop(L, k);
      maybe_publish(e);
      break;
    case ST_META:
      lua_pop(L, 2); /* __braidclass and the metatable */
      e->nframes--;
      return 0;
    default: break;
  }
  f->seg = SEG_KEY;
  while (lua_next(L, idx)) {
    if (inarr) {
      lua_Integer ik;
      if (lua_isinteger(L, k) && (ik = lua_tointeger(L, k)) > (lua_Integer)m &&
          (lua_Unsigned)ik <= narr && (lua_Unsigned)ik - m <= MAX_GAP) {
        while (++m < (lua_Unsigned)ik) put_byte(e, T_NIL);
        if (lua_isinteger(L, k + 1)) { /* the common element: inline */
          put_int(e, lua_tointeger(L, k + 1));
        } else if ((e->ctype = put_leaf(e, k + 1)) != 0) {
          f->st = ST_POST;
          k++;
          goto child;
        }
        lua_settop(L, k);
        maybe_publish(e);
        continue;
      }
      inarr = 0;
      if (f->open) put_byte(e, T_END);
    }
    nhash++;
    if ((e->ctype = put_leaf(e, k)) != 0) {
      f->st = ST_VAL;
      goto child;
    }
    if ((e->ctype = put_leaf(e, k + 1)) != 0) {
      f->st = ST_POST;
      k++;
      goto child;
    }
    lua_settop(L, k);
    maybe_publish(e);
  }
  f->seg = SEG_NONE;
  if (f->open) {
    if (inarr) put_byte(e, T_END);
    put_byte(e, T_END);
  }
  if (f->hdr >= e->pub) { /* the counts (exact hints for an F_OPEN table) */
    put_padded_at(e, f->hdr + 2, f->w, m);
    put_u32_at(e, f->hdr + 2 + f->w, nhash);
  }
  if (f->n) {
    int mt = f->n;
    f->seg = SEG_META;
    lua_pushliteral(L, "__braidclass");
    if (lua_rawget(L, mt) != LUA_TSTRING) {
      f->st = ST_META;
      e->ctype = LUA_TTABLE;
      k = mt;
      goto child;
    }
    {
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      put_byte(e, T_CLASS);
      put_string(e, s, n);
    }
    lua_pop(L, 2);
  }
  e->nframes--;
  return 0;
child: /* the value at 'k' (a key, a value or the metatable) is no leaf */
  f->m = m;
  f->nhash = nhash;
  f->inarr = (unsigned char)inarr;
  if (e->inl < ENC_INLINE) {
    size_t me = e->nframes;
    int r;
    e->inl++;
    r = open_value(e, k, e->ctype);
    e->inl--;
    if (r != 0) return r; /* not done: encode_value goes on */
    f = &e->frames[me - 1]; /* the frames may have moved */
    k = f->k;
    goto resume;
  }
  return k;
}


static int dump_writer(lua_State *L, const void *p, size_t n, void *ud) {
  Enc *e = (Enc *)ud;
  (void)L;
  put_bytes(e, p, n);
  return 0;
}


/* T_LFUNC: the dump, then a frame (func_step) for the upvalues. */
static void open_lfunction(Enc *e, int idx) {
  lua_State *L = e->L;
  size_t at, lenslot;
  lua_Debug ar;
  Frame *f;
  if (seen_before(e, lua_topointer(L, idx))) return;
  f = push_frame(e, FR_FUNC, idx);
  at = e->len;
  put_byte(e, T_LFUNC);
  put_byte(e, 0);
  reserve(e, 4);
  lenslot = e->len;
  e->len += 4;
  lua_pushvalue(L, idx);
  lua_dump(L, dump_writer, e, 0);
  lua_getinfo(L, ">u", &ar); /* pops the function */
  put_u32_at(e, lenslot, (uint32_t)(e->len - lenslot - 4));
  put_byte(e, (unsigned char)ar.nups);
  f->n = ar.nups;
  f->hdr = at;
}


/* Writes the upvalues of the function of frame 'f' (top); returns the
** stack index of a child to write first, or 0 when done (popped). */
static int func_step(Enc *e, Frame *f) {
  lua_State *L = e->L;
  int idx = f->idx;
  if (f->st == ST_POST) {
    lua_pop(L, 1); /* the upvalue just written */
    f->st = ST_LOOP;
  }
  while (f->k < f->n) {
    int i = ++f->k;
    const char *name = lua_getupvalue(L, idx, i);
    void *id = lua_upvalueid(L, idx, i);
    PtrEntry *pe;
    if (name != NULL && strcmp(name, "_ENV") == 0) {
      put_byte(e, UPV_ENV);
    } else if ((pe = map_find(&e->seen, id)) != NULL) {
      size_t fat = (size_t)(pe_val(pe) >> 8);
      mark_shared(e, fat); /* the decoder must keep that function */
      put_byte(e, UPV_JOIN);
      put_varint(e, fat);
      put_byte(e, (unsigned char)(pe_val(pe) & 0xff));
    } else {
      if ((uint64_t)f->hdr >> (PTR_VALBITS - 8) != 0)
        enc_fail(e, "ValueError", "value too large to send");
      if (map_put(&e->seen, id, ((uint64_t)f->hdr << 8) | (uint64_t)i) !=
          BRAID_OK)
        enc_nomem(e);
      put_byte(e, UPV_VAL);
      f->seg = SEG_UPVAL;
      f->name = name ? name : "?";
      if ((e->ctype = put_leaf(e, lua_gettop(L))) != 0) {
        f->st = ST_POST;
        return lua_gettop(L);
      }
    }
    lua_pop(L, 1);
  }
  e->nframes--;
  return 0;
}


/* Writes the constructor and arguments of frame 'f' (top); returns the
** stack index of a child to write first, or 0 when done (popped). */
static int reduce_step(Enc *e, Frame *f) {
  while (f->k < f->n) {
    int at = f->base + ++f->k;
    f->seg = SEG_ARG; /* k - 1: 0 for the constructor */
    if ((e->ctype = put_leaf(e, at)) != 0) return at;
  }
  lua_settop(e->L, f->endtop);
  e->nframes--;
  return 0;
}


static void cannot_send(Enc *e, int idx) {
  lua_State *L = e->L;
  const char *what;
  int t = lua_type(L, idx);
  if (t == LUA_TUSERDATA) {
    if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
      what = lua_pushfstring(L, "a userdata of type %s cannot be sent "
                                "(give its metatable a __braidreduce)",
                             lua_tostring(L, -1));
    else
      what = "a userdata cannot be sent (give its metatable a __braidreduce)";
  } else if (t == LUA_TTHREAD) {
    what = "a coroutine cannot be sent";
  } else if (t == LUA_TLIGHTUSERDATA) {
    what = "a light userdata cannot be sent";
  } else {
    what = "a C function that no loaded module holds cannot be sent "
           "(require its module inside the function instead)";
  }
  enc_fail(e, "TypeError", what);
}


static void add_handle(Enc *e, braid_handle *h) {
  if (e->nhandles == e->caphandles) {
    size_t ncap = e->caphandles ? e->caphandles * 2 : 4;
    braid_handle **nh;
    if (e->stream != NULL) { /* the reader may read the old array: keep it */
      braid_stream_block old = e->stream->cur_handles;
      nh = (braid_handle **)braid__malloc(ncap * sizeof(braid_handle *));
      if (nh == NULL) enc_nomem(e);
      if (e->nhandles > 0)
        memcpy(nh, e->handles, e->nhandles * sizeof(braid_handle *));
      e->stream->cur_handles.p = nh;
      old.nrelease = 0; /* the references moved to the new array */
      enc_retire(e, old);
    } else {
      nh = (braid_handle **)braid__realloc(e->handles,
                                           ncap * sizeof(braid_handle *));
      if (nh == NULL) enc_nomem(e);
    }
    e->handles = nh;
    e->caphandles = ncap;
  }
  e->handles[e->nhandles++] = braid__handle_retain(h);
  if (e->stream != NULL) e->stream->cur_handles.nrelease = e->nhandles;
}


/* Writes the value at 'idx' of type 't' (not a leaf), or opens a frame
** for it (see encode_value). Returns as table_step does. */
static int open_value(Enc *e, int idx, int t) {
  lua_State *L = e->L;
  size_t n = e->nframes;
  switch (t) {
    case LUA_TTABLE: return open_table(e, idx);
    case LUA_TFUNCTION:
      if (lua_iscfunction(L, idx)) {
        if (!put_byname(e, idx, lua_topointer(L, idx), 1))
          cannot_send(e, idx);
      } else {
        open_lfunction(e, idx);
      }
      break;
    case LUA_TUSERDATA: {
      braid_handle *h = braidB_tohandle(L, idx);
      if (h != NULL && e->procmode == 0) {
        put_byte(e, T_HANDLE);
        put_varint(e, e->nhandles);
        add_handle(e, h);
      } else if (h != NULL) {
        if (!try_export(e, idx)) cannot_send_proc(e, idx);
      } else if (!try_reduce(e, idx)) {
        cannot_send(e, idx);
      }
      break;
    }
    default: cannot_send(e, idx); break;
  }
  return e->nframes > n ? -1 : 0; /* a function's or a reduce's frame */
}


/* Moves the stack index fields of frames 'from' and up by 'delta' (their
** slots moved: see enc_spill). */
static void enc_shift(Enc *e, size_t from, int delta) {
  size_t i;
  for (i = from; i < e->nframes; i++) {
    Frame *f = &e->frames[i];
    f->idx += delta;
    if (f->kind == FR_TABLE) {
      if (f->k != 0) f->k += delta;
      if (f->n != 0) f->n += delta;
    } else if (f->kind == FR_REDUCE) {
      f->base += delta;
      f->endtop += delta;
    }
  }
}


/* Spills the slots of the BRAID_SPILL_W frames above 'spill_hi': from the
** object of the lowest to below the object of the one above them (a
** frame's slots all lie at or above its object, and its child's object
** above them but for a reduce's later arguments, which move with it). The
** spilled frames keep their indices: they hold again when the slots come
** back (enc_unspill), the frames above them being shifted. Called between
** steps, when no C variable but encode_value's child index (which it
** shifts too) holds a stack index. Returns how far the slots above moved
** down. */
static int enc_spill(Enc *e) {
  lua_State *L = e->L;
  size_t lo = e->spill_hi, hi = lo + BRAID_SPILL_W;
  int from = e->frames[lo].idx, n = e->frames[hi].idx - from;
  if (!lua_checkstack(L, 4)) enc_deep_nomem(e);
  if (e->spilled == 0) {
    lua_createtable(L, 3 * BRAID_SPILL_W, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, e);
  } else {
    lua_rawgetp(L, LUA_REGISTRYINDEX, e);
  }
  braidB_spill_out(L, &e->spilled, from, n);
  enc_shift(e, hi, -n);
  e->spill_hi = hi;
  return n;
}


/* Brings back the last spilled frames' slots (the walk came down to within
** 2 * PATH_KEEP frames of them: an error's path reads its last steps from
** the top frames' slots). Returns how far the slots above moved up. */
static int enc_unspill(Enc *e) {
  lua_State *L = e->L;
  size_t lo = e->spill_hi - BRAID_SPILL_W;
  int n;
  if (!lua_checkstack(L, 4)) enc_deep_nomem(e);
  lua_rawgetp(L, LUA_REGISTRYINDEX, e);
  if ((n = braidB_spill_in(L, &e->spilled, e->frames[lo].idx)) < 0)
    enc_deep_nomem(e);
  enc_shift(e, e->spill_hi, n);
  e->spill_hi = lo;
  if (e->spilled == 0) enc_drop_spill(e);
  return n;
}


/* Writes the value at 'idx': the frames it opens are run to the end, the
** top one first, each returning the children it cannot write itself. */
static void encode_value(Enc *e, int idx) {
  size_t base = e->nframes;
  int r = put_leaf(e, idx);
  if (r == 0) return;
  r = open_value(e, idx, r);
  for (;;) {
    Frame *f;
    /* a child 'r' is above the top frame's object: it moves with it */
    if (braid__unlikely(e->nframes >= e->spill_hi + 2 * BRAID_SPILL_W)) {
      int n = enc_spill(e);
      if (r > 0) r -= n;
    } else if (braid__unlikely(e->spilled != 0 &&
                               e->nframes <= e->spill_hi + 2 * PATH_KEEP)) {
      int n = enc_unspill(e);
      if (r > 0) r += n;
    }
    if (r > 0) { /* a child of the top frame */
      r = open_value(e, r, e->ctype);
      continue;
    }
    if (e->nframes <= base) break;
    f = &e->frames[e->nframes - 1];
    switch (f->kind) {
      case FR_TABLE: r = table_step(e, f); break;
      case FR_FUNC: r = func_step(e, f); break;
      default: r = reduce_step(e, f); break;
    }
  }
}


static void enc_reset(Enc *e, lua_State *L, const char *root) {
  size_t i;
  for (i = 0; i < e->nhandles; i++) /* left by an encode that raised */
    braid__handle_release(e->handles[i]);
  e->nhandles = 0;
  e->L = L;
  e->len = 0;
  e->nframes = 0;
  enc_drop_spill(e); /* left by an encode that raised */
  e->inl = 0;
  e->npath = 0;
  e->root = root;
  e->nlate = 0;
  map_clear(&e->seen);
  map_clear(&e->strs);
}


static braid_msg *enc_finish(Enc *e) {
  braid_msg *m = msg_new();
  if (m == NULL) enc_nomem(e);
  if (e->len <= m->cap) {
    memcpy(m->data, e->buf, e->len);
  } else if (e->len >= 4096) {
    /* large: the message takes the encoder's buffer instead of a copy */
    m->data = e->buf;
    m->cap = e->cap;
    e->buf = NULL;
    e->cap = 0;
  } else { /* 4096 > len: malloc'd */
    m->data = (unsigned char *)braid__malloc(e->len);
    if (m->data == NULL) {
      braid__free(m);
      enc_nomem(e);
    }
    memcpy(m->data, e->buf, e->len);
    m->cap = e->len;
  }
  m->len = e->len;
  if (e->nhandles > 0) {
    m->handles =
        (braid_handle **)braid__malloc(e->nhandles * sizeof(braid_handle *));
    if (m->handles == NULL) {
      if (m->data != m->inline_data) braid__buf_free(m->data, m->cap);
      braid__free(m);
      enc_nomem(e);
    }
    memcpy(m->handles, e->handles, e->nhandles * sizeof(braid_handle *));
    m->nhandles = e->nhandles;
    e->nhandles = 0; /* the message owns the references now */
  }
  if (e->cap > (1u << 20)) { /* do not keep a huge buffer around */
    braid__buf_free(e->buf, e->cap);
    e->buf = NULL;
    e->cap = 0;
  }
  return m;
}


/* The encoder of 'L' (the state's own unless it is busy: a __braidreduce
** that encodes gets a fresh one, left on the stack: '*pushed' = 1). */
static Enc *acquire_enc(lua_State *L, const char *root, int *pushed) {
  Enc *e;
  *pushed = 0;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ENC_KEY) == LUA_TUSERDATA &&
      !((Enc *)lua_touserdata(L, -1))->busy) {
    e = (Enc *)lua_touserdata(L, -1);
    lua_pop(L, 1); /* the registry keeps it alive */
  } else {
    lua_pop(L, 1);
    e = newenc(L);
    *pushed = 1;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  e->globals = lua_topointer(L, -1);
  lua_pop(L, 1);
  enc_detach(e); /* a streamed encode that raised */
  enc_stream_off(e);
  e->names_rebuilt = 0;
  e->names = NULL; /* looked up on first need */
  enc_reset(e, L, root);
  e->top = lua_gettop(L);
  e->busy = 1;
  e->procmode = 0;
  return e;
}


/* Numbers, booleans, nil and short strings need no encoder state: the
** message is written directly (the common queue item). Returns 0 when
** 'idx' holds something else. 'm' is fresh or a spare. */
static int write_scalar(lua_State *L, int idx, braid_msg *m) {
  unsigned char *p;
  int t = lua_type(L, idx);
  size_t n = 0;
  const char *str = NULL;
  if (t == LUA_TSTRING) {
    str = lua_tolstring(L, idx, &n);
    if (n > sizeof m->inline_data - 4) return 0;
  } else if (t != LUA_TNUMBER && t != LUA_TBOOLEAN && t != LUA_TNIL) {
    return 0;
  }
  p = m->data;
  *p++ = FORMAT_VERSION;
  *p++ = 1; /* one value */
  switch (t) {
    case LUA_TNIL: *p++ = T_NIL; break;
    case LUA_TBOOLEAN: *p++ = lua_toboolean(L, idx) ? T_TRUE : T_FALSE; break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
        *p++ = T_INT;
        while (u >= 0x80) {
          *p++ = (unsigned char)(u | 0x80);
          u >>= 7;
        }
        *p++ = (unsigned char)u;
      } else {
        lua_Number d = lua_tonumber(L, idx);
        *p++ = T_FLOAT;
        memcpy(p, &d, sizeof d);
        p += sizeof d;
      }
      break;
    default:
      *p++ = T_STR;
      *p++ = (unsigned char)n; /* n < 128: a one-byte varint */
      memcpy(p, str, n);
      p += n;
      break;
  }
  m->len = (size_t)(p - m->data);
  return 1;
}


static int isscalar(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING) {
    size_t n;
    lua_tolstring(L, idx, &n);
    return n <= sizeof(((braid_msg *)0)->inline_data) - 4;
  }
  return t == LUA_TNUMBER || t == LUA_TBOOLEAN || t == LUA_TNIL;
}


int braid__msg_is_spare(const braid_msg *m) {
  return m->data == m->inline_data && m->nhandles == 0 && m->offs == NULL &&
         m->nitems == 1;
}


int braid__encode_scalar_into(lua_State *L, int idx, braid_msg *spare) {
  if (!isscalar(L, idx)) return 0;
  spare->next = NULL;
  spare->tag = 0;
  atomic_store_explicit(&spare->pending, 1, memory_order_relaxed);
  return write_scalar(L, idx, spare);
}


static braid_msg *encode_scalar(lua_State *L, int idx) {
  braid_msg *m;
  if (!isscalar(L, idx)) return NULL;
  m = msg_new();
  if (m == NULL) braidB_nomem(L);
  write_scalar(L, idx, m);
  return m;
}


/* A streamed encode starts over (see encode_n_mode): the bytes published
** so far stay with the stream, as do the handles they name; the encoder
** writes a fresh buffer and publishes nothing more. */
static void stream_abandon(Enc *e) {
  braid_stream *s = e->stream;
  enc_retire(e, s->cur_buf);
  s->cur_buf.p = NULL;
  enc_retire(e, s->cur_handles); /* with their references */
  s->cur_handles.p = NULL;
  s->cur_handles.nrelease = 0;
  e->buf = NULL;
  e->cap = 0;
  e->handles = NULL;
  e->nhandles = e->caphandles = 0;
  e->pub = 0;
  e->pub_next = SIZE_MAX;
}


/* Ends a streamed encode: the stream's final message takes the buffer and
** the handles. If SHARED flags were due in published bytes (or the encode
** started over), the reader must decode the final message from its start:
** a copy with the flags set. */
static void stream_finish(Enc *e, int restart) {
  braid_stream *s = e->stream;
  braid_msg *m;
  if (e->nlate > 0) {
    size_t cap, i;
    unsigned char *nb = braid__buf_alloc(e->len, &cap);
    braid_stream_block old = s->cur_buf;
    if (nb == NULL) enc_nomem(e);
    memcpy(nb, e->buf, e->len);
    for (i = 0; i < e->nlate; i++) nb[e->late[i] + 1] |= F_SHARED;
    s->cur_buf.p = nb;
    s->cur_buf.cap = cap;
    enc_retire(e, old);
    e->buf = nb;
    e->cap = cap;
    e->nlate = 0;
    restart = 1;
  }
  m = msg_new();
  if (m == NULL) enc_nomem(e);
  m->data = e->buf;
  m->cap = e->cap;
  m->len = e->len;
  m->handles = e->handles;
  m->nhandles = e->nhandles;
  s->cur_buf.p = s->cur_handles.p = NULL; /* the message owns them */
  s->cur_handles.nrelease = 0;
  enc_detach(e);
  braid__stream_complete(s, m, restart);
}


/* 'start' (streamed encodes) is NULL for the others. Returns NULL when
** the encode was streamed. */
static braid_msg *encode_n_mode(lua_State *L, int idx, int n,
                                const char *const *roots, int mode,
                                int (*start)(void *, braid_stream *),
                                void *ud) {
  Enc *e;
  int i, pushed, attempt, restart = 0;
  braid_msg *m;
  idx = lua_absindex(L, idx);
  if (n == 1 && (m = encode_scalar(L, idx)) != NULL) return m;
  e = acquire_enc(L, roots[0], &pushed);
  e->procmode = mode;
  if (start != NULL) {
    size_t min, step;
    braid__stream_limits(&min, &step, 0);
    e->start = start;
    e->start_ud = ud;
    e->open_tables = 1;
    e->pub_next = min;
    e->step = step;
  }
  for (attempt = 0; attempt < 2; attempt++) {
    int rebuilt_before = e->names_rebuilt;
    if (attempt > 0 && e->stream != NULL) {
      stream_abandon(e);
      restart = 1;
    }
    enc_reset(e, L, roots[0]);
    reserve(e, 16);
    put_byte(e, FORMAT_VERSION);
    put_varint(e, (uint64_t)n);
    for (i = 0; i < n; i++) {
      e->root = roots[i];
      encode_value(e, idx + i);
    }
    /* A rebuild of the name cache mid-way may have deep-copied a module
    ** met before it: encode once more with the complete cache. */
    if (!(e->names_rebuilt && !rebuilt_before)) break;
  }
  if (e->stream != NULL) {
    stream_finish(e, restart);
    m = NULL;
  } else {
    m = enc_finish(e);
  }
  e->busy = 0;
  e->procmode = 0;
  enc_stream_off(e);
  if (pushed) lua_pop(L, 1);
  return m;
}


braid_msg *braid__encode_n(lua_State *L, int idx, int n,
                           const char *const *roots) {
  return encode_n_mode(L, idx, n, roots, 0, NULL, NULL);
}


braid_msg *braid__encode_proc(lua_State *L, int idx, int n,
                              const char *const *roots, int mode) {
  return encode_n_mode(L, idx, n, roots, mode, NULL, NULL);
}


braid_msg *braid__encode_streamed(lua_State *L, int idx, int n,
                                  const char *const *roots,
                                  int (*start)(void *, braid_stream *),
                                  void *ud) {
  return encode_n_mode(L, idx, n, roots, 0, start, ud);
}


braid_msg *braid__encode(lua_State *L, int idx, const char *root) {
  return braid__encode_n(L, idx, 1, &root);
}


static braid_msg *encode_batch_mode(lua_State *L, int tidx,
                                    lua_Integer first, lua_Integer n,
                                    const char *root, int mode) {
  Enc *e;
  int pushed, t;
  lua_Integer i;
  braid_msg *m;
  if (n < 1 || n > 0x7fffffff || first < 1 || first > LUA_MAXINTEGER - n)
    luaL_error(L, "bad batch size");
  tidx = lua_absindex(L, tidx);
  e = acquire_enc(L, root, &pushed);
  e->procmode = mode;
  if (e->offscap < (size_t)n) { /* kept by the encoder if an item raises */
    uint32_t *no = (uint32_t *)braid__realloc(e->offs,
                                              (size_t)n * sizeof(uint32_t));
    if (no == NULL) enc_nomem(e);
    e->offs = no;
    e->offscap = (size_t)n;
  }
  reserve(e, 16);
  put_byte(e, FORMAT_VERSION);
  put_varint(e, (uint64_t)n);
  for (i = first; i < first + n; i++) {
    if (e->len > 0xffffffffu)
      enc_fail(e, "ValueError", "batch too large (over 4 GiB)");
    e->offs[i - first] = (uint32_t)e->len;
    t = lua_rawgeti(L, tidx, i);
    if (t == LUA_TNUMBER && lua_isinteger(L, -1)) { /* the common item */
      lua_Integer v = lua_tointeger(L, -1);
      uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
      reserve(e, 11);
      e->buf[e->len++] = T_INT;
      while (u >= 0x80) {
        e->buf[e->len++] = (unsigned char)(u | 0x80);
        u >>= 7;
      }
      e->buf[e->len++] = (unsigned char)u;
      lua_pop(L, 1);
      continue;
    }
    if (t == LUA_TNUMBER || t == LUA_TBOOLEAN || t == LUA_TNIL) {
      /* cannot fail and share nothing: no path, no maps to clear */
      encode_value(e, lua_gettop(L));
      lua_pop(L, 1);
      continue;
    }
    lua_pushinteger(L, i); /* the key, for error paths */
    e->npath = 0;
    push_seg(e, SEG_KEY, lua_gettop(L), NULL);
    encode_value(e, lua_gettop(L) - 1);
    lua_pop(L, 2);
    map_clear(&e->seen); /* items share nothing */
    map_clear(&e->strs);
  }
  e->npath = 0;
  m = enc_finish(e);
  m->nitems = (uint32_t)n;
  m->offs = e->offs; /* the message takes the offsets */
  e->offs = NULL;
  e->offscap = 0;
  atomic_store_explicit(&m->pending, (unsigned)n, memory_order_relaxed);
  e->busy = 0;
  e->procmode = 0;
  if (pushed) lua_pop(L, 1);
  return m;
}


braid_msg *braid__encode_batch(lua_State *L, int tidx, lua_Integer n,
                               const char *root) {
  return encode_batch_mode(L, tidx, 1, n, root, 0);
}


braid_msg *braid__encode_batch_range(lua_State *L, int tidx,
                                     lua_Integer first, lua_Integer n,
                                     const char *root) {
  return encode_batch_mode(L, tidx, first, n, root, 0);
}


braid_msg *braid__encode_batch_range_proc(lua_State *L, int tidx,
                                          lua_Integer first, lua_Integer n,
                                          const char *root, int mode) {
  return encode_batch_mode(L, tidx, first, n, root, mode);
}
/* }====================================================== */


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
  braid_stream *stream; /* being written: 'end' may move on (dec_more) */
  DFrame *frames; /* 'local' or a DecFrames block */
  size_t nframes, capframes;
  size_t spill_hi;     /* frames below (from BRAID_SPILL_KEEP) are spilled */
  lua_Integer spilled; /* entries in the spill table */
  int inl; /* table steps run inline by dec_open (at most DEC_INLINE) */
  int cache; /* stack index of the table of shared objects, 0 if none */
  size_t origin; /* offset of 'base' in the message it was cut from */
  int gcstopped; /* this decode stopped the collector (big messages) */
  /* The first shared objects (the keys repeated in every record) are
  ** also kept in stack slots, direct-mapped by offset: recalling one is a
  ** lua_pushvalue instead of a lookup in the cache table. */
  int slots;                  /* index of the first of them, 0 if none */
  size_t slot_at[NREFSLOTS];  /* offset kept in each (0: none) */
  DFrame local[DEC_LOCAL];
} Dec;


static void dec_init_frames(Dec *d) {
  d->inl = 0;
  d->frames = d->local;
  d->nframes = 0;
  d->spill_hi = BRAID_SPILL_KEEP;
  d->spilled = 0;
  d->capframes = DEC_LOCAL;
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


#define unzigzag(u) ((lua_Integer)(((u) >> 1) ^ (~((u) & 1) + 1)))


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
  if (!lua_checkstack(d->L, FRAME_SLOTS)) dec_deep_nomem(d);
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


static int recall_cached(Dec *d, uint64_t at) {
  lua_State *L = d->L;
  int t;
  if (at <= (uint64_t)LUA_MAXINTEGER && lua_type(L, d->cache) == LUA_TTABLE) {
    if ((t = lua_rawgeti(L, d->cache, (lua_Integer)at)) != LUA_TNIL) return t;
    lua_pop(L, 1);
  }
  if (recall_string(d, at)) return LUA_TSTRING;
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

/* T_TABLE (tag read): pushes the table and opens its frame. */
static void open_dtable(Dec *d, size_t at) {
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
  f = dec_push(d, DF_TABLE);
  f->flags = flags;
  f->n = narr;
  f->nhash = nhash;
  f->i = 1;
  lua_createtable(L, (int)narr, (int)nhash);
  f->t = lua_gettop(L);
  if (flags & F_SHARED) remember(d, at);
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
        if (at_end(d)) break;
        if (i > (uint64_t)LUA_MAXINTEGER) dec_fail(d, "array too long");
      } else if (i > n) {
        break;
      }
      if (d->p < d->end && *d->p == T_INT) { /* the common element: inline */
        uint64_t u;
        d->p++;
        u = get_varint(d);
        lua_pushinteger(L, unzigzag(u));
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


/* { ------ bytecode check
** Lua's undump trusts the sizes in a binary chunk: it allocates what they
** say before reading (a 5-byte count asks for gigabytes), recurses once per
** nested function without a limit, lets the closure's upvalue count (a
** header byte) differ from its prototype's, after which lua_getupvalue
** and lua_upvaluejoin index past the closure, and (5.4.4) writes as many
** upvalue names as the chunk says into the upvalue array. A call of the
** function trusts numparams against maxstacksize before any hook runs.
** So before lua_load, walk the
** chunk as lundump.c of Lua 5.4 reads it and check that every count fits
** in the bytes that remain, the nesting is bounded and the two upvalue
** counts agree. (This bounds loading; running bytecode from untrusted
** bytes stays unsafe, as Lua's manual says.) */

typedef struct DumpCk {
  const unsigned char *p, *end;
} DumpCk;

/* lundump's loadUnsigned: MSB first, the last byte has bit 0x80 set. */
static int ck_unsigned(DumpCk *c, size_t limit, size_t *out) {
  size_t x = 0;
  limit >>= 7;
  for (;;) {
    unsigned char b;
    if (c->p >= c->end) return 0;
    b = *c->p++;
    if (x >= limit) return 0;
    x = (x << 7) | (b & 0x7f);
    if (b & 0x80) break;
  }
  *out = x;
  return 1;
}

/* A count of elements of at least 'minsize' bytes each. */
static int ck_count(DumpCk *c, size_t minsize, size_t *n) {
  return ck_unsigned(c, (size_t)0x7fffffff, n) &&
         *n <= (size_t)(c->end - c->p) / minsize;
}

static int ck_skip(DumpCk *c, size_t n) {
  if (n > (size_t)(c->end - c->p)) return 0;
  c->p += n;
  return 1;
}

static int ck_string(DumpCk *c) { /* size+1, 0 for NULL */
  size_t n;
  return ck_unsigned(c, (size_t)-1, &n) && (n == 0 || ck_skip(c, n - 1));
}

#define OP_VARARGPREP 81 /* lopcodes.h of Lua 5.4 */

/* Lua's parser nests functions at most LUAI_MAXCCALLS (200) deep, so a
** dump nested deeper is not one lua_dump wrote: refused, which also bounds
** this recursion. */
#define DUMP_MAXDEPTH 200

static int ck_function(DumpCk *c, int depth, size_t *nupvals) {
  size_t n, i, x;
  unsigned char numparams, is_vararg, maxstack;
  uint32_t first;
  if (depth > DUMP_MAXDEPTH) return 0;
  if (!ck_string(c) || !ck_unsigned(c, 0x7fffffff, &x) || /* source, lines */
      !ck_unsigned(c, 0x7fffffff, &x) || (size_t)(c->end - c->p) < 3)
    return 0;
  numparams = c->p[0];
  is_vararg = c->p[1];
  maxstack = c->p[2];
  c->p += 3;
  /* A call (luaD_precall, then OP_VARARGPREP, both before any hook runs)
  ** writes 'numparams' slots, and VARARGPREP's A more, into a frame of
  ** 'maxstacksize' slots; an empty code array runs off its end. */
  if (numparams > maxstack || is_vararg > 1) return 0;
  if (!ck_count(c, 4, &n) || n == 0) return 0;
  memcpy(&first, c->p, 4);
  if (is_vararg && ((first & 0x7f) != OP_VARARGPREP ||
                    ((first >> 7) & 0xff) != numparams))
    return 0;
  if (!ck_skip(c, n * 4)) return 0;
  if (!ck_count(c, 1, &n)) return 0; /* constants */
  for (i = 0; i < n; i++) {
    if (c->p >= c->end) return 0;
    switch (*c->p++) {
      case 0: case 1: case 17: break; /* nil, false, true */
      case 3: case 19: /* integer, float */
        if (!ck_skip(c, 8)) return 0;
        break;
      case 4: case 20: /* short, long string: never NULL */
        if (!ck_unsigned(c, (size_t)-1, &x) || x == 0 || !ck_skip(c, x - 1))
          return 0;
        break;
      default: return 0;
    }
  }
  if (!ck_count(c, 3, nupvals) || !ck_skip(c, *nupvals * 3)) return 0;
  if (!ck_count(c, 1, &n)) return 0; /* nested functions */
  for (i = 0; i < n; i++)
    if (!ck_function(c, depth + 1, &x)) return 0;
  if (!ck_count(c, 1, &n) || !ck_skip(c, n)) return 0; /* lineinfo */
  if (!ck_count(c, 2, &n)) return 0; /* abslineinfo: pc, line */
  for (i = 0; i < 2 * n; i++)
    if (!ck_unsigned(c, 0x7fffffff, &x)) return 0;
  if (!ck_count(c, 3, &n)) return 0; /* locvars: name, startpc, endpc */
  for (i = 0; i < n; i++)
    if (!ck_string(c) || !ck_unsigned(c, 0x7fffffff, &x) ||
        !ck_unsigned(c, 0x7fffffff, &x))
      return 0;
  /* upvalue names: Lua 5.4.4's loadDebug stores them into the upvalue
  ** array of the size read above, with no check (a heap overflow that
  ** 5.4.6 fixed): the count must be 0 or that size */
  if (!ck_count(c, 1, &n) || (n != 0 && n != *nupvals)) return 0;
  for (i = 0; i < n; i++)
    if (!ck_string(c)) return 0;
  return 1;
}

/* The header lua_dump writes on this build (lua_load checks its fields
** again; here only its length and the version matter). */
#define DUMP_HEADER_LEN (4 + 1 + 1 + 6 + 1 + 1 + 1 + 8 + 8)

static int check_dump(const unsigned char *p, size_t n) {
  DumpCk c;
  size_t nupvals;
  if (n < DUMP_HEADER_LEN + 1 || memcmp(p, LUA_SIGNATURE, 4) != 0 ||
      p[4] != 0x54 || p[5] != 0 || p[12] != 4 /* sizeof(Instruction) */ ||
      p[13] != sizeof(lua_Integer) || p[14] != sizeof(lua_Number))
    return 0;
  c.p = p + DUMP_HEADER_LEN + 1;
  c.end = p + n;
  return ck_function(&c, 0, &nupvals) && c.p == c.end &&
         nupvals == p[DUMP_HEADER_LEN]; /* the closure's upvalue count */
}
/* } ------ */


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
  if (!check_dump(d->p, n)) dec_fail(d, "malformed function");
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
  if (!lua_checkstack(L, (int)nargs + FRAME_SLOTS)) dec_deep_nomem(d);
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


/* Pushes one value and returns its type, or opens a frame for a table,
** Lua function or reduced object and returns -1 (decode_value runs it). */
static int dec_open(Dec *d) {
  lua_State *L = d->L;
  size_t at = (size_t)(d->p - d->base) + d->origin;
  unsigned char tag = get_byte(d);
  switch (tag) {
    case T_NIL: lua_pushnil(L); return LUA_TNIL;
    case T_FALSE: lua_pushboolean(L, 0); return LUA_TBOOLEAN;
    case T_TRUE: lua_pushboolean(L, 1); return LUA_TBOOLEAN;
    case T_INT: {
      uint64_t u = get_varint(d);
      lua_pushinteger(L, unzigzag(u));
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
      if (tag == T_STRS) remember(d, at);
      return LUA_TSTRING;
    }
    case T_TABLE:
      open_dtable(d, at);
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
  if (get_byte(d) != FORMAT_VERSION) {
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


static int decode_msg(lua_State *L, const braid_msg *m, int gcstopped) {
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
  return decode_values(&d);
}


/* (message) -> its values, with the collector stopped */
static int decode_nogc(lua_State *L) {
  const braid_msg *m = (const braid_msg *)lua_touserdata(L, 1);
  lua_pop(L, 1);
  return decode_msg(L, m, 1);
}


/* Messages from this size on are decoded with the collector stopped: what
** a decode allocates stays reachable (it is the value being built), so
** the cycles that the growing heap would start in the middle of it, each
** traversing everything built so far, are wasted work (a third of the
** time for 100,000 records in a fresh worker). The collector runs again
** around the user code a decode may call (require, constructors) and is
** restarted however the decode ends. */
#define NOGC_MIN_BYTES 65536

int braid__decode(lua_State *L, const braid_msg *m) {
  int top, status;
  if (m->len < NOGC_MIN_BYTES || !lua_gc(L, LUA_GCISRUNNING))
    return decode_msg(L, m, 0);
  if (!lua_checkstack(L, 4)) return luaL_error(L, "out of stack space");
  top = lua_gettop(L);
  lua_pushcfunction(L, decode_nogc);
  lua_pushlightuserdata(L, (void *)m);
  lua_gc(L, LUA_GCSTOP);
  status = lua_pcall(L, 1, LUA_MULTRET, 0);
  lua_gc(L, LUA_GCRESTART);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}


static int decode_protected(lua_State *L) {
  const braid_msg *m = (const braid_msg *)lua_touserdata(L, 1);
  lua_pop(L, 1);
  return braid__decode(L, m);
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
  int top = lua_gettop(L), status, n;
  if (!lua_checkstack(L, 4)) {
    braid__msg_free(m);
    return luaL_error(L, "out of stack space");
  }
  lua_pushcfunction(L, decode_protected);
  lua_pushlightuserdata(L, m);
  status = lua_pcall(L, 1, LUA_MULTRET, 0);
  braid__msg_free(m);
  if (status != LUA_OK) return lua_error(L);
  n = lua_gettop(L) - top;
  return n;
}


void braid__item_bounds(const braid_msg *m, uint32_t idx, size_t *off,
                        size_t *end) {
  if (m->offs != NULL) {
    *off = m->offs[idx];
    *end = idx + 1 < m->nitems ? m->offs[idx + 1] : m->len;
  } else {
    size_t p = 1;
    while (p < m->len && (m->data[p] & 0x80)) p++; /* the value count */
    *off = p + 1;
    *end = m->len;
  }
}


/* Pushes a number, boolean or nil item without any allocation (so it
** cannot raise); returns 0 for other items. */
static int push_scalar(lua_State *L, const unsigned char *p,
                       const unsigned char *end) {
  if (p >= end) return 0;
  switch (*p) {
    case T_NIL: lua_pushnil(L); return p + 1 == end;
    case T_FALSE: lua_pushboolean(L, 0); return p + 1 == end;
    case T_TRUE: lua_pushboolean(L, 1); return p + 1 == end;
    case T_INT: {
      uint64_t u = 0;
      int shift = 0;
      for (p++; p < end && shift <= 63; shift += 7) {
        unsigned char b = *p++;
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
          if (p != end) return 0;
          lua_pushinteger(L, (lua_Integer)((u >> 1) ^ (~(u & 1) + 1)));
          return 1;
        }
      }
      return 0;
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


/* Decodes item 'idx' of 'm' with the decoder 'd' (whose cache slot is
** shared by all the items of one call: items never reference each
** other's objects, and offsets are unique within a message). */
static void decode_item(Dec *d, const braid_msg *m, uint32_t idx) {
  size_t off, end;
  braid__item_bounds(m, idx, &off, &end);
  d->base = m->data;
  d->origin = m->origin;
  d->p = m->data + off;
  d->end = m->data + end;
  if (off > end || end > m->len) dec_fail(d, "bad item bounds");
  if (push_scalar(d->L, d->p, d->end)) return;
  d->handles = m->handles;
  d->nhandles = m->nhandles;
  d->nframes = 0;
  decode_value(d);
  if (d->p != d->end) dec_fail(d, "trailing bytes in item");
}


typedef struct ItemsJob {
  const braid_item *items;
  size_t n;
  lua_Integer k;
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
  lua_settop(L, 2);
  lua_pushnil(L); /* 3: cache of shared objects */
  d.cache = 3;
  if (!tab && !lua_checkstack(L, (int)j->n + 4))
    return luaL_error(L, "too many values");
  if (tab) { /* each item goes straight into the table: one stack check */
    if (!lua_checkstack(L, 12)) return luaL_error(L, "out of stack space");
    for (i = 0; i < j->n; i++) {
      decode_item(&d, j->items[i].m, j->items[i].idx);
      lua_rawseti(L, tab, j->k + (lua_Integer)i);
    }
    return 0;
  }
  for (i = 0; i < j->n; i++) {
    if (!lua_checkstack(L, 12)) return luaL_error(L, "out of stack space");
    decode_item(&d, j->items[i].m, j->items[i].idx);
  }
  return (int)j->n;
}


int braid__decode_items_with(lua_State *L, const braid_item *items,
                             size_t n, int tidx, lua_Integer k,
                             void (*done)(braid_msg *, void *), void *ud) {
  ItemsJob job;
  int top, status;
  size_t i;
  if (n == 0) return 0;
  if (n == 1 && tidx == 0) { /* the common get(): no pcall for scalars */
    size_t off, end;
    braid__item_bounds(items[0].m, items[0].idx, &off, &end);
    if (off <= end && end <= items[0].m->len &&
        lua_checkstack(L, 1) &&
        push_scalar(L, items[0].m->data + off, items[0].m->data + end)) {
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
    status = lua_pcall(L, 2, tidx ? 0 : (int)n, 0);
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
  const unsigned char *p, *e;
  uint64_t u = 0;
  int shift = 0;
  if (off >= end || end > m->len || end - off > 11) return 0;
  p = m->data + off;
  e = m->data + end;
  if (*p++ != T_INT) return 0;
  while (p < e) {
    unsigned char b = *p++;
    u |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (p != e) return 0;
      *v = (lua_Integer)((u >> 1) ^ (~(u & 1) + 1));
      return 1;
    }
    shift += 7;
  }
  return 0;
}


int braid__decode_range(lua_State *L, const braid_msg *m, uint32_t first,
                        uint32_t n, int tidx, lua_Integer k) {
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
        push_scalar(L, m->data + off, m->data + end))
      return 1;
  }
  tidx = tidx ? lua_absindex(L, tidx) : 0;
  if (!lua_checkstack(L, 12) || (!tidx && !lua_checkstack(L, (int)n + 12)))
    return luaL_error(L, "out of stack space");
  memset(&d, 0, sizeof d);
  dec_init_frames(&d);
  d.L = L;
  lua_pushnil(L); /* cache of shared objects, shared by the items */
  d.cache = lua_gettop(L);
  for (i = 0; i < n; i++) {
    if (tidx && m->offs != NULL && int_item(m, first + i, &v))
      lua_pushinteger(L, v);
    else
      decode_item(&d, m, first + i);
    if (tidx) lua_rawseti(L, tidx, k + (lua_Integer)i);
  }
  lua_remove(L, d.cache);
  return tidx ? 0 : (int)n;
}


/* }====================================================== */

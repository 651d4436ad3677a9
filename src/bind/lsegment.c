/*
** lsegment.c: big strings made in the block Lua keeps them in, with no
** copy between: strings from out-of-line segments (memseg.h), the big
** strings another process handed over in a memfd (one copy out of a
** read-only mapping into a block prefaulted first: the decoder's T_SEG in
** ldecode.c and a Connection's -2 frames in lconn.c), and the big bodies
** a Connection reads from its socket (lconn.c).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include "lauxlib.h"
#include "lbind.h"
#include "lcodec.h"
#include "memseg.h"
#include "segblock.h"


/* A mapping of a segment being copied, unmapped by __gc if the copy
** raises (out of memory): a raise never leaves a mapping behind. */
typedef struct SegMap {
  const void *p;
  size_t n;
} SegMap;

static int segmap_gc(lua_State *L) {
  SegMap *sm = (SegMap *)lua_touserdata(L, 1);
  if (sm->p != NULL) braid__seg_unmap(sm->p, sm->n);
  sm->p = NULL;
  return 0;
}


/* A big string is made where Lua will keep it: the block Lua will use
** for the string is allocated first (through the state's allocator), its
** bytes are written into the place of the string's bytes in it (a
** segment copied as its sender fills it, braid__seg_copy; a message's
** body read from its socket), and then
** lua_pushlstring is handed that very block for the string (the wrapper
** below returns it for the allocation of that size) with the bytes
** already in place as its source: its copy is from an address to itself,
** which glibc's memcpy skips. If Lua asks for another size (a Lua whose
** string header is not the one measured), the bytes are copied once more
** from the block, which is then freed: slower, never wrong. */
static size_t str_hdr; /* offsetof(TString, contents), measured once */
#define PROBE_LEN 1024

/* Segment strings built in place (the block handed to Lua) and copied
** once more (it was not): core._seg_count's third and fourth values. */
static _Atomic long n_inplace, n_copied;
/* Segment strings made of the segment's own pages (push_mapped): the
** fifth value. */
static _Atomic long n_mapped;

void braidB_segment_counts(long *inplace, long *copied, long *mapped) {
  *inplace = atomic_load_explicit(&n_inplace, memory_order_relaxed);
  *copied = atomic_load_explicit(&n_copied, memory_order_relaxed);
  *mapped = atomic_load_explicit(&n_mapped, memory_order_relaxed);
}

typedef struct Handoff {
  lua_Alloc f;
  void *ud;
  void *block; /* handed to Lua at its allocation of 'size' bytes */
  size_t size;
  size_t probe; /* 0, or measuring: the size of the first allocation */
} Handoff;

static void *handoff_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  Handoff *h = (Handoff *)ud;
  if (ptr == NULL && h->block != NULL && nsize == h->size) {
    void *b = h->block;
    h->block = NULL;
    return b;
  }
  /* the string's block: the first one bigger than the probe (a call
  ** may allocate a CallInfo first) */
  if (ptr == NULL && h->probe == 1 && nsize > PROBE_LEN + 1 &&
      nsize < PROBE_LEN + 256)
    h->probe = nsize;
  return h->f(h->ud, ptr, osize, nsize);
}

static int handoff_push(lua_State *L) {
  const char *src = (const char *)lua_touserdata(L, 1);
  lua_pushlstring(L, src, (size_t)lua_tointeger(L, 2));
  return 1;
}

/* lua_pushlstring(src, n) run protected with the wrapper in place. */
static int handoff_pcall(lua_State *L, Handoff *h, const void *src, size_t n) {
  int rc;
  lua_pushcfunction(L, handoff_push);
  lua_pushlightuserdata(L, (void *)src);
  lua_pushinteger(L, (lua_Integer)n);
  lua_setallocf(L, handoff_alloc, h);
  rc = lua_pcall(L, 2, 1, 0);
  lua_setallocf(L, h->f, h->ud);
  return rc;
}

static void measure_hdr(lua_State *L) {
  static const char probe[PROBE_LEN] = { 0 }; /* not a short string */
  Handoff h;
  memset(&h, 0, sizeof h);
  h.f = lua_getallocf(L, &h.ud);
  h.probe = 1;
  if (handoff_pcall(L, &h, probe, sizeof probe) != LUA_OK) lua_error(L);
  lua_pop(L, 1);
  if (h.probe > sizeof probe + 1 && h.probe < sizeof probe + 256)
    str_hdr = h.probe - sizeof probe - 1;
}


/* Hands the block 'h->block' of 'h->size' bytes (the string's 'n' bytes
** in place at str_hdr, a zero after them) to Lua, and pushes the string;
** '*taken' counts it when Lua took the block. A block not taken is freed
** through the state's allocator (after its bytes were copied). */
static void push_block(lua_State *L, Handoff *h, size_t n,
                       _Atomic long *taken) {
  void *b = h->block;
  int rc = handoff_pcall(L, h, (char *)b + str_hdr, n);
  if (h->block != NULL) h->f(h->ud, b, h->size, 0); /* not taken */
  if (rc == LUA_OK)
    atomic_fetch_add_explicit(h->block == NULL ? taken : &n_copied, 1,
                              memory_order_relaxed);
  else
    lua_error(L);
}


int braidB_pushfilled(lua_State *L, size_t n, braidB_filler fill, void *ud) {
  Handoff h;
  char *dst;
  int rc;
  if (n == 0) {
    lua_pushliteral(L, "");
    return 0;
  }
  luaL_checkstack(L, 6, "receiving a string");
  if (str_hdr == 0) measure_hdr(L);
  if (n > (SIZE_MAX - 64) / 2) braidB_nomem(L);
  h.f = lua_getallocf(L, &h.ud);
  h.probe = 0;
  h.size = str_hdr + n + 1;
  h.block = h.f(h.ud, NULL, LUA_TSTRING, h.size);
  if (h.block == NULL) braidB_nomem(L);
  dst = (char *)h.block + str_hdr;
  rc = fill(ud, dst, n);
  if (rc != 0) {
    int e = errno;
    h.f(h.ud, h.block, h.size, 0);
    errno = e;
    return rc;
  }
  dst[n] = '\0';
  push_block(L, &h, n, &n_inplace);
  return 0;
}


/* The filler of a segment's string: its bytes as its sender writes them,
** into a block prefaulted first (the copy then waits on no page fault). */
static int fill_from_map(void *map, char *dst, size_t n) {
  braid__seg_prefault(dst, n);
  return braid__seg_copy(map, n, dst) != 0 ? -1 : 0;
}

/* Raises what a failed wait for a segment's bytes means (errno 'e' of
** braid__seg_copy). */
static void seg_error(lua_State *L, int e) {
  /* braidB_raise takes the interrupt (pending -> raised), so that an
  ** uncaught one still ends the process by SIGINT */
  if (e == EINTR) braidB_raise(L, "KeyboardInterrupt", "");
  if (e == EPIPE)
    braidB_raise(L, "EOFError", "the sender of a segment died while "
                 "filling it");
  braidB_oserror(L, e, e == EINVAL ? "a segment's control page is "
                 "not valid" : "the sender of a segment gave up");
}

void braidB_pushsegmap(lua_State *L, const void *map, size_t n) {
  if (braidB_pushfilled(L, n, fill_from_map, (void *)map) != 0)
    seg_error(L, errno);
}


/* The string of the segment 'fd' (its mapping 'map', of 'n' bytes) made
** of the segment's own pages (segblock.h), once its sender has filled
** it: 1 pushed; 0 when it cannot be (a small one, a state whose allocator
** would not know the block, a segment not sealed): the caller copies. */
static int push_mapped(lua_State *L, int fd, const void *map, size_t n) {
  Handoff h;
  if (str_hdr == 0) measure_hdr(L);
  if (str_hdr == 0 || str_hdr + n + 1 < BRAID_BIG_MIN ||
      !braidB_takes_segblocks(L))
    return 0;
  if (braid__seg_wait(map, n) != 0) seg_error(L, errno);
  memset(&h, 0, sizeof h);
  h.f = lua_getallocf(L, &h.ud);
  h.size = str_hdr + n + 1;
  h.block = braid__seg_block_map(fd, n, str_hdr);
  if (h.block == NULL) return 0;
  push_block(L, &h, n, &n_mapped);
  return 1;
}


void braidB_pushsegment(lua_State *L, int fd, size_t n) {
  SegMap *sm;
  if (n == 0) {
    lua_pushliteral(L, "");
    return;
  }
  luaL_checkstack(L, 6, "decoding a segment");
  sm = (SegMap *)lua_newuserdatauv(L, sizeof *sm, 0);
  sm->p = NULL;
  sm->n = n;
  if (luaL_newmetatable(L, "braid.segmap")) {
    lua_pushcfunction(L, segmap_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  sm->p = braid__seg_map(fd, n);
  if (sm->p == NULL)
    braidB_oserror(L, errno, errno == EINVAL ? "a segment's control page "
                   "is not valid" : "cannot map a segment");
  /* a raise: __gc unmaps */
  if (!push_mapped(L, fd, sm->p, n)) braidB_pushsegmap(L, sm->p, n);
  braid__seg_unmap(sm->p, n);
  sm->p = NULL;
  lua_remove(L, -2);
}

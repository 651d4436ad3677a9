/*
** lsegment.c: strings made from out-of-line segments (memseg.h), the
** big strings another process handed over in a memfd: one copy out of a
** read-only mapping into a block prefaulted first. The decoder's T_SEG
** (ldecode.c) and a Connection's -2 frames (lconn.c) use it.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include "lauxlib.h"
#include "lbind.h"
#include "lcodec.h"
#include "memseg.h"


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


/* While a segment's string is made, the state's allocator is wrapped so
** that the block Lua allocates for it is prefaulted before Lua copies
** into it (braid__seg_prefault: with glibc's malloc, a big block is a
** fresh mapping faulted in a page at a time, which costs twice the
** copy). The block is still the state's allocator's, freed by it. */
typedef struct SegAlloc {
  lua_Alloc f;
  void *ud;
  size_t n; /* the string's length: its block is the first this big */
  const void *src;
} SegAlloc;

static void *seg_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  SegAlloc *sa = (SegAlloc *)ud;
  void *p = sa->f(sa->ud, ptr, osize, nsize);
  if (p != NULL && ptr == NULL && nsize >= sa->n && sa->n != 0) {
    braid__seg_prefault(p, nsize);
    sa->n = 0; /* once */
  }
  return p;
}

/* Run protected, so that a memory error restores the allocator. */
static int seg_push(lua_State *L) {
  SegAlloc *sa = (SegAlloc *)lua_touserdata(L, 1);
  lua_pushlstring(L, (const char *)sa->src, (size_t)lua_tointeger(L, 2));
  return 1;
}


/* Pushes the 'n' bytes at 'src' as a string made in a prefaulted block;
** LUA_OK, or the status of the failure with its error pushed. */
static int try_push_prefaulted(lua_State *L, const void *src, size_t n) {
  SegAlloc sa;
  int rc;
  sa.f = lua_getallocf(L, &sa.ud);
  sa.n = n;
  sa.src = src;
  lua_pushcfunction(L, seg_push);
  lua_pushlightuserdata(L, &sa);
  lua_pushinteger(L, (lua_Integer)n);
  lua_setallocf(L, seg_alloc, &sa);
  rc = lua_pcall(L, 2, 1, 0);
  lua_setallocf(L, sa.f, sa.ud);
  return rc;
}


void braidB_pushbytes_prefaulted(lua_State *L, const void *src, size_t n) {
  luaL_checkstack(L, 4, "decoding a segment");
  if (try_push_prefaulted(L, src, n) != LUA_OK) lua_error(L);
}


void braidB_pushsegment(lua_State *L, int fd, size_t n) {
  SegMap *sm;
  int rc;
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
  if (sm->p == NULL) braidB_oserror(L, errno, "cannot map a segment");
  rc = try_push_prefaulted(L, sm->p, n);
  braid__seg_unmap(sm->p, n);
  sm->p = NULL;
  if (rc != LUA_OK) lua_error(L);
  lua_remove(L, -2);
}

/*
** ladopt.c: a state that started on malloc moves onto a pool of braid's
** (alloc.h) for what it allocates from then on.
**
** Why: a process's main state (a child that gets a big table from an
** mp.Queue, a parent that recv()s one) allocates through luaL_newstate's
** realloc. Decoding 100,000 records there builds 300,000 blocks: glibc's
** bookkeeping for each, and a page fault per fresh 4 KiB of heap (glibc
** gives the heap's top back as soon as a big value is collected, so every
** transfer faults it in again; in a forked child some pages are also
** copied on write). Measured on the mp.Queue row of bench/bigx_bench.lua:
** a third of the child's decode (docs/HACKING.md, "Streamed puts between
** processes"). Worker states never pay it: their pool hands out blocks
** from chunks on huge pages. Callers: the reader of a process stream
** (lpstream.c) and every decode of a big message or of a stream
** (ldecode.c, NOGC_MIN_BYTES: core.loads, a main thread's Queue get).
**
** How: lua_setallocf installs 'hybrid', which takes new blocks from an
** owned pool (braid__salloc_new_owned: it can tell its blocks by address)
** and hands every block it does not own back to the allocator it replaced.
** Big blocks (BRAID_BIG_MIN and more) stay with that allocator too (a
** pool's big block has no address test), but for the strings made of a
** segment's own pages (segblock.h), which only the mapper can free. The
** pool is freed on the last free lua_close makes (the block holding the
** main thread and the global state, lstate.c's LG, freed by the
** allocator that made it); until then an adoption is kept on a list so
** that leak checkers see it.
**
** Only luaL_newstate's own allocator is replaced: any other is the
** embedder's (limits, accounting, failure injection: lfailalloc.c) and is
** left alone. BRAID_WORKER_ALLOC=system disables pools, and this with
** them. A state is used by one thread at a time, so 'hybrid' takes no
** lock.
** See LICENSE for copyright and license.
*/
#include <stdatomic.h>
#include <string.h>

#include "lbind.h"
#include "lock.h"
#include "segblock.h"
#include "thp.h"

typedef struct Adopted {
  struct Adopted *next, *prev;
  lua_Alloc f; /* the allocator replaced, and its ud */
  void *ud;
  braid_salloc *pool;
  const void *last; /* lua_close's last free: the state's LG block */
} Adopted;

static braid__lock adopted_lock;
static Adopted *adopted; /* reachable while their states live */


static void adopted_drop(Adopted *a) {
  braid__lock_acquire(&adopted_lock);
  if (a->prev) a->prev->next = a->next;
  else adopted = a->next;
  if (a->next) a->next->prev = a->prev;
  braid__lock_release(&adopted_lock);
  braid__salloc_free(a->pool);
  braid__free(a);
}


static void *hybrid(void *ud, void *ptr, size_t osize, size_t nsize) {
  Adopted *a = (Adopted *)ud;
  void *np;
  if (ptr == NULL) { /* osize is a type tag */
    if (nsize == 0) return NULL;
    if (nsize >= BRAID_BIG_MIN) return a->f(a->ud, NULL, osize, nsize);
    return braid__salloc_realloc(a->pool, NULL, osize, nsize);
  }
  if (braid__salloc_owns(a->pool, ptr)) {
    if (nsize < BRAID_BIG_MIN)
      return braid__salloc_realloc(a->pool, ptr, osize, nsize);
    /* grown past the pool's blocks: to the other allocator */
    if ((np = a->f(a->ud, NULL, 0, nsize)) == NULL) return NULL;
    memcpy(np, ptr, osize);
    braid__salloc_realloc(a->pool, ptr, osize, 0);
    return np;
  }
  if (osize >= BRAID_BIG_MIN && braid__seg_block_owns(ptr)) {
    /* a string made of a segment's mapping (segblock.h) */
    np = nsize == 0 ? NULL : hybrid(ud, NULL, LUA_TSTRING, nsize);
    if (nsize != 0 && np == NULL) return NULL; /* Lua keeps the old block */
    return braid__seg_block_move(ptr, osize, np, nsize);
  }
  np = a->f(a->ud, ptr, osize, nsize);
  if (nsize == 0 && ptr == a->last) adopted_drop(a); /* the state is gone */
  return np;
}


/* luaL_newstate's allocator (the same for every state of this Lua):
** learnt once from a state made for the purpose. */
static lua_Alloc standard_alloc(void) {
  static _Atomic(lua_Alloc) std;
  lua_Alloc f = atomic_load_explicit(&std, memory_order_acquire);
  if (f == NULL) {
    lua_State *t = luaL_newstate();
    if (t == NULL) return NULL;
    f = lua_getallocf(t, NULL);
    lua_close(t);
    atomic_store_explicit(&std, f, memory_order_release);
  }
  return f;
}


/* The pool L allocates from (a worker's, or the one it was moved onto),
** or NULL. */
static braid_salloc *pool_of(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  if (f == hybrid) return ((Adopted *)ud)->pool;
  if (f == braid__salloc_alloc) return (braid_salloc *)ud;
  return NULL;
}


int braidB_adopt_pool(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud), std;
  lua_State *main;
  Adopted *a;
  if (f == hybrid || f == braid__salloc_alloc) {
    braid__salloc_sync_fork(pool_of(L));
    return 1;
  }
  if ((std = standard_alloc()) == NULL || f != std) return 0;
  if ((a = (Adopted *)braid__calloc(1, sizeof *a)) == NULL) return 0;
  if ((a->pool = braid__salloc_new_owned()) == NULL) {
    braid__free(a);
    return 0;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main = lua_tothread(L, -1);
  lua_pop(L, 1);
  a->f = f;
  a->ud = ud;
  /* lstate.c: the main thread lies LUA_EXTRASPACE bytes into the block
  ** that lua_close frees last (LX, the first member of LG) */
  a->last = (const char *)main - LUA_EXTRASPACE;
  braid__lock_acquire(&adopted_lock);
  a->next = adopted;
  if (adopted) adopted->prev = a;
  adopted = a;
  braid__lock_release(&adopted_lock);
  lua_setallocf(L, hybrid, a);
  return 1;
}


int braidB_takes_segblocks(lua_State *L) {
  lua_Alloc f = lua_getallocf(L, NULL);
  if (f == hybrid || f == braid__salloc_alloc) return 1;
  return braidB_adopt_pool(L);
}


/* core._alloc_kind() -> "pool" (a worker's), "adopted" (moved onto one
** here), "standard" (luaL_newstate's) or "other": the specs' probe. */
int braidB_alloc_kind(lua_State *L) {
  lua_Alloc f = lua_getallocf(L, NULL);
  const char *k = "other";
  if (f == braid__salloc_alloc) k = "pool";
  else if (f == hybrid) k = "adopted";
  else if (f == standard_alloc()) k = "standard";
  lua_pushstring(L, k);
  return 1;
}


/* core._huge_pages([rule]) -> the rule for fresh memory in use
** ("adaptive", "never" or "always", thp.h), after setting it for the
** whole process when given: the specs' hook. */
int braidB_huge_pages_hook(lua_State *L) {
  static const char *const names[] = { "adaptive", "never", "always", NULL };
  int set = lua_isnoneornil(L, 1) ? 0 : luaL_checkoption(L, 1, NULL, names) + 1;
  lua_pushstring(L, names[braid__thp_mode(set) - 1]);
  return 1;
}


int braidB_pool_prefork(lua_State *L, int foreign) {
  return braid__salloc_prefork(pool_of(L), foreign);
}


void braidB_pool_postfork(lua_State *L) {
  braid__salloc_postfork(pool_of(L));
}


/* core._fork_window(open) -> chunks left out (0 when closing): around
** the start of a pool's worker processes, which other threads fork while
** this one waits (braid__salloc_prefork, foreign: none of their children
** runs this state, so every chunk is left out). */
int braidB_fork_window_hook(lua_State *L) {
  if (lua_toboolean(L, 1)) {
    lua_pushinteger(L, braidB_pool_prefork(L, 1));
  } else {
    braidB_pool_postfork(L);
    lua_pushinteger(L, 0);
  }
  return 1;
}


void braidB_pool_after_fork(lua_State *L) {
  braid__salloc_after_fork(pool_of(L)); /* NULL: the cache of chunks only */
}


/* core._pool_stats() -> nil when the state is on no pool, or a table:
** mapped, free, stashed, fresh, left (braid__salloc_stats) */
int braidB_pool_stats_hook(lua_State *L) {
  braid_salloc *p = pool_of(L);
  braid_salloc_stats st;
  if (p == NULL) {
    lua_pushnil(L);
    return 1;
  }
  braid__salloc_stats(p, &st);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)st.mapped);
  lua_setfield(L, -2, "mapped");
  lua_pushinteger(L, (lua_Integer)st.free);
  lua_setfield(L, -2, "free");
  lua_pushinteger(L, (lua_Integer)st.stashed);
  lua_setfield(L, -2, "stashed");
  lua_pushinteger(L, (lua_Integer)st.fresh);
  lua_setfield(L, -2, "fresh");
  lua_pushinteger(L, (lua_Integer)st.left);
  lua_setfield(L, -2, "left");
  return 1;
}

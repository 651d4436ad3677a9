/*
** lready.c: worker states made ahead of need, by parked OS threads.
** See LICENSE for copyright and license.
**
** A Thread's start used to pay, on its critical path, for a new Lua
** state and its base set-up (lua_newstate, the lazy libraries,
** braid's preload hook): about a third of a start + join. A pool thread
** (park.h) that has finished a run and will park makes the next run's
** state right away instead, while nobody waits for it; the next run on
** that OS thread takes it and only adds what depends on the thread
** (paths, context, the runtime's initializers). The state is fresh:
** made after the previous run's state was closed, never seen by any
** Lua code, holding only what every worker state starts with, so no
** global, upvalue, registry entry or module of one run reaches the next.
**
** Bounded: one state per parked OS thread (the pool's bound), freed with
** the thread when it leaves the pool (idle timeout, a lowered bound,
** _test.trim), through a thread-specific key's destructor. A parked
** thread holds its prepared state (about 12.5 KiB: the allocator pool's
** first chunk) while parked; a running thread holds none.
**
** Only for the default allocator (a runtime with its own allocator
** makes its states itself), and never while allocation failures are
** injected: the allocations of a preparation are not injection sites
** (braid__fail_quiet: they happen at times a test cannot order), and a
** state prepared before the arming is dropped, so that an armed test
** sees every allocation of the state its thread uses.
*/
#include <pthread.h>
#include <stdlib.h>

#include "alloc.h"
#include "failalloc.h"
#include "lbind.h"
#include "park.h"
#include "thread.h"

typedef struct Ready {
  lua_State *L;
  braid_salloc *pool;
} Ready;

static atomic_long n_made;  /* states prepared in all */
static atomic_long n_taken; /* of them, taken by a run */
static atomic_long n_live;  /* prepared and not yet taken or closed */

static pthread_key_t key;
static int key_ok; /* set once by init_key */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;


static void drop(Ready *r) {
  if (r->L != NULL) {
    lua_close(r->L);
    atomic_fetch_sub_explicit(&n_live, 1, memory_order_relaxed);
  }
  braid__salloc_free(r->pool);
  r->L = NULL;
  r->pool = NULL;
}


/* At the OS thread's exit (it left the pool). */
static void destroy(void *p) {
  Ready *r = (Ready *)p;
  drop(r);
  free(r);
}


static void init_key(void) {
  key_ok = pthread_key_create(&key, destroy) == 0;
}


static int fail_armed(void) {
  return atomic_load_explicit(&braid__fail_on, memory_order_relaxed) != 0;
}


void braidB_ready_setup(lua_State *L) {
  braidB_openlibs_lazy(L);
  braidB_openbraid_lazy(L);
}


static int setup_protected(lua_State *L) {
  braidB_ready_setup(L);
  return 0;
}


void braidB_ready_prepare(braid_runtime_t *rt) {
  Ready *r;
  braid_salloc *pool;
  lua_State *L;
  int quiet;
  if (rt->alloc != NULL || fail_armed() || !braid__park_listed())
    return;
  pthread_once(&key_once, init_key);
  if (!key_ok) return;
  r = (Ready *)pthread_getspecific(key);
  if (r == NULL) {
    if ((r = (Ready *)calloc(1, sizeof *r)) == NULL) return;
    if (pthread_setspecific(key, r) != 0) {
      free(r);
      return;
    }
  }
  if (r->L != NULL) return;
  /* BRAID_WORKER_ALLOC=system (no pool): states made at start, as before */
  if ((pool = braid__salloc_new()) == NULL) return;
  quiet = braid__fail_quiet(1);
  L = lua_newstate(braid__salloc_alloc, pool);
  if (L != NULL) {
    lua_pushcfunction(L, setup_protected);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      lua_close(L);
      L = NULL;
    }
  }
  braid__fail_quiet(quiet);
  if (L == NULL) {
    braid__salloc_free(pool);
    return;
  }
  r->L = L;
  r->pool = pool;
  atomic_fetch_add_explicit(&n_made, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&n_live, 1, memory_order_relaxed);
}


lua_State *braidB_ready_take(braid_runtime_t *rt, braid_salloc **pool) {
  Ready *r;
  lua_State *L;
  if (rt->alloc != NULL) return NULL;
  pthread_once(&key_once, init_key);
  if (!key_ok) return NULL;
  r = (Ready *)pthread_getspecific(key);
  if (r == NULL || r->L == NULL) return NULL;
  if (fail_armed()) { /* an armed test sees a whole state made */
    drop(r);
    return NULL;
  }
  L = r->L;
  *pool = r->pool;
  r->L = NULL;
  r->pool = NULL;
  atomic_fetch_add_explicit(&n_taken, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&n_live, 1, memory_order_relaxed);
  return L;
}


void braidB_ready_counts(long *made, long *taken, long *live) {
  *made = atomic_load_explicit(&n_made, memory_order_relaxed);
  *taken = atomic_load_explicit(&n_taken, memory_order_relaxed);
  *live = atomic_load_explicit(&n_live, memory_order_relaxed);
}

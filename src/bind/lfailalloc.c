/*
** lfailalloc.c: the lua_Alloc that makes a Lua state's own allocations take
** part in allocation failure injection (src/core/failalloc.h), for states
** whose allocator is not braid's worker pool: a test's main state.
** See LICENSE for copyright and license.
*/
#include "failalloc.h"
#include "lbind.h"


/* Lua calls its allocator to grow (ptr NULL: osize is a type tag) or
** shrink blocks; only a new block or a growth may fail (Lua copes with a
** failed shrink too, but a test learns nothing more from it). */
#define may_fail(ptr, osize, nsize) ((ptr) == NULL || (nsize) > (osize))

void *braidB_fail_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  braidB_fail_alloc_ud *w = (braidB_fail_alloc_ud *)ud;
  if (nsize != 0 && may_fail(ptr, osize, nsize) &&
      braid__fail_check(braid__fail_site_main))
    return NULL;
  return w->f(w->ud, ptr, osize, nsize);
}

/*
** fnent.c: function entries (pool.h): a function encoded once, shared by
** the tasks of a pool that call it, refcounted; 'uid' tells a worker whether
** it has decoded this entry before (never reused in the process).
** See LICENSE for copyright and license.
*/
#include "pool.h"

static atomic_ullong fn_uids;

braid_fnent *braid__fnent_new(braid_msg *m) {
  braid_fnent *e = (braid_fnent *)braid__malloc(sizeof *e);
  if (e == NULL) return NULL;
  atomic_init(&e->refs, 1);
  e->uid = atomic_fetch_add_explicit(&fn_uids, 1, memory_order_relaxed) + 1;
  e->m = m;
  return e;
}


braid_fnent *braid__fnent_retain(braid_fnent *e) {
  atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
  return e;
}


void braid__fnent_release(braid_fnent *e) {
  if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
    braid__msg_free(e->m);
    braid__free(e);
  }
}

/*
** handle.c: reference counts of shared objects.
** See LICENSE for copyright and license.
*/
#include "handle.h"

static atomic_long live_objects;


void braid__handle_init(braid_handle *h, const braid_handle_type *type) {
  atomic_init(&h->refs, 1);
  h->type = type;
  atomic_fetch_add_explicit(&live_objects, 1, memory_order_relaxed);
}


braid_handle *braid__handle_retain(braid_handle *h) {
  atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
  return h;
}


void braid__handle_release(braid_handle *h) {
  /* acq_rel: the destroying thread must see every write made by the
  ** threads that released before it. */
  if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
    atomic_fetch_sub_explicit(&live_objects, 1, memory_order_relaxed);
    h->type->destroy(h);
  }
}


int braid__handle_unref(braid_handle *h) {
  return atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1;
}


void braid__handle_destroy(braid_handle *h) {
  atomic_fetch_sub_explicit(&live_objects, 1, memory_order_relaxed);
  h->type->destroy(h);
}


long braid__handle_refs(const braid_handle *h) {
  return atomic_load_explicit(&h->refs, memory_order_relaxed);
}


long braid__handle_live(void) {
  return atomic_load_explicit(&live_objects, memory_order_relaxed);
}


long braid_live_objects(void) {
  return braid__handle_live();
}

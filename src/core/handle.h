/*
** handle.h: the common header of every object shared between workers.
** See LICENSE for copyright and license.
**
** Queues, locks, events, threads, shared memory... start with a
** braid_handle: an atomic reference count and a type. Each Lua state that
** uses an object holds one reference through its proxy userdata; a
** transfer buffer that carries the object holds one more until it is
** freed. The object is destroyed, on whichever thread drops the last
** reference, by its type's 'destroy'.
*/
#ifndef BRAID_HANDLE_H
#define BRAID_HANDLE_H

#include "braidint.h"

typedef struct braid_handle braid_handle;

typedef struct braid_handle_type {
  const char *name; /* Lua metatable name, "braid.Lock" */
  void (*destroy)(braid_handle *h); /* frees the object; refs reached 0 */
} braid_handle_type;

struct braid_handle {
  atomic_long refs;
  const braid_handle_type *type;
};

/* Sets refs to 1 (the creator's reference) and counts the object live. */
BRAIDI_FUNC void braid__handle_init(braid_handle *h,
                                    const braid_handle_type *type);
BRAIDI_FUNC braid_handle *braid__handle_retain(braid_handle *h);
/* Drops one reference; destroys the object when it was the last. */
BRAIDI_FUNC void braid__handle_release(braid_handle *h);
BRAIDI_FUNC long braid__handle_refs(const braid_handle *h);
/* Drops one reference without destroying: returns 1 when it was the last,
** and the caller must then call braid__handle_destroy (used where the
** drop must happen under a lock that the destruction would free). */
BRAIDI_FUNC int braid__handle_unref(braid_handle *h);
BRAIDI_FUNC void braid__handle_destroy(braid_handle *h);
/* Objects initialized and not yet destroyed, process-wide. */
BRAIDI_FUNC long braid__handle_live(void);

#endif

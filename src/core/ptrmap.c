/*
** ptrmap.c: growth and clearing of the pointer hash (ptrmap.h; lookups
** are inline there).
** See LICENSE for copyright and license.
*/
#include <string.h>

#include "alloc.h"
#include "ptrmap.h"


void braid__ptrmap_unforked(braid_ptrmap *m) { m->unforked = 1; }


/* In a forked child, a table left out of the fork is not there: the map
** forgets it (empty again, as zeroed). */
static void forget_if_forked(braid_ptrmap *m) {
  if (m->left && m->epoch != braid__fork_epoch()) {
    m->e = NULL;
    m->cap = m->used = 0;
    m->gen = 0;
    m->left = 0;
  }
}


/* Moves the map to a table of 'ncap' slots (a power of 2, more than it
** holds); the entries of the old one are rehashed, when it holds any (a
** cleared map's old entries are of an older generation: not read). */
static int grow_to(braid_ptrmap *m, size_t ncap) {
  size_t i;
  braid_ptrent *ne;
  braid_ptrmap nm;
  int left = 0;
  ne = m->unforked ? (braid_ptrent *)braid__huge_alloc_unforked(
                         ncap * sizeof(braid_ptrent), &left)
                   : (braid_ptrent *)braid__huge_alloc(
                         ncap * sizeof(braid_ptrent));
  if (ne == NULL) return BRAID_ENOMEM;
  nm.e = ne;
  nm.cap = ncap;
  nm.used = 0;
  nm.gen = 1;
  nm.unforked = m->unforked;
  nm.left = (unsigned char)left;
  nm.epoch = braid__fork_epoch();
  for (i = 0; m->gen != 0 && m->used > 0 && i < m->cap; i++) {
    braid_ptrent *e = &m->e[i];
    if (braid__pe_live(m, e)) {
      size_t j, mask = ncap - 1;
      for (j = braid__ptrhash(e->key, mask); braid__pe_live(&nm, &ne[j]);
           j = (j + 1) & mask) {
      }
      braid__pe_set(&nm, &ne[j], e->key, braid__pe_val(e));
      nm.used++;
    }
  }
  braid__huge_free(m->e, m->cap * sizeof(braid_ptrent));
  *m = nm;
  return BRAID_OK;
}


int braid__ptrmap_grow(braid_ptrmap *m) {
  forget_if_forked(m);
  return grow_to(m, m->cap ? m->cap * 2 : 256);
}


int braid__ptrmap_reserve(braid_ptrmap *m, size_t n) {
  size_t ncap;
  forget_if_forked(m);
  if (m->gen != 0 && n <= m->cap / 4) return BRAID_OK;
  /* at once to the size the doublings would reach: one new table, not a
  ** chain of them each allocated and rehashed */
  for (ncap = m->cap ? m->cap * 2 : 256; n > ncap / 4; ncap *= 2)
    if (ncap > ((size_t)-1) / (4 * sizeof(braid_ptrent))) return BRAID_ENOMEM;
  return grow_to(m, ncap);
}


int braid__ptrmap_put(braid_ptrmap *m, const void *key, uint64_t val) {
  size_t mask, i;
  if (m->gen == 0 || (m->used + 1) * 2 > m->cap) {
    int rc = braid__ptrmap_grow(m);
    if (rc != BRAID_OK) return rc;
  }
  mask = m->cap - 1;
  for (i = braid__ptrhash(key, mask); braid__pe_live(m, &m->e[i]);
       i = (i + 1) & mask) {
  }
  braid__pe_set(m, &m->e[i], key, val);
  m->used++;
  return BRAID_OK;
}


void braid__ptrmap_clear(braid_ptrmap *m) {
  forget_if_forked(m);
  m->used = 0;
  if (m->gen == 0) return; /* never used: braid__ptrmap_grow starts it */
  if (++m->gen > BRAID_PTR_GENMASK) { /* wrapped: old stamps could look current */
    if (m->e) memset(m->e, 0, m->cap * sizeof(braid_ptrent));
    m->gen = 1;
  }
}


void braid__ptrmap_free(braid_ptrmap *m) {
  unsigned char unforked = m->unforked;
  forget_if_forked(m);
  braid__huge_free(m->e, m->cap * sizeof(braid_ptrent));
  memset(m, 0, sizeof *m);
  m->unforked = unforked;
}

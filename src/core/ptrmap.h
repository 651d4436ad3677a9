/*
** ptrmap.h: an open-addressing hash from pointers to 48-bit values,
** cleared in O(1) between uses. The encoder remembers with it the objects
** and strings a message already holds (offset of their first copy) and
** the values that travel by name. Knows nothing of what the pointers
** point to.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_PTRMAP_H
#define BRAID_PTRMAP_H

#include "braidint.h"

/* 16 bytes: the pointer, and a 48-bit value over a 16-bit generation
** stamp (entries of older generations are empty). */
typedef struct braid_ptrent {
  const void *key;
  uint64_t vg; /* val << 16 | gen */
} braid_ptrent;

#define BRAID_PTR_VALBITS 48
#define BRAID_PTR_GENMASK 0xffffu

/* Clearing the map between messages costs one increment of 'gen'. A
** zeroed map is empty and valid. */
typedef struct braid_ptrmap {
  braid_ptrent *e;
  size_t cap, used; /* cap is a power of 2 or 0 */
  uint32_t gen;     /* 1..BRAID_PTR_GENMASK, 0 before the first use */
  unsigned char unforked; /* its tables are left out of forks */
  unsigned char left;     /* 'e' is one left out (braid__huge_alloc_unforked) */
  unsigned epoch;         /* braid__fork_epoch when 'e' was made */
} braid_ptrmap;

/* Nearby addresses land in nearby slots: Lua allocates the tables of a
** structure close together, so walking it touches the map sequentially
** instead of missing the cache on every lookup. Each 4 KiB of addresses
** (64 slots) starts at a pseudo-random slot: folding the upper bits in by
** XOR mapped regions a power of two apart (a worker's allocator chunks)
** onto nearly the same slots, where the probe runs grew with the entries
** (a 300,000-node list a worker had received took 3-4 s to encode, now
** 0.1 s). */
static inline size_t braid__ptrhash(const void *p, size_t mask) {
  uintptr_t x = (uintptr_t)p;
  uint64_t off = ((uint64_t)(x >> 12) * UINT64_C(0x9E3779B97F4A7C15)) >> 32;
  return (size_t)((x >> 6) + off) & mask;
}

#define braid__pe_live(m, e) (((e)->vg & BRAID_PTR_GENMASK) == (m)->gen)
#define braid__pe_val(e) ((e)->vg >> 16)
#define braid__pe_set(m, e, k, v) \
  ((e)->key = (k), (e)->vg = ((uint64_t)(v) << 16) | (m)->gen)

/* From now on the map's tables are left out of forks
** (braid__huge_alloc_unforked): in a forked child the map starts empty
** again at its next clear, grow, reserve or free, never touching the
** parent's table (not there). A map whose owner may find or put in a
** child before any of those must not be made so. */
BRAIDI_FUNC void braid__ptrmap_unforked(braid_ptrmap *m);
/* Doubles the table (or makes the first one). BRAID_OK or BRAID_ENOMEM
** (the map is then unchanged). */
BRAIDI_FUNC int braid__ptrmap_grow(braid_ptrmap *m);
/* Grows the table until 'n' entries fill at most a quarter of it. Near
** half full, the windows of nearby slots that pages of addresses get
** overlap into long runs: 1,000 tables allocated one after another took
** 12.8 probes each to insert at 49% (2,048 slots), 1.2 at 24%. A batch of
** many small items reserves ahead (lencode.c). BRAID_OK or BRAID_ENOMEM
** (the map is then as it was or grown part of the way, still valid). */
BRAIDI_FUNC int braid__ptrmap_reserve(braid_ptrmap *m, size_t n);
/* Inserts 'key' (not present). Returns BRAID_OK or BRAID_ENOMEM. */
BRAIDI_FUNC int braid__ptrmap_put(braid_ptrmap *m, const void *key,
                                  uint64_t val);
/* Empties the map, keeping its table. */
BRAIDI_FUNC void braid__ptrmap_clear(braid_ptrmap *m);
/* Frees the table; the map is then zeroed (empty, reusable). */
BRAIDI_FUNC void braid__ptrmap_free(braid_ptrmap *m);

/* Starts loading the slot of 'key' into the cache (a hint only). */
static inline void braid__ptrmap_prefetch(const braid_ptrmap *m,
                                          const void *key) {
  if (m->cap != 0) __builtin_prefetch(&m->e[braid__ptrhash(key, m->cap - 1)]);
}

/* The entry of 'key', or NULL. */
static inline braid_ptrent *braid__ptrmap_find(braid_ptrmap *m,
                                               const void *key) {
  size_t mask, i;
  if (m->cap == 0) return NULL;
  mask = m->cap - 1;
  for (i = braid__ptrhash(key, mask);; i = (i + 1) & mask) {
    braid_ptrent *e = &m->e[i];
    if (!braid__pe_live(m, e)) return NULL;
    if (e->key == key) return e;
  }
}

/* Finds 'key', or inserts it with 'val' (one probe sequence for both).
** Returns the entry if it was already there, NULL if it was inserted;
** sets '*nomem' when the table could not grow (nothing inserted). */
static inline braid_ptrent *braid__ptrmap_find_or_put(braid_ptrmap *m,
                                                      const void *key,
                                                      uint64_t val,
                                                      int *nomem) {
  size_t mask, i;
  if (braid__unlikely(m->gen == 0 || (m->used + 1) * 2 > m->cap)) {
    if (braid__ptrmap_grow(m) != BRAID_OK) {
      *nomem = 1;
      return NULL;
    }
  }
  mask = m->cap - 1;
  for (i = braid__ptrhash(key, mask);; i = (i + 1) & mask) {
    braid_ptrent *e = &m->e[i];
    if (!braid__pe_live(m, e)) {
      braid__pe_set(m, e, key, val);
      m->used++;
      return NULL;
    }
    if (e->key == key) return e;
  }
}

#endif

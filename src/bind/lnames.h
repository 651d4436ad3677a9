/*
** lnames.h: the values that travel by name. C functions, the tables of
** loaded modules and "classes" (tables with an '__index' or '__call'
** field stored in a module) are not copied: the encoder writes their
** module name and field, and the receiver resolves them through
** 'require'. The names are looked up in a per-state cache built from
** package.loaded on first use, rebuilt when a module is loaded (a
** __newindex on package.loaded) and once per encode when a C function is
** not found in it.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LNAMES_H
#define BRAID_LNAMES_H

#include "lua.h"
#include "braidint.h"
#include "ptrmap.h"

/* Pointer -> index i in the names table (registry), where names[3i-2] is
** the module, names[3i-1] the field, names[3i] the value (kept alive by
** the cache). */
#define BRAID_NAME_BLOOM_BITS 8192

typedef struct braid_names {
  braid_ptrmap map;
  int built;
  /* a bit per hash of the pointers in 'map': most tables that are not
  ** in it (all of a big structure's) are told by one bit, in L1 */
  uint64_t bloom[BRAID_NAME_BLOOM_BITS / 64];
} braid_names;

static inline unsigned braidB_names_bit(const void *p) {
  uintptr_t x = (uintptr_t)p;
  return (unsigned)((x >> 4) ^ (x >> 17)) & (BRAID_NAME_BLOOM_BITS - 1);
}

/* 0 when 'p' is surely not in the cache (it must be built). */
#define braidB_names_may_have(c, p) \
  (((c)->bloom[braidB_names_bit(p) / 64] >> (braidB_names_bit(p) % 64)) & 1)

/* The cache of 'L' (made on first use; not built yet maybe). */
BRAIDI_FUNC braid_names *braidB_names_get(lua_State *L);

/* (Re)builds the cache from package.loaded. MAY RAISE (memory). */
BRAIDI_FUNC void braidB_names_build(lua_State *L, braid_names *c);

/* Pushes the module name and the field ("" for the module itself) of
** entry 'i' (a value found in c->map). */
BRAIDI_FUNC void braidB_names_push(lua_State *L, lua_Integer i);

#endif

/*
** ldecraw.h: the decoder's fast paths that need no decoder state
** (ldecraw.c): the leaves of a fresh table's array part written straight
** into its slots, and scalar items pushed without a decoder.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LDECRAW_H
#define BRAID_LDECRAW_H

#include <stdint.h>

#include "braidconf.h"
#include "lua.h"

/* Writes elements *i, *i + 1, ... (at most up to n) of the table at stack
** index 't' from the bytes at 'p' (before 'end') straight into its array
** part while they are numbers, booleans or nils, and returns the first
** byte not read (*i: the next element's index). Returns 'p' with *i
** unchanged when the table is not eligible: the raw walk inactive
** (lrawtab.h's self-check failed, BRAID_RAWWALK=0, the test hook), or an
** array part that is not exactly what lua_createtable(L, n, ...) made
** (size n, its limit n). Never writes a collectable value (no write
** barrier is needed for the values it writes); stops before anything it
** does not know or that is not wholly in [p, end) (a string, a table, a
** long or overlong varint, a float cut short), which the caller reads
** through the API (and reports if corrupt). Nothing here calls Lua after
** the check: the array cannot move under it. */
BRAIDI_FUNC const unsigned char *braidB_dec_rawfill(lua_State *L, int t,
                                                    const unsigned char *p,
                                                    const unsigned char *end,
                                                    uint64_t *i, uint64_t n);

/* core._rawfill() -> how many slots this thread's decodes wrote raw since
** the last call (a test hook; the count restarts at 0). */
BRAIDI_FUNC int braidB_rawfill_hook(lua_State *L);

/* Pushes a number, boolean or nil item that is the whole of [p, end)
** without any allocation (so it cannot raise); returns 0 (nothing pushed)
** for other items. */
BRAIDI_FUNC int braidB_push_scalar(lua_State *L, const unsigned char *p,
                                   const unsigned char *end);

/* Whether [p, end) is exactly one T_INT (the common result of a map):
** 1 and its value in '*v', else 0. */
BRAIDI_FUNC int braidB_int_bytes(const unsigned char *p,
                                 const unsigned char *end, lua_Integer *v);

#endif

/*
** ldecraw.h: the decoder's fast paths that need no decoder state
** (ldecraw.c): the leaves of a fresh table's array part written straight
** into its slots, and scalar items pushed without a decoder.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LDECRAW_H
#define BRAID_LDECRAW_H

#include <stddef.h>
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

/* Prefetching for a big decode's short strings. Making a short string
** looks its bytes up in the state's string table: two cache misses (the
** bucket, then the first string chained in it) that are a third of
** decoding 100,000 records whose names are all new. The decoder knows
** the strings ahead of it: they are in the bytes it has not read yet.
** So at each short string it decodes, a scanner (which knows the tags'
** sizes, not the values' structure) finds the next ones, at most
** BRAID_AHEAD_N strings ahead: the bucket of a string is prefetched when
** the scanner finds it, the first string chained in that bucket (its
** header and its bytes) when the decoder is BRAID_AHEAD_NODE strings away
** from it, the second when it is BRAID_AHEAD_NEXT strings away. A hint only: it reads the
** bytes [base, end) and the string table, writes neither, stops at
** anything it does not know (a function's dump) until the decoder has
** passed it, and a wrong guess costs a useless prefetch. */
#define BRAID_AHEAD_N 8
#define BRAID_AHEAD_NODE 4
#define BRAID_AHEAD_NEXT 2
#define BRAID_AHEAD_MINSTR 65536

typedef struct braid_strahead {
  const void *strt; /* the state's string table (lrawtab.h); NULL: off */
  const void *later; /* off for now: the table to look at again */
  unsigned int until; /* short strings made before it is looked at */
  unsigned int seed;
  int blocked; /* the scanner stopped at 'scan' until the decoder passes */
  size_t scan; /* the offset from 'base' where the scanner stands */
  unsigned int head, count; /* the strings found, in order */
  struct {
    size_t off;
    unsigned int h;
    unsigned char len;
  } q[BRAID_AHEAD_N];
} braid_strahead;

/* Whether the string table 'strt' (braid_rawstrt) holds
** BRAID_AHEAD_MINSTR strings or more. */
BRAIDI_FUNC int braidB_strahead_full(const void *strt);

/* Sets up the prefetcher for a decode on L: for a 'big' decode (one that
** stopped the collector) it is on once the state's string table holds
** BRAID_AHEAD_MINSTR strings, from the start when it holds them already,
** else from the moment the decode's own strings fill it so far (looked
** at every BRAID_AHEAD_RECHECK strings: braidB_strahead_later); off for
** other decodes and when lrawtab.h's layouts of states and strings
** failed their self-check. May raise a memory error. */
BRAIDI_FUNC void braidB_strahead_init(lua_State *L, braid_strahead *a,
                                      int big);

#define BRAID_AHEAD_RECHECK 1024

/* Called after each short string the decoder made while the prefetcher
** is off: turns it on when the table has grown to BRAID_AHEAD_MINSTR
** strings (checked every BRAID_AHEAD_RECHECK calls). */
static inline void braidB_strahead_later(braid_strahead *a) {
  if (a->later != NULL && --a->until == 0) {
    if (braidB_strahead_full(a->later)) {
      a->strt = a->later;
      a->later = NULL;
    } else {
      a->until = BRAID_AHEAD_RECHECK;
    }
  }
}

/* Test hooks: every decode prefetches (the fuzz target, the specs). */
BRAIDI_FUNC void braidB_strahead_force(int on);
/* core._strahead([force]) -> how many strings this thread's decodes
** prefetched since the last call (the count restarts at 0); force:
** braidB_strahead_force. */
BRAIDI_FUNC int braidB_strahead_hook(lua_State *L);

/* Called after each short string the decoder made, with the bytes it
** decodes ('p': the next byte it reads). */
BRAIDI_FUNC void braidB_strahead_step(braid_strahead *a,
                                      const unsigned char *base,
                                      const unsigned char *p,
                                      const unsigned char *end);

#endif

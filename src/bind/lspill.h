/*
** lspill.h: moving a deep walk's Lua stack slots into a table and back.
** The encoder and decoder keep the objects of the levels they walk in Lua
** stack slots, which Lua caps at a million; past a window of levels they
** move the bottom levels' slots into a spill table (these functions) and
** bring them back when the walk climbs back down to them, so a value's
** depth is bounded by memory only.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LSPILL_H
#define BRAID_LSPILL_H

#include "lua.h"
#include "braidint.h"

/* Levels at the bottom of a walk that are never spilled (an error message
** prints the first steps of the path from their slots). */
#define BRAID_SPILL_KEEP 16

/* Levels moved per spill; a walk spills when 2 * BRAID_SPILL_W levels are
** in stack slots, so the stack holds at most about that many levels and a
** walk that goes up and down around a boundary moves a chunk at most once
** per BRAID_SPILL_W levels. */
#ifndef BRAID_SPILL_W /* the fuzz build makes it small, so it spills */
#define BRAID_SPILL_W 4096
#endif

/* With the spill table on top of the stack (popped), moves the 'n' slots
** from 'from' (below the table) to table[*len + 1 .. *len + n], records
** n at table[*len + n + 1] and advances *len past them; the slots above
** them move down by n. Needs 1 free stack slot. Can raise only a Lua
** memory error (the table grows). */
BRAIDI_FUNC void braidB_spill_out(lua_State *L, lua_Integer *len, int from,
                                  int n);

/* With the spill table on top of the stack (popped), undoes the last
** braidB_spill_out: its slots go back in at 'at' (the slots from 'at' up
** move up by their number, which is returned). Returns -1, with nothing
** changed but the table popped, if the stack cannot grow. */
BRAIDI_FUNC int braidB_spill_in(lua_State *L, lua_Integer *len, int at);

#endif

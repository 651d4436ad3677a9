/*
** lspill.c: moving a deep walk's Lua stack slots into a table and back
** (see lspill.h).
** See LICENSE for copyright and license.
*/
#include "lspill.h"

void braidB_spill_out(lua_State *L, lua_Integer *len, int from, int n) {
  int t = lua_gettop(L), s, i;
  lua_Integer at = *len;
  for (i = 0; i < n; i++) {
    lua_pushvalue(L, from + i);
    lua_rawseti(L, t, at + 1 + i);
  }
  lua_pushinteger(L, n);
  lua_rawseti(L, t, at + n + 1);
  *len = at + n + 1;
  /* close the gap: the slots above it (not the table) move down */
  for (s = from + n; s < t; s++) lua_copy(L, s, s - n);
  lua_settop(L, t - 1 - n);
}


int braidB_spill_in(lua_State *L, lua_Integer *len, int at) {
  int t = lua_gettop(L), s, i, n;
  lua_Integer first;
  lua_rawgeti(L, t, *len);
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (!lua_checkstack(L, n + 2)) {
    lua_pop(L, 1);
    return -1;
  }
  first = *len - n; /* table[first .. first + n - 1]: the slots */
  lua_settop(L, t + n);
  lua_copy(L, t, t + n); /* the table, to the new top */
  for (s = t - 1; s >= at; s--) lua_copy(L, s, s + n);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, t + n, first + i);
    lua_replace(L, at + i);
  }
  *len = first - 1;
  lua_pop(L, 1);
  return n;
}

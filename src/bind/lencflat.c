/*
** lencflat.c: the encoder's fast path for a sequence of numbers and
** booleans (a vector): its elements read by index instead of through the
** lua_next walk, which reads every key as well and costs about half
** again as much per element (table_step: a key's type and value, the
** value's type, a lua_settop; here one lua_rawgeti gives the type, the
** stack is dropped once per FLAT_SLOTS elements).
** See LICENSE for copyright and license.
*/

#include "lbind.h"
#include "lencode.h"

/* Elements pushed before one lua_settop drops them. */
#define FLAT_SLOTS 32


int braidB_enc_flat_array(Enc *e, int idx, lua_Unsigned narr) {
  lua_State *L = e->L;
  size_t start = e->w.len;
  lua_Unsigned i, count;
  int base = lua_gettop(L), t;
  if (narr > (lua_Unsigned)LUA_MAXINTEGER ||
      !lua_checkstack(L, FLAT_SLOTS + 2))
    return 0;
  /* A key after #t means a hash part (or more array): the walk writes the
  ** table, and nothing is spent here first. (No key after #t proves
  ** nothing alone: see the count below.) */
  lua_pushinteger(L, (lua_Integer)narr);
  if (lua_next(L, idx)) {
    lua_settop(L, base);
    return 0;
  }
  reserve(e, (size_t)narr < 4096 ? 9 * (size_t)narr : 9 * 4096);
  for (i = 1; i <= narr; i++) {
    t = lua_rawgeti(L, idx, (lua_Integer)i);
    if (t == LUA_TNUMBER) {
      if (lua_isinteger(L, -1)) {
        put_int(e, lua_tointeger(L, -1));
      } else {
        put_float(e, lua_tonumber(L, -1));
      }
    } else if (t == LUA_TBOOLEAN) {
      put_byte(e, lua_toboolean(L, -1) ? T_TRUE : T_FALSE);
    } else { /* a hole, a string (recorded by address), a table...: the walk */
      goto no;
    }
    if (i % FLAT_SLOTS == 0) lua_settop(L, base);
  }
  lua_settop(L, base);
  /* t[1..narr] are all present; exactly narr keys makes them all the keys.
  ** Counted with lua_next from nil to the end: the public API's one proof
  ** (next(t, #t) == nil misses keys in hash nodes before #t's own when #t
  ** lies in the hash part). */
  lua_pushnil(L);
  for (count = 0; lua_next(L, idx); count++) {
    if (count == narr) goto no; /* one more */
    lua_pop(L, 1); /* the value: the key stays for the next lua_next */
  }
  if (count != narr) goto no;
  return 1;
no:
  lua_settop(L, base);
  e->w.len = start; /* nothing recorded: the bytes were numbers only */
  return 0;
}

/*
** lencpath.c: the errors of an encode. A value that cannot be sent is
** named by its path from the root argument ("item.records[3].fn (upvalue
** 'f')"), read from the walk's frames (see Frame in lencode.h); long paths
** show their first and last BRAID_PATH_KEEP steps.
** See LICENSE for copyright and license.
*/
#include <unistd.h>

#include "lauxlib.h"
#include "lbind.h"
#include "lencode.h"
#include "lspill.h"


/* The path segment of frame 'f' (the child it is writing). */
static PathSeg frame_seg(const Frame *f) {
  PathSeg s;
  s.kind = (SegKind)f->seg;
  s.idx = f->kind == FR_TABLE ? f->k : f->k - 1;
  s.name = f->name;
  return s;
}


/* Appends segment 's' of a path to a luaL_Buffer. */
static void addseg(Enc *e, luaL_Buffer *b, const PathSeg *s) {
  lua_State *L = e->L;
  {
    switch (s->kind) {
      case SEG_ARG:
        if (s->idx == 0)
          lua_pushliteral(L, "(__braidreduce constructor)");
        else
          lua_pushfstring(L, "(__braidreduce argument %d)", s->idx);
        break;
      case SEG_META: lua_pushliteral(L, "(metatable)"); break;
      case SEG_UPVAL: lua_pushfstring(L, "(upvalue '%s')", s->name); break;
      case SEG_KEY: {
        int k = s->idx;
        if (lua_type(L, k) == LUA_TSTRING) {
          size_t n, j;
          const char *str = lua_tolstring(L, k, &n);
          int ident = n > 0 && !(str[0] >= '0' && str[0] <= '9');
          for (j = 0; j < n && ident; j++) {
            char c = str[j];
            ident = (c == '_' || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
          }
          if (ident)
            lua_pushfstring(L, ".%s", str);
          else
            lua_pushfstring(L, "[\"%s\"]", str);
        } else if (lua_type(L, k) == LUA_TNUMBER) {
          lua_pushvalue(L, k); /* tostring a copy: never convert the key */
          lua_pushfstring(L, "[%s]", luaL_tolstring(L, -1, NULL));
          lua_remove(L, -2);
          lua_remove(L, -2);
        } else {
          lua_pushfstring(L, "[<%s>]", luaL_typename(L, k));
        }
        break;
      }
      default: return;
    }
    luaL_addvalue(b);
  }
}



/* Appends the path of the value being encoded to a luaL_Buffer. */
static void addpath(Enc *e, luaL_Buffer *b) {
  size_t n = (size_t)e->npath, i, j = 0;
  luaL_addstring(b, e->root);
  for (i = 0; i < e->nframes; i++) n += e->frames[i].seg != SEG_NONE;
  for (i = 0; i < (size_t)e->npath + e->nframes; i++) {
    PathSeg s;
    size_t fi = i - (size_t)e->npath;
    if (i < (size_t)e->npath) {
      s = e->path[i];
    } else {
      s = frame_seg(&e->frames[fi]);
      if (s.kind == SEG_NONE) continue;
    }
    if (n <= 2 * BRAID_PATH_KEEP || j < BRAID_PATH_KEEP || j >= n - BRAID_PATH_KEEP) {
      if (i >= (size_t)e->npath && fi >= BRAID_SPILL_KEEP && fi < e->spill_hi)
        luaL_addstring(b, "[?]"); /* spilled (not expected: see enc_unspill) */
      else
        addseg(e, b, &s);
    }
    else if (j == BRAID_PATH_KEEP)
      luaL_addstring(b, " ... ");
    j++;
  }
  if (n > 2 * BRAID_PATH_KEEP) {
    lua_pushfstring(e->L, " (%I levels)", (lua_Integer)n);
    luaL_addvalue(b);
  }
}


/* Raises 'cls' with "<path>: <what>". Leaves the encoder busy-free. */
void braidB_enc_fail(Enc *e, const char *cls, const char *what) {
  lua_State *L = e->L;
  luaL_Buffer b;
  int i;
  e->busy = 0;
  /* the segments of a message that will not be sent: closed now, not at
  ** this state's next encode */
  for (i = 0; i < e->w.nsegs; i++) close(e->w.segs[i]);
  e->w.nsegs = 0;
  luaL_buffinit(L, &b);
  addpath(e, &b);
  luaL_addstring(&b, ": ");
  luaL_addstring(&b, what);
  luaL_pushresult(&b);
  /* free the slots of the walk first: raising calls the error class,
  ** which needs stack even when the walk used all Lua allows */
  lua_copy(L, -1, e->top + 1);
  lua_settop(L, e->top + 1);
  braidB_enc_drop_spill(e);
  braidB_raise(L, cls, "%s", lua_tostring(L, -1));
  __builtin_unreachable();
}


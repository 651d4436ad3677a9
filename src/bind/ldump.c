/*
** ldump.c: the check of a dumped Lua function before it is loaded.
** See LICENSE for copyright and license.
**
** Lua's undump trusts the sizes in a binary chunk: it allocates what they
** say before reading (a 5-byte count asks for gigabytes), recurses once per
** nested function without a limit, lets the closure's upvalue count (a
** header byte) differ from its prototype's, after which lua_getupvalue
** and lua_upvaluejoin index past the closure, and (5.4.4) writes as many
** upvalue names as the chunk says into the upvalue array. A call of the
** function trusts numparams against maxstacksize before any hook runs.
** So before lua_load, walk the
** chunk as lundump.c of Lua 5.4 reads it and check that every count fits
** in the bytes that remain, the nesting is bounded and the two upvalue
** counts agree. (This bounds loading; running bytecode from untrusted
** bytes stays unsafe, as Lua's manual says.) */

#include <string.h>

#include "lua.h"
#include "lcodec.h"


typedef struct DumpCk {
  const unsigned char *p, *end;
} DumpCk;

/* lundump's loadUnsigned: MSB first, the last byte has bit 0x80 set. */
static int ck_unsigned(DumpCk *c, size_t limit, size_t *out) {
  size_t x = 0;
  limit >>= 7;
  for (;;) {
    unsigned char b;
    if (c->p >= c->end) return 0;
    b = *c->p++;
    if (x >= limit) return 0;
    x = (x << 7) | (b & 0x7f);
    if (b & 0x80) break;
  }
  *out = x;
  return 1;
}

/* A count of elements of at least 'minsize' bytes each. */
static int ck_count(DumpCk *c, size_t minsize, size_t *n) {
  return ck_unsigned(c, (size_t)0x7fffffff, n) &&
         *n <= (size_t)(c->end - c->p) / minsize;
}

static int ck_skip(DumpCk *c, size_t n) {
  if (n > (size_t)(c->end - c->p)) return 0;
  c->p += n;
  return 1;
}

static int ck_string(DumpCk *c) { /* size+1, 0 for NULL */
  size_t n;
  return ck_unsigned(c, (size_t)-1, &n) && (n == 0 || ck_skip(c, n - 1));
}

#define OP_VARARGPREP 81 /* lopcodes.h of Lua 5.4 */

/* Lua's parser nests functions at most LUAI_MAXCCALLS (200) deep, so a
** dump nested deeper is not one lua_dump wrote: refused, which also bounds
** this recursion. */
#define DUMP_MAXDEPTH 200

static int ck_function(DumpCk *c, int depth, size_t *nupvals) {
  size_t n, i, x;
  unsigned char numparams, is_vararg, maxstack;
  uint32_t first;
  if (depth > DUMP_MAXDEPTH) return 0;
  if (!ck_string(c) || !ck_unsigned(c, 0x7fffffff, &x) || /* source, lines */
      !ck_unsigned(c, 0x7fffffff, &x) || (size_t)(c->end - c->p) < 3)
    return 0;
  numparams = c->p[0];
  is_vararg = c->p[1];
  maxstack = c->p[2];
  c->p += 3;
  /* A call (luaD_precall, then OP_VARARGPREP, both before any hook runs)
  ** writes 'numparams' slots, and VARARGPREP's A more, into a frame of
  ** 'maxstacksize' slots; an empty code array runs off its end. */
  if (numparams > maxstack || is_vararg > 1) return 0;
  if (!ck_count(c, 4, &n) || n == 0) return 0;
  memcpy(&first, c->p, 4);
  if (is_vararg && ((first & 0x7f) != OP_VARARGPREP ||
                    ((first >> 7) & 0xff) != numparams))
    return 0;
  if (!ck_skip(c, n * 4)) return 0;
  if (!ck_count(c, 1, &n)) return 0; /* constants */
  for (i = 0; i < n; i++) {
    if (c->p >= c->end) return 0;
    switch (*c->p++) {
      case 0: case 1: case 17: break; /* nil, false, true */
      case 3: case 19: /* integer, float */
        if (!ck_skip(c, 8)) return 0;
        break;
      case 4: case 20: /* short, long string: never NULL */
        if (!ck_unsigned(c, (size_t)-1, &x) || x == 0 || !ck_skip(c, x - 1))
          return 0;
        break;
      default: return 0;
    }
  }
  if (!ck_count(c, 3, nupvals) || !ck_skip(c, *nupvals * 3)) return 0;
  if (!ck_count(c, 1, &n)) return 0; /* nested functions */
  for (i = 0; i < n; i++)
    if (!ck_function(c, depth + 1, &x)) return 0;
  if (!ck_count(c, 1, &n) || !ck_skip(c, n)) return 0; /* lineinfo */
  if (!ck_count(c, 2, &n)) return 0; /* abslineinfo: pc, line */
  for (i = 0; i < 2 * n; i++)
    if (!ck_unsigned(c, 0x7fffffff, &x)) return 0;
  if (!ck_count(c, 3, &n)) return 0; /* locvars: name, startpc, endpc */
  for (i = 0; i < n; i++)
    if (!ck_string(c) || !ck_unsigned(c, 0x7fffffff, &x) ||
        !ck_unsigned(c, 0x7fffffff, &x))
      return 0;
  /* upvalue names: Lua 5.4.4's loadDebug stores them into the upvalue
  ** array of the size read above, with no check (a heap overflow that
  ** 5.4.6 fixed): the count must be 0 or that size */
  if (!ck_count(c, 1, &n) || (n != 0 && n != *nupvals)) return 0;
  for (i = 0; i < n; i++)
    if (!ck_string(c)) return 0;
  return 1;
}

/* The header lua_dump writes on this build (lua_load checks its fields
** again; here only its length and the version matter). */
#define DUMP_HEADER_LEN (4 + 1 + 1 + 6 + 1 + 1 + 1 + 8 + 8)

int braidB_check_dump(const unsigned char *p, size_t n) {
  DumpCk c;
  size_t nupvals;
  if (n < DUMP_HEADER_LEN + 1 || memcmp(p, LUA_SIGNATURE, 4) != 0 ||
      p[4] != 0x54 || p[5] != 0 || p[12] != 4 /* sizeof(Instruction) */ ||
      p[13] != sizeof(lua_Integer) || p[14] != sizeof(lua_Number))
    return 0;
  c.p = p + DUMP_HEADER_LEN + 1;
  c.end = p + n;
  return ck_function(&c, 0, &nupvals) && c.p == c.end &&
         nupvals == p[DUMP_HEADER_LEN]; /* the closure's upvalue count */
}



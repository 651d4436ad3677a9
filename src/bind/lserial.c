/*
** lserial.c: dumps/loads, the serializer's bytes as Lua strings (for
** tests, the fuzzer's corpus and pickling-style use). Messages that hold
** braid objects cannot become strings: their references live in memory.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lbind.h"
#include "lcodec.h"
#include "lrawtab.h"
#include "ldecraw.h"
#include "segblock.h"
#include "segfill.h"
#include "stream.h"


static int pushbytes(lua_State *L) {
  const braid_msg *m = (const braid_msg *)lua_touserdata(L, 1);
  lua_pushlstring(L, (const char *)m->data, m->len);
  return 1;
}


/* core.dumps(v...) -> string */
static int serial_dumps(lua_State *L) {
  static const char *const roots[] = { "value", "value[2]", "value[3]",
                                       "value[4]", "value[5]", "value[6]",
                                       "value[7]", "value[8]" };
  int n = lua_gettop(L);
  braid_msg *m;
  if (n < 1) luaL_checkany(L, 1);
  if (n > 8) return braidB_argerror(L, 9, "TypeError", "at most 8 values");
  m = braid__encode_n(L, 1, n, roots);
  if (m->nhandles > 0) {
    braid__msg_free(m);
    return braidB_raise(L, "TypeError",
                        "dumps: braid objects cannot be turned into bytes");
  }
  /* protected: the message is freed even when the string cannot be made */
  lua_pushcfunction(L, pushbytes);
  lua_pushlightuserdata(L, m);
  n = lua_pcall(L, 1, 1, 0);
  braid__msg_free(m);
  if (n != LUA_OK) return lua_error(L);
  return 1;
}


/* core.loads(s) -> v... */
static int serial_loads(lua_State *L) {
  size_t len;
  const char *s = braidB_checkstring(L, 1, &len);
  braid_msg *m = braid__msg_from_bytes(s, len);
  if (m == NULL) return braidB_nomem(L);
  return braid__decode_owned(L, m);
}


/* core.copy(v...) -> v...: encode and decode in the same state (the cost
** of a transfer without the thread hop; benchmarks and tests use it). */
static int serial_copy(lua_State *L) {
  static const char *const roots[] = { "value" };
  int n = lua_gettop(L), i, total = 0;
  for (i = 1; i <= n; i++) {
    braid_msg *m = braid__encode_n(L, i, 1, roots);
    total += braid__decode_owned(L, m);
  }
  return total;
}


/* core._stream_min([min [, step]]) -> old min, old step: the size from which a
** thread start streams its arguments, and how often it publishes more
** (tests force streaming on small values; 0 or nil keeps a value). */
static int serial_stream_min(lua_State *L) {
  lua_Integer min = luaL_optinteger(L, 1, 0), step = luaL_optinteger(L, 2, 0);
  size_t m, st;
  if (min < 0 || step < 0)
    return braidB_argerror(L, min < 0 ? 1 : 2, "ValueError", "negative size");
  braid__stream_limits(&m, &st, 0);
  lua_pushinteger(L, (lua_Integer)m); /* the values before this call */
  lua_pushinteger(L, (lua_Integer)st);
  m = (size_t)min;
  st = (size_t)step;
  braid__stream_limits(&m, &st, 1);
  return 2;
}


/* core._seg_min([n]) -> old size: from which size a string or buffer sent
** to another process goes out of line in a memfd (memseg.h); specs lower
** it, benchmarks measure where it pays. */
static int serial_seg_min(lua_State *L) {
  size_t old = braid__seg_min(0, 0);
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = braidB_checkinteger(L, 1);
    if (n < 1) return braidB_argerror(L, 1, "ValueError", "size must be >= 1");
    braid__seg_min(1, (size_t)n);
  }
  lua_pushinteger(L, (lua_Integer)old);
  return 1;
}


/* core._seg_fill([late_min], [chunk], [delay]) -> the old three: from
** which size a segment is filled after its message is sent (segfill.h;
** -1: never), the chunk it is filled by, and a delay in seconds before
** each chunk (specs make a fill slow with it, benchmarks tune the rest). */
static int serial_seg_fill(lua_State *L) {
  size_t om = braid__seg_late_min(0, 0), oc = braid__seg_chunk(0, 0);
  double od = braid__seg_fill_delay(0, 0);
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = braidB_checkinteger(L, 1);
    braid__seg_late_min(1, n < 0 ? SIZE_MAX : (size_t)n);
  }
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer n = braidB_checkinteger(L, 2);
    if (n < 4096)
      return braidB_argerror(L, 2, "ValueError", "chunk must be >= 4096");
    braid__seg_chunk(1, (size_t)n);
  }
  if (!lua_isnoneornil(L, 3)) {
    lua_Number d = luaL_checknumber(L, 3);
    if (!(d >= 0 && d <= 10))
      return braidB_argerror(L, 3, "ValueError", "delay must be in [0, 10]");
    braid__seg_fill_delay(1, (double)d);
  }
  lua_pushinteger(L, om == SIZE_MAX ? -1 : (lua_Integer)om);
  lua_pushinteger(L, (lua_Integer)oc);
  lua_pushnumber(L, (lua_Number)od);
  return 3;
}


static int seg_raw(const char *s, size_t n) {
  int fd = memfd_create("braid-seg", MFD_CLOEXEC);
  size_t at = 0;
  if (fd < 0) return -1;
  while (at < n) {
    ssize_t w = write(fd, s + at, n - at);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      close(fd);
      return -1;
    }
    at += (size_t)w;
  }
  return fd;
}


/* core._seg_count() -> segments this process made, segments it read,
** segment strings built in place, copied once more, made of the
** segment's pages (lsegment.c), and those mapped now (segblock.h) */
static int serial_seg_count(lua_State *L) {
  long made, read;
  long inplace, copied, mapped;
  braid__seg_counts(&made, &read);
  braidB_segment_counts(&inplace, &copied, &mapped);
  lua_pushinteger(L, (lua_Integer)made);
  lua_pushinteger(L, (lua_Integer)read);
  lua_pushinteger(L, (lua_Integer)inplace);
  lua_pushinteger(L, (lua_Integer)copied);
  lua_pushinteger(L, (lua_Integer)mapped);
  lua_pushinteger(L, (lua_Integer)braid__seg_block_count());
  return 6;
}


/* core._seg_loads(bytes, s1, ...) -> the values of a message of 'bytes'
** whose segments hold s1, ... (specs and fuzzing of T_SEG: a message from
** another process, with the descriptors it came with) */
static int serial_seg_loads(lua_State *L) {
  size_t len;
  const char *b = braidB_checkstring(L, 1, &len);
  int n = lua_gettop(L) - 1, i;
  braid_msg *m;
  if (n > BRAID_SEG_MAX)
    return braidB_argerror(L, 2, "ValueError", "too many segments");
  for (i = 2; i <= n + 1; i++) braidB_checkstring(L, i, NULL);
  m = braid__msg_from_bytes(b, len);
  if (m == NULL) return braidB_nomem(L);
  for (i = 2; i <= n + 1; i++) {
    size_t sl;
    const char *s = lua_tolstring(L, i, &sl);
    /* a string starting "raw:" is taken
    ** as a whole segment, control page included (specs and fuzzing of
    ** control pages from another process) */
    int fd = sl >= 4 && memcmp(s, "raw:", 4) == 0
                 ? seg_raw(s + 4, sl - 4)
                 : braid__seg_new(s, sl);
    if (fd < 0 || braid__msg_take_segs(m, &fd, 1) != BRAID_OK) {
      int e = errno;
      braid__msg_free(m);
      return braidB_oserror(L, e, "cannot make a segment");
    }
  }
  lua_settop(L, 0);
  return braid__decode_owned(L, m);
}


static const luaL_Reg serial_funcs[] = {
  { "_seg_count", serial_seg_count },
  { "_seg_fill", serial_seg_fill },
  { "_seg_loads", serial_seg_loads },
  { "_seg_min", serial_seg_min },
  { "_rawwalk", braidB_rawwalk_hook },
  { "_rawfill", braidB_rawfill_hook },
  { "_strahead", braidB_strahead_hook },
  { "_enc_seen_bytes", braidB_enc_seen_bytes_hook },
  { "dumps", serial_dumps },
  { "loads", serial_loads },
  { "copy", serial_copy },
  { "_stream_min", serial_stream_min },
  { NULL, NULL },
};


void braidB_open_serial(lua_State *L) {
  luaL_setfuncs(L, serial_funcs, 0);
}

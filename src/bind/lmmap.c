/*
** lmmap.c: Lua binding of braid.mmap (Python's mmap.mmap) over mmap.c.
** See LICENSE for copyright and license.
**
** An mmap is a braid handle: it travels by reference to threads (one
** object, one file position) and, through __braidexport, to processes
** being started (a spawned child maps the same file or memfd again; a
** forked child keeps the mapping). Offsets are 0-based byte offsets
** (docs/mmap.md); errors are Python's, with Python's messages.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lbind.h"
#include "mmap.h"


static braid_mmap *checkmmap(lua_State *L, int idx) {
  return (braid_mmap *)braidB_checkhandle(L, idx, &braid__mmap_type);
}


/* Raises the error of code 'rc' from an mmap operation; 'range' is the
** ValueError message of BRAID_EINVAL, 'cls' its class. */
static int mmap_error(lua_State *L, int rc, const char *cls,
                      const char *range) {
  switch (rc) {
    case BRAID_ECLOSED:
      return braidB_raise(L, "ValueError", "mmap closed or invalid");
    case BRAID_EPERM:
      return braidB_raise(L, "TypeError",
                          "mmap can't modify a readonly memory map.");
    case BRAID_EINVAL:
      return braidB_raise(L, cls, "%s", range);
    case BRAID_EOS:
      return braidB_oserror(L, errno, NULL);
    default:
      return braidB_raisecode(L, rc, NULL);
  }
}


/* A file descriptor argument: an integer, or a Lua file handle (whose
** buffered writes are flushed first, so the mapping sees them). */
static int checkfileno(lua_State *L, int arg) {
  luaL_Stream *f = (luaL_Stream *)luaL_testudata(L, arg, LUA_FILEHANDLE);
  if (f != NULL) {
    if (f->closef == NULL)
      return braidB_argerror(L, arg, "ValueError", "I/O operation on closed file");
    fflush(f->f);
    return fileno(f->f);
  }
  if (!lua_isinteger(L, arg)) return braidB_typeerror(L, arg, "integer or file");
  return (int)lua_tointeger(L, arg);
}


/* core.mmap(fileno, length, flags, prot, access, offset): Python's
** argument rules (nil: Python's default). */
static int core_mmap(lua_State *L) {
  int fd = checkfileno(L, 1);
  lua_Integer length = braidB_checkinteger(L, 2);
  int has_fp = !lua_isnoneornil(L, 3) || !lua_isnoneornil(L, 4);
  int flags = (int)braidB_optinteger(L, 3, MAP_SHARED);
  int prot = (int)braidB_optinteger(L, 4, PROT_READ | PROT_WRITE);
  lua_Integer access = braidB_optinteger(L, 5, BRAID_ACCESS_DEFAULT);
  lua_Integer offset = braidB_optinteger(L, 6, 0);
  const char *why = NULL;
  braid_mmap *m;
  int rc;
  if (length < 0)
    return braidB_argerror(L, 2, "OverflowError",
                           "memory mapped length must be positive");
  if (offset < 0)
    return braidB_argerror(L, 6, "OverflowError",
                           "memory mapped offset must be positive");
  if (access != BRAID_ACCESS_DEFAULT && has_fp &&
      (flags != MAP_SHARED || prot != (PROT_READ | PROT_WRITE)))
    return braidB_raise(L, "ValueError",
                        "mmap can't specify both access and flags, prot.");
  switch (access) {
    case BRAID_ACCESS_READ: flags = MAP_SHARED; prot = PROT_READ; break;
    case BRAID_ACCESS_WRITE:
      flags = MAP_SHARED;
      prot = PROT_READ | PROT_WRITE;
      break;
    case BRAID_ACCESS_COPY:
      flags = MAP_PRIVATE;
      prot = PROT_READ | PROT_WRITE;
      break;
    case BRAID_ACCESS_DEFAULT:
      if ((prot & PROT_READ) && (prot & PROT_WRITE)) break;
      access = (prot & PROT_WRITE) ? BRAID_ACCESS_WRITE : BRAID_ACCESS_READ;
      break;
    default:
      return braidB_argerror(L, 5, "ValueError", "mmap invalid access parameter.");
  }
  if (fd < 0) fd = -1; /* anonymous */
  rc = braid__mmap_new(&m, fd, 0, length, flags, prot, (int)access, offset,
                       &why);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno))
    rc = braid__mmap_new(&m, fd, 0, length, flags, prot, (int)access, offset,
                         &why);
  if (rc == BRAID_EINVAL) return braidB_raise(L, "ValueError", "%s", why);
  if (rc == BRAID_EOS) return braidB_oserror(L, errno, NULL);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, NULL);
  braidB_pushnewhandle(L, &m->h);
  return 1;
}


/* core._mmap_attach(fd, anon, length, flags, prot, access, offset): the
** receiving side of __braidexport, in a spawned or forkserver child. */
static int core_mmap_attach(lua_State *L) {
  int anon = lua_toboolean(L, 2);
  lua_Integer len = braidB_checkinteger(L, 3), off = braidB_checkinteger(L, 7);
  int flags = (int)braidB_checkinteger(L, 4);
  int prot = (int)braidB_checkinteger(L, 5);
  int access = (int)braidB_checkinteger(L, 6);
  const char *why = NULL;
  braid_mmap *m;
  int fd, rc;
  if (braidB_attach_fd(L, 1, "mmap", &fd)) return 1;
  rc = braid__mmap_new(&m, fd, anon, len, flags, prot, access, off, &why);
  if (rc != BRAID_OK) {
    braidB_attach_drop(L, 1, fd);
    if (rc == BRAID_EINVAL) return braidB_raise(L, "ValueError", "%s", why);
    return braidB_raisecode(L, rc, "cannot map the mmap");
  }
  braidB_pushnewhandle(L, &m->h);
  braidB_attach_done(L, 1, fd);
  return 1;
}


/* __braidexport(obj, mode): to a process being started. */
static int mmap_export(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  int fd = -1;
  size_t maplen = 0;
  if (braid__mmap_info(m, &fd, &maplen) != BRAID_OK)
    return braidB_raise(L, "ValueError", "mmap closed or invalid");
  if (!(m->flags & MAP_SHARED))
    return braidB_raise(L, "TypeError",
                        "a private (copy-on-write) mmap cannot be shared "
                        "with a spawned process: its changes are its own");
  if (fd < 0)
    return braidB_raise(L, "OSError", "this system has no memfd: an "
                                      "anonymous mmap reaches forked "
                                      "children only");
  lua_pushcfunction(L, core_mmap_attach);
  braidB_export_fd(L, fd, "mmap");
  lua_pushboolean(L, m->anon);
  lua_pushinteger(L, (lua_Integer)maplen);
  lua_pushinteger(L, m->flags);
  lua_pushinteger(L, m->prot);
  lua_pushinteger(L, m->access);
  lua_pushinteger(L, (lua_Integer)m->offset);
  return 8;
}


/* Pushes bytes copied by 'fn' (braid__mmap_read or _slice through
** 'copy'): allocates first, then copies under the map's mutex, and tries
** again with the size the map asked for if it grew meanwhile. */
typedef int (*copy_fn)(lua_State *L, braid_mmap *m, void *dst, size_t cap,
                       size_t *got);

static int push_copy(lua_State *L, braid_mmap *m, copy_fn fn, size_t guess) {
  size_t got = 0;
  for (;;) {
    luaL_Buffer b;
    char *d = luaL_buffinitsize(L, &b, guess);
    int rc = fn(L, m, d, guess, &got);
    if (rc == BRAID_OK) {
      luaL_pushresultsize(&b, got);
      return 1;
    }
    lua_pop(L, 1); /* the buffer's box, if any */
    if (rc != BRAID_EAGAIN) return mmap_error(L, rc, "ValueError", "");
    guess = got;
  }
}


static size_t len_guess(lua_State *L, braid_mmap *m) {
  size_t len = 0;
  int rc = braid__mmap_len(m, &len);
  if (rc != BRAID_OK) return (size_t)mmap_error(L, rc, "ValueError", "");
  return len;
}


static int copy_read(lua_State *L, braid_mmap *m, void *d, size_t cap,
                     size_t *got) {
  lua_Integer n = lua_isnoneornil(L, 2) ? -1 : lua_tointeger(L, 2);
  return braid__mmap_read(m, n, 0, d, cap, got);
}


/* m:read([n]) -> up to n bytes from the position (nil or negative: the
** rest), advancing it. */
static int mmap_read(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  size_t guess = len_guess(L, m);
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer n = braidB_checkinteger(L, 2);
    if (n >= 0 && (lua_Unsigned)n < guess) guess = (size_t)n;
  }
  lua_settop(L, 2);
  return push_copy(L, m, copy_read, guess);
}


static int copy_line(lua_State *L, braid_mmap *m, void *d, size_t cap,
                     size_t *got) {
  (void)L;
  return braid__mmap_read(m, -1, 1, d, cap, got);
}


static int mmap_readline(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  lua_settop(L, 1);
  return push_copy(L, m, copy_line, 256);
}


static int copy_slice(lua_State *L, braid_mmap *m, void *d, size_t cap,
                      size_t *got) {
  return braid__mmap_slice(m, lua_tointeger(L, 2), !lua_isnil(L, 2),
                           lua_tointeger(L, 3), !lua_isnil(L, 3), d, cap,
                           got);
}


/* m:sub([i], [j]) -> Python's m[i:j]: bytes i .. j-1 (0-based, j
** excluded, negative from the end, clipped; nil: the start / the end). */
static int mmap_sub(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  if (!lua_isnoneornil(L, 2)) braidB_checkinteger(L, 2);
  if (!lua_isnoneornil(L, 3)) braidB_checkinteger(L, 3);
  lua_settop(L, 3);
  return push_copy(L, m, copy_slice, len_guess(L, m));
}


static int mmap_read_byte(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  int byte = 0, rc = braid__mmap_read_byte(m, &byte);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "read byte out of range");
  lua_pushinteger(L, byte);
  return 1;
}


/* m:write(s) -> #s */
static int mmap_write(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  size_t n;
  const char *s = braidB_checkstring(L, 2, &n);
  int rc = braid__mmap_write(m, s, n);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "data out of range");
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


static int mmap_write_byte(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  lua_Integer b = braidB_checkinteger(L, 2);
  int rc;
  if (b < 0 || b > 255)
    return braidB_argerror(L, 2, "OverflowError",
                           b < 0 ? "unsigned byte integer is less than minimum"
                                 : "unsigned byte integer is greater than maximum");
  rc = braid__mmap_write_byte(m, (int)b);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "write byte out of range");
  return 0;
}


/* m:set(offset, s): Python's m[offset:offset+#s] = s. */
static int mmap_set(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  lua_Integer off = braidB_checkinteger(L, 2);
  size_t n;
  const char *s = braidB_checkstring(L, 3, &n);
  int rc = braid__mmap_set(m, off, s, n);
  if (rc != BRAID_OK)
    return mmap_error(L, rc, "IndexError", "mmap slice assignment is wrong size");
  return 0;
}


static int mmap_seek(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  lua_Integer pos = braidB_checkinteger(L, 2);
  lua_Integer whence = braidB_optinteger(L, 3, 0);
  size_t np = 0;
  int rc = braid__mmap_seek(m, pos, (int)(whence < 0 || whence > 2 ? 3 : whence), &np);
  if (rc == BRAID_ESTATE)
    return braidB_argerror(L, 3, "ValueError", "unknown seek type");
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "seek out of range");
  lua_pushinteger(L, (lua_Integer)np);
  return 1;
}


static int mmap_tell(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  size_t pos = 0;
  int rc = braid__mmap_tell(m, &pos);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "");
  lua_pushinteger(L, (lua_Integer)pos);
  return 1;
}


static int find(lua_State *L, int reverse) {
  braid_mmap *m = checkmmap(L, 1);
  size_t n;
  const char *s = braidB_checkstring(L, 2, &n);
  int hs = !lua_isnoneornil(L, 3), he = !lua_isnoneornil(L, 4);
  lua_Integer a = hs ? braidB_checkinteger(L, 3) : 0;
  lua_Integer b = he ? braidB_checkinteger(L, 4) : 0;
  int64_t at = -1;
  int rc = braid__mmap_find(m, s, n, a, hs, b, he, reverse, &at);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "");
  lua_pushinteger(L, at);
  return 1;
}

static int mmap_find(lua_State *L) { return find(L, 0); }
static int mmap_rfind(lua_State *L) { return find(L, 1); }


static int mmap_move(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  int rc = braid__mmap_move(m, braidB_checkinteger(L, 2),
                            braidB_checkinteger(L, 3),
                            braidB_checkinteger(L, 4));
  if (rc != BRAID_OK)
    return mmap_error(L, rc, "ValueError",
                      "source, destination, or count out of range");
  return 0;
}


static int mmap_resize(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  lua_Integer n = braidB_checkinteger(L, 2);
  int rc = braid__mmap_resize(m, n);
  if (rc == BRAID_EPERM)
    return braidB_raise(L, "TypeError", "mmap can't resize a readonly or "
                                        "copy-on-write memory map.");
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "new size out of range");
  return 0;
}


static int mmap_size(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  int64_t size = 0;
  int rc = braid__mmap_filesize(m, &size);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "");
  lua_pushinteger(L, size);
  return 1;
}


/* m:flush([offset, size]) */
static int mmap_flush(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  const char *why = "";
  lua_Integer off = braidB_optinteger(L, 2, 0);
  lua_Integer n = lua_isnoneornil(L, 3) ? (lua_Integer)len_guess(L, m) - off
                                        : braidB_checkinteger(L, 3);
  int rc = braid__mmap_flush(m, off, n, &why);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", why);
  return 0;
}


/* m:madvise(option, [start=0], [length=len(m)-start]) */
static int mmap_madvise(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  const char *why = "";
  int option = (int)braidB_checkinteger(L, 2);
  lua_Integer start = braidB_optinteger(L, 3, 0);
  int hl = !lua_isnoneornil(L, 4);
  lua_Integer len = hl ? braidB_checkinteger(L, 4) : 0;
  int rc = braid__mmap_madvise(m, option, start, len, hl, &why);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", why);
  return 0;
}


static int mmap_close(lua_State *L) {
  braid__mmap_close(checkmmap(L, 1));
  return 0;
}


static int mmap_seekable(lua_State *L) {
  checkmmap(L, 1);
  lua_pushboolean(L, 1);
  return 1;
}


static int mmap_len(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  size_t len = 0;
  int rc = braid__mmap_len(m, &len);
  if (rc != BRAID_OK) return mmap_error(L, rc, "ValueError", "");
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}


/* Fields: 'closed'; everything else is a method. */
static int mmap_index(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "closed") == 0) {
    lua_pushboolean(L, braid__mmap_closed(m));
    return 1;
  }
  lua_pushnil(L);
  return 1;
}


static int mmap_tostring(lua_State *L) {
  braid_mmap *m = checkmmap(L, 1);
  static const char *const names[] = { "ACCESS_DEFAULT", "ACCESS_READ",
                                       "ACCESS_WRITE", "ACCESS_COPY" };
  size_t len = 0, pos = 0;
  if (braid__mmap_len(m, &len) != BRAID_OK) {
    lua_pushliteral(L, "<mmap.mmap closed=True>");
    return 1;
  }
  braid__mmap_tell(m, &pos);
  lua_pushfstring(L, "<mmap.mmap closed=False, access=%s, length=%I, pos=%I, offset=%I>",
                  names[m->access & 3], (lua_Integer)len, (lua_Integer)pos,
                  (lua_Integer)m->offset);
  return 1;
}


/* The closing of a <close> variable closes the map, as Python's 'with'. */
static int mmap_closevar(lua_State *L) {
  braid__mmap_close(checkmmap(L, 1));
  return 0;
}


static const luaL_Reg mmap_methods[] = {
  { "close", mmap_close },
  { "read", mmap_read },
  { "readline", mmap_readline },
  { "read_byte", mmap_read_byte },
  { "write", mmap_write },
  { "write_byte", mmap_write_byte },
  { "sub", mmap_sub },
  { "set", mmap_set },
  { "seek", mmap_seek },
  { "seekable", mmap_seekable },
  { "tell", mmap_tell },
  { "find", mmap_find },
  { "rfind", mmap_rfind },
  { "move", mmap_move },
  { "resize", mmap_resize },
  { "size", mmap_size },
  { "flush", mmap_flush },
  { "madvise", mmap_madvise },
  { NULL, NULL },
};

static const luaL_Reg mmap_meta[] = {
  { "__index", mmap_index },
  { "__len", mmap_len },
  { "__close", mmap_closevar },
  { "__tostring", mmap_tostring },
  { "__braidexport", mmap_export },
  { NULL, NULL },
};

const braidB_Class braidB_mmap_classes[] = {
  { &braid__mmap_type, mmap_methods, mmap_meta },
  { NULL, NULL, NULL },
};


void braidB_open_mmap(lua_State *L) {
  static const struct { const char *name; lua_Integer v; } k[] = {
    { "MAP_SHARED", MAP_SHARED }, { "MAP_PRIVATE", MAP_PRIVATE },
    { "MAP_ANONYMOUS", MAP_ANONYMOUS },
    { "PROT_READ", PROT_READ }, { "PROT_WRITE", PROT_WRITE },
    { "PROT_EXEC", PROT_EXEC },
    { "ACCESS_DEFAULT", BRAID_ACCESS_DEFAULT },
    { "ACCESS_READ", BRAID_ACCESS_READ },
    { "ACCESS_WRITE", BRAID_ACCESS_WRITE },
    { "ACCESS_COPY", BRAID_ACCESS_COPY },
    { "MADV_NORMAL", MADV_NORMAL }, { "MADV_RANDOM", MADV_RANDOM },
    { "MADV_SEQUENTIAL", MADV_SEQUENTIAL }, { "MADV_WILLNEED", MADV_WILLNEED },
    { "MADV_DONTNEED", MADV_DONTNEED },
    { NULL, 0 },
  };
  int i;
  lua_pushcfunction(L, core_mmap);
  lua_setfield(L, -2, "mmap");
  lua_pushcfunction(L, core_mmap_attach);
  lua_setfield(L, -2, "_mmap_attach");
  lua_newtable(L);
  for (i = 0; k[i].name != NULL; i++) {
    lua_pushinteger(L, k[i].v);
    lua_setfield(L, -2, k[i].name);
  }
  lua_pushinteger(L, (lua_Integer)sysconf(_SC_PAGESIZE));
  lua_setfield(L, -2, "PAGESIZE");
  lua_pushinteger(L, (lua_Integer)sysconf(_SC_PAGESIZE));
  lua_setfield(L, -2, "ALLOCATIONGRANULARITY");
  lua_setfield(L, -2, "mmap_constants");
}

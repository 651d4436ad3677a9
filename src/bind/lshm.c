/*
** lshm.c: Lua binding of shared typed memory: braid.Value, braid.Array
** (multiprocessing.Value / Array, their raw objects) and cpu_count.
** See LICENSE for copyright and license.
**
** Both proxies implement their fields with __index/__newindex functions
** ('v.value', 'a[i]', 'a.raw'), finding methods in the metatable's
** '__methods'. The lock of an object is a braid handle it retains, so it
** travels with the object; the methods that use it call the lock's own
** Lua methods by name, so any braid lock-like (Lock, RLock...) works.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>

#include "lbind.h"
#include "shm.h"

#define VALUE_T "braid.Value"
#define ARRAY_T "braid.Array"

/* Elements shown by __tostring before "...". */
#define SHOWN_ITEMS 8


/*
** {======================================================
** Checks and conversions
** =======================================================
*/

/* The object of a Value or Array proxy at 'idx' (any of the two). */
static braid_shm *checkshm(lua_State *L, int idx) {
  braidB_Box *b = (braidB_Box *)luaL_testudata(L, idx, VALUE_T);
  if (b == NULL) b = (braidB_Box *)luaL_testudata(L, idx, ARRAY_T);
  if (b == NULL) {
    braidB_typeerror(L, idx, "braid.Value or braid.Array");
    return NULL;
  }
  if (b->h == NULL)
    braidB_argerror(L, idx, "ValueError", "object is closed");
  return (braid_shm *)b->h;
}


static braid_shm *checkarray(lua_State *L, int idx) {
  return (braid_shm *)braidB_checkhandle(L, idx, &braid__array_type);
}


static int isarray(const braid_shm *s) {
  return s->h.type == &braid__array_type;
}


/* Name of the type of the value at 'idx' for messages: "float" for
** floats, __name for userdata, else Lua's type name. */
static const char *typename_of(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER)
    return lua_isinteger(L, idx) ? "integer" : "float";
  if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) {
    const char *n = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the metatable */
    return n;
  }
  return luaL_typename(L, idx);
}


/*
** Converts the Lua value at 'idx' into an element of 'ct'. Returns NULL,
** or the exception class of the problem with its message pushed (so that
** callers can add where the value was). Rules:
** - integer types take integers and floats with an exact integer value;
**   other floats and non-numbers are a TypeError; a value outside the C
**   type's range is an OverflowError (ctypes would wrap it silently).
**   64-bit unsigned types take every Lua integer, negative ones standing
**   for their two's complement bit pattern (as Lua's hex literals do), and
**   integral floats up to 2^64;
** - float types take numbers; a finite value beyond float's range is an
**   OverflowError for 'f';
** - 'c' takes a string of exactly one byte.
*/
static const char *toelem(lua_State *L, int idx, const braid_ctype *ct,
                          braid_elem *e) {
  int t;
  idx = lua_absindex(L, idx); /* messages are pushed before it is read */
  t = lua_type(L, idx);
  switch (ct->kind) {
    case BRAID_CT_SIGNED:
    case BRAID_CT_UNSIGNED: {
      int isnum;
      lua_Integer v;
      if (t != LUA_TNUMBER) {
        lua_pushfstring(L, "int expected instead of %s", typename_of(L, idx));
        return "TypeError";
      }
      v = lua_tointegerx(L, idx, &isnum);
      if (!isnum) {
        lua_Number n = lua_tonumber(L, idx);
        if (!isfinite(n) || floor(n) != n) {
          lua_pushliteral(L, "int expected instead of float");
          return "TypeError";
        }
        if (ct->kind == BRAID_CT_UNSIGNED && ct->max == INT64_MAX &&
            n >= 0 && n < 18446744073709551616.0) {
          e->i = (int64_t)(uint64_t)n; /* 2^63 <= n < 2^64 */
          return NULL;
        }
        lua_pushfstring(L, "value %s out of range for typecode '%c' (%s)",
                        luaL_tolstring(L, idx, NULL), ct->code, ct->cname);
        lua_remove(L, -2);
        return "OverflowError";
      }
      if (braid__ctype_checkint(ct, (int64_t)v) != BRAID_OK) {
        lua_pushfstring(L,
                        "value %I out of range for typecode '%c' "
                        "(%s, %I..%I)",
                        v, ct->code, ct->cname, (lua_Integer)ct->min,
                        (lua_Integer)ct->max);
        return "OverflowError";
      }
      e->i = (int64_t)v;
      return NULL;
    }
    case BRAID_CT_FLOAT: {
      double d;
      if (t != LUA_TNUMBER) {
        lua_pushfstring(L, "must be real number, not %s", typename_of(L, idx));
        return "TypeError";
      }
      d = (double)lua_tonumber(L, idx);
      /* Finite values that would round to infinity: at or beyond the
      ** midpoint between FLT_MAX and 2^128 (a tie rounds to even, 2^128).
      ** Checked before converting: the conversion itself is undefined. */
      if (ct->size == sizeof(float) && isfinite(d) &&
          fabs(d) >= 0x1.ffffffp+127) {
        lua_pushfstring(L, "value %s out of range for typecode '%c' (%s)",
                        luaL_tolstring(L, idx, NULL), ct->code, ct->cname);
        lua_remove(L, -2);
        return "OverflowError";
      }
      e->d = d;
      return NULL;
    }
    default: {
      size_t len;
      if (t != LUA_TSTRING) {
        lua_pushfstring(L, "one-byte string expected, got %s",
                        typename_of(L, idx));
        return "TypeError";
      }
      lua_tolstring(L, idx, &len);
      if (len != 1) {
        lua_pushfstring(L, "one-byte string expected, got a string of length %I",
                        (lua_Integer)len);
        return "TypeError";
      }
      e->c = (unsigned char)lua_tostring(L, idx)[0];
      return NULL;
    }
  }
}


/* toelem, raising its error as is ("int expected instead of float"). */
static void checkelem(lua_State *L, int idx, const braid_ctype *ct,
                      braid_elem *e) {
  const char *cls = toelem(L, idx, ct, e);
  if (cls != NULL) braidB_raise(L, cls, "%s", lua_tostring(L, -1));
}


/* toelem for item 'k' of a sequence argument 'arg': the error names both
** ("bad argument #2 to 'Array' (item 3: int expected instead of float)").
** The item is at the top of the stack. */
static void checkitem(lua_State *L, int arg, lua_Integer k,
                      const braid_ctype *ct, braid_elem *e) {
  const char *cls = toelem(L, -1, ct, e);
  if (cls != NULL)
    braidB_argerror(L, arg, cls, "item %I: %s", k, lua_tostring(L, -1));
}


static void pushelem(lua_State *L, const braid_shm *s, size_t i) {
  braid_elem e;
  braid__shm_load(s, i, &e);
  switch (s->ct->kind) {
    case BRAID_CT_SIGNED:
    case BRAID_CT_UNSIGNED: lua_pushinteger(L, (lua_Integer)e.i); break;
    case BRAID_CT_FLOAT: lua_pushnumber(L, (lua_Number)e.d); break;
    default: lua_pushlstring(L, (const char *)&e.c, 1); break;
  }
}


/* A 1-based element index at 'idx' of 's' -> 0-based offset. Raises
** TypeError for a non-integer, IndexError when out of range. */
static size_t checkindex(lua_State *L, int idx, const braid_shm *s) {
  int isnum;
  lua_Integer i = lua_tointegerx(L, idx, &isnum);
  if (!isnum || lua_type(L, idx) != LUA_TNUMBER)
    braidB_raise(L, "TypeError", "array indices must be integers, not %s",
                 typename_of(L, idx));
  if (i < 1 || (lua_Unsigned)i > (lua_Unsigned)s->length)
    braidB_raise(L, "IndexError", "invalid index %I (array has %I elements)",
                 i, (lua_Integer)s->length);
  return (size_t)(i - 1);
}


/* Bounds i..j (string.sub's rules) of an array of 'len' elements, in
** place; returns the number of elements selected (0 when empty). */
static size_t slicebounds(lua_Integer *i, lua_Integer *j, size_t len) {
  lua_Integer n = (lua_Integer)len;
  if (*i < 0) *i = (-*i > n) ? 1 : n + *i + 1;
  else if (*i == 0) *i = 1;
  if (*j < 0) *j = (-*j > n) ? 0 : n + *j + 1;
  else if (*j > n) *j = n;
  return *i > *j ? 0 : (size_t)(*j - *i + 1);
}
/* }====================================================== */


/*
** {======================================================
** The lock
** =======================================================
*/

/* Pushes the lock of 's' or raises AttributeError naming 'attr' (Python:
** a raw ctypes object has no get_lock, acquire...). */
static void pushlock(lua_State *L, const braid_shm *s, const char *attr) {
  if (s->lock == NULL)
    braidB_raise(L, "AttributeError",
                 "'%s' object without a lock (created with lock=false, or a "
                 "raw object) has no attribute '%s'",
                 s->h.type->name, attr);
  braidB_pushhandle(L, s->lock);
}


/* Calls method 'm' of the lock of the object at 1 with the arguments
** 2..top; returns its results. */
static int calllock(lua_State *L, const char *m) {
  braid_shm *s = checkshm(L, 1);
  int n = lua_gettop(L), i;
  pushlock(L, s, m);
  lua_getfield(L, -1, m);
  lua_insert(L, -2); /* lock.m lock */
  for (i = 2; i <= n; i++) lua_pushvalue(L, i);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L) - n;
}


/* obj:get_lock() -> the lock (AttributeError when there is none) */
static int shm_get_lock(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  pushlock(L, s, "get_lock");
  return 1;
}


/*
** obj:get_obj() -> the raw object: the same memory without a lock (its
** get_lock, acquire... raise AttributeError). The same raw object is
** returned while this proxy lives (kept in its user value).
*/
static int shm_get_obj(lua_State *L) {
  braid_shm *s = checkshm(L, 1), *raw;
  int rc;
  if (s->lock == NULL) pushlock(L, s, "get_obj");
  if (lua_getiuservalue(L, 1, 1) == LUA_TUSERDATA) return 1;
  lua_pop(L, 1);
  rc = braid__shm_view(&raw, s, NULL);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, NULL);
  braidB_pushnewhandle(L, &raw->h);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, 1, 1);
  return 1;
}


/* obj:acquire(...) / obj:release(): the lock's, with the same arguments */
static int shm_acquire(lua_State *L) {
  return calllock(L, "acquire");
}


static int shm_release(lua_State *L) {
  return calllock(L, "release");
}


/* obj:guard() -> obj, acquired: 'local g <close> = v:guard()' */
static int shm_guard(lua_State *L) {
  lua_settop(L, 1);
  calllock(L, "acquire");
  lua_settop(L, 1);
  return 1;
}


/* __close: releases the lock (the end of a 'guard' scope). An object
** without a lock has nothing to release ('local v <close> = RawValue()'
** is harmless); guard() on it already raised. */
static int shm_close(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  lua_settop(L, 1);
  if (s->lock != NULL) calllock(L, "release");
  return 0;
}


/* obj:with(fn, ...) -> fn's results, called with the lock held */
static int shm_with(lua_State *L) {
  checkshm(L, 1);
  return braidB_lock_with(L);
}
/* }====================================================== */


/*
** {======================================================
** Constructors
** =======================================================
*/

static const braid_ctype *checktypecode(lua_State *L, int arg) {
  size_t len;
  const char *s;
  const braid_ctype *ct = NULL;
  if (lua_type(L, arg) != LUA_TSTRING) {
    braidB_argerror(L, arg, "TypeError",
                    "bad typecode (must be %s), got %s", braid__ctype_list(),
                    typename_of(L, arg));
    return NULL;
  }
  s = lua_tolstring(L, arg, &len);
  if (len == 1) ct = braid__ctype(s[0]);
  if (ct == NULL)
    braidB_argerror(L, arg, "TypeError", "bad typecode '%s' (must be %s)", s,
                    braid__ctype_list());
  return ct;
}


/* The lock argument at 'arg': nil or false (no lock) or a braid
** lock-like proxy (with acquire and release methods). */
static braid_handle *checklock(lua_State *L, int arg) {
  braid_handle *h;
  int ok;
  if (lua_isnoneornil(L, arg) ||
      (lua_type(L, arg) == LUA_TBOOLEAN && !lua_toboolean(L, arg)))
    return NULL;
  h = braidB_tohandle(L, arg);
  ok = h != NULL && lua_getfield(L, arg, "acquire") == LUA_TFUNCTION &&
       lua_getfield(L, arg, "release") == LUA_TFUNCTION;
  if (!ok)
    braidB_argerror(L, arg, "TypeError",
                    "lock must be a boolean or a braid lock with acquire and "
                    "release (Lock, RLock...), got %s",
                    typename_of(L, arg));
  return h;
}


static braid_shm *newshm(lua_State *L, const braid_handle_type *type,
                         const braid_ctype *ct, size_t n,
                         braid_handle *lock) {
  braid_shm *s;
  int rc = braid__shm_new(&s, type, ct, n, lock);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno))
    rc = braid__shm_new(&s, type, ct, n, lock);
  if (rc != BRAID_OK) {
    braidB_raisecode(L, rc,
                     rc == BRAID_ENOMEM ? "cannot allocate shared memory"
                                        : "cannot create shared memory");
    return NULL;
  }
  braidB_pushnewhandle(L, &s->h);
  return s;
}


/*
** core.Value(typecode, [init], [lock]) -> braid.Value
** 'init' defaults to 0 ("\0" for 'c'); 'lock' is nil/false or a lock.
** The Lua layer (braid.multiprocessing) turns lock=true into an RLock.
*/
static int core_value(lua_State *L) {
  const braid_ctype *ct = checktypecode(L, 1);
  braid_handle *lock = checklock(L, 3);
  braid_elem e;
  braid_shm *s;
  memset(&e, 0, sizeof e);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushvalue(L, 2);
    {
      const char *cls = toelem(L, -1, ct, &e);
      if (cls != NULL)
        braidB_argerror(L, 2, cls, "%s", lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
  s = newshm(L, &braid__value_type, ct, 1, lock);
  braid__shm_store(s, 0, &e);
  return 1;
}


/*
** core.Array(typecode, size_or_initializer, [lock]) -> braid.Array
** A size gives zero-filled elements; a sequence table gives its elements
** (and its length); for 'c', a string gives its bytes.
*/
static int core_array(lua_State *L) {
  const braid_ctype *ct = checktypecode(L, 1);
  braid_handle *lock = checklock(L, 3);
  braid_shm *s;
  size_t n, k;
  switch (lua_type(L, 2)) {
    case LUA_TNUMBER: {
      lua_Integer size = braidB_checkinteger(L, 2);
      if (size < 0)
        return braidB_argerror(L, 2, "ValueError", "Array length must be >= 0");
      if ((lua_Unsigned)size > SIZE_MAX / 2)
        return braidB_argerror(L, 2, "OverflowError", "Array length too large");
      newshm(L, &braid__array_type, ct, (size_t)size, lock);
      return 1;
    }
    case LUA_TSTRING: {
      const char *p;
      if (ct->kind != BRAID_CT_CHAR)
        return braidB_argerror(L, 2, "TypeError",
                               "a string initializer needs typecode 'c'");
      p = lua_tolstring(L, 2, &n);
      s = newshm(L, &braid__array_type, ct, n, lock);
      braid__shm_write(s, 0, p, n);
      return 1;
    }
    case LUA_TTABLE: {
      braid_elem e;
      n = (size_t)lua_rawlen(L, 2);
      for (k = 1; k <= n; k++) { /* check all before allocating */
        lua_rawgeti(L, 2, (lua_Integer)k);
        checkitem(L, 2, (lua_Integer)k, ct, &e);
        lua_pop(L, 1);
      }
      s = newshm(L, &braid__array_type, ct, n, lock);
      for (k = 1; k <= n; k++) {
        lua_rawgeti(L, 2, (lua_Integer)k);
        toelem(L, -1, ct, &e); /* checked above: cannot fail */
        lua_pop(L, 1);
        braid__shm_store(s, k - 1, &e);
      }
      return 1;
    }
    default:
      return braidB_typeerror(L, 2, "integer size or sequence");
  }
}


/* core.shm_view(obj, [lock]) -> a new object over the same memory, with
** 'lock' (nil: raw). Used by sharedctypes.synchronized. */
static int core_shm_view(lua_State *L) {
  braid_shm *s = checkshm(L, 1), *v;
  braid_handle *lock = checklock(L, 2);
  int rc = braid__shm_view(&v, s, lock);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, NULL);
  braidB_pushnewhandle(L, &v->h);
  return 1;
}


/* core._shm_attach(typecode, length, is_array, fd, mapsize, [lock]): the
** receiving side of __braidexport (a process started with spawn or the
** forkserver maps the same memory). */
static int core_shm_attach(lua_State *L) {
  const braid_ctype *ct = checktypecode(L, 1);
  lua_Integer n = braidB_checkinteger(L, 2);
  int arr = lua_toboolean(L, 3);
  lua_Integer size = braidB_checkinteger(L, 5);
  braid_handle *lock = lua_isnoneornil(L, 6) ? NULL : braidB_tohandle(L, 6);
  braid_shm *s;
  int fd, rc;
  if (n < 0 || size < 1) return braidB_raise(L, "ValueError", "bad shared memory");
  if (braidB_attach_fd(L, 4, "shared memory object", &fd)) return 1;
  rc = braid__shm_attach(&s, arr ? &braid__array_type : &braid__value_type,
                         ct, (size_t)n, fd, (size_t)size, lock);
  if (rc != BRAID_OK) {
    braidB_attach_drop(L, 4, fd);
    return braidB_raisecode(L, rc, "cannot map shared memory");
  }
  braidB_pushnewhandle(L, &s->h);
  braidB_attach_done(L, 4, fd);
  return 1;
}


/* __braidexport(obj, mode): to another process, by memfd (ltravel.c). */
static int shm_export(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  size_t mapsize;
  int fd = braid__shm_fd(s, &mapsize);
  char code = s->ct->code;
  if (fd < 0)
    return braidB_raise(L, "OSError", "this system has no memfd: shared "
                                      "memory reaches forked children only");
  lua_pushcfunction(L, core_shm_attach);
  lua_pushlstring(L, &code, 1);
  lua_pushinteger(L, (lua_Integer)s->length);
  lua_pushboolean(L, isarray(s));
  braidB_export_fd(L, fd, isarray(s) ? "Array" : "Value");
  lua_pushinteger(L, (lua_Integer)mapsize);
  if (s->lock != NULL) {
    braidB_pushhandle(L, s->lock);
    return 7;
  }
  return 6;
}


/* core.shm_info(obj) -> typecode, length, is_array, has_lock */
static int core_shm_info(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  char code = s->ct->code;
  lua_pushlstring(L, &code, 1);
  lua_pushinteger(L, (lua_Integer)s->length);
  lua_pushboolean(L, isarray(s));
  lua_pushboolean(L, s->lock != NULL);
  return 4;
}


/* core.cpu_count() -> number of online CPUs (at least 1) */
static int core_cpu_count(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? (lua_Integer)n : 1);
  return 1;
}
/* }====================================================== */


/*
** {======================================================
** Fields and metamethods
** =======================================================
*/

/* Pushes method 'key' (at 2) of the object at 1, or nil. */
static int pushmethod(lua_State *L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}


/* Pushes the bytes of a 'c' array: all of them ('raw'), or those before
** the first NUL ('value', as ctypes' c_char arrays). */
static void pushbytes(lua_State *L, const braid_shm *s, int raw) {
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, s->length);
  size_t n = s->length;
  braid__shm_read(s, 0, p, n);
  if (!raw) {
    const char *z = (const char *)memchr(p, '\0', n);
    if (z != NULL) n = (size_t)(z - p);
  }
  luaL_pushresultsize(&b, n);
}


/* a.value = s (up to the length, NUL-terminated when room) / a.raw = s */
static void setbytes(lua_State *L, braid_shm *s, int raw) {
  size_t len;
  const char *p;
  if (lua_type(L, 3) != LUA_TSTRING)
    braidB_raise(L, "TypeError", "string expected, got %s",
                 typename_of(L, 3));
  p = lua_tolstring(L, 3, &len);
  if (len > s->length) braidB_raise(L, "ValueError", "byte string too long");
  braid__shm_write(s, 0, p, len);
  if (!raw && len < s->length) braid__shm_write(s, len, "", 1);
}


static int value_index(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING &&
      strcmp(lua_tostring(L, 2), "value") == 0) {
    pushelem(L, s, 0);
    return 1;
  }
  return pushmethod(L);
}


static int value_newindex(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  braid_elem e;
  if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "value"))
    return braidB_raise(L, "AttributeError",
                        "'braid.Value' object has no attribute '%s' "
                        "(only 'value' can be set)",
                        luaL_tolstring(L, 2, NULL));
  checkelem(L, 3, s->ct, &e);
  braid__shm_store(s, 0, &e);
  return 0;
}


/* True when the caller of the running metamethod is a C function run as
** a generic-for iterator: ipairs' iterator, which ends at the first nil. */
static int called_by_for_iterator(lua_State *L) {
  lua_Debug ar;
  if (!lua_getstack(L, 1, &ar)) return 0;
  if (!lua_getinfo(L, "nS", &ar)) return 0;
  return ar.what != NULL && strcmp(ar.what, "C") == 0 &&
         ar.namewhat != NULL && strcmp(ar.namewhat, "for iterator") == 0;
}


/*
** a[i] -> element i (1-based). Out of range is an IndexError, except for
** a[#a + 1] read by ipairs' iterator, which gets the nil that ends the
** loop (Lua 5.4's ipairs goes through __index and stops at nil).
** a.value / a.raw for 'c' arrays; methods.
*/
static int array_index(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  switch (lua_type(L, 2)) {
    case LUA_TNUMBER: {
      int isnum;
      lua_Integer i = lua_tointegerx(L, 2, &isnum);
      if (isnum && i == (lua_Integer)s->length + 1 &&
          called_by_for_iterator(L))
        return 0;
      pushelem(L, s, checkindex(L, 2, s));
      return 1;
    }
    case LUA_TSTRING: {
      const char *k = lua_tostring(L, 2);
      if (s->ct->kind == BRAID_CT_CHAR) {
        if (strcmp(k, "value") == 0) {
          pushbytes(L, s, 0);
          return 1;
        }
        if (strcmp(k, "raw") == 0) {
          pushbytes(L, s, 1);
          return 1;
        }
      }
      return pushmethod(L);
    }
    default:
      return braidB_raise(L, "TypeError",
                          "array indices must be integers, not %s",
                          typename_of(L, 2));
  }
}


static int array_newindex(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (s->ct->kind == BRAID_CT_CHAR &&
        (strcmp(k, "value") == 0 || strcmp(k, "raw") == 0)) {
      setbytes(L, s, k[0] == 'r');
      return 0;
    }
    return braidB_raise(L, "AttributeError",
                        "'braid.Array' object has no attribute '%s'%s", k,
                        s->ct->kind == BRAID_CT_CHAR
                            ? " (only 'value' and 'raw' can be set)"
                            : "");
  } else {
    size_t i = checkindex(L, 2, s);
    braid_elem e;
    checkelem(L, 3, s->ct, &e);
    braid__shm_store(s, i, &e);
    return 0;
  }
}


static int array_len(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  lua_pushinteger(L, (lua_Integer)s->length);
  return 1;
}


/* Iterator of __pairs: (a, i) -> i + 1, a[i + 1] until the end. */
static int array_next(lua_State *L) {
  braid_shm *s = checkshm(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 0 || (lua_Unsigned)i >= (lua_Unsigned)s->length) return 0;
  lua_pushinteger(L, i + 1);
  pushelem(L, s, (size_t)i);
  return 2;
}


/* pairs(a): index, value in order */
static int array_pairs(lua_State *L) {
  checkshm(L, 1);
  lua_pushcfunction(L, array_next);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}


/* a:slice([i [, j]]) -> { a[i], ..., a[j] } with string.sub's rules */
static int array_slice(lua_State *L) {
  braid_shm *s = checkarray(L, 1);
  lua_Integer i = braidB_optinteger(L, 2, 1);
  lua_Integer j = braidB_optinteger(L, 3, -1);
  size_t n = slicebounds(&i, &j, s->length), k;
  lua_createtable(L, (int)(n < INT32_MAX ? n : INT32_MAX), 0);
  for (k = 0; k < n; k++) {
    pushelem(L, s, (size_t)(i - 1) + k);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  return 1;
}


/* a:tolist() -> { a[1], ..., a[#a] } */
static int array_tolist(lua_State *L) {
  lua_settop(L, 1);
  return array_slice(L);
}


/*
** a:set_slice(i, j, t): a[i..j] = t[1..n] (string.sub's rules for i, j).
** 't' is a sequence table (or, for 'c', a string) of exactly the slice's
** length, else ValueError. Every item is checked before any is written.
*/
static int array_set_slice(lua_State *L) {
  braid_shm *s = checkarray(L, 1);
  lua_Integer i = braidB_checkinteger(L, 2);
  lua_Integer j = braidB_checkinteger(L, 3);
  size_t n = slicebounds(&i, &j, s->length), len, k;
  braid_elem e;
  if (s->ct->kind == BRAID_CT_CHAR && lua_type(L, 4) == LUA_TSTRING) {
    const char *p = lua_tolstring(L, 4, &len);
    if (len != n)
      return braidB_raise(L, "ValueError",
                          "Can only assign sequence of same size (slice has "
                          "%I elements, got %I)",
                          (lua_Integer)n, (lua_Integer)len);
    if (n > 0) braid__shm_write(s, (size_t)(i - 1), p, n);
    return 0;
  }
  if (lua_type(L, 4) != LUA_TTABLE) return braidB_typeerror(L, 4, "table");
  len = (size_t)lua_rawlen(L, 4);
  if (len != n)
    return braidB_raise(L, "ValueError",
                        "Can only assign sequence of same size (slice has "
                        "%I elements, got %I)",
                        (lua_Integer)n, (lua_Integer)len);
  for (k = 1; k <= n; k++) {
    lua_rawgeti(L, 4, (lua_Integer)k);
    checkitem(L, 4, (lua_Integer)k, s->ct, &e);
    lua_pop(L, 1);
  }
  for (k = 1; k <= n; k++) {
    lua_rawgeti(L, 4, (lua_Integer)k);
    toelem(L, -1, s->ct, &e);
    lua_pop(L, 1);
    braid__shm_store(s, (size_t)(i - 1) + k - 1, &e);
  }
  return 0;
}


/* Adds element 'i' of 's' to the buffer, as Python's repr would. */
static void addelem(lua_State *L, luaL_Buffer *b, const braid_shm *s,
                    size_t i) {
  if (s->ct->kind == BRAID_CT_CHAR) {
    braid_elem e;
    char tmp[8];
    braid__shm_load(s, i, &e);
    if (e.c == '"' || e.c == '\\')
      snprintf(tmp, sizeof tmp, "\\%c", e.c);
    else if (e.c >= 32 && e.c < 127)
      snprintf(tmp, sizeof tmp, "%c", e.c);
    else
      snprintf(tmp, sizeof tmp, "\\x%02x", e.c);
    luaL_addstring(b, tmp);
    return;
  }
  if (s->ct->kind == BRAID_CT_UNSIGNED && s->ct->size == 8) {
    /* show the C value, not the Lua integer's two's complement */
    braid_elem e;
    char tmp[24];
    braid__shm_load(s, i, &e);
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)(uint64_t)e.i);
    luaL_addstring(b, tmp);
    return;
  }
  pushelem(L, s, i);
  luaL_tolstring(L, -1, NULL);
  lua_remove(L, -2);
  luaL_addvalue(b);
}


/* "<braid.Value i 42>", "<braid.Array d [1.0, 2.0, ...] (100 items)>",
** "<braid.Array c "ab\x00">"; " (no lock)" for raw objects. */
static int shm_tostring(lua_State *L) {
  braidB_Box *box = (braidB_Box *)lua_touserdata(L, 1);
  const braid_shm *s = (const braid_shm *)box->h;
  luaL_Buffer b;
  size_t k, shown = 1;
  if (s == NULL) {
    luaL_getmetafield(L, 1, "__name");
    lua_pushfstring(L, "<%s (closed)>", lua_tostring(L, -1));
    return 1;
  }
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "<%s %c ", s->h.type->name, s->ct->code);
  luaL_addvalue(&b);
  if (!isarray(s)) {
    if (s->ct->kind == BRAID_CT_CHAR) luaL_addchar(&b, '"');
    addelem(L, &b, s, 0);
    if (s->ct->kind == BRAID_CT_CHAR) luaL_addchar(&b, '"');
  } else if (s->ct->kind == BRAID_CT_CHAR) {
    shown = s->length < 4 * SHOWN_ITEMS ? s->length : 4 * SHOWN_ITEMS;
    luaL_addchar(&b, '"');
    for (k = 0; k < shown; k++) addelem(L, &b, s, k);
    luaL_addchar(&b, '"');
    if (shown < s->length) luaL_addstring(&b, "...");
  } else {
    shown = s->length < SHOWN_ITEMS ? s->length : SHOWN_ITEMS;
    luaL_addchar(&b, '[');
    for (k = 0; k < shown; k++) {
      if (k > 0) luaL_addstring(&b, ", ");
      addelem(L, &b, s, k);
    }
    if (shown < s->length) luaL_addstring(&b, ", ...");
    luaL_addchar(&b, ']');
  }
  if (isarray(s) && shown < s->length) {
    lua_pushfstring(L, " (%I items)", (lua_Integer)s->length);
    luaL_addvalue(&b);
  }
  if (s->lock == NULL) luaL_addstring(&b, " (no lock)");
  luaL_addchar(&b, '>');
  luaL_pushresult(&b);
  return 1;
}
/* }====================================================== */


static const luaL_Reg value_methods[] = {
  { "get_lock", shm_get_lock },
  { "get_obj", shm_get_obj },
  { "acquire", shm_acquire },
  { "release", shm_release },
  { "guard", shm_guard },
  { "with", shm_with },
  { NULL, NULL },
};

static const luaL_Reg value_meta[] = {
  { "__index", value_index },
  { "__newindex", value_newindex },
  { "__close", shm_close },
  { "__tostring", shm_tostring },
  { "__braidexport", shm_export },
  { NULL, NULL },
};

static const luaL_Reg array_methods[] = {
  { "get_lock", shm_get_lock },
  { "get_obj", shm_get_obj },
  { "acquire", shm_acquire },
  { "release", shm_release },
  { "guard", shm_guard },
  { "with", shm_with },
  { "slice", array_slice },
  { "set_slice", array_set_slice },
  { "tolist", array_tolist },
  { NULL, NULL },
};

static const luaL_Reg array_meta[] = {
  { "__index", array_index },
  { "__newindex", array_newindex },
  { "__len", array_len },
  { "__pairs", array_pairs },
  { "__close", shm_close },
  { "__tostring", shm_tostring },
  { "__braidexport", shm_export },
  { NULL, NULL },
};

const braidB_Class braidB_shm_classes[] = {
  { &braid__value_type, value_methods, value_meta },
  { &braid__array_type, array_methods, array_meta },
  { NULL, NULL, NULL },
};


static const luaL_Reg shm_funcs[] = {
  { "Value", core_value },
  { "Array", core_array },
  { "shm_view", core_shm_view },
  { "shm_info", core_shm_info },
  { "_shm_attach", core_shm_attach },
  { "cpu_count", core_cpu_count },
  { NULL, NULL },
};


void braidB_open_shm(lua_State *L) {
  luaL_setfuncs(L, shm_funcs, 0);
}

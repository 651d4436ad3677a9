/*
** lsharedmem.c: Lua binding of multiprocessing.shared_memory.SharedMemory:
** a named POSIX shared-memory segment (shm_open) mapped into this
** process, a full userdata (BRAIDB_SHMEM_T) rather than a braid handle:
** it travels by name (__braidreduce), the receiver maps the same segment.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lbind.h"
#include "lprocess.h"

/*
** {======================================================
** SharedMemory (POSIX shm_open)
** =======================================================
*/


typedef struct ShMem {
  unsigned char *p; /* first: recv_bytes_into reads p and size */
  size_t size;
  char name[64];
} ShMem;


static ShMem *checkshmem(lua_State *L, int idx, int open) {
  ShMem *m = (ShMem *)luaL_testudata(L, idx, BRAIDB_SHMEM_T);
  if (m == NULL) {
    braidB_typeerror(L, idx, BRAIDB_SHMEM_T);
    return NULL;
  }
  if (open && m->p == NULL)
    braidB_raise(L, "ValueError", "SharedMemory is closed");
  return m;
}


/* core.SharedMemory(name, create, size) */
static int core_shared_memory(lua_State *L) {
  const char *name = lua_isnoneornil(L, 1) ? NULL : braidB_checkstring(L, 1, NULL);
  int create = braidB_optboolean(L, 2, 0);
  lua_Integer size = braidB_optinteger(L, 3, 0);
  ShMem *m;
  char buf[64];
  int fd, flags = O_RDWR;
  struct stat st;
  void *p;
  if (size < 0) return braidB_argerror(L, 3, "ValueError", "'size' must be a positive integer");
  if (create && size == 0)
    return braidB_argerror(L, 3, "ValueError",
                           "'size' must be a positive number different from zero");
  if (!create && name == NULL)
    return braidB_argerror(L, 1, "ValueError",
                           "'name' can only be None if create=True");
  if (name != NULL) {
    if (strlen(name) > 60) return braidB_argerror(L, 1, "ValueError", "name too long");
    snprintf(buf, sizeof buf, "%s%s", name[0] == '/' ? "" : "/", name);
  }
  if (create) flags |= O_CREAT | O_EXCL;
  for (;;) {
    if (name == NULL) {
      unsigned r;
      FILE *f = fopen("/dev/urandom", "rbe");
      if (f == NULL || fread(&r, sizeof r, 1, f) != 1) r = (unsigned)getpid() ^ (unsigned)(uintptr_t)&r;
      if (f) fclose(f);
      snprintf(buf, sizeof buf, "/psm_%08x", r);
    }
    fd = shm_open(buf, flags | O_CLOEXEC, 0600);
    if (fd < 0 && braidB_fdgc(L, errno))
      fd = shm_open(buf, flags | O_CLOEXEC, 0600);
    if (fd >= 0 || name != NULL || errno != EEXIST) break;
  }
  if (fd < 0) return braidB_oserror(L, errno, buf + 1);
  if (create) {
    if (ftruncate(fd, (off_t)size) != 0) {
      int e = errno;
      close(fd);
      shm_unlink(buf);
      errno = e;
      return braidB_oserror(L, errno, buf + 1);
    }
  } else {
    if (fstat(fd, &st) != 0) {
      close(fd);
      return braidB_oserror(L, errno, buf + 1);
    }
    size = (lua_Integer)st.st_size;
  }
  p = mmap(NULL, size ? (size_t)size : 1, PROT_READ | PROT_WRITE, MAP_SHARED,
           fd, 0);
  close(fd);
  if (p == MAP_FAILED) return braidB_oserror(L, errno, buf + 1);
  m = (ShMem *)lua_newuserdatauv(L, sizeof *m, 0);
  m->p = (unsigned char *)p;
  m->size = (size_t)size;
  memcpy(m->name, buf, sizeof m->name);
  luaL_setmetatable(L, BRAIDB_SHMEM_T);
  return 1;
}


static int shmem_close(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  if (m->p != NULL) munmap(m->p, m->size ? m->size : 1);
  m->p = NULL;
  return 0;
}


static int shmem_unlink(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  if (shm_unlink(m->name) != 0) return braidB_oserror(L, errno, m->name + 1);
  return 0;
}


/* shm:read([offset=0], [n=size-offset]) -> string */
static int shmem_read(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 1);
  lua_Integer off = braidB_optinteger(L, 2, 0);
  lua_Integer n = braidB_optinteger(L, 3, (lua_Integer)m->size - off);
  luaL_Buffer b;
  char *d;
  lua_Integer k;
  if (off < 0 || n < 0 || (lua_Unsigned)off + (lua_Unsigned)n > m->size)
    return braidB_raise(L, "IndexError", "byte range out of bounds");
  d = luaL_buffinitsize(L, &b, (size_t)n);
  for (k = 0; k < n; k++)
    d[k] = (char)__atomic_load_n(m->p + off + k, __ATOMIC_RELAXED);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}


/* shm:write(offset, s) */
static int shmem_write(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 1);
  lua_Integer off = braidB_checkinteger(L, 2);
  size_t n, k;
  const char *s = braidB_checkstring(L, 3, &n);
  if (off < 0 || (lua_Unsigned)off + n > m->size)
    return braidB_raise(L, "IndexError", "byte range out of bounds");
  for (k = 0; k < n; k++)
    __atomic_store_n(m->p + off + k, (unsigned char)s[k], __ATOMIC_RELAXED);
  return 0;
}


static int shmem_index(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  const char *k = lua_tostring(L, 2);
  if (luaL_getmetafield(L, 1, "__methods")) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  }
  if (k && strcmp(k, "name") == 0) lua_pushstring(L, m->name + 1);
  else if (k && strcmp(k, "size") == 0) lua_pushinteger(L, (lua_Integer)m->size);
  else lua_pushnil(L);
  return 1;
}


/* Travels by name: the receiver attaches to the same segment. */
static int shmem_reduce(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  lua_pushcfunction(L, core_shared_memory);
  lua_pushstring(L, m->name + 1);
  lua_pushboolean(L, 0);
  return 3;
}


static int shmem_tostring(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  lua_pushfstring(L, "SharedMemory('%s', size=%I)", m->name + 1,
                  (lua_Integer)m->size);
  return 1;
}


static const luaL_Reg shmem_methods[] = {
  { "close", shmem_close },
  { "unlink", shmem_unlink },
  { "read", shmem_read },
  { "write", shmem_write },
  { NULL, NULL },
};

static const luaL_Reg shmem_meta[] = {
  { "__index", shmem_index },
  { "__gc", shmem_close },
  { "__close", shmem_close },
  { "__braidreduce", shmem_reduce },
  { "__tostring", shmem_tostring },
  { NULL, NULL },
};
/* }====================================================== */


void braidB_open_sharedmem(lua_State *L) {
  lua_pushcfunction(L, core_shared_memory);
  lua_setfield(L, -2, "SharedMemory");
  if (luaL_newmetatable(L, BRAIDB_SHMEM_T)) {
    luaL_setfuncs(L, shmem_meta, 0);
    luaL_newlib(L, shmem_methods);
    lua_setfield(L, -2, "__methods");
  }
  lua_pop(L, 1);
}

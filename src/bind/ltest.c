/*
** ltest.c: braid.core._test, compiled with BRAID_TESTS: probes that let
** specs prove reference counts reach zero and nothing leaks.
** See LICENSE for copyright and license.
*/
#include <dirent.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "lbind.h"


/* _test.refs(obj) -> reference count of a braid object */
static int test_refs(lua_State *L) {
  braid_handle *h = braidB_tohandle(L, 1);
  if (h == NULL) return braidB_typeerror(L, 1, "braid object");
  lua_pushinteger(L, (lua_Integer)braid__handle_refs(h));
  return 1;
}


/* _test.live() -> number of braid objects alive in the process */
static int test_live(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__handle_live());
  return 1;
}


/* _test.id(obj) -> light userdata address of the shared object */
static int test_id(lua_State *L) {
  braid_handle *h = braidB_tohandle(L, 1);
  if (h == NULL) return braidB_typeerror(L, 1, "braid object");
  lua_pushfstring(L, "%p", (void *)h);
  return 1;
}


/* _test.fds() -> number of descriptors open in this process (the
** entries of /proc/self/fd, less the one reading it); nil off Linux */
static int test_fds(lua_State *L) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  lua_Integer n = 0;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  lua_pushinteger(L, n - 1);
  return 1;
}


/* _test.children() -> {[pid] = state letter} of this process's children
** (any thread's), from /proc/<pid>/stat (state "Z": a zombie nobody
** reaped); nil off Linux */
static int test_children(lua_State *L) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  long me = (long)getpid();
  if (d == NULL) return 0;
  lua_newtable(L);
  while ((e = readdir(d)) != NULL) {
    char path[300], buf[512], state;
    const char *rp;
    long ppid;
    FILE *f;
    size_t n;
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    f = fopen(path, "r");
    if (f == NULL) continue; /* ended meanwhile */
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    rp = strrchr(buf, ')'); /* the command may hold spaces and parens */
    if (rp == NULL || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2) continue;
    if (ppid != me) continue;
    lua_pushlstring(L, &state, 1);
    lua_rawseti(L, -2, (lua_Integer)strtol(e->d_name, NULL, 10));
  }
  closedir(d);
  return 1;
}


/* _test.trim(): gives the chunks cached for worker states
** (braid__alloc_trim) and malloc's free memory (malloc_trim, glibc only)
** back to the system, so that a memory figure taken next counts what is
** allocated, not what is kept for later */
static int test_trim(lua_State *L) {
  (void)L;
  braid__alloc_trim();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  return 0;
}


/* _test.heap() -> bytes malloc has handed out and not got back (in its
** arenas and in mappings of their own; glibc's mallinfo2), or nil */
static int test_heap(lua_State *L) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 mi = mallinfo2();
  lua_pushinteger(L, (lua_Integer)(mi.uordblks + mi.hblkhd));
  return 1;
#else
  (void)L;
  return 0;
#endif
}


static const luaL_Reg test_funcs[] = {
  { "heap", test_heap },
  { "trim", test_trim },
  { "fds", test_fds },
  { "children", test_children },
  { "refs", test_refs },
  { "live", test_live },
  { "id", test_id },
  { NULL, NULL },
};


void braidB_open_test(lua_State *L) {
  luaL_setfuncs(L, test_funcs, 0);
}

/*
** host.c: embedding braid in a C program (a game or tool engine).
**
** The host has its own Lua module, 'engine', written in C. It creates a
** braid runtime with a per-state initializer that makes 'engine'
** requirable in every worker state braid creates, and a custom allocator
** for those states. Then it opens braid in its own state and runs a
** script whose threads call the host's module in parallel.
**
** Build: CMake builds it as build/embed_host (linked with libbraid.a).
** Run:   build/embed_host examples/embed/script.lua
*/
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "braidlib.h"

/* Counts worker allocations, to show the host's allocator is in use. */
static atomic_long worker_allocs;


static void *engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  atomic_fetch_add_explicit(&worker_allocs, 1, memory_order_relaxed);
  return realloc(ptr, nsize);
}


/* engine.checksum(s) -> integer: some "engine work" done in C. */
static int engine_checksum(lua_State *L) {
  size_t n, i;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_Integer h = 5381;
  for (i = 0; i < n; i++) h = h * 33 + (unsigned char)s[i];
  lua_pushinteger(L, h);
  return 1;
}


static int engine_name(lua_State *L) {
  lua_pushliteral(L, "embedded engine");
  return 1;
}


static int luaopen_engine(lua_State *L) {
  static const luaL_Reg funcs[] = {
    { "checksum", engine_checksum },
    { "name", engine_name },
    { NULL, NULL },
  };
  luaL_newlib(L, funcs);
  return 1;
}


/* Runs on every new worker state, before any user code. */
static int init_worker_state(lua_State *L, void *ud) {
  (void)ud;
  luaL_requiref(L, "engine", luaopen_engine, 0); /* package.loaded.engine */
  lua_pop(L, 1);
  return 0;
}


int main(int argc, char **argv) {
  braid_runtime_t *rt;
  braid_runtime_options_t opts;
  lua_State *L;
  int status;
  if (argc < 2) {
    fprintf(stderr, "usage: %s script.lua\n", argv[0]);
    return 2;
  }
  memset(&opts, 0, sizeof opts);
  opts.flags = BRAID_RUNTIME_HAS_ALLOC | BRAID_RUNTIME_HAS_STATEINIT;
  opts.alloc = engine_alloc;
  opts.stateinit = init_worker_state;
  if (braid_runtime_new(&rt, &opts) != BRAID_OK) {
    fprintf(stderr, "cannot create the braid runtime\n");
    return 1;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  braid_openlibs(L);      /* require "braid..." works without files */
  braid_attach(L, rt);    /* threads started from L use our runtime */
  luaL_requiref(L, "engine", luaopen_engine, 0); /* the host's own state too */
  lua_pop(L, 1);
  status = luaL_dofile(L, argv[1]);
  if (status != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
  }
  lua_close(L);           /* waits for the script's non-daemon threads */
  braid_runtime_release(rt);
  printf("worker allocations through the host allocator: %s\n",
         atomic_load(&worker_allocs) > 0 ? "yes" : "no");
  return status == LUA_OK && atomic_load(&worker_allocs) > 0 ? 0 : 1;
}

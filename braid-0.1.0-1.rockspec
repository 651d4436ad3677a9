rockspec_format = "3.0"
package = "braid"
version = "0.1.0-1"
source = {
  -- PLACEHOLDER: braid has no public address yet. Before uploading this
  -- rockspec, replace example.invalid with the real release archive.
  -- scripts/rock.sh packs a source rock from a local `git archive`
  -- instead, so packing and building work offline.
  url = "https://example.invalid/braid/releases/braid-0.1.0.tar.gz",
  dir = "braid-0.1.0",
}
description = {
  summary = "Python's concurrency API for Lua 5.4, with a Lua state per worker",
  detailed = [[
braid gives Lua 5.4 scripts Python's threading, queue, multiprocessing and
concurrent.futures APIs on a C core where every worker runs its own
lua_State, so threads run Lua code in parallel with no global lock.
Threads, locks, conditions, semaphores, events, barriers, thread-local
data and timers; FIFO, LIFO and priority queues with batch operations;
thread and process pool executors with futures; processes started by
fork, spawn or a forkserver, pipes, process-shared queues, locks and
typed shared memory; Pool and ThreadPool; a progress bar. Values are
copied between workers (functions with their upvalues, tables with their
cycles and metatables), braid objects are shared by reference, and
errors are typed objects with Python's hierarchy. Includes the reference
documentation (docs/) and LuaLS definition files (share/braid/types in
the rock's directory).]],
  -- PLACEHOLDER: no public homepage yet.
  homepage = "https://example.invalid/braid",
  license = "MIT",
  labels = { "concurrency", "threads", "multiprocessing", "parallelism" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
-- libcrypto (OpenSSL): HMAC and random challenges of Listener/Client
external_dependencies = {
  CRYPTO = { header = "openssl/hmac.h", library = "crypto" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    LUA_INCDIR = "$(LUA_INCDIR)",
    BRAID_LUA_CDIR = "$(LIBDIR)",
    BRAID_LUA_LDIR = "$(LUADIR)",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    BRAID_TYPES_DIR = "$(PREFIX)/share/braid/types",
    BRAID_BUILD_SHARED = "OFF",
    BRAID_BUILD_STATIC = "OFF",
    BRAID_BUILD_HOST = "OFF",
    BRAID_BUILD_TESTS = "OFF",
    BRAID_TESTS = "OFF",
  },
  copy_directories = { "docs" },
}
test = {
  -- the specs run against ./build (scripts/setup.sh makes it), as .busted
  -- says; scripts/rock.sh shows how to run this offline
  type = "busted",
}

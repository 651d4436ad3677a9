rockspec_format = "3.0"
package = "braid"
version = "scm-1"
source = {
  url = "git+https://example.invalid/braid.git",
}
description = {
  summary = "Python's concurrency API for Lua 5.4, with a Lua state per worker",
  detailed = [[
braid gives Lua scripts Python's threading, queue, multiprocessing,
concurrent.futures and subprocess APIs on a C core where every worker runs
its own lua_State: real parallelism with no global lock.]],
  license = "MIT",
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
    BRAID_BUILD_SHARED = "OFF",
    BRAID_BUILD_STATIC = "OFF",
    BRAID_BUILD_HOST = "OFF",
    BRAID_BUILD_TESTS = "OFF",
    BRAID_TESTS = "OFF",
    -- types/ (LuaLS definitions) stays in the rock's directory:
    -- $(luarocks show --rock-dir braid)/share/braid/types
    BRAID_TYPES_DIR = "$(PREFIX)/share/braid/types",
  },
}
test = {
  type = "busted",
}

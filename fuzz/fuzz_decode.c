/*
** fuzz_decode.c: libFuzzer target for the value-transfer decoder
** (ldecode.c: braid__msg_from_bytes + braid__decode_owned), the code that
** core.loads runs on bytes it is given (and again with BRAID_DEC_NOCODE,
** as an unauthenticated connection's recv decodes), and the same bytes cut as a slice
** of a batch (braid__msg_alloc with an origin + braid__decode_items), as a
** process pool's worker decodes the items its pool sends, after its last
** item alone (items of a shared batch name objects of earlier items), and
** once more as a message that came from another process with four
** out-of-line segments (T_SEG, memseg.h: of 0, 5, 4096 bytes and 1 MiB, the
** last one made the string's own pages: segblock.h), whose
** indices and lengths the bytes name as they like, as a map call's batch
** whose items name values of the call (T_CALLV) both as a thread pool's
** worker and as a process pool's child decode them, and once more as a
** stream from another process (pstream.h) whose control page the input's
** first bytes write. Every decode runs the string prefetcher's scanner
** (ldecraw.h) over the bytes ahead of it.
**
** One lua_State is made once; every input is decoded inside lua_pcall
** (errors are expected: a ValueError for corrupt data is the decoder doing
** its job). Crashes, sanitizer reports, leaks and hangs are bugs.
**
** The decoder can call Lua functions (T_REDUCE calls a constructor, and
** T_BYNAME resolves names through 'require'), so the state is sandboxed:
** no io/os/debug/package.loadlib, no load/dofile/print, a 'require' that
** only returns modules already loaded, no string.rep, and an instruction
** budget per input (a count hook) so that Lua code cannot hang the fuzzer.
**
** Decoded Lua functions are not run: a T_REDUCE whose constructor is
** decoded bytecode would make the fuzzer test Lua's VM on malicious
** bytecode, which Lua documents as unsafe (it crashes in seconds; see
** fuzz/README.md). A call hook refuses any Lua function whose source
** string is not one of those seen while warming up (braid.errors and the
** sandbox). Set BRAID_FUZZ_RUN_BYTECODE=1 to run them anyway.
** See LICENSE for copyright and license.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "braidlib.h"
#include "lcodec.h"
#include "ldecraw.h"
#include "lpstream.h"
#include "pstream.h"
#include "segfill.h"

#define HOOK_EVERY 1000     /* instructions between two hook calls */
#define HOOK_BUDGET 200     /* hook calls per input: 200,000 instructions */
#define GC_EVERY 256        /* inputs between two full collections */

#define MAX_TRUSTED 32

static lua_State *FL;
static unsigned long ninputs;
static int budget;
static int recording = 1;  /* warming up: sources seen are trusted */
static int run_bytecode;   /* BRAID_FUZZ_RUN_BYTECODE set */
static const char *trusted[MAX_TRUSTED];
static int ntrusted;

static const char SANDBOX[] =
  "local core = ...\n"
  "local loaded = package.loaded\n"
  "for _, name in ipairs{'io', 'os', 'debug'} do\n"
  "  loaded[name] = nil; _G[name] = nil\n"
  "end\n"
  "package.loadlib = nil; package.searchers = nil; package.searchpath = nil\n"
  "string.rep = nil\n"
  "load, loadfile, dofile, print, collectgarbage, warn = nil, nil, nil, nil, nil, nil\n"
  /* only the serializer from braid.core: no threads, no runtime settings */
  "loaded['braid.core'] = { dumps = core.dumps, loads = core.loads,\n"
  "                         copy = core.copy }\n"
  "require = function(name)\n"
  "  local m = loaded[name]\n"
  "  if m == nil then error('fuzz: no module ' .. tostring(name)) end\n"
  "  return m\n"
  "end\n";


/* Pointer identity, not string comparison: interned source strings of
** trusted code are found by address, and libFuzzer cannot learn them. */
static int is_trusted(const char *src) {
  int i;
  for (i = 0; i < ntrusted; i++)
    if (trusted[i] == src) return 1;
  return 0;
}


static void hook(lua_State *L, lua_Debug *ar) {
  if (ar->event == LUA_HOOKCOUNT) {
    if (++budget > HOOK_BUDGET) luaL_error(L, "fuzz: instruction budget spent");
    return;
  }
  if (run_bytecode || !lua_getinfo(L, "S", ar) || ar->what[0] != 'L') return;
  if (recording) {
    if (!is_trusted(ar->source) && ntrusted < MAX_TRUSTED)
      trusted[ntrusted++] = ar->source;
  } else if (!is_trusted(ar->source)) {
    luaL_error(L, "fuzz: decoded Lua functions are not run");
  }
}


static int decode(lua_State *L);

/* Runs the Lua code the decoder may legitimately call: class lookup and
** creation (T_CLASS), raising errors, the sandbox's require. */
static void warm_up(void) {
  static const char *const msgs[] = {
    "\x01\x01\x0c\x05\x0aValueError",         /* a known class */
    "\x01\x01\x0c\x05\x07fuzz.Up",            /* a new class */
    "\x01\x01\x63",                             /* unknown tag: raises */
    "\x01\x01\x09\x05\x04nope\x05\x01x",        /* require fails */
    "\x01\x01\x09\x05\x06string\x05\x03len",   /* a C function by name */
  };
  size_t i;
  for (i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
    lua_pushcfunction(FL, decode);
    lua_pushlightuserdata(FL, (void *)msgs[i]);
    lua_pushinteger(FL, (lua_Integer)strlen(msgs[i]));
    (void)lua_pcall(FL, 2, LUA_MULTRET, 0);
    lua_settop(FL, 0);
  }
}


/* The state is closed at exit, before the leak check (atexit handlers
** run in the reverse order of their registration, the sanitizer's first):
** what it holds is freed, and what is still allocated then is a leak.
** It must be: a stream's reader moves the state onto a pool (ladopt.c),
** whose chunks the leak checker does not scan, so blocks that only pool
** memory points to would be reported while the state lives. */
static void close_state(void) {
  if (FL != NULL) lua_close(FL);
  FL = NULL;
}


static void init(void) {
  FL = luaL_newstate();
  if (FL == NULL) abort();
  atexit(close_state);
  luaL_openlibs(FL);
  luaL_requiref(FL, "braid.core", luaopen_braid_core, 0);
  if (luaL_loadbuffer(FL, SANDBOX, sizeof SANDBOX - 1, "=sandbox") != LUA_OK)
    goto fail;
  lua_insert(FL, -2); /* the module is the chunk's argument */
  if (lua_pcall(FL, 1, 0, 0) != LUA_OK) goto fail;
  lua_settop(FL, 0);
  run_bytecode = getenv("BRAID_FUZZ_RUN_BYTECODE") != NULL;
  /* the string prefetcher's scanner reads the bytes ahead of the decoder:
  ** run it on every input, not only on big ones (ldecraw.h) */
  braidB_strahead_force(1);
  lua_sethook(FL, hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_EVERY);
  warm_up();
  recording = 0;
  return;
fail:
  fprintf(stderr, "fuzz_decode: set-up failed: %s\n", lua_tostring(FL, -1));
  abort();
}


/* (data, size, flags): flags BRAID_DEC_NOCODE decodes as an
** unauthenticated connection's recv does (refusals name a path read from
** the decoder's frames). */
static int decode(lua_State *L) {
  const uint8_t *data = (const uint8_t *)lua_touserdata(L, 1);
  size_t size = (size_t)lua_tointeger(L, 2);
  int flags = (int)lua_tointeger(L, 3);
  braid_msg *m = braid__msg_from_bytes(data, size);
  lua_settop(L, 0);
  if (m == NULL) return luaL_error(L, "not enough memory");
  return braid__decode_owned_flags(L, m, flags);
}


/* (msg) -> nothing: decodes the last item of batch 'msg' alone, as a
** get of one item of a put_many batch does (what it names in earlier
** items is decoded from the bytes: ldecode.c, recall_earlier). */
static int decode_last(lua_State *L) {
  const braid_msg *m = (const braid_msg *)lua_touserdata(L, 1);
  braid__decode_range(L, m, m->nitems - 1, 1, 0, 0);
  return 0;
}


/* The same bytes as a slice of a batch (what a pool's worker process
** gets: items cut from a batch at 'origin', their offsets rebased): the
** last two bytes choose how many items and the origin, the items split
** the rest evenly; each item is decoded as a process pool's child does. */
static int decode_slice(lua_State *L) {
  const uint8_t *data = (const uint8_t *)lua_touserdata(L, 1);
  size_t size = (size_t)lua_tointeger(L, 2), len;
  uint32_t n, origin, i;
  braid_item items[16];
  braid_msg *m;
  lua_settop(L, 0);
  if (size < 3) return 0;
  len = size - 2;
  n = 1u + data[size - 1] % 16u;
  origin = (uint32_t)data[size - 2] * 13u;
  m = braid__msg_alloc(len, n, origin);
  if (m == NULL) return luaL_error(L, "not enough memory");
  memcpy(m->data, data, len);
  for (i = 0; i < n; i++) {
    m->offs[i] = (uint32_t)(((uint64_t)len * i) / n);
    items[i].m = m;
    items[i].idx = i;
  }
  lua_pushcfunction(L, decode_last);
  lua_pushlightuserdata(L, m);
  (void)lua_pcall(L, 1, 0, 0); /* errors are expected; 'm' stays ours */
  lua_settop(L, 0);
  lua_createtable(L, (int)n, 0);
  /* releases every item (freeing 'm'), also when decoding raises */
  braid__decode_items(L, items, n, 1, 1);
  return 0;
}


/* (m, calls): decodes the items of 'm' in order, releasing them; then
** frees 'calls' (a process pool child's call values), also on a raise. */
static int decode_all_items(lua_State *L) {
  braid_msg *m = (braid_msg *)lua_touserdata(L, 1);
  braid_item items[2];
  uint32_t i;
  for (i = 0; i < m->nitems; i++) {
    items[i].m = m;
    items[i].idx = i;
  }
  lua_settop(L, 0);
  lua_createtable(L, 2, 0);
  braid__decode_items(L, items, m->nitems, 1, 1);
  return 0;
}

/* A map call's batch whose later items name values of the call (T_CALLV,
** lencgroup.c/ldcallv.c): the last two bytes choose the call range
** [lo, hi) of the rest, which is cut into two items there, [0, hi) and
** [hi, len): decoded as a thread pool's worker does (the whole batch),
** then as a process pool's child does (the second item alone, cut at
** 'hi', with the call bytes in a message of their own at origin 'lo').
** A T_CALLV naming anything but a flat table of the range fails cleanly. */
static int decode_calls(lua_State *L) {
  const uint8_t *data = (const uint8_t *)lua_touserdata(L, 1);
  size_t size = (size_t)lua_tointeger(L, 2), len, lo, hi;
  braid_msg *m, *c, *sl;
  int rc;
  lua_settop(L, 0);
  if (size < 3) return 0;
  len = size - 2;
  if (len > 0xffffff) return 0;
  lo = data[size - 2] % (len + 1);
  hi = lo + data[size - 1] % (len - lo + 1);
  m = braid__msg_alloc(len, 2, 0);
  if (m == NULL) return luaL_error(L, "not enough memory");
  memcpy(m->data, data, len);
  m->offs[0] = 0;
  m->offs[1] = (uint32_t)hi;
  m->call_lo = (uint32_t)lo;
  m->call_hi = (uint32_t)hi;
  lua_pushcfunction(L, decode_all_items);
  lua_pushlightuserdata(L, m); /* freed by its items' release */
  (void)lua_pcall(L, 1, 0, 0);
  c = braid__msg_alloc(hi - lo, 0, 0);
  sl = braid__msg_alloc(len - hi, 1, (uint32_t)hi);
  if (c == NULL || sl == NULL) {
    braid__msg_free(c);
    braid__msg_free(sl);
    return luaL_error(L, "not enough memory");
  }
  memcpy(c->data, data + lo, hi - lo);
  c->origin = (uint32_t)lo;
  memcpy(sl->data, data + hi, len - hi);
  sl->offs[0] = 0;
  sl->callsrc = c;
  lua_pushcfunction(L, decode_all_items);
  lua_pushlightuserdata(L, sl);
  rc = lua_pcall(L, 1, 0, 0);
  braid__msg_free(c);
  (void)rc; /* errors are expected */
  return 0;
}


/* The segments every input's message comes with (made once; each
** message gets duplicates, which it closes). The fourth, of 1 MiB, is
** big enough to be made the string's own pages (segblock.h). */
#define SEG_FIXED 4
#define SEG_BIG ((size_t)1 << 20)
static int seg_fds[SEG_FIXED] = { -1, -1, -1, -1 };

/* (data, size): the bytes as a message holding the four segments, and
** a fifth made from the input (below). */
static int decode_segs(lua_State *L) {
  const uint8_t *data = (const uint8_t *)lua_touserdata(L, 1);
  size_t size = (size_t)lua_tointeger(L, 2);
  braid_msg *m = braid__msg_from_bytes(data, size);
  int i;
  lua_settop(L, 0);
  if (m == NULL) return luaL_error(L, "not enough memory");
  if (seg_fds[0] < 0) {
    static char page[4096];
    memset(page, 'p', sizeof page);
    seg_fds[0] = braid__seg_new("", 0);
    seg_fds[1] = braid__seg_new("hello", 5);
    seg_fds[2] = braid__seg_new(page, sizeof page);
    {
      char *big = (char *)malloc(SEG_BIG);
      if (big != NULL) {
        memset(big, 'b', SEG_BIG);
        seg_fds[3] = braid__seg_new(big, SEG_BIG);
        free(big);
      }
    }
  }
  for (i = 0; i < SEG_FIXED; i++) {
    int d = dup(seg_fds[i]);
    if (d < 0 || braid__msg_take_segs(m, &d, 1) != BRAID_OK) {
      braid__msg_free(m);
      return luaL_error(L, "no descriptor");
    }
  }
  if (size >= 12) {
    /* a fifth segment whose control page says what the input's first
    ** bytes say (segfill.h: its count and its "failed" flag; the mutex
    ** stays a free one): the receiver checks it and reads nothing the
    ** count does not cover */
    uint64_t hdr[3] = { 0x3147455344494152ull, 5, 0 };
    uint32_t flags[3] = { 0, 0, 0 };
    int d = memfd_create("braid-seg", MFD_CLOEXEC);
    memcpy(&hdr[2], data, 8);
    memcpy(&flags[2], data + 8, 4);
    if (d < 0 || ftruncate(d, BRAID_SEG_CTL + 5) != 0 ||
        pwrite(d, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
        pwrite(d, flags, sizeof flags, sizeof hdr) != (ssize_t)sizeof flags ||
        pwrite(d, "hello", 5, BRAID_SEG_CTL) != 5 ||
        braid__msg_take_segs(m, &d, 1) != BRAID_OK) {
      if (d >= 0) close(d);
      braid__msg_free(m);
      return luaL_error(L, "no descriptor");
    }
  }
  return braid__decode_owned(L, m);
}


/* (data, size): a stream from another process (pstream.h, lpstream.c)
** whose control page says what the first 16 bytes say (the published
** count, the state, a restart and the final message's place, all free to
** lie; the mutex stays a free one, as a writer that let go leaves it) and
** whose message is the rest: the reader must reject what breaks the
** rules and decode nothing it does not cover. */
static int decode_stream(lua_State *L) {
  const uint8_t *data = (const uint8_t *)lua_touserdata(L, 1);
  size_t size = (size_t)lua_tointeger(L, 2);
  uint64_t count;
  uint16_t off;
  uint32_t len;
  int fd;
  lua_settop(L, 0);
  if (size < 16) return 0;
  memcpy(&count, data, 8);
  memcpy(&off, data + 10, 2);
  memcpy(&len, data + 12, 4);
  /* mostly near the real length, sometimes anything */
  if (!(data[9] & 0x80)) count = (size - 16) - (count % 64 > size - 16 ? 0 : count % 64);
  fd = memfd_create("braid-stream", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (ftruncate(fd, BRAID_PSTREAM_CTL) != 0 ||
      braid__pstream_forge(fd, count, data[8] % 4, data[9] & 1, off, len) != 0 ||
      (size > 16 && pwrite(fd, data + 16, size - 16, BRAID_PSTREAM_CTL) !=
                        (ssize_t)(size - 16))) {
    close(fd);
    return 0;
  }
  return braidB_pstream_read(L, fd); /* closes 'fd' */
}


/* One decoding pass of an input: f(data, size [, flags]) run protected
** (errors are expected: a ValueError for corrupt data is the decoder
** doing its job) with a fresh budget; 'flags' < 0: none passed. */
static void pass(lua_CFunction f, const uint8_t *data, size_t size,
                 lua_Integer flags) {
  budget = 0;
  lua_pushcfunction(FL, f);
  lua_pushlightuserdata(FL, (void *)data);
  lua_pushinteger(FL, (lua_Integer)size);
  if (flags >= 0) lua_pushinteger(FL, flags);
  (void)lua_pcall(FL, flags >= 0 ? 3 : 2, 0, 0);
  lua_settop(FL, 0);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (FL == NULL) init();
  pass(decode, data, size, 0);
  pass(decode, data, size, BRAID_DEC_NOCODE);
  pass(decode_slice, data, size, -1);
  pass(decode_calls, data, size, -1);
  pass(decode_segs, data, size, -1);
  pass(decode_stream, data, size, -1);
  if (++ninputs % GC_EVERY == 0) {
    budget = 0; /* __gc code of decoded objects runs here, budgeted */
    lua_gc(FL, LUA_GCCOLLECT);
  }
  return 0;
}

/*
** serial.h: transfer of Lua values between states (encode once into a
** flat buffer owned by no state, decode once in the receiver).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_SERIAL_H
#define BRAID_SERIAL_H

#include "lua.h"
#include "braidint.h"
#include "handle.h"

/* An encoded value. It holds one reference to every shared object it
** carries ('handles'), dropped by braid__msg_free. 'next' and 'tag' are
** free for the container that holds the message (queues, mailboxes). */
typedef struct braid_msg {
  struct braid_msg *next;
  lua_Integer tag;
  size_t len;
  braid_handle **handles;
  size_t nhandles;
  unsigned char *data; /* points into 'inline_data' for small messages */
  size_t cap;
  unsigned char inline_data[48];
} braid_msg;

/* Encodes the value at 'idx' of 'L' (which must be a braid-opened state:
** luaopen_braid_core or a worker). 'root' names the value in error
** messages ("args", "item"...). MAY RAISE: a TypeError naming the path of a
** value that cannot be sent, or a memory error; nothing leaks when it
** does. Returns a new message owned by the caller. Calls into 'L' (and,
** for __braidreduce metamethods, into Lua code): never call it with a lock
** held. */
BRAIDI_FUNC braid_msg *braid__encode(lua_State *L, int idx, const char *root);

/* Like braid__encode for 'n' values at idx..idx+n-1, decoded by
** braid__decode as 'n' values (shared references hold across them).
** 'roots[i]' names value i in error messages. */
BRAIDI_FUNC braid_msg *braid__encode_n(lua_State *L, int idx, int n,
                                       const char *const *roots);

/* Pushes the values of 'm' onto 'L' and returns how many. MAY RAISE on a
** corrupt message, a missing module or a memory error. Does not free 'm';
** a caller that must not lose it across a raise gives it to
** braid__decode_owned instead. */
BRAIDI_FUNC int braid__decode(lua_State *L, const braid_msg *m);

/* Decodes 'm' and frees it, also when decoding raises (the message is
** parked in the state and freed at the next decode or when 'L' closes). */
BRAIDI_FUNC int braid__decode_owned(lua_State *L, braid_msg *m);

BRAIDI_FUNC void braid__msg_free(braid_msg *m);

/* A message holding a copy of raw bytes (for loads() and the fuzzer);
** 'handles' stays empty, so a handle tag in the bytes is rejected. */
BRAIDI_FUNC braid_msg *braid__msg_from_bytes(const void *p, size_t len);

/* Registers the globals of 'L' and other per-state serializer context.
** Called once when braid opens in a state. */
BRAIDI_FUNC void braid__serial_open(lua_State *L);

#endif

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
  /* A batch (braid__encode_batch) holds 'nitems' independent items, each
  ** decoded on its own; 'offs' gives where each starts. Consumers release
  ** the items they took and the last release frees the message. Other
  ** messages have nitems 1, offs NULL, and a single owner. */
  uint32_t nitems;
  uint32_t *offs;
  atomic_uint pending;
  /* Where this message's bytes started in the message they were cut from
  ** (a slice of a batch sent to another process: its items' references
  ** count from there); 0 otherwise. */
  uint32_t origin;
  unsigned char inline_data[40];
} braid_msg;

/* One item of a message: what a queue hands to a consumer. */
typedef struct braid_item {
  braid_msg *m;
  uint32_t idx;
} braid_item;

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

/* Like braid__encode_n, for another process: braid objects go through
** their type's __braidexport(obj, mode) metamethod (which returns a
** constructor and its arguments, as __braidreduce does); objects without
** one raise a TypeError naming the path. 'mode' BRAID_ENC_PROCESS: a
** process being started (objects it inherits); BRAID_ENC_PIPE: a pipe or
** queue (the export may refuse). The message then holds no handles. */
#define BRAID_ENC_PROCESS 1
#define BRAID_ENC_PIPE 2
BRAIDI_FUNC braid_msg *braid__encode_proc(lua_State *L, int idx, int n,
                                          const char *const *roots,
                                          int mode);

typedef struct braid_stream braid_stream;

/* Like braid__encode_n for a receiver that decodes while the value is
** being encoded (a thread being started decodes its arguments meanwhile).
** Tables are written F_OPEN. While the encoding stays under the streaming
** threshold (braid__stream_limits) nothing else differs: the message is
** returned. Past it, 'start(ud, s)' is called once with a new stream
** holding one reference, which the callback takes (to release when the
** encode returns or raises), before it hands the stream to the receiver
** (braid__stream_retain, then braid__decode_stream_owned); it returns
** BRAID_OK, or an error code after which it keeps nothing and the encode
** raises RuntimeError. The rest of the bytes are published as they are
** written, and NULL is returned once the stream is complete. MAY RAISE
** like braid__encode_n; after 'start' has run, the caller must then call
** braid__stream_fail (the receiver's decode returns -1). */
BRAIDI_FUNC braid_msg *braid__encode_streamed(
    lua_State *L, int idx, int n, const char *const *roots,
    int (*start)(void *ud, braid_stream *s), void *ud);

/* Decodes the values of stream 's' as they come and pushes them; returns
** how many, or -1 (nothing pushed) when the writer failed. Releases 's'
** in every case. MAY RAISE like braid__decode. */
BRAIDI_FUNC int braid__decode_stream_owned(lua_State *L, braid_stream *s);

/* Pushes the values of 'm' onto 'L' and returns how many. MAY RAISE on a
** corrupt message, a missing module or a memory error. Does not free 'm';
** a caller that must not lose it across a raise gives it to
** braid__decode_owned instead. */
BRAIDI_FUNC int braid__decode(lua_State *L, const braid_msg *m);

/* Decodes 'm' and frees it, also when decoding raises (the message is
** parked in the state and freed at the next decode or when 'L' closes). */
BRAIDI_FUNC int braid__decode_owned(lua_State *L, braid_msg *m);

BRAIDI_FUNC void braid__msg_free(braid_msg *m);

/* Encodes t[1..n] of the table at 'tidx' as a batch of 'n' items (each
** a separate value: no references shared between items). MAY RAISE, like
** braid__encode ('root' names the table in messages). */
BRAIDI_FUNC braid_msg *braid__encode_batch(lua_State *L, int tidx,
                                           lua_Integer n, const char *root);

/* Like braid__encode_batch for t[first..first+n-1] (item i of the batch
** is t[first+i]; error paths name the key in t). */
BRAIDI_FUNC braid_msg *braid__encode_batch_range(lua_State *L, int tidx,
                                                 lua_Integer first,
                                                 lua_Integer n,
                                                 const char *root);

/* Like braid__encode_batch_range with braid__encode_proc's 'mode': a
** batch that can go to another process (no handles). */
BRAIDI_FUNC braid_msg *braid__encode_batch_range_proc(lua_State *L, int tidx,
                                                      lua_Integer first,
                                                      lua_Integer n,
                                                      const char *root,
                                                      int mode);

/* A message of 'len' bytes for the caller to fill in ('data'), e.g. read
** from another process. With 'nitems' > 0 it is a batch of that many
** items: the caller fills 'offs' (where each item starts in 'data'; the
** decoder checks them), and 'origin' tells where 'data' started in the
** batch it was cut from. NULL when memory is short. */
BRAIDI_FUNC braid_msg *braid__msg_alloc(size_t len, uint32_t nitems,
                                        uint32_t origin);

/* Releases 'k' items of 'm' (taken and decoded, or dropped); the last
** release frees the message. */
BRAIDI_FUNC void braid__msg_release(braid_msg *m, uint32_t k);

/* Decodes the 'n' items into the table at 'tidx' at k, k+1, ... (or, with
** 'tidx' 0, pushes them) and releases them, also when decoding raises.
** Returns how many values were pushed (0 with a table). */
BRAIDI_FUNC int braid__decode_items(lua_State *L, const braid_item *items,
                                    size_t n, int tidx, lua_Integer k);

/* Decodes items first..first+n-1 of 'm' (a batch, or a message of one
** item) into the table at 'tidx' at k, k+1, ... (or, with 'tidx' 0,
** pushes them) WITHOUT releasing them: for readers of items that stay
** with their owner (a map job's results, read by any state any number of
** times; a worker that releases its chunk once at the end). Returns how
** many values were pushed (0 with a table). MAY RAISE like braid__decode;
** the message is left as it was. */
BRAIDI_FUNC int braid__decode_range(lua_State *L, const braid_msg *m,
                                    uint32_t first, uint32_t n, int tidx,
                                    lua_Integer k);

/* Like braid__decode_items, but each item is handed to 'done(m, ud)'
** instead of braid__msg_release (queues recycle small messages). A run of
** consecutive items of one message (a batch, which is never recycled) is
** released at once with braid__msg_release instead. */
BRAIDI_FUNC int braid__decode_items_with(lua_State *L,
                                         const braid_item *items, size_t n,
                                         int tidx, lua_Integer k,
                                         void (*done)(braid_msg *, void *),
                                         void *ud);

/* Encodes the value at 'idx' into 'spare' (a message from
** braid__msg_is_spare, reset here) when it is a number, boolean, nil or
** short string; returns 0 (leaving 'spare' untouched) otherwise. Cannot
** raise. */
BRAIDI_FUNC int braid__encode_scalar_into(lua_State *L, int idx,
                                          braid_msg *spare);

/* 1 when 'm' is a small single-owner message that can be reused by
** braid__encode_scalar_into (no handles, no batch, inline data). */
BRAIDI_FUNC int braid__msg_is_spare(const braid_msg *m);

/* A message holding a copy of raw bytes (for loads() and the fuzzer);
** 'handles' stays empty, so a handle tag in the bytes is rejected. */
BRAIDI_FUNC braid_msg *braid__msg_from_bytes(const void *p, size_t len);

/* Orders two items as Python orders values (numbers,
** strings, sequences element by element). Returns BRAID_OK with '*cmp' in
** {-1, 0, 1}, BRAID_ENOTSUP when they cannot be ordered ('why_a'/'why_b'
** name the kinds of the offending pair: "number", "string", "table",
** "value"), or BRAID_EINVAL for a corrupt message. Pure C: safe under a
** lock. */
BRAIDI_FUNC int braid__item_compare(const braid_item *a,
                                    const braid_item *b, int *cmp,
                                    const char **why_a, const char **why_b);

/* Registers the globals of 'L' and other per-state serializer context.
** Called once when braid opens in a state. */
BRAIDI_FUNC void braid__serial_open(lua_State *L);

#endif

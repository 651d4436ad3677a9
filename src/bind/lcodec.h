/*
** lcodec.h: the Lua value walker: a Lua value (or several) into a message
** of the transfer format (src/core/wire.h), and a message back into Lua
** values in another state. Encoding (lencode.c, with lencpath.c for the
** paths of error messages and lnames.c for the values that travel by
** name) runs in the sender's state, decoding (ldecode.c, with ldump.c
** checking dumped functions) in the receiver's; the message in between
** belongs to no state. These functions raise Lua errors (TypeError,
** ValueError, MemoryError...): they are the binding's.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LCODEC_H
#define BRAID_LCODEC_H

#include "lua.h"
#include "braidint.h"
#include "handle.h"
#include "wire.h"

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
** process being started (objects it inherits); BRAID_ENC_PIPE: a pipe, a
** queue or a pool (descriptors go by ticket, ltravel.c); BRAID_ENC_STORE:
** bytes kept and decoded again by any number of processes (a Barrier's
** action), where an object holding a descriptor refuses (a ticket serves
** the receivers of one send, not every later reader). The message then
** holds no handles. */
#define BRAID_ENC_PROCESS 1
#define BRAID_ENC_PIPE 2
#define BRAID_ENC_STORE 3
/* Or'ed into BRAID_ENC_PIPE by a channel that carries descriptors with its
** messages (a Pipe, an mp.Queue, a process pool's socket): strings of
** braid__seg_min() bytes or more are written as T_SEG, their bytes in a
** memfd the message holds ('segs'), which the channel hands over. */
#define BRAID_ENC_SEGS 0x100
/* Or'ed with BRAID_ENC_SEGS by a caller that calls braid__seg_late_fill
** (or _abandon) right after it sent the message: big segments are then
** filled after the send, while the receiver copies them (segfill.h). */
#define BRAID_ENC_LATE 0x200
/* Or'ed into the mode of braid__encode_batch_shared by a pool's map: a
** flat table of the first group met again in a later group is written
** T_CALLV (see wire.h), its bytes once per call. */
#define BRAID_ENC_CALLV 0x400
BRAIDI_FUNC braid_msg *braid__encode_proc(lua_State *L, int idx, int n,
                                          const char *const *roots,
                                          int mode);

/* The size from which a string goes out of line (BRAID_ENC_SEGS); with
** 'set', changes it first to 'n' (core._seg_min). */
BRAIDI_FUNC size_t braid__seg_min(int set, size_t n);

/* Pushes the 'n' bytes of segment 'fd' (segfill.h; its size checked by
** the caller) as a string: one copy out of a mapping, made as its sender
** fills it, which a raise (out of memory, a sender that died: EOFError,
** KeyboardInterrupt) never leaves behind. The caller keeps 'fd'. */
BRAIDI_FUNC void braidB_pushsegment(lua_State *L, int fd, size_t n);

/* The same from a segment mapped already (braid__msg_map_segs: 'map' is
** braid__seg_map's). */
BRAIDI_FUNC void braidB_pushsegmap(lua_State *L, const void *map, size_t n);
/* Pushes a string of 'n' bytes written in place by fill(ud, dst, n): in
** the block Lua keeps the string in, so no copy is made after fill's.
** fill returns 0, or nonzero with errno set: then nothing is pushed, the
** block is freed, and braidB_pushfilled returns that value with errno
** kept, for the caller to raise. Out of memory raises. */
typedef int (*braidB_filler)(void *ud, char *dst, size_t n);
BRAIDI_FUNC int braidB_pushfilled(lua_State *L, size_t n, braidB_filler fill,
                                  void *ud);
/* How many strings this process built in the block Lua took for them
** (braidB_pushfilled), how many it had to copy once more (specs: the
** first must grow, the second stay 0), and how many segment strings it
** made of the segment's own pages (segblock.h: from BRAID_BIG_MIN bytes,
** sealed segments, a state on braid's allocators). */
BRAIDI_FUNC void braidB_segment_counts(long *inplace, long *copied,
                                       long *mapped);

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

/* braid__encode_streamed for a reader in another process: 'mode' as
** braid__encode_proc's (BRAID_ENC_PIPE, no segments: the stream is itself
** out of line, lpstream.c). 'start' may also return BRAID_EAGAIN: nothing
** streams, the encode goes on and returns the whole message. */
BRAIDI_FUNC braid_msg *braid__encode_streamed_proc(
    lua_State *L, int idx, int n, const char *const *roots, int mode,
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

/* Like braid__decode_owned; 'flags' BRAID_DEC_NOCODE refuses what would
** load or run code in the receiver (a Lua function, a value by name, an
** object rebuilt by a constructor, the globals table) with a ValueError
** naming its path: for bytes from a peer that did not authenticate
** (Listener/Client connections, lconn.c). */
#define BRAID_DEC_NOCODE 1
BRAIDI_FUNC int braid__decode_owned_flags(lua_State *L, braid_msg *m,
                                          int flags);

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

/* Like braid__encode_batch_range_proc ('mode' 0: for this process), but
** items share references within each run of 'group' items counted from
** 'first' (0: none; a group is typically one chunk of a map job, or a
** whole put_many batch): an object met in several items of a group is
** written once, so identity holds across them and it costs one copy.
** Readers resolve such references whatever items they decode (see
** braid__decode_range_cache). Python's pickle keeps identity within one
** dumps the same way. MAY RAISE like braid__encode_batch. */
BRAIDI_FUNC braid_msg *braid__encode_batch_shared(lua_State *L, int tidx,
                                                  lua_Integer first,
                                                  lua_Integer n,
                                                  const char *root, int mode,
                                                  lua_Integer group);

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

/* Like braid__decode_range, with the cache of shared objects in the table
** at 'cache', kept by the caller across calls: a reader that decodes the
** items of a shared group (braid__encode_batch_shared) one call at a time
** in order (a pool worker running a chunk) gets each shared object once,
** the same object for every item that names it. */
BRAIDI_FUNC int braid__decode_range_cache(lua_State *L, const braid_msg *m,
                                          uint32_t first, uint32_t n,
                                          int tidx, lua_Integer k,
                                          int cache);

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

/* Makes the state's encoder (kept in the registry for every encode of
** 'L'). Called when braid opens in a state; worker states leave it to
** their first encode. */
BRAIDI_FUNC void braid__serial_open(lua_State *L);
/* core._enc_seen_bytes() -> the bytes of L's map of tables seen (0 before
** its first encode): the specs' probe of the map's sizing (lencode.c). */
BRAIDI_FUNC int braidB_enc_seen_bytes_hook(lua_State *L);

/* T_CALLV 'to' met in an item of 'm' (NULL: not a batch) starting at
** 'item_off' of bytes cut at 'origin': pushes a fresh copy of the flat
** table it names (ldcallv.c) and returns 1, or returns 0 (nothing pushed)
** when it names no such table of the call. MAY RAISE (memory). */
BRAIDI_FUNC int braidB_push_callv(lua_State *L, const braid_msg *m,
                                  size_t origin, size_t item_off,
                                  uint64_t to);

/* Lua stack slots a frame of either walk may use, with room left for
** raising (the error message is built on the stack): checked per frame. */
#define BRAID_FRAME_SLOTS 40

/* 1 when the 'n' bytes at 'p' are a dumped Lua function that lua_load
** can read without trusting a size it cannot check (ldump.c). */
BRAIDI_FUNC int braidB_check_dump(const unsigned char *p, size_t n);

#endif

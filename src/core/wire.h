/*
** wire.h: the transfer format and its messages, without any Lua state.
** See LICENSE for copyright and license.
**
** A value travels as a message (braid_msg): a flat byte buffer owned by
** no state, plus one reference to every shared object (handle) the bytes
** name. This header holds what any channel (queue, pipe, stream, socket)
** and any writer or reader (the Lua walker in src/bind/lencode.c and
** ldecode.c, a C program) needs:
**   - the format: version byte, tags, flags (below);
**   - messages: allocation, release of batch items, item bounds;
**   - the growable write buffer (braid_wbuf) with its inline writers, the
**     handle table of the message being written, and the hooks through
**     which a streamed encode publishes its blocks (stream.h);
**   - bounds-checked inline readers (braid_wire_rd).
** Writers and readers are static inline: they are the hot path of every
** put and get.
**
** Format (version BRAID_WIRE_VERSION, host byte order: messages never
** leave the machine):
**   msg   := VERSION varint(count) value*count
**   value := tag payload, tags in enum 'Tag' below.
** A batch (several independent items in one message) is the same bytes
** with 'offs' telling where each item starts.
*/
#ifndef BRAID_WIRE_H
#define BRAID_WIRE_H

#include <string.h>

#include "braidint.h"
#include "handle.h"
#include "memseg.h"

/* { ====== format */
#define BRAID_WIRE_VERSION 2

/* ORDER TAG */
typedef enum Tag {
  T_NIL,
  T_FALSE,
  T_TRUE,
  T_INT,     /* zigzag varint */
  T_FLOAT,   /* 8 bytes (a double) */
  T_STR,     /* varint length, bytes */
  T_TABLE,   /* flags, varint narr, u32 nhash, narr values, nhash pairs,
                [metatable value if F_META] */
  T_REF,     /* varint offset of an earlier SHARED table/function/reduce */
  T_LFUNC,   /* flags, u32 dumplen, dump, byte nups, upvalues */
  T_BYNAME,  /* string module, string field ("" for the module) */
  T_GLOBALS, /* the receiver's globals table */
  T_HANDLE,  /* varint index into the message's handles */
  T_CLASS,   /* string qualified name of a braid.errors class */
  T_REDUCE,  /* flags, varint nargs, constructor value, args */
  T_STRS,    /* as T_STR, for a string a later T_REF refers to */
  T_END,     /* ends a section of an F_OPEN table */
  T_SEG,     /* varint segment index, varint length: a string whose bytes
                are the segment's (a memfd the message carries, 'segs';
                only in messages for another process, see memseg.h) */
  T_CALLV,   /* flags, varint offset: a fresh copy of the flat table
                (scalars and strings only) written at that offset of the
                batch's first group: a value of a map call that several
                chunks share (braid_msg.call_lo; F_SHARED: later items
                of this group name the copy by this tag's offset) */
  T_LAST
} Tag;

/* F_OPEN (tables of a streamed encode, see stream.h): narr
** and nhash are only size hints; the array section and the pairs each end
** with T_END. */
enum { F_SHARED = 1, F_META = 2, F_OPEN = 4 };

/* Upvalue kinds inside T_LFUNC. */
enum { UPV_VAL, UPV_ENV, UPV_JOIN };
/* } ====== */


/* { ====== messages */
typedef struct braid_stream braid_stream; /* stream.h */

/* An encoded value. It holds one reference to every shared object it
** carries ('handles'), dropped by braid__msg_free. 'next' and 'tag' are
** free for the container that holds the message (queues, mailboxes). */
typedef struct braid_msg {
  struct braid_msg *next;
  int64_t tag;
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
  /* The descriptors of the out-of-line segments its T_SEG strings name
  ** (memseg.h), owned by the message: braid__msg_free closes them, so a
  ** message dropped unread frees its segments. NULL/0 for most. */
  uint32_t nsegs;
  int *segs;
  /* NULL, or (braid__msg_map_segs) per segment a read-only mapping of it
  ** and its length, its descriptor closed (segs[i] -1): a message kept
  ** unread for long holds no descriptor. Empty segments and those from
  ** BRAID_BIG_MIN bytes (less the control page) are not mapped (NULL):
  ** they keep their descriptors (see braid__msg_map_segs). */
  const void **segmaps;
  size_t *seglens;
  /* A map job's batch whose chunks name values of the call (T_CALLV):
  ** they lie in bytes [call_lo, call_hi) of it (both 0: none), and
  ** 'calluid' (unique in the process, never reused) tells a process
  ** pool's proxy whether its child holds them already. 'callsrc': in a
  ** chunk cut from such a batch (a process pool's child), the message
  ** holding those bytes (its 'origin' is call_lo), not owned; else NULL
  ** (the T_CALLV offsets name this message's own bytes). */
  uint32_t call_lo, call_hi;
  uint64_t calluid;
  const struct braid_msg *callsrc;
  unsigned char inline_data[40];
} braid_msg;

/* One item of a message: what a queue hands to a consumer. */
typedef struct braid_item {
  braid_msg *m;
  uint32_t idx;
} braid_item;

/* An empty single-owner message (len 0, data in 'inline_data'), or NULL
** when memory is short. */
BRAIDI_FUNC braid_msg *braid__msg_new(void);

/* A message of 'len' bytes for the caller to fill in ('data'), e.g. read
** from another process. With 'nitems' > 0 it is a batch of that many
** items: the caller fills 'offs' (where each item starts in 'data'; the
** decoder checks them), and 'origin' tells where 'data' started in the
** batch it was cut from. NULL when memory is short. */
BRAIDI_FUNC braid_msg *braid__msg_alloc(size_t len, uint32_t nitems,
                                        uint32_t origin);

/* A message holding a copy of raw bytes (for loads() and the fuzzer);
** 'handles' stays empty, so a handle tag in the bytes is rejected. */
BRAIDI_FUNC braid_msg *braid__msg_from_bytes(const void *p, size_t len);

/* Gives 'm' the 'n' segment descriptors 'fds' (they are the message's from
** now on, closed with it, also when this fails). BRAID_OK, BRAID_ENOMEM. */
BRAIDI_FUNC int braid__msg_take_segs(braid_msg *m, const int *fds, int n);

/* Trades the segment descriptors of 'm' for read-only mappings of them
** and closes the descriptors: a message that waits unread (a pool's
** results, which may pile up past the descriptor limit) then holds none.
** Segments from BRAID_BIG_MIN bytes (less the control page) keep their
** descriptors: their receiver maps them as the string (segblock.h).
** Nothing to send such a message with: only for messages received.
** BRAID_OK; BRAID_ENOMEM / BRAID_EOS (errno set) leave the rest as they
** were (still decodable). */
BRAIDI_FUNC int braid__msg_map_segs(braid_msg *m);

/* Frees 'm' and drops its references (NULL is ignored). */
BRAIDI_FUNC void braid__msg_free(braid_msg *m);

/* Releases 'k' items of 'm' (taken and decoded, or dropped); the last
** release frees the message. */
BRAIDI_FUNC void braid__msg_release(braid_msg *m, uint32_t k);

/* 1 when 'm' is a small single-owner message that can be reused for
** another scalar (no handles, no batch, inline data). */
BRAIDI_FUNC int braid__msg_is_spare(const braid_msg *m);

/* Where item 'idx' of 'm' lies: bytes [*off, *end) of m->data. Not
** checked against m->len: a reader checks *off <= *end <= m->len. */
BRAIDI_FUNC void braid__item_bounds(const braid_msg *m, uint32_t idx,
                                    size_t *off, size_t *end);
/* The bytes of items[0..n) together, counted until they reach 'cap' (a
** reader asking "at least this big?" pays for no more items than that). */
BRAIDI_FUNC size_t braid__items_bytes(const braid_item *items, size_t n,
                                      size_t cap);
/* } ====== */


/* { ====== the write buffer */

/* The bytes and handle references of a message being written. Zeroed, it
** is empty and valid. Growth failures go to 'nomem' when it is set (the
** Lua binding raises there: it must not return); otherwise, or when it
** returns, 'err' becomes BRAID_ENOMEM and stays so: later writes that do
** not fit are dropped, and braid__wbuf_to_msg fails. So a C writer may
** write a whole value and check once at the end.
**
** Streaming: once a stream is attached (braid__wbuf_stream_attach), the
** buffer and handle array belong to it (its reader may be reading them):
** growing copies them into new blocks and hands the old ones to the
** stream (retired), and bytes already published must not be written
** again. */
typedef struct braid_wbuf {
  unsigned char *buf;
  size_t len, cap;
  braid_handle **handles;
  size_t nhandles, caphandles;
  braid_stream *stream; /* attached stream, or NULL */
  void (*nomem)(struct braid_wbuf *w);
  int err; /* BRAID_OK, or BRAID_ENOMEM once a growth failed */
  /* Segments written so far (T_SEG), owned by the writer until
  ** braid__wbuf_to_msg moves them; reset and free close them. */
  int nsegs;
  int segs[BRAID_SEG_MAX];
} braid_wbuf;

/* Makes room for 'n' more bytes (cold path of braid__wire_reserve).
** BRAID_OK or BRAID_ENOMEM (see braid_wbuf's 'nomem'). */
BRAIDI_FUNC int braid__wbuf_grow(braid_wbuf *w, size_t n)
    __attribute__((noinline));

/* Adds a reference to 'h' to the message (retained here). BRAID_OK or
** BRAID_ENOMEM (nothing retained; 'nomem' is not called). */
BRAIDI_FUNC int braid__wbuf_add_handle(braid_wbuf *w, braid_handle *h);

/* Starts a new message: drops the references and bytes of the previous
** one (or of a writer that failed half-way), keeps the buffer. */
BRAIDI_FUNC void braid__wbuf_reset(braid_wbuf *w);

/* Moves what was written into a new message '*out' (the references go
** with it) and leaves 'w' empty, ready for the next one. BRAID_ENOMEM
** (nothing moved) when a write failed or memory is short. */
BRAIDI_FUNC int braid__wbuf_to_msg(braid_wbuf *w, braid_msg **out);

/* Frees the buffer and drops the references (a stream's are left to it). */
BRAIDI_FUNC void braid__wbuf_free(braid_wbuf *w);

/* Streaming (stream.h). attach: the stream 's' takes the buffer and
** handles as its current blocks (no publish yet). detach: forgets them,
** as left to a stream whose writer raised (the stream frees them).
** publish: makes the bytes and handles written so far readable.
** abandon: the writer starts over: the blocks stay with the stream and
** the buffer starts empty, not streamed any more. finish: the stream's
** final message takes the buffer and handles, with the F_SHARED flags due
** at offsets 'late[0..nlate)' of published bytes set in a copy (which
** makes the reader start over, as does 'restart'); the buffer is then
** detached. BRAID_OK or BRAID_ENOMEM. */
BRAIDI_FUNC void braid__wbuf_stream_attach(braid_wbuf *w, braid_stream *s);
BRAIDI_FUNC void braid__wbuf_stream_detach(braid_wbuf *w);
BRAIDI_FUNC void braid__wbuf_publish(braid_wbuf *w);
BRAIDI_FUNC int braid__wbuf_stream_abandon(braid_wbuf *w);
BRAIDI_FUNC int braid__wbuf_stream_finish(braid_wbuf *w, const size_t *late,
                                          size_t nlate, int restart);

/* 1 when 'n' more bytes can be written at w->buf + w->len. */
static inline int braid__wire_reserve(braid_wbuf *w, size_t n) {
  if (braid__likely(w->cap - w->len >= n)) return 1;
  return braid__wbuf_grow(w, n) == BRAID_OK;
}

static inline void braid__wire_put_byte(braid_wbuf *w, unsigned char b) {
  if (!braid__wire_reserve(w, 1)) return;
  w->buf[w->len++] = b;
}

static inline void braid__wire_put_bytes(braid_wbuf *w, const void *p,
                                         size_t n) {
  if (!braid__wire_reserve(w, n)) return;
  memcpy(w->buf + w->len, p, n);
  w->len += n;
}

/* Writes 'v' in 7-bit groups, low first (at most 10 bytes); 'w' has room. */
#define braid__wire_varint_raw(w, v)                       \
  do {                                                     \
    uint64_t v_ = (v);                                     \
    while (v_ >= 0x80) {                                   \
      (w)->buf[(w)->len++] = (unsigned char)(v_ | 0x80);   \
      v_ >>= 7;                                            \
    }                                                      \
    (w)->buf[(w)->len++] = (unsigned char)v_;              \
  } while (0)

static inline void braid__wire_put_varint(braid_wbuf *w, uint64_t v) {
  if (!braid__wire_reserve(w, 10)) return;
  braid__wire_varint_raw(w, v);
}

#define braid__wire_zigzag(v) \
  (((uint64_t)(v) << 1) ^ (uint64_t)((v) < 0 ? -1 : 0))
#define braid__wire_unzigzag(u) ((int64_t)(((u) >> 1) ^ (~((u) & 1) + 1)))

/* T_INT and the zigzag varint of 'v'. */
static inline void braid__wire_put_int(braid_wbuf *w, int64_t v) {
  if (!braid__wire_reserve(w, 11)) return;
  w->buf[w->len++] = T_INT;
  braid__wire_varint_raw(w, braid__wire_zigzag(v));
}

/* T_FLOAT and the 8 bytes of 'd'. */
static inline void braid__wire_put_float(braid_wbuf *w, double d) {
  if (!braid__wire_reserve(w, 1 + sizeof d)) return;
  w->buf[w->len++] = T_FLOAT;
  memcpy(w->buf + w->len, &d, sizeof d);
  w->len += sizeof d;
}

/* Overwrites 4 bytes already written at 'at'. */
static inline void braid__wire_put_u32_at(braid_wbuf *w, size_t at,
                                          uint32_t v) {
  memcpy(w->buf + at, &v, 4);
}

/* T_STR, the length and the bytes of 's'. */
static inline void braid__wire_put_string(braid_wbuf *w, const char *s,
                                          size_t n) {
  if (!braid__wire_reserve(w, n + 11)) return;
  w->buf[w->len++] = T_STR;
  braid__wire_varint_raw(w, n);
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

/* T_REF to the value written at offset 'at'. */
static inline void braid__wire_put_ref(braid_wbuf *w, size_t at) {
  if (!braid__wire_reserve(w, 11)) return;
  w->buf[w->len++] = T_REF;
  braid__wire_varint_raw(w, at);
}

/* How many bytes the varint of 'v' takes (the width a count is reserved
** in before it is known: braid__wire_put_padded_at). */
static inline int braid__wire_varint_len(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* Overwrites 'wd' bytes already written at 'at' with 'v' as a varint
** padded to that width (v must fit in 7 * wd bits). */
static inline void braid__wire_put_padded_at(braid_wbuf *w, size_t at,
                                             int wd, uint64_t v) {
  unsigned char *q = w->buf + at;
  int j;
  for (j = 0; j < wd - 1; j++) {
    *q++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *q = (unsigned char)v;
}

/* A message's header: the version byte and the count of values. A
** message built by a C writer: braid__wire_put_header, then 'count'
** values (T_NIL/T_FALSE/T_TRUE bytes, put_int, put_float, put_string, or
** a table: T_TABLE, a flags byte 0, varint narr, u32 nhash 0, then narr
** values), then braid__wbuf_to_msg. */
static inline void braid__wire_put_header(braid_wbuf *w, uint32_t count) {
  braid__wire_put_byte(w, BRAID_WIRE_VERSION);
  braid__wire_put_varint(w, count);
}
/* } ====== */


/* { ====== readers */

/* Bytes [p, end) still to read. Every reader checks the bounds and
** returns BRAID_OK, or BRAID_EINVAL (corrupt or truncated data) without
** moving 'p'. */
typedef struct braid_wire_rd {
  const unsigned char *p, *end;
} braid_wire_rd;

static inline int braid__wire_get_byte(braid_wire_rd *r, unsigned *b) {
  if (r->p >= r->end) return BRAID_EINVAL;
  *b = *r->p++;
  return BRAID_OK;
}

static inline int braid__wire_get_varint(braid_wire_rd *r, uint64_t *v) {
  const unsigned char *p = r->p;
  uint64_t x = 0;
  int shift = 0;
  while (p < r->end) {
    unsigned char b = *p++;
    if (shift == 63 && b > 1) return BRAID_EINVAL; /* overflow */
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      r->p = p;
      *v = x;
      return BRAID_OK;
    }
    shift += 7;
    if (shift > 63) return BRAID_EINVAL;
  }
  return BRAID_EINVAL;
}

static inline int braid__wire_get_u32(braid_wire_rd *r, uint32_t *v) {
  if (r->end - r->p < 4) return BRAID_EINVAL;
  memcpy(v, r->p, 4);
  r->p += 4;
  return BRAID_OK;
}

/* Reads 'tag' (a byte that must be 'tag') and a varint. */
static inline int braid__wire_get_tagged(braid_wire_rd *r, unsigned tag,
                                         uint64_t *v) {
  braid_wire_rd t = *r;
  if (t.p >= t.end || *t.p++ != tag || braid__wire_get_varint(&t, v))
    return BRAID_EINVAL;
  *r = t;
  return BRAID_OK;
}

/* A T_INT value. */
static inline int braid__wire_get_int(braid_wire_rd *r, int64_t *v) {
  uint64_t u;
  if (braid__wire_get_tagged(r, T_INT, &u)) return BRAID_EINVAL;
  *v = braid__wire_unzigzag(u);
  return BRAID_OK;
}

/* A T_STR (or T_STRS) value: '*s' points into the message, not
** terminated. */
static inline int braid__wire_get_string(braid_wire_rd *r, const char **s,
                                         size_t *n) {
  braid_wire_rd t = *r;
  uint64_t len;
  if (t.p >= t.end || (*t.p != T_STR && *t.p != T_STRS)) return BRAID_EINVAL;
  t.p++;
  if (braid__wire_get_varint(&t, &len) ||
      len > (uint64_t)(t.end - t.p))
    return BRAID_EINVAL;
  *s = (const char *)t.p;
  *n = (size_t)len;
  r->p = t.p + len;
  r->end = t.end;
  return BRAID_OK;
}

/* Opens message 'm' (not a batch) for reading: checks the version byte
** and reads the count of values. */
static inline int braid__wire_open(const braid_msg *m, braid_wire_rd *r,
                                   uint64_t *count) {
  r->p = m->data;
  r->end = m->data + m->len;
  if (r->p >= r->end || *r->p != BRAID_WIRE_VERSION) return BRAID_EINVAL;
  r->p++;
  if (braid__wire_get_varint(r, count) ||
      *count > (uint64_t)(r->end - r->p)) /* a value takes a byte at least */
    return BRAID_EINVAL;
  return BRAID_OK;
}
/* } ====== */

#endif

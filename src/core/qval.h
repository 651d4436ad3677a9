/*
** qval.h: a queue item that is a scalar, carried in the queue's slot
** instead of in a message (no allocation, no codec, no cache line of a
** message moving between producer and consumer).
** See LICENSE for copyright and license.
**
** The fast path of queue.c (unbounded FIFO, SimpleQueue) stores every
** item as two words of a segment slot: 'w', published last with a
** release store, and 'v'. 'w' is either a message pointer (even, nonzero:
** messages are at least 8-byte aligned) or a scalar's tag, odd:
**     w = (len << 8) | (kind << 1) | 1
** with 'v' the scalar's 64 bits (an integer, a double's bits, or up to
** BRAID_QV_STRMAX bytes of a short string). Every value keeps its exact
** bits: integers of the full 64-bit range, -0.0, NaNs, infinities,
** strings with embedded zeros.
**
** Where an item must be a message (the one-mutex path after a bound was
** set, a C consumer of braid__queue_get), braid__qval_to_msg writes the
** scalar in the transfer format (wire.h), exactly as the Lua encoder
** would, so nothing downstream can tell the two apart.
*/
#ifndef BRAID_QVAL_H
#define BRAID_QVAL_H

#include <stdint.h>
#include <string.h>

#include "braidint.h"
#include "wire.h"

/* ORDER QV */
enum {
  BRAID_QV_MSG,   /* an item of a message: 'it' */
  BRAID_QV_NIL,
  BRAID_QV_FALSE,
  BRAID_QV_TRUE,
  BRAID_QV_INT,   /* u.i */
  BRAID_QV_FLOAT, /* u.d */
  BRAID_QV_STR,   /* u.s, 'len' bytes */
  BRAID_QV_LAST
};

#define BRAID_QV_STRMAX 8

typedef struct braid_qval {
  unsigned kind;
  unsigned len; /* BRAID_QV_STR: bytes of u.s (<= BRAID_QV_STRMAX) */
  union {
    int64_t i;
    double d;
    char s[BRAID_QV_STRMAX];
    uint64_t bits;
  } u;
  braid_item it; /* BRAID_QV_MSG */
} braid_qval;

/* The slot words of scalar 'v' (kind != BRAID_QV_MSG). */
static inline uintptr_t braid__qval_word(const braid_qval *v) {
  return ((uintptr_t)v->len << 8) | ((uintptr_t)v->kind << 1) | 1u;
}

/* 1 when slot word 'w' holds a scalar (0: a message pointer). */
static inline int braid__qval_is_scalar(uintptr_t w) {
  return (int)(w & 1u);
}

/* The scalar of slot words 'w', 'bits' into '*v'. */
static inline void braid__qval_from_slot(braid_qval *v, uintptr_t w,
                                         uint64_t bits) {
  v->kind = (unsigned)((w >> 1) & 0x7f);
  v->len = (unsigned)(w >> 8);
  v->u.bits = bits;
}

/* Writes scalar 'v' (not BRAID_QV_MSG) into 'm', a fresh message from
** braid__msg_new (its inline bytes hold any scalar). */
BRAIDI_FUNC void braid__qval_write(const braid_qval *v, braid_msg *m);

/* A new single-item message holding scalar 'v' in the transfer format,
** or NULL when memory is short. Never calls into Lua. */
BRAIDI_FUNC braid_msg *braid__qval_to_msg(const braid_qval *v);

#endif

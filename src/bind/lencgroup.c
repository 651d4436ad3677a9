/*
** lencgroup.c: what the encoder writes for an object of an earlier group
** of a batch whose items share references (braid__encode_batch_shared):
** a fresh copy of its bytes, or, in a map call's batch (BRAID_ENC_CALLV),
** a T_CALLV naming the flat table in the batch's first group, so that a
** value every chunk of a call carries is written once per call (and a
** process pool's child gets its bytes once per call, lprocpool.c).
** See LICENSE for copyright and license.
*/
#include <string.h>

#include "lbind.h"
#include "lencode.h"

/* Call values are unique across the process: a proxy compares them with
** what its child holds (never 0). */
static _Atomic uint64_t next_calluid = 1;

uint64_t braidB_enc_calluid(void) {
  return atomic_fetch_add_explicit(&next_calluid, 1, memory_order_relaxed);
}


/* The end of the table written at 'at' (ending before 'lim') when it
** holds plain data only (nil, booleans, numbers and strings as keys and
** values, no metatable): bytes that can be copied as they are, naming
** nothing and holding no object a later REF could name. 0 otherwise. */
static size_t flat_table_end(const unsigned char *b, size_t at, size_t lim) {
  size_t p = at, i;
  uint64_t narr = 0, n;
  uint32_t nhash;
  int shift;
  if (lim - p < 2 || b[p] != T_TABLE || (b[p + 1] & (F_OPEN | F_META)))
    return 0;
  p += 2;
  for (shift = 0;; shift += 7) {
    if (p >= lim || shift > 63) return 0;
    narr |= (uint64_t)(b[p] & 0x7f) << shift;
    if (!(b[p++] & 0x80)) break;
  }
  if (lim - p < 4) return 0;
  memcpy(&nhash, b + p, 4);
  p += 4;
  n = narr + 2 * (uint64_t)nhash;
  for (i = 0; i < n; i++) {
    if (p >= lim) return 0;
    switch (b[p++]) {
      case T_NIL: case T_FALSE: case T_TRUE: break;
      case T_FLOAT:
        if (lim - p < 8) return 0;
        p += 8;
        break;
      case T_INT:
        while (p < lim && (b[p] & 0x80)) p++;
        if (p++ >= lim) return 0;
        break;
      case T_STR: case T_STRS: {
        uint64_t len = 0;
        for (shift = 0;; shift += 7) {
          if (p >= lim || shift > 63) return 0;
          len |= (uint64_t)(b[p] & 0x7f) << shift;
          if (!(b[p++] & 0x80)) break;
        }
        if (len > lim - p) return 0;
        p += (size_t)len;
        break;
      }
      default: return 0; /* a table, a REF, a handle, code... */
    }
  }
  return p;
}


/* Writes T_CALLV naming the flat table at 'at' (in the first group). */
static void put_callv(Enc *e, size_t at) {
  reserve(e, 12);
  put_byte(e, T_CALLV);
  put_byte(e, 0); /* flags: F_SHARED once a later item names it */
  put_varint(e, (uint64_t)at);
}


int braidB_enc_earlier_group(Enc *e, braid_ptrent *pe, const void *p,
                             size_t at) {
  const unsigned char *b = e->w.buf;
  size_t end;
  if (b[at] == T_CALLV) { /* named so in an earlier group: name it again */
    uint64_t to = 0;
    size_t q = at + 2;
    int shift;
    for (shift = 0; shift <= 63; shift += 7) {
      to |= (uint64_t)(b[q] & 0x7f) << shift;
      if (!(b[q++] & 0x80)) break;
    }
    braid__pe_set(&e->seen, pe, p, e->w.len);
    put_callv(e, (size_t)to);
    return 1;
  }
  end = at == e->flat_at && e->flat_end != 0
            ? e->flat_end
            : flat_table_end(b, at, e->group_at);
  braid__pe_set(&e->seen, pe, p, e->w.len);
  if (end == 0) return 0;
  if (e->callv && end <= e->group1_end) {
    /* the chunk names it: the worker decodes a fresh copy of the first
    ** group's bytes (a process pool's child has them once per call) */
    if (e->call_hi == 0 || at < e->call_lo) e->call_lo = at;
    if (end > e->call_hi) e->call_hi = end;
    put_callv(e, at);
    return 1;
  }
  reserve(e, end - at);
  memcpy(e->w.buf + e->w.len, e->w.buf + at, end - at);
  /* the copy is flat too: the next group copies it without a parse */
  e->flat_at = e->w.len;
  e->w.len += end - at;
  e->flat_end = e->w.len;
  return 1;
}

/*
** qval.c: scalars carried in queue slots, written as messages where a
** message is needed (qval.h).
** See LICENSE for copyright and license.
*/
#include "qval.h"


/* Writes scalar 'v' into 'm', a fresh message from braid__msg_new whose
** inline bytes (40) hold any scalar: 2 header bytes, a tag, then at most
** a 10-byte varint, 8 float bytes, or a length byte and 8 string bytes.
** The bytes are those the Lua encoder writes for the same value (qval.h). */
void braid__qval_write(const braid_qval *v, braid_msg *m) {
  unsigned char *p = m->data;
  *p++ = BRAID_WIRE_VERSION;
  *p++ = 1; /* one value: the varint 1 */
  switch (v->kind) {
    case BRAID_QV_NIL: *p++ = T_NIL; break;
    case BRAID_QV_FALSE: *p++ = T_FALSE; break;
    case BRAID_QV_TRUE: *p++ = T_TRUE; break;
    case BRAID_QV_INT: {
      uint64_t u = braid__wire_zigzag(v->u.i);
      *p++ = T_INT;
      while (u >= 0x80) {
        *p++ = (unsigned char)(u | 0x80);
        u >>= 7;
      }
      *p++ = (unsigned char)u;
      break;
    }
    case BRAID_QV_FLOAT:
      *p++ = T_FLOAT;
      memcpy(p, &v->u.d, sizeof v->u.d);
      p += sizeof v->u.d;
      break;
    default: { /* BRAID_QV_STR */
      unsigned n = v->len <= BRAID_QV_STRMAX ? v->len : BRAID_QV_STRMAX;
      *p++ = T_STR;
      *p++ = (unsigned char)n; /* < 128: a one-byte varint */
      memcpy(p, v->u.s, n);
      p += n;
      break;
    }
  }
  m->len = (size_t)(p - m->data);
}


braid_msg *braid__qval_to_msg(const braid_qval *v) {
  braid_msg *m;
  if (v->kind == BRAID_QV_MSG || v->kind >= BRAID_QV_LAST) return NULL;
  m = braid__msg_new();
  if (m != NULL) braid__qval_write(v, m);
  return m;
}

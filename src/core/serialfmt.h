/*
** serialfmt.h: the format of encoded values (serial.c writes and reads
** it, order.c compares encoded items without a Lua state).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_SERIALFMT_H
#define BRAID_SERIALFMT_H

#include "serial.h"

#define FORMAT_VERSION 2

/* ORDER TAG */
typedef enum Tag {
  T_NIL,
  T_FALSE,
  T_TRUE,
  T_INT,     /* zigzag varint */
  T_FLOAT,   /* 8 bytes */
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
  T_LAST
} Tag;

/* F_OPEN (tables of a streamed encode, see braid__encode_streamed): narr
** and nhash are only size hints; the array section and the pairs each end
** with T_END. */
enum { F_SHARED = 1, F_META = 2, F_OPEN = 4 };

/* Upvalue kinds inside T_LFUNC. */
enum { UPV_VAL, UPV_ENV, UPV_JOIN };

/* Where item 'idx' of 'm' lies: bytes [*off, *end) of m->data. */
BRAIDI_FUNC void braid__item_bounds(const braid_msg *m, uint32_t idx,
                                    size_t *off, size_t *end);

#endif

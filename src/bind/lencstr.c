/*
** lencstr.c: how the encoder writes a string: inline, as a REF to a copy
** written before in the message, or out of line in a memory segment
** (T_SEG). Shared by the API walk (lencode.c) and the raw walk
** (lencraw.c), which pass the same address (lua_tolstring's, the string
** object's bytes), so the two write the same REFs.
** See LICENSE for copyright and license.
*/
#include <string.h>

#include "lbind.h"
#include "lcodec.h"
#include "lencode.h"


/* Whether the string written at offset 'at' (T_STR or T_STRS) is 's'. */
static int same_string(Enc *e, size_t at, const char *s, size_t n) {
  const unsigned char *p = e->w.buf + at + 1, *end = e->w.buf + e->w.len;
  uint64_t len = 0;
  int shift = 0;
  if (e->w.buf[at] != T_STR && e->w.buf[at] != T_STRS) return 0;
  for (;;) {
    unsigned char b = *p++;
    len |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  return len == n && (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}


/* Strings of STR_MINREF bytes or more are remembered by address (short
** strings are interned, so a key repeated in 100,000 records is one
** address): one met again becomes a T_REF to its first copy, whose tag is
** patched to T_STRS so that the decoder keeps it, and the decoder pushes
** it without interning it again. The first copy is compared before a REF
** is written, so an address that a collected string left to another one
** cannot alias. At most STR_MAXMAP strings are remembered per message, in
** a map that stays in the cache: a stream of distinct strings costs one
** probe each. */
#define STR_MINREF 2
#define STR_MAXMAP 2048

/* Where a string goes out of line (BRAID_ENC_SEGS). Below ~256 KiB the
** memfd's creation, hand-over and mapping cost more than the two copies
** through the channel they save (bench/README.md). */
static _Atomic size_t seg_min = 256 * 1024;

size_t braid__seg_min(int set, size_t n) {
  if (set) atomic_store_explicit(&seg_min, n, memory_order_relaxed);
  return atomic_load_explicit(&seg_min, memory_order_relaxed);
}


/* T_SEG for 's': its bytes into a new segment (one copy), or the index
** of the segment that already holds this string. Returns 0 when the
** message has no segment left, or no memfd can be had (the string is
** then written inline, which always works). */
static int put_seg(Enc *e, const char *s, size_t n) {
  int i, fd;
  for (i = 0; i < e->w.nsegs; i++)
    if (e->segstr[i] == s) break;
  if (i == e->w.nsegs) {
    if (i >= BRAID_SEG_MAX || (fd = e->seglate ? braid__seg_new_late(s, n)
                                       : braid__seg_new(s, n)) < 0)
      return 0;
    e->segstr[i] = s;
    e->w.segs[e->w.nsegs++] = fd;
  }
  reserve(e, 21);
  put_byte(e, T_SEG);
  put_varint(e, (uint64_t)i);
  put_varint(e, (uint64_t)n);
  return 1;
}


void braidB_enc_put_str(Enc *e, const char *s, size_t n) {
  if (braid__unlikely(e->segmin != 0 && n >= e->segmin) && put_seg(e, s, n))
    return;
  if (n >= STR_MINREF) {
    braid_ptrmap *m = &e->strs;
    braid_ptrent *pe;
    if (m->used < STR_MAXMAP) {
      int nomem = 0;
      pe = braid__ptrmap_find_or_put(m, s, e->w.len, &nomem);
      if (nomem) braidB_enc_nomem(e);
    } else {
      pe = braid__ptrmap_find(m, s);
    }
    if (pe != NULL) {
      size_t at = (size_t)braid__pe_val(pe);
      if (at >= e->group_at && same_string(e, at, s, n)) {
        /* published: left T_STR (the decoder reads it again, see
        ** recall_string) */
        if (at >= e->pub) e->w.buf[at] = T_STRS;
        put_ref(e, at);
        return;
      }
      braid__pe_set(m, pe, s, e->w.len); /* the address holds another string now */
    }
  }
  put_string(e, s, n);
}




/*
** lencode.h: the encoder's state, shared by the files of the Lua value
** walker's encoding side (lencode.c: the walk and entry points;
** lencpath.c: the path of the value an error names).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LENCODE_H
#define BRAID_LENCODE_H

#include "lua.h"
#include "braidint.h"
#include "lnames.h"
#include "lrawtab.h"
#include "ptrmap.h"
#include "stream.h"
#include "wire.h"

typedef enum SegKind { SEG_KEY, SEG_UPVAL, SEG_META, SEG_ARG, SEG_NONE } SegKind;

typedef struct PathSeg {
  SegKind kind;
  int idx;          /* SEG_KEY: stack index of the key; SEG_ARG: number */
  const char *name; /* SEG_UPVAL */
} PathSeg;

/* The encoder walks a value without recursing in C (a value may be nested
** 100,000 levels deep, and worker threads have small stacks): each table,
** Lua function and reduced object being written is a Frame on a growable
** heap stack, whose Lua values (the object, a table's key and value being
** written, its metatable) stay in Lua stack slots, about three per level
** (lua_checkstack'd per frame). Past 2 * BRAID_SPILL_W levels the slots of
** the bottom BRAID_SPILL_W (above the first BRAID_SPILL_KEEP) move to a
** spill table (registry[e]) and come back when the walk returns to them
** (enc_spill, enc_unspill): depth is bounded by memory only. The path of
** an error message is read from the frames (its first and last PATH_KEEP
** steps from frames kept in slots). */
enum { FR_TABLE, FR_FUNC, FR_REDUCE };

/* What a frame does when the child it returned has been written. */
enum { ST_LOOP, ST_VAL, ST_POST, ST_META };

typedef struct Frame {
  unsigned char kind, st;
  unsigned char seg;   /* SegKind of the child being written, for paths */
  unsigned char inarr, open, w; /* table: in the array section, F_OPEN,
                                   width of narr */
  int idx;             /* the object */
  int k;    /* table: key slot; function, reduce: number of the child */
  int n;    /* table: metatable slot or 0; function: upvalues;
               reduce: constructor and arguments */
  int base; /* reduce: slot below the constructor */
  int endtop;          /* reduce: top to leave when done */
  const char *name;    /* function: name of the upvalue being written */
  size_t hdr;          /* table: offset of T_TABLE */
  lua_Unsigned narr, m;
  uint32_t nhash;
  /* The raw walk (lencraw.c) of a table: 'raw' set while it reads the
  ** table's slots directly; 'pos' is the next slot (array part, then
  ** nodes); 'rawchk' says that slot pos - 1 was a child, written through
  ** the API (its key at k), whose key (tag 'ktag', payload 'kval') must
  ** still be there before the walk goes on from 'pos'. */
  unsigned char raw, rawchk, ktag;
  size_t pos;
  braid_rawval kval;
} Frame;

typedef struct Enc {
  lua_State *L;
  braid_wbuf w; /* the bytes and the handles they name */
  braid_ptrmap seen;
  braid_ptrmap strs; /* strings written (by address) -> offset, see put_str */
  const void *globals;
  Frame *frames; /* the walk's stack (see Frame) */
  size_t nframes, capframes;
  size_t spill_hi;     /* frames below (from BRAID_SPILL_KEEP) are spilled */
  lua_Integer spilled; /* entries in the spill table (0: none) */
  int ctype; /* type of the child a frame's step returned */
  int inl;   /* table steps running inline (at most ENC_INLINE) */
  int busy;
  int top; /* the stack's top when the encode began (slots above: ours) */
  int procmode; /* BRAID_ENC_PROCESS/_PIPE: for another process, else 0 */
  int raw;      /* tables are read raw (braidB_rawwalk_active, lencraw.c) */
  /* Strings of 'segmin' bytes or more go out of line (T_SEG, memseg.h);
  ** 0: never (BRAID_ENC_SEGS not asked for). 'segstr' are the strings
  ** already in the message's segments (the same string twice is one). */
  size_t segmin;
  int seglate; /* big segments filled after the send (BRAID_ENC_LATE) */
  const char *segstr[BRAID_SEG_MAX];
  int names_rebuilt; /* the name cache was rebuilt during this encode */
  braid_names *names;    /* this state's, looked up once per encode */
  int npath;        /* segments before the frames' (a batch's item) */
  PathSeg path[2];
  const char *root;
  uint32_t *offs; /* item offsets of a batch being encoded */
  size_t offscap;
  /* Where the current group of a batch whose items share references
  ** began (braid__encode_batch_shared): an object written before it
  ** belongs to an earlier group, which a later one never names (seen_before
  ** writes it again, or copies its bytes). 0 otherwise. */
  size_t group_at;
  /* The last table small_item or the raw walk found written in the group
  ** and its offset (in_group; cleared with 'seen'); the last flat table copied by earlier_group and its end
  ** (flat_end 0: none), which the next group copies without parsing it. */
  const void *memo_p;
  size_t memo_at, flat_at, flat_end;
  /* While e->nframes is in (deep_lo, deep_hi], the raw walk does not try
  ** to write a child table plain (lencraw.c): the frame at deep_lo had a
  ** child found deeper than a plain table may be, and checking each level
  ** of such a subtree again would read PLAIN_DEPTH levels per level. */
  size_t deep_lo, deep_hi;
  /* A map call's batch (BRAID_ENC_CALLV): a flat table of the first
  ** group (which ends at 'group1_end', 0 before the second group) met
  ** again in a later one is written T_CALLV; the bytes they name lie in
  ** [call_lo, call_hi) (lencgroup.c). */
  int callv;
  size_t group1_end, call_lo, call_hi;
  /* Streaming (braid__encode_streamed). Once the stream has started,
  ** 'buf' and 'handles' belong to it (the reader may be reading them):
  ** they are never freed nor reused by the encoder, and bytes below 'pub'
  ** are never written again. A SHARED flag due there is noted in 'late'
  ** and set in a copy at the end. */
  int (*start)(void *, braid_stream *); /* called at the first publish */
  void *start_ud;
  int open_tables; /* write F_OPEN tables */
  size_t pub;      /* bytes of 'buf' published */
  size_t pub_next; /* publish when 'len' reaches it; SIZE_MAX: never */
  size_t step;
  size_t *late;
  size_t nlate, caplate;
} Enc;

/* The writers of wire.h on the encoder's buffer. Growth failures raise
** (enc_wbuf_nomem), so a reserve that returns has made room. */
#define reserve(e, n) ((void)braid__wire_reserve(&(e)->w, (n)))
#define put_byte(e, b) braid__wire_put_byte(&(e)->w, (b))
#define put_bytes(e, p, n) braid__wire_put_bytes(&(e)->w, (p), (n))
#define put_varint(e, v) braid__wire_put_varint(&(e)->w, (v))
#define put_int(e, v) braid__wire_put_int(&(e)->w, (v))
#define put_float(e, d) braid__wire_put_float(&(e)->w, (d))
#define put_u32_at(e, at, v) braid__wire_put_u32_at(&(e)->w, (at), (v))
#define put_string(e, s, n) braid__wire_put_string(&(e)->w, (s), (n))
#define put_ref(e, at) braid__wire_put_ref(&(e)->w, (at))
#define put_padded_at(e, at, wd, v) \
  braid__wire_put_padded_at(&(e)->w, (at), (wd), (v))


/* What table_step writes as a table's array section: keys that continue
** it with holes of up to this many nils (a larger gap ends it; the rest
** travels as pairs). */
#define MAX_GAP 16

/* Makes the bytes written so far readable by a stream's reader (lencode.c;
** starts the stream the first time). MAY RAISE. */
BRAIDI_FUNC void braidB_enc_publish(Enc *e);
#define maybe_publish(e) \
  do { if (braid__unlikely((e)->w.len >= (e)->pub_next)) braidB_enc_publish(e); } \
  while (0)

/* Raises MemoryError (lencode.c). */
BRAIDI_FUNC void braidB_enc_nomem(Enc *e) __attribute__((noreturn));
/* Sets the SHARED flag of the object written at 'at', or notes it for
** the final copy when those bytes are published (lencode.c). */
BRAIDI_FUNC void braidB_enc_mark_shared(Enc *e, size_t at);
/* Writes the string 's' of 'n' bytes: inline, a REF to an earlier copy
** (by address), or a segment (lencstr.c). MAY RAISE (memory). */
BRAIDI_FUNC void braidB_enc_put_str(Enc *e, const char *s, size_t n);

/* The raw walk (lencraw.c). What braidB_enc_raw_step returns besides a
** child's stack index: */
#define RAW_DONE 0   /* the table's entries are all written */
#define RAW_API (-1) /* the API walk goes on: lua_next from the key at k */
#define RAW_VALUE (-2) /* the value at k + 1 (key at k) is to be written */
/* Goes on writing the entries of the table of frame 'f' (f->raw) from
** slot f->pos, as table_step's lua_next loop would (the same bytes). A
** value it cannot write itself is pushed at f->k + 1 with its key at f->k
** (RAW_VALUE). MAY RAISE (memory). */
BRAIDI_FUNC int braidB_enc_raw_step(Enc *e, Frame *f);
/* The table 't' (a value being written, not on the stack) when it is
** plain data (see lencraw.c): writes it, or the REF to it, and returns 1,
** without any Lua API call. Otherwise returns 0 having written nothing. */
BRAIDI_FUNC int braidB_enc_raw_plain(Enc *e, const braid_rawtable *t);

/* Paths longer than twice this many segments show their first and last
** BRAID_PATH_KEEP segments around " ... " and end with their length. */
#define BRAID_PATH_KEEP 8

/* Raises 'cls' with "<path>: <what>" (lencpath.c). Leaves the encoder
** not busy and drops the walk's slots and spill table first. */
BRAIDI_FUNC void braidB_enc_fail(Enc *e, const char *cls, const char *what)
    __attribute__((noreturn));

/* The object 'p' (its entry 'pe' in 'seen') was written at 'at', in an
** earlier group of a shared batch: this group gets its own copy, which
** the entry names from now on. A flat table is copied byte for byte (a
** vector passed with every item of a map costs a memcpy per chunk, not
** a walk), or, in a map call's batch when it lies in the first group,
** named by a T_CALLV (its bytes once per call); returns 1. Anything else
** is written again by the caller (returns 0). MAY RAISE (memory). */
BRAIDI_FUNC int braidB_enc_earlier_group(Enc *e, braid_ptrent *pe,
                                         const void *p, size_t at);
/* The elements 1..narr of the table at 'idx' (no metatable; its header
** is written) when they are all its keys and all numbers or booleans:
** writes them as its array section and returns 1. Otherwise returns 0
** having written and recorded nothing, the stack as it was (lencflat.c).
** MAY RAISE (memory). */
BRAIDI_FUNC int braidB_enc_flat_array(Enc *e, int idx, lua_Unsigned narr);
/* A new braid_msg.calluid. */
BRAIDI_FUNC uint64_t braidB_enc_calluid(void);

/* Drops the spill table (the slots in it are the walk's: not needed once
** the walk ended or failed). */
BRAIDI_FUNC void braidB_enc_drop_spill(Enc *e);

#endif

/*
** lencode.c: the Lua value walker, encoding side: a Lua value into a
** message of the transfer format (wire.h).
** See LICENSE for copyright and license.
**
** A value is encoded once, in the sender's state, into a flat buffer owned
** by no state (a braid_msg), and decoded once in the receiver. Nothing is
** copied twice and no lock is held while either side runs.
**
** Format (version 2, host byte order: messages never leave the machine):
**   msg   := VERSION varint(count) value*count
**   value := tag payload, tags in enum 'Tag' of wire.h.
** Tables and Lua functions carry a flags byte whose SHARED bit the encoder
** patches in place when it meets the same object again; it then writes a
** REF to the offset of the first occurrence. So the decoder remembers only
** objects that are referenced again (not each of 100,000 records), and
** cycles and shared sub-tables survive. Upvalues shared by two closures
** are rejoined with lua_upvaluejoin. Strings met again (by address: keys
** repeated in every record) become REFs too, the first copy's tag patched
** from STR to STRS (version 2; see put_str). A table is written in one
** lua_next pass (see encode_table). Big messages are decoded with the
** collector stopped (see braid__decode).
**
** A thread start streams its arguments (braid__encode_streamed, stream.h):
** the worker decodes the bytes published so far while they are being
** written. Published bytes are never patched: such tables are F_OPEN
** (counts are hints, sections end with T_END), a string met again keeps
** its T_STR tag (the decoder reads it once more), and a SHARED flag due
** there goes into a copy that the decoder starts over on.
**
** Encoding uses a per-state encoder (a userdata in the registry, reused so
** that a put costs no allocation besides the message) holding the byte
** buffer, a pointer hash for the objects seen in this message, the path to
** the value being encoded (for error messages), and the references taken
** on braid objects. A raise (bad value, memory error) leaves the encoder
** with its temporaries, which the next encode or the state's close frees.
**
** C functions, the tables of loaded modules, and "classes" travel by
** name (lnames.h). The writers of the format are wire.h's, inline; the
** paths of error messages are built in lencpath.c.
*/
#include <string.h>

#include "alloc.h"
#include "lauxlib.h"
#include "lbind.h"
#include "lcodec.h"
#include "lencode.h"
#include "lspill.h"

static const char ENC_KEY = 'e';


/*
** {======================================================
** Encoder
** =======================================================
*/

/* Forgets the buffer and handles of a stream that an encode raising
** left (the stream frees them: its reader may still read them). Does not
** touch the stream, which may be gone. */
static void enc_detach(Enc *e) {
  braid__wbuf_stream_detach(&e->w);
}


/* The encoder writes plain messages again (no streaming). */
static void enc_stream_off(Enc *e) {
  e->start = NULL;
  e->open_tables = 0;
  e->pub = 0;
  e->pub_next = SIZE_MAX;
}


static int enc_gc(lua_State *L) {
  Enc *e = (Enc *)lua_touserdata(L, 1);
  braid__wbuf_free(&e->w); /* a stream's blocks are left to it */
  braid__free(e->offs);
  braid__free(e->late);
  braid__free(e->frames);
  braid__ptrmap_free(&e->seen);
  braid__ptrmap_free(&e->strs);
  memset(e, 0, sizeof *e);
  return 0;
}


static void enc_wbuf_nomem(braid_wbuf *w);

static Enc *newenc(lua_State *L) {
  Enc *e = (Enc *)lua_newuserdatauv(L, sizeof(Enc), 0);
  memset(e, 0, sizeof *e);
  enc_stream_off(e);
  e->w.nomem = enc_wbuf_nomem;
  /* every encode clears them first (enc_reset), so a forked child never
  ** looks into a table it did not inherit */
  braid__ptrmap_unforked(&e->seen);
  braid__ptrmap_unforked(&e->strs);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, enc_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  return e;
}


void braid__serial_open(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ENC_KEY) == LUA_TNIL) {
    newenc(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ENC_KEY);
  }
  lua_pop(L, 1);
}


int braidB_enc_seen_bytes_hook(lua_State *L) {
  size_t n = 0;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ENC_KEY) == LUA_TUSERDATA)
    n = ((Enc *)lua_touserdata(L, -1))->seen.cap * sizeof(braid_ptrent);
  lua_pop(L, 1);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


void braidB_enc_nomem(Enc *e) {
  braidB_enc_fail(e, "MemoryError", "not enough memory to encode the value");
}



/* The write buffer could not grow: raises. */
static void enc_wbuf_nomem(braid_wbuf *w) {
  braidB_enc_nomem((Enc *)(void *)((char *)w - offsetof(Enc, w)));
}


/* Drops the spill table (the slots in it are the walk's: not needed once
** the walk ended or failed). */
void braidB_enc_drop_spill(Enc *e) {
  if (e->spilled != 0) {
    lua_pushnil(e->L);
    lua_rawsetp(e->L, LUA_REGISTRYINDEX, e);
    e->spilled = 0;
  }
  e->spill_hi = BRAID_SPILL_KEEP;
}



static void push_seg(Enc *e, SegKind kind, int idx, const char *name) {
  PathSeg *s = &e->path[e->npath++];
  s->kind = kind;
  s->idx = idx;
  s->name = name;
}


static __attribute__((noreturn)) void enc_deep_nomem(Enc *e) {
  char msg[96];
  snprintf(msg, sizeof msg,
           "not enough memory to encode a value nested %zu levels deep",
           e->nframes + 1);
  braidB_enc_fail(e, "MemoryError", msg);
}


/* A new frame for the object at 'idx' (entered: depth is bounded by
** memory only, see enc_spill). */
static Frame *push_frame(Enc *e, int kind, int idx) {
  Frame *f;
  if (braid__unlikely(e->nframes == e->capframes)) {
    size_t ncap = e->capframes ? 2 * e->capframes : 64;
    Frame *nf = NULL;
    if (ncap <= SIZE_MAX / sizeof(Frame))
      nf = (Frame *)braid__realloc(e->frames, ncap * sizeof(Frame));
    if (nf == NULL) enc_deep_nomem(e);
    e->frames = nf;
    e->capframes = ncap;
  }
  if (!lua_checkstack(e->L, BRAID_FRAME_SLOTS)) enc_deep_nomem(e);
  f = &e->frames[e->nframes++];
  f->kind = (unsigned char)kind;
  f->st = ST_LOOP;
  f->seg = SEG_NONE;
  f->idx = idx;
  f->k = 0;
  return f;
}


/* If the value at 'idx' (whose lua_topointer is 'p') travels by name
** (lnames.h), writes T_BYNAME and returns 1. */
static int put_byname(Enc *e, int idx, const void *p, int isfunc) {
  lua_State *L = e->L;
  braid_names *c =
      e->names != NULL ? e->names : (e->names = braidB_names_get(L));
  braid_ptrent *pe;
  (void)idx;
  if (!c->built) braidB_names_build(L, c);
  if (!isfunc && !braidB_names_may_have(c, p)) return 0;
  pe = braid__ptrmap_find(&c->map, p);
  if (pe == NULL && isfunc && !e->names_rebuilt) {
    /* maybe loaded since the cache was built */
    braidB_names_build(L, c);
    e->names_rebuilt = 1;
    pe = braid__ptrmap_find(&c->map, p);
  }
  if (pe == NULL) return 0;
  {
    size_t n;
    const char *s;
    braidB_names_push(L, (lua_Integer)braid__pe_val(pe));
    put_byte(e, T_BYNAME);
    s = lua_tolstring(L, -2, &n);
    put_string(e, s, n);
    s = lua_tolstring(L, -1, &n);
    put_string(e, s, n);
    lua_pop(L, 2);
  }
  return 1;
}

/* If the object at 'idx' was met before, writes a REF, marks the first
** occurrence SHARED and returns 1; otherwise records its offset. */
/* Sets the SHARED flag of the object written at 'at' (or, once those
** bytes are published, notes it for the final copy). */
void braidB_enc_mark_shared(Enc *e, size_t at) {
  if (at >= e->pub) {
    e->w.buf[at + 1] |= F_SHARED;
    return;
  }
  if (e->nlate == e->caplate) {
    size_t ncap = e->caplate ? 2 * e->caplate : 16;
    size_t *nl = (size_t *)braid__realloc(e->late, ncap * sizeof *nl);
    if (nl == NULL) braidB_enc_nomem(e);
    e->late = nl;
    e->caplate = ncap;
  }
  e->late[e->nlate++] = at;
}


/* Makes the bytes written so far readable by the stream's reader,
** starting the stream (and its reader, through e->start) the first time. */
__attribute__((noinline)) void braidB_enc_publish(Enc *e) {
  braid_stream *s = e->w.stream;
  if (s == NULL) {
    int rc;
    if (e->start == NULL) { /* not a streamed encode, or restarted */
      e->pub_next = SIZE_MAX;
      return;
    }
    s = braid__stream_new();
    if (s == NULL) braidB_enc_nomem(e);
    braid__wbuf_stream_attach(&e->w, s);
    rc = e->start(e->start_ud, s);
    e->start = NULL;
    if (rc != BRAID_OK) { /* nobody reads: the encoder keeps its buffer */
      s->cur_buf.p = s->cur_handles.p = NULL;
      s->cur_handles.nrelease = 0;
      e->w.stream = NULL;
      braid__stream_release(s);
      if (rc == BRAID_EAGAIN) { /* the caller declines: a plain message */
        e->pub_next = SIZE_MAX;
        return;
      }
      e->busy = 0;
      braidB_raise(e->L, "RuntimeError", "%s",
                   rc == BRAID_ESTATE ? "threads can only be started once"
                                      : "can't start new thread");
    }
  }
  braid__wbuf_publish(&e->w);
  e->pub = e->w.len;
  e->pub_next = e->w.len + e->step;
}



static int seen_before(Enc *e, const void *p) {
  int nomem = 0;
  braid_ptrent *pe = braid__ptrmap_find_or_put(&e->seen, p, e->w.len, &nomem);
  if (pe != NULL) {
    size_t at = (size_t)braid__pe_val(pe);
    if (braid__unlikely(at < e->group_at))
      return braidB_enc_earlier_group(e, pe, p, at);
    braidB_enc_mark_shared(e, at);
    put_ref(e, at);
    return 1;
  }
  if (nomem) braidB_enc_nomem(e);
  return 0;
}


/* Calls the __braidreduce (or __braidexport) function on top of the
** stack for the object at 'idx', writes T_REDUCE and opens a frame that
** writes the constructor and arguments it returns; the frame leaves the
** stack at 'endtop' when done. */
static void open_reduce(Enc *e, int idx, int mode, int endtop) {
  lua_State *L = e->L;
  int base = lua_gettop(L) - 1, nres;
  Frame *f;
  lua_pushvalue(L, idx);
  if (mode) lua_pushinteger(L, mode); /* __braidexport(obj, mode) */
  lua_call(L, mode ? 2 : 1, LUA_MULTRET);
  nres = lua_gettop(L) - base;
  if (nres < 1 || lua_type(L, base + 1) != LUA_TFUNCTION) {
    lua_settop(L, base);
    braidB_enc_fail(e, "TypeError", "__braidreduce must return a function");
  }
  if (nres - 1 > 250) {
    lua_settop(L, base);
    braidB_enc_fail(e, "TypeError", "__braidreduce returned too many arguments");
  }
  put_byte(e, T_REDUCE);
  put_byte(e, 0);
  put_varint(e, (uint64_t)(nres - 1));
  f = push_frame(e, FR_REDUCE, idx);
  f->base = base;
  f->n = nres;
  f->endtop = endtop;
}


/* With the metatable of the object at 'idx' on top of the stack, applies
** its __braidreduce if it has one. Returns 0 if it has none (the
** metatable stays), 1 if the object was written (the caller pops the
** metatable), 2 if a frame was opened (which pops it when done). */
static int reduce_with_mt(Enc *e, int idx) {
  lua_State *L = e->L;
  lua_pushliteral(L, "__braidreduce"); /* raw, as Lua reads metamethods */
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (seen_before(e, lua_topointer(L, idx))) {
    lua_pop(L, 1);
    return 1;
  }
  open_reduce(e, idx, 0, lua_gettop(L) - 2);
  return 2;
}


/* Process modes: a braid object crosses to another process only through
** its type's __braidexport(obj, mode) (a constructor and arguments, like
** __braidreduce; the type records the file descriptors to hand over). */
static int try_export(Enc *e, int idx) {
  lua_State *L = e->L;
  if (!lua_getmetatable(L, idx)) return 0;
  lua_pushliteral(L, "__braidexport");
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 2);
    return 0;
  }
  lua_remove(L, -2);
  if (seen_before(e, lua_topointer(L, idx))) {
    lua_pop(L, 1);
    return 1;
  }
  open_reduce(e, idx, e->procmode, lua_gettop(L) - 1);
  return 1;
}


static void cannot_send_proc(Enc *e, int idx) {
  lua_State *L = e->L;
  luaL_getmetafield(L, idx, "__name");
  braidB_enc_fail(e, "TypeError",
           lua_pushfstring(L, "a %s cannot be sent to another process "
                              "(use the objects of braid.multiprocessing)",
                           lua_tostring(L, -1)));
}


/* Tries __braidreduce on the object at 'idx'; returns 1 if it applied. */
static int try_reduce(Enc *e, int idx) {
  int r;
  if (!lua_getmetatable(e->L, idx)) return 0;
  r = reduce_with_mt(e, idx);
  if (r != 2) lua_pop(e->L, 1);
  return r != 0;
}


/* Writes nil, booleans, numbers and strings (returns 0); returns the
** type of anything else (not 0: nil is written). */
static inline int put_leaf(Enc *e, int idx) {
  lua_State *L = e->L;
  int t = lua_type(L, idx);
  switch (t) {
    case LUA_TNIL: put_byte(e, T_NIL); return 0;
    case LUA_TBOOLEAN:
      put_byte(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
      return 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        put_int(e, lua_tointeger(L, idx));
      } else {
        put_float(e, lua_tonumber(L, idx));
      }
      return 0;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      braidB_enc_put_str(e, s, n);
      return 0;
    }
    default: return t;
  }
}


/* T_TABLE flags narr nhash: one lua_next pass. Lua returns the array part
** first, in order, so the leading keys 1, 2, ... (up to the border
** lua_rawlen gives) are written as the array section; the first key that
** does not continue it ends the section, and it and the rest are written
** as pairs (also integer keys that Lua keeps in the hash part: the
** receiver gets the same table). narr is written after the pass, in the
** width reserved for lua_rawlen (a padded varint). An F_OPEN table (a
** streamed encode) also ends each section with T_END, and its counts are
** hints: they stay lua_rawlen and 0 if the header was published before
** the table ended. open_table writes the header and opens the frame,
** table_step the rest. */
static int table_step(Enc *e, Frame *f);

/* Sequences this long or longer try braidB_enc_flat_array first (a
** plain encode only: a streamed one publishes as it goes). */
#define FLAT_MIN 16

/* Returns as table_step does (0: written; -1: a frame to run; else a
** child of the top frame to open). */
static int open_table(Enc *e, int idx) {
  lua_State *L = e->L;
  const void *p = lua_topointer(L, idx);
  size_t hdr;
  lua_Unsigned narr;
  int w, mt = 0, open = e->open_tables;
  Frame *f;
  if (p == e->globals) {
    put_byte(e, T_GLOBALS);
    return 0;
  }
  braid__ptrmap_prefetch(&e->seen, p);
  if (put_byname(e, idx, p, 0)) return 0;
  if (lua_getmetatable(L, idx)) {
    int r;
    mt = lua_gettop(L);
    if ((r = reduce_with_mt(e, idx)) != 0) {
      if (r == 1) lua_pop(L, 1);
      return r == 1 ? 0 : -1;
    }
  }
  if (seen_before(e, p)) {
    if (mt) lua_pop(L, 1);
    return 0;
  }
  f = push_frame(e, FR_TABLE, idx);
  narr = lua_rawlen(L, idx);
  w = braid__wire_varint_len(narr);
  reserve(e, 2 + (size_t)w + 4 + 1);
  hdr = e->w.len;
  e->w.buf[e->w.len++] = T_TABLE;
  e->w.buf[e->w.len++] = (unsigned char)((mt ? F_META : 0) | (open ? F_OPEN : 0));
  e->w.len += (size_t)w + 4;
  if (open) { /* the hints, should the header be published early */
    put_padded_at(e, hdr + 2, w, narr);
    put_u32_at(e, hdr + 2 + (size_t)w, 0);
  } else if (narr >= FLAT_MIN && !mt && e->pub_next == SIZE_MAX && !e->raw &&
             braidB_enc_flat_array(e, idx, narr)) { /* a vector */
    put_padded_at(e, hdr + 2, w, narr);
    put_u32_at(e, hdr + 2 + (size_t)w, 0);
    e->nframes--;
    return 0;
  }
  f->n = mt;
  f->hdr = hdr;
  f->w = (unsigned char)w;
  f->open = (unsigned char)open;
  f->narr = narr;
  f->m = 0;
  f->nhash = 0;
  f->inarr = narr > 0;
  f->raw = (unsigned char)e->raw; /* lencraw.c */
  f->rawchk = 0;
  f->pos = 0;
  if (open && !f->inarr) e->w.buf[e->w.len++] = T_END; /* no array section */
  lua_pushnil(L);
  f->k = lua_gettop(L); /* the key; lua_next pushes the value at k + 1 */
  return table_step(e, f); /* at once: most tables hold leaves only */
}


static int open_value(Enc *e, int idx, int t);

/* How many tables a table step opens and writes inline, one inside the
** other, instead of returning them to encode_value's loop (their C frames:
** the only recursion, bounded). */
#define ENC_INLINE 2

/* Goes on writing the table of frame 'f' (top). Returns 0 when the table
** is written (the frame is popped); the stack index of a child for
** encode_value to open (its type in e->ctype), or -1 when a frame opened
** above this one is to run first. Leaves are written here, and tables
** inline up to ENC_INLINE deep. */
static int table_step(Enc *e, Frame *f) {
  lua_State *L = e->L;
  int idx = f->idx, k = f->k, inarr = f->inarr;
  lua_Unsigned m = f->m, narr = f->narr; /* in registers in the loop */
  uint32_t nhash = f->nhash;
resume:
  switch (f->st) {
    case ST_VAL: /* the key of a pair was a child */
      f->st = ST_POST;
      if ((e->ctype = put_leaf(e, k + 1)) != 0) {
        k++;
        goto child;
      }
      /* FALLTHROUGH */
    case ST_POST:
      lua_settop(L, k);
      maybe_publish(e);
      break;
    case ST_META:
      lua_pop(L, 2); /* __braidclass and the metatable */
      e->nframes--;
      return 0;
    default: break;
  }
  f->seg = SEG_KEY;
  if (f->raw) { /* the slots read directly (lencraw.c) */
    int r = braidB_enc_raw_step(e, f);
    m = f->m;
    nhash = f->nhash;
    inarr = f->inarr;
    if (r == RAW_VALUE) {
      f->st = ST_VAL;
      goto resume;
    }
    if (r == RAW_DONE) goto entries_done;
    /* RAW_API: lua_next from the key at k */
  }
  while (lua_next(L, idx)) {
    if (inarr) {
      lua_Integer ik;
      if (lua_isinteger(L, k) && (ik = lua_tointeger(L, k)) > (lua_Integer)m &&
          (lua_Unsigned)ik <= narr && (lua_Unsigned)ik - m <= MAX_GAP) {
        while (++m < (lua_Unsigned)ik) put_byte(e, T_NIL);
        if (lua_isinteger(L, k + 1)) { /* the common elements: inline */
          put_int(e, lua_tointeger(L, k + 1));
        } else if (lua_type(L, k + 1) == LUA_TNUMBER) { /* a float */
          put_float(e, lua_tonumber(L, k + 1));
        } else if ((e->ctype = put_leaf(e, k + 1)) != 0) {
          f->st = ST_POST;
          k++;
          goto child;
        }
        lua_settop(L, k);
        maybe_publish(e);
        continue;
      }
      inarr = 0;
      if (f->open) put_byte(e, T_END);
    }
    nhash++;
    if ((e->ctype = put_leaf(e, k)) != 0) {
      f->st = ST_VAL;
      goto child;
    }
    if ((e->ctype = put_leaf(e, k + 1)) != 0) {
      f->st = ST_POST;
      k++;
      goto child;
    }
    lua_settop(L, k);
    maybe_publish(e);
  }
entries_done:
  f->seg = SEG_NONE;
  if (f->open) {
    if (inarr) put_byte(e, T_END);
    put_byte(e, T_END);
  }
  if (f->hdr >= e->pub) { /* the counts (exact hints for an F_OPEN table) */
    put_padded_at(e, f->hdr + 2, f->w, m);
    put_u32_at(e, f->hdr + 2 + f->w, nhash);
  }
  if (f->n) {
    int mt = f->n;
    f->seg = SEG_META;
    lua_pushliteral(L, "__braidclass");
    if (lua_rawget(L, mt) != LUA_TSTRING) {
      f->st = ST_META;
      e->ctype = LUA_TTABLE;
      k = mt;
      goto child;
    }
    {
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      put_byte(e, T_CLASS);
      put_string(e, s, n);
    }
    lua_pop(L, 2);
  }
  e->nframes--;
  return 0;
child: /* the value at 'k' (a key, a value or the metatable) is no leaf */
  f->m = m;
  f->nhash = nhash;
  f->inarr = (unsigned char)inarr;
  if (e->inl < ENC_INLINE) {
    size_t me = e->nframes;
    int r;
    e->inl++;
    r = open_value(e, k, e->ctype);
    e->inl--;
    if (r != 0) return r; /* not done: encode_value goes on */
    f = &e->frames[me - 1]; /* the frames may have moved */
    k = f->k;
    goto resume;
  }
  return k;
}


static int dump_writer(lua_State *L, const void *p, size_t n, void *ud) {
  Enc *e = (Enc *)ud;
  (void)L;
  put_bytes(e, p, n);
  return 0;
}


/* T_LFUNC: the dump, then a frame (func_step) for the upvalues. */
static void open_lfunction(Enc *e, int idx) {
  lua_State *L = e->L;
  size_t at, lenslot;
  lua_Debug ar;
  Frame *f;
  if (seen_before(e, lua_topointer(L, idx))) return;
  f = push_frame(e, FR_FUNC, idx);
  at = e->w.len;
  put_byte(e, T_LFUNC);
  put_byte(e, 0);
  reserve(e, 4);
  lenslot = e->w.len;
  e->w.len += 4;
  lua_pushvalue(L, idx);
  lua_dump(L, dump_writer, e, 0);
  lua_getinfo(L, ">u", &ar); /* pops the function */
  put_u32_at(e, lenslot, (uint32_t)(e->w.len - lenslot - 4));
  put_byte(e, (unsigned char)ar.nups);
  f->n = ar.nups;
  f->hdr = at;
}


/* Writes the upvalues of the function of frame 'f' (top); returns the
** stack index of a child to write first, or 0 when done (popped). */
static int func_step(Enc *e, Frame *f) {
  lua_State *L = e->L;
  int idx = f->idx;
  if (f->st == ST_POST) {
    lua_pop(L, 1); /* the upvalue just written */
    f->st = ST_LOOP;
  }
  while (f->k < f->n) {
    int i = ++f->k;
    const char *name = lua_getupvalue(L, idx, i);
    void *id = lua_upvalueid(L, idx, i);
    braid_ptrent *pe;
    if (name != NULL && strcmp(name, "_ENV") == 0) {
      put_byte(e, UPV_ENV);
    } else if ((pe = braid__ptrmap_find(&e->seen, id)) != NULL &&
               (size_t)(braid__pe_val(pe) >> 8) >= e->group_at) {
      size_t fat = (size_t)(braid__pe_val(pe) >> 8);
      braidB_enc_mark_shared(e, fat); /* the decoder must keep that function */
      put_byte(e, UPV_JOIN);
      put_varint(e, fat);
      put_byte(e, (unsigned char)(braid__pe_val(pe) & 0xff));
    } else {
      if ((uint64_t)f->hdr >> (BRAID_PTR_VALBITS - 8) != 0)
        braidB_enc_fail(e, "ValueError", "value too large to send");
      if (pe != NULL) /* named in an earlier group: this one's own */
        braid__pe_set(&e->seen, pe, id, ((uint64_t)f->hdr << 8) | (uint64_t)i);
      else if (braid__ptrmap_put(&e->seen, id,
                                 ((uint64_t)f->hdr << 8) | (uint64_t)i) !=
               BRAID_OK)
        braidB_enc_nomem(e);
      put_byte(e, UPV_VAL);
      f->seg = SEG_UPVAL;
      f->name = name ? name : "?";
      if ((e->ctype = put_leaf(e, lua_gettop(L))) != 0) {
        f->st = ST_POST;
        return lua_gettop(L);
      }
    }
    lua_pop(L, 1);
  }
  e->nframes--;
  return 0;
}


/* Writes the constructor and arguments of frame 'f' (top); returns the
** stack index of a child to write first, or 0 when done (popped). */
static int reduce_step(Enc *e, Frame *f) {
  while (f->k < f->n) {
    int at = f->base + ++f->k;
    f->seg = SEG_ARG; /* k - 1: 0 for the constructor */
    if ((e->ctype = put_leaf(e, at)) != 0) return at;
  }
  lua_settop(e->L, f->endtop);
  e->nframes--;
  return 0;
}


static void cannot_send(Enc *e, int idx) {
  lua_State *L = e->L;
  const char *what;
  int t = lua_type(L, idx);
  if (t == LUA_TUSERDATA) {
    if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
      what = lua_pushfstring(L, "a userdata of type %s cannot be sent "
                                "(give its metatable a __braidreduce)",
                             lua_tostring(L, -1));
    else
      what = "a userdata cannot be sent (give its metatable a __braidreduce)";
  } else if (t == LUA_TTHREAD) {
    what = "a coroutine cannot be sent";
  } else if (t == LUA_TLIGHTUSERDATA) {
    what = "a light userdata cannot be sent";
  } else {
    what = "a C function that no loaded module holds cannot be sent "
           "(require its module inside the function instead)";
  }
  braidB_enc_fail(e, "TypeError", what);
}


static void add_handle(Enc *e, braid_handle *h) {
  if (braid__wbuf_add_handle(&e->w, h) != BRAID_OK) braidB_enc_nomem(e);
}


/* Writes the value at 'idx' of type 't' (not a leaf), or opens a frame
** for it (see encode_value). Returns as table_step does. */
static int open_value(Enc *e, int idx, int t) {
  lua_State *L = e->L;
  size_t n = e->nframes;
  switch (t) {
    case LUA_TTABLE: return open_table(e, idx);
    case LUA_TFUNCTION:
      if (lua_iscfunction(L, idx)) {
        if (!put_byname(e, idx, lua_topointer(L, idx), 1))
          cannot_send(e, idx);
      } else {
        open_lfunction(e, idx);
      }
      break;
    case LUA_TUSERDATA: {
      braid_handle *h = braidB_tohandle(L, idx);
      if (h != NULL && e->procmode == 0) {
        put_byte(e, T_HANDLE);
        put_varint(e, e->w.nhandles);
        add_handle(e, h);
      } else if (h != NULL) {
        if (!try_export(e, idx)) cannot_send_proc(e, idx);
      } else if (!try_reduce(e, idx)) {
        cannot_send(e, idx);
      }
      break;
    }
    default: cannot_send(e, idx); break;
  }
  return e->nframes > n ? -1 : 0; /* a function's or a reduce's frame */
}


/* Moves the stack index fields of frames 'from' and up by 'delta' (their
** slots moved: see enc_spill). */
static void enc_shift(Enc *e, size_t from, int delta) {
  size_t i;
  for (i = from; i < e->nframes; i++) {
    Frame *f = &e->frames[i];
    f->idx += delta;
    if (f->kind == FR_TABLE) {
      if (f->k != 0) f->k += delta;
      if (f->n != 0) f->n += delta;
    } else if (f->kind == FR_REDUCE) {
      f->base += delta;
      f->endtop += delta;
    }
  }
}


/* Spills the slots of the BRAID_SPILL_W frames above 'spill_hi': from the
** object of the lowest to below the object of the one above them (a
** frame's slots all lie at or above its object, and its child's object
** above them but for a reduce's later arguments, which move with it). The
** spilled frames keep their indices: they hold again when the slots come
** back (enc_unspill), the frames above them being shifted. Called between
** steps, when no C variable but encode_value's child index (which it
** shifts too) holds a stack index. Returns how far the slots above moved
** down. */
static int enc_spill(Enc *e) {
  lua_State *L = e->L;
  size_t lo = e->spill_hi, hi = lo + BRAID_SPILL_W;
  int from = e->frames[lo].idx, n = e->frames[hi].idx - from;
  if (!lua_checkstack(L, 4)) enc_deep_nomem(e);
  if (e->spilled == 0) {
    lua_createtable(L, 3 * BRAID_SPILL_W, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, e);
  } else {
    lua_rawgetp(L, LUA_REGISTRYINDEX, e);
  }
  braidB_spill_out(L, &e->spilled, from, n);
  enc_shift(e, hi, -n);
  e->spill_hi = hi;
  return n;
}


/* Brings back the last spilled frames' slots (the walk came down to within
** 2 * BRAID_PATH_KEEP frames of them: an error's path reads its last steps from
** the top frames' slots). Returns how far the slots above moved up. */
static int enc_unspill(Enc *e) {
  lua_State *L = e->L;
  size_t lo = e->spill_hi - BRAID_SPILL_W;
  int n;
  if (!lua_checkstack(L, 4)) enc_deep_nomem(e);
  lua_rawgetp(L, LUA_REGISTRYINDEX, e);
  if ((n = braidB_spill_in(L, &e->spilled, e->frames[lo].idx)) < 0)
    enc_deep_nomem(e);
  enc_shift(e, e->spill_hi, n);
  e->spill_hi = lo;
  if (e->spilled == 0) braidB_enc_drop_spill(e);
  return n;
}


/* Writes the value at 'idx': the frames it opens are run to the end, the
** top one first, each returning the children it cannot write itself. */
static void encode_value(Enc *e, int idx) {
  size_t base = e->nframes;
  int r = put_leaf(e, idx);
  if (r == 0) return;
  r = open_value(e, idx, r);
  for (;;) {
    Frame *f;
    /* a child 'r' is above the top frame's object: it moves with it */
    if (braid__unlikely(e->nframes >= e->spill_hi + 2 * BRAID_SPILL_W)) {
      int n = enc_spill(e);
      if (r > 0) r -= n;
    } else if (braid__unlikely(e->spilled != 0 &&
                               e->nframes <= e->spill_hi + 2 * BRAID_PATH_KEEP)) {
      int n = enc_unspill(e);
      if (r > 0) r += n;
    }
    if (r > 0) { /* a child of the top frame */
      r = open_value(e, r, e->ctype);
      continue;
    }
    if (e->nframes <= base) break;
    f = &e->frames[e->nframes - 1];
    switch (f->kind) {
      case FR_TABLE: r = table_step(e, f); break;
      case FR_FUNC: r = func_step(e, f); break;
      default: r = reduce_step(e, f); break;
    }
  }
}


static void enc_reset(Enc *e, lua_State *L, const char *root) {
  braid__wbuf_reset(&e->w); /* drops what an encode that raised left */
  e->L = L;
  e->nframes = 0;
  braidB_enc_drop_spill(e); /* left by an encode that raised */
  e->inl = 0;
  e->npath = 0;
  e->root = root;
  e->nlate = 0;
  braid__ptrmap_clear(&e->seen);
  braid__ptrmap_clear(&e->strs);
  e->group_at = 0;
  e->memo_p = NULL;
  e->flat_at = e->flat_end = 0;
  e->deep_lo = e->deep_hi = 0;
  e->callv = 0;
  e->group1_end = e->call_lo = e->call_hi = 0;
}


static braid_msg *enc_finish(Enc *e) {
  braid_msg *m;
  if (braid__wbuf_to_msg(&e->w, &m) != BRAID_OK) braidB_enc_nomem(e);
  return m;
}


/* The encoder of 'L' (the state's own unless it is busy: a __braidreduce
** that encodes gets a fresh one, left on the stack: '*pushed' = 1). */
static Enc *acquire_enc(lua_State *L, const char *root, int *pushed) {
  Enc *e;
  *pushed = 0;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ENC_KEY) == LUA_TNIL) {
    /* the state's first encode (worker states make it when needed: an
    ** idle thread's memory) */
    lua_pop(L, 1);
    braid__serial_open(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ENC_KEY);
  }
  if (lua_type(L, -1) == LUA_TUSERDATA &&
      !((Enc *)lua_touserdata(L, -1))->busy) {
    e = (Enc *)lua_touserdata(L, -1);
    lua_pop(L, 1); /* the registry keeps it alive */
  } else {
    lua_pop(L, 1);
    e = newenc(L);
    *pushed = 1;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  e->globals = lua_topointer(L, -1);
  lua_pop(L, 1);
  enc_detach(e); /* a streamed encode that raised */
  enc_stream_off(e);
  e->names_rebuilt = 0;
  e->names = NULL; /* looked up on first need */
  enc_reset(e, L, root);
  e->top = lua_gettop(L);
  e->raw = braidB_rawwalk_active(L); /* the self-check: before busy */
  e->busy = 1;
  e->procmode = 0;
  e->segmin = 0;
  e->seglate = 0;
  return e;
}


/* Numbers, booleans, nil and short strings need no encoder state: the
** message is written directly (the common queue item). Returns 0 when
** 'idx' holds something else. 'm' is fresh or a spare. */
static int write_scalar(lua_State *L, int idx, braid_msg *m) {
  unsigned char *p;
  int t = lua_type(L, idx);
  size_t n = 0;
  const char *str = NULL;
  if (t == LUA_TSTRING) {
    str = lua_tolstring(L, idx, &n);
    if (n > sizeof m->inline_data - 4) return 0;
  } else if (t != LUA_TNUMBER && t != LUA_TBOOLEAN && t != LUA_TNIL) {
    return 0;
  }
  p = m->data;
  *p++ = BRAID_WIRE_VERSION;
  *p++ = 1; /* one value */
  switch (t) {
    case LUA_TNIL: *p++ = T_NIL; break;
    case LUA_TBOOLEAN: *p++ = lua_toboolean(L, idx) ? T_TRUE : T_FALSE; break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
        *p++ = T_INT;
        while (u >= 0x80) {
          *p++ = (unsigned char)(u | 0x80);
          u >>= 7;
        }
        *p++ = (unsigned char)u;
      } else {
        lua_Number d = lua_tonumber(L, idx);
        *p++ = T_FLOAT;
        memcpy(p, &d, sizeof d);
        p += sizeof d;
      }
      break;
    default:
      *p++ = T_STR;
      *p++ = (unsigned char)n; /* n < 128: a one-byte varint */
      memcpy(p, str, n);
      p += n;
      break;
  }
  m->len = (size_t)(p - m->data);
  return 1;
}


static int isscalar(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING) {
    size_t n;
    lua_tolstring(L, idx, &n);
    return n <= sizeof(((braid_msg *)0)->inline_data) - 4;
  }
  return t == LUA_TNUMBER || t == LUA_TBOOLEAN || t == LUA_TNIL;
}


int braid__encode_scalar_into(lua_State *L, int idx, braid_msg *spare) {
  if (!isscalar(L, idx)) return 0;
  spare->next = NULL;
  spare->tag = 0;
  atomic_store_explicit(&spare->pending, 1, memory_order_relaxed);
  return write_scalar(L, idx, spare);
}


static braid_msg *encode_scalar(lua_State *L, int idx) {
  braid_msg *m;
  if (!isscalar(L, idx)) return NULL;
  m = braid__msg_new();
  if (m == NULL) braidB_nomem(L);
  write_scalar(L, idx, m);
  return m;
}


/* A streamed encode starts over (see encode_n_mode): the bytes published
** so far stay with the stream, as do the handles they name; the encoder
** writes a fresh buffer and publishes nothing more. */
static void stream_abandon(Enc *e) {
  int rc = braid__wbuf_stream_abandon(&e->w);
  e->pub = 0;
  e->pub_next = SIZE_MAX;
  if (rc != BRAID_OK) braidB_enc_nomem(e);
}


/* Ends a streamed encode: the stream's final message takes the buffer and
** the handles. If SHARED flags were due in published bytes (or the encode
** started over), the reader must decode the final message from its start:
** a copy with the flags set. */
static void stream_finish(Enc *e, int restart) {
  int rc = braid__wbuf_stream_finish(&e->w, e->late, e->nlate, restart);
  e->nlate = 0;
  if (rc != BRAID_OK) braidB_enc_nomem(e);
}


/* 'start' (streamed encodes) is NULL for the others. Returns NULL when
** the encode was streamed. */
static braid_msg *encode_n_mode(lua_State *L, int idx, int n,
                                const char *const *roots, int mode,
                                int (*start)(void *, braid_stream *),
                                void *ud) {
  Enc *e;
  int i, pushed, attempt, restart = 0;
  braid_msg *m;
  idx = lua_absindex(L, idx);
  if (n == 1 && (m = encode_scalar(L, idx)) != NULL) return m;
  e = acquire_enc(L, roots[0], &pushed);
  e->segmin = (mode & BRAID_ENC_SEGS) ? braid__seg_min(0, 0) : 0;
  e->seglate = (mode & BRAID_ENC_LATE) != 0;
  if (e->seglate) braid__seg_late_begin();
  e->procmode = mode & ~(BRAID_ENC_SEGS | BRAID_ENC_LATE);
  if (start != NULL) {
    size_t min, step;
    braid__stream_limits(&min, &step, 0);
    e->start = start;
    e->start_ud = ud;
    e->open_tables = 1;
    e->pub_next = min;
    e->step = step;
  }
  for (attempt = 0; attempt < 2; attempt++) {
    int rebuilt_before = e->names_rebuilt;
    if (attempt > 0 && e->w.stream != NULL) {
      stream_abandon(e);
      restart = 1;
    }
    enc_reset(e, L, roots[0]);
    reserve(e, 16);
    put_byte(e, BRAID_WIRE_VERSION);
    put_varint(e, (uint64_t)n);
    for (i = 0; i < n; i++) {
      e->root = roots[i];
      encode_value(e, idx + i);
    }
    /* A rebuild of the name cache mid-way may have deep-copied a module
    ** met before it: encode once more with the complete cache. */
    if (!(e->names_rebuilt && !rebuilt_before)) break;
  }
  if (e->w.stream != NULL) {
    stream_finish(e, restart);
    m = NULL;
  } else {
    m = enc_finish(e);
  }
  e->busy = 0;
  e->procmode = 0;
  e->segmin = 0;
  e->seglate = 0;
  enc_stream_off(e);
  if (pushed) lua_pop(L, 1);
  return m;
}


braid_msg *braid__encode_n(lua_State *L, int idx, int n,
                           const char *const *roots) {
  return encode_n_mode(L, idx, n, roots, 0, NULL, NULL);
}


braid_msg *braid__encode_proc(lua_State *L, int idx, int n,
                              const char *const *roots, int mode) {
  return encode_n_mode(L, idx, n, roots, mode, NULL, NULL);
}


braid_msg *braid__encode_streamed(lua_State *L, int idx, int n,
                                  const char *const *roots,
                                  int (*start)(void *, braid_stream *),
                                  void *ud) {
  return encode_n_mode(L, idx, n, roots, 0, start, ud);
}


braid_msg *braid__encode_streamed_proc(lua_State *L, int idx, int n,
                                       const char *const *roots, int mode,
                                       int (*start)(void *, braid_stream *),
                                       void *ud) {
  return encode_n_mode(L, idx, n, roots, mode, start, ud);
}


braid_msg *braid__encode(lua_State *L, int idx, const char *root) {
  return braid__encode_n(L, idx, 1, &root);
}


/* Elements of the small items written by small_item. */
#define SMALL_ITEM 4
/* Stack slots a batch keeps for small items written (dropped together). */
#define SMALL_ITEM_SLOTS 40

/* The offset of the table 'p' when it was written in this group, else
** SIZE_MAX. The last table found is remembered (a starmap's items name
** the same vector one after the other): an entry of 'seen' changes only
** when its offset is before the group (earlier_group), and 'group_at'
** never decreases, so a remembered offset in the group is still the
** entry's. */
static size_t in_group(Enc *e, const void *p) {
  braid_ptrent *pe;
  if (p == e->memo_p && e->memo_at >= e->group_at) return e->memo_at;
  pe = braid__ptrmap_find(&e->seen, p);
  if (pe == NULL || (size_t)braid__pe_val(pe) < e->group_at) return SIZE_MAX;
  e->memo_p = p;
  return e->memo_at = (size_t)braid__pe_val(pe);
}

/* The item at 'idx' (the top of the stack) when it is a small sequence whose
** elements are numbers, booleans, strings or tables already written in
** this group (a starmap's {vec, i}): writes it without a frame (the walk
** costs most of such an item) and returns the slots it leaves from 'idx'
** (the item and its n elements, for the caller to drop). Returns 0, having written
** nothing and recorded nothing, for anything else (a metatable, any key
** but 1..n, another element, a table met before: the walk then writes it,
** a REF for one met before). Its keys are proved to be 1..n by counting
** them with lua_next from nil to its end (n keys, at most SMALL_ITEM) and
** reading t[1..n] (none nil): the public API's one proof that there is no
** other key (next(t, #t) == nil is none: when #t lies in the hash part,
** keys in nodes before its own are never reached). Each element is read
** once (pushed, checked, then written from its slot: the caller made room
** for SMALL_ITEM + 2 slots; after a 0 only the item is left); the item's own entry
** in 'seen' is made by the one probe that also finds a table met before,
** once nothing else can fail, so that identity holds (the same item table
** twice in a group is a REF). */
static int small_item(Enc *e, int idx) {
  lua_State *L = e->L;
  const void *p = lua_topointer(L, idx);
  size_t at[SMALL_ITEM];
  unsigned char *o;
  int n, j, t, top = idx, nomem = 0, ty[SMALL_ITEM];
  braid_names *c = e->names;
  if (p == e->globals) return 0;
  if (lua_getmetatable(L, idx)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushnil(L);
  for (n = 0; lua_next(L, idx); n++) { /* how many keys */
    if (n == SMALL_ITEM) {
      lua_settop(L, top);
      return 0;
    }
    lua_pop(L, 1); /* the value: the key stays for the next lua_next */
  }
  if (n == 0) return 0; /* {} (lua_next popped the key) */
  for (j = 0; j < n; j++) { /* check everything before writing anything */
    t = ty[j] = lua_rawgeti(L, idx, (lua_Integer)j + 1);
    at[j] = SIZE_MAX;
    if (t == LUA_TTABLE ? (at[j] = in_group(e, lua_topointer(L, -1))) == SIZE_MAX
                        : (t != LUA_TNUMBER && t != LUA_TBOOLEAN &&
                           t != LUA_TSTRING)) { /* nil: a key is not 1..n */
      lua_settop(L, top);
      return 0;
    }
  }
  /* a module's table? (the name cache's filter tells most at once) */
  if ((c == NULL || !c->built || braidB_names_may_have(c, p)) &&
      put_byname(e, idx, p, 0))
    return 1 + n;
  if (braid__ptrmap_find_or_put(&e->seen, p, e->w.len, &nomem) != NULL) {
    lua_settop(L, top); /* met before: the walk writes the REF */
    return 0;
  }
  if (nomem) braidB_enc_nomem(e);
  /* room for the header and every REF or integer: one check; written
  ** through a local pointer (stores through e->w would reload it) */
  reserve(e, 2 + 1 + 4 + SMALL_ITEM * 11);
  o = e->w.buf + e->w.len;
  *o++ = T_TABLE;
  *o++ = 0;
  *o++ = (unsigned char)n; /* narr < 128: one byte */
  memset(o, 0, 4);         /* nhash */
  o += 4;
  for (j = 0; j < n; j++) {
    uint64_t u;
    if (at[j] != SIZE_MAX) {
      if (at[j] >= e->pub) e->w.buf[at[j] + 1] |= F_SHARED;
      else braidB_enc_mark_shared(e, at[j]);
      *o++ = T_REF;
      u = at[j];
    } else if (ty[j] == LUA_TNUMBER && lua_isinteger(L, top + 1 + j)) {
      lua_Integer v = lua_tointeger(L, top + 1 + j); /* a starmap's index */
      *o++ = T_INT;
      u = braid__wire_zigzag(v);
    } else {
      e->w.len = (size_t)(o - e->w.buf);
      (void)put_leaf(e, top + 1 + j); /* a string, a boolean, a float */
      reserve(e, SMALL_ITEM * 11);     /* room again for the rest */
      o = e->w.buf + e->w.len;
      continue;
    }
    while (u >= 0x80) {
      *o++ = (unsigned char)(u | 0x80);
      u >>= 7;
    }
    *o++ = (unsigned char)u;
  }
  e->w.len = (size_t)(o - e->w.buf);
  return 1 + n; /* the caller drops the item and its elements */
}


/* Items share references within each run of 'group' items counted from
** 'first' (0: items share nothing): the objects of an item met again in a
** later item of its group are written once, and the later item holds a
** T_REF to an offset before its own start. A reader that decodes the
** items of a group in order with one cache resolves them at no cost;
** one that starts past the first item resolves them from the bytes
** (ldecode.c, recall_earlier). Groups never straddle a chunk of a map
** job, so a chunk cut out for another process (its bytes only, from
** 'origin') is complete. */
static braid_msg *encode_batch_mode(lua_State *L, int tidx,
                                    lua_Integer first, lua_Integer n,
                                    const char *root, int mode,
                                    lua_Integer group) {
  Enc *e;
  const braid_rawtable *items;
  int pushed, t, itop, cur, used, reserved = 0;
  lua_Integer i, gleft;
  braid_msg *m;
  if (n < 1 || n > 0x7fffffff || first < 1 || first > LUA_MAXINTEGER - n)
    luaL_error(L, "bad batch size");
  tidx = lua_absindex(L, tidx);
  e = acquire_enc(L, root, &pushed);
  e->segmin = (mode & BRAID_ENC_SEGS) ? braid__seg_min(0, 0) : 0;
  e->seglate = (mode & BRAID_ENC_LATE) != 0;
  if (e->seglate) braid__seg_late_begin();
  e->procmode = mode & ~(BRAID_ENC_SEGS | BRAID_ENC_LATE | BRAID_ENC_CALLV);
  e->callv = group > 0 && (mode & BRAID_ENC_CALLV) != 0;
  if (e->offscap < (size_t)n) { /* kept by the encoder if an item raises */
    uint32_t *no = (uint32_t *)braid__realloc(e->offs,
                                              (size_t)n * sizeof(uint32_t));
    if (no == NULL) braidB_enc_nomem(e);
    e->offs = no;
    e->offscap = (size_t)n;
  }
  reserve(e, 16);
  put_byte(e, BRAID_WIRE_VERSION);
  put_varint(e, (uint64_t)n);
  if (group > 0 && !lua_checkstack(L, SMALL_ITEM_SLOTS + SMALL_ITEM + 4))
    enc_deep_nomem(e);
  itop = lua_gettop(L) + 1; /* where the first item is read */
  cur = itop - 1;           /* the stack's top (small items' slots above) */
  gleft = group; /* items left in this group (no division per item) */
  /* the items' table read raw (its array and size again for each item:
  ** an item written through the API may run Lua that resizes it) */
  items = e->raw && group > 0 && lua_type(L, tidx) == LUA_TTABLE
              ? (const braid_rawtable *)lua_topointer(L, tidx) : NULL;
  for (i = first; i < first + n; i++) {
    if (e->w.len > 0xffffffffu)
      braidB_enc_fail(e, "ValueError", "batch too large (over 4 GiB)");
    e->offs[i - first] = (uint32_t)e->w.len;
    if (group > 0 && gleft-- == 0) {
      gleft = group - 1;
      e->group_at = e->w.len; /* a new group names nothing before */
      if (e->group1_end == 0) e->group1_end = e->w.len;
    }
    if (items != NULL && reserved &&
        (lua_Unsigned)i - 1 < (lua_Unsigned)braid_raw_asize(items) &&
        items->array[i - 1].tag == BRAID_RT_TABLE &&
        braidB_enc_raw_plain(
            e, (const braid_rawtable *)items->array[i - 1].v.gc))
      continue; /* a plain item, from its slots with no API call */
    t = lua_rawgeti(L, tidx, i);
    if (t == LUA_TNUMBER && lua_isinteger(L, -1)) { /* the common item */
      lua_Integer v = lua_tointeger(L, -1);
      uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
      reserve(e, 11);
      e->w.buf[e->w.len++] = T_INT;
      while (u >= 0x80) {
        e->w.buf[e->w.len++] = (unsigned char)(u | 0x80);
        u >>= 7;
      }
      e->w.buf[e->w.len++] = (unsigned char)u;
      lua_pop(L, 1);
      continue;
    }
    if (t == LUA_TNUMBER || t == LUA_TBOOLEAN || t == LUA_TNIL) {
      /* cannot fail and share nothing: no path, no maps to clear */
      encode_value(e, lua_gettop(L));
      lua_pop(L, 1);
      continue;
    }
    if (t == LUA_TTABLE && group > 0 && !reserved) {
      /* an entry per item table: kept under a quarter full (ptrmap.h);
      ** at most 2^15 slots (512 KiB) reserved so, and only by a batch of
      ** tables (a map over numbers keeps its encoder's map small) */
      lua_Integer left = first + n - i;
      reserved = 1;
      if (braid__ptrmap_reserve(&e->seen,
                                (size_t)(left < 8192 ? left : 8192) + 16) !=
          BRAID_OK)
        braidB_enc_nomem(e);
    }
    if (t == LUA_TTABLE && group > 0 && e->raw &&
        braidB_enc_raw_plain(e, (const braid_rawtable *)lua_topointer(L, -1))) {
      lua_pop(L, 1); /* written from its slots (lencraw.c) */
      continue;
    }
    if (t == LUA_TTABLE && group > 0 && (used = small_item(e, cur + 1)) > 0) {
      /* its slots are dropped with the next ones' (a lua_settop costs
      ** about what the rest of a small item's own code does) */
      if ((cur += used) - itop >= SMALL_ITEM_SLOTS - SMALL_ITEM - 1) {
        lua_settop(L, itop - 1);
        cur = itop - 1;
      }
      continue;
    }
    lua_pushinteger(L, i); /* the key, for error paths */
    e->npath = 0;
    push_seg(e, SEG_KEY, lua_gettop(L), NULL);
    encode_value(e, lua_gettop(L) - 1);
    lua_pop(L, 2);
    if (group == 0) {
      braid__ptrmap_clear(&e->seen); /* items share nothing */
      e->memo_p = NULL; /* nor does the raw walk's memo (lencraw.c) */
      braid__ptrmap_clear(&e->strs);
    }
  }
  lua_settop(L, itop - 1); /* small items' slots */
  e->npath = 0;
  e->group_at = 0;
  m = enc_finish(e);
  if (e->call_hi != 0) { /* chunks name values of the call (T_CALLV) */
    m->call_lo = (uint32_t)e->call_lo;
    m->call_hi = (uint32_t)e->call_hi;
    m->calluid = braidB_enc_calluid();
  }
  e->callv = 0;
  m->nitems = (uint32_t)n;
  m->offs = e->offs; /* the message takes the offsets */
  e->offs = NULL;
  e->offscap = 0;
  atomic_store_explicit(&m->pending, (unsigned)n, memory_order_relaxed);
  e->busy = 0;
  e->procmode = 0;
  e->segmin = 0;
  e->seglate = 0;
  if (pushed) lua_pop(L, 1);
  return m;
}


braid_msg *braid__encode_batch(lua_State *L, int tidx, lua_Integer n,
                               const char *root) {
  return encode_batch_mode(L, tidx, 1, n, root, 0, 0);
}


braid_msg *braid__encode_batch_range(lua_State *L, int tidx,
                                     lua_Integer first, lua_Integer n,
                                     const char *root) {
  return encode_batch_mode(L, tidx, first, n, root, 0, 0);
}


braid_msg *braid__encode_batch_range_proc(lua_State *L, int tidx,
                                          lua_Integer first, lua_Integer n,
                                          const char *root, int mode) {
  return encode_batch_mode(L, tidx, first, n, root, mode, 0);
}


braid_msg *braid__encode_batch_shared(lua_State *L, int tidx,
                                      lua_Integer first, lua_Integer n,
                                      const char *root, int mode,
                                      lua_Integer group) {
  if (group < 0) luaL_error(L, "bad batch group");
  return encode_batch_mode(L, tidx, first, n, root, mode, group);
}
/* }====================================================== */



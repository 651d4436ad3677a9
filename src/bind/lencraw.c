/*
** lencraw.c: the encoder's raw walk: a table's entries read from its
** array part and nodes directly (lrawtab.h) instead of through lua_next,
** lua_type, lua_tolstring... (several API calls per value, most of an
** encode's time), when the self-check allowed it (lrawtab.c).
** See LICENSE for copyright and license.
**
** It writes exactly the bytes of the API walk (table_step, lencode.c):
** lua_next visits the array part in order, then the nodes in node order,
** skipping empty slots, and so does this walk; leaves are written from
** the slots (a string through braidB_enc_put_str with the address
** lua_tolstring would give, so REFs to strings are the same). Two kinds of
** work stay with the API:
**   - a value that is no leaf and no plain table (below): its key and
**     value are pushed in the frame's slots and table_step writes it as a
**     child (error paths are read from the same slots);
**   - the rest of a table once a slot holds a key that is no leaf (a
**     table as key): lua_next goes on from the key visited before it.
** No pointer into a table, nor its sizes, is kept across an API call that
** may allocate or run Lua (a GC step may run a __gc finalizer; writing a
** child runs __braidreduce): after a child the table is read again, and
** the walk goes on from its slot only if the child's key is still in that
** slot (else lua_next finds it, as table_step would have). A table changed
** under the walk then sends what lua_next would have seen.
**
** A plain table met as a value (no metatable, not _G nor a module's
** table, leaf keys, at most PLAIN_ENTRIES entries, values leaves, plain
** tables PLAIN_DEPTH deep or tables already written) is written whole
** from its slots with no API call and no frame: the records of a big
** table, a starmap's {vec, i}. A check pass over its slots decides it
** before anything is written, so nothing is ever undone. Nothing is
** published inside it (it is small), so its counts are always exact.
*/
#include <string.h>

#include "lbind.h"
#include "lencode.h"

/* What a plain table may hold (see above); a check reads at most
** PLAIN_BUDGET slots, nested tables included. */
#define PLAIN_ENTRIES 64
#define PLAIN_SLOTS 128
#define PLAIN_DEPTH 4
#define PLAIN_BUDGET 1024


static int leafkey(unsigned char tag) {
  switch (tag) {
    case BRAID_RT_INT: case BRAID_RT_FLT: case BRAID_RT_TRUE:
    case BRAID_RT_FALSE: case BRAID_RT_SHRSTR: case BRAID_RT_LNGSTR:
      return 1;
    default: return 0;
  }
}


/* Writes a boolean, number or string (put_leaf's bytes) and returns 0;
** returns the Lua type of anything else (not written). */
static inline int put_rawleaf(Enc *e, unsigned char tag,
                              const braid_rawval *v) {
  switch (tag) {
    case BRAID_RT_INT: put_int(e, v->i); return 0;
    case BRAID_RT_FLT: put_float(e, v->n); return 0;
    case BRAID_RT_TRUE: put_byte(e, T_TRUE); return 0;
    case BRAID_RT_FALSE: put_byte(e, T_FALSE); return 0;
    case BRAID_RT_SHRSTR: case BRAID_RT_LNGSTR:
      braidB_enc_put_str(e, braid_raw_str(v->gc),
                         braid_raw_strlen(v->gc, tag));
      return 0;
    default: return tag & 0x0f;
  }
}


/* The border lua_rawlen would give for 't', when it is read without
** changing the table (lua_rawlen may move the array's limit): the array's
** limit is its real size and either 0 or its last slot is full, and no
** node holds the key that follows. Returns 0 otherwise. */
static int plain_border(const braid_rawtable *t, unsigned int asize,
                        size_t nsize, lua_Unsigned *n) {
  size_t j;
  if (t->alimit != asize || (asize > 0 && braid_rt_isempty(t->array[asize - 1].tag)))
    return 0;
  if (t->lastfree != NULL) /* not the shared empty node */
    for (j = 0; j < nsize; j++)
      if (t->node[j].ktag == BRAID_RT_INT &&
          t->node[j].k.i == (lua_Integer)asize + 1 &&
          !braid_rt_isempty(t->node[j].tag))
        return 0;
  *n = asize;
  return 1;
}


/* Whether 't' can be written by plain_write: a table written before in
** this group (a REF), or plain (see the top of the file): 1 if so, -1 if
** not because it nests deeper than 'depth', 0 for any other reason. */
static int plain_check(Enc *e, const braid_rawtable *t, int depth,
                       int *budget) {
  braid_ptrent *pe;
  unsigned int asize;
  size_t nsize, pos, total;
  lua_Unsigned narr;
  int count = 0;
  if ((const void *)t == e->globals || braidB_names_may_have(e->names, t))
    return 0; /* T_GLOBALS, maybe by name: the API walk says */
  if ((const void *)t == e->memo_p && e->memo_at >= e->group_at)
    return 1; /* a starmap's vector again (see in_group, lencode.c) */
  if ((pe = braid__ptrmap_find(&e->seen, t)) != NULL) {
    size_t at = (size_t)braid__pe_val(pe);
    if (at < e->group_at) return 0; /* an earlier group's: lencgroup.c */
    e->memo_p = t;
    e->memo_at = at;
    return 1;
  }
  if (t->mt != NULL) return 0;
  if (depth == 0) return -1;
  asize = braid_raw_asize(t);
  nsize = braid_raw_nsize(t);
  total = asize + nsize;
  if (total > PLAIN_SLOTS || (*budget -= (int)total) < 0 ||
      !plain_border(t, asize, nsize, &narr))
    return 0;
  for (pos = 0; pos < total; pos++) {
    unsigned char tag;
    const braid_rawval *v;
    if (pos < asize) {
      tag = t->array[pos].tag;
      v = &t->array[pos].v;
    } else {
      const braid_rawnode *n = &t->node[pos - asize];
      tag = n->tag;
      v = &n->v;
      if (!braid_rt_isempty(tag) && !leafkey(n->ktag)) return 0;
    }
    if (braid_rt_isempty(tag)) continue;
    if (++count > PLAIN_ENTRIES) return 0;
    if (tag == BRAID_RT_TABLE) {
      int r = plain_check(e, (const braid_rawtable *)v->gc, depth - 1, budget);
      if (r <= 0) return r;
    } else if (!leafkey(tag)) {
      return 0;
    }
  }
  return 1;
}


/* Writes 't' (plain_check said yes; nothing has changed since) as
** open_table and table_step would: the same header, sections and REFs. */
static void plain_write(Enc *e, const braid_rawtable *t) {
  braid_ptrent *pe;
  unsigned int asize = braid_raw_asize(t);
  size_t nsize = braid_raw_nsize(t), pos, total = asize + nsize, hdr;
  lua_Unsigned narr = 0, m = 0;
  uint32_t nhash = 0;
  int nomem = 0, w, inarr, open = e->open_tables;
  if ((const void *)t == e->memo_p && e->memo_at >= e->group_at) {
    braidB_enc_mark_shared(e, e->memo_at);
    put_ref(e, e->memo_at);
    return;
  }
  pe = braid__ptrmap_find_or_put(&e->seen, t, e->w.len, &nomem);
  if (pe != NULL) { /* in this group (plain_check) */
    size_t at = (size_t)braid__pe_val(pe);
    braidB_enc_mark_shared(e, at);
    put_ref(e, at);
    return;
  }
  if (nomem) braidB_enc_nomem(e);
  (void)plain_border(t, asize, nsize, &narr);
  w = braid__wire_varint_len(narr);
  reserve(e, 2 + (size_t)w + 4 + 1);
  hdr = e->w.len;
  e->w.buf[e->w.len++] = T_TABLE;
  e->w.buf[e->w.len++] = (unsigned char)(open ? F_OPEN : 0);
  e->w.len += (size_t)w + 4;
  inarr = narr > 0;
  if (open && !inarr) e->w.buf[e->w.len++] = T_END;
  for (pos = 0; pos < total; pos++) {
    unsigned char tag, ktag;
    const braid_rawval *v;
    braid_rawval kv;
    if (pos < asize) {
      tag = t->array[pos].tag;
      v = &t->array[pos].v;
      ktag = BRAID_RT_INT;
      kv.i = (lua_Integer)pos + 1;
    } else {
      const braid_rawnode *n = &t->node[pos - asize];
      tag = n->tag;
      v = &n->v;
      ktag = n->ktag;
      kv = n->k;
    }
    if (braid_rt_isempty(tag)) continue;
    if (inarr) {
      if (ktag == BRAID_RT_INT && kv.i > (lua_Integer)m &&
          (lua_Unsigned)kv.i <= narr && (lua_Unsigned)kv.i - m <= MAX_GAP) {
        while (++m < (lua_Unsigned)kv.i) put_byte(e, T_NIL);
        if (tag == BRAID_RT_TABLE) plain_write(e, (const braid_rawtable *)v->gc);
        else (void)put_rawleaf(e, tag, v);
        continue;
      }
      inarr = 0;
      if (open) put_byte(e, T_END);
    }
    nhash++;
    (void)put_rawleaf(e, ktag, &kv);
    if (tag == BRAID_RT_TABLE) plain_write(e, (const braid_rawtable *)v->gc);
    else (void)put_rawleaf(e, tag, v);
  }
  if (open) {
    if (inarr) put_byte(e, T_END);
    put_byte(e, T_END);
  }
  put_padded_at(e, hdr + 2, w, m);
  put_u32_at(e, hdr + 2 + (size_t)w, nhash);
}


/* Elements of the sequences that small_seq writes. */
#define SMALL_SEQ 4

/* The common plain table in one pass (a starmap's {vec, i}): a sequence
** of 1..SMALL_SEQ elements in its array part (full, its size real), no
** hash part, each element a leaf or the table last found written in this
** group (the memo). The same bytes as plain_write; the checks are made
** on the tags before anything is written, and its pointer-map entry made
** by the probe that would find it written before. Returns 0 (nothing
** written or recorded) for anything else. */
static int small_seq(Enc *e, const braid_rawtable *t) {
  unsigned int n = t->alimit, j;
  unsigned char *o;
  int nomem = 0, open = e->open_tables;
  if (n - 1 >= SMALL_SEQ || t->lastfree != NULL || t->mt != NULL ||
      braid_raw_asize(t) != n || (const void *)t == e->globals ||
      braidB_names_may_have(e->names, t))
    return 0;
  for (j = 0; j < n; j++) {
    unsigned char tag = t->array[j].tag;
    if (tag == BRAID_RT_TABLE
            ? t->array[j].v.gc != e->memo_p || e->memo_at < e->group_at
            : !leafkey(tag)) /* the leaves (no nil: a full array) */
      return 0;
  }
  if (braid__ptrmap_find_or_put(&e->seen, t, e->w.len, &nomem) != NULL)
    return 0; /* met before: plain_write writes the REF, or the API walk */
  if (nomem) braidB_enc_nomem(e);
  reserve(e, 2 + 1 + 4 + 2);
  o = e->w.buf + e->w.len;
  *o++ = T_TABLE;
  *o++ = (unsigned char)(open ? F_OPEN : 0);
  *o++ = (unsigned char)n; /* narr < 128: one byte */
  memset(o, 0, 4);         /* nhash */
  e->w.len += 7;
  for (j = 0; j < n; j++) {
    const braid_rawtv *v = &t->array[j];
    if (v->tag == BRAID_RT_TABLE) {
      braidB_enc_mark_shared(e, e->memo_at);
      put_ref(e, e->memo_at);
    } else {
      (void)put_rawleaf(e, v->tag, &v->v);
    }
  }
  if (open) { /* the array section's end, the hash section's */
    put_byte(e, T_END);
    put_byte(e, T_END);
  }
  return 1;
}


int braidB_enc_raw_plain(Enc *e, const braid_rawtable *t) {
  int budget = PLAIN_BUDGET, r;
  if (e->names == NULL || !e->names->built) return 0;
  if (e->nframes > e->deep_lo && e->nframes <= e->deep_hi)
    return 0; /* in a subtree found too deep: frames write it (Enc) */
  if (small_seq(e, t)) return 1;
  r = plain_check(e, t, PLAIN_DEPTH, &budget);
  if (r <= 0) {
    if (r < 0) { /* a chain: its next levels are not checked again */
      e->deep_lo = e->nframes;
      e->deep_hi = e->nframes + PLAIN_DEPTH - 1;
    }
    return 0;
  }
  plain_write(e, t);
  return 1;
}


/* Pushes the leaf key of tag 'tag' (leafkey). */
static void push_rawkey(lua_State *L, unsigned char tag,
                        const braid_rawval *k) {
  switch (tag) {
    case BRAID_RT_INT: lua_pushinteger(L, k->i); break;
    case BRAID_RT_FLT: lua_pushnumber(L, k->n); break;
    case BRAID_RT_TRUE: case BRAID_RT_FALSE:
      lua_pushboolean(L, tag == BRAID_RT_TRUE);
      break;
    default:
      lua_pushlstring(L, braid_raw_str(k->gc), braid_raw_strlen(k->gc, tag));
      break;
  }
}


/* Prefetching ahead of a walk over an array of tables (100,000 records):
** each element's header, its slot in the pointer map, its parts and
** what its nodes point to are cache misses taken one after another, as
** each needs the one before. So at element p, the header and map slot
** of element p + RAW_AHEAD_FAR are fetched, the parts of element p +
** RAW_AHEAD_MID (its header is in cache by then), and the objects its
** slots hold for element p + RAW_AHEAD_NEAR (a record's name and vals).
** A hint: it reads only slots of the array being walked and of tables
** they hold (valid until the walk's next API call, as the walk's own
** reads), and writes nothing. 100k records: 14.0 -> 13.3 ms (medians
** of 25, bench/README.md "Encoding ahead"). */
#define RAW_AHEAD_FAR 12
#define RAW_AHEAD_MID 6
#define RAW_AHEAD_NEAR 2

static void raw_ahead(Enc *e, const braid_rawtv *arr, size_t p) {
  const braid_rawtable *t;
  size_t j, n;
  if (arr[p + RAW_AHEAD_FAR].tag == BRAID_RT_TABLE) {
    t = (const braid_rawtable *)arr[p + RAW_AHEAD_FAR].v.gc;
    __builtin_prefetch(t);
    braid__ptrmap_prefetch(&e->seen, t);
  }
  if (arr[p + RAW_AHEAD_MID].tag == BRAID_RT_TABLE) {
    t = (const braid_rawtable *)arr[p + RAW_AHEAD_MID].v.gc;
    if (t->lastfree != NULL) __builtin_prefetch(t->node);
    if (t->alimit != 0) __builtin_prefetch(t->array);
  }
  if (arr[p + RAW_AHEAD_NEAR].tag == BRAID_RT_TABLE) {
    t = (const braid_rawtable *)arr[p + RAW_AHEAD_NEAR].v.gc;
    if (t->lastfree != NULL) {
      n = braid_raw_nsize(t);
      for (j = 0; j < n && j < 4; j++)
        if (t->node[j].tag & BRAID_RT_COLLECTABLE) {
          __builtin_prefetch(t->node[j].v.gc);
          if (t->node[j].tag == BRAID_RT_TABLE)
            braid__ptrmap_prefetch(&e->seen, t->node[j].v.gc);
        }
    }
  }
}


/* An array of at least RAW_RESERVE_MIN slots whose first is a table:
** the map of tables seen is reserved for as many more entries at once (at
** most a quarter full, ptrmap.h) instead of doubling its way there. A
** fresh encoder (a new process's first big send) made the 100k-record
** table's map through eleven doublings, 16 MiB of fresh pages for an
** 8 MiB map, rehashing 200,000 entries on the way. Already big enough
** (an encoder that sent such a value before): nothing. Best effort: a
** failure leaves the map as it was, to grow as it goes.
**
** The count is the elements (the border), not the array part's slots:
** Lua sizes an array part to a power of two, so 100,000 records have
** 131,072 slots, and 131,072 entries plus the ones already in the map
** passed a quarter of 512K slots: the map was reserved at 16 MiB where
** 8 MiB holds the 200,000 tables at 38% (the put's own limit is half).
** The encode of a warm map is the same either way (12-15 ms), but in a
** fresh process every page of the map is fresh memory, on this VM often
** memory the host must back again: a fresh child's first core.dumps of
** the records took 21-46 ms with the 16 MiB map, 15-22 with the 8 MiB
** one (bench/README.md). */
#define RAW_RESERVE_MIN 4096

/* How many entries an array of 'asize' slots and border 'narr' adds. */
static size_t raw_count(lua_Unsigned narr, size_t asize) {
  return narr < (lua_Unsigned)asize ? (size_t)narr : asize;
}


int braidB_enc_raw_step(Enc *e, Frame *f) {
  lua_State *L = e->L;
  const braid_rawtable *t = (const braid_rawtable *)lua_topointer(L, f->idx);
  const braid_rawtv *arr;
  const braid_rawnode *node;
  lua_Unsigned m = f->m, narr = f->narr;
  uint32_t nhash = f->nhash;
  int inarr = f->inarr, open = f->open;
  size_t pos = f->pos, asize, total, p = 0;
  size_t prev = SIZE_MAX; /* the last slot visited; SIZE_MAX: the key at k */
  unsigned char tag, ktag = 0;
  const braid_rawval *v;
  braid_rawval kv;
  kv.i = 0;
  if (f->rawchk) { /* after a child: is its key still in its slot? */
    size_t c = pos - 1;
    f->rawchk = 0;
    asize = braid_raw_asize(t);
    if (c < asize ? !(f->ktag == BRAID_RT_INT &&
                      f->kval.i == (lua_Integer)c + 1)
                  : (c - asize >= braid_raw_nsize(t) ||
                     t->node[c - asize].ktag != f->ktag ||
                     memcmp(&t->node[c - asize].k, &f->kval,
                            sizeof f->kval) != 0)) {
      f->raw = 0;
      return RAW_API; /* lua_next finds it, or raises as table_step would */
    }
  }
reload:
  asize = braid_raw_asize(t);
  arr = t->array;
  node = t->node;
  total = asize + braid_raw_nsize(t);
  if (pos == 0 && asize >= RAW_RESERVE_MIN && arr[0].tag == BRAID_RT_TABLE)
    (void)braid__ptrmap_reserve(&e->seen,
                                e->seen.used + raw_count(narr, asize));
  while (pos < total) {
    p = pos++;
    if (p < asize) {
      tag = arr[p].tag;
      if (braid_rt_isempty(tag)) continue;
      if (tag == BRAID_RT_TABLE && p + RAW_AHEAD_FAR < asize)
        raw_ahead(e, arr, p); /* an array of leaves costs one compare */
      v = &arr[p].v;
      ktag = BRAID_RT_INT;
      kv.i = (lua_Integer)p + 1;
    } else {
      const braid_rawnode *n = &node[p - asize];
      tag = n->tag;
      if (braid_rt_isempty(tag)) continue;
      v = &n->v;
      ktag = n->ktag;
      kv = n->k;
      if (braid__unlikely(!leafkey(ktag))) goto api;
    }
    if (inarr) {
      if (ktag == BRAID_RT_INT && kv.i > (lua_Integer)m &&
          (lua_Unsigned)kv.i <= narr && (lua_Unsigned)kv.i - m <= MAX_GAP) {
        while (++m < (lua_Unsigned)kv.i) put_byte(e, T_NIL);
        if (tag == BRAID_RT_TABLE
                ? !braidB_enc_raw_plain(e, (const braid_rawtable *)v->gc)
                : put_rawleaf(e, tag, v) != 0)
          goto child;
        goto next;
      }
      inarr = 0;
      if (open) put_byte(e, T_END);
    }
    nhash++;
    (void)put_rawleaf(e, ktag, &kv);
    if (tag == BRAID_RT_TABLE
            ? !braidB_enc_raw_plain(e, (const braid_rawtable *)v->gc)
            : put_rawleaf(e, tag, v) != 0)
      goto child;
  next:
    prev = p;
    if (braid__unlikely(e->w.len >= e->pub_next)) {
      braidB_enc_publish(e);
      goto reload; /* read the table again (bounds checked by the loop) */
    }
  }
  f->pos = pos;
  f->m = m;
  f->nhash = nhash;
  f->inarr = (unsigned char)inarr;
  lua_settop(L, f->k - 1); /* the key slot, as lua_next's end pops it */
  return RAW_DONE;
child: /* slot p's value goes through the API, key at k, value at k + 1 */
  f->pos = pos;
  f->m = m;
  f->nhash = nhash;
  f->inarr = (unsigned char)inarr;
  f->rawchk = 1;
  f->ktag = ktag;
  f->kval = kv;
  lua_settop(L, f->k - 1);
  if (p < asize) {
    lua_pushinteger(L, kv.i);
    lua_rawgeti(L, f->idx, kv.i);
  } else {
    push_rawkey(L, ktag, &kv);
    lua_pushvalue(L, -1);
    lua_rawget(L, f->idx); /* what it is now (the push may have run a GC) */
  }
  return RAW_VALUE;
api: /* slot p's key is no leaf: lua_next goes on from the key before */
  f->pos = p;
  f->m = m;
  f->nhash = nhash;
  f->inarr = (unsigned char)inarr;
  f->raw = 0;
  if (prev != SIZE_MAX) {
    lua_settop(L, f->k - 1);
    if (prev < asize) {
      lua_pushinteger(L, (lua_Integer)prev + 1);
    } else {
      const braid_rawnode *n = &node[prev - asize];
      braid_rawval pk = n->k;
      push_rawkey(L, n->ktag, &pk);
    }
  }
  return RAW_API;
}

/*
** order.c: ordering of encoded items (PriorityQueue), without Lua.
** See LICENSE for copyright and license.
*/
#include <string.h>

#include "order.h"
#include "wire.h"

/*
** {======================================================
** Ordering of encoded values (PriorityQueue)
** =======================================================
** Python orders numbers numerically, strings by code point (bytewise for
** UTF-8), and sequences element by element; anything else, or two values
** of different kinds, cannot be ordered. Tables with fields besides their
** sequence are Python dicts: not orderable. Comparing encoded messages
** needs no Lua state, so a queue can order its items under its own lock.
*/

typedef struct Cur {
  const unsigned char *base, *p, *end;
} Cur;

/* Kinds of value for ordering; K_OTHER and up cannot be ordered. */
enum { K_BAD, K_NUM, K_STR, K_SEQ, K_OTHER, K_NIL, K_DICT, K_FUNC, K_UDATA };

static const char *const kind_names[] = { "corrupt", "number", "string",
                                          "table", "value", "nil", "table",
                                          "function", "userdata" };

static int cur_varint(Cur *c, uint64_t *v) {
  int shift = 0;
  *v = 0;
  while (c->p < c->end && shift <= 63) {
    unsigned char b = *c->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 1;
    shift += 7;
  }
  return 0;
}


static int cur_skip_string(Cur *c) {
  uint64_t n;
  if (c->p >= c->end || *c->p++ != T_STR || !cur_varint(c, &n) ||
      n > (uint64_t)(c->end - c->p))
    return 0;
  c->p += n;
  return 1;
}


/* What cur_skip still has to step over inside one open value: 'left'
** values (then the metatable if 'meta'), the values of an F_OPEN table's
** two sections (each ended by T_END), or 'left' upvalues. */
enum { SK_VALUES, SK_OPEN, SK_UPVALS };

typedef struct SkipFrame {
  unsigned char kind, meta, sec;
  uint64_t left;
} SkipFrame;

#define SKIP_LOCAL 32

/* Steps over one value, without recursing (values may be nested as deep
** as memory allows): an explicit stack of what the open values still
** hold, on the C stack up to SKIP_LOCAL levels, then on the heap.
** Returns 0 for corrupt data (or no memory for the stack). */
static int cur_skip(Cur *c) {
  SkipFrame local[SKIP_LOCAL], *st = local, *f;
  size_t n = 1, cap = SKIP_LOCAL;
  int ok = 0;
  st[0].kind = SK_VALUES;
  st[0].meta = 0;
  st[0].left = 1;
  while (n > 0) {
    uint64_t v, nh64;
    unsigned char tag;
    f = &st[n - 1];
    if (f->kind == SK_OPEN) {
      if (c->p >= c->end) goto done;
      if (*c->p == T_END) {
        c->p++;
        if (++f->sec == 2) { /* then the metatable, if any */
          f->kind = SK_VALUES;
          f->left = f->meta;
          f->meta = 0;
        }
        continue;
      }
    } else if (f->left == 0) {
      if (f->kind == SK_VALUES && f->meta) {
        f->meta = 0;
        f->left = 1;
        continue;
      }
      n--;
      continue;
    } else {
      f->left--;
      if (f->kind == SK_UPVALS) {
        unsigned char kind;
        if (c->p >= c->end) goto done;
        kind = *c->p++;
        if (kind == UPV_JOIN) {
          if (!cur_varint(c, &v) || c->p >= c->end) goto done;
          c->p++;
          continue;
        }
        if (kind == UPV_ENV) continue;
        if (kind != UPV_VAL) goto done;
      }
    }
    /* one value */
    if (c->p >= c->end) goto done;
    tag = *c->p++;
    switch (tag) {
      case T_NIL: case T_FALSE: case T_TRUE: case T_GLOBALS: continue;
      case T_INT: case T_REF: case T_HANDLE:
        if (!cur_varint(c, &v)) goto done;
        continue;
      case T_FLOAT:
        if (c->end - c->p < 8) goto done;
        c->p += 8;
        continue;
      case T_STR:
      case T_STRS:
        if (!cur_varint(c, &v) || v > (uint64_t)(c->end - c->p)) goto done;
        c->p += v;
        continue;
      case T_CLASS:
        if (!cur_skip_string(c)) goto done;
        continue;
      case T_BYNAME:
        if (!cur_skip_string(c) || !cur_skip_string(c)) goto done;
        continue;
      default: break;
    }
    if (n == cap) { /* a new level needs room */
      SkipFrame *ns;
      if (cap > SIZE_MAX / 2 / sizeof(SkipFrame)) goto done;
      ns = (SkipFrame *)braid__malloc(2 * cap * sizeof(SkipFrame));
      if (ns == NULL) goto done;
      memcpy(ns, st, n * sizeof(SkipFrame));
      if (st != local) braid__free(st);
      st = ns;
      cap *= 2;
    }
    f = &st[n];
    f->meta = 0;
    f->sec = 0;
    f->kind = SK_VALUES;
    switch (tag) {
      case T_TABLE: {
        unsigned char flags;
        uint32_t nh;
        if (c->p >= c->end) goto done;
        flags = *c->p++;
        if (!cur_varint(c, &v) || c->end - c->p < 4) goto done;
        memcpy(&nh, c->p, 4);
        c->p += 4;
        nh64 = nh;
        f->meta = (flags & F_META) != 0;
        if (flags & F_OPEN) {
          f->kind = SK_OPEN;
        } else {
          /* every value takes a byte: larger counts are corrupt (and
          ** cannot overflow 'left') */
          if (v > (uint64_t)(c->end - c->p) ||
              nh64 > (uint64_t)(c->end - c->p))
            goto done;
          f->left = v + 2 * nh64;
        }
        break;
      }
      case T_LFUNC: {
        uint32_t len;
        if (c->end - c->p < 5) goto done;
        c->p++;
        memcpy(&len, c->p, 4);
        c->p += 4;
        if (len > (uint64_t)(c->end - c->p)) goto done;
        c->p += len;
        if (c->p >= c->end) goto done;
        f->kind = SK_UPVALS;
        f->left = *c->p++;
        break;
      }
      case T_REDUCE:
        if (c->p >= c->end) goto done;
        c->p++;
        if (!cur_varint(c, &v) || v > 250) goto done;
        f->left = v + 1; /* the constructor and the arguments */
        break;
      default: goto done;
    }
    n++;
  }
  ok = 1;
done:
  if (st != local) braid__free(st);
  return ok;
}


/* Classifies the value at the cursor (following REFs) without moving
** past it; for K_SEQ leaves 'seq' at its first element and sets '*len',
** for K_STR at the string's tag. */
static int cur_kind(Cur *c, Cur *seq, uint64_t *len) {
  Cur t = *c;
  unsigned char tag;
  int hops = 0;
  for (;;) {
    if (t.p >= t.end) return K_BAD;
    tag = *t.p;
    if (tag != T_REF) break;
    {
      uint64_t at;
      t.p++;
      if (!cur_varint(&t, &at) || at >= (uint64_t)(t.end - t.base) ||
          ++hops > 64)
        return K_BAD;
      t.p = t.base + at;
    }
  }
  switch (tag) {
    case T_FALSE: case T_TRUE: case T_INT: case T_FLOAT: return K_NUM;
    case T_STR: case T_STRS: /* possibly behind a REF */
      *seq = t;
      return K_STR;
    case T_TABLE: {
      uint32_t nh;
      uint64_t n;
      /* F_OPEN tables (streamed thread starts) never reach a queue */
      if (t.end - t.p < 2 || (t.p[1] & F_OPEN)) return K_BAD;
      t.p += 2;
      if (t.p > t.end || !cur_varint(&t, &n) || t.end - t.p < 4)
        return K_BAD;
      memcpy(&nh, t.p, 4);
      t.p += 4;
      if (nh != 0) return K_DICT;
      *seq = t;
      *len = n;
      return K_SEQ;
    }
    case T_NIL: return K_NIL;
    case T_LFUNC: return K_FUNC;
    case T_HANDLE: case T_REDUCE: return K_UDATA;
    case T_BYNAME: return K_FUNC;
    default: return tag < T_LAST ? K_OTHER : K_BAD;
  }
}


/* Reads a number at the cursor (a REF never points at one: only at
** tables, functions, reduced objects and strings). */
static int cur_number(Cur *c, int *isint, int64_t *i, double *d) {
  unsigned char tag = *c->p;
  Cur t = *c;
  t.p++;
  *isint = 1;
  if (tag == T_FALSE || tag == T_TRUE) {
    *i = tag == T_TRUE;
    return 1;
  }
  if (tag == T_INT) {
    uint64_t u;
    if (!cur_varint(&t, &u)) return 0;
    *i = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return 1;
  }
  if (t.end - t.p < 8) return 0;
  memcpy(d, t.p, 8);
  *isint = 0;
  return 1;
}


static int cmp_numbers(Cur *a, Cur *b, int *cmp) {
  int ia, ib;
  int64_t xa = 0, xb = 0;
  double da = 0, db = 0;
  if (!cur_number(a, &ia, &xa, &da) || !cur_number(b, &ib, &xb, &db))
    return 0;
  if (ia && ib) {
    *cmp = (xa > xb) - (xa < xb);
  } else {
    /* long double holds every int64 exactly on the platforms we build */
    long double la = ia ? (long double)xa : (long double)da;
    long double lb = ib ? (long double)xb : (long double)db;
    *cmp = (la > lb) - (la < lb); /* NaN: neither less nor greater */
  }
  return 1;
}


static int cmp_strings(Cur *a, Cur *b, int *cmp) {
  Cur x = *a, y = *b;
  uint64_t na, nb;
  int r;
  x.p++;
  y.p++;
  if (!cur_varint(&x, &na) || !cur_varint(&y, &nb) ||
      na > (uint64_t)(x.end - x.p) || nb > (uint64_t)(y.end - y.p))
    return 0;
  r = memcmp(x.p, y.p, (size_t)(na < nb ? na : nb));
  *cmp = r != 0 ? (r > 0) - (r < 0) : (na > nb) - (na < nb);
  return 1;
}


/* Steps 'c' over a sequence element that compared equal, whose own
** elements the comparison walked up to 'end': a table in place is done
** there (and its metatable skipped), anything else (a REF) is stepped
** over. So equal nested sequences cost their size once, not once per
** level they are nested in. */
static int skip_past(Cur *c, const Cur *end) {
  unsigned char flags;
  if (c->end - c->p < 2 || *c->p != T_TABLE) return cur_skip(c);
  flags = c->p[1];
  c->p = end->p;
  return !(flags & F_META) || cur_skip(c);
}


/* A sequence being compared: the cursors at element i of each. */
typedef struct CmpFrame {
  Cur sa, sb;
  uint64_t la, lb, i;
} CmpFrame;

#define CMP_LOCAL 16

/* 1: compared ('*cmp' is -1, 0 or 1); 0: corrupt; -1: not orderable, with
** the kinds of the offending pair in '*ka', '*kb'. Sequences are compared
** element by element, without recursing: an explicit stack of the
** sequences entered (C stack up to CMP_LOCAL levels, then the heap). */
static int cmp_values(Cur *a, Cur *b, int *cmp, int *ka, int *kb) {
  CmpFrame local[CMP_LOCAL], *st = local;
  size_t n = 0, cap = CMP_LOCAL;
  Cur x = *a, y = *b, ea, eb;
  int r = 0, popped;
  for (;;) {
    Cur sx, sy;
    uint64_t lx = 0, ly = 0;
    int kx = cur_kind(&x, &sx, &lx), ky = cur_kind(&y, &sy, &ly);
    if (kx == K_BAD || ky == K_BAD) goto done;
    if (kx != ky || kx >= K_OTHER) {
      *ka = kx;
      *kb = ky;
      r = -1;
      goto done;
    }
    if (kx == K_NUM) {
      if (!cmp_numbers(&x, &y, cmp)) goto done;
    } else if (kx == K_STR) {
      if (!cmp_strings(&sx, &sy, cmp)) goto done;
    } else if (lx == 0 || ly == 0) {
      *cmp = (lx > ly) - (lx < ly);
    } else { /* enter both sequences */
      if (n == cap) {
        CmpFrame *ns;
        if (cap > SIZE_MAX / 2 / sizeof(CmpFrame)) goto done;
        ns = (CmpFrame *)braid__malloc(2 * cap * sizeof(CmpFrame));
        if (ns == NULL) goto done;
        memcpy(ns, st, n * sizeof(CmpFrame));
        if (st != local) braid__free(st);
        st = ns;
        cap *= 2;
      }
      st[n].sa = x = sx;
      st[n].sb = y = sy;
      st[n].la = lx;
      st[n].lb = ly;
      st[n].i = 0;
      n++;
      continue;
    }
    /* the pair compared: equal elements go on to the next pair */
    popped = 0;
    while (*cmp == 0 && n > 0) {
      CmpFrame *f = &st[n - 1];
      if (popped ? !skip_past(&f->sa, &ea) || !skip_past(&f->sb, &eb)
                 : !cur_skip(&f->sa) || !cur_skip(&f->sb))
        goto done;
      if (++f->i < (f->la < f->lb ? f->la : f->lb)) {
        x = f->sa;
        y = f->sb;
        break;
      }
      *cmp = (f->la > f->lb) - (f->la < f->lb);
      ea = f->sa; /* past its elements when they were all equal */
      eb = f->sb;
      popped = 1;
      n--;
    }
    if (*cmp != 0 || n == 0) {
      r = 1;
      goto done;
    }
  }
done:
  if (st != local) braid__free(st);
  return r;
}


int braid__item_compare(const braid_item *a, const braid_item *b, int *cmp,
                        const char **why_a, const char **why_b) {
  Cur ca, cb;
  size_t oa, ea, ob, eb;
  int ka = K_BAD, kb = K_BAD, r;
  *why_a = *why_b = kind_names[K_BAD];
  braid__item_bounds(a->m, a->idx, &oa, &ea);
  braid__item_bounds(b->m, b->idx, &ob, &eb);
  if (oa > ea || ea > a->m->len || ob > eb || eb > b->m->len)
    return BRAID_EINVAL;
  ca.base = a->m->data;
  ca.p = ca.base + oa;
  ca.end = ca.base + ea;
  cb.base = b->m->data;
  cb.p = cb.base + ob;
  cb.end = cb.base + eb;
  r = cmp_values(&ca, &cb, cmp, &ka, &kb);
  if (r == 1) return BRAID_OK;
  if (r == 0) return BRAID_EINVAL;
  *why_a = kind_names[ka];
  *why_b = kind_names[kb];
  return BRAID_ENOTSUP;
}
/* }====================================================== */

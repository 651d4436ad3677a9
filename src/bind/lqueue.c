/*
** lqueue.c: Lua binding of braid.queue: Queue, LifoQueue, PriorityQueue,
** SimpleQueue, with Python's rules and a batch extension (put_many,
** get_many).
** See LICENSE for copyright and license.
**
** put encodes the item before touching the queue and get decodes it after
** leaving it: the queue's mutex never covers Lua work. Batches of messages
** in flight live in a userdata box, so a raise while encoding or decoding
** one item frees the others instead of leaking them.
*/
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "lbind.h"
#include "queue.h"
#include "lcodec.h"
#include "lqstream.h"
#include "qstream.h"
#include "thread.h"
#include "spin.h"

#define WHYLEN 160


static const braid_handle_type *const queue_types[] = {
  &braid__queue_type, &braid__lifoqueue_type, &braid__priorityqueue_type,
  &braid__simplequeue_type,
};


/* The queue at 'i', of any of the four types. */
static braid_queue *checkqueue(lua_State *L, int i) {
  braid_handle *h = braidB_tohandle(L, i);
  int k;
  if (h != NULL)
    for (k = 0; k < 4; k++)
      if (h->type == queue_types[k]) return (braid_queue *)h;
  if (h == NULL && lua_type(L, i) == LUA_TUSERDATA &&
      luaL_getmetafield(L, i, "__braidhandle") != LUA_TNIL)
    braidB_argerror(L, i, "ValueError", "queue is closed");
  braidB_typeerror(L, i, "queue");
  return NULL;
}


/* The queue at 1 of q:put and q:get (braidB_selfhandle, then the type),
** or checkqueue's answer and error. */
static braid_queue *checkself(lua_State *L) {
  braid_handle *h = braidB_selfhandle(L);
  if (h != NULL && (h->type == &braid__simplequeue_type ||
                    h->type == &braid__queue_type ||
                    h->type == &braid__lifoqueue_type ||
                    h->type == &braid__priorityqueue_type))
    return (braid_queue *)h;
  return checkqueue(L, 1);
}


/* Runs the callbacks posted to this state before blocking, as every
** blocking call does; skips the lookup of the state's mailbox when no
** mailbox of the process holds anything (the common case). */
static void poll(lua_State *L) {
  if (braid__mailbox_any_pending()) braidB_poll(L);
}


/* { ------ batches of messages owned by a box on the Lua stack */
typedef struct Batch {
  braid_msg **ms;
  size_t n;
} Batch;

static int batch_gc(lua_State *L) {
  Batch *b = (Batch *)lua_touserdata(L, 1);
  size_t i;
  if (b->ms) {
    for (i = 0; i < b->n; i++) braid__msg_free(b->ms[i]);
    braid__free(b->ms);
    b->ms = NULL;
  }
  b->n = 0;
  return 0;
}


static Batch *newbatch(lua_State *L, size_t cap) {
  Batch *b = (Batch *)lua_newuserdatauv(L, sizeof(Batch), 0);
  b->ms = NULL;
  b->n = 0;
  if (luaL_newmetatable(L, "braid.Batch")) {
    lua_pushcfunction(L, batch_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  b->ms = (braid_msg **)braid__calloc(cap ? cap : 1, sizeof(braid_msg *));
  if (b->ms == NULL) braidB_nomem(L);
  return b;
}
/* } ------ */


/* Encodes the item at 'idx' for queue 'q' (proxy at 1), reusing a spare
** message given back by consumers when the item is a scalar. The spares
** are cached in this state's proxy of the queue. MAY RAISE. */
static braid_msg *encode_item(lua_State *L, braid_queue *q, int idx) {
  braidB_Box *box = (braidB_Box *)lua_touserdata(L, 1);
  braid_msg *spare = (braid_msg *)box->priv;
  if (spare == NULL) spare = box->priv = braid__queue_take_spares(q);
  if (spare != NULL) {
    braid_msg *rest = spare->next;
    if (braid__encode_scalar_into(L, idx, spare)) {
      box->priv = rest;
      return spare;
    }
  }
  return braid__encode(L, idx, "item");
}


/* The value at 'idx' as a slot scalar (qval.h): nil, a boolean, a
** number, or a string of at most BRAID_QV_STRMAX bytes. Returns 0 for
** anything else (it goes through the codec). */
static int toqval(lua_State *L, int idx, braid_qval *v) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        v->kind = BRAID_QV_INT;
        v->u.i = (int64_t)lua_tointeger(L, idx);
      } else {
        v->kind = BRAID_QV_FLOAT;
        v->u.d = (double)lua_tonumber(L, idx);
      }
      return 1;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      if (n > BRAID_QV_STRMAX) return 0;
      v->kind = BRAID_QV_STR;
      v->len = (unsigned)n;
      v->u.bits = 0;
      memcpy(v->u.s, s, n);
      return 1;
    }
    case LUA_TBOOLEAN:
      v->kind = lua_toboolean(L, idx) ? BRAID_QV_TRUE : BRAID_QV_FALSE;
      v->u.bits = 0;
      return 1;
    case LUA_TNIL:
      v->kind = BRAID_QV_NIL;
      v->u.bits = 0;
      return 1;
    default:
      return 0;
  }
}


/* Pushes scalar 'v' (not BRAID_QV_MSG). */
static void pushqval(lua_State *L, const braid_qval *v) {
  switch (v->kind) {
    case BRAID_QV_INT: lua_pushinteger(L, (lua_Integer)v->u.i); break;
    case BRAID_QV_FLOAT: lua_pushnumber(L, (lua_Number)v->u.d); break;
    case BRAID_QV_STR: lua_pushlstring(L, v->u.s, v->len); break;
    case BRAID_QV_TRUE: lua_pushboolean(L, 1); break;
    case BRAID_QV_FALSE: lua_pushboolean(L, 0); break;
    default: lua_pushnil(L); break;
  }
}


/* __gc: frees this proxy's spare messages, then drops the reference. */
static int queue_gc(lua_State *L) {
  braidB_Box *box = (braidB_Box *)lua_touserdata(L, 1);
  braid_msg *m = (braid_msg *)box->priv;
  box->priv = NULL;
  while (m != NULL) {
    braid_msg *next = m->next;
    braid__msg_free(m);
    m = next;
  }
  braidB_closehandle(L, 1);
  return 0;
}


/* Python's (block, timeout) at 'arg', 'arg'+1: block defaults to true,
** a nil timeout waits forever, a negative one with block is a
** ValueError, and without block the timeout is ignored. */
static void checkblock(lua_State *L, int arg, int *block, double *timeout) {
  *block = braidB_optboolean(L, arg, 1);
  *timeout = braidB_opttimeout(L, arg + 1, BRAID_FOREVER);
  if (!*block) {
    *timeout = 0;
  } else if (!lua_isnoneornil(L, arg + 1) && *timeout < 0) {
    braidB_argerror(L, arg + 1, "ValueError",
                    "'timeout' must be a non-negative number");
  }
}


/* put's (block, timeout): as checkblock, but Python's put checks the
** timeout only when the queue is bounded (maxsize > 0, read now), so a
** negative timeout on an unbounded queue is no error (nor any wait). */
static void checkblock_put(lua_State *L, braid_queue *q, int arg, int *block,
                           double *timeout) {
  *block = braidB_optboolean(L, arg, 1);
  *timeout = braidB_opttimeout(L, arg + 1, BRAID_FOREVER);
  if (!*block) {
    *timeout = 0;
  } else if (!lua_isnoneornil(L, arg + 1) && *timeout < 0) {
    if (braid__queue_maxsize(q) > 0)
      braidB_argerror(L, arg + 1, "ValueError",
                      "'timeout' must be a non-negative number");
    *timeout = 0; /* unbounded: never waits (should a bound come now) */
  }
}


int braidB_queue_raise_put(lua_State *L, int rc, const char *why) {
  switch (rc) {
    case BRAID_EFULL: return braidB_raise(L, "queue.Full", "queue is full");
    case BRAID_ESHUTDOWN:
      return braidB_raise(L, "queue.ShutDown", "queue is shut down");
    case BRAID_ENOTSUP: return braidB_raise(L, "TypeError", "%s", why);
    default: return braidB_raisecode(L, rc, NULL);
  }
}


int braidB_queue_raise_get(lua_State *L, int rc) {
  if (rc == BRAID_EEMPTY) return braidB_raise(L, "queue.Empty", "queue is empty");
  if (rc == BRAID_ESHUTDOWN)
    return braidB_raise(L, "queue.ShutDown", "queue is shut down");
  return braidB_raisecode(L, rc, NULL);
}


/*
** q:put(item [, block [, timeout]])
** Copies 'item' into the queue. Raises queue.Full when there is no room
** (at once without 'block', after 'timeout'), queue.ShutDown after
** shutdown(), TypeError when the item cannot be sent or, in a priority
** queue, cannot be ordered against the items it meets.
*/
static int queue_put(lua_State *L) {
  braid_queue *q = checkself(L);
  int block, rc;
  double timeout;
  size_t put;
  braid_msg *m;
  char why[WHYLEN];
  if (lua_gettop(L) == 2 || braid__queue_kind(q) == BRAID_QUEUE_SIMPLE) {
    block = 1; /* the common q:put(item); a SimpleQueue never blocks */
    timeout = BRAID_FOREVER;
    braidB_checkany(L, 2);
  } else {
    braidB_checkany(L, 2);
    checkblock_put(L, q, 3, &block, &timeout);
  }
  if (braid__unlikely(braidB_qstream_wanted(L, q, 2))) /* big: streamed */
    return braidB_qstream_put(L, q, 2, block, timeout);
  if (braid__queue_is_fast(q)) { /* unbounded: a scalar goes in a slot */
    braid_qval v;
    v.len = 0;
    if (toqval(L, 2, &v)) {
      rc = braid__queue_put_val(q, &v);
      if (rc == BRAID_OK) return 0;
      if (rc != BRAID_EAGAIN) return braidB_queue_raise_put(L, rc, "");
      /* a bound came meanwhile: the message way */
    }
  }
  m = encode_item(L, q, 2);
  if (block && braid__queue_maxsize(q) > 0) poll(L);
  rc = braid__queue_put(q, &m, 1, block, timeout, &put, why, sizeof why);
  if (put == 0) braid__msg_free(m);
  if (rc != BRAID_OK) return braidB_queue_raise_put(L, rc, why);
  return 0;
}


static int queue_put_nowait(lua_State *L) {
  lua_settop(L, 2);
  lua_pushboolean(L, 0);
  return queue_put(L);
}


/*
** q:get([block [, timeout]]) -> item
** Raises queue.Empty when nothing comes (at once without 'block', after
** 'timeout'), queue.ShutDown once shut down and empty.
*/
static int queue_get(lua_State *L) {
  braid_queue *q = checkself(L);
  int block, rc;
  double timeout;
  size_t n;
  braid_qval v;
  if (lua_gettop(L) == 1) { /* the common q:get() */
    block = 1;
    timeout = BRAID_FOREVER;
  } else {
    checkblock(L, 2, &block, &timeout);
    lua_settop(L, 1);
  }
  if (block) poll(L);
  rc = braid__queue_get_vals(q, &v, 1, &n, block, timeout);
  if (rc != BRAID_OK) return braidB_queue_raise_get(L, rc);
  if (v.kind != BRAID_QV_MSG) {
    pushqval(L, &v);
    return 1;
  }
  if (braid__unlikely(braid__qstream_of(v.it.m) != NULL)) /* a streamed put */
    return braidB_qstream_get(L, q, v.it.m, block, timeout);
  return braid__decode_items_with(L, &v.it, 1, 0, 0, braid__queue_done, q);
}


static int queue_get_nowait(lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, 0);
  return queue_get(L);
}


/*
** q:put_many(items [, block [, timeout]]) -> nothing
** braid extension: puts every element of the sequence 'items' (1..items.n
** or #items) in order, as one operation on the queue: items are encoded
** first, then linked under one lock. On a bounded queue it waits for room
** as put does; if room does not come in time, the items that fit stay
** queued and queue.Full is raised with field 'put' = how many did.
*/
static int queue_put_many(lua_State *L) {
  braid_queue *q = checkqueue(L, 1);
  int block, rc;
  double timeout;
  lua_Integer n, i;
  size_t put;
  Batch *b;
  char why[WHYLEN];
  if (lua_type(L, 2) != LUA_TTABLE) return braidB_typeerror(L, 2, "table");
  if (braid__queue_kind(q) == BRAID_QUEUE_SIMPLE) {
    block = 1;
    timeout = BRAID_FOREVER;
  } else {
    checkblock_put(L, q, 3, &block, &timeout);
  }
  if (lua_getfield(L, 2, "n") == LUA_TNUMBER)
    n = lua_tointeger(L, -1);
  else
    n = (lua_Integer)lua_rawlen(L, 2);
  lua_pop(L, 1);
  if (n <= 0) return 0;
  if (n > 0x7fffffff)
    return braidB_argerror(L, 2, "ValueError", "too many items");
  b = newbatch(L, (size_t)n);
  if (braid__queue_maxsize(q) == 0) {
    /* unbounded: one message holding every item, linked in one step */
    /* one transfer: items share references (a table named by several
    ** is sent once; a get_many of them in order keeps the identity) */
    b->ms[0] = braid__encode_batch_shared(L, 2, 1, n, "items", 0, n);
    b->n = 1;
  } else { /* bounded: items must be able to wait for room one by one */
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, 2, i);
      b->ms[b->n] = braid__encode(L, -1, "items[i]");
      b->n++;
      lua_pop(L, 1);
    }
  }
  if (block && braid__queue_maxsize(q) > 0) poll(L);
  rc = braid__queue_put(q, b->ms, b->n, block, timeout, &put, why, sizeof why);
  /* the queue owns the first 'put': keep only the rest for the box */
  memmove(b->ms, b->ms + put, (b->n - put) * sizeof(braid_msg *));
  b->n -= put;
  if (rc != BRAID_OK) {
    if (rc == BRAID_EFULL) {
      lua_Integer done = braid__queue_maxsize(q) == 0 ? 0 : (lua_Integer)put;
      braidB_pusherror(L, "queue.Full", "queue is full (%d of %d items put)",
                       (int)done, (int)n);
      lua_pushinteger(L, done);
      lua_setfield(L, -2, "put");
      return lua_error(L);
    }
    return braidB_queue_raise_put(L, rc, why);
  }
  return 0;
}


/* { ------ get_many's scratch block: 'max' braid_qvals and braid_items,
** kept per state in the registry and reused (a new one per call cost a
** large userdata and its collection on every batch). 'busy' while a call
** uses it: a call that finds it busy (a value's reconstruction ran Lua
** that called get_many again, or an earlier call raised before giving
** it back) makes a fresh one. */
typedef union Scratch {
  struct {
    size_t cap;
    int busy;
  } h;
  max_align_t align; /* the items after the header stay aligned */
} Scratch;

static const char SCRATCH_KEY = 'g';
#define SCRATCH_KEEP ((size_t)1 << 20) /* bigger blocks are not kept */

/* Pushes a scratch block of at least 'need' bytes, marked busy; returns
** it. MAY RAISE (memory). */
static Scratch *push_scratch(lua_State *L, size_t need) {
  Scratch *s;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SCRATCH_KEY) == LUA_TUSERDATA) {
    s = (Scratch *)lua_touserdata(L, -1);
    if (!s->h.busy && s->h.cap >= need) {
      s->h.busy = 1;
      return s;
    }
  }
  lua_pop(L, 1);
  if (need < 4096) need = 4096;
  s = (Scratch *)lua_newuserdatauv(L, sizeof(Scratch) + need, 0);
  s->h.cap = need;
  s->h.busy = 1;
  if (need <= SCRATCH_KEEP) {
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &SCRATCH_KEY);
  }
  return s;
}
/* } ------ */


/* 1 when one of the 'n' items is a streamed put's (lqstream.c). */
static int has_stream(const braid_item *items, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (braid__qstream_of(items[i].m) != NULL) return 1;
  return 0;
}


/*
** q:get_many([max [, block [, timeout]]]) -> items
** braid extension: takes up to 'max' items (default: all queued) in one
** operation, waiting for the first as get does. Returns a sequence with
** its length in 'n'. Raises queue.Empty / queue.ShutDown as get does.
*/
static int queue_get_many(lua_State *L) {
  braid_queue *q = checkqueue(L, 1);
  lua_Integer max = braidB_optinteger(L, 2, 0);
  int block, rc;
  double timeout;
  size_t n, i, nm = 0;
  lua_Integer holes = 0;
  Scratch *sc;
  braid_qval *vals;
  braid_item *items;
  if (lua_isnoneornil(L, 2)) {
    max = (lua_Integer)braid__queue_qsize(q);
    if (max < 1) max = 1;
  } else if (max < 1) {
    return braidB_argerror(L, 2, "ValueError", "max must be at least 1");
  }
  if (max > 1 << 20) max = 1 << 20;
  checkblock(L, 3, &block, &timeout);
  lua_settop(L, 1);
  /* everything that can raise before the items are ours comes first */
  sc = push_scratch(L, (size_t)max * (sizeof *vals + sizeof *items)); /* 2 */
  vals = (braid_qval *)(void *)(sc + 1);
  items = (braid_item *)(void *)(vals + max);
  lua_createtable(L, (int)max, 1); /* 3: the result */
  if (block) poll(L);
  rc = braid__queue_get_vals(q, vals, (size_t)max, &n, block, timeout);
  if (rc != BRAID_OK) {
    sc->h.busy = 0;
    return braidB_queue_raise_get(L, rc);
  }
  /* the message items first, in order, into result[1..nm]: decoding gives
  ** them back, raise or not, and nothing may raise before that */
  for (i = 0; i < n; i++)
    if (vals[i].kind == BRAID_QV_MSG) items[nm++] = vals[i].it;
  if (nm > 0 && braid__unlikely(has_stream(items, nm))) {
    /* a streamed put among them; one whose writer failed leaves a hole */
    holes = braidB_qstream_many(L, q, items, nm, 3);
  } else if (nm > 0) {
    braid__decode_items_with(L, items, nm, 3, 1, braid__queue_done, q);
  }
  if (nm < n) { /* scalars among them: spread from the back, in place */
    lua_Integer j = (lua_Integer)nm; /* the last message value not moved */
    for (i = n; i-- > 0;) {
      if (vals[i].kind == BRAID_QV_MSG) {
        if (j == (lua_Integer)i + 1) break; /* the rest is in place */
        lua_rawgeti(L, 3, j--);
      } else {
        pushqval(L, &vals[i]);
      }
      lua_rawseti(L, 3, (lua_Integer)i + 1);
    }
  }
  sc->h.busy = 0;
  lua_settop(L, 3);
  if (holes > 0) { /* failed streams were never put: close up */
    size_t k = 0;
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, 3, (lua_Integer)i + 1);
      if (lua_touserdata(L, -1) == braidB_qstream_hole()) {
        lua_pop(L, 1);
        continue;
      }
      lua_rawseti(L, 3, (lua_Integer)++k);
    }
    for (i = k; i < n; i++) {
      lua_pushnil(L);
      lua_rawseti(L, 3, (lua_Integer)i + 1);
    }
    n = k;
  }
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, 3, "n");
  return 1;
}


static int queue_qsize(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__queue_qsize(checkqueue(L, 1)));
  return 1;
}


static int queue_empty(lua_State *L) {
  lua_pushboolean(L, braid__queue_qsize(checkqueue(L, 1)) == 0);
  return 1;
}


static int queue_full(lua_State *L) {
  braid_queue *q = checkqueue(L, 1);
  long max = braid__queue_maxsize(q);
  lua_pushboolean(L, max > 0 && braid__queue_qsize(q) >= (size_t)max);
  return 1;
}


/* q:task_done(): ValueError when called more times than items were put. */
static int queue_task_done(lua_State *L) {
  if (braid__queue_task_done(checkqueue(L, 1)) != BRAID_OK)
    return braidB_raise(L, "ValueError", "task_done() called too many times");
  return 0;
}


/* q:join(): blocks until every item put has been marked done. */
static int queue_join(lua_State *L) {
  braid_queue *q = checkqueue(L, 1);
  braidB_poll(L);
  braid__queue_join(q, BRAID_FOREVER);
  return 0;
}


/* q:shutdown([immediate]) */
static int queue_shutdown(lua_State *L) {
  braid__queue_shutdown(checkqueue(L, 1), lua_toboolean(L, 2));
  return 0;
}


static int queue_tostring(lua_State *L) {
  braid_queue *q = checkqueue(L, 1);
  static const char *const names[] = { "Queue", "LifoQueue", "PriorityQueue",
                                       "SimpleQueue" };
  lua_pushfstring(L, "<queue.%s object at %p>", names[braid__queue_kind(q)],
                  (void *)q);
  return 1;
}


/* Methods first (upvalue 1, one raw lookup: this runs on every call),
** then the fields maxsize, is_shutdown, unfinished_tasks. */
static int queue_index(lua_State *L) {
  braid_queue *q;
  const char *k; /* the VM calls __index with exactly (proxy, key) */
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  q = checkqueue(L, 1);
  k = lua_tostring(L, 2);
  if (k != NULL && braid__queue_kind(q) != BRAID_QUEUE_SIMPLE) {
    if (strcmp(k, "maxsize") == 0) {
      lua_pushinteger(L, braid__queue_maxsize(q));
      return 1;
    }
    if (strcmp(k, "is_shutdown") == 0) {
      lua_pushboolean(L, braid__queue_is_shutdown(q));
      return 1;
    }
    if (strcmp(k, "unfinished_tasks") == 0) {
      lua_pushinteger(L, braid__queue_unfinished(q));
      return 1;
    }
  }
  return 0;
}


/* q.maxsize = n: Python's attribute, re-read by every put (queue.h:
** braid__queue_set_maxsize); n <= 0 is unbounded. Other fields cannot
** be set on the C object (AttributeError), nor maxsize on a SimpleQueue,
** which has none. */
static int queue_newindex(lua_State *L) {
  braid_queue *q = checkqueue(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k != NULL && strcmp(k, "maxsize") == 0 &&
      braid__queue_kind(q) != BRAID_QUEUE_SIMPLE) {
    lua_Integer n;
    if (!lua_isinteger(L, 3) && !(lua_type(L, 3) == LUA_TNUMBER &&
                                  lua_tointeger(L, 3) == lua_tonumber(L, 3)))
      return braidB_raise(L, "TypeError",
                          "maxsize must be an integer, not %s",
                          luaL_typename(L, 3));
    n = lua_tointeger(L, 3);
    if (n > LONG_MAX) n = LONG_MAX;
    /* BRAID_ENOMEM: the scalars queued could not become messages */
    if (braid__queue_set_maxsize(q, n < 0 ? 0 : (long)n) == BRAID_ENOMEM)
      return braidB_nomem(L);
    return 0;
  }
  return braidB_raise(L, "AttributeError",
                      "'%s' object attribute '%s' cannot be set",
                      braid__queue_kind(q) == BRAID_QUEUE_SIMPLE
                          ? "SimpleQueue" : "Queue",
                      k ? k : luaL_typename(L, 2));
}


static const luaL_Reg queue_methods[] = {
  { "put", queue_put },
  { "put_nowait", queue_put_nowait },
  { "get", queue_get },
  { "get_nowait", queue_get_nowait },
  { "put_many", queue_put_many },
  { "get_many", queue_get_many },
  { "qsize", queue_qsize },
  { "empty", queue_empty },
  { "full", queue_full },
  { "task_done", queue_task_done },
  { "join", queue_join },
  { "shutdown", queue_shutdown },
  { NULL, NULL },
};

static const luaL_Reg simplequeue_methods[] = {
  { "put", queue_put },
  { "put_nowait", queue_put_nowait },
  { "get", queue_get },
  { "get_nowait", queue_get_nowait },
  { "put_many", queue_put_many },
  { "get_many", queue_get_many },
  { "qsize", queue_qsize },
  { "empty", queue_empty },
  { NULL, NULL },
};

static const luaL_Reg queue_meta[] = {
  { "__index", queue_index },
  { "__newindex", queue_newindex },
  { "__gc", queue_gc },
  { "__tostring", queue_tostring },
  { NULL, NULL },
};

/* A SimpleQueue has no fields, only methods: its __index is the methods
** table itself (braidB_pushmeta's default), which the VM reads without a
** call, instead of queue_index (a C call on every q:put and q:get). */
static const luaL_Reg simplequeue_meta[] = {
  { "__newindex", queue_newindex },
  { "__gc", queue_gc },
  { "__tostring", queue_tostring },
  { NULL, NULL },
};

const braidB_Class braidB_queue_classes[] = {
  { &braid__queue_type, queue_methods, queue_meta },
  { &braid__lifoqueue_type, queue_methods, queue_meta },
  { &braid__priorityqueue_type, queue_methods, queue_meta },
  { &braid__simplequeue_type, simplequeue_methods, simplequeue_meta },
  { NULL, NULL, NULL },
};


/* Queue([maxsize]) / Queue{maxsize=}: maxsize <= 0 is unbounded. */
static int newqueue(lua_State *L, int kind) {
  braid_queue *q;
  lua_Integer maxsize = 0;
  if (kind != BRAID_QUEUE_SIMPLE) {
    if (lua_type(L, 1) == LUA_TTABLE) {
      lua_getfield(L, 1, "maxsize");
      lua_replace(L, 1);
    }
    maxsize = braidB_optinteger(L, 1, 0);
  }
  if (braid__queue_new(&q, kind, (long)maxsize) != BRAID_OK)
    return braidB_nomem(L);
  braidB_pushnewhandle(L, (braid_handle *)q);
  return 1;
}

static int core_queue(lua_State *L) { return newqueue(L, BRAID_QUEUE_FIFO); }
static int core_lifoqueue(lua_State *L) { return newqueue(L, BRAID_QUEUE_LIFO); }
static int core_priorityqueue(lua_State *L) {
  return newqueue(L, BRAID_QUEUE_PRIORITY);
}
static int core_simplequeue(lua_State *L) {
  return newqueue(L, BRAID_QUEUE_SIMPLE);
}


/* core._queue_spin_ns([ns]) -> previous ns: how long blocked gets and puts
** spin before sleeping (process-wide; BRAID_SPIN_NS in the environment
** sets the initial value). For benchmarks and tuning. */
static int core_queue_spin_ns(lua_State *L) {
  lua_Integer ns = braidB_optinteger(L, 1, -1);
  if (!lua_isnoneornil(L, 1) && ns < 0)
    return braidB_argerror(L, 1, "ValueError", "spin must be >= 0");
  lua_pushinteger(L, (lua_Integer)braid__queue_spin_ns((long)ns));
  return 1;
}


/* core._spin_cpus() -> the CPUs the spin policy sees (affinity and cgroup
** quota; nothing spins below 2), and core._spin_running() -> the threads
** it counts as running (spin.h). For tests and benchmarks. */
static int core_spin_cpus(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__spin_cpus());
  return 1;
}


static int core_spin_running(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__spin_running());
  return 1;
}


static const luaL_Reg queue_funcs[] = {
  { "_queue_spin_ns", core_queue_spin_ns },
  { "_spin_cpus", core_spin_cpus },
  { "_spin_running", core_spin_running },
  { "Queue", core_queue },
  { "LifoQueue", core_lifoqueue },
  { "PriorityQueue", core_priorityqueue },
  { "SimpleQueue", core_simplequeue },
  { NULL, NULL },
};


void braidB_open_queue(lua_State *L) {
  luaL_setfuncs(L, queue_funcs, 0);
}

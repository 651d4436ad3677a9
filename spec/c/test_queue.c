/*
** test_queue.c: a queue's bound changed while it is used
** (braid__queue_set_maxsize, Python's 'q.maxsize = n'), from C alone:
** an unbounded FIFO given a bound leaves its fast path with its items in
** order; a larger bound wakes a blocked putter; a getter asleep on the
** fast path when the bound comes still gets its item; a SimpleQueue has
** no bound. Under ASan with leak detection, a converted queue dropped
** with items left frees them all. Scalars in the fast path's slots
** (braid__queue_put_val, qval.h): their message form is byte for byte
** what a writer of the format writes; a C consumer gets them as messages,
** in order among messages, also after the queue took a bound; and
** braid__queue_get_vals hands them back as they were.
*/
#include <pthread.h>
#include <string.h>

#include "braidint.h"
#include "os.h"
#include "queue.h"
#include "wire.h"
#include "ctest.h"

/* A message of one item: the integer 'v'. */
static braid_msg *int_msg(int64_t v) {
  braid_wbuf w;
  braid_msg *m = NULL;
  memset(&w, 0, sizeof w);
  braid__wire_put_header(&w, 1);
  braid__wire_put_int(&w, v);
  if (w.err != BRAID_OK || braid__wbuf_to_msg(&w, &m) != BRAID_OK) m = NULL;
  braid__wbuf_free(&w);
  return m;
}


static int64_t msg_int(const braid_msg *m) {
  braid_wire_rd r;
  uint64_t count;
  int64_t v = -1;
  if (braid__wire_open(m, &r, &count) != BRAID_OK || count != 1) return -1;
  if (braid__wire_get_int(&r, &v) != BRAID_OK) return -1;
  return v;
}


static int put_int(braid_queue *q, int64_t v, int block, double timeout) {
  braid_msg *m = int_msg(v);
  size_t put = 0;
  char why[64];
  int rc;
  if (m == NULL) return BRAID_ENOMEM;
  rc = braid__queue_put(q, &m, 1, block, timeout, &put, why, sizeof why);
  if (put == 0) braid__msg_free(m);
  return rc;
}


/* The next item's integer, -1 when none came within 'timeout'. */
static int64_t get_int(braid_queue *q, double timeout) {
  braid_item it;
  size_t n = 0;
  int64_t v;
  if (braid__queue_get(q, &it, 1, &n, 1, timeout) != BRAID_OK || n != 1)
    return -1;
  v = msg_int(it.m);
  braid__msg_release(it.m, 1);
  return v;
}


static void test_fast_queue_takes_a_bound(void) {
  braid_queue *q;
  int64_t i;
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_FIFO, 0), BRAID_OK);
  for (i = 1; i <= 5; i++) CHECK_EQ(put_int(q, i, 1, -1), BRAID_OK);
  CHECK_EQ(get_int(q, 1), 1);
  CHECK_EQ(braid__queue_set_maxsize(q, 5), BRAID_OK);
  CHECK_EQ(braid__queue_maxsize(q), 5);
  CHECK_EQ(braid__queue_qsize(q), 4);
  CHECK_EQ(put_int(q, 6, 0, 0), BRAID_OK);
  CHECK_EQ(put_int(q, 7, 0, 0), BRAID_EFULL);
  CHECK_EQ(braid__queue_set_maxsize(q, 2), BRAID_OK); /* smaller: items stay */
  CHECK_EQ(braid__queue_qsize(q), 5);
  for (i = 2; i <= 4; i++) CHECK_EQ(get_int(q, 1), i);
  CHECK_EQ(put_int(q, 7, 0, 0), BRAID_EFULL); /* 5, 6 left: still full */
  CHECK_EQ(get_int(q, 1), 5);
  CHECK_EQ(put_int(q, 7, 0, 0), BRAID_OK);
  CHECK_EQ(braid__queue_set_maxsize(q, -1), BRAID_OK); /* none */
  for (i = 8; i <= 20; i++) CHECK_EQ(put_int(q, i, 0, 0), BRAID_OK);
  CHECK_EQ(get_int(q, 1), 6);
  CHECK_EQ(get_int(q, 1), 7);
  /* items 8..20 are left: dropping the queue frees them (ASan) */
  braid__handle_release((braid_handle *)q);
}


typedef struct Side {
  braid_queue *q;
  int rc;
  int64_t got;
  double took;
} Side;

static void *blocked_put(void *ud) {
  Side *s = (Side *)ud;
  double t0 = braid__now();
  s->rc = put_int(s->q, 2, 1, 30.0);
  s->took = braid__now() - t0;
  return NULL;
}


static void test_larger_bound_wakes_putter(void) {
  braid_queue *q;
  pthread_t th;
  Side s;
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_LIFO, 1), BRAID_OK);
  CHECK_EQ(put_int(q, 1, 1, -1), BRAID_OK);
  memset(&s, 0, sizeof s);
  s.q = q;
  s.rc = -100;
  CHECK_EQ(pthread_create(&th, NULL, blocked_put, &s), 0);
  braid__sleep(0.05); /* makes the blocked path likely; the outcome */
                      /* does not depend on it */
  CHECK_EQ(braid__queue_set_maxsize(q, 2), BRAID_OK);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(s.rc, BRAID_OK);
  CHECK(s.took < 20.0); /* woken, not timed out */
  CHECK_EQ(braid__queue_qsize(q), 2);
  braid__handle_release((braid_handle *)q);
}


static void *blocked_get(void *ud) {
  Side *s = (Side *)ud;
  s->got = get_int(s->q, 30.0);
  return NULL;
}


static void test_fast_getter_survives_the_move(void) {
  braid_queue *q;
  pthread_t th;
  Side s;
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_FIFO, 0), BRAID_OK);
  memset(&s, 0, sizeof s);
  s.q = q;
  s.got = -100;
  CHECK_EQ(pthread_create(&th, NULL, blocked_get, &s), 0);
  braid__sleep(0.05); /* makes the sleeping path likely; the outcome */
                      /* does not depend on it */
  CHECK_EQ(braid__queue_set_maxsize(q, 1), BRAID_OK);
  CHECK_EQ(put_int(q, 42, 1, 10.0), BRAID_OK);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(s.got, 42);
  braid__handle_release((braid_handle *)q);
}


static void test_simplequeue_has_no_bound(void) {
  braid_queue *q;
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_SIMPLE, 0), BRAID_OK);
  CHECK_EQ(braid__queue_set_maxsize(q, 3), BRAID_EINVAL);
  CHECK_EQ(braid__queue_maxsize(q), 0);
  braid__handle_release((braid_handle *)q);
}


/* The scalars of the slot path, one per kind and edge. */
static int scalar(int i, braid_qval *v) {
  static const char *const strs[] = { "", "a\0b", "12345678" };
  memset(v, 0, sizeof *v);
  switch (i) {
    case 0: v->kind = BRAID_QV_NIL; break;
    case 1: v->kind = BRAID_QV_FALSE; break;
    case 2: v->kind = BRAID_QV_TRUE; break;
    case 3: v->kind = BRAID_QV_INT; v->u.i = INT64_MIN; break;
    case 4: v->kind = BRAID_QV_INT; v->u.i = INT64_MAX; break;
    case 5: v->kind = BRAID_QV_INT; v->u.i = -1; break;
    case 6: v->kind = BRAID_QV_FLOAT; v->u.d = -0.0; break;
    case 7: v->kind = BRAID_QV_FLOAT; v->u.d = 1e308; break;
    case 8: case 9: case 10:
      v->kind = BRAID_QV_STR;
      v->len = (unsigned)(i == 9 ? 3 : strlen(strs[i - 8]));
      memcpy(v->u.s, strs[i - 8], v->len);
      break;
    default: return 0;
  }
  return 1;
}


/* The message a writer of the format makes for scalar 'v'. */
static braid_msg *written(const braid_qval *v) {
  braid_wbuf w;
  braid_msg *m = NULL;
  memset(&w, 0, sizeof w);
  braid__wire_put_header(&w, 1);
  switch (v->kind) {
    case BRAID_QV_NIL: braid__wire_put_byte(&w, T_NIL); break;
    case BRAID_QV_FALSE: braid__wire_put_byte(&w, T_FALSE); break;
    case BRAID_QV_TRUE: braid__wire_put_byte(&w, T_TRUE); break;
    case BRAID_QV_INT: braid__wire_put_int(&w, v->u.i); break;
    case BRAID_QV_FLOAT: braid__wire_put_float(&w, v->u.d); break;
    default: braid__wire_put_string(&w, v->u.s, v->len); break;
  }
  if (w.err != BRAID_OK || braid__wbuf_to_msg(&w, &m) != BRAID_OK) m = NULL;
  braid__wbuf_free(&w);
  return m;
}


static int same_bytes(const braid_msg *a, const braid_msg *b) {
  return a != NULL && b != NULL && a->len == b->len &&
         memcmp(a->data, b->data, a->len) == 0;
}


static void test_scalar_messages_match_the_format(void) {
  braid_qval v;
  int i;
  for (i = 0; scalar(i, &v); i++) {
    braid_msg *a = braid__qval_to_msg(&v), *b = written(&v);
    CHECK(same_bytes(a, b));
    braid__msg_free(a);
    braid__msg_free(b);
  }
  v.kind = BRAID_QV_MSG;
  CHECK(braid__qval_to_msg(&v) == NULL);
}


/* Puts every scalar with a message (the integer 1000 + i) after each. */
static void put_mixed(braid_queue *q) {
  braid_qval v;
  int i;
  for (i = 0; scalar(i, &v); i++) {
    CHECK_EQ(braid__queue_put_val(q, &v), BRAID_OK);
    CHECK_EQ(put_int(q, 1000 + i, 1, -1), BRAID_OK);
  }
}


/* Gets what put_mixed put, as messages (braid__queue_get). */
static void get_mixed_as_messages(braid_queue *q) {
  braid_qval v;
  int i;
  for (i = 0; scalar(i, &v); i++) {
    braid_item it;
    size_t n = 0;
    braid_msg *want = written(&v);
    CHECK_EQ(braid__queue_get(q, &it, 1, &n, 0, 0), BRAID_OK);
    CHECK_EQ(n, 1);
    CHECK(same_bytes(it.m, want));
    braid__msg_release(it.m, 1);
    braid__msg_free(want);
    CHECK_EQ(get_int(q, 0), 1000 + i);
  }
  CHECK_EQ(braid__queue_qsize(q), 0);
}


static void test_scalars_in_slots(void) {
  braid_queue *q;
  braid_qval v, got[64];
  size_t n = 0;
  int i, k;
  /* SimpleQueue: scalars come back as they were, messages as items */
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_SIMPLE, 0), BRAID_OK);
  CHECK(braid__queue_is_fast(q));
  put_mixed(q);
  CHECK_EQ(braid__queue_get_vals(q, got, 64, &n, 0, 0), BRAID_OK);
  for (i = 0, k = 0; scalar(i, &v); i++) {
    CHECK_EQ(got[k].kind, v.kind);
    CHECK_EQ(got[k].len, v.len);
    CHECK(memcmp(&got[k].u, &v.u, sizeof v.u) == 0); /* -0.0 too */
    k++;
    CHECK_EQ(got[k].kind, BRAID_QV_MSG);
    CHECK_EQ(msg_int(got[k].it.m), 1000 + i);
    braid__msg_release(got[k].it.m, 1);
    k++;
  }
  CHECK_EQ(n, (size_t)k);
  /* as messages, for a C consumer */
  put_mixed(q);
  get_mixed_as_messages(q);
  braid__handle_release((braid_handle *)q);
  /* a Queue given a bound with scalars queued: they become messages */
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_FIFO, 0), BRAID_OK);
  put_mixed(q);
  CHECK_EQ(braid__queue_set_maxsize(q, 100), BRAID_OK);
  CHECK(!braid__queue_is_fast(q));
  scalar(3, &v);
  CHECK_EQ(braid__queue_put_val(q, &v), BRAID_EAGAIN); /* the caller encodes */
  get_mixed_as_messages(q);
  braid__handle_release((braid_handle *)q);
  /* dropped with scalars and messages queued, moved to the one-mutex path
  ** or not: nothing leaks (ASan) */
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_FIFO, 0), BRAID_OK);
  put_mixed(q);
  CHECK_EQ(braid__queue_set_maxsize(q, 1), BRAID_OK);
  braid__handle_release((braid_handle *)q);
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_SIMPLE, 0), BRAID_OK);
  put_mixed(q);
  braid__handle_release((braid_handle *)q);
  /* a LIFO queue never takes the slot path */
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_LIFO, 0), BRAID_OK);
  CHECK(!braid__queue_is_fast(q));
  CHECK_EQ(braid__queue_put_val(q, &v), BRAID_EAGAIN);
  braid__handle_release((braid_handle *)q);
}


int main(void) {
  static const ctest_case cases[] = {
    { "an unbounded FIFO given a bound keeps its items in order",
      test_fast_queue_takes_a_bound },
    { "a larger bound wakes a blocked putter",
      test_larger_bound_wakes_putter },
    { "a getter asleep on the fast path gets its item after the move",
      test_fast_getter_survives_the_move },
    { "a SimpleQueue has no bound", test_simplequeue_has_no_bound },
    { "a scalar's message is what the format's writers write",
      test_scalar_messages_match_the_format },
    { "scalars in slots: as they were, as messages, across a bound",
      test_scalars_in_slots },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

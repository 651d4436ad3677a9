/*
** test_queue.c: a queue's bound changed while it is used
** (braid__queue_set_maxsize, Python's 'q.maxsize = n'), from C alone:
** an unbounded FIFO given a bound leaves its fast path with its items in
** order; a larger bound wakes a blocked putter; a getter asleep on the
** fast path when the bound comes still gets its item; a SimpleQueue has
** no bound. Under ASan with leak detection, a converted queue dropped
** with items left frees them all.
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


int main(void) {
  static const ctest_case cases[] = {
    { "an unbounded FIFO given a bound keeps its items in order",
      test_fast_queue_takes_a_bound },
    { "a larger bound wakes a blocked putter",
      test_larger_bound_wakes_putter },
    { "a getter asleep on the fast path gets its item after the move",
      test_fast_getter_survives_the_move },
    { "a SimpleQueue has no bound", test_simplequeue_has_no_bound },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

/*
** test_wire.c: the transfer format used from C alone, with core headers
** only (no Lua header, no Lua state): a message written with the wire
** writers crosses a core queue to another thread and is read back with the
** wire readers; corrupt and truncated bytes are refused with a code; a
** writer whose memory runs out reports it once, at the end.
*/
#include <pthread.h>
#include <string.h>

#include "braidint.h"
#include "failalloc.h"
#include "order.h"
#include "queue.h"
#include "wire.h"
#include "ctest.h"

#define STR "hello, wire"
#define BIG_INT (-123456789012LL)
#define FLOAT 2.5

/* Writes the test's message: BIG_INT, STR, {7, "x", true}, FLOAT, nil. */
static void write_values(braid_wbuf *w) {
  braid__wire_put_header(w, 5);
  braid__wire_put_int(w, BIG_INT);
  braid__wire_put_string(w, STR, strlen(STR));
  braid__wire_put_byte(w, T_TABLE);
  braid__wire_put_byte(w, 0);     /* flags */
  braid__wire_put_varint(w, 3);   /* narr */
  braid__wire_put_bytes(w, "\0\0\0\0", 4); /* u32 nhash 0 */
  braid__wire_put_int(w, 7);
  braid__wire_put_string(w, "x", 1);
  braid__wire_put_byte(w, T_TRUE);
  braid__wire_put_float(w, FLOAT);
  braid__wire_put_byte(w, T_NIL);
}


typedef struct Read {
  int rc; /* BRAID_OK when every value was read */
  uint64_t count, narr;
  int64_t i1, t1;
  char s[32], t2[4];
  unsigned t3, nil;
  double f;
} Read;

/* Reads the values of write_values from 'm' into 'out'; returns the code
** of the first read that failed. */
static int read_values(const braid_msg *m, Read *out) {
  braid_wire_rd r;
  const char *s;
  size_t n;
  unsigned b;
  uint32_t nhash;
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = braid__wire_open(m, &r, &out->count)) != BRAID_OK) return rc;
  if ((rc = braid__wire_get_int(&r, &out->i1)) != BRAID_OK) return rc;
  if ((rc = braid__wire_get_string(&r, &s, &n)) != BRAID_OK) return rc;
  if (n >= sizeof out->s) return BRAID_EINVAL;
  memcpy(out->s, s, n);
  if ((rc = braid__wire_get_byte(&r, &b)) != BRAID_OK) return rc;
  if (b != T_TABLE) return BRAID_EINVAL;
  if ((rc = braid__wire_get_byte(&r, &b)) != BRAID_OK) return rc; /* flags */
  if ((rc = braid__wire_get_varint(&r, &out->narr)) != BRAID_OK) return rc;
  if ((rc = braid__wire_get_u32(&r, &nhash)) != BRAID_OK) return rc;
  if (nhash != 0) return BRAID_EINVAL;
  if ((rc = braid__wire_get_int(&r, &out->t1)) != BRAID_OK) return rc;
  if ((rc = braid__wire_get_string(&r, &s, &n)) != BRAID_OK) return rc;
  if (n >= sizeof out->t2) return BRAID_EINVAL;
  memcpy(out->t2, s, n);
  if ((rc = braid__wire_get_byte(&r, &out->t3)) != BRAID_OK) return rc;
  if ((rc = braid__wire_get_byte(&r, &b)) != BRAID_OK) return rc;
  if (b != T_FLOAT || r.end - r.p < (ptrdiff_t)sizeof out->f)
    return BRAID_EINVAL;
  memcpy(&out->f, r.p, sizeof out->f);
  r.p += sizeof out->f;
  if ((rc = braid__wire_get_byte(&r, &out->nil)) != BRAID_OK) return rc;
  return r.p == r.end ? BRAID_OK : BRAID_EINVAL; /* no trailing bytes */
}


typedef struct Consumer {
  braid_queue *q;
  int get_rc;
  Read read;
} Consumer;

/* Takes one item (waiting at most 10 s) and reads it. */
static void *consume(void *ud) {
  Consumer *c = (Consumer *)ud;
  braid_item it;
  size_t n = 0;
  c->get_rc = braid__queue_get(c->q, &it, 1, &n, 1, 10.0);
  if (c->get_rc != BRAID_OK) return NULL;
  if (n != 1) {
    c->get_rc = BRAID_EINVAL;
    return NULL;
  }
  c->read.rc = read_values(it.m, &c->read);
  braid__msg_release(it.m, 1);
  return NULL;
}


static void test_queue_roundtrip(void) {
  braid_wbuf w;
  braid_msg *m = NULL;
  braid_queue *q;
  Consumer c;
  pthread_t th;
  size_t put = 0;
  char why[64];
  memset(&w, 0, sizeof w);
  write_values(&w);
  CHECK_EQ(w.err, BRAID_OK);
  CHECK_EQ(braid__wbuf_to_msg(&w, &m), BRAID_OK);
  CHECK_EQ(w.len, 0); /* ready for the next message */
  braid__wbuf_free(&w);
  CHECK(m != NULL && m->len > sizeof m->inline_data); /* a heap buffer */
  CHECK_EQ(braid__queue_new(&q, BRAID_QUEUE_FIFO, 0), BRAID_OK);
  memset(&c, 0, sizeof c);
  c.q = q;
  c.get_rc = -100;
  CHECK_EQ(pthread_create(&th, NULL, consume, &c), 0);
  CHECK_EQ(braid__queue_put(q, &m, 1, 1, 10.0, &put, why, sizeof why),
           BRAID_OK);
  CHECK_EQ(put, 1);
  CHECK_EQ(pthread_join(th, NULL), 0);
  braid__handle_release((braid_handle *)q);
  CHECK_EQ(c.get_rc, BRAID_OK);
  CHECK_EQ(c.read.rc, BRAID_OK);
  CHECK_EQ(c.read.count, 5);
  CHECK_EQ(c.read.i1, BIG_INT);
  CHECK(strcmp(c.read.s, STR) == 0);
  CHECK_EQ(c.read.narr, 3);
  CHECK_EQ(c.read.t1, 7);
  CHECK(strcmp(c.read.t2, "x") == 0);
  CHECK_EQ(c.read.t3, T_TRUE);
  CHECK(c.read.f == FLOAT);
  CHECK_EQ(c.read.nil, T_NIL);
}


/* Every proper prefix of the message is refused with BRAID_EINVAL (and,
** under ASan, read within its bytes); so are a wrong version byte, a
** varint past 64 bits, a string longer than the bytes left, and trailing
** bytes. */
static void test_corrupt_refused(void) {
  braid_wbuf w;
  braid_msg *m = NULL, *cut;
  Read rd;
  size_t len;
  memset(&w, 0, sizeof w);
  write_values(&w);
  CHECK_EQ(braid__wbuf_to_msg(&w, &m), BRAID_OK);
  braid__wbuf_free(&w);
  CHECK_EQ(read_values(m, &rd), BRAID_OK);
  for (len = 0; len < m->len; len++) {
    cut = braid__msg_from_bytes(m->data, len); /* an exact-size copy */
    CHECK(cut != NULL);
    CHECK_EQ(read_values(cut, &rd), BRAID_EINVAL);
    braid__msg_free(cut);
  }
  cut = braid__msg_alloc(m->len + 1, 0, 0); /* a trailing byte */
  CHECK(cut != NULL);
  memcpy(cut->data, m->data, m->len);
  cut->data[m->len] = T_NIL;
  CHECK_EQ(read_values(cut, &rd), BRAID_EINVAL);
  braid__msg_free(cut);
  m->data[0] = BRAID_WIRE_VERSION + 1;
  CHECK_EQ(read_values(m, &rd), BRAID_EINVAL);
  braid__msg_free(m);
  {
    static const unsigned char over[] = { BRAID_WIRE_VERSION, 1, T_INT,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
    static const unsigned char longstr[] = { BRAID_WIRE_VERSION, 1, T_STR,
                                             9, 'a', 'b' };
    braid_wire_rd r;
    uint64_t count;
    int64_t v;
    const char *s;
    size_t n;
    m = braid__msg_from_bytes(over, sizeof over);
    CHECK(m != NULL);
    CHECK_EQ(braid__wire_open(m, &r, &count), BRAID_OK);
    CHECK_EQ(braid__wire_get_int(&r, &v), BRAID_EINVAL);
    CHECK(r.p == m->data + 2); /* a refused read does not move */
    braid__msg_free(m);
    m = braid__msg_from_bytes(longstr, sizeof longstr);
    CHECK(m != NULL);
    CHECK_EQ(braid__wire_open(m, &r, &count), BRAID_OK);
    CHECK_EQ(braid__wire_get_string(&r, &s, &n), BRAID_EINVAL);
    braid__msg_free(m);
  }
}


/* The ordering of a queue's items (order.h) refuses a corrupt item with a
** code, and orders well-formed ones written in C. */
static void test_order(void) {
  braid_wbuf w;
  braid_msg *a = NULL, *b = NULL, *bad;
  braid_item ia, ib, ibad;
  const char *wa = NULL, *wb = NULL;
  int cmp = 0;
  memset(&w, 0, sizeof w);
  braid__wire_put_header(&w, 1);
  braid__wire_put_int(&w, 3);
  CHECK_EQ(braid__wbuf_to_msg(&w, &a), BRAID_OK);
  braid__wire_put_header(&w, 1);
  braid__wire_put_int(&w, 10);
  CHECK_EQ(braid__wbuf_to_msg(&w, &b), BRAID_OK);
  braid__wbuf_free(&w);
  ia.m = a;
  ia.idx = 0;
  ib.m = b;
  ib.idx = 0;
  CHECK_EQ(braid__item_compare(&ia, &ib, &cmp, &wa, &wb), BRAID_OK);
  CHECK_EQ(cmp, -1);
  CHECK_EQ(braid__item_compare(&ib, &ia, &cmp, &wa, &wb), BRAID_OK);
  CHECK_EQ(cmp, 1);
  bad = braid__msg_from_bytes(b->data, b->len - 1); /* varint cut */
  CHECK(bad != NULL);
  bad->data[bad->len - 1] |= 0x80;
  ibad.m = bad;
  ibad.idx = 0;
  CHECK_EQ(braid__item_compare(&ia, &ibad, &cmp, &wa, &wb), BRAID_EINVAL);
  braid__msg_free(a);
  braid__msg_free(b);
  braid__msg_free(bad);
}


/* Without a 'nomem' hook, a writer that cannot grow goes on quietly and
** braid__wbuf_to_msg reports BRAID_ENOMEM; after a reset it works again. */
static void test_writer_nomem(void) {
  braid_wbuf w;
  braid_msg *m = NULL;
  char big[4096];
  int rc;
  memset(&w, 0, sizeof w);
  memset(big, 'z', sizeof big);
  braid__fail_arm(1, 0); /* every allocation fails */
  braid__wire_put_header(&w, 1);
  braid__wire_put_string(&w, big, sizeof big);
  rc = braid__wbuf_to_msg(&w, &m);
  braid__fail_disarm(NULL, NULL);
  CHECK_EQ(rc, BRAID_ENOMEM);
  CHECK(m == NULL);
  CHECK_EQ(w.err, BRAID_ENOMEM);
  braid__wbuf_reset(&w);
  write_values(&w);
  CHECK_EQ(braid__wbuf_to_msg(&w, &m), BRAID_OK);
  braid__wbuf_free(&w);
  {
    Read rd;
    CHECK_EQ(read_values(m, &rd), BRAID_OK);
    CHECK_EQ(rd.i1, BIG_INT);
  }
  braid__msg_free(m);
}


int main(void) {
  static const ctest_case cases[] = {
    { "a message written in C crosses a core queue to another thread",
      test_queue_roundtrip },
    { "truncated and corrupt bytes are refused with a code",
      test_corrupt_refused },
    { "items written in C are ordered; a corrupt one is refused",
      test_order },
    { "a writer out of memory reports BRAID_ENOMEM at the end",
      test_writer_nomem },
    { NULL, NULL },
  };
  return ctest_run(cases);
}

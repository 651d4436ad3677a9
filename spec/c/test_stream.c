/*
** test_stream.c: a stream's reader that takes turns with its writer
** (stream.h, braid__stream_wait), from C alone. A reader that slept, was
** woken with bytes to decode, and then finds that the writer published
** nothing meanwhile waits for the end from then on (the two share one
** CPU: decoding in pieces would only add switches); a reader whose
** writer did publish in between goes on waking every few steps. Each
** side waits for the other's state under the stream's mutex, so the
** order of events is fixed whatever the scheduler does.
*/
#include <pthread.h>
#include <string.h>

#include "braidint.h"
#include "os.h"
#include "stream.h"
#include "ctest.h"

#define STEP 64

static unsigned char bytes[8192];

typedef struct Reader {
  braid_stream *s;
  int progress;             /* case 2: wait for 'go' before the 2nd wait */
  atomic_int decoded, go;   /* handshake of case 2 */
  braid_stream_view v1, v2; /* what each wait gave */
} Reader;


static void *reader(void *ud) {
  Reader *r = (Reader *)ud;
  braid__stream_wait(r->s, 1, &r->v1);
  if (r->progress) {
    atomic_store(&r->decoded, 1);
    while (!atomic_load(&r->go)) braid__sleep(0.0005);
  }
  braid__stream_wait(r->s, r->v1.len + 200, &r->v2); /* past case 2's 1100 */
  return NULL;
}


/* Polls (bounded: 30 s) until the reader sleeps in the stream, in its
** first wait ('second' 0: it has got nothing yet) or its second (it got
** the first 1024 bytes); then 'want' and 'to_end' are as that wait left
** them. */
static int reader_asleep(braid_stream *s, int second, size_t *want,
                         int *to_end) {
  double deadline = braid__now() + 30;
  for (;;) {
    int asleep;
    braid__mutex_lock(&s->mu);
    asleep = s->waiting == 1 && (second ? s->seen == 1024 : s->seen == 0);
    *want = s->want;
    *to_end = s->to_end;
    braid__mutex_unlock(&s->mu);
    if (asleep) return 1;
    if (braid__now() > deadline) return 0;
    braid__sleep(0.0005);
  }
}


static void run_case(int progress) {
  Reader r;
  pthread_t th;
  size_t min = 0, step = STEP, want = 0, turns0 = braid__stream_turns();
  size_t min0, step0;
  int to_end = -1;
  braid__stream_limits(&min0, &step0, 0);
  braid__stream_limits(&min, &step, 1); /* LOOKAHEAD_STEPS * 64 bytes */
  memset(&r, 0, sizeof r);
  r.s = braid__stream_new();
  r.progress = progress;
  CHECK(r.s != NULL);
  CHECK_EQ(pthread_create(&th, NULL, reader, &r), 0);
  /* the reader sleeps for its first byte (and LOOKAHEAD_STEPS more) */
  CHECK(reader_asleep(r.s, 0, &want, &to_end));
  CHECK_EQ(to_end, 0);
  braid__stream_publish(r.s, bytes, 1024, NULL, 0); /* wakes it */
  if (progress) { /* the writer goes on while the reader decodes */
    while (!atomic_load(&r.decoded)) braid__sleep(0.0005);
    braid__stream_publish(r.s, bytes, 1100, NULL, 0);
    atomic_store(&r.go, 1);
  }
  CHECK(reader_asleep(r.s, 1, &want, &to_end));
  if (progress) {
    /* still streaming: woken LOOKAHEAD_STEPS past what it needs */
    CHECK_EQ(to_end, 0);
    CHECK_EQ(want, 1024 + 200 + 4 * STEP);
    CHECK_EQ(braid__stream_turns(), turns0);
  } else {
    /* no progress since it woke: it sleeps until the end */
    CHECK_EQ(to_end, 1);
    CHECK_EQ(want, SIZE_MAX);
    CHECK_EQ(braid__stream_turns(), turns0 + 1);
  }
  braid__stream_fail(r.s); /* ends the stream: the reader returns */
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(r.v1.len, 1024);
  CHECK_EQ(r.v2.state, BRAID_STREAM_FAILED);
  braid__stream_release(r.s);
  braid__stream_limits(&min0, &step0, 1);
}


static void test_no_progress_waits_for_end(void) { run_case(0); }
static void test_progress_keeps_streaming(void) { run_case(1); }


int main(void) {
  static const ctest_case cases[] = {
    { "a reader that finds no progress after a sleep waits for the end",
      test_no_progress_waits_for_end },
    { "a reader whose writer published meanwhile goes on streaming",
      test_progress_keeps_streaming },
    { NULL, NULL }
  };
  return ctest_run(cases);
}

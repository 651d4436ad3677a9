/*
** stream.c: a message read while it is being written (see stream.h).
** See LICENSE for copyright and license.
**
** The writer publishes under 'mu' and signals only when a reader sleeps;
** a reader takes 'mu' only when it has read everything published so far.
** Publishing every few tens of kilobytes keeps both costs small.
*/
#include <string.h>

#include "alloc.h"
#include "stream.h"

/* Defaults: a start whose arguments stay under 128 KiB (encoded in well
** under a millisecond) is not worth a second thread's wake-ups. */
static atomic_size_t stream_min = 128 * 1024;
static atomic_size_t stream_step = 64 * 1024;


void braid__stream_limits(size_t *min, size_t *step, int set) {
  if (set && *min > 0) atomic_store(&stream_min, *min);
  if (set && *step > 0) atomic_store(&stream_step, *step);
  *min = atomic_load(&stream_min);
  *step = atomic_load(&stream_step);
}


braid_stream *braid__stream_new(void) {
  braid_stream *s = (braid_stream *)braid__calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  atomic_init(&s->refs, 1);
  braid__mutex_init(&s->mu);
  braid__cond_init(&s->cv);
  s->pub.state = BRAID_STREAM_OPEN;
  return s;
}


braid_stream *braid__stream_retain(braid_stream *s) {
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}


static void block_free(braid_stream_block *b) {
  size_t i;
  if (b->p == NULL) return;
  for (i = 0; i < b->nrelease; i++)
    braid__handle_release(((braid_handle **)b->p)[i]);
  braid__buf_free(b->p, b->cap);
  b->p = NULL;
}


void braid__stream_release(braid_stream *s) {
  size_t i;
  if (s == NULL ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (i = 0; i < s->nretired; i++) block_free(&s->retired[i]);
  braid__free(s->retired);
  block_free(&s->cur_buf);
  block_free(&s->cur_handles);
  braid__msg_free(s->final);
  braid__cond_destroy(&s->cv);
  braid__mutex_destroy(&s->mu);
  braid__free(s);
}


int braid__stream_retire(braid_stream *s, braid_stream_block b) {
  if (s->nretired == s->capretired) {
    size_t ncap = s->capretired ? 2 * s->capretired : 8;
    braid_stream_block *nr = (braid_stream_block *)braid__realloc(
        s->retired, ncap * sizeof *nr);
    if (nr == NULL) return BRAID_ENOMEM;
    s->retired = nr;
    s->capretired = ncap;
  }
  s->retired[s->nretired++] = b;
  return BRAID_OK;
}


/* Under 'mu': wakes the readers if any sleeps. */
static void wake(braid_stream *s) {
  if (s->waiting) braid__cond_broadcast(&s->cv);
}


/* A reader that caught up with the writer sleeps until this many
** publication steps more than it needs are readable (or the end): on a
** machine with more runnable threads than cores each wake-up may cost the
** writer its core for a time slice, and a reader woken at every step (72
** for 4.6 MB) made a streamed transfer slower than a plain one there
** (bench/README.md, big_table_queue). The reader then has at most this
** much left to decode when the writer ends. */
#define LOOKAHEAD_STEPS 4


void braid__stream_publish(braid_stream *s, const unsigned char *base,
                           size_t len, braid_handle *const *handles,
                           size_t nhandles) {
  braid__mutex_lock(&s->mu);
  s->pub.base = base;
  s->pub.len = len;
  s->pub.handles = handles;
  s->pub.nhandles = nhandles;
  if (len >= s->want) wake(s);
  braid__mutex_unlock(&s->mu);
  if (s->sink != NULL) s->sink(s->ud, &s->pub);
}


void braid__stream_complete(braid_stream *s, braid_msg *final, int restart) {
  braid__mutex_lock(&s->mu);
  s->final = final;
  s->pub.base = final->data;
  s->pub.len = final->len;
  s->pub.handles = final->handles;
  s->pub.nhandles = final->nhandles;
  s->pub.restart = restart;
  s->pub.state = BRAID_STREAM_DONE;
  wake(s);
  braid__mutex_unlock(&s->mu);
  if (s->sink != NULL) s->sink(s->ud, &s->pub);
}


void braid__stream_fail(braid_stream *s) {
  braid__mutex_lock(&s->mu);
  int was_open = s->pub.state == BRAID_STREAM_OPEN;
  if (was_open) s->pub.state = BRAID_STREAM_FAILED;
  wake(s);
  braid__mutex_unlock(&s->mu);
  if (was_open && s->sink != NULL) s->sink(s->ud, &s->pub);
}


void braid__stream_wait(braid_stream *s, size_t want, braid_stream_view *v) {
  size_t ahead = LOOKAHEAD_STEPS * atomic_load(&stream_step);
  if (s->pull != NULL) {
    s->pull(s->ud, s, want, v);
    return;
  }
  braid__mutex_lock(&s->mu);
  while (s->pub.len < want && s->pub.state == BRAID_STREAM_OPEN) {
    s->want = want > SIZE_MAX - ahead ? SIZE_MAX : want + ahead;
    s->waiting++;
    /* no deadline: an interrupt must not end this wait (intr.h) */
    braid__cond_wait(&s->cv, &s->mu, NULL);
    s->waiting--;
  }
  *v = s->pub;
  braid__mutex_unlock(&s->mu);
}

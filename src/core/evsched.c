/*
** evsched.c: the event queue of braid.sched (evsched.h).
** See LICENSE for copyright and license.
*/
#include <string.h>

#include "order.h"
#include "evsched.h"


void braid__sched_event_release(braid_sched_event *e) {
  if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1) {
    braid__msg_free(e->m);
    braid__free(e);
  }
}


static void sched_destroy(braid_handle *h) {
  braid_sched *s = (braid_sched *)h;
  size_t i;
  for (i = 0; i < s->n; i++) braid__sched_event_release(s->ev[i]);
  braid__free(s->ev);
  braid__msg_free(s->funcs);
  braid__mutex_destroy(&s->mu);
  braid__free(s);
}

const braid_handle_type braid__sched_type = { "braid.sched.scheduler",
                                              sched_destroy };


int braid__sched_new(braid_sched **out, braid_msg *funcs) {
  braid_sched *s = (braid_sched *)braid__calloc(1, sizeof *s);
  *out = NULL;
  if (s == NULL) return BRAID_ENOMEM;
  braid__mutex_init(&s->mu);
  s->funcs = funcs;
  braid__handle_init(&s->h, &braid__sched_type);
  *out = s;
  return BRAID_OK;
}


int64_t braid__sched_next_seq(braid_sched *s) {
  int64_t v;
  braid__mutex_lock(&s->mu);
  v = s->next_seq++;
  braid__mutex_unlock(&s->mu);
  return v;
}


/* Python's order of two events' (time, priority, sequence). */
static int cmp_events(const braid_sched_event *a, const braid_sched_event *b,
                      int *cmp, const char **wa, const char **wb) {
  braid_item x, y;
  if (a->time != b->time) {
    *cmp = a->time < b->time ? -1 : 1;
    return BRAID_OK;
  }
  x.m = a->m;
  x.idx = 0;
  y.m = b->m;
  y.idx = 0;
  return braid__item_compare(&x, &y, cmp, wa, wb);
}


int braid__sched_push(braid_sched *s, braid_msg *m, double time, int64_t seq,
                      const char **why_a, const char **why_b) {
  braid_sched_event *e = (braid_sched_event *)braid__calloc(1, sizeof *e);
  size_t lo, hi;
  int rc = BRAID_OK;
  if (e == NULL) {
    braid__msg_free(m);
    return BRAID_ENOMEM;
  }
  atomic_init(&e->refs, 1);
  e->m = m;
  e->time = time;
  e->seq = seq;
  braid__mutex_lock(&s->mu);
  if (s->n == s->cap) {
    size_t nc = s->cap ? 2 * s->cap : 16;
    braid_sched_event **p = (braid_sched_event **)braid__realloc(
        s->ev, nc * sizeof *p);
    if (p == NULL) {
      rc = BRAID_ENOMEM;
      goto fail;
    }
    s->ev = p;
    s->cap = nc;
  }
  /* Binary search for the first event after 'e'. */
  lo = 0;
  hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = 0;
    rc = cmp_events(s->ev[mid], e, &c, why_b, why_a);
    if (rc != BRAID_OK) goto fail;
    if (c <= 0) lo = mid + 1;
    else hi = mid;
  }
  memmove(s->ev + lo + 1, s->ev + lo, (s->n - lo) * sizeof *s->ev);
  s->ev[lo] = e;
  s->n++;
  braid__mutex_unlock(&s->mu);
  return BRAID_OK;
fail:
  braid__mutex_unlock(&s->mu);
  braid__sched_event_release(e);
  return rc;
}


int braid__sched_cancel(braid_sched *s, int64_t seq) {
  size_t i;
  braid_sched_event *e = NULL;
  braid__mutex_lock(&s->mu);
  for (i = 0; i < s->n; i++) {
    if (s->ev[i]->seq == seq) {
      e = s->ev[i];
      memmove(s->ev + i, s->ev + i + 1, (s->n - i - 1) * sizeof *s->ev);
      s->n--;
      break;
    }
  }
  braid__mutex_unlock(&s->mu);
  if (e == NULL) return BRAID_EINVAL;
  braid__sched_event_release(e);
  return BRAID_OK;
}


size_t braid__sched_count(braid_sched *s) {
  size_t n;
  braid__mutex_lock(&s->mu);
  n = s->n;
  braid__mutex_unlock(&s->mu);
  return n;
}


int braid__sched_pop_due(braid_sched *s, double now, braid_sched_event **out,
                         double *time) {
  int rc;
  *out = NULL;
  braid__mutex_lock(&s->mu);
  if (s->n == 0) {
    rc = BRAID_EEMPTY;
  } else if (s->ev[0]->time > now) {
    *time = s->ev[0]->time;
    rc = BRAID_ETIMEDOUT;
  } else {
    *out = s->ev[0];
    memmove(s->ev, s->ev + 1, (s->n - 1) * sizeof *s->ev);
    s->n--;
    rc = BRAID_OK;
  }
  braid__mutex_unlock(&s->mu);
  return rc;
}


int braid__sched_snapshot(braid_sched *s, braid_sched_event ***out,
                          size_t *n) {
  braid_sched_event **a;
  size_t i, want;
  *out = NULL;
  *n = 0;
  for (;;) {
    want = braid__sched_count(s);
    a = (braid_sched_event **)braid__malloc((want ? want : 1) * sizeof *a);
    if (a == NULL) return BRAID_ENOMEM;
    braid__mutex_lock(&s->mu);
    if (s->n <= want) break;
    braid__mutex_unlock(&s->mu); /* it grew meanwhile */
    braid__free(a);
  }
  for (i = 0; i < s->n; i++) {
    a[i] = s->ev[i];
    atomic_fetch_add(&a[i]->refs, 1);
  }
  *n = s->n;
  braid__mutex_unlock(&s->mu);
  *out = a;
  return BRAID_OK;
}

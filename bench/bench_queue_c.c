/*
** bench_queue_c.c: the C baseline of the queue benchmarks: a plain
** pthreads mutex + condition-variable queue of ints (an unbounded ring
** buffer; a put signals one sleeping consumer, a get sleeps on the
** condition variable when the queue is empty; no spinning).
**
**   bench_queue_c stream   [items [reps]]            (default 1000000 3)
**   bench_queue_c pingpong [round_trips [reps]]      (default 100000 3)
**   bench_queue_c fanout   [items [consumers [reps]]] (default 1000000 4 3)
**   bench_queue_c ring     [threads [hops [reps]]]   (default 4 20000 3)
**   bench_queue_c pairs    [pairs [round_trips [reps]]] (default 8 10000 3)
**   bench_queue_c line     [round_trips [reps]]      (default 200000 3)
**
** Prints "key value" lines (the best of 'reps' runs), read by bench/run.lua:
**   stream_items_per_s    one producer thread -> one consumer thread
**   pingpong_us           microseconds per round trip between two threads
**                         (two queues, one int each way)
**   fanout_items_per_s    one producer -> 'consumers' consumer threads
**   ring_hop_us           microseconds per hop of a token passed around a
**                         ring of 'threads' threads, one queue each
**   pairs_us              microseconds per round trip of each of 'pairs'
**                         ping-pong pairs running at once (wall time /
**                         round trips of one pair)
**   line_pingpong_us      microseconds per round trip of one cache line
**                         between two spinning threads (no queue, no
**                         lock): the floor of any hand-off between two
**                         cores, which on a virtual machine depends on
**                         where the host puts its vCPUs at the time
** Run it under taskset for the pinned figures (bench/spin_bench.lua).
** See LICENSE for copyright and license.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/* { ------ the queue */
typedef struct IntQueue {
  pthread_mutex_t mu;
  pthread_cond_t not_empty;
  long *buf;
  size_t cap, head, n; /* ring buffer: 'n' items from 'head' */
  int waiters;
} IntQueue;

static void q_init(IntQueue *q) {
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  q->cap = 1024;
  q->buf = (long *)malloc(q->cap * sizeof(long));
  if (q->buf == NULL) abort();
  q->head = q->n = 0;
  q->waiters = 0;
}

static void q_free(IntQueue *q) {
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->not_empty);
  free(q->buf);
}

static void q_put(IntQueue *q, long v) {
  pthread_mutex_lock(&q->mu);
  if (q->n == q->cap) { /* grow: unroll the ring into a bigger buffer */
    size_t ncap = q->cap * 2, i;
    long *nb = (long *)malloc(ncap * sizeof(long));
    if (nb == NULL) abort();
    for (i = 0; i < q->n; i++) nb[i] = q->buf[(q->head + i) % q->cap];
    free(q->buf);
    q->buf = nb;
    q->cap = ncap;
    q->head = 0;
  }
  q->buf[(q->head + q->n) % q->cap] = v;
  q->n++;
  if (q->waiters > 0) pthread_cond_signal(&q->not_empty);
  pthread_mutex_unlock(&q->mu);
}

static long q_get(IntQueue *q) {
  long v;
  pthread_mutex_lock(&q->mu);
  while (q->n == 0) {
    q->waiters++;
    pthread_cond_wait(&q->not_empty, &q->mu);
    q->waiters--;
  }
  v = q->buf[q->head];
  q->head = (q->head + 1) % q->cap;
  q->n--;
  pthread_mutex_unlock(&q->mu);
  return v;
}
/* } ------ */


typedef struct Job {
  IntQueue *in, *out;
  long n;
  long sum;
  int stops; /* fan-out: how many -1 to send */
} Job;


static void *producer(void *ud) {
  Job *j = (Job *)ud;
  long i;
  int k;
  for (i = 1; i <= j->n; i++) q_put(j->out, i);
  for (k = 0; k < j->stops; k++) q_put(j->out, -1);
  return NULL;
}


static void *consumer(void *ud) { /* until -1 */
  Job *j = (Job *)ud;
  long v, sum = 0;
  while ((v = q_get(j->in)) >= 0) sum += v;
  j->sum = sum;
  return NULL;
}


static void *echo(void *ud) { /* ping-pong partner, until -1 */
  Job *j = (Job *)ud;
  long v;
  while ((v = q_get(j->in)) >= 0) q_put(j->out, v + 1);
  return NULL;
}


static double bench_stream(long n) {
  IntQueue q;
  pthread_t tp, tc;
  Job p, c;
  double t0;
  q_init(&q);
  memset(&p, 0, sizeof p);
  memset(&c, 0, sizeof c);
  p.out = &q;
  p.n = n;
  p.stops = 1;
  c.in = &q;
  t0 = now();
  pthread_create(&tc, NULL, consumer, &c);
  pthread_create(&tp, NULL, producer, &p);
  pthread_join(tp, NULL);
  pthread_join(tc, NULL);
  t0 = now() - t0;
  if (c.sum != n * (n + 1) / 2) abort();
  q_free(&q);
  return (double)n / t0;
}


static double bench_pingpong(long n) {
  IntQueue a, b;
  pthread_t t;
  Job e;
  long i;
  double t0;
  q_init(&a);
  q_init(&b);
  e.in = &a;
  e.out = &b;
  pthread_create(&t, NULL, echo, &e);
  q_put(&a, 0); /* warm-up: the partner is running */
  q_get(&b);
  t0 = now();
  for (i = 0; i < n; i++) {
    q_put(&a, i);
    if (q_get(&b) != i + 1) abort();
  }
  t0 = now() - t0;
  q_put(&a, -1);
  pthread_join(t, NULL);
  q_free(&a);
  q_free(&b);
  return t0 * 1e6 / (double)n;
}


/* The cache-line floor: 'ping' and 'pong' on their own lines; each
** thread waits for the other's last value, then writes its own. */
static _Alignas(64) atomic_long line_ping;
static _Alignas(64) atomic_long line_pong;

static void *line_echo(void *ud) {
  long i, n = *(long *)ud;
  for (i = 1; i <= n; i++) {
    while (atomic_load_explicit(&line_ping, memory_order_acquire) != i) {
    }
    atomic_store_explicit(&line_pong, i, memory_order_release);
  }
  return NULL;
}

static double bench_line(long n) {
  pthread_t t;
  long i;
  double t0;
  atomic_store(&line_ping, 0);
  atomic_store(&line_pong, 0);
  pthread_create(&t, NULL, line_echo, &n);
  t0 = now();
  for (i = 1; i <= n; i++) {
    atomic_store_explicit(&line_ping, i, memory_order_release);
    while (atomic_load_explicit(&line_pong, memory_order_acquire) != i) {
    }
  }
  t0 = now() - t0;
  pthread_join(t, NULL);
  return t0 * 1e6 / (double)n;
}


static double bench_fanout(long n, int nc) {
  IntQueue q;
  pthread_t tp, *tc = (pthread_t *)malloc(sizeof(pthread_t) * (size_t)nc);
  Job p, *c = (Job *)calloc((size_t)nc, sizeof(Job));
  long sum = 0;
  double t0;
  int k;
  if (tc == NULL || c == NULL) abort();
  q_init(&q);
  memset(&p, 0, sizeof p);
  p.out = &q;
  p.n = n;
  p.stops = nc;
  t0 = now();
  for (k = 0; k < nc; k++) {
    c[k].in = &q;
    pthread_create(&tc[k], NULL, consumer, &c[k]);
  }
  pthread_create(&tp, NULL, producer, &p);
  pthread_join(tp, NULL);
  for (k = 0; k < nc; k++) {
    pthread_join(tc[k], NULL);
    sum += c[k].sum;
  }
  t0 = now() - t0;
  if (sum != n * (n + 1) / 2) abort();
  q_free(&q);
  free(tc);
  free(c);
  return (double)n / t0;
}


/* { ------ ring: a token around 'k' threads, thread i reads queue i and
** writes queue i+1; the thread that makes the last hop reports on 'done',
** a -1 then goes round to stop them all */
typedef struct RingJob {
  IntQueue *in, *out, *done;
  long hops;
} RingJob;

static void *ring_member(void *ud) {
  RingJob *j = (RingJob *)ud;
  for (;;) {
    long v = q_get(j->in);
    if (v < 0) {
      q_put(j->out, v);
      return NULL;
    }
    if (++v == j->hops) q_put(j->done, v);
    else q_put(j->out, v);
  }
}


static double bench_ring(int k, long hops) {
  IntQueue *qs = (IntQueue *)calloc((size_t)k, sizeof(IntQueue)), done;
  RingJob *js = (RingJob *)calloc((size_t)k, sizeof(RingJob));
  pthread_t *ts = (pthread_t *)calloc((size_t)k, sizeof(pthread_t));
  double t0;
  int i;
  if (qs == NULL || js == NULL || ts == NULL) abort();
  q_init(&done);
  for (i = 0; i < k; i++) q_init(&qs[i]);
  for (i = 0; i < k; i++) {
    js[i].in = &qs[i];
    js[i].out = &qs[(i + 1) % k];
    js[i].done = &done;
    js[i].hops = hops;
    pthread_create(&ts[i], NULL, ring_member, &js[i]);
  }
  t0 = now();
  q_put(&qs[0], 0);
  if (q_get(&done) != hops) abort();
  t0 = now() - t0;
  q_put(&qs[0], -1);
  for (i = 0; i < k; i++) pthread_join(ts[i], NULL);
  for (i = 0; i < k; i++) q_free(&qs[i]);
  q_free(&done);
  free(qs);
  free(js);
  free(ts);
  return t0 * 1e6 / (double)hops;
}
/* } ------ */


/* { ------ pairs: 'np' ping-pong pairs at once, each 'n' round trips */
typedef struct PairJob {
  IntQueue a, b;
  long n;
  pthread_mutex_t *gomu;
  pthread_cond_t *gocv;
  int *go;
} PairJob;

static void *pair_pinger(void *ud) {
  PairJob *j = (PairJob *)ud;
  long i;
  pthread_mutex_lock(j->gomu);
  while (!*j->go) pthread_cond_wait(j->gocv, j->gomu);
  pthread_mutex_unlock(j->gomu);
  for (i = 0; i < j->n; i++) {
    q_put(&j->a, i);
    if (q_get(&j->b) != i + 1) abort();
  }
  q_put(&j->a, -1);
  return NULL;
}

static void *pair_echo(void *ud) {
  PairJob *j = (PairJob *)ud;
  long v;
  while ((v = q_get(&j->a)) >= 0) q_put(&j->b, v + 1);
  return NULL;
}


static double bench_pairs(int np, long n) {
  PairJob *js = (PairJob *)calloc((size_t)np, sizeof(PairJob));
  pthread_t *ts = (pthread_t *)calloc((size_t)np * 2, sizeof(pthread_t));
  pthread_mutex_t gomu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t gocv = PTHREAD_COND_INITIALIZER;
  int go = 0, i;
  double t0;
  if (js == NULL || ts == NULL) abort();
  for (i = 0; i < np; i++) {
    q_init(&js[i].a);
    q_init(&js[i].b);
    js[i].n = n;
    js[i].gomu = &gomu;
    js[i].gocv = &gocv;
    js[i].go = &go;
    pthread_create(&ts[2 * i], NULL, pair_echo, &js[i]);
    pthread_create(&ts[2 * i + 1], NULL, pair_pinger, &js[i]);
  }
  t0 = now();
  pthread_mutex_lock(&gomu);
  go = 1;
  pthread_cond_broadcast(&gocv);
  pthread_mutex_unlock(&gomu);
  for (i = 0; i < 2 * np; i++) pthread_join(ts[i], NULL);
  t0 = now() - t0;
  for (i = 0; i < np; i++) {
    q_free(&js[i].a);
    q_free(&js[i].b);
  }
  free(js);
  free(ts);
  return t0 * 1e6 / (double)n;
}
/* } ------ */


static void usage(void) {
  fprintf(stderr,
          "usage: bench_queue_c stream [items [reps]]\n"
          "       bench_queue_c pingpong [round_trips [reps]]\n"
          "       bench_queue_c fanout [items [consumers [reps]]]\n"
          "       bench_queue_c ring [threads [hops [reps]]]\n"
          "       bench_queue_c pairs [pairs [round_trips [reps]]]\n"
          "       bench_queue_c line [round_trips [reps]]\n");
  exit(2);
}


/* The workloads of one count ("cmd [n [reps]]", 'n' by default 'dflt'):
** runs 'fn(n)' 'reps' times and prints the best with 'fmt', the highest
** when 'higher' (a rate), else the lowest (a time). */
static void run_one(int argc, char **argv, double (*fn)(long), long dflt,
                    int higher, const char *fmt) {
  long n = argc > 2 ? atol(argv[2]) : dflt;
  int reps = argc > 3 ? atoi(argv[3]) : 3, r;
  double best = higher ? 0 : 1e30;
  if (n < 1 || reps < 1) usage();
  for (r = 0; r < reps; r++) {
    double v = fn(n);
    if (higher ? v > best : v < best) best = v;
  }
  printf(fmt, best);
}


int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  int r;
  if (strcmp(cmd, "stream") == 0) {
    run_one(argc, argv, bench_stream, 1000000, 1, "stream_items_per_s %.0f\n");
  } else if (strcmp(cmd, "pingpong") == 0) {
    run_one(argc, argv, bench_pingpong, 100000, 0, "pingpong_us %.3f\n");
  } else if (strcmp(cmd, "line") == 0) {
    run_one(argc, argv, bench_line, 200000, 0, "line_pingpong_us %.3f\n");
  } else if (strcmp(cmd, "fanout") == 0) {
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    int nc = argc > 3 ? atoi(argv[3]) : 4;
    int reps = argc > 4 ? atoi(argv[4]) : 3;
    double best = 0;
    if (n < 1 || nc < 1 || reps < 1) usage();
    for (r = 0; r < reps; r++) {
      double v = bench_fanout(n, nc);
      if (v > best) best = v;
    }
    printf("fanout_items_per_s %.0f\n", best);
  } else if (strcmp(cmd, "ring") == 0 || strcmp(cmd, "pairs") == 0) {
    int ring = cmd[0] == 'r';
    int k = argc > 2 ? atoi(argv[2]) : (ring ? 4 : 8);
    long n = argc > 3 ? atol(argv[3]) : (ring ? 20000 : 10000);
    int reps = argc > 4 ? atoi(argv[4]) : 3;
    double best = 1e30;
    if (k < (ring ? 2 : 1) || n < 1 || reps < 1) usage();
    for (r = 0; r < reps; r++) {
      double v = ring ? bench_ring(k, n) : bench_pairs(k, n);
      if (v < best) best = v;
    }
    printf("%s %.3f\n", ring ? "ring_hop_us" : "pairs_us", best);
  } else {
    usage();
  }
  return 0;
}

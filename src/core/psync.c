/*
** psync.c: multiprocessing's synchronisation objects in shared memory.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pshared.h"
#include "intr.h"
#include "psync.h"

#define PSYNC_MAGIC 0x62507359u /* "bPsY" */
/* How often a waiter looks whether a lock's owner died (seconds). */
#define OWNER_CHECK 0.05

enum { B_FILLING = 0, B_DRAINING = 1, B_RESETTING = -1, B_BROKEN = -2 };

struct braid_psync_shm {
  uint32_t magic, kind;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t value;   /* lock: 0/1; rlock: count; semaphore: value; event */
  int64_t initial; /* bounded semaphore: maximum */
  int32_t owner_pid, owner_tid;
  uint64_t gen, tokens, sleepers; /* condition */
  int64_t parties, count, state;  /* barrier */
  double timeout;
  uint64_t action_len;
  unsigned char action[];
};


/*
** {======================================================
** Shared mappings
** =======================================================
*/

/* NULL with errno set on failure. Without memfd (ENOSYS: old kernel;
** EPERM: seccomp) the mapping is anonymous (fd -1: forked children only);
** any other failure of memfd_create (EMFILE, ENFILE: no descriptor left)
** is the caller's error, not a reason to make an object that cannot be
** handed to a spawned child. */
void *braid__pshm_map(size_t size, const char *name, int *fd) {
  void *p;
  int e;
  *fd = memfd_create(name, MFD_CLOEXEC);
  if (*fd >= 0) {
    if (ftruncate(*fd, (off_t)size) != 0) {
      e = errno;
      close(*fd);
      *fd = -1;
      errno = e;
      return NULL;
    }
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
  } else if (errno == ENOSYS || errno == EPERM) {
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0);
  } else {
    return NULL;
  }
  if (p == MAP_FAILED) {
    e = errno;
    if (*fd >= 0) close(*fd);
    *fd = -1;
    errno = e;
    return NULL;
  }
  return p;
}


void *braid__pshm_attach(int fd, size_t size, int *dupfd) {
  struct stat st;
  void *p;
  int d;
  if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < size)
    return NULL;
  d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return NULL;
  p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
  if (p == MAP_FAILED) {
    close(d);
    return NULL;
  }
  *dupfd = d;
  return p;
}


int braid__pid_dead(int pid) {
  char path[64], buf[512], *q;
  FILE *f;
  size_t n;
  if (pid <= 0) return 0;
  if (kill(pid, 0) != 0 && errno == ESRCH) return 1;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  f = fopen(path, "re");
  if (f == NULL) return errno == ENOENT;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  q = strrchr(buf, ')');
  return q != NULL && q[1] == ' ' && (q[2] == 'Z' || q[2] == 'X');
}
/* }====================================================== */


/*
** {======================================================
** Objects
** =======================================================
*/

static void psync_destroy(braid_handle *h) {
  braid_psync *p = (braid_psync *)h;
  if (p->lock) braid__handle_release(&p->lock->h);
  if (p->s) munmap(p->s, p->size);
  if (p->fd >= 0) close(p->fd);
  braid__free(p);
}

const braid_handle_type braid__psync_types[BRAID_PS_NKINDS] = {
  { "braid.mp.Lock", psync_destroy },
  { "braid.mp.RLock", psync_destroy },
  { "braid.mp.Semaphore", psync_destroy },
  { "braid.mp.BoundedSemaphore", psync_destroy },
  { "braid.mp.Condition", psync_destroy },
  { "braid.mp.Event", psync_destroy },
  { "braid.mp.Barrier", psync_destroy },
};


static braid_psync *wrap(int kind, int fd, size_t size, braid_psync_shm *s,
                         braid_psync *lock) {
  braid_psync *p = (braid_psync *)braid__calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->kind = kind;
  p->fd = fd;
  p->size = size;
  p->s = s;
  p->lock = lock ? (braid_psync *)braid__handle_retain(&lock->h) : NULL;
  braid__handle_init(&p->h, &braid__psync_types[kind]);
  return p;
}


int braid__psync_new(braid_psync **out, int kind, int64_t value,
                     braid_psync *lock, const void *action, size_t action_len,
                     double timeout) {
  size_t size = sizeof(braid_psync_shm) + action_len;
  braid_psync_shm *s;
  int fd;
  *out = NULL;
  s = (braid_psync_shm *)braid__pshm_map(size, braid__psync_types[kind].name,
                                         &fd);
  if (s == NULL) return errno == ENOMEM ? BRAID_ENOMEM : BRAID_EOS;
  if (braid__pmutex_init(&s->mu) != 0 || braid__pcond_init(&s->cv) != 0) {
    munmap(s, size);
    if (fd >= 0) close(fd);
    return BRAID_EOS;
  }
  s->magic = PSYNC_MAGIC;
  s->kind = (uint32_t)kind;
  s->value = value;
  s->initial = value;
  s->parties = value;
  s->timeout = timeout;
  s->action_len = action_len;
  if (action_len) memcpy(s->action, action, action_len);
  *out = wrap(kind, fd, size, s, lock);
  if (*out == NULL) {
    munmap(s, size);
    if (fd >= 0) close(fd);
    return BRAID_ENOMEM;
  }
  return BRAID_OK;
}


int braid__psync_attach(braid_psync **out, int kind, int fd, size_t size,
                        braid_psync *lock) {
  braid_psync_shm *s;
  int d;
  *out = NULL;
  if (kind < 0 || kind >= BRAID_PS_NKINDS || size < sizeof *s)
    return BRAID_EINVAL;
  s = (braid_psync_shm *)braid__pshm_attach(fd, size, &d);
  if (s == NULL) return BRAID_EOS;
  if (s->magic != PSYNC_MAGIC || s->kind != (uint32_t)kind ||
      s->action_len > size - sizeof *s) {
    munmap(s, size);
    close(d);
    return BRAID_EINVAL;
  }
  *out = wrap(kind, d, size, s, lock);
  if (*out == NULL) {
    munmap(s, size);
    close(d);
    return BRAID_ENOMEM;
  }
  return BRAID_OK;
}
/* }====================================================== */


/*
** {======================================================
** Locks and semaphores
** =======================================================
*/

static int32_t mytid(void) { return (int32_t)braid__native_id(); }

static int ismine(braid_psync_shm *s) {
  return s->value > 0 && s->owner_tid == mytid() &&
         s->owner_pid == (int32_t)getpid();
}


int braid__psync_acquire(braid_psync *p, int blocking, double timeout) {
  braid_psync_shm *s = p->s;
  braid__deadline d = braid__deadline_in(blocking ? timeout : 0);
  int died = 0, rc;
  braid__pmutex_lock(&s->mu);
  for (;;) {
    if (p->kind == BRAID_PS_RLOCK && ismine(s)) {
      s->value++;
      rc = BRAID_OK;
      break;
    }
    if (p->kind == BRAID_PS_LOCK || p->kind == BRAID_PS_RLOCK) {
      if (s->value == 0) {
        s->value = 1;
        s->owner_pid = (int32_t)getpid();
        s->owner_tid = mytid();
        rc = died ? BRAID_PSYNC_OWNER_DIED : BRAID_OK;
        break;
      }
      if (braid__pid_dead(s->owner_pid)) { /* take it over */
        s->value = 0;
        died = 1;
        continue;
      }
    } else if (s->value > 0) {
      s->value--;
      rc = BRAID_OK;
      break;
    }
    if (!blocking || braid__deadline_passed(&d)) {
      rc = BRAID_ETIMEDOUT;
      break;
    }
    if (p->kind == BRAID_PS_LOCK || p->kind == BRAID_PS_RLOCK)
      braid__pcond_wait_slice(&s->cv, &s->mu, &d, OWNER_CHECK);
    else
      braid__pcond_wait(&s->cv, &s->mu, &d);
  }
  braid__pmutex_unlock(&s->mu);
  return rc;
}


int braid__psync_release(braid_psync *p) {
  braid_psync_shm *s = p->s;
  int rc = BRAID_OK, wake = 0;
  braid__pmutex_lock(&s->mu);
  switch (p->kind) {
    case BRAID_PS_LOCK:
      if (s->value == 0) {
        rc = BRAID_ESTATE;
      } else {
        s->value = 0;
        s->owner_pid = s->owner_tid = 0;
        wake = 1;
      }
      break;
    case BRAID_PS_RLOCK:
      if (!ismine(s)) {
        rc = BRAID_EPERM;
      } else if (--s->value == 0) {
        s->owner_pid = s->owner_tid = 0;
        wake = 1;
      }
      break;
    default:
      if ((p->kind == BRAID_PS_BSEMAPHORE && s->value >= s->initial) ||
          s->value == INT64_MAX) {
        rc = BRAID_EINVAL;
      } else {
        s->value++;
        wake = 1;
      }
      break;
  }
  if (wake) pthread_cond_signal(&s->cv);
  braid__pmutex_unlock(&s->mu);
  return rc;
}


int64_t braid__psync_value(braid_psync *p) {
  braid_psync_shm *s = p->s;
  int64_t v;
  braid__pmutex_lock(&s->mu);
  v = s->value;
  braid__pmutex_unlock(&s->mu);
  return v;
}


int64_t braid__psync_owned(braid_psync *p) {
  braid_psync_shm *s = p->s;
  int64_t v;
  braid__pmutex_lock(&s->mu);
  v = ismine(s) ? s->value : 0;
  braid__pmutex_unlock(&s->mu);
  return v;
}
/* }====================================================== */


/*
** {======================================================
** Conditions
** =======================================================
*/

int braid__psync_wait(braid_psync *c, double timeout) {
  braid_psync_shm *s = c->s, *ls = c->lock->s;
  braid__deadline d = braid__deadline_in(timeout);
  uint64_t mygen;
  int64_t saved;
  int rc = BRAID_ETIMEDOUT;
  /* register as a sleeper while the lock is still held: a notify (which
  ** needs the lock) cannot come in between and be lost */
  braid__pmutex_lock(&ls->mu);
  if (!ismine(ls)) {
    braid__pmutex_unlock(&ls->mu);
    return BRAID_EPERM;
  }
  braid__pmutex_lock(&s->mu);
  mygen = s->gen;
  s->sleepers++;
  braid__pmutex_unlock(&s->mu);
  saved = ls->value; /* release every level */
  ls->value = 0;
  ls->owner_pid = ls->owner_tid = 0;
  pthread_cond_signal(&ls->cv);
  braid__pmutex_unlock(&ls->mu);
  braid__pmutex_lock(&s->mu);
  for (;;) {
    if (s->tokens > 0 && mygen < s->gen) {
      s->tokens--;
      rc = BRAID_OK;
      break;
    }
    if (braid__deadline_passed(&d)) break;
    braid__pcond_wait(&s->cv, &s->mu, &d);
  }
  s->sleepers--;
  if (s->tokens > s->sleepers) s->tokens = s->sleepers;
  braid__pmutex_unlock(&s->mu);
  /* take the lock back as it was; Ctrl-C must not end this wait */
  braid__intr_mask(1);
  braid__psync_acquire(c->lock, 1, -1);
  braid__intr_mask(-1);
  braid__pmutex_lock(&ls->mu);
  ls->value = saved;
  braid__pmutex_unlock(&ls->mu);
  return rc;
}


int braid__psync_notify(braid_psync *c, int64_t n) {
  braid_psync_shm *s = c->s;
  if (!braid__psync_owned(c->lock)) return BRAID_EPERM;
  braid__pmutex_lock(&s->mu);
  {
    uint64_t avail = s->sleepers - s->tokens;
    uint64_t k = (n < 0 || (uint64_t)n > avail) ? avail : (uint64_t)n;
    if (k > 0) {
      s->tokens += k;
      s->gen++;
      pthread_cond_broadcast(&s->cv);
    }
  }
  braid__pmutex_unlock(&s->mu);
  return BRAID_OK;
}
/* }====================================================== */


/*
** {======================================================
** Events
** =======================================================
*/

void braid__psync_set(braid_psync *e, int flag) {
  braid_psync_shm *s = e->s;
  braid__pmutex_lock(&s->mu);
  s->value = flag;
  if (flag) pthread_cond_broadcast(&s->cv);
  braid__pmutex_unlock(&s->mu);
}


int braid__psync_event_wait(braid_psync *e, double timeout) {
  braid_psync_shm *s = e->s;
  braid__deadline d = braid__deadline_in(timeout);
  int r;
  braid__pmutex_lock(&s->mu);
  while (!s->value && !braid__deadline_passed(&d))
    braid__pcond_wait(&s->cv, &s->mu, &d);
  r = s->value != 0;
  braid__pmutex_unlock(&s->mu);
  return r;
}
/* }====================================================== */


/*
** {======================================================
** Barriers (Python's algorithm)
** =======================================================
*/

/* The end of a wait: the last one out lets the next round in. */
static void bexit(braid_psync_shm *s) {
  s->count--;
  if (s->count == 0 && (s->state == B_RESETTING || s->state == B_DRAINING)) {
    s->state = B_FILLING;
    pthread_cond_broadcast(&s->cv);
  }
}


int braid__psync_bwait(braid_psync *b, double timeout, int64_t *index,
                       int *run_action) {
  braid_psync_shm *s = b->s;
  braid__deadline d = braid__deadline_in(timeout);
  int rc = BRAID_OK;
  *run_action = 0;
  braid__pmutex_lock(&s->mu);
  while (s->state == B_DRAINING || s->state == B_RESETTING)
    braid__pcond_wait(&s->cv, &s->mu, NULL);
  if (s->state == B_BROKEN) {
    braid__pmutex_unlock(&s->mu);
    return BRAID_EBROKEN;
  }
  *index = s->count++;
  if (*index + 1 == s->parties) {
    if (s->action_len > 0) {
      *run_action = 1; /* exits in braid__psync_action_done */
      braid__pmutex_unlock(&s->mu);
      return BRAID_OK;
    }
    s->state = B_DRAINING;
    pthread_cond_broadcast(&s->cv);
  } else {
    while (s->state == B_FILLING) {
      if (braid__pcond_wait(&s->cv, &s->mu, &d) && s->state == B_FILLING) {
        s->state = B_BROKEN; /* timed out: break the barrier */
        pthread_cond_broadcast(&s->cv);
        break;
      }
    }
    if (s->state < 0) rc = BRAID_EBROKEN;
  }
  bexit(s);
  braid__pmutex_unlock(&s->mu);
  return rc;
}


void braid__psync_action_done(braid_psync *b, int ok) {
  braid_psync_shm *s = b->s;
  braid__pmutex_lock(&s->mu);
  if (s->state == B_FILLING) s->state = ok ? B_DRAINING : B_BROKEN;
  pthread_cond_broadcast(&s->cv);
  bexit(s);
  braid__pmutex_unlock(&s->mu);
}


void braid__psync_action(braid_psync *b, const void **p, size_t *len) {
  *p = b->s->action;
  *len = (size_t)b->s->action_len;
}


void braid__psync_reset(braid_psync *b) {
  braid_psync_shm *s = b->s;
  braid__pmutex_lock(&s->mu);
  if (s->count > 0) {
    if (s->state == B_FILLING || s->state == B_BROKEN) s->state = B_RESETTING;
  } else {
    s->state = B_FILLING;
  }
  pthread_cond_broadcast(&s->cv);
  braid__pmutex_unlock(&s->mu);
}


void braid__psync_abort(braid_psync *b) {
  braid_psync_shm *s = b->s;
  braid__pmutex_lock(&s->mu);
  s->state = B_BROKEN;
  pthread_cond_broadcast(&s->cv);
  braid__pmutex_unlock(&s->mu);
}


void braid__psync_binfo(braid_psync *b, int64_t *parties, int64_t *n_waiting,
                        int *broken, double *timeout) {
  braid_psync_shm *s = b->s;
  braid__pmutex_lock(&s->mu);
  *parties = s->parties;
  *n_waiting = s->state == B_FILLING ? s->count : 0;
  *broken = s->state == B_BROKEN;
  *timeout = s->timeout;
  braid__pmutex_unlock(&s->mu);
}
/* }====================================================== */

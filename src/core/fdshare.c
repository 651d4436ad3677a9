/*
** fdshare.c: the descriptor sharer (fdshare.h has the protocol, the
** authentication and the lifetime of a ticket).
** See LICENSE for copyright and license.
**
** One entry per open file being shared, not per send: a second put of a
** descriptor of the same file (same device and inode: the same memfd)
** while the first is pending reuses the entry and counts one more use, so
** a map whose ten thousand items carry one Event holds one duplicate, not
** ten thousand. Each redemption takes one use; the last one closes the
** duplicate. An entry numbers its sends and keeps a bitmap of the serials
** redeemed, so each send is redeemed at most once.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fdshare.h"
#include "process.h"

typedef struct Entry {
  unsigned char secret[16];
  int fd;            /* our duplicate */
  dev_t dev;
  ino_t ino;
  uint64_t uses;     /* redemptions still due */
  uint64_t next;     /* serial of the next send */
  unsigned char *done; /* bitmap of the serials redeemed */
  size_t donecap;    /* bytes of 'done' */
} Entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static Entry *tab;
static size_t ntab, captab;
static int lfd = -1;          /* listening socket, -1 until started */
static uint64_t nonce;        /* of the socket's name */
static pid_t owner;           /* the process that started the server */


/* The abstract socket name of (pid, nonce): '\0' then text; returns its
** length. */
static socklen_t addr_of(struct sockaddr_un *a, long pid, uint64_t n) {
  int k;
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  k = snprintf(a->sun_path + 1, sizeof a->sun_path - 1,
               "braid-fds-%ld-%016llx", pid, (unsigned long long)n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)k);
}


/* Secrets and nonces come from OpenSSL's generator, as the
** authentication challenges do (auth.c). */
static int random_bytes(void *p, size_t n) {
  return RAND_bytes((unsigned char *)p, (int)n) == 1 ? 0 : -1;
}


/* A forked child holds copies of its parent's duplicates and listening
** socket but not the thread serving them: it lets go of all of them (its
** parent still serves its own tickets) and starts afresh on its first
** put. */
static void atfork_prepare(void) { pthread_mutex_lock(&mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&mu); }
static void atfork_child(void) {
  size_t i;
  for (i = 0; i < ntab; i++) {
    close(tab[i].fd);
    free(tab[i].done);
  }
  ntab = 0;
  if (lfd >= 0) close(lfd);
  lfd = -1;
  pthread_mutex_unlock(&mu);
}
static void init_once(void) {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}


static uint64_t get_le(const unsigned char *p, int n);

/* Redeems send 'key' (secret, serial) of its entry (mu held): the
** descriptor to hand over (the duplicate itself on the last use, a new
** duplicate before it), or -1 with errno set (ENOENT: no such entry, or
** that send was redeemed already). */
static int take_locked(const unsigned char *key) {
  uint64_t serial = get_le(key + 16, 8);
  size_t i;
  for (i = 0; i < ntab; i++) {
    Entry *e = &tab[i];
    if (CRYPTO_memcmp(e->secret, key, 16) == 0) { /* constant time */
      unsigned char bit;
      int fd;
      if (serial >= e->next) break;
      bit = (unsigned char)(1u << (serial & 7));
      if (e->done[serial >> 3] & bit) break;
      if (e->uses > 1) {
        fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) return -1;
        e->uses--;
      } else {
        fd = e->fd;
        free(e->done);
        *e = tab[--ntab];
        return fd;
      }
      e->done[serial >> 3] |= bit;
      return fd;
    }
  }
  errno = ENOENT;
  return -1;
}


int braid__fdshare_parse(const unsigned char *buf, size_t len,
                         unsigned char key[24]) {
  static const unsigned char head[8] = { 'B', 'R', 'F', 'Q', 2, 0, 0, 0 };
  size_t k = len < sizeof head ? len : sizeof head;
  if (memcmp(buf, head, k) != 0) return BRAID_EINVAL;
  if (len < BRAID_FDSHARE_REQUEST) return BRAID_EAGAIN;
  if (len > BRAID_FDSHARE_REQUEST) return BRAID_EINVAL;
  memcpy(key, buf + 8, 24);
  return BRAID_OK;
}


static void set_timeouts(int s) {
  struct timeval tv;
  tv.tv_sec = BRAID_FDSHARE_IO_MS / 1000;
  tv.tv_usec = (BRAID_FDSHARE_IO_MS % 1000) * 1000;
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}


/* Serves one connection: checks the peer's uid, reads one request (with
** a deadline), answers one status byte, with the descriptor when the
** ticket is known. */
static void serve_one(int c) {
  unsigned char buf[BRAID_FDSHARE_REQUEST], key[24], status = 1;
  struct ucred cr;
  socklen_t crl = sizeof cr;
  size_t got = 0;
  int rc = BRAID_EAGAIN, fd = -1;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 ||
      cr.uid != geteuid())
    return;
  set_timeouts(c);
  while (rc == BRAID_EAGAIN) {
    ssize_t r = recv(c, buf + got, sizeof buf - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    got += (size_t)r;
    rc = braid__fdshare_parse(buf, got, key);
  }
  if (rc != BRAID_OK) return;
  pthread_mutex_lock(&mu);
  fd = take_locked(key);
  pthread_mutex_unlock(&mu);
  {
    struct msghdr mh;
    struct iovec iov;
    union {
      struct cmsghdr align;
      char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    ssize_t w;
    memset(&mh, 0, sizeof mh);
    memset(&cm, 0, sizeof cm);
    status = fd >= 0 ? 0 : 1;
    iov.iov_base = &status;
    iov.iov_len = 1;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (fd >= 0) {
      struct cmsghdr *h;
      mh.msg_control = cm.buf;
      mh.msg_controllen = sizeof cm.buf;
      h = CMSG_FIRSTHDR(&mh);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(h), &fd, sizeof fd);
    }
    do {
      w = sendmsg(c, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    /* the message in flight holds its own reference to the file; a failed
    ** send loses the use, as a redeemer that went away wanted it */
    if (fd >= 0) close(fd);
  }
}


static void *serve(void *arg) {
  int s = (int)(intptr_t)arg;
  for (;;) {
    int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        /* out of descriptors: the pending client waits, and is served
        ** once some are freed (not a busy loop) */
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        continue;
      }
      return NULL; /* the socket is gone */
    }
    serve_one(c);
    close(c);
  }
}


/* Starts the server (mu held). */
static int start_locked(void) {
  struct sockaddr_un a;
  socklen_t al;
  pthread_t th;
  pthread_attr_t at;
  sigset_t all, old;
  int s, e;
  if (random_bytes(&nonce, sizeof nonce) != 0) return BRAID_EOS;
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return BRAID_EOS;
  al = addr_of(&a, (long)getpid(), nonce);
  if (bind(s, (struct sockaddr *)&a, al) != 0 || listen(s, 128) != 0) {
    e = errno;
    close(s);
    errno = e;
    return BRAID_EOS;
  }
  /* the thread takes no signals: they stay the program's (Ctrl-C goes to
  ** the main state, as without a sharer) */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&at, 64 * 1024);
  e = pthread_create(&th, &at, serve, (void *)(intptr_t)s);
  pthread_attr_destroy(&at);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    close(s);
    errno = e;
    return BRAID_EOS;
  }
  lfd = s;
  owner = getpid();
  return BRAID_OK;
}


static void put_le(unsigned char *p, uint64_t v, int n) {
  int i;
  for (i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  int i;
  for (i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}


int braid__fdshare_put(int fd, unsigned char t[BRAID_FDSHARE_TICKET]) {
  struct stat st;
  Entry *e = NULL;
  size_t i;
  int rc = BRAID_OK;
  if (fstat(fd, &st) != 0) return BRAID_EOS;
  pthread_once(&once, init_once);
  pthread_mutex_lock(&mu);
  if (lfd < 0) rc = start_locked();
  for (i = 0; rc == BRAID_OK && i < ntab; i++) {
    if (tab[i].dev == st.st_dev && tab[i].ino == st.st_ino) {
      e = &tab[i];
      break;
    }
  }
  if (rc == BRAID_OK && e == NULL) {
    if (ntab == captab) {
      size_t n = captab ? 2 * captab : 8;
      Entry *nt = (Entry *)realloc(tab, n * sizeof *nt);
      if (nt == NULL) rc = BRAID_ENOMEM;
      else {
        tab = nt;
        captab = n;
      }
    }
    if (rc == BRAID_OK) {
      e = &tab[ntab];
      e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (e->fd < 0 || random_bytes(e->secret, 16) != 0) {
        int err = errno;
        if (e->fd >= 0) close(e->fd);
        errno = err;
        rc = BRAID_EOS;
      } else {
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->uses = 0;
        e->next = 0;
        e->done = NULL;
        e->donecap = 0;
        ntab++;
      }
    }
  }
  if (rc == BRAID_OK && (e->next >> 3) >= e->donecap) { /* room for a bit */
    size_t n = e->donecap ? 2 * e->donecap : 8;
    unsigned char *nd = (unsigned char *)realloc(e->done, n);
    if (nd == NULL) {
      rc = BRAID_ENOMEM;
      if (e->uses == 0) { /* new: drop it */
        close(e->fd);
        free(e->done);
        *e = tab[--ntab];
      }
    } else {
      memset(nd + e->donecap, 0, n - e->donecap);
      e->done = nd;
      e->donecap = n;
    }
  }
  if (rc == BRAID_OK) {
    memcpy(t, "BRFD", 4);
    put_le(t + 4, (uint64_t)(uint32_t)owner, 4);
    put_le(t + 8, nonce, 8);
    memcpy(t + 16, e->secret, 16);
    put_le(t + 32, e->next, 8);
    e->next++;
    e->uses++;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}


size_t braid__fdshare_pending(void) {
  size_t i, n = 0;
  pthread_mutex_lock(&mu);
  for (i = 0; i < ntab; i++) n += (size_t)tab[i].uses;
  pthread_mutex_unlock(&mu);
  return n;
}


/* Asks the sharer of (pid, n) for the descriptor of 'key' (secret,
** serial). */
static int take_remote(long pid, uint64_t n, const unsigned char *key,
                       int *fd) {
  struct sockaddr_un a;
  socklen_t al = addr_of(&a, pid, n);
  unsigned char req[BRAID_FDSHARE_REQUEST] = { 'B', 'R', 'F', 'Q', 2, 0, 0, 0 };
  unsigned char status = 1;
  struct ucred cr;
  socklen_t crl = sizeof cr;
  struct msghdr mh;
  struct iovec iov;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(4 * sizeof(int))];
  } cm;
  struct cmsghdr *h;
  ssize_t r;
  int s, e, got = -1;
  memcpy(req + 8, key, 24);
  s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return BRAID_EOS;
  set_timeouts(s);
  do {
    r = connect(s, (struct sockaddr *)&a, al);
  } while (r != 0 && errno == EINTR);
  if (r != 0) goto fail;
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0) goto fail;
  if (cr.uid != geteuid() || (long)cr.pid != pid) {
    errno = EPERM; /* someone else took the name: ask it nothing */
    goto fail;
  }
  if (braid__fd_write_all(s, req, sizeof req) != BRAID_OK) goto fail;
  memset(&mh, 0, sizeof mh);
  iov.iov_base = &status;
  iov.iov_len = 1;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cm.buf;
  mh.msg_controllen = sizeof cm.buf;
  do {
    r = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) errno = ETIMEDOUT;
    goto fail;
  }
  for (h = CMSG_FIRSTHDR(&mh); h != NULL; h = CMSG_NXTHDR(&mh, h)) {
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
      int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i, v;
      for (i = 0; i < k; i++) { /* one expected: close any other */
        memcpy(&v, CMSG_DATA(h) + (size_t)i * sizeof(int), sizeof v);
        if (got < 0) got = v;
        else close(v);
      }
    }
  }
  close(s);
  if (r == 1 && status == 0 && got >= 0) {
    *fd = got;
    return BRAID_OK;
  }
  if (got >= 0) close(got);
  errno = r == 0 ? ECONNRESET : ENOENT;
  return BRAID_EOS;
fail:
  e = errno;
  close(s);
  errno = e;
  return BRAID_EOS;
}


int braid__fdshare_addr(const unsigned char *t, size_t len,
                        struct sockaddr_un *a, socklen_t *alen) {
  if (len != BRAID_FDSHARE_TICKET || memcmp(t, "BRFD", 4) != 0)
    return BRAID_EINVAL;
  *alen = addr_of(a, (long)get_le(t + 4, 4), get_le(t + 8, 8));
  return BRAID_OK;
}


int braid__fdshare_take(const unsigned char *t, size_t len, int *fd,
                        long *pid) {
  long p;
  uint64_t n;
  int local;
  *fd = -1;
  if (len != BRAID_FDSHARE_TICKET || memcmp(t, "BRFD", 4) != 0)
    return BRAID_EINVAL;
  p = (long)get_le(t + 4, 4);
  n = get_le(t + 8, 8);
  if (pid) *pid = p;
  pthread_mutex_lock(&mu);
  local = lfd >= 0 && p == (long)owner && n == nonce &&
          (long)getpid() == p;
  if (local) {
    /* a ticket of this process (an mp.Queue or a Pipe within it): taken
    ** from the table, no socket */
    *fd = take_locked(t + 16);
  }
  pthread_mutex_unlock(&mu);
  if (local) return *fd >= 0 ? BRAID_OK : BRAID_EOS;
  return take_remote(p, n, t + 16, fd);
}

/*
** process.c: fork, spawn, forkserver, sentinels and exit codes.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "environ.h"
#include "intr.h"
#include "os.h"
#include "process.h"
#include "queue.h"
#include "spin.h"



static int pidfd_of(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
#else
  (void)pid;
#endif
  return -1;
}


/* Test hook (braid.core._test.fail_forks): the next 'n' process
** creations of this process fail with EAGAIN, as fork does at
** RLIMIT_NPROC. One atomic load per creation when unused. */
static atomic_int fail_forks;

void braid__proc_fail_forks(int n) { atomic_store(&fail_forks, n); }

static int injected_failure(void) {
  int n = atomic_load(&fail_forks);
  while (n > 0) {
    if (atomic_compare_exchange_weak(&fail_forks, &n, n - 1)) return 1;
  }
  return 0;
}


/* After an interrupt cancelled everything (intr.h), no process is
** started: the exit is ending the children it knows, and a pool replacing
** a worker it saw die would start one it no longer knows of (a
** forkserver's child would outlive the server as an orphan). */
static int refused_during_exit(void) {
  if (!braid__intr_cancelled()) return 0;
  errno = EINTR;
  return 1;
}


/* Kills and reaps a child that cannot be watched (no descriptor for its
** sentinel), keeping errno: its start then fails with nothing left. */
static void abandon(pid_t pid) {
  int e = errno;
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  errno = e;
}


pid_t braid__proc_fork(int *sentinel) {
  pid_t pid;
  int reserve, e;
  if (refused_during_exit()) return BRAID_EOS;
  if (injected_failure()) {
    errno = EAGAIN;
    return BRAID_EOS;
  }
  /* The pidfd needs a descriptor, and a forked child runs the program at
  ** once: take one before forking (EMFILE fails the start with no child)
  ** and give it back just before pidfd_open. Only another thread taking
  ** that slot in between can still make pidfd_open fail: the child is
  ** then killed and reaped. */
  reserve = eventfd(0, EFD_CLOEXEC);
  if (reserve < 0) return BRAID_EOS;
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    /* failure injection (failalloc.h) counts the parent's allocations:
    ** the child is not part of the scenario under test */
    atomic_store_explicit(&braid__fail_on, 0, memory_order_relaxed);
    braid__intr_after_fork(); /* the parent's children are not ours */
    /* another thread may have held the environment lock at the fork
    ** (environ.h); it does not exist here */
    braid__environ_after_fork();
    close(reserve);
    return 0;
  }
  e = errno;
  close(reserve);
  if (pid < 0) {
    errno = e;
    return BRAID_EOS;
  }
  braid__alloc_note_fork();
  *sentinel = pidfd_of(pid);
  if (*sentinel < 0) { /* no pidfd (Linux < 5.3) or no descriptor */
    abandon(pid);
    return BRAID_EOS;
  }
  braid__child_add(pid, 1);
  return pid;
}


pid_t braid__proc_spawn(char *const argv[], const int *keep, int nkeep,
                        int *sentinel) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, dfl;
  pid_t pid;
  int i, rc, reserve;
  if (refused_during_exit()) return BRAID_EOS;
  if (injected_failure()) {
    errno = EAGAIN;
    return BRAID_EOS;
  }
  reserve = eventfd(0, EFD_CLOEXEC); /* for the pidfd, as in fork */
  if (reserve < 0) return BRAID_EOS;
  posix_spawn_file_actions_init(&fa);
  for (i = 0; i < nkeep; i++) /* dup2(fd, fd) clears FD_CLOEXEC */
    posix_spawn_file_actions_adddup2(&fa, keep[i], keep[i]);
  posix_spawnattr_init(&at);
  sigemptyset(&none);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGCHLD);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGTERM);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &dfl);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  fflush(NULL);
  braid__environ_lock(); /* environ.h: a consistent copy for the child */
  rc = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
  braid__environ_unlock();
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(reserve);
  if (rc != 0) {
    errno = rc;
    return BRAID_EOS;
  }
  *sentinel = pidfd_of(pid);
  if (*sentinel < 0) {
    abandon(pid);
    return BRAID_EOS;
  }
  braid__child_add(pid, 1);
  return pid;
}


int braid__proc_code(int status) {
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 255;
}


int braid__proc_reap(pid_t pid, int block, int *code) {
  int status;
  pid_t r;
  do {
    r = waitpid(pid, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return -1;
  if (r == 0) return 0;
  braid__child_remove(r);
  *code = braid__proc_code(status);
  return 1;
}


long braid__fd_spin_ns(void) {
  return braid__spin_start() ? braid__queue_spin_ns(-1) : 0;
}


int braid__fd_wait(int fd, double timeout) {
  return braid__fd_wait_spin(fd, timeout, braid__fd_spin_ns());
}


int braid__fd_wait_spin(int fd, double timeout, long spin_ns) {
  struct pollfd p;
  braid__deadline d = braid__deadline_in(timeout);
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  if (braid__poll_spin(&p, 1, spin_ns, timeout) > 0) return 1;
  for (;;) {
    int ms = braid__deadline_poll_ms(&d); /* sliced: intr.h */
    int r;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    r = braid__poll(&p, 1, ms);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return 1; /* let the read report it */
    if (r == 0 && braid__deadline_passed(&d)) return 0;
  }
}


int braid__fd_write_all(int fd, const void *p, size_t n) {
  const char *c = (const char *)p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == ENOTSOCK) w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return (errno == EPIPE || errno == ECONNRESET) ? BRAID_ECLOSED
                                                    : BRAID_EOS;
    }
    c += w;
    n -= (size_t)w;
  }
  return BRAID_OK;
}


int braid__fd_read_all(int fd, void *p, size_t n, size_t *got) {
  char *c = (char *)p;
  size_t done = 0;
  while (done < n) {
    ssize_t r = read(fd, c + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (got) *got = done;
      return errno == ECONNRESET ? BRAID_ECLOSED : BRAID_EOS;
    }
    if (r == 0) {
      if (got) *got = done;
      return BRAID_ECLOSED;
    }
    done += (size_t)r;
  }
  if (got) *got = done;
  return BRAID_OK;
}


/*
** {======================================================
** Forkserver
** =======================================================
*/

typedef struct FsHeader {
  uint64_t len;
  int32_t fail; /* injected failure (braid__proc_fail_forks): no fork */
  int32_t nfds;
  int32_t orig[BRAID_PROC_MAXFDS];
} FsHeader;

typedef struct FsChild {
  pid_t pid;
  int statusfd;
} FsChild;

static int sigpipe_w = -1;

static void on_sigchld(int sig) {
  int e = errno;
  char c = 0;
  (void)sig;
  if (write(sigpipe_w, &c, 1) < 0) { /* full: a wake-up is pending */ }
  errno = e;
}


static int recv_request(int sock, FsHeader *h, int *fds) {
  struct msghdr mh;
  struct iovec iov;
  union {
    char buf[CMSG_SPACE(sizeof(int) * (BRAID_PROC_MAXFDS + 1))];
    struct cmsghdr align;
  } cm;
  struct cmsghdr *c;
  ssize_t r;
  int n = 0;
  memset(&mh, 0, sizeof mh);
  iov.iov_base = h;
  iov.iov_len = sizeof *h;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cm.buf;
  mh.msg_controllen = sizeof cm.buf;
  do {
    r = recvmsg(sock, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return -1;
  for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      memcpy(fds + n, CMSG_DATA(c), (size_t)k * sizeof(int));
      n += k;
    }
  }
  if ((size_t)r < sizeof *h) { /* the rest of the header, if split */
    if (braid__fd_read_all(sock, (char *)h + r, sizeof *h - (size_t)r,
                           NULL) != BRAID_OK)
      return -1;
  }
  if (h->nfds < 0 || h->nfds > BRAID_PROC_MAXFDS || n != h->nfds + 1)
    return -1;
  return n;
}


/* In the forked child: the received descriptors get their client numbers
** (first all moved out of the way, above every target number, then
** dup2'ed into place). Not a fixed number such as 1024: the descriptor
** limit may be lower (the client's numbers are below it). */
static void place_fds(const FsHeader *h, int *fds) {
  int i, above = 0;
  for (i = 0; i < h->nfds; i++)
    if (h->orig[i] >= above) above = h->orig[i] + 1;
  for (i = 0; i < h->nfds; i++) {
    int high = fcntl(fds[i + 1], F_DUPFD_CLOEXEC, above);
    close(fds[i + 1]);
    fds[i + 1] = high;
  }
  for (i = 0; i < h->nfds; i++) {
    dup2(fds[i + 1], h->orig[i]);
    fcntl(h->orig[i], F_SETFD, FD_CLOEXEC);
  }
  for (i = 0; i < h->nfds; i++) {
    int j, used = 0;
    for (j = 0; j < h->nfds; j++) used |= h->orig[j] == fds[i + 1];
    if (!used) close(fds[i + 1]);
  }
}


int braid__forkserver_serve(int sock, unsigned char **payload, size_t *len) {
  FsChild *kids = NULL;
  size_t nkids = 0, capkids = 0, i;
  int sp[2];
  struct sigaction sa, ign, old_int;
  if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) != 0) return BRAID_EOS;
  sigpipe_w = sp[1];
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  /* The server itself is not interrupted by Ctrl-C (its children are
  ** ended by their parent's exit); each child gets back the action the
  ** server had before, as Python's forkserver restores its handlers:
  ** braid's handler, so that a child raises KeyboardInterrupt. */
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ign, &old_int);
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    struct pollfd p[2];
    p[0].fd = sock;
    p[0].events = POLLIN;
    p[1].fd = sp[0];
    p[1].events = POLLIN;
    p[0].revents = p[1].revents = 0;
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents) { /* reap */
      char junk[64];
      int status;
      pid_t r;
      while (read(sp[0], junk, sizeof junk) > 0) {}
      while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < nkids; i++) {
          if (kids[i].pid == r) {
            int32_t code = braid__proc_code(status);
            if (braid__fd_write_all(kids[i].statusfd, &code, sizeof code)) {}
            close(kids[i].statusfd);
            kids[i] = kids[--nkids];
            break;
          }
        }
      }
    }
    if (p[0].revents) {
      FsHeader h;
      int fds[BRAID_PROC_MAXFDS + 1], n, k;
      unsigned char *buf;
      pid_t pid;
      int64_t pid64;
      n = recv_request(sock, &h, fds);
      if (n < 0) _exit(0); /* the client went away */
      buf = (unsigned char *)braid__malloc(h.len ? (size_t)h.len : 1);
      if (buf == NULL ||
          braid__fd_read_all(sock, buf, (size_t)h.len, NULL) != BRAID_OK)
        _exit(1);
      if (nkids == capkids) {
        capkids = capkids ? capkids * 2 : 16;
        kids = (FsChild *)braid__realloc(kids, capkids * sizeof *kids);
        if (kids == NULL) _exit(1);
      }
      if (h.fail) {
        pid = -1;
        errno = EAGAIN;
      } else {
        pid = fork();
      }
      if (pid == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &dfl, NULL);
        sigaction(SIGINT, &old_int, NULL);
        signal(SIGPIPE, SIG_DFL);
        close(sock);
        close(sp[0]);
        close(sp[1]);
        close(fds[0]);
        for (i = 0; i < nkids; i++) close(kids[i].statusfd);
        free(kids);
        place_fds(&h, fds);
        *payload = buf;
        *len = (size_t)h.len;
        return BRAID_OK;
      }
      pid64 = pid < 0 ? -(int64_t)errno : pid; /* the client's errno */
      free(buf);
      for (k = 1; k < n; k++) close(fds[k]);
      if (pid < 0) {
        if (braid__fd_write_all(fds[0], &pid64, sizeof pid64)) {}
        close(fds[0]);
        continue;
      }
      if (braid__fd_write_all(fds[0], &pid64, sizeof pid64)) {}
      kids[nkids].pid = pid;
      kids[nkids].statusfd = fds[0];
      nkids++;
      /* a child may have ended before it was listed */
      if (write(sp[1], "", 1) < 0) {}
    }
  }
}


static pthread_mutex_t fs_mu = PTHREAD_MUTEX_INITIALIZER;

pid_t braid__forkserver_request(int sock, const void *payload, size_t len,
                                const int *fds, int nfds, int *sentinel) {
  FsHeader h;
  struct msghdr mh;
  struct iovec iov;
  union {
    char buf[CMSG_SPACE(sizeof(int) * (BRAID_PROC_MAXFDS + 1))];
    struct cmsghdr align;
  } cm;
  struct cmsghdr *c;
  int sp[2], rc, i;
  int64_t pid64;
  ssize_t w;
  if (refused_during_exit()) return BRAID_EOS;
  if (nfds > BRAID_PROC_MAXFDS) {
    errno = EMFILE;
    return BRAID_EOS;
  }
  if (pipe2(sp, O_CLOEXEC) != 0) return BRAID_EOS;
  memset(&h, 0, sizeof h);
  h.len = len;
  h.fail = injected_failure();
  h.nfds = nfds;
  for (i = 0; i < nfds; i++) h.orig[i] = fds[i];
  memset(&mh, 0, sizeof mh);
  memset(&cm, 0, sizeof cm);
  iov.iov_base = &h;
  iov.iov_len = sizeof h;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cm.buf;
  mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)(nfds + 1));
  c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)(nfds + 1));
  memcpy(CMSG_DATA(c), &sp[1], sizeof(int));
  if (nfds) memcpy(CMSG_DATA(c) + sizeof(int), fds, sizeof(int) * (size_t)nfds);
  pthread_mutex_lock(&fs_mu);
  do {
    w = sendmsg(sock, &mh, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  rc = w < 0 ? BRAID_ECLOSED : BRAID_OK;
  if (rc == BRAID_OK && (size_t)w < sizeof h)
    rc = braid__fd_write_all(sock, (char *)&h + w, sizeof h - (size_t)w);
  if (rc == BRAID_OK) rc = braid__fd_write_all(sock, payload, len);
  pthread_mutex_unlock(&fs_mu);
  close(sp[1]);
  if (rc == BRAID_OK) rc = braid__fd_read_all(sp[0], &pid64, sizeof pid64, NULL);
  if (rc != BRAID_OK || pid64 <= 0) {
    close(sp[0]);
    /* the server's fork failed (-errno), or the server is gone */
    errno = rc != BRAID_OK ? EPIPE : pid64 < 0 ? (int)-pid64 : EIO;
    return BRAID_EOS;
  }
  *sentinel = sp[0];
  braid__child_add((pid_t)pid64, 0); /* the server's child, ours to end */
  return (pid_t)pid64;
}


int braid__forkserver_status(int sentinel, int *code) {
  int32_t c;
  size_t got = 0;
  if (!braid__fd_wait(sentinel, 0)) return 0;
  if (braid__fd_read_all(sentinel, &c, sizeof c, &got) != BRAID_OK) return -1;
  *code = c;
  return 1;
}
/* }====================================================== */

/*
** subproc.c: spawning programs with redirections (vfork + exec), waiting
** for them, and the parent's pipe I/O (braid.subprocess).
** See LICENSE for copyright and license.
**
** Why vfork and not posix_spawn: posix_spawn has no umask, and its
** closefrom cannot keep pass_fds; glibc's posix_spawn is itself a
** clone(CLONE_VM | CLONE_VFORK), which is what vfork gives us, with the
** child's steps in our hands. The rules of a vfork child (it shares the
** parent's memory until exec): it only calls async-signal-safe functions,
** writes nothing but its own stack (and errno, the vforking thread's, which
** the parent does not read until it resets it), and never returns from the
** function that called vfork. All signals are blocked in the parent
** thread across vfork, so no handler of the parent runs in the child on
** the shared memory; the child resets caught signals to their default
** action before it unblocks them.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "environ.h"
#include "intr.h"
#include "os.h"
#include "process.h"
#include "subproc.h"

typedef struct Report {
  int stage;
  int err;
} Report;


__attribute__((noreturn)) static void child_fail(int errfd, int stage, int err) {
  Report r;
  r.stage = stage;
  r.err = err;
  while (write(errfd, &r, sizeof r) < 0 && errno == EINTR) {}
  _exit(127);
}


/* Closes [lo, hi] (hi < 0: to the end), close_range where the kernel has
** it, else one by one up to 'max'. */
static void close_span(int lo, int hi, int max) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)lo,
              hi < 0 ? ~0U : (unsigned)hi, 0) == 0)
    return;
#endif
  if (hi < 0 || hi >= max) hi = max - 1;
  for (; lo <= hi; lo++) close(lo);
}


/* Closes every descriptor >= 3 but pass_fds and 'errfd' (the kept ones
** merged in ascending order without allocating). */
static void close_others(const braid_spawn *s, int errfd, int max) {
  int lo = 3, i = 0, errdone = 0;
  for (;;) {
    int k;
    if (i < s->npass && (errdone || s->pass_fds[i] < errfd))
      k = s->pass_fds[i++];
    else if (!errdone) {
      k = errfd;
      errdone = 1;
    } else
      break;
    if (k > lo) close_span(lo, k - 1, max);
    if (k + 1 > lo) lo = k + 1;
  }
  close_span(lo, -1, max);
}


__attribute__((noreturn, noinline)) static void child_exec(const braid_spawn *s,
                                                 int errfd,
                                                 int max) {
  struct sigaction sa;
  sigset_t none;
  int src[3], i, sig, err = ENOENT;
  for (sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sigaction(sig, NULL, &sa) != 0) continue;
    if (sa.sa_handler == SIG_DFL) continue;
    if (sa.sa_handler == SIG_IGN && !(s->restore_signals &&
                                      (sig == SIGPIPE || sig == SIGXFSZ)))
      continue; /* ignored dispositions are inherited, as in Python */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
  }
  /* A worker thread blocks SIGINT (intr.h); its children must not. */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* A source among 0..2 that another redirection would overwrite first
  ** is moved up (e.g. stdout=2, stderr=1). */
  for (i = 0; i < 3; i++) {
    src[i] = s->fd[i];
    if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
      src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
      if (src[i] < 0) child_fail(errfd, BRAID_SPAWN_SETUP, errno);
    }
  }
  for (i = 0; i < 3; i++) {
    if (i == 2 && src[i] == BRAID_SPAWN_STDOUT) {
      if (dup2(1, 2) < 0) child_fail(errfd, BRAID_SPAWN_SETUP, errno);
    } else if (src[i] == i) {
      if (fcntl(i, F_SETFD, 0) < 0) child_fail(errfd, BRAID_SPAWN_SETUP, errno);
    } else if (src[i] >= 0) {
      if (dup2(src[i], i) < 0) child_fail(errfd, BRAID_SPAWN_SETUP, errno);
    }
  }
  if (s->cwd && chdir(s->cwd) != 0) child_fail(errfd, BRAID_SPAWN_CWD, errno);
  if (s->umask >= 0) umask((mode_t)s->umask);
  if (s->new_session && setsid() < 0)
    child_fail(errfd, BRAID_SPAWN_SETUP, errno);
  if (s->pgroup >= 0 && setpgid(0, s->pgroup) < 0)
    child_fail(errfd, BRAID_SPAWN_SETUP, errno);
  for (i = 0; i < s->npass; i++)
    if (fcntl(s->pass_fds[i], F_SETFD, 0) < 0)
      child_fail(errfd, BRAID_SPAWN_SETUP, errno);
  if (s->close_fds) close_others(s, errfd, max);
  for (i = 0; i < s->npaths; i++) {
    execve(s->paths[i], s->argv, s->envp ? s->envp : environ);
    /* Python's rule: report the first error that is not "not there". */
    if (errno != ENOENT && errno != ENOTDIR && err == ENOENT) err = errno;
  }
  child_fail(errfd, BRAID_SPAWN_EXEC, err);
  _exit(127); /* not reached: child_fail exits */
}


/* The only frame that vfork returns to twice: nothing here is modified
** after vfork, so no local can be clobbered; child_exec is never inlined,
** so the child's locals live below this frame, never in it. */
static pid_t do_vfork(const braid_spawn *s, int errfd, int max) {
  pid_t pid = vfork();
  if (pid == 0) child_exec(s, errfd, max);
  return pid;
}


static int pidfd_open_cloexec(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#else
  (void)pid;
  return -1;
#endif
}


/* A copy of the array 'environ' (the strings are shared), made under the
** environment lock: BRAID_OK with *out to braid__free, or BRAID_ENOMEM. */
static int snapshot_environ(char ***out) {
  size_t n = 0, i;
  char **copy;
  braid__environ_lock();
  while (environ[n] != NULL) n++;
  copy = (char **)braid__malloc((n + 1) * sizeof *copy);
  if (copy != NULL) {
    for (i = 0; i < n; i++) copy[i] = environ[i];
    copy[n] = NULL;
  }
  braid__environ_unlock();
  *out = copy;
  return copy != NULL ? BRAID_OK : BRAID_ENOMEM;
}


pid_t braid__subproc_spawn(const braid_spawn *s, int *pidfd, int *stage) {
  braid_spawn copy;
  char **inherited = NULL;
  int ep[2], max, e, st;
  sigset_t all, old;
  pid_t pid;
  Report r;
  ssize_t n;
  *pidfd = -1;
  *stage = BRAID_SPAWN_FORK;
  braid__subproc_reap_orphans();
  if (braid__intr_cancelled()) { /* the interrupted exit is under way */
    errno = EAGAIN;
    return BRAID_EOS;
  }
  max = (int)sysconf(_SC_OPEN_MAX);
  if (max < 0) max = 1024;
  if (pipe2(ep, O_CLOEXEC) != 0) return BRAID_EOS;
  sigfillset(&all);
  /* The child inherits a copy of 'environ' taken under braid.os's
  ** environment lock (environ.h), not 'environ' itself, which a setenv
  ** in another thread may move while the child is in execve. The copy
  ** is of the array only: setenv and unsetenv never free the strings.
  ** Holding the lock across vfork instead would serialise every spawn
  ** of the process for the length of an exec. */
  if (s->envp == NULL) {
    if (snapshot_environ(&inherited) != BRAID_OK) {
      close(ep[0]);
      close(ep[1]);
      errno = ENOMEM; /* an OSError, as a failed fork's would be */
      return BRAID_EOS;
    }
    copy = *s;
    copy.envp = inherited;
    s = &copy;
  }
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid = do_vfork(s, ep[1], max);
  e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  braid__free(inherited);
  close(ep[1]);
  if (pid < 0) {
    close(ep[0]);
    errno = e;
    return BRAID_EOS;
  }
  /* The child has exec'd or exited: its report, if any, is complete. */
  do {
    n = read(ep[0], &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  close(ep[0]);
  if (n == (ssize_t)sizeof r) {
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *stage = r.stage;
    errno = r.err;
    return BRAID_EOS;
  }
  *stage = BRAID_SPAWN_OK;
  if (s->track) braid__child_add(pid, 1);
  *pidfd = pidfd_open_cloexec(pid);
  return pid;
}


int braid__subproc_wait(pid_t pid, int pidfd, double timeout, int *code) {
  braid__deadline d = braid__deadline_in(timeout);
  double nap = 0.0005;
  for (;;) {
    int r = braid__proc_reap(pid, 0, code);
    if (r != 0) return r;
    if (braid__deadline_passed(&d)) return 0;
    if (pidfd >= 0) {
      braid__fd_wait(pidfd, braid__deadline_left(&d)); /* sliced */
    } else { /* no pidfd: poll with a growing nap, as Python does */
      double left = braid__deadline_left(&d);
      double t = nap;
      if (left >= 0 && left < t) t = left;
      braid__sleep(t);
      if (nap < 0.05) nap *= 2;
    }
  }
}


int braid__subproc_pipe(int parent_reads, int *parent, int *child) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return BRAID_EOS;
  *parent = parent_reads ? p[0] : p[1];
  *child = parent_reads ? p[1] : p[0];
  return BRAID_OK;
}


static int wait_fd(int fd, short ev) {
  struct pollfd p;
  braid__deadline d = braid__deadline_in(-1);
  for (;;) {
    int r;
    p.fd = fd;
    p.events = ev;
    p.revents = 0;
    r = braid__poll(&p, 1, braid__deadline_poll_ms(&d));
    if (r > 0 || (r < 0 && errno != EINTR)) return 1;
    if (braid__deadline_passed(&d)) return 0; /* only for Ctrl-C */
  }
}


ssize_t braid__subproc_read(int fd, void *p, size_t n) {
  for (;;) {
    ssize_t r;
    if (!wait_fd(fd, POLLIN)) return BRAID_ETIMEDOUT;
    r = read(fd, p, n); /* readable: returns at once */
    if (r >= 0) return r;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return BRAID_EOS;
  }
}


ssize_t braid__subproc_write_some(int fd, const void *p, size_t n) {
  /* SIGPIPE is blocked around the write and a SIGPIPE it raised is
  ** consumed, so a reader that went away is an EPIPE and not the end of
  ** this process (Lua, unlike Python, does not ignore SIGPIPE). */
  sigset_t pipe, old, pending;
  struct timespec zero = { 0, 0 };
  ssize_t w;
  int e, was_pending;
  if (n > PIPE_BUF) n = PIPE_BUF; /* fits once poll said POLLOUT */
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  sigpending(&pending);
  was_pending = sigismember(&pending, SIGPIPE);
  do {
    w = write(fd, p, n);
  } while (w < 0 && errno == EINTR);
  e = errno;
  if (w < 0 && e == EPIPE && !was_pending)
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {}
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (w >= 0) return w;
  if (e == EAGAIN || e == EWOULDBLOCK) return 0;
  errno = e;
  return e == EPIPE ? BRAID_ECLOSED : BRAID_EOS;
}


int braid__subproc_write(int fd, const void *p, size_t n, size_t *done) {
  const char *c = (const char *)p;
  *done = 0;
  while (*done < n) {
    ssize_t w;
    if (!wait_fd(fd, POLLOUT)) return BRAID_ETIMEDOUT;
    w = braid__subproc_write_some(fd, c + *done, n - *done);
    if (w < 0) return (int)w;
    *done += (size_t)w;
  }
  return BRAID_OK;
}


/* { ------ orphans: children whose Popen was collected while they ran.
** A fixed lock-free table (__gc must not wait); when it is full, the
** slot-less child is reaped by the collector's thread in the background
** of the next spawn all the same: the table is only a memory. */
#define NORPHANS 256
static atomic_int orphans[NORPHANS];

void braid__subproc_orphan(pid_t pid) {
  int i, st;
  for (i = 0; i < NORPHANS; i++) {
    int z = 0;
    if (atomic_compare_exchange_strong(&orphans[i], &z, (int)pid)) return;
  }
  /* Full: the best we can do without blocking is one more try now. */
  waitpid(pid, &st, WNOHANG);
}

void braid__subproc_reap_orphans(void) {
  int i, code;
  for (i = 0; i < NORPHANS; i++) {
    int pid = atomic_load_explicit(&orphans[i], memory_order_relaxed);
    if (pid == 0) continue;
    if (braid__proc_reap(pid, 0, &code) != 0 &&
        atomic_compare_exchange_strong(&orphans[i], &pid, 0)) {
    }
  }
}
/* } ------ */

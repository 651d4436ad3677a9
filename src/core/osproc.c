/*
** osproc.c: exec*, spawn*, waitpid of braid.os (osproc.h).
** See LICENSE for copyright and license.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "environ.h"
#include "intr.h"
#include "os.h"
#include "osproc.h"
#include "park.h"



/* The value of PATH in 'envp' (or in the environment; lock held). */
static const char *path_of(char *const envp[]) {
  size_t i;
  const char *p;
  if (envp == NULL) {
    p = getenv("PATH");
  } else {
    p = NULL;
    for (i = 0; envp[i] != NULL; i++)
      if (strncmp(envp[i], "PATH=", 5) == 0) p = envp[i] + 5;
  }
  return p != NULL ? p : "/bin:/usr/bin"; /* os.defpath */
}


pid_t braid__os_spawn(const char *path, char *const argv[],
                      char *const envp[], int search) {
  posix_spawnattr_t at;
  sigset_t none, dfl;
  pid_t pid;
  int rc;
  posix_spawnattr_init(&at);
  sigemptyset(&none);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGTERM);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &dfl);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  fflush(NULL);
  braid__environ_lock();
  if (search)
    rc = posix_spawnp(&pid, path, NULL, &at, argv, envp ? envp : environ);
  else
    rc = posix_spawn(&pid, path, NULL, &at, argv, envp ? envp : environ);
  braid__environ_unlock();
  posix_spawnattr_destroy(&at);
  if (rc != 0) {
    errno = rc;
    return BRAID_EOS;
  }
  return pid;
}


int braid__os_exec(const char *path, char *const argv[], char *const envp[],
                   int search) {
  sigset_t none;
  int e = ENOENT, saw_other = 0;
  fflush(NULL);
  /* A worker thread blocks SIGINT; the new program starts unmasked. */
  sigemptyset(&none);
  braid__environ_lock();
  pthread_sigmask(SIG_SETMASK, &none, NULL);
  if (!search || strchr(path, '/') != NULL) {
    execve(path, argv, envp ? envp : environ);
    e = errno;
  } else {
    const char *dirs = path_of(envp);
    size_t plen = strlen(path);
    while (dirs != NULL) {
      const char *end = strchr(dirs, ':');
      size_t dlen = end ? (size_t)(end - dirs) : strlen(dirs);
      char buf[PATH_MAX];
      if (dlen == 0) dlen = 1, dirs = "."; /* an empty entry is "." */
      if (dlen + 1 + plen < sizeof buf) {
        memcpy(buf, dirs, dlen);
        buf[dlen] = '/';
        memcpy(buf + dlen + 1, path, plen + 1);
        execve(buf, argv, envp ? envp : environ);
        /* As Python's _execvpe: report the first error other than "not
        ** there", else the last. */
        if (errno != ENOENT && errno != ENOTDIR) {
          if (!saw_other) e = errno;
          saw_other = 1;
        } else if (!saw_other) {
          e = errno;
        }
      }
      dirs = end ? end + 1 : NULL;
    }
  }
  braid__environ_unlock();
  errno = e;
  return BRAID_EOS;
}


int braid__os_waitpid(pid_t pid, int options, pid_t *rpid, int *status) {
  pid_t r;
  int fd = -1;
  *rpid = 0;
  *status = 0;
  if (!(options & WNOHANG)) {
#ifdef SYS_pidfd_open
    if (pid > 0) fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    for (;;) {
      braid__deadline forever = braid__deadline_in(-1);
      r = waitpid(pid, status, options | WNOHANG);
      if (r != 0) break;
      if (braid__intr_stop()) {
        if (fd >= 0) close(fd);
        return BRAID_ECANCELED;
      }
      if (fd >= 0) {
        struct pollfd p = { fd, POLLIN, 0 };
        braid__poll(&p, 1, braid__deadline_poll_ms(&forever));
      } else {
        braid__sleep(0.005); /* any child, or no pidfd: nap and look */
      }
    }
    if (fd >= 0) close(fd);
  } else {
    do r = waitpid(pid, status, options);
    while (r < 0 && errno == EINTR);
  }
  if (r < 0) {
    if (errno == EINTR) return BRAID_ECANCELED;
    return BRAID_EOS;
  }
  if (r > 0 && (WIFEXITED(*status) || WIFSIGNALED(*status)))
    braid__child_remove(r);
  *rpid = r;
  return BRAID_OK;
}


int braid__os_thread_count(void) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  int n = -1;
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  fclose(f);
  /* Parked threads (park.h) are ended threads kept asleep for reuse: a
  ** program that joined its threads has none left, as in Python. */
  if (n > 0) n -= braid__park_idle();
  return n > 0 || n == -1 ? n : 1;
}

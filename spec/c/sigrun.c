/*
** sigrun.c: the driver of spec/sigint_spec.lua (not a test itself).
**
**   sigrun [-t SECONDS] -- command args...
**
** Runs the command with SIGINT at its default disposition and its stdout
** on a pipe; echoes each line as "out: LINE". When the command writes a
** line "ready" (or "again"), sends it SIGINT -- to it alone, not to its
** process group, as `timeout -s INT` or `kill -INT` do -- so the signal
** comes when the script is known to be blocked, never after a guessed
** delay. When the command ends prints "status exit N" or "status signal
** N" and "elapsed S" (seconds of CLOCK_MONOTONIC from the last SIGINT to
** the end). After SECONDS (default 20) it kills the command and prints
** "status hang". Every wait is bounded.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/* State letter of the main thread of 'pid' (0 when unknown). */
static char state_of(pid_t pid) {
  char path[64], buf[512], *p;
  FILE *f;
  size_t n;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (f == NULL) return 0;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  p = strrchr(buf, ')');
  return (p != NULL && p[1] == ' ') ? p[2] : 0;
}


/* Echoes the complete lines of 'buf' ('*len' bytes) and sends SIGINT on
** each "ready"/"again"; keeps a partial last line. */
static void lines(char *buf, size_t *len, pid_t pid, double *sent) {
  char *start = buf, *nl;
  while ((nl = memchr(start, '\n', (size_t)(buf + *len - start))) != NULL) {
    *nl = '\0';
    printf("out: %s\n", start);
    fflush(stdout);
    if (pid > 0 &&
        (strcmp(start, "ready") == 0 || strcmp(start, "again") == 0)) {
      /* "ready" is written just before the script blocks: send once its
      ** main thread sleeps (or is busy in Lua code for 0.2 s, a busy
      ** loop), at most 2 s later */
      int busy = 0, k;
      for (k = 0; k < 2000; k++) {
        char st = state_of(pid);
        if (st == 'S' || st == 'D' || st == 0) break;
        if (st == 'R' && ++busy >= 200) break;
        usleep(1000);
      }
      *sent = now();
      kill(pid, SIGINT);
    }
    start = nl + 1;
  }
  *len = (size_t)(buf + *len - start);
  memmove(buf, start, *len);
}


int main(int argc, char **argv) {
  double limit = 20, sent = 0, end;
  int i = 1, p[2], pidfd, status = 0, done = 0;
  char buf[8192];
  size_t len = 0;
  pid_t pid;
  if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
    limit = atof(argv[i + 1]);
    i += 2;
  }
  if (i < argc && strcmp(argv[i], "--") == 0) i++;
  if (i >= argc) {
    fprintf(stderr, "usage: sigrun [-t SECONDS] -- command args...\n");
    return 2;
  }
  if (pipe2(p, O_CLOEXEC) != 0) return 2;
  pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    sigset_t none;
    signal(SIGINT, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    dup2(p[1], 1);
    execvp(argv[i], argv + i);
    _exit(127);
  }
  close(p[1]);
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return 2;
  end = now() + limit;
  while (!done) {
    struct pollfd pf[2];
    double left = end - now();
    if (left <= 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      printf("status hang\n");
      return 0;
    }
    pf[0].fd = p[0]; /* negative once closed: poll skips it */
    pf[0].events = POLLIN;
    pf[1].fd = pidfd;
    pf[1].events = POLLIN;
    pf[0].revents = pf[1].revents = 0;
    if (poll(pf, 2, (int)(left * 1000) + 1) < 0) continue;
    if (pf[0].revents) {
      ssize_t r = read(p[0], buf + len, sizeof buf - 1 - len);
      if (r > 0) {
        len += (size_t)r;
        lines(buf, &len, pid, &sent);
        if (len == sizeof buf - 1) len = 0; /* a line too long: drop */
      } else if (r == 0 || errno != EINTR) {
        close(p[0]);
        p[0] = -1;
      }
    }
    if (pf[1].revents) {
      double t = now();
      waitpid(pid, &status, 0);
      done = 1;
      if (sent > 0) printf("elapsed %.3f\n", t - sent);
    }
  }
  if (p[0] >= 0) { /* what is left in the pipe, without waiting: a
                   ** leftover grandchild may hold it open */
    ssize_t r;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    while ((r = read(p[0], buf + len, sizeof buf - 1 - len)) > 0) {
      len += (size_t)r;
      lines(buf, &len, 0, &sent);
      if (len == sizeof buf - 1) len = 0;
    }
  }
  if (WIFSIGNALED(status))
    printf("status signal %d\n", WTERMSIG(status));
  else
    printf("status exit %d\n", WEXITSTATUS(status));
  return 0;
}

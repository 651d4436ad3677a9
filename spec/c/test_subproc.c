/*
** test_subproc.c: the core of braid.subprocess (src/core/subproc.c) from
** C alone: redirections, the failed step a start reports (cwd or exec),
** pass_fds against close_fds, umask, sessions, timed waits, and pipe
** writes to a reader that left (EPIPE, not SIGPIPE). Linked with the core
** only: it needs neither Lua nor the binding.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "braidint.h"
#include "os.h"
#include "subproc.h"
#include "ctest.h"

static char SH[] = "/bin/sh", DASH_C[] = "-c";

/* Runs `sh -c script` with stdout on a pipe; returns what it printed in
** 'out' (NUL-terminated) and its exit code. */
static int sh_out(const char *script, braid_spawn *base, char *out,
                  size_t cap, int *code) {
  char *paths[] = { SH, NULL };
  char *argv[] = { SH, DASH_C, (char *)script, NULL };
  braid_spawn s;
  int parent, child, pidfd, stage;
  size_t got = 0;
  pid_t pid;
  if (base) s = *base;
  else {
    memset(&s, 0, sizeof s);
    s.fd[0] = s.fd[2] = -1;
    s.pgroup = s.umask = -1;
    s.close_fds = 1;
  }
  s.paths = paths;
  s.npaths = 1;
  s.argv = argv;
  if (braid__subproc_pipe(1, &parent, &child) != BRAID_OK) return -1;
  s.fd[1] = child;
  pid = braid__subproc_spawn(&s, &pidfd, &stage);
  close(child);
  if (pid < 0) {
    close(parent);
    return -1;
  }
  for (;;) {
    ssize_t r = braid__subproc_read(parent, out + got, cap - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  out[got] = '\0';
  close(parent);
  if (braid__subproc_wait(pid, pidfd, 60, code) != 1) return -1;
  if (pidfd >= 0) close(pidfd);
  return 0;
}

static braid_spawn plain(void) {
  braid_spawn s;
  memset(&s, 0, sizeof s);
  s.fd[0] = s.fd[1] = s.fd[2] = -1;
  s.pgroup = s.umask = -1;
  s.close_fds = 1;
  return s;
}

static void test_stdout_and_code(void) {
  char out[256];
  int code;
  CHECK_EQ(0, sh_out("echo hello; exit 3", NULL, out, sizeof out, &code));
  CHECK(strcmp(out, "hello\n") == 0);
  CHECK_EQ(3, code);
}

static void test_stderr_to_stdout(void) {
  char out[256];
  int code;
  braid_spawn s = plain();
  s.fd[2] = BRAID_SPAWN_STDOUT;
  CHECK_EQ(0, sh_out("echo a; echo b >&2", &s, out, sizeof out, &code));
  CHECK(strcmp(out, "a\nb\n") == 0);
}

static void test_failed_steps(void) {
  static char nope[] = "/nonexistent/prog", alsonope[] = "/nonexistent/2";
  char *paths[] = { nope, alsonope, NULL };
  char *argv[] = { nope, NULL };
  braid_spawn s = plain();
  int pidfd, stage;
  s.paths = paths;
  s.npaths = 2;
  s.argv = argv;
  CHECK_EQ(BRAID_EOS, braid__subproc_spawn(&s, &pidfd, &stage));
  CHECK_EQ(ENOENT, errno);
  CHECK_EQ(BRAID_SPAWN_EXEC, stage);
  paths[0] = SH;
  s.cwd = "/nonexistent-dir";
  CHECK_EQ(BRAID_EOS, braid__subproc_spawn(&s, &pidfd, &stage));
  CHECK_EQ(ENOENT, errno);
  CHECK_EQ(BRAID_SPAWN_CWD, stage);
}

static void test_pass_fds_and_close_fds(void) {
  char out[256], script[128];
  int code, fd = open("/dev/null", O_RDONLY); /* inheritable */
  braid_spawn s = plain();
  CHECK(fd >= 3);
  snprintf(script, sizeof script, "[ -e /proc/self/fd/%d ] && echo open || echo shut", fd);
  CHECK_EQ(0, sh_out(script, &s, out, sizeof out, &code));
  CHECK(strcmp(out, "shut\n") == 0);
  s.close_fds = 0;
  CHECK_EQ(0, sh_out(script, &s, out, sizeof out, &code));
  CHECK(strcmp(out, "open\n") == 0);
  s.close_fds = 1;
  s.pass_fds = &fd;
  s.npass = 1;
  CHECK_EQ(0, sh_out(script, &s, out, sizeof out, &code));
  CHECK(strcmp(out, "open\n") == 0);
  close(fd);
}

static void test_umask_and_session(void) {
  char out[256], want[64];
  int code;
  braid_spawn s = plain();
  s.umask = 027;
  CHECK_EQ(0, sh_out("umask", &s, out, sizeof out, &code));
  CHECK(strcmp(out, "0027\n") == 0);
  s = plain();
  s.new_session = 1;
  CHECK_EQ(0, sh_out("cut -d' ' -f6 /proc/$$/stat; echo $$", &s, out, sizeof out, &code));
  { /* the session id is the shell's pid */
    char *nl = strchr(out, '\n');
    CHECK(nl != NULL);
    snprintf(want, sizeof want, "%.*s\n", (int)(nl - out), out);
    CHECK(strcmp(nl + 1, want) == 0);
  }
}

static void test_wait_timeout(void) {
  static char cat[] = "/bin/cat";
  char *paths[] = { cat, NULL };
  char *argv[] = { cat, NULL };
  braid_spawn s = plain();
  int parent, child, pidfd, stage, code = 99;
  size_t done;
  pid_t pid;
  double t0;
  CHECK_EQ(BRAID_OK, braid__subproc_pipe(0, &parent, &child));
  s.paths = paths;
  s.npaths = 1;
  s.argv = argv;
  s.fd[0] = child;
  s.fd[1] = open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid = braid__subproc_spawn(&s, &pidfd, &stage);
  close(child);
  close(s.fd[1]);
  CHECK(pid > 0);
  t0 = braid__now();
  CHECK_EQ(0, braid__subproc_wait(pid, pidfd, 0.1, &code));
  CHECK(braid__now() - t0 >= 0.09);
  CHECK_EQ(BRAID_OK, braid__subproc_write(parent, "x", 1, &done));
  close(parent); /* cat sees end of file */
  CHECK_EQ(1, braid__subproc_wait(pid, pidfd, 60, &code));
  CHECK_EQ(0, code);
  if (pidfd >= 0) close(pidfd);
}

static void test_epipe_not_sigpipe(void) {
  static char tru[] = "/bin/true";
  char *paths[] = { tru, NULL };
  char *argv[] = { tru, NULL };
  static char big[1 << 17];
  braid_spawn s = plain();
  int parent, child, pidfd, stage, code;
  size_t done;
  pid_t pid;
  CHECK_EQ(BRAID_OK, braid__subproc_pipe(0, &parent, &child));
  s.paths = paths;
  s.npaths = 1;
  s.argv = argv;
  s.fd[0] = child;
  pid = braid__subproc_spawn(&s, &pidfd, &stage);
  close(child);
  CHECK(pid > 0);
  CHECK_EQ(1, braid__subproc_wait(pid, pidfd, 60, &code));
  /* SIGPIPE at its default action: the write must not end this test */
  CHECK_EQ(BRAID_ECLOSED, braid__subproc_write(parent, big, sizeof big, &done));
  close(parent);
  if (pidfd >= 0) close(pidfd);
}

int main(void) {
  static const ctest_case cases[] = {
    { "stdout on a pipe, exit code", test_stdout_and_code },
    { "stderr to stdout", test_stderr_to_stdout },
    { "a failed exec or chdir reports its step", test_failed_steps },
    { "pass_fds survive close_fds", test_pass_fds_and_close_fds },
    { "umask and a new session", test_umask_and_session },
    { "a timed wait, then the child's end", test_wait_timeout },
    { "writing to a reader that left is EPIPE", test_epipe_not_sigpipe },
    { NULL, NULL },
  };
  signal(SIGPIPE, SIG_DFL);
  return ctest_run(cases);
}

/*
** los.c: Lua binding of braid.os, the process functions and environment
** of Python's os that Lua's os lacks (lua/braid/os.lua adds the Python
** shapes: environ, execl*, popen's object).
** See LICENSE for copyright and license.
**
** Environment reads and writes go through environ.c's lock, as do the
** starts of programs (osproc.c), so a child always sees a consistent
** environment. fork() reuses the fork start method's reset of braid's
** runtime (core.proc_fork, lprocess.c); os.lua calls it.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_* */
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "environ.h"
#include "lbind.h"
#include "osproc.h"

/* Python's spawn modes (os.P_WAIT, os.P_NOWAIT). */
#define BRAID_P_WAIT 0
#define BRAID_P_NOWAIT 1


/* { ====== arguments */

/* A string argument for a C call: NUL bytes are Python's ValueError. */
static const char *checkcstr(lua_State *L, int arg, const char *what) {
  size_t n;
  const char *s = braidB_checkstring(L, arg, &n);
  if (strlen(s) != n)
    braidB_argerror(L, arg, "ValueError", "%s: embedded null byte", what);
  return s;
}


/* A NULL-ended argv from the sequence at 'arg' (a userdata block owned by
** the stack, so a raise frees it); 'fname' for Python's messages. */
static char **checkargv(lua_State *L, int arg, const char *fname) {
  lua_Integer n, i;
  char **v;
  if (!lua_istable(L, arg))
    return (char **)(uintptr_t)braidB_argerror(
        L, arg, "TypeError", "%s() arg 2 must be a tuple or list", fname);
  n = (lua_Integer)lua_rawlen(L, arg);
  if (n < 1)
    return (char **)(uintptr_t)braidB_argerror(
        L, arg, "ValueError", "%s() arg 2 must not be empty", fname);
  v = (char **)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *v, 0);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *s;
    lua_rawgeti(L, arg, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      return (char **)(uintptr_t)braidB_argerror(
          L, arg, "TypeError", "%s(): args[%d] must be a string, not %s", fname,
          (int)i, luaL_typename(L, -1));
    s = lua_tolstring(L, -1, &len);
    if (strlen(s) != len)
      return (char **)(uintptr_t)braidB_argerror(L, arg, "ValueError",
                                                 "embedded null byte");
    if (i == 1 && len == 0)
      return (char **)(uintptr_t)braidB_argerror(
          L, arg, "ValueError", "%s() arg 2 first element cannot be empty",
          fname);
    v[i - 1] = (char *)s; /* kept alive by the table */
    lua_pop(L, 1);
  }
  v[n] = NULL;
  return v;
}


/* A NULL-ended "NAME=value" array from the mapping at 'arg' (strings
** kept on the stack in a table pushed below the array). */
static char **checkenvp(lua_State *L, int arg) {
  size_t n = 0, i = 0;
  char **v;
  int keep;
  if (!lua_istable(L, arg))
    return (char **)(uintptr_t)braidB_argerror(L, arg, "TypeError",
                                               "env must be a mapping");
  lua_newtable(L);
  keep = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    lua_pop(L, 1);
    n++;
  }
  v = (char **)lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    size_t kl, vl;
    const char *k, *s;
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      return (char **)(uintptr_t)braidB_argerror(
          L, arg, "TypeError", "env keys and values must be strings");
    k = lua_tolstring(L, -2, &kl);
    s = lua_tolstring(L, -1, &vl);
    if (strlen(k) != kl || strlen(s) != vl)
      return (char **)(uintptr_t)braidB_argerror(L, arg, "ValueError",
                                                 "embedded null byte");
    if (kl == 0 || strchr(k, '=') != NULL)
      return (char **)(uintptr_t)braidB_argerror(
          L, arg, "ValueError", "illegal environment variable name");
    lua_pushfstring(L, "%s=%s", k, s);
    v[i] = (char *)lua_tostring(L, -1);
    lua_rawseti(L, keep, (lua_Integer)++i);
    lua_pop(L, 1);
  }
  v[i] = NULL;
  return v;
}
/* } ====== */


/* { ====== processes */

static int os_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}


static int os_getppid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getppid());
  return 1;
}


static int os_kill(lua_State *L) {
  lua_Integer pid = braidB_checkinteger(L, 1);
  lua_Integer sig = braidB_checkinteger(L, 2);
  if (kill((pid_t)pid, (int)sig) != 0) return braidB_oserror(L, errno, NULL);
  return 0;
}


static int os_killpg(lua_State *L) {
  lua_Integer pg = braidB_checkinteger(L, 1);
  lua_Integer sig = braidB_checkinteger(L, 2);
  if (killpg((pid_t)pg, (int)sig) != 0) return braidB_oserror(L, errno, NULL);
  return 0;
}


/* waitpid(pid, options) -> pid, status */
static int os_waitpid(lua_State *L) {
  lua_Integer pid = braidB_checkinteger(L, 1);
  lua_Integer options = braidB_checkinteger(L, 2);
  pid_t r;
  int status, rc;
  braidB_poll(L);
  rc = braid__os_waitpid((pid_t)pid, (int)options, &r, &status);
  if (rc == BRAID_ECANCELED) {
    braidB_intr_check(L);
    return braidB_raise(L, "InterruptedError", "waitpid was interrupted");
  }
  if (rc != BRAID_OK) return braidB_oserror(L, errno, NULL);
  lua_pushinteger(L, (lua_Integer)r);
  lua_pushinteger(L, (lua_Integer)status);
  return 2;
}


static int os_waitstatus_to_exitcode(lua_State *L) {
  lua_Integer st = braidB_checkinteger(L, 1);
  int s = (int)st;
  if ((lua_Integer)s != st || s < 0)
    return braidB_argerror(L, 1, "ValueError", "invalid wait status: %I", st);
  if (WIFEXITED(s)) lua_pushinteger(L, WEXITSTATUS(s));
  else if (WIFSIGNALED(s)) lua_pushinteger(L, -WTERMSIG(s));
  else if (WIFSTOPPED(s))
    return braidB_argerror(L, 1, "ValueError",
                           "process stopped by delivery of signal %d",
                           WSTOPSIG(s));
  else return braidB_argerror(L, 1, "ValueError", "invalid wait status: %d", s);
  return 1;
}


#define WMACRO(name, expr, push)                    \
  static int os_##name(lua_State *L) {              \
    int s = (int)braidB_checkinteger(L, 1);         \
    push(L, expr(s));                               \
    return 1;                                       \
  }
#define PUSHB(L, v) lua_pushboolean(L, (v) != 0)
#define PUSHI(L, v) lua_pushinteger(L, (lua_Integer)(v))
WMACRO(WIFEXITED, WIFEXITED, PUSHB)
WMACRO(WEXITSTATUS, WEXITSTATUS, PUSHI)
WMACRO(WIFSIGNALED, WIFSIGNALED, PUSHB)
WMACRO(WTERMSIG, WTERMSIG, PUSHI)
WMACRO(WIFSTOPPED, WIFSTOPPED, PUSHB)
WMACRO(WSTOPSIG, WSTOPSIG, PUSHI)


/* Threads alive in this process (for fork's warning). */
static int os_thread_count(lua_State *L) {
  lua_pushinteger(L, braid__os_thread_count());
  return 1;
}


/* _exec(path, args, env|nil, search, fname): replaces the process. */
static int os_exec(lua_State *L) {
  const char *fname = luaL_checkstring(L, 5);
  const char *path = checkcstr(L, 1, fname);
  char **argv = checkargv(L, 2, fname);
  char **envp = lua_isnoneornil(L, 3) ? NULL : checkenvp(L, 3);
  int search = lua_toboolean(L, 4);
  braid__os_exec(path, argv, envp, search);
  return braidB_oserror(L, errno, path);
}


/* Waits for child 'pid' of spawn*(P_WAIT) or system() ('what'), its wait
** status in '*status'. Raises OSError naming 'path' on a failed wait; on
** Ctrl-C, KeyboardInterrupt (or InterruptedError), after killing and
** reaping the child: it got the SIGINT from the terminal too, and no
** zombie may stay behind the error. */
static void wait_child(lua_State *L, pid_t pid, int *status,
                       const char *what, const char *path) {
  pid_t r;
  int rc;
  braidB_poll(L);
  rc = braid__os_waitpid(pid, 0, &r, status);
  if (rc == BRAID_ECANCELED) {
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
    braidB_intr_check(L);
    braidB_raise(L, "InterruptedError", "%s was interrupted", what);
  }
  if (rc != BRAID_OK) braidB_oserror(L, errno, path);
}


/* _spawn(mode, path, args, env|nil, search, fname) -> code or pid */
static int os_spawn(lua_State *L) {
  lua_Integer mode = braidB_checkinteger(L, 1);
  const char *fname = luaL_checkstring(L, 6);
  const char *path = checkcstr(L, 2, fname);
  char **argv = checkargv(L, 3, fname);
  char **envp = lua_isnoneornil(L, 4) ? NULL : checkenvp(L, 4);
  pid_t pid;
  int status;
  if (mode != BRAID_P_WAIT && mode != BRAID_P_NOWAIT)
    return braidB_argerror(L, 1, "ValueError", "invalid mode: %I", mode);
  pid = braid__os_spawn(path, argv, envp, lua_toboolean(L, 5));
  if (pid < 0 && braidB_fdgc(L, errno))
    pid = braid__os_spawn(path, argv, envp, lua_toboolean(L, 5));
  if (pid < 0) return braidB_oserror(L, errno, path);
  if (mode == BRAID_P_NOWAIT) {
    lua_pushinteger(L, (lua_Integer)pid);
    return 1;
  }
  wait_child(L, pid, &status, "spawn", path);
  lua_pushinteger(L, WIFSIGNALED(status) ? -WTERMSIG(status)
                                         : WEXITSTATUS(status));
  return 1;
}


/* system(command) -> wait status, as Python's on Unix */
static int os_system(lua_State *L) {
  const char *cmd = checkcstr(L, 1, "system");
  char *argv[4];
  pid_t pid;
  int status;
  argv[0] = (char *)"sh";
  argv[1] = (char *)"-c";
  argv[2] = (char *)cmd;
  argv[3] = NULL;
  pid = braid__os_spawn("/bin/sh", argv, NULL, 0);
  if (pid < 0) return braidB_oserror(L, errno, "/bin/sh");
  wait_child(L, pid, &status, "system", NULL);
  lua_pushinteger(L, (lua_Integer)status);
  return 1;
}


/* _popen(iopopen, cmd, mode): Lua's io.popen under the environment lock
** (popen(3) forks and copies environ); the call is protected so that the
** lock is always given back before a raise. */
static int os_popen(lua_State *L) {
  int st;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  checkcstr(L, 2, "popen");
  lua_settop(L, 3);
  braid__environ_lock();
  st = lua_pcall(L, 2, 2, 0);
  braid__environ_unlock();
  if (st != LUA_OK) return lua_error(L);
  return 2;
}
/* } ====== */


/* { ====== environment */

static int env_error(lua_State *L, int rc, const char *why) {
  if (rc == BRAID_EINVAL) return braidB_raise(L, "ValueError", "%s", why);
  if (rc == BRAID_EOS) return braidB_oserror(L, errno, NULL);
  return braidB_raisecode(L, rc, NULL);
}


static int os_getenv(lua_State *L) {
  size_t n;
  const char *k = braidB_checkstring(L, 1, &n);
  char *v = NULL;
  int rc;
  if (strlen(k) != n) {
    lua_settop(L, 2);
    return 1; /* a name with NUL is never set */
  }
  rc = braid__env_get(k, &v);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, NULL);
  if (v == NULL) {
    lua_settop(L, 2); /* the default */
    return 1;
  }
  lua_pushstring(L, v); /* may raise: copy first, free after */
  braid__free(v);
  return 1;
}


static int os_putenv(lua_State *L) {
  size_t kn, vn;
  const char *k = braidB_checkstring(L, 1, &kn);
  const char *v = braidB_checkstring(L, 2, &vn);
  const char *why = "";
  int rc = braid__env_set(k, kn, v, vn, &why);
  if (rc != BRAID_OK) return env_error(L, rc, why);
  return 0;
}


static int os_unsetenv(lua_State *L) {
  size_t kn;
  const char *k = braidB_checkstring(L, 1, &kn);
  const char *why = "";
  int rc = braid__env_unset(k, kn, &why);
  if (rc != BRAID_OK) return env_error(L, rc, why);
  return 0;
}


/* _environ() -> {name = value} snapshot */
static int os_environ(lua_State *L) {
  char **list;
  size_t n, i;
  int rc;
  lua_newtable(L);
  rc = braid__env_snapshot(&list, &n);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, NULL);
  for (i = 0; i < n; i++) {
    const char *eq = strchr(list[i], '=');
    if (eq == NULL || eq == list[i]) continue;
    /* pushes may raise a memory error: a leak of the copy then is
    ** bounded by the environment's size, and rare (failed allocation) */
    lua_pushlstring(L, list[i], (size_t)(eq - list[i]));
    lua_pushstring(L, eq + 1);
    lua_rawset(L, -3);
  }
  braid__env_free(list, n);
  return 1;
}
/* } ====== */


/* { ====== CPUs, priority, descriptors */

static int os_cpu_count(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) lua_pushnil(L);
  else lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


static int os_sched_getaffinity(lua_State *L) {
  lua_Integer pid = braidB_checkinteger(L, 1);
  int ncpus = 1024, i;
  for (;;) {
    size_t size = CPU_ALLOC_SIZE(ncpus);
    cpu_set_t *set = CPU_ALLOC(ncpus);
    if (set == NULL) return braidB_nomem(L);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity((pid_t)pid, size, set) == 0) {
      int count = CPU_COUNT_S(size, set), k = 0;
      /* copy out first: the table may raise, the set must not leak */
      int *cpus = (int *)malloc((size_t)(count ? count : 1) * sizeof *cpus);
      if (cpus == NULL) {
        CPU_FREE(set);
        return braidB_nomem(L);
      }
      for (i = 0; i < ncpus && k < count; i++)
        if (CPU_ISSET_S((size_t)i, size, set)) cpus[k++] = i;
      CPU_FREE(set);
      lua_createtable(L, 0, count);
      for (i = 0; i < k; i++) {
        lua_pushboolean(L, 1);
        lua_rawseti(L, -2, cpus[i]);
      }
      free(cpus);
      return 1;
    }
    CPU_FREE(set);
    if (errno != EINVAL || ncpus > (1 << 20)) return braidB_oserror(L, errno, NULL);
    ncpus *= 2;
  }
}


/* sched_setaffinity(pid, cpus): 'cpus' a set {[n] = true} or a sequence. */
static int os_sched_setaffinity(lua_State *L) {
  lua_Integer pid = braidB_checkinteger(L, 1);
  lua_Integer max = -1;
  size_t size;
  cpu_set_t *set;
  int rc, e;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    int isset = lua_toboolean(L, -1) && lua_type(L, -1) == LUA_TBOOLEAN;
    int at = isset ? -2 : -1;
    lua_Integer c;
    if (!lua_isinteger(L, at))
      return braidB_argerror(L, 2, "TypeError", "CPU numbers must be integers");
    c = lua_tointeger(L, at);
    if (c < 0) return braidB_argerror(L, 2, "ValueError", "negative CPU number");
    if (c > 1 << 20) return braidB_argerror(L, 2, "OverflowError", "invalid CPU number");
    if (c > max) max = c;
    lua_pop(L, 1);
  }
  set = CPU_ALLOC((int)max + 1 > 0 ? (int)max + 1 : 1);
  if (set == NULL) return braidB_nomem(L);
  size = CPU_ALLOC_SIZE((int)max + 1 > 0 ? (int)max + 1 : 1);
  CPU_ZERO_S(size, set);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    int isset = lua_toboolean(L, -1) && lua_type(L, -1) == LUA_TBOOLEAN;
    CPU_SET_S((size_t)lua_tointeger(L, isset ? -2 : -1), size, set);
    lua_pop(L, 1);
  }
  rc = sched_setaffinity((pid_t)pid, size, set);
  e = errno;
  CPU_FREE(set);
  if (rc != 0) return braidB_oserror(L, e, NULL);
  return 0;
}


/* nice(increment) -> the new niceness */
static int os_nice(lua_State *L) {
  lua_Integer inc = braidB_checkinteger(L, 1);
  int r;
  errno = 0;
  r = nice((int)inc);
  if (r == -1 && errno != 0) return braidB_oserror(L, errno, NULL);
  lua_pushinteger(L, r);
  return 1;
}


/* open(path, flags, [mode=0o777]) -> descriptor (close-on-exec, as
** Python's: PEP 446) */
static int os_open(lua_State *L) {
  const char *path = checkcstr(L, 1, "open");
  int flags = (int)braidB_checkinteger(L, 2);
  int mode = (int)braidB_optinteger(L, 3, 0777);
  int fd = open(path, flags | O_CLOEXEC, mode);
  if (fd < 0 && braidB_fdgc(L, errno)) fd = open(path, flags | O_CLOEXEC, mode);
  if (fd < 0) return braidB_oserror(L, errno, path);
  lua_pushinteger(L, fd);
  return 1;
}


static int os_close(lua_State *L) {
  int fd = (int)braidB_checkinteger(L, 1);
  if (close(fd) != 0) return braidB_oserror(L, errno, NULL);
  return 0;
}
/* } ====== */


static const luaL_Reg os_funcs[] = {
  { "getpid", os_getpid },
  { "getppid", os_getppid },
  { "kill", os_kill },
  { "killpg", os_killpg },
  { "waitpid", os_waitpid },
  { "waitstatus_to_exitcode", os_waitstatus_to_exitcode },
  { "WIFEXITED", os_WIFEXITED },
  { "WEXITSTATUS", os_WEXITSTATUS },
  { "WIFSIGNALED", os_WIFSIGNALED },
  { "WTERMSIG", os_WTERMSIG },
  { "WIFSTOPPED", os_WIFSTOPPED },
  { "WSTOPSIG", os_WSTOPSIG },
  { "_thread_count", os_thread_count },
  { "_exec", os_exec },
  { "_spawn", os_spawn },
  { "system", os_system },
  { "_popen", os_popen },
  { "getenv", os_getenv },
  { "putenv", os_putenv },
  { "unsetenv", os_unsetenv },
  { "_environ", os_environ },
  { "cpu_count", os_cpu_count },
  { "sched_getaffinity", os_sched_getaffinity },
  { "sched_setaffinity", os_sched_setaffinity },
  { "nice", os_nice },
  { "open", os_open },
  { "close", os_close },
  { NULL, NULL },
};


void braidB_open_os(lua_State *L) {
  static const struct { const char *name; lua_Integer v; } k[] = {
    { "WNOHANG", WNOHANG }, { "WUNTRACED", WUNTRACED },
    { "P_WAIT", BRAID_P_WAIT }, { "P_NOWAIT", BRAID_P_NOWAIT },
    { "O_RDONLY", O_RDONLY }, { "O_WRONLY", O_WRONLY }, { "O_RDWR", O_RDWR },
    { "O_CREAT", O_CREAT }, { "O_EXCL", O_EXCL }, { "O_TRUNC", O_TRUNC },
    { "O_APPEND", O_APPEND },
    { "SEEK_SET", SEEK_SET }, { "SEEK_CUR", SEEK_CUR }, { "SEEK_END", SEEK_END },
    { "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT },
    { "SIGILL", SIGILL }, { "SIGABRT", SIGABRT }, { "SIGKILL", SIGKILL },
    { "SIGSEGV", SIGSEGV }, { "SIGPIPE", SIGPIPE }, { "SIGALRM", SIGALRM },
    { "SIGTERM", SIGTERM }, { "SIGUSR1", SIGUSR1 }, { "SIGUSR2", SIGUSR2 },
    { "SIGCHLD", SIGCHLD }, { "SIGCONT", SIGCONT }, { "SIGSTOP", SIGSTOP },
    { "SIGTSTP", SIGTSTP },
    { NULL, 0 },
  };
  int i;
  lua_newtable(L);
  luaL_setfuncs(L, os_funcs, 0);
  for (i = 0; k[i].name != NULL; i++) {
    lua_pushinteger(L, k[i].v);
    lua_setfield(L, -2, k[i].name);
  }
  lua_setfield(L, -2, "os");
}

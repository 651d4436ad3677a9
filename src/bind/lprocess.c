/*
** lprocess.c: Lua binding of multiprocessing's processes: the start
** methods (fork, spawn, forkserver) and the payload a child starts from,
** sentinels, reaping and killing, the descriptor primitives the Lua layer
** builds pipes and connections on, and the export of objects to children.
** lprocess.h lists the other files of multiprocessing's C parts.
** See LICENSE for copyright and license.
**
** Export: a braid object given to a process being started crosses through
** its metatable's __braidexport(obj, mode) (see lcodec.h), which returns
** an attach function of braid.core and its arguments, and records the
** file descriptors the child must inherit (braidB_inherit_fd). Objects
** sent through a Pipe, a Queue or a pool (mode BRAID_ENC_PIPE) travel too,
** beyond Python's "... should only be shared between processes through
** inheritance": their descriptor goes by a ticket of the descriptor
** sharer (ltravel.c, src/core/fdshare.h).
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "alloc.h"
#include "intr.h"
#include "lbind.h"
#include "lprocess.h"
#include "process.h"
#include "queue.h"
#include "lcodec.h"
#include "thread.h"

static const char INHERIT_KEY = 'h'; /* registry: set of fds to hand over */


/*
** {======================================================
** Helpers
** =======================================================
*/

static int oserror(lua_State *L, const char *what) {
  return braidB_oserror(L, errno, what);
}


void braidB_inherit_fd(lua_State *L, int fd) {
  if (fd < 0) return;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &INHERIT_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &INHERIT_KEY);
  }
  lua_pushboolean(L, 1);
  lua_rawseti(L, -2, fd);
  lua_pop(L, 1);
}

/* }====================================================== */


/*
** {======================================================
** Processes
** =======================================================
*/

/* core.proc_payload(value) -> bytes, { fds to hand over } */
static int core_proc_payload(lua_State *L) {
  static const char *const roots[] = { "process" };
  braid_msg *m;
  lua_settop(L, 1);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &INHERIT_KEY);
  m = braid__encode_proc(L, 1, 1, roots, BRAID_ENC_PROCESS);
  lua_pushlstring(L, (const char *)m->data, m->len);
  braid__msg_free(m);
  lua_newtable(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &INHERIT_KEY);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, (lua_Integer)lua_rawlen(L, -4) + 1);
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &INHERIT_KEY);
  return 2;
}


/* core.proc_decode(bytes) -> values */
static int core_proc_decode(lua_State *L) {
  size_t len;
  const char *p = braidB_checkstring(L, 1, &len);
  braid_msg *m = braid__msg_from_bytes(p, len);
  if (m == NULL) return braidB_nomem(L);
  lua_settop(L, 0);
  return braid__decode_owned(L, m);
}


/* Returns a started child: pid, sentinel (a descriptor readable once it
** ended) and the sentinel's owner (lfd.c, at -1 on the stack), which now
** holds the sentinel and closes it when collected. */
static int push_child(lua_State *L, int *owner, pid_t pid, int sentinel) {
  *owner = sentinel;
  lua_pushinteger(L, pid);
  lua_pushinteger(L, sentinel);
  lua_pushvalue(L, -3);
  return 3;
}


/* Reads the descriptors in the table at 'arg' into 'fds' (at most
** BRAID_PROC_MAXFDS, OSError 'toomany' past that); returns how many. */
static int checkfds(lua_State *L, int arg, int *fds, const char *toomany) {
  lua_Integer n, i;
  luaL_checktype(L, arg, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, arg);
  if (n > BRAID_PROC_MAXFDS) braidB_raise(L, "OSError", "%s", toomany);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, arg, i + 1);
    fds[i] = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  return (int)n;
}


/* Pushes what a reap found ('r' 1: ended with 'code'; 0: running;
** else: not a child of ours). */
static int push_reaped(lua_State *L, int r, int code) {
  if (r == 1) lua_pushinteger(L, code);
  else if (r == 0) lua_pushnil(L);
  else lua_pushboolean(L, 0);
  return 1;
}


/* The forkserver of this process, shared by all its states (a forked
** child forgets its parent's: requests from two processes on one socket
** would interleave). */
static atomic_int fs_sock = -1;
static atomic_long fs_pid = 0;

/* core.proc_fork() -> 0 in the child; pid, sentinel, its owner (lfd.c)
** in the parent. The runtime's mutex is held across fork() so that the
** child finds it in a consistent state; the child forgets the threads it
** did not inherit. */
static int core_proc_fork(lua_State *L) {
  braid_runtime_t *rt = braidB_runtime(L);
  int sentinel = -1, *owner = braidB_newfdowner(L);
  pid_t pid;
  /* Before a fork: give back what is mapped and unused. A fork copies the
  ** page tables of all that is mapped, and a child whose malloc walks free
  ** chunks (glibc consolidates them) copies every page it touches: after
  ** a big table was freed, a fork+join took 38 ms instead of 0.5. */
  braid__alloc_trim();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  braid__mutex_lock(&rt->mu);
  braidB_pool_prefork(L, 0); /* its free chunks stay the parent's alone */
  pid = braid__proc_fork(&sentinel);
  if (pid < 0 && (errno == EMFILE || errno == ENFILE)) {
    int e = errno;
    braidB_pool_postfork(L);
    braid__mutex_unlock(&rt->mu); /* no lock held while collecting */
    braidB_fdgc(L, e);
    braid__mutex_lock(&rt->mu);
    braidB_pool_prefork(L, 0);
    pid = braid__proc_fork(&sentinel);
  }
  if (pid == 0) {
    braid_thread *t = rt->threads, *keep = NULL;
    lua_Integer me = (lua_Integer)(uintptr_t)pthread_self();
    while (t != NULL) {
      braid_thread *next = t->next;
      if (t->ident == me && keep == NULL) keep = t;
      t = next;
    }
    if (keep) keep->prev = keep->next = NULL;
    rt->threads = keep;
    rt->nondaemon = 0;
    atomic_store(&fs_sock, -1); /* the parent's; this child starts its own */
    braid__mutex_unlock(&rt->mu);
    braidB_pool_after_fork(L);
    lua_pushinteger(L, 0);
    return 1;
  }
  {
    int e = errno;
    braidB_pool_postfork(L);
    errno = e;
  }
  braid__mutex_unlock(&rt->mu);
  if (pid < 0) return oserror(L, "fork");
  return push_child(L, owner, pid, sentinel);
}


/* core.proc_spawn(argv, keepfds) -> pid, sentinel, its owner */
static int core_proc_spawn(lua_State *L) {
  lua_Integer n, i;
  char **argv;
  int keep[BRAID_PROC_MAXFDS], sentinel = -1, *owner, nk;
  pid_t pid;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  if (n < 1) return braidB_argerror(L, 1, "ValueError", "empty argv");
  nk = checkfds(L, 2, keep, "too many descriptors to inherit");
  argv = (char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    argv[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1); /* the table keeps the string */
    if (argv[i - 1] == NULL) return braidB_typeerror(L, 1, "strings");
  }
  argv[n] = NULL;
  owner = braidB_newfdowner(L);
  pid = braid__proc_spawn(argv, keep, nk, &sentinel);
  if (pid < 0 && braidB_fdgc(L, errno))
    pid = braid__proc_spawn(argv, keep, nk, &sentinel);
  if (pid < 0) return oserror(L, argv[0]);
  return push_child(L, owner, pid, sentinel);
}


/* core.proc_reap(pid, block) -> exitcode | nil (running) | false (not
** our child) */
static int core_proc_reap(lua_State *L) {
  pid_t pid = (pid_t)braidB_checkinteger(L, 1);
  int code = 0, r = braid__proc_reap(pid, lua_toboolean(L, 2), &code);
  return push_reaped(L, r, code);
}


/* core.fd_wait(fd, timeout) -> readable? (nil timeout: forever) */
static int core_fd_wait(lua_State *L) {
  int fd = (int)braidB_checkinteger(L, 1);
  double t = braidB_waittimeout(L, 2);
  braidB_poll(L);
  lua_pushboolean(L, braid__fd_wait(fd, t));
  return 1;
}


/* core.fds_wait({fd...}, timeout) -> { indices of readable fds } */
static int core_fds_wait(lua_State *L) {
  struct pollfd *p;
  lua_Integer n, i;
  double t = braidB_waittimeout(L, 2);
  braid__deadline d;
  int k = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  d = braid__deadline_in(t);
  n = (lua_Integer)lua_rawlen(L, 1);
  p = (struct pollfd *)lua_newuserdatauv(L, sizeof *p * (size_t)(n + 1), 0);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    p[i].fd = (int)lua_tointeger(L, -1);
    p[i].events = POLLIN;
    p[i].revents = 0;
    lua_pop(L, 1);
  }
  braidB_poll(L);
  /* a descriptor found ready by the spin needs no second poll */
  if (braid__poll_spin(p, (unsigned long)n, braid__fd_spin_ns(), t) <= 0)
    for (;;) {
      int r = braid__poll(p, (unsigned long)n, braid__deadline_poll_ms(&d));
      if (r > 0) break;
      if (r < 0 && errno != EINTR) return oserror(L, "poll");
      if (r == 0 && braid__deadline_passed(&d)) break;
    }
  lua_newtable(L);
  for (i = 0; i < n; i++) {
    if (p[i].revents) {
      lua_pushinteger(L, i + 1);
      lua_rawseti(L, -2, ++k);
    }
  }
  return 1;
}


static int core_proc_kill(lua_State *L) {
  pid_t pid = (pid_t)braidB_checkinteger(L, 1);
  int sig = (int)braidB_checkinteger(L, 2);
  if (pid > 0 && kill(pid, sig) != 0 && errno != ESRCH)
    return oserror(L, "kill");
  return 0;
}


static int core_fd_close(lua_State *L) {
  int fd = (int)braidB_checkinteger(L, 1);
  if (fd >= 0) close(fd);
  return 0;
}


/* The process id, asked of the kernel once per process (a manager proxy
** checks it on every call: its connection is its process's). 0 until
** asked; a fork's child forgets it (pthread_atfork), and braid's children
** are made by fork() or exec only. */
static atomic_int pid_cache;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void) {
  atomic_store_explicit(&pid_cache, 0, memory_order_relaxed);
}

static void pid_atfork(void) {
  pthread_atfork(NULL, NULL, pid_forget);
}

static int core_getpid(lua_State *L) {
  int pid = atomic_load_explicit(&pid_cache, memory_order_relaxed);
  if (pid == 0) {
    pthread_once(&pid_once, pid_atfork);
    pid = (int)getpid();
    atomic_store_explicit(&pid_cache, pid, memory_order_relaxed);
  }
  lua_pushinteger(L, pid);
  return 1;
}


static int core_getppid(lua_State *L) {
  lua_pushinteger(L, getppid());
  return 1;
}


/* core.proc_exit(code): flushes stdio, waits for the non-daemon threads
** this process started, and ends the process without closing the state
** (what a forked child must do: its state is the parent's copy). */
static int core_proc_exit(lua_State *L) {
  int code = (int)luaL_optinteger(L, 1, 0);
  braid_runtime_join_threads(braidB_runtime(L));
  fflush(NULL);
  _exit(code & 0xff);
  return 0;
}


/* core.socketpair() -> fd, fd (close-on-exec, stream) */
static int core_socketpair(lua_State *L) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 &&
      (!braidB_fdgc(L, errno) ||
       socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0))
    return oserror(L, "socketpair");
  lua_pushinteger(L, sv[0]);
  lua_pushinteger(L, sv[1]);
  return 2;
}


/* core.fd_send_payload(fd, bytes): 8-byte length, bytes */
static int core_fd_send_payload(lua_State *L) {
  int fd = (int)braidB_checkinteger(L, 1);
  size_t len;
  const char *p = braidB_checkstring(L, 2, &len);
  uint64_t n = len;
  if (braid__fd_write_all(fd, &n, sizeof n) != BRAID_OK ||
      braid__fd_write_all(fd, p, len) != BRAID_OK)
    return oserror(L, "cannot send the process payload");
  return 0;
}


/* core.fd_recv_payload(fd) -> bytes */
static int core_fd_recv_payload(lua_State *L) {
  int fd = (int)braidB_checkinteger(L, 1);
  uint64_t n;
  luaL_Buffer b;
  char *p;
  if (braid__fd_read_all(fd, &n, sizeof n, NULL) != BRAID_OK)
    return oserror(L, "cannot read the process payload");
  p = luaL_buffinitsize(L, &b, (size_t)n);
  if (braid__fd_read_all(fd, p, (size_t)n, NULL) != BRAID_OK)
    return oserror(L, "cannot read the process payload");
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}


/* core.forkserver_serve(sock) -> payload (only in forked children) */
static int core_forkserver_serve(lua_State *L) {
  int sock = (int)braidB_checkinteger(L, 1);
  unsigned char *p;
  size_t len;
  if (braid__forkserver_serve(sock, &p, &len) != BRAID_OK)
    return oserror(L, "forkserver");
  lua_pushlstring(L, (const char *)p, len);
  free(p);
  return 1;
}


/* core.forkserver_request(sock, payload, fds) -> pid, sentinel, its
** owner */
static int core_forkserver_request(lua_State *L) {
  int sock = (int)braidB_checkinteger(L, 1);
  size_t len;
  const char *p = braidB_checkstring(L, 2, &len);
  int fds[BRAID_PROC_MAXFDS], sentinel = -1, *owner, n;
  pid_t pid;
  n = checkfds(L, 3, fds, "too many descriptors to hand over");
  owner = braidB_newfdowner(L);
  pid = braid__forkserver_request(sock, p, len, fds, n, &sentinel);
  if (pid < 0 && braidB_fdgc(L, errno))
    pid = braid__forkserver_request(sock, p, len, fds, n, &sentinel);
  if (pid < 0) return oserror(L, "fork (forkserver)");
  return push_child(L, owner, pid, sentinel);
}


/* core.forkserver_get() -> sock, pid | nil */
static int core_forkserver_get(lua_State *L) {
  int sock = atomic_load(&fs_sock);
  if (sock < 0) return 0;
  lua_pushinteger(L, sock);
  lua_pushinteger(L, atomic_load(&fs_pid));
  return 2;
}


/* core.forkserver_set(sock, pid) -> the sock and pid in use: 'sock' unless
** another state set one first (the caller then closes its own). */
static int core_forkserver_set(lua_State *L) {
  int sock = (int)braidB_checkinteger(L, 1), expected = -1;
  long pid = (long)braidB_checkinteger(L, 2);
  if (atomic_compare_exchange_strong(&fs_sock, &expected, sock)) {
    atomic_store(&fs_pid, pid);
    lua_pushinteger(L, sock);
    lua_pushinteger(L, pid);
  } else {
    lua_pushinteger(L, expected);
    lua_pushinteger(L, atomic_load(&fs_pid));
  }
  return 2;
}


/* core.forkserver_reset(sock): forgets the forkserver on 'sock' (it
** died) and closes the socket, unless another state did it first (or set
** a new one). */
static int core_forkserver_reset(lua_State *L) {
  int sock = (int)braidB_checkinteger(L, 1), expected = sock;
  if (atomic_compare_exchange_strong(&fs_sock, &expected, -1)) close(sock);
  return 0;
}


/* core.forkserver_status(sentinel, [pid]) -> code | nil (running) | false */
static int core_forkserver_status(lua_State *L) {
  int code = 0, r = braid__forkserver_status(
                       (int)braidB_checkinteger(L, 1), &code);
  /* the child's pid: reaped by the server, unlist it (not on an error: a
  ** sentinel already closed, say at the state's close, says nothing of the
  ** child, which an interrupted exit must still end) */
  if (r == 1 && lua_isinteger(L, 2))
    braid__child_remove((pid_t)lua_tointeger(L, 2));
  return push_reaped(L, r, code);
}


/* core.fd_cloexec(fd, on) */
static int core_fd_cloexec(lua_State *L) {
  int fd = (int)braidB_checkinteger(L, 1);
  fcntl(fd, F_SETFD, lua_toboolean(L, 2) ? FD_CLOEXEC : 0);
  return 0;
}


/* core.self_exe() -> path of the running executable, and whether braid is
** built into it (the braid host) rather than loaded as a module */
static int core_self_exe(lua_State *L) {
  char exe[4096], lib[4096];
  Dl_info info;
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  int builtin = 0;
  if (n < 0) return 0;
  exe[n] = '\0';
  if (dladdr((void *)&core_self_exe, &info) && info.dli_fname != NULL &&
      realpath(info.dli_fname, lib) != NULL)
    builtin = strcmp(lib, exe) == 0;
  lua_pushstring(L, exe);
  lua_pushboolean(L, builtin);
  return 2;
}
/* }====================================================== */


static const luaL_Reg process_funcs[] = {
  { "proc_payload", core_proc_payload },
  { "proc_decode", core_proc_decode },
  { "proc_fork", core_proc_fork },
  { "forkserver_get", core_forkserver_get },
  { "forkserver_set", core_forkserver_set },
  { "forkserver_reset", core_forkserver_reset },
  { "proc_spawn", core_proc_spawn },
  { "proc_reap", core_proc_reap },
  { "proc_kill", core_proc_kill },
  { "proc_exit", core_proc_exit },
  { "fd_wait", core_fd_wait },
  { "fds_wait", core_fds_wait },
  { "fd_close", core_fd_close },
  { "fd_cloexec", core_fd_cloexec },
  { "fd_send_payload", core_fd_send_payload },
  { "fd_recv_payload", core_fd_recv_payload },
  { "socketpair", core_socketpair },
  { "getpid", core_getpid },
  { "getppid", core_getppid },
  { "self_exe", core_self_exe },
  { "forkserver_serve", core_forkserver_serve },
  { "forkserver_request", core_forkserver_request },
  { "forkserver_status", core_forkserver_status },
  { NULL, NULL },
};


void braidB_open_process(lua_State *L) {
  luaL_setfuncs(L, process_funcs, 0);
  braidB_open_psync(L);
  braidB_open_mpqueue(L);
  braidB_open_sharedmem(L);
  braidB_open_travel(L);
}

/*
** lprocess.c: Lua binding of multiprocessing's C parts: child processes
** (fork, spawn, forkserver), the synchronisation
** objects in shared memory, the shared-memory Queue, SharedMemory, and
** the export of objects to child processes.
** See LICENSE for copyright and license.
**
** Export: a braid object given to a process being started crosses through
** its metatable's __braidexport(obj, mode) (see lcodec.h), which returns
** an attach function of braid.core and its arguments, and records the
** file descriptors the child must inherit (braidB_inherit_fd). Objects
** sent through a Pipe or a Queue (mode BRAID_ENC_PIPE) refuse with
** RuntimeError, as Python's do ("... should only be shared between
** processes through inheritance").
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "alloc.h"
#include "intr.h"
#include "lbind.h"
#include "mpqueue.h"
#include "process.h"
#include "psync.h"
#include "lcodec.h"
#include "shm.h"
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


void braidB_check_inherit_mode(lua_State *L, const char *what) {
  if (lua_tointeger(L, 2) == BRAID_ENC_PIPE)
    braidB_raise(L, "RuntimeError",
                 "%s objects should only be shared between processes "
                 "through inheritance",
                 what);
}


static double mptimeout(lua_State *L, int arg) {
  double t;
  if (lua_isnoneornil(L, arg)) return -1;
  t = braidB_opttimeout(L, arg, -1);
  return t < 0 ? 0 : t; /* multiprocessing: a negative timeout is 0 */
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
  pid = braid__proc_fork(&sentinel);
  if (pid < 0 && (errno == EMFILE || errno == ENFILE)) {
    braid__mutex_unlock(&rt->mu); /* no lock held while collecting */
    braidB_fdgc(L, errno);
    braid__mutex_lock(&rt->mu);
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
    lua_pushinteger(L, 0);
    return 1;
  }
  braid__mutex_unlock(&rt->mu);
  if (pid < 0) return oserror(L, "fork");
  *owner = sentinel;
  lua_pushinteger(L, pid);
  lua_pushinteger(L, sentinel);
  lua_pushvalue(L, -3);
  return 3;
}


/* core.proc_spawn(argv, keepfds) -> pid, sentinel, its owner */
static int core_proc_spawn(lua_State *L) {
  lua_Integer n, i, nk;
  char **argv;
  int keep[BRAID_PROC_MAXFDS], sentinel = -1, *owner;
  pid_t pid;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  nk = (lua_Integer)lua_rawlen(L, 2);
  if (n < 1) return braidB_argerror(L, 1, "ValueError", "empty argv");
  if (nk > BRAID_PROC_MAXFDS)
    return braidB_raise(L, "OSError", "too many descriptors to inherit");
  argv = (char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    argv[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1); /* the table keeps the string */
    if (argv[i - 1] == NULL) return braidB_typeerror(L, 1, "strings");
  }
  argv[n] = NULL;
  for (i = 1; i <= nk; i++) {
    lua_rawgeti(L, 2, i);
    keep[i - 1] = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  owner = braidB_newfdowner(L);
  pid = braid__proc_spawn(argv, keep, (int)nk, &sentinel);
  if (pid < 0 && braidB_fdgc(L, errno))
    pid = braid__proc_spawn(argv, keep, (int)nk, &sentinel);
  if (pid < 0) return oserror(L, argv[0]);
  *owner = sentinel;
  lua_pushinteger(L, pid);
  lua_pushinteger(L, sentinel);
  lua_pushvalue(L, -3);
  return 3;
}


/* core.proc_reap(pid, block) -> exitcode | nil (running) | false (not
** our child) */
static int core_proc_reap(lua_State *L) {
  pid_t pid = (pid_t)braidB_checkinteger(L, 1);
  int code = 0, r = braid__proc_reap(pid, lua_toboolean(L, 2), &code);
  if (r == 1) lua_pushinteger(L, code);
  else if (r == 0) lua_pushnil(L);
  else lua_pushboolean(L, 0);
  return 1;
}


/* core.fd_wait(fd, timeout) -> readable? (nil timeout: forever) */
static int core_fd_wait(lua_State *L) {
  int fd = (int)braidB_checkinteger(L, 1);
  double t = braidB_opttimeout(L, 2, -1);
  if (!lua_isnoneornil(L, 2) && t < 0) t = 0;
  braidB_poll(L);
  lua_pushboolean(L, braid__fd_wait(fd, t));
  return 1;
}


/* core.fds_wait({fd...}, timeout) -> { indices of readable fds } */
static int core_fds_wait(lua_State *L) {
  struct pollfd *p;
  lua_Integer n, i;
  double t = braidB_opttimeout(L, 2, -1);
  braid__deadline d;
  int k = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2) && t < 0) t = 0;
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
  for (;;) {
    int r = poll(p, (nfds_t)n, braid__deadline_poll_ms(&d));
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


static int core_getpid(lua_State *L) {
  lua_pushinteger(L, getpid());
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
  int fds[BRAID_PROC_MAXFDS], sentinel = -1, *owner;
  lua_Integer n, i;
  pid_t pid;
  luaL_checktype(L, 3, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 3);
  if (n > BRAID_PROC_MAXFDS)
    return braidB_raise(L, "OSError", "too many descriptors to hand over");
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 3, i + 1);
    fds[i] = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  owner = braidB_newfdowner(L);
  pid = braid__forkserver_request(sock, p, len, fds, (int)n, &sentinel);
  if (pid < 0 && braidB_fdgc(L, errno))
    pid = braid__forkserver_request(sock, p, len, fds, (int)n, &sentinel);
  if (pid < 0) return oserror(L, "fork (forkserver)");
  *owner = sentinel;
  lua_pushinteger(L, pid);
  lua_pushinteger(L, sentinel);
  lua_pushvalue(L, -3);
  return 3;
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
  if (r == 1) lua_pushinteger(L, code);
  else if (r == 0) lua_pushnil(L);
  else lua_pushboolean(L, 0);
  return 1;
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


/*
** {======================================================
** Synchronisation objects in shared memory
** =======================================================
*/

static braid_psync *topsync(lua_State *L, int idx) {
  braid_handle *h = braidB_tohandle(L, idx);
  if (h != NULL && h->type >= &braid__psync_types[0] &&
      h->type < &braid__psync_types[BRAID_PS_NKINDS])
    return (braid_psync *)h;
  return NULL;
}


static braid_psync *checkpsync(lua_State *L, int idx, int kind) {
  return (braid_psync *)braidB_checkhandle(L, idx, &braid__psync_types[kind]);
}


/* Any of the kinds in 'mask' (bits 1 << kind). */
static braid_psync *checkpsync_any(lua_State *L, int idx, int mask,
                                   const char *what) {
  braid_psync *p = topsync(L, idx);
  if (p == NULL || !(mask & (1 << p->kind))) {
    braidB_typeerror(L, idx, what);
    return NULL;
  }
  return p;
}

#define LOCKS ((1 << BRAID_PS_LOCK) | (1 << BRAID_PS_RLOCK))
#define SEMS ((1 << BRAID_PS_SEMAPHORE) | (1 << BRAID_PS_BSEMAPHORE))
#define ACQ (LOCKS | SEMS)

/* braid__psync_new, once more after a collection if descriptors ran
** out. */
static int psync_new(lua_State *L, braid_psync **p, int kind, int64_t value,
                     braid_psync *lock, const void *action, size_t len,
                     double timeout) {
  int rc = braid__psync_new(p, kind, value, lock, action, len, timeout);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno))
    rc = braid__psync_new(p, kind, value, lock, action, len, timeout);
  return rc;
}


static void pushnewpsync(lua_State *L, int rc, braid_psync *p) {
  if (rc != BRAID_OK) braidB_raisecode(L, rc, "cannot create a shared object");
  braidB_pushnewhandle(L, &p->h);
}


static int core_mp_lock(lua_State *L) {
  braid_psync *p;
  { int rc_ = psync_new(L, &p, BRAID_PS_LOCK, 0, NULL, NULL, 0, 0);
  pushnewpsync(L, rc_, p); }
  return 1;
}


static int core_mp_rlock(lua_State *L) {
  braid_psync *p;
  { int rc_ = psync_new(L, &p, BRAID_PS_RLOCK, 0, NULL, NULL, 0, 0);
  pushnewpsync(L, rc_, p); }
  return 1;
}


static int newsem(lua_State *L, int kind) {
  lua_Integer v = braidB_optinteger(L, 1, 1);
  braid_psync *p;
  if (v < 0)
    return braidB_argerror(L, 1, "ValueError",
                           "semaphore initial value must be >= 0");
  { int rc_ = psync_new(L, &p, kind, v, NULL, NULL, 0, 0);
  pushnewpsync(L, rc_, p); }
  return 1;
}

static int core_mp_semaphore(lua_State *L) {
  return newsem(L, BRAID_PS_SEMAPHORE);
}

static int core_mp_bsemaphore(lua_State *L) {
  return newsem(L, BRAID_PS_BSEMAPHORE);
}


/* core.mp_Condition(lock) */
static int core_mp_condition(lua_State *L) {
  braid_psync *lock = checkpsync_any(L, 1, LOCKS,
                                     "braid.mp.Lock or braid.mp.RLock");
  braid_psync *p;
  { int rc_ = psync_new(L, &p, BRAID_PS_CONDITION, 0, lock, NULL, 0,
                                   0);
  pushnewpsync(L, rc_, p); }
  return 1;
}


static int core_mp_event(lua_State *L) {
  braid_psync *p;
  { int rc_ = psync_new(L, &p, BRAID_PS_EVENT, 0, NULL, NULL, 0, 0);
  pushnewpsync(L, rc_, p); }
  return 1;
}


/* core.mp_Barrier(parties, [action], [timeout]) */
static int core_mp_barrier(lua_State *L) {
  static const char *const roots[] = { "action" };
  lua_Integer parties = braidB_checkinteger(L, 1);
  double timeout = lua_isnoneornil(L, 3) ? -1 : braidB_opttimeout(L, 3, -1);
  braid_msg *m = NULL;
  braid_psync *p;
  int rc;
  if (parties < 1)
    return braidB_argerror(L, 1, "ValueError", "parties must be >= 1");
  if (!lua_isnoneornil(L, 2)) m = braid__encode_proc(L, 2, 1, roots,
                                                     BRAID_ENC_PIPE);
  rc = psync_new(L, &p, BRAID_PS_BARRIER, parties, NULL,
                        m ? m->data : NULL, m ? m->len : 0,
                        timeout < 0 ? -1 : timeout);
  braid__msg_free(m);
  pushnewpsync(L, rc, p);
  return 1;
}


/* core._mp_attach(kind, fd, size, [lock]) */
static int core_mp_attach(lua_State *L) {
  int kind = (int)braidB_checkinteger(L, 1);
  int fd = (int)braidB_checkinteger(L, 2);
  size_t size = (size_t)braidB_checkinteger(L, 3);
  braid_psync *lock = lua_isnoneornil(L, 4) ? NULL : topsync(L, 4);
  braid_psync *p;
  int rc = braid__psync_attach(&p, kind, fd, size, lock);
  if (rc != BRAID_OK) return oserror(L, "cannot map a shared object");
  braidB_pushnewhandle(L, &p->h);
  return 1;
}


/* __braidexport(obj, mode) -> core._mp_attach, kind, fd, size, [lock] */
static int psync_export(lua_State *L) {
  static const char *const names[] = { "Lock", "RLock", "Semaphore",
                                       "BoundedSemaphore", "Condition",
                                       "Event", "Barrier" };
  braid_psync *p = topsync(L, 1);
  if (p == NULL) return 0;
  braidB_check_inherit_mode(L, names[p->kind]);
  if (p->fd < 0)
    return braidB_raise(L, "OSError", "this system has no memfd: shared "
                                      "objects reach forked children only");
  braidB_inherit_fd(L, p->fd);
  lua_pushcfunction(L, core_mp_attach);
  lua_pushinteger(L, p->kind);
  lua_pushinteger(L, p->fd);
  lua_pushinteger(L, (lua_Integer)p->size);
  if (p->lock) {
    braidB_pushhandle(L, &p->lock->h);
    return 5;
  }
  return 4;
}


/* acquire(block=true, timeout=nil) -> true [, "owner died"] | false */
static int ps_acquire(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, ACQ, "multiprocessing lock");
  int blocking = braidB_optboolean(L, 2, 1);
  double t = mptimeout(L, 3);
  int rc;
  braidB_poll(L);
  rc = braid__psync_acquire(p, blocking, t);
  lua_pushboolean(L, rc != BRAID_ETIMEDOUT);
  if (rc == BRAID_PSYNC_OWNER_DIED) {
    lua_pushliteral(L, "owner died");
    return 2;
  }
  return 1;
}


static int ps_release(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, ACQ, "multiprocessing lock");
  int rc = braid__psync_release(p);
  if (rc == BRAID_ESTATE || rc == BRAID_EINVAL)
    return braidB_raise(L, "ValueError",
                        "semaphore or lock released too many times");
  if (rc == BRAID_EPERM)
    return braidB_raise(L, "AssertionError",
                        "attempt to release recursive lock not owned by "
                        "thread");
  return 0;
}


static int ps_guard(lua_State *L) {
  lua_settop(L, 1);
  lua_getfield(L, 1, "acquire");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  return 1;
}


static int ps_close(lua_State *L) {
  lua_getfield(L, 1, "release");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  return 0;
}


static int ps_locked(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, LOCKS, "multiprocessing lock");
  lua_pushboolean(L, braid__psync_value(p) > 0);
  return 1;
}


static int ps_is_owned(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, LOCKS, "multiprocessing lock");
  lua_pushboolean(L, braid__psync_owned(p) > 0);
  return 1;
}


static int ps_get_value(lua_State *L) {
  braid_psync *p = checkpsync_any(L, 1, SEMS, "multiprocessing semaphore");
  lua_pushinteger(L, (lua_Integer)braid__psync_value(p));
  return 1;
}


/* Condition */
static int cond_acquire(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  braidB_pushhandle(L, &c->lock->h);
  lua_replace(L, 1);
  return ps_acquire(L);
}

static int cond_release(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  braidB_pushhandle(L, &c->lock->h);
  lua_replace(L, 1);
  return ps_release(L);
}

static int cond_wait(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  double t = mptimeout(L, 2);
  int rc;
  braidB_poll(L);
  rc = braid__psync_wait(c, t);
  if (rc == BRAID_EPERM)
    return braidB_raise(L, "AssertionError",
                        "cannot wait on un-acquired lock");
  lua_pushboolean(L, rc == BRAID_OK);
  return 1;
}

static int cond_notify(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  lua_Integer n = braidB_optinteger(L, 2, 1);
  if (braid__psync_notify(c, n) == BRAID_EPERM)
    return braidB_raise(L, "AssertionError", "lock is not owned");
  return 0;
}

static int cond_notify_all(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  if (braid__psync_notify(c, -1) == BRAID_EPERM)
    return braidB_raise(L, "AssertionError", "lock is not owned");
  return 0;
}

/* wait_for(predicate, timeout) -> the predicate's last result */
static int cond_wait_for(lua_State *L) {
  braid_psync *c = checkpsync(L, 1, BRAID_PS_CONDITION);
  double t = mptimeout(L, 3);
  braid__deadline d = braid__deadline_in(t);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  for (;;) {
    lua_pushvalue(L, 2);
    lua_call(L, 0, 1);
    if (lua_toboolean(L, -1)) return 1;
    if (t >= 0 && braid__deadline_passed(&d)) return 1;
    lua_pop(L, 1);
    if (braid__psync_wait(c, braid__deadline_left(&d)) == BRAID_EPERM)
      return braidB_raise(L, "AssertionError",
                          "cannot wait on un-acquired lock");
  }
}


/* Event */
static int ev_is_set(lua_State *L) {
  lua_pushboolean(L, braid__psync_value(checkpsync(L, 1, BRAID_PS_EVENT)) != 0);
  return 1;
}

static int ev_set(lua_State *L) {
  braid__psync_set(checkpsync(L, 1, BRAID_PS_EVENT), 1);
  return 0;
}

static int ev_clear(lua_State *L) {
  braid__psync_set(checkpsync(L, 1, BRAID_PS_EVENT), 0);
  return 0;
}

static int ev_wait(lua_State *L) {
  braid_psync *e = checkpsync(L, 1, BRAID_PS_EVENT);
  double t = mptimeout(L, 2);
  braidB_poll(L);
  lua_pushboolean(L, braid__psync_event_wait(e, t));
  return 1;
}


/* Barrier: wait(timeout) -> 1..parties */
static int bar_wait(lua_State *L) {
  braid_psync *b = checkpsync(L, 1, BRAID_PS_BARRIER);
  int64_t parties, nw, index = 0;
  int broken, run = 0, rc;
  double deft, t;
  braid__psync_binfo(b, &parties, &nw, &broken, &deft);
  t = lua_isnoneornil(L, 2) ? deft : mptimeout(L, 2);
  braidB_poll(L);
  rc = braid__psync_bwait(b, t, &index, &run);
  if (rc == BRAID_EBROKEN)
    return braidB_raise(L, "threading.BrokenBarrierError", "barrier broken");
  if (run) {
    const void *p;
    size_t len;
    braid_msg *m;
    int st;
    braid__psync_action(b, &p, &len);
    m = braid__msg_from_bytes(p, len);
    lua_settop(L, 1);
    if (m == NULL) {
      braid__psync_action_done(b, 0);
      return braidB_nomem(L);
    }
    if (braid__decode_owned(L, m) != 1) {
      braid__psync_action_done(b, 0);
      return luaL_error(L, "bad barrier action");
    }
    st = lua_pcall(L, 0, 0, 0);
    braid__psync_action_done(b, st == LUA_OK);
    if (st != LUA_OK) return lua_error(L);
  }
  lua_pushinteger(L, (lua_Integer)index + 1);
  return 1;
}

static int bar_reset(lua_State *L) {
  braid__psync_reset(checkpsync(L, 1, BRAID_PS_BARRIER));
  return 0;
}

static int bar_abort(lua_State *L) {
  braid__psync_abort(checkpsync(L, 1, BRAID_PS_BARRIER));
  return 0;
}

static int bar_index(lua_State *L) {
  braid_psync *b = checkpsync(L, 1, BRAID_PS_BARRIER);
  const char *k = lua_tostring(L, 2);
  int64_t parties, nw;
  int broken;
  double t;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (k == NULL) return 1;
  braid__psync_binfo(b, &parties, &nw, &broken, &t);
  if (strcmp(k, "parties") == 0) lua_pushinteger(L, (lua_Integer)parties);
  else if (strcmp(k, "n_waiting") == 0) lua_pushinteger(L, (lua_Integer)nw);
  else if (strcmp(k, "broken") == 0) lua_pushboolean(L, broken);
  else lua_pushnil(L);
  return 1;
}


static const luaL_Reg lock_methods[] = {
  { "acquire", ps_acquire },
  { "release", ps_release },
  { "guard", ps_guard },
  { "with", braidB_lock_with },
  { "locked", ps_locked },
  { "_is_owned", ps_is_owned },
  { NULL, NULL },
};

static const luaL_Reg sem_methods[] = {
  { "acquire", ps_acquire },
  { "release", ps_release },
  { "guard", ps_guard },
  { "with", braidB_lock_with },
  { "get_value", ps_get_value },
  { NULL, NULL },
};

static const luaL_Reg cond_methods[] = {
  { "acquire", cond_acquire },
  { "release", cond_release },
  { "guard", ps_guard },
  { "with", braidB_lock_with },
  { "wait", cond_wait },
  { "wait_for", cond_wait_for },
  { "notify", cond_notify },
  { "notify_all", cond_notify_all },
  { NULL, NULL },
};

static const luaL_Reg event_methods[] = {
  { "is_set", ev_is_set },
  { "set", ev_set },
  { "clear", ev_clear },
  { "wait", ev_wait },
  { NULL, NULL },
};

static const luaL_Reg barrier_methods[] = {
  { "wait", bar_wait },
  { "reset", bar_reset },
  { "abort", bar_abort },
  { NULL, NULL },
};

static const luaL_Reg lock_meta[] = {
  { "__close", ps_close },
  { "__braidexport", psync_export },
  { NULL, NULL },
};

static const luaL_Reg plain_meta[] = {
  { "__braidexport", psync_export },
  { NULL, NULL },
};

static const luaL_Reg barrier_meta[] = {
  { "__index", bar_index },
  { "__braidexport", psync_export },
  { NULL, NULL },
};
/* }====================================================== */


/*
** {======================================================
** Queue (shared-memory ring)
** =======================================================
*/

static braid_mpq *checkmpq(lua_State *L, int idx) {
  return (braid_mpq *)braidB_checkhandle(L, idx, &braid__mpq_type);
}


/* core.mp_Queue([maxsize], [ringbytes]) */
static int core_mp_queue(lua_State *L) {
  lua_Integer maxsize = braidB_optinteger(L, 1, 0);
  lua_Integer ring = braidB_optinteger(L, 2, 1 << 20);
  braid_mpq *q;
  int rc;
  if (ring < 64 || ring > ((lua_Integer)1 << 40))
    return braidB_argerror(L, 2, "ValueError", "bad ring size");
  rc = braid__mpq_new(&q, maxsize, (size_t)ring);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno))
    rc = braid__mpq_new(&q, maxsize, (size_t)ring);
  if (rc != BRAID_OK) return braidB_raisecode(L, rc, "cannot create a queue");
  braidB_pushnewhandle(L, &q->h);
  return 1;
}


static int core_mpq_attach(lua_State *L) {
  braid_mpq *q;
  int rc = braid__mpq_attach(&q, (int)braidB_checkinteger(L, 1),
                             (size_t)braidB_checkinteger(L, 2));
  if (rc != BRAID_OK) return oserror(L, "cannot map a queue");
  braidB_pushnewhandle(L, &q->h);
  return 1;
}


static int mpq_export(lua_State *L) {
  braid_mpq *q = checkmpq(L, 1);
  braidB_check_inherit_mode(L, "Queue");
  if (q->fd < 0)
    return braidB_raise(L, "OSError", "this system has no memfd");
  braidB_inherit_fd(L, q->fd);
  lua_pushcfunction(L, core_mpq_attach);
  lua_pushinteger(L, q->fd);
  lua_pushinteger(L, (lua_Integer)q->size);
  return 3;
}


/* q:put(obj, [block=true], [timeout]) */
static int mpq_put(lua_State *L) {
  static const char *const roots[] = { "obj" };
  braid_mpq *q = checkmpq(L, 1);
  int blocking = braidB_optboolean(L, 3, 1);
  double t = mptimeout(L, 4);
  braid_msg *m;
  int rc;
  luaL_checkany(L, 2);
  m = braid__encode_proc(L, 2, 1, roots, BRAID_ENC_PIPE);
  braidB_poll(L); /* may raise: but after the message is freed... */
  rc = braid__mpq_put(q, m->data, m->len, blocking, t);
  braid__msg_free(m);
  if (rc == BRAID_ETIMEDOUT) return braidB_raise(L, "queue.Full", "");
  return 0;
}


/* q:get([block=true], [timeout]) -> obj */
static int mpq_get(lua_State *L) {
  braid_mpq *q = checkmpq(L, 1);
  int blocking = braidB_optboolean(L, 2, 1);
  double t = mptimeout(L, 3);
  unsigned char *p;
  size_t len;
  braid_msg *m;
  int rc;
  braidB_poll(L);
  rc = braid__mpq_get(q, &p, &len, blocking, t);
  if (rc == BRAID_ETIMEDOUT) return braidB_raise(L, "queue.Empty", "");
  if (rc != BRAID_OK) return braidB_nomem(L);
  m = braid__msg_from_bytes(p, len);
  braid__free(p);
  if (m == NULL) return braidB_nomem(L);
  lua_settop(L, 0);
  return braid__decode_owned(L, m);
}


static int mpq_qsize(lua_State *L) {
  int64_t n, max, unf;
  braid__mpq_info(checkmpq(L, 1), &n, &max, &unf);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}


static int mpq_empty(lua_State *L) {
  int64_t n, max, unf;
  braid__mpq_info(checkmpq(L, 1), &n, &max, &unf);
  lua_pushboolean(L, n == 0);
  return 1;
}


static int mpq_full(lua_State *L) {
  int64_t n, max, unf;
  braid__mpq_info(checkmpq(L, 1), &n, &max, &unf);
  lua_pushboolean(L, max > 0 && n >= max);
  return 1;
}


static int mpq_task_done(lua_State *L) {
  if (braid__mpq_task_done(checkmpq(L, 1)) != BRAID_OK)
    return braidB_raise(L, "ValueError", "task_done() called too many times");
  return 0;
}


static int mpq_join(lua_State *L) {
  braid_mpq *q = checkmpq(L, 1);
  braidB_poll(L);
  braid__mpq_join(q);
  return 0;
}


static const luaL_Reg mpq_methods[] = {
  { "put", mpq_put },
  { "get", mpq_get },
  { "qsize", mpq_qsize },
  { "empty", mpq_empty },
  { "full", mpq_full },
  { "task_done", mpq_task_done },
  { "join", mpq_join },
  { NULL, NULL },
};

static const luaL_Reg mpq_meta[] = {
  { "__braidexport", mpq_export },
  { NULL, NULL },
};
/* }====================================================== */


/*
** {======================================================
** SharedMemory (POSIX shm_open)
** =======================================================
*/


typedef struct ShMem {
  unsigned char *p; /* first: recv_bytes_into reads p and size */
  size_t size;
  char name[64];
} ShMem;


static ShMem *checkshmem(lua_State *L, int idx, int open) {
  ShMem *m = (ShMem *)luaL_testudata(L, idx, BRAIDB_SHMEM_T);
  if (m == NULL) {
    braidB_typeerror(L, idx, BRAIDB_SHMEM_T);
    return NULL;
  }
  if (open && m->p == NULL)
    braidB_raise(L, "ValueError", "SharedMemory is closed");
  return m;
}


/* core.SharedMemory(name, create, size) */
static int core_shared_memory(lua_State *L) {
  const char *name = lua_isnoneornil(L, 1) ? NULL : braidB_checkstring(L, 1, NULL);
  int create = braidB_optboolean(L, 2, 0);
  lua_Integer size = braidB_optinteger(L, 3, 0);
  ShMem *m;
  char buf[64];
  int fd, flags = O_RDWR;
  struct stat st;
  void *p;
  if (size < 0) return braidB_argerror(L, 3, "ValueError", "'size' must be a positive integer");
  if (create && size == 0)
    return braidB_argerror(L, 3, "ValueError",
                           "'size' must be a positive number different from zero");
  if (!create && name == NULL)
    return braidB_argerror(L, 1, "ValueError",
                           "'name' can only be None if create=True");
  if (name != NULL) {
    if (strlen(name) > 60) return braidB_argerror(L, 1, "ValueError", "name too long");
    snprintf(buf, sizeof buf, "%s%s", name[0] == '/' ? "" : "/", name);
  }
  if (create) flags |= O_CREAT | O_EXCL;
  for (;;) {
    if (name == NULL) {
      unsigned r;
      FILE *f = fopen("/dev/urandom", "rb");
      if (f == NULL || fread(&r, sizeof r, 1, f) != 1) r = (unsigned)getpid() ^ (unsigned)(uintptr_t)&r;
      if (f) fclose(f);
      snprintf(buf, sizeof buf, "/psm_%08x", r);
    }
    fd = shm_open(buf, flags | O_CLOEXEC, 0600);
    if (fd < 0 && braidB_fdgc(L, errno))
      fd = shm_open(buf, flags | O_CLOEXEC, 0600);
    if (fd >= 0 || name != NULL || errno != EEXIST) break;
  }
  if (fd < 0) return oserror(L, buf + 1);
  if (create) {
    if (ftruncate(fd, (off_t)size) != 0) {
      int e = errno;
      close(fd);
      shm_unlink(buf);
      errno = e;
      return oserror(L, buf + 1);
    }
  } else {
    if (fstat(fd, &st) != 0) {
      close(fd);
      return oserror(L, buf + 1);
    }
    size = (lua_Integer)st.st_size;
  }
  p = mmap(NULL, size ? (size_t)size : 1, PROT_READ | PROT_WRITE, MAP_SHARED,
           fd, 0);
  close(fd);
  if (p == MAP_FAILED) return oserror(L, buf + 1);
  m = (ShMem *)lua_newuserdatauv(L, sizeof *m, 0);
  m->p = (unsigned char *)p;
  m->size = (size_t)size;
  memcpy(m->name, buf, sizeof m->name);
  luaL_setmetatable(L, BRAIDB_SHMEM_T);
  return 1;
}


static int shmem_close(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  if (m->p != NULL) munmap(m->p, m->size ? m->size : 1);
  m->p = NULL;
  return 0;
}


static int shmem_unlink(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  if (shm_unlink(m->name) != 0) return oserror(L, m->name + 1);
  return 0;
}


/* shm:read([offset=0], [n=size-offset]) -> string */
static int shmem_read(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 1);
  lua_Integer off = braidB_optinteger(L, 2, 0);
  lua_Integer n = braidB_optinteger(L, 3, (lua_Integer)m->size - off);
  luaL_Buffer b;
  char *d;
  lua_Integer k;
  if (off < 0 || n < 0 || (lua_Unsigned)off + (lua_Unsigned)n > m->size)
    return braidB_raise(L, "IndexError", "byte range out of bounds");
  d = luaL_buffinitsize(L, &b, (size_t)n);
  for (k = 0; k < n; k++)
    d[k] = (char)__atomic_load_n(m->p + off + k, __ATOMIC_RELAXED);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}


/* shm:write(offset, s) */
static int shmem_write(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 1);
  lua_Integer off = braidB_checkinteger(L, 2);
  size_t n, k;
  const char *s = braidB_checkstring(L, 3, &n);
  if (off < 0 || (lua_Unsigned)off + n > m->size)
    return braidB_raise(L, "IndexError", "byte range out of bounds");
  for (k = 0; k < n; k++)
    __atomic_store_n(m->p + off + k, (unsigned char)s[k], __ATOMIC_RELAXED);
  return 0;
}


static int shmem_index(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  const char *k = lua_tostring(L, 2);
  if (luaL_getmetafield(L, 1, "__methods")) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  }
  if (k && strcmp(k, "name") == 0) lua_pushstring(L, m->name + 1);
  else if (k && strcmp(k, "size") == 0) lua_pushinteger(L, (lua_Integer)m->size);
  else lua_pushnil(L);
  return 1;
}


/* Travels by name: the receiver attaches to the same segment. */
static int shmem_reduce(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  lua_pushcfunction(L, core_shared_memory);
  lua_pushstring(L, m->name + 1);
  lua_pushboolean(L, 0);
  return 3;
}


static int shmem_tostring(lua_State *L) {
  ShMem *m = checkshmem(L, 1, 0);
  lua_pushfstring(L, "SharedMemory('%s', size=%I)", m->name + 1,
                  (lua_Integer)m->size);
  return 1;
}


static const luaL_Reg shmem_methods[] = {
  { "close", shmem_close },
  { "unlink", shmem_unlink },
  { "read", shmem_read },
  { "write", shmem_write },
  { NULL, NULL },
};

static const luaL_Reg shmem_meta[] = {
  { "__index", shmem_index },
  { "__gc", shmem_close },
  { "__close", shmem_close },
  { "__braidreduce", shmem_reduce },
  { "__tostring", shmem_tostring },
  { NULL, NULL },
};
/* }====================================================== */


const braidB_Class braidB_process_classes[] = {
  { &braid__psync_types[BRAID_PS_LOCK], lock_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_RLOCK], lock_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_SEMAPHORE], sem_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_BSEMAPHORE], sem_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_CONDITION], cond_methods, lock_meta },
  { &braid__psync_types[BRAID_PS_EVENT], event_methods, plain_meta },
  { &braid__psync_types[BRAID_PS_BARRIER], barrier_methods, barrier_meta },
  { &braid__mpq_type, mpq_methods, mpq_meta },
  { NULL, NULL, NULL },
};


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
  { "mp_Lock", core_mp_lock },
  { "mp_RLock", core_mp_rlock },
  { "mp_Semaphore", core_mp_semaphore },
  { "mp_BoundedSemaphore", core_mp_bsemaphore },
  { "mp_Condition", core_mp_condition },
  { "mp_Event", core_mp_event },
  { "mp_Barrier", core_mp_barrier },
  { "_mp_attach", core_mp_attach },
  { "mp_Queue", core_mp_queue },
  { "_mpq_attach", core_mpq_attach },
  { "SharedMemory", core_shared_memory },
  { NULL, NULL },
};


void braidB_open_process(lua_State *L) {
  luaL_setfuncs(L, process_funcs, 0);
  if (luaL_newmetatable(L, BRAIDB_SHMEM_T)) {
    luaL_setfuncs(L, shmem_meta, 0);
    luaL_newlib(L, shmem_methods);
    lua_setfield(L, -2, "__methods");
  }
  lua_pop(L, 1);
}

/*
** lsubprocess.c: the C half of braid.subprocess: spawning a child from
** a spec table that lua/braid/subprocess.lua prepares, the child object
** (poll, wait, signals, reaped or orphaned when collected), the parent's
** pipe ends as file-like objects, and communicate()'s poll loop.
** See LICENSE for copyright and license.
**
** The Lua layer validates and normalises every option (types, NUL bytes,
** conflicting options, PATH search); this file trusts the spec's shape
** but not its descriptor numbers (the kernel checks those).
**
** Pipe objects read and write the parent's non-blocking end and wait in
** interrupt slices, so a blocked read or write never holds up another
** thread and Ctrl-C ends it with KeyboardInterrupt. In text mode reads
** translate "\r\n" and "\r" to "\n" (Python's universal newlines); a
** "\r" at the end of a chunk is translated at once and a "\n" starting
** the next chunk dropped ('skip_lf'), so chunk boundaries never matter.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "intr.h"
#include "lbind.h"
#include "os.h"
#include "process.h"
#include "subproc.h"

#define CHILD_T "braid.subprocess.Child"
#define PIPE_T "braid.subprocess.Pipe"
#define CHUNK 65536


/* { ====== child */

typedef struct Child {
  pid_t pid;
  int pidfd;
  int reaped;
  int code;
} Child;


static Child *checkchild(lua_State *L) {
  return (Child *)luaL_checkudata(L, 1, CHILD_T);
}


/* Once reaped the pidfd has nothing more to tell: give it back at once. */
static void set_reaped(Child *c, int r) {
  if (r < 0) c->code = 0; /* reaped elsewhere: Python reports 0 too */
  c->reaped = 1;
  if (c->pidfd >= 0) close(c->pidfd);
  c->pidfd = -1;
}


static int child_gc(lua_State *L) {
  Child *c = checkchild(L);
  if (c->pidfd >= 0) close(c->pidfd);
  c->pidfd = -1;
  if (!c->reaped && c->pid > 0) {
    int code;
    if (braid__proc_reap(c->pid, 0, &code) == 0) braid__subproc_orphan(c->pid);
    c->reaped = 1;
  }
  return 0;
}


/* child:poll() -> the exit code, or nil while it runs */
static int child_poll(lua_State *L) {
  Child *c = checkchild(L);
  if (!c->reaped) {
    int r = braid__proc_reap(c->pid, 0, &c->code);
    if (r == 0) return 0;
    set_reaped(c, r);
  }
  lua_pushinteger(L, c->code);
  return 1;
}


/* child:wait([timeout]) -> the exit code, or nil when 'timeout' passed
** (negative: no wait). Raises KeyboardInterrupt when Ctrl-C ends it. */
static int child_wait(lua_State *L) {
  Child *c = checkchild(L);
  double t = braidB_waittimeout(L, 2);
  if (!c->reaped) {
    int r;
    braidB_poll(L);
    r = braid__subproc_wait(c->pid, c->pidfd, t < 0 ? -1 : t, &c->code);
    if (r == 0) {
      braidB_intr_check(L);
      return 0;
    }
    set_reaped(c, r);
  }
  lua_pushinteger(L, c->code);
  return 1;
}


/* child:send_signal(sig): nothing once the child was reaped (its pid may
** belong to another process by now), as Python. */
static int child_send_signal(lua_State *L) {
  Child *c = checkchild(L);
  int sig = (int)braidB_checkinteger(L, 2);
  if (!c->reaped) {
    int code;
    int r = braid__proc_reap(c->pid, 0, &code);
    if (r != 0) {
      c->code = code;
      set_reaped(c, r);
      return 0;
    }
    if (kill(c->pid, sig) != 0 && errno != ESRCH)
      return braidB_oserror(L, errno, NULL);
  }
  return 0;
}


static int child_index(lua_State *L) {
  Child *c = checkchild(L);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "pid") == 0) {
    lua_pushinteger(L, c->pid);
    return 1;
  }
  if (k && strcmp(k, "returncode") == 0) {
    if (!c->reaped) return 0;
    lua_pushinteger(L, c->code);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* } ====== */


/* { ====== pipes */

typedef struct Pipe {
  int fd;        /* the parent's end, -1 once closed */
  int readable;  /* 1: we read (the child's stdout/stderr) */
  int text;
  int skip_lf;   /* text: a "\r" ended the last chunk */
  int eof;
  char *buf;     /* read buffer: bytes [off, len) are unread */
  size_t off, len, cap;
} Pipe;


static Pipe *checkpipe(lua_State *L, int idx) {
  return (Pipe *)luaL_checkudata(L, idx, PIPE_T);
}


static Pipe *openpipe(lua_State *L, int idx) {
  Pipe *p = checkpipe(L, idx);
  if (p->fd < 0) braidB_raise(L, "ValueError", "I/O operation on closed file.");
  return p;
}


static void pipe_release(Pipe *p) {
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  braid__free(p->buf);
  p->buf = NULL;
  p->off = p->len = p->cap = 0;
}


/* Translates 'n' bytes at 's' in place; returns the new length. */
static size_t translate(Pipe *p, char *s, size_t n) {
  size_t i, j = 0;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (p->skip_lf) {
      p->skip_lf = 0;
      if (ch == '\n') continue;
    }
    if (ch == '\r') {
      ch = '\n';
      p->skip_lf = 1;
    }
    s[j++] = ch;
  }
  return j;
}


/* Reads one chunk into the buffer: 1 with bytes added (or none left in a
** text chunk that was a lone "\n"), 0 at end of file. Raises on errors
** and for Ctrl-C. */
static int fill(lua_State *L, Pipe *p) {
  ssize_t r;
  if (p->eof) return 0;
  if (p->off > 0 && p->off == p->len) p->off = p->len = 0;
  if (p->cap - p->len < CHUNK) {
    size_t ncap;
    char *nb;
    if (p->off > 0) { /* compact before growing */
      memmove(p->buf, p->buf + p->off, p->len - p->off);
      p->len -= p->off;
      p->off = 0;
    }
    ncap = p->cap ? p->cap : CHUNK;
    while (ncap - p->len < CHUNK) ncap *= 2;
    if (ncap != p->cap) {
      nb = (char *)braid__realloc(p->buf, ncap);
      if (nb == NULL) braidB_nomem(L);
      p->buf = nb;
      p->cap = ncap;
    }
  }
  braidB_poll(L);
  r = braid__subproc_read(p->fd, p->buf + p->len, CHUNK);
  if (r == BRAID_ETIMEDOUT) {
    braidB_intr_check(L);
    return 1; /* a cancelled slice that did not raise: try again */
  }
  if (r < 0) return braidB_oserror(L, errno, NULL);
  if (r == 0) {
    p->eof = 1;
    return 0;
  }
  if (p->text) r = (ssize_t)translate(p, p->buf + p->len, (size_t)r);
  p->len += (size_t)r;
  return 1;
}


#define AVAIL(p) ((p)->len - (p)->off)

/* Pushes up to 'n' buffered bytes and consumes them. */
static void take(lua_State *L, Pipe *p, size_t n) {
  if (n > AVAIL(p)) n = AVAIL(p);
  lua_pushlstring(L, p->buf ? p->buf + p->off : "", n);
  p->off += n;
}


/* One line with its "\n" ('keep') or without; nil at end of file. */
static int read_line(lua_State *L, Pipe *p, int keep) {
  size_t scanned = 0;
  for (;;) {
    char *nl = AVAIL(p) > scanned
                   ? memchr(p->buf + p->off + scanned, '\n', AVAIL(p) - scanned)
                   : NULL;
    if (nl != NULL) {
      size_t n = (size_t)(nl - (p->buf + p->off));
      take(L, p, n + (keep ? 1 : 0));
      if (!keep) p->off++;
      return 1;
    }
    scanned = AVAIL(p);
    if (!fill(L, p)) {
      if (AVAIL(p) == 0) return 0;
      take(L, p, AVAIL(p));
      return 1;
    }
  }
}


static int read_all(lua_State *L, Pipe *p) {
  while (fill(L, p)) {}
  take(L, p, AVAIL(p));
  return 1;
}


/* 'n' bytes (fewer at end of file), nil when none are left (n > 0). */
static int read_n(lua_State *L, Pipe *p, lua_Integer n) {
  while ((lua_Integer)AVAIL(p) < n && fill(L, p)) {}
  if (n > 0 && AVAIL(p) == 0) return 0;
  take(L, p, (size_t)n);
  return 1;
}


/* Reads by one format: Lua's "a", "l", "L" (a leading '*' allowed) or a
** byte count. Pushes one value (nil at end of file). */
static void read_fmt(lua_State *L, Pipe *p, int arg) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer n = braidB_checkinteger(L, arg);
    if (n < 0) { read_all(L, p); return; } /* Python: read(-1) */
    if (!read_n(L, p, n)) lua_pushnil(L);
    return;
  } else {
    const char *f = braidB_checkstring(L, arg, NULL);
    if (*f == '*') f++;
    switch (*f) {
      case 'a': read_all(L, p); return;
      case 'l': if (!read_line(L, p, 0)) lua_pushnil(L); return;
      case 'L': if (!read_line(L, p, 1)) lua_pushnil(L); return;
      default:
        braidB_argerror(L, arg, "ValueError", "invalid format");
    }
  }
}


/* f:read([fmt...]): with no format, everything up to end of file
** (Python's read()); otherwise one value per format, as Lua's file:read. */
static int pipe_read(lua_State *L) {
  Pipe *p = openpipe(L, 1);
  int i, n = lua_gettop(L);
  if (!p->readable) return braidB_raise(L, "OSError", "File not open for reading");
  if (n < 2) return read_all(L, p);
  luaL_checkstack(L, n, "too many formats");
  for (i = 2; i <= n; i++) {
    read_fmt(L, p, i);
    if (lua_isnil(L, -1)) return i - 1;
  }
  return n - 1;
}


/* f:readline() -> the next line with its "\n", "" at end of file (Python). */
static int pipe_readline(lua_State *L) {
  Pipe *p = openpipe(L, 1);
  if (!p->readable) return braidB_raise(L, "OSError", "File not open for reading");
  if (!read_line(L, p, 1)) lua_pushliteral(L, "");
  return 1;
}


static int lines_iter(lua_State *L) {
  Pipe *p = checkpipe(L, lua_upvalueindex(1));
  if (p->fd < 0) return braidB_raise(L, "ValueError", "file is already closed");
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(2));
  read_fmt(L, p, 1);
  return 1;
}


/* f:lines([fmt]) -> an iterator of lines (or of 'fmt' reads) for a
** generic for, as Lua's file:lines. */
static int pipe_lines(lua_State *L) {
  Pipe *p = openpipe(L, 1);
  if (!p->readable) return braidB_raise(L, "OSError", "File not open for reading");
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lua_pushliteral(L, "l");
    lua_replace(L, 2);
  }
  lua_pushcclosure(L, lines_iter, 2);
  return 1;
}


/* f:write(s...) -> f. A reader that went away raises BrokenPipeError. */
static int pipe_write(lua_State *L) {
  Pipe *p = openpipe(L, 1);
  int i, n = lua_gettop(L);
  if (p->readable) return braidB_raise(L, "OSError", "File not open for writing");
  for (i = 2; i <= n; i++) {
    size_t len, done;
    const char *s;
    int rc;
    if (lua_type(L, i) == LUA_TNUMBER) s = lua_tolstring(L, i, &len);
    else s = braidB_checkstring(L, i, &len);
    braidB_poll(L);
    rc = braid__subproc_write(p->fd, s, len, &done);
    if (rc == BRAID_ETIMEDOUT) {
      braidB_intr_check(L);
      return braidB_raise(L, "KeyboardInterrupt", "");
    }
    if (rc == BRAID_ECLOSED) return braidB_oserror(L, EPIPE, NULL);
    if (rc != BRAID_OK) return braidB_oserror(L, errno, NULL);
  }
  lua_settop(L, 1);
  return 1;
}


static int pipe_flush(lua_State *L) { /* writes are not buffered */
  openpipe(L, 1);
  lua_settop(L, 1);
  return 1;
}


static int pipe_close(lua_State *L) {
  pipe_release(checkpipe(L, 1));
  return 0;
}


static int pipe_fileno(lua_State *L) {
  lua_pushinteger(L, openpipe(L, 1)->fd);
  return 1;
}


static int pipe_index(lua_State *L) {
  Pipe *p = checkpipe(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "closed") == 0) {
    lua_pushboolean(L, p->fd < 0);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}


static int pipe_tostring(lua_State *L) {
  Pipe *p = checkpipe(L, 1);
  lua_pushfstring(L, "subprocess pipe (%s, fd %d)",
                  p->readable ? "read" : "write", p->fd);
  return 1;
}


/* core.subproc_pipe(parent_reads, text) -> pipe, child_owner: the
** parent's end as a Pipe and the child's in a descriptor owner (lfd.c)
** that the caller closes once the child is started. */
static int l_pipe(lua_State *L) {
  int reads = lua_toboolean(L, 1), text = lua_toboolean(L, 2);
  int parent, child, rc;
  Pipe *p = (Pipe *)lua_newuserdatauv(L, sizeof *p, 0);
  int *owner;
  memset(p, 0, sizeof *p);
  p->fd = -1;
  luaL_setmetatable(L, PIPE_T);
  owner = braidB_newfdowner(L);
  rc = braid__subproc_pipe(reads, &parent, &child);
  if (rc != BRAID_OK && braidB_fdgc(L, errno))
    rc = braid__subproc_pipe(reads, &parent, &child);
  if (rc != BRAID_OK) return braidB_oserror(L, errno, NULL);
  p->fd = parent;
  p->readable = reads;
  p->text = text;
  *owner = child;
  return 2;
}

/* } ====== */


/* { ====== communicate */

static void append(lua_State *L, int st, const char *field, const char *s,
                   size_t n) {
  if (n == 0) return;
  if (lua_getfield(L, st, field) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, st, field);
  }
  lua_pushlstring(L, s, n);
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  lua_pop(L, 1);
}


/* The pipe in st[field], or NULL (absent or closed). */
static Pipe *stpipe(lua_State *L, int st, const char *field) {
  Pipe *p;
  lua_getfield(L, st, field);
  p = (Pipe *)luaL_testudata(L, -1, PIPE_T);
  lua_pop(L, 1);
  return (p && p->fd >= 0) ? p : NULL;
}


/* core.subproc_communicate(st, timeout) -> true when every pipe reached
** its end, false when 'timeout' passed (nil: none). 'st' holds the state
** that a second call continues from, so nothing is lost between calls:
** stdin, stdout, stderr (pipes or nil), input and inpos (bytes of it
** written), out and err (lists of chunks read). Pipes are closed as they
** finish, stdin once all the input went or the reader left. */
static int l_communicate(lua_State *L) {
  double t;
  braid__deadline d;
  char chunk[16384];
  const char *input;
  size_t inlen;
  static const char *const rf[2] = { "stdout", "stderr" };
  static const char *const of[2] = { "out", "err" };
  luaL_checktype(L, 1, LUA_TTABLE);
  t = braidB_waittimeout(L, 2);
  d = braid__deadline_in(t == BRAID_FOREVER ? -1 : t);
  lua_getfield(L, 1, "input");
  input = lua_tolstring(L, -1, &inlen);
  if (input == NULL) inlen = 0;
  /* 'input' stays on the stack: the string lives while we write it. */
  braidB_poll(L);
  for (;;) {
    struct pollfd fds[3];
    Pipe *ps[3];
    int nf = 0, i, r;
    lua_Integer pos;
    Pipe *in = stpipe(L, 1, "stdin");
    lua_getfield(L, 1, "inpos");
    pos = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (in && (size_t)pos >= inlen) pipe_release(in); /* all sent */
    else if (in) {
      fds[nf].fd = in->fd;
      fds[nf].events = POLLOUT;
      ps[nf++] = in;
    }
    for (i = 0; i < 2; i++) {
      Pipe *p = stpipe(L, 1, rf[i]);
      if (p == NULL) continue;
      if (AVAIL(p) > 0) { /* what a read() left in the buffer comes first */
        append(L, 1, of[i], p->buf + p->off, AVAIL(p));
        p->off = p->len;
      }
      if (p->eof) {
        pipe_release(p);
        continue;
      }
      fds[nf].fd = p->fd;
      fds[nf].events = POLLIN;
      ps[nf++] = p;
    }
    if (nf == 0) {
      lua_pushboolean(L, 1);
      return 1;
    }
    r = braid__poll(fds, (unsigned long)nf, braid__deadline_poll_ms(&d));
    if (r < 0 && errno != EINTR) return braidB_oserror(L, errno, "poll");
    if (r <= 0) {
      if (braid__deadline_passed(&d)) {
        braidB_intr_check(L);
        lua_pushboolean(L, 0);
        return 1;
      }
      continue;
    }
    for (i = 0; i < nf; i++) {
      Pipe *p = ps[i];
      if (fds[i].revents == 0) continue;
      if (!p->readable) {
        size_t n = inlen - (size_t)pos;
        ssize_t w;
        if (n > CHUNK) n = CHUNK;
        w = braid__subproc_write_some(p->fd, input + pos, n);
        if (w == BRAID_ECLOSED) { /* the child stopped reading: fine */
          pipe_release(p);
          continue;
        }
        if (w < 0) return braidB_oserror(L, errno, NULL);
        lua_pushinteger(L, pos + w);
        lua_setfield(L, 1, "inpos");
      } else {
        ssize_t n;
        do {
          n = read(p->fd, chunk, sizeof chunk);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        if (n < 0) return braidB_oserror(L, errno, NULL);
        if (n == 0) {
          p->eof = 1;
          pipe_release(p);
          continue;
        }
        if (p->text) n = (ssize_t)translate(p, chunk, (size_t)n);
        append(L, 1, p == stpipe(L, 1, "stdout") ? "out" : "err", chunk,
               (size_t)n);
      }
    }
  }
}

/* } ====== */


/* { ====== spawn */

/* A NULL-terminated array of the strings of the sequence at 'idx', in a
** userdata left on the stack (the strings stay in the table). */
static char **strarray(lua_State *L, int idx, int *n) {
  lua_Integer i, len = idx ? luaL_len(L, idx) : 0;
  char **a;
  if (len < 0 || len > 1 << 20)
    braidB_raise(L, "ValueError", "too many strings");
  a = (char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)(len + 1), 0);
  for (i = 0; i < len; i++) {
    if (lua_rawgeti(L, idx, i + 1) != LUA_TSTRING)
      braidB_raise(L, "TypeError", "string expected");
    a[i] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1); /* the table keeps the string alive */
  }
  a[len] = NULL;
  if (n) *n = (int)len;
  return a;
}


static int intfield(lua_State *L, int t, const char *k, int def) {
  int v = def;
  if (lua_getfield(L, t, k) != LUA_TNIL) v = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}


static int boolfield(lua_State *L, int t, const char *k) {
  int v;
  lua_getfield(L, t, k);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}


static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}


/* core.subproc_spawn(spec) -> child. 'spec' fields: paths, argv, env
** (a list of "K=V", or nil), fd0..fd2, cwd, close_fds, pass_fds,
** new_session, pgroup, umask, restore_signals, track, and for the error
** messages 'program' and 'cwd'. A failed start raises the OSError of the
** child's errno, naming the cwd when chdir failed, else the program. */
static int l_spawn(lua_State *L) {
  braid_spawn s;
  int *pass = NULL, npass = 0, pidfd, stage, i;
  pid_t pid;
  Child *c;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&s, 0, sizeof s);
  lua_getfield(L, 1, "paths");
  s.paths = strarray(L, lua_gettop(L), &s.npaths);
  lua_getfield(L, 1, "argv");
  s.argv = strarray(L, lua_gettop(L), NULL);
  if (lua_getfield(L, 1, "env") == LUA_TTABLE)
    s.envp = strarray(L, lua_gettop(L), NULL);
  else
    lua_pushnil(L);
  lua_getfield(L, 1, "cwd");
  s.cwd = lua_tostring(L, -1); /* stays on the stack */
  if (lua_getfield(L, 1, "pass_fds") == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, -1);
    if (n > 0) {
      pass = (int *)lua_newuserdatauv(L, sizeof(int) * (size_t)n, 0);
      for (i = 0; i < n; i++) {
        lua_rawgeti(L, -2, i + 1);
        pass[i] = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
      }
      npass = (int)n;
      qsort(pass, (size_t)npass, sizeof *pass, cmp_int);
    }
  }
  s.pass_fds = pass;
  s.npass = npass;
  s.fd[0] = intfield(L, 1, "fd0", -1);
  s.fd[1] = intfield(L, 1, "fd1", -1);
  s.fd[2] = intfield(L, 1, "fd2", -1);
  s.close_fds = boolfield(L, 1, "close_fds");
  s.new_session = boolfield(L, 1, "new_session");
  s.pgroup = intfield(L, 1, "pgroup", -1);
  s.umask = intfield(L, 1, "umask", -1);
  s.restore_signals = boolfield(L, 1, "restore_signals");
  s.track = boolfield(L, 1, "track");
  c = (Child *)lua_newuserdatauv(L, sizeof *c, 0);
  c->pid = -1;
  c->pidfd = -1;
  c->reaped = 1; /* nothing to reap until the spawn succeeds */
  c->code = 0;
  luaL_setmetatable(L, CHILD_T);
  pid = braid__subproc_spawn(&s, &pidfd, &stage);
  if (pid < 0 && stage == BRAID_SPAWN_FORK && braidB_fdgc(L, errno))
    pid = braid__subproc_spawn(&s, &pidfd, &stage);
  if (pid < 0) {
    int e = errno;
    const char *what;
    lua_getfield(L, 1, stage == BRAID_SPAWN_CWD ? "cwd" : "program");
    what = lua_pushfstring(L, "'%s'", lua_tostring(L, -1));
    if (stage == BRAID_SPAWN_SETUP || stage == BRAID_SPAWN_FORK) what = NULL;
    return braidB_oserror(L, e, what);
  }
  c->pid = pid;
  c->pidfd = pidfd;
  c->reaped = 0;
  return 1;
}


/* core.subproc_signals() -> {SIGHUP = 1, ...}: the names Python's
** signal.Signals has on this system. */
static int l_signals(lua_State *L) {
  static const struct { const char *name; int num; } sigs[] = {
#define S(n) { #n, n },
    S(SIGHUP) S(SIGINT) S(SIGQUIT) S(SIGILL) S(SIGTRAP) S(SIGABRT)
    S(SIGBUS) S(SIGFPE) S(SIGKILL) S(SIGUSR1) S(SIGSEGV) S(SIGUSR2)
    S(SIGPIPE) S(SIGALRM) S(SIGTERM) S(SIGCHLD) S(SIGCONT) S(SIGSTOP)
    S(SIGTSTP) S(SIGTTIN) S(SIGTTOU) S(SIGURG) S(SIGXCPU) S(SIGXFSZ)
    S(SIGVTALRM) S(SIGPROF) S(SIGWINCH) S(SIGIO) S(SIGSYS)
#ifdef SIGSTKFLT
    S(SIGSTKFLT)
#endif
#ifdef SIGPWR
    S(SIGPWR)
#endif
#undef S
  };
  size_t i;
  lua_createtable(L, 0, (int)(sizeof sigs / sizeof sigs[0]));
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    lua_pushinteger(L, sigs[i].num);
    lua_setfield(L, -2, sigs[i].name);
  }
  return 1;
}

/* core.subproc_devnull(write) -> owner of a close-on-exec descriptor of
** /dev/null (DEVNULL), opened for writing or reading. */
static int l_devnull(lua_State *L) {
  int w = lua_toboolean(L, 1);
  int *owner = braidB_newfdowner(L);
  int fd = open("/dev/null", (w ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0 && braidB_fdgc(L, errno))
    fd = open("/dev/null", (w ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return braidB_oserror(L, errno, "'/dev/null'");
  *owner = fd;
  return 1;
}


/* core.subproc_fileno(v) -> the descriptor of a Lua file handle (its
** buffered output flushed first, so it lands before the child's), or
** nil when 'v' is not a Lua file. A closed file is a ValueError. */
static int l_fileno(lua_State *L) {
  luaL_Stream *f = (luaL_Stream *)luaL_testudata(L, 1, LUA_FILEHANDLE);
  if (f == NULL) return 0;
  if (f->closef == NULL)
    return braidB_raise(L, "ValueError", "I/O operation on closed file");
  fflush(f->f);
  lua_pushinteger(L, fileno(f->f));
  return 1;
}

/* } ====== */


static const luaL_Reg child_methods[] = {
  { "poll", child_poll },
  { "wait", child_wait },
  { "send_signal", child_send_signal },
  { NULL, NULL },
};

static const luaL_Reg pipe_methods[] = {
  { "read", pipe_read },
  { "readline", pipe_readline },
  { "lines", pipe_lines },
  { "write", pipe_write },
  { "flush", pipe_flush },
  { "close", pipe_close },
  { "fileno", pipe_fileno },
  { NULL, NULL },
};

static const luaL_Reg funcs[] = {
  { "subproc_spawn", l_spawn },
  { "subproc_pipe", l_pipe },
  { "subproc_communicate", l_communicate },
  { "subproc_signals", l_signals },
  { "subproc_devnull", l_devnull },
  { "subproc_fileno", l_fileno },
  { NULL, NULL },
};


static void newmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                    lua_CFunction index, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushcclosure(L, index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}


void braidB_open_subprocess(lua_State *L) {
  newmeta(L, CHILD_T, child_methods, child_index, child_gc);
  newmeta(L, PIPE_T, pipe_methods, pipe_index, pipe_close);
  luaL_getmetatable(L, PIPE_T);
  lua_pushcfunction(L, pipe_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, pipe_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}

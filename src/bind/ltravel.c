/*
** ltravel.c: how a multiprocessing object's descriptor crosses to another
** process, whichever way the object goes: inherited by a process being
** started, or by ticket through the descriptor sharer (src/core/fdshare.h)
** when it is sent through a Pipe, an mp.Queue or a pool. braid lifts
** Python's rule that these objects "should only be shared between
** processes through inheritance": their memory is a memfd that any process
** of the same user can map once it holds the descriptor.
** See LICENSE for copyright and license.
**
** The export side (__braidexport(obj, mode)) calls braidB_export_fd,
** which pushes the descriptor's number (mode BRAID_ENC_PROCESS: the child
** inherits it under that number) or a ticket string (BRAID_ENC_PIPE). The
** attach side (the constructor the message names, run by the receiver's
** decoder) calls braidB_attach_fd and then braidB_attach_done.
**
** A message may be decoded more than once (a future's result, read
** again): a send is redeemed once, so each state remembers the objects
** it received by the entry part of their ticket (a weak table in its
** registry) and a decode that meets that entry again returns the same
** object. It still redeems its own send's serial (another send of an
** object already received holds one use of the sender's entry, which
** must be given back so that the sender's duplicate closes); the sender
** refuses a serial already redeemed (a second decode of one message),
** which is then ignored, so it never takes the use of another send.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdshare.h"
#include "lbind.h"
#include "lcodec.h"

static const char CACHE_KEY = 'r'; /* registry: ticket -> object (weak) */


void braidB_export_fd(lua_State *L, int fd, const char *what) {
  unsigned char t[BRAID_FDSHARE_TICKET];
  int rc;
  if (lua_tointeger(L, 2) == BRAID_ENC_STORE)
    braidB_raise(L, "RuntimeError",
                 "%s objects cannot be kept in a Barrier's action: every "
                 "process that runs it decodes it again, and a shared "
                 "object's descriptor is handed to the receivers of one "
                 "send only (pass it to the parties instead)",
                 what);
  if (lua_tointeger(L, 2) != BRAID_ENC_PIPE) {
    braidB_inherit_fd(L, fd);
    lua_pushinteger(L, fd);
    return;
  }
  rc = braid__fdshare_put(fd, t);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno))
    rc = braid__fdshare_put(fd, t);
  if (rc == BRAID_EOS) {
    lua_pushfstring(L, "cannot share a %s with another process", what);
    braidB_oserror(L, errno, lua_tostring(L, -1));
  }
  if (rc != BRAID_OK) braidB_raisecode(L, rc, "cannot share an object");
  lua_pushlstring(L, (const char *)t, sizeof t);
}


/* Pushes the cache key of the ticket at 'idx': its entry part. */
static void pushkey(lua_State *L, int idx) {
  size_t len;
  const char *t = lua_tolstring(L, idx, &len);
  lua_pushlstring(L, t, len < BRAID_FDSHARE_ENTRY ? len : BRAID_FDSHARE_ENTRY);
}


/* Pushes the registry's cache of received objects. */
static void pushcache(lua_State *L) {
  braidB_pushweakregistry(L, &CACHE_KEY, "v");
}


int braidB_attach_fd(lua_State *L, int idx, const char *what, int *fd) {
  size_t len;
  const char *t;
  long pid = 0;
  int rc, got;
  if (lua_type(L, idx) == LUA_TNUMBER) { /* inherited */
    *fd = (int)braidB_checkinteger(L, idx);
    return 0;
  }
  t = braidB_checkstring(L, idx, &len);
  pushcache(L);
  pushkey(L, idx);
  if (lua_rawget(L, -2) != LUA_TNIL) {
    lua_remove(L, -2);
    /* received before: give the sender its use back, if it still counts
    ** one (not when this is a second decode of one message) */
    if (braid__fdshare_take((const unsigned char *)t, len, &got, NULL) ==
        BRAID_OK)
      close(got);
    return 1;
  }
  lua_pop(L, 2);
  rc = braid__fdshare_take((const unsigned char *)t, len, fd, &pid);
  if (rc == BRAID_EOS && (errno == EMFILE || errno == ENFILE) &&
      braidB_fdgc(L, errno))
    rc = braid__fdshare_take((const unsigned char *)t, len, fd, &pid);
  if (rc == BRAID_EINVAL)
    return braidB_argerror(L, idx, "ValueError", "not a ticket of a shared %s",
                           what);
  if (rc != BRAID_OK) {
    int e = errno;
    lua_pushfstring(L,
                    "cannot receive a %s sent by process %d: %s", what,
                    (int)pid,
                    e == ECONNREFUSED
                        ? "that process has exited (a sender serves the "
                          "objects it sent while it runs)"
                    : e == ENOENT ? "its ticket was already used"
                                  : "its sender did not hand it over");
    return braidB_oserror(L, e, lua_tostring(L, -1));
  }
  return 0;
}


void braidB_attach_done(lua_State *L, int idx, int fd) {
  if (lua_type(L, idx) == LUA_TNUMBER) return; /* inherited: the child's */
  close(fd);
  braidB_attach_keep(L, idx);
}


void braidB_attach_keep(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) return;
  pushcache(L);
  pushkey(L, idx);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}


void braidB_attach_drop(lua_State *L, int idx, int fd) {
  int e = errno;
  if (lua_type(L, idx) != LUA_TNUMBER) close(fd);
  errno = e;
}


/* core._fdshare_pending() -> tickets this process still serves */
static int core_fdshare_pending(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)braid__fdshare_pending());
  return 1;
}


/* core._memfds() -> descriptors of this process open on one of braid's
** memfds (for the specs of lifetimes) */
static int core_memfds(lua_State *L) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  lua_Integer n = 0;
  if (d == NULL) return braidB_oserror(L, errno, "/proc/self/fd");
  while ((de = readdir(d)) != NULL) {
    char path[300], target[64];
    ssize_t k;
    snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
    k = readlink(path, target, sizeof target - 1);
    if (k > 0) {
      target[k] = '\0';
      if (strncmp(target, "/memfd:braid", 12) == 0) n++;
    }
  }
  closedir(d);
  lua_pushinteger(L, n);
  return 1;
}


void braidB_open_travel(lua_State *L) {
  lua_pushcfunction(L, core_fdshare_pending);
  lua_setfield(L, -2, "_fdshare_pending");
  lua_pushcfunction(L, core_memfds);
  lua_setfield(L, -2, "_memfds");
}

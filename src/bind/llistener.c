/*
** llistener.c: the sockets of multiprocessing.connection's Listener and
** Client (AF_INET, AF_UNIX with Linux's abstract names) and the
** authentication handshake over a Connection (src/core/auth.h). The Lua
** layer (lua/braid/multiprocessing/connection.lua) checks the arguments'
** shapes and makes the Listener object; these functions do the calls.
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "frame.h"
#include "lbind.h"
#include "lconn.h"
#include "net.h"
#include "process.h"


/* The address at (family, a, b) of the stack: AF_UNIX: a = the path
** (string); AF_INET: a = host, b = port. ValueError for a bad one. */
static void checkaddr(lua_State *L, int fam, int ia, braid__sockaddr *sa) {
  size_t n;
  const char *s = braidB_checkstring(L, ia, &n);
  int rc, gai = 0;
  if (fam == AF_UNIX) {
    rc = braid__net_addr_unix(sa, s, n);
    if (rc != BRAID_OK)
      braidB_raise(L, "ValueError", "bad AF_UNIX address '%s' (empty, too "
                   "long or holding a zero byte)", s);
    return;
  }
  rc = braid__net_addr_inet(sa, s, (long)braidB_checkinteger(L, ia + 1),
                            &gai);
  if (rc == BRAID_EINVAL)
    braidB_raise(L, "ValueError", "bad AF_INET address: port must be 0-65535");
  if (rc != BRAID_OK) {
    lua_pushfstring(L, "[Errno %d] %s: '%s'", gai, gai_strerror(gai), s);
    braidB_pushclass(L, "OSError"); /* Python's socket.gaierror */
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);
    lua_pushinteger(L, gai);
    lua_setfield(L, -2, "errno");
    lua_error(L);
  }
}


static int checkfamily(lua_State *L, int idx) {
  const char *f = lua_tostring(L, idx);
  if (f != NULL && strcmp(f, "AF_INET") == 0) return AF_INET;
  if (f != NULL && strcmp(f, "AF_UNIX") == 0) return AF_UNIX;
  return braidB_raise(L, "ValueError", "Family %s is not recognized.",
                      f ? f : luaL_typename(L, idx));
}


/* Pushes an address as the Lua API shows it: {host, port} for AF_INET,
** the path (a string, "" for an unnamed socket) for AF_UNIX. */
static void pushaddr(lua_State *L, const braid__sockaddr *a) {
  if (braid__net_family(a) == AF_INET) {
    char host[64];
    int port;
    braid__net_inet_parts(a, host, &port);
    lua_createtable(L, 2, 0);
    lua_pushstring(L, host);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, port);
    lua_rawseti(L, -2, 2);
  } else {
    size_t n;
    const char *p = braid__net_unix_path(a, &n);
    lua_pushlstring(L, p, n);
  }
}


/* core.net_listen(family, a, b, backlog) -> owner, address: a listening
** socket (its descriptor in a braid.FdOwner) and its bound address (port
** 0 replaced by the one the system picked). */
static int core_net_listen(lua_State *L) {
  int fam = checkfamily(L, 1);
  braid__sockaddr sa, local;
  int backlog = (int)braidB_optinteger(L, 4, 1);
  int *owner, rc, fd = -1;
  checkaddr(L, fam, 2, &sa);
  owner = braidB_newfdowner(L);
  rc = braid__net_listen(&sa, backlog, &fd);
  if (rc != BRAID_OK && braidB_fdgc(L, errno))
    rc = braid__net_listen(&sa, backlog, &fd);
  if (rc != BRAID_OK) return braidB_oserror(L, errno, "cannot listen");
  *owner = fd;
  if (braid__net_local(fd, &local) != BRAID_OK)
    return braidB_oserror(L, errno, "getsockname");
  pushaddr(L, &local);
  return 2;
}


/* core.net_accept(fd, allow_code, maxsize) -> Connection, peer address.
** Waits (interruptibly) for a peer first. */
static int core_net_accept(lua_State *L) {
  int lfd = (int)braidB_checkinteger(L, 1), fd = -1, rc;
  uint64_t maxsize = lua_isinteger(L, 3) ? (uint64_t)lua_tointeger(L, 3)
                                         : BRAIDB_NOMAX;
  braid__sockaddr peer;
  if (lfd < 0) return braidB_raise(L, "OSError", "listener is closed");
  for (;;) {
    braidB_poll(L);
    if (!braid__fd_wait(lfd, -1)) braidB_intr_check(L);
    rc = braid__net_accept(lfd, &fd, &peer);
    if (rc == BRAID_OK) break;
    if (errno == EAGAIN || errno == EWOULDBLOCK) continue; /* raced */
    if (!braidB_fdgc(L, errno)) return braidB_oserror(L, errno, "accept");
  }
  braidB_pushconn(L, fd, 1, 1, -1, lua_toboolean(L, 2), maxsize);
  pushaddr(L, &peer);
  return 2;
}


/* core.net_connect(family, a, b, allow_code, maxsize) -> Connection.
** ConnectionRefusedError when nothing listens there. */
static int core_net_connect(lua_State *L) {
  int fam = checkfamily(L, 1), fd = -1, rc;
  braid__sockaddr sa;
  uint64_t maxsize = lua_isinteger(L, 5) ? (uint64_t)lua_tointeger(L, 5)
                                         : BRAIDB_NOMAX;
  checkaddr(L, fam, 2, &sa);
  braidB_poll(L);
  rc = braid__net_connect(&sa, &fd);
  if (rc == BRAID_EOS && braidB_fdgc(L, errno)) rc = braid__net_connect(&sa, &fd);
  if (rc == BRAID_ECANCELED) {
    braidB_intr_check(L);
    errno = EINTR;
    rc = BRAID_EOS;
  }
  if (rc != BRAID_OK) return braidB_oserror(L, errno, "cannot connect");
  braidB_pushconn(L, fd, 1, 1, -1, lua_toboolean(L, 4), maxsize);
  return 1;
}


/* core.conn_auth(conn, role, authkey, [digest_name]): runs the handshake
** (auth.h) with role "deliver", "answer", "server" or "client" (our
** challenges asking for 'digest_name', default "sha256"); raises
** multiprocessing.AuthenticationError when it fails (after the peer was
** told "#FAILURE#" where the protocol says so). */
static int core_conn_auth(lua_State *L) {
  static const char *const roles[] = { "deliver", "answer", "server",
                                       "client", NULL };
  size_t klen, n = 0;
  const char *key;
  int role, fd;
  braid_auth a;
  unsigned char out[BRAID_AUTH_OUTMAX];
  fd = braidB_connfd(L, 1);
  role = luaL_checkoption(L, 2, NULL, roles) + BRAID_AUTH_DELIVER;
  key = braidB_checkstring(L, 3, &klen);
  braid__auth_init(&a, role, key, klen);
  if (!lua_isnoneornil(L, 4) &&
      braid__auth_set_digest(&a, lua_tostring(L, 4)) != BRAID_OK)
    return braidB_argerror(L, 4, "ValueError", "unsupported digest '%s'",
                           luaL_tolstring(L, 4, NULL));
  lua_settop(L, 4); /* the digest name stays referenced */
  while (!braid__auth_done(&a)) {
    const unsigned char *in = NULL;
    size_t outn = 0;
    int rc;
    if (braid__auth_wants(&a)) {
      braidB_conn_recvframe(L, 1, BRAID_AUTH_MAXMSG);
      in = (const unsigned char *)lua_tolstring(L, -1, &n);
    }
    rc = braid__auth_step(&a, in, n, out, &outn);
    if (outn > 0) {
      int wrc = braid__frame_write(fd, out, outn);
      /* a failed handshake reports the failure, not the peer's going */
      if (wrc != BRAID_OK && rc == BRAID_OK) {
        if (wrc == BRAID_ECLOSED) errno = EPIPE;
        return braidB_oserror(L, errno, "send");
      }
    }
    if (rc == BRAID_EOS)
      return braidB_raise(L, "OSError", "authentication: %s", a.why);
    if (rc != BRAID_OK)
      return braidB_raise(L, "multiprocessing.AuthenticationError", "%s",
                          a.why);
    lua_settop(L, 4);
  }
  return 0;
}


static const luaL_Reg listener_funcs[] = {
  { "net_listen", core_net_listen },
  { "net_accept", core_net_accept },
  { "net_connect", core_net_connect },
  { "conn_auth", core_conn_auth },
  { NULL, NULL },
};


void braidB_open_listener(lua_State *L) {
  luaL_setfuncs(L, listener_funcs, 0);
}

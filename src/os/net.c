/*
** net.c: stream sockets for Listener and Client (see net.h).
** See LICENSE for copyright and license.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "braid.h"
#include "net.h"
#include "os.h"


int braid__net_addr_unix(braid__sockaddr *a, const char *path, size_t n) {
  struct sockaddr_un *u = (struct sockaddr_un *)&a->ss;
  memset(a, 0, sizeof *a);
  /* a file name needs its terminator inside sun_path; an abstract name
  ** is exactly its bytes */
  if (n == 0 || n > sizeof u->sun_path - (path[0] != '\0'))
    return BRAID_EINVAL;
  if (path[0] != '\0' && memchr(path, '\0', n) != NULL) return BRAID_EINVAL;
  u->sun_family = AF_UNIX;
  memcpy(u->sun_path, path, n);
  a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                       (path[0] != '\0'));
  return BRAID_OK;
}


int braid__net_addr_inet(braid__sockaddr *a, const char *host, long port,
                         int *gai) {
  struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
  struct addrinfo hints, *res = NULL;
  int rc;
  *gai = 0;
  memset(a, 0, sizeof *a);
  if (port < 0 || port > 65535) return BRAID_EINVAL;
  in->sin_family = AF_INET;
  in->sin_port = htons((unsigned short)port);
  a->len = sizeof *in;
  if (host[0] == '\0') { /* Python: '' is INADDR_ANY */
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    return BRAID_OK;
  }
  if (inet_pton(AF_INET, host, &in->sin_addr) == 1) return BRAID_OK;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || res == NULL) {
    *gai = rc != 0 ? rc : EAI_NONAME;
    return BRAID_EOS;
  }
  in->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
  freeaddrinfo(res);
  return BRAID_OK;
}


int braid__net_family(const braid__sockaddr *a) {
  return a->ss.ss_family;
}


static int new_socket(const braid__sockaddr *a, int *fd) {
  int s = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return BRAID_EOS;
  *fd = s;
  return BRAID_OK;
}


static int fail_close(int s) {
  int e = errno;
  close(s);
  errno = e;
  return BRAID_EOS;
}


int braid__net_listen(const braid__sockaddr *a, int backlog, int *fd) {
  int s, one = 1;
  if (new_socket(a, &s) != BRAID_OK) return BRAID_EOS;
  if (a->ss.ss_family == AF_INET &&
      setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    return fail_close(s);
  if (bind(s, (const struct sockaddr *)&a->ss, a->len) != 0)
    return fail_close(s);
  if (listen(s, backlog < 0 ? 0 : backlog) != 0) return fail_close(s);
  /* non-blocking: a peer another process accepted first (after both saw
  ** the socket readable) gives EAGAIN, and the caller waits again, in
  ** slices, instead of blocking in accept */
  {
    int fl = fcntl(s, F_GETFL);
    if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) != 0) return fail_close(s);
  }
  *fd = s;
  return BRAID_OK;
}


int braid__net_accept(int lfd, int *fd, braid__sockaddr *peer) {
  for (;;) {
    int s;
    peer->len = sizeof peer->ss;
    s = accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len, SOCK_CLOEXEC);
    if (s >= 0) {
      *fd = s;
      return BRAID_OK;
    }
    if (errno != EINTR && errno != ECONNABORTED) return BRAID_EOS;
  }
}


int braid__net_connect(const braid__sockaddr *a, int *fd) {
  int s, err = 0, flags;
  socklen_t n = sizeof err;
  braid__deadline d = braid__deadline_in(-1);
  if (new_socket(a, &s) != BRAID_OK) return BRAID_EOS;
  /* non-blocking while it connects, so the wait is sliced like every
  ** other wait (os.h): an interrupt ends it */
  flags = fcntl(s, F_GETFL);
  if (flags < 0 || fcntl(s, F_SETFL, flags | O_NONBLOCK) != 0)
    return fail_close(s);
  if (connect(s, (const struct sockaddr *)&a->ss, a->len) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return fail_close(s);
    for (;;) {
      struct pollfd p;
      int r;
      p.fd = s;
      p.events = POLLOUT;
      p.revents = 0;
      r = braid__poll(&p, 1, braid__deadline_poll_ms(&d));
      if (r > 0) break;
      if (r < 0 && errno != EINTR) return fail_close(s);
      if (braid__deadline_passed(&d)) { /* an interrupt is due */
        close(s);
        return BRAID_ECANCELED;
      }
    }
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &n) != 0)
      return fail_close(s);
    if (err != 0) {
      errno = err;
      return fail_close(s);
    }
  }
  if (fcntl(s, F_SETFL, flags) != 0) return fail_close(s);
  *fd = s;
  return BRAID_OK;
}


int braid__net_local(int fd, braid__sockaddr *a) {
  a->len = sizeof a->ss;
  return getsockname(fd, (struct sockaddr *)&a->ss, &a->len) == 0
             ? BRAID_OK : BRAID_EOS;
}


void braid__net_inet_parts(const braid__sockaddr *a, char *host, int *port) {
  const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
  if (inet_ntop(AF_INET, &in->sin_addr, host, INET_ADDRSTRLEN) == NULL)
    host[0] = '\0';
  *port = ntohs(in->sin_port);
}


const char *braid__net_unix_path(const braid__sockaddr *a, size_t *n) {
  const struct sockaddr_un *u = (const struct sockaddr_un *)&a->ss;
  size_t off = offsetof(struct sockaddr_un, sun_path), k;
  if (a->len <= off) {
    *n = 0;
    return "";
  }
  k = a->len - off;
  /* a file name: up to its terminator; an abstract name: all its bytes */
  if (u->sun_path[0] != '\0') k = strnlen(u->sun_path, k);
  *n = k;
  return u->sun_path;
}

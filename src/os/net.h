/*
** net.h: the platform seam for stream sockets (Listener and Client of
** multiprocessing.connection): addresses, listen, accept, connect.
** See LICENSE for copyright and license.
**
** Contracts: every function returns BRAID_OK, or BRAID_EOS with errno set
** (the caller reports it as Python's OSError for that errno), or
** BRAID_EINVAL for an address that cannot exist (see each). Descriptors
** are made close-on-exec; sockets never raise SIGPIPE (writes use
** MSG_NOSIGNAL, see braid__fd_write_all).
*/
#ifndef BRAID_NET_H
#define BRAID_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* A socket address of family AF_INET or AF_UNIX. */
typedef struct braid__sockaddr {
  struct sockaddr_storage ss;
  socklen_t len;
} braid__sockaddr;

/* An AF_UNIX address for the 'n' bytes at 'path': a file name, or a name
** in Linux's abstract namespace when path[0] is '\0' (its bytes used as
** they are, no terminator). BRAID_EINVAL when empty or too long. */
int braid__net_addr_unix(braid__sockaddr *a, const char *path, size_t n);

/* An AF_INET address for 'host' (a dotted quad or a name, resolved with
** getaddrinfo: the first IPv4 address) and 'port' (0..65535). BRAID_EINVAL
** for a bad port; a host that does not resolve returns BRAID_EOS with
** '*gai' set to getaddrinfo's code (errno unspecified), else '*gai' is 0. */
int braid__net_addr_inet(braid__sockaddr *a, const char *host, long port,
                         int *gai);

/* A socket bound to 'a' and listening (SO_REUSEADDR for AF_INET, as
** Python's Listener sets it), non-blocking (see braid__net_accept). '*fd'
** is the socket. */
int braid__net_listen(const braid__sockaddr *a, int backlog, int *fd);

/* Accepts one connection on the listening socket 'lfd' (non-blocking:
** callers wait for readability first, so an interrupt can end the wait,
** and wait again on EAGAIN). The new socket is blocking. '*peer' is the
** peer's address. EINTR and ECONNABORTED are retried. */
int braid__net_accept(int lfd, int *fd, braid__sockaddr *peer);

/* A socket connected to 'a' (blocking once returned). The wait for the
** connection is sliced (os.h): BRAID_ECANCELED, nothing left open, when
** an interrupt is due on this thread (the caller raises it). */
int braid__net_connect(const braid__sockaddr *a, int *fd);

/* The local address of socket 'fd' (getsockname). */
int braid__net_local(int fd, braid__sockaddr *a);

/* The parts of an AF_INET address: dotted quad into 'host' (at least 16
** bytes) and the port. */
void braid__net_inet_parts(const braid__sockaddr *a, char *host, int *port);

/* The name of an AF_UNIX address: '*n' bytes (0 for an unnamed socket),
** starting with '\0' for an abstract name. */
const char *braid__net_unix_path(const braid__sockaddr *a, size_t *n);

/* The family (AF_INET or AF_UNIX) of 'a'. */
int braid__net_family(const braid__sockaddr *a);

#endif

/*
** lconn.h: the Connection object (lconn.c) as other binding files use it
** (Listener and Client in llistener.c make Connections over sockets).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LCONN_H
#define BRAID_LCONN_H

#include <stdint.h>

#include "lbind.h"

/* No maximum message size. */
#define BRAIDB_NOMAX UINT64_MAX

/* Pushes a new Connection owning 'fd' (readable 'r', writable 'w').
** 'allow_code': recv() may load Lua functions and call constructors by
** name (a trusted peer); 'maxsize': largest message recv accepts
** (BRAIDB_NOMAX: any). Out of memory, closes 'fd' and 'other' (-1 for
** none) and raises. */
BRAIDI_FUNC void braidB_pushconn(lua_State *L, int fd, int r, int w,
                                 int other, int allow_code,
                                 uint64_t maxsize);

/* The descriptor of the Connection at 'idx' (TypeError if it is not one,
** OSError when closed). */
BRAIDI_FUNC int braidB_connfd(lua_State *L, int idx);

/* Reads one frame of at most 'limit' bytes from Connection 'idx' and
** pushes it as a string. EOFError at the end of the stream; a longer
** frame raises OSError("bad message length") without reading it (the
** stream is then out of step: the connection stops being readable). */
BRAIDI_FUNC void braidB_conn_recvframe(lua_State *L, int idx, uint64_t limit);

/* Sends 'n' bytes at 'p' as one frame on Connection 'idx' (OSError,
** BrokenPipeError when the peer is gone). */
BRAIDI_FUNC void braidB_conn_sendframe(lua_State *L, int idx, const void *p,
                                       size_t n);

#endif

/*
** fdshare.h: the descriptor sharer, which lets a file descriptor reach a
** process that did not inherit it (multiprocessing objects sent through
** a Pipe, an mp.Queue or a pool: their memory is a memfd the receiver
** must map). See LICENSE for copyright and license.
**
** Why a sharer: the channels objects travel on are byte streams or rings
** in shared memory, which cannot carry descriptors, and pidfd_getfd needs
** ptrace rights (Yama, non-dumpable processes) and a sender that still
** holds the descriptor. So, as CPython's resource_sharer does, the sender
** keeps a duplicate of the descriptor under a random ticket and serves it
** from a thread listening on a Unix socket in Linux's abstract namespace
** (nothing in the file system to clean up); the message carries the
** ticket, whose first bytes name the socket. The receiver connects,
** presents the ticket and gets the descriptor by SCM_RIGHTS.
**
** Authentication: the socket name holds the sender's pid and a random
** nonce; both ends check the other's credentials (SO_PEERCRED: the same
** effective uid; the server's pid must be the ticket's); the 128-bit
** secret of the ticket is the capability. A request is 32 bytes
** (braid__fdshare_parse), read with a deadline, so a client that stalls
** delays the others by at most BRAID_FDSHARE_IO_MS.
**
** Lifetime of a ticket: it is used once (its last use closes the sender's
** duplicate). Each send has its own serial, so a message decoded twice
** (a future's result, read again) cannot take the use of another send of
** the same object: the second redemption of one serial is refused. One never redeemed keeps its duplicate until the sending
** process exits, when the kernel closes it with everything else the
** process held (so a message that is never received keeps the memory of
** its objects for the lifetime of its sender, no longer). A forked child
** starts with no tickets and its own socket: it closes the duplicates it
** inherited (pthread_atfork).
*/
#ifndef BRAID_FDSHARE_H
#define BRAID_FDSHARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "braidint.h"

/* Ticket: "BRFD", sender pid (4 bytes, little endian), socket nonce (8),
** the entry's secret (16), the send's serial (8, little endian). The first
** BRAID_FDSHARE_ENTRY bytes name the entry (the same for every send of
** one open file while it is pending). */
#define BRAID_FDSHARE_TICKET 40
#define BRAID_FDSHARE_ENTRY 32
/* Request: "BRFQ", version (2), three zero bytes, secret (16), serial
** (8). */
#define BRAID_FDSHARE_REQUEST 32
/* How long the server waits for a request, and a client for the answer
** (milliseconds). */
#define BRAID_FDSHARE_IO_MS 5000

/* Registers a duplicate of 'fd' and writes its ticket into 't'; starts
** this process's server on first use. Returns BRAID_OK, or BRAID_EOS
** (errno set: no descriptor, socket or thread), or BRAID_ENOMEM. */
BRAIDI_FUNC int braid__fdshare_put(int fd,
                                   unsigned char t[BRAID_FDSHARE_TICKET]);

/* Redeems the ticket 't' of 'len' bytes: '*fd' is a new close-on-exec
** descriptor of the same open file. A ticket of this process is taken
** from its table without a socket. Returns BRAID_OK; BRAID_EINVAL for
** bytes that are not a ticket; BRAID_EOS with errno set: ECONNREFUSED
** when its sender no longer serves (it exited), ENOENT when the sender
** does not know the ticket (this send was already redeemed), EPERM when the peer's
** credentials do not match, ETIMEDOUT when the sender did not answer in
** time, or the errno of the failed call. '*pid' (may be NULL) is the
** sender's pid. */
BRAIDI_FUNC int braid__fdshare_take(const unsigned char *t, size_t len,
                                    int *fd, long *pid);

/* Parses a request of 'len' bytes: BRAID_OK with the secret and the
** serial (24 bytes, as in a ticket) in 'key'; BRAID_EAGAIN when more
** bytes are needed; BRAID_EINVAL when the bytes cannot be a request.
** Decodes bytes from another process (fuzz/fuzz_fdshare.c). */
BRAIDI_FUNC int braid__fdshare_parse(const unsigned char *buf, size_t len,
                                     unsigned char key[24]);

/* The socket address named by ticket 't' (checked as by take: BRAID_OK
** or BRAID_EINVAL): for the fuzz target, which talks to the server
** directly. */
BRAIDI_FUNC int braid__fdshare_addr(const unsigned char *t, size_t len,
                                    struct sockaddr_un *a, socklen_t *alen);

/* Tickets this process holds (not yet redeemed). */
BRAIDI_FUNC size_t braid__fdshare_pending(void);

#endif

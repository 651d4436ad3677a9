/*
** memseg.h: out-of-line segments, the memfds that carry a big string
** between processes (the transfer format's T_SEG, wire.h), and the
** SCM_RIGHTS hand-over of their descriptors. See LICENSE for copyright
** and license.
**
** A segment is written once by its sender (one copy: write() into the
** memfd, possibly while the receiver already copies it out: segfill.h)
** and read once by its receiver (one copy out of a mapping). Nothing else
** names it: no file in the file system, no ticket; the kernel frees it
** when its last descriptor and mapping are gone, so the only lifetime
** rule is that whoever holds a descriptor of a message's segment owns
** that message (see wire.h: braid_msg's 'segs').
**
** Contracts: every function returns 0, or -1 with errno set (or the
** count / descriptor documented). Descriptors are
** close-on-exec; sends never raise SIGPIPE.
*/
#ifndef BRAID_MEMSEG_H
#define BRAID_MEMSEG_H

#include <stddef.h>

#include "segfill.h"

/* The most segments one message carries (and one SCM_RIGHTS message
** hands over); strings past it are written inline. */
#define BRAID_SEG_MAX 16

/* Making, sizing, mapping and reading segments (with their control page
** and the fill that overlaps the receiver's copy) is segfill.h's. */

/* Asks for the pages of the fresh block [p, p+n) that a segment is about
** to be copied into to be present (MADV_POPULATE_WRITE), and huge while
** they are cheap (thp.h): one call for all of them, or one fault per
** 2 MiB, instead of a fault per 4 KiB page, which costs more than the
** copy itself. Best effort: kernels without either ignore it. */
void braid__seg_prefault(void *p, size_t n);

/* Sends one byte with the 'n' (1..BRAID_SEG_MAX) descriptors 'fds' as
** SCM_RIGHTS on the datagram socket 'sock', without waiting: EAGAIN when
** its buffer is full, ETOOMANYREFS past the user's limit of descriptors
** in flight (the caller then sends the bytes inline). */
int braid__seg_send_dgram(int sock, const int *fds, int n);

/* Receives the next datagram of 'sock' without waiting; its descriptors
** (at most 'max', close-on-exec; extra ones are closed) go into 'fds'.
** Returns how many came, or -1 with errno set (EAGAIN: none waiting). */
int braid__seg_recv_dgram(int sock, int *fds, int max);

/* Takes the descriptors of the SCM_RIGHTS control messages of 'm' (a
** msghdr after recvmsg) into 'fds' (at most 'max'; extra ones, and all of
** them when 'fds' is NULL, are closed) and returns how many it kept. */
struct msghdr;
int braid__seg_take_rights(struct msghdr *m, int *fds, int max);

/* Fills 'cbuf' (at least BRAID_SEG_CMSG bytes) and 'm''s control fields
** so that 'm' carries the 'n' descriptors 'fds' (n <= BRAID_SEG_MAX). */
#define BRAID_SEG_CMSG 128
void braid__seg_put_rights(struct msghdr *m, void *cbuf, const int *fds,
                           int n);

#endif

/*
** pstream.h: a message streamed to another process through a memfd that
** its writer appends to while the reader decodes what is published (issue
** 16, item 4: a big table through an mp.Queue costs about the longer of
** its encode and decode instead of their sum plus a copy through the
** ring). See LICENSE for copyright and license.
**
** Layout: a control page of BRAID_PSTREAM_CTL bytes, then the message's
** bytes from file offset BRAID_PSTREAM_CTL on. The control page holds a
** magic, the count of bytes published (release store after the bytes are
** written), the state (open, done, failed), where the final message is
** when it differs from the bytes published (a restart, see stream.h), a
** futex word bumped with each publication, and a robust process-shared
** mutex that the writer holds until it ends the stream.
**
** Contracts:
** - The reader trusts nothing in the control page: it reads no byte
**   beyond the published count, checks the count against the file's size
**   (fstat) before it maps or reads that far, and checks the final
**   message's bounds; a page that breaks a rule is EINVAL.
** - Published bytes never change (the writer only appends).
** - A writer that dies leaves its mutex to the kernel's robust list: the
**   reader's trylock sees EOWNERDEAD and fails with EPIPE. A writer that
**   gives up sets "failed": EIO. Nothing half written is ever handed on.
** - The writer never waits for the reader: a reader that dies or stops
**   reading costs nothing but the memfd, which the kernel frees with the
**   last descriptor and mapping.
** - Waits are sliced (50 ms) and end early (EINTR) when braid__intr_stop()
**   says so.
*/
#ifndef BRAID_PSTREAM_H
#define BRAID_PSTREAM_H

#include <stddef.h>
#include <string.h>

#include "os.h"

#define BRAID_PSTREAM_CTL 4096

/* The bytes of a ring entry or a pool frame's payload that stands for a
** stream (with one descriptor, the stream's memfd). No message starts so:
** a message's first byte is BRAID_WIRE_VERSION. */
#define BRAID_PSTREAM_MARK "\xb7STR"
#define BRAID_PSTREAM_MARKLEN 4

/* 1 when 'len' bytes at 'p' with 'nsegs' descriptors are a stream's mark
** (a ring entry, a pool frame's payload or a message standing for the
** stream in its one descriptor). */
static inline int braid__pstream_is_mark(const unsigned char *p, size_t len,
                                         long nsegs) {
  return nsegs == 1 && len == BRAID_PSTREAM_MARKLEN &&
         memcmp(p, BRAID_PSTREAM_MARK, BRAID_PSTREAM_MARKLEN) == 0;
}

enum { BRAID_PSTREAM_OPEN, BRAID_PSTREAM_DONE, BRAID_PSTREAM_FAILED };

typedef struct braid_pstream_w braid_pstream_w;

/* A new stream: the writer into '*out' and a descriptor for the reader
** into '*fd' (the caller's: close it once it is handed over). 0, or -1
** with errno set. */
int braid__pstream_new(braid_pstream_w **out, int *fd);
/* Appends bytes [written, len) of 'base' (the first 'written' bytes are
** the same as before) and publishes them. 0, or -1 with errno (the stream
** is then failed: later calls do nothing and return -1). */
int braid__pstream_write(braid_pstream_w *w, const void *base, size_t len);
/* The message is complete: 'len' bytes of 'base'. With 'restart' they
** differ from what was published: they are appended whole and the reader
** decodes them from their start. 0, or -1 with errno (failed). */
int braid__pstream_done(braid_pstream_w *w, const void *base, size_t len,
                        int restart);
/* Fails the stream now (its reader gets EIO); later writes do nothing. */
void braid__pstream_fail(braid_pstream_w *w);
/* Ends the writer: a stream not done is failed (its reader gets EIO); the
** mutex is released, the mapping and descriptor closed, 'w' freed. */
void braid__pstream_end(braid_pstream_w *w);
/* Bytes published so far (the specs' probe). */
size_t braid__pstream_written(const braid_pstream_w *w);

/* The specs' slow writer: sleeps 'delay' seconds before each publication
** of this process's writers. Returns the previous value; sets it first
** when 'set'. */
double braid__pstream_delay(int set, double delay);
/* How many streams this process wrote and read (the specs' probe). */
void braid__pstream_counts(long *written, long *read);

/* Writes into memfd 'fd' (at least BRAID_PSTREAM_CTL bytes long) a control
** page that says what the arguments say, with a free mutex: the fuzz
** target's stream of lying bytes. 0, or -1 with errno. */
int braid__pstream_forge(int fd, unsigned long long count, unsigned state,
                         unsigned restart, unsigned long long final_off,
                         unsigned long long final_len);

/* The reader's side. */
typedef struct braid_pstream_r {
  void *ctl;                /* the control page, mapped read-write */
  int fd;                   /* the caller's */
  const unsigned char *map; /* the newest mapping of the data */
  size_t maplen;            /* its length */
  size_t known;             /* bytes the file is known to hold */
  size_t populated;         /* bytes of 'map' whose pages are mapped */
  int nold;                 /* earlier mappings, kept until close */
  const unsigned char *old[40];
  size_t oldlen[40];
  const braid__deadline *until; /* a bound on waits (NULL: none), set by
                                ** the caller after braid__pstream_open */
} braid_pstream_r;

/* What a reader may read: the message's bytes [base, base + len). */
typedef struct braid_pstream_view {
  const unsigned char *base;
  size_t len;
  int state;   /* BRAID_PSTREAM_* */
  int restart; /* DONE: the final message, to decode from its start */
} braid_pstream_view;

/* Maps the control page of 'fd' (kept by the caller) and checks it. 0, or
** -1 with errno (EINVAL: not a stream). */
int braid__pstream_open(braid_pstream_r *r, int fd);
/* Waits until 'want' bytes are readable or the stream has ended (a reader
** that has to sleep sleeps until 'ahead' more are, so that each wake-up
** pays for some work), and fills '*v'. 0, or -1 with errno: EIO (the
** writer gave up), EPIPE (it died), EINVAL (a bad control page), EINTR
** (an interrupt ended the wait), ETIMEDOUT ('r->until' passed first), or a
** mapping's error. */
int braid__pstream_wait(braid_pstream_r *r, size_t want, size_t ahead,
                        braid_pstream_view *v);
void braid__pstream_close(braid_pstream_r *r);

#endif

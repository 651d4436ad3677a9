/*
** lpstream.h: big values streamed to another process (lpstream.c): the
** branch of an mp.Queue put taken for a big table, and the reading of a
** stream item by its get. See LICENSE for copyright and license.
*/
#ifndef BRAID_LPSTREAM_H
#define BRAID_LPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "lua.h"
#include "mpqueue.h"
#include "os.h"
#include "pstream.h"
#include "wire.h"

/* BRAID_PSTREAM_MARK, the bytes of an entry that stands for a stream, is
** pstream.h's (a process pool's framing checks it, poolframe.c). */

/* 1 when the value at 'idx' is put streamed: a table likely big (as a
** threading Queue's put decides, lqstream.c). */
int braidB_pstream_wanted(lua_State *L, int idx);

/* Where a streamed value goes: 'entry' hands the stream's descriptor
** 'fd' over (the caller closes its own after): BRAID_OK, BRAID_EAGAIN
** (nothing handed over: the value goes whole instead) or an error code;
** 'failed' (may be NULL) is called when a stream whose entry was handed
** over fails. 'root' names the value in errors (NULL: "obj"). */
typedef struct braidB_pstarget {
  int (*entry)(void *ud, int fd);
  void (*failed)(void *ud);
  void *ud;
  const char *root;
} braidB_pstarget;

/* Encodes the value at 'idx' for 't', streamed once past the threshold:
** returns NULL when it was streamed (or when handing the entry over
** failed: '*entry_rc' is then that error, for the caller to raise), or
** the whole message to send as usual (under the threshold). MAY RAISE as
** braidB_mpq_put_streamed. */
braid_msg *braidB_put_streamed(lua_State *L, int idx,
                               const braidB_pstarget *t, int *entry_rc);
/* The same for the 'n' values from 'idx' as one message (one encoding:
** references shared between them are kept), named in errors by 'roots'
** (NULL: each by t->root). */
braid_msg *braidB_put_streamed_n(lua_State *L, int idx, int n,
                                 const char *const *roots,
                                 const braidB_pstarget *t, int *entry_rc);

/* q:put of the value at 'idx' streamed: once its encoding passes the
** streaming threshold a stream entry takes its place in the ring and the
** rest is published as it is encoded; under it, an ordinary put. MAY
** RAISE: queue.Full, the TypeError of a value that cannot be sent (the
** stream is failed: the reader skips it), KeyboardInterrupt (an interrupt
** during the stream fails it likewise), OSError. */
void braidB_mpq_put_streamed(lua_State *L, braid_mpq *q, int idx, int block,
                             double timeout);

/* A message standing for a stream (what braid__pstream_is_mark recognises):
** the 4 bytes of BRAID_PSTREAM_MARK, and the memfd 'fd' as its one
** segment; with 'nitems' > 0 a batch of that many items, the first the
** mark, the others empty (a map chunk whose items are the stream's
** values). 'fd' is taken: the message's, or closed here when none can be
** made (NULL: out of memory). */
braid_msg *braidB_pstream_mark(int fd, uint32_t nitems);

/* Decodes the stream of memfd 'fd' (closed here, raise or not) as it is
** written and pushes its values: how many (at least 1); or 0, having pushed nothing, when its
** writer failed or died (the item was never put). MAY RAISE
** (KeyboardInterrupt, ValueError for a stream that breaks its rules, and
** what a decode raises). */
int braidB_pstream_read(lua_State *L, int fd);
/* The same, its waits for the writer bounded by 'until' (NULL: none):
** -1, nothing pushed, when it passed first. What was decoded is dropped;
** the stream, whole in its memfd, can be read again from the start. */
int braidB_pstream_read_until(lua_State *L, int fd,
                              const braid__deadline *until);

/* Pushes the value of a message that stands for a stream (a process
** pool's streamed result, lprocpool.c: braid__pstream_is_mark of its bytes,
** its one segment the memfd, which stays the message's), read from the
** stream: how many. The pool finishes a future or a chunk with such a message
** only once the child said the stream is whole; a stream that is not
** raises ValueError. MAY RAISE as braidB_pstream_read too. */
int braidB_pstream_msg(lua_State *L, const braid_msg *m);

/* core._pstream_delay([s]) and core._pstream_counts(): the specs' probes. */
int braidB_pstream_delay(lua_State *L);
int braidB_pstream_counts(lua_State *L);

#endif

/*
** lqstream.h: streamed puts of big values to threading queues
** (lqstream.c): the branch of q:put taken for a big table, and the
** reading of a stream item by q:get / q:get_many (lqueue.c).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LQSTREAM_H
#define BRAID_LQSTREAM_H

#include "lua.h"
#include "queue.h"

/* The errors of a put and of a get that failed with 'rc' (queue.Full,
** queue.ShutDown, TypeError 'why', queue.Empty, ...), defined in lqueue.c
** for both files. */
int braidB_queue_raise_put(lua_State *L, int rc, const char *why);
int braidB_queue_raise_get(lua_State *L, int rc);

/* 1 when q:put of the value at 'idx' takes the streamed path: a table
** that is likely big (a sequence of at least BRAID_QSTREAM_MIN_LEN
** elements, or any table while the specs lowered the streaming threshold)
** to a queue that is not a PriorityQueue (which orders complete items). */
int braidB_qstream_wanted(lua_State *L, braid_queue *q, int idx);

/* q:put of the value at 'idx' through a stream: encodes it, and once
** the bytes pass the streaming threshold links a stream item (waiting
** for room as put does) that a get decodes while this goes on encoding.
** A value that stays under it is put as usual. Raises as q:put does; a
** value found unsendable after the item was linked fails the stream (a
** reader drops it and takes the next item), takes the item back from
** the unfinished count, and raises the TypeError with its path. */
int braidB_qstream_put(lua_State *L, braid_queue *q, int idx, int block,
                       double timeout);

/* Decodes the stream item 'm' taken from 'q' and pushes its value;
** returns 1, or 0 (nothing pushed) when its writer failed. Releases 'm'
** in every case. MAY RAISE like a decode. */
int braidB_qstream_read(lua_State *L, braid_msg *m);

/* q:get's reading of the stream item 'm' it took (block, timeout as
** given to it): pushes its value and returns 1; when its writer failed,
** takes the next item within what is left of the timeout (raising
** queue.Empty / queue.ShutDown as get does). */
int braidB_qstream_get(lua_State *L, braid_queue *q, braid_msg *m,
                       int block, double timeout);

/* q:get_many's decoding of the 'n' items it took, some of them stream
** items: stores item i's value in the table at 'tidx' at i + 1, or, for
** an item whose writer failed, the light userdata braidB_qstream_hole()
** (the caller takes the holes out); returns how many holes. Releases
** every item, also when it raises. */
lua_Integer braidB_qstream_many(lua_State *L, braid_queue *q,
                                braid_item *items, size_t n, int tidx);

/* The mark braidB_qstream_many leaves where a failed item would be. */
void *braidB_qstream_hole(void);

#endif

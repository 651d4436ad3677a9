/*
** lprocess.h: the files of multiprocessing's C parts, opened together by
** braidB_open_process (lprocess.c):
**   lprocess.c   processes: start methods, payload, sentinels, reaping,
**                descriptors, export to children (braidB_inherit_fd);
**   lpsync.c     the synchronisation objects in shared memory;
**   lmpqueue.c   Queue, a ring of messages in shared memory;
**   lsharedmem.c SharedMemory (POSIX shm_open).
** Their handle classes are braidB_psync_classes and braidB_mpq_classes
** (lbind.h). Pools of processes are lprocpool.c (see lpool.h).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_LPROCESS_H
#define BRAID_LPROCESS_H

#include "lua.h"

#include "braidint.h"

/* Each adds its constructors to the braid.core table on top of the
** stack. */
BRAIDI_FUNC void braidB_open_psync(lua_State *L);
BRAIDI_FUNC void braidB_open_mpqueue(lua_State *L);
BRAIDI_FUNC void braidB_open_sharedmem(lua_State *L);

#endif

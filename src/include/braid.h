/*
** braid.h: public C API of braid, for programs that embed it.
**
** Copyright (c) 2026 the braid authors. MIT licence: see LICENSE.
**
** braid gives Lua 5.4 scripts Python's concurrency API. Every worker runs
** its own Lua state. An embedding host opens braid in its own state with
** braid_openlibs() (braidlib.h) and may configure, through a runtime, how
** worker states are made: the allocator they use, and an initializer that
** runs on each new worker state before any user code, so that worker code
** can use the host's own modules.
*/
#ifndef BRAID_H
#define BRAID_H

#include <stddef.h>

#include "braidconf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* { ====== version */
#define BRAID_VERSION_MAJOR 0
#define BRAID_VERSION_MINOR 1
#define BRAID_VERSION_PATCH 0
#define BRAID_VERSION_STRING "braid 0.1.0"

/* (major << 16) | (minor << 8) | patch of the library actually linked. */
BRAID_API unsigned int braid_version(void);
BRAID_API const char *braid_version_string(void);
/* } ====== */

/* { ====== error codes: 0 is success, failures are negative */
/* clang-format off */
#define BRAID_ERRNO_MAP(X)                                                   \
  X(ENOMEM,    -1, "not enough memory")                                      \
  X(EINVAL,    -2, "invalid argument")                                       \
  X(ETIMEDOUT, -3, "timed out")                                              \
  X(EEMPTY,    -4, "queue is empty")                                         \
  X(EFULL,     -5, "queue is full")                                          \
  X(EBROKEN,   -6, "barrier is broken")                                      \
  X(ECANCELED, -7, "operation was cancelled")                                \
  X(ECLOSED,   -8, "object is closed")                                       \
  X(ENOTSUP,   -9, "value cannot be transferred")                            \
  X(ESTATE,   -10, "object is in the wrong state")                           \
  X(EPERM,    -11, "operation not permitted")                                \
  X(EAGAIN,   -12, "resource temporarily unavailable")                       \
  X(EOS,      -13, "operating system error")                                 \
  X(ESHUTDOWN,-14, "object was shut down")
/* clang-format on */

enum braid_errno {
  BRAID_OK = 0,
#define BRAID_X(name, num, msg) BRAID_##name = (num),
  BRAID_ERRNO_MAP(BRAID_X)
#undef BRAID_X
  BRAID_ERRNO_LAST
};

/* Message and name ("ETIMEDOUT") of a code; never NULL. */
BRAID_API const char *braid_strerror(int code);
BRAID_API const char *braid_err_name(int code);
/* } ====== */

/* { ====== runtime: how worker states are made */
typedef struct braid_runtime braid_runtime_t;

/* Lua's state, by name only: this header needs no Lua header. */
struct lua_State;

/* Runs on the new worker's own OS thread, on its fresh state, after the
** standard libraries and braid are opened and before any user code. The
** host registers its modules here (package.preload, globals...). Return 0,
** or non-zero to make the thread fail to start (its start() raises). */
typedef int (*braid_stateinit_cb)(struct lua_State *L, void *ud);

/* An allocator of worker states: the same type as Lua's lua_Alloc (a
** lua_Alloc converts to it without a cast). Spelled out here so that this
** header, and the C core under it, need no Lua header. */
typedef void *(*braid_alloc_cb)(void *ud, void *ptr, size_t osize,
                                size_t nsize);

enum {
  BRAID_RUNTIME_HAS_ALLOC = 1 << 0,
  BRAID_RUNTIME_HAS_STATEINIT = 1 << 1
};

/* Fields are read only when their BRAID_RUNTIME_HAS_* bit is set in
** 'flags'. Zero-initialize the struct: fields may be added at the end. */
typedef struct braid_runtime_options {
  unsigned int flags;
  braid_alloc_cb alloc; /* BRAID_RUNTIME_HAS_ALLOC: worker states' */
  void *alloc_ud;
  braid_stateinit_cb stateinit; /* BRAID_RUNTIME_HAS_STATEINIT */
  void *stateinit_ud;
} braid_runtime_options_t;

/* Creates a runtime holding one reference for the caller. 'opts' may be
** NULL. Returns BRAID_OK, BRAID_EINVAL or BRAID_ENOMEM. */
BRAID_API int braid_runtime_new(braid_runtime_t **rtp,
                                const braid_runtime_options_t *opts);

/* Adds a per-state initializer to the runtime (several may be added; they
** run in order). Only valid before the runtime starts its first thread.
** Returns BRAID_OK, BRAID_ESTATE or BRAID_ENOMEM. */
BRAID_API int braid_runtime_add_stateinit(braid_runtime_t *rt,
                                          braid_stateinit_cb fn, void *ud);

/* Drops the caller's reference. Worker threads and states hold their own
** references, so a runtime outlives every worker it started. */
BRAID_API void braid_runtime_release(braid_runtime_t *rt);

/* Blocks until every non-daemon thread of the runtime has ended (what
** Python does at interpreter exit). The 'braid' host and the state that
** opened braid call it when they close. */
BRAID_API void braid_runtime_join_threads(braid_runtime_t *rt);

/* Number of braid objects (locks, queues, threads...) still alive in the
** process. A host can check it for leaks after closing its states. */
BRAID_API long braid_live_objects(void);
/* } ====== */

#ifdef __cplusplus
}
#endif
#endif

/*
** braidlib.h: Lua entry points of braid (the analogue of lualib.h).
** See LICENSE for copyright and license.
*/
#ifndef BRAIDLIB_H
#define BRAIDLIB_H

#include "lua.h"
#include "braid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* require "braid.core": the C module under braid's Lua layer. */
BRAID_API int luaopen_braid_core(lua_State *L);

/* Makes every braid module requirable in 'L' without any file on disk:
** installs package.preload loaders for "braid.core" and the Lua layer
** compiled into the library ("braid", "braid.threading", ...). Call it
** after luaL_openlibs. Does not require anything itself. */
BRAID_API void braid_openlibs(lua_State *L);

/* Binds 'L' to runtime 'rt' (retained), so that threads started from 'L'
** use its allocator and state initializers. Call before the first
** require "braid". Returns BRAID_OK or BRAID_ESTATE if 'L' already has a
** runtime. */
BRAID_API int braid_attach(lua_State *L, braid_runtime_t *rt);

/* Ctrl-C (docs/HACKING.md). braid_is_interrupt: is the value at 'idx' a
** braid.errors.KeyboardInterrupt? (a host's message handler asks, since an
** error its handler sees was not caught by the script). A host calls
** braid_interrupt_exit after the script's protected call returned with
** an uncaught KeyboardInterrupt (once <close> handlers ran): it ends the
** process as Python does (children ended, then killed by SIGINT: the
** shell sees 130) and does not return. */
BRAID_API int braid_is_interrupt(lua_State *L, int idx);
BRAID_API void braid_interrupt_exit(lua_State *L);
/* Forgets a KeyboardInterrupt: the next SIGINT raises one again instead of
** ending the process at once, and workers are no longer cancelled (a
** REPL calls it after each line). */
BRAID_API void braid_interrupt_reset(void);

#ifdef __cplusplus
}
#endif
#endif

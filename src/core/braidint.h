/*
** braidint.h: internal common header of braid's core and binding.
** See LICENSE for copyright and license.
*/
#ifndef BRAIDINT_H
#define BRAIDINT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "braid.h"

/* Internal functions shared between files: hidden from the linker's
** export list, like Lua's LUAI_FUNC. */
#define BRAIDI_FUNC __attribute__((visibility("hidden"))) extern

#define braid__unused(x) ((void)(x))

#if defined(__GNUC__)
#define braid__likely(x) __builtin_expect(!!(x), 1)
#define braid__unlikely(x) __builtin_expect(!!(x), 0)
#else
#define braid__likely(x) (x)
#define braid__unlikely(x) (x)
#endif

/* Allocation of core objects (not of Lua states, whose allocator the
** runtime chooses). Failures are reported as BRAID_ENOMEM. */
#define braid__malloc(n) malloc(n)
#define braid__calloc(n, s) calloc((n), (s))
#define braid__realloc(p, n) realloc((p), (n))
#define braid__free(p) free(p)

#endif

/*
** braidconf.h: build-time knobs of braid and the export macro.
** See LICENSE for copyright and license.
*/
#ifndef BRAIDCONF_H
#define BRAIDCONF_H

/* Symbols of the public API are exported; everything else is hidden by
** the build (-fvisibility=hidden). */
#if defined(_WIN32)
#if defined(BRAID_BUILDING_SHARED)
#define BRAID_API __declspec(dllexport)
#elif defined(BRAID_USING_SHARED)
#define BRAID_API __declspec(dllimport)
#else
#define BRAID_API
#endif
#else
#define BRAID_API __attribute__((visibility("default")))
#endif

/* Internal functions shared between braid's files: hidden from the
** linker's export list (like Lua's LUAI_FUNC). Defined here, under every
** layer, so that the platform seam (src/os) needs no header above it. */
#define BRAIDI_FUNC __attribute__((visibility("hidden"))) extern

#if defined(__GNUC__)
#define braid__likely(x) __builtin_expect(!!(x), 1)
#define braid__unlikely(x) __builtin_expect(!!(x), 0)
#else
#define braid__likely(x) (x)
#define braid__unlikely(x) (x)
#endif

/* Timeout value meaning 'wait forever'. */
#define BRAID_FOREVER (-1.0)

/* Largest timeout accepted, in seconds (Python's threading.TIMEOUT_MAX on
** Linux is about 292 years; we keep the same bound so that deadlines fit
** a 64-bit timespec). */
#define BRAID_TIMEOUT_MAX 9223372036.0

/* The longest a blocked queue get/put spins, in nanoseconds, before it
** sleeps on a condition variable (each queue adapts its spin below this,
** from the hand-offs it sees; the environment variable BRAID_SPIN_NS
** overrides it at run time, 0 turns spinning off); a wait on a
** connection, pipe or process sentinel polls without sleeping for as
** long before it blocks in poll() (a connection's recv not at all after
** a message that came later than the spin). A cross-core wake-up costs tens of
** microseconds on some virtual machines; a consumer still spinning when
** the item arrives answers in about a microsecond. Nothing spins where
** it would take the CPU from the thread it waits for: with fewer than 2
** usable CPUs (affinity, cgroup quota), more running braid threads than
** CPUs, or more runnable threads on the machine than CPUs
** (src/os/spin.h, docs/HACKING.md "Spinning before sleeping").
** The spin is bounded, so an idle consumer burns at most this much CPU
** per wait. */
#define BRAID_SPIN_NS 30000

#endif

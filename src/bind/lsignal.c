/*
** lsignal.c: Ctrl-C in Lua: KeyboardInterrupt in the main state and the
** interrupted exit. The platform side (handler, interrupt state, sliced
** waits, children registry) is src/os/intr.c; intr.h has the design and
** docs/HACKING.md "Ctrl-C" the rules users see.
** See LICENSE for copyright and license.
**
** - braidB_intr_open: the first root state that opens braid installs the
**   handler; its main Lua thread is the one interrupted (a coroutine of
**   it running at the time is not: Lua hooks are per thread, as lua.c's).
** - On the first SIGINT the handler sets a count hook on that thread: Lua
**   code raises KeyboardInterrupt at its next instruction, call or return.
**   A blocking braid call ends as timed out (intr.h) and raises it itself
**   (braidB_raise substitutes it) or returns and the hook raises it.
** - Raising it cancels the workers: their braid waits end from now on and
**   their braid errors become KeyboardInterrupt, so that the <close>
**   handlers that shut pools down while the program unwinds do not wait
**   for workers blocked in braid calls.
** - The exit: an uncaught KeyboardInterrupt ends the process as Python's
**   does, killed by SIGINT (the shell sees 130), after the children are
**   ended: SIGTERM, SIGKILL for those still there after the grace period,
**   all reaped. The braid host's message handler notes an uncaught
**   KeyboardInterrupt and calls braid_interrupt_exit once the script's
**   call returned (<close> handlers ran). Under lua5.4, lua.c prints the error and closes the
**   state: a finalizer made when KeyboardInterrupt was first raised (so
**   it runs before the other finalizers, which would join children and
**   threads) does the same exit unless the host said the interrupt was
**   caught.
*/
#include <signal.h>
#include <string.h>
#include <time.h>

#include "intr.h"
#include "lbind.h"
#include "thread.h"

/* Seconds the interrupted exit gives children and non-daemon threads
** before it kills the children and ends the process anyway. */
#define EXIT_GRACE 0.3

static const char ANCHOR_KEY = 'x';
static lua_State *volatile main_L; /* main thread of the installing state */


static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  if (braid__intr_take()) braidB_raise_interrupt(L);
}


/* Signal context: only lua_sethook, which Lua documents as safe there. */
static void notify(void) {
  lua_State *L = main_L;
  if (L != NULL)
    lua_sethook(L, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}


/* 2 ms. Not braid__sleep nor deadlines: once cancelled (intr.h) they
** end at once, and here the grace period must really pass. */
static void nap(void) {
  struct timespec ts = {0, 2000000L};
  nanosleep(&ts, NULL);
}


static int nondaemon(braid_runtime_t *rt) {
  int n = 0;
  if (rt != NULL) {
    braid__mutex_lock(&rt->mu);
    n = rt->nondaemon;
    braid__mutex_unlock(&rt->mu);
  }
  return n;
}


/* Sends SIGTERM to the children of kinds 'which', waits until they are
** gone (and the non-daemon threads ended) or 'd' passes. */
static void end_children(int which, braid_runtime_t *rt, double until) {
  braid__children_signal(SIGTERM, which);
  while ((braid__children_reap(which) > 0 || nondaemon(rt) > 0) &&
         braid__now() < until)
    nap();
}


/* Ends the process after an uncaught KeyboardInterrupt. Never returns.
** The forkserver's children go first, so that the server (one of ours)
** is still there to reap them; then ours; then SIGKILL for what is left;
** threads get the same grace period and are not waited for beyond it. */
static void interrupted_exit(braid_runtime_t *rt) {
  double until = braid__now() + EXIT_GRACE;
  braid__intr_set_state(BRAID_INTR_EXITING); /* a new SIGINT: at once */
  braid__intr_cancel();
  fflush(NULL);
  braid__children_signal(SIGTERM, BRAID_KIDS_SERVED);
  while (braid__children_reap(BRAID_KIDS_SERVED) > 0 && braid__now() < until)
    nap();
  /* what of them is left is killed while the server still lives to reap
  ** it (a server's orphan would be a zombie until init reaps it) */
  braid__children_signal(SIGKILL, BRAID_KIDS_SERVED);
  while (braid__children_reap(BRAID_KIDS_SERVED) > 0 &&
         braid__now() < until + EXIT_GRACE)
    nap();
  end_children(BRAID_KIDS_ALL, rt, until);
  braid__children_signal(SIGKILL, BRAID_KIDS_ALL);
  until = braid__now() + EXIT_GRACE;
  while (braid__children_reap(BRAID_KIDS_ALL) > 0 && braid__now() < until)
    nap();
  braid__intr_die(1);
}


/* The anchor: a userdata in the registry whose __gc runs when the state
** closes. It is made anew at each raise, so that it is the last object
** marked for finalization and runs first (before process.lua's, which
** would join the children); a replaced one is inert. */
typedef struct Anchor {
  braid_runtime_t *rt; /* not retained: the state's context outlives us */
  long gen;
} Anchor;

static long anchor_gen;


static int anchor_gc(lua_State *L) {
  Anchor *a = (Anchor *)lua_touserdata(L, 1);
  if (a->gen == anchor_gen && braid__intr_state() == BRAID_INTR_RAISED)
    interrupted_exit(a->rt);
  return 0;
}


static void make_anchor(lua_State *L) {
  Anchor *a = (Anchor *)lua_newuserdatauv(L, sizeof *a, 0);
  a->rt = braidB_runtime(L);
  a->gen = ++anchor_gen;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, anchor_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ANCHOR_KEY);
}


int braidB_raise_interrupt(lua_State *L) {
  braid__intr_cancel();
  if (braid__intr_armed() && main_L != NULL) {
    lua_sethook((lua_State *)main_L, NULL, 0, 0);
    make_anchor(L);
  }
  braidB_pushclass(L, "KeyboardInterrupt");
  lua_pushliteral(L, "");
  lua_call(L, 1, 1);
  return lua_error(L);
}


int braidB_intr_due(void) {
  if (!atomic_load_explicit(&braid__intr_active, memory_order_relaxed))
    return 0;
  if (braid__intr_armed()) return braid__intr_take();
  return braid__intr_cancelled();
}


void braidB_intr_check(lua_State *L) {
  if (braidB_intr_due()) braidB_raise_interrupt(L);
}


void braidB_intr_open(lua_State *L) {
  lua_State *mainth;
  if (main_L != NULL || braidB_isworker(L)) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  mainth = lua_tothread(L, -1);
  lua_pop(L, 1);
  main_L = mainth;
  if (!braid__intr_install(notify)) main_L = NULL;
}


void braidB_intr_close(lua_State *L) {
  lua_State *mainth;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  mainth = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (mainth == NULL || mainth != main_L) return;
  main_L = NULL;
  braid__intr_uninstall();
}


int braid_is_interrupt(lua_State *L, int idx) {
  int is;
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx)) return 0;
  braidB_pushclass(L, "KeyboardInterrupt");
  lua_getfield(L, -1, "is");
  lua_insert(L, -2);
  lua_pushvalue(L, idx);
  is = lua_pcall(L, 2, 1, 0) == LUA_OK && lua_toboolean(L, -1);
  lua_pop(L, 1);
  return is;
}


void braid_interrupt_exit(lua_State *L) {
  interrupted_exit(braidB_runtime(L));
}


void braid_interrupt_reset(void) {
  if (braid__intr_state() != BRAID_INTR_EXITING)
    braid__intr_set_state(BRAID_INTR_IDLE);
  braid__intr_uncancel();
}


/* core._intr_state() -> "idle" | "pending" | "raised" | "exiting" (specs) */
static int core_intr_state(lua_State *L) {
  static const char *const names[] = {"idle", "pending", "raised", "exiting"};
  lua_pushstring(L, names[braid__intr_state() & 3]);
  return 1;
}


/* braid.interrupt_reset(): forget a KeyboardInterrupt the script caught
** and goes on from: workers are no longer cancelled, the next Ctrl-C
** raises again instead of ending the process at once. */
static int core_intr_reset(lua_State *L) {
  (void)L;
  braid_interrupt_reset();
  return 0;
}


/* core._intr_ignore(): this process ignores SIGINT from now on (no
** KeyboardInterrupt; its children inherit the ignoring), as Python's
** manager server does: Ctrl-C goes to the whole process group, and the
** program that started the manager is the one to react (shutdown()). */
static int core_intr_ignore(lua_State *L) {
  (void)L;
  braid__intr_uninstall();
  signal(SIGINT, SIG_IGN);
  return 0;
}


/* core.interrupt_main([signum]) -> handled: _thread.interrupt_main.
** SIGINT (the default) makes the main state raise KeyboardInterrupt as a
** Ctrl-C would (intr.h: braid__intr_simulate), from any thread; false
** when braid does not handle SIGINT in this process (ignored, or braid
** opened in no root state), where Python does nothing either. Another
** valid signal number is not braid's to handle: nothing happens. */
static int core_interrupt_main(lua_State *L) {
  lua_Integer sig = lua_isnoneornil(L, 1) ? SIGINT : braidB_checkinteger(L, 1);
  if (sig < 1 || sig >= NSIG)
    return braidB_argerror(L, 1, "ValueError", "signal number out of range");
  lua_pushboolean(L, sig == SIGINT && braid__intr_simulate());
  return 1;
}


void braidB_open_signal(lua_State *L) {
  lua_pushcfunction(L, core_interrupt_main);
  lua_setfield(L, -2, "interrupt_main");
  lua_pushcfunction(L, core_intr_ignore);
  lua_setfield(L, -2, "_intr_ignore");
  lua_pushcfunction(L, core_intr_state);
  lua_setfield(L, -2, "_intr_state");
  lua_pushcfunction(L, core_intr_reset);
  lua_setfield(L, -2, "interrupt_reset");
  braidB_intr_open(L);
}

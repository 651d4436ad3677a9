/*
** lbind.h: helpers shared by the Lua binding files (bind/ only).
** See LICENSE for copyright and license.
**
** The binding is the only code that raises Lua errors. Errors are typed
** exception objects built by the Lua module 'braid.errors' (compiled into
** the library), with Lua's wording for argument misuse.
*/
#ifndef BRAID_LBIND_H
#define BRAID_LBIND_H

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "braidint.h"
#include "braidlib.h"
#include "alloc.h"
#include "handle.h"
#include "os.h"

/* { ====== proxies of shared objects */

/* A proxy userdata: one per state and object, holding one reference.
** 'h' is NULL once the proxy was closed. */
typedef struct braidB_Box {
  braid_handle *h;
  void *priv; /* per-proxy data of the type's binding (its __gc frees it) */
  const void *self; /* the box itself: braidB_selfhandle's check */
} braidB_Box;

/* How the proxies of one handle type look in Lua. 'methods' fill a table
** that becomes '__index' unless 'meta' has its own '__index' (which then
** finds the methods in the metatable's field '__methods'). '__gc' (drop
** the reference) and '__name', '__tostring' are added when missing. */
typedef struct braidB_Class {
  const braid_handle_type *type;
  const luaL_Reg *methods;
  const luaL_Reg *meta;
} braidB_Class;

/* Pushes the proxy of 'h' in 'L' (the one proxy of 'h' in this state if it
** is still alive, otherwise a new one taking its own reference). */
BRAIDI_FUNC void braidB_pushhandle(lua_State *L, braid_handle *h);
/* Like braidB_pushhandle, but the new proxy adopts the caller's reference
** instead of taking one (the caller gives its reference away). */
BRAIDI_FUNC void braidB_pushnewhandle(lua_State *L, braid_handle *h);
/* The object of the proxy at 'idx' if it is of 'type', else raises a
** TypeError ("bad argument #idx ... (braid.Lock expected, got ...)"); a
** closed proxy raises ValueError. */
BRAIDI_FUNC braid_handle *braidB_checkhandle(lua_State *L, int idx,
                                             const braid_handle_type *type);
/* The object of any braid proxy at 'idx', or NULL. */
BRAIDI_FUNC braid_handle *braidB_tohandle(lua_State *L, int idx);
/* The open object of the braid proxy at 1, else NULL: a method's quick
** look at its self (the method then checks the object's type itself, and
** on NULL checks again the slow way, for the error). Three C API calls
** and the box's own address (braidB_Box.self), where braidB_tohandle reads
** the metatable: this runs on every q:put and q:get. */
BRAIDI_FUNC braid_handle *braidB_selfhandle(lua_State *L);
/* Drops the reference of the proxy at 'idx' (idempotent). */
BRAIDI_FUNC void braidB_closehandle(lua_State *L, int idx);
/* Pushes the metatable of 'type', building it on first use in this state. */
BRAIDI_FUNC void braidB_pushmeta(lua_State *L, const braid_handle_type *type);
/* Pushes a new table whose keys and/or values are weak ('mode': "k", "v"
** or "kv"). */
BRAIDI_FUNC void braidB_newweaktable(lua_State *L, const char *mode);
/* Pushes the registry's table under 'key', made on first use as a weak
** table of 'mode': the per-state caches that must not keep their entries
** (objects, proxies, functions) alive. */
BRAIDI_FUNC void braidB_pushweakregistry(lua_State *L, const void *key,
                                         const char *mode);
/* Pushes the methods table of 'type' (for __index functions). */
BRAIDI_FUNC void braidB_pushmethods(lua_State *L,
                                    const braid_handle_type *type);
/* } ====== */

/* { ====== errors */

/* Pushes a new exception object of class 'cls' ("ValueError",
** "queue.Empty", ...) with the formatted message. */
BRAIDI_FUNC void braidB_pusherror(lua_State *L, const char *cls,
                                  const char *fmt, ...);
/* Raises a new exception of class 'cls'. */
BRAIDI_FUNC int braidB_raise(lua_State *L, const char *cls, const char *fmt,
                             ...);
/* Raises "bad argument #arg to 'fn' (msg)" as an exception of 'cls',
** like luaL_argerror does for plain errors. */
BRAIDI_FUNC int braidB_argerror(lua_State *L, int arg, const char *cls,
                                const char *fmt, ...);
/* TypeError for a wrong argument type: "(number expected, got string)". */
BRAIDI_FUNC int braidB_typeerror(lua_State *L, int arg, const char *tname);
/* Raises the exception class that goes with a core error code. For
** BRAID_EOS the core leaves errno set: the error is braidB_oserror's. */
BRAIDI_FUNC int braidB_raisecode(lua_State *L, int code, const char *what);
/* Raises MemoryError("not enough memory"): a braid allocation failed
** (if even the error cannot be made, Lua's own memory error). */
#define braidB_nomem(L) braidB_raisecode((L), BRAID_ENOMEM, NULL)
/* After a lua_pcall that returned 'status', its error on top: a memory
** error of Lua's own (LUA_ERRMEM: the string "not enough memory") is
** replaced by a MemoryError instance, which is what a joiner, a future or
** an excepthook expects (kept as it is if even that cannot be allocated).
** Never raises; returns 'status'. */
BRAIDI_FUNC int braidB_memerror(lua_State *L, int status);
/* Raises Python's OSError for errno 'err' (the subclass Python picks:
** FileNotFoundError for ENOENT, BrokenPipeError for EPIPE...), message
** "[Errno N] strerror: what", fields 'errno' and 'strerror' set (as
** Python's err.errno, err.strerror). */
BRAIDI_FUNC int braidB_oserror(lua_State *L, int err, const char *what);
/* Pushes the module braid.errors (loading it if needed). */
BRAIDI_FUNC void braidB_pusherrors(lua_State *L);
/* Pushes the class object 'cls' (creating braid.errors if needed). */
BRAIDI_FUNC void braidB_pushclass(lua_State *L, const char *cls);
/* } ====== */

/* { ====== typed argument checks (TypeError instead of plain errors) */
BRAIDI_FUNC lua_Integer braidB_checkinteger(lua_State *L, int arg);
BRAIDI_FUNC lua_Integer braidB_optinteger(lua_State *L, int arg,
                                          lua_Integer def);
BRAIDI_FUNC lua_Number braidB_checknumber(lua_State *L, int arg);
/* Any value, nil included, but not a missing argument (Python's TypeError
** for a missing positional argument). */
BRAIDI_FUNC void braidB_checkany(lua_State *L, int arg);
BRAIDI_FUNC const char *braidB_checkstring(lua_State *L, int arg,
                                           size_t *len);
BRAIDI_FUNC int braidB_optboolean(lua_State *L, int arg, int def);
/* A timeout argument: nil -> 'def'; a number must not be NaN. Returns
** seconds as given (negative values are left to the caller, whose rules
** differ per call, as Python's do). */
BRAIDI_FUNC double braidB_opttimeout(lua_State *L, int arg, double def);
/* The timeout of a wait (Python's Condition.wait, Future.result,
** Process.join...): nil waits forever (BRAID_FOREVER), a negative number
** does not wait at all (0). Raises as braidB_opttimeout. */
BRAIDI_FUNC double braidB_waittimeout(lua_State *L, int arg);
/* Python's callable(): a function, or a value whose metatable has
** __call. braidB_checkcallable raises TypeError naming argument 'arg'. */
BRAIDI_FUNC int braidB_iscallable(lua_State *L, int arg);
BRAIDI_FUNC void braidB_checkcallable(lua_State *L, int arg);
/* Reads field 'k' of the options table at 'idx' onto the stack (nil when
** 'idx' is not a table). */
BRAIDI_FUNC int braidB_getopt(lua_State *L, int idx, const char *k);
/* } ====== */

/* { ====== per-state context */

/* The runtime of 'L' (attached, inherited from the parent worker, or the
** process default). Never NULL. */
BRAIDI_FUNC braid_runtime_t *braidB_runtime(lua_State *L);
/* 1 in states that braid created for worker threads. */
BRAIDI_FUNC int braidB_isworker(lua_State *L);
/* Runs the callbacks posted to this state (see thread.c); returns how
** many ran. Called at every blocking braid call and by braid.poll(). */
BRAIDI_FUNC int braidB_poll(lua_State *L);
/* Message handler for lua_pcall in workers: turns the error into an
** exception object carrying the traceback (braid.errors.wrap). */
BRAIDI_FUNC int braidB_add_traceback(lua_State *L);
/* Stores the function at 'idx' among this state's callbacks: returns its
** key (the 'tag' of the messages that run it) and this state's mailbox
** (retained for the caller). braidB_unref_callback frees the key. */
struct braid_mailbox;
BRAIDI_FUNC lua_Integer braidB_ref_callback(lua_State *L, int idx,
                                            struct braid_mailbox **mb);
BRAIDI_FUNC void braidB_unref_callback(lua_State *L, lua_Integer ref);
/* The whole life of a worker OS thread 't' that runs 'body' (instead of a
** Thread target): makes and prepares its state as Thread workers get it,
** calls body(ud) protected (an error is printed as an uncaught thread
** exception), closes the state and finishes 't' (its reference dropped). */
struct braid_thread;
BRAIDI_FUNC void braidB_worker_run(struct braid_thread *t, lua_CFunction body,
                                   void *ud);
/* The same, for workers that must not be lost (a pool's): while its state
** cannot be made or set up for want of memory and again(ud) says so, it
** tries again (pausing 1 ms, doubling up to 100 ms; only the first
** failure is reported). */
BRAIDI_FUNC void braidB_worker_run_retry(struct braid_thread *t,
                                         lua_CFunction body, void *ud,
                                         int (*again)(void *ud));
/* } ====== */

/* { ====== worker states made ahead of need (lready.c) */
/* What every worker state starts with and that depends on nothing of
** its thread: the lazy libraries, braid's preload hook. Raises. */
BRAIDI_FUNC void braidB_ready_setup(lua_State *L);
/* On a pool thread whose run has ended and that will park: makes its
** next run's state (braidB_ready_setup done) unless it has one, 'rt'
** has its own allocator, or failures are injected. Never raises. */
BRAIDI_FUNC void braidB_ready_prepare(braid_runtime_t *rt);
/* The calling OS thread's prepared state, now the caller's (with its
** allocator pool in '*pool', for braid__salloc_free after lua_close),
** or NULL: none, 'rt' has its own allocator, or failures are injected
** (the prepared state is then closed). */
BRAIDI_FUNC lua_State *braidB_ready_take(braid_runtime_t *rt,
                                          braid_salloc **pool);
/* States prepared in all, taken by a run, and held now (for specs). */
BRAIDI_FUNC void braidB_ready_counts(long *made, long *taken, long *live);
/* } ====== */

/* { ====== area openers, called from lcore.c */
/* A worker state's libraries (llazy.c): base and string open,
** the other standard libraries opened when first reached through the
** globals or package.loaded; braid's embedded modules found by an
** __index on package.preload (lcore.c). */
BRAIDI_FUNC void braidB_openlibs_lazy(lua_State *L);
/* package.path and package.cpath (either may be NULL: the environment's)
** that a lazily opened package gets; call after braidB_openlibs_lazy,
** before package is opened. The state keeps the pointers, not copies:
** the strings must stay valid until package opens or the state closes. */
BRAIDI_FUNC void braidB_lazy_paths(lua_State *L, const char *path,
                                   const char *cpath);
BRAIDI_FUNC void braidB_openbraid_lazy(lua_State *L);
/* Whether the table at 'idx' is the metatable llazy.c set on
** package.loaded (lnames.c adds its __newindex to it). */
BRAIDI_FUNC int braidB_is_lazy_loaded_mt(lua_State *L, int idx);
BRAIDI_FUNC void braidB_open_except(lua_State *L);
BRAIDI_FUNC void braidB_open_serial(lua_State *L);
BRAIDI_FUNC void braidB_open_thread(lua_State *L);
BRAIDI_FUNC void braidB_open_sync(lua_State *L);
BRAIDI_FUNC void braidB_open_shm(lua_State *L);
BRAIDI_FUNC void braidB_open_queue(lua_State *L);
BRAIDI_FUNC void braidB_open_pool(lua_State *L);
BRAIDI_FUNC void braidB_open_procpool(lua_State *L);
BRAIDI_FUNC void braidB_open_process(lua_State *L);
BRAIDI_FUNC void braidB_open_conn(lua_State *L);
BRAIDI_FUNC void braidB_open_listener(lua_State *L);
BRAIDI_FUNC void braidB_open_subprocess(lua_State *L);
BRAIDI_FUNC void braidB_open_mmap(lua_State *L);
BRAIDI_FUNC void braidB_open_sched(lua_State *L);
BRAIDI_FUNC void braidB_open_os(lua_State *L);
/* Pushes a descriptor owner (lfd.c) holding -1 and returns its slot:
** store the descriptor there once it exists; the owner closes it when
** collected or at owner:close() (owner:fileno(), owner:release()). */
BRAIDI_FUNC int *braidB_newfdowner(lua_State *L);
/* After a failure with errno 'err': when it is EMFILE or ENFILE, runs a
** full collection of this state (dropped objects give their descriptors
** back) and returns 1: try once more. Otherwise 0. errno is kept. */
BRAIDI_FUNC int braidB_fdgc(lua_State *L, int err);
BRAIDI_FUNC void braidB_open_test(lua_State *L);
BRAIDI_FUNC void braidB_open_signal(lua_State *L);

/* Ctrl-C (lsignal.c; design in src/os/intr.h). braidB_intr_due: 1 when the
** calling thread must raise KeyboardInterrupt now (the main state with an
** interrupt pending, which this call takes; or a cancelled worker).
** braidB_intr_check raises it then; braidB_raise_interrupt raises it
** (cancelling the workers). braidB_intr_close: a root state closes. */
BRAIDI_FUNC int braidB_intr_due(void);
BRAIDI_FUNC void braidB_intr_check(lua_State *L);
BRAIDI_FUNC int braidB_raise_interrupt(lua_State *L);
BRAIDI_FUNC void braidB_intr_open(lua_State *L);
BRAIDI_FUNC void braidB_intr_close(lua_State *L);
/* } ====== */

/* Classes of every handle type, one array per binding file, each ended by
** a row whose 'type' is NULL. lcore.c searches them. */
BRAIDI_FUNC const braidB_Class braidB_thread_classes[];
BRAIDI_FUNC const braidB_Class braidB_sync_classes[];
BRAIDI_FUNC const braidB_Class braidB_shm_classes[];
BRAIDI_FUNC const braidB_Class braidB_queue_classes[];
BRAIDI_FUNC const braidB_Class braidB_pool_classes[];
BRAIDI_FUNC const braidB_Class braidB_psync_classes[];
BRAIDI_FUNC const braidB_Class braidB_mpq_classes[];
BRAIDI_FUNC const braidB_Class braidB_conn_classes[];
BRAIDI_FUNC const braidB_Class braidB_mmap_classes[];
BRAIDI_FUNC const braidB_Class braidB_sched_classes[];

/* Records 'fd' as a descriptor the process being started must inherit
** (called by __braidexport metamethods, see lprocess.c). */
BRAIDI_FUNC void braidB_inherit_fd(lua_State *L, int fd);
/* In __braidexport(obj, mode) (mode at index 2): pushes what lets the
** receiver get descriptor 'fd' back: its number, recorded for the child
** to inherit (a process being started), or a ticket of the descriptor
** sharer (a Pipe, an mp.Queue, a pool; src/core/fdshare.h). 'what' names
** the object in errors. ltravel.c. */
BRAIDI_FUNC void braidB_export_fd(lua_State *L, int fd, const char *what);
/* In the attach function that braidB_export_fd's value reached (at
** 'idx'): returns 1 when this state already received the object of that
** ticket, which it pushed (the attach function returns it); else 0 with
** '*fd' the descriptor to map, after which the function pushes the new
** object and calls braidB_attach_done(L, idx, fd) (which closes a
** redeemed descriptor and remembers the object). Raises OSError naming
** the sender when the ticket cannot be redeemed. */
BRAIDI_FUNC int braidB_attach_fd(lua_State *L, int idx, const char *what,
                                 int *fd);
BRAIDI_FUNC void braidB_attach_done(lua_State *L, int idx, int fd);
/* Like braidB_attach_done for an object that took over the descriptor
** itself (a Connection): only remembers the object on top. */
BRAIDI_FUNC void braidB_attach_keep(lua_State *L, int idx);
/* Instead of braidB_attach_done when mapping failed (errno kept). */
BRAIDI_FUNC void braidB_attach_drop(lua_State *L, int idx, int fd);
BRAIDI_FUNC void braidB_open_travel(lua_State *L);
/* The metatable name of SharedMemory userdata (lsharedmem.c), whose first
** two fields are the mapping's address and size. */
#define BRAIDB_SHMEM_T "braid.SharedMemory"

/* Lua-callable 'obj:with(fn, ...)' for lock-likes: acquire, call, always
** release, return fn's results or re-raise its error. */
BRAIDI_FUNC int braidB_lock_with(lua_State *L);

/* A lua_Alloc that takes part in allocation failure injection
** (failalloc.h; site braid__fail_site_main) and otherwise calls f(ud, ...):
** for a state whose allocator is not braid's (lua_setallocf with a
** braidB_fail_alloc_ud that outlives the state). lfailalloc.c. */
typedef struct braidB_fail_alloc_ud {
  lua_Alloc f;
  void *ud;
} braidB_fail_alloc_ud;
BRAIDI_FUNC void *braidB_fail_lua_alloc(void *ud, void *ptr, size_t osize,
                                        size_t nsize);

/* Moves the state of 'L' onto a pool of braid's (alloc.h) for what it
** allocates from now on, as a worker state's, when its allocator is still
** the one luaL_newstate gave it (any other allocator is the embedder's
** choice and is kept): blocks allocated before stay with that allocator,
** which frees and resizes them; the pool goes when lua_close ends. Called
** before a big streamed decode (lpstream.c). Nothing to undo: 1 when the
** state is on a pool (now or before), 0 when it kept its allocator.
** ladopt.c. */
BRAIDI_FUNC int braidB_adopt_pool(lua_State *L);
/* 1 when L's allocator frees and moves a block of a segment's pages
** (segblock.h) as such: a worker's pool, or a state moved onto one
** (braidB_adopt_pool, done here when it can be). 0: L keeps an
** allocator of its embedder's, which would not know such a block. */
BRAIDI_FUNC int braidB_takes_segblocks(lua_State *L);
/* core._alloc_kind(): the specs' probe (ladopt.c). */
BRAIDI_FUNC int braidB_alloc_kind(lua_State *L);
/* core._huge_pages([rule]): the rule for fresh memory (thp.h). */
BRAIDI_FUNC int braidB_huge_pages_hook(lua_State *L);

/* In a forked child: L's pool (a worker's, or the one L was moved onto)
** forgets the blocks the parent had freed (braid__salloc_after_fork). */
BRAIDI_FUNC void braidB_pool_after_fork(lua_State *L);
/* Around forks, on L's thread: L's pool leaves its chunks that hold no
** live block out of the child of its own fork, or every chunk out of the
** children of other threads ('foreign': braid__salloc_prefork), and
** takes them back after, in the parent, whether they forked or not. */
BRAIDI_FUNC int braidB_pool_prefork(lua_State *L, int foreign);
BRAIDI_FUNC void braidB_pool_postfork(lua_State *L);
/* core._fork_window(open): braidB_pool_prefork / postfork from Lua. */
BRAIDI_FUNC int braidB_fork_window_hook(lua_State *L);
/* core._pool_stats(): the specs' probe of L's pool (ladopt.c). */
BRAIDI_FUNC int braidB_pool_stats_hook(lua_State *L);

#endif

/*
** thread.h: the thread runtime: runtimes, OS threads that each run their
** own Lua state, and mailboxes that carry callbacks back to their state.
** See LICENSE for copyright and license.
*/
#ifndef BRAID_THREAD_H
#define BRAID_THREAD_H

#include "braidint.h"
#include "handle.h"
#include "os.h"
#include "wire.h"

typedef struct braid_thread braid_thread;
typedef struct braid_mailbox braid_mailbox;

typedef struct braid_stateinit {
  braid_stateinit_cb fn;
  void *ud;
} braid_stateinit;

/* Lock order: runtime 'mu' before any thread's 'mu'. */
struct braid_runtime {
  atomic_long refs;
  braid_alloc_cb alloc; /* NULL: the binding's default allocator */
  void *alloc_ud;
  braid_stateinit *inits;
  int ninits;
  braid__mutex mu;
  braid__cond cv;          /* signalled when 'nondaemon' drops */
  int started;             /* guarded by 'mu': inits are frozen */
  int nondaemon;           /* guarded by 'mu': running non-daemon threads */
  braid_thread *threads;   /* guarded by 'mu': alive threads, doubly linked */
  braid_thread *main;      /* guarded by 'mu': set once */
  braid_mailbox *hook_mb;  /* guarded by 'mu': owner of a custom excepthook */
  int64_t hook_ref;        /* guarded by 'mu': a registry reference */
  size_t stack_size;       /* guarded by 'mu': 0 = system default */
  long counter;            /* guarded by 'mu': for "Thread-N" */
  long dummies;            /* guarded by 'mu': for "Dummy-N" */
  char *last_path, *last_cpath; /* guarded by 'mu': braid__thread_set_paths */
};

enum { BRAID_THREAD_NEW, BRAID_THREAD_RUNNING, BRAID_THREAD_DONE };
enum { BRAID_THREAD_WORKER, BRAID_THREAD_MAIN, BRAID_THREAD_DUMMY };

struct braid_thread {
  braid_handle h;
  braid_runtime_t *rt; /* retained */
  int kind;
  braid__mutex mu;
  braid__cond cv;        /* signalled on status and native_id changes */
  int status;            /* guarded by 'mu' */
  int daemon;            /* guarded by 'mu'; fixed once started */
  char *name;            /* guarded by 'mu' */
  int64_t ident;         /* guarded by 'mu'; 0 until started */
  long native_id;        /* guarded by 'mu'; 0 until known */
  braid_thread *prev, *next; /* guarded by rt->mu */
  /* Set before the OS thread starts, read only by it: */
  braid_msg *payload;
  braid_stream *stream; /* instead of 'payload': arguments still coming */
  int mode;
  char *path, *cpath;
  void *ud; /* for the entry function (pool workers: their pool) */
};

/* { ------ runtimes */
BRAIDI_FUNC braid_runtime_t *braid__runtime_default(void); /* retained */
BRAIDI_FUNC braid_runtime_t *braid__runtime_retain(braid_runtime_t *rt);
/* } ------ */

/* { ------ threads */
/* New thread object (status NEW) holding one reference for the caller.
** 'name' NULL gives "Thread-N". Returns NULL when out of memory. */
BRAIDI_FUNC braid_thread *braid__thread_new(braid_runtime_t *rt,
                                            const char *name, int daemon,
                                            int kind);
/* Gives a NEW thread the package.path and package.cpath its state will
** use (either NULL: the environment's). Starts with the same paths as
** the runtime's previous start share one copy (refcounted: an idle
** thread's memory), so t->path and t->cpath are read-only. Out of
** memory, a path is left NULL. */
BRAIDI_FUNC void braid__thread_set_paths(braid_thread *t, const char *path,
                                         const char *cpath);
/* Starts the OS thread running 'entry(t)', which owns one reference and
** must end with braid__thread_finish. Returns BRAID_OK, BRAID_ESTATE
** (started before) or BRAID_EAGAIN (the OS refused: the thread is left
** NEW). */
BRAIDI_FUNC int braid__thread_start(braid_thread *t, void *(*entry)(void *));
/* Called by the worker when its state is closed: the thread is DONE and
** the worker's reference is dropped (do not touch 't' afterwards). */
BRAIDI_FUNC void braid__thread_finish(braid_thread *t);
/* Waits until the thread is DONE. Returns BRAID_OK or BRAID_ETIMEDOUT. */
BRAIDI_FUNC int braid__thread_join(braid_thread *t, double timeout);
/* A DONE worker thread whose start failed after its OS thread ran (its
** arguments could not be sent) becomes NEW again, startable. */
BRAIDI_FUNC void braid__thread_reset(braid_thread *t);
/* Waits until the thread's native id is known (or it never started). */
BRAIDI_FUNC long braid__thread_native_id(braid_thread *t);
/* Marks a MAIN or DUMMY thread DONE and unlists it (and drops the
** runtime's reference to its main thread). The caller keeps its own. */
BRAIDI_FUNC void braid__thread_retire(braid_thread *t);
BRAIDI_FUNC int braid__thread_status(braid_thread *t);
BRAIDI_FUNC const braid_handle_type braid__thread_type;
/* } ------ */

/* { ------ mailboxes: messages for a Lua state, run at its next poll */
BRAIDI_FUNC braid_mailbox *braid__mailbox_new(void);
BRAIDI_FUNC braid_mailbox *braid__mailbox_retain(braid_mailbox *mb);
BRAIDI_FUNC void braid__mailbox_release(braid_mailbox *mb);
/* Queues 'm' (tag = the callback's key in the owner). Returns BRAID_OK, or
** BRAID_ECLOSED when the owner state is gone ('m' is then freed). */
BRAIDI_FUNC int braid__mailbox_post(braid_mailbox *mb, braid_msg *m);
/* Takes every queued message, oldest first (a list through 'next'). */
BRAIDI_FUNC braid_msg *braid__mailbox_take(braid_mailbox *mb);
/* Refuses later posts and frees what is queued. */
BRAIDI_FUNC void braid__mailbox_close(braid_mailbox *mb);
/* Nonzero when messages are waiting (cheap, no lock). */
BRAIDI_FUNC int braid__mailbox_pending(braid_mailbox *mb);
/* 0 when no mailbox of the process holds a message (a cheap test before
** braidB_poll on hot paths). */
BRAIDI_FUNC int braid__mailbox_any_pending(void);
/* } ------ */

#endif

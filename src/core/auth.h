/*
** auth.h: the authentication handshake of multiprocessing.connection, as
** CPython 3.12+ speaks it (and understood by Python <= 3.11's legacy
** side): a state machine over the messages, Lua-free and I/O-free (the
** caller moves the frames; fuzz/fuzz_frame.c drives it with arbitrary
** peer bytes).
** See LICENSE for copyright and license.
**
** deliver_challenge (the side that checks): sends "#CHALLENGE#{sha256}"
** and 40 random bytes (RAND_bytes); reads the answer: "{digest}" + HMAC
** of the whole challenge after "#CHALLENGE#" with that digest (md5,
** sha256, sha384, sha3_256, sha3_384: the ones Python allows), or a bare
** 16-byte HMAC-MD5 (Python <= 3.11); compares in constant time
** (CRYPTO_memcmp); sends "#WELCOME#" or "#FAILURE#".
** answer_challenge (the side that proves): reads the challenge, answers
** "{sha256}" + HMAC-SHA256 (the challenge's own digest name), or a bare
** HMAC-MD5 for a legacy 20-byte challenge without a prefix; expects
** "#WELCOME#".
** A Listener runs deliver then answer, a Client answer then deliver.
** Every message read is at most BRAID_AUTH_MAXMSG bytes (Python's 256).
*/
#ifndef BRAID_AUTH_H
#define BRAID_AUTH_H

#include <stddef.h>

#include "braidint.h"

#define BRAID_AUTH_MAXMSG 256
/* Room for any message this side sends. */
#define BRAID_AUTH_OUTMAX 160

/* Roles: which exchanges run, in which order. */
enum {
  BRAID_AUTH_DELIVER = 1, /* deliver_challenge only */
  BRAID_AUTH_ANSWER,      /* answer_challenge only */
  BRAID_AUTH_SERVER,      /* deliver, then answer (Listener.accept) */
  BRAID_AUTH_CLIENT       /* answer, then deliver (Client) */
};

typedef struct braid_auth {
  int role, step; /* step: index into the role's script (auth.c) */
  const unsigned char *key;
  size_t keylen;
  unsigned char challenge[64]; /* what we sent, after "#CHALLENGE#" */
  size_t challen;
  const char *why; /* why it failed (static text) */
  const char *digest; /* the name our challenge asks for ("sha256") */
} braid_auth;

/* Starts a handshake; 'key' must outlive it. */
BRAIDI_FUNC void braid__auth_init(braid_auth *a, int role, const void *key,
                                  size_t keylen);

/* The digest our challenges ask for: one Python allows ("md5",
** "sha256", "sha384", "sha3_256", "sha3_384"; 'name' must outlive 'a').
** BRAID_EINVAL for another. Default "sha256". */
BRAIDI_FUNC int braid__auth_set_digest(braid_auth *a, const char *name);

/* 1 when the next step reads a message from the peer (then call
** braid__auth_step with it), 0 when it only sends (call it with NULL).
** Not meaningful once braid__auth_done. */
BRAIDI_FUNC int braid__auth_wants(const braid_auth *a);
/* 1 when the handshake has completed successfully. */
BRAIDI_FUNC int braid__auth_done(const braid_auth *a);

/* Runs one step with the peer's message 'in' ('n' bytes; NULL when the
** step only sends). '*outn' bytes at 'out' (BRAID_AUTH_OUTMAX of room)
** are then to be sent as one frame, also when the step fails (the
** "#FAILURE#" a checker sends). Returns BRAID_OK, BRAID_EPERM (the peer
** failed: wrong key or rejected digest) or BRAID_EINVAL (a protocol
** error), with 'a->why' set, or BRAID_EOS when the OS has no random
** bytes or the crypto library fails. */
BRAIDI_FUNC int braid__auth_step(braid_auth *a, const unsigned char *in,
                                 size_t n, unsigned char *out, size_t *outn);

#endif

/*
** auth.c: the handshake of multiprocessing.connection (see auth.h). The
** cryptography is OpenSSL's libcrypto: HMAC, RAND_bytes, CRYPTO_memcmp.
** See LICENSE for copyright and license.
*/
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth.h"

#define CHALLENGE "#CHALLENGE#"
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define LIT(s) (sizeof(s) - 1)

/* Random bytes in a challenge (Python's MESSAGE_LENGTH) and the legacy
** sizes (Python's _MD5ONLY_MESSAGE_LENGTH, _MD5_DIGEST_LEN). */
#define NRANDOM 40
#define LEGACY_CHALLENGE 20
#define MD5_LEN 16
/* Longest digest name between the braces (Python's _MAX_DIGEST_LEN). */
#define MAX_DIGEST_NAME 64

/* The steps of each role, in order. */
enum { S_SEND_CHALLENGE, S_READ_RESPONSE, S_READ_CHALLENGE, S_READ_WELCOME,
       S_DONE };

static const int script[][5] = {
  { S_DONE },
  { S_SEND_CHALLENGE, S_READ_RESPONSE, S_DONE },                   /* DELIVER */
  { S_READ_CHALLENGE, S_READ_WELCOME, S_DONE },                    /* ANSWER */
  { S_SEND_CHALLENGE, S_READ_RESPONSE, S_READ_CHALLENGE, S_READ_WELCOME,
    S_DONE },                                                      /* SERVER */
  { S_READ_CHALLENGE, S_READ_WELCOME, S_SEND_CHALLENGE, S_READ_RESPONSE,
    S_DONE },                                                      /* CLIENT */
};


void braid__auth_init(braid_auth *a, int role, const void *key,
                      size_t keylen) {
  memset(a, 0, sizeof *a);
  a->role = (role >= BRAID_AUTH_DELIVER && role <= BRAID_AUTH_CLIENT) ? role
                                                                       : 0;
  a->key = (const unsigned char *)key;
  a->keylen = keylen;
  a->digest = "sha256";
}


static int cur(const braid_auth *a) {
  return script[a->role][a->step];
}

int braid__auth_wants(const braid_auth *a) {
  int s = cur(a);
  return s == S_READ_RESPONSE || s == S_READ_CHALLENGE || s == S_READ_WELCOME;
}

int braid__auth_done(const braid_auth *a) {
  return cur(a) == S_DONE;
}


/* The digest Python's name stands for, among those it allows. */
static const EVP_MD *digest_named(const unsigned char *s, size_t n) {
  static const struct { const char *name; const EVP_MD *(*md)(void); } t[] = {
    { "md5", EVP_md5 },         { "sha256", EVP_sha256 },
    { "sha384", EVP_sha384 },   { "sha3_256", EVP_sha3_256 },
    { "sha3_384", EVP_sha3_384 },
  };
  size_t i;
  for (i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strlen(t[i].name) == n && memcmp(t[i].name, s, n) == 0)
      return t[i].md();
  return NULL;
}


/* Python's _get_digest_name_and_payload: a legacy message (16 or 20
** bytes) has no name ('*md' NULL, the payload all of it); else
** "{name}payload" with an allowed name. 0 when neither. */
static int split_digest(const unsigned char *m, size_t n, const EVP_MD **md,
                        size_t *namelen, const unsigned char **pay,
                        size_t *paylen) {
  size_t i;
  *md = NULL;
  *namelen = 0;
  if (n == MD5_LEN || n == LEGACY_CHALLENGE) {
    *pay = m;
    *paylen = n;
    return 1;
  }
  if (n == 0 || m[0] != '{') return 0;
  for (i = 1; i < n && i <= MAX_DIGEST_NAME + 1; i++) {
    if (m[i] == '}') {
      if ((*md = digest_named(m + 1, i - 1)) == NULL) return 0;
      *namelen = i - 1;
      *pay = m + i + 1;
      *paylen = n - i - 1;
      return 1;
    }
  }
  return 0;
}


static int hmac_of(const braid_auth *a, const EVP_MD *md,
                   const unsigned char *m, size_t n, unsigned char *out,
                   unsigned int *outn) {
  return HMAC(md, a->key, (int)a->keylen, m, n, out, outn) != NULL;
}


int braid__auth_set_digest(braid_auth *a, const char *name) {
  if (name == NULL || digest_named((const unsigned char *)name,
                                   strlen(name)) == NULL)
    return BRAID_EINVAL;
  a->digest = name;
  return BRAID_OK;
}


/* "{digest}" and NRANDOM bytes from the OS (Python's deliver_challenge). */
static int send_challenge(braid_auth *a, unsigned char *out, size_t *outn) {
  size_t dn = strlen(a->digest);
  a->challenge[0] = '{';
  memcpy(a->challenge + 1, a->digest, dn);
  a->challenge[dn + 1] = '}';
  if (RAND_bytes(a->challenge + dn + 2, NRANDOM) != 1) return BRAID_EOS;
  a->challen = dn + 2 + NRANDOM;
  memcpy(out, CHALLENGE, LIT(CHALLENGE));
  memcpy(out + LIT(CHALLENGE), a->challenge, a->challen);
  *outn = LIT(CHALLENGE) + a->challen;
  return BRAID_OK;
}


/* Python's _verify_challenge of the peer's 'in', then the verdict to
** send. */
static int read_response(braid_auth *a, const unsigned char *in, size_t n,
                         unsigned char *out, size_t *outn) {
  const EVP_MD *md;
  const unsigned char *mac;
  size_t namelen, maclen;
  unsigned char expect[EVP_MAX_MD_SIZE];
  unsigned int elen = 0;
  int ok = 0;
  if (!split_digest(in, n, &md, &namelen, &mac, &maclen)) {
    a->why = "unsupported message length, missing digest prefix, or "
             "unsupported digest";
  } else {
    if (md == NULL) md = EVP_md5(); /* a legacy bare answer */
    if (!hmac_of(a, md, a->challenge, a->challen, expect, &elen)) {
      a->why = "digest unsupported";
    } else if (elen != maclen) {
      a->why = "expected digest of a different length";
    } else if (CRYPTO_memcmp(expect, mac, elen) != 0) {
      a->why = "digest received was wrong";
    } else {
      ok = 1;
    }
  }
  OPENSSL_cleanse(expect, sizeof expect);
  memcpy(out, ok ? WELCOME : FAILURE, LIT(WELCOME));
  *outn = LIT(WELCOME);
  return ok ? BRAID_OK : BRAID_EPERM;
}


/* Python's answer_challenge: the response to the peer's challenge. */
static int read_challenge(braid_auth *a, const unsigned char *in, size_t n,
                          unsigned char *out, size_t *outn) {
  const unsigned char *msg = in + LIT(CHALLENGE), *pay;
  size_t mn = n - LIT(CHALLENGE), namelen, paylen;
  const EVP_MD *md;
  unsigned int dn = 0;
  if (n < LIT(CHALLENGE) || memcmp(in, CHALLENGE, LIT(CHALLENGE)) != 0) {
    a->why = "Protocol error, expected challenge";
    return BRAID_EINVAL;
  }
  if (mn < LEGACY_CHALLENGE) {
    a->why = "challenge too short";
    return BRAID_EINVAL;
  }
  if (!split_digest(msg, mn, &md, &namelen, &pay, &paylen)) {
    a->why = "unsupported message length, missing digest prefix, or "
             "unsupported digest";
    return BRAID_EINVAL;
  }
  (void)pay;
  (void)paylen;
  if (md == NULL) { /* a legacy challenge: a bare HMAC-MD5 */
    if (!hmac_of(a, EVP_md5(), msg, mn, out, &dn)) return BRAID_EOS;
    *outn = dn;
    return BRAID_OK;
  }
  /* "{name}" + the HMAC of the whole message (prefix included) */
  out[0] = '{';
  memcpy(out + 1, msg + 1, namelen);
  out[namelen + 1] = '}';
  if (!hmac_of(a, md, msg, mn, out + namelen + 2, &dn)) return BRAID_EOS;
  *outn = namelen + 2 + dn;
  return BRAID_OK;
}


int braid__auth_step(braid_auth *a, const unsigned char *in, size_t n,
                     unsigned char *out, size_t *outn) {
  int s = cur(a), rc;
  *outn = 0;
  if (braid__auth_wants(a) && (in == NULL || n > BRAID_AUTH_MAXMSG)) {
    a->why = "message too long";
    return BRAID_EINVAL;
  }
  switch (s) {
    case S_SEND_CHALLENGE: rc = send_challenge(a, out, outn); break;
    case S_READ_RESPONSE: rc = read_response(a, in, n, out, outn); break;
    case S_READ_CHALLENGE: rc = read_challenge(a, in, n, out, outn); break;
    case S_READ_WELCOME:
      rc = (n == LIT(WELCOME) && memcmp(in, WELCOME, n) == 0) ? BRAID_OK
                                                              : BRAID_EPERM;
      if (rc != BRAID_OK) a->why = "digest sent was rejected";
      break;
    default:
      a->why = "handshake is over";
      return BRAID_ESTATE;
  }
  if (rc == BRAID_OK) a->step++;
  else if (a->why == NULL) a->why = "the crypto library failed";
  return rc;
}

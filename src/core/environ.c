/*
** environ.c: the process environment under one lock (environ.h).
** See LICENSE for copyright and license.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "environ.h"
#include "os.h"

extern char **environ;

static braid__mutex env_mu;
static atomic_int env_ready; /* 0 never, 1 being set up, 2 ready */


/* The mutex is made on first use (core code makes no static
** initializers of the platform's types); a racing second caller waits. */
static void env_init(void) {
  int want = 0;
  if (atomic_load(&env_ready) == 2) return;
  if (atomic_compare_exchange_strong(&env_ready, &want, 1)) {
    braid__mutex_init(&env_mu);
    atomic_store(&env_ready, 2);
    return;
  }
  while (atomic_load(&env_ready) != 2) braid__sleep(0.0001);
}


void braid__environ_lock(void) {
  env_init();
  braid__mutex_lock(&env_mu);
}


void braid__environ_unlock(void) {
  braid__mutex_unlock(&env_mu);
}


void braid__environ_after_fork(void) {
  if (atomic_load(&env_ready) == 2) braid__mutex_init(&env_mu);
}


static int check_name(const char *name, size_t nlen, const char **why) {
  if (strlen(name) != nlen) {
    *why = "embedded null byte";
    return BRAID_EINVAL;
  }
  if (nlen == 0 || strchr(name, '=') != NULL) {
    *why = "illegal environment variable name";
    return BRAID_EINVAL;
  }
  return BRAID_OK;
}


int braid__env_set(const char *name, size_t nlen, const char *value,
                   size_t vlen, const char **why) {
  int rc = check_name(name, nlen, why);
  if (rc != BRAID_OK) return rc;
  if (strlen(value) != vlen) {
    *why = "embedded null byte";
    return BRAID_EINVAL;
  }
  braid__environ_lock();
  rc = setenv(name, value, 1) == 0 ? BRAID_OK
                                   : (errno == ENOMEM ? BRAID_ENOMEM : BRAID_EOS);
  braid__environ_unlock();
  return rc;
}


int braid__env_unset(const char *name, size_t nlen, const char **why) {
  int rc = check_name(name, nlen, why);
  if (rc != BRAID_OK) return rc;
  braid__environ_lock();
  rc = unsetenv(name) == 0 ? BRAID_OK : BRAID_EOS;
  braid__environ_unlock();
  return rc;
}


int braid__env_get(const char *name, char **out) {
  const char *v;
  int rc = BRAID_OK;
  *out = NULL;
  braid__environ_lock();
  v = getenv(name);
  if (v != NULL) {
    *out = braid__strdup(v);
    if (*out == NULL) rc = BRAID_ENOMEM;
  }
  braid__environ_unlock();
  return rc;
}


void braid__env_free(char **list, size_t n) {
  size_t i;
  if (list == NULL) return;
  for (i = 0; i < n; i++) braid__free(list[i]);
  braid__free(list);
}


int braid__env_snapshot(char ***out, size_t *n) {
  size_t k = 0, i;
  char **list;
  *out = NULL;
  *n = 0;
  braid__environ_lock();
  while (environ != NULL && environ[k] != NULL) k++;
  list = (char **)braid__calloc(k ? k : 1, sizeof *list);
  if (list == NULL) {
    braid__environ_unlock();
    return BRAID_ENOMEM;
  }
  for (i = 0; i < k; i++) {
    list[i] = braid__strdup(environ[i]);
    if (list[i] == NULL) {
      braid__environ_unlock();
      braid__env_free(list, i);
      return BRAID_ENOMEM;
    }
  }
  braid__environ_unlock();
  *out = list;
  *n = k;
  return BRAID_OK;
}

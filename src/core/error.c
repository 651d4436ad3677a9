/*
** error.c: names and messages of braid's error codes.
** See LICENSE for copyright and license.
*/
#include "braidint.h"


const char *braid_strerror(int code) {
  switch (code) {
    case BRAID_OK: return "success";
#define BRAID_X(name, num, msg) \
  case BRAID_##name: return msg;
    BRAID_ERRNO_MAP(BRAID_X)
#undef BRAID_X
    default: return "unknown error";
  }
}


const char *braid_err_name(int code) {
  switch (code) {
    case BRAID_OK: return "OK";
#define BRAID_X(name, num, msg) \
  case BRAID_##name: return #name;
    BRAID_ERRNO_MAP(BRAID_X)
#undef BRAID_X
    default: return "EUNKNOWN";
  }
}


unsigned int braid_version(void) {
  return (BRAID_VERSION_MAJOR << 16) | (BRAID_VERSION_MINOR << 8) |
         BRAID_VERSION_PATCH;
}


const char *braid_version_string(void) {
  return BRAID_VERSION_STRING;
}

/*
** braid.c: the 'braid' host program: lua5.4 with braid's modules built in.
** See LICENSE for copyright and license.
**
**   braid [options] [script [args]]
**     -e stat   execute string 'stat'
**     -i        enter interactive mode after executing 'script'
**     -l mod    require library 'mod' into global 'mod'
**     -v        show version information
**     -E        ignore environment variables
**     -W        turn warnings on
**     --        stop handling options
**     -         execute stdin and stop handling options
** The exit status is the script's: os.exit(n) gives n, an uncaught error
** prints its traceback and gives 1, an uncaught errors.SystemExit(code)
** gives Python's status for it (errors.exit_status). When the script ends, the program
** waits for braid's non-daemon threads, as Python does. Ctrl-C raises
** braid.errors.KeyboardInterrupt; uncaught, it ends the program as
** Python's does: children ended, then killed by SIGINT (status 130 in a
** shell). See docs/HACKING.md "Ctrl-C".
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "braidlib.h"

static const char *progname = "braid";
static int interactive = 0; /* in the REPL: an interrupt ends one line */
static int interrupted = 0; /* the message handler saw KeyboardInterrupt */
static int exit_status = -1; /* >= 0: an uncaught SystemExit's status */


static void l_message(const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}


/* Pushes braid.errors' function 'name' if braid.errors is loaded (a
** SystemExit object cannot exist before it is), else returns 0. */
static int errors_func(lua_State *L, const char *name) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "braid.errors") != LUA_TTABLE) {
    lua_pop(L, 2);
    return 0;
  }
  if (name[0] == 'S') { /* "SystemExit.is": the class's own method */
    lua_getfield(L, -1, "SystemExit");
    lua_getfield(L, -1, "is");
    lua_insert(L, -2); /* loaded errors is SystemExit */
    lua_remove(L, -3);
    lua_remove(L, -3);
    return 2;
  }
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  lua_remove(L, -2);
  return 1;
}


/* Is the value at 'idx' a braid.errors.SystemExit? Never raises. */
static int is_sysexit(lua_State *L, int idx) {
  int n, r;
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx)) return 0;
  n = errors_func(L, "SystemExit.is");
  if (n == 0) return 0;
  lua_pushvalue(L, idx);
  r = lua_pcall(L, 2, 1, 0) == LUA_OK && lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}


/* An uncaught SystemExit ends the program as Python's does: no
** traceback; the status is its code (errors.exit_status: nil 0, an
** integer or boolean that number, anything else 1 after printing it to
** stderr). Sets 'exit_status' and pops the error. */
static void sysexit(lua_State *L) {
  int st = 1;
  if (errors_func(L, "exit_status")) {
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 2, 0) == LUA_OK) {
      if (lua_isinteger(L, -2)) st = (int)(lua_tointeger(L, -2) & 0xff);
      if (lua_type(L, -1) == LUA_TSTRING) l_message(NULL, lua_tostring(L, -1));
      lua_pop(L, 2);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  exit_status = st;
}


static int report(lua_State *L, int status) {
  if (status != LUA_OK && is_sysexit(L, -1)) {
    sysexit(L);
    braid_interrupt_reset();
  } else if (status != LUA_OK) {
    const char *msg = luaL_tolstring(L, -1, NULL);
    l_message(progname, msg);
    lua_pop(L, 2);
    /* an uncaught KeyboardInterrupt ends the program here, as Python's
    ** (in the REPL it only ends the line) */
    if (interrupted && !interactive) braid_interrupt_exit(L);
    braid_interrupt_reset(); /* any interrupt was caught, or was the line's */
  }
  interrupted = 0;
  return status;
}


/* Message handler: exception objects keep their class and get a
** traceback; other values become strings with one. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (braid_is_interrupt(L, 1)) interrupted = 1; /* not caught */
  if (is_sysexit(L, 1)) return 1; /* reported without a traceback */
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
      if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "traceback");
        if (!lua_isnil(L, -1)) {
          lua_pop(L, 1);
          return 1; /* already carries its traceback */
        }
        lua_pop(L, 1);
      }
      msg = lua_tostring(L, -1);
    } else {
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, 1));
    }
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}


static int docall(lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}


static void print_version(void) {
  printf("%s (%s)\n", braid_version_string(), LUA_COPYRIGHT);
  fflush(stdout);
}


static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int i, narg;
  if (script == argc) script = 0;
  narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}


static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}


static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}


static int dolibrary(lua_State *L, char *globname) {
  int status;
  char *modname = strchr(globname, '=');
  if (modname == NULL)
    modname = globname;
  else {
    *modname = '\0';
    modname++;
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, globname);
  return report(L, status);
}


static int pushargs(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}


static int handle_script(lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL;
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}


/* { ------ interactive mode */
#define MAXINPUT 512

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= 5 && strcmp(msg + lmsg - 5, "<eof>") == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}


static int pushline(lua_State *L, int firstline) {
  char buffer[MAXINPUT];
  size_t l;
  fputs(firstline ? "> " : ">> ", stdout);
  fflush(stdout);
  if (fgets(buffer, MAXINPUT, stdin) == NULL) return 0;
  l = strlen(buffer);
  if (l > 0 && buffer[l - 1] == '\n') buffer[--l] = '\0';
  if (firstline && buffer[0] == '=')
    lua_pushfstring(L, "return %s", buffer + 1);
  else
    lua_pushlstring(L, buffer, l);
  return 1;
}


static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK)
    lua_remove(L, -2);
  else
    lua_pop(L, 2);
  return status;
}


static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    if (!incomplete(L, status) || !pushline(L, 0)) return status;
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}


static int loadline(lua_State *L) {
  int status;
  lua_settop(L, 0);
  if (!pushline(L, 1)) return -1;
  if ((status = addreturn(L)) != LUA_OK) status = multiline(L);
  lua_remove(L, 1);
  return status;
}


static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                          lua_tostring(L, -1)));
  }
}


static void doREPL(lua_State *L) {
  int status;
  const char *oldprogname = progname;
  progname = NULL;
  interactive = 1;
  while (exit_status < 0 && (status = loadline(L)) != -1) {
    /* a Ctrl-C at the prompt is forgotten, not raised in this line */
    braid_interrupt_reset();
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      l_print(L);
    else
      report(L, status);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  progname = oldprogname;
  interactive = 0;
}
/* } ------ */


#define has_error 1
#define has_i 2
#define has_v 4
#define has_e 8
#define has_E 16
#define has_help 32

static int collectargs(char **argv, int *first) {
  int args = 0, i;
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args;
    switch (argv[i][1]) {
      case '-':
        if (strcmp(argv[i], "--help") == 0) return has_help;
        if (argv[i][2] != '\0') return has_error;
        *first = i + 1;
        return args;
      case '\0': return args;
      case 'h':
        if (argv[i][2] != '\0') return has_error;
        return has_help;
      case 'E':
        if (argv[i][2] != '\0') return has_error;
        args |= has_E;
        break;
      case 'W':
        if (argv[i][2] != '\0') return has_error;
        break;
      case 'i':
        args |= has_i; /* -i implies -v */
        /* FALLTHROUGH */
      case 'v':
        if (argv[i][2] != '\0') return has_error;
        args |= has_v;
        break;
      case 'e':
        args |= has_e;
        /* FALLTHROUGH */
      case 'l':
        if (argv[i][2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') return has_error;
        }
        break;
      default: return has_error;
    }
  }
  *first = i;
  return args;
}


static int runargs(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
      case 'e':
      case 'l': {
        int status;
        char *extra = argv[i] + 2;
        if (*extra == '\0') extra = argv[++i];
        status = (option == 'e') ? dostring(L, extra, "=(command line)")
                                 : dolibrary(L, extra);
        if (status != LUA_OK) return 0;
        break;
      }
      case 'W': lua_warning(L, "@on", 0); break;
    }
  }
  return 1;
}


static int handle_luainit(lua_State *L) {
  const char *name = "=LUA_INIT_5_4";
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
  return dostring(L, init, name);
}


#define USAGE                                                           \
  "usage: %s [options] [script [args]]\n"                                \
  "Available options are:\n"                                            \
  "  -e stat   execute string 'stat'\n"                                  \
  "  -i        enter interactive mode after executing 'script'\n"        \
  "  -l mod    require library 'mod' into global 'mod'\n"                \
  "  -v        show version information\n"                               \
  "  -E        ignore environment variables\n"                           \
  "  -W        turn warnings on\n"                                       \
  "  -h, --help  show this help and exit\n"                              \
  "  --        stop handling options\n"                                  \
  "  -         stop handling options and execute stdin\n"


/* -h / --help: the usage on stdout, and what differs from lua5.4. */
static void print_help(void) {
  printf(USAGE, progname);
  printf("\nbraid is lua5.4 with every braid module built in (require "
         "\"braid.threading\"...).\nIt waits for non-daemon threads "
         "before exiting; an uncaught error prints a\ntraceback and exits "
         "with status 1; os.exit(n) and errors.SystemExit(n) exit with n.\n"
         "Reference: docs/README.md in braid's sources.\n");
}


static void print_usage(const char *badoption) {
  fprintf(stderr, "%s: ", progname);
  if (badoption[1] == 'e' || badoption[1] == 'l')
    fprintf(stderr, "'%s' needs argument\n", badoption);
  else
    fprintf(stderr, "unrecognized option '%s'\n", badoption);
  fprintf(stderr, USAGE, progname);
}


static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script;
  int args = collectargs(argv, &script);
  luaL_checkversion(L);
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (args == has_error) {
    print_usage(argv[script]);
    return 0;
  }
  if (args == has_help) {
    print_help();
    lua_pushboolean(L, 1);
    return 1;
  }
  if (args & has_v) print_version();
  if (args & has_E) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  braid_openlibs(L);
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (!(args & has_E)) {
    if (handle_luainit(L) != LUA_OK) return 0;
  }
  if (!runargs(L, argv, script)) return 0;
  if (script < argc && handle_script(L, argv + script) != LUA_OK) return 0;
  if (args & has_i) {
    doREPL(L);
  } else if (script == argc && !(args & (has_e | has_v))) {
    if (isatty(0)) {
      print_version();
      doREPL(L);
    } else {
      dochunk(L, luaL_loadfile(L, NULL));
    }
  }
  braid_interrupt_reset(); /* ended normally: an interrupt was caught */
  lua_pushboolean(L, 1);
  return 1;
}


int main(int argc, char **argv) {
  int status, result;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message(argv[0], "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  result = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L); /* waits for non-daemon threads */
  if (exit_status >= 0) return exit_status;
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}

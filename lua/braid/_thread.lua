--- Python's low-level `_thread` module: threads without Thread objects,
-- plain locks, and the calls `threading` is built on. Built over the same
-- runtime as `braid.threading`: each thread runs its function in its own
-- Lua state (the function and its arguments are copied there; braid
-- objects travel by reference), so threads run in parallel.
--
--     local _thread = require "braid._thread"
--     local done = _thread.allocate_lock()
--     done:acquire()
--     _thread.start_new_thread(function(l, n) print(n * 2); l:release() end,
--                              {done, 21})
--     done:acquire(true, 10)
--
-- As in Python, such threads are daemon threads (the program does not wait
-- for them at exit), `exit()` ends one quietly, and an uncaught error goes
-- to `threading.excepthook` (Python 3.8+ gives it to sys.unraisablehook,
-- which braid does not have).
-- @module braid._thread
local core = require "braid.core"
local errors = require "braid.errors"
local type, getmetatable, error = type, getmetatable, error
local pack, unpack = table.pack, table.unpack
_ENV = nil

local M = {}

local TypeError, SystemExit = errors.TypeError, errors.SystemExit

--- `_thread.error`: the error `release` of an unlocked lock raises; the
-- same class as `RuntimeError` (Python 3.3+).
M.error = errors.RuntimeError

--- Largest timeout accepted by `acquire`, in seconds.
M.TIMEOUT_MAX = 9223372036.0

--- `allocate_lock()`: a new unlocked lock (the same object as
-- `threading.Lock()`): `acquire([blocking [, timeout]])` -> boolean,
-- `release()`, `locked()`, and `<close>` releases it.
M.allocate_lock = core.Lock
--- `LockType`: the lock's constructor (Python 3.13's `_thread.lock`).
M.LockType = core.Lock
--- `RLock()`: a reentrant lock (the same object as `threading.RLock()`).
M.RLock = core.RLock

M.get_ident = core.get_ident
M.get_native_id = core.get_native_id
--- `stack_size([size])`: the stack size of threads created later (0: the
-- system default, else at least 32768 bytes; ValueError otherwise);
-- returns the previous value.
M.stack_size = core.stack_size

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

--- `start_new_thread(fn, args [, kwargs])` -> ident: runs `fn(args...)` in
-- a new thread and returns its identifier. `args` is a table (Python's
-- tuple; `args.n` counts trailing nils); `kwargs`, when given, must be a
-- table and is passed as one last argument (Lua has no keyword
-- arguments). When `fn` returns, the thread ends quietly; `_thread.exit()`
-- (a SystemExit) ends it quietly too; any other uncaught error goes to
-- `threading.excepthook`. RuntimeError when the OS cannot make a thread,
-- TypeError for a bad argument or a value that cannot be copied.
function M.start_new_thread(fn, args, kwargs)
  if not callable(fn) then
    error(TypeError("bad argument #1 to 'start_new_thread' (first arg must be callable)"), 2)
  end
  if type(args) ~= "table" then
    error(TypeError("bad argument #2 to 'start_new_thread' (2nd arg must be a table, got "
      .. type(args) .. ")"), 2)
  end
  if kwargs ~= nil then
    if type(kwargs) ~= "table" then
      error(TypeError("bad argument #3 to 'start_new_thread' (optional 3rd arg must be a table, got "
        .. type(kwargs) .. ")"), 2)
    end
    local n = args.n or #args
    local all = pack(unpack(args, 1, n))
    all[n + 1] = kwargs
    all.n = n + 1
    args = all
  end
  local h = core.thread_new(nil, true)
  h:start(2, fn, args)
  return h:ident()
end
--- `start_new` : Python's old name of `start_new_thread`.
M.start_new = M.start_new_thread

--- `exit()`: raises SystemExit, which ends the calling thread quietly
-- (in the main state, it ends the program, as `sys.exit()`).
function M.exit()
  error(SystemExit(), 2)
end
--- `exit_thread`: Python's old name of `exit`.
M.exit_thread = M.exit

--- `interrupt_main([signum])`: makes the main thread raise
-- KeyboardInterrupt as a Ctrl-C would, at its next braid call or check
-- (a blocking call there ends at once; running Lua code of the main
-- thread itself stops at its next instruction). Only SIGINT (2, the
-- default) is braid's; another signal number does nothing, as does any
-- call when SIGINT is not braid's (ignored). ValueError for a number that
-- is not a signal. Raising it cancels the workers' waits, as Ctrl-C does:
-- a script that catches it and goes on calls `braid.interrupt_reset()`.
function M.interrupt_main(signum)
  if signum ~= nil and type(signum) ~= "number" then
    error(TypeError("bad argument #1 to 'interrupt_main' (number expected, got "
      .. type(signum) .. ")"), 2)
  end
  core.interrupt_main(signum)
end

return M

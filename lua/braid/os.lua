--- The process functions and environment of Python's `os` that Lua's `os`
-- lacks: pids and signals, `fork`, the `exec*` and `spawn*` families,
-- `system`, `popen`, `waitpid` and the wait-status helpers, the
-- environment (`environ`, `getenv`, `putenv`, `unsetenv`), CPU counts and
-- affinity, `nice`, and `open`/`close` for `braid.mmap`.
--
--     local os_ = require "braid.os"
--     os_.environ.GREETING = "hi"       -- reaches children started later
--     assert(os_.system("test \"$GREETING\" = hi") == 0)
--
-- Changes to the environment reach the children this process starts
-- afterwards, never its parent (seed 001's rule). braid serialises its
-- own changes and reads of the environment against its own spawns
-- (multiprocessing's, subprocess's and these), so a child always gets a
-- consistent copy; Lua's `os.getenv` and foreign C code do not take
-- part.
-- @module braid.os
local core = require "braid.core"
local errors = require "braid.errors"
local C = core.os
local type, pairs, next, select, setmetatable = type, pairs, next, select, setmetatable
local tostring, math_type, rawequal, error = tostring, math.type, rawequal, error
local format = string.format
local iopopen, stderr = io.popen, io.stderr
local getinfo = debug.getinfo
local ValueError, TypeError = errors.ValueError, errors.TypeError
_ENV = nil

local M = {}

for k, v in pairs(C) do
  if type(k) == "string" and k:sub(1, 1) ~= "_" then M[k] = v end
end

--- The environment as a table-like view: `environ.NAME` reads,
-- `environ.NAME = "v"` sets, `environ.NAME = nil` removes, `pairs`
-- walks a snapshot.
local function checkname(k)
  if type(k) ~= "string" then
    error(TypeError(format("str expected, not %s", math_type(k) or type(k))), 3)
  end
end

M.environ = setmetatable({}, {
  __name = "braid.os.environ",
  __index = function(_, k)
    checkname(k)
    return C.getenv(k)
  end,
  __newindex = function(_, k, v)
    checkname(k)
    if v == nil then
      C.unsetenv(k)
    elseif type(v) ~= "string" then
      error(TypeError(format("str expected, not %s", math_type(v) or type(v))), 2)
    else
      C.putenv(k, v)
    end
  end,
  __pairs = function()
    return next, C._environ(), nil
  end,
  __tostring = function() return "environ" end,
})

--- `process_cpu_count()`: the CPUs this process may run on (its affinity).
function M.process_cpu_count()
  local n = 0
  for _ in pairs(C.sched_getaffinity(0)) do n = n + 1 end
  if n == 0 then return C.cpu_count() end
  return n
end

--- `fork()`: 0 in the child, the child's pid in the parent. Warns on
-- stderr, as Python 3.12+, when other threads are alive.
function M.fork()
  local threads = C._thread_count()
  if threads > 1 then
    local info = getinfo(2, "Sl")
    local where = info and info.currentline and info.currentline > 0
      and format("%s:%d: ", info.short_src, info.currentline) or ""
    stderr:write(format("%sDeprecationWarning: This process (pid=%d) is "
      .. "multi-threaded, use of fork() may lead to deadlocks in the child.\n",
      where, C.getpid()))
    stderr:flush()
  end
  local pid, _, owner = core.proc_fork()
  if pid == 0 then return 0 end -- (braid__proc_fork reset braid here)
  owner:close() -- the sentinel: os.fork's children are waited by waitpid
  return pid
end

local function pack(...) return { n = select("#", ...), ... } end

-- execl*(path, arg0, ...[, env]): the arguments after 'path' as a table.
local function largs(t, last)
  local args = {}
  for i = 1, t.n - (last and 1 or 0) do args[i] = t[i] end
  return args
end

--- `execv(path, args)`: replaces this process (returns only by raising).
function M.execv(path, args) return C._exec(path, args, nil, false, "execv") end
--- `execve(path, args, env)`.
function M.execve(path, args, env) return C._exec(path, args, env, false, "execve") end
--- `execvp(file, args)`: `file` looked up in PATH.
function M.execvp(file, args) return C._exec(file, args, nil, true, "execvp") end
--- `execvpe(file, args, env)`: looked up in `env`'s PATH.
function M.execvpe(file, args, env) return C._exec(file, args, env, true, "execvpe") end
--- `execl(path, arg0, ...)`.
function M.execl(path, ...) return C._exec(path, largs(pack(...)), nil, false, "execl") end
--- `execle(path, arg0, ..., env)`.
function M.execle(path, ...)
  local t = pack(...)
  return C._exec(path, largs(t, true), t[t.n], false, "execle")
end
--- `execlp(file, arg0, ...)`.
function M.execlp(file, ...) return C._exec(file, largs(pack(...)), nil, true, "execlp") end
--- `execlpe(file, arg0, ..., env)`.
function M.execlpe(file, ...)
  local t = pack(...)
  return C._exec(file, largs(t, true), t[t.n], true, "execlpe")
end

--- `spawnv(mode, path, args)`: P_WAIT -> exit code (-signal), P_NOWAIT -> pid.
function M.spawnv(mode, path, args) return C._spawn(mode, path, args, nil, false, "spawnv") end
--- `spawnve(mode, path, args, env)`.
function M.spawnve(mode, path, args, env) return C._spawn(mode, path, args, env, false, "spawnve") end
--- `spawnvp(mode, file, args)`: `file` looked up in PATH.
function M.spawnvp(mode, file, args) return C._spawn(mode, file, args, nil, true, "spawnvp") end

-- popen's file object: the pipe's Lua file, with Python's close().
local Popen = {}
Popen.__index = Popen
Popen.__name = "braid.os.popen"

function Popen:read(...) return self._f:read(...) end
function Popen:write(...)
  self._f:write(...)
  return self
end
function Popen:lines(...) return self._f:lines(...) end
function Popen:flush() self._f:flush() end
--- Waits for the command: nil when it exited 0, else its code << 8 (a
-- signal N gives -N << 8), as Python's.
function Popen:close()
  if self.closed then return nil end
  self.closed = true
  local _, how, code = self._f:close()
  local rc = how == "signal" and -code or code
  if rc == 0 then return nil end
  return rc << 8
end
Popen.__close = function(self) self:close() end
Popen.__tostring = function(self) return format("<braid.os.popen %q, mode %q>", self._cmd, self._mode) end

--- `popen(cmd, [mode="r"], [buffering=-1])`: a pipe to or from a shell
-- command.
function M.popen(cmd, mode, buffering)
  if type(cmd) ~= "string" then
    error(TypeError(format("invalid cmd type (%s, expected string)", type(cmd))), 2)
  end
  mode = mode or "r"
  if mode ~= "r" and mode ~= "w" then
    error(ValueError(format("invalid mode %q", tostring(mode))), 2)
  end
  if rawequal(buffering, 0) then
    error(ValueError("popen() does not support unbuffered streams"), 2)
  end
  local f, err = C._popen(iopopen, cmd, mode)
  if not f then error(errors.OSError(tostring(err)), 2) end
  return setmetatable({ _f = f, _cmd = cmd, _mode = mode, closed = false }, Popen)
end

return M

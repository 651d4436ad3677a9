--- Exception classes with Python's names and hierarchy.
-- An error object is a table whose metatable is its class; it has the fields
-- `type` (the class), `message`, and, when it came from another worker,
-- `traceback` and `cause`. Classes are called to make instances and test
-- errors with `Class:is(err)`.
-- @module braid.errors
local setmetatable, getmetatable, rawget, type, tostring, select, error, pairs, next =
  setmetatable, getmetatable, rawget, type, tostring, select, error, pairs, next
local pcall, require, table_concat = pcall, require, table.concat
local string_format, math_type = string.format, math.type
_ENV = nil

local M = {}
local classes = {} -- qualified name -> class

local Class = {} -- metatable of every class

local function format(err)
  local cls = err.type
  local s = cls.name
  local msg = err.message
  if msg ~= nil and msg ~= "" then s = s .. ": " .. tostring(msg) end
  if err.traceback then s = s .. "\n" .. err.traceback end
  if err.cause ~= nil then s = s .. "\n\nCaused by:\n" .. tostring(err.cause) end
  return s
end

--- Make an instance: `Class(message [, fields])`.
-- Extra arguments after the message are kept in `args` (Python's e.args).
function Class.__call(cls, message, ...)
  local new = cls.__new
  if new then return new(cls, message, ...) end
  local obj = { type = cls, message = message }
  local n = select("#", ...)
  if n > 0 then
    local first = ...
    if n == 1 and type(first) == "table" and getmetatable(first) == nil then
      for k, v in pairs(first) do obj[k] = v end
    else
      obj.args = { message, ... }
    end
  end
  return setmetatable(obj, cls)
end

function Class.__tostring(cls)
  return "<class '" .. cls.name .. "'>"
end

function Class.__index(cls, k)
  local super = rawget(cls, "super")
  if super then return super[k] end
  return nil
end

--- Define a class: `errors.class(name, super)`.
-- @string name qualified name, e.g. "queue.Empty"
-- @tparam[opt] table super parent class (default Exception, as in Python
-- where a class statement for an exception names its base; BaseException,
-- defined before Exception exists, is the only root)
-- @treturn table the class (returns the existing one for a known name)
function M.class(name, super)
  local existing = classes[name]
  if existing then return existing end
  if super == nil then super = classes.Exception end
  local short = name:match("([^.]+)$")
  local cls = {
    name = name, __name = name, short_name = short, super = super,
    __braidclass = name, __tostring = format,
  }
  cls.__index = cls
  setmetatable(cls, Class)
  classes[name] = cls
  return cls
end

--- Subclass: `errors.Exception:subclass("mymod.MyError")`.
function M.subclass(cls, name) return M.class(name, cls) end

--- True if `err` is an instance of `cls` or of one of its subclasses.
function M.is(cls, err)
  if type(err) ~= "table" then return false end
  local c = getmetatable(err)
  while c ~= nil do
    if c == cls then return true end
    if type(c) ~= "table" then return false end
    c = rawget(c, "super")
  end
  return false
end

local unknown_made, UNKNOWN_MAX = 0, 256

--- The class named `name`; unknown names get a new subclass of Exception
-- that keeps the name (so errors of classes unknown here still travel).
-- At most 256 such classes are made per state (a flood of made-up names
-- must not grow memory without bound); past that, Exception is used.
function M.lookup(name)
  local cls = classes[name]
  if cls then return cls end
  if unknown_made >= UNKNOWN_MAX then return classes.Exception end
  unknown_made = unknown_made + 1
  return M.class(name, classes.Exception)
end

M.classes = classes

local function def(name, super)
  local cls = M.class(name, super)
  cls.is = M.is
  cls.subclass = M.subclass
  return cls
end

-- Python's hierarchy (builtins first, then module classes).
local BaseException = def("BaseException")
local SystemExit = def("SystemExit", BaseException)
def("KeyboardInterrupt", BaseException)
def("GeneratorExit", BaseException)
local Exception = def("Exception", BaseException)
local ArithmeticError = def("ArithmeticError", Exception)
def("OverflowError", ArithmeticError)
def("ZeroDivisionError", ArithmeticError)
def("AssertionError", Exception)
def("AttributeError", Exception)
def("EOFError", Exception)
def("MemoryError", Exception)
def("NameError", Exception)
local ImportError = def("ImportError", Exception)
def("ModuleNotFoundError", ImportError)
local LookupError = def("LookupError", Exception)
def("IndexError", LookupError)
def("KeyError", LookupError)
local OSError = def("OSError", Exception)
def("FileNotFoundError", OSError)
def("FileExistsError", OSError)
def("PermissionError", OSError)
def("ProcessLookupError", OSError)
def("ChildProcessError", OSError)
local ConnectionError = def("ConnectionError", OSError)
def("BrokenPipeError", ConnectionError)
def("ConnectionResetError", ConnectionError)
def("ConnectionRefusedError", ConnectionError)
def("ConnectionAbortedError", ConnectionError)
local TimeoutError = def("TimeoutError", OSError)
def("InterruptedError", OSError)
local RuntimeError = def("RuntimeError", Exception)
def("NotImplementedError", RuntimeError)
def("RecursionError", RuntimeError)
def("TypeError", Exception)
local ValueError = def("ValueError", Exception)
def("UnicodeError", ValueError)
def("StopIteration", Exception)
-- Errors raised by plain Lua code (error("text")) in another worker arrive
-- as instances of LuaError, keeping the original value in 'value'.
def("LuaError", Exception)

def("queue.Empty", Exception)
def("queue.Full", Exception)
def("queue.ShutDown", Exception)
def("threading.BrokenBarrierError", RuntimeError)
local FuturesError = def("concurrent.futures.Error", Exception)
def("concurrent.futures.CancelledError", FuturesError)
def("concurrent.futures.InvalidStateError", FuturesError)
-- Since Python 3.11 concurrent.futures.TimeoutError is the builtin one.
classes["concurrent.futures.TimeoutError"] = TimeoutError
local BrokenExecutor = def("concurrent.futures.BrokenExecutor", RuntimeError)
def("concurrent.futures.thread.BrokenThreadPool", BrokenExecutor)
def("concurrent.futures.process.BrokenProcessPool", BrokenExecutor)
local ProcessError = def("multiprocessing.ProcessError", Exception)
def("multiprocessing.BufferTooShort", ProcessError)
def("multiprocessing.TimeoutError", ProcessError)
def("multiprocessing.AuthenticationError", ProcessError)
-- Python's multiprocessing.pool.MaybeEncodingError (an Exception): a
-- Pool's result that could not be sent back; fields `value`, `exc`.
def("multiprocessing.pool.MaybeEncodingError", Exception)
local SubprocessError = def("subprocess.SubprocessError", Exception)
def("subprocess.TimeoutExpired", SubprocessError)
def("subprocess.CalledProcessError", SubprocessError)

-- Builtins are reachable by their short names: errors.ValueError.
for name, cls in next, classes do
  if not name:find(".", 1, true) then M[name] = cls end
end

--- SystemExit's code is its first argument: `error(errors.SystemExit(3))`.
function SystemExit.__new(cls, code)
  return setmetatable({ type = cls, code = code,
                        message = code ~= nil and tostring(code) or nil }, cls)
end

--- The exit status a `SystemExit` gives, by Python's rules (`sys.exit`,
-- `Process.exitcode`): no code 0; an integer that integer; a boolean 0 or
-- 1 (Python's bools are ints); a float with an integral value that
-- integer (as Lua's `os.exit(3.0)`); any other code 1, with the text to
-- print on stderr (Python prints `str(code)`) as second result.
-- @tab e a SystemExit
-- @treturn integer the status
-- @treturn[opt] string what to print first
function M.exit_status(e)
  local c = e.code
  if c == nil then return 0 end
  if c == true then return 1 end
  if c == false then return 0 end
  local t = math_type(c)
  if t == "integer" then return c end
  if t == "float" and c == c // 1 and c >= -2^63 and c < 2^63 then
    return c // 1 | 0
  end
  return 1, tostring(c)
end

--- Raise a new exception: `errors.raise("ValueError", "bad thing")`.
function M.raise(name, message, level)
  error(M.lookup(name)(message), level or 2)
end

--- Wrap any error value into an exception object (strings become LuaError).
function M.wrap(value, traceback)
  if M.is(BaseException, value) then
    if traceback and value.traceback == nil then value.traceback = traceback end
    return value
  end
  local e = classes.LuaError(tostring(value))
  e.value = value
  e.traceback = traceback
  return e
end

-- { subprocess's errors: Python's fields and messages (the command as
-- Python's repr of it, the signal as "<Signals.SIGKILL: 9>").

local function pyrepr(v)
  if type(v) == "string" then
    local q = (v:find("'", 1, true) and not v:find('"', 1, true)) and '"' or "'"
    local s = v:gsub("[\\%c" .. q .. "]", function(c)
      if c == "\\" or c == q then return "\\" .. c end
      if c == "\n" then return "\\n" end
      if c == "\t" then return "\\t" end
      if c == "\r" then return "\\r" end
      return string_format("\\x%02x", c:byte())
    end)
    return q .. s .. q
  elseif type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = pyrepr(v[i]) end
    return "[" .. table_concat(parts, ", ") .. "]"
  elseif v == nil then
    return "None"
  elseif v == true then
    return "True"
  elseif v == false then
    return "False"
  end
  return tostring(v)
end
--- Python's repr() of a string, a sequence of them, a number, a boolean
-- or nil (how subprocess's messages show a command).
M.pyrepr = pyrepr

-- Python's "%s" of a command: a string as it is, a list as its repr.
local function pyrepr_cmd(cmd)
  if type(cmd) == "string" then return cmd end
  return pyrepr(cmd)
end

local signames
local function signal_repr(sig)
  if signames == nil then
    signames = {}
    local ok, core = pcall(require, "braid.core")
    if ok then
      for name, num in pairs(core.subproc_signals()) do signames[num] = name end
    end
  end
  local name = signames[sig]
  if name then return "<Signals." .. name .. ": " .. sig .. ">" end
  return nil
end

local CalledProcessError = classes["subprocess.CalledProcessError"]
--- CalledProcessError(returncode, cmd [, output [, stderr]]); fields
-- returncode, cmd, output (also stdout), stderr.
function CalledProcessError.__new(cls, returncode, cmd, output, stderr)
  local msg
  if math_type(returncode) == "integer" and returncode < 0 then
    local r = signal_repr(-returncode)
    if r then
      msg = "Command '" .. pyrepr_cmd(cmd) .. "' died with " .. r .. "."
    else
      msg = "Command '" .. pyrepr_cmd(cmd) .. "' died with unknown signal "
        .. -returncode .. "."
    end
  else
    msg = "Command '" .. pyrepr_cmd(cmd)
      .. "' returned non-zero exit status " .. tostring(returncode) .. "."
  end
  return setmetatable({ type = cls, message = msg, returncode = returncode,
                        cmd = cmd, output = output, stdout = output,
                        stderr = stderr }, cls)
end

local TimeoutExpired = classes["subprocess.TimeoutExpired"]
--- TimeoutExpired(cmd, timeout [, output [, stderr]]); fields cmd,
-- timeout, output (also stdout), stderr.
function TimeoutExpired.__new(cls, cmd, timeout, output, stderr)
  return setmetatable({ type = cls, cmd = cmd, timeout = timeout,
    output = output, stdout = output, stderr = stderr,
    message = "Command '" .. pyrepr_cmd(cmd) .. "' timed out after "
      .. tostring(timeout) .. " seconds" }, cls)
end
-- }

M.format = format
return M

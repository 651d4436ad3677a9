--- Python's `threading` module for Lua: threads that each run their own Lua
-- state, so they run in parallel, and the synchronisation objects they share.
--
-- Values given to a thread (its target, args, or the whole Thread object when
-- a subclass overrides `run`) are copied into the new state; braid objects
-- (locks, events, queues, shared memory...) travel by reference, so a Lock
-- passed to a thread is the same lock there.
--
--     local threading = require "braid.threading"
--     local t = threading.Thread{target = function(a, b) print(a + b) end,
--                                args = {1, 2}}
--     t:start(); t:join()
--
-- Subclasses override `run` (and may define `init(self, opts)`, called by
-- the constructor with the same options table):
--
--     local Worker = threading.Thread:subclass("Worker")
--     function Worker:run() print(self.name, self.n) end
--     local w = Worker{name = "w1"}; w.n = 5; w:start(); w:join()
--
-- @module braid.threading
local core = require "braid.core"
local errors = require "braid.errors"

local setmetatable, getmetatable, rawget, rawset, type, tostring =
  setmetatable, getmetatable, rawget, rawset, type, tostring
local error, pcall, unpack, pack, next = error, pcall, table.unpack, table.pack, next
local stderr = io.stderr
_ENV = nil

local M = {}

local RuntimeError, TypeError, AssertionError =
  errors.RuntimeError, errors.TypeError, errors.AssertionError

--- Largest timeout accepted by blocking calls, in seconds.
M.TIMEOUT_MAX = 9223372036.0
M.BrokenBarrierError = errors.classes["threading.BrokenBarrierError"]
M.ThreadError = RuntimeError

-- The synchronisation objects are C objects (src/bind/lsync.c).
M.Lock = core.Lock
M.RLock = core.RLock
M.Condition = core.Condition
M.Semaphore = core.Semaphore
M.BoundedSemaphore = core.BoundedSemaphore
M.Event = core.Event
M.Barrier = core.Barrier
-- `threading.local` (a Lua keyword, hence also `threading.Local`): an
-- object whose fields are separate for each thread. (A plain comment:
-- LDoc cannot document a field set with M["local"] =.)
--
-- `threading.local` is a class, as Python's: `local:subclass(name)` makes a
-- subclass whose methods (and `__init`) its instances find. Python calls
-- a subclass's `__init__` in every thread that first uses the object,
-- with the constructor's arguments: so does braid, in every state, with
-- copies of the methods and arguments made at construction.
local LocalClass = { __classname = "local" }
local LocalMeta = {}

function LocalMeta.__call(cls, ...)
  if cls == LocalClass then return core.Local(...) end
  -- the class's fields, nearest definition winning (copied now)
  local chain, c = {}, cls
  while c ~= nil and c ~= LocalClass do
    chain[#chain + 1] = c
    c = rawget(c, "__super")
  end
  local methods = {}
  for i = #chain, 1, -1 do
    for k, v in next, chain[i] do
      if k ~= "__super" and k ~= "__classname" then methods[k] = v end
    end
  end
  local args = pack(...)
  if methods.__init == nil and args.n > 0 then
    error(TypeError("Initialization arguments are not supported"), 2)
  end
  return core.Local_sub(methods, args)
end
function LocalMeta.__index(cls, k)
  local super = rawget(cls, "__super")
  if super ~= nil then return super[k] end
  return nil
end
function LocalMeta.__tostring(cls)
  return "<class '" .. (rawget(cls, "__classname") or "?") .. "'>"
end

--- `threading.local:subclass([name])`: a subclass of local. Give it
-- methods, and `__init(self, ...)` to take the constructor's arguments
-- (run once per thread, on the thread's first use of the object).
function LocalClass.subclass(cls, name)
  return setmetatable({ __super = cls,
                        __classname = name or rawget(cls, "__classname") },
                      LocalMeta)
end
setmetatable(LocalClass, LocalMeta)

M["local"] = LocalClass
M.Local = LocalClass

M.get_ident = core.get_ident
M.get_native_id = core.get_native_id
--- `stack_size([size])`: the stack size of threads created later (0 for the
-- system default, or at least 32768); returns the previous value.
M.stack_size = core.stack_size
--- `thread_reuse([max [, idle_timeout]])` (braid): how many OS threads of
-- ended threads stay parked for the next starts, and for how many seconds
-- each; returns the previous values (docs/threading.md).
M.thread_reuse = core.thread_reuse


--- Thread objects this state made or has seen, by handle (weak).
local objects = setmetatable({}, { __mode = "k" })

local Thread = {}
local ClassMeta = {}

local function isthread(obj)
  return type(obj) == "table" and type(rawget(obj, "_h")) == "userdata"
end

local function checkself(self, method)
  if not isthread(self) then
    error(TypeError(("bad self to '%s' (Thread expected, got %s)")
      :format(method, type(self))), 3)
  end
  return rawget(self, "_h")
end

-- Computed fields read the shared thread object, so every state sees the
-- same name and status.
local getters = {
  name = function(h) return h:getname() end,
  daemon = function(h) return h:getdaemon() end,
  ident = function(h) return h:ident() end,
  native_id = function(h) return h:native_id() end,
}

function Thread.__index(self, k)
  local get = getters[k]
  if get then return get(rawget(self, "_h")) end
  local cls = getmetatable(self)
  while cls ~= nil do
    local v = rawget(cls, k)
    if v ~= nil then return v end
    cls = rawget(cls, "__super")
  end
  return nil
end

function Thread.__newindex(self, k, v)
  if k == "name" then
    if type(v) ~= "string" then
      error(TypeError("Thread.name must be a string"), 2)
    end
    rawget(self, "_h"):setname(v)
  elseif k == "daemon" then
    rawget(self, "_h"):setdaemon(v)
  elseif k == "ident" or k == "native_id" then
    error(errors.AttributeError(("can't set attribute '%s'"):format(k)), 2)
  else
    rawset(self, k, v)
  end
end

function Thread.__tostring(self)
  local h = rawget(self, "_h")
  local status = "initial"
  if h:started() then status = h:is_alive() and "started" or "stopped" end
  if h:getdaemon() then status = status .. " daemon" end
  local ident = h:ident()
  if ident and h:is_alive() then status = status .. " " .. tostring(ident) end
  local cls = getmetatable(self)
  local cname = h:kind() == "main" and "_MainThread"
    or h:kind() == "dummy" and "_DummyThread" or rawget(cls, "__classname") or "Thread"
  return ("<%s(%s, %s)>"):format(cname, h:getname(), status)
end

Thread.__classname = "Thread"

local function init(self, opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(TypeError("Thread takes one table of named parameters: "
      .. "Thread{target=f, args={...}, name=..., daemon=...}"), 3)
  end
  if opts.group ~= nil then
    error(AssertionError("group argument must be None for now"), 3)
  end
  local target, args, name = opts.target, opts.args, opts.name
  if target ~= nil and type(target) ~= "function" then
    local mt = getmetatable(target)
    if not (type(mt) == "table" and mt.__call) then
      error(TypeError("bad argument 'target' to 'Thread' (function expected, got "
        .. type(target) .. ")"), 3)
    end
  end
  if args == nil then args = {}
  elseif type(args) ~= "table" then
    error(TypeError("bad argument 'args' to 'Thread' (table expected, got "
      .. type(args) .. ")"), 3)
  end
  if name ~= nil then name = tostring(name) end
  local daemon = opts.daemon
  if daemon ~= nil then daemon = not not daemon end
  local h = core.thread_new(name, daemon)
  rawset(self, "_h", h)
  rawset(self, "_target", target)
  rawset(self, "_args", args)
  objects[h] = self
end

local function new(cls, opts)
  local self = setmetatable({}, cls)
  init(self, opts)
  local userinit = cls.init
  if userinit ~= nil then userinit(self, opts or {}) end
  return self
end

function ClassMeta.__call(cls, opts) return new(cls, opts) end
-- Class-level lookups follow the chain as Python's attribute lookup does:
-- `W2.start`, `W2:subclass(...)` and an inherited `init` or `run` are
-- found on the parent classes (the instance __index walks it too).
function ClassMeta.__index(cls, k)
  local super = rawget(cls, "__super")
  if super ~= nil then return super[k] end
  return nil
end
function ClassMeta.__tostring(cls)
  return "<class '" .. (rawget(cls, "__classname") or "?") .. "'>"
end

--- Make a subclass: `local Worker = threading.Thread:subclass("Worker")`.
-- Instances get Thread's fields (name, daemon, ident, native_id); define
-- `run` to replace the target, and `init(self, opts)` to set fields at
-- construction.
-- @tab cls the class to extend (`Thread`, `Timer` or any subclass of
-- them; called as a method)
-- @string[opt] name class name shown by tostring
function Thread.subclass(cls, name)
  local sub = {
    __index = Thread.__index, __newindex = Thread.__newindex,
    __tostring = Thread.__tostring, __super = cls,
    __classname = name or rawget(cls, "__classname"),
  }
  -- The parent's class metatable carries its constructor: a subclass of
  -- Timer is built as a Timer.
  return setmetatable(sub, getmetatable(cls))
end

local function noop() end

--- Start the thread: its `run` method (by default, `target(args...)`)
-- runs in a new OS thread with its own Lua state. Raises RuntimeError when
-- called twice, TypeError naming the value when something cannot be sent.
function Thread:start()
  local h = checkself(self, "start")
  if h:started() then
    error(RuntimeError("threads can only be started once"), 2)
  end
  if getmetatable(self) == Thread and rawget(self, "run") == nil then
    -- Plain threads skip copying the object: the target and its args go
    -- straight to the new state, which then never loads this module.
    h:start(0, rawget(self, "_target") or noop, rawget(self, "_args"))
  else
    h:start(1, self)
  end
end

--- What the thread does; subclasses override it. Calls target(args...).
function Thread:run()
  local target = rawget(self, "_target")
  if target ~= nil then
    local args = rawget(self, "_args")
    target(unpack(args, 1, args.n or #args))
  end
end

--- Wait until the thread ends, or `timeout` seconds. Returns nothing: check
-- `is_alive()` afterwards. RuntimeError before start or on the current
-- thread.
function Thread:join(timeout)
  return checkself(self, "join"):join(timeout)
end

--- True from start() until run() ends.
function Thread:is_alive()
  return checkself(self, "is_alive"):is_alive()
end

-- Python's deprecated spellings.
function Thread:getName() return self.name end
function Thread:setName(name) self.name = name end
function Thread:isDaemon() return self.daemon end
function Thread:setDaemon(v) self.daemon = v end

setmetatable(Thread, ClassMeta)
M.Thread = Thread
-- Exported so that subclasses (whose metatable it is) travel by name.
M._ThreadMeta = ClassMeta


--- The Thread object of a handle, made on first sight in this state.
local function wrap(h)
  if h == nil then return nil end
  local obj = objects[h]
  if obj == nil then
    obj = setmetatable({ _h = h, _args = {} }, Thread)
    objects[h] = obj
  end
  return obj
end

--- The Thread object of the calling thread.
function M.current_thread()
  local h, inst = core.current_thread()
  if inst ~= nil then
    objects[h] = inst
    return inst
  end
  return wrap(h)
end
M.currentThread = M.current_thread

--- The main thread: the one that first opened braid in this process.
function M.main_thread()
  return wrap(core.main_thread())
end

--- Alive threads: started and not ended, the main thread, and foreign
-- threads that use braid.
function M.enumerate()
  local hs = core.enumerate()
  for i = 1, #hs do hs[i] = wrap(hs[i]) end
  return hs
end

--- Number of alive threads (`#threading.enumerate()`).
function M.active_count()
  return #core.enumerate()
end
M.activeCount = M.active_count


--- Timer: a thread that calls `fn(args...)` after `interval` seconds,
-- unless cancelled first. `Timer(interval, fn, args)` or
-- `Timer{interval=, ["function"]=, args=}`.
local Timer = Thread:subclass("Timer")

local timer_new = function(cls, interval, fn, args)
  if type(interval) == "table" and fn == nil then
    local o = interval
    interval, fn, args = o.interval, o["function"] or o.fn, o.args
  end
  if type(interval) ~= "number" then
    error(TypeError("bad argument #1 to 'Timer' (number expected, got "
      .. type(interval) .. ")"), 3)
  end
  if type(fn) ~= "function" then
    local mt = getmetatable(fn)
    if not (type(mt) == "table" and mt.__call) then
      error(TypeError("bad argument #2 to 'Timer' (function expected, got "
        .. type(fn) .. ")"), 3)
    end
  end
  if args ~= nil and type(args) ~= "table" then
    error(TypeError("bad argument #3 to 'Timer' (table expected, got "
      .. type(args) .. ")"), 3)
  end
  local self = setmetatable({}, cls)
  init(self, {})
  rawset(self, "interval", interval)
  rawset(self, "fn", fn)
  rawset(self, "args", args or {})
  rawset(self, "finished", core.Event())
  return self
end

local TimerMeta = { __call = timer_new, __tostring = ClassMeta.__tostring,
                    __index = ClassMeta.__index }
setmetatable(Timer, TimerMeta)
M._TimerMeta = TimerMeta

--- Stop the timer if it has not fired yet.
function Timer:cancel()
  rawget(self, "finished"):set()
end

function Timer:run()
  local finished = rawget(self, "finished")
  if not finished:wait(rawget(self, "interval")) then
    local args = rawget(self, "args")
    rawget(self, "fn")(unpack(args, 1, args.n or #args))
  end
  finished:set()
end
M.Timer = Timer


--- `threading.excepthook(args)`: called with {exc_type, exc_value,
-- exc_traceback, thread} for an uncaught error in a thread. Assigning a
-- function to `threading.excepthook` makes it run in this state (at its
-- next blocking braid call or braid.poll()); the default prints to stderr
-- from the failing thread.
local function default_excepthook(args)
  if errors.SystemExit:is(args.exc_value) or args.exc_type == errors.SystemExit then
    return -- silently ignored, as Python's default hook does
  end
  local name = args.thread and args.thread.name or tostring(core.get_ident())
  stderr:write("Exception in thread ", name, ":\n", tostring(args.exc_value), "\n")
end
M.__excepthook__ = default_excepthook

local current_hook = default_excepthook

local function set_excepthook(fn)
  if fn == nil or fn == default_excepthook then
    current_hook = default_excepthook
    core.set_excepthook(nil)
    return
  end
  if type(fn) ~= "function" then
    error(TypeError("threading.excepthook must be a function"), 3)
  end
  current_hook = fn
  core.set_excepthook(function(args)
    args.thread = wrap(args.thread)
    local ok, err = pcall(fn, args)
    if not ok then
      stderr:write("Exception in threading.excepthook:\n", tostring(err), "\n")
    end
  end)
end

setmetatable(M, {
  __index = function(_, k)
    if k == "excepthook" then return current_hook end
    return nil
  end,
  __newindex = function(t, k, v)
    if k == "excepthook" then return set_excepthook(v) end
    rawset(t, k, v)
  end,
})

return M

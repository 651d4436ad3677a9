--- Python's `multiprocessing.Process` for Lua: a target run in a child
-- process, started by one of three methods:
--
-- * `"fork"`: `fork()`; the child runs the target in its copy of the
--   calling state and ends with `_exit` (it never returns into the caller's
--   code). Only the calling thread exists in the child: braid objects
--   whose internal mutex another thread held at the moment of the fork
--   (a `threading` queue being used, a thread-local `Lock`'s waiters...)
--   must not be used by the child; the objects of `braid.multiprocessing`
--   live in shared memory and are safe. braid's thread table is reset in
--   the child (threads of the parent are forgotten; threads the child
--   starts are waited for before it exits).
-- * `"spawn"`: a fresh interpreter (the `braid` host, or `lua5.4` with the
--   parent's `package.path`/`cpath` when braid runs as a module) receives
--   the Process object by value transfer over a socket.
-- * `"forkserver"`: a helper started once (itself spawned, so it has no
--   threads) forks children on request; the Process object goes over a
--   socket, shared-memory objects' descriptors with `SCM_RIGHTS`.
--
-- Objects from `braid.multiprocessing` (locks, semaphores, conditions,
-- events, barriers, queues, `Value`/`Array`, connections) given in `args`
-- reach the child with every method; `threading` objects only with fork.
--
-- Exit codes: 0 after the target returns, 1 after an uncaught error (its
-- traceback goes to stderr as "Process <name>:"), n for `os.exit(n)` or
-- `error(errors.SystemExit(n))`, -N when killed by signal N.
-- @module braid.multiprocessing.process
local core = require "braid.core"
local errors = require "braid.errors"

local setmetatable, getmetatable, rawget, rawset, type, tostring, pairs,
      ipairs, error, xpcall, pcall, next =
  setmetatable, getmetatable, rawget, rawset, type, tostring, pairs,
  ipairs, error, xpcall, pcall, next
local io = io
local unpack, format, concat = table.unpack, string.format, table.concat
local stderr, osexit, traceback = io.stderr, os.exit, debug.traceback
local package = package
_ENV = nil

local M = {}

local AssertionError, ValueError, SystemExit =
  errors.AssertionError, errors.ValueError, errors.SystemExit

local METHODS = { fork = true, spawn = true, forkserver = true }
M.METHODS = METHODS
M.default_method = "fork"

-- State of this process.
-- Started children stay in 'children' until they are reaped (by join,
-- is_alive, exitcode, the next start, active_children or the state's
-- exit), so a running child is never left unwatched: a Process dropped
-- while its child runs is reaped later, as Python's _children does.
-- Once reaped and dropped, the Process is collected and its sentinel's
-- owner (weak-keyed 'owners') closes the descriptor: no close() needed.
local children = {}     -- Process -> true (started, not yet reaped)
local owners = setmetatable({}, { __mode = "k" }) -- Process -> fd owner
local counter = 0
local current           -- this process's Process object
local parent            -- the parent's stand-in, nil in the main process
M.executable = nil      -- set_executable() override

local function randomkey()
  local f = io and io.open and io.open("/dev/urandom", "rb")
  if f then local s = f:read(32); f:close(); if s then return s end end
  return tostring({}) .. tostring(core.getpid())
end

local Process = {}
M.Process = Process
local ClassMeta = {}

local function checkopen(self)
  if rawget(self, "_closed") then
    error(ValueError("process object is closed"), 3)
  end
end

local function ismychild(self)
  return rawget(self, "_parent_pid") == core.getpid()
end

-- Reaps the child if it ended; returns its exit code or nil.
local function poll(self, block)
  local code = rawget(self, "_code")
  if code ~= nil or rawget(self, "_pid") == nil then return code end
  if not ismychild(self) then return nil end
  local s = rawget(self, "_sentinel")
  if block then core.fd_wait(s, nil) end
  if rawget(self, "_method") == "forkserver" then
    code = core.forkserver_status(s, self._pid)
    if code == false then code = 255 end
  else
    code = core.proc_reap(self._pid, block)
    if code == false then code = 255 end
  end
  if code ~= nil then
    self._code = code
    children[self] = nil
  end
  return code
end

local getters = {
  pid = function(self) return rawget(self, "_pid") end,
  ident = function(self) return rawget(self, "_pid") end,
  exitcode = function(self) checkopen(self); return poll(self, false) end,
  sentinel = function(self)
    checkopen(self)
    local s = rawget(self, "_sentinel")
    if s == nil then error(ValueError("process not started"), 3) end
    return s
  end,
  name = function(self) return rawget(self, "_name") end,
  daemon = function(self) return rawget(self, "_daemon") or false end,
  authkey = function(self) return rawget(self, "_authkey") end,
}

local function index(self, k)
  local g = getters[k]
  if g then return g(self) end
  local mt = getmetatable(self)
  local v = mt and mt[k] -- the class, then its parents (ClassMeta.__index)
  if v ~= nil then return v end
  return Process[k]
end

local function newindex(self, k, v)
  if k == "name" then rawset(self, "_name", tostring(v))
  elseif k == "daemon" then
    if rawget(self, "_pid") then
      error(AssertionError("process has already started"), 2)
    end
    rawset(self, "_daemon", not not v)
  elseif k == "authkey" then rawset(self, "_authkey", v)
  else rawset(self, k, v) end
end

Process.__index = index
Process.__newindex = newindex
Process.__name = "Process"

--- `Process{target=, args=, name=, daemon=}`
function Process.new(cls, opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(errors.TypeError("Process takes one table of options"), 2)
  end
  counter = counter + 1
  local self = setmetatable({}, cls)
  rawset(self, "_target", opts.target)
  local args = opts.args or {}
  rawset(self, "_args", args)
  rawset(self, "_nargs", args.n or #args)
  rawset(self, "_name", opts.name and tostring(opts.name)
                        or ((current and rawget(current, "_name") ~= "MainProcess"
                             and rawget(current, "_name") .. ":" or "Process-")
                            .. counter))
  local d = opts.daemon
  if d == nil then d = current and rawget(current, "_daemon") or false end
  rawset(self, "_daemon", d)
  rawset(self, "_authkey", current and rawget(current, "_authkey") or randomkey())
  rawset(self, "_method", opts._method)
  if cls.init then cls.init(self, opts) end
  return self
end

ClassMeta.__call = Process.new
-- Class-level lookups follow the chain of parents, as Python's attribute
-- lookup does: a method a parent gets after the subclass was made is seen.
function ClassMeta.__index(cls, k)
  local super = rawget(cls, "__super")
  if super ~= nil then return super[k] end
  return nil
end
setmetatable(Process, ClassMeta)

--- A subclass (override `run`): `local P = Process:subclass("P")`; a
-- subclass can be subclassed again.
function Process.subclass(base, name)
  local cls = {}
  -- Metamethods are read raw from an instance's metatable, so they are
  -- copied; everything else is inherited through __super.
  for k, v in pairs(base) do
    if type(k) == "string" and k:sub(1, 2) == "__" then cls[k] = v end
  end
  cls.__name = name or "Process"
  cls.__index = index
  cls.__newindex = newindex
  cls.__super = base
  return setmetatable(cls, ClassMeta)
end

--- Runs the target in this process (what the child does).
function Process:run()
  local t = rawget(self, "_target")
  if t ~= nil then
    t(unpack(rawget(self, "_args"), 1, rawget(self, "_nargs")))
  end
end

-- Runs 'obj' as this process's Process and returns the exit code.
local function bootstrap(obj)
  current = obj
  children = {}
  counter = 0
  local ok, err = xpcall(function() obj:run() end, function(e)
    return errors.wrap(e, traceback(nil, 2))
  end)
  -- A KeyboardInterrupt the target caught, or one that ends here as exit
  -- code 1 (Python's bootstrap), is handled: the state's close must not
  -- end this process by SIGINT as an uncaught one does (lsignal.c).
  core.interrupt_reset()
  if ok then return 0 end
  if SystemExit:is(err) then
    local status, text = errors.exit_status(err)
    if text ~= nil then
      stderr:write(text, "\n")
      stderr:flush()
    end
    return status
  end
  stderr:write("Process ", tostring(rawget(obj, "_name")), ":\n",
               tostring(err), "\n")
  stderr:flush()
  return 1
end

-- What a spawned child receives: the object's fields, and the methods a
-- subclass added or overrode (the class itself stays here: its methods
-- close over this module's state).
local function childinfo(self)
  local fields, methods = {}, {}
  for k, v in pairs(self) do fields[k] = v end
  local cls = getmetatable(self)
  local c, seen = cls, {}
  while c ~= nil and c ~= Process do -- the nearest definition wins
    for k, v in pairs(c) do
      if not seen[k] then
        seen[k] = true
        if Process[k] ~= v and k ~= "init" and k ~= "__index"
           and k ~= "__newindex" and k ~= "__name" and k ~= "__super" then
          methods[k] = v
        end
      end
    end
    c = rawget(c, "__super")
  end
  return {
    obj = fields, methods = methods, name = cls.__name,
    parent_pid = core.getpid(),
    parent_name = current and rawget(current, "_name") or "MainProcess",
  }
end

local function setup_child(info)
  local obj = info.obj
  if getmetatable(obj) == nil then -- spawned: rebuild the object
    local cls = Process
    if next(info.methods) ~= nil then
      cls = Process:subclass(info.name)
      for k, v in pairs(info.methods) do cls[k] = v end
    end
    setmetatable(obj, cls)
  end
  rawset(obj, "_pid", core.getpid())
  rawset(obj, "_parent_pid", nil)
  rawset(obj, "_sentinel", nil)
  parent = setmetatable({ _name = info.parent_name, _pid = info.parent_pid,
                          _parent_pid = -1 }, Process)
  return obj
end

-- argv of a fresh interpreter running 'code'.
local function interpreter(code)
  local exe, builtin = core.self_exe()
  if M.executable then exe, builtin = M.executable, M.executable_builtin end
  if builtin then
    return { exe, "-e", code }
  end
  return { exe, "-e", format("package.path=%q package.cpath=%q require'braid.core' ",
                             package.path, package.cpath) .. code }
end

local function start_fork(self)
  local pid, sentinel, owner = core.proc_fork()
  if pid == 0 then
    setup_child({ obj = self, parent_pid = core.getppid(),
                  parent_name = current and rawget(current, "_name") })
    core.proc_exit(bootstrap(self))
  end
  return pid, sentinel, owner
end

-- (fds' last slot exists already: storing into it allocates nothing)
local function spawn_child(b, fds)
  fds[#fds] = b
  local code = format("require'braid.multiprocessing.process'._spawn_main(%d, {%s})",
                      b, concat(fds, ","))
  return core.proc_spawn(interpreter(code), fds)
end

local function start_spawn(self)
  local bytes, fds = core.proc_payload(childinfo(self))
  fds[#fds + 1] = false -- the socket's slot, made before the socket (a
                        -- MemoryError must not leak its descriptors)
  local a, b = core.socketpair()
  local ok, pid, sentinel, owner = pcall(spawn_child, b, fds)
  core.fd_close(b)
  if not ok then core.fd_close(a); error(pid, 0) end
  pcall(core.fd_send_payload, a, bytes) -- a child that died early: exitcode tells
  core.fd_close(a)
  return pid, sentinel, owner
end

-- The socket to this process's forkserver (one for all its states),
-- started on first use, and again when it died (as Python's
-- ensure_running): its children are then reaped by init, and their
-- Processes see exit code 255.
local function forkserver()
  local sock, pid = core.forkserver_get()
  if sock ~= nil and core.proc_reap(pid, false) ~= nil then
    core.forkserver_reset(sock) -- it ended (or another state reaped it)
    sock, pid = core.forkserver_get()
  end
  if sock == nil then
    local a, b = core.socketpair()
    local code = format("require'braid.multiprocessing.process'._forkserver_main(%d)", b)
    local ok, mine, _, owner = pcall(core.proc_spawn, interpreter(code), { b })
    core.fd_close(b)
    if not ok then core.fd_close(a); error(mine, 0) end
    owner:close()
    sock, pid = core.forkserver_set(a, mine)
    if sock ~= a then -- another state was first: ours ends at end of file
      core.fd_close(a)
      core.proc_reap(mine, true)
    end
  end
  M._forkserver_pid = pid
  return sock
end

local function start_forkserver(self)
  local bytes, fds = core.proc_payload(childinfo(self))
  local sock = forkserver()
  local ok, pid, sentinel, owner = pcall(core.forkserver_request, sock, bytes, fds)
  if ok then return pid, sentinel, owner end
  -- A server that just died closes its socket before it can be reaped,
  -- so forkserver() may have found it alive: the request then fails
  -- with nothing started. Its socket is broken, so it can serve nobody:
  -- end it, reap it, start a new one and ask once more.
  if not (errors.BrokenPipeError:is(pid) or errors.ConnectionResetError:is(pid)) then
    error(pid, 0)
  end
  local current, server = core.forkserver_get()
  if current == sock then
    core.proc_kill(server, 9)
    core.proc_reap(server, true)
    core.forkserver_reset(sock)
  end
  return core.forkserver_request(forkserver(), bytes, fds)
end

-- The bookkeeping of a started child (may raise MemoryError).
local function track(self, pid, sentinel, ppid, owner)
  owners[self] = owner
  rawset(self, "_pid", pid)
  rawset(self, "_sentinel", sentinel)
  rawset(self, "_parent_pid", ppid)
  children[self] = true
end

--- Starts the child. AssertionError when started before, or from a
-- daemonic process.
function Process:start()
  checkopen(self)
  if rawget(self, "_pid") ~= nil then
    error(AssertionError("cannot start a process twice"), 2)
  end
  if current and rawget(current, "_daemon") then
    error(AssertionError("daemonic processes are not allowed to have children"), 2)
  end
  local method = rawget(self, "_method") or M.default_method
  rawset(self, "_method", method)
  for p in pairs(children) do poll(p, false) end
  local ppid = core.getpid()
  local pid, sentinel, owner
  if method == "fork" then pid, sentinel, owner = start_fork(self)
  elseif method == "spawn" then pid, sentinel, owner = start_spawn(self)
  else pid, sentinel, owner = start_forkserver(self) end
  local ok, err = pcall(track, self, pid, sentinel, ppid, owner)
  if not ok then
    -- out of memory with the child running: undo the start, so that the
    -- object stays startable and no child or descriptor is left behind
    -- (storing nil allocates nothing)
    owners[self] = nil
    rawset(self, "_pid", nil)
    rawset(self, "_sentinel", nil)
    rawset(self, "_parent_pid", nil)
    children[self] = nil
    core.proc_kill(pid, 9)
    core.fd_wait(sentinel, nil)
    if method == "forkserver" then core.forkserver_status(sentinel)
    else core.proc_reap(pid, true) end
    owner:close()
    error(err, 0)
  end
end

--- Waits for the child to end (at most `timeout` seconds).
function Process:join(timeout)
  checkopen(self)
  if rawget(self, "_pid") == nil then
    error(AssertionError("can only join a started process"), 2)
  end
  if not ismychild(self) then
    error(AssertionError("can only join a child process"), 2)
  end
  if rawget(self, "_code") ~= nil then return end
  if timeout ~= nil and timeout < 0 then timeout = 0 end
  if core.fd_wait(self._sentinel, timeout) then poll(self, true) end
end

function Process:is_alive()
  checkopen(self)
  if self == current then return true end
  if rawget(self, "_pid") == nil then return false end
  if not ismychild(self) then
    error(AssertionError("can only test a child process"), 2)
  end
  return poll(self, false) == nil
end

local function signal(self, sig)
  checkopen(self)
  if rawget(self, "_pid") ~= nil and poll(self, false) == nil then
    core.proc_kill(self._pid, sig)
  end
end

--- SIGTERM (exitcode -15).
function Process:terminate() signal(self, 15) end
--- SIGKILL (exitcode -9).
function Process:kill() signal(self, 9) end

--- Frees the sentinel. ValueError while the child runs.
function Process:close()
  if rawget(self, "_closed") then return end
  if rawget(self, "_pid") ~= nil and poll(self, false) == nil then
    error(ValueError("Cannot close a process while it is still running. "
                     .. "You should first call join() or terminate()."), 2)
  end
  local owner = owners[self]
  if owner then owner:close() end
  owners[self] = nil
  rawset(self, "_sentinel", nil)
  rawset(self, "_closed", true)
end

function Process:__tostring()
  local st = "initial"
  if rawget(self, "_closed") then st = "closed"
  elseif rawget(self, "_pid") then
    local c = rawget(self, "_code")
    st = c == nil and "started" or ("stopped exitcode=" .. c)
  end
  return format("<%s name='%s' pid=%s %s%s>", getmetatable(self).__name,
                tostring(rawget(self, "_name")), tostring(rawget(self, "_pid")),
                st, rawget(self, "_daemon") and " daemon" or "")
end

-- Entry of a spawned child: read the Process, run it, exit.
function M._spawn_main(fd, inherited)
  local bytes = core.fd_recv_payload(fd)
  local info = core.proc_decode(bytes)
  for _, f in ipairs(inherited) do core.fd_close(f) end
  local obj = setup_child(info)
  osexit(bootstrap(obj), true)
end

-- Entry of the forkserver; returns only in its children.
function M._forkserver_main(sock)
  local bytes = core.forkserver_serve(sock)
  local info = core.proc_decode(bytes)
  -- the descriptors were placed under their numbers in the client
  local obj = setup_child(info)
  core.proc_exit(bootstrap(obj))
end

--- The Process object of this process.
function M.current_process()
  if current == nil then
    current = setmetatable({ _name = "MainProcess", _pid = core.getpid(),
                             _authkey = randomkey(), _daemon = false }, Process)
  end
  return current
end

--- The parent's Process stand-in (nil in the main process).
function M.parent_process() return parent end

--- Children still running (finished ones are reaped).
function M.active_children()
  local out = {}
  for p in pairs(children) do
    if poll(p, false) == nil then out[#out + 1] = p end
  end
  return out
end

-- At exit of this state: terminate daemonic children, join the others.
M._atexit = setmetatable({}, { __gc = function()
  for p in pairs(children) do
    if rawget(p, "_daemon") and ismychild(p) then signal(p, 15) end
  end
  for p in pairs(children) do
    if ismychild(p) then pcall(poll, p, true) end
  end
end })

M.current_process()
return M

--- Python's `multiprocessing` for Lua: processes (`Process`, start methods
-- `"fork"`, `"spawn"`, `"forkserver"`), `Pipe`/`Connection`, queues,
-- synchronisation objects that work between processes, shared memory
-- (`Value`, `Array`, `shared_memory.SharedMemory`), `cpu_count` and the
-- exception classes. `pool` and `dummy` are loaded on first use.
-- See the submodules for details: `process`, `connection`, `queues`,
-- `synchronize`, `sharedctypes`, `shared_memory`, `context`.
-- @module braid.multiprocessing
local core = require "braid.core"
local errors = require "braid.errors"
local sharedctypes = require "braid.multiprocessing.sharedctypes"
local process = require "braid.multiprocessing.process"
local connection = require "braid.multiprocessing.connection"
local synchronize = require "braid.multiprocessing.synchronize"
local queues = require "braid.multiprocessing.queues"
local shared_memory = require "braid.multiprocessing.shared_memory"
local context = require "braid.multiprocessing.context"
local require, setmetatable, rawset = require, setmetatable, rawset
_ENV = nil

local M = {}

M.sharedctypes = sharedctypes
M.Value = sharedctypes.Value
M.Array = sharedctypes.Array
M.RawValue = sharedctypes.RawValue
M.RawArray = sharedctypes.RawArray

--- Number of CPUs online (`sysconf(_SC_NPROCESSORS_ONLN)`, at least 1).
-- @function cpu_count
M.cpu_count = core.cpu_count

-- Processes
M.process = process
M.Process = process.Process
M.current_process = process.current_process
M.parent_process = process.parent_process
M.active_children = process.active_children
--- `set_executable(path, [builtin])`: the interpreter spawn and the
-- forkserver run (`builtin`: braid is built into it, like the braid host).
function M.set_executable(path, builtin)
  process.executable, process.executable_builtin = path, builtin
end

-- Start methods and contexts
M.context = context
function M.get_context(method) return context.get_context(M, method) end
M.set_start_method = context.set_start_method
M.get_start_method = context.get_start_method
M.get_all_start_methods = context.get_all_start_methods

-- Connections
M.connection = connection
M.Pipe = connection.Pipe

-- Synchronisation between processes (and threads)
M.synchronize = synchronize
M.Lock = synchronize.Lock
M.RLock = synchronize.RLock
M.Semaphore = synchronize.Semaphore
M.BoundedSemaphore = synchronize.BoundedSemaphore
M.Condition = synchronize.Condition
M.Event = synchronize.Event
M.Barrier = synchronize.Barrier

-- Queues
M.queues = queues
M.Queue = queues.Queue
M.JoinableQueue = queues.JoinableQueue
M.SimpleQueue = queues.SimpleQueue

M.shared_memory = shared_memory

M.ProcessError = errors.classes["multiprocessing.ProcessError"]
M.BufferTooShort = errors.classes["multiprocessing.BufferTooShort"]
M.TimeoutError = errors.classes["multiprocessing.TimeoutError"]
M.AuthenticationError = errors.classes["multiprocessing.AuthenticationError"]
M.MaybeEncodingError = errors.classes["multiprocessing.pool.MaybeEncodingError"]

local lazy = { pool = "braid.multiprocessing.pool",
               dummy = "braid.multiprocessing.dummy",
               managers = "braid.multiprocessing.managers" }

--- `Pool(...)`: a pool of worker processes (see `braid.multiprocessing.pool`).
function M.Pool(...) return require("braid.multiprocessing.pool").Pool(...) end

--- `Manager()`: a started `managers.SyncManager` (its server is a child
-- process of the default start method; `<close>` or `shutdown()` stops it).
function M.Manager()
  local m = require("braid.multiprocessing.managers").SyncManager()
  m:start()
  return m
end

return setmetatable(M, { __index = function(t, k)
  local name = lazy[k]
  if name == nil then return nil end
  local mod = require(name)
  rawset(t, k, mod)
  return mod
end })

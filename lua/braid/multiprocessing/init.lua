--- Python's `multiprocessing` for Lua: shared memory (`Value`, `Array`),
-- `cpu_count`, the synchronization primitives and exception classes.
-- Processes, pools, connections and managers come later.
-- See `braid.multiprocessing.sharedctypes` for `Value` and `Array` (and the
-- places where they differ from Python's ctypes on purpose).
-- @module braid.multiprocessing
local core = require "braid.core"
local errors = require "braid.errors"
local sharedctypes = require "braid.multiprocessing.sharedctypes"
local ipairs = ipairs
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

-- Synchronization primitives, where this build has them.
for _, name in ipairs { "Lock", "RLock", "Condition", "Semaphore",
                        "BoundedSemaphore", "Event", "Barrier" } do
  M[name] = core[name]
end

M.ProcessError = errors.classes["multiprocessing.ProcessError"]
M.BufferTooShort = errors.classes["multiprocessing.BufferTooShort"]
M.TimeoutError = errors.classes["multiprocessing.TimeoutError"]
M.AuthenticationError = errors.classes["multiprocessing.AuthenticationError"]

return M

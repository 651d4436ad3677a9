--- multiprocessing's synchronisation objects: `Lock`, `RLock`,
-- `Semaphore`, `BoundedSemaphore`, `Condition`, `Event`, `Barrier`.
--
-- They live in shared memory (a memfd mapped MAP_SHARED holding a
-- process-shared, robust mutex and condition variable), so one object works
-- between the threads of a process and between processes: pass it in a
-- Process's `args` (any start method), or send it through a Pipe, a Queue
-- or a pool (beyond Python, which allows inheritance only: it travels by
-- reference while its sender runs).
--
-- API: threading's, with multiprocessing's timeout rules: a negative
-- timeout counts as 0 and `acquire(false, t)` ignores `t`.
-- `Lock:release()` of an unlocked lock and a BoundedSemaphore released too
-- often raise ValueError; `RLock:release()` by a non-owner and
-- `Condition:wait/notify` without the lock raise AssertionError.
--
-- A process that dies holding a `Lock` or `RLock` does not block the
-- others: a waiter finds the owner gone (or a zombie) within 50 ms, takes
-- the lock, and its `acquire` returns `true, "owner died"` (the data the
-- lock guarded may be half updated). Semaphores have no owner and are
-- not recovered.
-- @module braid.multiprocessing.synchronize
local core = require "braid.core"
local type = type
_ENV = nil

local M = {}

function M.Lock() return core.mp_Lock() end
function M.RLock() return core.mp_RLock() end
function M.Semaphore(value) return core.mp_Semaphore(value) end
function M.BoundedSemaphore(value) return core.mp_BoundedSemaphore(value) end
function M.Event() return core.mp_Event() end

--- `Condition([lock])`: lock defaults to a new RLock.
function M.Condition(lock)
  if lock == nil then lock = core.mp_RLock() end
  return core.mp_Condition(lock)
end

--- `Barrier(parties, [action], [timeout])` or `Barrier{parties=, action=, timeout=}`.
function M.Barrier(parties, action, timeout)
  if type(parties) == "table" then
    parties, action, timeout = parties.parties, parties.action, parties.timeout
  end
  return core.mp_Barrier(parties, action, timeout)
end

return M

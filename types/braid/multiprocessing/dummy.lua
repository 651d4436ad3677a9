---@meta braid.multiprocessing.dummy
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.dummy"`.

---@class dummy
local M = {}

--- Reference: docs/pool.md, entry `dummy.Pool`
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@return pool.ThreadPool
function M.Pool(processes, initializer, initargs) end

--- Reference: docs/pool.md, entry `dummy.ThreadPool`
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@return pool.ThreadPool
function M.ThreadPool(processes, initializer, initargs) end

--- Reference: docs/pool.md, entry `dummy.Process`
---@type table
M["Process"] = nil

--- Reference: docs/pool.md, entry `dummy.current_process`
---@return threading.Thread
function M.current_process() end

--- Reference: docs/pool.md, entry `dummy.active_children`
---@return threading.Thread[]
function M.active_children() end

--- Reference: docs/pool.md, entry `dummy.cpu_count`
---@return integer
function M.cpu_count() end

--- Reference: docs/pool.md, entry `dummy.Queue`
---@param maxsize? integer
---@return queue.Queue
function M.Queue(maxsize) end

--- Reference: docs/pool.md, entry `dummy.JoinableQueue`
---@param maxsize? integer
---@return queue.Queue
function M.JoinableQueue(maxsize) end

--- Reference: docs/pool.md, entry `dummy.Lock`
---@return threading.Lock
function M.Lock() end

--- Reference: docs/pool.md, entry `dummy.RLock`
---@return threading.RLock
function M.RLock() end

--- Reference: docs/pool.md, entry `dummy.Condition`
---@param lock? any
---@return threading.Condition
function M.Condition(lock) end

--- Reference: docs/pool.md, entry `dummy.Semaphore`
---@param value? integer
---@return threading.Semaphore
function M.Semaphore(value) end

--- Reference: docs/pool.md, entry `dummy.BoundedSemaphore`
---@param value? integer
---@return threading.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- Reference: docs/pool.md, entry `dummy.Event`
---@return threading.Event
function M.Event() end

--- Reference: docs/pool.md, entry `dummy.Barrier`
---@param parties integer
---@param action? function
---@param timeout? number
---@return threading.Barrier
function M.Barrier(parties, action, timeout) end

--- Reference: docs/pool.md, entry `dummy.TimeoutError`
---@type table
M["TimeoutError"] = nil

return M

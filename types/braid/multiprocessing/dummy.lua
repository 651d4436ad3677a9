---@meta braid.multiprocessing.dummy
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.dummy"`.

---@class dummy
local M = {}

--- [docs](../../docs/pool.md#L360)
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@return pool.ThreadPool
function M.Pool(processes, initializer, initargs) end

--- [docs](../../docs/pool.md#L374)
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@return pool.ThreadPool
function M.ThreadPool(processes, initializer, initargs) end

--- [docs](../../docs/pool.md#L387)
---@type table
M["Process"] = nil

--- [docs](../../docs/pool.md#L397)
---@return threading.Thread
function M.current_process() end

--- [docs](../../docs/pool.md#L405)
---@return threading.Thread[]
function M.active_children() end

--- [docs](../../docs/pool.md#L414)
---@return integer
function M.cpu_count() end

--- [docs](../../docs/pool.md#L422)
---@param maxsize? integer
---@return queue.Queue
function M.Queue(maxsize) end

--- [docs](../../docs/pool.md#L433)
---@param maxsize? integer
---@return queue.Queue
function M.JoinableQueue(maxsize) end

--- [docs](../../docs/pool.md#L444)
---@return threading.Lock
function M.Lock() end

--- [docs](../../docs/pool.md#L454)
---@return threading.RLock
function M.RLock() end

--- [docs](../../docs/pool.md#L464)
---@param lock? any
---@return threading.Condition
function M.Condition(lock) end

--- [docs](../../docs/pool.md#L475)
---@param value? integer
---@return threading.Semaphore
function M.Semaphore(value) end

--- [docs](../../docs/pool.md#L486)
---@param value? integer
---@return threading.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- [docs](../../docs/pool.md#L497)
---@return threading.Event
function M.Event() end

--- [docs](../../docs/pool.md#L507)
---@param parties integer
---@param action? function
---@param timeout? number
---@return threading.Barrier
function M.Barrier(parties, action, timeout) end

--- [docs](../../docs/pool.md#L520)
---@type table
M["TimeoutError"] = nil

return M

---@meta braid.multiprocessing.dummy
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.dummy"`.

---@class dummy
local M = {}

--- [docs](../../docs/pool.md#L364)
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@return pool.ThreadPool
function M.Pool(processes, initializer, initargs) end

--- [docs](../../docs/pool.md#L378)
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@return pool.ThreadPool
function M.ThreadPool(processes, initializer, initargs) end

--- [docs](../../docs/pool.md#L391)
---@type table
M["Process"] = nil

--- [docs](../../docs/pool.md#L401)
---@return threading.Thread
function M.current_process() end

--- [docs](../../docs/pool.md#L409)
---@return threading.Thread[]
function M.active_children() end

--- [docs](../../docs/pool.md#L418)
---@return integer
function M.cpu_count() end

--- [docs](../../docs/pool.md#L426)
---@param maxsize? integer
---@return queue.Queue
function M.Queue(maxsize) end

--- [docs](../../docs/pool.md#L437)
---@param maxsize? integer
---@return queue.Queue
function M.JoinableQueue(maxsize) end

--- [docs](../../docs/pool.md#L448)
---@return threading.Lock
function M.Lock() end

--- [docs](../../docs/pool.md#L458)
---@return threading.RLock
function M.RLock() end

--- [docs](../../docs/pool.md#L468)
---@param lock? any
---@return threading.Condition
function M.Condition(lock) end

--- [docs](../../docs/pool.md#L479)
---@param value? integer
---@return threading.Semaphore
function M.Semaphore(value) end

--- [docs](../../docs/pool.md#L490)
---@param value? integer
---@return threading.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- [docs](../../docs/pool.md#L501)
---@return threading.Event
function M.Event() end

--- [docs](../../docs/pool.md#L511)
---@param parties integer
---@param action? function
---@param timeout? number
---@return threading.Barrier
function M.Barrier(parties, action, timeout) end

--- [docs](../../docs/pool.md#L524)
---@type table
M["TimeoutError"] = nil

return M

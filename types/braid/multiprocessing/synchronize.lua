---@meta braid.multiprocessing.synchronize
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.synchronize"`.

---@class synchronize
local M = {}

--- [docs](../../docs/multiprocessing-modules.md#L148)
---@return mp.Lock
function M.Lock() end

--- [docs](../../docs/multiprocessing-modules.md#L158)
---@return mp.RLock
function M.RLock() end

--- [docs](../../docs/multiprocessing-modules.md#L168)
---@param value? integer
---@return mp.Semaphore
function M.Semaphore(value) end

--- [docs](../../docs/multiprocessing-modules.md#L179)
---@param value? integer
---@return mp.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- [docs](../../docs/multiprocessing-modules.md#L190)
---@param lock? any
---@return mp.Condition
function M.Condition(lock) end

--- [docs](../../docs/multiprocessing-modules.md#L201)
---@return mp.Event
function M.Event() end

--- [docs](../../docs/multiprocessing-modules.md#L211)
---@param parties integer
---@param action? function
---@param timeout? number
---@return mp.Barrier
function M.Barrier(parties, action, timeout) end

return M

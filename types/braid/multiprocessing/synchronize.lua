---@meta braid.multiprocessing.synchronize
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.synchronize"`.

---@class synchronize
local M = {}

--- Reference: docs/multiprocessing-modules.md, entry `synchronize.Lock`
---@return mp.Lock
function M.Lock() end

--- Reference: docs/multiprocessing-modules.md, entry `synchronize.RLock`
---@return mp.RLock
function M.RLock() end

--- Reference: docs/multiprocessing-modules.md, entry `synchronize.Semaphore`
---@param value? integer
---@return mp.Semaphore
function M.Semaphore(value) end

--- Reference: docs/multiprocessing-modules.md, entry `synchronize.BoundedSemaphore`
---@param value? integer
---@return mp.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- Reference: docs/multiprocessing-modules.md, entry `synchronize.Condition`
---@param lock? any
---@return mp.Condition
function M.Condition(lock) end

--- Reference: docs/multiprocessing-modules.md, entry `synchronize.Event`
---@return mp.Event
function M.Event() end

--- Reference: docs/multiprocessing-modules.md, entry `synchronize.Barrier`
---@param parties integer
---@param action? function
---@param timeout? number
---@return mp.Barrier
function M.Barrier(parties, action, timeout) end

return M

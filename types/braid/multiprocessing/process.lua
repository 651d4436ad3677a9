---@meta braid.multiprocessing.process
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.process"`.

---@class process
local M = {}

--- counterpart is the same name in Python's sub-modules of multiprocessing, with Lua's : for Python's
--- [docs](../../docs/multiprocessing-modules.md#L19)
---@type table
M["Process"] = nil

--- [docs](../../docs/multiprocessing-modules.md#L32)
---@return mp.Process
function M.current_process() end

--- [docs](../../docs/multiprocessing-modules.md#L42)
---@return mp.Process?
function M.parent_process() end

--- [docs](../../docs/multiprocessing-modules.md#L52)
---@return mp.Process[]
function M.active_children() end

--- [docs](../../docs/multiprocessing-modules.md#L62)
---@type table
M["METHODS"] = nil

--- [docs](../../docs/multiprocessing-modules.md#L71)
---@type string
M["default_method"] = nil

return M

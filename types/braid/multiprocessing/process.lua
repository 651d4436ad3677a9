---@meta braid.multiprocessing.process
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.process"`.

---@class process
local M = {}

--- [docs](../../docs/multiprocessing-modules.md#L19)
---@type table
M["Process"] = nil

--- [docs](../../docs/multiprocessing-modules.md#L28)
---@return mp.Process
function M.current_process() end

--- [docs](../../docs/multiprocessing-modules.md#L38)
---@return mp.Process?
function M.parent_process() end

--- [docs](../../docs/multiprocessing-modules.md#L48)
---@return mp.Process[]
function M.active_children() end

--- [docs](../../docs/multiprocessing-modules.md#L58)
---@type table
M["METHODS"] = nil

--- [docs](../../docs/multiprocessing-modules.md#L67)
---@type string
M["default_method"] = nil

return M

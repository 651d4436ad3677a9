---@meta braid.multiprocessing.process
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.process"`.

---@class process
local M = {}

--- counterpart is the same name in Python's sub-modules of multiprocessing, with Lua's : for Python's
--- Reference: docs/multiprocessing-modules.md, entry `process.Process`
---@type table
M["Process"] = nil

--- Reference: docs/multiprocessing-modules.md, entry `process.current_process`
---@return mp.Process
function M.current_process() end

--- Reference: docs/multiprocessing-modules.md, entry `process.parent_process`
---@return mp.Process?
function M.parent_process() end

--- Reference: docs/multiprocessing-modules.md, entry `process.active_children`
---@return mp.Process[]
function M.active_children() end

--- Reference: docs/multiprocessing-modules.md, entry `process.METHODS`
---@type table
M["METHODS"] = nil

--- Reference: docs/multiprocessing-modules.md, entry `process.default_method`
---@type string
M["default_method"] = nil

return M

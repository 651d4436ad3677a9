---@meta braid.multiprocessing.context
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.context"`.

---@class context
local M = {}

---@class context.Context
---@field Process table
---@field Pool function
---@field Manager function
---@field get_start_method function
local context_Context = {}

--- The context of method; without one, the context itself (Python's
--- Reference: docs/multiprocessing.md, entry `context.Context:get_context`
---@param method? string
---@return table
function context_Context:get_context(method) end

--- The function behind mp.get_context; it takes the module as its first
--- Reference: docs/multiprocessing-modules.md, entry `context.get_context`
---@param mp table
---@param method? string
---@return context.Context
function M.get_context(mp, method) end

--- Reference: docs/multiprocessing-modules.md, entry `context.set_start_method`
---@param method? string
---@param force? boolean
function M.set_start_method(method, force) end

--- Reference: docs/multiprocessing-modules.md, entry `context.get_start_method`
---@param allow_none? boolean
---@return string?
function M.get_start_method(allow_none) end

--- Reference: docs/multiprocessing-modules.md, entry `context.get_all_start_methods`
---@return string[]
function M.get_all_start_methods() end

return M

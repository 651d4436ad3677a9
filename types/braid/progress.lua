---@meta braid.progress
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.progress"`.

---@class progress
local M = {}

---@class progress.Bar
---@field total integer?
---@field desc string?
---@field count integer
---@field file file
---@field enabled boolean
---@field min_interval number
---@field t0 number
---@field last number
---@field closed boolean
local progress_Bar = {}

--- Sets the count and redraws if min_interval has passed.
--- Reference: docs/progress.md, entry `progress.Bar:update`
---@param n integer
function progress_Bar:update(n) end

--- Reference: docs/progress.md, entry `progress.Bar:render`
---@return string
function progress_Bar:render() end

--- Draws the final state and a newline (when enabled); later calls do
--- Reference: docs/progress.md, entry `progress.Bar:close`
function progress_Bar:close() end

--- Wraps iterable in a generic-for iterator that yields what it yields and
--- Reference: docs/progress.md, entry `progress.progress`
---@param iterable any
---@param opts? table
---@return function
function M.progress(iterable, opts) end

--- A bar you drive yourself.
--- Reference: docs/progress.md, entry `progress.Bar`
---@param opts? table
---@return progress.Bar
function M.Bar(opts) end

return M

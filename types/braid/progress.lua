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
--- [docs](../../docs/progress.md#L65)
---@param n integer
function progress_Bar:update(n) end

--- [docs](../../docs/progress.md#L77)
---@return string
function progress_Bar:render() end

--- Draws the final state and a newline (when enabled); later calls do
--- [docs](../../docs/progress.md#L87)
function progress_Bar:close() end

--- Wraps iterable in a generic-for iterator that yields what it yields and
--- [docs](../../docs/progress.md#L23)
---@param iterable any
---@param opts? table
---@return function
function M.progress(iterable, opts) end

--- A bar you drive yourself.
--- [docs](../../docs/progress.md#L49)
---@param opts? table
---@return progress.Bar
function M.Bar(opts) end

return M

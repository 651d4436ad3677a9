---@meta braid
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid"`.

---@class braid
local M = {}

---@class braid.concurrent
---@field futures table
local braid_concurrent = {}

--- Runs the callbacks posted to the calling state: future done-callbacks,
--- [docs](../../docs/braid.md#L20)
---@return integer
function M.poll() end

--- [docs](../../docs/braid.md#L42)
---@type string
M["version"] = nil

--- [docs](../../docs/braid.md#L50)
---@type table
M["errors"] = nil

--- [docs](../../docs/braid.md#L59)
---@type table
M["threading"] = nil

--- [docs](../../docs/braid.md#L67)
---@type table
M["queue"] = nil

--- [docs](../../docs/braid.md#L75)
---@type table
M["futures"] = nil

--- [docs](../../docs/braid.md#L83)
---@type table
M["concurrent"] = nil

--- [docs](../../docs/braid.md#L99)
---@type table
M["multiprocessing"] = nil

--- [docs](../../docs/braid.md#L108)
---@type table
M["progress"] = nil

--- [docs](../../docs/braid.md#L118)
---@type table
M["core"] = nil

return M

---@meta braid.multiprocessing.sharedctypes
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.sharedctypes"`.

---@class sharedctypes
local M = {}

--- [docs](../../docs/multiprocessing-modules.md#L226)
---@param typecode string
---@param init? any
---@param opts? table
---@return mp.Value
function M.Value(typecode, init, opts) end

--- [docs](../../docs/multiprocessing-modules.md#L239)
---@param typecode string
---@param size_or_initializer any
---@param opts? table
---@return mp.Array
function M.Array(typecode, size_or_initializer, opts) end

--- [docs](../../docs/multiprocessing-modules.md#L252)
---@param typecode string
---@param init? any
---@return mp.RawValue
function M.RawValue(typecode, init) end

--- [docs](../../docs/multiprocessing-modules.md#L264)
---@param typecode string
---@param size_or_initializer any
---@return mp.RawArray
function M.RawArray(typecode, size_or_initializer) end

--- A synchronized object over the memory of obj: the two share their
--- [docs](../../docs/multiprocessing-modules.md#L276)
---@param obj any
---@param lock? any
---@return any
function M.synchronized(obj, lock) end

--- Python: multiprocessing.sharedctypes.copy(obj).
--- [docs](../../docs/multiprocessing-modules.md#L295)
---@param obj any
---@return any
function M.copy(obj) end

return M

---@meta braid.multiprocessing.sharedctypes
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.sharedctypes"`.

---@class sharedctypes
local M = {}

--- Reference: docs/multiprocessing-modules.md, entry `sharedctypes.Value`
---@param typecode string
---@param init? any
---@param opts? table
---@return mp.Value
function M.Value(typecode, init, opts) end

--- Reference: docs/multiprocessing-modules.md, entry `sharedctypes.Array`
---@param typecode string
---@param size_or_initializer any
---@param opts? table
---@return mp.Array
function M.Array(typecode, size_or_initializer, opts) end

--- Reference: docs/multiprocessing-modules.md, entry `sharedctypes.RawValue`
---@param typecode string
---@param init? any
---@return mp.RawValue
function M.RawValue(typecode, init) end

--- Reference: docs/multiprocessing-modules.md, entry `sharedctypes.RawArray`
---@param typecode string
---@param size_or_initializer any
---@return mp.RawArray
function M.RawArray(typecode, size_or_initializer) end

--- A synchronized object over the memory of obj: the two share their
--- Reference: docs/multiprocessing-modules.md, entry `sharedctypes.synchronized`
---@param obj any
---@param lock? any
---@return any
function M.synchronized(obj, lock) end

--- Python: multiprocessing.sharedctypes.copy(obj).
--- Reference: docs/multiprocessing-modules.md, entry `sharedctypes.copy`
---@param obj any
---@return any
function M.copy(obj) end

return M

---@meta braid.multiprocessing.shared_memory
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.shared_memory"`.

---@class shared_memory
local M = {}

---@class shared_memory.SharedMemory
---@field name string
---@field size integer
local shared_memory_SharedMemory = {}

--- braid's stand-in for Python's buf slicing.
--- Reference: docs/multiprocessing-modules.md, entry `shared_memory.SharedMemory:read`
---@param offset? integer
---@param n? integer
---@return string
function shared_memory_SharedMemory:read(offset, n) end

--- Raises IndexError for a range outside the segment.
--- Reference: docs/multiprocessing-modules.md, entry `shared_memory.SharedMemory:write`
---@param offset integer
---@param s string
function shared_memory_SharedMemory:write(offset, s) end

--- Unmaps this object's view (the segment lives on).
--- Reference: docs/multiprocessing-modules.md, entry `shared_memory.SharedMemory:close`
function shared_memory_SharedMemory:close() end

--- Removes the segment's name; the memory goes away when the last mapping is
--- Reference: docs/multiprocessing-modules.md, entry `shared_memory.SharedMemory:unlink`
function shared_memory_SharedMemory:unlink() end

--- A named POSIX shared-memory segment (shm_open). It travels by name:
--- Reference: docs/multiprocessing-modules.md, entry `shared_memory.SharedMemory`
---@param name? string
---@param create? boolean
---@param size? integer
---@overload fun(opts: {name?: string, create?: boolean, size?: integer}): shared_memory.SharedMemory
---@return shared_memory.SharedMemory
function M.SharedMemory(name, create, size) end

return M

---@meta braid
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid"`.

---@class braid
local M = {}

---@class braid.concurrent
---@field futures table
local braid_concurrent = {}

--- Runs the callbacks posted to the calling state: future done-callbacks,
--- Reference: docs/braid.md, entry `braid.poll`
---@return integer
function M.poll() end

--- Forgets a KeyboardInterrupt that the script caught and goes on from.
--- Reference: docs/braid.md, entry `braid.interrupt_reset`
function M.interrupt_reset() end

--- Reference: docs/braid.md, entry `braid.version`
---@type string
M["version"] = nil

--- Reference: docs/braid.md, entry `braid.errors`
---@type table
M["errors"] = nil

--- Reference: docs/braid.md, entry `braid.threading`
---@type table
M["threading"] = nil

--- Reference: docs/braid.md, entry `braid.queue`
---@type table
M["queue"] = nil

--- Reference: docs/braid.md, entry `braid.futures`
---@type table
M["futures"] = nil

--- Reference: docs/braid.md, entry `braid.concurrent`
---@type table
M["concurrent"] = nil

--- Reference: docs/braid.md, entry `braid.multiprocessing`
---@type table
M["multiprocessing"] = nil

--- Reference: docs/braid.md, entry `braid.progress`
---@type table
M["progress"] = nil

--- Reference: docs/braid.md, entry `braid.subprocess`
---@type table
M["subprocess"] = nil

--- Reference: docs/braid.md, entry `braid.mmap`
---@type table
M["mmap"] = nil

--- Reference: docs/braid.md, entry `braid.sched`
---@type table
M["sched"] = nil

--- Reference: docs/braid.md, entry `braid.os`
---@type table
M["os"] = nil

--- Reference: docs/braid.md, entry `braid._thread`
---@type table
M["_thread"] = nil

--- Reference: docs/braid.md, entry `braid.core`
---@type table
M["core"] = nil

return M

---@meta braid.multiprocessing.queues
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.queues"`.

---@class queues
local M = {}

--- [docs](../../docs/multiprocessing-modules.md#L122)
---@type table
M["Queue"] = nil

--- [docs](../../docs/multiprocessing-modules.md#L130)
---@type table
M["JoinableQueue"] = nil

--- [docs](../../docs/multiprocessing-modules.md#L138)
---@type table
M["SimpleQueue"] = nil

return M

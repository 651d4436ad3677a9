---@meta braid.multiprocessing.queues
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.queues"`.

---@class queues
local M = {}

--- Reference: docs/multiprocessing-modules.md, entry `queues.Queue`
---@type table
M["Queue"] = nil

--- Reference: docs/multiprocessing-modules.md, entry `queues.JoinableQueue`
---@type table
M["JoinableQueue"] = nil

--- Reference: docs/multiprocessing-modules.md, entry `queues.SimpleQueue`
---@type table
M["SimpleQueue"] = nil

return M

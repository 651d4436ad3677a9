---@meta braid.sched
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.sched"`.

---@class sched
local M = {}

---@class sched.scheduler
---@field queue table[]
---@field timefunc function
---@field delayfunc function
local sched_scheduler = {}

--- Schedules action(table.unpack(argument)) at time.
--- Reference: docs/sched.md, entry `sched.scheduler:enterabs`
---@param time number
---@param priority any
---@param action function
---@param argument? table
---@param kwargs? table
---@return table
function sched_scheduler:enterabs(time, priority, action, argument, kwargs) end

--- Reference: docs/sched.md, entry `sched.scheduler:enter`
---@param delay number
---@param priority any
---@param action function
---@param argument? table
---@param kwargs? table
---@return table
function sched_scheduler:enter(delay, priority, action, argument, kwargs) end

--- Removes an event from the queue.
--- Reference: docs/sched.md, entry `sched.scheduler:cancel`
---@param event table
function sched_scheduler:cancel(event) end

--- Reference: docs/sched.md, entry `sched.scheduler:empty`
---@return boolean
function sched_scheduler:empty() end

--- Runs the events as they become due until the queue is empty. An action's
--- Reference: docs/sched.md, entry `sched.scheduler:run`
---@param blocking? boolean
---@return number?
function sched_scheduler:run(blocking) end

--- A new, empty scheduler.
--- Reference: docs/sched.md, entry `sched.scheduler`
---@param timefunc? function
---@param delayfunc? function
---@return sched.scheduler
function M.scheduler(timefunc, delayfunc) end

return M

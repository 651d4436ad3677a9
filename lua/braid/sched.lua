--- Python's `sched` module: an event scheduler whose queue is shared by
-- reference between threads.
--
--     local s = sched.scheduler()                 -- monotonic clock, braid sleep
--     s:enter(0.5, 1, print, {"half a second later"})
--     s:run()
--
-- Events are tables `{time, priority, sequence, action, argument}`
-- (Python's `kwargs` are dropped, API.md). A thread that receives the
-- scheduler shares its queue; an event it runs that another state entered
-- runs a copy of the action (as a Barrier's action), the state that
-- entered it runs the original.
-- @module braid.sched
local core = require "braid.core"
_ENV = nil

local M = {}

--- `scheduler([timefunc], [delayfunc])`: Python's `sched.scheduler`.
M.scheduler = function(timefunc, delayfunc)
  return core.scheduler(timefunc, delayfunc)
end

return M

-- recipes_ch10_sched.lua: seed 004 (recipe chapter "Concurrency"),
-- recipe 10-8 "Scheduling Events" with listing 10-10, ported to
-- braid.sched and checked: a scheduler, enter() with a delay and a
-- priority, enterabs(), the queue attribute, and run() waiting until all
-- events have finished. Then the same scheduler fed by worker threads.
--
--   braid examples/seeds/recipes_ch10_sched.lua [--quick]
local sched = require "braid.sched"
local threading = require "braid.threading"
local core = require "braid.core"
local quick = arg and arg[1] == "--quick"
local delay = quick and 0.05 or 1

local ran = {}
local function print_time(tag)
  ran[#ran + 1] = tag
  print(tag, core.monotonic())
end

local my_sched = sched.scheduler()
local event = my_sched:enter(delay, 1, print_time, {"after the delay"})
print(("Event(time=%.3f, priority=%d, action=%s, argument={%q})")
  :format(event.time, event.priority, tostring(event.action), event.argument[1]))
my_sched:enterabs(event.time, 0, print_time, {"same time, higher priority"})
assert(#my_sched.queue == 2)
my_sched:run() -- waits until all events have finished
assert(ran[1] == "same time, higher priority" and ran[2] == "after the delay")

-- The queue is shared with threads: each worker schedules its own event.
local workers = {}
for i = 1, 3 do
  workers[i] = threading.Thread{target = function(s, n)
    s:enter(n * 0.01, 1, function(k) print("event from worker", k) end, {n})
  end, args = {my_sched, i}}
  workers[i]:start()
end
for _, t in ipairs(workers) do t:join() end
assert(#my_sched.queue == 3)
my_sched:run()
assert(my_sched:empty())
print("recipes ch10 (sched): ok")

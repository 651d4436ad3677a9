-- Processes with braid.multiprocessing: every start method, a Pipe, a
-- Queue of work, a shared Value under its lock.   braid examples/processes.lua [--quick]
local mp = require "braid.multiprocessing"
local quick = arg and arg[1] == "--quick"
local N = quick and 200 or 20000

local function worker(tasks, results, total)
  while true do
    local n = tasks:get()
    if n == nil then break end
    local s = 0
    for i = 1, n do s = s + i % 7 end
    results:put(s)
    total:get_lock():with(function() total.value = total.value + 1 end)
  end
end

for _, method in ipairs(mp.get_all_start_methods()) do
  local ctx = mp.get_context(method)
  local tasks, results, total = mp.Queue(), mp.Queue(), mp.Value("i", 0)
  local procs = {}
  for i = 1, 3 do
    procs[i] = ctx.Process{target = worker, args = { tasks, results, total }}
    procs[i]:start()
  end
  for _ = 1, 30 do tasks:put(N) end
  for _ = 1, 3 do tasks:put(nil) end
  local sum = 0
  for _ = 1, 30 do sum = sum + results:get() end
  for _, p in ipairs(procs) do p:join() end
  local r, w = mp.Pipe()
  local p = ctx.Process{target = function(c)
    c:send("hello from " .. require("braid.core").getpid())
  end, args = { w }}
  p:start()
  print(("%-10s tasks done: %d, sum %d, pipe: %s, exit codes: %d %d %d %d")
    :format(method, total.value, sum, r:recv(), procs[1].exitcode,
            procs[2].exitcode, procs[3].exitcode, (p:join() or p.exitcode)))
end

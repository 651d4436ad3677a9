-- Run by examples/embed/host.c: four threads call the host's C module
-- 'engine', which the host's per-state initializer registered in each
-- worker state. An error in any worker reaches the custom excepthook,
-- which runs in this state when join() polls, and fails the script.
local threading = require "braid.threading"
local engine = require "engine"

local failures = 0
threading.excepthook = function(args)
  failures = failures + 1
  io.stderr:write(tostring(args.exc_value), "\n")
end

local threads = {}
for i = 1, 4 do
  threads[i] = threading.Thread{
    name = "engine-worker-" .. i,
    -- 'engine' travels by name: the worker resolves it with require,
    -- which finds the module the host registered there.
    target = function(n)
      local sum = 0
      for k = 1, 20000 do sum = sum + engine.checksum("frame" .. n .. ":" .. k) % 1000 end
      assert(engine.name() == "embedded engine")
      assert(sum > 0)
    end,
    args = { i },
  }
  threads[i]:start()
end
for i = 1, 4 do threads[i]:join() end
assert(failures == 0, failures .. " worker(s) failed")
print(("4 worker threads used the host module '%s'"):format(engine.name()))

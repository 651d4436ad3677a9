-- barrier_phases.lua: worker threads compute in phases; a Barrier keeps
-- them in step and its action (run by the last thread to arrive, in that
-- thread) reports each phase. Wait returns 1..parties (Python: 0..n-1).
--
-- Run:  build/bin/braid examples/barrier_phases.lua [--quick]
local threading = require "braid.threading"
local multiprocessing = require "braid.multiprocessing"

local quick = arg and arg[1] == "--quick"
local WORKERS, PHASES = 3, quick and 3 or 10

local phase = multiprocessing.Value("i", 0)
local barrier = threading.Barrier(WORKERS, function()
  -- runs once per phase, before any worker is released
  phase.value = phase.value + 1
end)

local threads = {}
for w = 1, WORKERS do
  threads[w] = threading.Thread{ target = function(id)
    for p = 1, PHASES do
      local x = 0
      for k = 1, 20000 * id do x = x + k % 7 end -- uneven work per worker
      barrier:wait(30)
      assert(phase.value == p, "phases out of step")
    end
  end, args = { w } }
  threads[w]:start()
end
for w = 1, WORKERS do threads[w]:join() end
print(("%d workers went through %d phases in step"):format(WORKERS, phase.value))
assert(phase.value == PHASES)

-- threading_counter.lua: several threads update one shared counter under
-- a lock. The counter is a multiprocessing.Value (shared memory); the lock
-- is the Value's own, taken with a to-be-closed guard.
--
-- Run:  build/bin/braid examples/threading_counter.lua [--quick]
-- Python equivalent:
--   counter = multiprocessing.Value('q', 0)
--   def work(n):
--       for _ in range(n):
--           with counter.get_lock(): counter.value += 1
local threading = require "braid.threading"
local multiprocessing = require "braid.multiprocessing"

local quick = arg and arg[1] == "--quick"
local THREADS, PER_THREAD = 4, quick and 2000 or 100000

local counter = multiprocessing.Value("q", 0)

local function work(n)
  for _ = 1, n do
    local guard <close> = counter:get_lock():guard()
    counter.value = counter.value + 1
  end
end

local threads = {}
for i = 1, THREADS do
  threads[i] = threading.Thread{ target = work, args = { PER_THREAD }, name = "adder-" .. i }
  threads[i]:start()
end
for i = 1, THREADS do threads[i]:join() end

print(("%d threads x %d increments = %d"):format(THREADS, PER_THREAD, counter.value))
assert(counter.value == THREADS * PER_THREAD, "lost updates")

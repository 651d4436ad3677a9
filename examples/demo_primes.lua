-- demo_primes.lua: the main demo. Counts the primes below N by trial
-- division, first sequentially, then split over one braid thread per core,
-- and prints both times and the speedup. Each thread runs in its own Lua
-- state, so they run in parallel: there is no global lock.
--
-- Run:  build/bin/braid examples/demo_primes.lua [N] [--quick]
--       (or: scripts/demo.sh)
-- Python equivalent: threading.Thread workers writing into a
-- multiprocessing.Array — which in Python would NOT speed up, because of
-- the GIL.
local threading = require "braid.threading"
local multiprocessing = require "braid.multiprocessing"
local monotonic = require("braid.core").monotonic

local quick = false
local N = 4000000
for _, a in ipairs(arg or {}) do
  if a == "--quick" then quick = true elseif tonumber(a) then N = math.tointeger(tonumber(a)) end
end
if quick then N = 300000 end

local function count_primes(lo, hi)
  local count = 0
  for n = lo, hi do
    if n >= 2 then
      local prime = true
      if n % 2 == 0 then
        prime = n == 2
      else
        local d = 3
        while d * d <= n do
          if n % d == 0 then prime = false; break end
          d = d + 2
        end
      end
      if prime then count = count + 1 end
    end
  end
  return count
end

local workers = multiprocessing.cpu_count()
print(("Counting primes below %d on %d cores"):format(N, workers))

local t0 = monotonic()
local expected = count_primes(1, N - 1)
local sequential = monotonic() - t0
print(("  sequential:  %d primes in %.3f s"):format(expected, sequential))

-- Interleaved chunks balance the work (big numbers cost more).
local chunks = workers * 16
local size = N // chunks + 1
local counts = multiprocessing.Array("q", workers) -- one slot per thread
t0 = monotonic()
local threads = {}
for w = 1, workers do
  threads[w] = threading.Thread{
    name = "primes-" .. w,
    target = function(id, nworkers)
      local total = 0
      for c = id, chunks, nworkers do
        local lo = (c - 1) * size
        local hi = math.min(c * size - 1, N - 1)
        total = total + count_primes(lo, hi)
      end
      counts[id] = total
    end,
    args = { w, workers },
  }
  threads[w]:start()
end
for w = 1, workers do threads[w]:join() end
local parallel = monotonic() - t0
local total = 0
for w = 1, workers do total = total + counts[w] end
print(("  %d threads:   %d primes in %.3f s"):format(workers, total, parallel))
print(("  speedup:     %.2fx"):format(sequential / parallel))
assert(total == expected, "parallel count differs from the sequential one")

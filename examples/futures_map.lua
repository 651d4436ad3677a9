-- examples/futures_map.lua: count primes below N with a ThreadPoolExecutor,
-- by map (results in order), by submit + as_completed, and with a progress
-- bar (drawn only when stderr is a terminal).
--   build/bin/braid examples/futures_map.lua [--quick]
local futures = require "braid.futures"
local braid = require "braid"

local quick = arg and arg[1] == "--quick"
local N = quick and 200000 or 5000000
local PARTS = 16

-- Every worker gets this function once and keeps it for all its tasks.
local function count_primes(lo, hi)
  local n = 0
  for x = math.max(lo, 2), hi do
    local prime = true
    for d = 2, math.floor(math.sqrt(x)) do
      if x % d == 0 then prime = false; break end
    end
    if prime then n = n + 1 end
  end
  return n
end

local ranges = {}
local step = N // PARTS
for i = 1, PARTS do
  ranges[i] = { (i - 1) * step + 1, i == PARTS and N or i * step }
end

local ex <close> = futures.ThreadPoolExecutor(braid.multiprocessing.cpu_count())

-- map: one argument per item, so pass the range table and unpack it
local total = 0
for _, n in ex:map(function(r) return count_primes(r[1], r[2]) end, ranges,
                   { progress = true }) do
  total = total + n
end
print(("map: %d primes below %d"):format(total, N))

-- submit + as_completed: results as they come
local fs = {}
for i, r in ipairs(ranges) do fs[i] = ex:submit(count_primes, r[1], r[2]) end
local total2 = 0
for f in futures.as_completed(fs) do total2 = total2 + f:result() end
print(("as_completed: %d primes"):format(total2))
assert(total == total2)

-- errors come back with the worker's traceback as the cause
local bad = ex:submit(function() error("no primes here") end)
local ok, err = pcall(bad.result, bad)
print("a failing task raised:", not ok and err.type.name, err.message)

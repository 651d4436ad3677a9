-- Pools of worker processes: multiprocessing.Pool and
-- concurrent.futures.ProcessPoolExecutor. A crashing task takes down its
-- worker process, not the program: the Pool replaces the worker and the
-- task's result raises BrokenProcessPool; an executor breaks instead and
-- says so.          braid examples/process_pool.lua [--quick]
local mp = require "braid.multiprocessing"
local futures = require "braid.futures"
local quick = arg and arg[1] == "--quick"
local N = quick and 2000 or 200000

-- Counts the primes below n (CPU-bound).
local function primes_below(n)
  local count = 0
  for i = 2, n - 1 do
    local prime = true
    for d = 2, math.floor(math.sqrt(i)) do
      if i % d == 0 then prime = false; break end
    end
    if prime then count = count + 1 end
  end
  return count
end

do
  local pool <close> = mp.Pool()           -- cpu_count() workers, terminated at scope exit
  local sizes = {}
  for i = 1, 8 do sizes[i] = N + i end
  local counts = pool:map(primes_below, sizes)
  print(("Pool(%d).map: %d results, first %d, last %d"):format(
    mp.cpu_count(), counts.n, counts[1], counts[counts.n]))

  -- a task that kills its own worker: only that task fails
  local crash = pool:apply_async(function()
    local core = require "braid.core"
    core.proc_kill(core.getpid(), 9)
  end)
  local ok, err = pcall(crash.get, crash, 60)
  print("crashing task:", ok, err and err.name)
  print("the pool goes on:", pool:apply(primes_below, { 100 }))
end

do
  local ex <close> = futures.ProcessPoolExecutor(2)
  local fs = {}
  for i = 1, 4 do fs[i] = ex:submit(primes_below, N // i) end
  for f in futures.as_completed(fs) do io.write(f:result(), " ") end
  print()
  local bad = ex:submit(function() os.exit(3) end)   -- the worker exits
  local ok, err = pcall(bad.result, bad)
  print("executor after a worker died:", ok, err and err.name)
  print("later submits:", pcall(ex.submit, ex, primes_below, 10))
end

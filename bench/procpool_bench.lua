-- bench/procpool_bench.lua: the process-pool workload of bench/run.lua
-- (process_pool_map): 100,000 trivial tasks (x*x) through
-- multiprocessing.Pool(2).map and ProcessPoolExecutor(2).map at chunksize
-- 1000, against Python's same calls measured in the same run
-- (bench/py_procpool.py, when python3 is present). Target: at least 3x
-- Python's Pool.map.
-- Returns function(h) -> { {name, fn} } where 'h' gives run.lua's helpers.
local core = require "braid.core"
local futures = require "braid.futures"
local mp = require "braid.multiprocessing"

local now = core.monotonic
local N, CS = 100000, 1000

local function sq(x) return x * x end

local items = {}
for i = 1, N do items[i] = i end
local SUM = N * (N + 1) * (2 * N + 1) // 6

local function python(reps)
  if not os.execute("command -v python3 >/dev/null 2>&1") then return {} end
  local p = io.popen(("python3 bench/py_procpool.py %d %d %d 2>/dev/null"):format(N, CS, reps))
  if not p then return {} end
  local t = {}
  for k, v in p:read("a"):gmatch("(%S+) (%S+)") do t[k] = tonumber(v) end
  p:close()
  return t
end

return function(h)
  local best_of, fmt, write_json, rows, REPS = h.best_of, h.fmt, h.write_json, h.rows, h.REPS

  local function process_pool_map()
    -- a map takes ~10 ms: more repetitions (for Python's too) steady both
    local reps = math.max(REPS, 15)
    local pool = mp.Pool(2)
    pool:map(sq, { 1, 2, 3 }, 1) -- workers up
    local pool_ms = best_of(reps, function()
      local t0 = now()
      local r = pool:map(sq, items, CS)
      local dt = (now() - t0) * 1e3
      assert(r.n == N and r[N] == N * N)
      return dt
    end)
    pool:close()
    pool:join()
    local ex = futures.ProcessPoolExecutor(2)
    for _ in ex:map(sq, { 1, 2, 3, 4 }) do end
    local ex_ms = best_of(reps, function()
      local t0 = now()
      local s = 0
      for _, v in ex:map(sq, items, { chunksize = CS }) do s = s + v end
      local dt = (now() - t0) * 1e3
      assert(s == SUM)
      return dt
    end)
    ex:shutdown()
    local py = python(reps)
    local function line(label, ms, base)
      local ratio = base and base / ms
      local met = ratio and ratio >= 3
      print(("%s chunksize %d: braid %.1f ms (%.0f ns/task)%s"):format(label, CS, ms,
        ms * 1e6 / N, base and (", Python %.1f ms: %.1fx (target >= 3x): %s")
          :format(base, ratio, met and "met" or "NOT met") or ""))
      rows[#rows + 1] = {
        ("%s, 100k x*x, chunksize %d (ms)"):format(label, CS), fmt(ms),
        base and ("Python %s"):format(fmt(base)) or "Python n/a",
        base and ("%.2f (%.1fx faster)"):format(ms / base, ratio) or "-",
        base and ((met and "yes" or "no") .. " (>= 3x Python)") or "n/a",
      }
      return met
    end
    local m1 = line("Pool(2).map", pool_ms, py.pool_ms)
    local m2 = line("ProcessPoolExecutor(2).map", ex_ms, py.executor_ms)
    write_json("process_pool_map", {
      unit = "ms per 100,000 tasks", tasks = N, chunksize = CS,
      braid = { pool = pool_ms, executor = ex_ms },
      baselines = { python_Pool_2 = py.pool_ms, python_ProcessPoolExecutor_2 = py.executor_ms },
      ratio_of = "Python / braid", target = "braid at least 3x faster than Python",
      met = (m1 and m2) or false,
    })
  end

  return { { "process_pool_map", process_pool_map } }
end

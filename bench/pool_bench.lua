-- bench/pool_bench.lua: the thread-pool workloads of bench/run.lua
-- (executor_map, pool_map, speedup), each against baselines measured in
-- the same run (Python's ThreadPoolExecutor and multiprocessing.Pool via
-- bench/py_pool.py when python3 is present).
-- Returns function(h) -> { {name, fn}, ... } where 'h' gives run.lua's
-- helpers: best_of, fmt, write_json, rows, REPS.
local core = require "braid.core"
local futures = require "braid.futures"
local mpool = require "braid.multiprocessing.pool"

local now = core.monotonic
local N = 100000

local has_python = os.execute("command -v python3 >/dev/null 2>&1")
local function py(args)
  if not has_python then return nil end
  local p = io.popen("python3 bench/py_pool.py " .. args .. " 2>/dev/null")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  local t = {}
  for k, v in out:gmatch("(%S+) (%S+)") do t[k] = tonumber(v) end
  return next(t) and t or nil
end

local function sq(x) return x * x end

local items = {}
for i = 1, N do items[i] = i end

local function yesno(met, what) return (met and "yes" or "no") .. " (" .. what .. ")" end

return function(h)
  local best_of, fmt, write_json, rows, REPS = h.best_of, h.fmt, h.write_json, h.rows, h.REPS

  -- per-task costs: targets at chunksize 1 (<= 5 us) and 1000 (<= 100 ns)
  local TARGET_NS = { [1] = 5000, [1000] = 100 }

  local function report(name, label, braid_ms, base, base_label)
    local rec = { unit = "ms per 100,000 tasks", tasks = N, braid = {},
                  ns_per_task = {}, baselines = base,
                  targets_ns_per_task = { chunksize_1 = 5000, chunksize_1000 = 100 } }
    local met_all = true
    for _, cs in ipairs { 1, 1000 } do
      local ms = braid_ms[cs]
      local ns = ms * 1e6 / N
      local met = ns <= TARGET_NS[cs]
      met_all = met_all and met
      rec.braid["chunksize_" .. cs] = ms
      rec.ns_per_task["chunksize_" .. cs] = ns
      print(("%s chunksize %d: braid %.1f ms (%.0f ns/task; target <= %d ns): %s")
        :format(label, cs, ms, ns, TARGET_NS[cs], met and "met" or "NOT met"))
      local b = base[base_label .. "_chunksize_" .. cs] or base[base_label]
      rows[#rows + 1] = {
        ("%s, 100k x*x, chunksize %d (ms)"):format(label, cs), fmt(ms),
        b and ("Python %s"):format(fmt(b)) or "Python n/a",
        b and ("%.2f (%.1fx faster)"):format(ms / b, b / ms) or "-",
        yesno(met, ("<= %d ns/task"):format(TARGET_NS[cs])),
      }
    end
    for k, v in pairs(base) do print(("  baseline %s: %.1f ms"):format(k, v)) end
    rec.met = met_all
    rec.target = "chunksize 1 <= 5 us/task, chunksize 1000 <= 100 ns/task"
    write_json(name, rec)
  end

  local function executor_map()
    local ex = futures.ThreadPoolExecutor(2)
    for _ in ex:map(sq, { 1, 2, 3 }) do end -- start the workers
    local braid = {}
    for _, cs in ipairs { 1, 1000 } do
      braid[cs] = best_of(REPS, function()
        local t0 = now()
        local s = 0
        for _, r in ex:map(sq, items, { chunksize = cs }) do s = s + r end
        local dt = (now() - t0) * 1e3
        assert(s == N * (N + 1) * (2 * N + 1) // 6)
        return dt
      end)
    end
    ex:shutdown()
    local base = {}
    local t = py(("tpe %d %d"):format(N, 2))
    if t then base.python_ThreadPoolExecutor_2 = t.ms end
    report("executor_map", "Executor(2).map", braid, base, "python_ThreadPoolExecutor_2")
  end

  local function pool_map()
    local p = mpool.ThreadPool(2)
    p:map(sq, { 1, 2, 3 })
    local braid = {}
    for _, cs in ipairs { 1, 1000 } do
      braid[cs] = best_of(REPS, function()
        local t0 = now()
        local r = p:map(sq, items, cs)
        local dt = (now() - t0) * 1e3
        assert(r.n == N and r[N] == N * N)
        return dt
      end)
    end
    p:terminate()
    local base = {}
    for _, cs in ipairs { 1, 1000, 0 } do
      local t = py(("pool %d %d %d"):format(N, cs, REPS))
      if t then
        base["python_Pool_2_chunksize_" .. (cs == 0 and "default" or cs)] = t.ms
      end
    end
    report("pool_map", "ThreadPool(2).map", braid, base, "python_Pool_2")
  end

  local function burn(n)
    local s = 0
    for i = 1, n do s = s + i % 7 end
    return s
  end

  local function speedup()
    local cores = core.cpu_count()
    local TOTAL = 40000000
    local parts = cores * 4
    local work = {}
    for i = 1, parts do work[i] = TOTAL // parts end
    local reps = math.min(REPS, 3)
    local p = mpool.ThreadPool(cores)
    p:map(burn, { 1, 1 }, 1)
    -- sequential and parallel runs alternate (the best of each is kept), so
    -- that a change in the machine's speed meanwhile does not favour either
    local seq_ms, par_ms = math.huge, math.huge
    for _ = 1, math.max(reps, 5) do
      local t0 = now()
      for i = 1, parts do burn(work[i]) end
      seq_ms = math.min(seq_ms, (now() - t0) * 1e3)
      t0 = now()
      p:map(burn, work, 1)
      par_ms = math.min(par_ms, (now() - t0) * 1e3)
    end
    p:terminate()
    local s = seq_ms / par_ms
    local target = 0.95 * cores
    local met = s >= target
    local pyt = py(("speedup %d %d %d"):format(TOTAL // 10, parts, reps))
    print(("speedup (%d cores, %d tasks, %d iterations): sequential %.0f ms, "
      .. "ThreadPool(%d) %.0f ms: %.2fx (target >= %.2f): %s%s")
      :format(cores, parts, TOTAL, seq_ms, cores, par_ms, s, target,
        met and "met" or "NOT met",
        pyt and (("; Python Pool %.2fx"):format(pyt.speedup)) or ""))
    write_json("speedup", {
      unit = "speedup (sequential / parallel)", cpu_count = cores,
      tasks = parts, iterations = TOTAL, sequential_ms = seq_ms,
      parallel_ms = par_ms, braid = s,
      baselines = pyt and { python_Pool_speedup = pyt.speedup,
        python_seq_ms_for_tenth = pyt.seq_ms, python_par_ms_for_tenth = pyt.par_ms } or {},
      target = ("speedup >= 0.95 x cpu_count = %.2f"):format(target), met = met,
    })
    rows[#rows + 1] = {
      ("CPU-bound speedup on %d cores (x)"):format(cores), ("%.2f"):format(s),
      pyt and ("Python Pool %.2f"):format(pyt.speedup) or "Python n/a",
      ("%.2f of cores"):format(s / cores), yesno(met, (">= %.2f"):format(target)),
    }
  end

  return {
    { "executor_map", executor_map },
    { "pool_map", pool_map },
    { "speedup", speedup },
  }
end

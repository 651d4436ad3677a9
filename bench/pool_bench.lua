-- bench/pool_bench.lua: the thread-pool workloads of bench/run.lua
-- (executor_map, pool_map, speedup), each against baselines measured in
-- the same run (Python's ThreadPoolExecutor and multiprocessing.Pool via
-- bench/py_pool.py when python3 is present; for speedup also plain C
-- pthreads, bench_baseline speedup).
-- Returns function(h) -> { {name, fn}, ... } where 'h' gives run.lua's
-- helpers: best_of, fmt, write_json, rows, REPS, BUILD.
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

  -- C's own speedup on the same job, one sequential and one parallel run
  -- (bench_baseline times itself; its start is not timed)
  local function c_speedup(iterations, tasks, threads)
    local exe = (h.BUILD or "./build") .. "/bench_baseline"
    local p = io.popen(("%s speedup %d %d %d 2>/dev/null"):format(exe, iterations, tasks, threads))
    local t = {}
    if p then
      for k, v in p:read("a"):gmatch("(%S+) (%S+)") do t[k] = tonumber(v) end
      p:close()
    end
    assert(t.seq_ms and t.par_ms, "no output from " .. exe .. " (build it: scripts/bench.sh)")
    return t
  end

  -- CPU ticks (USER_HZ) of the whole machine: busy, stolen by the host;
  -- and of this process with its reaped children. Linux /proc; nil elsewhere.
  local function ticks()
    local f, g = io.open("/proc/stat"), io.open("/proc/self/stat")
    if not (f and g) then
      if f then f:close() end
      if g then g:close() end
      return nil
    end
    local m, o = {}, {}
    for n in f:read("l"):gmatch("%d+") do m[#m + 1] = tonumber(n) end
    for n in g:read("l"):match("%) (.*)"):gmatch("%S+") do o[#o + 1] = tonumber(n) or 0 end
    f:close()
    g:close()
    -- cpu: user nice system idle iowait irq softirq steal; after "comm) ":
    -- state ... utime stime cutime cstime at 12..15
    if #m < 8 or #o < 15 then return nil end
    return { busy = m[1] + m[2] + m[3] + m[6] + m[7], steal = m[8],
             own = o[12] + o[13] + o[14] + o[15] }
  end

  local function median(t)
    local s = table.move(t, 1, #t, 1, {})
    table.sort(s)
    local m = (#s + 1) // 2
    return #s % 2 == 1 and s[m] or (s[m] + s[m + 1]) / 2
  end

  -- burn(n) in closed form (checks the C baseline's result)
  local function burn_sum(n)
    local q, r = n // 7, n % 7
    return q * 21 + r * (r + 1) // 2
  end

  -- C runs the loop about 8 times faster than Lua: it does 8 times the
  -- iterations, so that both phases last about as long as Lua's and meet
  -- the same drift of the machine
  local C_SCALE = 8

  local function speedup()
    local cores = core.cpu_count()
    local TOTAL = 40000000
    local parts = cores * 16
    local work = {}
    for i = 1, parts do work[i] = TOTAL // parts end
    local rounds = math.max(11, REPS)
    local p = mpool.ThreadPool(cores)
    p:map(burn, { 1, 1 }, 1)
    -- each round runs the job sequentially in Lua, over the ThreadPool, then
    -- sequentially and over 'cores' pthreads in C, so that a change in the
    -- machine's speed hits braid and C alike; the best of each phase is
    -- kept, and each round's own ratios (sequential / parallel) give medians
    local ms = { lua_seq = {}, braid_par = {}, c_seq = {}, c_par = {} }
    local cpu_ms = { lua_seq = {}, braid_par = {} } -- process CPU time
    local braid_r, c_r, of_c_r, cpu_r, c_cpu_r = {}, {}, {}, {}, {}
    local c_threads
    local tk0, w0 = ticks(), now()
    for r = 1, rounds do
      collectgarbage()
      local c0, t0 = os.clock(), now()
      local sum = 0
      for i = 1, parts do sum = sum + burn(work[i]) end
      ms.lua_seq[r], cpu_ms.lua_seq[r] = (now() - t0) * 1e3, (os.clock() - c0) * 1e3
      c0, t0 = os.clock(), now()
      local res = p:map(burn, work, 1)
      ms.braid_par[r], cpu_ms.braid_par[r] = (now() - t0) * 1e3, (os.clock() - c0) * 1e3
      local psum = 0
      for i = 1, parts do psum = psum + res[i] end
      local c = c_speedup(TOTAL * C_SCALE, parts, cores)
      assert(psum == sum and c.sum == burn_sum(TOTAL * C_SCALE // parts) * parts,
        "the runs did not do the same work")
      ms.c_seq[r], ms.c_par[r], c_threads = c.seq_ms, c.par_ms, c.threads
      braid_r[r] = ms.lua_seq[r] / ms.braid_par[r]
      c_r[r] = ms.c_seq[r] / ms.c_par[r]
      of_c_r[r] = braid_r[r] / c_r[r]
      cpu_r[r] = cpu_ms.braid_par[r] / cpu_ms.lua_seq[r]
      c_cpu_r[r] = c.par_cpu_ms / c.seq_cpu_ms
    end
    -- what else ran meanwhile, in cores: busy - ours, and the host's steal
    local tk1, other, steal = ticks(), nil, nil
    if tk0 and tk1 then
      local hz = 100 * (now() - w0)
      other = math.max(0, (tk1.busy - tk0.busy) - (tk1.own - tk0.own)) / hz
      steal = (tk1.steal - tk0.steal) / hz
    end
    p:terminate()
    local best = {}
    for k, t in pairs(ms) do best[k] = math.min(table.unpack(t)) end
    local s, s_med = best.lua_seq / best.braid_par, median(braid_r)
    local cs, cs_med = best.c_seq / best.c_par, median(c_r)
    local of_c, of_c_med = s / cs, median(of_c_r)
    -- judged on the median of the rounds' own ratios: both phases of a
    -- round meet the same machine, while the best parallel run needs both
    -- vCPUs fast at once and the best sequential one only one of them,
    -- which biases best / best low on a shared host (C's too)
    local near_c = of_c_med >= 0.95
    local target = 0.95 * cores
    local met = s_med >= target
    local reps = math.min(REPS, 3)
    local pyt = py(("speedup %d %d %d"):format(TOTAL // 10, parts, reps))
    print(("speedup (%d cores, %d tasks, %d iterations, %d rounds): ThreadPool(%d) "
      .. "%.2fx (median of rounds; best %.0f ms sequential / best %.0f ms parallel "
      .. "= %.2fx) (target >= %.2f): %s")
      :format(cores, parts, TOTAL, rounds, cores, s_med, best.lua_seq, best.braid_par, s,
        target, met and "met" or "NOT met"))
    print(("  C pthreads: %.2fx (median of rounds; best %.1f ms sequential / best %.1f ms "
      .. "over %d threads = %.2fx)"):format(cs_med, best.c_seq, best.c_par, c_threads, cs))
    print(("  braid / C speedup: %.2f (median of rounds; best-of %.2f); within 5%% of C: %s")
      :format(of_c_med, of_c, near_c and "yes" or "no"))
    local cpu_med, c_cpu_med = median(cpu_r), median(c_cpu_r)
    print(("  CPU time, parallel / sequential (median of rounds): braid %.2f, C %.2f")
      :format(cpu_med, c_cpu_med))
    print(("  other load on the machine during the rounds: %s cores busy, %s stolen by the host")
      :format(other and ("%.2f"):format(other) or "n/a", steal and ("%.2f"):format(steal) or "n/a"))
    print(("  Python Pool(%d): %s"):format(cores,
      pyt and ("%.2fx (best of %d, a tenth of the iterations)"):format(pyt.speedup, reps) or "n/a"))
    local base = { c_pthreads_speedup = cs, c_pthreads_speedup_median = cs_med,
      c_sequential_ms = best.c_seq, c_parallel_ms = best.c_par, c_threads = c_threads }
    if pyt then
      base.python_Pool_speedup = pyt.speedup
      base.python_seq_ms_for_tenth, base.python_par_ms_for_tenth = pyt.seq_ms, pyt.par_ms
    end
    write_json("speedup", {
      unit = "speedup (sequential / parallel)", cpu_count = cores,
      tasks = parts, iterations = TOTAL, rounds = rounds,
      method = "rounds of: Lua sequential, ThreadPool(cpu_count):map(burn, work, 1), "
        .. "C sequential, C over cpu_count pthreads (8x the iterations); braid_median "
        .. "(judged) = median over rounds of that round's sequential / parallel; "
        .. "braid = best sequential / best parallel",
      sequential_ms = best.lua_seq, parallel_ms = best.braid_par, braid = s,
      braid_median = s_med, baselines = base,
      braid_of_c = of_c, braid_of_c_median = of_c_med, within_5pct_of_c = near_c,
      cpu_parallel_over_sequential_median = { braid = cpu_med, c_pthreads = c_cpu_med },
      rounds_ms = ms, rounds_cpu_ms = cpu_ms,
      other_load_cores = other, steal_cores = steal,
      target = ("speedup >= 0.95 x cpu_count = %.2f"):format(target), met = met,
    })
    rows[#rows + 1] = {
      ("CPU-bound speedup on %d cores (x)"):format(cores),
      ("%.2f (best-of %.2f)"):format(s_med, s),
      ("C pthreads %.2f; Python Pool %s"):format(cs_med, pyt and ("%.2f"):format(pyt.speedup) or "n/a"),
      ("%.2f of C; %.2f of cores"):format(of_c_med, s_med / cores),
      yesno(met, (">= %.2f, median of rounds"):format(target)),
    }
  end

  return {
    { "executor_map", executor_map },
    { "pool_map", pool_map },
    { "speedup", speedup },
  }
end

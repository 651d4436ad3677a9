-- bench/thread_bench.lua: the idle_footprint row, loaded by bench/run.lua
-- (dofile(...)(env) -> { {name, fn}... }).
--
-- idle_footprint: 1,000 braid threads (braid.threading) each blocked in
-- Event:wait, the process's VmRSS growth per thread (from
-- /proc/self/status, after minus before, the process warmed by one
-- thread first), against 1,000 Python threads blocked in Event.wait
-- (bench/py_threads.py) measured in the same run. Each measurement runs
-- in a process of its own (`lua5.4 bench/thread_bench.lua idle N`): in
-- one that made threads before, glibc's cache of thread stacks and
-- malloc's free memory would be resident already and hide the cost.
-- Best of BENCH_REPS.
local N = 1000

local function rss_kb()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmRSS:%s+(%d+)")
    if v then return tonumber(v) end
  end
end

local function braid_once(threading)
  local ev, ready = threading.Event(), threading.Semaphore(0)
  local function body(e, r) r:release(); e:wait() end
  collectgarbage(); collectgarbage()
  local before = rss_kb()
  local ts = {}
  for i = 1, N do
    ts[i] = threading.Thread{ target = body, args = { ev, ready } }
    ts[i]:start()
  end
  for _ = 1, N do ready:acquire() end
  local after = rss_kb()
  ev:set()
  for i = 1, N do ts[i]:join() end
  return (after - before) / N
end

local mode, count = ...
if mode == "idle" then -- the child: one measurement, printed
  N = tonumber(count) or N
  local threading = require "braid.threading"
  threading.thread_reuse(0) -- every thread a new OS thread, as in Python
  local t = threading.Thread{ target = function() end }
  t:start(); t:join() -- warm-up: the runtime, first-use costs
  print(("idle_kb_per_thread %.2f"):format(braid_once(threading)))
  return
end

return function(env)
  local fmt, write_json, rows = env.fmt, env.write_json, env.rows
  local REPS = env.REPS

  local function child(cmd)
    local p = io.popen(cmd .. " 2>/dev/null")
    if not p then return nil end
    local out = p:read("a")
    p:close()
    return tonumber(out:match("idle_kb_per_thread%s+([%d.]+)"))
  end

  local function braid_child()
    local lua = arg and arg[-1] or "lua5.4"
    return child(("%s bench/thread_bench.lua idle %d"):format(lua, N))
  end

  local function python_once()
    return child("python3 bench/py_threads.py " .. N)
  end

  local function idle_footprint()
    local best, py = math.huge, math.huge
    for _ = 1, REPS do
      local b = braid_child()
      if b and b < best then best = b end
      local p = python_once()
      if p and p < py then py = p end
    end
    assert(best < math.huge, "the braid child printed no figure")
    if py == math.huge then py = nil end
    local met = best <= 24
    print(("idle thread footprint: braid %.1f KB/thread; Python %s KB/thread%s; "
      .. "target <= 24 KB"):format(best, py and fmt(py) or "-",
      py and (", ratio %.2f"):format(best / py) or ""))
    write_json("idle_footprint", {
      unit = "KB RSS per idle thread", threads = N,
      braid = best, baselines = { python_threads = py },
      ratio = py and best / py or nil, ratio_of = "braid / python",
      target = "braid <= 24 KB", met = met,
    })
    rows[#rows + 1] = {
      "idle thread footprint (KB RSS/thread)", fmt(best),
      "Python " .. (py and fmt(py) or "-"),
      py and ("%.2f"):format(best / py) or "-",
      (met and "yes" or "no") .. " (<= 24 KB)",
    }
  end

  return { { "idle_footprint", idle_footprint } }
end

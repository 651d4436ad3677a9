-- The subprocess workload for bench/run.lua: `run({"true"})` start to
-- exit, one after another (us per run) and 100 runs from 8 threads (13 per
-- thread, wall time scaled to 100 runs), against Python's
-- subprocess.run(["true"]) (bench/py_subprocess.py) and a C posix_spawnp +
-- waitpid (bench/bench_spawn_c.c), all measured in the same run. Targets:
-- braid <= Python and <= 1.5x C, for both figures.
return function(ctx)
  local sp = require "braid.subprocess"
  local threading = require "braid.threading"
  local core = require "braid.core"
  local now = core.monotonic
  local N = 200

  local function single()
    local t0 = now()
    for _ = 1, N do sp.run({ "true" }) end
    return (now() - t0) / N * 1e6
  end

  local function threads()
    local go = threading.Event()
    local ts = {}
    for i = 1, 8 do
      ts[i] = threading.Thread{ target = function(go)
        local sp = require "braid.subprocess"
        go:wait()
        for _ = 1, 13 do sp.run({ "true" }) end
      end, args = { go } }
      ts[i]:start()
    end
    local t0 = now()
    go:set()
    for i = 1, 8 do ts[i]:join() end
    return (now() - t0) * 1e3 * 100 / 104
  end

  local function baseline(cmd)
    local out = {}
    local p = io.popen(cmd .. " 2>/dev/null")
    if not p then return out end
    for line in p:lines() do
      local k, v = line:match("^(%S+)%s+([%d.]+)")
      if k then out[k] = tonumber(v) end
    end
    p:close()
    return out
  end

  local function run()
    sp.run({ "true" }) -- warm
    local b_single = ctx.best_of(ctx.REPS, single)
    local b_threads = ctx.best_of(ctx.REPS, threads)
    local c = baseline(ctx.BUILD .. "/bench_spawn_c " .. N .. " " .. ctx.REPS)
    local py = baseline("python3 bench/py_subprocess.py " .. N .. " " .. ctx.REPS)
    local rec = { braid_single_us = b_single, braid_threads_ms = b_threads,
                  c_single_us = c.single_us, c_threads_ms = c.threads_ms,
                  python_single_us = py.single_us, python_threads_ms = py.threads_ms }
    local function row(label, b, cv, pv, unit)
      local rc = cv and b / cv
      local rp = pv and b / pv
      local met = rc ~= nil and rp ~= nil and rc <= 1.5 and rp <= 1
      print(("%s: braid %s %s; C %s; Python %s; %s x C, %s x Python"):format(label,
        ctx.fmt(b), unit, cv and ctx.fmt(cv) or "n/a", pv and ctx.fmt(pv) or "n/a",
        rc and ("%.2f"):format(rc) or "-", rp and ("%.2f"):format(rp) or "-"))
      ctx.rows[#ctx.rows + 1] = { label, ctx.fmt(b) .. " " .. unit,
        ("C %s, Python %s"):format(cv and ctx.fmt(cv) or "n/a", pv and ctx.fmt(pv) or "n/a"),
        ("%s x C, %s x Py"):format(rc and ("%.2f"):format(rc) or "-", rp and ("%.2f"):format(rp) or "-"),
        (met and "yes" or "no") .. " (<= 1.5x C, <= Python)" }
    end
    row("run({'true'}) start to exit", b_single, c.single_us, py.single_us, "us")
    row("100 runs from 8 threads", b_threads, c.threads_ms, py.threads_ms, "ms")
    ctx.write_json("subprocess", rec)
  end
  return { { "subprocess", run } }
end

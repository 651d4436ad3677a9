-- bench/run.lua: braid's benchmarks, each against baselines measured in the
-- same run. Writes bench/results/<workload>.json (lua-cjson) and prints a
-- summary table. Run it through scripts/bench.sh, or from the repository
-- root with the paths set:
--   LUA_PATH_5_4="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH_5_4="./build/?.so;;" \
--     lua5.4 bench/run.lua [workload...]
-- Environment: BRAID_BUILD_DIR (default ./build: where bench_baseline is),
-- BENCH_REPS (default 5: every figure is the best of that many runs).
local core = require "braid.core"
local cjson = require "cjson"

local has_threading, threading = pcall(require, "braid.threading")
if not has_threading then threading = nil end

local now = core.monotonic
local BUILD = os.getenv("BRAID_BUILD_DIR") or "./build"
local REPS = tonumber(os.getenv("BENCH_REPS")) or 5
local RESULTS = "bench/results"

local selected = {}
for _, name in ipairs(arg) do selected[name] = true end
local function wanted(name) return next(selected) == nil or selected[name] end

-- { ------ helpers

-- Starts fn(args...) in a new braid thread; returns something to :join().
-- The public API (braid.threading) when it exists: what users get.
local function spawn(fn, args)
  if threading then
    local t = threading.Thread { target = fn, args = args }
    t:start()
    return t
  end
  local h = core.thread_new()
  h:start(0, fn, args or {})
  return h
end

local function best_of(n, f)
  local best = math.huge
  for _ = 1, n do
    collectgarbage()
    local v = f()
    if v < best then best = v end
  end
  return best
end

local function fmt(x)
  if x >= 100 then return ("%.0f"):format(x) end
  if x >= 10 then return ("%.1f"):format(x) end
  return ("%.2f"):format(x)
end

local function write_json(name, record)
  record.name = name
  record.time = os.date("!%Y-%m-%dT%H:%M:%SZ")
  record.reps = REPS
  record.braid_api = threading and "braid.threading" or "braid.core"
  local path = RESULTS .. "/" .. name .. ".json"
  local f, err = io.open(path, "w")
  if not f then
    io.stderr:write("cannot write ", path, ": ", err, "\n")
    return
  end
  f:write(cjson.encode(record), "\n")
  f:close()
end

local rows = {}
-- } ------


-- { ------ thread start + join
local function thread_start()
  local TOTAL, WINDOW = 1000, 50

  -- C baselines, same 1000/50 pattern
  local exe = BUILD .. "/bench_baseline"
  local p = assert(io.popen(("%s %d %d %d"):format(exe, TOTAL, WINDOW, 3)))
  local out = p:read("a")
  p:close()
  local base = {}
  for k, v in out:gmatch("(%S+) (%S+)") do base[k] = tonumber(v) end
  assert(base.pthread_us and base.state_us,
         "no output from " .. exe .. " (build it: scripts/bench.sh)")

  local function empty() end
  local function run()
    local t0 = now()
    local done = 0
    while done < TOTAL do
      local n = math.min(WINDOW, TOTAL - done)
      local ts = {}
      for i = 1, n do ts[i] = spawn(empty) end
      for i = 1, n do ts[i]:join() end
      done = done + n
    end
    return (now() - t0) * 1e6 / TOTAL
  end
  run() -- warm-up (first thread start creates the runtime)
  local braid_us = best_of(REPS, run)
  local sum = base.pthread_us + base.state_us
  local ratio = braid_us / sum
  local met = ratio <= 1.3
  print(("thread start+join: braid %.1f us/thread; pthread %.1f + lua_State %.1f = %.1f us; ratio %.2f (target <= 1.3)")
    :format(braid_us, base.pthread_us, base.state_us, sum, ratio))
  write_json("thread_start", {
    unit = "us per thread", threads = TOTAL, window = WINDOW,
    braid = braid_us, baselines = { pthread = base.pthread_us,
      lua_state = base.state_us, pthread_plus_state = sum },
    ratio = ratio, ratio_of = "braid / (pthread + lua_state)",
    target = "ratio <= 1.3", met = met,
  })
  rows[#rows + 1] = {
    "thread start+join (us/thread)", fmt(braid_us),
    ("pthread %s + state %s = %s"):format(fmt(base.pthread_us),
      fmt(base.state_us), fmt(sum)),
    ("%.2f"):format(ratio), (met and "yes" or "no") .. " (<= 1.3)",
  }
end
-- } ------


-- { ------ big-table transfer
local function big_table()
  local N = 100000
  local T = {}
  for i = 1, N do
    T[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } }
  end

  -- cjson round trip in one thread
  local check
  local cjson_ms = best_of(REPS, function()
    local t0 = now()
    local s = cjson.encode(T)
    local T2 = cjson.decode(s)
    local dt = (now() - t0) * 1e3
    check = T2
    return dt
  end)
  assert(#check == N and check[N].vals[3] == 3 * N)
  check = nil

  -- braid's in-process copy (encode + decode in this state)
  local copy_ms = best_of(REPS, function()
    local t0 = now()
    local T2 = core.copy(T)
    local dt = (now() - t0) * 1e3
    check = T2
    return dt
  end)
  assert(#check == N and check[N].vals[3] == 3 * N and check[7].name == "item7")
  check = nil

  -- transfer: start a thread with T as argument (encoded in start, decoded
  -- in the worker before its target runs); the target sets an Event the
  -- main thread waits on. Minus the same with no table.
  local transfer_ms, start_ms, method
  if core.Event then
    method = "start(target, {event, T}) -> event:wait(), minus the same without T"
    local function target(ev, tbl)
      if tbl ~= nil and (#tbl ~= N or tbl[N].vals[3] ~= 3 * N) then
        error("bad transfer")
      end
      ev:set()
    end
    local function once(with_table)
      local ev = core.Event()
      local t0 = now()
      local th = spawn(target, with_table and { ev, T } or { ev })
      ev:wait()
      local dt = (now() - t0) * 1e3
      th:join() -- outside the timing: the worker closes its state
      return dt
    end
    once(false)
    start_ms = best_of(REPS, function() return once(false) end)
    local with_ms = best_of(REPS, function() return once(true) end)
    transfer_ms = with_ms - start_ms
  else
    method = "start(target, {T}) + join, minus the same without T " ..
             "(no core.Event: includes closing the worker's state)"
    local function target() end
    local function once(with_table)
      local t0 = now()
      spawn(target, with_table and { T } or {}):join()
      return (now() - t0) * 1e3
    end
    once(false)
    start_ms = best_of(REPS, function() return once(false) end)
    transfer_ms = best_of(REPS, function() return once(true) end) - start_ms
  end

  local speedup = cjson_ms / transfer_ms
  local met = speedup >= 3
  print(("big-table transfer (%d records): braid %.1f ms (thread start alone %.2f ms); cjson encode+decode %.1f ms; core.copy %.1f ms; %.2fx faster than cjson (target >= 3x)")
    :format(N, transfer_ms, start_ms, cjson_ms, copy_ms, speedup))
  write_json("big_table", {
    unit = "ms per transfer", records = N, method = method,
    braid = transfer_ms, thread_start_ms = start_ms,
    baselines = { cjson_roundtrip = cjson_ms, core_copy = copy_ms },
    ratio = transfer_ms / cjson_ms, speedup_vs_cjson = speedup,
    ratio_of = "braid / cjson", target = "speedup >= 3", met = met,
  })
  rows[#rows + 1] = {
    ("big-table transfer, %dk records (ms)"):format(N // 1000), fmt(transfer_ms),
    ("cjson %s (core.copy %s)"):format(fmt(cjson_ms), fmt(copy_ms)),
    ("%.2f (%.1fx faster)"):format(transfer_ms / cjson_ms, speedup),
    (met and "yes" or "no") .. " (>= 3x)",
  }
end
-- } ------


local workloads = {
  { "thread_start", thread_start },
  { "big_table", big_table },
}

local t0 = now()
for _, w in ipairs(workloads) do
  if wanted(w[1]) then w[2]() end
end

-- summary table
local head = { "workload", "braid", "baseline(s)", "ratio", "target met?" }
local width = {}
for i, h in ipairs(head) do width[i] = #h end
for _, r in ipairs(rows) do
  for i, c in ipairs(r) do width[i] = math.max(width[i], #c) end
end
local function line(cells)
  local out = {}
  for i, c in ipairs(cells) do out[i] = c .. (" "):rep(width[i] - #c) end
  return "| " .. table.concat(out, " | ") .. " |"
end
print()
print(line(head))
local sep = {}
for i = 1, #head do sep[i] = ("-"):rep(width[i]) end
print((line(sep):gsub(" ", "-")))
for _, r in ipairs(rows) do print(line(r)) end
print(("\n(%s, best of %d; %.1f s in all; results in %s/)")
  :format(threading and "braid.threading" or "braid.core", REPS, now() - t0, RESULTS))

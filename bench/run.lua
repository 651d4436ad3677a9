-- bench/run.lua: braid's benchmarks, each against baselines measured in the
-- same run. Writes bench/results/<workload>.json (lua-cjson) and prints a
-- summary table. Run it through scripts/bench.sh, or from the repository
-- root with the paths set:
--   LUA_PATH_5_4="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH_5_4="./build/?.so;;" \
--     lua5.4 bench/run.lua [workload...]
-- Environment: BRAID_BUILD_DIR (default ./build: where bench_baseline and
-- bench_queue_c are), BRAID_SPIN_NS (the queues' longest spin, read once),
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


-- Every command the bench starts (baselines, a workload's own child) runs
-- under a bound: a baseline that hangs (luaproc's scheduler was seen to,
-- now and then, waiting forever) costs its figures, not the run.
local BOUNDED = os.execute("command -v timeout >/dev/null 2>&1")
    and "timeout -k 10 300 " or ""
local function bounded(cmd) return BOUNDED .. cmd end

-- The figures a baseline command prints, one "name value [unit]" line
-- each, as {name = value}; empty when it is missing, fails or hangs.
local function command_figures(cmd)
  local t = {}
  local p = io.popen(bounded(cmd) .. " 2>/dev/null")
  if p then
    for line in p:lines() do
      local name, value = line:match("^(%S+)%s+([%d.]+)")
      if name then t[name] = tonumber(value) end
    end
    p:close()
  end
  return t
end

-- luaproc's figures (bench/luaproc_bench.lua, a process of its own),
-- measured once per run when a luaproc module is on the Lua 5.4 C path;
-- an empty table when it is not.
local luaproc_cache
local function luaproc_figures()
  luaproc_cache = luaproc_cache or command_figures("lua5.4 bench/luaproc_bench.lua 3")
  return luaproc_cache
end

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
  -- luaproc (a new state on an existing worker thread) is the peer figure
  -- of issue 16, measured in the same run when a luaproc module is on the
  -- Lua 5.4 C path (bench/luaproc_bench.lua); it is neither in Debian nor
  -- reachable through luarocks here, so without it the same-run stand-in
  -- is the C pthread_create + join alone (which luaproc's 43 us exceeded:
  -- 38 us in that run)
  local ratio_pthread = braid_us / base.pthread_us
  local lp_us = luaproc_figures().start_us
  local ratio_luaproc = lp_us and braid_us / lp_us
  local met = ratio <= 1.3 and (ratio_luaproc or ratio_pthread) <= 1.0
  local _, created = core.parked()
  print(("thread start+join: braid %.1f us/thread; pthread %.1f + lua_State %.1f = %.1f us; "
    .. "ratio %.2f (target <= 1.3); braid / pthread %.2f; luaproc %s; "
    .. "OS threads created %d")
    :format(braid_us, base.pthread_us, base.state_us, sum, ratio, ratio_pthread,
            lp_us and ("%.1f us, braid / luaproc %.2f (target <= 1)"):format(lp_us, ratio_luaproc)
              or "not installed (stand-in target: braid / pthread <= 1)",
            created or -1))
  write_json("thread_start", {
    unit = "us per thread", threads = TOTAL, window = WINDOW,
    braid = braid_us, baselines = { pthread = base.pthread_us,
      lua_state = base.state_us, pthread_plus_state = sum,
      lua_state_min = base.state_min_us,
      luaproc = lp_us or cjson.null },
    luaproc_note = not lp_us and "not installed (not in Debian, luarocks.org unreachable "
      .. "here; bench/luaproc_bench.lua measures it when it is on LUA_CPATH_5_4): "
      .. "pthread_create + join is the stand-in" or nil,
    ratio = ratio, ratio_of = "braid / (pthread + lua_state)",
    ratio_pthread = ratio_pthread, ratio_luaproc = ratio_luaproc,
    target = "ratio <= 1.3 and braid <= luaproc (pthread when luaproc is not installed)",
    met = met,
    os_threads_created = created,
  })
  rows[#rows + 1] = {
    "thread start+join (us/thread)", fmt(braid_us),
    ("pthread %s + state %s = %s%s"):format(fmt(base.pthread_us),
      fmt(base.state_us), fmt(sum), lp_us and "; luaproc " .. fmt(lp_us) or ""),
    ("%.2f / %.2f%s"):format(ratio, ratio_pthread,
      ratio_luaproc and (" / %.2f"):format(ratio_luaproc) or ""),
    (met and "yes" or "no") .. (lp_us and " (<= 1.3, <= luaproc)" or " (<= 1.3, <= pthread)"),
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
  check = nil -- luacheck: ignore 311 (frees the copy before the next run)

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
  print(("big-table transfer (%d records): braid %.1f ms (thread start alone %.2f ms); "
    .. "cjson encode+decode %.1f ms; core.copy %.1f ms; %.2fx faster than cjson (target >= 3x)")
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



-- { ------ queues: helpers shared by the queue workloads
local queue = require "braid.queue"
local Event = core.Event

-- "key value" lines of a baseline program; nil when it cannot run.
local function run_baseline(cmd)
  local p = io.popen(bounded(cmd) .. " 2>/dev/null")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  local t = {}
  for k, v in out:gmatch("(%S+) (%S+)") do t[k] = tonumber(v) end
  if next(t) == nil then return nil end
  return t
end

local function cbase(args)
  local t = run_baseline(("%s/bench_queue_c %s"):format(BUILD, args))
  assert(t, "no output from " .. BUILD .. "/bench_queue_c (build it: scripts/bench.sh)")
  return t
end

local has_python = os.execute("command -v python3 >/dev/null 2>&1")
local function pybase(args)
  if not has_python then return nil end
  return run_baseline("python3 bench/py_queue.py " .. args)
end

-- The spin before sleeping is a process-wide setting (BRAID_SPIN_NS);
-- core._queue_spin_ns(ns) changes it for the comparison runs.
local set_spin = core._queue_spin_ns
local function with_spin(ns, f)
  if not set_spin then return f() end
  local old = set_spin(ns)
  local ok, a, b = pcall(f)
  set_spin(old)
  if not ok then error(a, 0) end
  return a, b
end

-- CPU seconds used by the whole process (every thread): os.clock() is
-- clock(), i.e. CLOCK_PROCESS_CPUTIME_ID on Linux.
local cpu = os.clock

local function rate(x) -- items/s, readable
  if x >= 1e6 then return ("%.2f M/s"):format(x / 1e6) end
  return ("%.0f k/s"):format(x / 1e3)
end

local function yesno(met, what) return (met and "yes" or "no") .. " (" .. what .. ")" end

-- Baselines: braid figure vs C (and Python when present), for rates
-- (higher is better).
local function rate_row(label, name, braid, c, py, target_ratio, extra)
  local ratio_c = braid / c
  local ratio_py = py and braid / py or nil
  local met = ratio_c >= target_ratio
  local target = ("braid >= %s x C"):format(target_ratio)
  print(("%s: braid %s; C mutex+condvar %s (ratio %.2f); Python queue.Queue %s%s; target %s: %s")
    :format(label, rate(braid), rate(c), ratio_c, py and rate(py) or "n/a",
      ratio_py and (" (braid %.1fx)"):format(ratio_py) or "", target,
      met and "met" or "NOT met"))
  local rec = {
    unit = "items per second", braid = braid,
    baselines = { c_mutex_condvar = c, python_queue = py },
    ratio = ratio_c, ratio_of = "braid / C", ratio_vs_python = ratio_py,
    target = target, met = met,
  }
  for k, v in pairs(extra or {}) do rec[k] = v end
  write_json(name, rec)
  rows[#rows + 1] = {
    label .. " (items/s)", rate(braid),
    ("C %s; Py %s"):format(rate(c), py and rate(py) or "n/a"),
    ("%.2f x C%s"):format(ratio_c, ratio_py and ("; %.0f x Py"):format(ratio_py) or ""),
    yesno(met, (">= %s x C"):format(target_ratio)),
  }
end
-- } ------


-- { ------ stream: one producer thread -> one consumer, single items,
-- through a Queue (row "stream") and a SimpleQueue (row "stream_sq"),
-- measured in turns in the same run, against the C FIFO and Python's
-- queue.SimpleQueue and queue.Queue moving the same single ints.
local STREAM_N = 1000000
local PY_N = 200000 -- Python's Queue is ~20x slower: a smaller run, same per-item rate
local PY_SQ_N = 1000000 -- its SimpleQueue (C) is not

local function stream_producer(q, go, n)
  go:wait()
  for i = 1, n do q:put(i) end
end

local function stream_once(make)
  local q, go = make(), Event()
  local t = spawn(stream_producer, { q, go, STREAM_N })
  local s = 0
  local t0 = now()
  go:set()
  for _ = 1, STREAM_N do s = s + q:get() end
  local dt = now() - t0
  t:join()
  assert(s == STREAM_N * (STREAM_N + 1) // 2)
  return dt
end

local function stream()
  local py = pybase(("stream %d 1"):format(PY_N))
  local py_q = py and py.stream_items_per_s
  local c_rate, py_sq = 0, nil
  stream_once(queue.Queue)
  stream_once(queue.SimpleQueue)
  -- every figure in turns, the baselines included (one run of each per
  -- turn, the best of REPS turns), so that all of them meet the same
  -- machine: on shared cores the load changes from second to second
  local best = { Queue = math.huge, SimpleQueue = math.huge }
  -- not a target: the cache line's round trip between the two vCPUs in
  -- each turn (0.1 us, or 0.5 when the host places them far apart: then
  -- every line the consumer takes from the producer costs five times as
  -- much, bench/README.md), lowest and highest of the turns
  local line_lo, line_hi = math.huge, 0
  for _ = 1, REPS do
    local line = cbase("line 100000 1").line_pingpong_us
    line_lo, line_hi = math.min(line_lo, line), math.max(line_hi, line)
    local c = cbase(("stream %d 1"):format(STREAM_N))
    if c.stream_items_per_s > c_rate then c_rate = c.stream_items_per_s end
    local pysq = pybase(("sq_stream %d 1"):format(PY_SQ_N))
    if pysq and (py_sq == nil or pysq.sq_stream_items_per_s > py_sq) then
      py_sq = pysq.sq_stream_items_per_s
    end
    for _, kind in ipairs { "Queue", "SimpleQueue" } do
      collectgarbage()
      local dt = stream_once(queue[kind])
      if dt < best[kind] then best[kind] = dt end
    end
  end
  local r_q, r_sq = STREAM_N / best.Queue, STREAM_N / best.SimpleQueue
  local method = "worker thread q:put(i) for i=1..N; main thread q:get() N times"
  local function opt(x) return x and rate(x) or "n/a" end
  local function ratio(a, b) return b and a / b or nil end
  local function fr(x) return x and ("%.2f"):format(x) or "n/a" end
  local line = ("%.2f"):format(line_lo)
  if ("%.2f"):format(line_hi) ~= line then line = line .. ("-%.2f"):format(line_hi) end
  -- Queue: >= 1/2 of the C FIFO
  local q_met = r_q >= 0.5 * c_rate
  print(("stream 1M ints, 1->1, Queue: braid %s; C mutex+condvar %s (ratio %s); "
    .. "Python queue.Queue %s (ratio %s), queue.SimpleQueue %s (ratio %s); "
    .. "a cache line alone %s; target >= 0.5 x C: %s")
    :format(rate(r_q), rate(c_rate), fr(r_q / c_rate), opt(py_q),
      fr(ratio(r_q, py_q)), opt(py_sq), fr(ratio(r_q, py_sq)), line .. " us",
      q_met and "met" or "NOT met"))
  write_json("stream", {
    unit = "items per second", braid = r_q, queue = "Queue",
    baselines = { c_mutex_condvar = c_rate, python_queue = py_q,
      python_simplequeue = py_sq },
    ratio = r_q / c_rate, ratio_of = "braid / C",
    ratio_vs_python = ratio(r_q, py_q),
    ratio_vs_python_simplequeue = ratio(r_q, py_sq),
    target = "braid >= 0.5 x C", met = q_met,
    items = STREAM_N, python_items = PY_N, python_sq_items = PY_SQ_N,
    cache_line_floor = { line_lo, line_hi },
    method = method,
  })
  rows[#rows + 1] = {
    "stream 1M ints, 1->1, Queue (items/s)", rate(r_q),
    ("C %s; Py Q %s, SQ %s; line %s"):format(rate(c_rate), opt(py_q),
      opt(py_sq), line),
    ("%.2f x C; %s x Py Q; %s x Py SQ"):format(r_q / c_rate,
      fr(ratio(r_q, py_q)), fr(ratio(r_q, py_sq))),
    yesno(q_met, ">= 0.5 x C"),
  }
  -- SimpleQueue: >= Python's SimpleQueue, and never slower than Queue
  local sq_met = (py_sq == nil or r_sq >= py_sq) and r_sq >= r_q
  print(("stream 1M ints, 1->1, SimpleQueue: braid %s; C mutex+condvar %s (ratio %s); "
    .. "Python queue.SimpleQueue %s (ratio %s), queue.Queue %s (ratio %s); "
    .. "braid Queue %s; a cache line alone %s; "
    .. "target >= Python SimpleQueue and >= braid Queue: %s")
    :format(rate(r_sq), rate(c_rate), fr(r_sq / c_rate), opt(py_sq),
      fr(ratio(r_sq, py_sq)), opt(py_q), fr(ratio(r_sq, py_q)), rate(r_q),
      line .. " us", sq_met and "met" or "NOT met"))
  write_json("stream_sq", {
    unit = "items per second", braid = r_sq, queue = "SimpleQueue",
    braid_queue = r_q,
    baselines = { c_mutex_condvar = c_rate, python_queue = py_q,
      python_simplequeue = py_sq },
    ratio = ratio(r_sq, py_sq), ratio_of = "braid / Python SimpleQueue",
    ratio_vs_c = r_sq / c_rate, ratio_vs_python = ratio(r_sq, py_q),
    ratio_vs_braid_queue = r_sq / r_q,
    target = "braid >= Python SimpleQueue and >= braid Queue", met = sq_met,
    items = STREAM_N, python_items = PY_N, python_sq_items = PY_SQ_N,
    cache_line_floor = { line_lo, line_hi },
    method = method,
  })
  rows[#rows + 1] = {
    "stream 1M ints, 1->1, SimpleQueue (items/s)", rate(r_sq),
    ("C %s; Py SQ %s, Q %s; line %s"):format(rate(c_rate), opt(py_sq),
      opt(py_q), line),
    ("%s x Py SQ; %.2f x C; %.2f x braid Q"):format(fr(ratio(r_sq, py_sq)),
      r_sq / c_rate, r_sq / r_q),
    yesno(sq_met, ">= Py SQ, >= Queue"),
  }
end
-- } ------


-- { ------ stream_batched: the same through put_many / get_many
local BATCH = 1000

local function batched_producer(q, go, n, batch)
  go:wait()
  local t = {}
  for i = 1, n, batch do
    for j = 1, batch do t[j] = i + j - 1 end
    q:put_many(t)
  end
end

local function batched_once()
  local q, go = queue.Queue(), Event()
  local t = spawn(batched_producer, { q, go, STREAM_N, BATCH })
  local s, got = 0, 0
  local t0 = now()
  go:set()
  while got < STREAM_N do
    local r = q:get_many(BATCH)
    local n = r.n
    for i = 1, n do s = s + r[i] end
    got = got + n
  end
  local dt = now() - t0
  t:join()
  assert(s == STREAM_N * (STREAM_N + 1) // 2)
  return dt
end

local function stream_batched()
  local c = cbase(("stream %d 3"):format(STREAM_N))
  local py = pybase(("stream %d 1"):format(PY_N))
  batched_once()
  local dt = best_of(REPS, batched_once)
  rate_row(("stream batched (%d/batch)"):format(BATCH), "stream_batched",
    STREAM_N / dt, c.stream_items_per_s, py and py.stream_items_per_s, 1,
    { items = STREAM_N, batch = BATCH, python_items = PY_N,
      method = "worker q:put_many(t) of BATCH ints; main q:get_many(BATCH)" })
end
-- } ------


-- { ------ ping_pong: round trips of a small message between two threads
local PP_N = 100000
local PP_N_SLEEP = 10000 -- without the spin every trip sleeps: fewer trips

local function echo(a, b)
  while true do
    local v = a:get()
    if v < 0 then return end
    b:put(v + 1)
  end
end

-- us per round trip and CPU used (cores busy on average) over 'n' trips.
local function pingpong_once(n)
  local a, b = queue.Queue(), queue.Queue()
  local t = spawn(echo, { a, b })
  a:put(0); b:get() -- the partner is running
  local c0, t0 = cpu(), now()
  for i = 1, n do
    a:put(i)
    if b:get() ~= i + 1 then error("bad reply") end
  end
  local dt, dc = now() - t0, cpu() - c0
  a:put(-1)
  t:join()
  return dt * 1e6 / n, dc / dt
end

local function best_pp(n)
  local best, best_cpu = math.huge, nil
  for _ = 1, REPS do
    local us, load = pingpong_once(n)
    if us < best then best, best_cpu = us, load end
  end
  return best, best_cpu
end

local function ping_pong()
  local c = cbase(("pingpong %d 3"):format(PP_N // 5))
  local py = pybase(("pingpong %d 1"):format(PP_N // 5))
  -- not a target: the floor of a hand-off between the two vCPUs now
  -- (0.1 us a round trip or 0.5, as the host places them)
  local line_us = cbase("line 200000 3").line_pingpong_us
  local spin_ns = set_spin and set_spin() or nil
  pingpong_once(1000)
  local us, load = best_pp(PP_N)
  local us0, load0
  if set_spin then
    us0, load0 = with_spin(0, function() return best_pp(PP_N_SLEEP) end)
  end
  local c_us, py_us = c.pingpong_us, py and py.pingpong_us
  local lp_us = luaproc_figures().pingpong_us
  -- issue 16's W3 peer: luaproc (its two processes on one worker thread
  -- often: no wake-up at all) when it is installed
  local met = us <= c_us and (not lp_us or us <= lp_us)
  print(("ping-pong: braid %.2f us/round trip (spin %s ns, %.2f cores busy)%s; " ..
         "a cache line alone %.2f us; " ..
         "C mutex+condvar %.2f us; Python %s; luaproc %s; ratio %.2f; target braid <= C%s: %s")
    :format(us, tostring(spin_ns), load,
      us0 and (("; without spin %.2f us (%.2f cores)"):format(us0, load0)) or "",
      line_us, c_us, py_us and ("%.2f us"):format(py_us) or "n/a",
      lp_us and ("%.2f us"):format(lp_us) or "not installed", us / c_us,
      lp_us and " and <= luaproc" or "", met and "met" or "NOT met"))
  write_json("ping_pong", {
    unit = "us per round trip", round_trips = PP_N, braid = us,
    spin_ns = spin_ns, braid_cores_busy = load,
    braid_no_spin = us0, braid_no_spin_cores_busy = load0,
    no_spin_round_trips = PP_N_SLEEP,
    baselines = { c_mutex_condvar = c_us, python_queue = py_us, luaproc = lp_us or cjson.null },
    cache_line_floor = line_us,
    ratio = us / c_us, ratio_of = "braid / C", ratio_luaproc = lp_us and us / lp_us,
    target = "braid <= C and <= luaproc (when installed)", met = met,
  })
  rows[#rows + 1] = {
    "ping-pong (us/round trip)",
    ("%s (no spin %s)"):format(fmt(us), us0 and fmt(us0) or "n/a"),
    ("C %s; Py %s%s; line %s"):format(fmt(c_us), py_us and fmt(py_us) or "n/a",
      lp_us and "; luaproc " .. fmt(lp_us) or "", fmt(line_us)),
    ("%.2f x C%s"):format(us / c_us, lp_us and (", %.2f x luaproc"):format(us / lp_us) or ""),
    yesno(met, lp_us and "<= C, <= luaproc" or "<= C"),
  }
end
-- } ------


-- { ------ fan_out: one producer, 4 consumers
local FAN_N, FAN_C = 1000000, 4

local function fan_consumer(q, res)
  local s = 0
  while true do
    local v = q:get()
    if v < 0 then break end
    s = s + v
  end
  res:put(s)
end

local function fanout_once()
  local q, res = queue.Queue(), queue.Queue()
  local ts = {}
  for k = 1, FAN_C do ts[k] = spawn(fan_consumer, { q, res }) end
  local t0 = now()
  for i = 1, FAN_N do q:put(i) end
  for _ = 1, FAN_C do q:put(-1) end
  local s = 0
  for _ = 1, FAN_C do s = s + res:get() end
  local dt = now() - t0
  for k = 1, FAN_C do ts[k]:join() end
  assert(s == FAN_N * (FAN_N + 1) // 2)
  return dt
end

local function fan_out()
  local c = cbase(("fanout %d %d 3"):format(FAN_N, FAN_C))
  local py = pybase(("fanout %d %d 1"):format(PY_N, FAN_C))
  fanout_once()
  local dt = best_of(REPS, fanout_once)
  rate_row(("fan-out 1M ints, 1->%d"):format(FAN_C), "fan_out", FAN_N / dt,
    c.fanout_items_per_s, py and py.fanout_items_per_s, 0.25,
    { items = FAN_N, consumers = FAN_C, python_items = PY_N,
      method = "main q:put(i) for i=1..N; 4 worker threads q:get() until -1" })
end
-- } ------


-- { ------ idle_cpu: a consumer blocked in q:get() on an empty queue
local function idle_get(q, ready)
  ready:set()
  return q:get()
end

local function idle_cpu()
  local SECONDS = 1.0
  local q, ready = queue.Queue(), Event()
  local t = spawn(idle_get, { q, ready })
  ready:wait()
  core.sleep(0.05) -- let it go past its spin into the sleep
  local c0, t0 = cpu(), now()
  core.sleep(SECONDS)
  local dc, dt = cpu() - c0, now() - t0
  q:put(1)
  t:join()
  local pct = dc / dt * 100
  local met = pct < 1
  print(("idle CPU: consumer blocked in q:get() for %.2f s: %.3f ms CPU (%.3f%% of a core); target < 1%%: %s")
    :format(dt, dc * 1e3, pct, met and "met" or "NOT met"))
  write_json("idle_cpu", {
    unit = "percent of a core", braid = pct, cpu_ms = dc * 1e3, seconds = dt,
    method = "os.clock() (process CPU time) around core.sleep(1) in the " ..
      "main thread while a worker waits in q:get()",
    target = "< 1% of a core", met = met,
  })
  rows[#rows + 1] = {
    "idle consumer CPU (% of a core)", ("%.3f"):format(pct), "-", "-",
    yesno(met, "< 1%"),
  }
end
-- } ------


local workloads = {
  { "thread_start", thread_start },
  { "big_table", big_table },
  { "stream", stream },
  { "stream_batched", stream_batched },
  { "ping_pong", ping_pong },
  { "fan_out", fan_out },
  { "idle_cpu", idle_cpu },
}
-- the spin rows: W3 on 1 and 2 cores, rings of 4 and 8, 8 pairs
-- (bench/spin_bench.lua)
-- idle_footprint (bench/thread_bench.lua)
for _, w in ipairs(dofile("bench/thread_bench.lua") { fmt = fmt,
    write_json = write_json, rows = rows, REPS = REPS }) do workloads[#workloads + 1] = w end
for _, w in ipairs(dofile("bench/spin_bench.lua") { fmt = fmt,
    write_json = write_json, rows = rows, BUILD = BUILD, run_baseline = run_baseline }) do workloads[#workloads + 1] = w end
-- thread pools: executor_map, pool_map, speedup (bench/pool_bench.lua)
for _, w in ipairs(dofile("bench/pool_bench.lua") { best_of = best_of, fmt = fmt,
    write_json = write_json, rows = rows, REPS = REPS, BUILD = BUILD }) do workloads[#workloads + 1] = w end
-- process pools: process_pool_map (bench/procpool_bench.lua)
for _, w in ipairs(dofile("bench/procpool_bench.lua") { best_of = best_of, fmt = fmt,
    write_json = write_json, rows = rows, REPS = REPS }) do workloads[#workloads + 1] = w end

-- The figures a Python baseline script prints (command_figures).
local function python_figures(script)
  return command_figures("python3 " .. script)
end

-- The rows of workloads measured as rates against a Python baseline:
-- for each spec {key, label, factor} runs bench[key]() (returning a count
-- and seconds) a few times, keeps the best rate, and prints it against
-- Python's rate for 'key' with the target "at least 'factor' times
-- Python's" (none when 'factor' is nil). show(rate, key) formats a rate
-- for the table. 'py' is either the Python figures (a table of rates) or
-- the Python script itself: then the two run in turns, one Python
-- repetition (the script's argument "1") before each round of braid's, and
-- each side keeps its best rate, so a load that comes and goes during the
-- run weighs on both alike.
local function versus_python(name, bench, py, specs, show)
  local script = type(py) == "string" and py
  if script then py = {} end
  local best = {}
  for _ = 1, math.min(REPS, 3) do
    if script then
      for key, rate in pairs(python_figures(script .. " 1")) do
        if rate > (py[key] or 0) then py[key] = rate end
      end
    end
    for _, sp in ipairs(specs) do
      local n, dt = bench[sp[1]]()
      if n / dt > (best[sp[1]] or 0) then best[sp[1]] = n / dt end
    end
  end
  local rec = { braid_ops_per_s = best, python_ops_per_s = py, ratio_vs_python = {} }
  for _, sp in ipairs(specs) do
    local key, label, factor = sp[1], sp[2], sp[3]
    local base = py[key]
    local ratio = base and best[key] / base
    rec.ratio_vs_python[key] = ratio
    local shown = show(best[key], key)
    local bshown = base and ("Python " .. show(base, key)) or "Python n/a"
    local met = factor == nil or (ratio ~= nil and ratio >= factor)
    print(("%s: braid %s; %s; %s"):format(label, shown, bshown,
      ratio and ("%.2fx Python's rate"):format(ratio) or "no baseline"))
    rows[#rows + 1] = { label, shown, bshown, ratio and ("%.1fx Python"):format(ratio) or "-",
      factor and yesno(met, (">= %gx Python"):format(factor)) or "-" }
  end
  write_json(name, rec)
end

-- processes: start+join per start method, inter-process Queue stream and
-- Pipe ping-pong (bench/process_bench.lua), against Python's
-- multiprocessing (bench/py_process.py) when python3 is present.
-- Targets: start no slower than Python for each start method; Queue
-- stream at least 5x Python's.
local function processes()
  versus_python("processes", dofile("bench/process_bench.lua"),
    python_figures("bench/py_process.py"), {
      { "start_fork", "fork start+join (ms)", 1 },
      { "start_spawn", "spawn start+join (ms)", 1 },
      { "start_forkserver", "forkserver start+join (ms)", 1 },
      { "queue_stream", "mp.Queue stream (items/s)", 5 },
      { "pipe_pingpong", "Pipe ping-pong (round trips/s)", nil },
    }, function(rate, key)
      if key:match("^start_") then return fmt(1000 / rate) end
      return fmt(rate / 1e6) .. " M/s"
    end)
end
workloads[#workloads + 1] = { "processes", processes }

-- big values between processes (bench/bigx_bench.lua): a 64 MiB string
-- to a child through mp.Queue, Pipe send and send_bytes, back as a pool
-- result (GB/s; target >= 1.5 GB/s, issue 16 item 5), and 100k records
-- through an mp.Queue and back as a Pool result (records/s; against
-- Python's and lua-cjson's
-- encode+decode, in the same run), against bench/py_bigx.py.
local function bigx()
  local bb = dofile("bench/bigx_bench.lua")
  local py = python_figures("bench/py_bigx.py")
  local rec = { unit = { big_string = "bytes/s", big_table = "records/s" },
                braid = {}, python = py, ratio_vs_python = {},
                target = { big_string = 1.5e9 } }
  local function best(key)
    local b = 0
    for _ = 1, math.min(REPS, 3) do
      collectgarbage()
      local n, dt = bb[key]()
      if n / dt > b then b = n / dt end
    end
    rec.braid[key] = b
    rec.ratio_vs_python[key] = py[key] and b / py[key]
    return b
  end
  for _, k in ipairs{ "big_string_mpqueue", "big_string_pipe",
                      "big_string_pipe_bytes", "big_string_pool_result" } do
    local b = best(k)
    local r = rec.ratio_vs_python[k]
    print(("%s: braid %.2f GB/s; Python %s%s"):format(k, b / 1e9,
      py[k] and ("%.2f GB/s"):format(py[k] / 1e9) or "n/a",
      r and (" (%.1fx)"):format(r) or ""))
    rows[#rows + 1] = { k .. " (64 MiB, GB/s)", ("%.2f"):format(b / 1e9),
      "Python " .. (py[k] and ("%.2f"):format(py[k] / 1e9) or "n/a"),
      r and ("%.1fx Python"):format(r) or "-", yesno(b >= 1.5e9, ">= 1.5 GB/s") }
  end
  -- the 100k records through mp.Queue, back as a Pool(1) worker's result,
  -- to it as a call's argument, and as 4 items of a Pool(2) map (all
  -- streamed), against cjson
  local cj = best("big_table_cjson")
  for _, k in ipairs{ "big_table_mpqueue", "big_table_pool_result",
                      "big_table_pool_arg", "big_table_pool_map" } do
    local b = best(k)
    local r = rec.ratio_vs_python[k]
    local pys = py[k] and fmt(py[k] / 1e3) or "n/a"
    print(("%s: braid %s k records/s; Python %s; cjson encode+decode %s"):format(
      k, fmt(b / 1e3), pys, fmt(cj / 1e3)))
    rows[#rows + 1] = { k .. " (100k records, k/s)", fmt(b / 1e3),
      "Python " .. pys .. ", cjson " .. fmt(cj / 1e3),
      r and ("%.1fx Python, %.1fx cjson"):format(r, b / cj) or ("%.1fx cjson"):format(b / cj),
      -- issue 16 item 4: a fifth of cjson's time on every channel
      yesno(b >= 5 * cj, ">= 5x cjson") }
  end
  write_json("bigx", rec)
  bb.release()
end
workloads[#workloads + 1] = { "bigx", bigx }

-- managers: dict proxy round trips and a Queue proxy stream
-- (bench/managers_bench.lua) against Python's Manager()
-- (bench/py_managers.py) when python3 is present; target >= 3x Python.
local function managers()
  versus_python("managers", dofile("bench/managers_bench.lua"),
    "bench/py_managers.py", {
      { "dict_roundtrip", "Manager dict d[k]=v / d[k] (round trips/s)", 3 },
      { "queue_proxy_stream", "Manager Queue proxy stream (items/s)", 3 },
    }, function(rate) return fmt(rate / 1e3) .. " k/s" end)
end
workloads[#workloads + 1] = { "managers", managers }

-- Listener/Client over TCP with an authkey (bench/listener_bench.lua):
-- a send_bytes stream (MB/s) and a ping-pong (µs per round trip), against
-- Python's multiprocessing.connection (bench/py_listener.py) in the same
-- run. Target: at least Python's figure for both.
local function listener()
  local lb = dofile("bench/listener_bench.lua")
  local py = {}
  local mbs, us = 0, math.huge
  for _ = 1, math.min(REPS, 3) do
    -- in turns with Python's (one repetition a turn), as versus_python
    local f = python_figures("bench/py_listener.py 1")
    if f.stream and f.stream > (py.stream or 0) then py.stream = f.stream end
    if f.pingpong and f.pingpong < (py.pingpong or math.huge) then py.pingpong = f.pingpong end
    local mb, dt = lb.stream()
    if mb / dt > mbs then mbs = mb / dt end
    local n, dt2 = lb.pingpong()
    if dt2 / n * 1e6 < us then us = dt2 / n * 1e6 end
  end
  local rs = py.stream and mbs / py.stream
  local rp = py.pingpong and py.pingpong / us
  print(("Listener/Client send_bytes stream: braid %s MB/s; Python %s MB/s%s"):format(
    fmt(mbs), py.stream and fmt(py.stream) or "n/a", rs and (" (%.2fx)"):format(rs) or ""))
  print(("Listener/Client ping-pong: braid %s us; Python %s us%s"):format(
    fmt(us), py.pingpong and fmt(py.pingpong) or "n/a", rp and (" (%.2fx)"):format(rp) or ""))
  rows[#rows + 1] = { "Listener stream (MB/s)", fmt(mbs),
    "Python " .. (py.stream and fmt(py.stream) or "n/a"),
    rs and ("%.2fx Python"):format(rs) or "-",
    rs and yesno(rs >= 1, ">= Python") or "-" }
  rows[#rows + 1] = { "Listener ping-pong (us)", fmt(us),
    "Python " .. (py.pingpong and fmt(py.pingpong) or "n/a"),
    rp and ("%.2fx Python"):format(rp) or "-",
    rp and yesno(rp >= 1, ">= Python") or "-" }
  write_json("listener", { unit = { stream = "MB/s", pingpong = "us per round trip" },
    braid = { stream = mbs, pingpong = us }, python = py,
    ratio = { stream = rs, pingpong = rp }, target = ">= Python" })
end
workloads[#workloads + 1] = { "listener", listener }
-- values that cross once: starmap_shared (bench/share_bench.lua)
for _, w in ipairs(dofile("bench/share_bench.lua") { best_of = best_of, fmt = fmt,
    write_json = write_json, rows = rows, REPS = REPS, BUILD = BUILD }) do workloads[#workloads + 1] = w end
-- subprocess: run({"true"}) against Python and C (bench/subprocess_bench.lua)
for _, w in ipairs(dofile("bench/subprocess_bench.lua") { best_of = best_of, fmt = fmt,
    write_json = write_json, rows = rows, REPS = REPS, BUILD = BUILD }) do workloads[#workloads + 1] = w end

for name in pairs(selected) do
  local known = false
  for _, w in ipairs(workloads) do known = known or w[1] == name end
  if not known then
    io.stderr:write("unknown workload '", name, "'\n")
    os.exit(2)
  end
end

local t0 = now()
for _, w in ipairs(workloads) do
  -- each workload starts on a collected heap, as each Python baseline
  -- starts in a process of its own: what one left behind is not counted
  -- in the next one's figures
  if wanted(w[1]) then
    collectgarbage()
    collectgarbage()
    w[2]()
  end
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

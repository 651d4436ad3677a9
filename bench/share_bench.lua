-- bench/share_bench.lua: the workloads of bench/run.lua about values that
-- cross once (issue 16, items 4 and 7):
--   starmap_shared: a literal port of a Python program, CALLS calls of
--     multiprocessing Pool(2):starmap(f, items) over N items that each
--     carry the same LEN-float table, against the hand-tuned form (the
--     table an upvalue of f, the items plain integers), sequential Lua,
--     and Python's Pool(2).starmap of the same program in the same run
--     (bench/py_share.py). Parent CPU (os.clock of this process: the
--     workers are other processes) and wall time. Target: the literal
--     port's parent CPU within 1.5x of the upvalue form's.
--   big_table_queue: the 100k-record table {id, name, vals} put on a
--     threading Queue that a thread is waiting on, from the put to the
--     thread holding the decoded table (it sets an Event), against
--     lua-cjson encode+decode of the same table in the same run. A put of
--     a big table streams (lqstream.c): the thread decodes while the put
--     encodes. Target: <= 1/5 of cjson.
-- Returns function(h) -> { {name, fn} } where 'h' gives run.lua's helpers.
local core = require "braid.core"
local mp = require "braid.multiprocessing"
local cjson = require "cjson"
local threading = require "braid.threading"
local queue = require "braid.queue"

local now = core.monotonic
local N, LEN, CALLS = 1000, 1000, 10
local DETAIL = os.getenv("BENCH_DETAIL") -- big_table_queue: a line per repetition

-- { ------ where a repetition's time went, per thread (Linux /proc; none elsewhere)
-- The streamed put's figure is about the longer of its two threads' work
-- only when they run at once: when another process keeps one of the two
-- CPUs busy, the scheduler may leave both on the other one (a process in
-- another session is balanced against this one as a whole: autogroups),
-- and the figure becomes their sum. Each thread's on-CPU time and
-- run-queue wait (/proc/PID/task/TID/schedstat, in ns) tell the two apart.
local PID = (function()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local pid = f:read("a"):match("^(%d+)")
  f:close()
  return pid
end)()

-- {tid = {on-CPU ns, run-queue wait ns, name}} of this process's threads
local function sched_sample()
  local out = {}
  if not PID then return out end
  local dir = "/proc/" .. PID .. "/task/"
  local p = io.popen("ls " .. dir .. " 2>/dev/null")
  if not p then return out end
  for tid in p:lines() do
    local f = io.open(dir .. tid .. "/schedstat")
    if f then
      local run, wait = f:read("a"):match("^(%d+) (%d+)")
      f:close()
      local c = io.open(dir .. tid .. "/comm")
      out[tid] = { tonumber(run), tonumber(wait), c and c:read("l") or "?" }
      if c then c:close() end
    end
  end
  p:close()
  return out
end

-- Between two samples, in ms: this (the main) thread's on-CPU time and
-- wait, and the same summed over the other threads.
local function sched_delta(a, b)
  local r = { main_cpu = 0, main_wait = 0, other_cpu = 0, other_wait = 0 }
  for tid, v in pairs(b) do
    local u = a[tid] or { 0, 0 }
    local cpu, wait = (v[1] - u[1]) / 1e6, (v[2] - u[2]) / 1e6
    if tid == PID then
      r.main_cpu, r.main_wait = cpu, wait
    else
      r.other_cpu, r.other_wait = r.other_cpu + cpu, r.other_wait + wait
    end
  end
  return r
end

local function thread_list()
  local out = {}
  for tid, v in pairs(sched_sample()) do out[#out + 1] = tid .. ":" .. v[3] end
  table.sort(out)
  return table.concat(out, " ")
end
-- } ------

local function python(reps)
  if not os.execute("command -v python3 >/dev/null 2>&1") then return {} end
  local p = io.popen(("cd bench && python3 py_share.py %d %d %d %d 2>/dev/null")
    :format(N, LEN, CALLS, reps))
  if not p then return {} end
  local t = {}
  for k, v in p:read("a"):gmatch("(%S+) (%S+)") do t[k] = tonumber(v) end
  p:close()
  return t
end

-- best wall and parent CPU (ms) of 'reps' runs of fn()
local function best2(reps, fn)
  local bw, bc = math.huge, math.huge
  for _ = 1, reps do
    collectgarbage()
    local w0, c0 = now(), os.clock()
    fn()
    local w, c = (now() - w0) * 1e3, (os.clock() - c0) * 1e3
    if w < bw then bw = w end
    if c < bc then bc = c end
  end
  return bw, bc
end

return function(h)
  local fmt, write_json, rows, REPS = h.fmt, h.write_json, h.rows, h.REPS

  local function starmap_shared()
    local reps = math.max(REPS, 3)
    local vec = {}
    for i = 1, LEN do vec[i] = i - 1.0 end
    local items, ints = {}, {}
    for i = 1, N do
      items[i] = { vec, i - 1 }
      ints[i] = i - 1
    end
    local function f(v, i) return v[i % #v + 1] * i end
    local V = vec
    local function g(i) return V[i % #V + 1] * i end
    local expect = f(vec, N - 1)
    local pool = mp.Pool(2)
    pool:starmap(f, { items[1], items[2] })
    pool:map(g, { 1, 2 })
    local lit_w, lit_c = best2(reps, function()
      local r
      for _ = 1, CALLS do r = pool:starmap(f, items) end
      assert(r.n == N and r[N] == expect)
    end)
    local upv_w, upv_c = best2(reps, function()
      local r
      for _ = 1, CALLS do r = pool:map(g, ints) end
      assert(r.n == N and r[N] == expect)
    end)
    pool:close()
    pool:join()
    local seq_w, seq_c = best2(reps, function()
      local r
      for _ = 1, CALLS do
        r = {}
        for i = 1, N do r[i] = f(items[i][1], items[i][2]) end
      end
      assert(r[N] == expect)
    end)
    local py = python(reps)
    local ratio = lit_c / upv_c
    local met = ratio <= 1.5
    print(("starmap_shared (%d x Pool(2):starmap of %d items sharing a %d-float table): "
      .. "literal %s ms CPU / %s ms wall; upvalue form %s / %s; sequential Lua %s / %s; "
      .. "Python %s / %s; literal/upvalue CPU %.2f (target <= 1.5)")
      :format(CALLS, N, LEN, fmt(lit_c), fmt(lit_w), fmt(upv_c), fmt(upv_w),
        fmt(seq_c), fmt(seq_w), py.cpu_ms and fmt(py.cpu_ms) or "n/a",
        py.wall_ms and fmt(py.wall_ms) or "n/a", ratio))
    write_json("starmap_shared", {
      unit = "ms for all calls (best of reps)", items = N, table_len = LEN, calls = CALLS,
      braid = { literal = { cpu = lit_c, wall = lit_w }, upvalue = { cpu = upv_c, wall = upv_w } },
      baselines = { sequential_lua = { cpu = seq_c, wall = seq_w },
                    python_starmap = { cpu = py.cpu_ms, wall = py.wall_ms } },
      ratio = ratio, ratio_of = "literal parent CPU / upvalue parent CPU",
      ratio_vs_python_wall = py.wall_ms and lit_w / py.wall_ms,
      target = "ratio <= 1.5", met = met,
    })
    rows[#rows + 1] = {
      "starmap_shared, parent CPU/wall (ms)", ("%s / %s"):format(fmt(lit_c), fmt(lit_w)),
      ("upvalue %s/%s; seq %s/%s; Python %s/%s"):format(fmt(upv_c), fmt(upv_w),
        fmt(seq_c), fmt(seq_w), py.cpu_ms and fmt(py.cpu_ms) or "n/a",
        py.wall_ms and fmt(py.wall_ms) or "n/a"),
      ("%.2f of upvalue CPU"):format(ratio),
      (met and "yes" or "no") .. " (<= 1.5x upvalue)",
    }
  end

  local function big_table_queue()
    local NR = 100000
    local reps = math.max(REPS, 5)
    local T = {}
    for i = 1, NR do
      T[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } }
    end
    local cj = math.huge
    for _ = 1, reps do
      collectgarbage()
      local t0 = now()
      local T2 = cjson.decode(cjson.encode(T))
      local dt = (now() - t0) * 1e3
      assert(#T2 == NR and T2[NR].vals[3] == 3 * NR)
      if dt < cj then cj = dt end
    end
    if DETAIL then io.stderr:write("[big_table_queue] threads before: ", thread_list(), "\n") end
    local q, ready, done = queue.Queue(), threading.Event(), queue.Queue()
    local th = threading.Thread { target = function(qq, rd, dn, n, count)
      for _ = 1, count do
        rd:set()
        local v = qq:get()
        dn:put(#v == n and v[n].vals[3] == 3 * n)
      end
    end, args = { q, ready, done, NR, 2 * reps + 1 } }
    th:start()
    -- alternately streamed and not (core._stream_min raised past the
    -- table's size: the plain put, encode then decode), same run
    local set_min = core._stream_min
    local min0, step0 = set_min()
    local best, plain = math.huge, math.huge
    local best_sched, overlapped = nil, 0
    for r = 1, 2 * reps + 1 do
      local streamed = r % 2 == 1 or not set_min
      if set_min then set_min(streamed and min0 or (1 << 40), step0) end
      assert(ready:wait(30))
      ready:clear()
      collectgarbage()
      local k0 = sched_sample()
      local t0 = now()
      q:put(T)
      assert(done:get(true, 60))
      local dt = (now() - t0) * 1e3
      local k = sched_delta(k0, sched_sample())
      -- the two threads ran at once when neither waited for a CPU for
      -- long (serialised on one CPU, each waits about the other's time)
      local ran_together = k.main_wait + k.other_wait < 0.25 * dt
      if DETAIL then
        io.stderr:write(("[big_table_queue] %s %.1f ms: put thread %.1f ms CPU + %.1f waiting"
          .. " for a CPU; other threads %.1f + %.1f\n"):format(streamed and "streamed" or "plain",
          dt, k.main_cpu, k.main_wait, k.other_cpu, k.other_wait))
      end
      if r > 1 then -- the first warms the thread up
        if streamed then
          if ran_together then overlapped = overlapped + 1 end
          if dt < best then best, best_sched = dt, k end
        else
          plain = math.min(plain, dt)
        end
      end
    end
    if set_min then set_min(min0, step0) end
    th:join()
    local ratio = best / cj
    local met = ratio <= 0.2
    local bs = best_sched or {}
    local how = bs.main_cpu and ("; best: put thread %.1f ms CPU, consumer %.1f (waits for a CPU"
      .. " %.1f, %.1f); the two threads ran at once in %d of %d streamed puts")
      :format(bs.main_cpu, bs.other_cpu, bs.main_wait, bs.other_wait, overlapped, reps) or ""
    print(("big_table_queue (%d records through a Queue to a waiting thread): braid %.1f ms "
      .. "(not streamed, same run: %.1f ms); cjson encode+decode %.1f ms; %.2f of cjson (target <= 0.2)%s")
      :format(NR, best, plain, cj, ratio, how))
    write_json("big_table_queue", {
      unit = "ms from put to the consumer holding the table", records = NR,
      braid = best, braid_not_streamed = plain, baselines = { cjson_roundtrip = cj },
      ratio = ratio, ratio_of = "braid / cjson", target = "ratio <= 0.2", met = met,
      -- where the best streamed put's time went (ms; Linux only): the put's
      -- thread (the encode) and the consumer's (the decode), on CPU and
      -- waiting for one; and in how many streamed puts they overlapped
      best_threads = bs.main_cpu and { put_cpu = bs.main_cpu, put_wait = bs.main_wait,
        consumer_cpu = bs.other_cpu, consumer_wait = bs.other_wait } or cjson.null,
      streamed_overlapped = bs.main_cpu and overlapped or cjson.null, streamed_reps = reps,
    })
    rows[#rows + 1] = {
      ("big table through a Queue, %dk records (ms)"):format(NR // 1000), fmt(best),
      ("cjson %s"):format(fmt(cj)), ("%.2f of cjson"):format(ratio),
      (met and "yes" or "no") .. " (<= 0.2)",
    }
  end

  return { { "starmap_shared", starmap_shared }, { "big_table_queue", big_table_queue } }
end

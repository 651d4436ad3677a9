-- Soak test (run by scripts/soak.sh): braid build/bin/braid scripts/soak.lua
-- SECONDS [POOL_METHOD [EXECUTOR_METHOD]].
--
-- For SECONDS (after a warm-up of the same workload), at once:
--   * a multiprocessing.Pool (3 workers, maxtasksperchild 200) runs a
--     stream of apply_async calls and small map_async jobs;
--   * a ProcessPoolExecutor (2 workers) runs a stream of submits; when a
--     killed worker breaks it, its pending futures are counted as
--     BrokenProcessPool and a new executor takes over (Python semantics);
--   * a chaos thread SIGKILLs a random worker process every 0.5-2 s;
--   * a thread starts and joins short-lived threads, and keeps a
--     ThreadPool whose workers retire after 3 tasks busy (churn);
--   * 8 producer and 8 consumer threads share a queue.Queue, and 8 and 8
--     more a multiprocessing.Queue.
-- Then everything is drained and joined, and the soak checks: every task
-- accounted for exactly once (its result, checked, or BrokenProcessPool
-- when its worker was killed; a map counts all its items as broken when
-- one of its chunks was lost), the exact count and sum of every queue's
-- messages, no zombie child, and the descriptor count (/proc/self/fd) and
-- RSS (VmRSS) back within 5 % of their values after the warm-up, both
-- measured the same way: drained, joined, collected, and with the memory
-- kept for later given back first (see 'settled'; soak.sh runs malloc
-- with one arena for the same reason). The bytes malloc holds are shown
-- too. It prints one summary line and exits 1 on failure.
-- Needs braid.core._test (a build with BRAID_TESTS, the default).
-- POOL_METHOD/EXECUTOR_METHOD: "fork" (default) and "spawn" (default);
-- "forkserver" is refused: its server is a child the chaos thread would
-- kill, and its workers are not our children.

local threading = require "braid.threading"
local queue = require "braid.queue"
local mp = require "braid.multiprocessing"
local core = require "braid.core"

local DURATION = tonumber(arg[1]) or 600
local POOL_METHOD = arg[2] or "fork"
local EX_METHOD = arg[3] or "spawn"
for _, m in ipairs({ POOL_METHOD, EX_METHOD }) do
  if m ~= "fork" and m ~= "spawn" then
    io.stderr:write("soak: start method must be fork or spawn, not ", m, "\n")
    os.exit(2)
  end
end
if not core._test then
  io.stderr:write("soak: needs braid.core._test (build with BRAID_TESTS)\n")
  os.exit(2)
end
-- long enough for allocator caches, arenas and module loads to settle
local WARMUP = math.max(20, math.min(30, DURATION // 10))
-- bound of every wait: far beyond anything a loaded machine needs
local BOUND = 300

-- { ------ workloads (each runs in its own thread: own Lua state)

-- A task: spins a little (a worker is often killed in the middle of one)
-- and returns the square of its id.
local function task(id, spin)
  local s = 0
  for i = 1, spin do s = s + i end
  return id * id, s
end

-- Settles one pending entry of a stream: its result, checked, or the
-- error, classified. 'st' holds the counts; 'seen' detects a task
-- settled twice.
local function settle(st, seen, e)
  local futures = require "braid.futures"
  local pool = require "braid.multiprocessing.pool"
  local ok, v
  if e.fut then ok, v = pcall(e.fut.result, e.fut, e.bound)
  else ok, v = pcall(e.res.get, e.res, e.bound) end
  for _, id in ipairs(e.ids) do
    if seen[id] then st.dup = st.dup + 1 end
    seen[id] = true
  end
  local n = #e.ids
  if ok then
    local good
    if e.map then
      good = type(v) == "table" and v.n == n
      for i = 1, n do good = good and v[i] == e.ids[i] * e.ids[i] end
    else
      good = v == e.ids[1] * e.ids[1]
    end
    if good then st.ok = st.ok + n
    else st.bad = st.bad + n; st.why = st.why or "wrong result" end
  elseif futures.BrokenProcessPool:is(v) then
    st.broken = st.broken + n
  elseif pool.TimeoutError:is(v) or futures.TimeoutError:is(v) then
    st.lost = st.lost + n
  else
    st.bad = st.bad + n
    st.why = st.why or tostring(v)
  end
end

local function new_counts()
  return { submitted = 0, ok = 0, broken = 0, lost = 0, bad = 0, dup = 0 }
end

-- The Pool stream: up to 12 entries in flight, every 8th a map of 16.
local function pool_stream(stop, reports, method, bound)
  local mp_ = require "braid.multiprocessing"
  local st, seen, pending, head, tail = new_counts(), {}, {}, 1, 0
  local p = mp_.Pool(3, nil, nil, 200, mp_.get_context(method))
  local id, k = 0, 0
  while not stop:is_set() or head <= tail do
    if not stop:is_set() and tail - head + 1 < 12 then
      k = k + 1
      if k % 8 == 0 then
        local ids = {}
        for i = 1, 16 do id = id + 1; ids[i] = id end
        tail = tail + 1
        pending[tail] = {
          map = true, ids = ids, bound = bound,
          res = p:map_async(function(x) return (task(x, 2000)) end, ids, 4) }
        st.submitted = st.submitted + 16
      else
        id = id + 1
        tail = tail + 1
        pending[tail] = {
          ids = { id }, bound = bound,
          res = p:apply_async(task, { id, math.random(1, 200000) }) }
        st.submitted = st.submitted + 1
      end
    else
      settle(st, seen, pending[head])
      pending[head] = nil
      head = head + 1
    end
  end
  p:close()
  p:join()
  st.kind = "pool"
  reports:put(st)
end

-- The executor stream: up to 8 futures in flight; a broken executor is
-- shut down and replaced, the submit that found it broken goes to the
-- new one.
local function executor_stream(stop, reports, method, bound)
  local futures = require "braid.futures"
  local mp_ = require "braid.multiprocessing"
  local st, seen, pending, head, tail = new_counts(), {}, {}, 1, 0
  st.executors = 1
  local ex = futures.ProcessPoolExecutor(2, mp_.get_context(method))
  local id = 0
  while not stop:is_set() or head <= tail do
    if not stop:is_set() and tail - head + 1 < 8 then
      local spin = math.random(1, 200000)
      local ok, f = pcall(ex.submit, ex, task, id + 1, spin)
      if ok then
        id = id + 1
        tail = tail + 1
        pending[tail] = { fut = f, ids = { id }, bound = bound }
        st.submitted = st.submitted + 1
      elseif futures.BrokenProcessPool:is(f) then
        ex:shutdown(true)
        ex = futures.ProcessPoolExecutor(2, mp_.get_context(method))
        st.executors = st.executors + 1
      else
        error(f, 0)
      end
    else
      settle(st, seen, pending[head])
      pending[head] = nil
      head = head + 1
    end
  end
  ex:shutdown(true)
  st.kind = "executor"
  reports:put(st)
end

-- Kills a random child (a worker process) every 0.5-2 s until 'stop'.
local function chaos(stop, reports)
  local c = require "braid.core"
  local kills = 0
  while not stop:wait(0.5 + 1.5 * math.random()) do
    local live = {}
    for pid, state in pairs(c._test.children()) do
      if state ~= "Z" then live[#live + 1] = pid end
    end
    if #live > 0 then
      c.proc_kill(live[math.random(#live)], 9)
      kills = kills + 1
    end
  end
  reports:put({ kind = "chaos", kills = kills })
end

-- Starts 4 threads at a time, each returning a sum through a queue, and
-- joins them; and runs a small map on a ThreadPool whose workers retire
-- after 3 tasks each (pool worker threads churn too). Checks every sum.
local function churn(stop, reports, bound)
  local th = require "braid.threading"
  local q = require("braid.queue").Queue()
  local tp = require("braid.multiprocessing.pool").ThreadPool(2, nil, nil, 3)
  local n, maps, bad = 0, 0, 0
  while not stop:is_set() do
    local r = tp:map_async(function(x) return x * x end, { 1, 2, 3, 4, 5, 6, 7, 8 }, 1)
    r = r:get(bound)
    for i = 1, 8 do if r[i] ~= i * i then bad = bad + 1 end end
    local ts = {}
    for i = 1, 4 do
      local m = math.random(1, 5000)
      ts[i] = th.Thread { target = function(out, k)
        local s = 0
        for j = 1, k do s = s + j end
        out:put({ k, s })
      end, args = { q, m } }
      ts[i]:start()
    end
    for i = 1, 4 do
      ts[i]:join(bound)
      if ts[i]:is_alive() then error("a churn thread did not end") end
      local r = q:get(true, bound)
      if r[2] ~= r[1] * (r[1] + 1) // 2 then bad = bad + 1 end
    end
    n, maps = n + 4, maps + 1
  end
  tp:close()
  tp:join()
  reports:put({ kind = "churn", threads = n, maps = maps, bad = bad })
end

-- A producer: integers and small tables until 'stop', then one sentinel.
local function producer(stop, q, reports, bound)
  local count, sum = 0, 0
  while not stop:is_set() do
    local v = math.random(1, 1000000)
    if v % 4 == 0 then q:put({ v = v, pad = "x" }, true, bound)
    else q:put(v, true, bound) end
    count, sum = count + 1, sum + v
  end
  q:put(false, true, bound)
  reports:put({ kind = "produced", count = count, sum = sum })
end

-- A consumer: until it takes a sentinel.
local function consumer(q, reports, bound)
  local count, sum = 0, 0
  while true do
    local v = q:get(true, bound)
    if v == false then break end
    if type(v) == "table" then v = v.v end
    count, sum = count + 1, sum + v
  end
  reports:put({ kind = "consumed", count = count, sum = sum })
end
-- } ------

local function start(fn, ...)
  local t = threading.Thread { target = fn, args = table.pack(...) }
  t:start()
  return t
end

-- Runs every workload for 'seconds', then drains and joins everything.
-- Returns the merged reports, or nil and why.
local function phase(seconds)
  local stop, chaos_stop = threading.Event(), threading.Event()
  local reports = queue.Queue()
  local threads = {
    start(pool_stream, stop, reports, POOL_METHOD, BOUND),
    start(executor_stream, stop, reports, EX_METHOD, BOUND),
    start(churn, stop, reports, BOUND),
  }
  local chaos_t = start(chaos, chaos_stop, reports)
  local queues = { queue.Queue(256), mp.Queue(256) }
  for _, q in ipairs(queues) do
    for _ = 1, 8 do
      threads[#threads + 1] = start(producer, stop, q, reports, BOUND)
      threads[#threads + 1] = start(consumer, q, reports, BOUND)
    end
  end
  stop:wait(seconds) -- never set here: a bounded sleep of the main thread
  chaos_stop:set()   -- no kill while the streams drain
  chaos_t:join(BOUND)
  stop:set()
  for _, t in ipairs(threads) do
    t:join(BOUND)
    if t:is_alive() then return nil, "a workload thread hung" end
  end
  for _, q in ipairs(queues) do
    if q.close then q:close(); q:join_thread() end
  end
  local r = { pool = new_counts(), executor = new_counts(), kills = 0,
              threads = 0, churn_bad = 0, produced = { 0, 0 },
              consumed = { 0, 0 }, executors = 0, reports = 0 }
  while true do
    local ok, m = pcall(reports.get, reports, false)
    if not ok then break end
    r.reports = r.reports + 1
    if m.kind == "pool" or m.kind == "executor" then
      local s = r[m.kind]
      for k, v in pairs(m) do
        if type(v) == "number" and s[k] then s[k] = s[k] + v end
      end
      s.why = s.why or m.why
      if m.executors then r.executors = r.executors + m.executors end
    elseif m.kind == "chaos" then r.kills = m.kills
    elseif m.kind == "churn" then
      r.threads, r.maps, r.churn_bad = m.threads, m.maps, m.bad
    else
      local t = r[m.kind]
      t[1], t[2] = t[1] + m.count, t[2] + m.sum
    end
  end
  -- 3 streams + chaos + 2 x (8 producers + 8 consumers)
  if r.reports ~= 4 + 32 then
    return nil, ("%d workload reports of 36 (a thread failed)"):format(r.reports)
  end
  return r
end

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local function zombies()
  local n = 0
  for _, state in pairs(core._test.children()) do
    if state == "Z" then n = n + 1 end
  end
  return n
end

-- Descriptors and resident memory once everything is drained: the
-- caches that keep memory for later (the chunks kept for worker states,
-- malloc's free pages, parked OS threads) are given back first (_test.trim), so the figure
-- is what the process holds; the least of 10 readings 0.1 s apart, as a
-- thread that was joined may still be unmapping its stack.
local function settled()
  local fds, rss = math.huge, math.huge
  local pause = threading.Event()
  for i = 1, 10 do
    collectgarbage()
    collectgarbage()
    core._test.trim()
    fds = math.min(fds, core._test.fds())
    rss = math.min(rss, rss_kb())
    if i < 10 then pause:wait(0.1) end
  end
  return fds, rss, zombies(), core._test.heap() or 0
end

local function fail(msg)
  print("soak: FAIL: " .. msg)
  os.exit(1)
end

local t0 = core.monotonic()
local w, why = phase(WARMUP)
if not w then fail("warm-up: " .. why) end
local fds0, rss0, z0, heap0 = settled()
local r
r, why = phase(DURATION)
if not r then fail(why) end
local fds1, rss1, z1, heap1 = settled()
local elapsed = core.monotonic() - t0

local problems = {}
local function check(cond, msg) if not cond then problems[#problems + 1] = msg end end
for _, kind in ipairs({ "pool", "executor" }) do
  local s = r[kind]
  check(s.lost == 0, kind .. ": lost tasks")
  check(s.bad == 0, kind .. ": wrong results (" .. tostring(s.why) .. ")")
  check(s.dup == 0, kind .. ": tasks settled twice")
  check(s.ok + s.broken + s.lost + s.bad == s.submitted, kind .. ": tasks unaccounted for")
  check(s.ok > 0, kind .. ": no task succeeded")
end
check(r.kills > 0, "no worker was killed")
check(r.churn_bad == 0, "thread churn: wrong sums")
local qok = r.produced[1] == r.consumed[1] and r.produced[2] == r.consumed[2]
check(qok, "queue messages: produced and consumed differ")
check(z0 == 0 and z1 == 0, "zombies")
local fd_ok = math.abs(fds1 - fds0) <= fds0 * 0.05
check(fd_ok, "descriptors")
local drss = (rss1 - rss0) / rss0 * 100
check(drss <= 5, "RSS grew")

local function stream(s)
  return ("%d (ok %d, broken %d, lost %d)"):format(s.submitted, s.ok, s.broken, s.lost)
end
print(("soak: %d s (+%d s warm-up, %.0f s in all), pool tasks %s, executor tasks %s "
  .. "in %d executors, %d workers killed, %d threads churned (+%d maps on a ThreadPool retiring workers), queue msgs %d 8x8x2 sum %s, "
  .. "zombies %d, fds %d->%d, rss %.1f->%.1f MB (%+.1f%%), malloc'd %d->%d KB: %s")
  :format(DURATION, WARMUP, elapsed, stream(r.pool), stream(r.executor), r.executors,
          r.kills, r.threads, r.maps, r.consumed[1], qok and "ok" or "WRONG", z1, fds0, fds1,
          rss0 / 1024, rss1 / 1024, drss, heap0 // 1024, heap1 // 1024,
          #problems == 0 and "PASS" or "FAIL (" .. table.concat(problems, "; ") .. ")"))
os.exit(#problems == 0 and 0 or 1)

-- bench/spin_bench.lua: the spin rows (issue 16, item 1): hand-offs between
-- threads where the waiter's spin before sleeping can hurt, each against a
-- C mutex+condvar FIFO of the same shape (bench_queue_c, pinned to the same
-- CPUs and unpinned) and Python threads with queue.SimpleQueue (pinned as
-- braid is), all measured in the same run:
--   spin_pingpong_1core  W3: ping-pong of an integer between two threads
--                        over two SimpleQueues, the process pinned to one
--                        CPU (taskset -c 0), us per round trip
--   spin_pingpong_2core  the same on two CPUs (taskset -c 0,1)
--   spin_ring4, spin_ring8  a token passed around a ring of 4 / 8 threads
--                        through SimpleQueues (thread i reads queue i and
--                        writes queue i+1), 2 CPUs, us per hop
--   spin_pairs8          8 ping-pong pairs at once on 2 CPUs, us per round
--                        trip of one pair (wall time / round trips of a pair)
-- Every figure comes from a child process (so that it can be pinned), the
-- best of 3 runs inside it. Used by bench/run.lua:
--   dofile("bench/spin_bench.lua") { ...helpers } -> workloads
-- and run by it as a child:
--   lua5.4 bench/spin_bench.lua child SHAPE ARG N REPS
local mode = ...

if mode == "child" then
  local _, shape, a1, a2, a3 = ...
  local core = require "braid.core"
  local threading = require "braid.threading"
  local queue = require "braid.queue"
  local now = core.monotonic
  local reps = tonumber(a3) or 3

  local function start(f, ...)
    local t = threading.Thread { target = f, args = { ... } }
    t:start()
    return t
  end

  local function echo(a, b)
    while true do
      local v = a:get()
      if v < 0 then return end
      b:put(v + 1)
    end
  end

  local function pingpong(n)
    local a, b = queue.SimpleQueue(), queue.SimpleQueue()
    local t = start(echo, a, b)
    a:put(0); b:get() -- the partner is running
    local t0 = now()
    for i = 1, n do
      a:put(i)
      if b:get() ~= i + 1 then error("bad reply") end
    end
    local dt = now() - t0
    a:put(-1)
    t:join()
    return dt * 1e6 / n
  end

  local function member(inq, outq, done, hops)
    while true do
      local v = inq:get()
      if v < 0 then outq:put(v); return end
      v = v + 1
      if v == hops then done:put(v) else outq:put(v) end
    end
  end

  local function ring(k, hops)
    local qs, ts, done = {}, {}, queue.SimpleQueue()
    for i = 1, k do qs[i] = queue.SimpleQueue() end
    for i = 1, k do ts[i] = start(member, qs[i], qs[i % k + 1], done, hops) end
    local t0 = now()
    qs[1]:put(0)
    if done:get() ~= hops then error("bad ring") end
    local dt = now() - t0
    qs[1]:put(-1)
    for i = 1, k do ts[i]:join() end
    return dt * 1e6 / hops
  end

  local function pinger(go, a, b, n)
    go:wait()
    for i = 1, n do
      a:put(i)
      if b:get() ~= i + 1 then error("bad reply") end
    end
    a:put(-1)
  end

  local function pairs_(np, n)
    local go, ts = core.Event(), {}
    for _ = 1, np do
      local a, b = queue.SimpleQueue(), queue.SimpleQueue()
      ts[#ts + 1] = start(echo, a, b)
      ts[#ts + 1] = start(pinger, go, a, b, n)
    end
    local t0 = now()
    go:set()
    for _, t in ipairs(ts) do t:join() end
    return (now() - t0) * 1e6 / n
  end

  local best, key = math.huge, nil
  for _ = 1, reps do
    collectgarbage()
    local v
    if shape == "pingpong" then
      v, key = pingpong(tonumber(a2)), "pingpong_us"
    elseif shape == "ring" then
      v, key = ring(tonumber(a1), tonumber(a2)), "ring_hop_us"
    elseif shape == "pairs" then
      v, key = pairs_(tonumber(a1), tonumber(a2)), "pairs_us"
    else
      error("unknown shape " .. tostring(shape))
    end
    if v < best then best = v end
  end
  print(("%s %.3f"):format(key, best))
  print(("cpus_seen %d"):format(core._spin_cpus and core._spin_cpus() or -1))
  return
end


return function(ctx)
  local fmt, write_json, rows, BUILD = ctx.fmt, ctx.write_json, ctx.rows, ctx.BUILD
  local LUA = (arg and arg[-1]) or "lua5.4"
  local has_taskset = os.execute("command -v taskset >/dev/null 2>&1")
  local has_python = os.execute("command -v python3 >/dev/null 2>&1")

  local run = ctx.run_baseline -- "key value" lines of a command, or nil

  local function pin(cpus)
    return (has_taskset and cpus) and ("taskset -c " .. cpus .. " ") or ""
  end

  -- One row: shape (pingpong, ring, pairs), its two arguments, the CPUs
  -- to pin to, the key the programs print, the Python command, the target.
  local function row(name, label, cpus, shape, k, n, pykey, pycmd, unit, target)
    local p = pin(cpus)
    local braid = run(("%s%s bench/spin_bench.lua child %s %d %d 3")
      :format(p, LUA, shape, k, n))
    assert(braid, "the braid child of " .. name .. " failed")
    local ckey = shape == "ring" and "ring_hop_us" or
                 shape == "pairs" and "pairs_us" or "pingpong_us"
    local cargs = shape == "pingpong" and ("pingpong %d 3"):format(n)
                  or ("%s %d %d 3"):format(shape, k, n)
    local cp = run(("%s%s/bench_queue_c %s"):format(p, BUILD, cargs))
    local cu = run(("%s/bench_queue_c %s"):format(BUILD, cargs))
    assert(cp and cu, "no output from " .. BUILD .. "/bench_queue_c")
    local py = has_python and run(p .. "python3 bench/py_queue.py " .. pycmd) or nil
    -- luaproc's W3 (bench/luaproc_bench.lua) pinned alike, when installed
    local lp = shape == "pingpong" and run(("%s%s bench/luaproc_bench.lua 3 pingpong")
      :format(p, LUA)) or nil
    local b, c, c_un = braid[ckey], cp[ckey], cu[ckey]
    local pyv, lpv = py and py[pykey], lp and lp.pingpong_us
    local met = target(b, c, pyv, lpv)
    print(("%s: braid %.2f %s (CPUs seen %s); C mutex+condvar %.2f pinned, %.2f unpinned " ..
           "(ratio %.2f); Python SimpleQueue %s%s%s; target %s: %s")
      :format(label, b, unit, tostring(braid.cpus_seen), c, c_un, b / c,
        pyv and ("%.2f"):format(pyv) or "n/a",
        pyv and (" (ratio %.2f)"):format(b / pyv) or "",
        lpv and ("; luaproc %.2f (ratio %.2f)"):format(lpv, b / lpv) or "",
        target.what, met and "met" or "NOT met"))
    write_json(name, {
      unit = unit, braid = b, cpus = has_taskset and cpus or "unpinned (no taskset)",
      cpus_seen = braid.cpus_seen, shape = shape, threads_or_pairs = k, count = n,
      baselines = { c_mutex_condvar_pinned = c, c_mutex_condvar_unpinned = c_un,
                    python_simplequeue = pyv, luaproc = lpv },
      ratio = b / c, ratio_of = "braid / C pinned", ratio_vs_python = pyv and b / pyv,
      ratio_vs_luaproc = lpv and b / lpv,
      target = target.what, met = met,
    })
    rows[#rows + 1] = {
      ("%s (%s)"):format(label, unit), fmt(b),
      ("C %s (unpinned %s); Py %s%s"):format(fmt(c), fmt(c_un), pyv and fmt(pyv) or "n/a",
        lpv and "; luaproc " .. fmt(lpv) or ""),
      ("%.2f x C%s"):format(b / c, pyv and ("; %.2f x Py"):format(b / pyv) or ""),
      (met and "yes" or "no") .. " (" .. target.what .. ")",
    }
  end

  local function le_c(what)
    return setmetatable({ what = what }, { __call = function(_, b, c) return b <= c end })
  end
  local ring_target = setmetatable({ what = "<= C and <= Py/2" }, {
    __call = function(_, b, c, py) return b <= c and (py == nil or b <= py / 2) end })

  local function pp1()
    row("spin_pingpong_1core", "W3 ping-pong, 1 core", "0", "pingpong", 0, 20000,
      "sq_pingpong_us", "sq_pingpong 20000 3", "us/round trip", le_c("<= C pinned"))
  end
  -- issue 16: W3 on 2 cores <= luaproc too, when it is installed
  local le_c_luaproc = setmetatable({ what = "<= C pinned, <= luaproc" }, {
    __call = function(_, b, c, _, lp) return b <= c and (lp == nil or b <= lp) end })
  local function pp2()
    row("spin_pingpong_2core", "W3 ping-pong, 2 cores", "0,1", "pingpong", 0, 100000,
      "sq_pingpong_us", "sq_pingpong 20000 3", "us/round trip", le_c_luaproc)
  end
  local function ring4()
    row("spin_ring4", "ring of 4 threads, 2 cores", "0,1", "ring", 4, 20000,
      "ring_hop_us", "ring 4 20000 3", "us/hop", ring_target)
  end
  local function ring8()
    row("spin_ring8", "ring of 8 threads, 2 cores", "0,1", "ring", 8, 20000,
      "ring_hop_us", "ring 8 20000 3", "us/hop", ring_target)
  end
  local function pairs8()
    row("spin_pairs8", "8 ping-pong pairs, 2 cores", "0,1", "pairs", 8, 10000,
      "pairs_us", "pairs 8 5000 3", "us/round trip per pair", le_c("<= C pinned"))
  end
  return {
    { "spin_pingpong_1core", pp1 }, { "spin_pingpong_2core", pp2 },
    { "spin_ring4", ring4 }, { "spin_ring8", ring8 }, { "spin_pairs8", pairs8 },
  }
end

-- The spin before sleeping (src/os/spin.h, docs/HACKING.md "Spinning"):
-- a blocked waiter costs ~0 CPU, nothing spins where a spin would take
-- the CPU from the thread it waits for (one usable CPU, or more running
-- threads than CPUs), and the running-thread count it relies on stays
-- exact as threads block, wake and exit.
local helpers = require "helpers"
local core = require "braid.core"
local threading = require "braid.threading"
local queue = require "braid.queue"
local mp = require "braid.multiprocessing"

local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
local SANITIZED = (os.getenv("LD_PRELOAD") or ""):find("san") ~= nil

-- Process CPU seconds (every thread) used while fn() runs, and its wall time.
local function cpu_of(fn)
  local c0, t0 = os.clock(), helpers.now()
  fn()
  return os.clock() - c0, helpers.now() - t0
end

-- Waits (bounded) until core._spin_running() == n; returns the last value.
local function running_reaches(n)
  local t0 = helpers.now()
  local v = core._spin_running()
  while v ~= n and helpers.now() - t0 < 20 do
    core.sleep(0.002)
    v = core._spin_running()
  end
  return v
end

describe("the spin before sleeping", function()
  it("sees at least one CPU and no more than the affinity mask allows", function()
    local os_ = require "braid.os"
    local n = core._spin_cpus()
    assert.is_true(math.type(n) == "integer" and n >= 1)
    assert.is_true(n <= os_.process_cpu_count())
  end)

  -- Each wait below times out after 0.5 s on an empty object: it spins at
  -- most BRAID_SPIN_NS (30 us) then sleeps, so the process uses ~0 CPU.
  -- The bound, 5% of a core, is generous: a waiter that kept polling
  -- would use ~100%.
  local IDLE, BOUND = 0.5, 0.05
  local waits = {
    { "Queue:get", function() local q = queue.Queue(); pcall(q.get, q, true, IDLE) end },
    { "SimpleQueue:get", function() local q = queue.SimpleQueue(); pcall(q.get, q, true, IDLE) end },
    { "Event:wait", function() assert.is_false(core.Event():wait(IDLE)) end },
    { "Connection:poll", function()
        local a, b = mp.Pipe()
        assert.is_false(b:poll(IDLE))
        a:close(); b:close()
      end },
  }
  for _, w in ipairs(waits) do
    it("an idle " .. w[1] .. " with a timeout uses ~0 CPU", function()
      local dc, dt = cpu_of(w[2])
      assert.is_true(dt >= IDLE * 0.9, ("waited only %.3f s"):format(dt))
      assert.is_true(dc < BOUND * dt,
        ("%.1f ms CPU over %.3f s"):format(dc * 1e3, dt))
    end)
  end

  it("a worker blocked in q:get() with no timeout uses ~0 CPU", function()
    local q, ready = queue.SimpleQueue(), core.Event()
    local t = threading.Thread { target = function(qq, r) r:set(); return qq:get() end,
                                 args = { q, ready } }
    t:start()
    assert.is_true(ready:wait(30))
    core.sleep(0.05) -- past its spin, into its sleep
    local dc, dt = cpu_of(function() core.sleep(IDLE) end)
    q:put(1)
    t:join(30)
    assert.is_false(t:is_alive())
    assert.is_true(dc < BOUND * dt, ("%.1f ms CPU over %.3f s"):format(dc * 1e3, dt))
  end)

  it("counts threads asleep in a wait as not running, and exited threads not at all", function()
    -- only this thread runs once the workers of earlier specs have ended
    -- (a joined thread ends a moment after join() returns)
    local base = 1
    assert.are.equal(base, running_reaches(base))
    local go = core.Event()
    local ts = {}
    for i = 1, 4 do
      ts[i] = threading.Thread { target = function(e) e:wait(60) end, args = { go } }
      ts[i]:start()
    end
    -- each worker counts once it starts, and not while it sleeps in wait()
    assert.are.equal(base, running_reaches(base))
    go:set()
    for i = 1, 4 do ts[i]:join(30); assert.is_false(ts[i]:is_alive()) end
    assert.are.equal(base, running_reaches(base))
  end)

  local _, method_set = helpers.start_methods()
  local fork_it = method_set.fork and it or pending
  fork_it("a forked child counts only its own thread as running", function()
    -- a worker kept running (not asleep in a wait) while the parent forks
    local stop, started = core.Event(), core.Event()
    local busy = threading.Thread { target = function(s, r)
      r:set()
      while not s:is_set() do end
    end, args = { stop, started } }
    busy:start()
    assert.is_true(started:wait(30))
    local parent = running_reaches(2)
    local q = mp.get_context("fork").SimpleQueue()
    local p = mp.get_context("fork").Process { target = function(qq)
      qq:put(require("braid.core")._spin_running())
    end, args = { q } }
    p:start()
    local got = q:get(true, 60)
    p:join(60)
    stop:set()
    busy:join(30)
    assert.are.equal(2, parent)
    assert.are.equal(1, got)
  end)

  it("keeps replies in order when 8 ping-pong pairs oversubscribe the CPUs", function()
    local N, P = 300, 8
    local function echo(a, b)
      while true do
        local v = a:get()
        if v < 0 then return end
        b:put(v + 1)
      end
    end
    local function pinger(a, b, n, bad)
      for i = 1, n do
        a:put(i)
        if b:get() ~= i + 1 then bad:put(i) end
      end
      a:put(-1)
    end
    local bad, ts = queue.SimpleQueue(), {}
    for _ = 1, P do
      local a, b = queue.SimpleQueue(), queue.SimpleQueue()
      ts[#ts + 1] = threading.Thread { target = echo, args = { a, b } }
      ts[#ts + 1] = threading.Thread { target = pinger, args = { a, b, N, bad } }
    end
    for _, t in ipairs(ts) do t:start() end
    for _, t in ipairs(ts) do t:join(120); assert.is_false(t:is_alive()) end
    assert.are.equal(0, bad:qsize())
  end)

  -- Both threads of a ping-pong pinned to one CPU: a waiter that spins
  -- burns the time slice its partner needs, so every round trip costs a
  -- spin (the old code: 34-41 us of CPU per round trip, CPU-bound
  -- whatever the load); without spinning a round trip costs two
  -- wake-ups (3.5-5 us, 8 us with a busy loop sharing the CPU). The
  -- figure is CPU time per round trip, measured in the child, which other
  -- processes' load barely changes. Needs taskset and the braid host.
  -- (no shell at all where HOST is "none": the ThreadSanitizer pass,
  -- whose preloaded runtime /bin/sh does not survive)
  local has_taskset = HOST ~= "none" and
                      os.execute("command -v taskset >/dev/null 2>&1")
  local pinned_it = has_taskset and it or pending
  pinned_it("a ping-pong pinned to one CPU does not spin (taskset -c 0)", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local core = require "braid.core"
local threading = require "braid.threading"
local queue = require "braid.queue"
local function echo(a, b)
  while true do local v = a:get(); if v < 0 then return end; b:put(v + 1) end
end
local N = 2000
local a, b = queue.SimpleQueue(), queue.SimpleQueue()
local t = threading.Thread { target = echo, args = { a, b } }
t:start()
a:put(0); b:get()
local c0 = os.clock()
for i = 1, N do a:put(i); assert(b:get() == i + 1) end
local dc = os.clock() - c0
a:put(-1); t:join()
print(("cpus %d cpu_us %.3f"):format(core._spin_cpus and core._spin_cpus() or -1,
                                     dc * 1e6 / N))
]])
    f:close()
    local p = io.popen(("taskset -c 0 timeout 120 %s %s 2>&1"):format(HOST, script))
    local out = p:read("a")
    p:close()
    os.remove(script)
    local cpus, us = out:match("cpus (%-?%d+) cpu_us ([%d.]+)")
    assert(cpus, "no figures from the pinned child: " .. out)
    -- sanitizers slow every round trip down (not the old code's spin,
    -- which is bounded by the clock): a looser bound there
    local bound = SANITIZED and 25 or 15
    assert.is_true(tonumber(us) < bound,
      ("%s us of CPU per pinned round trip (bound %d)"):format(us, bound))
    assert.are.equal(1, tonumber(cpus)) -- the policy saw the affinity
  end)
end)

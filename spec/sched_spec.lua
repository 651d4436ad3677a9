-- braid.sched: Python's sched.scheduler, its order (time, priority,
-- sequence), cancel/empty/queue/run(blocking), custom clocks, and a queue
-- shared by threads. Waits are bounded; the timed checks use a virtual
-- clock except one generous bound on the default sleep.
local helpers = require "helpers"
local sched = require "braid.sched"
local errors = require "braid.errors"
local threading = require "braid.threading"
local queue = require "braid.queue"

-- A virtual clock: delayfunc advances it and records the delays asked.
local function virtual()
  local clock = { now = 100, delays = {} }
  clock.time = function() return clock.now end
  clock.delay = function(d)
    clock.delays[#clock.delays + 1] = d
    clock.now = clock.now + d
  end
  return clock
end

describe("sched.scheduler", function()
  it("orders events by time, then priority, then entry order", function()
    local c = virtual()
    local s = sched.scheduler(c.time, c.delay)
    local ran = {}
    local function rec(x) ran[#ran + 1] = x end
    s:enterabs(105, 2, rec, { "t105-p2" })
    s:enterabs(105, 1, rec, { "t105-p1-first" })
    s:enterabs(101, 9, rec, { "t101" })
    s:enterabs(105, 1, rec, { "t105-p1-second" })
    local q = s.queue
    assert.equal(4, #q)
    assert.same({ "t101", "t105-p1-first", "t105-p1-second", "t105-p2" },
      { q[1].argument[1], q[2].argument[1], q[3].argument[1], q[4].argument[1] })
    assert.equal(101, q[1].time)
    assert.equal(9, q[1].priority)
    assert.equal(rec, q[1].action)
    assert.is_true(q[2].sequence < q[3].sequence)
    s:run()
    assert.same({ "t101", "t105-p1-first", "t105-p1-second", "t105-p2" }, ran)
    assert.equal(105, c.now)
    -- delays: 1 to reach 101, 0 after each action, 4 to reach 105
    assert.same({ 1, 0, 4, 0, 0, 0 }, c.delays)
    assert.is_true(s:empty())
  end)

  it("enter adds the delay to timefunc(); returns the event", function()
    local c = virtual()
    local s = sched.scheduler(c.time, c.delay)
    local e = s:enter(10, 1, print, { "x" }, { ignored = true })
    assert.equal(110, e.time)
    assert.equal(1, e.priority)
    assert.equal(print, e.action)
    assert.same({ "x" }, e.argument)
    assert.is_number(e.sequence)
    local e2 = s:enter(0, 1, print)
    assert.same({}, e2.argument)
    assert.equal(c.time, s.timefunc)
    assert.equal(c.delay, s.delayfunc)
  end)

  it("cancels, and raises ValueError for an event not queued", function()
    local c = virtual()
    local s = sched.scheduler(c.time, c.delay)
    local ran = {}
    local e1 = s:enter(1, 1, function() ran[#ran + 1] = 1 end)
    local e2 = s:enter(2, 1, function() ran[#ran + 1] = 2 end)
    assert.is_false(s:empty())
    s:cancel(e1)
    assert.equal(1, #s.queue)
    local err = helpers.raises(errors.ValueError, s.cancel, s, e1)
    helpers.message_has(err, "not in list")
    s:run()
    assert.same({ 2 }, ran)
    helpers.raises(errors.ValueError, s.cancel, s, e2) -- already ran
    helpers.raises(errors.TypeError, s.cancel, s, {})
  end)

  it("run(false) runs what is due and returns the delay to the next event", function()
    local c = virtual()
    local s = sched.scheduler(c.time, c.delay)
    local ran = 0
    s:enter(0, 1, function() ran = ran + 1 end)
    s:enter(5, 1, function() ran = ran + 1 end)
    assert.equal(5, s:run(false))
    assert.equal(1, ran)
    c.now = c.now + 5
    assert.is_nil(s:run(false))
    assert.equal(2, ran)
    assert.is_nil(s:run(false)) -- empty
  end)

  it("calls the action itself in the state that entered it (closures work)", function()
    local s = sched.scheduler()
    local count, seen = 0, nil
    local t = {}
    s:enter(0, 1, function(arg) count = count + 1; seen = arg end, { t })
    s:run()
    assert.equal(1, count)
    assert.equal(t, seen) -- the very table, not a copy
  end)

  it("lets an action's error through, the event already gone", function()
    local s = sched.scheduler()
    s:enter(0, 1, function() error(errors.ValueError("boom")) end)
    helpers.raises(errors.ValueError, s.run, s)
    assert.is_true(s:empty())
  end)

  it("checks its arguments", function()
    helpers.raises(errors.TypeError, sched.scheduler, 42)
    helpers.raises(errors.TypeError, sched.scheduler, nil, "x")
    local s = sched.scheduler()
    helpers.raises(errors.TypeError, s.enterabs, s, "soon", 1, print)
    helpers.raises(errors.TypeError, s.enterabs, s, 1, nil, print)
    helpers.raises(errors.TypeError, s.enterabs, s, 1, 1, 42)
    helpers.raises(errors.TypeError, s.enterabs, s, 1, 1, print, "notatable")
    s:enterabs(1, 1, print)
    local e = helpers.raises(errors.TypeError, s.enterabs, s, 1, "high", print)
    helpers.message_has(e, "not supported")
    assert.equal(1, #s.queue) -- the refused event is not queued
    local bad = sched.scheduler(function() return "noon" end)
    helpers.raises(errors.TypeError, bad.enter, bad, 1, 1, print)
    helpers.raises(errors.TypeError, s.enter, s, 1, 1, print, coroutine.create(print))
  end)

  it("sleeps with braid's sleep by default", function()
    local s = sched.scheduler()
    local t0 = helpers.now()
    local at
    s:enter(0.05, 1, function() at = helpers.now() end)
    s:run()
    assert.is_true(at - t0 >= 0.05 - 1e-3)
    assert.is_true(at - t0 < 10)
    assert.equal(require("braid.core").sleep, s.delayfunc)
    assert.equal(require("braid.core").monotonic, s.timefunc)
  end)
end)

describe("sched.scheduler shared by threads", function()
  it("takes events from several threads at once and runs each once", function()
    local c = virtual()
    local s = sched.scheduler(c.time, c.delay)
    local out = queue.Queue()
    local go = threading.Barrier(4)
    local ts = {}
    for k = 1, 4 do
      ts[k] = threading.Thread{target = function(sc, q, b, id)
        b:wait(60)
        for i = 1, 50 do
          sc:enterabs(200 + i, id, function(x) q:put(x) end, { id * 1000 + i })
        end
      end, args = { s, out, go, k }}
      ts[k]:start()
    end
    for k = 1, 4 do ts[k]:join(60); assert.is_false(ts[k]:is_alive()) end
    assert.equal(200, #s.queue)
    s:run()
    local got = out:get_many(1000, false)
    assert.equal(200, #got)
    -- in (time, priority) order: i major, thread id minor
    local n = 0
    for i = 1, 50 do
      for id = 1, 4 do
        n = n + 1
        assert.equal(id * 1000 + i, got[n])
      end
    end
  end)

  it("runs each event exactly once when two threads run it together", function()
    local s = sched.scheduler()
    local out = queue.Queue()
    for i = 1, 300 do s:enterabs(0, 1, function(q, x) q:put(x) end, { out, i }) end
    local go = threading.Barrier(2)
    local ts = {}
    for k = 1, 2 do
      ts[k] = threading.Thread{target = function(sc, b) b:wait(60); sc:run() end,
                               args = { s, go }}
      ts[k]:start()
    end
    for k = 1, 2 do ts[k]:join(60); assert.is_false(ts[k]:is_alive()) end
    local got = out:get_many(1000, false)
    assert.equal(300, #got)
    local seen = {}
    for _, x in ipairs(got) do
      assert.is_nil(seen[x])
      seen[x] = true
    end
    assert.is_true(s:empty())
  end)

  it("keeps calling this state's originals after other threads ran many of its events", function()
    local s = sched.scheduler()
    local out = queue.Queue()
    for i = 1, 300 do s:enterabs(0, 1, function(q, x) q:put(x) end, { out, i }) end
    local t = threading.Thread{target = function(sc) sc:run() end, args = { s }}
    t:start()
    t:join(60)
    assert.is_false(t:is_alive())
    assert.equal(300, #out:get_many(1000, false))
    -- the originals of those 300 are stale now; new events keep theirs
    local count, tables = 0, {}
    for i = 1, 300 do
      tables[i] = {}
      s:enterabs(0, 1, function(tb) count = count + 1; assert(tb == tables[i]) end, { tables[i] })
    end
    assert.equal(300, #s.queue)
    assert.equal(tables[300], s.queue[300].argument[1]) -- this state's own table
    s:run()
    assert.equal(300, count) -- every closure ran here, on the very tables
  end)

  it("a thread's run() sees an event the main state enters while it waits", function()
    local mp = require "braid.multiprocessing"
    local clock = mp.Value("d", 0)
    local waiting, proceed = threading.Event(), threading.Event()
    local s = sched.scheduler(function() return clock.value end, function(d)
      if d > 0 then
        waiting:set()
        assert(proceed:wait(60))
        clock.value = clock.value + d
      end
    end)
    local out = queue.Queue()
    s:enterabs(1, 1, function(q) q:put("first") end, { out })
    local t = threading.Thread{target = function(sc) sc:run() end, args = { s }}
    t:start()
    assert.is_true(waiting:wait(60)) -- the thread waits for time 1
    s:enterabs(0.5, 1, function(q) q:put("inserted") end, { out })
    proceed:set()
    t:join(60)
    assert.is_false(t:is_alive())
    assert.equal("inserted", out:get(true, 60))
    assert.equal("first", out:get(true, 60))
  end)
end)

-- Ctrl-C: the default delayfunc is braid's sleep, which SIGINT ends with
-- KeyboardInterrupt (build/sigrun sends it once the script said "ready"
-- and its main thread sleeps; see spec/sigint_spec.lua).
local sigrun = require "helpers.sigrun"
local HOST = sigrun.HOST
local TSAN = (os.getenv("LD_PRELOAD") or ""):find("tsan", 1, true)
local it_sig = (HOST ~= "none" and not TSAN) and it or pending
describe("sched.scheduler and Ctrl-C", function()
  it_sig("run() waiting for an event ends on SIGINT within 1 s", function()
    local r = sigrun.run_once("sched_run", [[
local s = require("braid.sched").scheduler()
s:enter(30, 1, function() print("not reached") end)
io.stdout:write("ready\n"); io.stdout:flush()
s:run()
print("not reached")
]], "host")
    local ctx = r.out .. r.err
    assert.are.equal("signal 2", r.status, ctx)
    assert.falsy(ctx:find("not reached", 1, true), ctx)
    assert(r.elapsed and r.elapsed < 1.0, ctx)
  end)
end)

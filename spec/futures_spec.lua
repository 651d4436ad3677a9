-- luacheck: globals INIT_COUNT INIT_TAG COUNTER INITS
-- braid.futures: Python's concurrent.futures rules (Future, wait,
-- as_completed, ThreadPoolExecutor), callbacks in the registering state,
-- worker state reuse, function caching, progress bars.
local futures = require "braid.futures"
local threading = require "braid.threading"
local queue = require "braid.queue"
local errors = require "braid.errors"
local core = require "braid.core"
local helpers = require "helpers"
local live = helpers.live

local CancelledError, InvalidStateError = futures.CancelledError,
  futures.InvalidStateError
local TimeoutError, BrokenThreadPool = futures.TimeoutError,
  futures.BrokenThreadPool

local function count(set)
  local n = 0
  for _ in pairs(set) do n = n + 1 end
  return n
end

-- Captures callback error reports while fn runs.
local function capture_reports(fn)
  local reports = {}
  local old = futures._report_callback_error
  futures._report_callback_error = function(f, err)
    reports[#reports + 1] = { f = f, err = err }
  end
  local ok, e = pcall(fn)
  futures._report_callback_error = old
  if not ok then error(e, 0) end
  return reports
end

describe("futures module", function()
  it("is also braid.concurrent.futures", function()
    assert.equal(futures, require "braid.concurrent.futures")
    local braid = require "braid"
    assert.equal(futures, braid.futures)
    assert.equal(futures, braid.concurrent.futures)
  end)

  it("has Python's constants and exception classes", function()
    assert.equal("FIRST_COMPLETED", futures.FIRST_COMPLETED)
    assert.equal("FIRST_EXCEPTION", futures.FIRST_EXCEPTION)
    assert.equal("ALL_COMPLETED", futures.ALL_COMPLETED)
    assert.equal(errors.TimeoutError, futures.TimeoutError)
    assert.is_true(futures.Error:is(CancelledError("x")))
    assert.is_true(futures.Error:is(InvalidStateError("x")))
    assert.is_true(errors.RuntimeError:is(futures.BrokenExecutor("x")))
    assert.is_true(futures.BrokenExecutor:is(BrokenThreadPool("x")))
    assert.equal(BrokenThreadPool, futures.thread.BrokenThreadPool)
  end)
end)

describe("Future", function()
  it("goes through Python's states", function()
    local f = futures.Future()
    assert.is_false(f:done())
    assert.is_false(f:running())
    assert.is_false(f:cancelled())
    assert.matches("state=pending", tostring(f))
    assert.is_true(f:set_running_or_notify_cancel())
    assert.is_true(f:running())
    assert.matches("state=running", tostring(f))
    f:set_result(42)
    assert.is_true(f:done())
    assert.is_false(f:running())
    assert.equal(42, f:result())
    assert.equal(42, f:result()) -- results are not consumed
    assert.is_nil(f:exception())
    assert.matches("state=finished returned number", tostring(f))
  end)

  it("returns every value set", function()
    local f = futures.Future()
    f:set_result(1, nil, "three")
    local a, b, c = f:result()
    assert.equal(1, a); assert.is_nil(b); assert.equal("three", c)
    local g = futures.Future()
    g:set_result()
    assert.equal(0, select("#", g:result()))
  end)

  it("cancels a pending future, not a running or finished one", function()
    local f = futures.Future()
    assert.is_true(f:cancel())
    assert.is_true(f:cancel()) -- again: still true
    assert.is_true(f:cancelled())
    assert.is_true(f:done())
    helpers.raises(CancelledError, f.result, f)
    helpers.raises(CancelledError, f.exception, f)
    assert.is_false(f:set_running_or_notify_cancel())
    assert.equal("CANCELLED_AND_NOTIFIED", f:_state())

    local r = futures.Future()
    r:set_running_or_notify_cancel()
    assert.is_false(r:cancel())
    assert.is_false(r:cancelled())
    r:set_result(1)
    assert.is_false(r:cancel())
  end)

  it("raises InvalidStateError and RuntimeError as Python does", function()
    local f = futures.Future()
    f:set_result(1)
    local err = helpers.raises(InvalidStateError, f.set_result, f, 2)
    helpers.message_has(err, "FINISHED: <Future")
    helpers.raises(InvalidStateError, f.set_exception, f, errors.ValueError("x"))
    helpers.raises(errors.RuntimeError, f.set_running_or_notify_cancel, f)
    assert.equal(1, f:result())
    local c = futures.Future()
    c:cancel()
    err = helpers.raises(InvalidStateError, c.set_result, c, 1)
    helpers.message_has(err, "CANCELLED")
    local r = futures.Future()
    r:set_running_or_notify_cancel()
    helpers.raises(errors.RuntimeError, r.set_running_or_notify_cancel, r)
  end)

  it("stores exceptions", function()
    local f = futures.Future()
    local e = errors.ValueError("bad")
    f:set_exception(e)
    assert.is_true(f:done())
    local got = f:exception()
    assert.is_true(errors.ValueError:is(got))
    assert.equal("bad", got.message)
    local err = helpers.raises(errors.ValueError, f.result, f)
    assert.equal("bad", err.message)
    assert.matches("raised ValueError", tostring(f))
    local s = futures.Future()
    s:set_exception("plain")
    assert.is_true(errors.LuaError:is(s:exception()))
  end)

  it("raises TypeError for set_exception() without the exception", function()
    local f = futures.Future()
    local err = helpers.raises(errors.TypeError, f.set_exception, f)
    helpers.message_has(err, "value expected")
    assert.is_false(f:done())
  end)

  it("times out result() and exception() with TimeoutError", function()
    local f = futures.Future()
    local t0 = helpers.now()
    helpers.raises(TimeoutError, f.result, f, 0.1)
    local dt = helpers.now() - t0
    assert.is_true(dt >= 0.09 and dt < 5, "waited " .. dt)
    helpers.raises(TimeoutError, f.exception, f, 0)
    helpers.raises(TimeoutError, f.result, f, -1) -- negative: no wait
    helpers.raises(errors.TypeError, f.result, f, "x")
  end)

  it("runs a callback added after completion at once", function()
    local f = futures.Future()
    f:set_result(5)
    local seen
    f:add_done_callback(function(g) seen = g:result() end)
    assert.equal(5, seen)
  end)

  it("runs callbacks in order, with the future, when it completes", function()
    local f = futures.Future()
    local order = {}
    for i = 1, 3 do
      f:add_done_callback(function(g)
        assert.equal(f, g)
        order[#order + 1] = i
      end)
    end
    assert.same({}, order)
    f:set_result(true) -- this state's callbacks run now, as in Python
    assert.same({ 1, 2, 3 }, order)
    local c = futures.Future()
    local ran = false
    c:add_done_callback(function(g) ran = g:cancelled() end)
    c:cancel()
    assert.is_true(ran)
  end)

  it("reports a callback's error and still runs the later ones", function()
    local f = futures.Future()
    local later = false
    local reports = capture_reports(function()
      f:add_done_callback(function() error(errors.ValueError("cb failed")) end)
      f:add_done_callback(function() later = true end)
      f:set_result(1)
    end)
    assert.is_true(later)
    assert.equal(1, #reports)
    assert.equal(f, reports[1].f)
    assert.is_true(errors.ValueError:is(reports[1].err))
    assert.is_string(reports[1].err.traceback)
    -- added after completion: reported too
    reports = capture_reports(function()
      f:add_done_callback(function() error("late") end)
    end)
    assert.equal(1, #reports)
  end)

  it("rejects callbacks that cannot be called", function()
    local f = futures.Future()
    helpers.raises(errors.TypeError, f.add_done_callback, f, 42)
  end)

  it("runs callbacks in the state that added them", function()
    local f = futures.Future()
    local got = {}
    f:add_done_callback(function(g)
      got[#got + 1] = { worker = core.is_worker(), value = g:result() }
    end)
    local ok = helpers.run_in_thread(function(fut) fut:set_result("x") end, f)
    assert.is_true(ok)
    -- posted to this state: run at its next poll (run_in_thread's join)
    core.poll()
    assert.equal(1, #got)
    assert.is_false(got[1].worker)
    assert.equal("x", got[1].value)
  end)

  it("is shared by reference with other threads", function()
    local f = futures.Future()
    local t = threading.Thread{ target = function(fut)
      fut:set_running_or_notify_cancel()
      fut:set_result({ a = 1 })
    end, args = { f } }
    t:start()
    assert.same({ a = 1 }, f:result(30))
    t:join()
    assert.is_true(f:done())
  end)
end)

describe("wait", function()
  it("returns done and not_done sets", function()
    local a, b = futures.Future(), futures.Future()
    a:set_result(1)
    local done, not_done = futures.wait({ a, b }, 0)
    assert.is_true(done[a]); assert.is_nil(done[b])
    assert.is_true(not_done[b]); assert.is_nil(not_done[a])
  end)

  it("never raises on timeout", function()
    local a = futures.Future()
    local t0 = helpers.now()
    local done, not_done = futures.wait({ a }, 0.1)
    assert.is_true(helpers.now() - t0 >= 0.09)
    assert.equal(0, count(done))
    assert.is_true(not_done[a])
  end)

  it("counts duplicates once and takes sets", function()
    local a, b = futures.Future(), futures.Future()
    a:set_result(1); b:set_result(2)
    local done, nd = futures.wait({ a, a, b, a })
    assert.equal(2, count(done)); assert.equal(0, count(nd))
    done = futures.wait({ [a] = true, [b] = true })
    assert.equal(2, count(done))
  end)

  it("FIRST_COMPLETED returns when one completes in another thread", function()
    local a, b = futures.Future(), futures.Future()
    local t = threading.Thread{ target = function(f) f:set_result(1) end, args = { b } }
    t:start()
    local done, nd = futures.wait({ a, b }, 30, futures.FIRST_COMPLETED)
    t:join()
    assert.is_true(done[b]); assert.is_true(nd[a])
  end)

  it("FIRST_EXCEPTION returns at the first error, else when all are done", function()
    local a, b, c = futures.Future(), futures.Future(), futures.Future()
    a:set_result(1)
    b:set_exception(errors.ValueError("x"))
    local done, nd = futures.wait({ a, b, c }, 30, futures.FIRST_EXCEPTION)
    assert.is_true(done[a] and done[b]); assert.is_true(nd[c])
    local d, e = futures.Future(), futures.Future()
    d:set_result(1)
    local t = threading.Thread{ target = function(f) f:set_result(2) end, args = { e } }
    t:start()
    done, nd = futures.wait({ d, e }, 30, futures.FIRST_EXCEPTION)
    t:join()
    assert.equal(2, count(done)); assert.equal(0, count(nd))
  end)

  it("ALL_COMPLETED waits for every future; cancelled ones count", function()
    local a, b = futures.Future(), futures.Future()
    b:cancel()
    local t = threading.Thread{ target = function(f) f:set_result(1) end, args = { a } }
    t:start()
    local done, nd = futures.wait({ a, b })
    t:join()
    assert.equal(2, count(done)); assert.equal(0, count(nd))
  end)

  it("checks its arguments", function()
    helpers.raises(errors.ValueError, futures.wait, {}, nil, "SOMETIMES")
    helpers.raises(errors.TypeError, futures.wait, { 1 })
    helpers.raises(errors.TypeError, futures.wait, 5)
    local d, nd = futures.wait({})
    assert.equal(0, count(d)); assert.equal(0, count(nd))
  end)
end)

describe("as_completed", function()
  it("yields done futures first, then in completion order", function()
    local a, b, c = futures.Future(), futures.Future(), futures.Future()
    b:set_result("b")
    local go = threading.Event()
    local order = {}
    local setter = threading.Thread{ target = function(x, y, ev)
      ev:wait(30)
      y:set_result("c")
      x:set_result("a")
    end, args = { a, c, go } }
    setter:start()
    for f in futures.as_completed({ a, b, c, b }) do
      order[#order + 1] = f:result()
      if #order == 1 then go:set() end
    end
    setter:join()
    assert.same({ "b", "c", "a" }, order) -- duplicate b once
  end)

  it("raises TimeoutError counting from the call", function()
    local a, b = futures.Future(), futures.Future()
    a:set_result(1)
    local got = {}
    local t0 = helpers.now()
    local err = helpers.raises(TimeoutError, function()
      for f in futures.as_completed({ a, b }, 0.1) do got[#got + 1] = f end
    end)
    assert.is_true(helpers.now() - t0 >= 0.09)
    assert.equal(1, #got)
    helpers.message_has(err, "1 (of 2) futures unfinished")
  end)

  it("ends at once for no futures", function()
    for _ in futures.as_completed({}) do error("nothing expected") end
  end)
end)

describe("ThreadPoolExecutor", function()
  it("submits calls and returns futures", function()
    local ex <close> = futures.ThreadPoolExecutor(2)
    local f = ex:submit(function(a, b) return a + b end, 2, 3)
    assert.equal(5, f:result())
    local g = ex:submit(function(...) return select("#", ...), ... end, nil, 2)
    local n, a, b = g:result()
    assert.equal(2, n); assert.is_nil(a); assert.equal(2, b)
    assert.matches("ThreadPoolExecutor", tostring(ex))
  end)

  it("checks its arguments", function()
    helpers.raises(errors.ValueError, futures.ThreadPoolExecutor, 0)
    helpers.raises(errors.TypeError, futures.ThreadPoolExecutor, "x")
    helpers.raises(errors.TypeError, futures.ThreadPoolExecutor, 1, nil, 5)
    local ex <close> = futures.ThreadPoolExecutor{ max_workers = 1 }
    helpers.raises(errors.TypeError, ex.submit, ex, 5)
    helpers.raises(errors.TypeError, ex.submit, ex, function() end, coroutine.create(print))
    helpers.raises(errors.ValueError, ex.map, ex, print, {1}, { chunksize = 0 })
  end)

  it("names its threads after the prefix", function()
    local ex <close> = futures.ThreadPoolExecutor(1, "mypool")
    assert.equal("mypool_0", ex:submit(function()
      return require("braid.threading").current_thread().name
    end):result())
  end)

  it("raises a task's error with the worker's traceback as cause", function()
    local ex <close> = futures.ThreadPoolExecutor(1)
    local f = ex:submit(function() error(require("braid.errors").ValueError("bad value")) end)
    local err = helpers.raises(errors.ValueError, f.result, f)
    assert.equal("bad value", err.message)
    assert.is_true(errors.ValueError:is(err.cause))
    assert.matches("traceback", err.cause.traceback)
    local e = f:exception()
    assert.is_true(errors.ValueError:is(e))
    assert.is_string(e.traceback)
    assert.matches("raised ValueError", tostring(f))
    local g = ex:submit(function() error("plain text") end)
    err = helpers.raises(errors.LuaError, g.result, g)
    assert.matches("plain text", err.message)
    -- an error that cannot travel arrives as text
    local h = ex:submit(function() error({ co = coroutine.create(print) }) end)
    helpers.raises(errors.RuntimeError, h.result, h)
  end)

  it("cannot cancel a running future; cancels a pending one", function()
    local ex <close> = futures.ThreadPoolExecutor(1)
    local started, gate = threading.Event(), threading.Event()
    local f = ex:submit(function(s, g) s:set(); g:wait(); return "ran" end, started, gate)
    local pending = ex:submit(function() return "never" end)
    assert.is_true(started:wait(30))
    assert.is_true(f:running())
    assert.is_false(f:cancel())
    assert.is_true(pending:cancel())
    gate:set()
    assert.equal("ran", f:result())
    helpers.raises(CancelledError, pending.result, pending)
  end)

  it("raises RuntimeError on submit after shutdown", function()
    local ex = futures.ThreadPoolExecutor(1)
    ex:shutdown()
    local err = helpers.raises(errors.RuntimeError, ex.submit, ex, print)
    helpers.message_has(err, "cannot schedule new futures after shutdown")
    helpers.raises(errors.RuntimeError, ex.map, ex, print, { 1 })
    ex:shutdown() -- twice is fine
  end)

  it("shutdown(cancel_futures) cancels what has not started", function()
    local ex = futures.ThreadPoolExecutor(1)
    local started, gate = threading.Event(), threading.Event()
    local running = ex:submit(function(s, g) s:set(); g:wait(); return 1 end, started, gate)
    local queued = {}
    for i = 1, 5 do queued[i] = ex:submit(function() return i end) end
    assert.is_true(started:wait(30))
    ex:shutdown(false, { cancel_futures = true })
    for i = 1, 5 do assert.is_true(queued[i]:cancelled()) end
    gate:set()
    assert.equal(1, running:result())
    ex:shutdown(true)
  end)

  it("shuts down at the end of a to-be-closed scope", function()
    local ex2
    local gate = threading.Event()
    local f
    do
      local ex <close> = futures.ThreadPoolExecutor(2)
      ex2 = ex
      f = ex:submit(function(g) g:wait(); return "finished" end, gate)
      gate:set()
    end
    -- shutdown(wait=true) ran: queued work finished, workers ended
    assert.is_true(f:done())
    assert.equal("finished", f:result())
    local _, alive = ex2._pool:info()
    assert.equal(0, alive)
  end)

  it("keeps worker states and runs the initializer once per worker", function()
    local q = queue.Queue()
    local barrier = threading.Barrier(2)
    local ex <close> = futures.ThreadPoolExecutor(2, nil, function(qq, tag)
      INIT_COUNT = (INIT_COUNT or 0) + 1
      INIT_TAG = tag
      qq:put(require("braid.threading").current_thread().name)
    end, { q, "tagged" })
    -- two tasks that meet at a barrier force two workers
    local a = ex:submit(function(b) b:wait() end, barrier)
    local b = ex:submit(function(b) b:wait() end, barrier)
    a:result(30); b:result(30)
    local fs = {}
    for i = 1, 40 do
      fs[i] = ex:submit(function()
        COUNTER = (COUNTER or 0) + 1 -- state kept across tasks
        return INIT_COUNT, INIT_TAG, COUNTER
      end)
    end
    local total = 0
    local maxc = {}
    for i = 1, 40 do
      local n, tag, c = fs[i]:result()
      assert.equal(1, n)
      assert.equal("tagged", tag)
      total = total + 1
      maxc[#maxc + 1] = c
    end
    assert.equal(40, total)
    table.sort(maxc)
    assert.is_true(maxc[#maxc] >= 20) -- a worker ran many tasks in one state
    assert.equal(2, q:qsize())
  end)

  it("copies a function submitted many times to each worker once", function()
    local ex <close> = futures.ThreadPoolExecutor(2)
    local function probe()
      return require("braid.core").pool_worker_stats().decodes
    end
    local fs = {}
    for i = 1, 100 do fs[i] = ex:submit(probe) end
    for i = 1, 100 do assert.equal(1, fs[i]:result()) end
    -- map's chunks use the same cache
    for _, d in ex:map(probe, { 1, 2, 3, 4, 5, 6 }) do assert.equal(1, d) end
    -- a new function is one more decode (one worker: the same state)
    local one <close> = futures.ThreadPoolExecutor(1)
    assert.equal(1, one:submit(probe):result())
    assert.equal(1, one:submit(probe):result())
    local other = function() return probe() end
    assert.equal(2, one:submit(other):result())
  end)

  it("fails pending work with BrokenThreadPool when the initializer fails", function()
    local ex = futures.ThreadPoolExecutor(1, nil, function() error("init failed") end)
    local f = ex:submit(function() return 1 end)
    local err = helpers.raises(BrokenThreadPool, f.result, f, 30)
    helpers.message_has(err, "initializer failed")
    assert.is_true(BrokenThreadPool:is(f:exception()))
    helpers.raises(BrokenThreadPool, ex.submit, ex, print)
    helpers.raises(BrokenThreadPool, ex.map, ex, print, { 1 })
    ex:shutdown()
  end)

  it("sends done-callbacks back to the submitting state", function()
    local ex <close> = futures.ThreadPoolExecutor(2)
    local got = {}
    local fs = {}
    for i = 1, 10 do
      fs[i] = ex:submit(function(x) return x * 10 end, i)
      fs[i]:add_done_callback(function(f)
        -- result() polls: other callbacks may run inside it, so take the
        -- value before computing the slot
        local v = f:result()
        got[#got + 1] = v
        assert.is_false(core.is_worker())
      end)
    end
    futures.wait(fs)
    core.poll()
    table.sort(got)
    assert.equal(10, #got)
    assert.equal(100, got[10])
  end)

  it("runs this state's callbacks while it waits in result()", function()
    local ex <close> = futures.ThreadPoolExecutor(1)
    local gate = threading.Event()
    local f = futures.Future()
    local ran = false
    f:add_done_callback(function() ran = true; gate:set() end)
    -- the task completes f (posting the callback here), then waits for
    -- the gate that only the callback sets
    local slow = ex:submit(function(g, fut)
      fut:set_result(1)
      return g:wait(30)
    end, gate, f)
    assert.is_true(slow:result(60))
    assert.is_true(ran)
  end)
end)

describe("Executor:map", function()
  local ex
  setup(function() ex = futures.ThreadPoolExecutor(2) end)
  teardown(function() ex:shutdown() end)

  local function collect(...)
    local out = {}
    for i, v in ... do out[#out + 1] = { i, v } end
    return out
  end

  it("yields index, result in order for every chunksize", function()
    local items = {}
    for i = 1, 25 do items[i] = i end
    for _, cs in ipairs { 1, 2, 7, 25, 100 } do
      local out = collect(ex:map(function(x) return x * x end, items, { chunksize = cs }))
      assert.equal(25, #out)
      for i = 1, 25 do assert.same({ i, i * i }, out[i]) end
    end
  end)

  it("keeps nil results and takes iterator functions", function()
    local out = collect(ex:map(function(x) if x % 2 == 0 then return x end end,
                               { 1, 2, 3, 4 }))
    assert.same({ { 1, nil }, { 2, 2 }, { 3, nil }, { 4, 4 } }, out)
    local words = ("a bb ccc"):gmatch("%S+")
    out = collect(ex:map(string.len, words))
    assert.same({ { 1, 1 }, { 2, 2 }, { 3, 3 } }, out)
    -- chained: map's own iterator gives its results
    out = collect(ex:map(function(x) return -x end,
                         ex:map(function(x) return x + 1 end, { 1, 2 })))
    assert.same({ { 1, -2 }, { 2, -3 } }, out)
    for _ in ex:map(print, {}) do error("nothing expected") end
  end)

  it("submits every item at once", function()
    local barrier = threading.Barrier(3)
    local it = ex:map(function(b) b:wait(); return true end, { barrier, barrier })
    -- not iterating yet: both tasks must already run for the barrier
    assert.is_true(barrier:wait(30) >= 1)
    for _, v in it do assert.is_true(v) end
  end)

  it("raises when the failing element is reached", function()
    for _, cs in ipairs { 1, 3 } do
      local got = {}
      local err = helpers.raises(errors.ValueError, function()
        for _, v in ex:map(function(x)
          if x == 4 then error(require("braid.errors").ValueError("four")) end
          return x
        end, { 1, 2, 3, 4, 5, 6 }, { chunksize = cs }) do
          got[#got + 1] = v
        end
      end)
      assert.same({ 1, 2, 3 }, got)
      assert.equal("four", err.message)
      assert.is_string(err.cause.traceback)
    end
  end)

  it("times out counting from the call", function()
    local ex2 <close> = futures.ThreadPoolExecutor(1)
    local gate = threading.Event()
    local t0 = helpers.now()
    local it = ex2:map(function(g) g:wait(30); return 1 end, { gate }, { timeout = 0.15 })
    helpers.raises(TimeoutError, function() for _ in it do end end)
    local dt = helpers.now() - t0
    assert.is_true(dt >= 0.14 and dt < 10, "waited " .. dt)
    -- the deadline is fixed at the call: iterating late times out at once
    it = ex2:map(function(g) g:wait(30); return 1 end, { gate }, { timeout = 0.2 })
    core.sleep(0.25)
    t0 = helpers.now()
    helpers.raises(TimeoutError, function() for _ in it do end end)
    assert.is_true(helpers.now() - t0 < 0.15)
    gate:set()
  end)

  it("gives every result once, in order, over many segments of items", function()
    -- items are encoded and handed to the workers segment by segment
    local n = 5000
    local items = {}
    for i = 1, n do items[i] = i end
    for _, cs in ipairs { 1, 7, 1000, 3000, 6000 } do
      local k = 0
      for i, v in ex:map(function(x) return x * 2 end, items, { chunksize = cs }) do
        k = k + 1
        assert.equal(k, i)
        assert.equal(2 * i, v)
      end
      assert.equal(n, k)
    end
  end)

  it("raises an item's TypeError after the workers started on the items before it", function()
    local items = {}
    for i = 1, 3000 do items[i] = i end
    items[2500] = { co = coroutine.create(print) }
    local err = helpers.raises(errors.TypeError, ex.map, ex, function(x) return x end,
                               items, { chunksize = 7 })
    helpers.message_has(err, "iterable[2500].co")
    -- the executor goes on
    local out = collect(ex:map(function(x) return x + 1 end, { 1, 2 }))
    assert.same({ { 1, 2 }, { 2, 3 } }, out)
  end)

  it("raises when shut down while a map's items are encoded", function()
    -- as when shut down before the call: the items are encoded and handed
    -- out segment by segment, so the first may have run
    for _, cancel in ipairs { false, true } do
      local ex1 = futures.ThreadPoolExecutor(2)
      local items = {}
      for i = 1, 3000 do items[i] = i end
      items[2500] = setmetatable({}, { __braidreduce = function()
        ex1:shutdown(false, { cancel_futures = cancel })
        return function(v) return v end, 2500
      end })
      local err = helpers.raises(errors.RuntimeError, ex1.map, ex1,
                                 function(x) return x end, items, { chunksize = 7 })
      helpers.message_has(err, "after shutdown")
      ex1:shutdown(true)
    end
  end)

  it("cancels what has not started when the loop ends early", function()
    local ex1 <close> = futures.ThreadPoolExecutor(1)
    local q = queue.Queue()
    local gate = threading.Event()
    local items = {}
    for i = 1, 10 do items[i] = i end
    for _, v in ex1:map(function(x) -- luacheck: ignore 512 (leaves at once)
      q:put(x)
      if x == 2 then gate:wait(30) end
      return x
    end, items) do
      assert.equal(1, v)
      break
    end
    gate:set()
    ex1:shutdown(true)
    assert.is_true(q:qsize() <= 2, "ran " .. q:qsize())
  end)
end)

describe("braid.progress", function()
  local progress = require "braid.progress"

  local function fakefile()
    local f = { out = {} }
    function f:write(...) for _, s in ipairs { ... } do self.out[#self.out + 1] = s end end
    function f.flush() end
    return f
  end

  it("draws count, rate and ETA when forced", function()
    local file = fakefile()
    local seen = {}
    for i, v in progress({ 10, 20, 30 }, { force = true, file = file, desc = "x" }) do
      seen[i] = v
    end
    assert.same({ 10, 20, 30 }, seen)
    local text = table.concat(file.out)
    assert.matches("x: 100%%", text)
    assert.matches("3/3", text)
    assert.matches("it/s", text)
  end)

  it("stays silent when output is not a terminal", function()
    local file = fakefile()
    for _ in progress({ 1, 2 }, { file = file, enabled = false }) do end
    assert.equal(0, #file.out)
    local bar = progress.Bar { file = file }
    if not core.isatty(2) then
      bar:update(1); bar:close()
      assert.equal(0, #file.out)
    end
  end)

  it("wraps map iterators and as_completed with their totals", function()
    local ex <close> = futures.ThreadPoolExecutor(2)
    local file = fakefile()
    local n = 0
    for i, v in progress(ex:map(function(x) return x end, { 1, 2, 3, 4 })) do
      n = n + 1
      assert.equal(i, v)
    end
    assert.equal(4, n)
    local fs = { ex:submit(function() return 1 end), ex:submit(function() return 2 end) }
    local sum = 0
    for f in progress(fs, { force = true, file = file }) do sum = sum + f:result() end
    assert.equal(3, sum)
    assert.matches("2/2", table.concat(file.out))
    local it = ex:map(function(x) return x end, { 1, 2 }, { progress = true })
    for _ in it do end
  end)
end)

describe("futures objects", function()
  it("leak nothing once shut down", function()
    local before = live()
    do
      local ex <close> = futures.ThreadPoolExecutor(3, nil, function() end)
      local fs = {}
      for i = 1, 50 do fs[i] = ex:submit(function(x) return { x } end, i) end
      futures.wait(fs)
      for _ in futures.as_completed(fs) do end
      for _ in ex:map(function(x) return x end, fs) do end
      fs[1]:add_done_callback(function() end)
      local e = ex:submit(error, "x")
      futures.wait({ e })
    end
    -- at most as many: other states (workers of pools still open) may
    -- let go of older objects meanwhile, so the count can also drop
    assert.is_true(live() <= before)
  end)
end)

-- Synchronisation objects of braid.threading (src/core/sync.c,
-- src/bind/lsync.c): Python's semantics, errors and their classes.
-- Worker functions report through braid objects (semaphores, events), which
-- travel by reference; every blocking call has a timeout.
local threading = require "braid.threading"
local core = require "braid.core"
local errors = require "braid.errors"
local helpers = require "helpers"

local raises, message_has, now = helpers.raises, helpers.message_has, helpers.now
local ValueError, RuntimeError, TypeError, OverflowError =
  errors.ValueError, errors.RuntimeError, errors.TypeError, errors.OverflowError
local BrokenBarrierError = threading.BrokenBarrierError

local function spawn(fn, ...)
  local t = threading.Thread{ target = fn, args = { ... } }
  t:start()
  return t
end

local function join(t)
  t:join(10)
  assert.is_false(t:is_alive(), "thread did not end in time")
end

-- Takes 'n' units of 'sem', each within a generous bound.
local function take(sem, n)
  for _ = 1, n do assert.is_true(sem:acquire(true, 5)) end
end

-- Asserts 'sem' has no unit left (without waiting).
local function empty(sem)
  assert.is_false(sem:acquire(false))
end

-- Waits (bounded) until pred() holds; for state that has no event.
local function eventually(pred)
  local deadline = now() + 5
  while not pred() do
    assert(now() < deadline, "condition not reached in time")
    core.sleep(0.001)
  end
end

local function timed(fn, ...)
  local t0 = now()
  local r = fn(...)
  return r, now() - t0
end


describe("Lock", function()
  it("is exposed by threading and braid.core", function()
    assert.equal(core.Lock, threading.Lock)
    assert.equal("braid.Lock", getmetatable(threading.Lock()).__name)
  end)

  it("acquires, reports locked() and releases", function()
    local l = threading.Lock()
    assert.is_false(l:locked())
    assert.is_true(l:acquire())
    assert.is_true(l:locked())
    assert.is_false(l:acquire(false))
    l:release()
    assert.is_false(l:locked())
    assert.is_true(l:acquire(false))
    l:release()
  end)

  it("acquire(true, timeout) returns false after the timeout", function()
    local l = threading.Lock()
    l:acquire()
    local r, dt = timed(l.acquire, l, true, 0.2)
    assert.is_false(r)
    assert.is_true(dt >= 0.2 and dt < 5)
    r, dt = timed(l.acquire, l, true, 0)
    assert.is_false(r)
    assert.is_true(dt < 1)
    l:release()
  end)

  it("raises ValueError for a timeout with a non-blocking call", function()
    local l = threading.Lock()
    local err = raises(ValueError, l.acquire, l, false, 1)
    message_has(err, "can't specify a timeout for a non-blocking call")
    assert.is_false(l:locked())
  end)

  it("raises ValueError for a negative timeout other than -1", function()
    local l = threading.Lock()
    local err = raises(ValueError, l.acquire, l, true, -2)
    message_has(err, "timeout value must be a non-negative number")
    raises(ValueError, l.acquire, l, true, 0 / 0)
    assert.is_true(l:acquire(true, -1))
    l:release()
  end)

  it("raises OverflowError above TIMEOUT_MAX", function()
    local l = threading.Lock()
    raises(OverflowError, l.acquire, l, true, threading.TIMEOUT_MAX * 2)
  end)

  it("raises TypeError for wrong argument types", function()
    local l = threading.Lock()
    local err = raises(TypeError, l.acquire, l, true, "1")
    message_has(err, "number expected, got string")
    raises(TypeError, l.acquire, threading.RLock())
    raises(TypeError, l.release, {})
    raises(TypeError, l.locked, nil)
  end)

  it("raises RuntimeError when releasing an unlocked lock", function()
    local l = threading.Lock()
    local err = raises(RuntimeError, l.release, l)
    message_has(err, "release unlocked lock")
  end)

  it("may be released by another thread", function()
    local l, done = threading.Lock(), threading.Semaphore(0)
    l:acquire()
    join(spawn(function() l:release(); done:release() end))
    take(done, 1)
    assert.is_false(l:locked())
  end)

  it("blocks acquire(true, -1) until another thread releases it", function()
    local l = threading.Lock()
    local started, got = threading.Event(), threading.Event()
    l:acquire()
    local t = spawn(function()
      started:set()
      if l:acquire(true, -1) then got:set(); l:release() end
    end)
    assert.is_true(started:wait(5))
    assert.is_false(got:wait(0.05))
    l:release()
    assert.is_true(got:wait(5))
    join(t)
  end)

  it("guard() releases at the end of a <close> scope", function()
    local l = threading.Lock()
    do
      local g <close> = l:guard()
      assert.equal(l, g)
      assert.is_true(l:locked())
    end
    assert.is_false(l:locked())
    pcall(function()
      local g <close> = l:guard()
      error("inside")
    end)
    assert.is_false(l:locked())
  end)

  it("with() returns the results and always releases", function()
    local l = threading.Lock()
    local a, b, c = l:with(function(x, y) return x + y, l:locked(), "z" end, 1, 2)
    assert.same({ 3, true, "z" }, { a, b, c })
    assert.is_false(l:locked())
    local ok, err = pcall(l.with, l, function() error(ValueError("nope")) end)
    assert.is_false(ok)
    assert.is_true(ValueError:is(err))
    assert.is_false(l:locked())
  end)

  it("prints like Python's repr", function()
    local l = threading.Lock()
    assert.matches("^<unlocked braid%.Lock object at 0x%x+>$", tostring(l))
    l:acquire()
    assert.matches("^<locked braid%.Lock object at 0x%x+>$", tostring(l))
    l:release()
  end)

  it("keeps 4 threads x 10000 increments mutually exclusive", function()
    local l = threading.Lock()
    local inside, overlaps = threading.Event(), threading.Semaphore(0)
    local count, done = threading.Semaphore(0), threading.Semaphore(0)
    local function work(n)
      for _ = 1, n do
        l:acquire()
        if inside:is_set() then overlaps:release() end
        inside:set()
        count:release()
        inside:clear()
        l:release()
      end
      done:release()
    end
    local ts = {}
    for i = 1, 4 do ts[i] = spawn(work, 10000) end
    for i = 1, 4 do join(ts[i]) end
    take(done, 4)
    empty(overlaps)
    for _ = 1, 40000 do assert(count:acquire(false)) end
    empty(count)
  end)
end)


describe("RLock", function()
  it("is re-entrant for its owner and counts levels", function()
    local r = threading.RLock()
    assert.equal("braid.RLock", getmetatable(r).__name)
    assert.is_true(r:acquire())
    assert.is_true(r:acquire(false))
    assert.is_true(r:_is_owned())
    assert.equal(2, r:_recursion_count())
    assert.matches("^<locked braid%.RLock object owner=%d+ count=2 at 0x%x+>$",
      tostring(r))
    r:release()
    assert.is_true(r:_is_owned())
    r:release()
    assert.is_false(r:_is_owned())
    assert.matches("^<unlocked braid%.RLock object owner=0 count=0 at 0x%x+>$",
      tostring(r))
  end)

  it("records the owner as threading.get_ident()", function()
    local r = threading.RLock()
    r:acquire()
    assert.truthy(tostring(r):find("owner=" .. threading.get_ident(), 1, true))
    r:release()
  end)

  it("raises RuntimeError when released unowned", function()
    local r = threading.RLock()
    local err = raises(RuntimeError, r.release, r)
    message_has(err, "cannot release un-acquired lock")
  end)

  it("cannot be released or taken by another thread", function()
    local r = threading.RLock()
    local ok = threading.Semaphore(0)
    r:acquire()
    join(spawn(function()
      local good, err = pcall(r.release, r)
      if not good and errors.RuntimeError:is(err) then ok:release() end
      if not r:_is_owned() then ok:release() end
      if r:acquire(false) == false then ok:release() end
      if r:acquire(true, 0.05) == false then ok:release() end
    end))
    take(ok, 4)
    assert.is_true(r:_is_owned())
    r:release()
  end)

  it("follows Lock's acquire argument rules", function()
    local r = threading.RLock()
    message_has(raises(ValueError, r.acquire, r, false, 1),
      "can't specify a timeout for a non-blocking call")
    message_has(raises(ValueError, r.acquire, r, true, -5),
      "timeout value must be a non-negative number")
    raises(OverflowError, r.acquire, r, true, 1e300)
    raises(TypeError, r.acquire, r, true, {})
    raises(TypeError, r.release, threading.Lock())
  end)

  it("times out while another thread owns it", function()
    local r, held, go = threading.RLock(), threading.Event(), threading.Event()
    local t = spawn(function()
      r:acquire(); held:set(); go:wait(5); r:release()
    end)
    assert.is_true(held:wait(5))
    local got, dt = timed(r.acquire, r, true, 0.2)
    assert.is_false(got)
    assert.is_true(dt >= 0.2 and dt < 5)
    go:set()
    assert.is_true(r:acquire(true, 5))
    r:release()
    join(t)
  end)

  it("guard() and with() release one level", function()
    local r = threading.RLock()
    r:acquire()
    do
      local g <close> = r:guard()
      assert.equal(2, r:_recursion_count())
    end
    assert.equal(1, r:_recursion_count())
    assert.equal(2, r:with(function() return r:_recursion_count() end))
    r:release()
    assert.is_false(r:locked())
  end)
end)


describe("Condition", function()
  it("uses a new RLock by default, or the given Lock or RLock", function()
    local c = threading.Condition()
    assert.equal("braid.Condition", getmetatable(c).__name)
    assert.matches("^<braid%.Condition%(<unlocked braid%.RLock .*>, 0%)>$",
      tostring(c))
    local l = threading.Lock()
    c = threading.Condition(l)
    c:acquire()
    assert.is_true(l:locked())
    c:release()
    assert.is_false(l:locked())
    c = threading.Condition{ lock = l }
    assert.truthy(tostring(c):find("braid.Lock", 1, true))
  end)

  it("raises TypeError for a lock that is not a Lock or RLock", function()
    message_has(raises(TypeError, threading.Condition, 5),
      "braid.Lock or braid.RLock expected, got number")
    raises(TypeError, threading.Condition, threading.Semaphore())
    raises(TypeError, threading.Condition, threading.Condition())
  end)

  it("raises RuntimeError for wait/notify without the lock", function()
    local c = threading.Condition()
    message_has(raises(RuntimeError, c.wait, c), "cannot wait on un-acquired lock")
    message_has(raises(RuntimeError, c.wait, c, 0), "cannot wait on un-acquired lock")
    message_has(raises(RuntimeError, c.notify, c), "cannot notify on un-acquired lock")
    message_has(raises(RuntimeError, c.notify_all, c),
      "cannot notify on un-acquired lock")
    message_has(raises(RuntimeError, c.release, c), "cannot release un-acquired lock")
    local cl = threading.Condition(threading.Lock())
    message_has(raises(RuntimeError, cl.release, cl), "release unlocked lock")
  end)

  it("treats a plain Lock held by any thread as owned", function()
    local l = threading.Lock()
    local c = threading.Condition(l)
    join(spawn(function() l:acquire() end))
    assert.is_true(c:_is_owned())
    assert.is_false(c:wait(0))
    c:notify()
    c:release()
  end)

  it("wait(timeout) returns false after the timeout", function()
    local c = threading.Condition()
    c:acquire()
    local r, dt = timed(c.wait, c, 0.2)
    assert.is_false(r)
    assert.is_true(dt >= 0.2 and dt < 5)
    r, dt = timed(c.wait, c, -1)
    assert.is_false(r)
    assert.is_true(dt < 1)
    assert.is_false(c:wait(0))
    assert.is_true(c:_is_owned())
    c:release()
  end)

  it("raises for bad timeouts and notify counts", function()
    local c = threading.Condition()
    c:acquire()
    raises(TypeError, c.wait, c, "soon")
    raises(OverflowError, c.wait, c, 1e300)
    raises(ValueError, c.notify, c, -1)
    raises(TypeError, c.notify, c, 1.5)
    raises(TypeError, c.wait_for, c, 42)
    raises(TypeError, c.wait_for, c)
    c:release()
  end)

  it("releases an RLock fully while waiting and restores its depth", function()
    local c = threading.Condition()
    local got = threading.Event()
    c:acquire(); c:acquire(); c:acquire()
    local t = spawn(function()
      c:acquire(); got:set(); c:notify(); c:release()
    end)
    assert.is_true(c:wait(5))
    assert.is_true(got:is_set())
    assert.is_true(c:_is_owned())
    assert.matches("count=3", tostring(c))
    c:release(); c:release(); c:release()
    assert.matches("unlocked", tostring(c))
    join(t)
  end)

  it("notify(n) wakes exactly n waiters, oldest first", function()
    local c = threading.Condition()
    local ready, woke = threading.Semaphore(0), threading.Semaphore(0)
    local flags, ts = {}, {}
    for i = 1, 5 do
      local flag = threading.Event()
      flags[i] = flag
      ts[i] = spawn(function()
        c:acquire()
        ready:release()
        if c:wait(10) then flag:set() end
        woke:release()
        c:release()
      end)
      -- Thread i is queued before it lets the lock go, so the next one
      -- queues after it.
      take(ready, 1)
    end
    c:acquire()
    assert.matches(", 5%)>$", tostring(c))
    c:notify(2)
    c:release()
    take(woke, 2)
    assert.is_false(woke:acquire(true, 0.1))
    assert.is_true(flags[1]:is_set() and flags[2]:is_set())
    assert.is_false(flags[3]:is_set() or flags[4]:is_set() or flags[5]:is_set())
    c:acquire(); c:notify(); c:release()
    take(woke, 1)
    assert.is_true(flags[3]:is_set())
    assert.is_false(flags[4]:is_set() or flags[5]:is_set())
    c:acquire(); c:notify(0); c:notify_all(); c:release()
    take(woke, 2)
    for i = 1, 5 do join(ts[i]) end
    for i = 1, 5 do assert.is_true(flags[i]:is_set()) end
  end)

  it("wait_for returns the predicate's value once it holds", function()
    local c = threading.Condition(threading.Lock())
    local flag = threading.Event()
    assert.equal("now", c:wait_for(function() return "now" end))
    c:acquire()
    local t = spawn(function()
      c:acquire(); flag:set(); c:notify_all(); c:release()
    end)
    local r = c:wait_for(function() return flag:is_set() and "yes" end, 5)
    assert.equal("yes", r)
    c:release()
    join(t)
  end)

  it("wait_for returns the last false value after the timeout", function()
    local c = threading.Condition()
    local calls = 0
    c:acquire()
    local t0 = now()
    local r = c:wait_for(function() calls = calls + 1; return nil end, 0.2)
    local dt = now() - t0
    assert.is_nil(r)
    assert.is_true(calls >= 2)
    assert.is_true(dt >= 0.2 and dt < 5)
    assert.equal(false, c:wait_for(function() return false end, -1))
    c:release()
  end)

  it("holds one reference to its lock, dropped when it dies", function()
    local l = threading.Lock()
    do
      local c = threading.Condition(l)
      assert.equal(2, core._test.refs(l))
      assert.is_true(c:acquire(false))
      c:release()
    end
    collectgarbage(); collectgarbage()
    assert.equal(1, core._test.refs(l))
  end)

  it("guard(), with() and <close> use its lock", function()
    local l = threading.Lock()
    local c = threading.Condition(l)
    do
      local g <close> = c:guard()
      assert.is_true(l:locked())
    end
    assert.is_false(l:locked())
    assert.is_true(c:with(function() return l:locked() end))
    assert.is_false(l:locked())
  end)
end)


describe("Semaphore", function()
  it("counts acquires and releases", function()
    local s = threading.Semaphore(2)
    assert.equal("braid.Semaphore", getmetatable(s).__name)
    assert.is_true(s:acquire())
    assert.is_true(s:acquire(false))
    assert.is_false(s:acquire(false))
    s:release(2)
    assert.matches("^<braid%.Semaphore at 0x%x+: value=2>$", tostring(s))
    local d = threading.Semaphore()
    assert.is_true(d:acquire(false))
    assert.is_false(d:acquire(false))
    assert.is_true(threading.Semaphore{ value = 0 }:acquire(false) == false)
  end)

  it("raises ValueError for a negative initial value", function()
    message_has(raises(ValueError, threading.Semaphore, -1),
      "semaphore initial value must be >= 0")
    raises(TypeError, threading.Semaphore, true)
    raises(TypeError, threading.Semaphore, 1.5)
  end)

  it("raises ValueError for a timeout with a non-blocking acquire", function()
    local s = threading.Semaphore(1)
    message_has(raises(ValueError, s.acquire, s, false, 1),
      "can't specify timeout for non-blocking acquire")
    raises(TypeError, s.acquire, s, true, "x")
    raises(OverflowError, s.acquire, s, true, 1e300)
  end)

  it("returns false at once for a negative timeout, after a positive one", function()
    local s = threading.Semaphore(0)
    local r, dt = timed(s.acquire, s, true, -1)
    assert.is_false(r)
    assert.is_true(dt < 1)
    r, dt = timed(s.acquire, s, true, 0.2)
    assert.is_false(r)
    assert.is_true(dt >= 0.2 and dt < 5)
  end)

  it("raises ValueError for release(n) with n < 1", function()
    local s = threading.Semaphore(0)
    message_has(raises(ValueError, s.release, s, 0), "n must be one or more")
    raises(ValueError, s.release, s, -3)
    raises(TypeError, s.release, s, true)
    assert.is_false(s:acquire(false))
  end)

  it("release(n) wakes n waiting threads", function()
    local s, started, done = threading.Semaphore(0), threading.Semaphore(0),
      threading.Semaphore(0)
    local ts = {}
    for i = 1, 3 do
      ts[i] = spawn(function()
        started:release()
        if s:acquire(true, 10) then done:release() end
      end)
    end
    take(started, 3)
    s:release(3)
    take(done, 3)
    for i = 1, 3 do join(ts[i]) end
    assert.is_false(s:acquire(false))
  end)

  it("guard(), with() and <close> take and give back one unit", function()
    local s = threading.Semaphore(1)
    do
      local g <close> = s:guard()
      assert.is_false(s:acquire(false))
    end
    assert.is_true(s:with(function() return s:acquire(false) == false end))
    assert.matches("value=1>$", tostring(s))
    pcall(function()
      local g <close> = s:guard()
      error("inside")
    end)
    assert.matches("value=1>$", tostring(s))
  end)

  it("admits at most its value of threads at once", function()
    local s = threading.Semaphore(2)
    local slots = { threading.Lock(), threading.Lock() }
    local overlaps, done = threading.Semaphore(0), threading.Semaphore(0)
    -- Inside the semaphore at most two threads hold the two slot locks;
    -- a third one would find both taken.
    local function work(n)
      for _ = 1, n do
        s:acquire()
        local mine
        for i = 1, 2 do
          if slots[i]:acquire(false) then mine = slots[i]; break end
        end
        if mine then mine:release() else overlaps:release() end
        s:release()
      end
      done:release()
    end
    local ts = {}
    for i = 1, 4 do ts[i] = spawn(work, 5000) end
    for i = 1, 4 do join(ts[i]) end
    take(done, 4)
    empty(overlaps)
  end)
end)


describe("BoundedSemaphore", function()
  it("raises ValueError when released too many times", function()
    local s = threading.BoundedSemaphore(2)
    assert.equal("braid.BoundedSemaphore", getmetatable(s).__name)
    message_has(raises(ValueError, s.release, s), "Semaphore released too many times")
    assert.matches("^<braid%.BoundedSemaphore at 0x%x+: value=2/2>$", tostring(s))
  end)

  it("leaves the value unchanged after a refused release", function()
    local s = threading.BoundedSemaphore{ value = 3 }
    s:acquire(); s:acquire()
    raises(ValueError, s.release, s, 3)
    assert.matches("value=1/3>$", tostring(s))
    s:release(2)
    assert.matches("value=3/3>$", tostring(s))
    for _ = 1, 3 do assert.is_true(s:acquire(false)) end
    assert.is_false(s:acquire(false))
  end)

  it("defaults to 1 and shares the Semaphore rules", function()
    local s = threading.BoundedSemaphore()
    assert.is_true(s:acquire(false))
    assert.is_false(s:acquire(false))
    s:release()
    raises(ValueError, threading.BoundedSemaphore, -1)
    raises(ValueError, s.release, s, 0)
    raises(ValueError, s.acquire, s, false, 0.5)
  end)
end)


describe("Event", function()
  it("sets, clears and reports the flag", function()
    local e = threading.Event()
    assert.equal("braid.Event", getmetatable(e).__name)
    assert.is_false(e:is_set())
    assert.matches("^<braid%.Event at 0x%x+: unset>$", tostring(e))
    e:set()
    assert.is_true(e:is_set())
    assert.matches(": set>$", tostring(e))
    assert.is_true(e:wait())
    assert.is_true(e:wait(0))
    e:clear()
    assert.is_false(e:is_set())
  end)

  it("wait(timeout) returns false after the timeout, at once if <= 0", function()
    local e = threading.Event()
    local r, dt = timed(e.wait, e, 0.2)
    assert.is_false(r)
    assert.is_true(dt >= 0.2 and dt < 5)
    r, dt = timed(e.wait, e, -1)
    assert.is_false(r)
    assert.is_true(dt < 1)
    raises(TypeError, e.wait, e, "x")
    raises(OverflowError, e.wait, e, 1e300)
    raises(TypeError, e.set, threading.Lock())
  end)

  it("wakes a waiter when another thread sets it", function()
    local e = threading.Event()
    local t = spawn(function() e:set() end)
    assert.is_true(e:wait(5))
    join(t)
  end)

  it("wait() returns true when woken by set() even if cleared at once", function()
    local e = threading.Event()
    local started, results, bad = threading.Semaphore(0), threading.Semaphore(0),
      threading.Semaphore(0)
    local ts = {}
    for i = 1, 3 do
      ts[i] = spawn(function()
        started:release()
        if e:wait() then results:release() else bad:release() end
      end)
    end
    take(started, 3)
    -- The flag is never observed set between rounds: waiters can only
    -- return because a set() woke them.
    local got = 0
    local deadline = now() + 5
    while got < 3 and now() < deadline do
      e:set(); e:clear()
      while results:acquire(true, 0.01) do got = got + 1 end
    end
    assert.equal(3, got)
    empty(bad)
    for i = 1, 3 do join(ts[i]) end
  end)
end)


describe("Barrier", function()
  it("has fields parties, n_waiting and broken", function()
    local b = threading.Barrier(3)
    assert.equal("braid.Barrier", getmetatable(b).__name)
    assert.equal(3, b.parties)
    assert.equal(0, b.n_waiting)
    assert.is_false(b.broken)
    assert.is_function(b.wait)
    assert.is_nil(b.nothing)
    assert.is_nil(b[1])
    assert.matches("^<braid%.Barrier at 0x%x+: waiters=0/3>$", tostring(b))
    assert.equal(1, threading.Barrier(1):wait())
    assert.equal(2, threading.Barrier{ parties = 2 }.parties)
  end)

  it("raises for bad constructor arguments", function()
    message_has(raises(ValueError, threading.Barrier, 0), "parties must be > 0")
    raises(ValueError, threading.Barrier, -4)
    raises(TypeError, threading.Barrier, true)
    raises(TypeError, threading.Barrier)
    raises(TypeError, threading.Barrier, 2, 5)
    raises(TypeError, threading.Barrier, 2, nil, "x")
    local co = coroutine.create(print)
    local err = raises(TypeError, threading.Barrier, 2, function() return co end)
    message_has(err, "action")
  end)

  it("releases 4 threads after the action ran once per cycle", function()
    local acted, actions = threading.Event(), threading.Semaphore(0)
    local b = threading.Barrier(4, function()
      acted:set()
      actions:release()
    end)
    local sync = threading.Barrier(4)
    local seen, bad, done = {}, threading.Semaphore(0), threading.Semaphore(0)
    for i = 1, 4 do seen[i] = threading.Semaphore(0) end
    local function work()
      for _ = 1, 3 do
        local i = b:wait(10)
        if not acted:is_set() then bad:release() end
        seen[i]:release()
        -- Cleared by everyone before anyone can trip 'b' again.
        sync:wait(10)
        acted:clear()
        sync:wait(10)
      end
      done:release()
    end
    local ts = {}
    for i = 1, 4 do ts[i] = spawn(work) end
    for i = 1, 4 do join(ts[i]) end
    take(done, 4)
    empty(bad)
    take(actions, 3)
    empty(actions)
    for i = 1, 4 do take(seen[i], 3); empty(seen[i]) end
    assert.is_false(b.broken)
    assert.equal(0, b.n_waiting)
  end)

  it("runs the action in the last thread, before anyone leaves", function()
    local order = threading.Semaphore(0)
    local last, mainid = threading.Event(), threading.get_ident()
    local b = threading.Barrier(2, function()
      if threading.get_ident() ~= mainid then last:set() end
      order:release()
    end)
    local t = spawn(function() b:wait(10) end)
    eventually(function() return b.n_waiting == 1 end)
    assert.equal(2, b:wait(5))
    assert.is_false(last:is_set())
    take(order, 1)
    join(t)
  end)

  it("breaks, and re-raises in the last thread, when the action fails", function()
    local b = threading.Barrier(2, function() error(errors.KeyError("boom")) end)
    local broken, failed = threading.Semaphore(0), threading.Semaphore(0)
    local function work()
      local ok, err = pcall(b.wait, b, 10)
      if ok then return end
      if threading.BrokenBarrierError:is(err) then broken:release()
      elseif errors.KeyError:is(err) then failed:release() end
    end
    local t1, t2 = spawn(work), spawn(work)
    join(t1); join(t2)
    take(broken, 1)
    take(failed, 1)
    assert.is_true(b.broken)
    assert.matches(": broken>$", tostring(b))
    raises(BrokenBarrierError, b.wait, b, 1)
  end)

  it("breaks when wait() times out, and reset() repairs it", function()
    local b = threading.Barrier(2)
    local t0 = now()
    raises(BrokenBarrierError, b.wait, b, 0.2)
    local dt = now() - t0
    assert.is_true(dt >= 0.2 and dt < 5)
    assert.is_true(b.broken)
    raises(BrokenBarrierError, b.wait, b)
    b:reset()
    assert.is_false(b.broken)
    local t = spawn(function() b:wait(10) end)
    local i = b:wait(5)
    assert.is_true(i == 1 or i == 2)
    join(t)
  end)

  it("uses its default timeout, and breaks at once on a negative one", function()
    local b = threading.Barrier(2, nil, 0.2)
    local t0 = now()
    raises(BrokenBarrierError, b.wait, b)
    assert.is_true(now() - t0 >= 0.2)
    b:reset()
    t0 = now()
    raises(BrokenBarrierError, b.wait, b, -1)
    assert.is_true(now() - t0 < 1)
    b = threading.Barrier{ parties = 2, timeout = 0.05 }
    raises(BrokenBarrierError, b.wait, b)
    raises(TypeError, b.wait, b, "x")
  end)

  it("abort() breaks it for a waiting thread", function()
    local b = threading.Barrier(2)
    local broken = threading.Semaphore(0)
    local t = spawn(function()
      local ok, err = pcall(b.wait, b, 10)
      if not ok and threading.BrokenBarrierError:is(err) then broken:release() end
    end)
    eventually(function() return b.n_waiting == 1 end)
    b:abort()
    take(broken, 1)
    join(t)
    assert.is_true(b.broken)
    assert.equal(0, b.n_waiting)
  end)

  it("reset() raises BrokenBarrierError in waiting threads", function()
    local b = threading.Barrier(3)
    local broken = threading.Semaphore(0)
    local function work()
      local ok, err = pcall(b.wait, b, 10)
      if not ok and threading.BrokenBarrierError:is(err) then broken:release() end
    end
    local t1, t2 = spawn(work), spawn(work)
    eventually(function() return b.n_waiting == 2 end)
    b:reset()
    take(broken, 2)
    join(t1); join(t2)
    assert.is_false(b.broken)
    assert.equal(0, b.n_waiting)
  end)

  it("frees its action and the objects the action carries", function()
    local e = threading.Event()
    do
      local b = threading.Barrier(1, function() e:set() end)
      assert.equal(2, core._test.refs(e))
      assert.equal(1, b:wait())
      assert.is_true(e:is_set())
    end
    collectgarbage(); collectgarbage()
    assert.equal(1, core._test.refs(e))
  end)

  it("raises RuntimeError when its own action uses it", function()
    -- The action is copied when the barrier is made, so it finds the
    -- barrier through a global of the state that runs it.
    -- luacheck: globals braid_sync_spec_b
    local G = debug.getregistry()[2]
    local b = threading.Barrier(1, function() braid_sync_spec_b:abort() end)
    G.braid_sync_spec_b = b
    message_has(raises(RuntimeError, b.wait, b), "own action")
    assert.is_true(b.broken)
    b:reset()
    b = threading.Barrier(1, function() braid_sync_spec_b:wait() end)
    G.braid_sync_spec_b = b
    message_has(raises(RuntimeError, b.wait, b), "own action")
    G.braid_sync_spec_b = nil
  end)
end)


describe("local", function()
  it("is reachable as threading.local and threading.Local", function()
    -- a class since issue 15 (local:subclass), whose instances are the
    -- core's objects
    assert.equal(threading.Local, threading["local"])
    local loc = threading["local"]()
    assert.equal("braid.local", getmetatable(loc).__name)
    assert.matches("^<braid%.local object at 0x%x+>$", tostring(loc))
  end)

  it("keeps separate attributes in each thread", function()
    local loc = threading.Local()
    loc.x = 1
    loc.name = "main"
    local ok = threading.Semaphore(0)
    local ts = {}
    for i = 1, 3 do
      ts[i] = spawn(function()
        if loc.x == nil and loc.name == nil then ok:release() end
        loc.x = i
        if loc.x == i then ok:release() end
      end)
    end
    for i = 1, 3 do join(ts[i]) end
    take(ok, 6)
    assert.equal(1, loc.x)
    local keys = {}
    for k, v in pairs(loc) do keys[k] = v end
    assert.same({ x = 1, name = "main" }, keys)
    loc.x = nil
    assert.is_nil(loc.x)
  end)
end)

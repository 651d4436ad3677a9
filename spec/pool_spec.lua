-- luacheck: globals INITS SHARED_RESULT
-- braid.multiprocessing.pool.ThreadPool (and multiprocessing.dummy.Pool):
-- Python's Pool API on threads, AsyncResult, callbacks, worker reuse.
local mpool = require "braid.multiprocessing.pool"
local dummy = require "braid.multiprocessing.dummy"
local futures = require "braid.futures"
local threading = require "braid.threading"
local queue = require "braid.queue"
local errors = require "braid.errors"
local core = require "braid.core"
local helpers = require "helpers"
local live = helpers.live

local ThreadPool = mpool.ThreadPool
local MPTimeoutError = mpool.TimeoutError

local function square(x) return x * x end

local function range(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

describe("multiprocessing.pool module", function()
  it("has ThreadPool, dummy.Pool and multiprocessing.TimeoutError", function()
    assert.equal(ThreadPool, dummy.Pool)
    assert.equal(errors.classes["multiprocessing.TimeoutError"], MPTimeoutError)
    assert.is_true(errors.classes["multiprocessing.ProcessError"]:is(MPTimeoutError("x")))
    assert.equal(mpool, require "braid.multiprocessing.pool")
  end)
end)

describe("ThreadPool", function()
  local p
  setup(function() p = ThreadPool(2) end)
  teardown(function() p:terminate() end)

  it("checks its arguments as Python does", function()
    helpers.raises(errors.ValueError, ThreadPool, 0)
    helpers.raises(errors.TypeError, ThreadPool, "two")
    helpers.raises(errors.ValueError, ThreadPool, 1, nil, nil, 0)
    helpers.raises(errors.TypeError, ThreadPool, 1, 42)
    helpers.raises(errors.TypeError, p.map, p, 42, { 1 })
    helpers.raises(errors.ValueError, p.imap, p, square, { 1 }, 0)
    helpers.raises(errors.TypeError, p.apply_async, p, square, 5)
    local q <close> = ThreadPool{ processes = 1 }
    assert.matches("state=RUN pool_size=1", tostring(q))
  end)

  it("map returns a sequence with n, for any chunksize", function()
    local r = p:map(square, range(50))
    assert.equal(50, r.n)
    for i = 1, 50 do assert.equal(i * i, r[i]) end
    for _, cs in ipairs { 1, 3, 50, 1000 } do
      r = p:map(square, range(17), cs)
      assert.equal(17, r.n)
      assert.equal(289, r[17])
    end
    r = p:map(square, {})
    assert.equal(0, r.n)
    r = p:map(function(x) if x > 1 then return x end end, { 1, 2, 3 })
    assert.equal(3, r.n); assert.is_nil(r[1]); assert.equal(3, r[3])
  end)

  it("map gives every result once, in order, over many segments of items", function()
    -- items are encoded and handed to the workers segment by segment
    local n = 5000
    for _, cs in ipairs { 1, 3, 1000, 1024, 4999, 6000 } do
      local r = p:map(square, range(n), cs)
      assert.equal(n, r.n)
      for i = 1, n do
        if r[i] ~= i * i then error(("cs %d: r[%d] = %s"):format(cs, i, tostring(r[i]))) end
      end
      local seen, count = {}, 0
      for i, v in p:imap_unordered(square, range(n), cs) do
        assert.is_nil(seen[i])
        assert.equal(i * i, v)
        seen[i], count = true, count + 1
      end
      assert.equal(n, count)
    end
    local r = p:starmap(function(a, b) return a * b end,
                        (function() local t = {} for i = 1, 3000 do t[i] = { i, 2 } end return t end)(), 5)
    assert.equal(3000, r.n)
    assert.equal(6000, r[3000])
  end)

  it("map keeps an object shared by the results of one chunk shared", function()
    local q <close> = ThreadPool(1)
    local r = q:map(function(x)
      local t = SHARED_RESULT or {}
      SHARED_RESULT = t
      t[x] = true
      return t
    end, range(4), 4)
    assert.equal(4, r.n)
    assert.equal(r[1], r[4])
    assert.same({ true, true, true, true }, r[1])
  end)

  it("map raises an item's TypeError naming its path, also after the first items ran", function()
    for _, at in ipairs { 5, 2500 } do
      local items = range(3000)
      items[at] = { x = { coroutine.create(print) } }
      local err = helpers.raises(errors.TypeError, p.map, p, square, items, 7)
      helpers.message_has(err, ("iterable[%d].x[1]"):format(at))
      err = helpers.raises(errors.TypeError, p.map_async, p, square, items, 1000)
      helpers.message_has(err, ("iterable[%d].x[1]"):format(at))
    end
    -- an error raised while an item is encoded goes through as it is
    local items = range(3000)
    items[2999] = setmetatable({}, { __braidreduce = function() error("no reduce") end })
    local ok, err = pcall(p.map, p, square, items, 10)
    assert.is_false(ok)
    assert.matches("no reduce", tostring(err))
    assert.same({ 1, 4, n = 2 }, p:map(square, { 1, 2 }))
  end)

  it("map raises when the pool is closed while its items are encoded", function()
    -- as when the pool is closed before the call: the items are encoded
    -- and handed out segment by segment, so the first may have run
    for _, how in ipairs { "close", "terminate" } do
      local q = ThreadPool(2)
      local items = range(3000)
      items[2500] = setmetatable({}, { __braidreduce = function()
        q[how](q)
        return function(v) return v end, 2500
      end })
      local err = helpers.raises(errors.RuntimeError, q.map, q, square, items, 7)
      helpers.message_has(err, "after shutdown")
      q:join() -- the workers end
      q:terminate()
    end
  end)

  it("starmap unpacks each item", function()
    local r = p:starmap(function(a, b) return a - b end, { { 5, 1 }, { 10, 3 } })
    assert.same({ 4, 7, n = 2 }, r)
    local ar = p:starmap_async(function(a, b) return a .. b end, { { "x", "y" } })
    assert.same({ "xy", n = 1 }, ar:get(30))
  end)

  it("apply calls a function with args in a worker", function()
    assert.equal(7, p:apply(function(a, b) return a + b end, { 3, 4 }))
    assert.is_true(p:apply(function() return require("braid.core").is_worker() end))
    assert.equal("none", p:apply(function() return "none" end))
  end)

  it("imap yields index, result in order; imap_unordered by position", function()
    local out = {}
    for i, v in p:imap(square, range(10)) do out[#out + 1] = { i, v } end
    assert.equal(10, #out)
    for i = 1, 10 do assert.same({ i, i * i }, out[i]) end
    out = {}
    for i, v in p:imap(square, range(10), 3) do out[i] = v end
    assert.equal(100, out[10])
    local seen = {}
    for i, v in p:imap_unordered(square, range(20), 4) do
      assert.is_nil(seen[i])
      seen[i] = v
    end
    for i = 1, 20 do assert.equal(i * i, seen[i]) end
    for _ in p:imap(square, {}) do error("nothing expected") end
  end)

  it("imap_unordered yields results as they complete", function()
    local q <close> = ThreadPool(2)
    local gate = threading.Event()
    local order = {}
    for i, _ in q:imap_unordered(function(x)
      if x == 1 then gate:wait(30) end
      return x
    end, { 1, 2 }) do
      order[#order + 1] = i
      gate:set() -- item 1 finishes only after item 2 came back
    end
    assert.same({ 2, 1 }, order)
  end)

  it("raises a task's error at get(), with the worker's traceback", function()
    local err = helpers.raises(errors.ValueError, p.map, p, function(x)
      if x == 3 then error(require("braid.errors").ValueError("three")) end
      return x
    end, range(5))
    assert.equal("three", err.message)
    assert.is_string(err.cause.traceback)
    local r = p:apply_async(function() error("boom") end)
    err = helpers.raises(errors.LuaError, r.get, r, 30)
    assert.matches("boom", err.message)
    assert.is_false(r:successful())
    -- imap raises at the failing position
    local got = {}
    helpers.raises(errors.LuaError, function()
      for _, v in p:imap(function(x) if x == 3 then error("x") end return x end, range(5)) do
        got[#got + 1] = v
      end
    end)
    assert.same({ 1, 2 }, got)
  end)

  it("AsyncResult: get(timeout), wait, ready, successful", function()
    local gate = threading.Event()
    local r = p:apply_async(function(g) g:wait(30); return "done" end, { gate })
    assert.is_false(r:ready())
    helpers.raises(errors.ValueError, r.successful, r)
    local t0 = helpers.now()
    helpers.raises(MPTimeoutError, r.get, r, 0.1)
    assert.is_true(helpers.now() - t0 >= 0.09)
    r:wait(0)
    assert.is_false(r:ready())
    gate:set()
    r:wait()
    assert.is_true(r:ready())
    assert.is_true(r:successful())
    assert.equal("done", r:get())
    assert.equal("done", r:get(0))

    local m = p:map_async(function(x) error("failed " .. x) end, { 1 })
    m:wait(30)
    assert.is_true(m:ready())
    assert.is_false(m:successful())
    helpers.raises(errors.LuaError, m.get, m)
    local ok = p:map_async(square, { 2, 3 })
    assert.same({ 4, 9, n = 2 }, ok:get(30))
    assert.is_true(ok:successful())
    local e = p:map_async(square, {})
    assert.is_true(e:ready())
    assert.same({ n = 0 }, e:get())
  end)

  it("map_async times out with multiprocessing.TimeoutError", function()
    local gate = threading.Event()
    local slow = p:map_async(function(g) g:wait(30); return 1 end, { gate })
    helpers.raises(MPTimeoutError, slow.get, slow, 0.05)
    helpers.raises(errors.ValueError, slow.successful, slow)
    gate:set()
    assert.same({ 1, n = 1 }, slow:get(30))
  end)

  it("runs callback and error_callback in the calling state before get returns", function()
    local got, errs = {}, {}
    local r = p:apply_async(square, { 6 }, function(v)
      got[#got + 1] = { v, core.is_worker() }
    end)
    assert.equal(36, r:get(30))
    assert.same({ { 36, false } }, got)
    local e = p:apply_async(function() error(require("braid.errors").KeyError("k")) end,
                            {}, nil, function(err) errs[#errs + 1] = err end)
    e:wait(30)
    assert.equal(1, #errs)
    assert.is_true(errors.KeyError:is(errs[1]))
    assert.is_string(errs[1].traceback)
    local lists = {}
    local m = p:map_async(square, { 1, 2, 3 }, nil, { callback = function(v) lists[#lists + 1] = v end })
    m:get(30)
    assert.same({ { 1, 4, 9, n = 3 } }, lists)
    local merrs = {}
    local bad = p:map_async(function() error("x") end, { 1 }, nil, nil,
                            function(err) merrs[#merrs + 1] = err end)
    bad:wait(30)
    assert.equal(1, #merrs)
    assert.is_true(errors.LuaError:is(merrs[1]))
    -- callbacks wait for this state: with braid.poll() in a frame loop
    local flag = {}
    local r2 = p:apply_async(function() return 1 end, {}, function() flag[1] = true end)
    while not r2:ready() do core.poll() end
    core.poll()
    assert.is_true(flag[1])
  end)

  it("keeps worker states, runs the initializer once per worker", function()
    local q = queue.Queue()
    local pool <close> = ThreadPool(2, function(qq)
      INITS = (INITS or 0) + 1
      qq:put(true)
    end, { q })
    -- both workers start at creation; each runs the initializer once
    assert.is_true(q:get(true, 30))
    assert.is_true(q:get(true, 30))
    local r = pool:map(function() return INITS end, range(50), 1)
    for i = 1, 50 do assert.equal(1, r[i]) end
    assert.equal(0, q:qsize()) -- no initializer ran again
    -- a function used many times is decoded once per worker
    local d = pool:map(function()
      return require("braid.core").pool_worker_stats().decodes
    end, range(40), 1)
    for i = 1, 40 do assert.is_true(d[i] <= 2) end
  end)

  it("maxtasksperchild replaces workers", function()
    local q = queue.Queue()
    local pool = ThreadPool(1, function(qq) qq:put(1) end, { q }, 2)
    local r = pool:map(function()
      return require("braid.core").pool_worker_stats().tasks
    end, range(6), 1)
    for i = 1, 6 do assert.is_true(r[i] <= 1) end -- at most 2 tasks a worker
    pool:close()
    pool:join()
    assert.is_true(q:qsize() >= 3)
  end)

  -- issue 10.2: retiring workers are replaced after close() while tasks
  -- are queued, so join() waits for every task
  it("maxtasksperchild: close() + join() runs every queued task, also with an initializer", function()
    for _, with_init in ipairs({ false, true }) do
      local go, q = threading.Event(), queue.Queue()
      local init = with_init and function(qq) INITS = 1; qq:put(1) end or nil
      local pool = ThreadPool(3, init, with_init and { q } or nil, 1)
      local rs = {}
      for i = 1, 6 do
        rs[i] = pool:apply_async(function(x, gate)
          gate:wait(30) -- every task is pending when close() is called
          return x * x, INITS
        end, { i, go })
      end
      pool:close()
      go:set()
      pool:join()
      for i = 1, 6 do
        assert.is_true(rs[i]:ready(), "task " .. i .. " not run by join()")
        local v, inited = rs[i]:get(0)
        assert.equal(i * i, v)
        if with_init then assert.equal(1, inited) end
      end
      if with_init then assert.is_true(q:qsize() >= 6) end
    end
  end)

  it("close, join and terminate follow Python's rules", function()
    local pool = ThreadPool(1)
    local err = helpers.raises(errors.ValueError, pool.join, pool)
    helpers.message_has(err, "Pool is still running")
    local gate = threading.Event()
    local running = pool:apply_async(function(g) g:wait(30); return 1 end, { gate })
    local queued = pool:apply_async(square, { 3 })
    pool:close()
    helpers.message_has(helpers.raises(errors.ValueError, pool.apply, pool, square, { 1 }),
                        "Pool not running")
    helpers.raises(errors.ValueError, pool.map, pool, square, { 1 })
    helpers.raises(errors.ValueError, pool.imap, pool, square, { 1 })
    gate:set()
    pool:join() -- close lets queued work finish
    assert.equal(1, running:get(0))
    assert.equal(9, queued:get(0))

    local t = ThreadPool(1)
    local g2 = threading.Event()
    local started = threading.Event()
    local a = t:apply_async(function(g, s) s:set(); g:wait(30); return "a" end, { g2, started })
    local b = t:apply_async(square, { 2 })
    assert.is_true(started:wait(30))
    -- a helper opens the gate once b is cancelled, so terminate() (which
    -- waits for the running task a) finds b still queued
    local helper = threading.Thread{ target = function(fut, g)
      fut:_wait(30); g:set()
    end, args = { b._f, g2 } }
    helper:start()
    t:terminate() -- b had not started: cancelled
    helper:join()
    assert.equal("a", a:get(30))
    assert.is_true(b:ready())
    helpers.raises(futures.CancelledError, b.get, b)
    t:join()
  end)

  it("terminates at the end of a to-be-closed scope", function()
    local ref
    do
      local pool <close> = ThreadPool(2)
      ref = pool
      assert.equal(4, pool:apply(square, { 2 }))
    end
    assert.equal("TERMINATE", ref._state)
    helpers.raises(errors.ValueError, ref.apply, ref, square, { 1 })
  end)

  it("is broken when the initializer fails", function()
    local pool = ThreadPool(1, function() error("no init") end)
    -- the pool may already be broken when apply_async runs (it then
    -- raises at once, as submit does) or break while the task waits
    local ok, r = pcall(pool.apply_async, pool, square, { 2 })
    if ok then
      helpers.raises(futures.BrokenThreadPool, r.get, r, 30)
    else
      assert.is_true(futures.BrokenThreadPool:is(r))
    end
    pool:terminate()
  end)

  it("map can show progress", function()
    local r = p:map(square, range(10), 2, { progress = true })
    assert.equal(100, r[10])
    local n = 0
    for _ in p:imap(square, range(5), 1, { progress = true }) do n = n + 1 end
    assert.equal(5, n)
  end)

  it("leaks nothing once terminated", function()
    local before = live()
    do
      local pool <close> = ThreadPool(3, function() end)
      pool:map(square, range(100), 7)
      pool:apply_async(square, { 1 }, function() end):get()
      for _ in pool:imap_unordered(square, range(10)) do end
      pcall(pool.map, pool, error, { "x" })
      local items = range(3000)
      items[2000] = { coroutine.create(print) }
      pcall(pool.map, pool, square, items, 3)
      items[2000] = 2000
      pool:map(square, items, 3)
    end
    -- at most as many: other states (workers of pools still open) may
    -- let go of older objects meanwhile, so the count can also drop
    assert.is_true(live() <= before)
  end)
end)

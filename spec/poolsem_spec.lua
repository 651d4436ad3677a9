-- luacheck: globals GATE FAILED LOG
-- Pool and executor semantics that follow Python's (issue 15, item 2):
-- a map's error is reported once the whole map has run; imap and
-- Executor.map read an iterator as results are consumed (buffersize);
-- a result that cannot be sent back is a MaybeEncodingError; wait and
-- as_completed take any iterable. Each on threads and on processes.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local mpool = require "braid.multiprocessing.pool"
local futures = require "braid.futures"
local threading = require "braid.threading"
local queue = require "braid.queue"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local MaybeEncodingError = mpool.MaybeEncodingError

local function square(x) return x * x end

-- The pools each spec runs on: a ThreadPool, and a process Pool per start
-- method; 'make(n, init, initargs)'.
local POOLS = { { name = "ThreadPool", process = false,
                  make = function(n, init, args) return mpool.ThreadPool(n, init, args) end } }
for _, m in ipairs(METHODS) do
  POOLS[#POOLS + 1] = { name = "Pool(" .. m .. ")", process = true,
    make = function(n, init, args)
      return mp.Pool(n, init, args, nil, mp.get_context(m))
    end }
end

-- In process workers, the gate objects come by inheritance (initargs).
local function keep(gate, failed, log) GATE, FAILED, LOG = gate, failed, log end

-- A task for the "rest still run" checks: 1 fails at once (after saying
-- so), the others wait for the gate, then log their input.
local function gated(x)
  if x == 1 then
    FAILED:set()
    error(errors.ValueError("task 1 failed"))
  end
  if not GATE:wait(60) then error("the gate never opened") end
  LOG:put(x)
  return x
end

-- Opens 'gate' from a thread once 'failed' is set and a while has passed
-- (long enough for a map that raises at the first failure to have
-- raised), logging "open" first.
local function open_later(failed, gate, log)
  return threading.Thread { target = function()
    assert(failed:wait(60), "task 1 never failed")
    threading.Event():wait(0.3)
    log:put("open")
    gate:set()
  end }
end

-- The objects of one gated run: mp ones for processes, threading ones for
-- threads; the task's globals are set in the workers by the initializer.
local function gate_objects(process)
  if process then return mp.Event(), mp.Event(), mp.Queue() end
  return threading.Event(), threading.Event(), queue.Queue()
end

local function drain(log)
  local got = {}
  while true do
    local ok, v = pcall(log.get, log, true, 5)
    if not ok then break end
    got[#got + 1] = v
    if #got == 5 then break end
  end
  return got
end

for _, P in ipairs(POOLS) do
  describe(P.name .. " map", function()
    it("reports a task's error only once every chunk of the map has run", function()
      for _, name in ipairs { "map", "starmap" } do
        local gate, failed, log = gate_objects(P.process)
        local p <close> = P.make(4, keep, { gate, failed, log })
        local t = open_later(failed, gate, log)
        t:start()
        local items = name == "map" and { 1, 2, 3, 4 } or { { 1 }, { 2 }, { 3 }, { 4 } }
        local err = helpers.raises(errors.ValueError, p[name], p, gated, items, 1)
        log:put("raised")
        helpers.message_has(err, "task 1 failed")
        t:join(60)
        -- the gate opened before map raised, and every other task had run
        local got = drain(log)
        assert.equal("open", got[1])
        assert.equal("raised", got[5])
        got[5] = nil
        table.sort(got, function(a, b) return tostring(a) < tostring(b) end)
        assert.same({ 2, 3, 4, "open" }, got)
      end
    end)

    it("map_async is not ready (nor calls error_callback) before the rest has run", function()
      local gate, failed, log = gate_objects(P.process)
      local p <close> = P.make(3, keep, { gate, failed, log })
      local cb_err
      local r = p:map_async(gated, { 1, 2, 3 }, 1, nil, function(e) cb_err = e end)
      assert.is_true(failed:wait(60))
      r:wait(0.3)
      require("braid").poll()
      assert.is_false(r:ready())
      assert.is_nil(cb_err)
      helpers.raises(errors.ValueError, r.successful, r)
      gate:set()
      local err = helpers.raises(errors.ValueError, r.get, r, 60)
      helpers.message_has(err, "task 1 failed")
      assert.is_true(r:ready())
      assert.is_false(r:successful())
      assert.is_true(errors.ValueError:is(cb_err))
      local got = { log:get(true, 5), log:get(true, 5) }
      table.sort(got)
      assert.same({ 2, 3 }, got)
    end)
  end)

  describe(P.name .. " results that cannot be sent back", function()
    it("fail with MaybeEncodingError; error_callback gets it; the pool keeps working", function()
      local p <close> = P.make(2)
      local function co() return coroutine.create(print) end
      local err = helpers.raises(MaybeEncodingError, p.apply, p, co)
      helpers.message_has(err, "Error sending result: 'thread: ")
      helpers.message_has(err, "'. Reason: 'TypeError: result: a coroutine cannot be sent'")
      local cause = err.cause
      assert.is_true(MaybeEncodingError:is(cause))
      assert.matches("^thread: ", cause.value)
      assert.equal("TypeError: result: a coroutine cannot be sent", cause.exc)
      assert.same({ cause.exc, cause.value, n = 2 }, cause.args)
      -- error_callback
      local got, done = nil, threading.Event()
      local r = p:apply_async(function() return io.stdout end, nil, nil,
                              function(e) got = e; done:set() end)
      r:wait(60)
      assert.is_false(r:successful())
      require("braid").poll()
      assert.is_true(done:is_set())
      assert.is_true(MaybeEncodingError:is(got))
      helpers.message_has(got, "Error sending result: 'file (0x")
      -- map (chunks of one and of several) and imap
      local function bad(x) if x == 3 then return io.stdout end return x end
      for _, cs in ipairs { 1, 2, 10 } do
        local e = helpers.raises(MaybeEncodingError, p.map, p, bad, { 1, 2, 3, 4 }, cs)
        helpers.message_has(e, "Error sending result: '")
      end
      local e = helpers.raises(MaybeEncodingError, p.map, p,
                               function(x) return x == 2 and { co() } or { x } end,
                               { 1, 2, 3 }, 3)
      helpers.message_has(e, "Error sending result: '{table: ")
      local seen = {}
      local ok, ie = pcall(function()
        for i, v in p:imap(bad, { 1, 2, 3, 4 }) do seen[i] = v end
      end)
      assert.is_false(ok)
      assert.is_true(MaybeEncodingError:is(ie))
      assert.same({ 1, 2 }, seen)
      -- the pool keeps working: every worker still serves
      local r2 = p:map(square, { 1, 2, 3, 4, 5, 6, 7, 8 }, 1)
      assert.equal(64, r2[8])
      assert.matches("pool_size=2", tostring(p))
    end)
  end)
end

describe("MaybeEncodingError", function()
  it("is multiprocessing.pool.MaybeEncodingError and multiprocessing.MaybeEncodingError", function()
    assert.equal(errors.classes["multiprocessing.pool.MaybeEncodingError"], MaybeEncodingError)
    assert.equal(MaybeEncodingError, mp.MaybeEncodingError)
    assert.is_true(errors.Exception:is(MaybeEncodingError("x")))
  end)

  it("is not what an executor raises (Python's gives the pickling error)", function()
    local ex <close> = futures.ThreadPoolExecutor(1)
    local f = ex:submit(function() return coroutine.create(print) end)
    local e = helpers.raises(errors.TypeError, f.result, f, 60)
    helpers.message_has(e, "result: a coroutine cannot be sent")
  end)
end)

describe("futures.wait and as_completed", function()
  local ex
  setup(function() ex = futures.ThreadPoolExecutor(2) end)
  teardown(function() ex:shutdown() end)

  it("take an iterator function", function()
    local fs = { ex:submit(square, 2), ex:submit(square, 3) }
    local i = 0
    local function it() i = i + 1; return fs[i] end
    local n = 0
    for f in futures.as_completed(it, 60) do
      n = n + 1
      assert.is_true(f == fs[1] or f == fs[2])
    end
    assert.equal(2, n)
    i = 0
    local done, not_done = futures.wait(it, 60)
    assert.is_true(done[fs[1]] and done[fs[2]])
    assert.is_nil(next(not_done))
    -- an empty iterator
    local d2, nd2 = futures.wait(function() return nil end)
    assert.is_nil(next(d2)); assert.is_nil(next(nd2))
    local n2 = 0
    for _ in futures.as_completed(function() return nil end) do n2 = n2 + 1 end
    assert.equal(0, n2)
    helpers.raises(errors.TypeError, futures.wait, 42)
    helpers.raises(errors.TypeError, futures.as_completed, 42)
  end)

  it("yield and count a future given several times once", function()
    local gate = threading.Event()
    local a = ex:submit(function() return 1 end)
    local b = ex:submit(function() gate:wait(60); return 2 end)
    local list = { a, b, a, b, a }
    local i = 0
    local function it() i = i + 1; return list[i] end
    a:result(60)
    for _, fs in ipairs { list, it } do
      i = 0
      local done, not_done = futures.wait(fs, 0)
      local nd, nn = 0, 0
      for _ in pairs(done) do nd = nd + 1 end
      for _ in pairs(not_done) do nn = nn + 1 end
      assert.equal(1, nn)
      assert.is_true(not_done[b])
      assert.equal(1, nd)
    end
    gate:set()
    for _, fs in ipairs { list, it } do
      i = 0
      local seen, n = {}, 0
      for f in futures.as_completed(fs, 60) do
        assert.is_nil(seen[f]); seen[f] = true; n = n + 1
      end
      assert.equal(2, n)
    end
  end)
end)

-- An "endless" iterator (bounded at 100000 so that code reading it all
-- fails instead of hanging) and how many items it gave.
local function counter()
  local c = { read = 0 }
  c.gen = function()
    c.read = c.read + 1
    if c.read > 100000 then error("read the endless iterator to 100000") end
    return c.read
  end
  return c
end

-- The mappers each lazy spec runs on: Pool.imap, Pool.imap_unordered and
-- Executor.map, over threads and over processes (one start method per
-- kind is enough for what differs: sending the jobs).
local MAPPERS = {}
local function add_mapper(name, workers, make, call)
  MAPPERS[#MAPPERS + 1] = { name = name, workers = workers, make = make, call = call }
end
local function imap_call(method)
  return function(p, fn, it, cs, buffersize) return p[method](p, fn, it, cs, buffersize) end
end
for _, P in ipairs { POOLS[1], POOLS[2] } do
  add_mapper(P.name .. ":imap", 2, function() return P.make(2) end, imap_call("imap"))
  add_mapper(P.name .. ":imap_unordered", 2, function() return P.make(2) end,
             imap_call("imap_unordered"))
end
local function ex_call(ex, fn, it, cs, buffersize)
  return ex:map(fn, it, { chunksize = cs, buffersize = buffersize })
end
add_mapper("ThreadPoolExecutor:map", 2, function() return futures.ThreadPoolExecutor(2) end, ex_call)
add_mapper("ProcessPoolExecutor(" .. METHODS[1] .. "):map", 2, function()
  return futures.ProcessPoolExecutor(2, mp.get_context(METHODS[1]))
end, ex_call)

for _, M in ipairs(MAPPERS) do
  describe(M.name .. " over an iterator function", function()
    local p
    setup(function() p = M.make() end)
    teardown(function()
      if p.shutdown then p:shutdown() else p:terminate() end
    end)

    it("reads an endless iterator as results are consumed, at most buffersize tasks ahead", function()
      for _, cs in ipairs { 1, 3 } do
        for _, bs in ipairs { 1, 4 } do
          local c = counter()
          local it, s, ctl, close = M.call(p, square, c.gen, cs, bs)
          assert.is_true(c.read <= bs * cs)
          local n, sum = 0, 0
          for i, v in it, s, ctl, close do
            n = n + 1
            assert.equal(i * i, v)
            sum = sum + i
            -- the results yielded so far, and at most bs tasks in flight
            assert.is_true(c.read <= n + bs * cs, ("read %d after %d results"):format(c.read, n))
            if n == 60 then break end
          end
          assert.equal(60, n)
          assert.is_true(c.read < 100)
        end
      end
    end)

    it("without buffersize reads at most 256 tasks ahead (an endless iterator works)", function()
      local c = counter()
      local n = 0
      for i, v in M.call(p, square, c.gen, 2) do
        n = n + 1
        assert.equal(i * i, v)
        assert.is_true(c.read <= n + 256 * 2, ("read %d after %d results"):format(c.read, n))
        if n == 2000 then break end
      end
      assert.equal(2000, n)
      assert.is_true(c.read <= 2000 + 256 * 2)
    end)

    it("yields the results before an element the iterator fails at, then raises its error", function()
      for _, bs in ipairs { false, 2 } do
        local i = 0
        local function gen()
          i = i + 1
          if i == 6 then error(errors.KeyError("no item 6")) end
          return i
        end
        local seen = {}
        local ok, err = pcall(function()
          for k, v in M.call(p, square, gen, 1, bs or nil) do seen[#seen + 1] = v; assert(k) end
        end)
        assert.is_false(ok)
        assert.is_true(errors.KeyError:is(err), tostring(err))
        table.sort(seen)
        assert.same({ 1, 4, 9, 16, 25 }, seen)
      end
    end)

    it("yields the results before a failing task, then raises its error", function()
      local i = 0
      local function gen() i = i + 1; if i <= 8 then return i end end
      local seen = {}
      local ok, err = pcall(function()
        for k, v in M.call(p, function(x)
          if x == 4 then error(errors.ValueError("task 4")) end
          return x
        end, gen, 1, 2) do seen[k] = v end
      end)
      assert.is_false(ok)
      assert.is_true(errors.ValueError:is(err))
      if not M.name:find("unordered") then assert.same({ 1, 2, 3 }, seen) end
      -- the pool still serves
      local n = 0
      for _, v in M.call(p, square, { 1, 2, 3 }, 1) do n = n + v end
      assert.equal(14, n)
    end)

    it("takes buffersize for a table too, and checks it as Python 3.14 does", function()
      local t = {}
      for k = 1, 25 do t[k] = k end
      local got = {}
      for k, v in M.call(p, square, t, 2, 3) do got[k] = v end
      for k = 1, 25 do assert.equal(k * k, got[k]) end
      local n = 0
      for _ in M.call(p, square, {}, 1, 3) do n = n + 1 end
      assert.equal(0, n)
      helpers.raises(errors.ValueError, M.call, p, square, t, 1, 0)
      helpers.raises(errors.ValueError, M.call, p, square, t, 1, -2)
      helpers.raises(errors.TypeError, M.call, p, square, t, 1, 2.5)
      helpers.raises(errors.TypeError, M.call, p, square, t, 1, "8")
      helpers.raises(errors.TypeError, M.call, p, square, 42, 1, 2)
    end)
  end)
end

describe("Pool.imap options", function()
  it("takes buffersize positionally or in the options table, with progress", function()
    local p <close> = mpool.ThreadPool(2)
    local c = counter()
    local n = 0
    for i, v in p:imap(square, c.gen, 1, { buffersize = 2 }) do
      n = n + 1
      assert.equal(i * i, v)
      assert.is_true(c.read <= n + 2)
      if n == 10 then break end
    end
    local buf = {}
    local file = { write = function(_, ...) for _, s in ipairs { ... } do buf[#buf + 1] = s end end,
                   flush = function() end }
    local k = 0
    local function gen() k = k + 1; if k <= 5 then return k end end
    local m = 0
    for _ in p:imap(square, gen, 1, { buffersize = 2, progress = "force", file = file }) do
      m = m + 1
    end
    assert.equal(5, m)
  end)
end)

describe("ThreadPool:imap_unordered over an iterator function", function()
  it("yields later results while an earlier task still runs (completion order across the window)", function()
    local p <close> = mpool.ThreadPool(2)
    local gate, fallback = threading.Event(), threading.Event()
    -- a bound for the case that the results never come: opens the gate
    -- after 30 s and says so (the assertion below then fails)
    local guard = threading.Thread { target = function()
      if not gate:wait(30) then fallback:set(); gate:set() end
    end }
    guard:start()
    local i = 0
    local function gen() i = i + 1; if i <= 40 then return i end end
    local order = {}
    for k, v in p:imap_unordered(function(x)
      if x == 1 then gate:wait(60) end
      return x
    end, gen, 1, 4) do
      assert.equal(k, v)
      order[#order + 1] = v
      if #order == 20 then gate:set() end
    end
    guard:join(60)
    assert.is_false(fallback:is_set())
    assert.equal(40, #order)
    for j = 1, 20 do assert.is_true(order[j] ~= 1) end -- they came while task 1 ran
  end)
end)

describe("a lazy map made before close() or shutdown()", function()
  it("still runs every task: the rest of its input is read then (Python reads it all)", function()
    for _, make in ipairs { function() return mpool.ThreadPool(2), "close" end,
                            function() return futures.ThreadPoolExecutor(2), "shutdown" end } do
      local p, stop = make()
      local i = 0
      local function gen() i = i + 1; if i <= 1000 then return i end end
      for _, method in ipairs { "imap", "imap_unordered", "map" } do
        if p[method] and (method == "map") == (stop == "shutdown") then
          i = 0
          local it, s, c, cl = p[method](p, square, gen, nil)
          assert.is_true(i < 1000) -- not read yet
          p[stop](p)
          assert.is_true(i > 1000) -- read to its end
          local n = 0
          for _, v in it, s, c, cl do n = n + 1; assert.is_true(v >= 1) end
          assert.equal(1000, n)
          if stop == "close" then p = mpool.ThreadPool(2) end
        end
      end
      if stop == "close" then p:terminate() end
    end
  end)
end)

describe("a process Pool sent to a thread", function()
  it("keeps its workers when the thread's copy is collected (only the pool's own state finalizes it)", function()
    local p <close> = mp.Pool(1, nil, nil, nil, mp.get_context(METHODS[1]))
    local t = threading.Thread { target = function(pool)
      assert(pool:apply(function() return 5 end) == 5)
      pool = nil
      collectgarbage(); collectgarbage()
    end, args = { p } }
    t:start()
    t:join(60)
    assert.is_false(t:is_alive())
    collectgarbage(); collectgarbage()
    assert.equal(7, p:apply(function() return 7 end))
  end)
end)

describe("Pool.imap through a manager's Pool proxy", function()
  local m
  setup(function() m = mp.get_context(METHODS[1]).Manager() end)
  teardown(function() if m then m:shutdown() end end)

  it("reads an iterator function as results are consumed, at most buffersize tasks ahead", function()
    local pool = m:Pool(2)
    for _, method in ipairs { "imap", "imap_unordered" } do
      local c = counter()
      local n = 0
      for i, v in pool[method](pool, square, c.gen, 2, 3) do
        n = n + 1
        assert.equal(i * i, v)
        assert.is_true(c.read <= n + 3 * 2, ("read %d after %d results"):format(c.read, n))
        if n == 30 then break end
      end
      assert.equal(30, n)
    end
    -- without buffersize: bounded too, and the iterator's error after the
    -- results before it
    local i = 0
    local function gen()
      i = i + 1
      if i == 6 then error(errors.KeyError("no item 6")) end
      return i
    end
    local seen = {}
    local ok, err = pcall(function()
      for _, v in pool:imap(square, gen) do seen[#seen + 1] = v end
    end)
    assert.is_false(ok)
    assert.is_true(errors.KeyError:is(err))
    assert.same({ 1, 4, 9, 16, 25 }, seen)
    helpers.raises(errors.ValueError, pool.imap, pool, square, gen, 1, 0)
    pool:terminate()
  end)
end)

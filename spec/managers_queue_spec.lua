-- A manager's Queue/JoinableQueue: the proxy's direct path (a proxy on
-- the manager's host runs the calls that do not wait on the shared
-- queue itself; docs/managers.md, "The Queue proxy's direct path") mixed
-- with the server's path (waiting calls, and clients that use the
-- server: remote ones, here one forced to it), in processes of every
-- start method: one FIFO, each item once, waiters woken, join/task_done
-- counted across both, shutdown and a killed manager never leave a
-- proxy call hanging or succeeding on an orphaned queue.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local threading = require "braid.threading"
local queue = require "braid.queue"
local core = require "braid.core"

local CTX = mp.get_context(helpers.start_methods()[1])

-- (A proxy is put on the server's path in a state, as a client on
-- another host is, by caching "no direct queue" for its process:
-- rawset(q, "_dq", false); rawset(q, "_dqpid", getpid()).)

local function uses_direct(q)
  local dq = rawget(q, "_dq")
  return type(dq) == "userdata" and rawget(q, "_dqpid") == core.getpid()
end

-- A producer: puts {tag, i} for i = 1..n, then reports whether its proxy
-- ran on the shared queue directly.
local function producer(q, tag, n, done)
  for i = 1, n do q:put({ tag, i }) end
  local dq = rawget(q, "_dq")
  done:put({ tag, type(dq) == "userdata" })
end

-- Puts {i, 10 KiB} for i = 1..n into q from a daemon thread; whether it
-- was done within 'secs' (so a put that waits fails a spec, not hangs it).
local function fill_unwaited(q, n, secs)
  local filled = threading.Event()
  local t = threading.Thread{ target = function(qq, k, ev)
    local blob = string.rep("j", 10240)
    for i = 1, k do qq:put({ i, blob }) end
    ev:set()
  end, args = { q, n, filled }, daemon = true }
  t:start()
  return filled:wait(secs)
end

describe("a manager's Queue proxy", function()
  local m
  setup(function() m = CTX.Manager() end)
  teardown(function() if m then m:shutdown() end end)

  it("runs put/get/qsize/empty/full on the shared queue on the manager's host", function()
    local q = m:Queue()
    q:put("a")
    assert.is_true(uses_direct(q))
    assert.equal(1, q:qsize()); assert.is_false(q:empty()); assert.is_false(q:full())
    assert.equal("a", q:get())
    helpers.raises(queue.Empty, q.get_nowait, q)
    helpers.raises(queue.Empty, q.get, q, false)
    helpers.raises(queue.Empty, q.get, q, true, 0.01) -- waits in the server
    -- a client on the server's path (a thread of its own, forced to it)
    -- and this direct one see one queue
    q:put(1)
    local res = queue.Queue()
    local t = threading.Thread{ target = function(qq, out)
      local c = require "braid.core"
      rawset(qq, "_dq", false); rawset(qq, "_dqpid", c.getpid())
      qq:put(2)
      out:put({ qq:qsize(), qq:get(true, 30), type(rawget(qq, "_dq")) })
    end, args = { q, res } }
    t:start()
    assert.same({ 2, 1, "boolean" }, res:get(true, 30))
    t:join(30)
    assert.is_false(t:is_alive())
    assert.equal(2, q:get(false))
    -- a proxy in an item stays a proxy of the same object, both ways
    local d = m:dict(); d.x = 5
    q:put({ d = d })
    local item = q:get()
    assert.equal("DictProxy", getmetatable(item.d).__name); assert.equal(5, item.d.x)
    -- a negative timeout is Python's ValueError, even with an item there
    q:put(3)
    helpers.raises(errors.ValueError, q.get, q, true, -1)
    helpers.raises(errors.ValueError, q.put, q, 4, true, -1)
    assert.equal(3, q:get(true, -1 + 2))
    local bq = m:Queue(2)
    bq:put(1); bq:put_nowait(2)
    assert.is_true(bq:full())
    helpers.raises(queue.Full, bq.put_nowait, bq, 3)
    helpers.raises(queue.Full, bq.put, bq, 3, false)
    helpers.raises(queue.Full, bq.put, bq, 3, true, 0.01)
    assert.equal(1, bq:get()); assert.equal(2, bq:get())
    helpers.raises(errors.TypeError, bq.put_nowait, bq)
    helpers.raises(errors.TypeError, bq.put, bq)
  end)

  it("streams an item larger than its ring (the put waits in the server, the get reads)", function()
    local q = m:Queue()
    local n = 9 * 1024 * 1024 -- the ring holds 8 MiB
    local p = CTX.Process{ target = function(qq, k) qq:put(string.rep("y", k)); qq:put("after") end,
                           args = { q, n } }
    p:start()
    local v = q:get(true, 60)
    assert.equal(n, #v); assert.equal("yy", v:sub(1, 2))
    assert.equal("after", q:get(true, 60))
    p:join(60)
    assert.equal(0, p.exitcode)
  end)

  -- The overflow (mgrserver.lua, "The overflow"): an unbounded Queue's
  -- put never waits, as Python's (a queue.Queue in the server), though
  -- its ring holds 8 MiB. Items of 10 KiB: 1,000 of them overflow it.
  it("never blocks a put when unbounded: 20 MiB in one process, then got in order", function()
    -- in a child, so that a put that waits fails the spec, not hangs it
    local res = CTX.Queue()
    local p = CTX.Process{ target = function(qq, out)
      local E = require "braid.errors"
      local blob = string.rep("z", 10240)
      for i = 1, 1500 do qq:put({ i, blob }) end
      for i = 1501, 2000 do qq:put_nowait({ i, blob }) end -- never Full either
      local sizes = { qq:qsize(), qq:empty(), qq:full() }
      local ok = true
      for i = 1, 2000 do
        local v = qq:get(true, 60)
        if v[1] ~= i or v[2] ~= blob then ok = false; break end
      end
      local ok2 = pcall(qq.get_nowait, qq)
      out:put({ sizes, ok, ok2 == false and qq:empty() and qq:qsize() == 0 })
      local _ = E
    end, args = { m:Queue(), res } }
    p:start()
    local ok, r = pcall(res.get, res, true, 120)
    if not ok then p:kill() end
    p:join(60)
    assert.is_true(ok, "the puts blocked")
    assert.same({ { 2000, false, false }, true, true }, r)
    assert.equal(0, p.exitcode)
  end)

  it("counts the overflowed items in a JoinableQueue's join", function()
    local jq = m:JoinableQueue()
    local N = 1200
    assert.is_true(fill_unwaited(jq, N, 60), "the puts blocked")
    assert.equal(N, jq:qsize())
    local joined = queue.Queue()
    local j = threading.Thread{ target = function(qq, out) qq:join(); out:put(true) end,
                                args = { jq, joined } }
    j:start()
    for i = 1, N - 1 do
      assert.equal(i, jq:get(true, 60)[1])
      jq:task_done()
    end
    -- every overflowed item was a task: one is not done, join still waits
    assert.equal(N, jq:get(true, 60)[1])
    helpers.raises(queue.Empty, joined.get, joined, true, 0.2)
    jq:task_done()
    assert.is_true(joined:get(true, 60))
    j:join(30)
    assert.is_false(j:is_alive())
  end)

  for _, method in ipairs(helpers.start_methods()) do
    describe("with " .. method .. " processes", function()
      local ctx = mp.get_context(method)

      it("keeps every item once and each producer's order through the overflow", function()
        local N = 1200 -- 12 MiB a producer
        local q, done = m:Queue(), ctx.Queue()
        local function big_producer(qq, tag, n, out)
          local blob = string.rep("p", 10240)
          for i = 1, n do qq:put({ tag, i, blob }) end
          out:put(tag)
        end
        local p1 = ctx.Process{ target = big_producer, args = { q, 1, N, done } }
        p1:start()
        -- the first one puts all of its items with nobody reading (no put
        -- waits), then the second puts while this process drains
        local ok, tag = pcall(done.get, done, true, 120)
        if not ok then p1:kill(); p1:join(30) end
        assert.is_true(ok, "the puts blocked")
        assert.equal(1, tag)
        local p2 = ctx.Process{ target = big_producer, args = { q, 2, N, done } }
        p2:start()
        local last, seen = { 0, 0 }, 0
        for _ = 1, 2 * N do
          local it = q:get(true, 60)
          assert.equal(last[it[1]] + 1, it[2]) -- FIFO per producer, nothing twice
          assert.equal(10240, #it[3])
          last[it[1]] = it[2]
          seen = seen + 1
        end
        assert.same({ N, N }, last)
        assert.equal(2 * N, seen)
        assert.equal(2, done:get(true, 60))
        helpers.raises(queue.Empty, q.get_nowait, q)
        p1:join(60); p2:join(60)
        assert.equal(0, p1.exitcode); assert.equal(0, p2.exitcode)
      end)

      it("delivers every item once, in order per producer, from direct and server puts", function()
        local N = 300
        -- bounded: puts on a full queue go to the server too
        local q, done = m:Queue(16), ctx.Queue()
        local ps = {}
        for tag = 1, 2 do
          ps[tag] = ctx.Process{ target = producer, args = { q, tag, N, done } }
          ps[tag]:start()
        end
        local th = threading.Thread{ target = function(qq, n)
          local c = require "braid.core"
          rawset(qq, "_dq", false); rawset(qq, "_dqpid", c.getpid())
          for i = 1, n do qq:put({ 3, i }) end
        end, args = { q, N } }
        th:start()
        local last, count = { 0, 0, 0 }, 0
        for _ = 1, 3 * N do
          local it = q:get(true, 60)
          local tag, i = it[1], it[2]
          assert.equal(last[tag] + 1, i) -- FIFO per producer, nothing twice
          last[tag] = i
          count = count + 1
        end
        assert.same({ N, N, N }, last)
        assert.equal(3 * N, count)
        helpers.raises(queue.Empty, q.get_nowait, q)
        local direct = {}
        for _ = 1, 2 do
          local r = done:get(true, 60)
          direct[r[1]] = r[2]
        end
        assert.same({ true, true }, direct) -- the children used the direct path
        for tag = 1, 2 do ps[tag]:join(60); assert.equal(0, ps[tag].exitcode) end
        th:join(60)
        assert.is_false(th:is_alive())
      end)

      it("wakes a get blocked in the server with a direct put from another process", function()
        local q, ev = m:Queue(), threading.Event()
        local got = queue.Queue()
        local t = threading.Thread{ target = function(qq, e, out)
          e:set()
          out:put({ qq:get(true, 60) })
        end, args = { q, ev, got } }
        t:start()
        assert.is_true(ev:wait(30))
        local p = ctx.Process{ target = function(qq)
          qq:put("woken")
          assert(type(rawget(qq, "_dq")) == "userdata", "the put was not direct")
        end, args = { q } }
        p:start()
        local t0 = helpers.now()
        assert.same({ "woken" }, got:get(true, 60))
        assert.is_true(helpers.now() - t0 < 30)
        p:join(60)
        assert.equal(0, p.exitcode)
        t:join(30)
      end)

      it("counts join/task_done across the direct and the server's paths", function()
        local jq = m:JoinableQueue()
        local N = 40
        for i = 1, N do jq:put(i) end
        local p = ctx.Process{ target = function(qq, n)
          for _ = 1, n do qq:get(true, 60); qq:task_done() end
        end, args = { jq, N // 2 } }
        p:start()
        local th = threading.Thread{ target = function(qq, n)
          local c = require "braid.core"
          rawset(qq, "_dq", false); rawset(qq, "_dqpid", c.getpid())
          for _ = 1, n do qq:get(true, 60); qq:task_done() end
        end, args = { jq, N // 2 } }
        th:start()
        local joined = queue.Queue()
        local j = threading.Thread{ target = function(qq, out) qq:join(); out:put(true) end,
                                    args = { jq, joined } }
        j:start()
        assert.is_true(joined:get(true, 60))
        p:join(60); th:join(60); j:join(60)
        assert.equal(0, p.exitcode)
        assert.is_true(jq:empty())
        helpers.raises(errors.ValueError, jq.task_done, jq) -- one too many, directly
        helpers.raises(errors.ValueError, jq._callmethod, jq, "task_done") -- and in the server
      end)
    end)
  end
end)

describe("a manager's Queue proxy after the manager is gone", function()
  it("raises at once after shutdown(), even for calls that ran directly", function()
    local m = CTX.Manager()
    local q = m:Queue()
    q:put(1)
    assert.is_true(uses_direct(q))
    local ev = threading.Event()
    local t = threading.Thread{ target = function(qq, e)
      assert(qq:get() == 1)
      e:set()
      return pcall(qq.get, qq, true, 60) -- blocked (in the manager)
    end, args = { q, ev } }
    t:start()
    assert.is_true(ev:wait(30))
    local t0 = helpers.now()
    m:shutdown()
    for _, f in ipairs({ function() q:put(2) end, function() return q:qsize() end,
                         function() return q:get_nowait() end, function() q:task_done() end }) do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.is_true(errors.is(errors.EOFError, err) or errors.is(errors.OSError, err))
    end
    t:join(30)
    assert.is_false(t:is_alive())
    assert.is_true(helpers.now() - t0 < 20)
  end)

  it("ends a join blocked in the manager with an error at shutdown()", function()
    local m = CTX.Manager()
    local jq = m:JoinableQueue()
    jq:put(1) -- never task_done: join waits
    local ev, res = threading.Event(), queue.Queue()
    local t = threading.Thread{ target = function(qq, e, out)
      e:set()
      local ok, err = pcall(qq.join, qq)
      out:put({ ok, require("braid.errors").is(require("braid.errors").EOFError, err)
                    or require("braid.errors").is(require("braid.errors").OSError, err) })
    end, args = { jq, ev, res } }
    t:start()
    assert.is_true(ev:wait(30))
    local t0 = helpers.now()
    m:shutdown()
    assert.same({ false, true }, res:get(true, 30))
    assert.is_true(helpers.now() - t0 < 20)
    t:join(30)
  end)

  it("drops an overflow with the server at shutdown()", function()
    local m = CTX.Manager()
    local q = m:Queue()
    assert.is_true(fill_unwaited(q, 1200, 60), "the puts blocked") -- 400 or so overflowed
    assert.equal(1200, q:qsize())
    local t0 = helpers.now()
    m:shutdown()
    assert.is_true(helpers.now() - t0 < 20)
    local ok = pcall(q.put, q, 1)
    assert.is_false(ok)
  end)

  it("raises in a process whose manager was killed, never puts into an orphaned queue", function()
    local m = CTX.Manager()
    local q = m:Queue()
    q:put(1)
    assert.is_true(uses_direct(q))
    local p = m._process
    p:kill()
    p:join(30)
    local ok, err = pcall(q.put, q, 2)
    assert.is_false(ok)
    assert.is_true(errors.is(errors.EOFError, err) or errors.is(errors.OSError, err))
    m:shutdown()
  end)
end)

-- Small differences from Python removed (issue 15, item 2): SystemExit's
-- exit status, threading.local's arguments, BufferTooShort's args,
-- ctx:get_context(), Queue:put's timeout check and the assignable maxsize.
-- (The excepthook and SystemExit are in threading_spec.lua.)
local helpers = require "helpers"
local errors = require "braid.errors"
local threading = require "braid.threading"
local queue = require "braid.queue"
local mp = require "braid.multiprocessing"

local METHODS = helpers.start_methods()
local HOST, braid_run = helpers.HOST, helpers.braid_run
local host_it = HOST == "none" and pending or it

describe("SystemExit", function()
  it("gives Python's status for each kind of code (errors.exit_status)", function()
    local S = errors.SystemExit
    assert.same({ 0 }, { errors.exit_status(S()) })
    assert.same({ 0 }, { errors.exit_status(S(false)) })
    assert.same({ 1 }, { errors.exit_status(S(true)) })
    assert.same({ 3 }, { errors.exit_status(S(3)) })
    assert.same({ 3 }, { errors.exit_status(S(3.0)) })
    assert.same({ 1, "bye" }, { errors.exit_status(S("bye")) })
    assert.same({ 1, "2.5" }, { errors.exit_status(S(2.5)) })
  end)

  host_it("ends the host's main script with that status", function()
    local cases = {
      { "nil", 0, "" }, { "false", 0, "" }, { "true", 1, "" }, { "4", 4, "" },
      { "'stopping now'", 1, "stopping now\n" },
    }
    for _, c in ipairs(cases) do
      local rc, out = braid_run(("error(require('braid.errors').SystemExit(%s))\n"
        .. "print('not reached')"):format(c[1]))
      assert.equal(c[2], rc, c[1])
      assert.equal(c[3], out, c[1]) -- no traceback, nothing else
    end
  end)

  host_it("waits for non-daemon threads before the host exits", function()
    local rc, out = braid_run([[
      local threading = require "braid.threading"
      local go = threading.Event()
      local t = threading.Thread{target = function(e)
        e:wait(30); print("thread done") end, args = {go}}
      t:start()
      go:set()
      error(require("braid.errors").SystemExit(false))
    ]])
    assert.equal(0, rc)
    assert.equal("thread done\n", out)
  end)

  host_it("prints a string code of a Process to stderr", function()
    local rc, out = braid_run([[
      local mp = require "braid.multiprocessing"
      local p = mp.Process{target = function()
        error(require("braid.errors").SystemExit("child says bye")) end}
      p:start(); p:join(60)
      print("exitcode", p.exitcode)
    ]])
    assert.equal(0, rc)
    assert.equal("child says bye\nexitcode\t1\n", out)
  end)

  for _, method in ipairs(METHODS) do
    it("gives a Process's exitcode by Python's rules with " .. method, function()
      local ctx = mp.get_context(method)
      local codes = { { false, 0 }, { true, 1 }, { 9, 9 } }
      local ps = {}
      for i, c in ipairs(codes) do
        ps[i] = ctx.Process{target = function(code)
          error(require("braid.errors").SystemExit(code))
        end, args = { c[1] }}
        ps[i]:start()
      end
      for i, c in ipairs(codes) do
        ps[i]:join(60)
        assert.equal(c[2], ps[i].exitcode, tostring(c[1]))
      end
    end)
  end
end)

describe("threading.local", function()
  it("refuses initialization arguments with TypeError", function()
    local err = helpers.raises(errors.TypeError, threading["local"], 1)
    helpers.message_has(err, "Initialization arguments are not supported")
    helpers.raises(errors.TypeError, threading.Local, { x = 1 })
    assert.is_userdata(threading.Local())
    -- a subclass without __init refuses them too
    local Plain = threading["local"]:subclass("Plain")
    helpers.raises(errors.TypeError, Plain, 1)
    assert.is_userdata(Plain())
  end)

  it("lets a subclass's __init take them, once per thread on first use", function()
    local My = threading["local"]:subclass("My")
    My.number = 2
    function My:__init(kw, extra)
      for k, v in pairs(kw) do self[k] = v end
      self.extra = extra
      self.inits = (self.inits or 0) + 1
    end
    function My:squared() return self.number ^ 2 end
    local Sub = My:subclass("Sub") -- methods found along the chain
    function Sub:cubed() return self.number ^ 3 end
    local o = Sub({ color = "red" }, "x")
    assert.equal("red", o.color)
    assert.equal("x", o.extra)
    assert.equal(1, o.inits)
    assert.equal(4, o:squared())
    o.number = 3
    assert.equal(27, o:cubed())
    local q = queue.Queue()
    local t = threading.Thread{target = function(obj, out)
      -- a fresh __init here: the class's number, not the main thread's
      out:put({ obj.color, obj.extra, obj.inits, obj:squared() })
      obj.color = "blue"
      out:put(obj.color)
    end, args = { o, q }}
    t:start(); t:join(30)
    assert.same({ "red", "x", 1, 4 }, q:get(true, 30))
    assert.equal("blue", q:get(true, 30))
    assert.equal("red", o.color)
    assert.equal(1, o.inits)
  end)

  it("runs a failed __init again at the next use (Python forgets the thread's dict)", function()
    local Flaky = threading["local"]:subclass("Flaky")
    function Flaky:__init(gate)
      if not gate:is_set() then error(errors.ValueError("not yet")) end
      self.ready = true
    end
    local gate = threading.Event()
    gate:set()
    local o = Flaky(gate)
    gate:clear()
    local q = queue.Queue()
    local t = threading.Thread{target = function(obj, g, out)
      local ok, err = pcall(function() return obj.ready end)
      out:put({ ok, require("braid.errors").ValueError:is(err) })
      g:set()
      out:put(obj.ready)
    end, args = { o, gate, q }}
    t:start(); t:join(30)
    assert.same({ false, true }, q:get(true, 30))
    assert.is_true(q:get(true, 30))
  end)
end)

describe("BufferTooShort", function()
  it("carries the whole message as args[1], and as value", function()
    local r, w = mp.Pipe()
    local buf = mp.Array("b", 4)
    w:send_bytes("0123456789")
    local err = helpers.raises(mp.BufferTooShort, r.recv_bytes_into, r, buf)
    assert.equal("0123456789", err.args[1])
    assert.equal("0123456789", err.value)
    r:close(); w:close()
  end)
end)

describe("ctx:get_context()", function()
  for _, method in ipairs(METHODS) do
    it("returns the context itself without a method, with " .. method, function()
      local ctx = mp.get_context(method)
      assert.equal(ctx, ctx:get_context())
      assert.equal(ctx, ctx.get_context())
      assert.equal(ctx, ctx:get_context(method))
      local other = method == "spawn" and "fork" or "spawn"
      assert.equal(mp.get_context(other), ctx:get_context(other))
      assert.equal(other, ctx:get_context(other).get_start_method())
      helpers.raises(errors.ValueError, ctx.get_context, ctx, "nope")
    end)
  end
end)

describe("queue.Queue put's timeout and maxsize", function()
  local kinds = { "Queue", "LifoQueue", "PriorityQueue" }
  for _, kind in ipairs(kinds) do
    local Q = queue[kind]

    it(kind .. ":put(item, true, negative) succeeds when unbounded only", function()
      local q = Q()
      q:put(1, true, -1)
      q:put_many({ 2, 3 }, true, -0.5)
      assert.equal(3, q:qsize())
      local b = Q(5)
      local err = helpers.raises(errors.ValueError, b.put, b, 1, true, -1)
      helpers.message_has(err, "'timeout' must be a non-negative number")
      -- the check reads the bound of the moment
      q.maxsize = 10
      helpers.raises(errors.ValueError, q.put, q, 4, true, -1)
      q.maxsize = 0
      q:put(4, true, -1)
    end)

    it(kind .. ".maxsize can be read and assigned; every put re-reads it", function()
      local q = Q()
      assert.equal(0, q.maxsize)
      q:put(1); q:put_many({ 2, 3 }) -- a batch, on the unbounded queue
      q.maxsize = 4
      assert.equal(4, q.maxsize)
      assert.is_false(q:full())
      q:put(4)
      assert.is_true(q:full())
      helpers.raises(queue.Full, q.put, q, 5, false)
      helpers.raises(queue.Full, q.put, q, 5, true, 0.01)
      q.maxsize = 5
      q:put(5, false)
      -- items kept their order through the change of path
      local got = {}
      for i = 1, 5 do got[i] = q:get(false) end
      if kind == "LifoQueue" then
        assert.same({ 5, 4, 3, 2, 1 }, got)
      else
        assert.same({ 1, 2, 3, 4, 5 }, got)
      end
      q.maxsize = -3 -- <= 0: unbounded
      assert.equal(0, q.maxsize)
      for i = 1, 10 do q:put(i, false) end
      assert.equal(10, q:qsize())
    end)

    it(kind .. ": a smaller maxsize keeps the items and blocks later puts only", function()
      local q = Q(5)
      for i = 1, 4 do q:put(i) end
      q.maxsize = 2
      assert.equal(4, q:qsize())
      helpers.raises(queue.Full, q.put, q, 9, false)
      q:get(); q:get(); q:get()
      q:put(9, false)
      assert.is_true(q:full())
    end)

    it(kind .. ": a larger maxsize wakes a blocked putter", function()
      local q = Q(1)
      q:put(0)
      local started, done = threading.Event(), threading.Event()
      local t = threading.Thread{target = function(qq, s, d)
        s:set()
        qq:put(1, true, 30)
        d:set()
      end, args = { q, started, done }}
      t:start()
      assert.is_true(started:wait(30))
      assert.is_false(done:wait(0.1)) -- still blocked: the queue is full
      q.maxsize = 2
      assert.is_true(done:wait(30))
      t:join(30)
      assert.equal(2, q:qsize())
    end)
  end

  it("wakes a blocked getter of an unbounded Queue given a bound, and keeps its items", function()
    local q = queue.Queue()
    local started, res = threading.Event(), queue.Queue()
    local t = threading.Thread{target = function(qq, s, r)
      s:set()
      r:put(qq:get(true, 30))
      r:put(qq:get(true, 30))
    end, args = { q, started, res }}
    t:start()
    assert.is_true(started:wait(30))
    q.maxsize = 1 -- moves the queue off its fast path while a getter waits
    q:put("a")
    q:put("b", true, 30)
    assert.equal("a", res:get(true, 30))
    assert.equal("b", res:get(true, 30))
    t:join(30)
  end)

  it("loses and repeats no item when a bound comes while producers and consumers run", function()
    local q, out = queue.Queue(), queue.Queue()
    local N, P, C = 20000, 2, 2
    local half = threading.Barrier(P + 1)
    local ts = {}
    for p = 1, P do
      ts[#ts + 1] = threading.Thread{target = function(qq, b, base, n)
        for i = 1, n // 2, 10 do
          qq:put_many({ base + i, base + i + 1, base + i + 2, base + i + 3,
            base + i + 4, base + i + 5, base + i + 6, base + i + 7,
            base + i + 8, base + i + 9 })
        end
        b:wait(30) -- the main thread sets the bound meanwhile
        for i = n // 2 + 1, n do qq:put(base + i, true, 30) end
      end, args = { q, half, p * 1000000, N }}
    end
    for _ = 1, C do
      ts[#ts + 1] = threading.Thread{target = function(qq, o)
        local sum, n = 0, 0
        while true do
          local v = qq:get(true, 30)
          if v == false then break end
          sum, n = sum + v, n + 1
        end
        o:put({ sum, n })
      end, args = { q, out }}
    end
    for _, t in ipairs(ts) do t:start() end
    half:wait(30)
    q.maxsize = 64
    for i = 1, P do ts[i]:join(60) end
    for _ = 1, C do q:put(false, true, 30) end
    local sum, n = 0, 0
    for _ = 1, C do
      local r = out:get(true, 60)
      sum, n = sum + r[1], n + r[2]
    end
    for i = P + 1, #ts do ts[i]:join(60) end
    local want = 0
    for p = 1, P do want = want + p * 1000000 * N + N * (N + 1) // 2 end
    assert.equal(P * N, n)
    assert.equal(want, sum)
  end)

  it("refuses a maxsize of another type, and on a SimpleQueue", function()
    local q = queue.Queue()
    helpers.raises(errors.TypeError, function() q.maxsize = "big" end)
    helpers.raises(errors.TypeError, function() q.maxsize = 1.5 end)
    helpers.raises(errors.AttributeError, function() q.other = 1 end)
    local s = queue.SimpleQueue()
    helpers.raises(errors.AttributeError, function() s.maxsize = 3 end)
  end)
end)

describe("multiprocessing Queue maxsize", function()
  for _, cls in ipairs({ "Queue", "JoinableQueue" }) do
    it(cls .. ".maxsize can be read and assigned; every put re-reads it", function()
      local q = mp[cls]()
      assert.equal(0, q.maxsize)
      q:put(1, true, -1) -- no bound, so no check of the timeout
      q:put(2)
      q.maxsize = 2
      assert.equal(2, q.maxsize)
      assert.is_true(q:full())
      helpers.raises(queue.Full, q.put, q, 3, false)
      q.maxsize = 3
      q:put(3, false)
      assert.equal(1, q:get(true, 30))
      q.maxsize = 1 -- smaller: items stay, later puts wait
      assert.equal(2, q:qsize())
      helpers.raises(queue.Full, q.put, q, 4, false)
      helpers.raises(errors.TypeError, function() q.maxsize = "x" end)
      q.maxsize = 0
      q:put(4, false)
      assert.equal(3, q:qsize())
    end)
  end

  for _, method in ipairs(METHODS) do
    it("wakes a child's blocked put when the parent grows it, with " .. method, function()
      local ctx = mp.get_context(method)
      local q = ctx.JoinableQueue(1)
      q:put("first")
      local started = ctx.Event()
      local p = ctx.Process{target = function(qq, s)
        s:set()
        qq:put("second", true, 30)
        qq:put(qq.maxsize) -- the child sees the bound set by the parent
      end, args = { q, started }}
      p:start()
      assert.is_true(started:wait(30))
      assert.equal(1, q.maxsize)
      q.maxsize = 3
      p:join(60)
      assert.equal(0, p.exitcode)
      assert.equal("first", q:get(true, 30))
      assert.equal("second", q:get(true, 30))
      assert.equal(3, q:get(true, 30))
    end)
  end
end)

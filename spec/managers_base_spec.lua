-- multiprocessing.managers: BaseManager (register, subclass, start with
-- an initializer, get_server():serve_forever(), connect, authkey),
-- proxy types of your own, method_to_typeid, RemoteError, Token; the
-- server and its clients as separate processes on loopback.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local managers = require "braid.multiprocessing.managers"
-- The managers' server processes use the first start method the specs
-- run with (spawn only under TSan: see scripts/test.sh).
local CTX = mp.get_context(helpers.start_methods()[1])

-- A class of server-side objects: a counter with a method that returns
-- another managed object (method_to_typeid).
local function make_counter(start)
  local Counter = {}
  Counter.__index = Counter
  function Counter:incr(n) self.v = self.v + (n or 1); return self.v end
  function Counter:value() return self.v end
  function Counter:fail() error(require("braid.errors").KeyError("no such counter")) end
  function Counter:twin() return setmetatable({ v = self.v * 2 }, Counter) end
  function Counter:_hidden() return "hidden" end
  return setmetatable({ v = start or 0 }, Counter)
end

describe("managers.BaseManager", function()
  it("registers typeids on a subclass only", function()
    local A = managers.BaseManager:subclass("A")
    A:register("counter", make_counter)
    local B = A:subclass("B")
    B:register("other", make_counter)
    assert.is_function(A.counter); assert.is_nil(rawget(A, "other")); assert.is_nil(A.other)
    assert.is_function(B.counter); assert.is_function(B.other)
    assert.is_nil(managers.BaseManager.counter)
    assert.is_nil(managers.BaseManager.dict)
    assert.is_function(managers.SyncManager.dict)
    helpers.raises(errors.TypeError, A.register, A, 42)
    helpers.raises(errors.TypeError, managers.BaseManager, { authkey = 5 })
  end)

  it("serves objects of a registered callable with AutoProxy, exposed, method_to_typeid", function()
    local M = managers.BaseManager:subclass("CounterManager")
    M:register("Counter", make_counter, nil, nil, { twin = "Counter" })
    M:register{ "Limited", callable = make_counter, exposed = { "value" } }
    M:register("Counter2", nil, nil, nil, nil, false)
    assert.is_nil(rawget(M, "Counter2"))
    local m <close> = M{ ctx = CTX }
    helpers.raises(errors.ValueError, m.Counter, m)  -- not started yet
    m:start()
    local c = m:Counter(5)
    assert.equal(6, c:incr()); assert.equal(8, c:incr(2)); assert.equal(8, c:value())
    assert.is_nil(c._hidden)            -- not a public method: not exposed
    local err = helpers.raises(errors.KeyError, c.fail, c)
    helpers.message_has(err, "no such counter")
    assert.truthy(tostring(err.traceback):find("managers_base_spec", 1, true))
    local t = c:twin()                   -- a proxy, through method_to_typeid
    assert.equal(16, t:value())
    t:incr()
    assert.equal(17, t:value()); assert.equal(8, c:value())
    local lim = m:Limited(1)
    assert.equal(1, lim:value())
    assert.is_nil(lim.incr)
    err = helpers.raises(errors.AttributeError, lim._callmethod, lim, "incr")
    helpers.message_has(err, "not in exposed")
    assert.equal("Counter", c._token.typeid)
    assert.truthy(tostring(c._token):find("Counter", 1, true))
    assert.truthy(tostring(c):find("AutoProxy", 1, true))
  end)

  it("takes proxy types of your own", function()
    local CounterProxy = managers.BaseProxy:subclass("CounterProxy", { "incr", "value" })
    function CounterProxy:incr_twice() self:incr(); return self:incr() end
    CounterProxy.__len = function(self) return self:value() end
    local M = managers.BaseManager:subclass("M2")
    M:register("Counter", make_counter, CounterProxy)
    local m <close> = M{ ctx = CTX }
    m:start()
    local c = m:Counter(1)
    assert.equal(3, c:incr_twice())
    assert.equal(3, #c)
    -- the proxy type travels with the proxy
    local ok, v = helpers.run_in_thread(function(p) return p:incr_twice() end, c)
    assert.is_true(ok); assert.equal(5, v)
  end)

  it("runs start()'s initializer in the server process", function()
    local M = managers.BaseManager:subclass("M3")
    M:register("get", function() return { v = _G.INIT_VALUE, pid = require("braid.core").getpid(),
                                           value = function(self) return self.v, self.pid end } end)
    local m <close> = M{ ctx = CTX }
    m:start(function(x) _G.INIT_VALUE = x end, { 42 })
    local v, pid = m:get():value()
    assert.equal(42, v)
    assert.are_not.equal(require("braid.core").getpid(), pid)
    helpers.raises(errors.RuntimeError, m.start, m)
  end)

  it("reports a server that cannot start", function()
    local M = managers.BaseManager:subclass("M4")
    local m = M{ address = { "256.1.1.1", 1 }, ctx = CTX }
    local err = helpers.raises(errors.RuntimeError, m.start, m)
    helpers.message_has(err, "did not start")
  end)

  it("raises RemoteError for a failure of the manager itself", function()
    local m <close> = CTX.Manager()
    local err = helpers.raises(managers.RemoteError, managers.dispatch, m.address,
      mp.current_process().authkey, 0, "no_such_method", { n = 0 })
    helpers.message_has(err, "no_such_method")
    helpers.raises(errors.ValueError, managers.dispatch, m.address,
      mp.current_process().authkey, 0, "create", { "no_such_typeid", n = 1 })
  end)

  it("refuses a client with the wrong authkey", function()
    local m <close> = managers.SyncManager{ authkey = "right", ctx = CTX }
    m:start()
    local other = managers.SyncManager{ address = m.address, authkey = "wrong" }
    helpers.raises(mp.AuthenticationError, other.connect, other)
    local good = managers.SyncManager{ address = m.address, authkey = "right" }
    good:connect()
    local d = good:dict(); d.x = 1
    assert.equal(1, d.x)
    -- this state's authenticated connection is not lent to another key
    helpers.raises(mp.AuthenticationError, other.connect, other)
    helpers.raises(mp.AuthenticationError, managers.RebuildProxy, { typeid = "dict",
      address = m.address, id = d._token.id, proxytype = "DictProxy", authkey = "wrong" })
  end)

  for _, method in ipairs(helpers.start_methods()) do
    it("get_server():serve_forever() in one " .. method .. " process, clients in others on loopback",
       function()
      local ctx = mp.get_context(method)
      local r, w = mp.Pipe(false)
      local server = ctx.Process{ target = function(report)
        local queue = require "braid.queue"
        local mgrs = require "braid.multiprocessing.managers"
        local q = queue.Queue()
        local QM = mgrs.BaseManager:subclass("QueueManager")
        QM:register("get_queue", function() return q end)
        QM:register("stop", function() return { now = function() os.exit(0) end } end)
        local m = QM{ address = { "127.0.0.1", 0 }, authkey = "abracadabra" }
        local s = m:get_server()
        report:send(s.address)
        s:serve_forever()
      end, args = { w } }
      server:start()
      assert.is_true(r:poll(60))
      local address = r:recv()
      assert.equal("127.0.0.1", address[1]); assert.is_true(address[2] > 0)
      local function client(addr, n, out)
        local mgrs = require "braid.multiprocessing.managers"
        local QM = mgrs.BaseManager:subclass("QueueManager")
        QM:register("get_queue")
        local m = QM{ address = addr, authkey = "abracadabra" }
        m:connect()
        local q = m:get_queue()
        if n then
          for i = 1, n do q:put(i) end
        else
          local s = 0
          for _ = 1, 50 do s = s + q:get(true, 60) end
          out:send(s)
        end
      end
      local rr, rw = mp.Pipe(false)
      local c1 = ctx.Process{ target = client, args = { address, nil, rw } }
      local c2 = ctx.Process{ target = client, args = { address, 50, rw } }
      c1:start(); c2:start()
      assert.is_true(rr:poll(60))
      assert.equal(50 * 51 // 2, rr:recv())
      c1:join(60); c2:join(60)
      assert.equal(0, c1.exitcode); assert.equal(0, c2.exitcode)
      -- this process is a client too
      local QM = managers.BaseManager:subclass("QueueManager")
      QM:register("get_queue"); QM:register("stop")
      local m = QM{ address = address, authkey = "abracadabra" }
      m:connect()
      assert.equal(0, m:get_queue():qsize())
      pcall(function() m:stop():now() end)
      server:join(30)
      assert.is_false(server:is_alive())
    end)
  end
end)

describe("managers.Token", function()
  it("names a typeid, an address and an id", function()
    local t = managers.Token("dict", { "127.0.0.1", 5 }, 3)
    assert.equal("dict", t.typeid); assert.equal(3, t.id)
    assert.truthy(tostring(t):find("127.0.0.1:5", 1, true))
  end)
end)

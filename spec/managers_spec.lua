-- multiprocessing.managers: Manager()/SyncManager proxies (dict, list,
-- Namespace, Queue, locks, Event, Barrier, Value, Array), nesting, proxies
-- in threads, processes of every start method and pool workers, remote
-- errors, shutdown. BaseManager (register, subclass, get_server,
-- connect) is in managers_base_spec.lua.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local threading = require "braid.threading"
local queue = require "braid.queue"

local managers = mp.managers
-- The managers' own server processes use the first start method the
-- specs run with (spawn only under TSan: see scripts/test.sh).
local CTX = mp.get_context(helpers.start_methods()[1])

describe("multiprocessing.Manager", function()
  local m
  setup(function() m = CTX.Manager() end)
  teardown(function() if m then m:shutdown() end end)

  it("is a started SyncManager reachable from multiprocessing.managers", function()
    assert.equal(managers, require("braid.multiprocessing.managers"))
    assert.equal(managers.SyncManager, getmetatable(m))
    assert.is_not_nil(m.address)
    assert.equal(0, select(2, pcall(function() return #m:list() end)))
  end)

  describe("dict proxy", function()
    it("reads, writes, deletes, counts and iterates like a table", function()
      local d = m:dict({ a = 1 })
      d.b = 2; d[3] = "three"; d[true] = { x = 1 }
      assert.equal(1, d.a); assert.equal(2, d["b"]); assert.equal("three", d[3])
      assert.same({ x = 1 }, d[true])
      assert.is_nil(d.missing)
      assert.equal(4, #d)
      d.b = nil
      assert.equal(3, #d)
      local seen = {}
      for k, v in pairs(d) do seen[k] = v end
      assert.same({ a = 1, [3] = "three", [true] = { x = 1 } }, seen)
    end)

    it("has Python's dict methods", function()
      local d = m:dict()
      d:update({ a = 1, b = 2 })
      assert.equal(2, d:get("b")); assert.equal(7, d:get("zz", 7)); assert.is_nil(d:get("zz"))
      local keys = d:keys(); table.sort(keys)
      assert.same({ "a", "b" }, keys)
      local vals = d:values(); table.sort(vals)
      assert.same({ 1, 2 }, vals)
      assert.equal(2, #d:items())
      assert.same({ a = 1, b = 2 }, d:copy())
      assert.equal(5, d:setdefault("c", 5)); assert.equal(5, d:setdefault("c", 6))
      assert.equal(5, d:pop("c")); assert.equal("dflt", d:pop("c", "dflt"))
      local k, v = d:popitem()
      assert.equal(d:get(k), nil); assert.is_true(v == 1 or v == 2)
      d:update({ { "p", 1 }, { "q", 2 } }, true)
      assert.equal(2, d.q)
      d:clear()
      assert.equal(0, #d)
      local other = m:dict({ z = 26 })
      d:update(other)
      assert.equal(26, d.z)
    end)

    it("raises the manager's KeyError with its traceback", function()
      local d = m:dict()
      local err = helpers.raises(errors.KeyError, d.pop, d, "nope")
      helpers.message_has(err, "nope")
      assert.is_string(err.traceback)
      assert.truthy(err.traceback:find("mgrserver", 1, true))
      helpers.raises(errors.KeyError, d.__getitem__, d, "nope")
      helpers.raises(errors.KeyError, d.popitem, d)
    end)

    it("refuses a method that is not exposed", function()
      local d = m:dict()
      local err = helpers.raises(errors.AttributeError, d._callmethod, d, "new")
      helpers.message_has(err, "not in exposed")
    end)
  end)

  describe("list proxy", function()
    it("indexes from 1, grows at #l + 1 and iterates with ipairs and pairs", function()
      local l = m:list({ 10, 20, 30 })
      assert.equal(3, #l)
      assert.equal(10, l[1]); assert.equal(30, l[3]); assert.is_nil(l[4]); assert.is_nil(l[0])
      l[2] = 21; l[4] = 40
      local got = {}
      for i, v in ipairs(l) do got[i] = v end
      assert.same({ 10, 21, 30, 40 }, got)
      got = {}
      for i, v in pairs(l) do got[i] = v end
      assert.same({ 10, 21, 30, 40 }, got)
      l[4] = nil
      assert.equal(3, #l)
      helpers.raises(errors.IndexError, function() l[9] = 1 end)
      helpers.raises(errors.ValueError, function() l[1] = nil end)
    end)

    it("has Python's list methods", function()
      local l = m:list()
      l:append(3); l:extend({ 1, 2 }); l:insert(1, 9)
      assert.same({ 9, 3, 1, 2, n = 4 }, l:slice(1, 4))
      assert.equal(2, l:pop()); assert.equal(9, l:pop(1))
      assert.same({ 3, 1, n = 2 }, l:slice())
      l:extend({ 5, 3 })
      assert.equal(2, l:count(3)); assert.equal(3, l:index(5))
      l:remove(3)
      assert.same({ 1, 5, 3, n = 3 }, l:slice(1, -1))
      l:sort()
      assert.same({ 1, 3, 5, n = 3 }, l:slice())
      l:reverse()
      assert.same({ 5, 3, n = 2 }, l:slice(1, 2))
      l:sort(nil, true)
      assert.same({ 5, 3, 1, n = 3 }, l:slice())
      l:sort(function(x) return -x end)
      assert.same({ 5, 3, 1, n = 3 }, l:slice())
      assert.same({ 3, n = 1 }, l:slice(-2, -2))
    end)

    it("raises IndexError and ValueError as Python does", function()
      local l = m:list()
      helpers.raises(errors.IndexError, l.pop, l)
      helpers.raises(errors.IndexError, l.__getitem__, l, 1)
      helpers.raises(errors.ValueError, l.index, l, "x")
      helpers.raises(errors.ValueError, l.remove, l, "x")
    end)
  end)

  it("Namespace keeps attributes in the manager, _-names local", function()
    local ns = m:Namespace()
    ns.x = 10; ns.name = "n"
    ns._local = "mine"
    assert.equal(10, ns.x); assert.equal("n", ns.name); assert.equal("mine", ns._local)
    assert.is_nil(ns.y)
    local copy = {}
    for k, v in pairs(ns) do copy[k] = v end
    assert.same({ x = 10, name = "n" }, copy)
    local ok, got = helpers.run_in_thread(function(n) return n.x, n._local end, ns)
    assert.is_true(ok); assert.equal(10, got)
  end)

  it("Value and Array", function()
    local v = m:Value("i", 3)
    v.value = v.value + 4
    assert.equal(7, v.value); assert.equal(7, v:get())
    local a = m:Array("d", { 1, 2, 3 })
    a[1] = 5
    assert.equal(3, #a); assert.equal(5.0, a[1]); assert.is_nil(a[4])
    assert.equal("float", math.type(a[2]))
    local sum = 0
    for _, x in ipairs(a) do sum = sum + x end
    assert.equal(10, sum)
    helpers.raises(errors.TypeError, function() a[1] = "x" end)
    helpers.raises(errors.ValueError, m.Array, m, "z", { 1 })
  end)

  it("Queue and JoinableQueue", function()
    local q = m:Queue()
    q:put("a"); q:put_nowait({ 1, 2 })
    assert.equal(2, q:qsize()); assert.is_false(q:empty())
    assert.equal("a", q:get()); assert.same({ 1, 2 }, q:get_nowait())
    helpers.raises(queue.Empty, q.get, q, false)
    helpers.raises(queue.Empty, q.get, q, true, 0.05)
    local bq = m:Queue(1)
    bq:put(1)
    helpers.raises(queue.Full, bq.put, bq, 2, false)
    assert.is_true(bq:full())
    local jq = m:JoinableQueue()
    jq:put(1)
    local t = threading.Thread{ target = function(q) q:get(); q:task_done() end, args = { jq } }
    t:start()
    jq:join()
    t:join(10)
    assert.is_false(t:is_alive())
  end)

  it("a blocking get in one client does not stop the others", function()
    local q, ev = m:Queue(), m:Event()
    local t = threading.Thread{ target = function(q, ev)
      ev:set()
      return q:get(true, 10)
    end, args = { q, ev } }
    t:start()
    assert.is_true(ev:wait(10))
    local d = m:dict()       -- served while the thread waits in q:get
    d.k = 1
    assert.equal(1, d.k)
    q:put("item")
    t:join(10)
    assert.is_false(t:is_alive())
  end)

  it("waits that would block: their own timeouts, and answers from other clients in order", function()
    -- timeouts shorter than the time a wait stays in the server's loop
    -- (5 ms) end there, with what the call itself answers
    local q = m:Queue(1)
    helpers.raises(queue.Empty, q.get, q, true, 0.001)
    q:put(1)
    helpers.raises(queue.Full, q.put, q, 2, true, 0.001)
    assert.equal(1, q:get())
    local l = m:Lock()
    assert.is_true(l:acquire())
    assert.is_false(l:acquire(true, 0.001))
    -- a lock's timeout -1 waits without end, as Python's: another
    -- client's release ends it
    local res = queue.Queue()
    local waiter = threading.Thread{ target = function(lk, r) r:put(lk:acquire(true, -1)) end,
                                     args = { l, res } }
    waiter:start()
    l:release()
    assert.is_true(res:get(true, 30))
    waiter:join(30)
    assert.is_false(l:acquire(false)) -- the waiter holds it
    helpers.raises(errors.ValueError, q.get, q, true, -1)
    local ev = m:Event()
    assert.is_false(ev:wait(0.001))
    -- two getters blocked on one queue (two threads: two connections)
    -- each get one of a third client's items
    local sq, got = m:Queue(), queue.Queue()
    local function getter(qq, out) out:put(qq:get(true, 30)) end
    local t1 = threading.Thread{ target = getter, args = { sq, got } }
    local t2 = threading.Thread{ target = getter, args = { sq, got } }
    t1:start(); t2:start()
    sq:put("a"); sq:put("b")
    local items = { got:get(true, 30), got:get(true, 30) }
    table.sort(items)
    assert.same({ "a", "b" }, items)
    t1:join(30); t2:join(30)
    assert.equal(0, sq:qsize())
    -- a lock released by one client goes to the one waiting for it
    local t3 = threading.Thread{ target = function(lk) return lk:acquire(true, 30) end, args = { l } }
    t3:start()
    l:release()
    t3:join(30)
    assert.is_false(t3:is_alive())
    assert.is_false(l:acquire(false)) -- t3 holds it
  end)

  it("Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event, Barrier", function()
    local lk = m:Lock()
    assert.is_true(lk:acquire()); assert.is_false(lk:acquire(false)); lk:release()
    do local g <close> = lk:guard(); assert.is_false(lk:acquire(false)) end
    assert.is_true(lk:acquire(false)); lk:release()
    assert.equal(7, lk:with(function(x) return x end, 7))
    local rl = m:RLock()
    assert.is_true(rl:acquire()); assert.is_true(rl:acquire())
    -- owned by this client: another thread (its own connection) cannot take it
    local ok, got = helpers.run_in_thread(function(r) return r:acquire(false) end, rl)
    assert.is_true(ok); assert.is_false(got)
    rl:release(); rl:release()
    helpers.raises(errors.RuntimeError, rl.release, rl)
    local s = m:Semaphore(2)
    assert.is_true(s:acquire()); assert.is_true(s:acquire()); assert.is_false(s:acquire(false))
    s:release(); s:release()
    local bs = m:BoundedSemaphore(1)
    helpers.raises(errors.ValueError, bs.release, bs)
    local ev = m:Event()
    assert.is_false(ev:is_set()); assert.is_false(ev:wait(0.01))
    ev:set(); assert.is_true(ev:wait(1)); ev:clear(); assert.is_false(ev:is_set())
    local cond, flag = m:Condition(m:Lock()), m:Value("i", 0)
    local t = threading.Thread{ target = function(c, f)
      c:acquire(); f.value = 1; c:notify(); c:release()
    end, args = { cond, flag } }
    cond:acquire()
    t:start()
    assert.is_true(cond:wait_for(function() return flag.value == 1 end, 10))
    cond:release()
    t:join(10)
    local b = m:Barrier(2)
    assert.equal(2, b.parties); assert.equal(0, b.n_waiting); assert.is_false(b.broken)
    local t2 = threading.Thread{ target = function(bb) return bb:wait(10) end, args = { b } }
    t2:start()
    local idx = b:wait(10)
    t2:join(10)
    assert.is_true(idx == 1 or idx == 2)
  end)

  it("Pool: apply, map, starmap, async results, imap, errors, without blocking other clients", function()
    local pool = m:Pool(2)
    assert.equal(3, pool:apply(function(a, b) return a + b end, { 1, 2 }))
    local r = pool:map(function(x) return x * x end, { 1, 2, 3 })
    assert.equal(3, r.n); assert.equal(9, r[3])
    assert.equal(6, pool:starmap(function(a, b) return a * b end, { { 2, 3 } })[1])
    local ar = pool:apply_async(function(x) return x + 100 end, { 1 })
    assert.equal(101, ar:get(30)); assert.is_true(ar:ready()); assert.is_true(ar:successful())
    local mr = pool:map_async(function(x) return -x end, { 1, 2 })
    assert.equal(-2, mr:get(30)[2])
    local seen = {}
    for i, v in pool:imap(function(x) return x + 1 end, { 5, 6 }) do seen[i] = v end
    assert.same({ 6, 7 }, seen)
    helpers.raises(errors.KeyError, pool.apply, pool,
      function() error(require("braid.errors").KeyError("k")) end)
    -- a long task in one client does not stop another client's calls
    -- (proxies given to the manager's own pool arrive there as the objects
    -- themselves, as in Python; the task makes its own proxies from tokens)
    local ev, go = m:Event(), m:Event()
    local function tok(p)
      local t = p._token
      return { typeid = t.typeid, address = t.address, id = t.id,
               proxytype = getmetatable(p).__name, authkey = mp.current_process().authkey }
    end
    local t = threading.Thread{ target = function(p, e, g)
      return p:apply(function(te, tg)
        local mg = require "braid.multiprocessing.managers"
        local e2, g2 = mg.RebuildProxy(te), mg.RebuildProxy(tg)
        e2:set()
        return g2:wait(30)
      end, { e, g })
    end, args = { pool, tok(ev), tok(go) } }
    t:start()
    assert.is_true(ev:wait(30))
    local d = m:dict(); d.x = 1; assert.equal(1, d.x)
    go:set()
    t:join(30)
    assert.is_false(t:is_alive())
    pool:close(); pool:join()
  end)

  it("nests proxies: a dict stored in a list stays the same shared object", function()
    local l, d = m:list(), m:dict()
    l:append(d)
    d.x = 1
    local back = l[1]
    assert.equal(1, back.x)
    back.y = 2
    assert.equal(2, d.y)
    assert.equal(d._token.id, back._token.id)
    local outer = m:dict()
    outer.inner = m:list({ 1 })
    outer.inner:append(2)
    assert.equal(2, #outer.inner)
    -- through a managed Queue (its calls run in a connection's thread)
    local q = m:Queue()
    q:put(d)
    local again = q:get(true, 10)
    again.z = 3
    assert.equal(3, d.z)
    l:append({ inside = d })
    assert.equal(3, l[2].inside.z)
  end)

  it("proxies travel to threads by reference", function()
    local d = m:dict()
    local ts = {}
    for i = 1, 4 do
      ts[i] = threading.Thread{ target = function(dd, k) dd[k] = k * k end, args = { d, i } }
      ts[i]:start()
    end
    for i = 1, 4 do ts[i]:join(10) end
    assert.same({ 1, 4, 9, 16 }, { d[1], d[2], d[3], d[4] })
  end)

  it("goes on serving when a client process dies in a blocking call", function()
    local q, ev = m:Queue(), m:Event()
    local p = CTX.Process{ target = function(qq, e) e:set(); qq:get() end, args = { q, ev } }
    p:start()
    assert.is_true(ev:wait(30))
    p:terminate()
    p:join(30)
    assert.is_not_nil(p.exitcode)
    local d = m:dict()
    d.after = true
    assert.is_true(d.after)
    -- the dead client's get has given up: the item stays for the living
    q:put(1)
    assert.equal(1, q:get(true, 30))
    local lk = m:Lock()
    local ev2 = m:Event()
    local p2 = CTX.Process{ target = function(l, e) l:acquire(); e:set(); l:acquire() end,
                            args = { lk, ev2 } }
    p2:start()
    assert.is_true(ev2:wait(30))
    p2:terminate(); p2:join(30)
    lk:release()
    assert.is_true(lk:acquire(true, 30))  -- not taken by the dead client's wait
    lk:release()
  end)

  -- The loop answers a parked wait (mgrserver.lua, "Parked waits") when
  -- another client's put or release lets it through; if it runs that
  -- request before it reads the waiting client's EOF, the answer cannot be
  -- sent: what the wait took goes back. Driven on a server of its own with
  -- a connection that fails as a dead peer's does (so the order is fixed).
  it("gives back what a parked wait took for a client that died meanwhile", function()
    local mgrserver = require "braid.multiprocessing.mgrserver"
    local listener = { address = "parked-spec-" .. tostring({}),
                       fileno = function() return -1 end, close = function() end }
    local srv = mgrserver.new({}, nil, nil, listener)
    local sent = {}
    local dead = { _sendv = function() error(errors.BrokenPipeError("[Errno 32] Broken pipe")) end,
                   close = function() end }
    local live = { _sendv = function(_, ...) sent[#sent + 1] = { ... } end,
                   close = function() end }
    local function take_lock(o) assert(o:acquire(false)); return true end
    local function take_item(o) return o:get(false) end
    local lk, q = threading.Lock(), queue.Queue()
    srv:_park(dead, lk, "acquire", { n = 0 }, take_lock)
    q:put("item")
    srv:_park(dead, q, "get", { n = 0 }, take_item)
    srv:_retry_parked()
    assert.same({}, srv.parked)
    assert.is_false(lk:locked())          -- released for the living
    assert.equal("item", q:get(false))    -- back in its queue
    -- a live client keeps what it got
    srv:_park(live, lk, "acquire", { n = 0 }, take_lock)
    q:put("item2")
    srv:_park(live, q, "get", { n = 0 }, take_item)
    srv:_retry_parked()
    assert.is_true(lk:locked())
    assert.is_true(q:empty())
    assert.same({ { true, true }, { true, "item2" } }, sent)
    lk:release()
    srv:close()
  end)

  it("goes on serving while a peer stalls in the authentication", function()
    -- a raw connection that never answers the challenge
    local stalled = require("braid.core").net_connect("AF_UNIX", m.address, nil, false, nil)
    local d, done = m:dict(), threading.Event()
    local t = threading.Thread{ target = function(dd, ev)
      local mg = require "braid.multiprocessing.managers"
      local M = mg.SyncManager:subclass("Probe")
      local fresh = M{ address = dd._token.address, authkey = dd._authkey }
      fresh:connect()            -- a new connection, made after the stalled one
      dd.x = 1
      ev:set()
    end, args = { d, done }, daemon = true }
    t:start()
    local served = done:wait(30)
    stalled:close() -- (a server authenticating in its loop gets free here)
    assert.is_true(served)
    assert.equal(1, d.x)
  end)

  it("frees an object once no proxy refers to it", function()
    local before = m:_number_of_objects()
    do local x = m:dict(); x.a = 1 end
    collectgarbage(); collectgarbage()
    m:dict() -- the next request carries the release
    collectgarbage(); collectgarbage()
    m:_number_of_objects()
    assert.is_true(m:_number_of_objects() <= before + 1)
  end)

  for _, method in ipairs(helpers.start_methods()) do
    it("proxies travel to " .. method .. " processes and pool workers", function()
      local ctx = mp.get_context(method)
      local l, d, q = m:list(), m:dict(), m:Queue()
      local p = ctx.Process{ target = function(ll, dd, qq)
        ll:append("from child"); dd.pid = require("braid.core").getpid()
        qq:put(#ll)
      end, args = { l, d, q } }
      p:start()
      assert.equal(1, q:get(true, 30))
      p:join(30)
      assert.equal(0, p.exitcode)
      assert.equal("from child", l[1]); assert.equal(p.pid, d.pid)
      local pool <close> = ctx.Pool(2)
      local dd = d
      local res = pool:map(function(x) dd[x] = x * 10; return x end, { 1, 2, 3 })
      assert.same({ 1, 2, 3 }, { res[1], res[2], res[3] })
      local out = pool:starmap(function(dd, x) dd[x] = x * 10; return dd[x] end,
                               { { d, 1 }, { d, 2 }, { d, 3 } })
      assert.same({ 10, 20, 30 }, { out[1], out[2], out[3] })
      assert.equal(20, d[2])
    end)

    it("Manager() of a " .. method .. " context starts its server with " .. method, function()
      local mm <close> = mp.get_context(method).Manager()
      assert.equal(method, rawget(mm._process, "_method"))
      local d = mm:dict()
      d.x = 1
      assert.equal(1, d.x)
    end)
  end
end)

describe("a started manager's server process", function()
  it("ignores SIGINT (Ctrl-C goes to the whole process group)", function()
    local m <close> = CTX.Manager()
    local d = m:dict()
    d.x = 1
    require("braid.core").proc_kill(m._process.pid, 2) -- SIGINT
    d.y = 2                 -- served after the signal was delivered
    assert.equal(1, d.x); assert.equal(2, d.y)
    assert.is_true(m._process:is_alive())
  end)
end)

describe("a manager after shutdown()", function()
  it("makes its proxies raise at once, never hang", function()
    local m = CTX.Manager()
    local d, q = m:dict(), m:Queue()
    d.a = 1
    local ev = threading.Event()
    local t = threading.Thread{ target = function(qq, e)
      e:set()
      return pcall(qq.get, qq, true, 60)   -- blocked in the manager
    end, args = { q, ev } }
    t:start()
    assert.is_true(ev:wait(10))
    local t0 = helpers.now()
    m:shutdown()
    local ok, err = pcall(function() return d.a end)
    assert.is_false(ok)
    assert.is_true(errors.is(errors.EOFError, err) or errors.is(errors.OSError, err))
    helpers.message_has(err, "manager")
    ok, err = pcall(function() d.b = 2 end)
    assert.is_false(ok)
    t:join(30)
    assert.is_false(t:is_alive())
    assert.is_true(helpers.now() - t0 < 20)
    helpers.raises(errors.ValueError, m.dict, m)
    m:shutdown() -- twice is fine
  end)

  it("a <close> manager shuts down at scope exit", function()
    local d
    do
      local m <close> = CTX.Manager()
      d = m:dict()
      d.x = 1
    end
    assert.is_false(pcall(function() return d.x end))
  end)
end)

-- Issue 13's loose ends: insertion order of a managed dict, a lazy
-- Pool.imap through the manager, prompt release of collected proxies.
describe("a managed dict's order", function()
  local m
  setup(function() m = CTX.Manager() end)
  teardown(function() if m then m:shutdown() end end)

  it("is insertion order for keys/values/items/pairs, popitem takes the last (LIFO)", function()
    local d = m:dict()
    for i, k in ipairs({ "z", "a", "m", 3, "b", true, "q" }) do d[k] = i end
    d.m = 30          -- an existing key keeps its place
    d.a = nil         -- deleted ...
    d.a = 20          -- ... and inserted again: at the end
    d[true] = nil     -- a hole in the middle
    assert.same({ "z", "m", 3, "b", "q", "a" }, d:keys())
    assert.same({ 1, 30, 4, 5, 7, 20 }, d:values())
    assert.same({ { "z", 1 }, { "m", 30 }, { 3, 4 }, { "b", 5 }, { "q", 7 }, { "a", 20 } },
                d:items())
    local order = {}
    for k in pairs(d) do order[#order + 1] = k end
    assert.same({ "z", "m", 3, "b", "q", "a" }, order)
    local k, v = d:popitem()
    assert.equal("a", k); assert.equal(20, v)
    k, v = d:popitem()
    assert.equal("q", k); assert.equal(7, v)
    -- update from another managed dict keeps the other's order
    local e = m:dict()
    e.y = 1; e.x = 2; e.w = 3
    local f = m:dict()
    f:update(e)
    assert.same({ "y", "x", "w" }, f:keys())
    -- many deletions (the key list is compacted) keep the order of the rest
    local g = m:dict()
    for i = 1, 200 do g[i] = i end
    for i = 1, 200 do if i % 10 ~= 0 then g[i] = nil end end
    local want = {}
    for i = 10, 200, 10 do want[#want + 1] = i end
    assert.same(want, g:keys())
    assert.equal(200, (g:popitem()))
    assert.equal(190, (g:popitem()))
    g:clear()
    helpers.raises(errors.KeyError, g.popitem, g)
  end)
end)

-- The refcount the manager holds for 'proxy' (its _debug_info, Python's
-- layout: "  <id>:       refcount=<n>").
local function refcount(mgr, proxy)
  local info = "\n" .. mgr:_debug_info()
  return tonumber(info:match("\n  " .. proxy._token.id .. ":%s+refcount=(%d+)"))
end

-- Asks the manager (each time a round trip on this state's connection)
-- until 'proxy''s refcount is 'want' or 10 s passed; returns the last.
local function refcount_becomes(mgr, proxy, want)
  local core = require "braid.core"
  local deadline = core.monotonic() + 10
  local rc
  repeat rc = refcount(mgr, proxy) until rc == want or core.monotonic() > deadline
  return rc
end

describe("a manager's bookkeeping", function()
  it("_number_of_objects() and _debug_info() as Python's", function()
    local m <close> = CTX.Manager()
    assert.equal(0, m:_number_of_objects())
    assert.equal("", m:_debug_info())
    local d, l = m:dict(), m:list()
    assert.equal(2, m:_number_of_objects())
    local info = m:_debug_info()
    assert.truthy(info:find("  " .. d._token.id .. ":       refcount=1\n    <managed dict, 0 items>",
                            1, true))
    assert.truthy(info:find("  " .. l._token.id .. ":       refcount=1\n    <managed list, 0 items>",
                            1, true))
    assert.equal(1, refcount(m, d))
  end)

  it("a proxy collected in another thread is released at once (no later request needed)", function()
    local m <close> = CTX.Manager()
    local d = m:dict()
    local q, done, go = queue.Queue(), threading.Event(), threading.Event()
    local t = threading.Thread{ target = function(qq, dn, g)
      local x = qq:get(true, 30) -- a proxy of its own: one more reference
      x.k = "thread"
      x = nil
      collectgarbage(); collectgarbage()
      dn:set()
      g:wait(30) -- no request of this thread after the collection
    end, args = { q, done, go } }
    t:start()
    q:put(d)
    assert.is_true(done:wait(30))
    assert.equal("thread", d.k)
    assert.equal(1, refcount_becomes(m, d, 1))
    go:set()
    t:join(30)
    assert.is_false(t:is_alive())
  end)

  for _, method in ipairs(helpers.start_methods()) do
    it("a proxy collected in a " .. method .. " process is released at once", function()
      local m <close> = CTX.Manager()
      local ctx = mp.get_context(method)
      local d = m:dict()
      local r1, w1 = ctx.Pipe(false)
      local r2, w2 = ctx.Pipe(false)
      local p = ctx.Process{ target = function(r, w)
        local x = r:recv()
        x.k = "child"
        x = nil
        collectgarbage(); collectgarbage()
        w:send("collected")
        if r:poll(30) then r:recv() end -- no request after the collection
      end, args = { r1, w2 } }
      p:start()
      w1:send(d)
      assert.is_true(r2:poll(30))
      assert.equal("collected", r2:recv())
      assert.equal("child", d.k)
      assert.equal(1, refcount_becomes(m, d, 1))
      w1:send("go")
      p:join(30)
      assert.equal(0, p.exitcode)
    end)
  end
end)

-- Pool.imap through a manager yields each result as it arrives: the
-- second task waits for an event the loop sets after the first result,
-- which a map-then-iterate imap could only see after the second's wait
-- timed out.
local function event_token(ev)
  local t = ev._token
  return { typeid = t.typeid, address = t.address, id = t.id,
           proxytype = getmetatable(ev).__name, authkey = mp.current_process().authkey }
end

local function second_waits(item)
  if item.i == 1 then return "first" end
  local mg = require "braid.multiprocessing.managers"
  return mg.RebuildProxy(item.tok):wait(10)
end

describe("a manager's Pool proxy", function()
  for _, method in ipairs(helpers.start_methods()) do
    it("imap and imap_unordered are lazy (" .. method .. ")", function()
      local m <close> = mp.get_context(method).Manager()
      local pool = m:Pool(2)
      for _, how in ipairs({ "imap", "imap_unordered" }) do
        local ev = m:Event()
        local tok = event_token(ev)
        local got = {}
        for i, v in pool[how](pool, second_waits, { { i = 1, tok = tok }, { i = 2, tok = tok } }) do
          got[i] = v
          if v == "first" then ev:set() end
        end
        assert.same({ "first", true }, got)
      end
      -- results in order with a chunksize, a task's error after the
      -- results before it, an empty input
      local seen = {}
      for i, v in pool:imap(function(x) return x * x end, { 1, 2, 3, 4, 5 }, 2) do seen[i] = v end
      assert.same({ 1, 4, 9, 16, 25 }, seen)
      local before = {}
      local err = helpers.raises(errors.KeyError, function()
        for i, v in pool:imap(function(x)
          if x == 3 then error(require("braid.errors").KeyError("three")) end
          return x
        end, { 1, 2, 3, 4 }) do before[i] = v end
      end)
      helpers.message_has(err, "three")
      assert.same({ 1, 2 }, before)
      for _ in pool:imap(function(x) return x end, {}) do error("an empty input yields nothing") end
      pool:close(); pool:join()
    end)
  end
end)

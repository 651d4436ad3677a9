-- multiprocessing: processes (every start method), pipes, queues, shared
-- memory and synchronisation between processes.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = { "fork", "spawn", "forkserver" }

-- Zombie children of this process (from /proc, no external command).
local function zombies()
  local n, me = 0, core.getpid()
  local f = io.open(("/proc/%d/task/%d/children"):format(me, me))
  if not f then return 0 end
  local list = f:read("a"); f:close()
  for pid in list:gmatch("%d+") do
    local st = io.open("/proc/" .. pid .. "/stat")
    if st then
      local line = st:read("a"); st:close()
      if line:match("%) Z") then n = n + 1 end
    end
  end
  return n
end

describe("multiprocessing.Process", function()
  for _, method in ipairs(METHODS) do
    describe("with " .. method, function()
      local ctx = mp.get_context(method)

      it("runs the target with its args and reports exit codes", function()
        local r, w = mp.Pipe(false)
        local p = ctx.Process{target = function(conn, a, b)
          conn:send({ sum = a + b, pid = require("braid.core").getpid() })
        end, args = { w, 2, 3 }, name = "adder"}
        assert.is_nil(p.pid)
        p:start()
        local got = r:recv()
        p:join()
        assert.equal(5, got.sum)
        assert.equal(p.pid, got.pid)
        assert.equal(0, p.exitcode)
        assert.equal("adder", p.name)
        assert.is_false(p:is_alive())
        p:close()
      end)

      it("gives 1 for an uncaught error, n for os.exit(n) and SystemExit(n)", function()
        local p1 = ctx.Process{target = function() error("boom") end}
        local p2 = ctx.Process{target = function() os.exit(7) end}
        local p3 = ctx.Process{target = function() error(require("braid.errors").SystemExit(4)) end}
        p1:start(); p2:start(); p3:start()
        p1:join(); p2:join(); p3:join()
        assert.equal(1, p1.exitcode)
        assert.equal(7, p2.exitcode)
        assert.equal(4, p3.exitcode)
      end)

      it("runs subclasses of subclasses, with methods found along the chain", function()
        local P = ctx.Process:subclass("P")
        local P2 = P:subclass("P2")
        local P3 = P2:subclass("P3")
        assert.equal(mp.Process.start, P3.start)
        assert.is_function(P3.subclass)
        -- Methods given to parents after the subclasses were made are seen,
        -- as in Python; the nearest definition wins.
        function P:code() return 5 end
        function P:run() os.exit(1) end
        function P2:run() os.exit(self:code() + self.extra) end
        assert.equal(P.code, P3.code)
        assert.equal(P2.run, P3.run)
        local p = P3{}
        p.extra = 2
        p:start(); p:join(60)
        assert.equal(7, p.exitcode)
        assert.equal("P3", tostring(p):match("^<(%w+)"))
      end)

      it("kill gives -9, terminate -15, and join(timeout) returns", function()
        local e = mp.Event()
        local p = ctx.Process{target = function(ev) ev:set(); while true do end end, args = { e }}
        p:start()
        assert.is_true(e:wait(20))
        p:join(0.05)
        assert.is_true(p:is_alive())
        assert.is_nil(p.exitcode)
        p:kill(); p:join()
        assert.equal(-9, p.exitcode)
        local q = ctx.Process{target = function() while true do end end}
        q:start(); q:terminate(); q:join()
        assert.equal(-15, q.exitcode)
      end)

      it("shares Value, Array, Lock and Queue with the child", function()
        local v = mp.Value("i", 0)
        local a = mp.Array("d", { 1, 2, 3 })
        local lock = mp.Lock()
        local q = mp.Queue()
        local p = ctx.Process{target = function(v, a, lock, q)
          for _ = 1, 100 do v:get_lock():with(function() v.value = v.value + 1 end) end
          a[2] = 20
          lock:acquire(); lock:release()
          q:put({ "done", a[1] })
        end, args = { v, a, lock, q }}
        p:start()
        local item = q:get(true, 20)
        p:join()
        assert.same({ "done", 1 }, item)
        assert.equal(100, v.value)
        assert.equal(20, a[2])
        assert.equal(0, p.exitcode)
      end)

      it("leaves no zombie after join", function()
        local p = ctx.Process{target = function() end}
        p:start(); p:join()
        if method ~= "forkserver" then assert.equal(0, zombies()) end
        assert.same({}, mp.active_children())
      end)
    end)
  end

  it("forks while braid threads run in the parent", function()
    local threading = require "braid.threading"
    local stop, started = threading.Event(), threading.Event()
    local t = threading.Thread{target = function(stop, started)
      started:set()
      while not stop:is_set() do end
    end, args = { stop, started }}
    t:start()
    assert.is_true(started:wait(10))
    local q = mp.Queue()
    local p = mp.get_context("fork").Process{target = function(q)
      local th = require("braid.threading").Thread{target = function() end}
      th:start(); th:join()
      q:put("child ok")
    end, args = { q }}
    p:start()
    assert.equal("child ok", q:get(true, 20))
    p:join()
    stop:set(); t:join()
    assert.equal(0, p.exitcode)
  end)

  it("raises AssertionError for misuse", function()
    local p = mp.Process{target = function() end}
    helpers.raises(errors.AssertionError, p.join, p)
    p:start()
    helpers.raises(errors.AssertionError, p.start, p)
    p:join()
  end)

  it("has start methods and contexts", function()
    assert.same({ "fork", "spawn", "forkserver" }, mp.get_all_start_methods())
    helpers.raises(errors.ValueError, mp.get_context, "nope")
    assert.equal("spawn", mp.get_context("spawn").get_start_method())
    assert.equal("MainProcess", mp.current_process().name)
    assert.is_nil(mp.parent_process())
    assert.is_true(mp.cpu_count() >= 1)
  end)

  it("raises TypeError naming the path for values that cannot cross", function()
    local p = mp.get_context("spawn").Process{target = function() end,
      args = { { co = coroutine.create(print) } }}
    local err = helpers.raises(errors.TypeError, p.start, p)
    helpers.message_has(err, "co")
    local _, w = mp.Pipe()
    err = helpers.raises(errors.TypeError, w.send, w, { f = io.stdout })
    helpers.message_has(err, "FILE")
    err = helpers.raises(errors.TypeError, w.send, w, { l = require("braid.threading").Lock() })
    helpers.message_has(err, "another process")
    -- an mp.Lock is no longer refused (issue 15: it travels by reference,
    -- spec/travel_spec.lua)
    w:send(mp.Lock())
  end)
end)

describe("multiprocessing.Pipe", function()
  it("gives EOFError after the peer closes, poll true at end of file", function()
    local a, b = mp.Pipe()
    b:send("last")
    b:close()
    assert.is_true(a:poll(1))
    assert.equal("last", a:recv())
    assert.is_true(a:poll())
    helpers.raises(errors.EOFError, a.recv, a)
  end)

  it("carries a message larger than the pipe buffer", function()
    local a, b = mp.Pipe()
    local big = string.rep("x", 5 * 1024 * 1024)
    local p = mp.Process{target = function(c, n)
      local s = c:recv_bytes()
      c:send(#s == n)
    end, args = { b, #big }}
    p:start()
    a:send_bytes(big)
    assert.is_true(a:recv())
    p:join()
  end)

  it("send_bytes offsets, recv_bytes maxlength, recv_bytes_into", function()
    local a, b = mp.Pipe()
    a:send_bytes("hello world", 6, 5)
    assert.equal("world", b:recv_bytes())
    a:send_bytes("abcdef")
    helpers.raises(errors.OSError, b.recv_bytes, b, 3)
    local a2, b2 = mp.Pipe()
    local arr = mp.Array("c", 8)
    a2:send_bytes("xyz")
    assert.equal(3, b2:recv_bytes_into(arr, 2))
    assert.equal("\0\0xyz\0\0\0", arr.raw)
    a2:send_bytes("0123456789")
    helpers.raises(mp.BufferTooShort, b2.recv_bytes_into, b2, arr)
  end)

  it("connection.wait returns the ready objects", function()
    local a, _b = mp.Pipe()
    local c, d = mp.Pipe()
    assert.same({}, mp.connection.wait({ a, c }, 0.01))
    d:send(1)
    assert.same({ c }, mp.connection.wait({ a, c }, 5))
  end)
end)

describe("multiprocessing synchronisation", function()
  it("Lock: a process that dies holding it does not block the others", function()
    local lock = mp.Lock()
    local e = mp.Event()
    local p = mp.get_context("spawn").Process{target = function(l, ev)
      l:acquire(); ev:set(); os.exit(3)
    end, args = { lock, e }}
    p:start()
    assert.is_true(e:wait(20))
    p:join()
    local ok, why = lock:acquire(true, 10)
    assert.is_true(ok)
    assert.equal("owner died", why)
    lock:release()
  end)

  it("follows multiprocessing's rules", function()
    local l = mp.Lock()
    helpers.raises(errors.ValueError, l.release, l)
    assert.is_true(l:acquire())
    assert.is_false(l:acquire(false))
    assert.is_false(l:acquire(true, -1))
    l:release()
    local r = mp.RLock()
    r:acquire(); r:acquire(); r:release(); r:release()
    helpers.raises(errors.AssertionError, r.release, r)
    local s = mp.BoundedSemaphore(1)
    helpers.raises(errors.ValueError, s.release, s)
    local c = mp.Condition()
    helpers.raises(errors.AssertionError, c.notify, c)
  end)

  it("Condition, Semaphore, Barrier and Event across processes", function()
    local c = mp.Condition()
    local sem = mp.Semaphore(0)
    local bar = mp.Barrier(3)
    local box = mp.Value("i", 0)
    local procs = {}
    for i = 1, 2 do
      procs[i] = mp.get_context("forkserver").Process{target = function(c, sem, bar, box)
        bar:wait(20)
        c:acquire()
        box.value = box.value + 1
        c:notify_all()
        c:release()
        sem:release()
      end, args = { c, sem, bar, box }}
      procs[i]:start()
    end
    bar:wait(20)
    c:acquire()
    assert.is_true(c:wait_for(function() return box.value == 2 end, 20))
    c:release()
    assert.is_true(sem:acquire(true, 20)); assert.is_true(sem:acquire(true, 20))
    for _, p in ipairs(procs) do p:join(); assert.equal(0, p.exitcode) end
  end)

  -- as threading.Condition's (sync_spec): any callable is a predicate,
  -- anything else is Python's TypeError naming the argument
  it("Condition.wait_for takes any callable and raises TypeError otherwise", function()
    local c = mp.Condition()
    c:acquire()
    local calls = 0
    local pred = setmetatable({}, { __call = function()
      calls = calls + 1
      return "ready"
    end })
    assert.equal("ready", c:wait_for(pred, 5))
    assert.equal(1, calls)
    local err = helpers.raises(errors.TypeError, c.wait_for, c, 42)
    helpers.message_has(err, "to 'wait_for' (function expected, got number)")
    helpers.raises(errors.TypeError, c.wait_for, c)
    c:release()
  end)
end)

describe("multiprocessing queues", function()
  it("Queue: timeouts, Full, Empty, close", function()
    local q = mp.Queue(1)
    helpers.raises(errors.classes["queue.Empty"], q.get, q, true, 0.01)
    q:put(1)
    helpers.raises(errors.classes["queue.Full"], q.put, q, 2, true, 0.01)
    assert.equal(1, q:get())
    q:close()
    helpers.raises(errors.ValueError, q.put, q, 3)
    q:join_thread()
  end)

  -- Python's TypeError for a missing item; nil is an item (None)
  it("put() without the item raises TypeError, put(nil) puts nil", function()
    for _, q in ipairs{ mp.Queue(), mp.JoinableQueue(), mp.SimpleQueue() } do
      local err = helpers.raises(errors.TypeError, q.put, q)
      helpers.message_has(err, "to 'put' (value expected)")
      assert.is_true(q:empty())
      q:put(nil)
      assert.is_nil(q:get())
      if q.put_nowait then
        helpers.raises(errors.TypeError, q.put_nowait, q)
        assert.is_true(q:empty())
      end
    end
  end)

  it("streams between processes, with messages larger than the ring", function()
    local q = mp.JoinableQueue(0, { ring = 4096 })
    local p = mp.Process{target = function(q)
      for i = 1, 1000 do q:put(i) end
      q:put(string.rep("y", 100000))
      q:put(nil)
    end, args = { q }}
    p:start()
    local sum = 0
    for _ = 1, 1000 do sum = sum + q:get(); q:task_done() end
    assert.equal(100000, #q:get()); q:task_done()
    assert.is_nil(q:get()); q:task_done()
    q:join()
    p:join()
    assert.equal(500500, sum)
    helpers.raises(errors.ValueError, q.task_done, q)
  end)

  it("SimpleQueue", function()
    local q = mp.SimpleQueue()
    assert.is_true(q:empty())
    q:put({ 1, 2 })
    assert.same({ 1, 2 }, q:get())
  end)
end)

describe("shared_memory.SharedMemory", function()
  it("creates, attaches by name, reads and writes bytes, unlinks", function()
    local SM = mp.shared_memory.SharedMemory
    local s = SM(nil, true, 64)
    assert.equal(64, s.size)
    s:write(0, "hello")
    local p = mp.get_context("spawn").Process{target = function(name)
      local o = require("braid.multiprocessing").shared_memory.SharedMemory(name)
      o:write(5, " world")
      o:close()
    end, args = { s.name }}
    p:start(); p:join()
    assert.equal("hello world", s:read(0, 11))
    helpers.raises(errors.IndexError, s.read, s, 60, 10)
    helpers.raises(errors.classes.FileExistsError, SM, s.name, true, 10)
    s:close()
    s:unlink()
    helpers.raises(errors.FileNotFoundError, SM, s.name)
  end)
end)

describe("children at the end of the program", function()
  local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
  local host_it = HOST == "none" and pending or it

  host_it("terminates daemonic children and waits for the others", function()
    local tmp, out = os.tmpname(), os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write(([[
      local mp = require "braid.multiprocessing"
      local go = mp.Event()
      local daemon = mp.Process{target = function() mp.Event():wait() end, daemon = true}
      local worker = mp.Process{target = function(ev, path)
        ev:wait()
        local f = io.open(path, "w"); f:write("done"); f:close()
      end, args = { go, %q }}
      daemon:start(); worker:start()
      print("pids", daemon.pid, worker.pid)
      io.stdout:flush()
      go:set()
      -- the script ends here: the daemon is terminated, the worker joined
    ]]):format(out))
    f:close()
    local p = io.popen("timeout 60 " .. HOST .. " " .. tmp .. " 2>&1; echo \"rc=$?\"")
    local text = p:read("a")
    p:close()
    os.remove(tmp)
    assert.matches("rc=0", text)
    local dpid, wpid = text:match("pids%s+(%d+)%s+(%d+)")
    assert.truthy(dpid, text)
    local r = io.open(out)
    local got = r and r:read("a")
    if r then r:close() end
    os.remove(out)
    assert.equal("done", got) -- the non-daemonic child finished first
    for _, pid in ipairs({ dpid, wpid }) do
      local st = io.open("/proc/" .. pid .. "/stat")
      if st then st:close() end
      assert.is_nil(st, "child " .. pid .. " outlived the program")
    end
  end)
end)

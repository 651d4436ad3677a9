-- multiprocessing objects travel by reference to any process (issue 15,
-- item 1): an mp Queue, JoinableQueue, SimpleQueue, Lock, RLock,
-- Semaphore, BoundedSemaphore, Condition, Event, Barrier, Value, Array,
-- SharedMemory or Connection given to a pool task, an executor, put on an
-- mp.Queue or sent through a Pipe reaches the other process as the same
-- object (the same shared memory), for every start method; Python raises
-- RuntimeError ("... should only be shared between processes through
-- inheritance") for all of them but SharedMemory.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local futures = require "braid.futures"
local errors = require "braid.errors"
local core = require "braid.core"
local threading = require "braid.threading"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)

-- Every kind of object, fresh; the child's side uses each (see use_all).
local function make_all()
  local lock = mp.Lock()
  return {
    event = mp.Event(), lock = lock, rlock = mp.RLock(),
    sem = mp.Semaphore(2), bsem = mp.BoundedSemaphore(1),
    cond = mp.Condition(lock), barrier = mp.Barrier(1),
    value = mp.Value("i", 0), array = mp.Array("d", 3),
    queue = mp.Queue(), jqueue = mp.JoinableQueue(), squeue = mp.SimpleQueue(),
    shm = mp.shared_memory.SharedMemory(nil, true, 16),
  }
end

-- Uses every object of make_all from whichever process holds 'o': what it
-- writes the other side checks with check_all. Returns its pid.
local function use_all(o, tag)
  local pid = require("braid.core").getpid()
  o.event:set()
  assert(o.lock:acquire(false)); o.lock:release()
  assert(o.rlock:acquire()); assert(o.rlock:acquire()); o.rlock:release(); o.rlock:release()
  assert(o.sem:acquire(false)) -- one of its two permits stays taken
  assert(o.bsem:acquire(false)); o.bsem:release()
  o.cond:acquire(); o.cond:notify_all(); o.cond:release()
  assert(o.barrier:wait(T) == 1)
  o.value.value = o.value.value + 41
  o.array[2] = 2.5
  o.queue:put({ tag, pid })
  o.jqueue:put(tag)
  o.squeue:put(tag)
  o.shm:write(0, "shm!")
  return pid
end

-- Checks in the other process what use_all did.
local function check_all(o, tag, pid)
  assert.is_true(o.event:is_set())
  assert.is_true(o.lock:acquire(false)); o.lock:release()
  assert.is_true(o.sem:acquire(false))
  assert.is_false(o.sem:acquire(false)) -- the child took the other permit
  assert.equal(41, o.value.value)
  assert.equal(2.5, o.array[2])
  assert.same({ tag, pid }, o.queue:get(true, T))
  assert.equal(tag, o.jqueue:get(true, T)); o.jqueue:task_done()
  assert.equal(tag, o.squeue:get())
  assert.equal("shm!", o.shm:read(0, 4))
end

local function free_all(o)
  o.shm:close(); o.shm:unlink()
end

-- Lines of /proc/<pid>/maps naming one of braid's memfds.
local function memfd_maps(pid)
  local f = assert(io.open("/proc/" .. (pid or "self") .. "/maps"))
  local n = 0
  for line in f:lines() do
    if line:find("memfd:braid", 1, true) then n = n + 1 end
  end
  f:close()
  return n
end

-- Whether /dev/shm holds 'name' (memfds never appear there: only
-- SharedMemory, which is named; other programs' entries come and go).
local function in_dev_shm(name)
  local f = io.open("/dev/shm/" .. name)
  if f then f:close() return true end
  return false
end

local function full_gc()
  collectgarbage(); collectgarbage()
end

describe("multiprocessing objects travel", function()
  for _, method in ipairs(METHODS) do
    describe("with " .. method, function()
      local ctx = mp.get_context(method)

      it("as Pool.apply_async and map arguments, used from both sides", function()
        local p <close> = ctx.Pool(2)
        local o = make_all()
        local pid = p:apply_async(use_all, { o, "apply" }):get(T)
        assert.not_equal(core.getpid(), pid)
        check_all(o, "apply", pid)
        -- map: every item carries the same Event and Value (one entry in
        -- the sharer, one use per item)
        local ev, v = mp.Event(), mp.Value("i", 0)
        local items = {}
        for i = 1, 50 do items[i] = { ev, v, i } end
        local r = p:map(function(it)
          local e, val, i = it[1], it[2], it[3]
          val:get_lock():with(function() val.value = val.value + i end)
          if i == 50 then e:set() end
          return i
        end, items, 7)
        assert.equal(50, r.n)
        assert.is_true(ev:wait(T))
        assert.equal(50 * 51 // 2, v.value)
        p:close(); p:join()
        free_all(o)
        full_gc()
        assert.equal(0, core._fdshare_pending())
      end)

      it("as pool results, back to the parent", function()
        local p <close> = ctx.Pool(1)
        local o = make_all()
        -- created in the worker, returned: the worker lives on while the
        -- parent receives them
        local r = p:apply_async(function()
          local mp2 = require "braid.multiprocessing"
          local ev, val = mp2.Event(), mp2.Value("i", 7)
          ev:set()
          return { nested = { ev, val } }
        end)
        local got = r:get(T)
        assert.is_true(got.nested[1]:is_set())
        assert.equal(7, got.nested[2].value)
        -- a second read of the same result gives the same objects
        local again = r:get(T)
        assert.equal(got.nested[1], again.nested[1])
        -- the objects of the parent, sent there and back
        local back = p:apply_async(function(x) return x end, { o }):get(T)
        local pid = use_all(back, "back")
        check_all(o, "back", pid)
        p:close(); p:join()
        free_all(o)
      end)

      it("as executor results read twice, without taking another send's turn", function()
        local ex <close> = futures.ProcessPoolExecutor(1, ctx)
        -- the worker sends one Event in two results: two sends of one entry
        local make = function()
          local mp2 = require "braid.multiprocessing"
          KEPT = KEPT or mp2.Event() -- luacheck: ignore
          return KEPT
        end
        local f1, f2 = ex:submit(make), ex:submit(make)
        futures.wait({ f1, f2 }, T)
        local e1 = f1:result(T)
        assert.equal(e1, f1:result(T)) -- a second decode: the same object
        -- another state receives the second send: its turn is still there
        local ok, set = helpers.run_in_thread(function(f)
          local e = f:result(60)
          e:set()
          return true
        end, f2)
        assert.is_true(ok, set)
        assert.is_true(e1:is_set())
        ex:shutdown(true)
      end)

      it("to ProcessPoolExecutor.submit, used from both sides", function()
        local ex <close> = futures.ProcessPoolExecutor(2, ctx)
        local o = make_all()
        local pid = ex:submit(use_all, o, "submit"):result(T)
        assert.not_equal(core.getpid(), pid)
        check_all(o, "submit", pid)
        ex:shutdown(true)
        free_all(o)
      end)

      it("as mp.Queue items, both ways, and a Queue inside a Queue", function()
        local q, back, done = mp.Queue(), mp.Queue(), mp.Event()
        local o = make_all()
        local r3, w3 = mp.Pipe(false)
        q:put(o)
        q:put(w3) -- a Connection end, on a Queue
        w3:close()
        local p = ctx.Process{daemon = true, target = function(q1, back1, done1)
          local got = q1:get(true, 60)
          local pid = use_all(got, "queue")
          q1:get(true, 60):send("through a queued end")
          -- objects made here go back the same way; this process serves
          -- their descriptors until the parent has them (done1)
          local mp2 = require "braid.multiprocessing"
          local ev, inner = mp2.Event(), mp2.Queue()
          inner:put("inner item")
          back1:put({ pid, ev, inner })
          assert(done1:wait(60))
          ev:set()
        end, args = { q, back, done }}
        p:start()
        local reply = back:get(true, T)
        local pid, ev, inner = reply[1], reply[2], reply[3]
        assert.is_true(r3:poll(T))
        assert.equal("through a queued end", r3:recv())
        check_all(o, "queue", pid)
        assert.equal("inner item", inner:get(true, T))
        done:set()
        assert.is_true(ev:wait(T)) -- set by the child after done
        p:join(T)
        assert.equal(0, p.exitcode)
        free_all(o)
      end)

      it("through a Pipe, both ways, nested in a table, with Connection ends", function()
        local a, b = mp.Pipe()
        local o = make_all()
        local r2, w2 = mp.Pipe(false)
        local p = ctx.Process{daemon = true, target = function(conn)
          local msg = conn:recv()
          local pid = use_all(msg.deep.objs, "pipe")
          -- a Connection end received: write on it
          msg.writer:send("over the sent end")
          local mp2 = require "braid.multiprocessing"
          local lk = mp2.Lock()
          assert(lk:acquire())
          conn:send({ pid = pid, lock = lk })
          assert(conn:recv() == "tried") -- the parent found it held
          lk:release()
          conn:send("released")
          assert(conn:recv() == "bye")
        end, args = { b }}
        p:start()
        a:send({ deep = { objs = o }, writer = w2 })
        w2:close()
        assert.equal("over the sent end", r2:recv())
        local msg = a:recv()
        check_all(o, "pipe", msg.pid)
        assert.is_false(msg.lock:acquire(false)) -- contended: the child holds it
        a:send("tried")
        assert.equal("released", a:recv())
        assert.is_true(msg.lock:acquire(true, T))
        msg.lock:release()
        a:send("bye")
        p:join(T)
        assert.equal(0, p.exitcode)
        free_all(o)
      end)

      it("wakes a waiter in the parent by a set in a pool worker", function()
        local p <close> = ctx.Pool(1)
        local ev, go = mp.Event(), mp.Event()
        local r = p:apply_async(function(e, g)
          assert(g:wait(60))
          e:set()
          return true
        end, { ev, go })
        -- the parent waits from a thread too, both woken by the worker
        local woke = threading.Event()
        local t = threading.Thread{target = function(e, w)
          if e:wait(60) then w:set() end
        end, args = { ev, woke }}
        t:start()
        go:set()
        assert.is_true(ev:wait(T))
        assert.is_true(woke:wait(T))
        t:join(T)
        assert.is_true(r:get(T))
      end)

      it("lets a pool worker wait on an Event the parent sets", function()
        local p <close> = ctx.Pool(1)
        local ev, started = mp.Event(), mp.Event()
        local r = p:apply_async(function(e, s)
          s:set()
          return e:wait(60)
        end, { ev, started })
        assert.is_true(started:wait(T))
        assert.is_false(r:ready())
        ev:set()
        assert.is_true(r:get(T))
      end)

      it("leaves no segment behind once everyone let go", function()
        full_gc()
        local maps0, fds0 = memfd_maps(), core._memfds()
        local shm_name
        do
          local p <close> = ctx.Pool(2)
          local o = make_all()
          shm_name = o.shm.name
          assert.is_true(in_dev_shm(shm_name))
          -- a worker keeps what it received until it collects: it reports
          -- its own maps before and after
          local counts = p:apply_async(function(x)
            local function n()
              local f = assert(io.open("/proc/self/maps"))
              local k = 0
              for line in f:lines() do
                if line:find("memfd:braid", 1, true) then k = k + 1 end
              end
              f:close()
              return k
            end
            local with = n()
            x = nil -- luacheck: ignore
            collectgarbage(); collectgarbage()
            return { with, n() }
          end, { o }):get(T)
          assert.is_true(counts[1] > counts[2])
          assert.equal(0, core._fdshare_pending())
          p:close(); p:join()
          free_all(o)
        end
        full_gc()
        assert.equal(maps0, memfd_maps())
        assert.equal(0, core._fdshare_pending())
        assert.is_false(in_dev_shm(shm_name))
        assert.equal(fds0, core._memfds())
      end)
    end)
  end

  it("leaves nothing behind when a receiver is killed holding the objects", function()
    full_gc()
    local maps0, fds0 = memfd_maps(), core._memfds()
    local ctx = mp.get_context(METHODS[1])
    do
      local a, b = mp.Pipe()
      local p = ctx.Process{daemon = true, target = function(conn)
        local got = conn:recv()
        got.lock:acquire() -- dies holding it
        conn:send("holding")
        require("braid.threading").Event():wait()
      end, args = { b }}
      p:start()
      local o = { ev = mp.Event(), lock = mp.Lock(), v = mp.Value("i", 1) }
      a:send(o)
      assert.equal("holding", a:recv())
      p:kill()
      p:join(T)
      assert.equal(-9, p.exitcode)
      -- the lock a dead process held is recovered (psync.c: owner pid)
      local ok, why = o.lock:acquire(true, T)
      assert.is_true(ok)
      assert.equal("owner died", why)
      o.lock:release()
      assert.equal(0, core._fdshare_pending())
      a:close(); b:close()
    end
    full_gc()
    assert.equal(maps0, memfd_maps())
    assert.equal(fds0, core._memfds())
  end)

  it("into a manager's containers and out again", function()
    local m = mp.Manager()
    local ok, err = pcall(function()
      local d = m:dict()
      local ev, v = mp.Event(), mp.Value("i", 5)
      d.objs = { ev = ev, v = v }
      local got = d.objs -- sent by the manager's process
      got.ev:set()
      got.v.value = 6
      assert.is_true(ev:is_set())
      assert.equal(6, v.value)
      local q = m:Queue()
      q:put(mp.Lock())
      local lk = q:get(true, T)
      assert.is_true(lk:acquire(false))
      lk:release()
      local r, w = mp.Pipe(false)
      d.w, d.a = w, mp.Array("i", 3)
      d.w:send("through the manager's end")
      assert.is_true(r:poll(T))
      assert.equal("through the manager's end", r:recv())
      local arr = d.a
      d.a[2] = 9 -- another copy the manager sent
      assert.equal(9, arr[2])
    end)
    m:shutdown()
    assert(ok, err)
  end)

  it("keeps an unredeemed ticket only while its sender lives", function()
    -- a message nobody receives: its sender holds one use until it exits
    local a, b = mp.Pipe()
    local n0 = core._fdshare_pending()
    local ev = mp.Event()
    a:send(ev)
    assert.equal(n0 + 1, core._fdshare_pending())
    local got = b:recv()
    assert.equal(n0, core._fdshare_pending())
    got:set()
    assert.is_true(ev:is_set())
    -- the sender gone, its tickets cannot be redeemed: OSError naming it
    local ctx = mp.get_context(METHODS[1])
    local r, w = mp.Pipe(false)
    local p = ctx.Process{daemon = true, target = function(conn)
      conn:send(require("braid.multiprocessing").Event())
    end, args = { w }}
    p:start()
    p:join(T)
    assert.equal(0, p.exitcode)
    assert.is_true(r:poll(T))
    local e = helpers.raises(errors.OSError, r.recv, r)
    helpers.message_has(e, "has exited")
  end)

  it("keeps Python's refusal where it still holds", function()
    -- thread-only objects live in one process's memory
    local a = mp.Pipe()
    local e = helpers.raises(errors.TypeError, a.send, a, threading.Lock())
    helpers.message_has(e, "cannot be sent")
    -- a Barrier's action is decoded by every process that runs it: a
    -- ticket cannot serve them all
    local ev = mp.Event()
    e = helpers.raises(errors.RuntimeError, mp.Barrier, 2, function() ev:set() end)
    helpers.message_has(e, "Barrier's action")
  end)
end)

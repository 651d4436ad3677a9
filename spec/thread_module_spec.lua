-- braid._thread: Python's low-level thread module over braid's runtime.
local helpers = require "helpers"
local errors = require "braid.errors"
local threading = require "braid.threading"
local core = require "braid.core"

local HOST, braid_run = helpers.HOST, helpers.braid_run
local host_it = HOST == "none" and pending or it

describe("braid._thread", function()
  local _thread = require "braid._thread"

  it("is reachable as braid._thread", function()
    assert.equal(_thread, require("braid")._thread)
  end)

  it("has Python's constants and aliases", function()
    assert.equal(errors.RuntimeError, _thread.error)
    assert.equal(threading.TIMEOUT_MAX, _thread.TIMEOUT_MAX)
    assert.equal(_thread.allocate_lock, _thread.LockType)
    assert.equal(_thread.start_new_thread, _thread.start_new)
    assert.equal(_thread.exit, _thread.exit_thread)
    assert.equal(threading.get_ident(), _thread.get_ident())
    assert.equal(threading.get_native_id(), _thread.get_native_id())
  end)

  describe("start_new_thread", function()
    it("runs fn(args...) in another thread and returns its ident", function()
      local q = require("braid.queue").Queue()
      local ident = _thread.start_new_thread(function(out, a, b)
        local t = require "braid._thread"
        out:put({ a + b, t.get_ident(), t.get_native_id() })
      end, { q, 2, 3 })
      local got = q:get(true, 30)
      assert.equal(5, got[1])
      assert.equal("integer", math.type(ident))
      assert.equal(ident, got[2])
      assert.are_not.equal(_thread.get_ident(), ident)
      assert.are_not.equal(_thread.get_native_id(), got[3])
    end)

    it("passes trailing nils counted by args.n and kwargs as a last argument", function()
      local q = require("braid.queue").Queue()
      _thread.start_new_thread(function(out, a, b, kw)
        out:put({ a = a, bnil = b == nil, kw = kw })
      end, { q, 1, nil, n = 3 }, { key = "v" })
      local got = q:get(true, 30)
      assert.equal(1, got.a)
      assert.is_true(got.bnil)
      assert.same({ key = "v" }, got.kw)
    end)

    it("raises TypeError for bad arguments", function()
      local e = helpers.raises(errors.TypeError, _thread.start_new_thread, 42, {})
      helpers.message_has(e, "first arg must be callable")
      e = helpers.raises(errors.TypeError, _thread.start_new_thread, print, 1)
      helpers.message_has(e, "2nd arg must be a table")
      e = helpers.raises(errors.TypeError, _thread.start_new_thread, print, {}, 3)
      helpers.message_has(e, "optional 3rd arg must be a table")
      helpers.raises(errors.TypeError, _thread.start_new_thread, print, { io.stdout })
    end)

    it("starts daemon threads", function()
      local go, done = threading.Event(), threading.Event()
      local ident = _thread.start_new_thread(function(g, d) g:wait(30); d:set() end,
                                             { go, done })
      local found
      for _, t in ipairs(threading.enumerate()) do
        if t.ident == ident then found = t end
      end
      assert.is_truthy(found)
      assert.is_true(found.daemon)
      go:set()
      assert.is_true(done:wait(30))
    end)

    it("sends an uncaught error to threading.excepthook", function()
      local got
      local old = threading.excepthook
      threading.excepthook = function(args) got = args end
      local done = threading.Event()
      local ident = _thread.start_new_thread(function(d)
        d:set()
        error(require("braid.errors").KeyError("lost"))
      end, { done })
      assert.is_true(done:wait(30))
      -- the hook runs here at a poll once the thread reported: bounded wait
      local deadline = helpers.now() + 30
      while got == nil and helpers.now() < deadline do
        core.poll(); core.sleep(0.01)
      end
      threading.excepthook = old
      assert.is_table(got)
      assert.equal(errors.KeyError, got.exc_type)
      assert.equal(ident, got.thread.ident)
    end)
  end)

  describe("exit", function()
    it("raises SystemExit", function()
      local e = helpers.raises(errors.SystemExit, _thread.exit)
      assert.is_nil(e.code)
    end)

    it("ends the calling thread quietly, even with a custom excepthook", function()
      local called = false
      local old = threading.excepthook
      threading.excepthook = function() called = true end
      local q = require("braid.queue").Queue()
      local ident = _thread.start_new_thread(function(out)
        out:put("before")
        require("braid._thread").exit()
        out:put("after")
      end, { q })
      assert.equal("before", q:get(true, 30))
      -- wait for the thread to end: then its report (if any) was posted
      local th
      for _, t in ipairs(threading.enumerate()) do
        if t.ident == ident then th = t end
      end
      if th then th:join(30) end
      core.poll()
      threading.excepthook = old
      assert.is_false(called)
      assert.is_true(q:empty())
    end)

    host_it("prints nothing with the default hook", function()
      local rc, out = braid_run([[
        local _thread = require "braid._thread"
        local l = _thread.allocate_lock()
        l:acquire()
        _thread.start_new_thread(function(lk) lk:release(); require("braid._thread").exit() end, {l})
        assert(l:acquire(true, 30))
        print("ok")
      ]])
      assert.equal(0, rc)
      assert.equal("ok\n", out)
    end)
  end)

  describe("locks", function()
    it("allocate_lock gives Python's lock: acquire -> boolean, release, locked", function()
      local l = _thread.allocate_lock()
      assert.is_false(l:locked())
      assert.is_true(l:acquire())
      assert.is_true(l:locked())
      assert.is_false(l:acquire(false))
      local t0 = helpers.now()
      assert.is_false(l:acquire(true, 0.05))
      assert.is_true(helpers.now() - t0 >= 0.04)
      l:release()
      assert.is_false(l:locked())
      local e = helpers.raises(_thread.error, l.release, l)
      assert.is_true(errors.RuntimeError:is(e))
      helpers.raises(errors.ValueError, l.acquire, l, false, 1)
      local LT = _thread.LockType()
      assert.is_true(LT:acquire(true, -1))
      LT:release()
    end)

    it("is released by <close>", function()
      local l = _thread.allocate_lock()
      do
        l:acquire()
        local _ <close> = l
        assert.is_true(l:locked())
      end
      assert.is_false(l:locked())
    end)

    it("is released by another thread (a plain lock has no owner)", function()
      local l = _thread.allocate_lock()
      l:acquire()
      _thread.start_new_thread(function(lk) lk:release() end, { l })
      assert.is_true(l:acquire(true, 30))
      l:release()
    end)

    it("RLock is reentrant", function()
      local r = _thread.RLock()
      assert.is_true(r:acquire())
      assert.is_true(r:acquire())
      r:release(); r:release()
      helpers.raises(errors.RuntimeError, r.release, r)
    end)
  end)

  describe("stack_size", function()
    it("returns the previous value, applies Python's 32 KiB minimum", function()
      local old = _thread.stack_size()
      assert.equal(old, _thread.stack_size(65536))
      assert.equal(65536, _thread.stack_size())
      local e = helpers.raises(errors.ValueError, _thread.stack_size, 32767)
      helpers.message_has(e, "size not valid")
      helpers.raises(errors.ValueError, _thread.stack_size, -1)
      assert.equal(65536, _thread.stack_size(32768))
      -- a thread started with the minimum runs
      local q = require("braid.queue").Queue()
      _thread.start_new_thread(function(out) out:put("small stack") end, { q })
      assert.equal("small stack", q:get(true, 30))
      _thread.stack_size(old)
    end)
  end)

  describe("interrupt_main", function()
    host_it("raises KeyboardInterrupt in the main thread's blocking call", function()
      local rc, out = braid_run([[
        local _thread = require "braid._thread"
        local errors = require "braid.errors"
        local threading = require "braid.threading"
        local go, ev = threading.Event(), threading.Event()
        -- the worker interrupts once the main thread is inside the pcall
        -- (an interrupt may land at any instruction after it is sent)
        _thread.start_new_thread(function(g)
          assert(g:wait(30))
          require("braid._thread").interrupt_main()
        end, {go})
        local ok, err = pcall(function() go:set(); ev:wait(30) end)
        print(ok, errors.KeyboardInterrupt:is(err))
        require("braid").interrupt_reset()
        -- once reset, the next one raises again; called by the main
        -- thread itself, at its next instruction (as Python's, at the next
        -- bytecode: so inside the pcall)
        ok, err = pcall(function()
          _thread.interrupt_main()
          for _ = 1, 1e9 do end
        end)
        print(ok, errors.KeyboardInterrupt:is(err))
        require("braid").interrupt_reset()
        print("goes on")
      ]])
      assert.equal(0, rc)
      assert.equal("false\ttrue\nfalse\ttrue\ngoes on\n", out)
    end)

    host_it("ends an uncaught main script as Ctrl-C does", function()
      local rc, out = braid_run([[
        local ev = require("braid.threading").Event()
        require("braid._thread").start_new_thread(function()
          require("braid._thread").interrupt_main() end, {})
        ev:wait(30)
        print("not reached")
      ]])
      assert.equal(130, rc)
      assert.truthy(out:find("KeyboardInterrupt", 1, true))
      assert.falsy(out:find("not reached", 1, true))
    end)

    it("rejects a number that is not a signal", function()
      helpers.raises(errors.ValueError, _thread.interrupt_main, 0)
      helpers.raises(errors.ValueError, _thread.interrupt_main, 100000)
      helpers.raises(errors.TypeError, _thread.interrupt_main, "x")
    end)
  end)
end)

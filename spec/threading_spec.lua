-- braid.threading: Thread, Timer, local and the module functions, with
-- Python's rules (the synchronisation classes are in sync_spec.lua).
local threading = require "braid.threading"
local core = require "braid.core"
local errors = require "braid.errors"
local helpers = require "helpers"

local HOST, braid_run = helpers.HOST, helpers.braid_run
local host_it = HOST == "none" and pending or it

describe("Thread", function()
  it("runs its target with its args in another OS thread", function()
    local main_ident = threading.get_ident()
    local ok, sum, ident, native = helpers.run_in_thread(function(a, b, c)
      local th = require "braid.threading"
      return a + b + c, th.get_ident(), th.get_native_id()
    end, 1, 2, 3)
    assert.is_true(ok)
    assert.equal(6, sum)
    assert.are_not.equal(main_ident, ident)
    assert.are_not.equal(threading.get_native_id(), native)
  end)

  it("passes nil arguments by position (args.n)", function()
    local ok, a, b, c = helpers.run_in_thread(function(...) return select("#", ...), ... end,
      nil, 2)
    assert.is_true(ok)
    assert.equal(2, a); assert.is_nil(b); assert.equal(2, c)
  end)

  it("has Python's default names and keeps a given name", function()
    local t1 = threading.Thread{ target = function() end }
    assert.truthy(t1.name:match("^Thread%-%d+$"))
    local t2 = threading.Thread{ target = function() end, name = "worker-a" }
    assert.equal("worker-a", t2.name)
    t2.name = "renamed"
    assert.equal("renamed", t2.name)
    helpers.raises(errors.TypeError, function() t2.name = 42 end)
  end)

  it("sees its own name and object through current_thread()", function()
    local got
    local old = threading.excepthook
    threading.excepthook = function(args) got = args.exc_value.message end
    local t = threading.Thread{ name = "inner", target = function()
      local th = require "braid.threading"
      error(require("braid.errors").ValueError(th.current_thread().name))
    end }
    t:start(); t:join()
    threading.excepthook = old
    assert.equal("inner", got)
  end)

  it("has ident and native_id only once started", function()
    local t = threading.Thread{ target = function() end }
    assert.is_nil(t.ident)
    assert.is_nil(t.native_id)
    t:start()
    assert.equal("integer", math.type(t.ident))
    assert.equal("integer", math.type(t.native_id))
    t:join()
    helpers.raises(errors.AttributeError, function() t.ident = 1 end)
  end)

  it("is alive from start until run ends", function()
    local go = threading.Event()
    local t = threading.Thread{ target = function(ev) ev:wait(30) end, args = { go } }
    assert.is_false(t:is_alive())
    t:start()
    assert.is_true(t:is_alive())
    go:set()
    t:join()
    assert.is_false(t:is_alive())
  end)

  it("join(timeout) returns nothing and leaves a running thread alive", function()
    local go = threading.Event()
    local t = threading.Thread{ target = function(ev) ev:wait(30) end, args = { go } }
    t:start()
    local t0 = helpers.now()
    assert.is_nil(t:join(0.2))
    assert.is_true(helpers.now() - t0 >= 0.19)
    assert.is_true(t:is_alive())
    t:join(-1) -- negative timeout: no wait
    assert.is_true(t:is_alive())
    go:set()
    t:join()
    assert.is_false(t:is_alive())
  end)

  it("raises RuntimeError when started twice", function()
    local t = threading.Thread{ target = function() end }
    t:start()
    local err = helpers.raises(errors.RuntimeError, t.start, t)
    helpers.message_has(err, "threads can only be started once")
    t:join()
    helpers.raises(errors.RuntimeError, t.start, t)
  end)

  it("raises RuntimeError when joined before start", function()
    local t = threading.Thread{ target = function() end }
    local err = helpers.raises(errors.RuntimeError, t.join, t)
    helpers.message_has(err, "cannot join thread before it is started")
  end)

  it("raises RuntimeError when a thread joins itself", function()
    local err = helpers.raises(errors.RuntimeError, function()
      threading.current_thread():join()
    end)
    helpers.message_has(err, "cannot join current thread")
    local ok, e = helpers.run_in_thread(function()
      require("braid.threading").current_thread():join()
    end)
    assert.is_false(ok)
    assert.is_true(errors.RuntimeError:is(e))
  end)

  it("inherits daemon from the creating thread and fixes it at start", function()
    local t = threading.Thread{ target = function() end }
    assert.is_false(t.daemon)
    local d = threading.Thread{ target = function() end, daemon = true }
    assert.is_true(d.daemon)
    t.daemon = true
    assert.is_true(t.daemon)
    t:start()
    local err = helpers.raises(errors.RuntimeError, function() t.daemon = false end)
    helpers.message_has(err, "cannot set daemon status of active thread")
    t:join()
    local ok, inherited = helpers.run_in_thread(function()
      local th = require "braid.threading"
      local g = th.Thread{ target = function() end }
      return th.current_thread().daemon == g.daemon
    end)
    assert.is_true(ok)
    assert.is_true(inherited)
  end)

  it("checks its constructor arguments", function()
    helpers.raises(errors.TypeError, threading.Thread, print)
    helpers.raises(errors.TypeError, threading.Thread, { target = 42 })
    helpers.raises(errors.TypeError, threading.Thread, { target = print, args = "x" })
    helpers.raises(errors.AssertionError, threading.Thread, { group = 1 })
    local callable = setmetatable({}, { __call = function() end })
    assert.has_no.errors(function() threading.Thread{ target = callable } end)
  end)

  it("runs nothing without a target", function()
    local t = threading.Thread{}
    t:start()
    t:join()
    assert.is_false(t:is_alive())
  end)

  it("supports subclasses that override run", function()
    local Worker = threading.Thread:subclass("Worker")
    function Worker:init(opts) self.factor = opts.factor end
    function Worker:run()
      error(require("braid.errors").ValueError(tostring(self.n * self.factor) .. ":" .. self.name))
    end
    local got
    local old = threading.excepthook
    threading.excepthook = function(args) got = args.exc_value.message end
    local w = Worker{ name = "w1", factor = 3 }
    w.n = 5
    w:start(); w:join()
    threading.excepthook = old
    assert.equal("15:w1", got)
    assert.equal("<Worker(w1, stopped)>", tostring(w))
    assert.equal("<class 'Worker'>", tostring(Worker))
  end)

  it("supports subclasses of subclasses, with class-level lookup along the chain", function()
    local W = threading.Thread:subclass("W")
    local W2 = W:subclass("W2")
    -- Python: W2.start is Thread.start; subclass is reachable at every level.
    assert.equal(threading.Thread.start, W.start)
    assert.equal(threading.Thread.start, W2.start)
    assert.equal(threading.Thread.join, W2.join)
    assert.is_function(W2.subclass)
    function W:init(opts) self.tag = opts.tag end
    function W:run() self.out:put("W:" .. self.tag) end
    local W3 = W2:subclass("W3")
    assert.equal(W.run, W3.run) -- inherited through two levels
    function W2:run() self.out:put("W2:" .. self.tag) end
    assert.equal(W2.run, W3.run) -- a method added later is seen by subclasses
    local out = require("braid.queue").Queue()
    local t = W3{ tag = "x" } -- W's init runs for W3 too
    t.out = out
    t:start(); t:join(30)
    assert.is_false(t:is_alive())
    assert.equal("W2:x", out:get(true, 30))
    assert.equal("<class 'W3'>", tostring(W3))
    assert.equal("W3", tostring(t):match("^<(%w+)%("))
  end)

  it("formats like Python's repr", function()
    local t = threading.Thread{ name = "r", target = function() end }
    assert.equal("<Thread(r, initial)>", tostring(t))
    t:start(); t:join()
    assert.equal("<Thread(r, stopped)>", tostring(t))
  end)

  it("can start threads from threads", function()
    local ok, r = helpers.run_in_thread(function()
      local th = require "braid.threading"
      local inner = th.Thread{ target = function() end }
      inner:start(); inner:join()
      return inner:is_alive()
    end)
    assert.is_true(ok)
    assert.is_false(r)
  end)

  it("frees every thread object and state after join (memory stays flat)", function()
    collectgarbage(); collectgarbage()
    local before = core._test.live()
    for _ = 1, 10 do
      local ts = {}
      for i = 1, 20 do
        ts[i] = threading.Thread{ target = function(x) return { x } end, args = { i } }
        ts[i]:start()
      end
      for i = 1, 20 do ts[i]:join() end
    end
    collectgarbage(); collectgarbage()
    assert.equal(before, core._test.live())
  end)
end)

describe("uncaught errors in threads", function()
  it("reach a custom excepthook with the thread and the traceback", function()
    local got
    local old = threading.excepthook
    threading.excepthook = function(args) got = args end
    local t = threading.Thread{ name = "failing", target = function()
      local function deep() error("boom in worker") end
      deep()
    end }
    t:start(); t:join()
    threading.excepthook = old
    assert.is_not_nil(got)
    assert.equal("failing", got.thread.name)
    assert.equal(t, got.thread) -- the same Thread object in this state
    assert.is_true(errors.LuaError:is(got.exc_value))
    helpers.message_has(got.exc_value, "boom in worker")
    assert.equal(errors.LuaError, got.exc_type)
    assert.truthy(got.exc_traceback:find("in upvalue 'deep'", 1, true)
      or got.exc_traceback:find("deep", 1, true))
  end)

  it("keep the class of exception objects", function()
    local got
    local old = threading.excepthook
    threading.excepthook = function(args) got = args.exc_value end
    local t = threading.Thread{ target = function()
      error(require("braid.errors").KeyError("missing"))
    end }
    t:start(); t:join()
    threading.excepthook = old
    assert.is_true(errors.KeyError:is(got))
    assert.is_true(errors.LookupError:is(got))
    assert.truthy(tostring(got):find("^KeyError: missing"))
  end)

  -- Python calls a custom hook for SystemExit too (issue 15); only the
  -- default hook ignores it (checked with the host below).
  it("go to a custom hook for SystemExit too", function()
    local got
    local old = threading.excepthook
    threading.excepthook = function(args) got = args end
    local t = threading.Thread{ name = "quitter", target = function()
      error(require("braid.errors").SystemExit(3))
    end }
    t:start(); t:join()
    core.poll()
    threading.excepthook = old
    assert.is_table(got)
    assert.equal(errors.SystemExit, got.exc_type)
    assert.equal(3, got.exc_value.code)
    assert.equal("quitter", got.thread.name)
  end)

  host_it("are ignored for SystemExit by the default hook", function()
    local rc, out = braid_run([[
      local threading = require "braid.threading"
      local errors = require "braid.errors"
      local t = threading.Thread{name = "quiet", target = function()
        error(require("braid.errors").SystemExit(5)) end}
      t:start(); t:join()
      threading.__excepthook__{exc_type = errors.SystemExit,
        exc_value = errors.SystemExit(2), thread = threading.current_thread()}
      print("main continues")
    ]])
    assert.equal(0, rc)
    assert.equal("main continues\n", out)
  end)

  host_it("are printed with the thread's name by the default hook", function()
    assert.equal(threading.__excepthook__, threading.excepthook)
    local rc, out = braid_run([[
      local t = require("braid.threading").Thread{name = "printer", target = function()
        error("printed error") end}
      t:start(); t:join()
      print("main continues")
    ]])
    assert.equal(0, rc)
    assert.truthy(out:find("Exception in thread printer:", 1, true))
    assert.truthy(out:find("printed error", 1, true))
    assert.truthy(out:find("stack traceback", 1, true))
    assert.truthy(out:find("main continues", 1, true))
  end)

  it("rejects a non-function excepthook", function()
    helpers.raises(errors.TypeError, function() threading.excepthook = 42 end)
    assert.equal(threading.__excepthook__, threading.excepthook)
  end)
end)

describe("program exit", function()
  host_it("waits for non-daemon threads", function()
    local marker = os.tmpname()
    os.remove(marker)
    local rc = braid_run(([[
      local t = require("braid.threading").Thread{target = function(path)
        require("braid.core").sleep(0.3)
        local f = io.open(path, "w"); f:write("done"); f:close()
      end, args = {%q}}
      t:start()
    ]]):format(marker))
    assert.equal(0, rc)
    local f = io.open(marker)
    assert.is_not_nil(f, "the non-daemon thread did not finish before exit")
    f:close()
    os.remove(marker)
  end)

  host_it("does not wait for daemon threads", function()
    local t0 = helpers.now()
    local rc = braid_run([[
      local th = require "braid.threading"
      local never = th.Event()
      local t = th.Thread{daemon = true, target = function(ev) ev:wait() end, args = {never}}
      t:start()
    ]])
    assert.equal(0, rc)
    assert.is_true(helpers.now() - t0 < 30)
  end)

  host_it("gives the script's exit status and 1 on an uncaught error", function()
    assert.equal(5, (braid_run("os.exit(5)")))
    local rc, out = braid_run("error('top level')")
    assert.equal(1, rc)
    assert.truthy(out:find("top level", 1, true))
  end)
end)

describe("Timer", function()
  it("calls its function after the interval", function()
    local fired = threading.Event()
    local t0 = helpers.now()
    local timer = threading.Timer(0.2, function(ev, x) if x == "arg" then ev:set() end end,
      { fired, "arg" })
    timer:start()
    assert.is_true(fired:wait(30))
    assert.is_true(helpers.now() - t0 >= 0.19)
    timer:join()
  end)

  it("does nothing when cancelled before it fires", function()
    local fired = threading.Event()
    local timer = threading.Timer(30, function(ev) ev:set() end, { fired })
    timer:start()
    timer:cancel()
    timer:join(30)
    assert.is_false(timer:is_alive())
    assert.is_false(fired:is_set())
  end)

  it("accepts the table form and checks its arguments", function()
    local fired = threading.Event()
    local timer = threading.Timer{ interval = 0, ["function"] = function(ev) ev:set() end,
      args = { fired } }
    timer:start(); timer:join()
    assert.is_true(fired:is_set())
    helpers.raises(errors.TypeError, threading.Timer, "1", print)
    helpers.raises(errors.TypeError, threading.Timer, 1, 42)
    helpers.raises(errors.TypeError, threading.Timer, 1, print, "x")
  end)

  it("can be subclassed, keeping Timer's constructor and methods", function()
    local Timer = threading.Timer
    assert.equal(threading.Thread.start, Timer.start)
    assert.is_function(Timer.subclass)
    local LoggedTimer = Timer:subclass("LoggedTimer")
    assert.equal(Timer.cancel, LoggedTimer.cancel)
    function LoggedTimer:run()
      Timer.run(self) -- the parent's run, as super().run() in Python
      self.log:put("ran")
    end
    local Twice = LoggedTimer:subclass("Twice")
    assert.equal(LoggedTimer.run, Twice.run)
    local log = require("braid.queue").Queue()
    local t = Twice(0, function(q) q:put("fired") end, { log })
    t.log = log
    t:start(); t:join(30)
    assert.is_false(t:is_alive())
    assert.equal("fired", log:get(true, 30))
    assert.equal("ran", log:get(true, 30))
    helpers.raises(errors.TypeError, Twice, "1", print) -- Timer's checks
    local c = LoggedTimer(30, function(q) q:put("fired") end, { log })
    c.log = log
    c:start(); c:cancel(); c:join(30)
    assert.is_false(c:is_alive())
    assert.equal("ran", log:get(true, 30)) -- run ran; the function did not
    assert.is_true(log:empty())
    assert.equal("<class 'Twice'>", tostring(Twice))
  end)
end)

describe("local", function()
  it("gives each thread its own attributes", function()
    local data = threading["local"]()
    assert.equal(threading.Local, threading["local"])
    data.x = "main"
    local ok, seen, mine = helpers.run_in_thread(function(d)
      local before = d.x
      d.x = "worker"
      return before, d.x
    end, data)
    assert.is_true(ok)
    assert.is_nil(seen)
    assert.equal("worker", mine)
    assert.equal("main", data.x)
  end)
end)

describe("module functions", function()
  it("current_thread and main_thread give the main thread here", function()
    local main = threading.main_thread()
    assert.equal(main, threading.current_thread())
    assert.equal("MainThread", main.name)
    assert.is_true(main:is_alive())
    assert.is_false(main.daemon)
    assert.equal(threading.get_ident(), main.ident)
    assert.equal(threading.get_native_id(), main.native_id)
  end)

  it("main_thread is the same thread from a worker", function()
    local ok, ident = helpers.run_in_thread(function()
      return require("braid.threading").main_thread().ident
    end)
    assert.is_true(ok)
    assert.equal(threading.main_thread().ident, ident)
  end)

  it("enumerate and active_count list the alive threads", function()
    local go = threading.Event()
    local base = threading.active_count()
    local t = threading.Thread{ name = "listed", target = function(ev) ev:wait(30) end,
      args = { go } }
    t:start()
    local found = false
    for _, th in ipairs(threading.enumerate()) do
      if th == t then found = true end
    end
    assert.is_true(found)
    assert.equal(base + 1, threading.active_count())
    assert.equal(#threading.enumerate(), threading.active_count())
    go:set(); t:join()
    assert.equal(base, threading.active_count())
  end)

  it("stack_size sets the size of new threads and validates it", function()
    assert.equal(0, threading.stack_size())
    local err = helpers.raises(errors.ValueError, threading.stack_size, 1000)
    helpers.message_has(err, "size not valid")
    helpers.raises(errors.TypeError, threading.stack_size, "big")
    assert.equal(0, threading.stack_size(256 * 1024))
    local ok = helpers.run_in_thread(function() return 1 end)
    assert.is_true(ok)
    assert.equal(256 * 1024, threading.stack_size(0))
  end)

  it("exports TIMEOUT_MAX and the error classes", function()
    assert.is_true(threading.TIMEOUT_MAX > 1e9)
    assert.equal(errors.classes["threading.BrokenBarrierError"], threading.BrokenBarrierError)
    assert.is_true(errors.RuntimeError:is(threading.BrokenBarrierError("x")))
    assert.equal(errors.RuntimeError, threading.ThreadError)
  end)

  it("is reachable as braid.threading", function()
    assert.equal(threading, require("braid").threading)
  end)
end)

-- Parked OS threads (src/os/park.h): an ended thread's OS thread runs the
-- next start, which still gets a fresh Lua state and fresh per-thread
-- state; the pool is bounded, times out, and is empty in a fork's child.
local threading = require "braid.threading"
local core = require "braid.core"
local errors = require "braid.errors"
local helpers = require "spec.helpers"

local host_it = helpers.HOST == "none" and pending or it
-- a fork under the sanitizers' allocators can hang its child: fork only
-- where the pass allows it (helpers.start_methods)
local _, methods = helpers.start_methods()
local fork_it = methods.fork and it or pending

-- Runs fn(args...) in a new thread, joined; returns its native_id and
-- what fn returned (through a queue: results do not come back otherwise).
local function run(fn, ...)
  local queue = require "braid.queue"
  local q = queue.SimpleQueue()
  local t = threading.Thread{
    target = function(q, f, ...) q:put(table.pack(f(...))) end,
    args = table.pack(q, fn, ...),
  }
  t:start()
  t:join(60)
  assert(not t:is_alive(), "thread did not end within 60 s")
  local r = q:get(true, 10)
  return t.native_id, table.unpack(r, 1, r.n)
end

-- Waits (bounded) until pred() holds; true when it did.
local function eventually(pred, seconds)
  local deadline = helpers.now() + (seconds or 10)
  while not pred() do
    if helpers.now() > deadline then return false end
    core.sleep(0.005)
  end
  return true
end

describe("parked threads", function()
  local oldmax, oldidle
  before_each(function()
    oldmax, oldidle = threading.thread_reuse(8, 60)
  end)
  after_each(function()
    threading.thread_reuse(oldmax, oldidle)
  end)

  it("a start after a join runs on the ended thread's OS thread", function()
    local id1 = run(function() end)
    local created = select(2, core.parked())
    local id2 = run(function() end)
    assert.equal(id1, id2)
    assert.equal(created, select(2, core.parked())) -- no new OS thread
  end)

  it("gives every run a fresh state: no globals, modules or upvalues leak",
     function()
    local id1, had = run(function()
      local had = rawget(_G, "leaked") ~= nil
      leaked = "global" -- luacheck: ignore
      package.loaded.leaked_module = { "module" }
      getmetatable("").__index.leaked = function() return "string" end
      debug.traceback = nil -- a library changed in place
      return had
    end)
    assert.is_false(had)
    local id2, g, m, s, reg = run(function()
      return rawget(_G, "leaked"), package.loaded.leaked_module,
             string.leaked, debug.traceback ~= nil
    end)
    assert.equal(id1, id2) -- the same OS thread ran both
    assert.is_nil(g)
    assert.is_nil(m)
    assert.is_nil(s)
    assert.is_true(reg)
    local counter = 0
    local function bump() counter = counter + 1; return counter end
    local _, a = run(bump)
    local id3, b = run(bump)
    assert.equal(id1, id3)
    assert.equal(1, a) -- each run has its own copy of the upvalue
    assert.equal(1, b)
    assert.equal(0, counter)
  end)

  it("runs a start on a state its parked thread made ahead, never used",
     function()
    local test = core._test
    local id1 = run(function()
      debug.getregistry().leaked = "registry"
      package.preload.leaked = function() return "preload" end
      leaked = "global" -- luacheck: ignore
      collectgarbage("stop")
      -- made by the set-up every state starts with: changed in place
      getmetatable(package.loaded).__index = nil
    end)
    local _, taken = test.ready()
    local id2, reg, pre, g, gc, lazy = run(function()
      return debug.getregistry().leaked, package.preload.leaked,
             rawget(_G, "leaked"), collectgarbage("isrunning"),
             package.loaded.string ~= nil
    end)
    assert.equal(id1, id2) -- the same OS thread ran both
    local _, taken2 = test.ready()
    assert.equal(taken + 1, taken2) -- the second run took a prepared state
    assert.is_nil(reg)
    assert.is_nil(pre)
    assert.is_nil(g)
    assert.is_true(gc)
    assert.is_true(lazy) -- the lazy libraries' metatable is its own
  end)

  it("keeps one prepared state per parked thread, freed when it leaves",
     function()
    local test = core._test
    run(function() end)
    run(function() end)
    -- prepared after the join returns: wait for it (bounded)
    assert.is_true(eventually(function()
      return select(3, test.ready()) == core.parked()
    end))
    assert.is_true(core.parked() >= 1)
    threading.thread_reuse(0)
    assert.is_true(eventually(function()
      return core.parked() == 0 and select(3, test.ready()) == 0
    end))
  end)

  it("does not carry a threading.local value into the next run", function()
    local loc = threading.Local()
    local id1, first = run(function(loc)
      local before = loc.x
      loc.x = "set by the first run"
      return before
    end, loc)
    local id2, second = run(function(loc) return loc.x end, loc)
    assert.equal(id1, id2)
    assert.is_nil(first)
    assert.is_nil(second)
    assert.is_nil(loc.x) -- nor into this thread
  end)

  it("resets the interrupt mask between runs", function()
    local id1, masked = run(function()
      -- a wait masked against Ctrl-C that never unmasked (a raise between
      -- the two), and a spin budget learnt: per-thread state of the run
      return require("braid.core")._test.intr_mask(1)
    end)
    assert.equal(1, masked)
    local id2, now = run(function()
      return require("braid.core")._test.intr_mask(0)
    end)
    assert.equal(id1, id2)
    assert.equal(0, now)
  end)

  it("keeps ident and native_id of the reused OS thread, as documented",
     function()
    local a = threading.Thread{target = function() end}
    a:start(); a:join()
    local b = threading.Thread{target = function() end}
    b:start(); b:join()
    assert.equal(a.native_id, b.native_id)
    assert.equal(a.ident, b.ident)
    local id, gid, ident, gident = run(function()
      local th = require "braid.threading"
      return th.get_native_id(), th.current_thread().ident, th.get_ident()
    end)
    assert.equal(id, gid)
    assert.equal(ident, gident)
  end)

  -- Linux shows a thread's name in /proc/<pid>/task/<tid>/comm: a parked
  -- thread gives back the name it was created with, not the ended run's.
  local names_it = io.open("/proc/self/comm") and it or pending
  names_it("gives a parked thread its first name back, not the run's",
           function()
    -- the name Linux shows for thread 'tid' of this process
    local function comm(tid)
      local f = io.open("/proc/" .. core.getpid() .. "/task/" .. tid .. "/comm")
      if not f then return nil end
      local name = f:read("l")
      f:close()
      return name
    end
    local q = require("braid.queue").SimpleQueue()
    local t = threading.Thread{name = "brd-parkname",
      target = function(q, comm)
        q:put(comm(require("braid.threading").get_native_id()))
      end, args = {q, comm}}
    t:start()
    local during = q:get(true, 10)
    t:join(60)
    assert.is_false(t:is_alive())
    assert.equal("brd-parkname", during) -- the run had the name
    -- the run's end signals the joiner before its thread parks: bounded wait
    assert.is_true(eventually(function()
      return core.parked() >= 1 and comm(t.native_id) ~= "brd-parkname"
    end))
    assert.is_not_nil(comm(t.native_id)) -- parked, not gone: renamed
  end)

  it("uses a parked thread only for the same stack size", function()
    local id1 = run(function() end)
    local old = threading.stack_size(256 * 1024)
    local ok, id2 = pcall(run, function() end)
    local _, id3 = pcall(run, function() end)
    threading.stack_size(old)
    assert.is_true(ok)
    assert.are_not.equal(id1, id2)
    assert.equal(id2, id3) -- that size's own parked thread
    assert.equal(id1, (run(function() end)))
  end)

  it("with a bound of 0 parks nothing", function()
    threading.thread_reuse(0)
    assert.is_true(eventually(function() return core.parked() == 0 end))
    local id1 = run(function() end)
    local id2 = run(function() end)
    assert.are_not.equal(id1, id2)
    assert.equal(0, (core.parked()))
  end)

  it("keeps at most the bound, and lets the idle ones go after the timeout",
     function()
    threading.thread_reuse(2, 60)
    local ev, ts = threading.Event(), {}
    for i = 1, 5 do
      ts[i] = threading.Thread{target = function(e) e:wait(30) end,
                               args = { ev }}
      ts[i]:start()
    end
    ev:set()
    for i = 1, 5 do ts[i]:join(30) end
    assert.is_true(eventually(function() return core.parked() == 2 end))
    assert.equal(2, (core.parked()))
    local t0 = helpers.now()
    threading.thread_reuse(nil, 0.05)
    assert.is_true(eventually(function() return core.parked() == 0 end))
    assert.is_true(helpers.now() - t0 < 10)
  end)

  it("checks its arguments", function()
    helpers.raises(errors.ValueError, threading.thread_reuse, -1)
    helpers.raises(errors.ValueError, threading.thread_reuse, nil, -1)
    helpers.raises(errors.ValueError, threading.thread_reuse, nil, 0 / 0)
    helpers.raises(errors.TypeError, threading.thread_reuse, "many")
    local m, i = threading.thread_reuse()
    assert.equal(8, m)
    assert.equal(60, i)
  end)

  fork_it("starts a fork's child with no parked threads", function()
    local mp = require "braid.multiprocessing"
    run(function() end)
    assert.is_true(core.parked() >= 1)
    local p = mp.get_context("fork").Process{target = function()
      -- the parent's parked threads do not exist here, and a thread
      -- started here runs (on a new OS thread of the child)
      local c = require "braid.core"
      assert(c.parked() == 0, "the child inherited parked threads")
      local th = require "braid.threading"
      local ran = false
      local t = th.Thread{target = function() end}
      t:start(); t:join(30)
      ran = not t:is_alive()
      assert(ran and c.parked() == 1, "no thread ran in the child")
    end}
    p:start()
    p:join(60)
    assert.equal(0, p.exitcode)
  end)

  host_it("never keeps a process from exiting", function()
    local t0 = helpers.now()
    local rc, out = helpers.braid_run([[
      local threading = require "braid.threading"
      threading.thread_reuse(8, 3600)
      local t = threading.Thread{target = function() end}
      t:start(); t:join()
      assert(require("braid.core").parked() == 1)
      print("done")
    ]])
    assert.equal(0, rc, out)
    assert.matches("done", out)
    assert.is_true(helpers.now() - t0 < 30)
  end)
end)

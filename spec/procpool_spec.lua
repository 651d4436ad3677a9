-- luacheck: globals REPORT GO (set by worker initializers, in the workers)
-- Pools of worker processes: multiprocessing.Pool and
-- concurrent.futures.ProcessPoolExecutor, for every start method; killed
-- workers, terminate, initializers, and that no process is left behind.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local futures = require "braid.futures"
local errors = require "braid.errors"
local core = require "braid.core"

-- (helpers.start_methods: BRAID_SPEC_METHODS limits the start methods)
local METHODS, HAS = helpers.start_methods()
local HAS_FORK = HAS.fork == true
-- io.popen is unusable when ThreadSanitizer's runtime is preloaded
-- (BRAID_HOST=none says so, as in threading_spec)
local popen_it = os.getenv("BRAID_HOST") == "none" and pending or it
local BrokenProcessPool = futures.BrokenProcessPool

-- Whether 'pid' still exists (running, or a zombie nobody reaped).
local function exists(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if f then f:close() return true end
  return false
end

-- Pids of the children of this process (any state), from /proc.
local function children()
  local out, me = {}, core.getpid()
  local d = io.popen("ls /proc/" .. me .. "/task")
  for tid in d:read("a"):gmatch("%d+") do
    local f = io.open(("/proc/%d/task/%s/children"):format(me, tid))
    if f then
      for pid in f:read("a"):gmatch("%d+") do out[#out + 1] = tonumber(pid) end
      f:close()
    end
  end
  d:close()
  return out
end

-- An initializer that keeps a queue (inherited) for tasks to report on.
local function keep_queue(q) REPORT = q end

-- A task that reports its pid, then blocks until killed.
local function report_and_block()
  REPORT:put(require("braid.core").getpid())
  require("braid.threading").Event():wait()
end

local function square(x) return x * x end

describe("multiprocessing.Pool", function()
  for _, method in ipairs(METHODS) do
    describe("with " .. method, function()
      local ctx = mp.get_context(method)

      it("maps chunks bigger than a socket's buffer, both ways, without a deadlock", function()
        -- 200,000 items in 4 chunks of 50,000 (~450 KB each way): the
        -- proxy must not block writing the second chunk while the child
        -- blocks writing the first one's results
        local items = {}
        for i = 1, 200000 do items[i] = i end
        local p <close> = ctx.Pool(1)
        local r = p:map_async(function(x) return -x end, items):get(60)
        assert.equal(200000, r.n)
        assert.equal(-1, r[1])
        assert.equal(-200000, r[200000])
        local cs = p:map(function(x) return x end, items, 100000)
        assert.equal(200000, cs.n)
      end)

      it("runs apply, map, starmap, imap and imap_unordered in worker processes", function()
        local p <close> = ctx.Pool(2)
        local a, pid = p:apply(function(x, y)
          return x + y, require("braid.core").getpid()
        end, { 2, 3 })
        assert.equal(5, a)
        assert.not_equal(core.getpid(), pid)
        local items = {}
        for i = 1, 1000 do items[i] = i end
        for _, cs in ipairs({ 1, 7, 1000 }) do
          local r = p:map(square, items, cs)
          assert.equal(1000, r.n)
          for i = 1, 1000 do assert.equal(i * i, r[i]) end
        end
        local s = p:starmap(function(x, y) return x .. y end, { { "a", 1 }, { "b", 2 } })
        assert.same({ "a1", "b2", n = 2 }, s)
        local seen = {}
        for i, v in p:imap(square, { 1, 2, 3 }) do seen[#seen + 1] = { i, v } end
        assert.same({ { 1, 1 }, { 2, 4 }, { 3, 9 } }, seen)
        local sum = 0
        for _, v in p:imap_unordered(square, { 1, 2, 3 }, 2) do sum = sum + v end
        assert.equal(14, sum)
        p:close()
        p:join()
      end)

      it("names workers as Python does and runs the initializer once in each", function()
        local q = mp.Queue()
        local p = ctx.Pool(2, function(queue)
          local P = require("braid.multiprocessing").current_process()
          queue:put(P.name)
        end, { q })
        local names = { q:get(), q:get() }
        table.sort(names)
        local prefix = ({ fork = "ForkPoolWorker", spawn = "SpawnPoolWorker",
                          forkserver = "ForkServerPoolWorker" })[method]
        assert.matches("^" .. prefix .. "%-%d+$", names[1])
        assert.matches("^" .. prefix .. "%-%d+$", names[2])
        assert.not_equal(names[1], names[2])
        assert.equal(3, p:apply(function() return 3 end))
        p:close()
        p:join()
        assert.is_true(q:empty(), "the initializer ran more than once per worker")
      end)

      it("gives a task's error with the worker's traceback", function()
        local p <close> = ctx.Pool(1)
        local err = helpers.raises(errors.ValueError, function()
          p:apply(function() error(require("braid.errors").ValueError("bad value")) end)
        end)
        helpers.message_has(err, "bad value")
        assert.truthy(err.cause and tostring(err.cause):find("stack traceback", 1, true))
        local ok, e2 = pcall(p.map, p, function(x)
          if x == 5 then error("five") end
          return x
        end, { 1, 2, 3, 4, 5, 6 }, 2)
        assert.is_false(ok)
        assert.truthy(tostring(e2):find("five", 1, true))
        assert.equal(7, p:apply(function() return 7 end)) -- still usable
      end)

      it("replaces a worker killed in a task, whose result fails with BrokenProcessPool", function()
        local q = mp.Queue()
        local p = ctx.Pool(2, keep_queue, { q })
        local r = p:apply_async(report_and_block)
        local victim = q:get()
        core.proc_kill(victim, 9)
        local err = helpers.raises(BrokenProcessPool, r.get, r, 30)
        helpers.message_has(err, "died")
        assert.is_false(r:successful())
        -- the pool goes on with a replacement: both workers serve tasks
        local r2 = p:map(function(x)
          return require("braid.core").getpid() + 0 * x
        end, { 1, 2, 3, 4 }, 1)
        for i = 1, 4 do assert.not_equal(victim, r2[i]) end
        p:close()
        p:join()
        assert.is_false(exists(victim))
      end)

      it("replaces a worker killed while it starts (in its initializer), not breaking", function()
        local q, go, out = mp.Queue(), mp.Event(), require("braid.queue").Queue()
        -- a thread kills the first child while its initializer blocks,
        -- then lets the replacement's initializer finish
        local killer = require("braid.threading").Thread {
          target = function(queue, gate, o)
            local first = queue:get(true, 30)
            require("braid.core").proc_kill(first, 9)
            o:put(first)
            o:put(queue:get(true, 30))
            gate:set()
          end,
          args = { q, go, out },
        }
        killer:start()
        local p <close> = ctx.Pool(1, function(queue, gate)
          queue:put(require("braid.core").getpid())
          gate:wait(30)
        end, { q, go })
        killer:join(60)
        assert.is_false(killer:is_alive())
        local first, second = out:get(false), out:get(false)
        assert.not_equal(first, second)
        local pid = p:apply(function() return require("braid.core").getpid() end)
        assert.equal(second, pid)
        assert.is_false(exists(first))
      end)

      it("terminate kills the workers; running and queued tasks fail; nothing is left", function()
        local q = mp.Queue()
        local p = ctx.Pool(2, keep_queue, { q })
        local running = { p:apply_async(report_and_block), p:apply_async(report_and_block) }
        local queued = p:apply_async(square, { 3 })
        local pids = { q:get(), q:get() }
        p:terminate()
        p:join()
        for _, r in ipairs(running) do
          helpers.raises(futures.CancelledError, r.get, r, 5)
        end
        helpers.raises(futures.CancelledError, queued.get, queued, 5)
        for _, pid in ipairs(pids) do assert.is_false(exists(pid), "worker " .. pid .. " left") end
      end)

      it("maxtasksperchild starts fresh workers", function()
        local p <close> = ctx.Pool(1, nil, nil, 2)
        local pids = {}
        for i = 1, 6 do
          pids[i] = p:apply(function() return require("braid.core").getpid() end)
        end
        assert.equal(pids[1], pids[2])
        assert.not_equal(pids[2], pids[3])
        assert.equal(pids[3], pids[4])
        assert.not_equal(pids[4], pids[5])
      end)

      -- issue 10.2: workers that retire after close() are still replaced
      -- while tasks are queued, so join() waits for every task
      it("maxtasksperchild: close() + join() runs every queued task (tasks sleep)", function()
        local p = ctx.Pool(3, nil, nil, 1)
        local rs = {}
        for i = 1, 6 do
          rs[i] = p:apply_async(function(x, t) -- holds its worker busy
            require("braid.threading").Event():wait(t)
            return x * x, require("braid.core").getpid()
          end, { i, 0.3 })
        end
        p:close()
        p:join()
        local pids = {}
        for i = 1, 6 do
          assert.is_true(rs[i]:ready(), "task " .. i .. " not run by join()")
          local v, pid = rs[i]:get(0)
          assert.equal(i * i, v)
          assert.is_nil(pids[pid], "two tasks in one worker")
          pids[pid] = true
        end
      end)

      it("maxtasksperchild: close() + join() runs every queued task, with an initializer", function()
        local go, q = mp.Event(), mp.Queue()
        local p = ctx.Pool(3, function(gate, queue)
          GO, REPORT = gate, queue
          queue:put("init")
        end, { go, q }, 1)
        local rs = {}
        for i = 1, 6 do
          rs[i] = p:apply_async(function(x)
            GO:wait(30) -- every task is pending when close() is called
            return x * x, GO ~= nil and REPORT ~= nil
          end, { i })
        end
        p:close()
        go:set()
        p:join()
        for i = 1, 6 do
          assert.is_true(rs[i]:ready(), "task " .. i .. " not run by join()")
          local v, inited = rs[i]:get(0)
          assert.equal(i * i, v)
          assert.is_true(inited, "task " .. i .. " ran without the initializer")
        end
        -- one worker per task ran the initializer (maxtasksperchild=1)
        local inits = 0
        while true do
          local ok = pcall(q.get, q, false)
          if not ok then break end
          inits = inits + 1
        end
        assert.is_true(inits >= 6, "initializer ran " .. inits .. " times")
      end)
    end)
  end

  it("defaults to cpu_count() processes and checks its arguments", function()
    local p <close> = mp.Pool()
    assert.equal(mp.cpu_count(), p._processes)
    helpers.raises(errors.ValueError, mp.Pool, 0)
    helpers.raises(errors.ValueError, mp.Pool, 1, nil, nil, 0)
    helpers.raises(errors.TypeError, mp.Pool, 1, 42)
    helpers.raises(errors.TypeError, mp.Pool, 1, nil, nil, nil, "fork")
  end)

  it("refuses values another process cannot take, naming the path", function()
    local p <close> = mp.Pool(1)
    local co = coroutine.create(function() end)
    local err = helpers.raises(errors.TypeError, p.apply, p, function(t) return t end,
                               { { inner = co } })
    helpers.message_has(err, "args[1].inner: a coroutine cannot be sent")
    -- an mp.Lock is no longer refused (issue 15): it goes and comes back
    -- by reference (spec/travel_spec.lua)
    local lock = mp.Lock()
    local back = p:apply(function(l) return l end, { lock })
    assert.is_true(back:acquire(false))
    assert.is_false(lock:acquire(false))
    back:release()
    local e2 = helpers.raises(errors.TypeError, p.map, p, function(x) return x end,
                              { 1, io.stdout })
    helpers.message_has(e2, "iterable[2]")
    -- a result that cannot come back fails that task only (Python's
    -- MaybeEncodingError, the TypeError naming the path as its reason)
    local e3 = helpers.raises(mp.MaybeEncodingError, p.apply, p, function()
      return coroutine.create(function() end)
    end)
    helpers.message_has(e3, "result")
    assert.equal(4, p:apply(square, { 2 }))
  end)

  it("breaks when the initializer fails: BrokenProcessPool, never a hang", function()
    -- the workers have started (and failed) when Pool() returns
    local p <close> = mp.Pool(1, function() error("init failed") end)
    helpers.raises(BrokenProcessPool, p.apply_async, p, square, { 2 })
    helpers.raises(BrokenProcessPool, p.map, p, square, { 1, 2 })
  end)

  popen_it("has started its workers when it returns: a later popen is not inherited", function()
    local p <close> = mp.Pool(2)
    local f = io.popen("echo hello")
    assert.equal("hello\n", f:read("a")) -- would block if a worker held the pipe
    f:close()
    assert.equal(4, p:apply(square, { 2 }))
  end)

  popen_it("leaves no child process after close/join, terminate, or collection", function()
    local before = #children()
    do
      local p = mp.Pool(2)
      p:map(square, { 1, 2, 3 })
      p:close()
      p:join()
    end
    do
      local p = mp.Pool(2)
      p:map(square, { 1, 2, 3 })
      p:terminate()
    end
    do
      local p = mp.Pool(2)
      p:map(square, { 1, 2, 3 })
      local b = p._b
      p = nil -- luacheck: ignore 311 (the pool must become garbage)
      collectgarbage()
      collectgarbage()
      b:join()
    end
    assert.equal(before, #children())
  end)
end)


describe("concurrent.futures.ProcessPoolExecutor", function()
  for _, method in ipairs(METHODS) do
    describe("with " .. method, function()
      local ctx = mp.get_context(method)

      it("submits, maps and reports errors from worker processes", function()
        local ex <close> = futures.ProcessPoolExecutor(2, ctx)
        local f = ex:submit(function(a, b) return a * b, require("braid.core").getpid() end, 6, 7)
        local v, pid = f:result()
        assert.equal(42, v)
        assert.not_equal(core.getpid(), pid)
        local got = {}
        for i, sq in ex:map(square, { 1, 2, 3, 4, 5 }, { chunksize = 2 }) do got[i] = sq end
        assert.same({ 1, 4, 9, 16, 25 }, got)
        local bad = ex:submit(function() error("boom") end)
        local ok, err = pcall(bad.result, bad)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("boom", 1, true))
        assert.truthy(bad:exception() ~= nil)
      end)

      it("a worker killed mid-task breaks the executor: every pending future and later submits", function()
        local q = mp.Queue()
        local ex = futures.ProcessPoolExecutor(2, ctx, keep_queue, { q })
        local blocked = { ex:submit(report_and_block), ex:submit(report_and_block) }
        local pids = { q:get(), q:get() }
        local pending = {}
        for i = 1, 5 do pending[i] = ex:submit(square, i) end
        core.proc_kill(pids[1], 9)
        for _, f in ipairs(blocked) do
          helpers.raises(BrokenProcessPool, f.result, f, 30)
        end
        for _, f in ipairs(pending) do
          helpers.raises(BrokenProcessPool, f.result, f, 30)
        end
        helpers.raises(BrokenProcessPool, ex.submit, ex, square, 1)
        ex:shutdown(true)
        for _, pid in ipairs(pids) do assert.is_false(exists(pid), "worker " .. pid .. " left") end
      end)
    end)
  end

  it("checks its arguments as Python does", function()
    helpers.raises(errors.ValueError, futures.ProcessPoolExecutor, 0)
    helpers.raises(errors.TypeError, futures.ProcessPoolExecutor, "2")
    helpers.raises(errors.TypeError, futures.ProcessPoolExecutor, 1, "fork")
    helpers.raises(errors.ValueError, futures.ProcessPoolExecutor,
                   { max_workers = 1, max_tasks_per_child = 0 })
    local err = helpers.raises(errors.ValueError, futures.ProcessPoolExecutor,
                               { max_workers = 1, mp_context = mp.get_context("fork"),
                                 max_tasks_per_child = 2 })
    helpers.message_has(err, "incompatible with the 'fork'")
  end)

  it("max_tasks_per_child replaces workers (spawn by default)", function()
    local ex <close> = futures.ProcessPoolExecutor { max_workers = 1, max_tasks_per_child = 1 }
    local getpid = function() return require("braid.core").getpid() end
    local a = ex:submit(getpid):result()
    local b = ex:submit(getpid):result()
    assert.not_equal(a, b)
    assert.matches("SpawnProcess", ex:submit(function()
      return require("braid.multiprocessing").current_process().name
    end):result())
  end)

  it("max_tasks_per_child: shutdown(true) waits for every pending future", function()
    local ex = futures.ProcessPoolExecutor { max_workers = 3, max_tasks_per_child = 1 }
    local fs = {}
    for i = 1, 6 do
      fs[i] = ex:submit(function(x) -- holds its worker busy
        require("braid.threading").Event():wait(0.3)
        return x * x
      end, i)
    end
    ex:shutdown(true)
    for i = 1, 6 do
      assert.is_true(fs[i]:done(), "future " .. i .. " pending after shutdown(true)")
      assert.equal(i * i, fs[i]:result(0))
    end
  end)

  it("an initializer that fails breaks it: pending futures and later submits", function()
    -- spawn starts workers as work comes: the first future fails
    local ex <close> = futures.ProcessPoolExecutor {
      max_workers = 1, mp_context = mp.get_context("spawn"),
      initializer = function() error("no") end }
    local f = ex:submit(square, 2)
    helpers.raises(BrokenProcessPool, f.result, f, 30)
    helpers.raises(BrokenProcessPool, ex.submit, ex, square, 2)
    -- fork starts them at once: the executor is broken when it returns
    if HAS_FORK then
      local ex2 <close> = futures.ProcessPoolExecutor {
        max_workers = 1, mp_context = mp.get_context("fork"),
        initializer = function() error("no") end }
      helpers.raises(BrokenProcessPool, ex2.submit, ex2, square, 2)
    end
  end)

  it("shutdown(cancel_futures) cancels what has not started; submit after shutdown raises", function()
    local q, go = mp.Queue(), mp.Event()
    local ex = futures.ProcessPoolExecutor(1, nil, function(queue, ev)
      REPORT, GO = queue, ev
    end, { q, go })
    local first = ex:submit(function() REPORT:put(1); GO:wait(); return "done" end)
    q:get() -- the only worker is busy with 'first'
    local later = {}
    for i = 1, 4 do later[i] = ex:submit(square, i) end
    ex:shutdown(false, { cancel_futures = true })
    go:set()
    ex:shutdown(true)
    assert.equal("done", first:result())
    for _, f in ipairs(later) do assert.is_true(f:cancelled()) end
    local err = helpers.raises(errors.RuntimeError, ex.submit, ex, square, 1)
    helpers.message_has(err, "after shutdown")
  end)

  it("as_completed and wait work on its futures", function()
    local ex <close> = futures.ProcessPoolExecutor(2)
    local fs = {}
    for i = 1, 6 do fs[i] = ex:submit(square, i) end
    local sum = 0
    for f in futures.as_completed(fs, 30) do sum = sum + f:result() end
    assert.equal(91, sum)
    local done, not_done = futures.wait(fs, 30)
    local nd, nn = 0, 0
    for _ in pairs(done) do nd = nd + 1 end
    for _ in pairs(not_done) do nn = nn + 1 end
    assert.equal(6, nd)
    assert.equal(0, nn)
  end)
end)

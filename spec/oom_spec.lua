-- Out of memory: every scenario is run once counting braid's allocations
-- (core objects, worker states, and this state's own), then again with
-- the N-th of them failing, for N over all of them or a sample that
-- still fails every distinct allocation site at least once. Each run must
-- end in success or a MemoryError (in this state, or reported by the
-- worker that ran out: excepthook, future, pool result), and a clean run
-- right after must work on the same objects. At the end the live braid
-- objects and the open descriptors are back where they started.
--
-- BRAID_OOM_RUNS (default: every N) bounds the failing runs per scenario
-- (scripts/test.sh samples 100 under ThreadSanitizer);
-- BRAID_OOM_COUNT (default 2) is how many consecutive allocations fail
-- from the N-th on (2: Lua retries a failed allocation once, after an
-- emergency collection, so one failure alone seldom reaches the script).
-- BRAID_OOM_REPORT=1 prints the coverage of each scenario.
local helpers = require "helpers"
local core = require "braid.core"
local errors = require "braid.errors"
local threading = require "braid.threading"
local queue = require "braid.queue"
local futures = require "braid.futures"
local mp = require "braid.multiprocessing"

local T = core._test
local RUNS = tonumber(os.getenv("BRAID_OOM_RUNS")) or math.huge
local COUNT = tonumber(os.getenv("BRAID_OOM_COUNT")) or 2
local REPORT = os.getenv("BRAID_OOM_REPORT") == "1"
local DEBUG = os.getenv("BRAID_OOM_DEBUG") == "1" -- a line per run
local METHODS = os.getenv("BRAID_SPEC_METHODS") or "fork,spawn,forkserver"

local TOTAL = { runs = 0, sites = {} } -- coverage over all scenarios

local function is_memerror(e)
  return errors.is(errors.MemoryError, e) or e == "not enough memory"
end

-- Which N to fail: the first allocation of every distinct site, then an
-- even spread over the rest, RUNS in all (every N when there are fewer).
local function choose(trace)
  local total = #trace
  if total <= RUNS then
    local all = {}
    for n = 1, total do all[n] = n end
    return all
  end
  local picked, list, seen = {}, {}, {}
  for n = 1, total do
    if not seen[trace[n]] then
      seen[trace[n]] = true
      picked[n] = true
    end
  end
  local step = total / RUNS
  for k = 0, RUNS - 1 do picked[math.floor(1 + k * step)] = true end
  for n in pairs(picked) do list[#list + 1] = n end
  table.sort(list)
  return list
end

-- sc.run(st) does the scenario (armed) and returns a result for
-- sc.check(result); sc.clean(st) (disarmed) releases what run left;
-- sc.worker_errors(st) lists the errors workers reported.
local function sweep(name, sc)
  local function once(n)
    local st = {}
    if sc.setup then sc.setup(st) end
    local seen, failed, ok, res = T.fail_pcall(n, COUNT, sc.run, st)
    local cok, cerr = pcall(sc.clean, st)
    assert(cok, ("%s: cleaning up after N=%d failed: %s"):format(name, n, tostring(cerr)))
    return ok, res, seen, failed, st
  end
  -- a first run makes what lives as long as the process (modules,
  -- metatables, the main thread's object...)
  if sc.open then sc.open() end
  local ok, res = once(0)
  assert(ok, res); sc.check(res)
  ok, res = nil, nil
  if sc.close then sc.close() end
  collectgarbage(); collectgarbage()
  local live0, fds0 = T.live(), T.fds()
  -- (in a function of its own: a finished run's objects may stay in the
  -- dead registers of a frame, which the collector still marks)
  local function runs()
  if sc.open then sc.open() end
  T.fail_sites(true)
  local ok, res = once(0)
  assert(ok, res); sc.check(res)
  local trace = T.fail_trace()
  assert.is_true(#trace > 0)
  local list = choose(trace)
  local outcomes = { ok = 0, caller = 0, worker = 0, lost = 0 }
  for _, n in ipairs(list) do
    local res2, failed, st
    ok, res2, _, failed, st = once(n)
    if ok then
      local werrs = sc.worker_errors and sc.worker_errors(st) or {}
      if #werrs > 0 then
        for _, e in ipairs(werrs) do
          assert(is_memerror(e), ("%s: N=%d: a worker reported %s"):format(name, n, tostring(e)))
        end
        outcomes.worker = outcomes.worker + 1
      else
        local cok, cerr = pcall(sc.check, res2)
        assert(cok, ("%s: N=%d (%d failed): wrong result: %s"):format(name, n, failed, tostring(cerr)))
        if cerr == "lost" then
          outcomes.lost = outcomes.lost + 1
        else
          outcomes.ok = outcomes.ok + 1
        end
      end
    else
      assert(is_memerror(res2), ("%s: N=%d: raised %s"):format(name, n, tostring(res2)))
      outcomes.caller = outcomes.caller + 1
    end
    -- the same code works right after
    local ok2, res3 = once(0)
    assert(ok2, ("%s: the run after N=%d failed: %s"):format(name, n, tostring(res3)))
    sc.check(res3)
    if DEBUG then
      local what = ok and "ok" or tostring(res2):match("[^\n]*")
      st, res2, res3 = nil, nil, nil
      collectgarbage(); collectgarbage()
      io.stderr:write(("[oom] %s N=%d (%s): %s, live %d\n"):format(name, n, trace[n],
        what, T.live()))
    end
  end
  if sc.close then sc.close() end -- joins the workers: nothing in flight
  return trace, list, outcomes
  end
  local trace, list, outcomes = runs()
  local sites = T.fail_sites(true)
  collectgarbage(); collectgarbage()
  assert.equal(live0, T.live())
  assert.equal(fds0, T.fds())
  TOTAL.runs = TOTAL.runs + #list
  for _, site in ipairs(sites) do TOTAL.sites[site] = true end
  if REPORT then
    local csites = 0
    for _, s in ipairs(sites) do if not s:match("^lua:") then csites = csites + 1 end end
    io.stderr:write(("\n[oom] %s: %d allocations, %d runs failing N, %d sites (%d in C); " ..
      "%d succeeded, %d MemoryError in the caller, %d in a worker, %d workers without a state\n"):format(
      name, #trace, #list, #sites, csites, outcomes.ok, outcomes.caller, outcomes.worker, outcomes.lost))
  end
  return outcomes
end

-- threads report their uncaught errors through the excepthook, which runs
-- in this state at join
-- (the hook keeps no reference to the run's objects: the runtime may
-- keep the last hook registered)
local function hooked(st)
  local errs = {}
  st.errs = errs
  st.oldhook = threading.excepthook
  threading.excepthook = function(args) errs[#errs + 1] = args.exc_value end
end
local function unhook(st)
  if st.oldhook then threading.excepthook = st.oldhook; st.oldhook = nil end
end

local function sum(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v.x end
  return s
end
local DATA = {}
for i = 1, 20 do DATA[i] = { x = i, name = "item" .. i } end

describe("out of memory", function()
  it("fail_alloc checks its arguments and counts allocations", function()
    local ok, err = pcall(T.fail_alloc, -1)
    assert.is_false(ok)
    assert.is_true(errors.is(errors.ValueError, err))
    T.fail_alloc(0)
    local q = queue.Queue()
    q:put({ 1, 2, 3 })
    local seen, failed = T.fail_stop()
    assert.is_true(seen > 0)
    assert.equal(0, failed)
    -- the first allocation fails, and put raises MemoryError
    seen, failed, ok, err = T.fail_pcall(1, 1, q.put, q, { 4, 5, 6 })
    assert.is_false(ok)
    assert.is_true(errors.is(errors.MemoryError, err))
    assert.equal(1, failed)
    assert.same({ 1, 2, 3 }, q:get(false))
    assert.is_true(q:empty())
  end)

  it("thread start with args", function()
    sweep("thread start", {
      setup = function(st) hooked(st); st.q = queue.Queue() end,
      run = function(st)
        st.t = threading.Thread{ target = function(q, data, k)
          local s = 0
          for _, v in ipairs(data) do s = s + v.x end
          q:put(s + k)
        end, args = { st.q, DATA, 1 } }
        st.t:start()
        st.t:join(30)
        return st
      end,
      clean = function(st)
        if st.t and st.t:is_alive() then st.t:join(30) end
        assert(not (st.t and st.t:is_alive()), "thread still running")
        unhook(st)
      end,
      worker_errors = function(st) return st.errs end,
      check = function(st)
        -- (a worker that failed reported it: worker_errors; a state it
        -- could not even make is reported from a fresh one, which more
        -- than two failures in a row may deny too: then only stderr
        -- hears of it)
        if st.q:empty() and COUNT > 2 then return "lost" end
        assert(not st.q:empty(), "no result, and no error reported")
        assert.equal(sum(DATA) + 1, st.q:get(false))
      end,
    })
  end)

  it("queue put/get of tables", function()
    local q
    sweep("queue put/get", {
      open = function() q = queue.Queue() end,
      close = function() q = nil end,
      run = function()
        q:put(DATA)
        q:put({ a = { b = { c = "deep" } }, [1] = DATA[1] })
        local a = q:get(false)
        local b = q:get(false)
        return { a, b }
      end,
      clean = function()
        while not q:empty() do q:get(false) end -- a put that worked
      end,
      check = function(r)
        assert.equal(sum(DATA), sum(r[1]))
        assert.equal("deep", r[2].a.b.c)
        assert.equal(1, r[2][1].x)
      end,
    })
  end)

  it("future results", function()
    local ex
    sweep("future results", {
      open = function()
        ex = futures.ThreadPoolExecutor(2)
        ex:submit(function() end):result(30) -- workers started
      end,
      close = function() ex:shutdown(true); ex = nil end,
      run = function(st)
        st.fs = {}
        for i = 1, 4 do
          st.fs[i] = ex:submit(function(data, k)
            local out = {}
            for j, v in ipairs(data) do out[j] = { x = v.x * k } end
            return out
          end, DATA, i)
        end
        local r = {}
        for i = 1, 4 do r[i] = st.fs[i]:result(30) end
        return r
      end,
      clean = function(st)
        -- every future submitted ends (with a result or an exception)
        for i, f in ipairs(st.fs or {}) do
          local t0 = helpers.now()
          pcall(f.result, f, 30)
          assert(f:done(), ("future %d never finished"):format(i))
          assert(helpers.now() - t0 < 25, "a future took too long")
        end
      end,
      check = function(r)
        for i = 1, 4 do assert.equal(sum(DATA) * i, sum(r[i])) end
      end,
    })
  end)

  it("pool map", function()
    local pool
    sweep("pool map", {
      open = function() pool = mp.pool.ThreadPool(2) end,
      close = function() pool:close(); pool:join(); pool = nil end,
      run = function()
        -- (map's own job, with a bound on the wait: a lost chunk fails
        -- the test with TimeoutError instead of hanging it)
        return pool:map_async(function(v) return { x = v.x * 2, s = v.name } end, DATA, 3):get(30)
      end,
      clean = function() end,
      check = function(r)
        assert.equal(#DATA, r.n)
        assert.equal(sum(DATA) * 2, sum(r))
      end,
    })
  end)

  it("transfer of a 100-level table", function()
    local deep = { v = 0 }
    local t = deep
    for i = 1, 99 do t.next = { v = i, pad = { i } }; t = t.next end
    local q
    sweep("100-level table", {
      open = function() q = queue.Queue() end,
      close = function() q = nil end,
      run = function()
        local s = core.dumps(deep)
        local back = core.loads(s)
        q:put(back)
        return q:get(false)
      end,
      clean = function()
        while not q:empty() do q:get(false) end
      end,
      check = function(r)
        local n, x = 0, r
        while x.next do n = n + 1; x = x.next end
        assert.equal(99, n)
        assert.equal(99, x.v)
      end,
    })
  end)

  if REPORT then
    it("(coverage report)", function()
      local all, c = {}, 0
      for site in pairs(TOTAL.sites) do all[#all + 1] = site end
      table.sort(all)
      for _, site in ipairs(all) do if not site:match("^lua:") then c = c + 1 end end
      io.stderr:write(("\n[oom] before processes: %d runs failing N, %d distinct sites (%d in C):\n  %s\n"):format(
        TOTAL.runs, #all, c, table.concat(all, "\n  ")))
    end)
  end

  for method in METHODS:gmatch("[^,]+") do
    if method ~= "forkserver" then
      it("process start (" .. method .. ")", function()
        local ctx = mp.get_context(method)
        sweep("process start " .. method, {
          setup = function(st) st.r, st.w = mp.Pipe(false) end,
          run = function(st)
            st.p = ctx.Process{ target = function(conn, data)
              local s = 0
              for _, v in ipairs(data) do s = s + v.x end
              conn:send(s)
            end, args = { st.w, DATA } }
            st.p:start()
            assert(st.r:poll(30), "no result from the child within 30 s")
            st.got = st.r:recv()
            st.p:join(30)
            st.code = st.p.exitcode
            return st
          end,
          clean = function(st)
            if st.p and st.p.pid then
              if st.p:is_alive() then st.p:join(30) end
              assert(not st.p:is_alive(), "child still running")
              st.p:close()
            end
            st.r:close(); st.w:close()
          end,
          check = function(st)
            assert.equal(sum(DATA), st.got)
            assert.equal(0, st.code)
          end,
        })
      end)
    end
  end
end)

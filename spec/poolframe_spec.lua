-- A process pool's child that breaks the framing (src/core/poolframe.c,
-- read by lprocpool.c's proxy): a reply whose header is cut short, whose
-- length lies, with a descriptor the header does not count (or counting
-- one that does not come), a stream entry without its memfd or with a
-- pipe for it; then the child exits, or lives on and says nothing more.
-- The caller gets a visible failure (the task's exception, never a hang
-- nor a half-made value), the pool replaces the worker and keeps
-- working, and the parent holds no descriptor it was sent. An executor
-- breaks (BrokenProcessPool). The misbehaviour is a test hook of the
-- child (core._test.pool_misreply, called by the task); the proxy gives a
-- child that stalls mid-frame core._test.pool_stall seconds (set short
-- here). On every start method.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local futures = require "braid.futures"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)

-- Tasks (run in the children: self-contained).

-- The reply to this task breaks the rules as 'mode' says.
local function misbehave(mode, exit)
  require("braid.core")._test.pool_misreply(mode, exit)
  return "a value nobody may see"
end

local function pid() return require("braid.core").getpid() end

local MODES = { "truncated", "length", "extrafd", "fewerfd", "nostream", "badstream" }

describe("process-pool framing, a child that breaks it", function()
  local stall0
  setup(function() stall0 = core._test.pool_stall(0.5) end)
  teardown(function() core._test.pool_stall(stall0) end)

  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      for _, mode in ipairs(MODES) do
        it("fails the task, replaces the worker, leaks nothing: " .. mode, function()
          local p <close> = ctx.Pool(1)
          local first = p:apply(pid)
          -- earlier pools' descriptors go when they are collected
          collectgarbage(); collectgarbage()
          local fds0 = core._test.fd_count()
          local streams0 = helpers.memfd_count("braid-stream")
          local last = first
          for _, exit in ipairs({ true, false }) do
            local ar = p:apply_async(misbehave, { mode, exit })
            local err = helpers.raises(errors.Exception, ar.get, ar, T)
            helpers.message_has(err, "died")
            assert.is_false(ar:successful())
            -- replaced: the next task runs in a new child
            local now = p:apply(pid)
            assert.are_not.equal(last, now)
            last = now
            assert.equal(6, p:apply(function(a, b) return a * b end, { 2, 3 }))
          end
          -- what the children sent with their replies was closed
          collectgarbage(); collectgarbage()
          assert.equal(fds0, core._test.fd_count())
          assert.equal(streams0, helpers.memfd_count("braid-stream"))
        end)
      end

      it("terminate() ends a proxy waiting for the rest of a frame", function()
        local p <close> = ctx.Pool(1)
        p:apply(pid)
        local was = core._test.pool_stall(120) -- no stall bound in play
        local ok, err = pcall(function()
          local ar = p:apply_async(misbehave, { "length", false })
          -- the reply never completes: the task stays pending
          ar:wait(0.5)
          assert.is_false(ar:ready())
          local t0 = os.time()
          p:terminate()
          p:join()
          assert.is_true(os.time() - t0 < 30)
          helpers.raises(errors.Exception, ar.get, ar, T)
        end)
        core._test.pool_stall(was)
        assert(ok, err)
      end)

      it("breaks an executor (BrokenProcessPool)", function()
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        ex:submit(pid):result(T)
        collectgarbage(); collectgarbage()
        local fds0 = core._test.fd_count()
        local fut = ex:submit(misbehave, "extrafd", false)
        local err = helpers.raises(futures.BrokenProcessPool, fut.result, fut, T)
        helpers.message_has(err, "terminated abruptly")
        helpers.raises(futures.BrokenProcessPool, ex.submit, ex, pid)
        assert.is_true(fds0 >= core._test.fd_count())
      end)
    end)
  end
end)

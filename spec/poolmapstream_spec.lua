-- luacheck: globals CALLS (set in the workers)
-- The last process-pool channels streamed (issue 16, item 4): calls of
-- several arguments (lprocpool.c braidB_procpool_submit_streamed with n
-- values), maps of several big items, a chunk at a time
-- (braidB_procpool_map_chunk_streamed), and result chunks of several
-- items streamed back. On every start method: values arrive whole with the
-- references they share within one call or one chunk; the stream-count
-- probe (core._pstream_counts, here and in the child) proves each went
-- streamed; a value found unsendable late raises the TypeError with its
-- path in the caller (as the unstreamed path words it) and the child runs
-- nothing of it; a child killed mid-stream fails visibly, is replaced, and
-- no memfd is left in the parent.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local futures = require "braid.futures"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)
local N = 30000 -- past the default threshold (128 KiB) by far

local shell_it = helpers.HOST == "none" and pending or it

local function records(n, tag)
  local t = {}
  for i = 1, n do t[i] = { id = i, name = (tag or "item") .. i, vals = { i, 2 * i } } end
  local s = { x = 1 }
  t[1].s = s; t[n].s = s
  return t
end

-- Tasks (run in the children: self-contained).

-- Counts its calls in the child; describes its arguments: a, #b, c,
-- whether b and d are the same table, b's last name.
local function describe_args(a, b, c, d)
  CALLS = (CALLS or 0) + 1
  return a, #b, c, rawequal(b, d), b[#b].name, b[1].s == b[#b].s
end
local function calls() return CALLS or 0 end
local function child_reads()
  return select(2, require("braid.core")._pstream_counts())
end
local function getpid() return require("braid.core").getpid() end

-- Waits (bounded) until child 'pid' holds a stream's memfd, then kills
-- it: a __braidreduce met by the caller's encoder far past the threshold,
-- so the child is reading the stream when it dies.
local function killer(pid)
  return setmetatable({}, { __braidreduce = function()
    local deadline = helpers.now() + T
    while helpers.memfd_count("braid-stream", pid) == 0 do
      assert(helpers.now() < deadline, "the child never got the stream")
      require("braid.threading").Event():wait(0.002)
    end
    require("braid.os").kill(pid, require("braid.os").SIGKILL)
    return tonumber, "7"
  end })
end

describe("process-pool calls of several arguments streamed", function()
  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("arrive whole, sharing references between arguments, through apply, apply_async and an executor's submit", function()
        local p <close> = ctx.Pool(1)
        local t = records(N)
        local w0 = core._pstream_counts()
        local r0 = p:apply(child_reads)
        -- several small arguments go whole, as before
        assert.same({ 1, 3, "c", false, "item3", true },
                    { p:apply(describe_args, { 1, records(3), "c" }) })
        assert.equal(w0, (core._pstream_counts()))
        -- the big one second, the same table again fourth: one message
        assert.same({ 1, N, "c", true, "item" .. N, true },
                    { p:apply(describe_args, { 1, t, "c", t }) })
        assert.same({ 2, N, "d", true, "item" .. N, true },
                    { p:apply_async(describe_args, { 2, t, "d", t }):get(T) })
        assert.equal(w0 + 2, (core._pstream_counts()))
        assert.equal(r0 + 2, p:apply(child_reads))
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        assert.same({ 3, N, false, false, "item" .. N, true },
                    { ex:submit(describe_args, 3, t, false, {}):result(T) })
        assert.equal(w0 + 3, (core._pstream_counts()))
      end)

      shell_it("raise the TypeError with its path for a value found unsendable late; the child runs nothing", function()
        local p <close> = ctx.Pool(1)
        local t = records(N)
        t[N - 10].co = coroutine.create(print) -- far past the threshold
        local w0 = core._pstream_counts()
        local err = helpers.raises(errors.TypeError, p.apply, p, describe_args, { 1, t, 3 })
        helpers.message_has(err, "args[" .. (N - 10) .. "].co")
        err = helpers.raises(errors.TypeError, p.apply_async, p, describe_args, { 1, t })
        helpers.message_has(err, "args[" .. (N - 10) .. "].co")
        assert.equal(w0 + 2, (core._pstream_counts()))
        assert.equal(0, p:apply(calls))
        t[N - 10].co = nil
        assert.equal(N, select(2, p:apply(describe_args, { 1, t, 3 })))
        assert.equal(1, p:apply(calls))
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        t[N - 10].co = coroutine.create(print)
        err = helpers.raises(errors.TypeError, ex.submit, ex, describe_args, 1, t)
        helpers.message_has(err, "args[" .. (N - 10) .. "].co")
        assert.equal(0, ex:submit(calls):result(T))
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)

      shell_it("fail the call of a child killed while it reads the arguments; the pool replaces it", function()
        local p <close> = ctx.Pool(1)
        local pid = p:apply(getpid)
        local t = records(N)
        t[N - 10].k = killer(pid)
        local ar = p:apply_async(describe_args, { 1, t, 3 })
        local err = helpers.raises(errors.Exception, ar.get, ar, T)
        helpers.message_has(err, "died")
        assert.is_false(ar:successful())
        t[N - 10].k = nil
        assert.equal(N, select(2, p:apply(describe_args, { 1, t, 3 })))
        assert.are_not.equal(pid, p:apply(getpid))
        ar = nil -- luacheck: ignore
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)
    end)
  end
end)

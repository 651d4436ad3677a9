-- luacheck: globals CALLS (set in the workers)
-- Process-pool call arguments streamed (issue 16, item 4; lprocpool.c's
-- braidB_procpool_submit_streamed): a submit/apply whose one argument is
-- a big table submits the call at the streaming threshold with the
-- stream's memfd, and the child decodes the argument while the caller
-- still encodes it. On every start method: the argument arrives whole
-- with its shared references; small arguments do not stream; a value
-- found unsendable late raises the TypeError with its path in the caller
-- (as the unstreamed path does), the child runs nothing of that call, the
-- pool goes on and no memfd is left in the parent.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local futures = require "braid.futures"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)
local N = 30000 -- past the default threshold (128 KiB) by far

local shell_it = helpers.HOST == "none" and pending or it

local function records(n)
  local t = {}
  for i = 1, n do t[i] = { id = i, name = "item" .. i, vals = { i, 2 * i } } end
  local s = { x = 1 }
  t[1].s = s; t[n].s = s
  return t
end

-- Tasks (run in the children: self-contained).

-- Counts its calls in the child, and describes its argument.
local function count_and_check(t)
  CALLS = (CALLS or 0) + 1
  return #t, t[#t].name, t[1].s == t[#t].s, t[#t].vals[2]
end
local function calls() return CALLS or 0 end
-- A map's results as a plain list (they carry 'n').
local function items(r) return { table.unpack(r, 1, r.n or #r) } end
local function child_reads()
  return select(2, require("braid.core")._pstream_counts())
end

describe("process-pool call arguments streamed", function()
  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("arrive whole through apply, apply_async and an executor's submit; small ones do not stream", function()
        local p <close> = ctx.Pool(1)
        local t = records(N)
        local w0 = core._pstream_counts()
        local r0 = p:apply(child_reads)
        -- small arguments (and several arguments) go whole, as before
        assert.equal(3, (p:apply(count_and_check, { records(3) })))
        assert.equal(w0, (core._pstream_counts()))
        local n, last, shared, v = p:apply(count_and_check, { t })
        assert.equal(N, n); assert.equal("item" .. N, last)
        assert.is_true(shared); assert.equal(2 * N, v)
        assert.equal(N, (p:apply_async(count_and_check, { t }):get(T)))
        -- two streams written here, read in the child
        assert.equal(w0 + 2, (core._pstream_counts()))
        assert.equal(r0 + 2, p:apply(child_reads))
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        local r = { ex:submit(count_and_check, t):result(T) }
        assert.same({ N, "item" .. N, true, 2 * N }, r)
        assert.equal(w0 + 3, (core._pstream_counts()))
      end)

      shell_it("raise the TypeError with its path for a value found unsendable late; the child runs nothing", function()
        local p <close> = ctx.Pool(1)
        local t = records(N)
        t[N - 10].co = coroutine.create(print) -- far past the threshold
        local w0 = core._pstream_counts()
        local err = helpers.raises(errors.TypeError, p.apply, p, count_and_check, { t })
        helpers.message_has(err, "args[1][" .. (N - 10) .. "].co")
        err = helpers.raises(errors.TypeError, p.apply_async, p, count_and_check, { t })
        helpers.message_has(err, "args[1][" .. (N - 10) .. "].co")
        -- the streams had started: the call went to the child before the
        -- coroutine was met, and the child ran none of it
        assert.equal(w0 + 2, (core._pstream_counts()))
        assert.equal(0, p:apply(calls))
        -- the pool goes on
        t[N - 10].co = nil
        assert.equal(N, (p:apply(count_and_check, { t })))
        assert.equal(1, p:apply(calls))
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        t[N - 10].co = coroutine.create(print)
        err = helpers.raises(errors.TypeError, ex.submit, ex, count_and_check, t)
        helpers.message_has(err, "args[1][" .. (N - 10) .. "].co")
        assert.equal(0, ex:submit(calls):result(T))
        t[N - 10].co = nil
        assert.equal(N, (ex:submit(count_and_check, t):result(T)))
        -- nothing of the streams is left in this process
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)

      shell_it("fail the call of a child killed while it reads the argument; the caller is not held, the pool goes on", function()
        local p <close> = ctx.Pool(1)
        local pid = p:apply(function() return require("braid.core").getpid() end)
        local t = records(N)
        -- met by the caller's encoder far past the threshold: the call is
        -- with the child (its memfd arrived there) and the child is killed
        -- while it waits for the rest of the stream
        t[N - 10].k = setmetatable({}, { __braidreduce = function()
          local deadline = helpers.now() + T
          while helpers.memfd_count("braid-stream", pid) == 0 do
            assert(helpers.now() < deadline, "the child never got the stream")
            require("braid.threading").Event():wait(0.002)
          end
          require("braid.os").kill(pid, require("braid.os").SIGKILL)
          return tonumber, "7"
        end })
        local ar = p:apply_async(count_and_check, { t })
        local err = helpers.raises(errors.Exception, ar.get, ar, T)
        helpers.message_has(err, "died")
        assert.is_false(ar:successful())
        -- replaced; the same argument goes whole to the new child
        t[N - 10].k = nil
        assert.equal(N, (p:apply(count_and_check, { t })))
        assert.are_not.equal(pid, p:apply(function() return require("braid.core").getpid() end))
        ar = nil -- luacheck: ignore
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)

      -- A map of one big item: its one chunk streams the same way
      -- (lprocpool.c braidB_procpool_map_streamed).
      it("a map's one big item arrives whole through map, starmap, imap, map_async and Executor.map; small maps do not stream", function()
        local p <close> = ctx.Pool(1)
        local t = records(N)
        local w0 = core._pstream_counts()
        local r0 = p:apply(child_reads)
        -- small maps, and maps of several items, go whole as before
        assert.same({ 3 }, items(p:map(function(x) return #x end, { records(3) })))
        assert.same({ 3, 3 }, items(p:map(function(x) return #x end, { records(3), records(3) }, 1)))
        -- likely big (its length) but under the threshold: encoded again
        -- as the job's batch, not streamed
        local mid = {}
        for i = 1, 3000 do mid[i] = i end
        assert.same({ 3000 }, items(p:map(function(x) return #x + 0 * x[3000] end, { mid })))
        assert.equal(w0, (core._pstream_counts()))
        local function whole(x) return (count_and_check(x)) == N and x[1].s == x[N].s and x[N].vals[2] == 2 * N end
        assert.same({ true }, items(p:map(whole, { t })))
        assert.same({ true }, items(p:starmap(function(x, y) return whole(x) and y == 5 end, { { t, 5 } })))
        local got = {}
        for _, v in p:imap(whole, { t }) do got[#got + 1] = v end
        assert.same({ true }, got)
        assert.same({ true }, items(p:map_async(whole, { t }):get(T)))
        -- four streams written here, each read in the child
        assert.equal(w0 + 4, (core._pstream_counts()))
        assert.equal(r0 + 4, p:apply(child_reads))
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        got = {}
        for _, v in ex:map(whole, { t }, { timeout = T }) do got[#got + 1] = v end
        assert.same({ true }, got)
        assert.equal(w0 + 5, (core._pstream_counts()))
      end)

      shell_it("a map's big item found unsendable late raises the TypeError with its path; the child runs nothing", function()
        local p <close> = ctx.Pool(1)
        local t = records(N)
        t[N - 10].co = coroutine.create(print) -- far past the threshold
        local w0 = core._pstream_counts()
        local err = helpers.raises(errors.TypeError, p.map, p, count_and_check, { t })
        helpers.message_has(err, "iterable[1][" .. (N - 10) .. "].co")
        err = helpers.raises(errors.TypeError, p.starmap, p, count_and_check, { { t } })
        helpers.message_has(err, "iterable[1][1][" .. (N - 10) .. "].co")
        err = helpers.raises(errors.TypeError, p.map_async, p, count_and_check, { t })
        helpers.message_has(err, "iterable[1][" .. (N - 10) .. "].co")
        -- the streams had started (the chunk was published before the
        -- coroutine was met), and the child ran none of them
        assert.equal(w0 + 3, (core._pstream_counts()))
        assert.equal(0, p:apply(calls))
        -- the pool goes on
        t[N - 10].co = nil
        assert.same({ N }, items(p:map(function(x) return (count_and_check(x)) end, { t })))
        assert.equal(1, p:apply(calls))
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)

      shell_it("a map whose child is killed while it reads the streamed item fails; the pool replaces the child", function()
        local p <close> = ctx.Pool(1)
        local pid = p:apply(function() return require("braid.core").getpid() end)
        local t = records(N)
        t[N - 10].k = setmetatable({}, { __braidreduce = function()
          local deadline = helpers.now() + T
          while helpers.memfd_count("braid-stream", pid) == 0 do
            assert(helpers.now() < deadline, "the child never got the stream")
            require("braid.threading").Event():wait(0.002)
          end
          require("braid.os").kill(pid, require("braid.os").SIGKILL)
          return tonumber, "7"
        end })
        local ar = p:map_async(count_and_check, { t })
        local err = helpers.raises(errors.Exception, ar.get, ar, T)
        helpers.message_has(err, "died")
        assert.is_false(ar:successful())
        t[N - 10].k = nil
        assert.same({ N }, items(p:map(function(x) return (count_and_check(x)) end, { t })))
        assert.are_not.equal(pid, p:apply(function() return require("braid.core").getpid() end))
        ar = nil -- luacheck: ignore
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)
    end)
  end
end)

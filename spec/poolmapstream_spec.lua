-- luacheck: globals CALLS PREV RAN (set in the workers)
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


-- Runs in the children: whether its argument is the table the previous
-- call of it in this child got (identity within one chunk's items).
local function same_as_before(t)
  local same = rawequal(PREV, t)
  PREV = t
  return same
end
-- Records the tag of each item it runs (the child's RAN), and describes it.
local function tagged(t)
  RAN = RAN or {}
  RAN[#RAN + 1] = t.tag
  return #t, t[#t].name, t[1].s == t[#t].s
end
local function ran() return table.concat(RAN or {}, ",") end
-- A map's results as a plain list (they carry 'n').
local function items(r) return { table.unpack(r, 1, r.n or #r) } end

local function big_items(tags)
  local out = {}
  for i, tag in ipairs(tags) do
    out[i] = records(N, tag)
    out[i].tag = tag
  end
  return out
end

describe("process-pool maps of several big items streamed, a chunk at a time", function()
  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("arrive whole through map, starmap, imap, map_async and Executor.map; small maps do not stream", function()
        local p <close> = ctx.Pool(2)
        local items4 = big_items({ "a", "b", "c", "d" })
        local want = {}
        for i, tag in ipairs({ "a", "b", "c", "d" }) do want[i] = tag .. N end
        local function last_name(t) return t[#t].name end
        local w0 = core._pstream_counts()
        -- small items, and items long but small all told, go as batches
        assert.same({ 3, 3, 3, 3 }, items(p:map(function(x) return #x end, { records(3), records(3), records(3), records(3) })))
        local mid = {}
        for i = 1, 3000 do mid[i] = i end
        assert.same({ 3000, 3000, 3000 }, items(p:map(function(x) return #x + 0 * x[3000] end, { mid, mid, mid }, 3)))
        assert.equal(w0, (core._pstream_counts()))
        -- one stream per chunk: 4 chunks of one, then 2 chunks of two
        assert.same(want, items(p:map(last_name, items4, 1)))
        assert.equal(w0 + 4, (core._pstream_counts()))
        assert.same(want, items(p:map(last_name, items4, 2)))
        assert.equal(w0 + 6, (core._pstream_counts()))
        local star = {}
        for i, t in ipairs(items4) do star[i] = { t, i } end
        assert.same({ "a" .. N .. 1, "b" .. N .. 2, "c" .. N .. 3, "d" .. N .. 4 },
                    items(p:starmap(function(t, i) return t[#t].name .. i end, star, 2)))
        local got = {}
        for _, v in p:imap(last_name, items4, 1) do got[#got + 1] = v end
        assert.same(want, got)
        assert.same(want, items(p:map_async(last_name, items4, 3):get(T)))
        assert.equal(w0 + 6 + 2 + 4 + 2, (core._pstream_counts()))
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 2, mp_context = ctx }
        got = {}
        for _, v in ex:map(last_name, items4, { timeout = T, chunksize = 2 }) do got[#got + 1] = v end
        assert.same(want, got)
        assert.equal(w0 + 16, (core._pstream_counts()))
      end)

      it("keep identity within a chunk (one encoding), not across chunks", function()
        local p <close> = ctx.Pool(1)
        local s = records(N)
        local w0 = core._pstream_counts()
        local r0 = p:apply(child_reads)
        -- chunks of two: the second item of a chunk is the first's table
        assert.same({ false, true, false, true }, items(p:map(same_as_before, { s, s, s, s }, 2)))
        assert.same({ true, false, true },
                    items(p:starmap(function(a, b) return rawequal(a, b) end, { { s, s }, { s, {} }, { s, s } }, 3)))
        assert.equal(w0 + 3, (core._pstream_counts()))
        assert.equal(r0 + 3, p:apply(child_reads))
      end)

      shell_it("raise the TypeError with its path for an item found unsendable late; its chunk never runs", function()
        local p <close> = ctx.Pool(1)
        local items4 = big_items({ "a", "b", "c", "d" })
        items4[3][N - 10].co = coroutine.create(print) -- far past the threshold
        local w0 = core._pstream_counts()
        local err = helpers.raises(errors.TypeError, p.map, p, tagged, items4, 1)
        helpers.message_has(err, "iterable[3][" .. (N - 10) .. "].co")
        -- chunks of two: the bad item is in the second chunk's stream
        err = helpers.raises(errors.TypeError, p.map_async, p, tagged, items4, 2)
        helpers.message_has(err, "iterable[3][" .. (N - 10) .. "].co")
        local star = {}
        for i, t in ipairs(items4) do star[i] = { t } end
        err = helpers.raises(errors.TypeError, p.starmap, p, tagged, star, 2)
        helpers.message_has(err, "iterable[3][1][" .. (N - 10) .. "].co")
        -- the third chunk's stream (1 + 1 + 1 past the threshold) had
        -- started; the child ran nothing of the bad item's chunk, and
        -- what it took before was dropped with the job
        assert.equal(w0 + 3 + 2 + 2, (core._pstream_counts()))
        assert.is_nil(p:apply(ran):find("c"))
        assert.is_nil(p:apply(ran):find("d"))
        -- the pool goes on
        items4[3][N - 10].co = nil
        assert.same({ N, N, N, N }, items(p:map(tagged, items4, 2)))
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)

      shell_it("fail the map of a child killed while it reads a chunk; the pool replaces it", function()
        local p <close> = ctx.Pool(1)
        local pid = p:apply(getpid)
        local items4 = big_items({ "a", "b", "c", "d" })
        items4[2][N - 10].k = killer(pid)
        local ar = p:map_async(tagged, items4, 2)
        local err = helpers.raises(errors.Exception, ar.get, ar, T)
        helpers.message_has(err, "died")
        assert.is_false(ar:successful())
        items4[2][N - 10].k = nil
        assert.same({ N, N, N, N }, items(p:map(tagged, items4, 2)))
        assert.are_not.equal(pid, p:apply(getpid))
        ar = nil -- luacheck: ignore
        collectgarbage(); collectgarbage()
        assert.equal(0, helpers.memfd_count("braid-stream"))
      end)
    end)
  end
end)


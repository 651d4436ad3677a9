-- luacheck: globals CALLS PREV RAN REPORT GO SHARED (set in the workers)
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
        helpers.message_has(err, "args[2][" .. (N - 10) .. "].co")
        err = helpers.raises(errors.TypeError, p.apply_async, p, describe_args, { 1, t })
        helpers.message_has(err, "args[2][" .. (N - 10) .. "].co")
        assert.equal(w0 + 2, (core._pstream_counts()))
        assert.equal(0, p:apply(calls))
        t[N - 10].co = nil
        assert.equal(N, select(2, p:apply(describe_args, { 1, t, 3 })))
        assert.equal(1, p:apply(calls))
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        t[N - 10].co = coroutine.create(print)
        err = helpers.raises(errors.TypeError, ex.submit, ex, describe_args, 1, t)
        helpers.message_has(err, "args[2][" .. (N - 10) .. "].co")
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


-- Result chunks of several items streamed back (lworker.c chunk_protected:
-- the table of a chunk's results streams when one of them is likely big).

local function keep_queues(q, g) REPORT, GO = q, g end
local function child_counts() return require("braid.core")._pstream_counts() end

-- Task i of a chunk: a big table (4000 records, the child's threshold
-- lowered so that the stream starts early), every task's sharing one
-- table (.sh); task 2's encoding waits half-way for GO ("mid" first),
-- and with 'fail' meets a coroutine after it (the result fails late).
local function chunk_task(i, fail)
  local c = require "braid.core"
  c._stream_min(4096, 4096)
  SHARED = SHARED or {}
  local t = { sh = SHARED }
  for k = 1, 4000 do t[k] = { id = k, name = "r" .. i .. "." .. k } end
  if i == 2 then
    t[2000].p = setmetatable({}, { __braidreduce = function()
      REPORT:put("mid")
      assert(GO:get(true, 60) == "go")
      return tonumber, "7"
    end })
    if fail then t[3000].x = { co = coroutine.create(print) } end
  end
  return t
end
local function chunk_task_fail(i) return chunk_task(i, true) end

-- Task 2 of a chunk stops half-way through its result's stream until the
-- child is killed: it reports its pid first.
local function chunk_task_block(i)
  local c = require "braid.core"
  c._stream_min(4096, 4096)
  local t = {}
  for k = 1, 4000 do t[k] = { id = k } end
  if i == 2 then
    t[1500].p = setmetatable({}, { __braidreduce = function()
      REPORT:put(c.getpid())
      require("braid.threading").Event():wait(60) -- killed meanwhile
      return tonumber, "7"
    end })
  end
  return t
end

-- Bounded wait until cond() holds (the other side is another process).
local function wait_until(cond, what)
  local ev = require("braid.threading").Event()
  local deadline = helpers.now() + T
  while not cond() do
    assert(helpers.now() < deadline, "timed out waiting for " .. what)
    ev:wait(0.002)
  end
end

describe("process-pool result chunks of several items streamed", function()
  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("let the readers in order decode a chunk's results while the child encodes them", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        local w0 = p:apply(child_counts)
        -- the job's readers in order: results() (map, map_async), chunk(k)
        -- (imap), iter() (an executor's map); each gives the chunk's two
        -- results: their lengths, task 2's value met half-way, and
        -- whether they share the one table they shared in the child
        local readers = {
          function(job) local r = job:results(); return #r[1], #r[2], r[2][2000].p, r[1].sh == r[2].sh, r.n end,
          function(job) local ok, v = job:chunk(1, 60); assert(ok); return #v[1], #v[2], v[2][2000].p, v[1].sh == v[2].sh, v.n end,
          function(job)
            local f = job:iter(); local _, a = f(); local _, b = f()
            return #a, #b, b[2000].p, a.sh == b.sh, 2
          end,
        }
        for i, read in ipairs(readers) do
          local _, r0 = core._pstream_counts()
          local mr = p:map_async(chunk_task, { 1, 2 }, 2)
          assert.equal("mid", q:get(true, T))
          local out = require("braid.queue").SimpleQueue()
          local th = require("braid.threading").Thread{
            target = function(rd, job, o) o:put({ rd(job) }) end,
            args = { read, mr._job, out },
          }
          th:start()
          -- the reader is on the stream while the child encodes: the
          -- chunk is not done
          wait_until(function() return select(2, core._pstream_counts()) > r0 end,
                     "the reader's start on the stream")
          assert.is_false(mr:ready())
          g:put("go")
          th:join(T)
          assert.same({ 4000, 4000, 7, true, 2 }, out:get(true, T))
          assert.is_true(mr:successful())
          assert.equal("r2.4000", mr:get(T)[2][4000].name)
          -- one stream per chunk, written by the child
          assert.equal(w0 + i, p:apply(child_counts))
        end
      end)

      it("let imap_unordered and an executor's unordered map decode a chunk while the child encodes it", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        local w0 = p:apply(child_counts)
        -- next_done, in the order chunks became readable (imap_unordered,
        -- an executor's unordered map): of two chunks of one, the second
        -- (task 2, which waits half-way); of one chunk of two, its results
        for _, cs in ipairs({ 1, 2 }) do
          local _, r0 = core._pstream_counts()
          local mr = p:map_async(chunk_task, { 1, 2 }, cs)
          assert.equal("mid", q:get(true, T))
          local out = require("braid.queue").SimpleQueue()
          local th = require("braid.threading").Thread{
            target = function(job, o)
              local k, ok, v = job:next_done(cs == 1 and 1 or 0, 60)
              local t = cs == 1 and v or v[2]
              o:put({ k, ok, #t, t[2000].p, t[4000].name })
            end,
            args = { mr._job, out },
          }
          th:start()
          wait_until(function() return select(2, core._pstream_counts()) > r0 end,
                     "the reader's start on the stream")
          assert.is_false(mr:ready())
          g:put("go")
          th:join(T)
          assert.same({ cs == 1 and 2 or 1, true, 4000, 7, "r2.4000" }, out:get(true, T))
          assert.is_true(mr:successful())
        end
        -- three streams written by the child: two chunks of one, one of two
        assert.equal(w0 + 3, p:apply(child_counts))
        -- a late failure: the reader gets the chunk's error, nothing else
        local mr = p:map_async(chunk_task_fail, { 2 }, 1)
        assert.equal("mid", q:get(true, T))
        g:put("go")
        local k, ok, _, exc = mr._job:next_done(0, T)
        assert.equal(1, k); assert.is_false(ok)
        helpers.message_has(exc, "result[3000].x.co")
        -- the whole iterators, in completion order, every item once
        local got = {}
        for _, v in p:imap_unordered(function(i) return i * 10 end, { 1, 2, 3 }) do got[#got + 1] = v end
        table.sort(got)
        assert.same({ 10, 20, 30 }, got)
      end)

      shell_it("keep a chunk of several tasks whose result streams not ready until the child's outcome", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        collectgarbage(); collectgarbage()
        local fds0 = helpers.memfd_count("braid-stream")
        for _, fail in ipairs({ false, true }) do
          local mr = p:map_async(fail and chunk_task_fail or chunk_task, { 1, 2, 3 }, 2)
          assert.equal("mid", q:get(true, T))
          wait_until(function() return helpers.memfd_count("braid-stream") > fds0 end,
                     "the stream's entry")
          assert.is_false(mr:ready())
          g:put("go")
          mr:wait(T)
          assert.is_true(mr:ready())
          if fail then
            assert.is_false(mr:successful())
            local err = helpers.raises(mp.MaybeEncodingError, mr.get, mr, T)
            helpers.message_has(err, "result[2][3000].x.co")
          else
            assert.is_true(mr:successful())
            local r = mr:get(T)
            assert.equal(3, r.n)
            assert.equal("r3.4000", r[3][4000].name); assert.equal(7, r[2][2000].p)
          end
          mr = nil -- luacheck: ignore
          collectgarbage(); collectgarbage()
          assert.equal(fds0, helpers.memfd_count("braid-stream"))
        end
      end)

      shell_it("fail the chunk of a child killed mid-stream, replace it, leave nothing behind", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        collectgarbage(); collectgarbage()
        local fds0 = helpers.memfd_count("braid-stream")
        local mr = p:map_async(chunk_task_block, { 1, 2 }, 2)
        local pid = q:get(true, T)
        wait_until(function() return helpers.memfd_count("braid-stream") > fds0 end,
                   "the stream's entry")
        require("braid.os").kill(pid, require("braid.os").SIGKILL)
        local err = helpers.raises(errors.Exception, mr.get, mr, T)
        helpers.message_has(err, "died")
        mr = nil -- luacheck: ignore
        collectgarbage(); collectgarbage()
        assert.equal(fds0, helpers.memfd_count("braid-stream"))
        assert.are_not.equal(pid, p:apply(getpid))
        assert.same({ 4000, 4000 }, items(p:map(function(i) return #chunk_task(i) end, { 1, 3 }, 2)))
      end)
    end)
  end
end)


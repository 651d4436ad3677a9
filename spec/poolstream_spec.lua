-- luacheck: globals REPORT GO PUBLISHED (set in the workers)
-- Process-pool results streamed (issue 16, item 4; lprocpool.c's
-- REPLY_STREAM, lpstream.c): a pool child's single result that is a big
-- table is encoded into a stream memfd handed to the parent as soon as the
-- encoding passes the threshold; the parent finishes the task when the
-- child says the stream is complete, and whoever reads the result decodes
-- it from the mapping. On every start method: a big result (and map's big
-- results) arrive whole with their shared references, small ones do not
-- stream; a result found unsendable after the stream started raises what
-- an unstreamed one raises (MaybeEncodingError in a Pool, TypeError in an
-- executor, naming the path) and the pool goes on; a child killed
-- mid-stream fails its task as a killed worker does, is replaced, and
-- leaves no memfd or mapping in the parent. Until the child's outcome the
-- task is not done for any query (done, ready, successful, exception,
-- callbacks, wait), while a reader already waiting in result()/get()
-- decodes the stream as it is written.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local futures = require "braid.futures"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)

-- as in mpstream_spec: where no shell can start, the descriptor counts
-- are pending
local shell_it = helpers.HOST == "none" and pending or it

-- Descriptors of this process open on a stream's memfd.
local function stream_fds() return helpers.memfd_count("braid-stream") end

-- Mappings of a stream's memfd in this process.
local function stream_maps() return helpers.memfd_maps("braid-stream") end

-- Tasks (run in the children: self-contained).

-- 'n' records, records 1 and n sharing one table; with 'small', the
-- child's streaming threshold is lowered first (4 KiB), so that the
-- stream starts early in the encoding.
local function big_records(n, small)
  local c = require "braid.core"
  if small then c._stream_min(4096, 4096) end
  local t = {}
  for i = 1, n do t[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } } end
  local s = { x = 1 }
  t[1].s = s; t[n].s = s
  return t
end

-- The child's stream counts (written, read).
local function child_counts()
  return require("braid.core")._pstream_counts()
end

-- A big result with a coroutine deep in it, met after the stream's entry
-- was sent: PUBLISHED records the child's written count at that point.
local function late_unsendable()
  local c = require "braid.core"
  c._stream_min(4096, 4096)
  local t = {}
  for i = 1, 4000 do t[i] = { id = i, name = "item" .. i } end
  t[3000].x = { setmetatable({}, { __braidreduce = function()
    PUBLISHED = c._pstream_counts()
    return tonumber, "7"
  end }), co = coroutine.create(print) }
  return t
end

local function published() return PUBLISHED end

local function keep_queue(q) REPORT = q end
local function keep_queues(q, g) REPORT, GO = q, g end

-- A big result whose encoding waits half-way (after the stream started)
-- for GO: the parent has the result's future finished before that.
local function stream_until_go()
  local c = require "braid.core"
  c._stream_min(4096, 4096)
  local t = {}
  for i = 1, 4000 do t[i] = { id = i, name = "item" .. i } end
  t[2000].p = setmetatable({}, { __braidreduce = function()
    REPORT:put("mid")
    assert(GO:get(true, 60) == "go")
    return tonumber, "7"
  end })
  return t
end

-- The same, failing after GO: a coroutine further on is met once the
-- stream has carried half the table (the result fails late).
local function stream_go_then_fail()
  local c = require "braid.core"
  c._stream_min(4096, 4096)
  local t = {}
  for i = 1, 4000 do t[i] = { id = i, name = "item" .. i } end
  t[2000].p = setmetatable({}, { __braidreduce = function()
    REPORT:put("mid")
    assert(GO:get(true, 60) == "go")
    return tonumber, "7"
  end })
  t[3000].x = { co = coroutine.create(print) }
  return t
end

-- Reads fut:result() in a thread of this process (it waits there, and
-- decodes the stream as the child writes it): the thread, and a queue that
-- gets { true, #value } or { false, message }.
local function read_in_thread(fut)
  local out = require("braid.queue").SimpleQueue()
  local t = require("braid.threading").Thread{
    target = function(f, o)
      local ok, v = pcall(f.result, f, 60)
      o:put({ ok, ok and #v or tostring(v) })
    end,
    args = { fut, out },
  }
  t:start()
  return t, out
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

-- A big result whose encoding stops half-way (after the stream started)
-- until the child is killed: it reports its pid and written count first.
local function stream_then_block()
  local c = require "braid.core"
  c._stream_min(4096, 4096)
  c._pstream_delay(0.001)
  local t = {}
  for i = 1, 4000 do t[i] = { id = i, name = "item" .. i } end
  t[1500].p = setmetatable({}, { __braidreduce = function()
    REPORT:put({ c.getpid(), (c._pstream_counts()) })
    require("braid.threading").Event():wait(60) -- killed meanwhile
    return tonumber, "7"
  end })
  return t
end

local function check_big(t, n)
  assert.equal(n, #t)
  assert.equal("item" .. n, t[n].name)
  assert.equal(3 * n, t[n].vals[3])
  assert.equal(t[1].s, t[n].s) -- one table, as the unstreamed path keeps it
  assert.equal(1, t[n].s.x)
end

describe("process-pool results streamed", function()
  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("leave small results as they were: no stream", function()
        local p <close> = ctx.Pool(1)
        local w0 = p:apply(child_counts)
        local _, r0 = core._pstream_counts()
        assert.equal(42, p:apply(function() return 42 end))
        assert.same({ 1, 2, 3 }, p:apply(function() return { 1, 2, 3 } end))
        assert.equal(100, #p:apply(big_records, { 100 }))
        local sq = p:map(function(x) return x * x end, { 1, 2, 3 })
        assert.equal(1, sq[1]); assert.equal(9, sq[3])
        assert.equal(w0, (p:apply(child_counts)))
        assert.equal(r0, select(2, core._pstream_counts()))
      end)

      it("arrive whole through apply, map and an executor's submit", function()
        local N = 30000 -- past the default threshold (128 KiB) by far
        local p <close> = ctx.Pool(1)
        local w0 = p:apply(child_counts)
        local _, r0 = core._pstream_counts()
        check_big(p:apply(big_records, { N }), N)
        local rs = p:map(big_records, { N, 3, N }, 1)
        check_big(rs[1], N); check_big(rs[2], 3); check_big(rs[3], N)
        -- the child streamed three results, the parent read each once
        assert.equal(w0 + 3, (p:apply(child_counts)))
        assert.equal(r0 + 3, select(2, core._pstream_counts()))
        -- an AsyncResult read twice decodes the stream twice
        local ar = p:apply_async(big_records, { N })
        check_big(ar:get(T), N); check_big(ar:get(T), N)
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        check_big(ex:submit(big_records, N):result(T), N)
      end)

      -- A reader waiting in result() decodes the stream while the child
      -- encodes (the overlap), yet the task is done, for every query, only
      -- once the child said how the stream ended.
      local function reads_before_outcome(r0)
        wait_until(function() return select(2, core._pstream_counts()) > r0 end,
                   "the reader's start on the stream")
      end

      it("keep an AsyncResult that streams not ready until it is whole; callbacks see the value once", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        local _, r0 = core._pstream_counts()
        local got, errs = {}, {}
        local ar = p:apply_async(stream_until_go, nil,
                                 function(v) got[#got + 1] = v end,
                                 function(e) errs[#errs + 1] = e end)
        assert.equal("mid", q:get(true, T))
        local th, out = read_in_thread(ar._f)
        reads_before_outcome(r0)
        -- the child waits half-way through its encoding: nothing is final
        assert.is_false(ar:ready())
        helpers.raises(errors.ValueError, ar.successful, ar)
        ar:wait(0)
        assert.equal(0, #got + #errs)
        g:put("go")
        local t = ar:get(T)
        assert.equal(4000, #t)
        assert.equal(7, t[2000].p)
        assert.equal("item4000", t[4000].name)
        assert.is_true(ar:ready())
        assert.is_true(ar:successful())
        th:join(T)
        assert.same({ true, 4000 }, out:get(true, T))
        -- the callback ran once, with the value (decoded from the mapping)
        assert.equal(1, #got); assert.equal(0, #errs)
        assert.equal(4000, #got[1]); assert.equal(7, got[1][2000].p)
      end)

      it("keep an AsyncResult that streams not ready until it fails late; the failure is final", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        local _, r0 = core._pstream_counts()
        local got, errs = {}, {}
        local ar = p:apply_async(stream_go_then_fail, nil,
                                 function(v) got[#got + 1] = v end,
                                 function(e) errs[#errs + 1] = e end)
        assert.equal("mid", q:get(true, T))
        local th, out = read_in_thread(ar._f)
        reads_before_outcome(r0)
        assert.is_false(ar:ready())
        helpers.raises(errors.ValueError, ar.successful, ar)
        g:put("go")
        ar:wait(T)
        assert.is_true(ar:ready())
        assert.is_false(ar:successful())
        local err = helpers.raises(mp.MaybeEncodingError, ar.get, ar, T)
        helpers.message_has(err, "result[3000].x.co")
        th:join(T)
        local r = out:get(true, T)
        assert.is_false(r[1])
        assert.truthy(r[2]:find("result[3000].x.co", 1, true))
        assert.equal(0, #got); assert.equal(1, #errs)
        helpers.message_has(errs[1], "result[3000].x.co")
        -- the pool goes on, and nothing of the stream is left
        check_big(p:apply(big_records, { 3000, true }), 3000)
        collectgarbage(); collectgarbage()
        if helpers.HOST ~= "none" then assert.equal(0, helpers.memfd_count("braid-stream")) end
      end)

      it("keep an executor's Future that streams undone until its outcome (success and late failure)", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx,
                                                        initializer = keep_queues,
                                                        initargs = { q, g } }
        for _, fail in ipairs({ false, true }) do
          local _, r0 = core._pstream_counts()
          local seen = {}
          local fut = ex:submit(fail and stream_go_then_fail or stream_until_go)
          fut:add_done_callback(function(f)
            local e = f:exception()
            seen[#seen + 1] = e or #f:result()
          end)
          assert.equal("mid", q:get(true, T))
          local th, out = read_in_thread(fut)
          reads_before_outcome(r0)
          assert.is_false(fut:done())
          assert.is_true(fut:running())
          local done, pending = futures.wait({ fut }, 0)
          assert.is_nil(done[fut]); assert.is_true(pending[fut])
          helpers.raises(futures.TimeoutError, fut.exception, fut, 0)
          assert.equal(0, #seen)
          g:put("go")
          done = futures.wait({ fut }, T)
          assert.is_true(done[fut])
          assert.is_true(fut:done())
          th:join(T)
          local r = out:get(true, T)
          if fail then
            local err = fut:exception(T)
            assert.truthy(errors.is(errors.TypeError, err))
            helpers.message_has(err, "result[3000].x.co")
            err = helpers.raises(errors.TypeError, fut.result, fut, T)
            helpers.message_has(err, "result[3000].x.co")
            assert.is_false(r[1])
            assert.truthy(r[2]:find("result[3000].x.co", 1, true))
            assert.equal(1, #seen)
            helpers.message_has(seen[1], "result[3000].x.co")
          else
            assert.is_nil(fut:exception(T))
            assert.equal(4000, #fut:result(T))
            assert.same({ true, 4000 }, r)
            assert.same({ 4000 }, seen) -- once, with the value
          end
        end
        check_big(ex:submit(big_records, 3000, true):result(T), 3000)
      end)

      it("let map readers decode a chunk of one task while the child encodes it", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        -- the job's readers in order: results() (map, map_async), chunk(k)
        -- (imap), iter() (an executor's map)
        local readers = {
          function(job) local r = job:results(); return #r[1], r[1][2000].p end,
          function(job) local ok, v = job:chunk(1, 60); assert(ok); return #v, v[2000].p end,
          function(job) local f = job:iter(); local _, v = f(); return #v, v[2000].p end,
        }
        for _, read in ipairs(readers) do
          local _, r0 = core._pstream_counts()
          local mr = p:map_async(stream_until_go, { 1 }, 1)
          assert.equal("mid", q:get(true, T))
          local out = require("braid.queue").SimpleQueue()
          local th = require("braid.threading").Thread{
            target = function(rd, job, o) o:put({ rd(job) }) end,
            args = { read, mr._job, out },
          }
          th:start()
          reads_before_outcome(r0)
          assert.is_false(mr:ready())
          g:put("go")
          th:join(T)
          assert.same({ 4000, 7 }, out:get(true, T))
          assert.is_true(mr:successful())
          assert.equal(4000, #mr:get(T)[1])
        end
      end)

      -- A timeout bounds the whole wait, the stream's reading included: a
      -- reader cut short mid-stream leaves the task pending, and a later
      -- read decodes the whole value from the stream's start.
      shell_it("time a reader out in the middle of a stream; a later read gets the whole value", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx,
                                                        initializer = keep_queues,
                                                        initargs = { q, g } }
        local kinds = {
          { start = function() return p:apply_async(stream_until_go) end,
            cut = function(ar) return ar.get, mp.TimeoutError end,
            whole = function(ar) return ar:get(T) end,
            ready = function(ar) return ar:ready() end },
          { start = function() return ex:submit(stream_until_go) end,
            cut = function(f) return f.result, futures.TimeoutError end,
            whole = function(f) return f:result(T) end,
            ready = function(f) return f:done() end },
          { start = function() return p:map_async(stream_until_go, { 1 }, 1) end,
            cut = function(mr)
              return function(_, t) return mr._job:chunk(1, t) end, errors.TimeoutError
            end,
            whole = function(mr) return mr:get(T)[1] end,
            ready = function(mr) return mr:ready() end },
        }
        for _, k in ipairs(kinds) do
          collectgarbage(); collectgarbage()
          local fds0 = stream_fds()
          local r = k.start()
          assert.equal("mid", q:get(true, T))
          wait_until(function() return stream_fds() > fds0 end, "the stream's entry")
          local _, r0 = core._pstream_counts()
          local read, Timeout = k.cut(r)
          local t0 = helpers.now()
          helpers.raises(Timeout, read, r, 0.2)
          assert.is_true(helpers.now() - t0 < 30)
          -- the timed read was on the stream (it decoded up to the stall)
          assert.equal(r0 + 1, select(2, core._pstream_counts()))
          assert.is_false(k.ready(r))
          g:put("go")
          local t = k.whole(r)
          assert.equal(4000, #t); assert.equal(7, t[2000].p)
          assert.equal("item4000", t[4000].name)
          assert.is_true(k.ready(r))
          r, read = nil, nil -- luacheck: ignore (the chunk reader holds r)
          collectgarbage(); collectgarbage()
          assert.equal(fds0, stream_fds())
        end
      end)

      shell_it("keep a map chunk whose result streams not ready until the child's outcome", function()
        local q, g = ctx.Queue(), ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queues, { q, g })
        collectgarbage(); collectgarbage()
        local fds0 = stream_fds()
        for _, fail in ipairs({ false, true }) do
          local mr = p:map_async(fail and stream_go_then_fail or stream_until_go, { 1 }, 1)
          assert.equal("mid", q:get(true, T))
          -- the stream's entry reached the parent (its memfd is here) while
          -- the child waits half-way: the chunk is not done
          wait_until(function() return stream_fds() > fds0 end, "the stream's entry")
          assert.is_false(mr:ready())
          helpers.raises(errors.ValueError, mr.successful, mr)
          g:put("go")
          mr:wait(T)
          assert.is_true(mr:ready())
          if fail then
            assert.is_false(mr:successful())
            local err = helpers.raises(mp.MaybeEncodingError, mr.get, mr, T)
            helpers.message_has(err, "result[3000].x.co")
          else
            assert.is_true(mr:successful())
            local t = mr:get(T)[1]
            assert.equal(4000, #t); assert.equal(7, t[2000].p)
          end
          mr = nil -- luacheck: ignore
          collectgarbage(); collectgarbage()
          assert.equal(fds0, stream_fds())
        end
      end)

      it("raise an unstreamed result's error for a value found unsendable late; the pool goes on", function()
        local p <close> = ctx.Pool(1)
        local w0 = p:apply(child_counts)
        local err = helpers.raises(mp.MaybeEncodingError,
                                   p.apply, p, late_unsendable)
        helpers.message_has(err, "result[3000].x.co")
        helpers.message_has(err, "Error sending result")
        -- the stream had started before the coroutine was met
        assert.equal(w0 + 1, p:apply(published))
        check_big(p:apply(big_records, { 3000, true }), 3000)
        -- map: the same error from the map call
        err = helpers.raises(errors.Exception, p.map, p, late_unsendable, { 1 })
        helpers.message_has(err, "result[3000].x.co")
        check_big(p:map(big_records, { 3000 })[1], 3000)
        -- an executor raises the encoder's TypeError, naming the path
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx }
        err = helpers.raises(errors.TypeError, function()
          return ex:submit(late_unsendable):result(T)
        end)
        helpers.message_has(err, "result[3000].x.co")
        check_big(ex:submit(big_records, 3000, true):result(T), 3000)
      end)

      shell_it("fail the task of a child killed mid-stream, replace it, leave nothing behind", function()
        local q = ctx.Queue()
        local p <close> = ctx.Pool(1, keep_queue, { q })
        local w0 = p:apply(child_counts)
        collectgarbage() -- earlier specs' results (each holds its stream)
        local sfds0, maps0 = stream_fds(), stream_maps()
        assert.equal(0, sfds0)
        local ar = p:apply_async(stream_then_block)
        local pid, written = table.unpack(q:get(true, T))
        -- the stream had started: its entry went to the parent
        assert.equal(w0 + 1, written)
        require("braid.os").kill(pid, require("braid.os").SIGKILL)
        local err = helpers.raises(errors.Exception, ar.get, ar, T)
        helpers.message_has(err, "died")
        -- the result that stood for the stream held its memfd: once it is
        -- gone, nothing of the stream is left (the proxy closed its own)
        ar = nil -- luacheck: ignore
        collectgarbage(); collectgarbage()
        assert.equal(sfds0, stream_fds())
        assert.equal(maps0, stream_maps())
        -- replaced: the next task's (big, streamed) result arrives
        check_big(p:apply(big_records, { 3000, true }), 3000)
        assert.are_not.equal(pid, p:apply(function() return require("braid.core").getpid() end))
        -- a streamed result holds its memfd until it is collected, no longer
        collectgarbage(); collectgarbage()
        assert.equal(0, stream_fds())
        assert.equal(maps0, stream_maps())
      end)

      it("break an executor whose worker is killed mid-stream (BrokenProcessPool)", function()
        local q = ctx.Queue()
        local ex <close> = futures.ProcessPoolExecutor{ max_workers = 1, mp_context = ctx,
                                                        initializer = keep_queue,
                                                        initargs = { q } }
        local w0 = ex:submit(child_counts):result(T)
        local fut = ex:submit(stream_then_block)
        local pid, written = table.unpack(q:get(true, T))
        assert.equal(w0 + 1, written)
        require("braid.os").kill(pid, require("braid.os").SIGKILL)
        -- done only now, and broken as for any worker killed under a task
        local err = helpers.raises(futures.BrokenProcessPool, fut.result, fut, T)
        helpers.message_has(err, "terminated abruptly")
        assert.truthy(errors.is(futures.BrokenProcessPool, fut:exception(T)))
        helpers.raises(futures.BrokenProcessPool, ex.submit, ex, child_counts)
      end)
    end)
  end
end)

-- Big tables streamed between processes (issue 16, item 4; lpstream.c,
-- src/os/pstream.h): an mp.Queue put (and a Pipe send) of a big table puts a stream entry
-- once its encoding passes the streaming threshold and appends the rest
-- to a memfd as it is encoded, while the get that took the entry decodes
-- it. Failure cases on every start method: a value that cannot be sent
-- found after pieces were published (nothing delivered, the next item
-- intact and in order, the TypeError with its path), a receiver killed
-- mid-stream (no descriptor or memfd left in the sender, which never
-- waits for it), Ctrl-C in the receiver and in the sender.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local core = require "braid.core"
local bos = require "braid.os"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)
local stream_min = core._stream_min
local MIN, STEP = 4096, 4096

-- Specs that list a process's descriptors with a shell are pending where
-- none can start (the TSan pass, BRAID_HOST=none), as in segfill_spec.
local shell_it = helpers.HOST == "none" and pending or it

local function records(n, tag)
  local t = {}
  for i = 1, n do t[i] = { id = i, name = (tag or "item") .. i, vals = { i, 2 * i, 3 * i } } end
  return t
end

-- Descriptors of process 'pid' open on a stream's memfd.
local function stream_fds(pid) return helpers.memfd_count("braid-stream", pid) end

-- This process's descriptors, "number -> target" for each.
local function fd_set()
  local p = io.popen("ls -l /proc/" .. core.getpid() .. "/fd 2>/dev/null")
  local set = {}
  for line in p:lines() do
    local fd, target = line:match("(%d+) %-> (.*)$")
    if fd then set[fd .. " -> " .. target] = true end
  end
  p:close()
  return set
end

-- Mappings of a stream's memfd in this process.
local function stream_maps() return helpers.memfd_maps("braid-stream") end

-- Bounded wait until cond() holds (the other side is another process).
local function wait_until(cond, what)
  local ev = require("braid.threading").Event()
  local deadline = helpers.now() + T
  while not cond() do
    assert(helpers.now() < deadline, "timed out waiting for " .. what)
    ev:wait(0.002)
  end
end

-- An object whose __braidreduce runs fn() in the sender in the middle of
-- the encoding, after the records before it were published.
local function probe(fn)
  return setmetatable({}, { __braidreduce = function()
    fn()
    return tonumber, "7"
  end })
end

-- A child that gets 'n' items from q and sends a summary of each on c:
-- a table's length, its last record's vals[3] and its name, or the value;
-- "KeyboardInterrupt" for a get that raised it.
local function summarizer(q, c, n)
  local errs = require "braid.errors"
  for _ = 1, n do
    local ok, v = pcall(q.get, q, true, 60)
    if not ok then
      c:send(errs.KeyboardInterrupt:is(v) and "KeyboardInterrupt" or tostring(v))
    elseif type(v) == "table" then
      local last = v[#v]
      c:send({ #v, last and last.vals and last.vals[3], last and last.name,
               v.shared_ok })
    else
      c:send(v)
    end
  end
end

describe("big tables streamed to another process", function()
  local saved_min, saved_step
  before_each(function()
    saved_min, saved_step = stream_min()
    core._pstream_delay(0)
  end)
  after_each(function()
    stream_min(saved_min, saved_step)
    core._pstream_delay(0)
  end)

  it("leave small items as they were: no stream", function()
    local q = mp.Queue()
    local w0 = core._pstream_counts()
    q:put(1); q:put("x"); q:put({ 1, 2, 3 }); q:put(records(100))
    assert.equal(w0, (core._pstream_counts()))
    assert.equal(1, q:get(1)); assert.equal("x", q:get(1))
    assert.same({ 1, 2, 3 }, q:get(1)); assert.equal(100, #q:get(1))
  end)

  it("refuse recv_bytes of a streamed send (ValueError); the next message is read", function()
    stream_min(MIN, STEP)
    local a, b = mp.Pipe()
    local w0 = core._pstream_counts()
    -- the sender is a thread: a stream is written while it is read
    local t = require("braid.threading").Thread{ target = function(c, big)
      c:send(big)
      c:send_bytes("after")
    end, args = { b, records(4000) } }
    t:start()
    local err = helpers.raises(errors.ValueError, a.recv_bytes, a)
    helpers.message_has(err, "read it with recv()")
    assert.equal("after", a:recv_bytes())
    t:join(T)
    assert.equal(w0 + 1, (core._pstream_counts()))
  end)

  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("arrive whole through Queue, JoinableQueue and SimpleQueue", function()
        local N = 20000 -- past the default threshold (128 KiB) by far
        for _, kind in ipairs{ "Queue", "JoinableQueue", "SimpleQueue" } do
          local q = ctx[kind]()
          local a, b = ctx.Pipe()
          local p = ctx.Process{target = function(q, c, kind)
            local core = require "braid.core"
            local t = q:get()
            if kind == "JoinableQueue" then q:task_done() end
            local _, r = core._pstream_counts()
            local ok = t[1].s == t[#t].s and t[1].s.x == 1 and t.shared_ok
            local nxt = q:get()
            if kind == "JoinableQueue" then q:task_done() end
            c:send({ #t, t[#t].vals[3], t[#t].name, ok, r, nxt })
          end, args = { q, b, kind }}
          p:start()
          local big = records(N)
          -- one table met twice, the second time after the first was
          -- published: the reader must decode the final bytes again
          local s = { x = 1 }
          big[1].s = s; big[N].s = s
          big.shared_ok = true
          local w0 = core._pstream_counts()
          q:put(big)
          q:put("next")
          assert.equal(w0 + 1, (core._pstream_counts()))
          local got = a:recv()
          assert.same({ N, 3 * N, "item" .. N, true, 1, "next" }, got)
          if kind == "JoinableQueue" then q:join() end
          p:join(T)
          assert.equal(0, p.exitcode)
        end
      end)

      it("decode while the sender still encodes", function()
        stream_min(MIN, STEP)
        core._pstream_delay(0.002)
        local q = ctx.Queue()
        local a, b = ctx.Pipe()
        local p = ctx.Process{target = summarizer, args = { q, b, 1 }}
        p:start()
        local big = records(4000)
        local taken_mid_put
        -- half-way through the encoding: the reader has taken the entry
        -- (the queue is empty) although the put has not returned
        local w0 = core._pstream_counts()
        big[2000].p = probe(function()
          -- the stream's entry was put at the threshold, long before here
          assert.equal(w0 + 1, (core._pstream_counts()))
          wait_until(function() return q:qsize() == 0 end, "the reader")
          taken_mid_put = true
        end)
        q:put(big)
        assert.is_true(taken_mid_put)
        assert.same({ 4000, 12000, "item4000" }, a:recv())
        p:join(T)
        assert.equal(0, p.exitcode)
      end)

      it("deliver nothing of a value found unsendable after pieces were published", function()
        stream_min(MIN, STEP)
        local q = ctx.JoinableQueue()
        local a, b = ctx.Pipe()
        local p = ctx.Process{target = function(q, c)
          local first = q:get()
          q:task_done()
          local second = q:get()
          q:task_done()
          c:send({ first, #second, second[#second].name })
        end, args = { q, b }}
        p:start()
        local bad = records(4000)
        local published
        bad[3000].x = { probe(function()
          published = core._pstream_counts()
        end), co = coroutine.create(print) }
        local w0 = core._pstream_counts()
        local err = helpers.raises(errors.TypeError, q.put, q, bad)
        helpers.message_has(err, "obj[3000].x.co")
        -- the stream had started (its entry was in the queue) before the
        -- coroutine was met
        assert.equal(w0 + 1, published)
        q:put("after")
        q:put(records(3000, "ok"))
        assert.same({ "after", 3000, "ok3000" }, a:recv())
        -- join() does not wait for the item never put
        local th = require("braid.threading").Thread{ target = function(q) q:join() end,
                                                      args = { q } }
        th:start(); th:join(T)
        assert.is_false(th:is_alive())
        p:join(T)
        assert.equal(0, p.exitcode)
      end)

      shell_it("leave nothing behind in the sender when the receiver is killed mid-stream", function()
        stream_min(MIN, STEP)
        core._pstream_delay(0.001)
        local q = ctx.Queue()
        local a, b = ctx.Pipe()
        local p = ctx.Process{daemon = true, target = function(...)
          select(2, ...):send("ready")
          return summarizer(...)
        end, args = { q, b, 2 }}
        p:start()
        assert.equal("ready", a:recv())
        local fds0, sfds0, maps0 = fd_set(), stream_fds(), stream_maps()
        local big = records(4000)
        local dead
        local w0 = core._pstream_counts()
        big[1500].p = probe(function()
          assert.equal(w0 + 1, (core._pstream_counts())) -- the entry is put
          wait_until(function() return q:qsize() == 0 end, "the reader")
          bos.kill(p.pid, bos.SIGKILL)
          -- dead before the rest is published
          wait_until(function()
            local f = io.open("/proc/" .. p.pid .. "/stat")
            local st = f and f:read("a") or ""
            if f then f:close() end
            return st == "" or st:match("^%d+ %b() ([ZX])") ~= nil
          end, "the reader's death")
          dead = true
        end)
        local t0 = helpers.now()
        q:put(big) -- the writer never waits for its reader
        assert.is_true(dead)
        assert.is_true(helpers.now() - t0 < T)
        -- no descriptor the put opened is left: a stream's are memfds, and
        -- anything else new would be the put's too; pipes are left out
        -- (each listing has its own, and the process machinery may open
        -- one when a child dies)
        for fd in pairs(fd_set()) do
          if not fd:find("-> pipe:", 1, true) then
            assert.is_true(fds0[fd] or false, "left open: " .. fd)
          end
        end
        assert.equal(sfds0, stream_fds())
        assert.equal(maps0, stream_maps())
        assert.equal(0, stream_fds())
        p:join(T)
        assert.equal(-9, p.exitcode)
        -- the queue goes on for another reader
        local p2 = ctx.Process{target = summarizer, args = { q, b, 1 }}
        p2:start()
        q:put(records(3000, "ok"))
        assert.same({ 3000, 9000, "ok3000" }, a:recv())
        p2:join(T)
      end)

      it("end a get with KeyboardInterrupt on Ctrl-C mid-stream; the queue goes on", function()
        stream_min(MIN, STEP)
        core._pstream_delay(0.001)
        local q = ctx.Queue()
        local a, b = ctx.Pipe()
        local p = ctx.Process{target = summarizer, args = { q, b, 2 }}
        p:start()
        local big = records(4000)
        local w0, started = core._pstream_counts()
        big[1500].p = probe(function()
          started = core._pstream_counts() == w0 + 1 -- the entry is put
          wait_until(function() return q:qsize() == 0 end, "the reader")
          bos.kill(p.pid, bos.SIGINT)
        end)
        q:put(big)
        assert.is_true(started)
        assert.equal("KeyboardInterrupt", a:recv())
        q:put(records(3000, "ok"))
        assert.same({ 3000, 9000, "ok3000" }, a:recv())
        p:join(T)
        -- the child caught its KeyboardInterrupt and returned: exit code 0
        assert.equal(0, p.exitcode)
      end)

      it("go whole through a Pipe; a value found unsendable late sends nothing", function()
        stream_min(MIN, STEP)
        local a, b = ctx.Pipe()
        local p = ctx.Process{target = function(c)
          for _ = 1, 2 do
            local v = c:recv()
            c:send({ #v, v[#v].name, v[1].s == v[#v].s })
          end
        end, args = { b }}
        p:start()
        local big = records(4000)
        local s = { x = 1 }
        big[1].s = s; big[4000].s = s
        local w0 = core._pstream_counts()
        a:send(big)
        assert.equal(w0 + 1, (core._pstream_counts()))
        assert.same({ 4000, "item4000", true }, a:recv())
        local bad = records(4000)
        local published
        bad[3000].x = { probe(function()
          published = core._pstream_counts()
        end), co = coroutine.create(print) }
        local err = helpers.raises(errors.TypeError, a.send, a, bad)
        helpers.message_has(err, "obj[3000].x.co")
        assert.equal(w0 + 2, published) -- its entry had gone
        a:send(records(3000, "ok"))
        assert.same({ 3000, "ok3000", true }, a:recv())
        p:join(T)
        assert.equal(0, p.exitcode)
        assert.is_false(a:poll(0))
      end)

      shell_it("leave nothing behind in a Pipe's sender when the receiver is killed mid-stream", function()
        stream_min(MIN, STEP)
        core._pstream_delay(0.001)
        local a, b = ctx.Pipe()
        local p = ctx.Process{daemon = true, target = function(c)
          c:send("ready")
          c:recv()
        end, args = { b }}
        p:start()
        assert.equal("ready", a:recv())
        local sfds0, maps0 = stream_fds(), stream_maps()
        local big = records(4000)
        local dead
        big[1500].p = probe(function()
          -- the child holds the stream's memfd: it is reading
          wait_until(function() return stream_fds(p.pid) > 0 end, "the reader")
          bos.kill(p.pid, bos.SIGKILL)
          p:join(T)
          dead = true
        end)
        local t0 = helpers.now()
        a:send(big) -- the writer never waits for its reader
        assert.is_true(dead)
        assert.is_true(helpers.now() - t0 < T)
        assert.equal(-9, p.exitcode)
        assert.equal(sfds0, stream_fds())
        assert.equal(maps0, stream_maps())
        assert.equal(0, stream_fds())
        a:close(); b:close()
      end)

      local host_it = helpers.HOST == "none" and pending or it
      host_it("fail a put interrupted by Ctrl-C mid-stream; the reader gets the next item", function()
        local rc, out = helpers.braid_run(([[
          local mp = require "braid.multiprocessing"
          local core = require "braid.core"
          local bos = require "braid.os"
          local errors = require "braid.errors"
          local ctx = mp.get_context(%q)
          core._stream_min(4096, 4096)
          core._pstream_delay(0.001)
          local q = ctx.Queue()
          local a, b = ctx.Pipe()
          local p = ctx.Process{target = function(q, c)
            local v = q:get(true, 60)
            c:send(type(v) == "table" and v[#v].name or v)
          end, args = { q, b }}
          p:start()
          local big = {}
          for i = 1, 4000 do big[i] = { id = i, name = "item" .. i } end
          big[1500].p = setmetatable({}, { __braidreduce = function()
            local ev = require("braid.threading").Event()
            local t0 = core.monotonic()
            while q:qsize() > 0 and core.monotonic() - t0 < 60 do ev:wait(0.002) end
            bos.kill(core.getpid(), bos.SIGINT)
            return tonumber, "7"
          end })
          local ok, err = pcall(q.put, q, big)
          print("put", ok, errors.KeyboardInterrupt:is(err))
          q:put("after")
          print("got", a:recv())
          p:join(60)
          print("exit", p.exitcode)
        ]]):format(method))
        assert.equal(0, rc, out)
        assert.truthy(out:find("put\tfalse\ttrue", 1, true), out)
        assert.truthy(out:find("got\tafter", 1, true), out)
        assert.truthy(out:find("exit\t0", 1, true), out)
      end)
    end)
  end
end)

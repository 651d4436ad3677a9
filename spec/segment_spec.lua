-- Big strings between processes go out of line (issue 16, item 5): above
-- core._seg_min() bytes (256 KiB) a string sent through an mp.Queue,
-- SimpleQueue, JoinableQueue, a Pipe (send, send_bytes) or coming back
-- as a process pool's result is written once into a memfd whose
-- descriptor is handed to the receiver, which builds its string from the
-- mapping. No segment outlives its message: not when it is received, not
-- when nobody receives it (a queue dropped with items, a pipe closed with
-- unread data, a receiver killed mid-transfer), not when the encode fails.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)
local MiB = 1024 * 1024

-- A string of 'n' bytes whose every 251-byte stretch differs from the
-- next (a misplaced or truncated copy shows).
local pattern = helpers.pattern

local seg_fds = helpers.seg_fds

-- Shmem of /proc/meminfo in bytes: where a memfd's pages are counted,
-- wherever its descriptors are (also in flight in a socket).
local function shmem()
  for line in io.lines("/proc/meminfo") do
    local kb = line:match("^Shmem:%s+(%d+) kB")
    if kb then return tonumber(kb) * 1024 end
  end
end

local function full_gc()
  collectgarbage(); collectgarbage()
end

describe("big strings between processes", function()
  it("go out of line from the threshold on, and not below it", function()
    assert.equal(256 * 1024, core._seg_min())
    local a, b = mp.Pipe()
    local q = mp.Queue()
    -- (a lower threshold: the pipe's buffer holds what is inline, since
    -- this process reads what it sends)
    local old = core._seg_min(4096)
    local ok, err = pcall(function()
      local made0 = core._seg_count()
      a:send(pattern(4095)); q:put(pattern(4095)); a:send_bytes(pattern(4095))
      assert.equal(pattern(4095), b:recv())
      assert.equal(pattern(4095), q:get(true, T))
      assert.equal(pattern(4095), b:recv_bytes())
      assert.equal(made0, (core._seg_count()))
      a:send(pattern(4096)); q:put(pattern(4096)); a:send_bytes(pattern(4096))
      assert.equal(pattern(4096), b:recv())
      assert.equal(pattern(4096), q:get(true, T))
      assert.equal(pattern(4096), b:recv_bytes())
      assert.equal(made0 + 3, (core._seg_count()))
      assert.equal(0, seg_fds())
    end)
    core._seg_min(old)
    assert(ok, err)
  end)

  it("keep one segment for a string sent twice in one message", function()
    local a, b = mp.Pipe()
    local s = pattern(MiB, 3)
    local made0 = core._seg_count()
    a:send({ s, { s }, x = s })
    local t = b:recv()
    assert.equal(s, t[1])
    assert.equal(s, t[2][1])
    assert.equal(s, t.x)
    assert.equal(made0 + 1, (core._seg_count()))
    assert.equal(0, seg_fds())
  end)

  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("through mp queues, a Pipe and a pool's results", function()
        local q, jq, sq, rq = ctx.Queue(), ctx.JoinableQueue(),
                              ctx.SimpleQueue(), ctx.Queue()
        local a, b = ctx.Pipe()
        local s = pattern(2 * MiB + 5, 1)
        local p = ctx.Process{target = function(q, jq, sq, rq, c)
          local core = require "braid.core"
          local function segs()
            local p = io.popen("ls -l /proc/" .. core.getpid() .. "/fd")
            local n = 0
            for line in p:lines() do
              if line:find("memfd:braid-seg", 1, true) then n = n + 1 end
            end
            p:close()
            return n
          end
          local _, read0 = core._seg_count() -- a forked child's start here
          local x = q:get(true, 60)
          local y = jq:get(true, 60); jq:task_done()
          local z = sq:get()
          local w = c:recv()
          local v = c:recv_bytes()
          local _, read1 = core._seg_count()
          -- back to the parent, by a queue and the pipe
          rq:put(x); c:send({ y, z, w }); c:send_bytes(v)
          c:send({ read = read1 - read0, open = segs() })
        end, args = { q, jq, sq, rq, b }}
        p:start()
        q:put(s); jq:put({ s, 1 }); sq:put(s); a:send({ k = s }); a:send_bytes(s)
        assert.equal(s, rq:get(true, T))
        assert.same({ { s, 1 }, s, { k = s } }, a:recv())
        assert.equal(s, a:recv_bytes())
        local info = a:recv()
        assert.equal(5, info.read) -- the child read each from a segment
        assert.equal(0, info.open) -- and kept no descriptor
        jq:join()
        p:join(T)
        assert.equal(0, p.exitcode)
        assert.equal(0, seg_fds())

        local pool <close> = ctx.Pool(1)
        local _, read0 = core._seg_count()
        local r = pool:apply(function(n, seed)
          local unit = {}
          for i = 1, 251 do unit[i] = string.char((i * 7 + seed) % 256) end
          local u = table.concat(unit)
          return { (u:rep(n // #u + 1)):sub(1, n), "small" }
        end, { 2 * MiB + 5, 1 })
        assert.equal(s, r[1])
        assert.equal("small", r[2])
        local rs = pool:map(function(n) return ("m"):rep(n) end,
                            { MiB, 10, 3 * MiB }, 2)
        assert.equal(("m"):rep(MiB), rs[1])
        assert.equal(("m"):rep(10), rs[2])
        assert.equal(("m"):rep(3 * MiB), rs[3])
        local _, read1 = core._seg_count()
        assert.equal(read0 + 3, read1)
        pool:close(); pool:join()
        r, rs = nil, nil
        full_gc() -- the results' messages hold their segments until then
        assert.equal(0, seg_fds())
      end)

      it("into a buffer straight from the segment (recv_bytes_into)", function()
        local a, b = ctx.Pipe()
        local s = pattern(MiB, 9)
        local p = ctx.Process{target = function(c, s)
          c:send_bytes(s); c:send_bytes(s)
        end, args = { b, s }}
        p:start()
        local shm = mp.shared_memory.SharedMemory(nil, true, MiB + 16)
        assert.equal(MiB, a:recv_bytes_into(shm, 16))
        assert.equal(s, shm:read(16, MiB))
        local small = mp.Array("b", 16)
        local err = helpers.raises(mp.BufferTooShort,
                                   a.recv_bytes_into, a, small)
        assert.equal(s, err.args[1])
        p:join(T)
        shm:close(); shm:unlink()
        assert.equal(0, seg_fds())
      end)
    end)
  end

  it("refuse a value that cannot be sent, leaving no segment", function()
    local a, b = mp.Pipe()
    local q = mp.Queue()
    local big = pattern(MiB)
    local v = { big, { deep = { coroutine.create(print) } } }
    local made0 = core._seg_count()
    local err = helpers.raises(errors.TypeError, a.send, a, v)
    helpers.message_has(err, "obj[2].deep[1]")
    err = helpers.raises(errors.TypeError, q.put, q, v)
    helpers.message_has(err, "obj[2].deep[1]")
    assert.is_true(core._seg_count() > made0) -- the segment was made first
    assert.equal(0, seg_fds())
    assert.is_false(b:poll(0))
    assert.is_true(q:empty())
  end)

  it("free what nobody receives: a queue dropped with items, a pipe closed unread", function()
    full_gc()
    local base = shmem()
    local N = 32 * MiB
    do
      local q = mp.Queue()
      local a, b = mp.Pipe()
      for i = 1, 2 do q:put(pattern(N, i)) end
      a:send(pattern(N, 3))
      a:send_bytes(pattern(N, 4))
      assert.equal(0, seg_fds()) -- in flight only
      -- their pages exist while the messages can still be received
      assert.is_true(shmem() - base > 3 * N)
      q, a, b = nil, nil, nil -- luacheck: ignore
    end
    full_gc()
    -- generous: other processes may create shared memory meanwhile
    assert.is_true(shmem() - base < 2 * N)
  end)

  it("free a message whose receiver is killed mid-transfer", function()
    full_gc()
    local base = shmem()
    local N = 64 * MiB
    local ctx = mp.get_context(METHODS[1])
    local a, b = ctx.Pipe()
    local q = ctx.Queue()
    local ready = ctx.Event()
    local p = ctx.Process{daemon = true, target = function(c, q, ready)
      ready:set()
      local s = c:recv() -- killed in here, or before, or after (below)
      q:put(#s)
      require("braid.threading").Event():wait()
    end, args = { b, q, ready }}
    p:start()
    assert.is_true(ready:wait(T))
    local pid = p.pid
    a:send(pattern(N, 5))
    a:send(pattern(N, 6)) -- this one is never received
    p:kill()
    p:join(T)
    assert.equal(-9, p.exitcode)
    assert.equal(0, seg_fds())
    assert.equal(0, seg_fds(pid)) -- gone with its process
    a:close(); b:close()
    full_gc()
    assert.is_true(shmem() - base < N)
  end)

  it("check the segments a message names against those it came with", function()
    local MISSING = "\2\1\16\0\5"       -- T_SEG 0, length 5, no segment
    local err = helpers.raises(errors.ValueError, core.loads, MISSING)
    helpers.message_has(err, "missing segment")
    assert.equal("hello", core._seg_loads(MISSING, "hello"))
    err = helpers.raises(errors.ValueError, core._seg_loads, MISSING, "hell")
    helpers.message_has(err, "segment length does not match")
    err = helpers.raises(errors.ValueError, core._seg_loads, "\2\1\16\1\5", "hello")
    helpers.message_has(err, "missing segment")
    assert.same({ "abc", "abc" }, { core._seg_loads("\2\2\16\0\3\16\0\3", "abc") })
  end)

  -- A pool's results wait unread until the caller asks: thousands of
  -- them must not hold a descriptor each (the process's limit, here 128,
  -- would make later ones lose their segments).
  local host_it = helpers.HOST == "none" and pending or it
  host_it("keeps no descriptor per result waiting to be read (pool map, chunksize 1)", function()
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write([[
      local core = require "braid.core"
      local mp = require "braid.multiprocessing"
      core._seg_min(4096)
      local p = mp.get_context("spawn").Pool(2)
      local items = {}
      for i = 1, 400 do items[i] = i end
      local r = p:map(function(i) return string.rep(string.char(65 + i % 26), 8192) end,
                      items, 1)
      assert(#r == 400)
      for i = 1, 400 do assert(r[i] == string.rep(string.char(65 + i % 26), 8192), i) end
      p:close(); p:join()
      print("ok")
    ]])
    f:close()
    local pipe = io.popen("ulimit -n 128 && timeout 120 " .. helpers.HOST .. " " .. tmp .. " 2>&1")
    local out = pipe:read("a")
    pipe:close()
    os.remove(tmp)
    assert.matches("ok", out)
  end)
end)

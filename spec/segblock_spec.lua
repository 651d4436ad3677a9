-- A big string from another process is made of its segment's own pages
-- (src/os/segblock.h): the receiver maps the segment instead of copying
-- it. The bytes are exact on every channel (mp queues, a Pipe's send and
-- send_bytes, a process pool's results), in a main state and in a
-- worker's, whatever the size's alignment (the terminating zero after a
-- page-aligned end); the string behaves as any other (a table key, a
-- number); the mapping goes when the string is collected; a forked child
-- holds its own copy; a segment not sealed is copied instead; a sender
-- that dies or gives up before the bytes are all there makes the receive
-- fail, leaving nothing mapped.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local threading = require "braid.threading"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)
local MiB = 1024 * 1024
local CTL = 4096 -- segfill.h's control page

-- Sizes: a plain one, one whose file (control page + bytes) ends on a
-- page boundary, and one filled after its message is sent (from 8 MiB).
local SIZES = { MiB + 5, 4 * MiB - CTL, 9 * MiB + 3 }

local pattern = helpers.pattern

-- Strings made of a segment's pages so far, mappings of them now, and
-- strings that had to be copied once more.
local function mapped()
  local _, _, _, copied, made, live = core._seg_count()
  return made, live, copied
end

local function full_gc() collectgarbage(); collectgarbage() end

-- Checks 'got' against pattern(n, seed) and that it works as a string:
-- a table key found by an equal string built here, and its length.
local function check_string(got, n, seed)
  local want = pattern(n, seed)
  assert.equal(n, #got)
  assert.is_true(got == want)
  local t = { [got] = true }
  assert.is_true(t[want])
end

-- The message of core._seg_loads naming segment 0 of 'n' bytes.
local function seg_msg(n)
  local v = {}
  repeat
    local b = n % 128
    n = n // 128
    v[#v + 1] = string.char(n > 0 and b + 128 or b)
  until n == 0
  return "\2\1\16\0" .. table.concat(v)
end

local shell_it = helpers.HOST == "none" and pending or it

describe("big strings made of their segment's pages", function()
  it("in one process: exact, freed when collected, the zero after them", function()
    full_gc()
    local made0, live0 = mapped()
    local fds0 = core._memfds()
    for i, n in ipairs(SIZES) do
      local s = core._seg_loads(seg_msg(n), pattern(n, i))
      check_string(s, n, i)
      local made, live = mapped()
      assert.equal(made0 + i, made)
      assert.equal(live0 + 1, live)
      s = nil -- luacheck: ignore
      full_gc()
      assert.equal(live0, select(2, mapped()))
    end
    -- a number in a page-aligned string: Lua reads it up to its zero
    local n = 4 * MiB - CTL
    local s = core._seg_loads(seg_msg(n), (" "):rep(n - 2) .. "42")
    assert.equal(made0 + #SIZES + 1, (mapped()))
    assert.equal(42, tonumber(s))
    assert.equal(fds0, core._memfds()) -- the string holds no descriptor
    s = nil -- luacheck: ignore
    full_gc()
    assert.equal(live0, select(2, mapped()))
    assert.equal(0, helpers.memfd_maps("braid-seg"))
  end)

  it("copies a segment that is not sealed, and small ones", function()
    local made0, _, copied0 = mapped()
    local n = 2 * MiB + 1
    -- "raw:": a memfd made without seals (lserial.c's seg_raw)
    local ctl = string.pack("<I8I8I8", 0x3147455344494152, n, n)
    local raw = "raw:" .. ctl .. ("\0"):rep(CTL - #ctl) .. pattern(n, 5)
    check_string(core._seg_loads(seg_msg(n), raw), n, 5)
    check_string(core._seg_loads(seg_msg(300000), pattern(300000, 6)),
                 300000, 6)
    local made, _, copied = mapped()
    assert.equal(made0, made)
    assert.equal(copied0, copied)
  end)

  it("fails, mapping nothing, when its sender gave up before the end", function()
    full_gc()
    local _, live0 = mapped()
    local n = 2 * MiB
    local ctl = string.pack("<I8I8I8", 0x3147455344494152, n, MiB)
    local err = helpers.raises(errors.OSError, core._seg_loads, seg_msg(n),
                               "raw:" .. ctl .. ("\0"):rep(CTL - #ctl) ..
                               ("x"):rep(n))
    helpers.message_has(err, "gave up")
    full_gc()
    assert.equal(live0, select(2, mapped()))
    assert.equal(0, helpers.memfd_maps("braid-seg"))
  end)

  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("through mp queues and a Pipe, into a main and a worker state", function()
        local q, sq = ctx.Queue(), ctx.SimpleQueue()
        local a, b = ctx.Pipe()
        local p = ctx.Process{target = function(q, sq, c, sizes)
          local core = require "braid.core"
          local threading = require "braid.threading"
          local function counts()
            local _, _, _, copied, made, live = core._seg_count()
            return { made = made, live = live, copied = copied }
          end
          local function maps()
            local f = assert(io.open("/proc/self/maps"))
            local k = 0
            for line in f:lines() do
              if line:find("memfd:braid-seg", 1, true) then k = k + 1 end
            end
            f:close()
            return k
          end
          local before = counts()
          local got = {}
          for i = 1, #sizes do
            got[#got + 1] = q:get(true, 60)
            got[#got + 1] = c:recv()[1]
            got[#got + 1] = c:recv_bytes()
          end
          -- a worker thread's state (a pool of its own) takes them too
          local rq = require("braid.queue").SimpleQueue()
          local t = threading.Thread{target = function(sq, rq, n)
            local r = {}
            for i = 1, n do r[i] = sq:get() end
            rq:put(r)
          end, args = { sq, rq, #sizes }}
          t:start()
          local from_thread = rq:get()
          t:join(60)
          local held = counts()
          local held_maps = maps()
          c:send({ got = got, from_thread = from_thread, before = before,
                   held = held, held_maps = held_maps })
          got, from_thread = nil, nil -- luacheck: ignore
          collectgarbage(); collectgarbage()
          c:send({ after = counts(), maps = maps() })
        end, args = { q, sq, b, SIZES }}
        p:start()
        for i, n in ipairs(SIZES) do
          local s = pattern(n, i)
          q:put(s); a:send({ s }); a:send_bytes(s); sq:put(s)
        end
        local r = a:recv()
        for i, n in ipairs(SIZES) do
          for k = 1, 3 do check_string(r.got[3 * (i - 1) + k], n, i) end
          check_string(r.from_thread[i], n, i)
        end
        r.got, r.from_thread = nil, nil
        -- every one was made of its segment's pages, none copied once more
        assert.equal(r.before.made + 4 * #SIZES, r.held.made)
        assert.equal(r.before.copied, r.held.copied)
        -- the child's: 3 per size in its main state (the thread's were
        -- collected with its state, the thread's results being copies
        -- sent back through the join)
        assert.equal(r.before.live + 3 * #SIZES, r.held.live)
        assert.is_true(r.held_maps >= 3 * #SIZES)
        local after = a:recv()
        assert.equal(r.before.live, after.after.live)
        assert.equal(0, after.maps)
        p:join(T)
        assert.equal(0, p.exitcode)
        r = nil -- luacheck: ignore
        full_gc()
      end)

      it("from a process pool's results", function()
        full_gc()
        local made0, live0, copied0 = mapped()
        local pool <close> = ctx.Pool(1)
        local rs = pool:map(function(n)
          local unit = {}
          for i = 1, 251 do unit[i] = string.char((i * 7 + n % 7) % 256) end
          return ((table.concat(unit)):rep(n // 251 + 1)):sub(1, n)
        end, SIZES)
        for i, n in ipairs(SIZES) do check_string(rs[i], n, n % 7) end
        local made, live, copied = mapped()
        assert.equal(made0 + #SIZES, made)
        assert.equal(live0 + #SIZES, live)
        assert.equal(copied0, copied)
        rs = nil -- luacheck: ignore
        full_gc()
        assert.equal(live0, select(2, mapped()))
        -- a big result waiting unread holds its segment's descriptor (not
        -- a mapping); once read, its string holds the mapping alone
        local fds0 = core._memfds()
        local r = pool:apply_async(function(n) return ("r"):rep(n) end,
                                   { 2 * MiB })
        r:wait(T)
        assert.is_true(r:ready())
        assert.equal(fds0 + 1, core._memfds())
        assert.equal(0, helpers.memfd_maps("braid-seg"))
        local got = r:get(T)
        assert.equal(("r"):rep(2 * MiB), got)
        assert.equal(live0 + 1, select(2, mapped()))
        r = nil -- luacheck: ignore
        full_gc()
        assert.equal(fds0, core._memfds())
        got = nil -- luacheck: ignore
        full_gc()
        assert.equal(live0, select(2, mapped()))
        assert.equal(0, helpers.memfd_maps("braid-seg"))
        pool:close(); pool:join()
      end)

      if method == "fork" then
        it("a forked child holds its own copy of a mapped string", function()
          full_gc()
          local _, live0 = mapped()
          local n = 3 * MiB
          local s = core._seg_loads(seg_msg(n), pattern(n, 8))
          assert.equal(live0 + 1, select(2, mapped()))
          local a, b = ctx.Pipe()
          local p = ctx.Process{target = function(c)
            local core = require "braid.core"
            local _, _, _, _, _, live = core._seg_count()
            local same = s == pattern(n, 8)
            s = nil -- luacheck: ignore
            collectgarbage(); collectgarbage()
            local _, _, _, _, _, live2 = core._seg_count()
            c:send({ same, live - live2 })
          end, args = { b }}
          p:start()
          assert.same({ true, 1 }, a:recv())
          p:join(T)
          assert.equal(0, p.exitcode)
          check_string(s, n, 8)
          s = nil -- luacheck: ignore
          full_gc()
          assert.equal(live0, select(2, mapped()))
        end)
      end

      shell_it("fails cleanly, mapping nothing, when the sender dies mid-fill", function()
        local a, b = ctx.Pipe()
        local p = ctx.Process{daemon = true, target = function(c)
          local core = require "braid.core"
          -- 2 MiB filled late in 64 KiB chunks, each after 5 s: the fill
          -- is under way when the sender is killed
          core._seg_fill(MiB, 65536, 5)
          c:send(("x"):rep(2 * MiB))
        end, args = { b }}
        p:start()
        full_gc()
        local _, live0 = mapped()
        -- SIGKILL the sender once this process holds the segment
        os.execute(([[sh -c 'i=0; while [ $i -lt %d ]; do
            if ls -l /proc/%d/fd 2>/dev/null | grep -q memfd:braid-seg; then
              kill -9 %d; exit 0; fi; i=$((i+1)); sleep 0.01; done' &]])
          :format(T * 100, core.getpid(), p.pid))
        local t0 = core.monotonic()
        local err = helpers.raises(errors.EOFError, a.recv, a)
        helpers.message_has(err, "died")
        assert.is_true(core.monotonic() - t0 < T)
        p:join(T)
        assert.equal(-9, p.exitcode)
        full_gc()
        assert.equal(live0, select(2, mapped()))
        assert.equal(0, helpers.seg_fds())
        assert.equal(0, helpers.memfd_maps("braid-seg"))
      end)
    end)
  end
end)

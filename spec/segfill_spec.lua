-- A big string's segment is filled after its message is sent, while the
-- receiver copies it out (issue 16, item 5's 1.5 GB/s; src/os/segfill.h):
-- the receiver gets the exact bytes whatever the chunking, a sender that
-- dies mid-fill makes the receive fail cleanly (nothing half-made is
-- delivered, nothing hangs), a receiver killed mid-copy leaves no
-- segment behind, and a control page that lies is refused.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local errors = require "braid.errors"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)
local CHUNK = 16384

local pattern = helpers.pattern

local seg_fds = helpers.seg_fds

-- Specs that start a shell (kill_when_copying) are pending where there is
-- none to start: the TSan pass (BRAID_HOST=none) preloads a runtime that
-- crashes the shell.
local shell_it = helpers.HOST == "none" and pending or it

-- In the background: once process 'watch' holds a segment descriptor
-- (it is copying one out), SIGKILL 'victim'. Bounded: gives up after
-- T seconds. Returns nothing; the caller's wait is what is bounded.
local function kill_when_copying(watch, victim)
  os.execute(([[sh -c 'i=0; while [ $i -lt %d ]; do
      if ls -l /proc/%d/fd 2>/dev/null | grep -q memfd:braid-seg; then
        kill -9 %d; exit 0; fi; i=$((i+1)); sleep 0.01; done' &]])
    :format(T * 100, watch, victim))
end

-- Small chunks and a low threshold so that small strings cross several
-- chunk boundaries; 'delay' seconds before each chunk.
local function slow_fill(delay)
  core._seg_min(4096)
  core._seg_fill(4096, CHUNK, delay or 0)
end

describe("segments filled while they are received", function()
  local saved_min, saved_late, saved_chunk, saved_delay
  before_each(function()
    saved_min = core._seg_min()
    saved_late, saved_chunk, saved_delay = core._seg_fill()
  end)
  after_each(function()
    core._seg_min(saved_min)
    core._seg_fill(saved_late, saved_chunk, saved_delay)
  end)

  it("are made at full size with a control page; the defaults", function()
    local late, chunk, delay = core._seg_fill()
    assert.equal(8 * 1024 * 1024, late)
    assert.equal(2 * 1024 * 1024, chunk)
    assert.equal(0, delay)
    helpers.raises(errors.ValueError, core._seg_fill, nil, 100)
    helpers.raises(errors.ValueError, core._seg_fill, nil, nil, -1)
  end)

  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("deliver the exact bytes for sizes around the chunk size", function()
        slow_fill(0.001)
        local sizes = { 4096, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7,
                        40 * CHUNK + 3 }
        local q = ctx.Queue()
        local a, b = ctx.Pipe()
        local p = ctx.Process{target = function(q, c, sizes, chunk)
          local core = require "braid.core"
          core._seg_min(4096); core._seg_fill(4096, chunk, 0.001)
          local _, read0, inplace0, copied0 = core._seg_count()
          for _ = 1, #sizes do
            -- a bare recv_bytes first: the first segment string of a
            -- process, made at a shallow call depth (where Lua's first
            -- allocation in a call may be a CallInfo, not the string)
            local z = c:recv_bytes()
            local y = c:recv()
            local x = q:get(true, 60)
            c:send({ x, y, z })
          end
          local _, read1, inplace1, copied1 = core._seg_count()
          c:send({ read1 - read0, inplace1 - inplace0, copied1 - copied0 })
        end, args = { q, b, sizes, CHUNK }}
        p:start()
        for i, n in ipairs(sizes) do
          local s = pattern(n, i)
          a:send_bytes(s); a:send({ s }); q:put(s)
          local back = a:recv()
          assert.equal(s, back[1])
          assert.equal(s, back[2][1])
          assert.equal(s, back[3])
        end
        -- each one came out of line, and was copied once: into the block
        -- Lua took for the string (the first one in the process too)
        assert.same({ 3 * #sizes, 3 * #sizes, 0 }, a:recv())
        p:join(T)
        assert.equal(0, p.exitcode)
        assert.equal(0, seg_fds())

        -- a pool's results, filled by the worker after its reply is sent
        local pool <close> = ctx.Pool(1, function(chunk)
          local core = require "braid.core"
          core._seg_min(4096); core._seg_fill(4096, chunk, 0.001)
        end, { CHUNK })
        local rs = pool:map(function(n)
          local unit = {}
          for i = 1, 251 do unit[i] = string.char((i * 7 + n % 7) % 256) end
          return ((table.concat(unit)):rep(n // 251 + 1)):sub(1, n)
        end, sizes)
        for i, n in ipairs(sizes) do assert.equal(pattern(n, n % 7), rs[i]) end
        pool:close(); pool:join()
        rs = nil
        collectgarbage(); collectgarbage()
        assert.equal(0, seg_fds())
      end)

      for _, how in ipairs{ "recv", "recv_bytes", "recv_bytes_into" } do
        shell_it("fail a " .. how .. " cleanly when the sender dies mid-fill", function()
          local a, b = ctx.Pipe()
          local p = ctx.Process{daemon = true, target = function(c, chunk, how)
            local core = require "braid.core"
            -- each chunk waits 5 s: the fill is still under way when killed
            core._seg_min(4096); core._seg_fill(4096, chunk, 5)
            if how == "recv" then c:send(("x"):rep(8 * chunk))
            else c:send_bytes(("x"):rep(8 * chunk)) end
          end, args = { b, CHUNK, how }}
          p:start()
          assert.equal(0, seg_fds())
          kill_when_copying(core.getpid(), p.pid)
          local t0 = core.monotonic()
          local err
          if how == "recv_bytes_into" then
            local buf = mp.Array("b", 8 * CHUNK)
            err = helpers.raises(errors.EOFError, a.recv_bytes_into, a, buf)
          else
            err = helpers.raises(errors.EOFError, a[how], a)
          end
          helpers.message_has(err, "died")
          assert.is_true(core.monotonic() - t0 < T)
          p:join(T)
          assert.equal(-9, p.exitcode)
          -- nothing kept of the half-made string (a raise inside recv
          -- leaves the frame's descriptor to its set's __gc)
          collectgarbage(); collectgarbage()
          assert.equal(0, seg_fds())
          assert.is_false(a:poll(0))
        end)
      end

      shell_it("leave no segment behind when the receiver is killed mid-copy", function()
        slow_fill(0.2) -- 8 chunks: 1.6 s of fill, the child dies early in it
        local a, b = ctx.Pipe()
        local p = ctx.Process{daemon = true, target = function(c)
          local s = c:recv()
          c:send(#s)
        end, args = { b }}
        p:start()
        local pid = p.pid
        kill_when_copying(pid, pid)
        a:send(pattern(8 * CHUNK, 3)) -- returns once filled, reader or not
        p:join(T)
        assert.equal(-9, p.exitcode)
        assert.equal(0, seg_fds())
        assert.equal(0, seg_fds(pid))
        a:close(); b:close()
      end)
    end)
  end

  it("refuse a control page that lies, reading nothing it does not cover", function()
    local MAGIC = 0x3147455344494152
    local function raw(size, filled, data, magic)
      local ctl = string.pack("<I8I8I8", magic or MAGIC, size, filled)
      return "raw:" .. ctl .. ("\0"):rep(4096 - #ctl) .. data
    end
    local MSG = "\2\1\16\0\5" -- T_SEG 0, length 5
    assert.equal("hello", core._seg_loads(MSG, raw(5, 5, "hello")))
    local err = helpers.raises(errors.OSError, core._seg_loads, MSG,
                               raw(5, 6, "hello"))
    helpers.message_has(err, "control page")
    err = helpers.raises(errors.OSError, core._seg_loads, MSG,
                         raw(4, 4, "hello"))
    helpers.message_has(err, "control page")
    err = helpers.raises(errors.OSError, core._seg_loads, MSG,
                         raw(5, 5, "hello", 1))
    helpers.message_has(err, "control page")
    -- a sender that let go before it filled everything: an error, at once
    err = helpers.raises(errors.OSError, core._seg_loads, MSG,
                         raw(5, 3, "hello"))
    helpers.message_has(err, "gave up")
    -- too small for its control page: no segment at all
    err = helpers.raises(errors.ValueError, core._seg_loads, MSG,
                         "raw:" .. ("\0"):rep(4095))
    helpers.message_has(err, "segment length does not match")
  end)
end)

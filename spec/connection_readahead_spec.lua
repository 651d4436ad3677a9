-- Connection read-ahead (issue 13, item 4): a Connection with
-- `readahead = true` takes what its socket holds when it reads a header,
-- so a small message's header and body come in one system call (a
-- manager's connections read ahead). The bytes it took for later messages
-- are data for everything that asks: recv, poll(), connection.wait(),
-- and the receiver of the Connection when it travels to a thread (the
-- same Connection) or to a process of any start method (a copy of them
-- goes with it, as a fork copies the buffer).
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local connection = require "braid.multiprocessing.connection"
local threading = require "braid.threading"
local core = require "braid.core"

local METHODS = helpers.start_methods()
local T = 60 -- every wait is bounded by this (seconds)

-- A Pipe whose reading end has read ahead: 'first' taken, the frames of
-- 'rest' (sent with it, so one read took them all) left in its buffer.
local function buffered_pipe(first, rest)
  local r, w = mp.Pipe()
  r.readahead = true
  w:send_bytes(first)
  for _, m in ipairs(rest) do w:send_bytes(m) end
  assert.equal(first, r:recv_bytes())
  local want = 0
  for _, m in ipairs(rest) do want = want + 4 + #m end
  assert.equal(want, r.buffered) -- the socket holds nothing more
  return r, w
end

describe("Connection read-ahead", function()
  it("is off by default, settable, and reads messages in order", function()
    local r, w = mp.Pipe()
    assert.is_false(r.readahead)
    assert.equal(0, r.buffered)
    r.readahead = true
    assert.is_true(r.readahead)
    local sizes = { 0, 1, 7, 4090, 4092, 4096, 5000, 200000, 3 }
    local t = threading.Thread{ target = function(c, s)
      for i, n in ipairs(s) do c:send_bytes(string.rep(string.char(65 + i), n)) end
      c:send({ done = true, n = #s })
    end, args = { w, sizes } }
    t:start()
    for i, n in ipairs(sizes) do
      assert.equal(string.rep(string.char(65 + i), n), r:recv_bytes())
    end
    assert.same({ done = true, n = #sizes }, r:recv())
    t:join(T)
    r.readahead = false
    assert.is_false(r.readahead)
  end)

  it("poll() and connection.wait() see bytes already read ahead at once", function()
    local r, w = buffered_pipe("one", { "two", "three" })
    local t0 = core.monotonic()
    assert.is_true(r:poll())        -- no timeout: the socket is empty
    assert.is_true(r:poll(T))
    local other_r, other_w = mp.Pipe()
    local ready = connection.wait({ other_r, r }, T)
    assert.equal(1, #ready)
    assert.equal(r, ready[1])
    other_w:send_bytes("x") -- both ready: both listed, in the given order
    ready = connection.wait({ other_r, r }, T)
    assert.equal(2, #ready)
    assert.equal(other_r, ready[1])
    assert.equal(r, ready[2])
    assert.is_true(core.monotonic() - t0 < T / 2)
    assert.equal("two", r:recv_bytes())
    assert.equal("three", r:recv_bytes())
    assert.equal(0, r.buffered)
    assert.is_false(r:poll())
    w:close()
    assert.is_true(r:poll(T)) -- end of file
  end)

  it("recv_bytes_into takes a message read ahead", function()
    local r = buffered_pipe("a", { "hello", "world!" })
    local arr = mp.Array("b", 8)
    assert.equal(5, r:recv_bytes_into(arr))
    assert.equal(string.byte("h"), arr[1])
    assert.equal(6, r:recv_bytes_into(arr, 2))
    assert.equal(string.byte("w"), arr[3])
  end)

  it("a thread given the Connection reads what was read ahead", function()
    local r, w = buffered_pipe("first", { "second", "third" })
    local back_r, back_w = mp.Pipe(false)
    local t = threading.Thread{ target = function(c, back)
      local out = { c.buffered, c:recv_bytes(), c:recv_bytes() }
      out[4] = c:poll(60) and c:recv_bytes()
      back:send(out)
    end, args = { r, back_w } }
    t:start()
    w:send_bytes("fourth") -- after the buffered ones, in the socket
    assert.is_true(back_r:poll(T))
    assert.same({ 4 + 6 + 4 + 5, "second", "third", "fourth" }, back_r:recv())
    t:join(T)
    assert.equal(0, r.buffered) -- one Connection: the thread took them
    assert.is_false(r:poll())
  end)

  for _, method in ipairs(METHODS) do
    describe("with " .. method, function()
      local ctx = mp.get_context(method)

      it("a process started with the Connection reads what was read ahead", function()
        local r, w = buffered_pipe("first", { "second", "third" })
        local back_r, back_w = ctx.Pipe(false)
        local p = ctx.Process{ daemon = true, target = function(c, back)
          local out = { c.buffered, c:recv_bytes(), c:recv_bytes() }
          out[4] = c:poll(60) and c:recv_bytes()
          back:send(out)
        end, args = { r, back_w } }
        p:start()
        -- a copy went with it (fork copies the buffer, the other methods
        -- send it): this end keeps its own and reads nothing from now on
        assert.equal(4 + 6 + 4 + 5, r.buffered)
        w:send_bytes("fourth")
        assert.is_true(back_r:poll(T))
        local out = back_r:recv()
        assert.same({ 4 + 6 + 4 + 5, "second", "third", "fourth" }, out)
        p:join(T)
        assert.equal(0, p.exitcode)
      end)

      it("a Connection sent through a Pipe takes its read-ahead bytes along", function()
        local r, w = buffered_pipe("first", { "second" })
        local a, b = ctx.Pipe()
        local p = ctx.Process{ daemon = true, target = function(conn)
          local c = conn:recv()
          local out = { c.readahead, c.buffered, c:recv_bytes() }
          out[4] = c:poll(60) and c:recv_bytes()
          conn:send(out)
          assert(conn:recv() == "bye")
        end, args = { b } }
        p:start()
        a:send(r)
        assert.equal(4 + 6, r.buffered) -- this end keeps its copy
        w:send_bytes("third")
        assert.is_true(a:poll(T))
        assert.same({ true, 4 + 6, "second", "third" }, a:recv())
        a:send("bye")
        p:join(T)
        assert.equal(0, p.exitcode)
      end)
    end)
  end
end)

describe("a message of several values (the manager's wire)", function()
  it("_sendv/_recvv carry any number of values, nils included", function()
    local a, b = mp.Pipe()
    local t = { x = 1 }
    a:_sendv(1, nil, "two", t, t, 5, 6, 7, 8, 9, nil)
    local r = table.pack(b:_recvv())
    assert.equal(11, r.n)
    assert.same({ 1, nil, "two", { x = 1 } }, { r[1], r[2], r[3], r[4] })
    assert.equal(r[4], r[5]) -- one table, shared as it was
    assert.equal(9, r[10])
    a:_sendv("first", "second")
    assert.equal("first", b:recv()) -- recv gives a message's first value
    b:_sendv(42)
    assert.same({ 42 }, { a:_recvv() })
    assert.has_error(function() a:_sendv(function() end, coroutine.create(print)) end)
    b:_sendv("still in step")
    assert.equal("still in step", a:recv())
  end)
end)

describe("a manager's connections read ahead", function()
  it("requests a client sent back to back are all answered", function()
    -- the server reads the requests in one read: the others wait in its
    -- connection's buffer, which its poll does not see (without the loop
    -- serving the buffer, the second is never answered)
    local m <close> = mp.Manager()
    local d = m:dict()
    d.x = 1
    local c = connection.Client(m._address, nil, m._authkey)
    -- the wire (mgrserver.lua): a request is `id, method, drops, nargs,
    -- args...`, an answer `true, results...`
    for round = 1, 20 do
      c:_sendv(0, "dummy", nil, 0)
      c:_sendv(0, "number_of_objects", nil, 0)
      c:_sendv(0, "dummy", nil, 0)
      for k = 1, 3 do
        assert.is_true(c:poll(10), "answer " .. k .. " of round " .. round)
        local ok, n = c:_recvv()
        assert.is_true(ok)
        if k == 2 then assert.equal(1, n) end
      end
    end
    c:close()
    assert.equal(1, d.x)
  end)
end)

-- A Pipe's frames may carry descriptors (big strings out of line: the
-- segments of docs/HACKING.md). A reading-ahead end must keep each set
-- with its own message, however the reads fall: small and big messages
-- interleaved, sent before the reader reads (one read could take many).
describe("Connection read-ahead with out-of-line segments", function()
  it("keeps every message's segments with it, and leaves none open", function()
    local old = core._seg_min(1024)
    local ok, err = pcall(function()
      local r, w = mp.Pipe()
      r.readahead = true
      local sent = {}
      for i = 1, 12 do
        local big = string.rep(string.char(64 + i), 1024 * i)
        if i % 3 == 0 then
          sent[#sent + 1] = { "bytes", big }
          w:send_bytes(big)
        elseif i % 3 == 1 then
          sent[#sent + 1] = { "obj", { i, big, "small" .. i, { big } } }
          w:send(sent[#sent][2])
        else
          sent[#sent + 1] = { "obj", "small" .. i }
          w:send("small" .. i)
        end
      end
      for _, m in ipairs(sent) do
        if m[1] == "bytes" then
          assert.equal(m[2], r:recv_bytes())
        else
          assert.same(m[2], r:recv())
        end
      end
      assert.equal(0, r.buffered)
      r:close(); w:close()
    end)
    core._seg_min(old)
    assert(ok, err)
    collectgarbage(); collectgarbage()
    assert.equal(0, helpers.seg_fds())
  end)

  it("refuses to send a Connection holding a message's descriptors", function()
    local old = core._seg_min(1024)
    local ok, err = pcall(function()
      local r, w = mp.Pipe()
      r.readahead = true
      w:send("a")
      w:send(string.rep("z", 4096)) -- out of line: its header carries a memfd
      assert.equal("a", r:recv())
      -- the read that took "a" stopped after the next header, which came
      -- with its memfd (the kernel ends a read after descriptors)
      assert.equal(4, r.buffered)
      local q = mp.Queue()
      local sent, e = pcall(q.put, q, r)
      q:close()
      assert.is_false(sent)
      assert.matches("descriptors", tostring(e))
      assert.equal(string.rep("z", 4096), r:recv())
      r:close(); w:close()
    end)
    core._seg_min(old)
    assert(ok, err)
  end)
end)

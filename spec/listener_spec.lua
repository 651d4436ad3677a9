-- multiprocessing.connection: Listener and Client (AF_INET, AF_UNIX,
-- abstract names), authentication, Python's framing, the safety of
-- unauthenticated connections and the errors. Peers run in braid threads
-- (their own states); every wait is bounded (a Listener is waited on with
-- connection.wait before accept).
local helpers = require "helpers"
local errors = require "braid.errors"
local core = require "braid.core"
local connection = require "braid.multiprocessing.connection"
local threading = require "braid.threading"
local queue = require "braid.queue"

local T = 30 -- seconds: the bound of every wait

-- Starts fn(...) in a braid thread; returns a join that asserts it ended.
local function peer(fn, ...)
  local t = threading.Thread{ target = fn, args = table.pack(...) }
  t:start()
  return function()
    t:join(T)
    assert(not t:is_alive(), "peer thread did not finish within " .. T .. " s")
  end
end

-- accept() once a peer is waiting (bounded).
local function accept(l)
  local ready = connection.wait({ l }, T)
  assert(#ready == 1, "no peer connected within " .. T .. " s")
  return l:accept()
end

-- A fresh private path prefix, without a shell (the TSan pass preloads a
-- runtime that a shell does not survive): os.tmpname's file (mkstemp),
-- whose name the caller extends; remove(prefix) when done.
local function tmpprefix()
  return os.tmpname()
end

-- What is at 'path', without a shell: "missing", "socket" (which open()
-- refuses with ENXIO) or "file".
local function kind(path)
  local f, msg = io.open(path, "r")
  if f then f:close() return "file" end
  if msg:find("No such file", 1, true) then return "missing" end
  if msg:find("No such device", 1, true) then return "socket" end
  return msg
end

describe("connection.Listener / Client", function()
  it("AF_INET on port 0: the bound address, accept, last_accepted, values and bytes", function()
    local l <close> = connection.Listener({ "127.0.0.1", 0 })
    assert.equal("127.0.0.1", l.address[1])
    assert.is_true(math.type(l.address[2]) == "integer" and l.address[2] > 0)
    local join = peer(function(addr, big)
      local connection = require "braid.multiprocessing.connection"
      local c <close> = connection.Client(addr)
      c:send({ 1, 2, x = "y", nested = { true } })
      c:send_bytes("small")
      c:send_bytes(big)
      c:send_bytes("0123456789", 2, 3)
      assert(c:recv() == "reply")
    end, l.address, string.rep("ab", 40000))
    local c <close> = accept(l)
    assert.equal("127.0.0.1", l.last_accepted[1])
    assert.is_true(l.last_accepted[2] > 0)
    assert.same({ 1, 2, x = "y", nested = { true } }, c:recv())
    assert.is_true(c:poll(T))
    assert.equal("small", c:recv_bytes())
    assert.equal(string.rep("ab", 40000), c:recv_bytes())
    assert.equal("234", c:recv_bytes())
    c:send("reply")
    join()
    helpers.raises(errors.EOFError, c.recv, c)
  end)

  it("takes the named-table form and the host name 'localhost'", function()
    local l <close> = connection.Listener{ address = { "localhost", 0 }, backlog = 4 }
    local join = peer(function(port)
      local connection = require "braid.multiprocessing.connection"
      local c = connection.Client{ address = { "localhost", port }, family = "AF_INET" }
      c:send_bytes("hello")
      c:close()
    end, l.address[2])
    local c <close> = accept(l)
    assert.equal("hello", c:recv_bytes())
    join()
  end)

  it("AF_UNIX on a path: the file goes when the listener closes", function()
    local prefix = tmpprefix()
    local path = prefix .. ".sock"
    local l = connection.Listener(path)
    assert.equal(path, l.address)
    assert.equal("socket", kind(path))
    local join = peer(function(p)
      local connection = require "braid.multiprocessing.connection"
      local c = connection.Client(p)
      c:send("over unix")
      c:close()
    end, path)
    local c = accept(l)
    assert.equal("", l.last_accepted) -- an unnamed client socket
    assert.equal("over unix", c:recv())
    c:close()
    join()
    l:close()
    l:close() -- idempotent
    assert.equal("missing", kind(path))
    os.remove(prefix)
  end)

  it("AF_UNIX in the abstract namespace (a name starting with \\0)", function()
    local name = "\0braid-spec-" .. core.getpid() .. "-" .. math.random(1 << 30)
    local l <close> = connection.Listener(name)
    assert.equal(name, l.address)
    assert.equal("AF_UNIX", connection.address_type(l.address))
    local join = peer(function(n)
      local connection = require "braid.multiprocessing.connection"
      local c = connection.Client(n, "AF_UNIX")
      c:send_bytes("abstract")
      c:close()
    end, name)
    local c <close> = accept(l)
    assert.equal("abstract", c:recv_bytes())
    join()
  end)

  it("Listener() with no address listens on a fresh AF_UNIX path", function()
    local l = connection.Listener()
    assert.equal("string", type(l.address))
    assert.equal("socket", kind(l.address))
    local path = l.address
    l:close()
    assert.equal("missing", kind(path))
    local a = connection.arbitrary_address("AF_INET")
    assert.same({ "localhost", 0 }, a)
    assert.same({ "AF_INET", "AF_UNIX" }, connection.families)
  end)

  it("authenticates with an authkey in both directions", function()
    local l <close> = connection.Listener({ "127.0.0.1", 0 }, "AF_INET", 1, "s3cret")
    local join = peer(function(addr)
      local connection = require "braid.multiprocessing.connection"
      local c <close> = connection.Client(addr, "AF_INET", "s3cret")
      c:send("authenticated")
    end, l.address)
    local c <close> = accept(l)
    assert.equal("authenticated", c:recv())
    join()
  end)

  it("a wrong key raises AuthenticationError on both sides; no application byte passes", function()
    local l <close> = connection.Listener{ address = { "127.0.0.1", 0 }, authkey = "right" }
    local q = queue.Queue()
    local join = peer(function(addr, q)
      local connection = require "braid.multiprocessing.connection"
      local errors = require "braid.errors"
      local ok, err = pcall(connection.Client, addr, nil, "wrong")
      q:put(not ok and errors.is(errors.classes["multiprocessing.AuthenticationError"], err)
            and tostring(err) or ("unexpected: " .. tostring(err)))
    end, l.address, q)
    local err = helpers.raises(errors.classes["multiprocessing.AuthenticationError"], accept, l)
    helpers.message_has(err, "digest received was wrong")
    local other = q:get(true, T)
    assert.is_truthy(other:find("AuthenticationError", 1, true), other)
    assert.is_truthy(other:find("digest sent was rejected", 1, true), other)
    join()
  end)

  it("a Client without a key fails against a Listener with one, and the other way round", function()
    local l <close> = connection.Listener({ "127.0.0.1", 0 }, nil, nil, "key")
    local join = peer(function(addr)
      local connection = require "braid.multiprocessing.connection"
      local c = connection.Client(addr)
      -- the listener's challenge arrives as data; answer with junk
      c:send_bytes("not a response")
      pcall(c.recv_bytes, c)
      c:close()
    end, l.address)
    helpers.raises(errors.classes["multiprocessing.AuthenticationError"], accept, l)
    join()
    local l2 <close> = connection.Listener({ "127.0.0.1", 0 })
    local join2 = peer(function(addr)
      local connection = require "braid.multiprocessing.connection"
      local errors = require "braid.errors"
      local ok, err = pcall(connection.Client, addr, nil, "key")
      -- the listener speaks no challenge: it sends plain data
      assert(not ok and errors.is(errors.classes["multiprocessing.AuthenticationError"], err),
             tostring(err))
    end, l2.address)
    local c <close> = accept(l2)
    c:send_bytes("hello, no challenge")
    join2()
  end)

  it("deliver_challenge / answer_challenge over a Pipe", function()
    local a, b = connection.Pipe()
    local join = peer(function(c)
      local connection = require "braid.multiprocessing.connection"
      connection.answer_challenge(c, "k")
      connection.deliver_challenge(c, "k")
      c:send("after")
    end, b)
    connection.deliver_challenge(a, "k")
    connection.answer_challenge(a, "k")
    assert.equal("after", a:recv())
    join()
    helpers.raises(errors.ValueError, connection.deliver_challenge, a, 42)
    helpers.raises(errors.ValueError, connection.deliver_challenge, a, "k", "sha1")
    -- another digest Python allows: the answer uses the challenge's
    for _, digest in ipairs({ "sha384", "sha3_256", "md5" }) do
      local join2 = peer(function(c)
        require("braid.multiprocessing.connection").answer_challenge(c, "k2")
      end, b)
      connection.deliver_challenge(a, "k2", digest)
      join2()
    end
  end)

  describe("safety of unauthenticated connections", function()
    -- Sends 'v' from a Client without a key to a Listener made with 'opts';
    -- returns pcall(recv) on the accepted connection (after 'setup(c)').
    local function exchange(opts, v, setup, key)
      opts.address = { "127.0.0.1", 0 }
      opts.authkey = key
      local l <close> = connection.Listener(opts)
      local join = peer(function(addr, v, key)
        local connection = require "braid.multiprocessing.connection"
        local c <close> = connection.Client(addr, nil, key)
        c:send(v)
        c:send("next")
      end, l.address, v, key)
      local c <close> = accept(l)
      if setup then setup(c) end
      local r = table.pack(pcall(c.recv, c))
      join()
      -- the stream stays in step: the next message reads
      assert.equal("next", c:recv())
      return table.unpack(r, 1, r.n)
    end

    it("a Lua function arrives as a ValueError naming its path", function()
      local ok, err = exchange({}, { a = { 1, function() return 42 end } })
      assert.is_false(ok)
      assert.is_true(errors.is(errors.ValueError, err), tostring(err))
      helpers.message_has(err, "obj.a[2] is a Lua function")
      ok, err = exchange({}, { ["not an ident"] = print })
      assert.is_false(ok)
      helpers.message_has(err, 'obj["not an ident"] is a value by name')
      ok, err = exchange({}, function() end)
      assert.is_false(ok)
      helpers.message_has(err, "obj is a Lua function")
    end)

    it("names a path through deeply nested tables, and the stream stays in step", function()
      local a, b = connection.Pipe()
      a.allow_code = false
      local v = { k = {} }
      local t = v.k
      for _ = 1, 300 do t[1] = {}; t = t[1] end
      t.leaf = function() end
      b:send(v)
      b:send("after")
      local err = helpers.raises(errors.ValueError, a.recv, a)
      helpers.message_has(err, "obj.k[1][1]")
      helpers.message_has(err, ".leaf is a Lua function")
      assert.equal("after", a:recv())
    end)

    it("plain data passes; allow_code opts in (Listener option or connection field)", function()
      local ok, v = exchange({}, { 1, "two", { three = 3.5 }, [true] = false })
      assert.is_true(ok)
      assert.same({ 1, "two", { three = 3.5 }, [true] = false }, v)
      local fn
      ok, fn = exchange({ allow_code = true }, function() return 42 end)
      assert.is_true(ok)
      assert.equal(42, fn())
      ok, fn = exchange({}, function() return 43 end, function(c)
        assert.is_false(c.allow_code)
        c.allow_code = true
      end)
      assert.is_true(ok)
      assert.equal(43, fn())
    end)

    it("an authenticated connection takes code by default", function()
      local ok, fn = exchange({}, function() return 44 end, function(c)
        assert.is_true(c.allow_code)
      end, "key")
      assert.is_true(ok)
      assert.equal(44, fn())
      -- and a Pipe, both of whose ends are this program's
      local a, b = connection.Pipe()
      assert.is_true(a.allow_code)
      b:send(function() return 45 end)
      assert.equal(45, a:recv()())
    end)

    it("maxsize: a longer message raises OSError before it is read", function()
      local l <close> = connection.Listener{ address = { "127.0.0.1", 0 }, maxsize = 1000 }
      local join = peer(function(addr)
        local connection = require "braid.multiprocessing.connection"
        local c <close> = connection.Client(addr)
        c:send_bytes(string.rep("x", 1000))
        c:send_bytes(string.rep("x", 1001))
        pcall(c.recv, c) -- until the listener closes (EOFError)
      end, l.address)
      local c = accept(l)
      assert.equal(1000, c.maxsize)
      assert.equal(1000, #c:recv_bytes())
      local err = helpers.raises(errors.OSError, c.recv_bytes, c)
      helpers.message_has(err, "bad message length")
      -- out of step from here: the connection no longer reads
      helpers.raises(errors.OSError, c.recv_bytes, c)
      c:close()
      join()
      -- recv_bytes(maxlength) does the same (Python's behaviour)
      local a, b = connection.Pipe()
      b:send_bytes("12345")
      helpers.raises(errors.OSError, a.recv_bytes, a, 4)
      helpers.raises(errors.ValueError, function() a.maxsize = -1 end)
      helpers.raises(errors.AttributeError, function() a.closed = true end)
    end)
  end)

  describe("errors", function()
    it("OSError for an address in use, ConnectionRefusedError with no listener", function()
      local l = connection.Listener({ "127.0.0.1", 0 })
      local port = l.address[2]
      local err = helpers.raises(errors.OSError, connection.Listener, { "127.0.0.1", port })
      assert.equal(98, err.errno) -- EADDRINUSE
      l:close()
      err = helpers.raises(errors.ConnectionRefusedError, connection.Client,
                           { "127.0.0.1", port })
      assert.is_true(errors.is(errors.ConnectionError, err))
      assert.is_true(errors.is(errors.OSError, err))
      helpers.raises(errors.FileNotFoundError, connection.Client,
                     "/nonexistent-dir-braid/sock")
    end)

    it("ValueError for an unknown family or a bad address", function()
      helpers.raises(errors.ValueError, connection.Listener, "x", "AF_PIPE")
      helpers.raises(errors.ValueError, connection.Client, "x", "AF_INET6")
      helpers.raises(errors.ValueError, connection.Listener, 42)
      helpers.raises(errors.ValueError, connection.Listener, { "127.0.0.1", "port" })
      helpers.raises(errors.ValueError, connection.Listener, { "127.0.0.1", 70000 })
      helpers.raises(errors.ValueError, connection.Listener, "", "AF_UNIX")
      helpers.raises(errors.ValueError, connection.Listener, string.rep("a", 200))
      helpers.raises(errors.ValueError, connection.Listener, { "127.0.0.1", 0 }, "AF_UNIX")
      helpers.raises(errors.TypeError, connection.Listener, { "127.0.0.1", 0 }, nil, nil, 42)
      helpers.raises(errors.ValueError, connection.arbitrary_address, "AF_X")
      helpers.raises(errors.OSError, connection.Client, { "no-such-host.invalid", 1 })
    end)

    it("Ctrl-C ends a Client blocked in connect (a listener whose backlog is full)", function()
      local host = os.getenv("BRAID_HOST") or "build/bin/braid"
      if host == "none" then
        pending("skipped: no braid host program in this pass")
        return
      end
      local prefix = tmpprefix()
      local script = prefix .. ".lua"
      local f = assert(io.open(script, "w"))
      -- backlog 0 takes one pending connection; the next SYNs are dropped,
      -- so the following connect waits (the kernel retries for minutes)
      f:write([[
        local c = require "braid.multiprocessing.connection"
        local l = c.Listener({ "127.0.0.1", 0 }, nil, 0)
        local keep = {}
        for i = 1, 10 do
          local ok, e = pcall(c.Client, l.address)
          if not ok then print("raised " .. tostring(e)) os.exit(0) end
          keep[i] = e
        end
        print("never blocked")
      ]])
      f:close()
      local t0 = helpers.now()
      -- SIGINT after 2 s; KILL at 60 s bounds the wait if it is ignored
      local p = io.popen(("timeout -k 58 -s INT 2 %s %s 2>&1; echo exit=$?")
                         :format(host, script))
      local out = p:read("a")
      p:close()
      local took = helpers.now() - t0
      os.remove(script)
      os.remove(prefix)
      if out:find("never blocked", 1, true) then
        pending("skipped: connects never blocked here (" .. out .. ")")
        return
      end
      assert.is_truthy(out:find("raised KeyboardInterrupt", 1, true), out)
      -- promptly: not when the kernel gives up on the connect (~2 min)
      assert.is_true(took < 30, ("took %.1f s"):format(took))
    end)

    it("EOFError at the end, BrokenPipeError to a closed peer, OSError after close()", function()
      local l <close> = connection.Listener({ "127.0.0.1", 0 })
      local join = peer(function(addr)
        local connection = require "braid.multiprocessing.connection"
        local c = connection.Client(addr)
        c:close()
      end, l.address)
      local c = accept(l)
      join()
      helpers.raises(errors.EOFError, c.recv_bytes, c)
      -- the peer is gone: a write fails once the reset arrives
      local err
      for _ = 1, 100 do
        local ok, e = pcall(c.send_bytes, c, string.rep("x", 65536))
        if not ok then err = e break end
      end
      assert.is_truthy(err, "send to a closed peer never failed")
      assert.is_true(errors.is(errors.BrokenPipeError, err)
                     or errors.is(errors.ConnectionResetError, err), tostring(err))
      c:close()
      helpers.raises(errors.OSError, c.send, c, 1)
      helpers.raises(errors.OSError, c.recv, c)
      l:close()
      helpers.raises(errors.OSError, l.accept, l)
    end)
  end)
end)

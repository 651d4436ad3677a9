-- Interoperability of Listener/Client with Python's own
-- multiprocessing.connection: Debian's /usr/bin/python3 (3.11: the legacy
-- HMAC-MD5 answer natively; the 3.12 {sha256} exchange performed by the
-- script itself with Python's hmac module) on the other side, both
-- directions, a wrong key, small and > 64 KiB payloads, a hostile length.
-- Every wait is bounded: Python runs under `timeout`, a Listener is
-- waited on before accept.
local helpers = require "helpers"
local errors = require "braid.errors"
local connection = require "braid.multiprocessing.connection"
local threading = require "braid.threading"
local queue = require "braid.queue"

local PY = "/usr/bin/python3"
-- the peer runs without the sanitizer a spec pass may preload into braid
local PYRUN = "env -u LD_PRELOAD " .. PY
local T = 30
local AuthError = errors.classes["multiprocessing.AuthenticationError"]

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The Python side's helpers: the CPython 3.12 exchange over a Connection
-- (so the spec checks braid against the {sha256} protocol even with 3.11).
local PRELUDE = [[
import hmac, os, sys, struct, socket
from multiprocessing.connection import Client, Listener
CH, WE, FA = b'#CHALLENGE#', b'#WELCOME#', b'#FAILURE#'
def deliver312(c, key):
    msg = b'{sha256}' + os.urandom(40)
    c.send_bytes(CH + msg)
    r = c.recv_bytes(256)
    ok = (r.startswith(b'{sha256}') and
          hmac.compare_digest(r[8:], hmac.new(key, msg, 'sha256').digest()))
    c.send_bytes(WE if ok else FA)
    if not ok: raise SystemExit('sha256 response rejected: %r' % r)
def answer312(c, key):
    m = c.recv_bytes(256)
    assert m.startswith(CH + b'{sha256}'), m
    m = m[len(CH):]
    c.send_bytes(b'{sha256}' + hmac.new(key, m, 'sha256').digest())
    w = c.recv_bytes(256)
    if w != WE: raise SystemExit('rejected: %r' % w)
def report(*a):
    print(*a, flush=True)
]]

local dir
local function script(name, body)
  local p = dir .. "/" .. name .. ".py"
  local f = assert(io.open(p, "w"))
  f:write(PRELUDE, body)
  f:close()
  return p
end

-- Runs a Python script (args appended) in a braid thread; returns a
-- function that waits (bounded) and returns its output and exit status.
local function run_python(path, ...)
  local cmd = ("timeout %d %s %s %s 2>&1; echo \"exit=$?\""):format(
    T, PYRUN, path, table.concat({ ... }, " "))
  local q = queue.Queue()
  local t = threading.Thread{ target = function(cmd, q)
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    q:put(out)
  end, args = { cmd, q } }
  t:start()
  return function()
    local out = q:get(true, T + 10)
    t:join(T)
    return out
  end
end

local function accept(l)
  assert(#connection.wait({ l }, T) == 1, "Python did not connect within " .. T .. " s")
  return l:accept()
end

local BIG = string.rep("0123456789abcdef", 5000) -- 80,000 bytes

-- the TSan pass preloads a runtime that a shell does not survive
local why = not exists(PY) and "/usr/bin/python3 is not installed"
  or os.execute("true") ~= true and "no shell to run python3 in this pass"
if why then
  describe("Listener/Client with Python", function()
    it("needs /usr/bin/python3 and a shell", function()
      pending("skipped: " .. why)
    end)
  end)
  return
end

describe("Listener/Client with Python's multiprocessing.connection", function()
  setup(function()
    local p = io.popen("mktemp -d /tmp/braid-pyinterop-XXXXXX")
    dir = p:read("l")
    p:close()
  end)
  teardown(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("a Python Client (legacy HMAC-MD5) to a braid Listener, small and big payloads", function()
    local py = script("client_md5", [[
port = int(sys.argv[1])
c = Client(('127.0.0.1', port), authkey=b'the key')
c.send_bytes(b'hello from python')
c.send_bytes(b'0123456789abcdef' * 5000)
r = c.recv_bytes()
report('got', len(r), r[:6].decode())
r = c.recv_bytes()
report('small', r.decode())
c.close()
]])
    local l <close> = connection.Listener({ "127.0.0.1", 0 }, nil, nil, "the key")
    local done = run_python(py, l.address[2])
    local c <close> = accept(l)
    assert.equal("hello from python", c:recv_bytes())
    assert.equal(BIG, c:recv_bytes())
    c:send_bytes(string.rep("z", 70000))
    c:send_bytes("bye")
    local out = done()
    assert.is_truthy(out:find("got 70000 zzzzzz", 1, true), out)
    assert.is_truthy(out:find("small bye", 1, true), out)
    assert.is_truthy(out:find("exit=0", 1, true), out)
    helpers.raises(errors.EOFError, c.recv_bytes, c)
  end)

  it("a braid Client to a Python Listener (legacy HMAC-MD5)", function()
    local py = script("listener_md5", [[
l = Listener(('127.0.0.1', 0), authkey=b'k2')
report('port', l.address[1])
c = l.accept()
while True:
    try:
        m = c.recv_bytes()
    except EOFError:
        break
    c.send_bytes(b'echo:' + m)
report('done')
]])
    local p = io.popen(("timeout %d %s %s 2>&1"):format(T, PYRUN, py))
    local port = tonumber(p:read("l"):match("port (%d+)"))
    local c = connection.Client({ "127.0.0.1", port }, "AF_INET", "k2")
    c:send_bytes("ping")
    assert.equal("echo:ping", c:recv_bytes())
    c:send_bytes(BIG)
    assert.equal("echo:" .. BIG, c:recv_bytes())
    c:close()
    local rest = p:read("a")
    p:close()
    assert.is_truthy(rest:find("done", 1, true), rest)
  end)

  it("the CPython 3.12 {sha256} exchange, both directions", function()
    -- Python serves: deliver then answer, as Listener.accept does
    local server = script("listener_sha", [[
s = Listener(('127.0.0.1', 0))
report('port', s.address[1])
c = s.accept()
deliver312(c, b'k3')
answer312(c, b'k3')
c.send_bytes(c.recv_bytes() + b'/sha256 ok')
report('served')
]])
    local p = io.popen(("timeout %d %s %s 2>&1"):format(T, PYRUN, server))
    local port = tonumber(p:read("l"):match("port (%d+)"))
    local c <close> = connection.Client({ "127.0.0.1", port }, nil, "k3")
    c:send_bytes("braid")
    assert.equal("braid/sha256 ok", c:recv_bytes())
    local rest = p:read("a")
    p:close()
    assert.is_truthy(rest:find("served", 1, true), rest)
    -- Python connects: answer then deliver, as Client does
    local client = script("client_sha", [[
c = Client(('127.0.0.1', int(sys.argv[1])))
answer312(c, b'k4')
deliver312(c, b'k4')
c.send_bytes(b'x' * 100000)
report('reply', c.recv_bytes().decode())
]])
    local l <close> = connection.Listener({ "127.0.0.1", 0 }, nil, nil, "k4")
    local done = run_python(client, l.address[2])
    local s <close> = accept(l)
    assert.equal(string.rep("x", 100000), s:recv_bytes())
    s:send_bytes("fine")
    local out = done()
    assert.is_truthy(out:find("reply fine", 1, true), out)
    assert.is_truthy(out:find("exit=0", 1, true), out)
  end)

  it("a wrong key: AuthenticationError on both sides, each direction", function()
    local client = script("client_wrong", [[
from multiprocessing import AuthenticationError
try:
    c = Client(('127.0.0.1', int(sys.argv[1])), authkey=b'wrong')
    c.send_bytes(b'should never arrive')
    report('no error')
except AuthenticationError as e:
    report('AuthenticationError', e)
]])
    local l <close> = connection.Listener({ "127.0.0.1", 0 }, nil, nil, "right")
    local done = run_python(client, l.address[2])
    helpers.raises(AuthError, accept, l)
    local out = done()
    assert.is_truthy(out:find("AuthenticationError", 1, true), out)
    assert.is_falsy(out:find("no error", 1, true), out)

    local server = script("listener_wrong", [[
from multiprocessing import AuthenticationError
s = Listener(('127.0.0.1', 0), authkey=b'right')
report('port', s.address[1])
try:
    c = s.accept()
    report('accepted', c.recv_bytes())
except AuthenticationError as e:
    report('AuthenticationError', e)
]])
    local p = io.popen(("timeout %d %s %s 2>&1"):format(T, PYRUN, server))
    local port = tonumber(p:read("l"):match("port (%d+)"))
    local err = helpers.raises(AuthError, connection.Client, { "127.0.0.1", port }, nil, "wrong")
    helpers.message_has(err, "digest")
    local rest = p:read("a")
    p:close()
    assert.is_truthy(rest:find("AuthenticationError", 1, true), rest)
    assert.is_falsy(rest:find("accepted", 1, true), rest)
  end)

  it("a hostile length (the 8-byte form, 2^40) raises OSError before allocating", function()
    local py = script("hostile", [[
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.sendall(struct.pack('!iQ', -1, 1 << 40))
s.recv(1)  # until braid closes
report('closed')
]])
    local l <close> = connection.Listener{ address = { "127.0.0.1", 0 }, maxsize = 1 << 20 }
    local done = run_python(py, l.address[2])
    local c = accept(l)
    local err = helpers.raises(errors.OSError, c.recv_bytes, c)
    helpers.message_has(err, "bad message length")
    c:close()
    assert.is_truthy(done():find("closed", 1, true))
  end)

  it("a body cut short (the peer closes mid-message) raises EOFError", function()
    -- 100,000 bytes announced, 60,000 sent: the body is being read into
    -- the block its string would have taken (recv_in_place_spec.lua),
    -- which must be freed, not handed to Lua half-filled
    local py = script("truncated", [[
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.sendall(struct.pack('!i', 100000) + b'y' * 60000)
s.close()
report('sent')
]])
    local core = require "braid.core"
    local l <close> = connection.Listener{ address = { "127.0.0.1", 0 } }
    local done = run_python(py, l.address[2])
    local c <close> = accept(l)
    local _, _, in0 = core._seg_count()
    local err = helpers.raises(errors.EOFError, c.recv_bytes, c)
    helpers.message_has(err, "truncated")
    local _, _, in1 = core._seg_count()
    assert.equal(in0, in1)
    assert.is_truthy(done():find("sent", 1, true))
  end)
end)

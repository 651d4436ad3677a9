-- Listener/Client workloads for bench/run.lua, over TCP on 127.0.0.1 with
-- an authkey, the peer a forked braid process (as Python's baseline,
-- bench/py_listener.py, uses a process): a send_bytes stream of 20,000
-- messages of 64 KiB (MB/s: 1.3 GB, long enough to measure the steady
-- rate rather than the first milliseconds of a connection) and a 1-byte
-- send_bytes/recv_bytes ping-pong (µs per round trip). Each returns
-- (units, seconds).
local mp = require "braid.multiprocessing"
local connection = require "braid.multiprocessing.connection"
local core = require "braid.core"
local M = {}

local KEY = "bench key"

-- Runs 'peer(conn, ...)' in a forked process connected to a new
-- Listener; returns the accepted connection and a join function.
local function with_peer(peer, ...)
  local l = connection.Listener({ "127.0.0.1", 0 }, "AF_INET", 1, KEY)
  local p = mp.get_context("fork").Process{ target = function(addr, key, f, ...)
    local c = require("braid.multiprocessing.connection").Client(addr, nil, key)
    f(c, ...)
    c:close()
  end, args = table.pack(l.address, KEY, peer, ...) }
  p:start()
  local c = l:accept()
  return c, function() c:close(); p:join(); l:close() end
end

function M.stream(n, size)
  n, size = n or 20000, size or 65536
  local c, join = with_peer(function(c, n, size)
    local buf = string.rep("x", size)
    for _ = 1, n do c:send_bytes(buf) end
    c:recv_bytes() -- the reader's "done"
  end, n, size)
  local t0 = core.monotonic()
  local total = 0
  for _ = 1, n do total = total + #c:recv_bytes() end
  local dt = core.monotonic() - t0
  c:send_bytes("done")
  join()
  return total / 1e6, dt -- MB
end

function M.pingpong(n)
  n = n or 20000
  local c, join = with_peer(function(c, n)
    for _ = 1, n do c:send_bytes(c:recv_bytes()) end
  end, n)
  local t0 = core.monotonic()
  for _ = 1, n do
    c:send_bytes("p")
    c:recv_bytes()
  end
  local dt = core.monotonic() - t0
  join()
  return n, dt
end

if arg and arg[0] and arg[0]:match("listener_bench%.lua$") then
  local mb, dt = M.stream()
  print(("stream %10.1f MB/s"):format(mb / dt))
  local n, dt2 = M.pingpong()
  print(("pingpong %10.2f us"):format(dt2 / n * 1e6))
end
return M

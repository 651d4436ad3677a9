-- examples/listener_client.lua: a server Listener with an authkey; worker
-- processes connect with Client, authenticate, and report results; the
-- server serves them all at once with connection.wait over the listener
-- and the accepted connections. Then the safety default: a peer without
-- an authkey cannot make the server load code.
--   build/bin/braid examples/listener_client.lua [--quick]
-- A Python program can be a worker too (same framing and handshake):
--   from multiprocessing.connection import Client
--   c = Client(('127.0.0.1', PORT), authkey=b'example key'); c.send_bytes(b'hi')
local mp = require "braid.multiprocessing"
local connection = require "braid.multiprocessing.connection"
local errors = require "braid.errors"

local quick = arg and arg[1] == "--quick"
local WORKERS = quick and 3 or 8
local KEY = "example key"

local function worker(addr, key, id)
  local connection = require "braid.multiprocessing.connection"
  local c <close> = connection.Client(addr, nil, key)
  local sum = 0
  for i = 1, 100000 * id do sum = sum + i % 7 end
  c:send({ id = id, sum = sum })
  c:send_bytes(("worker %d done"):format(id))
end

local server <close> = connection.Listener({ "127.0.0.1", 0 }, "AF_INET", 8, KEY)
print(("listening on %s:%d"):format(server.address[1], server.address[2]))
local procs = {}
for id = 1, WORKERS do
  procs[id] = mp.Process{ target = worker, args = { server.address, KEY, id } }
  procs[id]:start()
end

local open, results, finished = {}, {}, 0
while finished < WORKERS do
  local watch = { server }
  for c in pairs(open) do watch[#watch + 1] = c end
  local ready = connection.wait(watch, 60)
  assert(#ready > 0, "nothing happened for 60 s")
  for _, obj in ipairs(ready) do
    if obj == server then
      open[server:accept()] = "record" -- authenticated by accept
    elseif open[obj] == "record" then
      local r = obj:recv()
      results[r.id] = r.sum
      open[obj] = "bytes"
    else
      print(obj:recv_bytes())
      obj:close()
      open[obj] = nil
      finished = finished + 1
    end
  end
end
for _, p in ipairs(procs) do p:join() end
for id = 1, WORKERS do print(("worker %d: sum %d"):format(id, results[id])) end

-- Without an authkey, values that would load code are refused.
local plain <close> = connection.Listener("\0braid-example-" .. require("braid.core").getpid())
local p = mp.Process{ target = function(addr)
  local c = require("braid.multiprocessing.connection").Client(addr)
  c:send({ data = { 1, 2, 3 }, evil = function() os.exit(1) end })
  c:send({ data = { 1, 2, 3 } })
  c:close()
end, args = { plain.address } }
p:start()
local c <close> = plain:accept()
local ok, err = pcall(c.recv, c)
assert(not ok and errors.ValueError:is(err))
print("refused: " .. err.message)
print("plain data passes: " .. #c:recv().data .. " items")
p:join()

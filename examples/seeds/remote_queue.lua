-- Seed 000 (Python Essential Reference, ch. 20, "Managed Objects") and
-- Python's documentation: a queue exposed by a manager server at a TCP
-- address, reached by clients in other processes that connect() with the
-- authkey. Here the server and both clients are separate processes on
-- loopback (spawned, so nothing is inherited but the arguments).
--   braid examples/seeds/remote_queue.lua [--quick]
local mp = require "braid.multiprocessing"
local managers = require "braid.multiprocessing.managers"
local quick = arg and arg[1] == "--quick"
local N = quick and 100 or 10000
local AUTHKEY = "abracadabra"

-- The server program: a queue, and a manager class that exposes it.
local function server(report)
  local queue = require "braid.queue"
  local managers = require "braid.multiprocessing.managers"
  local q = queue.Queue()
  local QueueManager = managers.BaseManager:subclass("QueueManager")
  QueueManager:register("get_queue", function() return q end)
  local m = QueueManager{ address = { "127.0.0.1", 0 }, authkey = "abracadabra" }
  local s = m:get_server()
  report:send(s.address)        -- {host, port}: the port the system chose
  s:serve_forever()
end

-- A client program: only the typeid is registered, the server has the
-- callable.
local function client(address, role, n, out)
  local managers = require "braid.multiprocessing.managers"
  local QueueManager = managers.BaseManager:subclass("QueueManager")
  QueueManager:register("get_queue")
  local m = QueueManager{ address = address, authkey = "abracadabra" }
  m:connect()
  local q = m:get_queue()
  if role == "producer" then
    for i = 1, n do q:put({ i = i, text = "hello" }) end
    q:put(nil)
  else
    local count, sum = 0, 0
    while true do
      local item = q:get(true, 60)
      if item == nil then break end
      count, sum = count + 1, sum + item.i
    end
    out:send({ count = count, sum = sum })
  end
end

local ctx = mp.get_context("spawn")
local r, w = mp.Pipe(false)
local srv = ctx.Process{ target = server, args = { w }, name = "queue-server" }
srv:start()
assert(r:poll(60), "the server did not report its address")
local address = r:recv()
print(("server at %s:%d"):format(address[1], address[2]))

local rr, rw = mp.Pipe(false)
local consumer = ctx.Process{ target = client, args = { address, "consumer", N, rw } }
local producer = ctx.Process{ target = client, args = { address, "producer", N, rw } }
consumer:start(); producer:start()
assert(rr:poll(120), "the consumer did not finish")
local got = rr:recv()
producer:join(60); consumer:join(60)
print(("consumer got %d items, sum %d"):format(got.count, got.sum))
assert(got.count == N and got.sum == N * (N + 1) // 2)
assert(producer.exitcode == 0 and consumer.exitcode == 0)

-- A wrong authkey is refused before anything is exchanged.
local Probe = managers.BaseManager:subclass("Probe")
Probe:register("get_queue")
local ok, err = pcall(function() Probe{ address = address, authkey = "wrong" }:connect() end)
assert(not ok and mp.AuthenticationError:is(err), tostring(err))
print("wrong authkey: " .. err.type.name)

srv:terminate(); srv:join(10)
print("ok")

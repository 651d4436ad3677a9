-- Clients for spec/managers_netns_spec.lua, run in another network
-- namespace: `braid mgr_netns_client.lua HOST PORT AUTHKEY METHOD...`.
-- For each start method a child process connect()s to the manager at
-- HOST:PORT, puts its method's name on the queue and sets d[method];
-- then this process reads them back and prints one line per method and
-- "wrong key: <class>" for a connection with a wrong authkey; then puts
-- "remote 1".."remote 3" on the manager's shared-memory queue (from
-- another host: through the server) and prints what it gets back from it
-- and whether its proxy used the direct path ("mq: ... direct false").
local mp = require "braid.multiprocessing"
local managers = require "braid.multiprocessing.managers"
local host, port, authkey = arg[1], math.tointeger(tonumber(arg[2])), arg[3]
local methods = {}
for i = 4, #arg do methods[#methods + 1] = arg[i] end

local function manager(key)
  local mg = require "braid.multiprocessing.managers"
  local M = mg.BaseManager:subclass("NetManager")
  M:register("get_queue"); M:register("get_dict", nil, mg.DictProxy); M:register("stop")
  M:register("get_mq", nil, mg.QueueProxy)
  return M{ address = { host, port }, authkey = key }
end

for _, method in ipairs(methods) do
  local p = mp.get_context(method).Process{ target = function(h, pt, key, meth)
    local mg = require "braid.multiprocessing.managers"
    local M = mg.BaseManager:subclass("NetManager")
    M:register("get_queue"); M:register("get_dict", nil, mg.DictProxy)
    local m = M{ address = { h, pt }, authkey = key }
    m:connect()
    m:get_queue():put(meth)
    m:get_dict()[meth] = require("braid.core").getpid()
  end, args = { host, port, authkey, method } }
  p:start()
  p:join(60)
  io.stdout:write(method, " exitcode ", tostring(p.exitcode), "\n")
end
local m = manager(authkey)
m:connect()
local q, d = m:get_queue(), m:get_dict()
for _ = 1, #methods do
  local meth = q:get(true, 30)
  io.stdout:write("got ", meth, " pid ", tostring(d[meth]), "\n")
end
local mq = m:get_mq()
for i = 1, 3 do mq:put("remote " .. i) end
local got = {}
for i = 1, 6 do got[i] = mq:get(true, 30) end
io.stdout:write("mq: ", table.concat(got, ","), " direct ", tostring(rawget(mq, "_dq")), "\n")
local ok, err = pcall(function() manager("wrong key"):connect() end)
io.stdout:write("wrong key: ", ok and "accepted" or tostring(err.type and err.type.name), "\n")
pcall(function() m:stop():now() end)

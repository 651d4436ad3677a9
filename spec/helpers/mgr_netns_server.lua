-- A manager server for spec/managers_netns_spec.lua, run in its own network
-- namespace: `braid mgr_netns_server.lua HOST AUTHKEY`. It serves a queue,
-- a dict, a manager Queue's shared-memory queue (with "local 1".."local 3"
-- put on it directly here, as a proxy on this host would) and a "stop" object at HOST (port chosen by the system), prints
-- "port N" once it listens, and ends when a client calls stop():now().
local managers = require "braid.multiprocessing.managers"
local queue = require "braid.queue"
local host, authkey = arg[1], arg[2]
local q = queue.Queue()
local d = require("braid.multiprocessing.mgrserver").Dict.new()
local M = managers.BaseManager:subclass("NetManager")
M:register("get_queue", function() return q end)
M:register("get_dict", function() return d end, managers.DictProxy)
local mq = require("braid.core").mp_Queue(0)
for i = 1, 3 do mq:put("local " .. i) end
M:register("get_mq", function() return mq end, managers.QueueProxy)
M:register("stop", function() return { now = function() os.exit(0) end } end)
local s = M{ address = { host, 0 }, authkey = authkey }:get_server()
io.stdout:write("port ", s.address[2], "\n")
io.stdout:flush()
s:serve_forever()

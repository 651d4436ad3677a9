-- Run by fds_spec.lua in a child shell with a low descriptor limit
-- (`ulimit -n 128`): `lua5.4 fds_child.lua WHAT N [METHOD]`. Makes N
-- objects of kind WHAT and never closes them, then collects and prints
-- "ok <descriptors before> <descriptors after> <children left>", or the
-- error that stopped the loop ("error <i> <message>"). Before the fix a
-- dropped Process kept its sentinel, and the loop died at about the
-- 120th start with "[Errno 24] Too many open files".
local mp = require "braid.multiprocessing"
local core = require "braid.core"
local shared_memory = require "braid.multiprocessing.shared_memory"

local what, n, method = arg[1], tonumber(arg[2]), arg[3]
if method then mp.set_start_method(method, true) end
local fd_count = core._test.fd_count

local function nothing() end

-- One object of kind 'what', dropped by the caller. Only Processes are
-- joined (their children must end); nothing is ever closed.
local make = {
  process = function()
    local p = mp.Process { target = nothing }
    p:start()
    p:join()
    assert(p.exitcode == 0, "exitcode " .. tostring(p.exitcode))
  end,
  pipe = function() mp.Pipe() end,
  queue = function() mp.Queue() end,
  lock = function() mp.Lock() end,
  event = function() mp.Event() end,
  value = function() mp.Value("i", 1) end,
  shm = function() shared_memory.SharedMemory(nil, true, 64):unlink() end,
}
local fn = assert(make[what], "unknown kind " .. tostring(what))

if what == "process" then
  -- a first child starts the forkserver (its socket stays open)
  local p = mp.Process { target = nothing }
  p:start(); p:join(); p:close()
end
collectgarbage(); collectgarbage()
local before = fd_count()
for i = 1, n do
  local ok, err = pcall(fn)
  if not ok then
    print("error", i, tostring(err))
    os.exit(1)
  end
end
collectgarbage(); collectgarbage()
print("ok", before, fd_count(), #mp.active_children())

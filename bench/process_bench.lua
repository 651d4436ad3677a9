-- Process workloads for bench/run.lua: start+join per start method, and
-- an inter-process Queue stream and Pipe ping-pong. Each returns
-- (operations, seconds). Python baselines: bench/py_process.py.
local mp = require "braid.multiprocessing"
local core = require "braid.core"
local M = {}

local function start_join(method, n)
  local ctx = mp.get_context(method)
  local p0 = ctx.Process{target = function() end}; p0:start(); p0:join() -- warm (forkserver)
  local t0 = core.monotonic()
  for _ = 1, n do
    local p = ctx.Process{target = function() end}
    p:start(); p:join()
  end
  return n, core.monotonic() - t0
end

function M.start_fork(n) return start_join("fork", n or 200) end
function M.start_spawn(n) return start_join("spawn", n or 50) end
function M.start_forkserver(n) return start_join("forkserver", n or 200) end

function M.queue_stream(n)
  n = n or 1000000
  local q = mp.Queue()
  local p = mp.Process{target = function(q, n)
    for i = 1, n do q:put(i) end
  end, args = { q, n }}
  local t0 = core.monotonic()
  p:start()
  for _ = 1, n do q:get() end
  local dt = core.monotonic() - t0
  p:join()
  return n, dt
end

function M.pipe_pingpong(n)
  n = n or 20000
  local a, b = mp.Pipe()
  local p = mp.Process{target = function(c, n)
    for _ = 1, n do c:send(c:recv()) end
  end, args = { b, n }}
  p:start()
  local t0 = core.monotonic()
  for i = 1, n do a:send(i); a:recv() end
  local dt = core.monotonic() - t0
  p:join()
  return n, dt
end

if arg and arg[0] and arg[0]:match("process_bench%.lua$") then
  for _, k in ipairs{ "start_fork", "start_spawn", "start_forkserver",
                      "queue_stream", "pipe_pingpong" } do
    local n, dt = M[k]()
    print(("%-18s %10.0f ops/s  %8.3f ms/op"):format(k, n / dt, dt / n * 1000))
  end
end
return M

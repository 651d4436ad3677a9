-- Manager workloads for bench/run.lua: 10,000 `d[k] = v` then 10,000
-- `d[k]` through a dict proxy of `multiprocessing.Manager()` (each one a
-- round trip to the server process), and a stream through a Queue proxy
-- (a child process puts, this process gets). Python baselines:
-- bench/py_managers.py (the same workloads on Python's Manager()).
local mp = require "braid.multiprocessing"
local core = require "braid.core"
local M = {}

--- (round trips, seconds) of n sets and n gets on a dict proxy.
function M.dict_roundtrip(n)
  n = n or 10000
  local m <close> = mp.Manager()
  local d = m:dict()
  d[0] = 0 -- the connection is made before the clock starts
  local t0 = core.monotonic()
  for i = 1, n do d[i] = i end
  for i = 1, n do
    if d[i] ~= i then error("wrong value at " .. i) end
  end
  return 2 * n, core.monotonic() - t0
end

--- (items, seconds) of n items from a child's q:put to this q:get.
function M.queue_proxy_stream(n)
  n = n or 10000
  local m <close> = mp.Manager()
  local q = m:Queue()
  q:qsize()
  local p = mp.Process{ target = function(qq, k) for i = 1, k do qq:put(i) end end,
                        args = { q, n } }
  local t0 = core.monotonic()
  p:start()
  for i = 1, n do
    if q:get() ~= i then error("out of order at " .. i) end
  end
  local dt = core.monotonic() - t0
  p:join()
  return n, dt
end

return M

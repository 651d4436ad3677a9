-- Shared memory between workers: multiprocessing.Value and Array.
--
-- The example of Python's multiprocessing guide ("Sharing state between
-- processes"), run here with threads (each one has its own Lua state, so
-- nothing is shared unless it is a braid object such as these):
--
--     braid examples/shared_memory_array.lua
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--       lua5.4 examples/shared_memory_array.lua
local braid = require "braid"
local mp = braid.multiprocessing
local threading = braid.threading

local function f(n, a)
  n.value = 3.1415927
  for i = 1, #a do
    a[i] = -a[i]
  end
end

local num = mp.Value("d", 0.0)
local arr = mp.Array("i", { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 })

local t = threading.Thread { target = f, args = { num, arr } }
t:start()
t:join()

print(num.value)                           --> 3.1415927
print(table.concat(arr:slice(), ", "))     --> 0, -1, -2, ..., -9

-- A read-modify-write needs the lock: each object carries one (an RLock).
local counter = mp.Value("i", 0)
local workers = {}
for k = 1, mp.cpu_count() < 4 and 4 or mp.cpu_count() do
  workers[k] = threading.Thread { target = function()
    for _ = 1, 1000 do
      local guard <close> = counter:guard() -- released at the end of scope
      counter.value = counter.value + 1
    end
  end }
  workers[k]:start()
end
for _, w in ipairs(workers) do w:join() end
print(counter.value == 1000 * #workers, counter) --> true  <braid.Value i ...>

-- 'c' arrays hold bytes: 'value' up to the first NUL, 'raw' all of them.
local name = mp.Array("c", 16)
local writer = threading.Thread { target = function() name.value = "from a thread" end }
writer:start()
writer:join()
print(name.value, #name.raw) --> from a thread  16

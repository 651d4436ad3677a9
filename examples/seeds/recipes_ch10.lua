-- recipes_ch10.lua: the listings of the seed recipe chapter "Concurrency"
-- (seed 004, listings 10-1 to 10-8) ported to braid, each checked.
-- Listing 10-9 (subprocess.run) is in subprocess_seeds.lua; the sched
-- recipe is left out: braid has no sched module yet.
--
--   braid examples/seeds/recipes_ch10.lua [--quick]
local threading = require "braid.threading"
local mp = require "braid.multiprocessing"

-- 10-1: creating a thread
local my_thread = threading.Thread{target = function()
  print("The sum of 1 and 2 is 3")
end}
my_thread:start()
my_thread:join()

-- 10-2: a lock around a shared sum. Threads have their own globals in
-- braid, so the shared counter is a Value (shared memory) and the lock a
-- braid Lock, both passed to the threads.
local sum = mp.RawValue("i", 0)
local my_lock = threading.Lock()
local function adder(total, lock)
  lock:acquire()
  total.value = total.value + 1
  lock:release()
end
local threads = {}
for i = 1, 4 do
  threads[i] = threading.Thread{target = adder, args = {sum, my_lock}}
  threads[i]:start()
end
for _, t in ipairs(threads) do t:join() end
assert(sum.value == 4)
print("sum after 4 threads:", sum.value)

-- 10-3: a barrier for five threads with a timeout
local b = threading.Barrier{parties = 5, timeout = 10}
local arrived = {}
for i = 1, 5 do
  arrived[i] = threading.Thread{target = function(bar) return bar:wait() end, args = {b}}
  arrived[i]:start()
end
for _, t in ipairs(arrived) do t:join() end
assert(not b.broken)
print("five threads met at the barrier")

-- 10-4: creating a process
local proc1 = mp.Process{target = function(a, c) return a + c end, args = {2, 2}}
proc1:start()
proc1:join()
assert(proc1.exitcode == 0)

-- 10-5: a pipe between processes
local parent_end, child_end = mp.Pipe()
proc1 = mp.Process{target = function(pipe_end)
  pipe_end:send({"hello", "world"})
  pipe_end:close()
end, args = {child_end}}
proc1:start()
local msg = parent_end:recv()
print(table.concat(msg, " "))
assert(msg[1] == "hello" and msg[2] == "world")
proc1:join()

-- 10-6: a queue between processes
local my_queue = mp.Queue()
proc1 = mp.Process{target = function(queue1) queue1:put({"hello", "world"}) end,
                   args = {my_queue}}
proc1:start()
msg = my_queue:get(true, 60)
print(table.concat(msg, " "))
proc1:join()

-- 10-7 and 10-8: a pool of four processes, map and map_async
do
  local pool1 <close> = mp.Pool{processes = 4}
  local function double(a) return a + a end
  local range = {}
  for i = 0, 9 do range[#range + 1] = i end
  local doubled = pool1:map(double, range)
  assert(doubled[10] == 18 and doubled.n == 10)
  print(table.concat(doubled, ", "))
  local results = pool1:map_async(double, range)
  results:wait()
  assert(results:get()[1] == 0)
end
print("ok")

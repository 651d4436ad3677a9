-- threads_processes_tutorial.lua: the examples of the seed tutorial on
-- threads and processes (seed 003) ported to braid, each checked:
-- lock acquire with and without blocking, threading.local, a semaphore
-- limiting concurrent "downloads", a Timer and its cancel, Pool.map,
-- the three start methods, and a Queue and a Pipe between processes.
--
--   braid examples/seeds/threads_processes_tutorial.lua [--quick]
local threading = require "braid.threading"
local mp = require "braid.multiprocessing"
local quick = arg and arg[1] == "--quick"

-- Synchronizing threads: acquire(blocking)
local lock = threading.Lock()
assert(lock:acquire(true))
assert(lock:acquire(false) == false)    -- Python's acquire(0) returns 0
lock:release()

-- Thread-specific data
local mydata = threading["local"]()
mydata.x = 1
local t = threading.Thread{target = function(d)
  assert(d.x == nil)                     -- each thread sees its own fields
  d.x = 2
end, args = {mydata}}
t:start(); t:join()
assert(mydata.x == 1)

-- Semaphore: at most 2 "downloads" at a time among 6 threads
local slots = threading.Semaphore(2)
local active = mp.RawValue("i", 0)
local peak = mp.RawValue("i", 0)
local guard = threading.Lock()
local workers = {}
for i = 1, 6 do
  workers[i] = threading.Thread{target = function(sem, act, pk, g)
    local s <close> = sem:guard()
    g:with(function()
      act.value = act.value + 1
      if act.value > pk.value then pk.value = act.value end
    end)
    local e = require("braid.threading").Event()
    e:wait(0.01)                         -- the "download"
    g:with(function() act.value = act.value - 1 end)
  end, args = {slots, active, peak, guard}}
  workers[i]:start()
end
for _, w in ipairs(workers) do w:join() end
assert(peak.value <= 2 and peak.value >= 1)
print("at most " .. peak.value .. " downloads ran at once")

-- Timer: one fires, one is cancelled
local fired = threading.Event()
local timer = threading.Timer(0.05, function(e) e:set() end, {fired})
timer:start()
assert(fired:wait(30))
timer:join()
local never = threading.Timer(60, function() error("cancelled timers do not fire") end)
never:start(); never:cancel(); never:join()

-- Pool.map
do
  local p <close> = mp.Pool(quick and 2 or 5)
  local squares = p:map(function(x) return x * x end, {1, 2, 3})
  print(table.concat(squares, ", "))     -- 1, 4, 9
  assert(squares[3] == 9)
end

-- Contexts and start methods, each with a Queue ([42, None, 'hello'])
for _, method in ipairs(mp.get_all_start_methods()) do
  local ctx = mp.get_context(method)
  local q = ctx.Queue()
  local p = ctx.Process{target = function(out) out:put({42, nil, "hello", n = 3}) end,
                        args = {q}}
  p:start()
  local item = q:get(true, 60)
  assert(item[1] == 42 and item[2] == nil and item[3] == "hello")
  p:join()
  print(method .. ": " .. item[1] .. ", nil, " .. item[3])
end

-- Pipes
local parent_conn, child_conn = mp.Pipe()
local p = mp.Process{target = function(conn)
  conn:send({42, nil, "hello", n = 3})
  conn:close()
end, args = {child_conn}}
p:start()
local got = parent_conn:recv()
assert(got[1] == 42 and got[3] == "hello")
p:join()
print("ok")

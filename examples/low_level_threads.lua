-- low_level_threads.lua: Python's _thread module: threads started with
-- start_new_thread report to the main thread through a Queue and count
-- themselves down with a plain lock (no Thread objects, no join: the main
-- thread waits on a lock that the last worker releases). One worker stops
-- early with _thread.exit(), which ends it quietly.
--
-- Run:  build/bin/braid examples/low_level_threads.lua [--quick]
-- Python equivalent:
--   lock = _thread.allocate_lock(); lock.acquire()
--   for i in range(n): _thread.start_new_thread(work, (i, results, ...))
--   lock.acquire(timeout=60)
local _thread = require "braid._thread"
local queue = require "braid.queue"

local quick = arg and arg[1] == "--quick"
local WORKERS, N = 4, quick and 20000 or 2000000

local results = queue.Queue()
local all_done = _thread.allocate_lock()
local count_lock = _thread.allocate_lock()
local remaining = require("braid.multiprocessing").RawValue("i", WORKERS)
all_done:acquire()

local function work(i, n, out, done, clock, left)
  local th = require "braid._thread"
  local function finish()
    -- the last worker to finish releases the main thread
    clock:acquire()
    left.value = left.value - 1
    local last = left.value == 0
    clock:release()
    if last then done:release() end
  end
  if i == 0 then
    out:put({ i = i, sum = 0, ident = th.get_ident() })
    finish()
    th.exit() -- ends this thread quietly: nothing is printed
  end
  local sum = 0
  for k = i, n, 4 do sum = sum + k end
  out:put({ i = i, sum = sum, ident = th.get_ident() })
  finish()
end

local idents = {}
for i = 0, WORKERS - 1 do
  idents[#idents + 1] = _thread.start_new_thread(work,
    { i, N, results, all_done, count_lock, remaining })
end
assert(all_done:acquire(true, 60), "workers did not finish")

local total, seen = 0, {}
for _ = 1, WORKERS do
  local r = results:get(true, 60)
  total = total + r.sum
  seen[r.ident] = true
end
for _, id in ipairs(idents) do assert(seen[id], "a worker did not report") end
-- worker 0 quit early: the others summed every k in 1..N except those of
-- its share (k = 0, 4, 8, ...)
local expected = 0
for k = 1, N do if k % 4 ~= 0 then expected = expected + k end end
print(("%d low-level threads: sum %d"):format(WORKERS, total))
assert(total == expected, "wrong sum")

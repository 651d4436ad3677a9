-- queue_producer_consumer.lua: producers put jobs on a bounded queue,
-- consumer threads take them, mark them done, and send results back on a
-- second queue; the main thread waits with q:join() (Python's
-- queue.Queue.join) and then stops the consumers with sentinels.
--
-- Run:  build/bin/braid examples/queue_producer_consumer.lua [--quick]
local threading = require "braid.threading"
local queue = require "braid.queue"

local quick = arg and arg[1] == "--quick"
local JOBS, CONSUMERS = quick and 200 or 20000, 3

local jobs = queue.Queue(64)     -- bounded: producers wait for room
local results = queue.Queue()

local consumers = {}
for i = 1, CONSUMERS do
  consumers[i] = threading.Thread{ name = "consumer-" .. i, target = function(q, out)
    while true do
      local job = q:get()
      if job == nil or job.stop then q:task_done(); break end
      out:put({ id = job.id, square = job.n * job.n })
      q:task_done()
    end
  end, args = { jobs, results } }
  consumers[i]:start()
end

local producer = threading.Thread{ name = "producer", target = function(q, n)
  for i = 1, n do q:put({ id = i, n = i }) end
end, args = { jobs, JOBS } }
producer:start()
producer:join()
jobs:join()                      -- every job taken and marked done
for _ = 1, CONSUMERS do jobs:put({ stop = true }) end
for i = 1, CONSUMERS do consumers[i]:join() end

local sum, count = 0, 0
while not results:empty() do
  local r = results:get()
  sum = sum + r.square
  count = count + 1
end
print(("%d jobs done by %d consumers, sum of squares %d"):format(count, CONSUMERS, sum))
assert(count == JOBS and sum == JOBS * (JOBS + 1) * (2 * JOBS + 1) // 6)

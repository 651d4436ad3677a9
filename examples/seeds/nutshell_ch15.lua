-- nutshell_ch15.lua: the examples of the seed chapter "Concurrency:
-- Threads and Processes" (seed 001) that braid's modules can run, ported
-- to Lua and checked: Event and Barrier runners, thread-local storage, a
-- periodic Timer, make_dict with Pool.imap_unordered, ThreadPool,
-- ProcessPoolExecutor.map and as_completed, the Serializer thread, and
-- the Worker thread pool evaluating random expressions.
-- Not ported: the Manager example (braid has no managers yet) and the
-- subprocess, os and mmap sections.
--
--   braid examples/seeds/nutshell_ch15.lua [--quick]
local threading = require "braid.threading"
local queue = require "braid.queue"
local mp = require "braid.multiprocessing"
local cf = require "braid.concurrent.futures"
local quick = arg and arg[1] == "--quick"
local SCALE = quick and 0.01 or 0.3   -- the book sleeps whole seconds

-- time.sleep stand-in: wait on an Event nobody sets
local function sleep(s) threading.Event():wait(s) end
math.randomseed(7)

-- Event: every runner waits until the main thread sets the event
do
  local event = threading.Event()
  local arrived = mp.RawValue("i", 0)
  local runner = function(ev, count, scale, lock)
    print("starting")
    threading.Event():wait(math.random(1, 3) * scale)
    print("waiting")
    ev:wait()
    lock:with(function() count.value = count.value + 1 end)
    print(("running at %.3f"):format(os.clock()))
  end
  local lock = threading.Lock()
  local threads = {}
  for i = 1, 10 do
    threads[i] = threading.Thread{target = runner, args = {event, arrived, SCALE, lock}}
    threads[i]:start()
  end
  event:set()
  for _, t in ipairs(threads) do t:join() end
  assert(arrived.value == 10)
end

-- Barrier: runners are released together; the action announces it
do
  local num_threads = 10
  local barrier = threading.Barrier(num_threads, function() print("releasing") end)
  local numbers = queue.Queue()
  local threads = {}
  for i = 1, num_threads do
    threads[i] = threading.Thread{target = function(b, out, scale)
      local threading = require "braid.threading"
      print("starting")
      threading.Event():wait(math.random(1, 3) * scale)
      print("waiting")
      local ok, my_number = pcall(b.wait, b)
      if not ok then
        if threading.BrokenBarrierError:is(my_number) then
          print("Barrier abort() or reset() called, thread exiting...")
          return
        end
        error(my_number, 0)
      end
      print(("running (%d)"):format(my_number))
      out:put(my_number)
    end, args = {barrier, numbers, SCALE}}
    threads[i]:start()
  end
  for _, t in ipairs(threads) do t:join() end
  local seen = {}
  for _ = 1, num_threads do seen[numbers:get()] = true end
  for i = 1, num_threads do assert(seen[i]) end   -- 1..parties in braid
end

-- Thread-local storage
do
  local L = threading["local"]()
  print("in main thread, setting zop to 42")
  L.zop = 42
  local t = threading.Thread{target = function(l)
    print("in subthread, setting zop to 23")
    l.zop = 23
    print("in subthread, zop is now", l.zop)
  end, args = {L}}
  t:start(); t:join()
  print("in main thread, zop is now", L.zop)   -- prints: 42
  assert(L.zop == 42)
end

-- Periodic: the book subclasses Timer; braid's Timer class has no
-- `subclass` (only Thread has), so the same recipe is a function that
-- starts the next timer before calling back, and stops when the callback
-- raises
do
  local calls = mp.RawValue("i", 0)
  local stopped = threading.Event()
  local function start_periodic(interval, callback, args)
    local p
    p = threading.Timer(interval, function(iv, cb, a)
      local threading = require "braid.threading"
      local ok = pcall(cb, table.unpack(a))
      if ok then
        -- schedule the next run (the book's p.start() before the call)
        local nxt = threading.Timer(iv, debug.getinfo(1, "f").func, {iv, cb, a})
        nxt:start()
      end
    end, {interval, callback, args})
    p:start()
    return p
  end
  start_periodic(SCALE / 10, function(n, done)
    n.value = n.value + 1
    if n.value == 3 then done:set(); error("stop") end
  end, {calls, stopped})
  assert(stopped:wait(60))
  assert(calls.value == 3)
  print("periodic timer ran 3 times")
end

-- make_dict four ways: Pool.imap_unordered, ThreadPool, ProcessPoolExecutor.map,
-- submit + as_completed
local function f(s)
  threading.Event():wait(math.random() * 0.02)   -- simulate slowness
  return s .. s
end
local function runner(s)
  print(require("braid.multiprocessing").current_process().pid, s)
  return {s, f(s)}
end
local strings = {"a", "b", "c", "d"}
local function check(d)
  for _, s in ipairs(strings) do assert(d[s] == s .. s) end
end
do
  local d = {}
  local pool <close> = mp.Pool()
  for _, pair in pool:imap_unordered(runner, strings) do d[pair[1]] = pair[2] end
  check(d)
end
do
  local d = {}
  local pool <close> = mp.pool.ThreadPool(3)
  for _, pair in pool:imap_unordered(runner, strings) do d[pair[1]] = pair[2] end
  check(d)
end
do
  local d = {}
  local e <close> = cf.ProcessPoolExecutor()
  for _, pair in e:map(runner, strings) do d[pair[1]] = pair[2] end
  check(d)
end
do
  local d = {}
  local e <close> = cf.ProcessPoolExecutor()
  local fs = {}
  for i, s in ipairs(strings) do fs[i] = e:submit(runner, s) end
  for fut in cf.as_completed(fs) do
    local pair = fut:result()
    d[pair[1]] = pair[2]
  end
  check(d)
end

-- Serializer: one thread performs every call, in order
do
  local Serializer = threading.Thread:subclass("Serializer")
  function Serializer:init()
    self.daemon = true
    self.work_request_queue = queue.Queue()
    self.result_queue = queue.Queue()
  end
  function Serializer:apply(fn, ...)
    self.work_request_queue:put({fn, table.pack(...)})
    return self.result_queue:get()
  end
  function Serializer:run()
    while true do
      local req = self.work_request_queue:get()
      if req == "stop" then return end
      self.result_queue:put(req[1](table.unpack(req[2], 1, req[2].n)))
    end
  end
  local ser = Serializer{}
  ser:start()
  assert(ser:apply(function(a, b) return a * b end, 6, 7) == 42)
  ser.work_request_queue:put("stop")
  ser:join()
end

-- Worker threads sharing one request queue and one result queue; the main
-- thread submits random expressions and polls for results
do
  local Worker = threading.Thread:subclass("Worker")
  local request_ID = 0          -- only the main thread numbers requests
  function Worker:init(opts)
    self.daemon = true
    self.request_queue = opts.requests
    self.result_queue = opts.results
  end
  function Worker:perform_work(fn, ...)
    request_ID = request_ID + 1
    self.request_queue:put({request_ID, fn, table.pack(...)})
    return request_ID
  end
  function Worker:run()
    while true do
      local req = self.request_queue:get()
      if req == "stop" then return end
      self.result_queue:put({req[1], req[2](table.unpack(req[3], 1, req[3].n))})
    end
  end
  local requests_queue, results_queue = queue.Queue(), queue.Queue()
  local workers = {}
  for i = 1, 3 do
    workers[i] = Worker{requests = requests_queue, results = results_queue}
    workers[i]:start()
  end
  local ops = {"+", "-", "*", "/", "%"}
  local function slow_evaluate(expression, scale)
    require("braid.threading").Event():wait(math.random(1, 4) * scale)
    local o1, op, o2 = expression:match("(%d+) (%S) (%d+)")
    o1, o2 = tonumber(o1), tonumber(o2)
    if op == "+" then return o1 + o2 elseif op == "-" then return o1 - o2
    elseif op == "*" then return o1 * o2 elseif op == "/" then return o1 / o2 end
    return o1 % o2
  end
  local work_requests, pending = {}, 0
  local function show_results()
    while true do
      local ok, r = pcall(results_queue.get_nowait, results_queue)
      if not ok then return end
      local expr = work_requests[r[1]]
      work_requests[r[1]] = nil
      pending = pending - 1
      assert(r[2] == slow_evaluate(expr, 0))
      print(("Result %d: %s -> %s"):format(r[1], expr, r[2]))
    end
  end
  for _ = 1, 10 do
    local expression = ("%d %s %d"):format(math.random(2, 9), ops[math.random(#ops)], math.random(2, 9))
    local worker = workers[math.random(#workers)]
    local id = worker:perform_work(slow_evaluate, expression, SCALE / 10)
    work_requests[id] = expression
    pending = pending + 1
    print(("Submitted request %d: %s"):format(id, expression))
    sleep(SCALE / 10)
    show_results()
  end
  while pending > 0 do
    sleep(SCALE / 10)
    show_results()
  end
  for _ = 1, #workers do requests_queue:put("stop") end
  for _, w in ipairs(workers) do w:join() end
end
print("ok")

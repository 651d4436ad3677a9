-- braid.queue: Python's queue module (3.13, shutdown included), shared
-- between threads, plus the batch extension.
local queue = require "braid.queue"
local threading = require "braid.threading"
local errors = require "braid.errors"
local core = require "braid.core"
local helpers = require "helpers"

local Empty, Full, ShutDown = queue.Empty, queue.Full, queue.ShutDown

describe("Queue", function()
  it("is FIFO and counts its items", function()
    local q = queue.Queue()
    assert.is_true(q:empty())
    for i = 1, 5 do q:put(i) end
    assert.equal(5, q:qsize())
    assert.is_false(q:empty())
    assert.is_false(q:full())
    for i = 1, 5 do assert.equal(i, q:get()) end
    assert.is_true(q:empty())
  end)

  it("takes maxsize positionally or by name", function()
    assert.equal(3, queue.Queue(3).maxsize)
    assert.equal(4, queue.Queue{ maxsize = 4 }.maxsize)
    assert.equal(0, queue.Queue().maxsize)
    assert.equal(0, queue.Queue(-1).maxsize)
    helpers.raises(errors.TypeError, queue.Queue, "big")
  end)

  it("raises Full and Empty exactly where Python does", function()
    local q = queue.Queue(2)
    q:put(1); q:put(2)
    assert.is_true(q:full())
    helpers.raises(Full, q.put, q, 3, false)
    helpers.raises(Full, q.put_nowait, q, 3)
    helpers.raises(Full, q.put, q, 3, true, 0)
    assert.equal(1, q:get_nowait())
    assert.equal(2, q:get(false))
    helpers.raises(Empty, q.get_nowait, q)
    helpers.raises(Empty, q.get, q, false)
    helpers.raises(Empty, q.get, q, true, 0)
  end)

  it("honours timeouts", function()
    local q = queue.Queue(1)
    local t0 = helpers.now()
    helpers.raises(Empty, q.get, q, true, 0.2)
    local dt = helpers.now() - t0
    assert.is_true(dt >= 0.19 and dt < 5, "waited " .. dt)
    q:put("x")
    t0 = helpers.now()
    helpers.raises(Full, q.put, q, "y", true, 0.2)
    dt = helpers.now() - t0
    assert.is_true(dt >= 0.19 and dt < 5, "waited " .. dt)
  end)

  it("treats negative timeouts as Python does", function()
    local q = queue.Queue(1)
    local err = helpers.raises(errors.ValueError, q.get, q, true, -1)
    helpers.message_has(err, "'timeout' must be a non-negative number")
    helpers.raises(errors.ValueError, q.put, q, 1, true, -0.5)
    -- without block the timeout is ignored
    local t0 = helpers.now()
    helpers.raises(Empty, q.get, q, false, 5)
    assert.is_true(helpers.now() - t0 < 1)
    q:put(1)
    helpers.raises(Full, q.put, q, 2, false, -3)
  end)

  it("counts tasks: task_done, join, and one call too many", function()
    local q = queue.Queue()
    q:put("a"); q:put("b")
    assert.equal(2, q.unfinished_tasks)
    q:get(); q:task_done()
    q:get(); q:task_done()
    q:join() -- returns at once: all done
    local err = helpers.raises(errors.ValueError, q.task_done, q)
    helpers.message_has(err, "task_done() called too many times")
  end)

  it("join waits for a worker's task_done", function()
    local q = queue.Queue()
    for i = 1, 10 do q:put(i) end
    local w = threading.Thread{ target = function(qq)
      for _ = 1, 10 do qq:get(); qq:task_done() end
    end, args = { q } }
    w:start()
    q:join()
    assert.equal(0, q.unfinished_tasks)
    w:join()
  end)

  it("copies items at put", function()
    local q = queue.Queue()
    local t = { v = 1 }
    q:put(t)
    t.v = 2
    assert.equal(1, q:get().v)
  end)

  it("refuses values that cannot be sent, naming the path", function()
    local q = queue.Queue()
    local err = helpers.raises(errors.TypeError, q.put, q, { f = io.stdout })
    helpers.message_has(err, "item.f: a userdata of type FILE*")
    assert.equal(0, q:qsize())
    assert.equal(0, q.unfinished_tasks)
  end)

  it("is the same queue in another thread", function()
    local inbox, outbox = queue.Queue(), queue.Queue()
    local t = threading.Thread{ target = function(i, o)
      o:put("from worker"); o:put(i:get() + 1)
    end, args = { inbox, outbox } }
    t:start()
    assert.equal("from worker", outbox:get(true, 30))
    inbox:put(41)
    t:join()
    assert.equal(42, outbox:get(false))
  end)

  it("wakes a blocked get when an item arrives and a blocked put when room appears", function()
    local q = queue.Queue(1)
    local started = threading.Event()
    local t = threading.Thread{ target = function(qq, ev)
      ev:set()
      local v = qq:get(true, 30) -- blocks until the main thread puts
      qq:put(v * 2)
    end, args = { q, started } }
    t:start()
    started:wait(30)
    q:put(21)
    t:join()
    assert.equal(42, q:get(false))
    q:put("full")
    local t2 = threading.Thread{ target = function(qq) qq:put("second", true, 30) end,
      args = { q } }
    t2:start()
    assert.equal("full", q:get(true, 30))
    assert.equal("second", q:get(true, 30))
    t2:join()
  end)

  it("formats like Python's repr", function()
    assert.truthy(tostring(queue.Queue()):match("^<queue%.Queue object at "))
  end)
end)

describe("Queue:shutdown", function()
  it("makes put raise ShutDown and get drain, then raise", function()
    local q = queue.Queue()
    q:put(1)
    assert.is_false(q.is_shutdown)
    q:shutdown()
    assert.is_true(q.is_shutdown)
    helpers.raises(ShutDown, q.put, q, 2)
    assert.equal(1, q:get())
    helpers.raises(ShutDown, q.get, q)
    helpers.raises(ShutDown, q.get, q, false)
  end)

  it("with immediate drops the items and releases join", function()
    local q = queue.Queue()
    for i = 1, 3 do q:put(i) end
    q:shutdown(true)
    assert.equal(0, q:qsize())
    assert.equal(0, q.unfinished_tasks)
    q:join()
    helpers.raises(ShutDown, q.get, q)
  end)

  it("wakes blocked getters with ShutDown", function()
    local q = queue.Queue()
    local ready = threading.Event()
    local result = queue.Queue()
    local t = threading.Thread{ target = function(qq, ev, res)
      ev:set()
      local ok, err = pcall(qq.get, qq, true, 30)
      res:put(not ok and require("braid.queue").ShutDown:is(err))
    end, args = { q, ready, result } }
    t:start()
    ready:wait(30)
    -- the worker is in get() or about to be: shutdown reaches it either way
    q:shutdown()
    t:join()
    assert.is_true(result:get(false))
  end)
end)

describe("LifoQueue", function()
  it("is last in, first out", function()
    local q = queue.LifoQueue()
    for i = 1, 4 do q:put(i) end
    for i = 4, 1, -1 do assert.equal(i, q:get()) end
    helpers.raises(Empty, q.get_nowait, q)
    assert.truthy(tostring(q):match("^<queue%.LifoQueue"))
  end)

  it("honours maxsize and task counting", function()
    local q = queue.LifoQueue(1)
    q:put("a")
    helpers.raises(Full, q.put_nowait, q, "b")
    q:get(); q:task_done()
    q:join()
  end)
end)

describe("PriorityQueue", function()
  it("orders numbers, lowest first", function()
    local q = queue.PriorityQueue()
    for _, v in ipairs{ 5, 1.5, 4, -2, 3, 1 } do q:put(v) end
    local out = {}
    for i = 1, 6 do out[i] = q:get() end
    assert.same({ -2, 1, 1.5, 3, 4, 5 }, out)
  end)

  it("orders strings bytewise", function()
    local q = queue.PriorityQueue()
    for _, v in ipairs{ "pear", "apple", "apricot", "b" } do q:put(v) end
    assert.equal("apple", q:get()); assert.equal("apricot", q:get())
    assert.equal("b", q:get()); assert.equal("pear", q:get())
  end)

  it("orders {priority, payload} tables like tuples", function()
    local q = queue.PriorityQueue()
    q:put({ 3, "low" }); q:put({ 1, "high" }); q:put({ 2, "mid" })
    q:put({ 1, "high-b" })
    assert.same({ 1, "high" }, q:get())
    assert.same({ 1, "high-b" }, q:get())
    assert.same({ 2, "mid" }, q:get())
    assert.same({ 3, "low" }, q:get())
  end)

  it("compares payloads when priorities tie, as Python does", function()
    local p = queue.PriorityQueue()
    p:put({ 1, { id = 1 } })
    p:put({ 2, { id = 2 } }) -- different priorities: payloads never compared
    local err = helpers.raises(errors.TypeError, p.put, p, { 1, { id = 3 } })
    helpers.message_has(err, "'<' not supported between instances of 'table' and 'table'")
    assert.equal(2, p:qsize())
  end)

  it("comes out stable for equal keys", function()
    local q = queue.PriorityQueue()
    for i = 1, 30 do q:put({ i % 3, i }) end
    local last = { -1, -1 }
    for _ = 1, 30 do
      local v = q:get()
      assert.is_true(v[1] > last[1] or (v[1] == last[1] and v[2] > last[2]))
      last = v
    end
  end)

  it("raises TypeError for items that cannot be ordered", function()
    local q = queue.PriorityQueue()
    q:put(1)
    local err = helpers.raises(errors.TypeError, q.put, q, "one")
    helpers.message_has(err, "'<' not supported between instances of 'string' and 'number'")
    helpers.raises(errors.TypeError, q.put, q, { a = 1 })
    helpers.raises(errors.TypeError, q.put, q, print)
    assert.equal(1, q:qsize())
    assert.equal(1, q.unfinished_tasks)
    assert.equal(1, q:get())
  end)
end)

describe("SimpleQueue", function()
  it("is an unbounded FIFO without task tracking", function()
    local q = queue.SimpleQueue()
    q:put(1, false, 5) -- block and timeout are ignored by put
    q:put_nowait(2)
    assert.equal(2, q:qsize())
    assert.equal(1, q:get())
    assert.equal(2, q:get_nowait())
    assert.is_true(q:empty())
    assert.is_nil(q.task_done)
    assert.is_nil(q.join)
    assert.is_nil(q.maxsize)
    helpers.raises(Empty, q.get, q, true, 0.05)
  end)
end)

describe("put_many and get_many", function()
  it("move batches in order", function()
    local q = queue.Queue()
    q:put_many({ 1, 2, 3, { x = 4 } })
    q:put(5)
    assert.equal(5, q:qsize())
    assert.equal(5, q.unfinished_tasks)
    local items = q:get_many(3)
    assert.equal(3, items.n)
    assert.same({ 1, 2, 3 }, { items[1], items[2], items[3] })
    local rest = q:get_many()
    assert.equal(2, rest.n)
    assert.equal(4, rest[1].x)
    assert.equal(5, rest[2])
    helpers.raises(Empty, q.get_many, q, 10, false)
  end)

  it("keep nils by position with n", function()
    local q = queue.Queue()
    q:put_many({ 1, nil, 3, n = 3 })
    assert.equal(3, q:qsize())
    local items = q:get_many(3)
    assert.equal(1, items[1]); assert.is_nil(items[2]); assert.equal(3, items[3])
  end)

  it("on a bounded queue put what fits and say how many", function()
    local q = queue.Queue(3)
    local err = helpers.raises(Full, q.put_many, q, { 1, 2, 3, 4, 5 }, false)
    assert.equal(3, err.put)
    assert.equal(3, q:qsize())
  end)

  it("work in LIFO and priority order", function()
    local l = queue.LifoQueue()
    l:put_many({ 1, 2, 3 })
    assert.equal(3, l:get()); assert.equal(2, l:get()); assert.equal(1, l:get())
    local p = queue.PriorityQueue()
    p:put_many({ 5, 2, 9, 1 })
    p:put(3)
    local out = p:get_many(5)
    assert.same({ 1, 2, 3, 5, 9 }, { out[1], out[2], out[3], out[4], out[5] })
    helpers.raises(errors.TypeError, p.put_many, p, { 1, "x" })
    assert.equal(0, p:qsize())
  end)

  it("check their arguments", function()
    local q = queue.Queue()
    helpers.raises(errors.TypeError, q.put_many, q, 5)
    helpers.raises(errors.ValueError, q.get_many, q, 0)
    local err = helpers.raises(errors.TypeError, q.put_many, q, { 1, coroutine.create(print) })
    helpers.message_has(err, "items[2]")
    assert.equal(0, q:qsize())
  end)
end)

-- Every item is delivered exactly once under contention. BRAID_STRESS_ITEMS
-- sets the count (1,000,000 for the full run: see README).
local STRESS = tonumber(os.getenv("BRAID_STRESS_ITEMS") or "") or 40000

describe("delivery under contention", function()
  it(("moves %d items through 4 producers and 4 consumers exactly once"):format(STRESS),
    function()
      local q = queue.Queue(1000)
      local results = queue.Queue()
      local per = STRESS // 4
      local producers, consumers = {}, {}
      for p = 1, 4 do
        producers[p] = threading.Thread{ target = function(qq, id, n)
          for i = 1, n do qq:put((id - 1) * n + i) end
        end, args = { q, p, per } }
      end
      for c = 1, 4 do
        consumers[c] = threading.Thread{ target = function(qq, res)
          local count, sum, xor = 0, 0, 0
          while true do
            local v = qq:get()
            if v == false then break end
            count = count + 1; sum = sum + v; xor = xor ~ v
          end
          res:put({ count, sum, xor })
        end, args = { q, results } }
      end
      for c = 1, 4 do consumers[c]:start() end
      for p = 1, 4 do producers[p]:start() end
      for p = 1, 4 do producers[p]:join() end
      for _ = 1, 4 do q:put(false) end
      for c = 1, 4 do consumers[c]:join() end
      local total, sum, xor = 0, 0, 0
      for _ = 1, 4 do
        local r = results:get(false)
        total = total + r[1]; sum = sum + r[2]; xor = xor ~ r[3]
      end
      local n = per * 4
      local want_xor = 0
      for i = 1, n do want_xor = want_xor ~ i end
      assert.equal(n, total)
      assert.equal(n * (n + 1) // 2, sum)
      assert.equal(want_xor, xor)
    end)

  it("moves batches through several consumers exactly once", function()
    local q = queue.Queue()
    local results = queue.Queue()
    local consumers = {}
    for c = 1, 3 do
      consumers[c] = threading.Thread{ target = function(qq, res)
        local count, sum = 0, 0
        while true do
          local items = qq:get_many(64)
          local stop = false
          for k = 1, items.n do
            if items[k] == false then stop = true else count = count + 1; sum = sum + items[k] end
          end
          if stop then break end
        end
        res:put({ count, sum })
      end, args = { q, results } }
      consumers[c]:start()
    end
    local n = 30000
    local batch = {}
    for i = 1, n, 100 do
      for k = 1, 100 do batch[k] = i + k - 1 end
      q:put_many(batch)
    end
    -- one false at a time, each answered before the next: any consumer may
    -- take it, and none takes two
    local total, sum = 0, 0
    for _ = 1, 3 do
      q:put(false)
      local r = results:get(true, 30)
      total = total + r[1]; sum = sum + r[2]
    end
    for c = 1, 3 do consumers[c]:join() end
    assert.equal(n, total)
    assert.equal(n * (n + 1) // 2, sum)
  end)

  it("frees the queue and its items when the last user lets go", function()
    collectgarbage(); collectgarbage()
    local before = core._test.live()
    do
      local q = queue.Queue()
      local lock = threading.Lock()
      q:put({ lock, "payload" })
      q:put_many({ 1, 2, { lock } })
      assert.equal(before + 2, core._test.live())
    end
    collectgarbage(); collectgarbage()
    assert.equal(before, core._test.live())
  end)
end)

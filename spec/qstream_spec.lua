-- Streamed puts on threading queues (issue 16, item 4): a put of a big
-- table links its item once the encoding passes the streaming threshold,
-- and a get that takes it decodes while the put still encodes. Queue
-- semantics stay Python's; a value found unsendable late is never
-- delivered, half-made or not, and the reader goes on to the next item.
--
-- Each test lowers the threshold with core._stream_min (see
-- spec/stream_spec.lua) so that tables of a few thousand records cross
-- many publication steps.
local core = require "braid.core"
local errors = require "braid.errors"
local queue = require "braid.queue"
local threading = require "braid.threading"
local helpers = require "helpers"
local live = helpers.live

local stream_min = core._stream_min
local MIN, STEP = 256, 64

local function small_threshold()
  local saved
  before_each(function() saved = table.pack(stream_min(MIN, STEP)) end)
  after_each(function() stream_min(saved[1], saved[2]) end)
end

local function records(n, tag)
  local t = {}
  for i = 1, n do t[i] = { id = i, name = (tag or "item") .. i, vals = { i, 2 * i } } end
  return t
end

-- Waits (bounded) until cond() holds; the partner runs in another thread.
local function wait_until(cond, what)
  local ev = threading.Event()
  local deadline = helpers.now() + 30
  while not cond() do
    assert(helpers.now() < deadline, "timed out waiting for " .. what)
    ev:wait(0.001)
  end
end

-- An object whose __braidreduce runs fn() in the producer, in the middle
-- of the encoding (after the records before it were written and
-- published), then sends a plain value.
local function probe(fn, value)
  return setmetatable({}, { __braidreduce = function()
    fn()
    return tonumber, value or "7"
  end })
end

-- A consumer thread blocked in q:get (ready is set just before the get);
-- each value got goes to 'out' as fn(value) (or the error's class name).
local function consumer(q, out, ready, count, timeout)
  local t = threading.Thread { target = function(qq, oo, rd, n, to)
    local errs = require "braid.errors"
    for _ = 1, n do
      rd:set()
      local ok, v = pcall(qq.get, qq, true, to)
      if ok then
        oo:put({ ok = true, v = v })
      else
        oo:put({ ok = false, cls = errs.classname and errs.classname(v) or tostring(v) })
      end
    end
  end, args = { q, out, ready, count, timeout } }
  t:start()
  return t
end

describe("a streamed Queue put", function()
  small_threshold()

  for _, kind in ipairs({ "Queue", "LifoQueue" }) do
    it("is linked before its encoding ends and decoded meanwhile by a waiting get (" .. kind .. ")", function()
      local q = queue[kind]()
      local out, ready = queue.Queue(), threading.Event()
      local t = consumer(q, out, ready, 1)
      assert.is_true(ready:wait(30))
      local big = records(3000)
      local seen
      big[1500].probe = probe(function()
        -- half the records are written: the item is in the queue's
        -- count, and the waiting get takes it while this encodes on
        seen = q.unfinished_tasks
        wait_until(function() return q:qsize() == 0 end, "the get to take the item")
      end)
      q:put(big)
      assert.equal(1, seen)
      local r = out:get(true, 30)
      t:join(30)
      assert.is_true(r.ok)
      assert.equal(3000, #r.v)
      assert.equal(7, r.v[1500].probe)
      r.v[1500].probe, big[1500].probe = nil, nil
      assert.same(big, r.v)
    end)
  end

  it("is linked before its encoding ends (SimpleQueue) and got whole", function()
    local q = queue.SimpleQueue()
    local big = records(3000)
    local seen
    big[1500].probe = probe(function() seen = q:qsize() end)
    q:put(big)
    assert.equal(1, seen)
    local v = q:get(true, 10)
    assert.equal(7, v[1500].probe)
    v[1500].probe, big[1500].probe = nil, nil
    assert.same(big, v)
  end)

  it("keeps FIFO order with a small item put after it, LIFO and priority order", function()
    local q = queue.Queue()
    q:put(records(2000))
    q:put("small")
    assert.equal(2000, #q:get(true, 10))
    assert.equal("small", q:get(true, 10))
    local l = queue.LifoQueue()
    l:put(records(2000))
    l:put("small")
    assert.equal("small", l:get(true, 10))
    assert.equal(2000, #l:get(true, 10))
    local p = queue.PriorityQueue() -- never streams: it orders complete items
    local a, b = records(2000, "b"), records(2000, "a")
    table.insert(a, 1, 2)
    table.insert(b, 1, 1)
    p:put(a)
    p:put(b)
    assert.equal(1, p:get(true, 10)[1])
    assert.equal(2, p:get(true, 10)[1])
  end)

  it("counts once against maxsize and waits for room before linking", function()
    local q = queue.Queue(1)
    q:put("first")
    helpers.raises(errors.classes["queue.Full"], q.put, q, records(2000), true, 0.05)
    helpers.raises(errors.classes["queue.Full"], q.put, q, records(2000), false)
    assert.equal(1, q:qsize())
    assert.equal("first", q:get())
    q:put(records(2000))
    assert.equal(1, q:qsize())
    assert.is_true(q:full())
    assert.equal(2000, #q:get(true, 10))
    assert.is_true(q:empty())
  end)

  it("keeps task_done/join", function()
    local q = queue.Queue()
    q:put(records(2000))
    local v = q:get(true, 10)
    assert.equal(2000, #v)
    q:task_done()
    q:join()
    helpers.raises(errors.ValueError, q.task_done, q)
  end)
end)

describe("a streamed put that fails late", function()
  small_threshold()

  local function bad_records()
    local big = records(3000)
    big[2999].f = io.stdout -- met after the item was linked
    return big
  end

  it("raises the TypeError with the path; a waiting get gets the next item, nothing half-made", function()
    local before = live()
    local q = queue.Queue()
    local out, ready = queue.Queue(), threading.Event()
    local t = consumer(q, out, ready, 1)
    assert.is_true(ready:wait(30))
    local err = helpers.raises(errors.TypeError, q.put, q, bad_records())
    helpers.message_has(err, "item[2999].f")
    q:put("next")
    local r = out:get(true, 30)
    t:join(30)
    assert.is_true(r.ok)
    assert.equal("next", r.v)
    assert.is_true(q:empty())
    q:task_done() -- "next"; the failed item was taken back already
    assert.is_true((helpers.run_in_thread(function(qq) qq:join() end, q)))
    q, t, out, ready = nil, nil, nil, nil -- luacheck: ignore 311
    assert.equal(before, live())
  end)

  it("is dropped by a later get, which takes the next item within its timeout", function()
    local q = queue.Queue()
    helpers.raises(errors.TypeError, q.put, q, bad_records())
    helpers.raises(errors.classes["queue.Empty"], q.get_nowait, q)
    helpers.raises(errors.TypeError, q.put, q, bad_records())
    q:put("after")
    assert.equal("after", q:get(true, 10))
    helpers.raises(errors.TypeError, q.put, q, bad_records())
    local t0 = helpers.now()
    helpers.raises(errors.classes["queue.Empty"], q.get, q, true, 0.1)
    assert.is_true(helpers.now() - t0 < 10)
    helpers.raises(errors.TypeError, q.put, q, bad_records())
    q:put("x")
    local got = q:get_many(5, false)
    assert.equal(1, got.n)
    assert.equal("x", got[1])
    -- among values kept in the queue's slots and encoded ones: the batch
    -- closes up where the failed item was
    q:put(1)
    helpers.raises(errors.TypeError, q.put, q, bad_records())
    q:put(2); q:put({ k = 1 }); q:put("three")
    got = q:get_many(10, false)
    assert.equal(4, got.n)
    assert.same({ 1, 2, { k = 1 }, "three", n = 4 }, got)
  end)

  it("fails a get that took it mid-stream and waits for what follows (timeout)", function()
    local q = queue.Queue()
    local out, ready = queue.Queue(), threading.Event()
    local t = consumer(q, out, ready, 1, 0.5)
    assert.is_true(ready:wait(30))
    local big = bad_records()
    big[1000].probe = probe(function()
      assert(q.unfinished_tasks == 1, "the item is linked")
      wait_until(function() return q:qsize() == 0 end, "the get to take the item")
    end)
    helpers.raises(errors.TypeError, q.put, q, big)
    local r = out:get(true, 30)
    t:join(30)
    assert.is_false(r.ok) -- queue.Empty: nothing else came within 0.5 s
  end)
end)

describe("a streamed put whose reader goes away", function()
  small_threshold()

  it("is not blocked by a consumer that fails mid-stream, and leaks nothing", function()
    local before = live()
    local q = queue.Queue()
    local out, ready = queue.Queue(), threading.Event()
    local t = consumer(q, out, ready, 1)
    assert.is_true(ready:wait(30))
    -- a module only this state has: the consumer's decode raises at it
    package.loaded["share_qstream_only_here"] = { x = 1 }
    local big = records(3000)
    big[2000].mod = package.loaded["share_qstream_only_here"]
    big[1000].probe = probe(function()
      assert(q.unfinished_tasks == 1, "the item is linked")
      wait_until(function() return q:qsize() == 0 end, "the get to take the item")
    end)
    q:put(big) -- returns: the writer never waits for a reader
    package.loaded["share_qstream_only_here"] = nil
    local r = out:get(true, 30)
    t:join(30)
    assert.is_false(r.ok)
    q, big, t, out, ready = nil, nil, nil, nil, nil -- luacheck: ignore 311
    assert.equal(before, live())
  end)

  it("leaks nothing when the queue is dropped or shut down with the item in it", function()
    local before = live()
    local q = queue.Queue()
    local big = records(3000)
    big[1000].probe = probe(function() q:shutdown(true) end)
    q:put(big) -- linked, then dropped by the shutdown while it streams
    helpers.raises(errors.classes["queue.ShutDown"], q.get_nowait, q)
    local q2 = queue.Queue()
    q2:put(records(3000))
    q, q2, big = nil, nil, nil -- luacheck: ignore 311
    assert.equal(before, live())
  end)
end)

-- braid.queue's single-item path: on an unbounded Queue and a SimpleQueue
-- a scalar (nil, boolean, number, string of at most 8 bytes) travels in the
-- queue's slot without a message (src/core/qval.h). These specs hold the
-- path to Python's semantics: every value comes back exactly (subtype,
-- sign of zero, NaN, embedded zeros), in order, once, mixed with values
-- that do go through the codec, and across the move of a queue to its
-- one-mutex path when it is given a bound.
local queue = require "braid.queue"
local threading = require "braid.threading"
local helpers = require "helpers"

-- A scalar per kind and edge; 8 and 9 bytes straddle the slot's string
-- limit, so both forms of a string are covered.
local SCALARS = {
  0, 1, -1, 127, 128, -129, 2 ^ 31, math.maxinteger, math.mininteger,
  math.mininteger + 1, 1 << 53, -(1 << 62),
  0.0, -0.0, 0.5, -1.5, math.pi, 2.0 ^ 53, 1e308, -1e-308, 4.9e-324,
  math.huge, -math.huge, 0 / 0,
  true, false,
  "", "a", "\0", "a\0b", "\0\0\0\0\0\0\0\0", "12345678", "123456789",
  "\255\254\0\1", ("x"):rep(40),
}

-- The same value, the same subtype: integer/float kept apart, -0.0 told
-- from 0.0, NaN matched by NaN.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "number" then return a == b end
  if math.type(a) ~= math.type(b) then return false end
  if a ~= a then return b ~= b end
  if a == 0 and math.type(a) == "float" then return 1 / a == 1 / b end
  return a == b
end

local function describe_value(v)
  if type(v) == "number" then
    return ("%s %s"):format(math.type(v), v == 0 and 1 / v < 0 and "-0.0" or
      tostring(v))
  end
  return ("%s %q"):format(type(v), tostring(v))
end

local function check_all(got, n_expected_offset)
  for i, v in ipairs(SCALARS) do
    local g = got[i + (n_expected_offset or 0)]
    assert.is_true(same(v, g), ("item %d: put %s, got %s")
      :format(i, describe_value(v), describe_value(g)))
  end
end

for _, kind in ipairs { "Queue", "SimpleQueue" } do
  describe(kind .. " single items", function()
    it("give every scalar back exactly, in the same state", function()
      local q = queue[kind]()
      for _, v in ipairs(SCALARS) do q:put(v) end
      q:put(nil)
      assert.equal(#SCALARS + 1, q:qsize())
      local got = {}
      for i = 1, #SCALARS do got[i] = q:get() end
      check_all(got)
      assert.is_nil(q:get(false))
      assert.is_true(q:empty())
    end)

    it("give every scalar back exactly in another thread", function()
      local q, back = queue[kind](), queue[kind]()
      local t = threading.Thread { target = function(qin, qout, n)
        for _ = 1, n + 1 do qout:put(qin:get(true, 30)) end
      end, args = { q, back, #SCALARS } }
      t:start()
      for _, v in ipairs(SCALARS) do q:put(v) end
      q:put(nil)
      local got = {}
      for i = 1, #SCALARS do got[i] = back:get(true, 30) end
      assert.is_nil(back:get(true, 30))
      t:join()
      check_all(got)
    end)

    it("mix with encoded values and batches in order, through get and get_many", function()
      local q = queue[kind]()
      q:put(1)
      q:put({ "table", 2 })
      q:put("short")
      q:put_many({ 3, "four", { 5 }, n = 3 })
      q:put(6.5)
      q:put("a longer string")
      q:put(false)
      local r = q:get_many(4)
      assert.equal(4, r.n)
      assert.equal(1, r[1])
      assert.same({ "table", 2 }, r[2])
      assert.equal("short", r[3])
      assert.equal(3, r[4])
      r = q:get_many()
      assert.equal(5, r.n)
      assert.equal("four", r[1])
      assert.same({ 5 }, r[2])
      assert.equal(6.5, r[3])
      assert.equal(math.type(6.5), math.type(r[3]))
      assert.equal("a longer string", r[4])
      assert.equal(false, r[5])
      for _, v in ipairs(SCALARS) do q:put(v) end
      r = q:get_many(#SCALARS)
      assert.equal(#SCALARS, r.n)
      check_all(r)
    end)

    it("keep each producer's order with several producers and deliver each item once", function()
      local q = queue[kind]()
      local P, N = 4, 20000
      local go = threading.Event()
      local ts = {}
      for p = 1, P do
        ts[p] = threading.Thread { target = function(qq, ev, id, n)
          ev:wait(30)
          for i = 1, n do
            -- integers, floats and short strings, all in the slots
            local k = i % 3
            if k == 0 then qq:put(id * 1000000 + i)
            elseif k == 1 then qq:put(id * 1000000 + i + 0.5)
            else qq:put(("%d:%d"):format(id, i)) end
          end
        end, args = { q, go, p, N } }
        ts[p]:start()
      end
      go:set()
      local last, seen = {}, 0
      for p = 1, P do last[p] = 0 end
      for _ = 1, P * N do
        local v = q:get(true, 30)
        local id, i
        if type(v) == "string" then
          local a, b = v:match("^(%d+):(%d+)$")
          id, i = tonumber(a), tonumber(b)
          assert.equal(2, i % 3)
        elseif math.type(v) == "float" then
          id, i = math.floor(v) // 1000000, math.floor(v) % 1000000
          assert.equal(1, i % 3)
        else
          id, i = v // 1000000, v % 1000000
          assert.equal(0, i % 3)
        end
        assert.equal(last[id] + 1, i, "producer " .. id .. " out of order")
        last[id] = i
        seen = seen + 1
      end
      for p = 1, P do ts[p]:join() end
      assert.equal(P * N, seen)
      for p = 1, P do assert.equal(N, last[p]) end
      assert.is_true(q:empty())
    end)
  end)
end

describe("Queue single items and the bound", function()
  it("keep their values and order when the queue is given a bound", function()
    local q = queue.Queue()
    for _, v in ipairs(SCALARS) do q:put(v) end
    q:put({ "t" })
    q.maxsize = #SCALARS + 2 -- moves to the one-mutex path
    assert.equal(#SCALARS + 2, q.maxsize)
    q:put(42) -- a message now
    local got = {}
    for i = 1, #SCALARS do got[i] = q:get(false) end
    check_all(got)
    assert.same({ "t" }, q:get(false))
    assert.equal(42, q:get(false))
    assert.is_true(q:empty())
  end)

  it("count as tasks: join waits for task_done of each", function()
    local q = queue.Queue()
    for i = 1, 5 do q:put(i) end
    q:put("x")
    assert.equal(6, q.unfinished_tasks)
    local t = threading.Thread { target = function(qq)
      for _ = 1, 6 do qq:get(true, 30); qq:task_done() end
    end, args = { q } }
    t:start()
    q:join()
    assert.equal(0, q.unfinished_tasks)
    t:join()
  end)

  it("are dropped and counted done by shutdown(immediate)", function()
    local q = queue.Queue()
    for i = 1, 10 do q:put(i) end
    q:put({ 11 })
    q:shutdown(true)
    assert.equal(0, q.unfinished_tasks)
    assert.equal(0, q:qsize())
    helpers.raises(queue.ShutDown, q.get, q, false)
    helpers.raises(queue.ShutDown, q.put, q, 1)
  end)
end)

describe("Queue task accounting on the slot path", function()
  it("counts an item put before a consumer can take it (task_done never runs ahead)", function()
    -- a consumer that calls task_done as soon as it has an item must find
    -- the item counted: the count goes up before the item is published
    local q, errs = queue.Queue(), queue.SimpleQueue()
    local N = 200000
    local t = threading.Thread { target = function(qq, ee, n)
      for _ = 1, n do
        qq:get(true, 30)
        local ok, err = pcall(qq.task_done, qq)
        if not ok then ee:put(tostring(err)); return end
      end
      ee:put("done")
    end, args = { q, errs, N } }
    t:start()
    for i = 1, N do q:put(i) end
    local r = errs:get(true, 60)
    t:join()
    assert.equal("done", r)
    assert.equal(0, q.unfinished_tasks)
  end)
end)

describe("q:put and q:get on something else", function()
  it("raise TypeError for a self that is not a queue", function()
    local errors = require "braid.errors"
    local q = queue.SimpleQueue()
    local lock = threading.Lock()
    for _, bad in ipairs { lock, {}, "q", 1, io.stdout } do
      helpers.raises(errors.TypeError, q.put, bad, 1)
      helpers.raises(errors.TypeError, q.get, bad)
    end
    -- a method of one queue class on another kind of queue still works
    local fifo = queue.Queue()
    q.put(fifo, 5)
    assert.equal(5, queue.Queue().get(fifo))
  end)
end)

describe("the slot path's wake-ups", function()
  it("lose none with several producers and consumers that keep falling asleep", function()
    -- consumers drain faster than producers fill, so they sleep and are
    -- woken over and over; each round ends with one sentinel per consumer,
    -- which a lost wake-up would leave untaken (the get times out)
    local P, C, ROUNDS, N = 3, 3, 20, 300
    for round = 1, ROUNDS do
      local q, results = queue.SimpleQueue(), queue.SimpleQueue()
      local cs, ps = {}, {}
      for c = 1, C do
        cs[c] = threading.Thread { target = function(qq, res)
          local count, sum = 0, 0
          while true do
            local ok, v = pcall(qq.get, qq, true, 20)
            if not ok then res:put("lost wake-up: " .. tostring(v)); return end
            if v == false then break end
            count = count + 1; sum = sum + v
          end
          res:put({ count, sum })
        end, args = { q, results } }
        cs[c]:start()
      end
      for p = 1, P do
        ps[p] = threading.Thread { target = function(qq, id, n)
          for i = 1, n do qq:put(id * 100000 + i) end
        end, args = { q, p, N } }
        ps[p]:start()
      end
      for p = 1, P do ps[p]:join() end
      for _ = 1, C do q:put(false) end
      local count, sum = 0, 0
      for _ = 1, C do
        local r = results:get(true, 60)
        assert.is_table(r, ("round %d: %s"):format(round, tostring(r)))
        count = count + r[1]; sum = sum + r[2]
      end
      for c = 1, C do cs[c]:join() end
      local want = 0
      for p = 1, P do want = want + p * 100000 * N + N * (N + 1) // 2 end
      assert.equal(P * N, count)
      assert.equal(want, sum)
    end
  end)
end)

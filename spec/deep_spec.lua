-- Deep values: the codec walks tables, functions, upvalues and metatables
-- with explicit stacks, and moves the bottom levels' Lua stack slots into a
-- table past a window of levels, so nesting is bounded by memory only, not
-- by a fixed depth, the C stack or Lua's limit of a million stack slots: a
-- 100,000-node linked list and a 10,000-level nested table cross to
-- threads, through queues and to processes and back, and a 1,000,000-node
-- list and a 600,000-level nested table cross too.
local helpers = require "helpers"
local errors = require "braid.errors"
local core = require "braid.core"
local threading = require "braid.threading"
local queue = require "braid.queue"
local mp = require "braid.multiprocessing"

-- BRAID_DEEP_NODES scales the lists down where every memory access costs
-- tens of times more (scripts/test.sh's ThreadSanitizer pass)
local LIST = tonumber(os.getenv("BRAID_DEEP_NODES")) or 100000
local NEST = LIST // 10
-- past Lua's stack limit (a million slots, two or three per level walked)
local HUGE_LIST = LIST * 10
local HUGE_NEST = LIST * 6

-- (helpers.start_methods: BRAID_SPEC_METHODS limits the start methods)
local METHODS = helpers.start_methods()

-- {v = 1, next = {v = 2, next = ... {v = n}}}
local function make_list(n)
  local head
  for i = n, 1, -1 do head = { v = i, next = head } end
  return head
end

-- Counts the nodes of a list, checking that node i holds v = i; returns
-- the count, or nil and where it went wrong. Runs in workers too (it
-- travels as an upvalue of their targets).
local function check_list(head)
  local n, node = 0, head
  while node ~= nil do
    n = n + 1
    if node.v ~= n then return nil, "node " .. n .. " holds " .. tostring(node.v) end
    node = node.next
  end
  return n
end

-- {{{... {depth = n} ...}}}: element 1 of each level is the next level.
local function make_nest(n)
  local t = { depth = n }
  for _ = 1, n - 1 do t = { t } end
  return t
end

local function check_nest(t)
  local n = 1
  while t[1] ~= nil do
    if #t ~= 1 then return nil, "level " .. n .. " has " .. #t .. " elements" end
    t = t[1]; n = n + 1
  end
  if t.depth ~= n then return nil, "innermost holds depth " .. tostring(t.depth) end
  return n
end

describe("deep values", function()
  it("round-trip through dumps and loads", function()
    local list, nest = core.loads(core.dumps(make_list(LIST), make_nest(NEST)))
    assert.equal(LIST, check_list(list))
    assert.equal(NEST, check_nest(nest))
  end)

  it("cross to a thread as arguments and come back through a queue", function()
    local q = queue.Queue()
    local t = threading.Thread{target = function(q, list, nest)
      q:put({ list = check_list(list), nest = check_nest(nest) })
      q:put(list)
      q:put(nest)
    end, args = { q, make_list(LIST), make_nest(NEST) }}
    t:start()
    local counts = q:get(true, 60)
    assert.same({ list = LIST, nest = NEST }, counts)
    assert.equal(LIST, check_list(q:get(true, 60)))
    assert.equal(NEST, check_nest(q:get(true, 60)))
    t:join(60)
    assert.is_false(t:is_alive())
  end)

  it("cross to and from a thread with a small C stack (no recursion per level)", function()
    -- 512 KiB: a walk recursing in C per level would need megabytes here
    local old = threading.stack_size(512 * 1024)
    local q = queue.Queue()
    local t = threading.Thread{target = function(q, list)
      q:put(check_list(list))
      q:put(list)
    end, args = { q, make_list(LIST) }}
    t:start()
    threading.stack_size(old)
    assert.equal(LIST, q:get(true, 60))
    assert.equal(LIST, check_list(q:get(true, 60)))
    t:join(60)
    assert.is_false(t:is_alive())
  end)

  it("pass through a threading Queue and a PriorityQueue", function()
    local q = queue.Queue()
    q:put(make_list(LIST))
    q:put(make_nest(NEST))
    assert.equal(LIST, check_list(q:get(true, 10)))
    assert.equal(NEST, check_nest(q:get(true, 10)))
    local pq = queue.PriorityQueue()
    pq:put({ 1, make_list(1000) })
    assert.equal(1000, check_list(pq:get(true, 10)[2]))
  end)

  it("order deep sequences in a PriorityQueue", function()
    local function nest(n, leaf)
      local t = { leaf }
      for _ = 1, n - 1 do t = { t } end
      return t
    end
    local pq = queue.PriorityQueue()
    pq:put({ nest(NEST, 2), "b" })
    pq:put({ nest(NEST, 1), "c", 0 }) -- equal first elements: skipped
    pq:put({ nest(NEST, 1), "a", 1 })
    pq:put({ nest(NEST, 1), "a" }) -- a prefix of the one before
    local got = {}
    for i = 1, 4 do
      local item = pq:get(true, 10)
      got[i] = item[2] .. #item
    end
    assert.same({ "a2", "a3", "c3", "b2" }, got)
  end)

  for _, method in ipairs(METHODS) do
    it("cross to a process (" .. method .. ") and back through a multiprocessing Queue", function()
      local ctx = mp.get_context(method)
      local q = ctx.Queue()
      local p = ctx.Process{target = function(q, list, nest)
        q:put({ list = check_list(list), nest = check_nest(nest) })
        q:put(list)
        q:put(nest)
      end, args = { q, make_list(LIST), make_nest(NEST) }}
      p:start()
      assert.same({ list = LIST, nest = NEST }, q:get(true, 60))
      assert.equal(LIST, check_list(q:get(true, 60)))
      assert.equal(NEST, check_nest(q:get(true, 60)))
      p:join(60)
      assert.equal(0, p.exitcode)
    end)
  end

  it("carry a function whose upvalue is a deep chain", function()
    local chain = make_list(LIST)
    local function count() return check_list(chain) end
    local ok, n, back = helpers.run_in_thread(function(f) return f(), f end, count)
    assert.is_true(ok, tostring(n))
    assert.equal(LIST, n)
    assert.equal(LIST, back())
    -- a chain of closures, each the upvalue of the next
    local f = function() return 0 end
    for _ = 1, NEST do
      local inner = f
      f = function() return inner() + 1 end
    end
    local g = core.loads(core.dumps(f))
    assert.equal(NEST, g())
  end)

  it("keep deep metatable chains", function()
    -- each table's metatable is the next one, 10,000 deep
    local top = { level = 0 }
    local cur = top
    for i = 1, NEST do
      local mt = { level = i }
      setmetatable(cur, mt)
      cur = mt
    end
    local back = core.loads(core.dumps(top))
    local n, t = 0, back
    while getmetatable(t) ~= nil do
      t = getmetatable(t); n = n + 1
      assert.equal(n, t.level)
    end
    assert.equal(NEST, n)
    -- a deep list whose nodes share one metatable with __index
    local Node = { __index = { kind = "node" } }
    local list = make_list(LIST)
    local node = list
    while node do setmetatable(node, Node); node = node.next end
    local ok, res = helpers.run_in_thread(function(l)
      local shared, node, n = getmetatable(l), l, 0
      while node do
        if getmetatable(node) ~= shared or node.kind ~= "node" then return "bad node " .. n end
        n = n + 1; node = node.next
      end
      return n
    end, list)
    assert.is_true(ok, tostring(res))
    assert.equal(LIST, res)
  end)

  it("keep shared references and cycles inside deep values", function()
    local shared = { "shared" }
    local head = make_list(LIST)
    local prev, node = nil, head
    while node do
      node.prev = prev
      node.shared = shared
      prev, node = node, node.next
    end
    prev.next = head -- the last node closes the cycle
    local back = core.loads(core.dumps(head))
    local n, cur = 0, back
    repeat
      n = n + 1
      assert(cur.v == n, "node " .. n)
      assert(cur.shared == back.shared, "shared table at node " .. n)
      if n > 1 then assert(cur.prev.next == cur, "prev link at node " .. n) end
      cur = cur.next
    until cur == back
    assert.equal(LIST, n)
    assert.same({ "shared" }, back.shared)
    assert.is_nil(back.prev)
    -- a nested table whose innermost level refers to the outermost
    local nest = make_nest(NEST)
    local inner = nest
    while inner[1] do inner = inner[1] end
    inner.outer = nest
    local nb = core.loads(core.dumps(nest))
    local ib = nb
    while ib[1] do ib = ib[1] end
    assert.equal(nb, ib.outer)
  end)

  it("name the path of a bad value deep inside, abbreviated", function()
    local head = make_list(5000)
    local node = head
    while node.next do node = node.next end
    node.bad = io.stdout
    local err = helpers.raises(errors.TypeError, core.dumps, head)
    helpers.message_has(err, "value.next.next.next.next.next.next.next.next ... ")
    helpers.message_has(err, ".next.bad (5000 levels): a userdata of type FILE*")
    -- short paths are written in full
    err = helpers.raises(errors.TypeError, core.dumps, { a = { { b = print, c = io.stdout } } })
    helpers.message_has(err, "value.a[1].c: a userdata")
  end)

  it("cross a 1,000,000-node list to a thread and back, and through a Queue", function()
    -- more levels than Lua's million stack slots could hold at two or
    -- three per level: the walk spills its bottom levels' slots
    local q = queue.Queue()
    local t = threading.Thread{target = function(q, list)
      q:put(check_list(list))
      q:put(list)
    end, args = { q, make_list(HUGE_LIST) }}
    t:start()
    assert.same(HUGE_LIST, q:get(true, 120))
    local back = q:get(true, 120)
    assert.same({ HUGE_LIST }, { check_list(back) })
    t:join(120)
    assert.is_false(t:is_alive())
    -- the same list again through a threading Queue, in this state
    q:put(back)
    back = nil
    assert.same({ HUGE_LIST }, { check_list(q:get(true, 60)) })
  end)

  it("round-trip a 600,000-level nested table through dumps and loads", function()
    local bytes = core.dumps(make_nest(HUGE_NEST))
    assert.same({ HUGE_NEST }, { check_nest(core.loads(bytes)) })
  end)

  it("finish each level after a deep child whose slots were spilled", function()
    -- every level holds a value after its child (written, then read, once
    -- the walk came back from below the spill window) and a key before it
    local n = math.max(NEST * 3, 20000)
    local t = { "bottom" }
    for i = n - 1, 1, -1 do t = { t, i, [{ i }] = true } end
    local back = core.loads(core.dumps(t))
    for i = 1, n - 1 do
      assert(back[2] == i, "level " .. i .. " holds " .. tostring(back[2]))
      local k = next(back, 2)
      assert(type(k) == "table" and k[1] == i, "key of level " .. i)
      back = back[1]
    end
    assert.same({ "bottom" }, back)
    -- a bad value met after climbing back from a spilled branch, and one
    -- at the bottom of a spilled branch: their paths are named
    local err = helpers.raises(errors.TypeError, core.dumps, { make_list(n), io.stdout })
    helpers.message_has(err, "value[2]: a userdata of type FILE*")
    local head = make_list(n)
    local node = head
    while node.next do node = node.next end
    node.bad = io.stdout
    err = helpers.raises(errors.TypeError, core.dumps, head)
    helpers.message_has(err, "value.next.next.next.next.next.next.next.next ... ")
    helpers.message_has(err, ".next.bad (" .. n .. " levels): a userdata of type FILE*")
  end)

  it("raise MemoryError naming the depth when the Lua stack is full", function()
    -- A state has at most a million stack slots, and the walk keeps one to
    -- three per level there for up to 8,192 levels (BRAID_SPILL_W * 2)
    -- before it spills the bottom ones into a table. Lua frames of 1,000
    -- values each fill the stack until fewer than 4,000 slots are left
    -- (the most frames that fit, less 3): the codec runs out of stack
    -- before it spills, and raises MemoryError.
    local function deep_call(n, f, ...)
      if n == 0 then return f() end
      return (deep_call(n - 1, f, ...)) -- not a tail call: frames pile up
    end
    local fill = {}
    for i = 1, 1000 do fill[i] = i end
    local function fits(n)
      return (pcall(deep_call, n, function() return true end, table.unpack(fill)))
    end
    local lo, hi = 0, 2000 -- fits(lo), not fits(hi)
    assert.is_true(fits(lo))
    assert.is_false(fits(hi))
    while hi - lo > 1 do
      local mid = (lo + hi) // 2
      if fits(mid) then lo = mid else hi = mid end
    end
    local frames = lo - 3
    assert(frames > 900, "only " .. lo .. " Lua frames fit")
    local nest = make_nest(100000)
    local bytes = core.dumps(nest) -- fine with the stack free
    local err = helpers.raises(errors.MemoryError, deep_call, frames,
      function() return core.dumps(nest) end, table.unpack(fill))
    helpers.message_has(err, "value[1][1][1][1][1][1][1][1] ... [1][1][1][1][1][1][1][1] (")
    helpers.message_has(err, " levels): not enough memory to encode a value nested ")
    helpers.message_has(err, " levels deep")
    err = helpers.raises(errors.MemoryError, deep_call, frames,
      function() return core.loads(bytes) end, table.unpack(fill))
    helpers.message_has(err, "not enough memory to decode a value nested ")
    -- with the stack free again, both work
    assert.equal(100000, check_nest(core.loads(bytes)))
  end)

  it("cost under 3x a flat table of as many nodes", function()
    -- best of 3 of dumps + loads; flat: the same nodes in one array
    local function best(v)
      local b = math.huge
      for _ = 1, 3 do
        local t0 = helpers.now()
        core.loads(core.dumps(v))
        b = math.min(b, helpers.now() - t0)
      end
      return b
    end
    local flat = {}
    for i = 1, LIST do flat[i] = { v = i, next = false } end
    local tflat, tdeep = best(flat), best(make_list(LIST))
    assert(tdeep < 3 * math.max(tflat, 1e-3),
      ("deep list %.1f ms, flat table %.1f ms"):format(tdeep * 1e3, tflat * 1e3))
    local nflat = {}
    for i = 1, NEST do nflat[i] = { false } end
    local tn, tnd = best(nflat), best(make_nest(NEST))
    -- tiny absolute times: a 1 ms floor keeps the check about the walk
    assert(tnd < 3 * math.max(tn, 1e-3),
      ("nested %.2f ms, flat %.2f ms"):format(tnd * 1e3, tn * 1e3))
  end)
end)

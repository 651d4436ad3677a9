-- Streamed thread starts: when the encoded target and args of a
-- `Thread:start()` grow past a threshold, the thread is started early and
-- decodes them while this thread is still encoding them. A streamed start
-- must deliver exactly what a plain one does, so every test here says what
-- the worker must receive, and the worker checks it all and reports back.
--
-- `core._stream_min(min_bytes, step_bytes)` (a test hook; returns the
-- previous two values, reads them without arguments) sets the size at which
-- a start streams and how often more bytes are published. Each describe
-- below sets a small threshold so that tables of a few thousand records
-- cross hundreds of publication steps, and restores it after each test.
-- Without the hook (core._stream_min == nil) the same tests run against
-- the plain transfer, with the same expectations.
local core = require "braid.core"
local errors = require "braid.errors"
local queue = require "braid.queue"
local threading = require "braid.threading"
local helpers = require "helpers"
local live = helpers.live

local stream_min = core._stream_min
local MIN, STEP = 256, 64
local default_min = stream_min and table.pack(stream_min())

--- For the enclosing describe: streams every start of more than MIN bytes,
-- publishing every STEP bytes, and restores the setting after each test.
local function small_threshold()
  local saved
  before_each(function()
    if stream_min then
      saved = table.pack(stream_min(MIN, STEP))
      local m, s = stream_min()
      assert.equal(MIN, m)
      assert.equal(STEP, s)
    end
  end)
  after_each(function()
    if saved then
      stream_min(saved[1], saved[2])
      saved = nil
    end
  end)
end

--- Asserts that plain data `v` encodes to enough bytes to cross at least
-- `steps` publication steps of a small-threshold describe.
local function assert_big(v, steps)
  local n = #core.dumps(v)
  assert.is_true(n >= MIN + steps * STEP,
    ("%d bytes are not %d publication steps"):format(n, steps))
end

--- Runs `check(args...)` in a new thread started with `args` (args.n
-- honoured) and returns what it returned. `check` runs in the worker: it
-- checks what it got and returns a report ("ok" or the first difference),
-- which comes back through a queue. An error in `check` fails the test.
local function in_thread(check, args)
  local out = queue.Queue()
  local t = threading.Thread{
    target = function(...) out:put(table.pack(pcall(check, ...))) end,
    args = args or {},
  }
  t:start()
  t:join(60)
  assert.is_false(t:is_alive(), "the worker did not finish within 60 s")
  local r = out:get_nowait() -- queue.Empty: the worker died before reporting
  if not r[1] then error("the worker failed: " .. tostring(r[2]), 2) end
  return table.unpack(r, 2, r.n)
end

-- The builders and `diff` below are upvalues of the workers' checks: they
-- travel with them, so a worker rebuilds what it should have received and
-- compares it with what it got.

--- n records like the ones a program sends; `k` makes tables differ.
local function records(n, k)
  k = k or 1
  local t = {}
  for i = 1, n do
    t[i] = { id = i * k, name = "item" .. i .. "/" .. k, vals = { i, 2 * i, 3 * i * k } }
  end
  return t
end

--- A binary string of n bytes (every byte value occurs) that depends on i.
local function bytes(i, n)
  local t = {}
  for j = 1, n do t[j] = string.char((i * 31 + j * 7 + (j >> 8)) % 256) end
  return table.concat(t)
end

local function keyname(k)
  if type(k) == "string" then
    return #k <= 20 and ("%q"):format(k) or ("<string of %d bytes>"):format(#k)
  end
  return tostring(k)
end

--- The first difference between `want` and `got` (nil if none): deep, by
-- value, with integer/float subtypes, NaN and the sign of zero; metatables
-- by the same rule; shared references and cycles must be shared the same
-- way on both sides. Table keys must have been met as values before.
local function diff(want, got, path, wmap, gmap)
  path = path or "value"
  wmap, gmap = wmap or {}, gmap or {}
  local tw, tg = type(want), type(got)
  if tw ~= tg then return ("%s: %s expected, got %s"):format(path, tw, tg) end
  if tw == "number" then
    local mw, mg = math.type(want), math.type(got)
    if mw ~= mg then return ("%s: %s expected, got %s"):format(path, mw, mg) end
    if want ~= want then
      if got == got then return ("%s: NaN expected, got %s"):format(path, got) end
      return nil
    end
    if want ~= got or (want == 0 and 1 / want ~= 1 / got) then
      return ("%s: %s expected, got %s"):format(path, want, got)
    end
    return nil
  elseif tw == "string" then
    if want ~= got then
      return ("%s: another string (%d bytes expected, got %d)"):format(path, #want, #got)
    end
    return nil
  elseif tw ~= "table" then
    if want ~= got then return ("%s: %s expected, got %s"):format(path, want, got) end
    return nil
  end
  if wmap[want] ~= nil or gmap[got] ~= nil then
    if wmap[want] == got and gmap[got] == want then return nil end
    return path .. ": not shared as expected"
  end
  wmap[want], gmap[got] = got, want
  local d = diff(getmetatable(want), getmetatable(got), path .. "(metatable)", wmap, gmap)
  if d then return d end
  local nw, ng = 0, 0
  for k, v in pairs(want) do
    nw = nw + 1
    local gk = k
    if type(k) == "table" then
      gk = wmap[k]
      if gk == nil then return path .. ": a table key not met before as a value" end
    end
    d = diff(v, rawget(got, gk), path .. "[" .. keyname(k) .. "]", wmap, gmap)
    if d then return d end
  end
  for _ in pairs(got) do ng = ng + 1 end
  if nw ~= ng then return ("%s: %d keys expected, got %d"):format(path, nw, ng) end
  return nil
end


-- Sends build()'s value to a thread, which builds its own and compares
-- (assert_big first: the value must cross at least 'steps' steps), then
-- runs extra(got) if given, which returns "ok" or what is wrong.
local function sends_intact(build, steps, extra)
  local t = build()
  assert_big(t, steps)
  assert.equal("ok", in_thread(function(got)
    local d = diff(build(), got)
    if d then return d end
    if extra then return extra(got) end
    return "ok"
  end, { t }))
end

describe("a streamed start delivers plain data", function()
  small_threshold()

  it("keeps a big sequence of integers and floats with their subtypes", function()
    local function build()
      local t = {}
      for i = 1, 20000 do
        local r = i % 4
        t[i] = r == 0 and i or r == 1 and i + 0.0 or r == 2 and i * 0.25 or -i
      end
      t[20001] = math.maxinteger; t[20002] = math.mininteger
      t[20003] = 2.0 ^ 53; t[20004] = 5e-324; t[20005] = -1.7976931348623157e308
      t[20006] = math.pi; t[20007] = 0; t[20008] = 0.0
      return t
    end
    sends_intact(build, 500)
  end)

  it("keeps big hash tables with string, number and boolean keys", function()
    local function build()
      local t = { [true] = "yes", [false] = "no" }
      for i = 1, 8000 do t["key" .. i] = i end
      for i = 1, 2000 do t[i + 0.5] = "half" .. i end
      for i = 1, 2000 do t[-i] = -i * 1.0 end
      for i = 1, 500 do t[bytes(i, i % 40 + 1)] = bytes(-i, i % 70) end
      t[math.maxinteger] = "max"; t[math.huge] = "inf"; t[-math.huge] = "-inf"
      return t
    end
    sends_intact(build, 500)
  end)

  it("keeps mixed and nested tables", function()
    local function build()
      local t = {}
      for i = 1, 3000 do
        local rec = { i, "v" .. i, i * 1.5, id = i, tags = { "a", "b", n = 2 },
                      sub = { { { { deep = i, list = { i, i + 1 } } } } } }
        if i % 5 == 0 then rec.extra = { [i] = true, [i + 0.5] = false } end
        t[i] = rec
      end
      local chain = t
      for i = 1, 150 do chain.next = { level = i }; chain = chain.next end
      t.info = { count = 3000, name = "mixed" }
      return t
    end
    sends_intact(build, 1000)
  end)

  it("keeps holes in sequences, sparse indices and keys beyond the border", function()
    local function build()
      local t = {}
      for i = 1, 15000 do if i % 3 ~= 0 then t[i] = i end end
      for b = 14, 40 do t[(1 << b) + 1] = b end
      t[0] = "zero"; t[-1] = "minus one"
      local tail = { 1, 2, 3 }
      for i = 4, 3000 do tail[i] = i end
      for i = 2000, 2999 do tail[i] = nil end -- a long hole near the end
      t.tail = tail
      local arr = table.pack(nil, nil, "x", nil) -- n = 4
      t.packed = arr
      return t
    end
    sends_intact(build, 500, function(got)
      return got[3] == nil and got[15000] == nil and got[14999] == 14999 and "ok"
        or "holes not kept"
    end)
  end)

  it("carries metatables, shared by many records, to the last record", function()
    local function build()
      local kinds = {}
      for k = 1, 3 do kinds[k] = { __index = { kind = "kind" .. k }, __name = "Rec" .. k } end
      local t = {}
      for i = 1, 4000 do t[i] = setmetatable({ id = i }, kinds[i % 3 + 1]) end
      t[4001] = setmetatable({}, setmetatable({ __index = { late = true } },
        { __index = { meta_of_meta = true } }))
      return t
    end
    local t = build()
    -- a metatable with functions only in the last record
    local Vec = {}
    Vec.__index = Vec
    Vec.__add = function(a, b) return setmetatable({ x = a.x + b.x }, getmetatable(a)) end
    Vec.__tostring = function(v) return "Vec(" .. v.x .. ")" end
    function Vec.double(v) return v.x * 2 end
    t.vec = setmetatable({ x = 21 }, Vec)
    assert.equal("kind2 Vec(42) 42", in_thread(function(got)
      local vec = got.vec
      got.vec = nil
      local d = diff(build(), got)
      if d then return d end
      if getmetatable(got[1]) ~= getmetatable(got[3997]) then return "metatable not shared" end
      if got[4000].kind ~= "kind2" or got[4001].late ~= true then return "__index lost" end
      local sum = vec + vec
      return ("%s %s %d"):format(got[1].kind, tostring(sum), vec:double())
    end, { t })) -- record 1 has kinds[1 % 3 + 1]
  end)

  it("keeps NaN, infinities and -0.0 all through a big table", function()
    local function build()
      local t = {}
      local specials = { 0 / 0, math.huge, -math.huge, -0.0, 0.0, 0, math.mininteger }
      for i = 1, 10000 do
        t[i] = { specials[i % #specials + 1], v = specials[(i * 3) % #specials + 1] }
      end
      t.last = { nan = 0 / 0, negzero = -0.0, inf = math.huge }
      return t
    end
    sends_intact(build, 500, function(got)
      local z = got.last.negzero
      return (1 / z == -math.huge and got.last.nan ~= got.last.nan) and "ok" or "specials lost"
    end)
  end)

  it("keeps binary strings of every length and long strings bigger than a step", function()
    local function build()
      local t = {}
      for n = 0, 700 do t[#t + 1] = bytes(n, n) end -- every offset against a step
      local all = {}
      for b = 0, 255 do all[#all + 1] = string.char(b) end
      t.all = table.concat(all)
      t.long = bytes(7, 200000) -- thousands of steps in one string
      t.mid = bytes(8, 10 * STEP + 1)
      t.zeros = ("\0"):rep(5 * STEP + 3)
      t[bytes(9, 3 * STEP)] = bytes(10, 4 * STEP) -- long key and value
      return t
    end
    sends_intact(build, 3000)
  end)

  it("keeps a string that straddles a step boundary, at every alignment", function()
    -- a padding string of each length from 0 to 2 steps before a string of
    -- more than 3 steps: the long string starts at every offset in a step
    local function build()
      local t = {}
      for pad = 0, 2 * STEP do
        t[#t + 1] = { bytes(pad, pad), bytes(pad + 1000, 3 * STEP + 1), pad }
      end
      return t
    end
    sends_intact(build, 300)
  end)
end)

describe("a streamed start keeps shared references and cycles far apart", function()
  small_threshold()

  it("keeps record 1 referenced again at record 5000", function()
    local function build()
      local t = records(5000)
      t[5000].back = t[1]
      t[2500].back = t[1]
      t[4999].vals_of_2 = t[2].vals
      return t
    end
    sends_intact(build, 1000, function(got)
      return (got[5000].back == got[1] and got[2500].back == got[1]
        and got[4999].vals_of_2 == got[2].vals) and "ok" or "identity lost"
    end)
  end)

  it("keeps children that reference the root, and a last node linking to the first", function()
    local function build()
      local root = { children = records(5000) }
      root.self = root
      for i = 1000, 5000, 1000 do root.children[i].root = root end
      root.children[5000].parent_list = root.children
      -- a chain of 3000 nodes, each linked to the one before it; the last
      -- one links back to the first
      local chain = {}
      for i = 1, 3000 do chain[i] = { i = i, prev = chain[i - 1] } end
      chain[3000].first = chain[1]
      root.chain = chain
      return root
    end
    local root = build()
    assert.equal("ok", in_thread(function(got)
      local d = diff(build(), got)
      if d then return d end
      if got.self ~= got or got.children[5000].root ~= got
        or got.children[5000].parent_list ~= got.children then
        return "the root is not the same table"
      end
      local node, n = got.chain[3000], 1
      while node.prev ~= nil and n <= 3000 do node = node.prev; n = n + 1 end
      if n ~= 3000 or node ~= got.chain[1] then return "chain broken after " .. n end
      return got.chain[3000].first == node and "ok" or "the last node lost the first"
    end, { root }))
  end)

  it("keeps two args sharing tables", function()
    local big = records(5000)
    local late = big[4000]
    assert.equal("ok", in_thread(function(a, b, c, d)
      local dd = diff(records(5000), a)
      if dd then return dd end
      return (a == b and c == a[4000] and d == a[4000].vals) and "ok" or "identity lost"
    end, { big, big, late, late.vals }))
    -- the sub-table first, the table holding it afterwards
    assert.equal("ok", in_thread(function(c, a)
      return (c == a[4000] and c.id == 4000 and #a == 5000) and "ok" or "identity lost"
    end, { late, big }))
  end)

  it("keeps a table used as a key early and as a value late, and the other way", function()
    local t = records(5000)
    local k1, k2 = { name = "k1" }, { name = "k2" }
    t[1][k1] = "k1 as a key"
    t[5000].v = k1
    t[1].v2 = k2
    t[5000][k2] = "k2 as a key"
    assert.equal("ok", in_thread(function(got)
      local key1, key2
      for k, v in pairs(got[1]) do
        if type(k) == "table" then key1 = k; assert(v == "k1 as a key") end
      end
      for k, v in pairs(got[5000]) do
        if type(k) == "table" then key2 = k; assert(v == "k2 as a key") end
      end
      if key1 ~= got[5000].v or key1.name ~= "k1" then return "k1 not the same table" end
      if key2 ~= got[1].v2 or key2.name ~= "k2" then return "k2 not the same table" end
      return got[1][got[5000].v] == "k1 as a key" and "ok" or "key lookup failed"
    end, { t }))
  end)

  it("keeps the same short and long strings repeated far apart", function()
    local function build()
      local short, long = "abc", bytes(1, 5000)
      local t = records(5000)
      for _, i in ipairs({ 1, 2500, 5000 }) do
        t[i].s = short
        t[i].l = long
        t[i][long] = "long key " .. i
        t[i][short] = "short key " .. i
        t[i].copy = bytes(1, 5000) -- same text, another string object
      end
      return t
    end
    sends_intact(build, 1000, function(got)
      local long = bytes(1, 5000)
      return (got[5000][long] == "long key 5000" and got[5000].abc == "short key 5000"
        and got[5000].l == got[1].copy) and "ok" or "strings differ"
    end)
  end)
end)

describe("a streamed start carries functions", function()
  small_threshold()

  it("rejoins closures sharing an upvalue that are far apart in a big table", function()
    local t = records(5000)
    local counter = 0
    local function inc() counter = counter + 1; return counter end
    local function get() return counter end
    local base = 40
    t[1].inc = inc
    t[3000].again = inc
    t[5000].get = get
    t[5000].add = function(x) return base + x + #t end -- its upvalue holds the whole table
    t[5000].root = function() return t end
    local r1, r2, r3, r4 = in_thread(function(got)
      got[1].inc()
      got[3000].again()
      return got[5000].get(), got[1].inc == got[3000].again, got[5000].add(2),
        got[5000].root() == got
    end, { t })
    assert.equal(2, r1)
    assert.is_true(r2)
    assert.equal(5042, r3)
    assert.is_true(r4) -- the upvalue is the argument itself
    assert.equal(0, counter) -- the worker's calls changed its own copy
  end)

  it("streams a target whose upvalue is a big table", function()
    local big = records(6000)
    big[6000].first = big[1]
    assert.equal("ok", in_thread(function()
      local want = records(6000)
      want[6000].first = want[1]
      return diff(want, big) or "ok"
    end))
  end)
end)

describe("a streamed start carries braid objects placed late", function()
  small_threshold()

  it("gives the worker the same Lock, Queue and Event", function()
    local before = live()
    do
      local lock, q, ev = threading.Lock(), queue.Queue(), threading.Event()
      local t = records(5000)
      t[4990].objs = { lock = lock, q = q, ev = ev }
      t[5000].q = q
      assert.is_true(lock:acquire())
      local th = threading.Thread{ target = function(r)
        local o = r[4990].objs
        local id = require("braid.core")._test.id
        -- main holds the lock: a non-blocking acquire fails
        o.q:put({ held = not o.lock:acquire(false), same_q = o.q == r[5000].q,
                  ids = { id(o.lock), id(o.q), id(o.ev) }, n = #r })
        o.ev:set()
        assert(o.lock:acquire(true, 60)) -- until main lets go
        o.q:put("got the lock")
        o.lock:release()
      end, args = { t } }
      th:start()
      assert.is_true(ev:wait(60))
      local report = q:get(true, 60)
      assert.is_true(report.held)
      assert.is_true(report.same_q)
      assert.equal(5000, report.n)
      local id = core._test.id
      assert.same({ id(lock), id(q), id(ev) }, report.ids)
      lock:release()
      th:join(60)
      assert.is_false(th:is_alive())
      assert.equal("got the lock", q:get_nowait())
      assert.is_false(lock:locked())
    end
    assert.equal(before, live())
  end)
end)

describe("a streamed start carries a __braidreduce object placed late", function()
  small_threshold()

  it("runs its constructor exactly once in the worker", function()
    local built = queue.Queue()
    local reduced = 0
    local Point = {}
    Point.__braidreduce = function(p)
      reduced = reduced + 1
      return function(q, x, y)
        q:put({ x = x, y = y })
        return { x = x, y = y, rebuilt = true }
      end, built, p.x, p.y
    end
    local t = records(5000)
    local p = setmetatable({ x = 7, y = 8 }, Point)
    t[4999].p = p
    t[5000].again = p -- the same object once more: not rebuilt twice
    assert.equal("ok", in_thread(function(got)
      local o = got[4999].p
      if o ~= got[5000].again then return "two objects" end
      if not (o.rebuilt and o.x == 7 and o.y == 8) then return "not rebuilt" end
      if getmetatable(o) ~= nil then return "the original metatable came along" end
      return #got == 5000 and "ok" or "records lost"
    end, { t }))
    assert.equal(1, reduced)
    assert.equal(1, built:qsize())
    assert.same({ x = 7, y = 8 }, built:get_nowait())
    assert.is_true(built:empty())
  end)
end)

describe("a streamed start that fails late", function()
  small_threshold()

  local hook_calls, old_hook
  before_each(function()
    hook_calls = 0
    old_hook = threading.excepthook
    threading.excepthook = function() hook_calls = hook_calls + 1 end
  end)
  after_each(function()
    threading.excepthook = old_hook
  end)

  --- Asserts that `th` is as if start() had never been called.
  local function never_started(th, count)
    assert.is_false(th:is_alive())
    assert.is_nil(th.ident)
    assert.is_nil(th.native_id)
    assert.truthy(tostring(th):find("initial", 1, true))
    local err = helpers.raises(errors.RuntimeError, th.join, th)
    helpers.message_has(err, "cannot join thread before it is started")
    assert.equal(count, threading.active_count())
    core.poll() -- a hook call waiting to run would run here
    assert.equal(0, hook_calls)
  end

  it("raises TypeError naming the path, starts nothing, and starts once fixed", function()
    local before, base = live(), threading.active_count()
    do
      local q, out = queue.Queue(), queue.Queue()
      local t = records(6000)
      assert_big(t, 1000)
      t[10].q = q -- a braid object met before the failure
      t[5000].x = coroutine.create(print)
      local th = threading.Thread{ target = function(r, o)
        local rq = r[10].q
        r[10].q = nil
        o:put(diff(records(6000), r) or "ok")
        rq:put("through the queue")
      end, args = { t, out } }
      local err = helpers.raises(errors.TypeError, th.start, th)
      helpers.message_has(err, "args[1][5000].x: a coroutine cannot be sent")
      never_started(th, base)
      assert.is_true(q:empty())
      -- the same Thread, its args fixed
      t[5000].x = nil
      th:start()
      th:join(60)
      assert.is_false(th:is_alive())
      assert.equal("ok", out:get_nowait())
      assert.equal("through the queue", q:get_nowait())
      assert.equal(base, threading.active_count())
      core.poll()
      assert.equal(0, hook_calls)
    end
    assert.equal(before, live())
  end)

  it("names a userdata late in the second argument", function()
    local base = threading.active_count()
    local list = records(7000)
    list[6000].conn = io.stdout
    local th = threading.Thread{ target = print, args = { 1, { list = list } } }
    local err = helpers.raises(errors.TypeError, th.start, th)
    helpers.message_has(err, "args[2].list[6000].conn: a userdata of type FILE* cannot be sent")
    never_started(th, base)
  end)

  it("names a bad value late in an upvalue of the target", function()
    local base = threading.active_count()
    local big = records(5000)
    big[4000].co = coroutine.create(print)
    local th = threading.Thread{ target = function() return #big end }
    local err = helpers.raises(errors.TypeError, th.start, th)
    helpers.message_has(err, "target(upvalue 'big')[4000].co: a coroutine cannot be sent")
    never_started(th, base)
  end)

  it("runs no __braidreduce constructor met before the failure", function()
    local base = threading.active_count()
    local built, ran = queue.Queue(), queue.Queue()
    local Obj = { __braidreduce = function(o)
      return function(q, v) q:put(v); return { v = v } end, built, o.v
    end }
    local t = records(5000)
    t[100].obj = setmetatable({ v = "early" }, Obj)
    t[4900].bad = coroutine.create(print)
    local th = threading.Thread{ target = function(r, q) q:put(r[100].obj.v) end,
                                 args = { t, ran } }
    local err = helpers.raises(errors.TypeError, th.start, th)
    helpers.message_has(err, "args[1][4900].bad: a coroutine cannot be sent")
    never_started(th, base)
    assert.equal(0, built:qsize())
    t[4900].bad = nil
    th:start()
    th:join(60)
    assert.equal("early", ran:get_nowait())
    assert.equal(1, built:qsize())
    assert.equal("early", built:get_nowait())
  end)

  it("raises for a Thread subclass instance with a bad value late in a field", function()
    local base = threading.active_count()
    local W = threading.Thread:subclass("W")
    function W:run() self.out:put(#self.big) end
    local w = W{}
    w.out = queue.Queue()
    w.big = records(8000)
    w.big[7000].y = io.stdout
    local err = helpers.raises(errors.TypeError, w.start, w)
    helpers.message_has(err, "thread.big[7000].y: a userdata of type FILE* cannot be sent")
    never_started(w, base)
    w.big[7000].y = nil
    w:start()
    w:join(60)
    assert.equal(8000, w.out:get_nowait())
  end)
end)

describe("a streamed start of a Thread subclass instance", function()
  small_threshold()

  it("carries a big field, with a reference back to the instance late in it", function()
    local Checker = threading.Thread:subclass("Checker")
    function Checker:init(opts) self.big = opts.big; self.out = opts.out end
    function Checker:run()
      local big = self.big
      local owner = big[5000].owner
      big[5000].owner = nil
      local d = diff(records(5000), big)
      if d == nil and owner ~= self then d = "the instance is not the same table" end
      if d == nil and self.name ~= "checker-1" then d = "name " .. tostring(self.name) end
      self.out:put(d or "ok")
    end
    local out = queue.Queue()
    local c = Checker{ name = "checker-1", big = records(5000), out = out }
    assert_big(c.big, 1000)
    c.big[5000].owner = c
    c:start()
    c:join(60)
    assert.is_false(c:is_alive())
    assert.equal("ok", out:get_nowait())
  end)
end)

describe("many streamed starts in a row", function()
  small_threshold()

  it("gives each of 20 threads its own 5,000-record table, and leaks nothing", function()
    local before, base = live(), threading.active_count()
    do
      local out = queue.Queue()
      local ths = {}
      for k = 1, 20 do
        ths[k] = threading.Thread{ target = function(kk, r, o)
          o:put({ kk, diff(records(5000, kk), r) or "ok" })
        end, args = { k, records(5000, k), out } }
        ths[k]:start()
      end
      for k = 1, 20 do
        ths[k]:join(60)
        assert.is_false(ths[k]:is_alive())
      end
      local got = {}
      for _ = 1, 20 do
        local r = out:get_nowait()
        got[r[1]] = r[2]
      end
      for k = 1, 20 do assert.equal("ok", got[k]) end
      assert.is_true(out:empty())
    end
    assert.equal(base, threading.active_count())
    assert.equal(before, live())
  end)
end)

describe("a streamed start passes the argument count", function()
  small_threshold()

  it("keeps trailing nils given by args.n", function()
    local big = records(5000)
    local function check(...)
      local n = select("#", ...)
      local parts = { tostring(n) }
      for i = 1, n do
        local v = select(i, ...)
        parts[#parts + 1] = type(v) == "table" and (diff(records(5000), v) or "big") or tostring(v)
      end
      return table.concat(parts, " ")
    end
    assert.equal("3 big nil nil", in_thread(check, { n = 3, big }))
    assert.equal("4 nil big nil nil", in_thread(check, { n = 4, nil, big }))
    assert.equal("5 nil nil nil nil big", in_thread(check, { n = 5, [5] = big }))
    -- n smaller than the table: only n arguments
    assert.equal("1 big", in_thread(check, { n = 1, big, "extra" }))
    assert.equal("2 big big", in_thread(check, { big, big }))
  end)
end)

describe("a start at the default threshold", function()
  it("still has the default threshold (restored by the describes above)", function()
    if stream_min then
      local m, s = stream_min()
      assert.equal(default_min[1], m)
      assert.equal(default_min[2], s)
    end
  end)

  it("delivers 100,000 records, checked completely in the worker", function()
    local recs = {}
    for i = 1, 100000 do recs[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } } end
    if stream_min then
      assert.is_true(#core.dumps(recs) > stream_min(), "too small to stream by default")
    end
    local n, bad = in_thread(function(r)
      local wrong = 0
      for i = 1, 100000 do
        local rec = r[i]
        local v = rec.vals
        if rec.id ~= i or math.type(rec.id) ~= "integer" or rec.name ~= "item" .. i
          or v[1] ~= i or v[2] ~= 2 * i or v[3] ~= 3 * i or #v ~= 3 then
          wrong = wrong + 1
        end
        local keys = 0
        for _ in pairs(rec) do keys = keys + 1 end
        if keys ~= 3 then wrong = wrong + 1 end
      end
      return #r, wrong
    end, { recs })
    assert.equal(100000, n)
    assert.equal(0, bad)
  end)
end)

-- luacheck: globals PREV PREVI SHAREDRES SHAREQ SHAREBLOCK
-- A chunk is one transfer (issue 16, item 7): the items of one chunk of a
-- map (thread and process pools, executors) or of one put_many batch share
-- references, as Python's pickle keeps identity within one dumps per task
-- batch. A table named by several items of a chunk is the same table in
-- the worker for those items (a task's changes to it are seen by the next
-- items of the chunk, never by other chunks nor by the caller); a table
-- changed between two calls is sent anew.
local mp = require "braid.multiprocessing"
local mpool = require "braid.multiprocessing.pool"
local futures = require "braid.futures"
local queue = require "braid.queue"
local helpers = require "helpers"

local METHODS = helpers.start_methods()

-- Run in the worker for each item: whether the item's table is the one
-- the previous item of this worker had, and how many tasks of this
-- worker's chunk touched it (a count kept in the table itself).
local function probe(t, i)
  local same = PREV == t
  PREV = t
  t.count = (t.count or 0) + 1
  return { same, t.count, i, t[1] + t[#t] }
end

local function items_with(shared, n)
  local items = {}
  for i = 1, n do items[i] = { shared, i } end
  return items
end

-- 8 items in chunks of 4, run by one worker: within each chunk the table
-- is one object (Python's behaviour), and each chunk gets its own.
local function check_chunks(r, shared)
  local n = r.n or #r
  assert.equal(8, n)
  for i = 1, n do
    local same, count, idx, sum = r[i][1], r[i][2], r[i][3], r[i][4]
    assert.equal(i, idx)
    assert.equal(shared[1] + shared[#shared], sum)
    local k = (i - 1) % 4 + 1 -- position in its chunk
    assert.equal(k, count, "task count of item " .. i)
    assert.equal(k > 1, same, "identity of item " .. i)
  end
  assert.is_nil(shared.count) -- never the caller's table
end

local function vec(n, x)
  local t = {}
  for i = 1, n do t[i] = x + i end
  return t
end

-- The results of an executor's map over 'shared''s 8 items, 4 a chunk,
-- as a sequence with its count.
local function executor_map(ex, shared)
  local r = { n = 0 }
  for _, v in ex:map(function(it) return probe(it[1], it[2]) end, items_with(shared, 8),
      { chunksize = 4 }) do
    r.n = r.n + 1
    r[r.n] = v
  end
  return r
end

describe("a shared argument within a chunk", function()
  it("is one table for the items of a chunk of a thread Pool's starmap, map, imap, *_async", function()
    local p <close> = mpool.ThreadPool(1)
    local shared = vec(1000, 0.5)
    check_chunks(p:starmap(probe, items_with(shared, 8), 4), shared)
    check_chunks(p:map(function(it) return probe(it[1], it[2]) end, items_with(shared, 8), 4), shared)
    check_chunks(p:starmap_async(probe, items_with(shared, 8), 4):get(30), shared)
    check_chunks(p:map_async(function(it) return probe(it[1], it[2]) end,
      items_with(shared, 8), 4):get(30), shared)
    local r = { n = 0 }
    for _, v in p:imap(function(it) return probe(it[1], it[2]) end, items_with(shared, 8), 4) do
      r.n = r.n + 1
      r[r.n] = v
    end
    check_chunks(r, shared)
    r = { n = 0 }
    for _, v in p:imap_unordered(function(it) return probe(it[1], it[2]) end, items_with(shared, 8), 4) do
      r.n = r.n + 1
      r[v[3]] = v
    end
    check_chunks(r, shared)
  end)

  it("is one table for the items of a chunk of ThreadPoolExecutor.map", function()
    local ex <close> = futures.ThreadPoolExecutor(1)
    local shared = vec(100, 1)
    check_chunks(executor_map(ex, shared), shared)
  end)

  for _, method in ipairs(METHODS) do
    it("is one table for the items of a chunk of a process Pool and ProcessPoolExecutor (" .. method .. ")", function()
      local ctx = mp.get_context(method)
      local shared = vec(1000, 2)
      local p <close> = ctx.Pool(1)
      check_chunks(p:starmap(probe, items_with(shared, 8), 4), shared)
      check_chunks(p:starmap_async(probe, items_with(shared, 8), 4):get(60), shared)
      p:close()
      p:join()
      local ex <close> = futures.ProcessPoolExecutor(1, ctx)
      check_chunks(executor_map(ex, shared), shared)
    end)
  end

  it("keeps nested tables, cycles and shared upvalues across the items of a chunk", function()
    local p <close> = mpool.ThreadPool(1)
    local inner = { 1, 2, 3 }
    local outer = { inner = inner }
    outer.self = outer
    local n = 0
    local function bump() n = n + 1; return n end
    local function peek() return n end
    local items = { { outer, bump }, { inner, peek }, { outer, bump }, { inner, peek } }
    local r = p:starmap(function(t, f)
      if t.self then
        return { t.self == t, t.inner == PREVI, f() }
      end
      PREVI = PREVI or t
      return { PREVI == t, f() }
    end, items, 4)
    -- item 1 meets outer (and inner through it); item 2's inner is that
    -- same table; the functions share their upvalue 'n' within the chunk
    assert.same({ true, false, 1 }, r[1])
    assert.same({ true, 1 }, r[2])
    assert.same({ true, true, 2 }, r[3])
    assert.same({ true, 2 }, r[4])
    assert.equal(0, n)
  end)

  it("sends a table changed between two map calls anew (never a stale copy)", function()
    local p <close> = mpool.ThreadPool(2)
    local shared = vec(1000, 0)
    local items = items_with(shared, 200)
    local function first(t) return t[1] end
    local r1 = p:starmap(first, items)
    shared[1] = 42
    local r2 = p:starmap(first, items)
    for i = 1, 200 do
      assert.equal(1, r1[i])
      assert.equal(42, r2[i])
    end
    local ctx = mp.get_context(METHODS[1])
    local pp <close> = ctx.Pool(2)
    shared[1] = 7
    local r3 = pp:starmap(first, items)
    shared[1] = 8
    local r4 = pp:starmap(first, items)
    for i = 1, 200 do
      assert.equal(7, r3[i])
      assert.equal(8, r4[i])
    end
  end)

  it("is sent once per chunk: a map of many items sharing a big table costs about what plain items do", function()
    -- 1,000 items each with the same 1,000-float table (a copy is ~9 KB):
    -- the chunks hold a handful of copies, not 1,000. CPU of the process
    -- (caller and worker threads), against the same map over integers.
    local shared = vec(1000, 0.25)
    local items, ints = items_with(shared, 1000), {}
    for i = 1, 1000 do ints[i] = i end
    local p <close> = mpool.ThreadPool(2)
    local function cpu(f)
      local best = math.huge
      for _ = 1, 3 do
        local t0 = os.clock()
        f()
        best = math.min(best, os.clock() - t0)
      end
      return best
    end
    local r
    local literal = cpu(function() r = p:starmap(function(t, i) return t[i] end, items, 100) end)
    for i = 1, 1000 do assert.equal(shared[i], r[i]) end
    local plain = cpu(function() p:map(function(i) return i end, ints, 100) end)
    -- generous: a copy per item costs ~40 ms here, sharing well under 5
    assert.is_true(literal < 0.02 + 10 * plain,
      ("literal %.4f s, plain items %.4f s"):format(literal, plain))
  end)

  it("brings result chunks back as one transfer (identity within a chunk)", function()
    local ctx = mp.get_context(METHODS[1])
    local p <close> = ctx.Pool(1)
    local r = p:map(function(i)
      SHAREDRES = SHAREDRES or { "x" }
      return { SHAREDRES, i }
    end, { 1, 2, 3, 4 }, 4)
    assert.equal(r[1][1], r[2][1])
    assert.equal(r[1][1], r[4][1])
    assert.equal("x", r[3][1][1])
  end)
end)

describe("a put_many batch", function()
  it("shares its items' tables: get_many keeps the identity, get gives each item whole", function()
    local shared = { 1, 2, { deep = true } }
    local q = queue.Queue()
    q:put_many({ { shared, 1 }, { shared, 2 }, { shared, 3 } })
    local got = q:get_many(3)
    assert.equal(got[1][1], got[2][1])
    assert.equal(got[2][1], got[3][1])
    assert.is_true(got[3][1][3].deep)
    q:put_many({ { shared, 1 }, { shared, 2 }, { shared, 3 } })
    for i = 1, 3 do
      local it = q:get()
      assert.equal(i, it[2])
      assert.same(shared, it[1])
    end
  end)

  it("keeps small sequence items exact: strings, booleans, a repeated item, hash parts, metatables", function()
    local v = { 1.5, 2.5 }
    local x = { v, true }
    local mt = { __index = function() return "mt" end }
    local items = { { v, 1 }, { v, "s", false }, x, x, { v, 2, k = "h" },
      setmetatable({ v, 3 }, mt), { v, x }, { x, v, 4, 5 } }
    local q = queue.Queue()
    q:put_many(items)
    local got = q:get_many(8)
    assert.equal(8, got.n)
    assert.same({ v, 1 }, got[1])
    assert.same({ v, "s", false }, got[2])
    assert.equal(got[3], got[4]) -- the same item table twice
    assert.equal(got[1][1], got[2][1])
    assert.equal(got[1][1], got[3][1])
    assert.equal("h", got[5].k)
    assert.equal("mt", got[6].missing)
    assert.equal(got[3], got[7][2])
    assert.equal(got[3], got[8][1])
    assert.equal(got[1][1], got[8][2])
    assert.same({ x, v, 4, 5 }, got[8])
  end)

  it("keeps every key of a small item whose sequence lies in its hash part", function()
    -- {[1] = v, [2] = i, [k] = 7} keeps 1 and 2 in its hash part; where
    -- the node of its last index comes after k's, next(t, #t) is nil (a
    -- check of "nothing after the sequence" from #t would drop k). The
    -- node order depends on the string's hash: many keys (about a third
    -- of them were dropped before the fix) make this certain.
    local v = { 1.5, 2.5 }
    local items, want, hidden = { { v, 0 } }, { 0 }, 0
    for i = 1, 64 do
      local k = "k" .. i
      items[#items + 1] = { [1] = v, [2] = i, [k] = 7 }
      if next(items[#items], 2) == nil then hidden = hidden + 1 end
      items[#items + 1] = { [1] = v, [k] = 8 }
      items[#items + 1] = { [1] = v, [2] = i, [3] = "s", [4] = true, [k] = 9 }
      want[#want + 1], want[#want + 2], want[#want + 3] = k, k, k
    end
    local function check(got, n)
      assert.equal(#items, n)
      for j = 1, #items do
        local t, k = got[j], want[j]
        if j > 1 then
          local nk = 0
          for _ in pairs(t) do nk = nk + 1 end
          local src, snk = items[j], 0
          for _ in pairs(src) do snk = snk + 1 end
          assert.equal(snk, nk, "keys of item " .. j)
          assert.equal(src[k], t[k], "key " .. tostring(k) .. " of item " .. j)
          if type(src[2]) ~= "table" then assert.equal(src[2], t[2]) end
        end
        if type(t[1]) == "string" then
          assert.equal(items[j][1], t[1])
          assert.equal(items[j][4], t[4])
          assert.equal(got[1][1], t[2])
        else
          assert.equal(got[1][1], t[1]) -- still one table within the batch
        end
      end
    end
    assert.is_true(hidden > 0, "no key hidden from next(t, #t)")
    -- strings of every size between the elements (the buffer grows
    -- while a small item is written)
    for i = 1, 40 do
      local str = ("s"):rep(i * 997)
      items[#items + 1] = { str, v, i, str .. "t" }
      want[#want + 1] = 3
    end
    local q = queue.Queue()
    q:put_many(items)
    local got = q:get_many(#items)
    check(got, got.n)
    -- a pool's chunk is such a batch too (one chunk: the map's items)
    local pool = mpool.ThreadPool(1)
    local ok, res = pcall(function()
      return pool:map(function(t) return t end, items, #items)
    end)
    pool:close()
    pool:join()
    assert.is_true(ok, res)
    check(res, res.n)
  end)

  it("keeps random small items exact (seeded: keys in the hash part, holes, strings, metatables)", function()
    local rnd = 12345
    local function random(a, b) -- an LCG (its high bits): the same items on every run
      rnd = (rnd * 1103515245 + 12345) % 2147483648
      return a + (rnd >> 12) % (b - a + 1)
    end
    local shared, vec = { 1.5, 2.5, x = "y" }, {}
    for i = 1, 40 do vec[i] = i * 0.5 end
    local leaves = {
      function() return random(-1000, 1000) end,
      function() return random(0, 999) / 7 end,
      function() return ("s"):rep(random(0, 3000)) end,
      function() return random(0, 1) == 1 end,
      function() return shared end,
      function() return vec end,
      function() return math.maxinteger end,
      function() return -0.0 end,
    }
    local function leaf() return leaves[random(1, #leaves)]() end
    local function item()
      local n, kind, t = random(0, 6), random(1, 4), {}
      if kind == 2 then -- explicit keys: the hash part, maybe one more key
        local parts = {}
        for j = 1, n do parts[j] = ("[%d] = L()"):format(j) end
        if random(0, 1) == 1 then parts[#parts + 1] = ("k%d = 1"):format(random(1, 1000)) end
        return load("local L = ...; return {" .. table.concat(parts, ",") .. "}")(leaf)
      end
      for j = 1, n do
        if kind ~= 3 or random(1, 4) > 1 then t[j] = leaf() end -- 3: holes
      end
      if kind == 3 and random(1, 3) == 1 then t[0] = 1 end
      if kind == 4 and random(1, 3) == 1 then setmetatable(t, { __index = {} }) end
      return t
    end
    local function same(a, b, seen)
      if type(a) ~= "table" or type(b) ~= "table" then
        if a ~= a then return b ~= b end
        return a == b and math.type(a) == math.type(b) and (a ~= 0 or 1 / a == 1 / b)
      end
      if seen[a] then return seen[a] == b end
      seen[a] = b
      local na, nb = 0, 0
      for k, v in pairs(a) do
        na = na + 1
        if not same(v, b[k], seen) then return false end
      end
      for _ in pairs(b) do nb = nb + 1 end
      return na == nb and (getmetatable(a) == nil) == (getmetatable(b) == nil)
    end
    local bad = {}
    for round = 1, 200 do
      local items = {}
      for i = 1, random(1, 60) do
        items[i] = (i > 1 and random(1, 10) == 1) and items[random(1, i - 1)] or item()
      end
      local q = queue.Queue()
      q:put_many(items)
      local got = q:get_many(#items)
      for i = 1, #items do
        if not same(items[i], got[i], {}) then
          bad[#bad + 1] = ("round %d item %d"):format(round, i)
        end
        for j = i + 1, #items do
          if rawequal(items[i], items[j]) ~= rawequal(got[i], got[j]) then
            bad[#bad + 1] = ("round %d items %d, %d: identity"):format(round, i, j)
          end
        end
      end
    end
    assert.same({}, bad)
  end)

  it("resolves a later item alone (LIFO order, another thread, long chains)", function()
    local q = queue.LifoQueue()
    local chain = {}
    local prev = { 0 }
    chain[1] = prev
    for i = 2, 20 do
      prev = { i - 1, prev }
      chain[i] = prev
    end
    q:put_many(chain) -- item i names item i-1's table
    local ok, top = helpers.run_in_thread(function(qq) return qq:get(true, 10) end, q)
    assert.is_true(ok)
    local t, depth = top, 0
    while t[2] do
      assert.equal(19 - depth, t[1])
      t, depth = t[2], depth + 1
    end
    assert.equal(19, depth)
    for i = 19, 1, -1 do assert.same(chain[i], q:get(true, 10)) end
  end)

  it("orders shared items in a PriorityQueue", function()
    local q = queue.PriorityQueue()
    local tag = { "t" }
    q:put_many({ { 3, tag }, { 1, tag }, { 2, tag } })
    for i = 1, 3 do
      local it = q:get(true, 10)
      assert.equal(i, it[1])
      assert.equal("t", it[2][1])
    end
  end)
end)

-- A table that every chunk of one map call carries is written once per
-- call (T_CALLV, docs/HACKING.md "Shared batches"), and a process pool's
-- child gets its bytes once per call; each chunk still decodes its own
-- copy from the caller's bytes, so Python's semantics hold exactly: the
-- tasks of one chunk share the object (a change is seen by the next task
-- of that chunk), chunks never see each other's changes, nor the caller.

-- Item i of a chunk: the table's first element as this task found it,
-- then bumped (the next task of the chunk must see it bumped).
local function bump_first(t, i)
  local first = t[1]
  t[1] = t[1] + 1000
  return { first, i, #t }
end

-- 12 items in chunks of 4 over 'shared' (first element 'x0'): the k-th
-- task of each chunk saw the changes of the k-1 before it, never more.
local function check_bumped(r, shared, x0)
  assert.equal(12, r.n or #r)
  for i = 1, 12 do
    local k = (i - 1) % 4
    assert.same({ x0 + 1000 * k, i, #shared }, r[i], "item " .. i)
  end
  assert.equal(x0, shared[1]) -- never the caller's table
end

local function collect(iter)
  local r = { n = 0 }
  for _, v in iter do
    r.n = r.n + 1
    r[v[2]] = v
  end
  return r
end

describe("a shared argument across the chunks of one call", function()
  local core = require "braid.core"

  it("is written once per call, not once per chunk (for this process and for another)", function()
    local shared = vec(1000, 0.5) -- a copy is ~9 KB
    local one = #core.dumps(shared)
    for _, proc in ipairs { false, true } do
      local len, lo, hi = core._test.map_batch(items_with(shared, 1000), 125, proc)
      -- the call's values: the table's bytes, in the first chunk
      assert.is_true(hi - lo >= one - 8 and hi - lo <= one, ("call bytes %d-%d"):format(lo, hi))
      -- one copy and the 1,000 small items (8 chunks wrote 8 copies)
      assert.is_true(len < one + 1000 * 16, ("batch %d bytes, a copy %d"):format(len, one))
    end
    -- the same with the table as the item itself, and in chunks of one
    local len = core._test.map_batch({ shared, shared, shared, shared }, 1)
    assert.is_true(len < 2 * one, ("batch %d bytes"):format(len))
    -- a table holding tables is written per chunk, the flat tables in it
    -- once: the second chunk's copy of 'nested' names them
    local nested = { vec(100, 0), vec(100, 1) }
    local len2, lo2, hi2 = core._test.map_batch(items_with(nested, 8), 4)
    local inner = #core.dumps(nested[1])
    assert.is_true(hi2 - lo2 >= 2 * inner - 16, ("call bytes %d-%d"):format(lo2, hi2))
    assert.is_true(len2 < #core.dumps(nested) + 200, ("batch %d bytes"):format(len2))
  end)

  it("gives each chunk its own copy in a thread Pool: starmap, map, *_async, imap, imap_unordered", function()
    local p <close> = mpool.ThreadPool(1)
    local shared = vec(50, 0)
    local function via_map(it) return bump_first(it[1], it[2]) end
    check_bumped(p:starmap(bump_first, items_with(shared, 12), 4), shared, 1)
    check_bumped(p:map(via_map, items_with(shared, 12), 4), shared, 1)
    check_bumped(p:starmap_async(bump_first, items_with(shared, 12), 4):get(30), shared, 1)
    check_bumped(p:map_async(via_map, items_with(shared, 12), 4):get(30), shared, 1)
    check_bumped(collect(p:imap(via_map, items_with(shared, 12), 4)), shared, 1)
    check_bumped(collect(p:imap_unordered(via_map, items_with(shared, 12), 4)), shared, 1)
  end)

  it("gives each chunk its own copy in ThreadPoolExecutor.map", function()
    local ex <close> = futures.ThreadPoolExecutor(1)
    local shared = vec(50, 0)
    check_bumped(collect(ex:map(function(it) return bump_first(it[1], it[2]) end,
      items_with(shared, 12), { chunksize = 4 })), shared, 1)
  end)

  for _, method in ipairs(METHODS) do
    it("gives each chunk its own copy in a process Pool and ProcessPoolExecutor (" .. method .. ")", function()
      local ctx = mp.get_context(method)
      local shared = vec(300, 10)
      local function via_map(it) return bump_first(it[1], it[2]) end
      local p <close> = ctx.Pool(1)
      check_bumped(p:starmap(bump_first, items_with(shared, 12), 4), shared, 11)
      check_bumped(p:map_async(via_map, items_with(shared, 12), 4):get(60), shared, 11)
      check_bumped(collect(p:imap(via_map, items_with(shared, 12), 4)), shared, 11)
      check_bumped(collect(p:imap_unordered(via_map, items_with(shared, 12), 4)), shared, 11)
      -- changed between two calls: the child holds the first call's
      -- values, the second call's are sent anew
      shared[1] = 500
      check_bumped(p:starmap(bump_first, items_with(shared, 12), 4), shared, 500)
      shared[1] = 11
      p:close()
      p:join()
      local ex <close> = futures.ProcessPoolExecutor(1, ctx)
      check_bumped(collect(ex:map(via_map, items_with(shared, 12), { chunksize = 4 })), shared, 11)
    end)

    it("reaches a worker that replaced another mid-call (maxtasksperchild, " .. method .. ")", function()
      local ctx = mp.get_context(method)
      local shared = vec(300, 10)
      local p <close> = ctx.Pool(1, nil, nil, 1) -- a new child per chunk
      local r = p:starmap(function(t, i)
        local v = bump_first(t, i)
        v[4] = require("braid.core").getpid()
        return v
      end, items_with(shared, 12), 4)
      local pids = {}
      for i = 1, 12 do
        pids[r[i][4]] = true
        r[i][4] = nil
      end
      check_bumped(r, shared, 11)
      local n = 0
      for _ in pairs(pids) do n = n + 1 end
      assert.equal(3, n) -- three children, each got the call's values
    end)
  end

  for _, method in ipairs(METHODS) do
    it("reaches the worker that replaced one killed mid-call (" .. method .. ")", function()
      local ctx = mp.get_context(method)
      local shared = vec(300, 10)
      local reports, block = mp.Queue(), mp.Queue()
      local p <close> = ctx.Pool(1, function(q, b) SHAREQ, SHAREBLOCK = q, b end, { reports, block })
      -- chunk 1 reports, chunk 2 blocks in its first task (the caller
      -- kills the child there), chunk 3 runs on the replacement
      local r = p:starmap_async(function(t, i)
        local pid = require("braid.core").getpid()
        if i == 5 then
          SHAREQ:put({ "blocked", pid })
          SHAREBLOCK:get(true, 60)
        end
        local v = bump_first(t, i)
        SHAREQ:put({ v[1], i, pid })
        return v
      end, items_with(shared, 12), 4)
      local first_pid
      for k = 1, 4 do
        local got = reports:get(true, 30)
        assert.same({ 11 + 1000 * (k - 1), k }, { got[1], got[2] })
        first_pid = got[3]
      end
      local blocked = reports:get(true, 30)
      assert.same({ "blocked", first_pid }, blocked)
      require("braid.core").proc_kill(first_pid, 9)
      helpers.raises(futures.BrokenProcessPool, r.get, r, 60)
      local seen = {}
      for _ = 9, 12 do
        local got = reports:get(true, 30)
        assert.not_equal(first_pid, got[3])
        seen[got[2]] = got[1]
      end
      assert.same({ [9] = 11, [10] = 1011, [11] = 2011, [12] = 3011 }, seen)
      assert.equal(11, shared[1])
    end)
  end

  it("spans segments of a long map (each segment's first chunk holds the values)", function()
    local shared = vec(20, 0)
    local items = items_with(shared, 3000)
    local function firsts(t, i) return { t[1], i } end
    local p <close> = mpool.ThreadPool(2)
    local pp <close> = mp.get_context(METHODS[1]).Pool(2)
    for _, pool in ipairs { p, pp } do
      local r = pool:starmap(firsts, items, 7)
      assert.equal(3000, r.n)
      for i = 1, 3000 do assert.same({ 1, i }, r[i]) end
    end
  end)

  it("keeps strings, a table shared inside an item and a table that is the item", function()
    local words = { "alpha", "beta", "alpha", true, 2.5, k = "v" }
    local items = {}
    for i = 1, 12 do items[i] = { words, words[1], { words, i } } end
    local ctx = mp.get_context(METHODS[1])
    local pools = { mpool.ThreadPool(1), ctx.Pool(1) }
    for _, pool in ipairs(pools) do
      local r = pool:starmap(function(w, s, pair)
        return { w == pair[1], w[1] == s, w[2], w[4], w[5], w.k, pair[2] }
      end, items, 4)
      for i = 1, 12 do assert.same({ true, true, "beta", true, 2.5, "v", i }, r[i]) end
      local r2 = pool:map(function(t) return #t end, { words, words, words, words, words }, 2)
      assert.same({ 5, 5, 5, 5, 5 }, { r2[1], r2[2], r2[3], r2[4], r2[5] })
      pool:close()
      pool:join()
    end
  end)
end)

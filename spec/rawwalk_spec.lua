-- The encoder's raw walk (src/bind/lencraw.c, lrawtab.h; issue 16, items
-- 4 and 7): tables read from their slots directly must give exactly the
-- bytes of the API walk (lua_next & co.), for every kind of value, on the
-- plain, batch and streamed paths; a table changed under the walk (from
-- __braidreduce or a __gc finalizer) never makes it read freed memory.
-- core._rawwalk(false) makes every encode use the API walk (test hook).
local core = require "braid.core"
local errors = require "braid.errors"
local helpers = require "helpers"

local rawwalk = core._rawwalk
-- A spec that starts another lua5.4 with a shell is pending where none
-- can start under the preloaded runtime (the TSan pass, BRAID_HOST=none),
-- as in segfill_spec.
local shell_it = helpers.HOST == "none" and pending or it

-- Encodes with f() under each walk; returns the raw walk's result, the
-- API walk's, and whether each raised (then the result is the message).
local function both(f)
  local saved = rawwalk()
  rawwalk(true)
  local ok1, r1 = pcall(f)
  rawwalk(false)
  local ok2, r2 = pcall(f)
  rawwalk(saved)
  if not ok1 then r1 = tostring(r1) end
  if not ok2 then r2 = tostring(r2) end
  return r1, r2, ok1, ok2
end

local function hexdiff(a, b)
  if a == b then return "" end
  local i = 1
  while a:byte(i) == b:byte(i) do i = i + 1 end
  return ("first difference at byte %d of %d/%d"):format(i, #a, #b)
end

-- Asserts that both walks write the same bytes for v (and that they
-- decode); returns the bytes.
local function same_bytes(v, what)
  local raw, api, ok1, ok2 = both(function() return core.dumps(v) end)
  assert.is_true(ok1, what .. ": " .. tostring(raw))
  assert.is_true(ok2, what .. ": " .. tostring(api))
  assert.is_true(raw == api, what .. ": " .. hexdiff(raw, api))
  core.loads(raw)
  return raw
end

local function records(n)
  local t = {}
  for i = 1, n do t[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } } end
  return t
end

describe("the raw walk", function()
  it("is active on this Lua (the self-check passed), and the hook turns it off and on", function()
    assert.is_true(rawwalk())
    assert.is_false(rawwalk(false))
    assert.is_true(rawwalk(true))
  end)

  shell_it("is off in a process started with BRAID_RAWWALK=0", function()
    local code = ("package.cpath = %q; io.write(tostring(require('braid.core')._rawwalk()))")
      :format(package.cpath)
    local function run(env)
      local p = io.popen(env .. " lua5.4 -e " .. ("%q"):format(code) .. " 2>&1")
      local out = p:read("a")
      p:close()
      return out
    end
    assert.equal("false", run("BRAID_RAWWALK=0"))
    assert.equal("true", run("BRAID_RAWWALK=1"))
  end)

  it("writes the API walk's bytes for plain values of every shape", function()
    local s = { 1, 2 }
    local cyc = { name = "c" }
    cyc.self = cyc
    local a, b = {}, {}
    a.b, b.a = b, a
    local longs = string.rep("long", 100)
    local keyed = { [longs] = longs, [longs .. "2"] = { longs } }
    local holes = { 1, nil, 3, nil, nil, 6 }
    local gaps = { [1] = 1, [3] = 3, [20] = 20, [40] = 40, [41] = 41 }
    local shrunk = {}
    for i = 1, 8 do shrunk[i] = i end
    shrunk[8], shrunk[7] = nil, nil
    local _ = #shrunk -- moves the array's limit below its size
    local inhash = { n = 1 }
    for i = 1, 10 do inhash[i] = i end
    local after = { 1, 2, 3 }
    after[5] = 5
    after[4] = 4 -- the border continues in the hash part
    local deep = {}
    local cur = deep
    for i = 1, 3000 do cur.next = { i = i }; cur = cur.next end
    local mixed = { 1, 2.5, true, false, "s", longs, { 1 }, x = 1, [2.5] = "f",
                    [true] = "t", [false] = "f", [-1] = -1, [0] = 0, [2^53] = "big",
                    [math.mininteger] = "min", [1e300] = "e" }
    local vals = {
      records = records(2000),
      ints = (function() local t = {} for i = 1, 100000 do t[i] = i * 7 - 50000 end return t end)(),
      floats = (function() local t = {} for i = 1, 5000 do t[i] = i / 3 end return t end)(),
      bools = { true, false, true, x = false },
      shared = { s, s, { s }, x = s, [s] = s },
      cyc = cyc, ab = { a, b },
      keyed = keyed, holes = holes, gaps = gaps, shrunk = shrunk,
      inhash = inhash, after = after, deep = deep, mixed = mixed,
      empty = { {}, {{}}, { {}, x = {} } },
      strs = { longs, longs, longs, "ab", "ab", [longs] = "ab" },
      nested = { a = { b = { c = { d = { e = { f = { 1, 2, 3 } } } } } } },
      many = (function() local t = {} for i = 1, 200 do t["k" .. i] = { i, tostring(i) } end return t end)(),
      big_child = { (function() local t = {} for i = 1, 300 do t[i] = { i } end return t end)() },
      -- chains of 0-8 levels beside shallow siblings: a chain found too
      -- deep for a plain table makes the walk skip the check on its next
      -- levels (Enc.deep_lo/deep_hi), its siblings included
      deepmix = (function()
        local t = {}
        for i = 1, 60 do
          local c = { i }
          local cur = c
          for d = 1, i % 9 do cur.n = { d, s = { d } }; cur = cur.n end
          t[i] = { c, { i }, { k = { i, { i } } }, s }
        end
        return t
      end)(),
    }
    for name, v in pairs(vals) do same_bytes(v, name) end
    same_bytes(vals, "all together")
    -- and the round trip keeps them
    local r = core.loads(same_bytes(vals.records, "records"))
    assert.same(vals.records, r)
    r = core.loads(same_bytes(cyc, "cyc"))
    assert.equal(r, r.self)
    r = core.loads(same_bytes(vals.shared, "shared"))
    assert.equal(r[1], r[2]); assert.equal(r[1], r[3][1]); assert.equal(r[1], r.x)
    assert.equal(r[1], r[r[1]])
    assert.same(mixed, core.loads(same_bytes(mixed, "mixed")))
    assert.same(gaps, core.loads(same_bytes(gaps, "gaps")))
    assert.same(shrunk, core.loads(same_bytes(shrunk, "shrunk")))
    assert.same(after, core.loads(same_bytes(after, "after")))
  end)

  it("writes the API walk's bytes for tables as keys, metatables, classes, modules, _G and functions", function()
    local tk = { a = 1, b = 2, c = 3 }
    tk[{}] = 4 -- a key that is no leaf: lua_next takes over from the key before
    tk[{ 1 }] = { 2 }
    tk.d = 5
    for i = 1, 20 do tk[i] = i end
    local Point = { __braidclass = "rawwalk_spec.Point" }
    local p = setmetatable({ x = 1, y = 2 }, Point)
    local Red = {}
    Red.__braidreduce = function(o) return tonumber, tostring(o.n) end
    local upv = { 1, 2, 3 }
    local function f() return upv end
    local function g() return upv, f end
    local v = {
      tk = tk,
      mt = setmetatable({ 1, 2, x = 3 }, { __index = { z = 1 } }),
      class = { p, p, { p } },
      reduce = { setmetatable({ n = 5 }, Red), { setmetatable({ n = 6 }, Red) } },
      mods = { string.format, string, math, { table } },
      g = { _G, { _G } },
      funcs = { f, g, { g } },
    }
    for name, x in pairs(v) do same_bytes(x, name) end
    same_bytes(v, "all together")
    local r = core.loads(same_bytes(v.class, "class"))
    assert.equal(r[1], r[2])
    assert.equal(5, core.loads(same_bytes(v.reduce, "reduce"))[1])
  end)

  it("raises the same TypeError with the same path for what cannot be sent", function()
    local co = coroutine.create(print)
    local cases = {
      { a = { b = { co } } },
      { 1, 2, { x = { io.stdout } } },
      (function() local t = records(100); t[50].vals[2] = co; return t end)(),
      (function() local t = { a = 1 }; t[{}] = co; return t end)(),
      (function() local t = {}; t[co] = 1; return t end)(),
      { [string.rep("k", 50)] = { co } },
    }
    for i, v in ipairs(cases) do
      local raw, api, ok1, ok2 = both(function() return core.dumps(v) end)
      assert.is_false(ok1, "case " .. i)
      assert.is_false(ok2, "case " .. i)
      assert.equal(api, raw, "case " .. i)
      assert.is_truthy(raw:find("TypeError", 1, true) or raw:find("cannot be sent", 1, true),
                       "case " .. i .. ": " .. raw)
    end
    local _, err = pcall(core.dumps, cases[3])
    assert.is_true(errors.TypeError:is(err))
    helpers.message_has(err, "value[50].vals[2]")
  end)

  it("writes the API walk's bytes for a batch (a starmap's {vec, i}, records), shared or not", function()
    local vec = {}
    for i = 1, 1000 do vec[i] = i + 0.5 end
    local small = { 1.5, 2.5 }
    local items = {}
    for i = 1, 40 do items[i] = { vec, i, small, { small, i } } end
    local recs = records(100)
    local pairs2, mixed = {}, {}
    for i = 1, 40 do
      pairs2[i] = { vec, i }
      mixed[i] = { vec, "name" .. i, i % 2 == 0, i + 0.5 }
    end
    mixed[20] = mixed[3] -- an item met again in its group, or in a later one
    for _, group in ipairs{ 0, 1, 4, 7 } do
      for _, callv in ipairs{ false, true } do
        for name, its in pairs{ items = items, recs = recs, pairs2 = pairs2, mixed = mixed } do
          local raw, api, ok1, ok2 = both(function()
            return core._test.batch_dumps(its, group, callv)
          end)
          assert.is_true(ok1 and ok2, name)
          assert.is_true(raw == api, ("%s group %d callv %s: %s"):format(
            name, group, tostring(callv), hexdiff(raw, api)))
        end
      end
    end
  end)

  it("keeps identity within a chunk of a thread pool's starmap", function()
    local mpool = require "braid.multiprocessing.pool"
    local p <close> = mpool.ThreadPool(1)
    local vec = {}
    for i = 1, 1000 do vec[i] = i + 0.5 end
    local items = {}
    for i = 1, 8 do items[i] = { vec, i } end
    local r = p:starmap(function(t, i)
      local same = PREVVEC == t -- luacheck: ignore
      PREVVEC = t -- luacheck: ignore
      return { same, i, t[1000] }
    end, items, 4)
    for i = 1, 8 do
      assert.same({ (i - 1) % 4 ~= 0, i, 1000.5 }, r[i])
    end
  end)

  it("reserves the map of tables seen for a big array's elements, not its slots", function()
    -- Each case in a fresh state (a new thread's), whose encoder starts with
    -- no map: 100,000 records sit in an array part of 131,072 slots, and
    -- their 200,000 tables fit a map of 512K slots (8 MiB) under half full;
    -- counting the slots reserved 16 MiB. 131,072 records (262,144 tables)
    -- take the 16 MiB.
    local futures = require "braid.concurrent.futures"
    local function probe(n)
      local core = require "braid.core"
      local before = core._enc_seen_bytes()
      local t = {}
      for i = 1, n do t[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } } end
      local back = core.loads(core.dumps(t))
      assert(#back == n and back[n].vals[3] == 3 * n)
      return before, core._enc_seen_bytes()
    end
    for _, case in ipairs{ { 100000, 8 << 20 }, { 131072, 16 << 20 } } do
      local ex <close> = futures.ThreadPoolExecutor(1)
      local before, after = ex:submit(probe, case[1]):result()
      assert.equal(0, before)
      assert.equal(case[2], after)
    end
  end)

  it("sends a big table whole through a threading Queue (streamed)", function()
    local queue = require "braid.queue"
    local threading = require "braid.threading"
    local q, back = queue.Queue(), queue.Queue()
    local t = threading.Thread { target = function(qq, bb)
      local v = qq:get(true, 60)
      bb:put(v, true, 60)
    end, args = { q, back } }
    t:start()
    local big = records(50000)
    q:put(big)
    local r = back:get(true, 60)
    t:join(60)
    assert.same(big, r)
  end)

  for _, method in ipairs(helpers.start_methods()) do
    it("sends a big table whole through an mp.Queue (" .. method .. ")", function()
      local mp = require "braid.multiprocessing"
      local ctx = mp.get_context(method)
      local q, back = ctx.Queue(), ctx.Queue()
      local p = ctx.Process { target = function(qq, bb)
        bb:put(qq:get(true, 60))
      end, args = { q, back } }
      p:start()
      local big = records(30000)
      big[7].blob = string.rep("b", 600000) -- a segment in process mode
      q:put(big)
      local r = back:get(true, 60)
      p:join(60)
      assert.equal(0, p.exitcode)
      assert.same(big, r)
    end)
  end

  it("survives a table changed under it from __braidreduce (rehashed, shrunk, keys removed)", function()
    for round = 1, 3 do
      local t = {}
      for i = 1, 200 do t[i] = i end
      for i = 1, 200 do t["k" .. i] = { i } end
      local M = {}
      M.__braidreduce = function()
        if round == 1 then
          for i = 1, 5000 do t["new" .. i] = i end -- the hash part grows
        elseif round == 2 then
          for i = 1, 200 do t[i] = nil; t["k" .. i] = nil end
          collectgarbage() -- the parts may shrink at the next rehash
          for i = 1, 50 do t[{}] = i end
        else
          for k in pairs(t) do t[k] = nil end
          t.x = setmetatable({}, M) -- and again, once
          M.__braidreduce = function() return tonumber, "2" end
        end
        return tonumber, "1"
      end
      t.probe = setmetatable({}, M)
      t.k100 = { setmetatable({}, M) }
      t[1] = setmetatable({}, M) -- early: the nodes are read after it
      local ok, s = pcall(core.dumps, t)
      if ok then
        local okl = pcall(core.loads, s)
        assert.is_true(okl, "round " .. round)
      else
        assert.is_string(tostring(s))
      end
    end
  end)

  it("survives a table changed under it by __gc finalizers during its encode", function()
    for _ = 1, 5 do
      local t = {}
      for i = 1, 300 do t["k" .. i] = { i, "v" .. i } end
      local M = { __braidreduce = function()
        -- garbage whose finalizers change t, then a full collection runs them
        for i = 1, 20 do
          setmetatable({}, { __gc = function()
            for j = 1, 50 do t["g" .. i .. "_" .. j] = j end
            t["k" .. (i * 7)] = nil
          end })
        end
        collectgarbage()
        return tonumber, "3"
      end }
      for i = 1, 10 do t["p" .. i] = setmetatable({}, M) end
      local ok, s = pcall(core.dumps, t)
      if ok then assert.is_true((pcall(core.loads, s))) end
    end
  end)
end)

-- Values that cross between workers (docs/python.md "What crosses between
-- workers"): in-process round trips through the serializer (core.copy,
-- dumps/loads) and real transfers to a thread (helpers.run_in_thread).
local core = require "braid.core"
local errors = require "braid.errors"
local helpers = require "helpers"

local function roundtrip(v) return core.loads(core.dumps(v)) end

describe("transfer of plain values", function()
  it("keeps nil, booleans and integer/float subtypes", function()
    local ok, a, b, c, d, e = helpers.run_in_thread(function(...) return ... end,
      nil, true, false, 3, 3.0)
    assert.is_true(ok)
    assert.is_nil(a); assert.is_true(b); assert.is_false(c)
    assert.equal("integer", math.type(d)); assert.equal("float", math.type(e))
  end)

  it("keeps NaN, infinities, -0.0 and integer limits", function()
    local ok, nan, inf, ninf, nz, maxi, mini = helpers.run_in_thread(
      function(...) return ... end,
      0/0, math.huge, -math.huge, -0.0, math.maxinteger, math.mininteger)
    assert.is_true(ok)
    assert.is_true(nan ~= nan)
    assert.equal(math.huge, inf); assert.equal(-math.huge, ninf)
    assert.equal(-math.huge, 1 / nz)
    assert.equal(math.maxinteger, maxi); assert.equal(math.mininteger, mini)
    assert.equal("integer", math.type(mini))
  end)

  it("keeps strings binary-safe", function()
    local s = "a\0b\255\1" .. string.rep("x", 100000)
    local ok, r = helpers.run_in_thread(function(x) return x, #x end, s)
    assert.is_true(ok)
    assert.equal(s, r)
  end)
end)

describe("transfer of tables", function()
  it("copies deep tables with array and hash parts", function()
    local t = { 1, 2, { 3, { 4 } }, x = { y = { z = "deep" } }, [2.5] = "f", [true] = 1 }
    local ok, r = helpers.run_in_thread(function(v) return v end, t)
    assert.is_true(ok)
    assert.same(t, r)
    assert.are_not.equal(t, r)
  end)

  it("keeps holes in sequences and tables as keys", function()
    local k = { "key" }
    local t = { 1, nil, 3, [k] = "v" }
    local r = roundtrip(t)
    assert.equal(1, r[1]); assert.is_nil(r[2]); assert.equal(3, r[3])
    local found
    for key, v in pairs(r) do
      if type(key) == "table" then found = key; assert.equal("v", v) end
    end
    assert.same({ "key" }, found)
  end)

  it("preserves shared references and cycles", function()
    local shared = { n = 1 }
    local t = { a = shared, b = shared, list = { shared } }
    t.self = t
    local ok, same, selfref = helpers.run_in_thread(function(v)
      return v.a == v.b and v.b == v.list[1], v.self == v
    end, t)
    assert.is_true(ok)
    assert.is_true(same)
    assert.is_true(selfref)
  end)

  it("shares references across the values of one transfer", function()
    local shared = {}
    local ok, same = helpers.run_in_thread(function(a, b) return a == b end, shared, shared)
    assert.is_true(ok)
    assert.is_true(same)
  end)

  it("carries metatables", function()
    local mt = { __index = function(_, k) return k .. "!" end }
    local t = setmetatable({}, mt)
    local ok, v = helpers.run_in_thread(function(x) return x.hello end, t)
    assert.is_true(ok)
    assert.equal("hello!", v)
  end)

  it("copies 100,000 records", function()
    local recs = {}
    for i = 1, 100000 do recs[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } } end
    local ok, n, last = helpers.run_in_thread(function(r)
      local sum = 0
      for i = 1, #r do sum = sum + r[i].vals[3] end
      return #r, r[#r].name, sum
    end, recs)
    assert.is_true(ok)
    assert.equal(100000, n)
    assert.equal("item100000", last)
  end)

  it("copies a mutated table as it was at the time of sending", function()
    local t = { v = 1 }
    local copy = core.copy(t)
    t.v = 2
    assert.equal(1, copy.v)
  end)
end)

describe("repeated strings and table layouts", function()
  it("copies many records sharing their keys", function()
    local recs = {}
    for i = 1, 5000 do
      recs[i] = { id = i, name = "item" .. i, kind = (i % 3 == 0) and "kind" or "other",
                  [i % 7 == 0 and "id" .. i or "x"] = i, sub = { name = "name", id = "id" } }
    end
    local r = roundtrip(recs)
    assert.same(recs, r)
    local ok, n, k = helpers.run_in_thread(function(t)
      return #t, t[4999].kind .. t[21]["id21"] .. t[5000].sub.name
    end, recs)
    assert.is_true(ok)
    assert.equal(5000, n)
    assert.equal("other21name", k)
  end)

  it("mixes short and long strings, repeated and not", function()
    local long = string.rep("long string ", 20)
    local long2 = string.rep("long string ", 20) -- same text, another object
    local t = {}
    for i = 1, 300 do
      t[i] = { long, long2, "s", "ab", "abc" .. (i % 5), [long] = "lk" .. i, ["\0\1"] = "\0\1",
               [""] = "", empty = "" }
    end
    local r = roundtrip(t)
    assert.same(t, r)
    assert.equal(long, r[300][1]); assert.equal(long, r[1][2])
    assert.equal("lk7", r[7][long])
  end)

  it("keeps back-referenced strings inside upvalues and nested functions", function()
    local key = "shared_key"
    local tbl = { [key] = key, nested = { shared_key = "shared_key" } }
    local function f() return key .. "/" .. tbl.nested[key] end
    local function g() return tbl[key], key end
    local ok, a, b, c = helpers.run_in_thread(function(t, f1, g1)
      local x, y = g1()
      return f1(), x .. y, t.nested.shared_key
    end, tbl, f, g)
    assert.is_true(ok)
    assert.equal("shared_key/shared_key", a)
    assert.equal("shared_keyshared_key", b)
    assert.equal("shared_key", c)
  end)

  it("keeps several values of one transfer sharing strings", function()
    local a, b, c = core.loads(core.dumps("repeat", { repeat_ = "repeat", ["repeat"] = 1 }, "repeat"))
    assert.equal("repeat", a); assert.equal("repeat", c)
    assert.same({ repeat_ = "repeat", ["repeat"] = 1 }, b)
  end)

  it("copies sequences with holes, in the hash part and beyond the border", function()
    local t1 = { 1, nil, 3, nil, 5, x = "x" }
    assert.same(t1, roundtrip(t1))
    local t2 = { [1] = "a", [2] = "b", [3] = "c", [5] = "e" } -- hash part
    assert.same(t2, roundtrip(t2))
    local t3 = {}
    for i = 1, 20 do t3[2 ^ i // 1] = i end
    t3[1] = 0
    assert.same(t3, roundtrip(t3))
    local t4 = { 1, 2, 3 }
    for i = 4, 100 do t4[i] = i end
    t4[50] = nil; t4[51] = nil
    assert.same(t4, roundtrip(t4))
    local t5 = { [0] = 0, [-1] = -1, 1, 2, [1.5] = "f", [3] = 3 }
    assert.same(t5, roundtrip(t5))
  end)

  it("copies vectors of numbers exactly: subtypes, other keys, holes, strings (lencflat.c)", function()
    local function same_keys(a, b)
      local na, nb = 0, 0
      for k, v in pairs(a) do
        na = na + 1
        assert.equal(math.type(v), math.type(b[k]), "subtype at " .. tostring(k))
        if v == v then assert.equal(v, b[k], "value at " .. tostring(k)) end
      end
      for _ in pairs(b) do nb = nb + 1 end
      assert.equal(na, nb, "keys")
    end
    local v = {}
    for i = 1, 40 do v[i] = (i % 3 == 0) and i or i + 0.0 end
    v[7], v[8], v[9] = 0/0, -0.0, math.huge
    v[10], v[11], v[12] = math.mininteger, math.maxinteger, true
    v[13] = false
    local r = roundtrip(v)
    same_keys(v, r)
    assert.is_true(r[7] ~= r[7])
    assert.equal(-math.huge, 1 / r[8])
    -- a vector in a table, twice: one table
    local w = roundtrip({ v, v })
    assert.equal(w[1], w[2])
    same_keys(v, w[1])
    -- other keys: after #t (a hash field), and before it: 1..n written as
    -- explicit keys land in the hash part, and where #t's node comes after
    -- the other key's, next(t, #t) is nil (a string's node depends on its
    -- hash: tables are made until 8 such cases were met)
    local hidden = 0
    for i = 1, 20000 do
      local h = {}
      for j = 1, 20 do h[j] = j + 0.5 end
      h["f" .. i] = i
      if i <= 20 then same_keys(h, roundtrip(h)) end
      local parts = {}
      for j = 1, 16 do parts[j] = ("[%d] = %d.5"):format(j, j) end
      parts[17] = ("k%d = %d"):format(i, i)
      local hp = load("return {" .. table.concat(parts, ",") .. "}")()
      if #hp == 16 and next(hp, 16) == nil then
        hidden = hidden + 1
        same_keys(hp, roundtrip(hp))
        if hidden == 8 then break end
      end
    end
    assert.equal(8, hidden)
    -- a hole, a string, a table inside: written by the walk, exactly
    local holes = {}
    for i = 1, 30 do holes[i] = i * 1.5 end
    holes[20] = nil
    same_keys(holes, roundtrip(holes))
    local mixed = {}
    for i = 1, 30 do mixed[i] = i end
    mixed[25] = "s"; mixed[26] = mixed[25] .. "s"
    local rm = roundtrip({ mixed, "ss" })
    same_keys(mixed, rm[1])
    mixed[27] = {}
    assert.equal("table", type(roundtrip(mixed)[27]))
  end)

  it("names the path of a bad value inside a sequence and a string-keyed record", function()
    local t = { 1, 2, { "a", { k = "v", bad = { 1, coroutine.create(print) } } } }
    local err = helpers.raises(errors.TypeError, core.dumps, t)
    helpers.message_has(err, "value[3][2].bad[2]: a coroutine cannot be sent")
    local with_holes = { 1, nil, 3, io.stdout }
    err = helpers.raises(errors.TypeError, core.dumps, with_holes)
    helpers.message_has(err, "value[4]: a userdata of type FILE*")
  end)

  it("decodes big messages with the collector running afterwards", function()
    local recs = {}
    for i = 1, 20000 do recs[i] = { i, tostring(i) } end
    local was = collectgarbage("isrunning")
    local r = roundtrip(recs)
    assert.equal(was, collectgarbage("isrunning"))
    assert.equal("20000", r[20000][2])
    -- a corrupt big message raises and leaves the collector running
    local s = core.dumps(recs)
    helpers.raises(errors.ValueError, core.loads, s:sub(1, #s - 1))
    assert.equal(was, collectgarbage("isrunning"))
    -- and a stopped collector stays stopped
    collectgarbage("stop")
    roundtrip(recs)
    assert.is_false(collectgarbage("isrunning"))
    collectgarbage("restart")
  end)
end)

describe("decoder fast paths", function()
  it("keeps integers around every varint width, in arrays and as fields", function()
    local vals = {}
    for _, b in ipairs({ 0, 7, 14, 21, 28, 35, 42, 49, 56, 62 }) do
      local p = 1 << b
      for _, v in ipairs({ p - 1, p, p + 1, -p, -p - 1 }) do vals[#vals + 1] = v end
    end
    vals[#vals + 1] = math.maxinteger
    vals[#vals + 1] = math.mininteger
    local recs = {}
    for i, v in ipairs(vals) do recs[i] = { v, v, id = v, [v] = i } end
    local ok, r = helpers.run_in_thread(function(x) return x end,
      { vals = vals, recs = recs })
    assert.is_true(ok)
    assert.same(vals, r.vals)
    for i, v in ipairs(vals) do
      assert.equal(v, r.recs[i][1]); assert.equal(v, r.recs[i].id)
      assert.equal("integer", math.type(r.recs[i][2]))
    end
  end)

  it("recalls many shared keys, strings and tables (beyond the stack slots)", function()
    local shared, recs = {}, {}
    for i = 1, 300 do shared[i] = { i } end
    for i = 1, 3000 do
      local k = "key" .. (i % 97)
      recs[i] = { [k] = shared[i % 300 + 1], ["other" .. (i % 41)] = k,
                  s = shared[(i * 7) % 300 + 1] }
    end
    local ok, r = helpers.run_in_thread(function(x) return x end, { shared, recs })
    assert.is_true(ok)
    local rs, rr = r[1], r[2]
    for i = 1, 3000 do
      local k = "key" .. (i % 97)
      assert.equal(rs[i % 300 + 1], rr[i][k])
      assert.equal(k, rr[i]["other" .. (i % 41)])
      assert.equal(rs[(i * 7) % 300 + 1], rr[i].s)
    end
    assert.same(shared, rs)
  end)
end)

describe("worker states' allocator", function()
  it("keeps values of every size class, big blocks and resized tables", function()
    local function build()
      local t, sum = {}, 0
      for n = 1, 5000, 7 do t[#t + 1] = ("%d"):format(n):rep(n // 4 + 1) end
      t.big = ("x"):rep(3 << 20) -- a big block
      local grow = {}
      for i = 1, 200000 do grow[i] = i end -- arrays resized through every class
      for i = 200000, 11, -1 do grow[i] = nil end
      collectgarbage()
      t.grow = grow
      local h = {}
      for i = 1, 20000 do h["k" .. i] = i end
      for i = 1, 20000, 2 do h["k" .. i] = nil end
      collectgarbage()
      t.h = h
      for _, v in ipairs(t) do sum = sum + #v end
      return t, sum
    end
    local mine, msum = build()
    local ok, r, rsum = helpers.run_in_thread(function(f) return f() end, build)
    assert.is_true(ok)
    assert.equal(msum, rsum)
    assert.same(mine, r)
    -- and back again: a worker decodes it, sends it back
    local ok2, r2 = helpers.run_in_thread(function(x) return x end, r)
    assert.is_true(ok2)
    assert.same(mine, r2)
  end)
end)

describe("transfer of functions", function()
  it("copies Lua functions with their upvalues", function()
    local base = 40
    local function add(x) return base + x end
    local ok, r = helpers.run_in_thread(function(f) return f(2) end, add)
    assert.is_true(ok)
    assert.equal(42, r)
  end)

  it("keeps two closures sharing one upvalue sharing it", function()
    local counter = 0
    local function inc() counter = counter + 1 end
    local function get() return counter end
    local ok, r = helpers.run_in_thread(function(i, g) i(); i(); return g() end, inc, get)
    assert.is_true(ok)
    assert.equal(2, r)
  end)

  it("copies recursive local functions", function()
    local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
    local ok, r = helpers.run_in_thread(fib, 20)
    assert.is_true(ok)
    assert.equal(6765, r)
  end)

  it("rebinds _ENV to the receiving worker's globals", function()
    -- this spec's functions run under busted's own _ENV
    local ok, same = helpers.run_in_thread(function() return _ENV == _G and print ~= nil end)
    assert.is_true(ok)
    assert.is_true(same)
  end)

  it("sends C functions and module tables by name", function()
    local fmt = string.format
    local cjson = require "cjson"
    local ok, s, j = helpers.run_in_thread(function(f, json)
      return f("%d-%s", 7, "x"), json.encode({ 1, 2 })
    end, fmt, cjson)
    assert.is_true(ok)
    assert.equal("7-x", s)
    assert.equal("[1,2]", j)
  end)

  it("resolves a module used as an upvalue with require", function()
    local json = require "cjson"
    local function enc(t) return json.encode(t) end
    local ok, r = helpers.run_in_thread(enc, { a = 1 })
    assert.is_true(ok)
    assert.equal('{"a":1}', r)
  end)
end)

describe("transfer of braid objects", function()
  it("sends braid objects by reference", function()
    local threading = require "braid.threading"
    local t = threading.Thread{ target = function() end }
    local h = rawget(t, "_h")
    local ok, id = helpers.run_in_thread(function(x)
      return require("braid.core")._test.id(x)
    end, h)
    assert.is_true(ok)
    assert.equal(core._test.id(h), id)
  end)

  it("rebuilds error objects with their class", function()
    local ok, err = helpers.run_in_thread(function()
      error(require("braid.errors").ValueError("bad value"))
    end)
    assert.is_false(ok)
    assert.is_true(errors.ValueError:is(err))
    assert.equal("bad value", err.message)
  end)

  it("uses __braidreduce to rebuild objects", function()
    local Point = {}
    Point.__index = Point
    Point.__braidreduce = function(p)
      return function(x, y) return { x = x, y = y, rebuilt = true } end, p.x, p.y
    end
    local p = setmetatable({ x = 1, y = 2 }, Point)
    local r = roundtrip(p)
    assert.is_true(r.rebuilt)
    assert.equal(1, r.x); assert.equal(2, r.y)
  end)
end)

describe("values that cannot cross", function()
  it("raises TypeError naming the path of a coroutine", function()
    local err = helpers.raises(errors.TypeError, core.dumps, { a = { b = { coroutine.create(print) } } })
    helpers.message_has(err, "value.a.b[1]: a coroutine cannot be sent")
  end)

  it("raises TypeError naming a userdata's type", function()
    local err = helpers.raises(errors.TypeError, core.dumps, { conn = io.stdout })
    helpers.message_has(err, "value.conn: a userdata of type FILE* cannot be sent")
  end)

  it("raises TypeError for a thread's args naming 'args'", function()
    local threading = require "braid.threading"
    local t = threading.Thread{ target = print, args = { 1, { conn = io.stderr } } }
    local err = helpers.raises(errors.TypeError, t.start, t)
    helpers.message_has(err, "args[2].conn: a userdata of type FILE*")
    assert.is_false(t:is_alive())
  end)

  it("raises TypeError for light userdata", function()
    local err = helpers.raises(errors.TypeError, core.dumps, { p = require("cjson").null })
    helpers.message_has(err, "value.p: a light userdata cannot be sent")
  end)

  it("sends values nested deeper than the C stack would allow (see deep_spec)", function()
    local deep = {}
    local cur = deep
    for _ = 1, 1000 do cur.x = {}; cur = cur.x end
    cur.bad = io.stdout
    local err = helpers.raises(errors.TypeError, core.dumps, deep)
    helpers.message_has(err, ".x.x.bad (1001 levels): a userdata")
    cur.bad = nil
    local back, n = core.loads(core.dumps(deep)), 0
    while back.x do back = back.x; n = n + 1 end
    assert.equal(1000, n)
  end)
end)

describe("dumps and loads", function()
  it("round-trips several values", function()
    local a, b, c = core.loads(core.dumps(1, "two", { 3 }))
    assert.equal(1, a); assert.equal("two", b); assert.same({ 3 }, c)
  end)

  it("rejects corrupt data with ValueError", function()
    local s = core.dumps({ 1, 2, 3, "abc" })
    helpers.raises(errors.ValueError, core.loads, s:sub(1, #s - 2))
    helpers.raises(errors.ValueError, core.loads, "\255")
    helpers.raises(errors.ValueError, core.loads, "")
    helpers.raises(errors.ValueError, core.loads, s .. "x")
  end)

  it("refuses braid objects, which live in memory", function()
    local threading = require "braid.threading"
    local t = threading.Thread{ target = print }
    helpers.raises(errors.TypeError, core.dumps, rawget(t, "_h"))
  end)
end)

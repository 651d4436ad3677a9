-- The decoder's string prefetcher (src/bind/ldecraw.h; issue 16, item 4):
-- in a big decode into a state that holds many strings (already, or
-- once the decode's own strings have grown its table), a scanner reads
-- the bytes ahead of the decoder and prefetches the string table's
-- buckets of the short strings it finds. It is a hint: whatever
-- the bytes hold (strings of every length, repeated strings, functions,
-- metatables, nested tables, segments), the values decoded with it on
-- must be the values decoded with it off; and it must run where it is
-- meant to (core._strahead() counts the strings it found on this thread;
-- core._strahead(true) makes every decode run it, as the fuzz target
-- does).
local core = require "braid.core"
local braid = require "braid"
local helpers = require "helpers"

local _, HAS = helpers.start_methods()
local fork_it = HAS.fork and it or pending

local records = helpers.records

-- A value holding every kind of token the scanner meets or stops at.
local function mixed()
  local shared = { "shared" }
  local v = {
    short = "s", empty = "", at40 = ("x"):rep(40), at41 = ("y"):rep(41),
    long = ("z"):rep(5000), shared, shared, rep = {},
    f = function(a) return a + 1 end, -- a function's dump stops the scanner
    after_f = { "after", "the", "function" },
    meta = setmetatable({ "m1", "m2" }, { __index = { k = "inherited" } }),
    nested = { { { { "deep", ("w"):rep(39) } } } },
    nums = { 1, 2.5, -3, 1 << 40, true, false },
    keys = { ["a key"] = "v", [("k"):rep(40)] = "v40", [7] = "seven" },
  }
  for i = 1, 300 do v.rep[i] = "r" .. (i % 7) end -- repeated strings
  return v
end

local function check_mixed(v)
  assert.equal("s", v.short)
  assert.equal("", v.empty)
  assert.equal(("x"):rep(40), v.at40)
  assert.equal(("y"):rep(41), v.at41)
  assert.equal(("z"):rep(5000), v.long)
  assert.equal(v[1], v[2])
  assert.equal("shared", v[1][1])
  for i = 1, 300 do assert.equal("r" .. (i % 7), v.rep[i]) end
  assert.equal(5, v.f(4))
  assert.same({ "after", "the", "function" }, v.after_f)
  assert.equal("m2", v.meta[2])
  assert.equal("inherited", v.meta.k)
  assert.same({ "deep", ("w"):rep(39) }, v.nested[1][1][1])
  assert.same({ 1, 2.5, -3, 1 << 40, true, false }, v.nums)
  assert.same({ ["a key"] = "v", [("k"):rep(40)] = "v40", [7] = "seven" }, v.keys)
end

describe("the decoder's string prefetcher", function()
  after_each(function() core._strahead(false) end)

  it("gives the same values with it forced on, off, and cut at every length", function()
    local bytes = core.dumps(mixed(), records(500))
    core._strahead(false)
    core._strahead()
    local a1, a2 = core.loads(bytes)
    assert.equal(0, core._strahead(), "a small decode does not prefetch")
    core._strahead(true)
    local b1, b2 = core.loads(bytes)
    assert.is_true(core._strahead() > 500, "forced: the scanner found the strings")
    check_mixed(a1)
    check_mixed(b1)
    assert.same(a2, b2)
    assert.equal("item500", b2[500].name)
    -- prefixes (the first bytes one by one, then 40 cuts spread over the
    -- rest): the decoder refuses each as it did; the scanner reads nothing
    -- past the end (ASan's pass checks that)
    local cuts = {}
    for n = 1, 24 do cuts[#cuts + 1] = n end
    for k = 1, 40 do cuts[#cuts + 1] = 24 + (#bytes - 25) * k // 40 end
    for _, n in ipairs(cuts) do
      local ok, err = pcall(core.loads, bytes:sub(1, n))
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("truncated") or tostring(err):find("ValueError"),
                       tostring(err))
    end
  end)

  it("runs in a big decode into a state that holds many strings", function()
    -- the strings exist already: their chains lead to old strings
    local keep = records(70000)
    local bytes = core.dumps(keep)
    core._strahead()
    local t = core.loads(bytes)
    local found = core._strahead()
    assert.is_true(found >= 60000, "strings prefetched: " .. found)
    assert.equal(70000, #t)
    for i = 1, 70000, 997 do assert.same(keep[i], t[i]) end
    assert.equal("item70000", t[70000].name)
  end)

  -- Decodes 'bytes' in a new worker thread (a fresh state: a few hundred
  -- strings); returns the strings the prefetcher found there, #t, the
  -- last record's name and t[k].vals[3].
  local function fresh_decode(bytes, k)
    local back = braid.queue.Queue()
    local th = braid.threading.Thread { target = function(bytes, k, back)
      local core = require "braid.core"
      core._strahead()
      local t = core.loads(bytes)
      back:put({ core._strahead(), #t, t[#t].name, t[k].vals[3] })
    end, args = { bytes, k, back } }
    th:start()
    local r = back:get(true, 60)
    th:join(60)
    return table.unpack(r, 1, 4)
  end

  it("stays off in a big decode into a state with few strings", function()
    assert.same({ 0, 20000, "fresh20000", 3 * 777 },
                { fresh_decode(core.dumps(records(20000, "fresh")), 777) })
  end)

  it("turns on when a big decode's own strings grow a fresh state's table", function()
    -- 100,000 new names into a worker holding a few hundred strings: off
    -- at first, on once the table holds 65,536 (looked at every 1,024
    -- strings), so it finds the last ~35,000
    local found, n, last, v = fresh_decode(core.dumps(records(100000, "grow")), 65536)
    assert.is_true(found >= 25000 and found <= 40000, "strings prefetched: " .. tostring(found))
    assert.same({ 100000, "grow100000", 3 * 65536 }, { n, last, v })
  end)

  it("runs in a worker thread's Queue get when forced, the value whole", function()
    core._strahead(true)
    local q, back = braid.queue.Queue(), braid.queue.Queue()
    local th = braid.threading.Thread { target = function(q, back)
      local core = require "braid.core"
      core._strahead()
      local v = q:get(true, 60)
      local ok, err = pcall(function()
        assert(v.mixed.at40 == ("x"):rep(40) and v.mixed.f(1) == 2)
        assert(#v.recs == 30000 and v.recs[30000].name == "q30000")
      end)
      back:put({ ok, tostring(err), core._strahead() })
    end, args = { q, back } }
    th:start()
    q:put({ mixed = mixed(), recs = records(30000, "q") })
    local r = back:get(true, 60)
    th:join(60)
    assert.is_true(r[1], r[2])
    assert.is_true(r[3] >= 30000, "strings prefetched: " .. r[3])
  end)

  fork_it("runs in a forked child's mp.Queue get (the parent's strings)", function()
    local mp = require "braid.multiprocessing"
    local ctx = mp.get_context("fork")
    local recs = records(80000, "mpq")
    local q = ctx.Queue()
    local a, b = ctx.Pipe()
    local p = ctx.Process { target = function(q, c)
      local core = require "braid.core"
      core._strahead()
      local t = q:get(true, 60)
      c:send({ core._strahead(), #t, t[#t].name, t[12345].vals[3] })
    end, args = { q, b } }
    p:start()
    q:put(recs)
    assert.is_true(a:poll(60), "the child did not answer")
    local r = a:recv()
    p:join(60)
    assert.equal(0, p.exitcode)
    assert.is_true(r[1] >= 70000, "strings prefetched: " .. tostring(r[1]))
    assert.same({ 80000, "mpq80000", 3 * 12345 }, { r[2], r[3], r[4] })
  end)
end)

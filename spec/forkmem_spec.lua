-- A state's pool across a fork (src/core/alloc.h: braid__salloc_after_fork,
-- braid__salloc_sync_fork; issue 16, item 4). After a fork, parent and
-- child share the pages of the blocks the state had freed until one of
-- them writes there, and each page written first costs a fault and a
-- copy. So a forked child forgets those blocks (what it allocates comes
-- from chunks of its own), and the parent, at its next big decode, puts
-- them aside (a stash) and takes new chunks first, within a bound, then
-- the stashed blocks again. Around a fork (its own, or while it waits for
-- a Pool's workers: core._fork_window), the chunks holding nothing live
-- are left out of the children and the blocks outside them go aside at
-- once: the parent reuses the rest without a fault (braid__salloc_prefork).
-- core._pool_stats() shows a pool: mapped (bytes of its chunks), free
-- (freed blocks it hands out first), stashed, fresh (new chunk bytes it
-- may still map before taking stashed blocks), left (bytes of chunks left
-- out of forks now).
local helpers = require "helpers"
local core = require "braid.core"

local _, HAS = helpers.start_methods()
local fork_it = HAS.fork and it or pending
local MiB = 1 << 20
local FRESH_MAX = 64 * MiB -- alloc.c's STASH_FRESH_MAX

local records = helpers.records

-- Moves the main state onto a pool (a decode of 64 KiB or more does) and
-- leaves a good deal of freed blocks in it.
local function pool_with_free_blocks()
  local t = core.loads(core.dumps(records(30000, "pre")))
  assert(#t == 30000)
  t = nil -- luacheck: ignore 311
  collectgarbage(); collectgarbage()
  local st = core._pool_stats()
  assert.is_not_nil(st, "the main state is on a pool: " .. core._alloc_kind())
  assert.is_true(st.free > 2 * MiB, "freed blocks: " .. st.free)
  return st
end

-- A forked child that waits (so that it shares the parent's pages) until
-- the test ends (busted's finally) or release() is called; it runs
-- target() first when one is given and sends what it returns.
local function forked_child(target)
  local mp = require "braid.multiprocessing"
  local ctx = mp.get_context("fork")
  local a, b = ctx.Pipe()
  local go_a, go_b = ctx.Pipe()
  local p = ctx.Process { target = function(c, go, fn)
    local ok, r = pcall(fn or function() return "ready" end)
    c:send(ok and r or { child_error = tostring(r) })
    go:recv()
  end, args = { b, go_b, target } }
  p:start()
  local released = false
  local function release()
    if released then return end
    released = true
    go_a:send(true)
    p:join(60)
    assert.equal(0, p.exitcode)
  end
  finally(release) -- also when an assertion fails first
  assert.is_true(a:poll(60), "the child did not answer")
  return a:recv(), release
end

describe("a pool across a fork", function()
  fork_it("a forked child allocates from chunks of its own", function()
    pool_with_free_blocks()
    local r, release = forked_child(function()
      local core = require "braid.core"
      local s0 = core._pool_stats()
      local t = core.loads(core.dumps(records(20000, "child")))
      local s1 = core._pool_stats()
      return { s0.free, s0.stashed, s1.mapped > s0.mapped, #t, t[20000].name }
    end)
    release()
    assert.is_nil(r.child_error)
    assert.same({ 0, 0, true, 20000, "child20000" }, r)
  end)

  fork_it("the parent's next big decode reuses what it freed: its chunks with nothing live were left out of the child", function()
    local freed = pool_with_free_blocks()
    local r, release = forked_child()
    local forked = core._pool_stats()
    assert.equal("ready", r)
    local bytes = core.dumps(records(20000, "after"))
    local before = core._pool_stats()
    local t = core.loads(bytes) -- 64 KiB or more: the pool looks at forks
    local after = core._pool_stats()
    release()
    assert.equal(20000, #t)
    assert.same({ id = 20000, name = "after20000", vals = { 20000, 40000, 60000 } }, t[20000])
    -- the fork was the pool's own (a Process started here): the chunks
    -- holding nothing live were left out of the child, and are forked
    -- again now; nothing was put aside for it
    assert.equal(0, forked.left)
    assert.equal(freed.stashed, forked.stashed)
    -- (less a medium block or so taken to carve small ones from)
    assert.is_true(forked.free >= freed.free - MiB,
                   ("kept %d of %d"):format(forked.free, freed.free))
    -- the decode takes the free blocks as they are: nothing goes aside
    assert.is_true(after.free < before.free)
    assert.equal(before.stashed, after.stashed)
    -- a decode with no fork since leaves the stash alone too
    local t2 = core.loads(bytes)
    assert.equal("after7", t2[7].name)
    assert.equal(after.stashed, core._pool_stats().stashed)
  end)

  fork_it("a fork by another thread while this one waits in a window leaves its chunks out", function()
    local threading = require "braid.threading"
    local freed = pool_with_free_blocks()
    local left = core._fork_window(true)
    local during = core._pool_stats()
    -- a thread starts (forks) a process and waits for it, as a Pool's
    -- proxies start its workers while the Pool's maker waits
    local codes = require("braid.queue").SimpleQueue()
    local th = threading.Thread { target = function(q)
      local mp = require "braid.multiprocessing"
      local p = mp.get_context("fork").Process { target = function()
        local core = require "braid.core"
        local t = core.loads(core.dumps({ 1, 2, 3 }))
        assert(#t == 3)
      end }
      p:start(); p:join(60)
      q:put(p.exitcode)
    end, args = { codes } }
    th:start(); th:join(60)
    assert.equal(0, codes:get(true, 60))
    core._fork_window(false)
    local after_window = core._pool_stats()
    local bytes = core.dumps(records(20000, "w"))
    local t = core.loads(bytes)
    local after = core._pool_stats()
    assert.equal("w20000", t[20000].name)
    -- none of the children of other threads runs this state: every
    -- chunk was left out, live blocks and all
    assert.is_true(left > 0, "chunks left out: " .. left)
    assert.equal(left * 2 * MiB, during.left)
    assert.equal(during.mapped, during.left)
    assert.equal(0, after_window.left)
    -- (less a medium block or so taken to carve small ones from)
    assert.is_true(during.free + during.stashed >= freed.free - MiB, ("during %d + %d, freed %d"):format(during.free, during.stashed, freed.free))
    -- the blocks kept are reused, none more goes aside
    assert.is_true(after.free < after_window.free)
    assert.equal(after_window.stashed, after.stashed)
  end)

  fork_it("a fork Pool starts its workers in a window: the decode after puts nothing more aside", function()
    local mp = require "braid.multiprocessing"
    pool_with_free_blocks()
    local pool = mp.get_context("fork").Pool(1)
    assert.equal(4, pool:apply(function(x) return x * 2 end, { 2 }))
    local before = core._pool_stats()
    local t = core.loads(core.dumps(records(20000, "p")))
    local after = core._pool_stats()
    pool:close(); pool:join()
    assert.equal("p20000", t[20000].name)
    assert.is_true(before.free > MiB, "kept " .. before.free)
    assert.equal(before.stashed, after.stashed)
  end)

  fork_it("takes stashed blocks again: forks and big decodes in a loop stay bounded", function()
    pool_with_free_blocks()
    local bytes = core.dumps(records(40000, "loop")) -- about 8 MiB decoded
    local first
    for round = 1, 24 do
      local _, release = forked_child()
      local t = core.loads(bytes)
      assert.equal("loop40000", t[40000].name)
      release()
      t = nil -- luacheck: ignore 311
      collectgarbage(); collectgarbage()
      local st = core._pool_stats()
      first = first or st.mapped
      -- each fork may let the pool map at most FRESH_MAX afresh, and only
      -- while the stash holds at most FRESH_MAX: growth is bounded by both
      assert.is_true(st.mapped <= first + 2 * FRESH_MAX + 16 * MiB,
                     ("round %d: %d MiB mapped, %d MiB after the first")
                     :format(round, st.mapped // MiB, first // MiB))
    end
  end)

  fork_it("a child's values and the parent's stay whole across many forks", function()
    pool_with_free_blocks()
    local keep = {}
    for round = 1, 6 do
      keep[round] = core.loads(core.dumps(records(5000, "k" .. round)))
      local r, release = forked_child(function()
        local core = require "braid.core"
        local t = core.loads(core.dumps(records(5000, "c")))
        local sum = 0
        for i = 1, #t do sum = sum + t[i].vals[3] end
        return { sum, t[5000].name }
      end)
      release()
      assert.same({ 3 * 5000 * 5001 // 2, "c5000" }, r)
      collectgarbage()
    end
    for round = 1, 6 do
      assert.equal("k" .. round .. "4999", keep[round][4999].name)
      assert.same({ 5000, 10000, 15000 }, keep[round][5000].vals)
    end
  end)
end)

-- An encoder's pointer maps across a fork (src/core/alloc.h:
-- braid__huge_alloc_unforked; ptrmap.h: braid__ptrmap_unforked). Their
-- tables (2 MiB and more) are left out of forks: the parent's next encode
-- would otherwise copy every page of them, one fault each, while the child
-- it just started shares them (3,200 pages for the 100k-record table); a
-- forked child's encoder starts with empty maps of its own.
describe("an encoder's pointer maps across a fork", function()
  local minor_faults = helpers.minor_faults

  -- 200,000 empty tables: an 8 MiB map of the tables seen, and a message
  -- of ~400 KB (its buffer does not count here)
  local function many_tables()
    local t = {}
    for i = 1, 200000 do t[i] = {} end
    return t
  end

  fork_it("the parent's next encode does not copy its maps' pages", function()
    local t = many_tables()
    assert.is_true(#core.dumps(t) > 200000) -- the maps are grown
    -- the collector's marks would write to every table's page (also
    -- shared): not what is counted
    collectgarbage(); collectgarbage("stop")
    local _, release = forked_child() -- shares the parent's pages
    local f0 = minor_faults()
    local s = core.dumps(t)
    local faults = minor_faults() - f0
    collectgarbage("restart")
    release()
    assert.equal(200000, #core.loads(s))
    -- the map alone is 2,048 pages of 4 KiB: copied, each was a fault
    assert.is_true(faults < 1000, ("%d page faults"):format(faults))
  end)

  fork_it("a forked child's encoder starts with maps of its own", function()
    local t = many_tables()
    local shared = {}
    for i = 1, 100000, 2 do t[i] = shared end
    assert.is_true(#core.dumps(t) > 100000)
    for round = 1, 3 do
      local r, release = forked_child(function()
        local core = require "braid.core"
        -- the parent's tables and new ones, twice, and a shared one
        local u = core.loads(core.dumps({ t, many_tables(), t }))
        local same = 0
        for i = 1, 100000, 2 do if u[1][i] == u[1][1] then same = same + 1 end end
        return { #u[1], #u[2], u[1] == u[3], same }
      end)
      release()
      assert.same({ 200000, 200000, true, 50000 }, r)
    end
    -- and the parent's maps still work
    local u = core.loads(core.dumps({ t, t }))
    assert.is_true(u[1] == u[2] and u[1][1] == u[1][3])
  end)
end)

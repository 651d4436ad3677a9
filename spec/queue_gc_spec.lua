-- A big queue item is decoded with the receiving state's collector
-- stopped, as a big message is (src/bind/ldecode.c, NOGC_MIN_BYTES): what
-- the decode allocates is the value being built, so a collection cycle
-- started by that allocation would only traverse it again. Items that a
-- put did not stream (a table keyed by strings, any table while the
-- streaming threshold is raised) go through braid__decode_items_with and
-- ran the collector all along; a streamed item already stopped it.
--
-- The collector's activity is seen through a finalizer: garbage with a
-- __gc is left just before the get, and the collector is made as eager
-- as Lua allows (a new cycle at once, ten times the work per step), so
-- any collection step taken during the decode finishes a cycle and calls
-- it. After the get, one full collection must call it (the collector
-- runs again, and the finalizer works).
local core = require "braid.core"
local queue = require "braid.queue"

-- Runs fn with the collector at its most eager, restoring it after.
local function eager(fn)
  collectgarbage("collect")
  local pause = collectgarbage("setpause", 100)
  local stepmul = collectgarbage("setstepmul", 1000)
  local ok, err = pcall(fn)
  collectgarbage("setpause", pause)
  collectgarbage("setstepmul", stepmul)
  assert(ok, err)
end

-- Leaves one unreachable object whose finalizer counts into box[1].
local function garbage_with_gc(box)
  setmetatable({}, { __gc = function() box[1] = box[1] + 1 end })
end

-- string keys, each a small record (20,000: ~0.8 MB encoded, ~3 MB
-- decoded: the eager collector finishes a cycle within that), not a
-- sequence (so never streamed)
local function keyed(n)
  local t = {}
  for i = 1, n do t["key" .. i] = { i, ("x"):rep(20) .. i } end
  return t
end

describe("Queue get of a big item", function()
  it("runs no collection step while it decodes an item that was not streamed", function()
    local q = queue.Queue()
    q:put(keyed(20000))
    local fin = { 0 }
    local v
    eager(function()
      garbage_with_gc(fin)
      v = q:get()
      local during = fin[1] -- before anything else allocates (assert does)
      assert.equal(0, during)
      assert.is_true(collectgarbage("isrunning"))
    end)
    assert.equal("xxxxxxxxxxxxxxxxxxxx20000", v.key20000[2])
    collectgarbage("collect")
    assert.equal(1, fin[1])
  end)

  it("does the same for a plain big sequence and for a streamed one", function()
    local set_min = core._stream_min
    local min0, step0 = set_min()
    local recs = {}
    for i = 1, 20000 do recs[i] = { id = i, name = "item" .. i } end
    for _, streamed in ipairs({ false, true }) do
      local q = queue.Queue()
      set_min(streamed and 256 or (1 << 40), 64)
      local ok, err = pcall(q.put, q, recs)
      set_min(min0, step0)
      assert(ok, err)
      local fin = { 0 }
      local v
      eager(function()
        garbage_with_gc(fin)
        v = q:get()
        local during = fin[1]
        assert.equal(0, during)
      end)
      assert.equal("item20000", v[20000].name)
      collectgarbage("collect")
      assert.equal(1, fin[1])
    end
  end)

  it("leaves a stopped collector stopped, and a small item's get as it was", function()
    local q = queue.Queue()
    q:put(keyed(5000))
    collectgarbage("stop")
    local ok, err = pcall(function()
      local v = q:get()
      assert.equal(5000, v.key5000[1])
      assert.is_false(collectgarbage("isrunning"))
    end)
    collectgarbage("restart")
    assert(ok, err)
    -- small items (under 64 KiB in all) are decoded with the collector
    -- as it is, running: a get_many of many small ones, then one small get
    for i = 1, 100 do q:put({ i }) end
    local got = q:get_many(100)
    assert.equal(100, #got)
    assert.equal(100, got[100][1])
    q:put(keyed(10))
    assert.equal(10, q:get().key10[1])
    assert.is_true(collectgarbage("isrunning"))
  end)
end)

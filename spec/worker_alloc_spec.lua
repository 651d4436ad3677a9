-- A worker state's allocator (src/core/alloc.c) carves small blocks out
-- of freed medium ones (a grown stack's old block, a rehashed table's old
-- nodes) before it takes new memory: what it hands out must never
-- overlap what is live. Freed medium blocks come from growing tables and
-- strings; the small blocks after them (short strings, small tables,
-- closures) are checked against what was stored. The ASan pass of
-- scripts/test.sh runs this too (the pool poisons free memory).
local threading = require "braid.threading"
local queue = require "braid.queue"
local helpers = require "helpers"
local run = helpers.call_in_thread

describe("a worker state's allocator", function()
  it("reuses freed medium blocks for small ones without overlap", function()
    local bad, n = run(function()
      local keep, bad = {}, 0
      for round = 1, 200 do
        -- a table grown past medium sizes frees its old node arrays
        local grow = {}
        for i = 1, 40 + round % 50 do grow["k" .. i] = i end
        -- a string buffer of medium size, freed at once
        local big = string.rep("m", 600 + round * 7)
        -- then small blocks, kept
        local t = { round, "s" .. round, function() return round end }
        keep[#keep + 1] = t
        if #big ~= 600 + round * 7 then bad = bad + 1 end
        for i = 1, 40 + round % 50 do
          if grow["k" .. i] ~= i then bad = bad + 1 end
        end
      end
      collectgarbage()
      for i, t in ipairs(keep) do
        if t[1] ~= i or t[2] ~= "s" .. i or t[3]() ~= i then bad = bad + 1 end
      end
      return bad, #keep
    end)
    assert.equal(0, bad)
    assert.equal(200, n)
  end)

  it("serves a state whose stack grows and shrinks deep", function()
    local r = run(function()
      local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
      local s = 0
      for i = 1, 50 do
        s = s + depth(i * 40)
        local t = {}
        for j = 1, i do t[j] = ("%d"):format(j) end
        s = s + #table.concat(t)
        collectgarbage()
      end
      return s
    end)
    local want = 0
    for i = 1, 50 do
      want = want + i * 40
      local t = {}
      for j = 1, i do t[j] = ("%d"):format(j) end
      want = want + #table.concat(t)
    end
    assert.equal(want, r)
  end)
end)

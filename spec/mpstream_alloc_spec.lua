-- A state that reads a streamed big table moves onto a pool of braid's
-- (src/bind/ladopt.c, docs/HACKING.md "Streamed puts between processes"):
-- what it allocates from then on comes from chunks on huge pages, the
-- blocks it had before stay with luaL_newstate's allocator, which frees
-- and resizes them; a state on any other allocator keeps it. Each case
-- runs in a child of every start method (the process's main state is the
-- one that moves).
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local core = require "braid.core"

local METHODS = helpers.start_methods()

-- The page-fault case needs transparent huge pages (madvise mode is
-- enough) and no sanitizer (ASan's shadow memory faults in as well).
local function thp_on()
  local f = io.open("/sys/kernel/mm/transparent_hugepage/enabled")
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s:find("%[always%]") or s:find("%[madvise%]")
end
local thp_it = (thp_on() and not (os.getenv("LD_PRELOAD") or ""):find("san"))
               and it or pending
local T = 60 -- every wait is bounded by this (seconds)

local function records(n)
  local t = {}
  for i = 1, n do t[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } } end
  return t
end

-- Runs target(q, c, ...) in a child of 'ctx', puts each of 'items' on
-- q (or calls items() when it is a function), and returns what the child
-- sent on c (one message) and its exit code.
local function in_child(ctx, target, items, ...)
  local q = ctx.Queue()
  local a, b = ctx.Pipe()
  local p = ctx.Process{ target = function(fn, q, c, ...)
    local ok, err = pcall(fn, q, c, ...)
    if not ok then c:send({ child_error = tostring(err) }) end
  end, args = { target, q, b, ... } }
  p:start()
  if type(items) == "function" then items() -- feeds the child itself
  else for _, v in ipairs(items) do q:put(v) end end
  assert(a:poll(T), "the child did not answer")
  local r = a:recv()
  p:join(T)
  assert.is_nil(type(r) == "table" and r.child_error or nil)
  assert.is_not_nil(p.exitcode, "the child did not end")
  return r, p.exitcode
end

describe("a state that reads a streamed table", function()
  for _, method in ipairs(METHODS) do
    describe("(" .. method .. ")", function()
      local ctx = mp.get_context(method)

      it("moves onto a pool; the value arrives whole", function()
        local r, code = in_child(ctx, function(q, c)
          local core = require "braid.core"
          local before = core._alloc_kind()
          local t = q:get(true, 60)
          c:send({ before, core._alloc_kind(), #t, t[#t].vals[3], t[#t].name })
        end, { records(20000) })
        assert.equal(0, code)
        -- a forked child may have been moved already with its parent
        assert.is_true(r[1] == "standard" or r[1] == "adopted", r[1])
        assert.same({ "adopted", 20000, 60000, "item20000" },
                    { r[2], r[3], r[4], r[5] })
      end)

      it("moves onto a pool when a Pipe's recv reads a stream", function()
        local x, y = ctx.Pipe()
        local r, code = in_child(ctx, function(q, c, y)
          local core = require "braid.core"
          local t = y:recv()
          c:send({ core._alloc_kind(), #t, t[#t].vals[3] })
        end, function() x:send(records(20000)) end, y)
        assert.equal(0, code)
        assert.same({ "adopted", 20000, 60000 }, r)
      end)

      it("frees and resizes what it made before through the old allocator", function()
        local r, code = in_child(ctx, function(q, c)
          local core = require "braid.core"
          -- made before the move: tables (array and hash parts), strings
          local pre, keep = {}, {}
          for i = 1, 2000 do pre[i] = i; pre["k" .. i] = ("v"):rep(i % 50) end
          for i = 1, 200 do keep[i] = { i, ("s"):rep(100 + i) } end
          local t = q:get(true, 60)
          assert(core._alloc_kind() == "adopted")
          -- grown after it: the old blocks are resized (moved) and freed
          for i = 2001, 200000 do pre[i] = i end       -- array past 1 MiB
          for i = 2001, 20000 do pre["k" .. i] = i end -- hash rehashed
          for i = 1, 200, 2 do keep[i] = nil end
          -- made after it: small blocks from the pool, one grown from
          -- the pool's sizes into a big block, a big string
          local post = {}
          for i = 1, 150000 do post[i] = i * 2 end
          local big = ("x"):rep(3 << 20)
          t = nil
          collectgarbage(); collectgarbage()
          local sum = 0
          for i = 1, 200000 do sum = sum + pre[i] end
          for i = 2, 200, 2 do sum = sum + #keep[i][2] end
          for i = 1, 150000 do sum = sum + post[i] end
          pre, keep, post = nil, nil, nil
          collectgarbage(); collectgarbage()
          c:send({ sum, #big })
        end, { records(20000) })
        assert.equal(0, code)
        local want = 0
        for i = 1, 200000 do want = want + i end
        for i = 2, 200, 2 do want = want + 100 + i end
        for i = 1, 150000 do want = want + 2 * i end
        assert.same({ want, 3 << 20 }, r)
      end)

      thp_it("builds a big table without faulting in each 4 KiB of it", function()
        -- 100,000 records are ~35 MB of Lua objects: ~8,500 pages of 4
        -- KiB, each faulted in (and cleared) by the kernel as malloc's
        -- heap grew; the pool's chunks are on huge pages. Asked for
        -- always: by default they are only while they are cheap, and
        -- small after a slow one (spec/c/test_thp.c).
        local r, code = in_child(ctx, function(q, c)
          require("braid.core")._huge_pages("always")
          local stat = require("helpers").minor_faults
          -- a forked child's first collection writes to every page it
          -- shares with its parent (copy on write): not the decode's
          collectgarbage(); collectgarbage()
          local f0 = stat()
          local t = q:get(true, 60)
          local f1 = stat()
          c:send({ f1 - f0, #t, t[#t].vals[3] })
        end, { records(100000) })
        assert.equal(0, code)
        assert.same({ 100000, 300000 }, { r[2], r[3] })
        assert.is_true(r[1] < 3000, ("%d page faults"):format(r[1]))
      end)

      it("keeps an allocator that is not luaL_newstate's", function()
        local r, code = in_child(ctx, function(q, c)
          local core = require "braid.core"
          if core._alloc_kind() == "standard" then
            core._test.fail_alloc(0) -- wraps the state's allocator (counts)
            core._test.fail_stop()
          end
          local before = core._alloc_kind()
          local t = q:get(true, 60)
          c:send({ before, core._alloc_kind(), #t })
        end, { records(20000) })
        assert.equal(0, code)
        if r[1] ~= "adopted" then -- (a fork of a moved parent stays moved)
          assert.same({ "other", "other", 20000 }, r)
        end
      end)
    end)
  end
end)

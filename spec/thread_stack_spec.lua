-- A worker's C stack: whatever threading.stack_size() says (32 KiB is
-- Python's minimum and accepted), deep recursion through C in a worker
-- raises Lua's "C stack overflow" error (LUAI_MAXCCALLS nested C calls)
-- and never crashes the process: the OS thread's stack has a floor that
-- holds that many levels of the deepest standard frames (src/core/thread.c,
-- STACK_FLOOR). Before the floor, each case below was a segfault.
local threading = require "braid.threading"
local helpers = require "spec.helpers"

-- ~250 nested Lua -> C -> Lua calls through three library functions with
-- different frame sizes (string.gsub keeps a luaL_Buffer on the C stack).
local function deep(kind, n)
  local function pcalls(k)
    if k == 0 then return 0 end
    local ok, e = pcall(pcalls, k - 1)
    if not ok then error(e, 0) end
    return e
  end
  local function sorts(k)
    if k == 0 then return 0 end
    local r
    table.sort({ 1, 2 }, function(a, b) r = r or sorts(k - 1); return a < b end)
    return r
  end
  local function gsubs(k)
    if k == 0 then return "y" end
    return (("x"):gsub("x", function() return gsubs(k - 1) end))
  end
  local f = kind == "pcall" and pcalls or kind == "sort" and sorts or gsubs
  local ok, e = pcall(f, n)
  return ok, tostring(e)
end

describe("a worker's C stack", function()
  local old
  before_each(function() old = threading.stack_size(32768) end)
  after_each(function() threading.stack_size(old) end)

  it("stack_size reads back what was set, 32768 included", function()
    assert.equal(32768, threading.stack_size())
  end)

  for _, kind in ipairs { "pcall", "sort", "gsub" } do
    it("with stack_size(32768), 250 nested " .. kind .. " levels raise, not crash", function()
      local ok, msg = helpers.call_in_thread(deep, kind, 250)
      assert.is_false(ok)
      assert.matches("stack overflow", msg)
    end)
  end

  it("with stack_size(32768), a shallow recursion still runs", function()
    local ok, v = helpers.call_in_thread(deep, "gsub", 50)
    assert.is_true(ok)
    assert.equal("y", v)
  end)
end)

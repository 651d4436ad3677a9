-- A worker state opens the standard libraries other than base (string
-- too), and braid's embedded modules, on first use (src/bind/llazy.c):
-- an idle thread's memory. Scripts see every library as before.
local threading = require "braid.threading"
local queue = require "braid.queue"
local helpers = require "helpers"
local run = helpers.call_in_thread

local LIBS = { "coroutine", "table", "io", "os", "math", "utf8", "debug",
               "string", "package" }

describe("a worker state's libraries", function()
  it("are all reachable as globals and through require", function()
    local ok = run(function(names)
      for _, name in ipairs(names) do
        local g = _ENV[name]
        assert(type(g) == "table", name .. " is missing")
        assert(require(name) == g, "require('" .. name .. "') differs")
        assert(package.loaded[name] == g, name .. " not in package.loaded")
        assert(rawget(_ENV, name) == g, name .. " not stored in _G")
      end
      return true
    end, LIBS)
    assert.is_true(ok)
  end)

  it("cost a small state: an empty thread's state is under 20 KB", function()
    -- before the libraries were opened lazily it was about 26 KB
    local kb = run(function() return collectgarbage("count") end)
    assert.is_true(kb < 20, ("worker state %.1f KB"):format(kb))
  end)

  it("are opened only when used: pairs(_G) lists those in use", function()
    local before, after = run(function()
      local function count()
        local n = 0
        for k in pairs(_G) do
          if k == "math" or k == "os" then n = n + 1 end
        end
        return n
      end
      local b = count()
      local _ = math.pi + #os.date("%Y")
      return b, count()
    end)
    assert.equal(0, before)
    assert.equal(2, after)
  end)

  it("keep the globals table's metatable invisible", function()
    local mt, dmt, strict_math, after_mt = run(function()
      local a, b = getmetatable(_G), debug.getmetatable(_G)
      -- a strict-mode metatable: every library must still be found
      setmetatable(_G, { __index = function(_, k)
        error("undefined global " .. tostring(k), 2)
      end })
      local m = math.floor(2.5)
      local ok = pcall(function() return undefined_name end) -- luacheck: ignore
      assert(not ok, "the strict metatable is not in force")
      local mine = getmetatable(_G)
      setmetatable(_G, nil)
      return a, b, m, type(mine)
    end)
    assert.is_nil(mt)
    assert.is_nil(dmt)
    assert.equal(2, strict_math)
    assert.equal("table", after_mt)
  end)

  it("through debug.setmetatable too", function()
    local v = run(function()
      debug.setmetatable(_G, { __newindex = function(t, k, v) rawset(t, k, v) end })
      return utf8.char(72) .. table.concat({ "i" })
    end)
    assert.equal("Hi", v)
  end)

  it("leave plain globals once every library is used", function()
    local mt, n = run(function(names)
      for _, name in ipairs(names) do local _ = _ENV[name] end
      local n = 0
      for _, name in ipairs(names) do
        if rawget(_G, name) then n = n + 1 end
      end
      return debug.getmetatable(_G), n
    end, LIBS)
    assert.is_nil(mt)
    assert.equal(#LIBS, n)
  end)

  it("give package the paths of the thread that started it", function()
    local old, oldc = package.path, package.cpath
    package.path = "./?.lua;" .. old
    package.cpath = "./?.so;" .. oldc
    local ok, p, c = pcall(run, function()
      return package.path, package.cpath
    end)
    package.path, package.cpath = old, oldc
    local p2 = run(function() return require and package.path end)
    assert.is_true(ok, p)
    assert.equal("./?.lua;" .. old, p)
    assert.equal("./?.so;" .. oldc, c)
    assert.equal(old, p2)
  end)

  it("cost a smaller state: this spec's thread is under 12.5 KB", function()
    -- with string opened at once and the paths held as Lua strings it
    -- was about 13.7 KB (issue 16: an idle thread's footprint)
    local kb = run(function() return collectgarbage("count") end)
    assert.is_true(kb < 12.5, ("worker state %.1f KB"):format(kb))
  end)

  it("give strings their metatable at once", function()
    local a, b = run(function() return "10" + 1, ("ab"):rep(2) end)
    assert.equal(11, a)
    assert.equal("abab", b)
  end)

  it("send and receive C functions of unopened libraries by name", function()
    local same, back = run(function(f)
      local q = require("braid.queue").SimpleQueue()
      q:put(table.concat)
      return f == math.floor, q:get()
    end, math.floor)
    assert.is_true(same)
    assert.equal(table.concat, back)
  end)

  it("find braid's embedded modules through package.preload", function()
    local kind, q = run(function()
      local loader = package.preload["braid.queue"]
      return type(loader), type(require("braid.queue").Queue)
    end)
    assert.equal("function", kind)
    assert.equal(type(queue.Queue), q)
    assert.is_nil(run(function() return package.preload["no.such.module"] end))
  end)
end)

-- string opens on first use; each case below is the first use in a fresh
-- state, through one entry point.
describe("a worker state's string library", function()
  it("is not opened until used", function()
    local raw, loaded = run(function()
      return rawget(_G, "string"), rawget(package.loaded, "string")
    end)
    assert.is_nil(raw)
    assert.is_nil(loaded)
  end)

  it("opens on a method call on a string", function()
    local r, raw, same = run(function()
      local r = ("x"):rep(3)
      return r, rawget(_G, "string") ~= nil, getmetatable("").__index == string
    end)
    assert.equal("xxx", r)
    assert.is_true(raw)
    assert.is_true(same)
  end)

  it("opens on a missing method: nil, as before", function()
    local ok, err, after = run(function()
      local ok, err = pcall(function() return ("x"):no_such_method() end)
      return ok, err, ("a,b"):find(",", 1, true)
    end)
    assert.is_false(ok)
    assert.matches("attempt to call a nil value", err)
    assert.equal(2, after)
  end)

  it("opens as a global", function()
    local r = run(function() return string.format("%d-%s", 7, "x") end)
    assert.equal("7-x", r)
  end)

  it("opens through require", function()
    local r, same = run(function()
      local s = require("string")
      return s.upper("ab"), s == string and s == package.loaded.string
    end)
    assert.equal("AB", r)
    assert.is_true(same)
  end)

  it("opens in a loaded chunk that uses it", function()
    local r = run(function() return load("return ('ab'):upper() .. #string.rep('z', 2)")() end)
    assert.equal("AB2", r)
  end)

  it("opens on arithmetic with numeric strings, every operator", function()
    local r = run(function()
      return { "10" + 1, "5" - 2, "3" * "4", "7" % 4, "2" ^ 3, "1" / 2,
               "7" // 2, -"2" }
    end)
    assert.same({ 11, 3, 12, 3, 8.0, 0.5, 3, -2 }, r)
  end)

  it("raises Lua's error on arithmetic with a non-numeric string", function()
    -- the same message as in a state where string is open, position and all
    local function add() return "x" + 1 end
    local function neg() return -"x" end
    local _, want = pcall(add)
    local _, wantneg = pcall(neg)
    local ok, err = run(function(f) return pcall(f) end, add)
    local ok2, err2 = run(function(f) return pcall(f) end, neg)
    assert.is_false(ok)
    assert.equal(want, err)
    assert.is_false(ok2)
    assert.equal(wantneg, err2)
  end)

  it("shows strings' real metatable to getmetatable and the debug library", function()
    local same, dsame, set = run(function()
      local a = getmetatable("").__index == string
      return a, debug.getmetatable("x").__index == string, rawget(_G, "string") ~= nil
    end)
    assert.is_true(same)
    assert.is_true(dsame)
    assert.is_true(set)
    -- debug.getmetatable as the very first use
    assert.is_true(run(function()
      return debug.getmetatable("").__index.len("abc") == 3
    end))
  end)

  it("opens when one of its functions arrives as an argument", function()
    local r, same = run(function(f)
      return f("ab", 2), f == string.rep
    end, string.rep)
    assert.equal("abab", r)
    assert.is_true(same)
  end)

  it("keeps a metatable set on strings with debug.setmetatable", function()
    local v = run(function()
      debug.setmetatable("", { __index = { hi = function() return "hi" end } })
      local r = ("x"):hi()
      return r .. tostring(string ~= nil)
    end)
    assert.equal("hitrue", v)
  end)
end)

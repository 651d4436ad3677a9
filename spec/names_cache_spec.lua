-- The name cache (src/bind/lnames.c: which C functions, modules and
-- classes travel by name) is rebuilt after a module is loaded, and the
-- rebuild allocates: the collector may run a finalizer in the middle of
-- it, and a finalizer may encode (a manager proxy's decref does), which
-- rebuilds the cache itself. Before the cache was built aside and
-- installed whole, the two builds mixed one's pointer map with the
-- other's table of names, and values went under another's name or an
-- empty one (a pool task's KeyError arrived as "module '' not found").
local core = require "braid.core"
local errors = require "braid.errors"

describe("the name cache", function()
  it("stays whole when a finalizer encodes while it is being rebuilt", function()
    local bad, nested = {}, 0
    local function garbage(k)
      for _ = 1, k do
        setmetatable({}, { __gc = function()
          nested = nested + 1
          -- an encode by name while the cache is stale: builds it
          local ok, v = pcall(core.copy, print)
          if not ok or v ~= print then bad[#bad + 1] = "finalizer: " .. tostring(v) end
        end })
      end
    end
    -- a collector that steps at every allocation, so that the rebuild's
    -- own allocations run the finalizers
    collectgarbage("incremental", 0, 1000) -- (a 0 leaves the pause as it is)
    local ok, err = pcall(function()
      for i = 1, 300 do
        garbage(20)
        package.loaded["braid_names_probe_" .. i] = { f = string.upper } -- stale now
        local a, b, c = core.copy(string.format, errors.KeyError, string.upper)
        if a ~= string.format or b ~= errors.KeyError or c ~= string.upper then
          bad[#bad + 1] = ("round %d: %s %s %s"):format(i, tostring(a), tostring(b), tostring(c))
        end
      end
    end)
    collectgarbage("incremental", 200, 100) -- Lua 5.4's defaults
    for i = 1, 300 do package.loaded["braid_names_probe_" .. i] = nil end
    assert(ok, err)
    assert.is_true(nested > 0) -- finalizers did run during the rounds
    assert.same({}, bad)
  end)
end)

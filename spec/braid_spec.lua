-- The umbrella module `require "braid"`: modules load on first read, and
-- a module that does not exist reads as nil (Lua's AttributeError).
local braid = require "braid"

describe("braid", function()
  it("loads each module on first read", function()
    assert.equal(require "braid.threading", braid.threading)
    assert.equal(require "braid.queue", braid.queue)
    assert.equal(require "braid.multiprocessing", braid.multiprocessing)
    assert.equal(require "braid.futures", braid.futures)
    assert.equal(require "braid.progress", braid.progress)
    assert.equal(require "braid.errors", braid.errors)
    assert.equal(braid.futures, braid.concurrent.futures)
    assert.equal(require "braid.subprocess", braid.subprocess)
  end)

  it("reads a module that does not exist as nil", function()
    local ok, v = pcall(function() return braid.nosuch end)
    assert.is_true(ok, tostring(v))
    assert.is_nil(v)
    assert.is_nil(braid.no_such_module)
  end)
end)

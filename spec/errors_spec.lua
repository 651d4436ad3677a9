-- braid.errors: Python's exception classes and hierarchy, error objects,
-- and the mapping of every core error code to a class.
local errors = require "braid.errors"
local core = require "braid.core"
local helpers = require "helpers"

describe("exception classes", function()
  it("keep Python's hierarchy", function()
    local e = errors.IndexError("x")
    assert.is_true(errors.IndexError:is(e))
    assert.is_true(errors.LookupError:is(e))
    assert.is_true(errors.Exception:is(e))
    assert.is_true(errors.BaseException:is(e))
    assert.is_false(errors.ValueError:is(e))
    assert.is_true(errors.Exception:is(errors.classes["queue.Empty"]("")))
    assert.is_true(errors.RuntimeError:is(errors.classes["threading.BrokenBarrierError"]("")))
    assert.is_true(errors.OSError:is(errors.TimeoutError("")))
    assert.equal(errors.TimeoutError, errors.classes["concurrent.futures.TimeoutError"])
    assert.is_true(errors.RuntimeError:is(
      errors.classes["concurrent.futures.thread.BrokenThreadPool"]("")))
    assert.is_false(errors.Exception:is(errors.SystemExit(1)))
  end)

  it("make error objects with type and message", function()
    local e = errors.ValueError("bad input")
    assert.equal(errors.ValueError, e.type)
    assert.equal("bad input", e.message)
    assert.equal("ValueError: bad input", tostring(e))
    local ok, err = pcall(error, e)
    assert.is_false(ok)
    assert.equal(e, err)
  end)

  it("keep extra arguments and SystemExit's code", function()
    local e = errors.KeyError("k", 1, 2)
    assert.same({ "k", 1, 2 }, e.args)
    local x = errors.SystemExit(3)
    assert.equal(3, x.code)
  end)

  it("is() is false for non-exceptions", function()
    assert.is_false(errors.Exception:is("a string"))
    assert.is_false(errors.Exception:is(nil))
    assert.is_false(errors.Exception:is({}))
  end)

  it("can be subclassed and looked up by name", function()
    local MyError = errors.ValueError:subclass("mymod.MyError")
    local e = MyError("oops")
    assert.is_true(errors.ValueError:is(e))
    assert.equal("mymod.MyError: oops", tostring(e))
    assert.equal(MyError, errors.lookup("mymod.MyError"))
    local unknown = errors.lookup("elsewhere.Unknown")
    assert.is_true(errors.Exception:is(unknown("u")))
  end)

  it("wrap plain Lua errors into LuaError keeping the value", function()
    local w = errors.wrap("text", "tb")
    assert.is_true(errors.LuaError:is(w))
    assert.equal("text", w.value)
    assert.equal("tb", w.traceback)
    local e = errors.ValueError("v")
    assert.equal(e, errors.wrap(e))
  end)

  it("show the traceback and cause in tostring", function()
    local e = errors.RuntimeError("outer")
    e.traceback = "stack traceback:\n\tsomewhere"
    e.cause = errors.ValueError("inner")
    local s = tostring(e)
    assert.truthy(s:find("^RuntimeError: outer\nstack traceback:"))
    assert.truthy(s:find("Caused by:\nValueError: inner", 1, true))
  end)
end)

describe("core error codes", function()
  it("each map to a known class", function()
    local n = 0
    for name, code in pairs(core.error_codes()) do
      assert.is_true(code < 0)
      local cls = core.code_class(name)
      assert.is_string(cls, name)
      assert.is_not_nil(errors.classes[cls], name .. " -> " .. tostring(cls))
      n = n + 1
    end
    assert.is_true(n >= 14)
  end)

  it("typed argument errors use Lua's wording", function()
    local err = helpers.raises(errors.TypeError, function() core.sleep("x") end)
    helpers.message_has(err, "bad argument #1 to 'sleep' (number expected, got string)")
    err = helpers.raises(errors.TypeError, core.sleep, "x")
    helpers.message_has(err, "bad argument #1 to 'braid.core.sleep' (number expected")
    err = helpers.raises(errors.ValueError, core.sleep, -1)
    helpers.message_has(err, "sleep length must be non-negative")
  end)
end)

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

  it("default to Exception as the parent of a new class", function()
    local Plain = errors.class("mymod.Plain")
    assert.equal(errors.Exception, Plain.super)
    assert.is_true(errors.Exception:is(Plain("p")))
    assert.is_true(errors.BaseException:is(Plain("p")))
    assert.is_function(Plain.is)
    local Sub = Plain:subclass("mymod.PlainSub")
    assert.is_true(Plain:is(Sub("s")))
    assert.is_true(errors.Exception:is(Sub("s")))
    assert.is_nil(errors.BaseException.super) -- still the only root
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

  it("name a method called as a plain value (pcall(obj.method, obj, ...))", function()
    local q = require("braid.queue").Queue()
    local lock = require("braid.threading").Lock()
    -- Arguments count self, as Lua's own messages do for such calls.
    local err = helpers.raises(errors.TypeError, q.put, q, 1, true, "x")
    helpers.message_has(err, "bad argument #4 to 'put' (number expected, got string)")
    err = helpers.raises(errors.TypeError, q.get, q, true, "x")
    helpers.message_has(err, "bad argument #3 to 'get' (number expected")
    err = helpers.raises(errors.TypeError, lock.acquire, lock, true, "x")
    helpers.message_has(err, "bad argument #3 to 'acquire' (number expected")
    -- A wrong self: the name comes from the class that registered it.
    err = helpers.raises(errors.TypeError, q.put, lock, 1)
    helpers.message_has(err, "bad argument #1 to 'put' (")
    err = helpers.raises(errors.TypeError, q.qsize, 5)
    helpers.message_has(err, "bad argument #1 to 'qsize' (")
    -- A missing item is a TypeError too (Python: missing argument 'item').
    err = helpers.raises(errors.TypeError, q.put, q)
    helpers.message_has(err, "bad argument #2 to 'put' (value expected)")
    err = helpers.raises(errors.TypeError, function() q:put() end)
    helpers.message_has(err, "bad argument #1 to 'put' (value expected)")
    -- Method calls keep Lua's method wording.
    err = helpers.raises(errors.TypeError, function() return q:get(true, "x") end)
    helpers.message_has(err, "bad argument #2 to 'get' (number expected")
  end)
end)

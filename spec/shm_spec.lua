-- Shared typed memory: multiprocessing.Value, multiprocessing.Array and
-- sharedctypes (docs/python.md: 1-based indices, slices with string.sub's rules,
-- values cross workers by reference).
local core = require "braid.core"
local errors = require "braid.errors"
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local threading = require "braid.threading"

local TypeError, ValueError = errors.TypeError, errors.ValueError
local IndexError, OverflowError = errors.IndexError, errors.OverflowError
local AttributeError = errors.AttributeError
local raises, message_has = helpers.raises, helpers.message_has

local function set(obj, k, v) obj[k] = v end
local function get(obj, k) return obj[k] end

-- Runs fn(...) in a new thread and waits for it.
local function in_thread(fn, ...)
  local t = threading.Thread { target = fn, args = table.pack(...) }
  t:start()
  t:join()
end

-- Limits of each typecode as Lua integers (64-bit unsigned: two's complement).
local INT_LIMITS = {
  b = { -128, 127 }, B = { 0, 255 },
  h = { -32768, 32767 }, H = { 0, 65535 },
  i = { -2147483648, 2147483647 }, I = { 0, 4294967295 },
  q = { math.mininteger, math.maxinteger }, Q = { 0, -1 },
}
if string.packsize("l") == 8 then
  INT_LIMITS.l = { math.mininteger, math.maxinteger }; INT_LIMITS.L = { 0, -1 }
else
  INT_LIMITS.l = { -2147483648, 2147483647 }; INT_LIMITS.L = { 0, 4294967295 }
end
local NARROW = { "b", "B", "h", "H", "i", "I" } -- types with room to overflow
local ALL = { "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "f", "d", "c" }

describe("multiprocessing.Value", function()
  -- First in the file: no thread of an earlier test can still be dropping
  -- its last reference (a worker releases its thread object just after
  -- join() returns), so the process-wide count is exact here.
  it("is freed when the last user lets go", function()
    collectgarbage(); collectgarbage()
    local before = core._test.live()
    do
      local v = mp.Value("i", 1)
      local raw = v:get_obj()
      local a = mp.Array("d", 100, { lock = v:get_lock() })
      assert.equal(before + 4, core._test.live()) -- v, lock, raw, a
      raw.value = 3
      a[1] = 1
    end
    collectgarbage(); collectgarbage()
    assert.equal(before, core._test.live())
  end)

  it("defaults to 0 (or a NUL byte for 'c')", function()
    for _, tc in ipairs(ALL) do
      local v = mp.Value(tc)
      if tc == "c" then
        assert.equal("\0", v.value)
      elseif tc == "f" or tc == "d" then
        assert.equal(0.0, v.value); assert.equal("float", math.type(v.value))
      else
        assert.equal(0, v.value); assert.equal("integer", math.type(v.value))
      end
    end
  end)

  it("round-trips the limits of every integer typecode", function()
    for tc, lim in pairs(INT_LIMITS) do
      local v = mp.Value(tc, lim[1])
      assert.equal(lim[1], v.value)
      v.value = lim[2]
      assert.equal(lim[2], v.value)
      assert.equal("integer", math.type(v.value))
      v.value = 7
      assert.equal(7, v.value)
    end
  end)

  it("raises OverflowError naming the value and typecode", function()
    for _, tc in ipairs(NARROW) do
      local lim = INT_LIMITS[tc]
      local v = mp.Value(tc, 1)
      local err = raises(OverflowError, set, v, "value", lim[1] - 1)
      message_has(err, tostring(lim[1] - 1)); message_has(err, "'" .. tc .. "'")
      err = raises(OverflowError, set, v, "value", lim[2] + 1)
      message_has(err, tostring(lim[2] + 1))
      assert.equal(1, v.value) -- unchanged
      raises(OverflowError, mp.Value, tc, lim[2] + 1)
    end
    raises(OverflowError, set, mp.Value("q"), "value", 2.0 ^ 63)
    raises(OverflowError, set, mp.Value("i"), "value", 1e30)
  end)

  it("maps 'Q' values above math.maxinteger to negative integers", function()
    local v = mp.Value("Q", 0xffffffffffffffff)
    assert.equal(-1, v.value)
    assert.equal("<braid.Value Q 18446744073709551615>", tostring(v))
    v.value = 2.0 ^ 63 -- integral float in [2^63, 2^64)
    assert.equal(math.mininteger, v.value)
    v.value = math.maxinteger
    assert.equal(math.maxinteger, v.value)
    raises(OverflowError, set, v, "value", 2.0 ^ 64)
    v.value = -1.0 -- integral floats are taken as integers: all ones
    assert.equal(-1, v.value)
  end)

  it("refuses non-integral floats and non-numbers for integer typecodes", function()
    local v = mp.Value("i", 5)
    local err = raises(TypeError, set, v, "value", 1.5)
    message_has(err, "int expected instead of float")
    raises(TypeError, set, v, "value", 0 / 0)
    raises(TypeError, set, v, "value", math.huge)
    message_has(raises(TypeError, set, v, "value", "3"), "string")
    raises(TypeError, set, v, "value", true)
    raises(TypeError, set, v, "value", nil)
    assert.equal(5, v.value)
    v.value = 3.0 -- an exact integer value is accepted, as Lua's library does
    assert.equal(3, v.value); assert.equal("integer", math.type(v.value))
    err = raises(TypeError, mp.Value, "i", 2.5)
    message_has(err, "bad argument #2 to 'Value'")
  end)

  it("stores floats with the precision of the C type", function()
    local f = mp.Value("f", 0.1)
    assert.equal("float", math.type(f.value))
    assert.are_not.equal(0.1, f.value)
    assert.equal(string.unpack("f", string.pack("f", 0.1)), f.value)
    local d = mp.Value("d", 0.1)
    assert.equal(0.1, d.value)
    d.value = 3 -- integers are accepted, read back as floats
    assert.equal(3.0, d.value); assert.equal("float", math.type(d.value))
    f.value = 16777217 -- 2^24 + 1 rounds in a float
    assert.equal(16777216.0, f.value)
    f.value = math.huge; assert.equal(math.huge, f.value)
    f.value = -math.huge; assert.equal(-math.huge, f.value)
    f.value = 0 / 0; assert.is_true(f.value ~= f.value)
    f.value = 3.4028234663852886e38 -- FLT_MAX
    assert.equal(3.4028234663852886e38, f.value)
    f.value = 3.4028235e38 -- rounds down to FLT_MAX, no overflow
    assert.equal(3.4028234663852886e38, f.value)
    raises(OverflowError, set, f, "value", 2.0 ^ 128 - 2.0 ^ 103) -- rounds up
    f.value = -(2.0 ^ 128 - 2.0 ^ 104 - 2.0 ^ 102)
    assert.equal(-3.4028234663852886e38, f.value)
    local err = raises(OverflowError, set, f, "value", 1e39)
    message_has(err, "'f'")
    d.value = 1e300; assert.equal(1e300, d.value)
    message_has(raises(TypeError, set, d, "value", "1"), "must be real number")
    raises(TypeError, set, f, "value", {})
  end)

  it("holds one byte for 'c'", function()
    local c = mp.Value("c", "A")
    assert.equal("A", c.value)
    c.value = "\255"; assert.equal("\255", c.value)
    c.value = "\0"; assert.equal("\0", c.value)
    message_has(raises(TypeError, set, c, "value", "AB"), "length 2")
    raises(TypeError, set, c, "value", "")
    raises(TypeError, set, c, "value", 65)
    raises(TypeError, mp.Value, "c", "xy")
    assert.equal("\0", c.value)
  end)

  it("raises TypeError for a bad typecode, naming the valid ones", function()
    local err = raises(TypeError, mp.Value, "u")
    message_has(err, "bad typecode")
    message_has(err, "b, B, h, H, i, I, l, L, q, Q, f, d or c")
    raises(TypeError, mp.Value, "ii")
    raises(TypeError, mp.Value, "")
    raises(TypeError, mp.Value, 105)
    raises(TypeError, mp.Value, nil)
  end)

  it("has only the field 'value'", function()
    local v = mp.Value("i", 1)
    assert.is_nil(v.other)
    local err = raises(AttributeError, set, v, "valeu", 2)
    message_has(err, "valeu")
    raises(AttributeError, set, v, 1, 2)
  end)

  it("prints like Python", function()
    assert.equal("<braid.Value i 42>", tostring(mp.Value("i", 42)))
    assert.equal("<braid.Value d 1.5>", tostring(mp.Value("d", 1.5)))
    assert.equal('<braid.Value c "A">', tostring(mp.Value("c", "A")))
    assert.equal("<braid.Value i 1 (no lock)>",
                 tostring(mp.Value("i", 1, { lock = false })))
  end)

  it("accepts Python's named parameters in a table", function()
    local v = mp.Value { typecode_or_type = "h", value = -3, lock = false }
    assert.equal(-3, v.value)
    raises(AttributeError, v.get_lock, v)
    v = mp.Value("i", { lock = false }) -- a table is never a value
    assert.equal(0, v.value)
    raises(AttributeError, v.get_lock, v)
    message_has(raises(TypeError, mp.Value, "i", 1, 5), "options table")
  end)

  describe("locking", function()
    it("carries a new RLock by default", function()
      local v = mp.Value("i", 1)
      local lock = v:get_lock()
      assert.equal("braid.mp.RLock", getmetatable(lock).__name)
      assert.equal(lock, v:get_lock())
      assert.are_not.equal(lock, mp.Value("i"):get_lock())
      assert.is_true(v:acquire())
      assert.is_true(v:acquire()) -- recursive
      v:release(); v:release()
      raises(errors.AssertionError, v.release, v) -- multiprocessing.RLock, as Python
    end)

    it("forwards acquire/release arguments and results to the lock", function()
      local lock = mp.Lock()
      local v = mp.Value("i", 0, { lock = lock })
      assert.equal(lock, v:get_lock())
      assert.is_true(v:acquire())
      assert.is_true(lock:locked())
      assert.is_false(v:acquire(false))
      assert.is_false(v:acquire(true, 0.01))
      v:release()
      assert.is_false(lock:locked())
    end)

    it("is a to-be-closed guard and offers with()", function()
      local lock = mp.Lock()
      local v = mp.Value("i", 0, { lock = lock })
      do
        local g <close> = v:guard()
        assert.equal(v, g)
        assert.is_true(lock:locked())
        v.value = v.value + 1 -- plain access does not take the lock
      end
      assert.is_false(lock:locked())
      local a, b = v:with(function(x, y)
        assert.is_true(lock:locked())
        return x + 1, y
      end, 1, "y")
      assert.equal(2, a); assert.equal("y", b)
      assert.is_false(lock:locked())
      local ok, err = pcall(v.with, v, function() error(ValueError("inner")) end)
      assert.is_false(ok); assert.is_true(ValueError:is(err))
      assert.is_false(lock:locked())
      v:get_lock():with(function() v.value = 10 end)
      assert.equal(10, v.value)
    end)

    it("shares one lock between objects", function()
      local lock = mp.RLock()
      local v = mp.Value("i", 0, { lock = lock })
      local a = mp.Array("i", 3, { lock = lock })
      assert.equal(v:get_lock(), a:get_lock())
    end)

    it("has no lock methods with lock=false", function()
      local v = mp.Value("i", 1, { lock = false })
      local err = raises(AttributeError, v.get_lock, v)
      message_has(err, "get_lock"); message_has(err, "lock=false")
      message_has(raises(AttributeError, v.get_obj, v), "get_obj")
      message_has(raises(AttributeError, v.acquire, v), "acquire")
      raises(AttributeError, v.release, v)
      raises(AttributeError, v.guard, v)
      raises(AttributeError, v.with, v, function() end)
      do local _closing <close> = v end -- nothing to release: no error
      v.value = 2
      assert.equal(2, v.value)
    end)

    it("refuses other lock values with a TypeError naming the argument", function()
      local err = raises(TypeError, mp.Value, "i", 0, { lock = 3 })
      message_has(err, "bad argument #3 to 'Value'"); message_has(err, "lock")
      raises(TypeError, mp.Value, "i", 0, { lock = "yes" })
      raises(TypeError, mp.Value, "i", 0, { lock = {} })
      raises(TypeError, mp.Value, "i", 0, { lock = io.stdout })
      raises(TypeError, mp.Value, "i", 0, { lock = mp.Event() })
    end)

    it("get_obj returns the raw object over the same memory", function()
      local v = mp.Value("i", 1)
      local raw = v:get_obj()
      assert.equal(raw, v:get_obj())
      assert.equal("braid.Value", getmetatable(raw).__name)
      assert.equal(1, raw.value)
      raw.value = 5
      assert.equal(5, v.value)
      v.value = 6
      assert.equal(6, raw.value)
      raises(AttributeError, raw.get_lock, raw)
      raises(AttributeError, raw.get_obj, raw)
      assert.equal("<braid.Value i 6 (no lock)>", tostring(raw))
    end)
  end)

  it("is the same memory in another thread (argument or upvalue)", function()
    local v = mp.Value("q", 1)
    in_thread(function(x) x.value = x.value + 41 end, v)
    assert.equal(42, v.value)
    in_thread(function() v.value = v.value * 2 end)
    assert.equal(84, v.value)
    local id
    in_thread(function(x, out)
      out.value = x:get_lock() == x:get_lock() and 1 or 0
    end, v, v)
    assert.equal(1, v.value)
    id = core._test.id(v:get_lock())
    local got = mp.Array("c", 64)
    in_thread(function(x, out) out.value = require("braid.core")._test.id(x:get_lock()) end,
              v, got)
    assert.equal(id, got.value) -- the lock travelled with the object
  end)

  it("counts 4 threads x 10000 locked increments exactly", function()
    local v = mp.Value("i", 0)
    local ts = {}
    for k = 1, 4 do
      ts[k] = threading.Thread { target = function(n)
        local lock = v:get_lock()
        for _ = 1, n do
          if n % 2 == 0 then
            lock:with(function() v.value = v.value + 1 end)
          else
            local g <close> = v:guard()
            v.value = v.value + 1
          end
        end
      end, args = { k % 2 == 0 and 10000 or 9999 } }
      ts[k]:start()
    end
    for k = 1, 4 do ts[k]:join() end
    assert.equal(2 * 10000 + 2 * 9999, v.value)
  end)

  it("is freed when the last user lets go, also after visiting a thread", function()
    local v = mp.Value("i", 1)
    local lock, raw = v:get_lock(), v:get_obj() -- luacheck: ignore 311 (held, then dropped)
    assert.equal(2, core._test.refs(v)) -- its proxy and the raw object's base
    assert.equal(2, core._test.refs(lock)) -- v and the lock's proxy
    in_thread(function(x) x.value = 2 end, v)
    assert.equal(2, core._test.refs(v)) -- the worker's reference is gone
    raw = nil -- still cached by v's proxy, as get_obj returns the same object
    collectgarbage(); collectgarbage()
    assert.equal(2, core._test.refs(v))
    v = nil
    collectgarbage(); collectgarbage()
    assert.equal(1, core._test.refs(lock)) -- v was destroyed: it let go
    assert.is_nil(raw); assert.is_nil(v)
  end)
end)

describe("multiprocessing.Array", function()
  it("zero-fills a given size", function()
    for _, tc in ipairs(ALL) do
      local a = mp.Array(tc, 5)
      assert.equal(5, #a)
      for i = 1, 5 do
        assert.equal(tc == "c" and "\0" or 0, a[i])
      end
    end
    assert.equal(0, #mp.Array("i", 0))
    assert.same({}, mp.Array("d", 0):tolist())
  end)

  it("initializes from a sequence (and 'c' from a string)", function()
    local a = mp.Array("i", { 3, 1, 2 })
    assert.equal(3, #a)
    assert.same({ 3, 1, 2 }, a:tolist())
    local c = mp.Array("c", "hi\0x")
    assert.equal(4, #c)
    assert.same({ "h", "i", "\0", "x" }, c:tolist())
    assert.same({ "a", "b" }, mp.Array("c", { "a", "b" }):tolist())
    local d = mp.Array("d", { 1, 2.5 })
    assert.equal("float", math.type(d[1]))
  end)

  it("round-trips the limits of every typecode in elements", function()
    for tc, lim in pairs(INT_LIMITS) do
      local a = mp.Array(tc, { lim[1], lim[2], 0 })
      assert.same({ lim[1], lim[2], 0 }, a:tolist())
    end
    for _, tc in ipairs(NARROW) do
      local lim = INT_LIMITS[tc]
      local a = mp.Array(tc, 2)
      raises(OverflowError, set, a, 1, lim[2] + 1)
      raises(OverflowError, set, a, 2, lim[1] - 1)
      assert.same({ 0, 0 }, a:tolist())
    end
    local f = mp.Array("f", { 0.1, 1e38 })
    assert.equal(string.unpack("f", string.pack("f", 0.1)), f[1])
    raises(OverflowError, set, f, 2, -1e39)
  end)

  it("refuses bad sizes and initializers", function()
    message_has(raises(ValueError, mp.Array, "i", -1), "must be >= 0")
    raises(TypeError, mp.Array, "i", 1.5)
    raises(TypeError, mp.Array, "i", true)
    raises(TypeError, mp.Array, "i")
    message_has(raises(TypeError, mp.Array, "i", "abc"), "'c'")
    local err = raises(TypeError, mp.Array, "i", { 1, 2.5, 3 })
    message_has(err, "item 2"); message_has(err, "bad argument #2 to 'Array'")
    err = raises(OverflowError, mp.Array, "b", { 1, 200 })
    message_has(err, "item 2"); message_has(err, "200")
    raises(TypeError, mp.Array, "c", { "a", "bc" })
    raises(TypeError, mp.Array, "x", 3)
    message_has(raises(TypeError, mp.Array, "i", 3, 5), "options table")
  end)

  it("indexes from 1 and raises IndexError out of range", function()
    local a = mp.Array("h", { 10, 20, 30 })
    assert.equal(10, a[1]); assert.equal(30, a[3])
    assert.equal(20, a[2.0])
    a[2] = -5; assert.equal(-5, a[2])
    for _, i in ipairs { 0, 4, -1, 5, math.maxinteger, math.mininteger } do
      message_has(raises(IndexError, get, a, i), "invalid index")
      raises(IndexError, set, a, i, 1)
    end
    message_has(raises(TypeError, get, a, 1.5), "integers")
    raises(TypeError, get, a, true)
    raises(TypeError, get, a, {})
    raises(TypeError, set, a, 1.5, 1)
    raises(TypeError, set, a, false, 1)
    raises(TypeError, set, a, 1, "x")
    raises(TypeError, set, a, 1, 2.5)
    raises(AttributeError, set, a, "value", 1)
    assert.is_nil(a.value); assert.is_nil(a.raw)
    assert.same({ 10, -5, 30 }, a:tolist())
  end)

  it("slices with string.sub's index rules", function()
    local s = "abcde"
    local c = mp.Array("c", s)
    local n = mp.Array("i", { 1, 2, 3, 4, 5 })
    for i = -8, 8 do
      for j = -8, 8 do
        local want = s:sub(i, j)
        assert.equal(want, table.concat(c:slice(i, j)))
        local nums = {}
        for k = 1, #want do nums[k] = want:byte(k) - 96 end
        assert.same(nums, n:slice(i, j))
      end
    end
    assert.same({ 1, 2, 3, 4, 5 }, n:slice())
    assert.same({ 4, 5 }, n:slice(-2))
    assert.same({ 2, 3, 4, 5 }, n:slice(2))
    assert.same({}, mp.Array("i", 0):slice(1, -1))
    raises(TypeError, n.slice, n, 1.5)
    raises(TypeError, n.slice, n, "a")
  end)

  it("assigns slices of the same size", function()
    local a = mp.Array("i", 5)
    a:set_slice(2, 3, { 7, 8 })
    assert.same({ 0, 7, 8, 0, 0 }, a:tolist())
    a:set_slice(-2, -1, { 9, 10 })
    assert.same({ 0, 7, 8, 9, 10 }, a:tolist())
    a:set_slice(4, 2, {}) -- empty slice
    a:set_slice(-100, 100, { 1, 2, 3, 4, 5 })
    assert.same({ 1, 2, 3, 4, 5 }, a:tolist())
    local err = raises(ValueError, a.set_slice, a, 1, 2, { 1, 2, 3 })
    message_has(err, "Can only assign sequence of same size")
    raises(ValueError, a.set_slice, a, 1, 2, {})
    err = raises(TypeError, a.set_slice, a, 1, 3, { 1, "x", 3 })
    message_has(err, "item 2")
    raises(OverflowError, a.set_slice, a, 1, 2, { 1, 2 ^ 40 })
    assert.same({ 1, 2, 3, 4, 5 }, a:tolist()) -- nothing written
    raises(TypeError, a.set_slice, a, 1, 2, "ab")
    raises(TypeError, a.set_slice, a, 1, 2)
    raises(TypeError, a.set_slice, a, nil, 2, { 1, 2 })
    local c = mp.Array("c", "hello")
    c:set_slice(1, 2, "HE")
    c:set_slice(-1, -1, { "O" })
    assert.equal("HEllO", c.raw)
    raises(ValueError, c.set_slice, c, 1, 2, "xyz")
  end)

  it("iterates with ipairs and pairs in order", function()
    local a = mp.Array("d", { 1.5, 2.5, 3.5 })
    local seen = {}
    for i, x in ipairs(a) do seen[#seen + 1] = { i, x } end
    assert.same({ { 1, 1.5 }, { 2, 2.5 }, { 3, 3.5 } }, seen)
    seen = {}
    for i, x in pairs(a) do seen[#seen + 1] = { i, x } end
    assert.same({ { 1, 1.5 }, { 2, 2.5 }, { 3, 3.5 } }, seen)
    for _ in ipairs(mp.Array("i", 0)) do error("empty array iterated") end
    for _ in pairs(mp.Array("i", 0)) do error("empty array iterated") end
    -- only ipairs gets the nil that ends it; a direct read still raises
    raises(IndexError, get, a, 4)
  end)

  it("has value and raw for 'c' arrays", function()
    local c = mp.Array("c", 6)
    assert.equal("", c.value)
    assert.equal(("\0"):rep(6), c.raw)
    c.value = "abc"
    assert.equal("abc", c.value)
    c.raw = "xyzxyz"
    assert.equal("xyzxyz", c.value)
    c.value = "hi" -- writes a terminating NUL, keeps the rest
    assert.equal("hi", c.value)
    assert.equal("hi\0xyz", c.raw)
    c.value = "123456" -- exactly full: no room for a NUL
    assert.equal("123456", c.value)
    c.raw = "AB" -- raw writes just the bytes given
    assert.equal("AB3456", c.raw)
    message_has(raises(ValueError, set, c, "value", "1234567"), "byte string too long")
    message_has(raises(ValueError, set, c, "raw", "1234567"), "byte string too long")
    raises(TypeError, set, c, "value", 5)
    raises(AttributeError, set, c, "other", "x")
    assert.equal("AB3456", c.raw)
    c[3] = "\0"
    assert.equal("AB", c.value)
  end)

  it("prints a short form", function()
    assert.equal("<braid.Array i [1, 2, 3]>", tostring(mp.Array("i", { 1, 2, 3 })))
    assert.equal("<braid.Array d [1.0, 2.0]>", tostring(mp.Array("d", { 1, 2 })))
    assert.equal('<braid.Array c "a\\x00\\"">', tostring(mp.Array("c", 'a\0"')))
    local s = tostring(mp.Array("i", 1000, { lock = false }))
    assert.equal("<braid.Array i [0, 0, 0, 0, 0, 0, 0, 0, ...] (1000 items) (no lock)>", s)
  end)

  it("has the lock methods of a synchronized object", function()
    local a = mp.Array("i", 3)
    assert.equal("braid.mp.RLock", getmetatable(a:get_lock()).__name)
    a:with(function() a[1] = 1 end)
    do local g <close> = a:guard(); a[2] = 2 end
    local raw = a:get_obj()
    assert.equal("braid.Array", getmetatable(raw).__name)
    raw[3] = 3
    assert.same({ 1, 2, 3 }, a:tolist())
    raises(AttributeError, raw.get_lock, raw)
    local b = mp.Array("i", 3, { lock = false })
    message_has(raises(AttributeError, b.get_lock, b), "braid.Array")
    local lock = mp.Lock()
    assert.equal(lock, mp.Array("i", 1, { lock = lock }):get_lock())
    message_has(raises(TypeError, mp.Array, "i", 1, { lock = 1 }),
                "bad argument #3 to 'Array'")
    local n = mp.Array { typecode_or_type = "b", size_or_initializer = { 1, 2 }, lock = false }
    assert.same({ 1, 2 }, n:tolist())
  end)

  it("is the same memory in other threads", function()
    local a = mp.Array("q", 400)
    local ts = {}
    for k = 1, 4 do -- disjoint ranges: no lock needed
      ts[k] = threading.Thread { target = function(arr, first)
        for i = first, first + 99 do arr[i] = i * i end
      end, args = { a, (k - 1) * 100 + 1 } }
      ts[k]:start()
    end
    for k = 1, 4 do ts[k]:join() end
    for i = 1, 400 do assert.equal(i * i, a[i]) end
    local c = mp.Array("c", 16)
    in_thread(function() c.value = "from thread" end)
    assert.equal("from thread", c.value)
  end)

  it("is freed when the last user lets go, also after visiting a thread", function()
    local lock = mp.RLock()
    local a = mp.Array("d", 1000, { lock = lock })
    in_thread(function(x) x[1000] = 1 end, a)
    assert.equal(1, a[1000])
    assert.equal(1, core._test.refs(a))
    assert.equal(2, core._test.refs(lock))
    a = nil
    collectgarbage(); collectgarbage()
    assert.equal(1, core._test.refs(lock)) -- a was destroyed
    assert.is_nil(a)
  end)
end)

describe("multiprocessing.sharedctypes", function()
  local sc = mp.sharedctypes

  it("makes raw objects", function()
    local v = sc.RawValue("d", 2.5)
    assert.equal(2.5, v.value)
    raises(AttributeError, v.get_lock, v)
    local a = mp.RawArray("B", { 1, 255 })
    assert.same({ 1, 255 }, a:tolist())
    raises(AttributeError, a.acquire, a)
  end)

  it("synchronizes a raw object over the same memory", function()
    local raw = sc.RawArray("i", 2)
    local s = sc.synchronized(raw)
    assert.equal("braid.mp.RLock", getmetatable(s:get_lock()).__name)
    s[1] = 5
    assert.equal(5, raw[1])
    local lock = mp.Lock()
    local s2 = sc.synchronized(raw, lock)
    assert.equal(lock, s2:get_lock())
    raises(TypeError, sc.synchronized, raw, 3)
    raises(TypeError, sc.synchronized, {})
  end)

  it("copies into a new raw object", function()
    local v = mp.Value("h", 7)
    local c = sc.copy(v)
    assert.equal(7, c.value)
    c.value = 8
    assert.equal(7, v.value)
    raises(AttributeError, c.get_lock, c)
    local a = mp.Array("c", "xyz")
    local ac = sc.copy(a)
    assert.equal("xyz", ac.raw)
    ac[1] = "X"
    assert.equal("xyz", a.raw)
  end)
end)

describe("multiprocessing.cpu_count", function()
  it("is a positive integer", function()
    local n = mp.cpu_count()
    assert.equal("integer", math.type(n))
    assert.is_true(n >= 1)
  end)
end)

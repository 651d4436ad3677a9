--- Shared typed memory: Python's `multiprocessing.sharedctypes`.
--
-- `Value(typecode, [init], {lock=...})` holds one C value,
-- `Array(typecode, size_or_initializer, {lock=...})` a fixed number of them,
-- in memory mapped from a `memfd` file (`MAP_SHARED`), so threads share them
-- by reference and processes will map the same bytes. Typecodes:
-- `b B h H i I l L q Q f d c` (signed char, unsigned char, short, unsigned
-- short, int, unsigned int, long, unsigned long, long long, unsigned long
-- long, float, double, char).
--
--     local v = Value("i", 0)            -- synchronized: carries a new RLock
--     v:get_lock():with(function() v.value = v.value + 1 end)
--     do local g <close> = v:guard(); v.value = v.value + 1 end
--     local a = Array("d", {1, 2, 3})    -- a[1] .. a[#a], a:slice(-2)
--
-- The `lock` option: `true` (default) gives the object a new recursive lock,
-- `false` none (a raw object: `get_lock`, `get_obj`, `acquire`, `release`,
-- `guard` and `with` then raise `AttributeError`; closing it as a
-- to-be-closed variable does nothing), a braid lock object
-- (`Lock`, `RLock`...) is used as the lock. Any other value is a
-- `TypeError` naming the argument (Python fails later, with an
-- `AttributeError` about `acquire`).
--
-- Where braid deliberately differs from Python's ctypes:
--
-- * A value out of an integer type's range is an `OverflowError` naming the
--   value and typecode; ctypes silently wraps it (`c_byte(300)` is 44).
--   Likewise a finite number beyond float's range stored into `'f'`.
-- * Lua has no unsigned 64-bit integers: `'Q'` (and `'L'` where long has 64
--   bits) elements at or above 2^63 read back as negative integers, their
--   two's complement, exactly as Lua's hex literals (`0xffffffffffffffff ==
--   -1`); writing takes every Lua integer the same way, so all 2^64 values
--   round-trip. `math.ult` and `("%u")` helpers compare and print them.
-- * Floats with an exact integer value (`3.0`) are accepted by integer
--   types, as Lua's own library does; other floats are a `TypeError`
--   ("int expected instead of float"), as in Python.
-- * `'c'` elements are 1-byte strings; `'c'` arrays have `value` (the bytes
--   before the first NUL; assigning writes the bytes and a NUL when there
--   is room) and `raw` (all bytes), like ctypes' `c_char` arrays.
-- * Python's synchronized wrappers take the lock around every single read
--   or write; braid does not: each single element access is one atomic
--   machine load or store, so it never tears, but read-modify-write needs
--   the lock (take it with `get_lock():with`, `guard()` or `acquire()`).
--   This also means a non-recursive `Lock` given as `lock` does not
--   deadlock when `v.value` is used while holding it.
-- * `get_obj()` returns the raw object: the same memory, without the lock
--   methods (the same object each call while the wrapper lives).
-- * Reading `a[i]` out of range raises `IndexError`, except that `ipairs`
--   reading `a[#a + 1]` gets the `nil` that ends its loop.
-- @module braid.multiprocessing.sharedctypes
local core = require "braid.core"
local errors = require "braid.errors"
local type, select, error = type, select, error
_ENV = nil

local M = {}

local TypeError = errors.TypeError

-- A new recursive lock, the default lock of a synchronized object.
local function newlock(level)
  -- a multiprocessing RLock (shared memory): works in child processes too
  local RLock = core.mp_RLock or core.RLock
  if RLock == nil then
    error(errors.NotImplementedError(
      "lock=true needs braid.core.RLock, which this build lacks; "
      .. "pass lock=false or a lock object"), level + 1)
  end
  return RLock()
end

-- The lock argument of the core constructors for option 'lock'.
local function resolve(lock, level)
  if lock == nil or lock == true then return newlock(level + 1) end
  if lock == false then return nil end
  return lock -- anything else is checked (TypeError) by the core
end

local function checkopts(opts, arg, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(TypeError(("bad argument #%d to '%s' (options table expected, got %s)")
      :format(arg, fname, type(opts))), 3)
  end
end

--- A shared value, synchronized by a lock unless `lock=false`.
-- `Value(typecode, [init], [options])` or
-- `Value{typecode_or_type=, value=, lock=}`; `Value("i", {lock=false})` also
-- works (a table is never a value).
-- @string typecode one of `b B h H i I l L q Q f d c`
-- @param[opt] init initial value (default 0, or `"\0"` for `'c'`)
-- @tparam[opt] table options `lock`: `true` (default), `false` or a lock
-- @return a `braid.Value`; its field `value` reads and writes it
function M.Value(typecode, ...)
  local init, opts = ...
  if type(typecode) == "table" and select("#", ...) == 0 then
    local t = typecode
    typecode, init, opts = t.typecode_or_type, t.value, t
    if typecode == nil then typecode = t.typecode end
  elseif select("#", ...) == 1 and type(init) == "table" then
    init, opts = nil, init
  end
  checkopts(opts, 3, "Value")
  local v = core.Value(typecode, init, resolve(opts and opts.lock, 2))
  return v
end

--- A shared array, synchronized by a lock unless `lock=false`.
-- `Array(typecode, size_or_initializer, [options])` or
-- `Array{typecode_or_type=, size_or_initializer=, lock=}`.
-- @string typecode one of `b B h H i I l L q Q f d c`
-- @param size_or_initializer a size (zero-filled), a sequence table, or for
-- `'c'` a string
-- @tparam[opt] table options `lock`: `true` (default), `false` or a lock
-- @return a `braid.Array`: `a[i]` (1-based), `#a`, `a:slice(i, j)`,
-- `a:set_slice(i, j, t)`, `a:tolist()`, `ipairs`/`pairs`
function M.Array(typecode, ...)
  local init, opts = ...
  if type(typecode) == "table" and select("#", ...) == 0 then
    local t = typecode
    typecode, init, opts = t.typecode_or_type, t.size_or_initializer, t
    if typecode == nil then typecode = t.typecode end
  end
  checkopts(opts, 3, "Array")
  local a = core.Array(typecode, init, resolve(opts and opts.lock, 2))
  return a
end

--- A raw shared value (no lock): `Value(typecode, init, {lock=false})`.
function M.RawValue(typecode, init)
  local v = core.Value(typecode, init)
  return v
end

--- A raw shared array (no lock): `Array(typecode, n, {lock=false})`.
function M.RawArray(typecode, size_or_initializer)
  local a = core.Array(typecode, size_or_initializer)
  return a
end

--- A synchronized object over the memory of `obj` with `lock` (default: a
-- new RLock). The two objects share their elements.
-- @param obj a Value or Array (raw or not)
-- @param[opt] lock a lock object
function M.synchronized(obj, lock)
  if lock == nil then lock = newlock(1) end
  local s = core.shm_view(obj, lock)
  return s
end

--- A new raw object holding a copy of the elements of `obj`.
function M.copy(obj)
  local typecode, _, isarray = core.shm_info(obj)
  if isarray then return M.RawArray(typecode, obj:tolist()) end
  return M.RawValue(typecode, obj.value)
end

return M

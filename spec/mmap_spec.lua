-- braid.mmap: Python's mmap.mmap (anonymous and file maps), its errors,
-- and the same mapping reached from threads and from processes of every
-- start method.
local helpers = require "helpers"
local mmap = require "braid.mmap"
local errors = require "braid.errors"
local threading = require "braid.threading"
local mp = require "braid.multiprocessing"

local METHODS = helpers.start_methods()

local function tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

describe("mmap.mmap, anonymous", function()
  it("reads and writes like a file with a position", function()
    local m <close> = mmap.mmap(-1, 16)
    assert.equal(16, #m)
    assert.equal(0, m:tell())
    assert.equal(11, m:write("hello\nworld"))
    assert.equal(11, m:tell())
    assert.equal(0, m:seek(0))
    assert.equal("hello\n", m:readline())
    assert.equal("wor", m:read(3))
    assert.equal(string.byte("l"), m:read_byte())
    assert.equal("d" .. ("\0"):rep(5), m:read())
    assert.equal("", m:read())
    assert.equal("", m:readline())
    assert.equal(16, m:tell())
    assert.equal(10, m:seek(-6, 2))
    assert.equal(12, m:seek(2, 1))
    m:seek(0)
    assert.equal("hello\nworld", m:read(11))
    assert.equal("", m:read(0))
    m:seek(14)
    assert.equal("\0\0", m:read(-1))
    assert.is_true(m:seekable())
  end)

  it("slices with 0-based offsets like Python's m[i:j]", function()
    local m <close> = mmap.mmap(-1, 10)
    m:write("0123456789")
    assert.equal("0123456789", m:sub())
    assert.equal("01234", m:sub(0, 5))
    assert.equal("56789", m:sub(5))
    assert.equal("789", m:sub(-3))
    assert.equal("2345678", m:sub(2, -1))
    assert.equal("", m:sub(7, 3))
    assert.equal("0123456789", m:sub(-100, 100))
    m:set(2, "ab")
    assert.equal("01ab456789", m:sub())
    m:set(8, "XY")
    assert.equal("01ab4567XY", m:sub())
    local e = helpers.raises(errors.IndexError, m.set, m, 9, "XY")
    helpers.message_has(e, "mmap slice assignment is wrong size")
    helpers.raises(errors.IndexError, m.set, m, -1, "X")
  end)

  it("finds from the position, and in [start, end)", function()
    local m <close> = mmap.mmap(-1, 12)
    m:write("abcabcabc")
    m:seek(0)
    assert.equal(0, m:find("abc"))
    assert.equal(3, m:find("abc", 1))
    assert.equal(-1, m:find("abc", 1, 5))
    assert.equal(3, m:find("abc", 1, 6))
    assert.equal(6, m:find("abc", -6))
    assert.equal(-1, m:find("abd"))
    assert.equal(6, m:rfind("abc"))
    assert.equal(3, m:rfind("abc", 0, 8))
    assert.equal(-1, m:rfind("abc", 7))
    assert.equal(4, m:find("", 4))
    m:seek(4) -- find's default start is the position, as Python's
    assert.equal(6, m:find("abc"))
    assert.equal(6, m:rfind("a"))
  end)

  it("moves overlapping ranges and checks them", function()
    local m <close> = mmap.mmap(-1, 8)
    m:write("abcdefgh")
    m:move(2, 0, 4)
    assert.equal("ababcdgh", m:sub())
    m:move(0, 3, 5)
    assert.equal("bcdghdgh", m:sub())
    local e = helpers.raises(errors.ValueError, m.move, m, 5, 0, 4)
    helpers.message_has(e, "source, destination, or count out of range")
    helpers.raises(errors.ValueError, m.move, m, 0, -1, 1)
  end)

  it("raises Python's errors at the ends", function()
    local m <close> = mmap.mmap(-1, 4)
    m:seek(4)
    helpers.message_has(helpers.raises(errors.ValueError, m.read_byte, m), "read byte out of range")
    helpers.message_has(helpers.raises(errors.ValueError, m.write_byte, m, 1), "write byte out of range")
    helpers.message_has(helpers.raises(errors.ValueError, m.write, m, "x"), "data out of range")
    helpers.message_has(helpers.raises(errors.ValueError, m.seek, m, 5), "seek out of range")
    helpers.raises(errors.ValueError, m.seek, m, -1)
    helpers.raises(errors.ValueError, m.seek, m, 0, 3)
    helpers.raises(errors.OverflowError, m.write_byte, m, 256)
    helpers.raises(errors.TypeError, m.write, m, {})
    m:seek(0)
    m:write_byte(255)
    assert.equal(1, m:tell())
    m:seek(0)
    assert.equal(255, m:read_byte())
  end)

  it("resizes, and reports its size", function()
    local m <close> = mmap.mmap(-1, 4096)
    m:write("keep")
    m:resize(3 * 4096)
    assert.equal(3 * 4096, #m)
    assert.equal(3 * 4096, m:size())
    assert.equal("keep", m:sub(0, 4))
    m:set(3 * 4096 - 1, "z")
    m:resize(8192)
    assert.equal(8192, #m)
    assert.equal("keep", m:sub(0, 4))
  end)

  it("flushes and advises in range", function()
    local m <close> = mmap.mmap(-1, 8192)
    m:flush()
    m:flush(0, 4096)
    helpers.message_has(helpers.raises(errors.ValueError, m.flush, m, 0, 9000), "flush values out of range")
    m:madvise(mmap.MADV_NORMAL)
    m:madvise(mmap.MADV_WILLNEED, 4096, 100000)
    helpers.message_has(helpers.raises(errors.ValueError, m.madvise, m, mmap.MADV_NORMAL, 8192),
                        "madvise start out of bounds")
    helpers.message_has(helpers.raises(errors.ValueError, m.madvise, m, mmap.MADV_NORMAL, 0, -1),
                        "madvise length invalid")
    helpers.raises(errors.OSError, m.madvise, m, mmap.MADV_NORMAL, 1) -- not page-aligned
  end)

  it("closes: closed is true and every operation raises ValueError", function()
    local m = mmap.mmap(-1, 8)
    assert.is_false(m.closed)
    m:close()
    assert.is_true(m.closed)
    m:close() -- idempotent
    for _, call in ipairs({
      function() return m:read() end, function() return m:write("x") end,
      function() return #m end, function() return m:sub() end,
      function() return m:find("x") end, function() return m:size() end,
      function() return m:seek(0) end, function() return m:resize(16) end,
    }) do
      helpers.message_has(helpers.raises(errors.ValueError, call), "mmap closed or invalid")
    end
    do
      local c <close> = mmap.mmap(-1, 8)
      m = c
    end
    assert.is_true(m.closed) -- a <close> variable closes it
  end)

  it("checks its arguments as Python does", function()
    helpers.raises(errors.OverflowError, mmap.mmap, -1, -1)
    helpers.raises(errors.OverflowError, mmap.mmap, -1, 10, { offset = -1 })
    local e = helpers.raises(errors.ValueError, mmap.mmap, -1, 10,
                             { access = mmap.ACCESS_READ, prot = mmap.PROT_READ })
    helpers.message_has(e, "mmap can't specify both access and flags, prot.")
    helpers.message_has(helpers.raises(errors.ValueError, mmap.mmap, -1, 10, { access = 7 }),
                        "mmap invalid access parameter.")
    helpers.raises(errors.TypeError, mmap.mmap, "x", 10)
    helpers.raises(errors.OSError, mmap.mmap, -1, 0)
    helpers.raises(errors.OSError, mmap.mmap, 12345, 10) -- EBADF
  end)
end)

describe("mmap.mmap, file maps", function()
  it("writes through to the file with ACCESS_WRITE and the default", function()
    local path = tmpfile(("."):rep(10))
    local f = assert(io.open(path, "r+b"))
    local m = mmap.mmap(f, 0)
    assert.equal(10, #m)
    m:write("hi")
    m:set(8, "!!")
    m:flush()
    m:close()
    f:close()
    assert.equal("hi......!!", slurp(path))
    f = assert(io.open(path, "r+b"))
    m = mmap.mmap(f, 4, { access = mmap.ACCESS_WRITE })
    m:write("HI")
    m:close()
    f:close()
    assert.equal("HI......!!", slurp(path))
    os.remove(path)
  end)

  it("refuses writes to ACCESS_READ with TypeError; ACCESS_COPY keeps the file", function()
    local path = tmpfile("abcdef")
    local f = assert(io.open(path, "rb"))
    local m <close> = mmap.mmap(f, 0, { access = mmap.ACCESS_READ })
    assert.equal("abcdef", m:sub())
    local e = helpers.raises(errors.TypeError, m.write, m, "x")
    helpers.message_has(e, "mmap can't modify a readonly memory map.")
    helpers.raises(errors.TypeError, m.write_byte, m, 1)
    helpers.raises(errors.TypeError, m.set, m, 0, "x")
    helpers.raises(errors.TypeError, m.move, m, 0, 1, 1)
    helpers.message_has(helpers.raises(errors.TypeError, m.resize, m, 3),
                        "mmap can't resize a readonly or copy-on-write memory map.")
    local rp = mmap.mmap(f, 0, { prot = mmap.PROT_READ })
    helpers.raises(errors.TypeError, rp.write, rp, "x")
    rp:close()
    local c = mmap.mmap(f, 0, { access = mmap.ACCESS_COPY })
    c:write("XYZ")
    assert.equal("XYZdef", c:sub())
    c:flush()
    helpers.raises(errors.TypeError, c.resize, c, 3)
    c:close()
    f:close()
    assert.equal("abcdef", slurp(path))
    os.remove(path)
  end)

  it("maps from an offset, raises Python's ValueErrors on sizes", function()
    local page = mmap.ALLOCATIONGRANULARITY
    assert.equal(mmap.PAGESIZE, page)
    local path = tmpfile(("a"):rep(page) .. ("b"):rep(10))
    local f = assert(io.open(path, "r+b"))
    local m <close> = mmap.mmap(f, 0, { offset = page })
    assert.equal(("b"):rep(10), m:sub())
    assert.equal(page + 10, m:size()) -- size() is the file's
    helpers.raises(errors.OSError, mmap.mmap, f, 5, { offset = 1 }) -- unaligned
    helpers.message_has(helpers.raises(errors.ValueError, mmap.mmap, f, page + 11),
                        "mmap length is greater than file size")
    helpers.message_has(helpers.raises(errors.ValueError, mmap.mmap, f, 0, { offset = 2 * page }),
                        "mmap offset is greater than file size")
    f:close()
    local empty = tmpfile("")
    local g = assert(io.open(empty, "rb"))
    helpers.message_has(helpers.raises(errors.ValueError, mmap.mmap, g, 0),
                        "cannot mmap an empty file")
    g:close()
    os.remove(empty)
    os.remove(path)
  end)

  it("resize grows and shrinks the file; the map outlives the file handle", function()
    local path = tmpfile("12345")
    local f = assert(io.open(path, "r+b"))
    local m <close> = mmap.mmap(f, 0)
    f:close()
    m:resize(8)
    assert.equal(8, #m)
    assert.equal(8, m:size())
    m:set(5, "678")
    m:flush()
    assert.equal("12345678", slurp(path))
    m:resize(2)
    assert.equal("12", slurp(path))
    os.remove(path)
  end)
end)

describe("mmap across workers", function()
  it("is the same object in a thread: same bytes, same position", function()
    local m <close> = mmap.mmap(-1, 64)
    m:write("main:")
    local ok, pos, seen = helpers.run_in_thread(function(mm)
      local seen = mm:sub(0, 5)
      mm:write("thread")
      return mm:tell(), seen
    end, m)
    assert.is_true(ok, tostring(pos))
    assert.equal("main:", seen)
    assert.equal(11, pos)
    assert.equal(11, m:tell())
    assert.equal("main:thread", m:sub(0, 11))
  end)

  it("keeps threads' concurrent writes and a concurrent resize consistent", function()
    local m <close> = mmap.mmap(-1, 4096)
    local start = threading.Barrier(5)
    local ts = {}
    for i = 1, 4 do
      ts[i] = threading.Thread{target = function(mm, b, k)
        b:wait(60)
        for j = 0, 99 do mm:set((k - 1) * 100 + j, string.char(64 + k)) end
        for _ = 1, 50 do assert(#mm:sub(0, 400) == 400) end
      end, args = { m, start, i }}
      ts[i]:start()
    end
    start:wait(60)
    for n = 1, 20 do m:resize(4096 * (1 + n % 3)) end
    for i = 1, 4 do ts[i]:join(60); assert.is_false(ts[i]:is_alive()) end
    for k = 1, 4 do
      assert.equal(string.char(64 + k):rep(100), m:sub((k - 1) * 100, k * 100))
    end
  end)

  for _, method in ipairs(METHODS) do
    it("is the same mapping in a " .. method .. " process (anonymous and file)", function()
      local ctx = mp.get_context(method)
      local anon <close> = mmap.mmap(-1, 4096)
      anon:write("from parent")
      local path = tmpfile(("-"):rep(32))
      local f = assert(io.open(path, "r+b"))
      local fm <close> = mmap.mmap(f, 0)
      f:close()
      local p = ctx.Process{target = function(a, b)
        assert(a:sub(0, 11) == "from parent")
        a:set(0, "FROM CHILD!")
        b:set(0, "child wrote")
        b:flush()
        assert(b:size() == 32)
      end, args = { anon, fm }}
      p:start()
      p:join(60)
      assert.equal(0, p.exitcode)
      assert.equal("FROM CHILD!", anon:sub(0, 11))
      assert.equal("child wrote", fm:sub(0, 11))
      assert.equal("child wrote" .. ("-"):rep(21), slurp(path))
      os.remove(path)
    end)
  end

  it("goes through a pipe by reference, but never privately to a spawned process", function()
    local m <close> = mmap.mmap(-1, 16)
    local r, w = mp.Pipe()
    -- a shared mapping travels like the other multiprocessing objects
    -- (its memfd, by the descriptor sharer: spec/travel_spec.lua)
    m:write("through a pipe")
    w:send(m)
    local got <close> = r:recv()
    assert.equal("through a pipe", got:read(14))
    r:close(); w:close()
    local priv <close> = mmap.mmap(-1, 16, { flags = mmap.MAP_PRIVATE })
    local p = mp.get_context("spawn").Process{target = function() end, args = { priv }}
    helpers.raises(errors.TypeError, p.start, p)
  end)
end)

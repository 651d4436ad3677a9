-- A Connection reads a big message body (4 KiB and more) straight into
-- the block Lua keeps the string in (lconn.c, braidB_pushfilled in
-- lsegment.c): the kernel's copy is the only one. core._seg_count's
-- third value counts such strings, its fourth the ones Lua did not take
-- (copied once more: never, with this Lua). Every channel kind, with and
-- without read-ahead, in the main state and in a worker's (its own
-- allocator), and a body cut short (EOFError, nothing leaked: the ASan
-- pass).
local helpers = require "helpers"
local errors = require "braid.errors"
local mp = require "braid.multiprocessing"
local connection = require "braid.multiprocessing.connection"
local threading = require "braid.threading"
local core = require "braid.core"

local T = 60
local SIZES = { 0, 1, 4095, 4096, 4097, 65536, 200000, 3 }

local function counts()
  local _, _, inplace, copied = core._seg_count()
  return inplace, copied
end

-- how many of SIZES are read in place
local function big_ones()
  local n = 0
  for _, s in ipairs(SIZES) do if s >= 4096 then n = n + 1 end end
  return n
end

local function body(i, n)
  -- not one repeated byte: a misplaced or shifted copy shows
  local unit = ("%c%07d"):format(64 + i, n)
  return (unit:rep(n // #unit + 1)):sub(1, n)
end

-- Sends SIZES' bodies on 'w' from a thread; checks them on 'r'.
local function check_pair(r, w)
  local t = threading.Thread{ target = function(c, sizes, body)
    for i, n in ipairs(sizes) do c:send_bytes(body(i, n)) end
  end, args = { w, SIZES, body } }
  local in0, cp0 = counts()
  t:start()
  for i, n in ipairs(SIZES) do
    local s = r:recv_bytes()
    assert.equal(n, #s)
    assert.is_true(s == body(i, n), "body " .. i .. " differs")
  end
  t:join(T)
  local in1, cp1 = counts()
  assert.equal(in0 + big_ones(), in1)
  assert.equal(cp0, cp1)
end

describe("a Connection reads a big body in place", function()
  for _, ra in ipairs{ false, true } do
    local how = ra and " (read-ahead)" or ""
    it("on a Pipe" .. how, function()
      local r, w = mp.Pipe()
      r.readahead = ra
      check_pair(r, w)
      r:close()
      w:close()
    end)

    for _, fam in ipairs{ "AF_INET", "AF_UNIX" } do
      it("on a Listener/Client connection, " .. fam .. how, function()
        local addr = fam == "AF_INET" and { "127.0.0.1", 0 } or nil
        local l <close> = connection.Listener(addr, fam, 1, "key")
        local q = require("braid.queue").Queue()
        local t = threading.Thread{ target = function(a, q)
          local c = require("braid.multiprocessing.connection").Client(a, nil, "key")
          q:put(c)
        end, args = { l.address, q } }
        t:start()
        local r <close> = l:accept()
        local w = q:get(true, T)
        t:join(T)
        r.readahead = ra
        check_pair(r, w)
        w:close()
      end)
    end
  end

  it("in a worker's state (its own allocator)", function()
    local r, w = mp.Pipe()
    local in0, cp0 = counts()
    w:send_bytes("abc" .. ("-"):rep(65536 - 6) .. "xyz") -- the socket holds it
    local n, head, tail = helpers.call_in_thread(function(c)
      local s = c:recv_bytes()
      return #s, s:sub(1, 3), s:sub(-3)
    end, r)
    assert.same({ 65536, "abc", "xyz" }, { n, head, tail })
    local in1, cp1 = counts()
    assert.equal(in0 + 1, in1)
    assert.equal(cp0, cp1)
  end)

  it("does not read in place past maxlength: OSError, as before", function()
    local r, w = mp.Pipe()
    w:send_bytes(("x"):rep(10000))
    local err = helpers.raises(errors.OSError, r.recv_bytes, r, 9999)
    helpers.message_has(err, "bad message length")
  end)
end)

-- make_corpus.lua: writes the fuzzer's seed corpus (fuzz/corpus/*), valid
-- messages made with core.dumps from varied values.
-- Run from the repository root after a build:
--   LUA_CPATH_5_4='./build/?.so' lua5.4 scripts/make_corpus.lua [outdir]
local core = require "braid.core"

local outdir = arg[1] or "fuzz/corpus"

local seeds, raw_seeds = {}, nil
local function seed(name, ...)
  seeds[#seeds + 1] = { name = name, n = select("#", ...), ... }
end

-- scalars
seed("nil", nil)
seed("booleans", true, false)
seed("ints", 0, 1, -1, 127, 128, -129, math.maxinteger, math.mininteger)
seed("floats", 0.5, -0.0, 1 / 0, -1 / 0, 0 / 0, 1e308, 5e-324)
seed("string_empty", "")
seed("string_binary", "\0\1\2\255\254zero\0inside")
seed("string_long", ("0123456789abcdef"):rep(40))
seed("multi", 1, "two", 3.0, { 4 }, nil, false, "seven", 8)

-- tables
seed("array", { 1, 2, 3, "four", 5.5, true })
seed("hash", { a = 1, b = "two", [3.5] = "float key", [true] = "bool key",
               [-7] = "negative key" })
seed("mixed", { 10, 20, 30, x = 1, y = { z = 2 }, [100] = "sparse" })
seed("holes", { 1, nil, 3, nil, 5 })
-- arrays the decoder fills raw (ldecraw.c): runs of numbers, booleans
-- and nils, broken by a 10-byte varint, a string, a table; a shared vector
do
  local vec = { 0.5, -0.0, 1 / 0, 0 / 0, 7, -8, true, false, nil, 3 }
  seed("raw_runs", { 1, 2, math.mininteger, 4.5, true, nil, "s", 6, { 7, 8 }, 9 },
       { vec, vec, { vec } }, { id = 1, name = "item1", vals = { 1, 2, 3 } })
end
seed("nested", { { { { { { { { "deep" } } } } } } } })
local records = {}
for i = 1, 12 do records[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } } end
seed("records", records)
-- repeated strings: back-references (T_REF to a T_STRS) in keys, values,
-- nested tables and upvalues; long and short strings mixed
local rk = "repeated_key"
local strs = {}
for i = 1, 8 do
  strs[i] = { [rk] = rk, v = "value", long = ("long text "):rep(20), ["k" .. i % 2] = "ab",
              sub = { repeated_key = "value", v = i } }
end
seed("strings_repeated", strs, "value", rk)
seed("strings_upvalues", (function()
  local key, t = "upvalue_key", { upvalue_key = "upvalue_key" }
  return function() return t[key], key end
end)(), { upvalue_key = 1 })

local cyc = { name = "cycle" }
cyc.self = cyc
cyc.list = { cyc, cyc }
seed("cyclic", cyc)
local shared = { "shared" }
seed("shared", { a = shared, b = shared, c = { shared } }, shared)
local ka = {}
seed("table_key", { [ka] = ka, [{}] = "fresh key" })

local mt = { __index = function(t, k) return k end, kind = "mt" }
seed("metatable", setmetatable({ 1, 2 }, mt), setmetatable({}, mt))
local base = { greet = "hi" }
local cls = setmetatable({ __index = base }, { __index = base })
seed("metatable_chain", setmetatable({}, cls))

-- functions
seed("closure_plain", function(a, b) return a + b end)
local up = 0
local function inc() up = up + 1; return up end
local function get() return up end
seed("closures_shared_upvalue", { inc = inc, get = get })
local function make_counter()
  local n, step = 0, 1
  return function() n = n + step; return n end, function(s) step = s end
end
seed("closures_pair", make_counter())
local function rec(n) if n > 0 then return rec(n - 1) end return n end
seed("closure_recursive", rec)
seed("closure_env", function() return string.upper(tostring(math.pi)) end)
seed("closure_table_upvalue", (function() local t = { 1, 2, 3 }; t.t = t
  return function() return t end end)())

-- values by name: C functions, modules, globals
seed("cfunction", string.format, table.concat, math.floor)
seed("modules", string, table, math, utf8, coroutine)
seed("globals", _G)
seed("mixed_byname", { fmt = string.format, m = math, f = function(x)
  return string.format("%d", x) end })
seed("errors_class", require("braid.errors").classes.ValueError("boom"))

-- deep values (the codec walks them with explicit stacks): each under
-- libFuzzer's 8 KiB input limit
local nest = { "innermost" }
for _ = 1, 1000 do nest = { nest } end
seed("deep_nest", nest)
local list
for i = 400, 1, -1 do list = { v = i, next = list } end
local node = list
while node.next do node = node.next end
node.next = list -- a cycle through 400 levels
seed("deep_list_cycle", list)
local chain = { level = 0 }
for i = 1, 300 do chain = setmetatable({ level = i }, chain) end
seed("deep_metatables", chain)
local closure = function() return 0 end
for _ = 1, 60 do
  local inner = closure
  closure = function() return inner() + 1 end
end
seed("deep_upvalues", closure)
local mixed = { leaf = true }
for i = 1, 200 do
  if i % 3 == 0 then mixed = { [mixed] = i }
  elseif i % 3 == 1 then mixed = { i, mixed, "s" .. i % 7 }
  else mixed = setmetatable({ x = mixed }, { kind = "m" .. i % 5 }) end
end
seed("deep_mixed_keys_meta", mixed)

-- T_REDUCE (a constructor called on decode), written by hand: the body of
-- a one-value message is dumps(v) without its 2 header bytes (version,
-- count), valid as long as it holds no REF (offsets would move).
local T_STR, T_BYNAME, T_REDUCE = 5, 9, 13
local VERSION = core.dumps(nil):sub(1, 1)
local function body(v)
  local s = core.dumps(v)
  assert(s:byte(2) == 1)
  return s:sub(3)
end
local function str(s) assert(#s < 128); return string.char(T_STR, #s) .. s end
local function byname(mod, field) return string.char(T_BYNAME) .. str(mod) .. str(field) end
local function reduce(ctor, ...)
  local args = table.pack(...)
  return string.char(T_REDUCE, 0, args.n) .. ctor .. table.concat(args)
end
raw_seeds = {
  reduce_cfunction = VERSION .. "\1" .. reduce(byname("_G", "setmetatable"),
                                        body({ x = 1, y = 2 }), body({ kind = "Point" })),
  reduce_closure = VERSION .. "\1" .. reduce(body(function(a, b) return { a, b } end),
                                      body(3), body("four")),
  reduce_nested = VERSION .. "\1" .. reduce(byname("_G", "rawlen"),
                                     reduce(byname("table", "pack"), body(1), body(2))),
  -- constructors whose arguments are constructed, 150 deep
  deep_reduce = (function()
    local r = body("innermost")
    for _ = 1, 150 do r = reduce(byname("table", "pack"), r, body(1)) end
    return VERSION .. "\1" .. r
  end)(),
}

os.execute("mkdir -p '" .. outdir .. "'")
local count = 0
for _, s in ipairs(seeds) do
  local ok, bytes = pcall(core.dumps, table.unpack(s, 1, s.n))
  if not ok then
    io.stderr:write("skipping ", s.name, ": ", tostring(bytes), "\n")
  else
    -- every seed must decode here, or the corpus starts wrong
    assert(pcall(core.loads, bytes), s.name .. " does not decode")
    local f = assert(io.open(outdir .. "/" .. s.name, "wb"))
    f:write(bytes)
    f:close()
    count = count + 1
  end
end
for name, bytes in pairs(raw_seeds) do
  assert(pcall(core.loads, bytes), name .. " does not decode")
  local f = assert(io.open(outdir .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
  count = count + 1
end
print(("wrote %d seeds to %s"):format(count, outdir))

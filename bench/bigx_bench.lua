-- Big values between processes (issue 16, items 5 and 4) for bench/run.lua:
-- a 64 MiB string from the parent to a child through an mp.Queue, a Pipe
-- (send, and send_bytes/recv_bytes) and back as a process pool's result,
-- and a 100k-record table through an mp.Queue, back as a process pool's
-- result, to it as a call's argument and as the 4 items of a map. Each function times one
-- transfer "put/send until the child has it" (the child acknowledges on a
-- small channel; the child is started and warmed first) and returns
-- (bytes or records, seconds); run.lua keeps the best of 3. Python's
-- figures for the same workloads: bench/py_bigx.py.
local mp = require "braid.multiprocessing"
local core = require "braid.core"
local M = {}

local N = 64 * 1024 * 1024
local BIG -- made once: building it is not what is measured
local function big()
  if not BIG then BIG = ("0123456789abcdef"):rep(N // 16) end
  return BIG
end

-- Drops the string made by big(): bench/run.lua calls it when the bigx
-- workload ends, so the workloads after it do not run with 64 MiB more
-- live in the heap than their Python baselines (a collector paces its
-- cycles by the live heap: with 64 MiB live, the garbage of the next
-- workloads piles up to 64 MiB before it is freed, in memory that is
-- never in cache, and glibc gives it back and faults it in again).
function M.release() BIG = nil end

-- One transfer to a child started first: put(v) sends v on the channel,
-- the child (target(ch, c): gets until false, acks #s on c) answers on the
-- parent's end 'a' of a Pipe.
local function one_way(ch, put, target)
  local s = big()
  local a, b = mp.Pipe()
  local p = mp.Process{target = target, args = { ch, b }}
  p:start()
  put("warm"); a:recv()
  local t0 = core.monotonic()
  put(s)
  local n = a:recv()
  local dt = core.monotonic() - t0
  assert(n == N, "bad transfer")
  put(false)
  p:join()
  return N, dt
end

function M.big_string_mpqueue()
  local q = mp.Queue()
  return one_way(q, function(v) q:put(v) end, function(q, c)
    while true do
      local s = q:get()
      if not s then break end
      c:send(#s)
    end
  end)
end

function M.big_string_pipe()
  local x, y = mp.Pipe()
  return one_way(y, function(v) x:send(v) end, function(y, c)
    while true do
      local s = y:recv()
      if not s then break end
      c:send(#s)
    end
  end)
end

function M.big_string_pipe_bytes()
  local x, y = mp.Pipe()
  return one_way(y, function(v) x:send_bytes(v or "") end, function(y, c)
    while true do
      local s = y:recv_bytes()
      if s == "" then break end
      c:send(#s)
    end
  end)
end

function M.big_string_pool_result()
  local pool = mp.Pool(1, function(n)
    _G.BIG = ("0123456789abcdef"):rep(n // 16)
  end, { N })
  assert(pool:apply(function() return #_G.BIG end) == N)
  local t0 = core.monotonic()
  local s = pool:apply(function() return _G.BIG end)
  local dt = core.monotonic() - t0
  assert(#s == N)
  pool:close(); pool:join()
  return N, dt
end

-- 100k records {id, name, vals} through an mp.Queue to a child that
-- checks the last one and acks (records/s).
local RECORDS = 100000
function M.big_table_mpqueue()
  local T = {}
  for i = 1, RECORDS do
    T[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } }
  end
  local q = mp.Queue()
  local a, b = mp.Pipe()
  local p = mp.Process{target = function(q, c)
    while true do
      local t = q:get()
      if not t then break end
      c:send(#t == 0 and 0 or t[#t].vals[3])
    end
  end, args = { q, b }}
  p:start()
  q:put({}); a:recv()
  local t0 = core.monotonic()
  q:put(T)
  local last = a:recv()
  local dt = core.monotonic() - t0
  assert(last == 3 * RECORDS)
  q:put(false); p:join()
  return RECORDS, dt
end

-- The same 100k records as a Pool(1) worker's result (built in the
-- worker first, as big_string_pool_result builds its string): apply until
-- the parent has the table (records/s).
function M.big_table_pool_result()
  local pool = mp.Pool(1, function(n)
    local T = {}
    for i = 1, n do
      T[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } }
    end
    _G.BIGT = T
  end, { RECORDS })
  assert(pool:apply(function() return #_G.BIGT end) == RECORDS)
  local t0 = core.monotonic()
  local T = pool:apply(function() return _G.BIGT end)
  local dt = core.monotonic() - t0
  assert(T[RECORDS].vals[3] == 3 * RECORDS)
  pool:close(); pool:join()
  return RECORDS, dt
end

-- The same 100k records the other way, as the argument of a Pool(1)
-- worker's call (built in the parent first; streamed to the child as it
-- is encoded): apply(f, {T}) until the parent has f's answer (#T),
-- records/s.
function M.big_table_pool_arg()
  local pool = mp.Pool(1)
  local T = {}
  for i = 1, RECORDS do
    T[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } }
  end
  local f = function(t) return #t end
  assert(pool:apply(f, { { 1 } }) == 1) -- started, f cached
  local t0 = core.monotonic()
  local n = pool:apply(f, { T })
  local dt = core.monotonic() - t0
  assert(n == RECORDS)
  pool:close(); pool:join()
  return RECORDS, dt
end

-- The same 100k records as 4 tables of 25k, the items of a Pool(2) map
-- (built in the parent first; each chunk streamed to a child as it is
-- encoded): map(f, {T1, T2, T3, T4}) until the parent has the results
-- (#T of each), records/s.
function M.big_table_pool_map()
  local pool = mp.Pool(2)
  local items = {}
  for k = 1, 4 do
    local T = {}
    for i = 1, RECORDS // 4 do
      local id = (k - 1) * (RECORDS // 4) + i
      T[i] = { id = id, name = "item" .. id, vals = { id, 2 * id, 3 * id } }
    end
    items[k] = T
  end
  local f = function(t) return #t end
  -- both children started, f cached in each
  assert(#pool:map(f, { { 1 }, { 1 }, { 1 }, { 1 } }, 1) == 4)
  local t0 = core.monotonic()
  local r = pool:map(f, items, 1)
  local dt = core.monotonic() - t0
  assert(r[4] == RECORDS // 4)
  pool:close(); pool:join()
  return RECORDS, dt
end

-- The same table through lua-cjson, encode + decode in one process (the
-- floor a JSON hand-over would have), records/s.
function M.big_table_cjson()
  local cjson = require "cjson"
  local T = {}
  for i = 1, RECORDS do
    T[i] = { id = i, name = "item" .. i, vals = { i, 2 * i, 3 * i } }
  end
  local t0 = core.monotonic()
  local T2 = cjson.decode(cjson.encode(T))
  local dt = core.monotonic() - t0
  assert(T2[RECORDS].vals[3] == 3 * RECORDS)
  return RECORDS, dt
end

if arg and arg[0] and arg[0]:match("bigx_bench%.lua$") then
  for _, k in ipairs{ "big_string_mpqueue", "big_string_pipe",
                      "big_string_pipe_bytes", "big_string_pool_result",
                      "big_table_mpqueue", "big_table_pool_result",
                      "big_table_pool_arg", "big_table_pool_map",
                      "big_table_cjson" } do
    local best = 0
    for _ = 1, 3 do
      collectgarbage()
      local n, dt = M[k]()
      if n / dt > best then best = n / dt end
    end
    if k:match("^big_string") then
      print(("%-24s %8.3f GB/s"):format(k, best / 1e9))
    else
      print(("%-24s %8.0f records/s"):format(k, best))
    end
  end
end
return M

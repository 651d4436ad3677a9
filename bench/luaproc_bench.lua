-- luaproc's figures for bench/run.lua, when a luaproc module is on the
-- Lua 5.4 C path (LUA_CPATH_5_4; luaproc is in neither Debian nor, from
-- this machine, luarocks: build it from its sources for Lua 5.4 to get
-- these rows). Run as a process of its own (luaproc's worker threads
-- live until it exits); prints 'start_us <µs>' and 'pingpong_us <µs>',
-- or nothing when luaproc cannot be loaded.
--
-- start_us: luaproc.newproc of a process that only sends "done", 1,000
-- of them in waves of 50 (newproc 50, receive 50 "done"), as the braid
-- row starts and joins 1,000 threads in waves of 50: luaproc's start is
-- a new Lua state (base library and luaproc only) run by one of its
-- worker threads. pingpong_us: two luaproc processes bounce a message
-- through two channels 100,000 times (µs per round trip), on 2 worker
-- threads (issue 16's W3 peer figure; bench/spin_bench.lua runs it pinned
-- to one CPU and to two). Arguments: repetitions (best kept, default 3),
-- then "start" or "pingpong" for that figure alone.
local ok, luaproc = pcall(require, "luaproc")
if not ok or type(luaproc) ~= "table" then return end
local core = require "braid.core"
local REPS = tonumber(arg and arg[1]) or 3
local ONLY = arg and arg[2] -- "start" or "pingpong": that figure alone

luaproc.setnumworkers(2)
luaproc.newchannel("done")
local TOTAL, WINDOW = 1000, 50
local EMPTY = [[ luaproc.send("done", 1) ]]

local function waves(total)
  for _ = 1, total // WINDOW do
    for _ = 1, WINDOW do assert(luaproc.newproc(EMPTY)) end
    for _ = 1, WINDOW do luaproc.receive("done") end
  end
end

waves(WINDOW) -- warm-up: the worker threads are made
local best = math.huge
if ONLY ~= "pingpong" then
  for _ = 1, REPS do
    local t0 = core.monotonic()
    waves(TOTAL)
    best = math.min(best, (core.monotonic() - t0) / TOTAL * 1e6)
  end
  print(("start_us %.2f"):format(best))
end
if ONLY == "start" then return end

local N = 100000
luaproc.newchannel("ping")
luaproc.newchannel("pong")
local PONG = ([[ for _ = 1, %d do luaproc.send("pong", luaproc.receive("ping")) end ]]):format(N)
local PING = ([[ for i = 1, %d do luaproc.send("ping", i); luaproc.receive("pong") end
  luaproc.send("done", 1) ]]):format(N)
best = math.huge
for _ = 1, REPS do
  local t0 = core.monotonic()
  assert(luaproc.newproc(PONG))
  assert(luaproc.newproc(PING))
  luaproc.receive("done")
  best = math.min(best, (core.monotonic() - t0) / N * 1e6)
end
print(("pingpong_us %.3f"):format(best))

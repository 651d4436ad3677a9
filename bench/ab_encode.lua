-- bench/ab_encode.lua: a same-process A/B of the map encoder (issue 16,
-- item 7; bench/README.md "starmap_shared"). Loads two builds' core.so
-- into one process (package.loadlib: each its own copy of braid) and
-- times core._test.map_batch of the starmap_shared items ({vec, i} over a
-- 1,000-float vec), of 1,000 integers and of {vec} with each in turn, so
-- that the load of a shared machine falls on both alike. Best of REPS
-- runs of R calls, CPU time of the process.
--   lua5.4 bench/ab_encode.lua build/braid/core.so ../main/build/braid/core.so [R [REPS]]
local A_PATH, B_PATH = assert(arg[1], "usage: A.so B.so [R [REPS]]"), assert(arg[2])
local N, LEN = 1000, 1000
local R, REPS = tonumber(arg[3]) or 200, tonumber(arg[4]) or 30

local function load(path)
  return assert(package.loadlib(path, "luaopen_braid_core"))("braid.core")
end
local builds = { { name = "A", core = load(A_PATH) }, { name = "B", core = load(B_PATH) } }

local vec = {}
for i = 1, LEN do vec[i] = i - 1.0 end
local items, ints = {}, {}
for i = 1, N do
  items[i] = { vec, i - 1 }
  ints[i] = i - 1
end
local cases = { { "items", items }, { "ints", ints }, { "vec", { vec } } }

local function time(core, x)
  local mb = core._test.map_batch
  local c0 = os.clock()
  for _ = 1, R do mb(x, 125, true) end
  return (os.clock() - c0) / R * 1e6
end

for _, b in ipairs(builds) do b.best = {} end
for _ = 1, REPS do
  for _, b in ipairs(builds) do
    for k, c in ipairs(cases) do
      local t = time(b.core, c[2])
      if not b.best[k] or t < b.best[k] then b.best[k] = t end
    end
  end
end
for _, b in ipairs(builds) do
  local parts = {}
  for k, c in ipairs(cases) do parts[k] = ("%s %.1f"):format(c[1], b.best[k]) end
  print(("%s (%s): us per map_batch: %s"):format(b.name, b.name == "A" and A_PATH or B_PATH,
    table.concat(parts, ", ")))
end

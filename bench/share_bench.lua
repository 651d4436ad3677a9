-- bench/share_bench.lua: the workloads of bench/run.lua about values that
-- cross once (issue 16, items 4 and 7):
--   starmap_shared: a literal port of a Python program, CALLS calls of
--     multiprocessing Pool(2):starmap(f, items) over N items that each
--     carry the same LEN-float table, against the hand-tuned form (the
--     table an upvalue of f, the items plain integers), sequential Lua,
--     and Python's Pool(2).starmap of the same program in the same run
--     (bench/py_share.py). Parent CPU (os.clock of this process: the
--     workers are other processes) and wall time. Target: the literal
--     port's parent CPU within 1.5x of the upvalue form's.
-- Returns function(h) -> { {name, fn} } where 'h' gives run.lua's helpers.
local core = require "braid.core"
local mp = require "braid.multiprocessing"

local now = core.monotonic
local N, LEN, CALLS = 1000, 1000, 10

local function python(reps)
  if not os.execute("command -v python3 >/dev/null 2>&1") then return {} end
  local p = io.popen(("cd bench && python3 py_share.py %d %d %d %d 2>/dev/null")
    :format(N, LEN, CALLS, reps))
  if not p then return {} end
  local t = {}
  for k, v in p:read("a"):gmatch("(%S+) (%S+)") do t[k] = tonumber(v) end
  p:close()
  return t
end

-- best wall and parent CPU (ms) of 'reps' runs of fn()
local function best2(reps, fn)
  local bw, bc = math.huge, math.huge
  for _ = 1, reps do
    collectgarbage()
    local w0, c0 = now(), os.clock()
    fn()
    local w, c = (now() - w0) * 1e3, (os.clock() - c0) * 1e3
    if w < bw then bw = w end
    if c < bc then bc = c end
  end
  return bw, bc
end

return function(h)
  local fmt, write_json, rows, REPS = h.fmt, h.write_json, h.rows, h.REPS

  local function starmap_shared()
    local reps = math.max(REPS, 3)
    local vec = {}
    for i = 1, LEN do vec[i] = i - 1.0 end
    local items, ints = {}, {}
    for i = 1, N do
      items[i] = { vec, i - 1 }
      ints[i] = i - 1
    end
    local function f(v, i) return v[i % #v + 1] * i end
    local V = vec
    local function g(i) return V[i % #V + 1] * i end
    local expect = f(vec, N - 1)
    local pool = mp.Pool(2)
    pool:starmap(f, { items[1], items[2] })
    pool:map(g, { 1, 2 })
    local lit_w, lit_c = best2(reps, function()
      local r
      for _ = 1, CALLS do r = pool:starmap(f, items) end
      assert(r.n == N and r[N] == expect)
    end)
    local upv_w, upv_c = best2(reps, function()
      local r
      for _ = 1, CALLS do r = pool:map(g, ints) end
      assert(r.n == N and r[N] == expect)
    end)
    pool:close()
    pool:join()
    local seq_w, seq_c = best2(reps, function()
      local r
      for _ = 1, CALLS do
        r = {}
        for i = 1, N do r[i] = f(items[i][1], items[i][2]) end
      end
      assert(r[N] == expect)
    end)
    local py = python(reps)
    local ratio = lit_c / upv_c
    local met = ratio <= 1.5
    print(("starmap_shared (%d x Pool(2):starmap of %d items sharing a %d-float table): "
      .. "literal %s ms CPU / %s ms wall; upvalue form %s / %s; sequential Lua %s / %s; "
      .. "Python %s / %s; literal/upvalue CPU %.2f (target <= 1.5)")
      :format(CALLS, N, LEN, fmt(lit_c), fmt(lit_w), fmt(upv_c), fmt(upv_w),
        fmt(seq_c), fmt(seq_w), py.cpu_ms and fmt(py.cpu_ms) or "n/a",
        py.wall_ms and fmt(py.wall_ms) or "n/a", ratio))
    write_json("starmap_shared", {
      unit = "ms for all calls (best of reps)", items = N, table_len = LEN, calls = CALLS,
      braid = { literal = { cpu = lit_c, wall = lit_w }, upvalue = { cpu = upv_c, wall = upv_w } },
      baselines = { sequential_lua = { cpu = seq_c, wall = seq_w },
                    python_starmap = { cpu = py.cpu_ms, wall = py.wall_ms } },
      ratio = ratio, ratio_of = "literal parent CPU / upvalue parent CPU",
      ratio_vs_python_wall = py.wall_ms and lit_w / py.wall_ms,
      target = "ratio <= 1.5", met = met,
    })
    rows[#rows + 1] = {
      "starmap_shared, parent CPU/wall (ms)", ("%s / %s"):format(fmt(lit_c), fmt(lit_w)),
      ("upvalue %s/%s; seq %s/%s; Python %s/%s"):format(fmt(upv_c), fmt(upv_w),
        fmt(seq_c), fmt(seq_w), py.cpu_ms and fmt(py.cpu_ms) or "n/a",
        py.wall_ms and fmt(py.wall_ms) or "n/a"),
      ("%.2f of upvalue CPU"):format(ratio),
      (met and "yes" or "no") .. " (<= 1.5x upvalue)",
    }
  end

  return { { "starmap_shared", starmap_shared } }
end

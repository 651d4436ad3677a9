-- The single-item path's sleep and wake-up protocol (src/core/queue.c:
-- a spinning getter peeks at the next slot; a getter going to sleep
-- announces itself in 'waiters' and looks again; a put publishes, then
-- reads 'waiters'). A lost wake-up shows as a get that times out with
-- items still queued, so every get here is bounded and a time-out fails
-- the spec. Run three ways: in this process with the spin off (every
-- empty get goes to sleep: the protocol alone carries the hand-offs), and
-- in child processes of the host with BRAID_SPIN_NS=0 and pinned to one
-- CPU (taskset), where producer and consumers preempt each other at any
-- instruction.
local core = require "braid.core"
local queue = require "braid.queue"
local threading = require "braid.threading"

local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"

-- Runs P producers and C consumers over 'kind' (a queue constructor
-- name); each producer puts N integers tagged with its id; each consumer
-- checks every producer's items arrive in order, and reports its count
-- and sum. Returns nil or a message naming what went wrong.
-- A lost wake-up does not always fail a get: the getter's time-out ends
-- its sleep and its last look finds the item. So every get is timed
-- (core.monotonic), and one that took longer than SLOW seconds counts as
-- lost: no get here legitimately waits more than a few milliseconds
-- (its item is put at once), SLOW is generous for a loaded machine.
local WORKLOAD = [==[
local core = require "braid.core"
local queue = require "braid.queue"
local threading = require "braid.threading"
local SLOW, TIMEOUT = 4, 20
-- q:get, bounded, timed: the value, or nil and a message.
local function get(q)
  local t0 = core.monotonic()
  local ok, v = pcall(q.get, q, true, TIMEOUT)
  local dt = core.monotonic() - t0
  if not ok then return nil, "lost wake-up: " .. tostring(v) end
  if dt > SLOW then
    return nil, ("lost wake-up: a get waited %.1f s for its item"):format(dt)
  end
  return v
end
-- R round trips between this thread and an echo thread over two queues
-- of 'kind': each side sleeps in almost every get (with the spin off),
-- as its partner puts, so the put and the sleep race on every hand-off.
local function pingpong(kind, R)
  local a, b, res = queue[kind](), queue[kind](), queue.SimpleQueue()
  local t = threading.Thread { target = function(qa, qb, r, n, g)
    for _ = 1, n do
      local v, e = g(qa)
      if v == nil then r:put(e); qb:put(-1); return end
      qb:put(v + 1)
    end
    r:put(true)
  end, args = { a, b, res, R, get } }
  t:start()
  local err
  for i = 1, R do
    a:put(i)
    local v, e = get(b)
    if v == nil or v ~= i + 1 then
      err = e or ("round trip %d: %s"):format(i, tostring(v))
      if i < R then a:put(-1) end -- let the echo thread finish
      break
    end
  end
  local r = res:get(true, 60)
  t:join(60)
  if err then return kind .. " ping-pong: " .. err end
  if r ~= true then return kind .. " ping-pong (echo): " .. tostring(r) end
  return nil
end
local function workload(kind, P, C, N)
  if C == 0 then return pingpong(kind, N) end
  local q, results = queue[kind](), queue.SimpleQueue()
  local cs, ps = {}, {}
  for c = 1, C do
    cs[c] = threading.Thread { target = function(qq, res, np, g)
      local count, sum, last = 0, 0, {}
      for p = 1, np do last[p] = 0 end
      while true do
        local v, e = g(qq)
        if v == nil then res:put(e); return end
        if v == false then break end
        local p, i = v // 1000000, v % 1000000
        if i <= last[p] then
          res:put(("producer %d: item %d after %d"):format(p, i, last[p]))
          return
        end
        last[p] = i
        count = count + 1; sum = sum + v
      end
      res:put({ count, sum })
    end, args = { q, results, P, get } }
    cs[c]:start()
  end
  for p = 1, P do
    ps[p] = threading.Thread { target = function(qq, id, n)
      for i = 1, n do qq:put(id * 1000000 + i) end
    end, args = { q, p, N } }
    ps[p]:start()
  end
  for p = 1, P do ps[p]:join(60) end
  for _ = 1, C do q:put(false) end
  local count, sum = 0, 0
  for _ = 1, C do
    local r = results:get(true, 60)
    if type(r) ~= "table" then return tostring(r) end
    count = count + r[1]; sum = sum + r[2]
  end
  for c = 1, C do cs[c]:join(60) end
  local want = 0
  for p = 1, P do want = want + p * 1000000 * N + N * (N + 1) // 2 end
  if count ~= P * N then
    return ("%s: %d items taken of %d"):format(kind, count, P * N)
  end
  if sum ~= want then return ("%s: sum %d, want %d"):format(kind, sum, want) end
  return nil
end
]==]

local SHAPES = {
  -- producers, consumers, items per producer
  { 1, 1, 20000 }, { 3, 3, 3000 }, { 1, 4, 10000 }, { 4, 1, 5000 },
  { 1, 0, 2000 }, -- no consumers: 2,000 ping-pong round trips
}

local workload = assert(load(WORKLOAD .. "\nreturn workload", "=workload",
                             "t", _ENV))()

describe("the slot path's wake-ups with the spin off", function()
  for _, kind in ipairs { "SimpleQueue", "Queue" } do
    it("lose none, deliver each item once and keep each producer's order ("
       .. kind .. ")", function()
      local old = core._queue_spin_ns(0)
      local ok, err = pcall(function()
        for _ = 1, 3 do
          for _, s in ipairs(SHAPES) do
            local e = workload(kind, s[1], s[2], s[3])
            assert.is_nil(e, ("%d producers, %d consumers: %s")
              :format(s[1], s[2], tostring(e)))
          end
        end
      end)
      core._queue_spin_ns(old)
      assert(ok, err)
    end)
  end
end)

-- The child runs every shape over both kinds and exits 0, or prints what
-- went wrong and exits 1.
local function run_child(prefix)
  local code = WORKLOAD .. [==[
local shapes = ]==] .. "{ {1,1,20000}, {3,3,3000}, {1,4,10000}, {4,1,5000}, {1,0,2000} }"
    .. [==[

for _, kind in ipairs { "SimpleQueue", "Queue" } do
  for _ = 1, 5 do for _, s in ipairs(shapes) do
    local e = workload(kind, s[1], s[2], s[3])
    if e then
      io.write(("%d producers, %d consumers: %s\n"):format(s[1], s[2], e))
      io.stdout:flush()
      os.exit(1)
    end
  end end
end
io.write("ok\n")
]==]
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb")); f:write(code); f:close()
  local p = io.popen(("%s timeout 300 %s %s 2>&1; echo \"exit=$?\"")
    :format(prefix, HOST, tmp))
  local out = p:read("a"); p:close()
  os.remove(tmp)
  return tonumber(out:match("exit=(%d+)%s*$")), out
end

local function has_taskset()
  local p = io.popen("command -v taskset >/dev/null 2>&1; echo $?")
  local r = p:read("a"); p:close()
  return r:match("^0") ~= nil
end

describe("the slot path's wake-ups in a child process", function()
  local it_host = HOST == "none" and pending or it
  it_host("lose none with BRAID_SPIN_NS=0", function()
    local rc, out = run_child("BRAID_SPIN_NS=0")
    assert.equal(0, rc, out)
  end)
  local it_pin = (HOST == "none" or not has_taskset()) and pending or it
  it_pin("lose none pinned to one CPU (the waiters yield, nothing spins)",
         function()
    local rc, out = run_child("taskset -c 0")
    assert.equal(0, rc, out)
  end)
  it_pin("lose none pinned to one CPU with BRAID_SPIN_NS=0", function()
    local rc, out = run_child("BRAID_SPIN_NS=0 taskset -c 0")
    assert.equal(0, rc, out)
  end)
end)

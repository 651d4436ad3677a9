--- Ctrl-C and braid.subprocess: a script blocked in Popen:wait(),
-- communicate(), a pipe read or a pipe write gets SIGINT (from
-- build/sigrun, once it printed "ready" and its main thread sleeps: no
-- guessed delay), raises KeyboardInterrupt there, unwinds through its
-- <close> variables and ends by SIGINT within 1 s; its child (listed for
-- the interrupted exit) gets SIGTERM and is reaped. The harness is
-- spec/helpers/sigrun.lua, shared with sigint_spec.lua.
local sigrun = require "helpers.sigrun"
local HOST = sigrun.HOST
local BOUND = tonumber(os.getenv("BRAID_SIGINT_BOUND") or "") or 1.0

if (os.getenv("LD_PRELOAD") or ""):find("tsan", 1, true) then
  pending("subprocess_sigint_spec: not under ThreadSanitizer (see scripts/test.sh)")
  return
end

local core = require "braid.core"
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
teardown(function() os.execute("rm -rf " .. dir) end)

local PRELUDE = [[
local function say(s) io.stdout:write(s, "\n"); io.stdout:flush() end
local function closer()
  return setmetatable({}, { __close = function() say("closed") end })
end
local sp = require "braid.subprocess"
]]

local run = sigrun.runner(dir, PRELUDE)
local proc_state = sigrun.proc_state

local function check(r)
  local ctx = "\nstdout:\n" .. r.out .. "\nstderr:\n" .. r.err
  assert(r.seen.ready, "the script never got ready" .. ctx)
  assert.are.equal("signal 2", r.status, "not killed by SIGINT" .. ctx)
  assert(r.elapsed and r.elapsed < BOUND, ("took %s s after SIGINT"):format(tostring(r.elapsed)) .. ctx)
  assert(r.seen.closed, "the <close> handler did not run" .. ctx)
  assert(not r.seen["not reached"], "the blocking call returned" .. ctx)
  assert(r.err:find("KeyboardInterrupt", 1, true), "no KeyboardInterrupt reported" .. ctx)
  local pid = r.pids[#r.pids]
  assert(pid, "no child pid reported" .. ctx)
  -- the child (sleep 30) was ended and reaped by the interrupted exit
  local deadline = core.monotonic() + 5
  while proc_state(pid) ~= nil and core.monotonic() < deadline do core.sleep(0.01) end
  assert(proc_state(pid) == nil, "child left behind" .. ctx)
end

local CASES = {
  { "Popen:wait", [[
local p = sp.Popen({ "sleep", "30" })
say("pid " .. p.pid)
local c <close> = closer()
say("ready")
p:wait()
say("not reached")
]] },
  { "Popen:communicate", [[
local p = sp.Popen({ "sleep", "30" }, { stdout = sp.PIPE, stderr = sp.PIPE })
say("pid " .. p.pid)
local c <close> = closer()
say("ready")
p:communicate()
say("not reached")
]] },
  { "a pipe read", [[
local p = sp.Popen({ "sleep", "30" }, { stdout = sp.PIPE })
say("pid " .. p.pid)
local c <close> = closer()
say("ready")
p.stdout:read("a")
say("not reached")
]] },
  { "a pipe write", [[
local p = sp.Popen({ "sleep", "30" }, { stdin = sp.PIPE })
say("pid " .. p.pid)
local c <close> = closer()
say("ready")
p.stdin:write(string.rep("x", 1 << 22))
say("not reached")
]] },
  { "run with a timeout", [[
local c <close> = closer()
local p = sp.Popen({ "sleep", "30" })
say("pid " .. p.pid) -- the run's child is not reported; this one is
say("ready")
sp.run({ "sleep", "30" }, { timeout = 60 })
say("not reached")
]] },
}

for _, runner in ipairs({ "lua", "host" }) do
  describe("Ctrl-C in braid.subprocess under " .. runner, function()
    for _, c in ipairs(CASES) do
      it("ends a script blocked in " .. c[1], function()
        if runner == "host" and HOST == "none" then return end
        check(run(runner .. "_" .. c[1], c[2], runner))
      end)
    end
  end)
end

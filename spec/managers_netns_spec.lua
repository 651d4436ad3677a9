-- Item 3 of issue 13: a manager server and its clients on two different
-- "hosts": two network namespaces made here, joined by a veth pair with
-- addresses of this test's own (10.213.7.1 and .2/30), so the clients
-- reach the server only through that link. Needs root (ip netns, veth);
-- elsewhere the test says why it is skipped.
local helpers = require "helpers"

local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
local PID = require("braid.core").getpid()
local SRV, CLI = "braid-mgr-s" .. PID, "braid-mgr-c" .. PID
local VS, VC = "bms" .. PID, "bmc" .. PID -- veth ends (<= 15 characters)
local SRV_IP, CLI_IP = "10.213.7.1", "10.213.7.2"

local function sh(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

local function setup_netns()
  if not sh("test -x " .. HOST) then return false, "no braid host program (BRAID_HOST=" .. HOST .. ")" end
  if not sh("command -v ip") then return false, "no 'ip' command" end
  if not sh("ip netns add " .. SRV) then return false, "cannot make network namespaces (not root?)" end
  local steps = {
    "ip netns add " .. CLI,
    ("ip link add %s type veth peer name %s"):format(VS, VC),
    ("ip link set %s netns %s"):format(VS, SRV),
    ("ip link set %s netns %s"):format(VC, CLI),
    ("ip -n %s addr add %s/30 dev %s"):format(SRV, SRV_IP, VS),
    ("ip -n %s addr add %s/30 dev %s"):format(CLI, CLI_IP, VC),
    ("ip -n %s link set %s up"):format(SRV, VS), ("ip -n %s link set lo up"):format(SRV),
    ("ip -n %s link set %s up"):format(CLI, VC), ("ip -n %s link set lo up"):format(CLI),
  }
  for _, c in ipairs(steps) do
    if not sh(c) then return false, "namespace setup failed at: " .. c end
  end
  return true
end

local function teardown_netns()
  sh("ip netns del " .. SRV) -- takes its veth end, and so the pair, along
  sh("ip netns del " .. CLI)
  sh("ip link del " .. VS)
end

describe("a manager reached from another network namespace", function()
  local ready, why
  setup(function() ready, why = setup_netns() end)
  teardown(teardown_netns)

  it("serves clients of every start method over the veth link only", function()
    if not ready then
      print("\nSKIPPED (managers across network namespaces): " .. tostring(why))
      pending("network namespaces unavailable: " .. tostring(why))
      return
    end
    local srv = io.popen(("ip netns exec %s timeout 120 %s spec/helpers/mgr_netns_server.lua %s netkey")
                         :format(SRV, HOST, SRV_IP))
    local line = srv:read("l")
    assert.is_string(line, "the server printed nothing")
    local port = tonumber(line:match("^port (%d+)$"))
    assert.is_number(port)
    local methods = table.concat(helpers.start_methods(), " ")
    local cli = io.popen(("ip netns exec %s timeout 120 %s spec/helpers/mgr_netns_client.lua %s %d netkey %s 2>&1")
                         :format(CLI, HOST, SRV_IP, port, methods))
    local out = cli:read("a")
    local cok = cli:close()
    local sok = srv:close()    -- the server ended: the client called stop
    assert.is_true(cok, out)
    assert.is_true(sok)
    for _, method in ipairs(helpers.start_methods()) do
      assert.truthy(out:find(method .. " exitcode 0", 1, true), out)
      assert.truthy(out:find("got " .. method .. " pid %d+"), out)
    end
    assert.truthy(out:find("wrong key: multiprocessing.AuthenticationError", 1, true), out)
    -- a manager Queue's shared queue: what the server's host put on it
    -- directly, then the remote client's puts (through the server), in
    -- one FIFO; the remote proxy does not take the direct path
    assert.truthy(out:find("mq: local 1,local 2,local 3,remote 1,remote 2,remote 3 direct false",
                           1, true), out)
  end)
end)

-- Listener/Client across hosts: two network namespaces made by the test
-- (ip netns), joined by a veth pair with addresses of the test's own
-- (10.213.N.1/30 and 10.213.N.2/30); a braid Listener runs in one (the
-- `braid` host, BRAID_HOST or build/bin/braid), a braid Client in the other
-- reaches it at the other namespace's address, authenticates and
-- exchanges data. Cleaned up in every case (deleting a namespace deletes
-- its end of the pair); skipped with a message where namespaces cannot be
-- made (not root, no `ip`, no permission). Every command runs under
-- `timeout`.
local core = require "braid.core"

local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
local T = 30
local id = core.getpid() % 100000
local NA, NB = "braidA" .. id, "braidB" .. id
local VA, VB = "bva" .. id, "bvb" .. id
local net = 1 + id % 250
local IPA, IPB = ("10.213.%d.1"):format(net), ("10.213.%d.2"):format(net)

local function sh(cmd)
  -- system tools run without the sanitizer a spec pass may preload
  local ok = os.execute("env -u LD_PRELOAD " .. cmd .. " >/dev/null 2>&1")
  return ok == true
end

local function cleanup()
  sh("ip netns del " .. NA)
  sh("ip netns del " .. NB)
  sh("ip link del " .. VA) -- only if it never moved into a namespace
end

-- Makes the two namespaces and the link; nil and why when it cannot.
local function make()
  if HOST == "none" or not io.open(HOST, "rb") then
    return nil, "no braid host program (" .. HOST .. ")"
  end
  if os.execute("true") ~= true then
    return nil, "no shell in this pass (a preloaded sanitizer runtime)"
  end
  if not sh("ip -V") then return nil, "no 'ip' command" end
  local steps = {
    "ip netns add " .. NA, "ip netns add " .. NB,
    ("ip link add %s type veth peer name %s"):format(VA, VB),
    ("ip link set %s netns %s"):format(VA, NA),
    ("ip link set %s netns %s"):format(VB, NB),
    ("ip -n %s addr add %s/30 dev %s"):format(NA, IPA, VA),
    ("ip -n %s addr add %s/30 dev %s"):format(NB, IPB, VB),
    ("ip -n %s link set lo up"):format(NA), ("ip -n %s link set lo up"):format(NB),
    ("ip -n %s link set %s up"):format(NA, VA), ("ip -n %s link set %s up"):format(NB, VB),
  }
  for _, s in ipairs(steps) do
    if not sh(s) then
      cleanup()
      return nil, "cannot make network namespaces here ('" .. s .. "' failed: "
        .. "needs root and CAP_NET_ADMIN)"
    end
  end
  return true
end

local LISTENER = [[
local connection = require "braid.multiprocessing.connection"
local l = connection.Listener({ arg[1], 0 }, "AF_INET", 1, "netns key")
io.write("ready ", l.address[2], "\n"); io.flush()
assert(#connection.wait({ l }, 30) == 1, "no client within 30 s")
local c = l:accept()
local got = c:recv()
c:send({ echo = got, peer = l.last_accepted[1] })
c:send_bytes(string.rep("n", 100000))
assert(c:recv_bytes() == "done")
c:close(); l:close()
io.write("listener ok\n")
]]

local CLIENT = [[
local connection = require "braid.multiprocessing.connection"
local c = connection.Client({ arg[1], tonumber(arg[2]) }, nil, "netns key")
c:send({ from = "the other host", n = 42 })
local r = c:recv()
assert(r.echo.n == 42 and r.echo.from == "the other host")
assert(#c:recv_bytes() == 100000)
c:send_bytes("done")
c:close()
io.write("client ok peer=", r.peer, "\n")
]]

describe("Listener/Client across network namespaces", function()
  it("a Client in one namespace reaches a Listener in another over a veth pair", function()
    local ok, why = make()
    if not ok then
      pending("skipped: " .. why)
      return
    end
    local dir
    local passed, err = pcall(function()
      local p = io.popen("mktemp -d /tmp/braid-netns-XXXXXX")
      dir = p:read("l"); p:close()
      local function write(name, text)
        local f = assert(io.open(dir .. "/" .. name, "w")); f:write(text); f:close()
        return dir .. "/" .. name
      end
      local lscript, cscript = write("listener.lua", LISTENER), write("client.lua", CLIENT)
      local lp = io.popen(("timeout %d ip netns exec %s %s %s %s 2>&1; echo exit=$?"):format(
        T, NA, HOST, lscript, IPA))
      local first = lp:read("l") or ""
      local port = first:match("ready (%d+)")
      if not port then
        error("listener did not start: " .. first .. (lp:read("a") or ""))
      end
      local cp = io.popen(("timeout %d ip netns exec %s %s %s %s %s 2>&1"):format(
        T, NB, HOST, cscript, IPA, port))
      local cout = cp:read("a"); cp:close()
      local lout = lp:read("a"); lp:close()
      assert.is_truthy(cout:find("client ok peer=" .. IPB, 1, true), cout .. "\nlistener: " .. lout)
      assert.is_truthy(lout:find("listener ok", 1, true), lout)
      -- and the listener's address is not reachable from this namespace
      local here = io.popen(("timeout 5 %s -e \"local c = require('braid.multiprocessing.connection'); "
        .. "print(pcall(c.Client, {'%s', %s}))\" 2>&1"):format(HOST, IPA, port))
      local hout = here:read("a"); here:close()
      assert.is_falsy(hout:find("^true"), hout)
    end)
    cleanup()
    if dir then os.execute("rm -rf '" .. dir .. "'") end
    assert(not sh("ip netns list | grep -q " .. NA), "namespace left behind")
    if not passed then error(err, 0) end
  end)
end)

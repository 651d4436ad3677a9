-- Small differences from Python removed (issue 15, item 2): SystemExit's
-- exit status, threading.local's arguments, BufferTooShort's args,
-- ctx:get_context(), Queue:put's timeout check and the assignable maxsize.
-- (The excepthook and SystemExit are in threading_spec.lua.)
local helpers = require "helpers"
local errors = require "braid.errors"
local threading = require "braid.threading"
local queue = require "braid.queue"
local mp = require "braid.multiprocessing"

local METHODS = helpers.start_methods()
local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
local host_it = HOST == "none" and pending or it

-- Runs a braid host script (stdout and stderr together); returns its exit
-- status and output.
local function braid_run(code)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "w"))
  f:write(code)
  f:close()
  local p = io.popen("timeout 60 " .. HOST .. " " .. tmp .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  os.remove(tmp)
  return tonumber(out:match("rc=(%d+)%s*$")), out:gsub("rc=%d+%s*$", "")
end

describe("SystemExit", function()
  it("gives Python's status for each kind of code (errors.exit_status)", function()
    local S = errors.SystemExit
    assert.same({ 0 }, { errors.exit_status(S()) })
    assert.same({ 0 }, { errors.exit_status(S(false)) })
    assert.same({ 1 }, { errors.exit_status(S(true)) })
    assert.same({ 3 }, { errors.exit_status(S(3)) })
    assert.same({ 3 }, { errors.exit_status(S(3.0)) })
    assert.same({ 1, "bye" }, { errors.exit_status(S("bye")) })
    assert.same({ 1, "2.5" }, { errors.exit_status(S(2.5)) })
  end)

  host_it("ends the host's main script with that status", function()
    local cases = {
      { "nil", 0, "" }, { "false", 0, "" }, { "true", 1, "" }, { "4", 4, "" },
      { "'stopping now'", 1, "stopping now\n" },
    }
    for _, c in ipairs(cases) do
      local rc, out = braid_run(("error(require('braid.errors').SystemExit(%s))\n"
        .. "print('not reached')"):format(c[1]))
      assert.equal(c[2], rc, c[1])
      assert.equal(c[3], out, c[1]) -- no traceback, nothing else
    end
  end)

  host_it("waits for non-daemon threads before the host exits", function()
    local rc, out = braid_run([[
      local threading = require "braid.threading"
      local go = threading.Event()
      local t = threading.Thread{target = function(e)
        e:wait(30); print("thread done") end, args = {go}}
      t:start()
      go:set()
      error(require("braid.errors").SystemExit(false))
    ]])
    assert.equal(0, rc)
    assert.equal("thread done\n", out)
  end)

  host_it("prints a string code of a Process to stderr", function()
    local rc, out = braid_run([[
      local mp = require "braid.multiprocessing"
      local p = mp.Process{target = function()
        error(require("braid.errors").SystemExit("child says bye")) end}
      p:start(); p:join(60)
      print("exitcode", p.exitcode)
    ]])
    assert.equal(0, rc)
    assert.equal("child says bye\nexitcode\t1\n", out)
  end)

  for _, method in ipairs(METHODS) do
    it("gives a Process's exitcode by Python's rules with " .. method, function()
      local ctx = mp.get_context(method)
      local codes = { { false, 0 }, { true, 1 }, { 9, 9 } }
      local ps = {}
      for i, c in ipairs(codes) do
        ps[i] = ctx.Process{target = function(code)
          error(require("braid.errors").SystemExit(code))
        end, args = { c[1] }}
        ps[i]:start()
      end
      for i, c in ipairs(codes) do
        ps[i]:join(60)
        assert.equal(c[2], ps[i].exitcode, tostring(c[1]))
      end
    end)
  end
end)

describe("threading.local", function()
  it("refuses initialization arguments with TypeError", function()
    local err = helpers.raises(errors.TypeError, threading["local"], 1)
    helpers.message_has(err, "Initialization arguments are not supported")
    helpers.raises(errors.TypeError, threading.Local, { x = 1 })
    assert.is_userdata(threading.Local())
  end)
end)

describe("BufferTooShort", function()
  it("carries the whole message as args[1], and as value", function()
    local r, w = mp.Pipe()
    local buf = mp.Array("b", 4)
    w:send_bytes("0123456789")
    local err = helpers.raises(mp.BufferTooShort, r.recv_bytes_into, r, buf)
    assert.equal("0123456789", err.args[1])
    assert.equal("0123456789", err.value)
    r:close(); w:close()
  end)
end)

describe("ctx:get_context()", function()
  for _, method in ipairs(METHODS) do
    it("returns the context itself without a method, with " .. method, function()
      local ctx = mp.get_context(method)
      assert.equal(ctx, ctx:get_context())
      assert.equal(ctx, ctx.get_context())
      assert.equal(ctx, ctx:get_context(method))
      local other = method == "spawn" and "fork" or "spawn"
      assert.equal(mp.get_context(other), ctx:get_context(other))
      assert.equal(other, ctx:get_context(other).get_start_method())
      helpers.raises(errors.ValueError, ctx.get_context, ctx, "nope")
    end)
  end
end)

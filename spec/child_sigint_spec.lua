-- Ctrl-C in a child process (lsignal.c, process.lua's bootstrap, the
-- forkserver in src/core/process.c): on every start method a child
-- blocked in a braid wait raises KeyboardInterrupt on SIGINT, as Python's
-- children do (Python's forkserver gives each child back the handlers
-- the server had). A child whose target catches it and returns exits
-- with 0; one whose target does not exits with 1, the traceback on
-- stderr ("Process <name>:"), as Python's bootstrap does -- not killed by
-- SIGINT, which is the end of an uncaught interrupt in a main program
-- only. Every wait is bounded.
local helpers = require "helpers"
local mp = require "braid.multiprocessing"
local bos = require "braid.os"

local METHODS = helpers.start_methods()
local T = 30

if (os.getenv("LD_PRELOAD") or ""):find("tsan", 1, true) then
  pending("child_sigint_spec: not under ThreadSanitizer (see scripts/test.sh)")
  return
end

-- The child says "waiting" from inside its pcall (or outside any, when
-- 'catch' is false), then waits on an event nobody sets: the SIGINT is
-- the only way out before T.
local function child(ev, c, catch)
  if catch then
    local ok, err = pcall(function()
      c:send("waiting")
      ev:wait(T)
    end)
    c:send(ok and "not interrupted" or tostring(err))
  else
    c:send("waiting")
    ev:wait(T)
    c:send("not interrupted")
  end
end

for _, method in ipairs(METHODS) do
  describe("a " .. method .. " child on SIGINT", function()
    local ctx = mp.get_context(method)

    it("raises KeyboardInterrupt; caught, the child exits with 0", function()
      local ev = ctx.Event()
      local a, b = ctx.Pipe()
      local p = ctx.Process{target = child, args = { ev, b, true }}
      p:start()
      assert.is_true(a:poll(T), "the child never started waiting")
      assert.equal("waiting", a:recv())
      bos.kill(p.pid, bos.SIGINT)
      assert.is_true(a:poll(T), "the child was not interrupted")
      assert.equal("KeyboardInterrupt", a:recv())
      p:join(T)
      assert.equal(0, p.exitcode)
    end)

    it("uncaught, ends the child with exit code 1", function()
      local ev = ctx.Event()
      local a, b = ctx.Pipe()
      local p = ctx.Process{target = child, args = { ev, b, false }}
      p:start()
      assert.is_true(a:poll(T), "the child never started waiting")
      assert.equal("waiting", a:recv())
      bos.kill(p.pid, bos.SIGINT)
      p:join(T)
      assert.equal(1, p.exitcode)
      assert.is_false(a:poll(0), "the target went on after the interrupt")
    end)
  end)
end

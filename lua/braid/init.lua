--- braid: Python's concurrency API for Lua 5.4, one Lua state per worker.
-- `require "braid"` gives every module as a field, loaded on first use:
-- `braid.threading`, `braid.queue`, `braid.multiprocessing`,
-- `braid.futures` (also `braid.concurrent.futures`), `braid.progress`,
-- `braid.subprocess`, `braid.mmap`, `braid.sched`, `braid.os`,
-- `braid._thread`;
-- plus `braid.errors` (exception classes), `braid.poll()` (run the
-- callbacks waiting for this state) and `braid.version`.
-- @module braid
local core = require "braid.core"
local require, setmetatable, rawset = require, setmetatable, rawset
_ENV = nil

local M = {
  version = core._VERSION,
  errors = require "braid.errors",
  core = core,
}

--- Run the callbacks posted to this state (future callbacks, a custom
-- excepthook...). Returns how many ran. A host's frame loop calls it once a
-- frame; scripts that block in braid calls never need to.
M.poll = core.poll

--- Forget a KeyboardInterrupt (Ctrl-C) that the script caught and goes on
-- from: workers are no longer cancelled and the next Ctrl-C raises again
-- instead of ending the process at once (docs/HACKING.md "Ctrl-C").
M.interrupt_reset = core.interrupt_reset

local lazy = {
  threading = "braid.threading",
  queue = "braid.queue",
  multiprocessing = "braid.multiprocessing",
  futures = "braid.futures",
  progress = "braid.progress",
  subprocess = "braid.subprocess",
  mmap = "braid.mmap",
  sched = "braid.sched",
  os = "braid.os",
  _thread = "braid._thread",
}

return setmetatable(M, {
  __index = function(t, k)
    local name = lazy[k]
    if name == nil then
      if k == "concurrent" then
        local c = { futures = t.futures }
        rawset(t, k, c)
        return c
      end
      return nil
    end
    local mod = require(name)
    rawset(t, k, mod)
    return mod
  end,
})

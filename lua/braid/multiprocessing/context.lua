--- Start methods: `get_context(method)`, `set_start_method`,
-- `get_start_method`, `get_all_start_methods`. A context has the whole
-- `braid.multiprocessing` API, with its `Process` bound to the method.
-- @module braid.multiprocessing.context
local process = require "braid.multiprocessing.process"
local errors = require "braid.errors"
local setmetatable, rawset, error, tostring, type, pairs =
  setmetatable, rawset, error, tostring, type, pairs
_ENV = nil

local M = {}
local chosen = nil
local contexts = {}

local function checkmethod(method, level)
  if not process.METHODS[method] then
    error(errors.ValueError("cannot find context for " .. tostring(method)), level + 1)
  end
end

--- `get_context([method])`: the context of `method` (default: the current
-- start method).
function M.get_context(mp, method)
  if method == nil then method = chosen or process.default_method end
  checkmethod(method, 2)
  local ctx = contexts[method]
  if ctx == nil then
    local P = process.Process:subclass("Process")
    P.init = function(self) rawset(self, "_method", method) end
    ctx = setmetatable({ Process = P, _name = method }, { __index = mp })
    ctx.get_start_method = function() return method end
    -- Python's BaseContext.get_context: no method gives the context
    -- itself. Works as ctx:get_context([m]) and ctx.get_context([m]).
    ctx.get_context = function(a, b)
      local m = a
      if a == ctx then m = b end
      if m == nil then return ctx end
      return M.get_context(mp, m)
    end
    ctx.Pool = function(processes, initializer, initargs, maxtasksperchild)
      local pool = mp.pool
      if type(processes) == "table" then
        local o = {}
        for k, v in pairs(processes) do o[k] = v end
        o.context = ctx
        return pool.Pool(o)
      end
      return pool.Pool(processes, initializer, initargs, maxtasksperchild, ctx)
    end
    ctx.Manager = function()
      local m = mp.managers.SyncManager{ ctx = ctx }
      m:start()
      return m
    end
    contexts[method] = ctx
  end
  return ctx
end

function M.set_start_method(method, force)
  if chosen ~= nil and not force then
    error(errors.RuntimeError("context has already been set"), 2)
  end
  if method ~= nil then checkmethod(method, 2) end
  chosen = method
  process.default_method = method or "fork"
end

function M.get_start_method(allow_none)
  if chosen == nil and not allow_none then chosen = process.default_method end
  return chosen
end

function M.get_all_start_methods()
  return { "fork", "spawn", "forkserver" }
end

return M

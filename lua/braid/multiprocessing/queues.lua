--- multiprocessing's `Queue`, `JoinableQueue` and `SimpleQueue`.
--
-- A queue is a byte ring in shared memory (1 MiB by default; `Queue(maxsize,
-- {ring=bytes})` changes it) guarded by a process-shared robust mutex:
-- items are value-transferred (as through a Pipe) and copied in and out,
-- with no feeder thread. Differences from Python: `put` blocks while the
-- ring is full even with maxsize 0 (Python buffers in the feeder thread),
-- and `put(obj, false)` raises queue.Full then; a message larger than the
-- ring streams through it while a reader drains. `close()` refuses later
-- puts in this process; `join_thread()` and `cancel_join_thread()` have
-- nothing to wait for. Pass queues to children in `args`.
-- @module braid.multiprocessing.queues
local core = require "braid.core"
local errors = require "braid.errors"
local setmetatable, error, type, rawget, rawset, select =
  setmetatable, error, type, rawget, rawset, select
_ENV = nil

local M = {}
local ValueError, TypeError = errors.ValueError, errors.TypeError

local Queue = {}
Queue.__name = "Queue"
M.Queue = Queue

-- `q.maxsize`: read from the shared queue, so an assignment in any
-- process is seen by every put in every process (Python's Queue keeps
-- its bound private; braid gives it the threading queue's field).
local function q_index(cls)
  return function(self, k)
    if k == "maxsize" then return rawget(self, "_q"):maxsize() end
    return cls[k]
  end
end
local function q_newindex(self, k, v)
  if k == "maxsize" then
    rawget(self, "_q"):maxsize(v)
    return
  end
  rawset(self, k, v)
end
Queue.__index = q_index(Queue)
Queue.__newindex = q_newindex

local function new(cls, maxsize, opts)
  if type(maxsize) == "table" then maxsize, opts = maxsize.maxsize, maxsize end
  local q = core.mp_Queue(maxsize or 0, opts and opts.ring)
  return setmetatable({ _q = q, _closed = false }, cls)
end

local function checkclosed(self)
  if rawget(self, "_closed") then error(ValueError("Queue is closed"), 3) end
end

-- put's item is required (Python's TypeError); nil is an item (None).
-- 'n': how many arguments came after self.
local function checkitem(n, fname)
  if n == 0 then
    error(TypeError("bad argument #1 to '" .. fname .. "' (value expected)"), 3)
  end
end

function Queue:put(...)
  checkitem(select("#", ...), "put")
  checkclosed(self)
  local obj, block, timeout = ...
  return self._q:put(obj, block, timeout)
end
function Queue:get(block, timeout)
  checkclosed(self)
  return self._q:get(block, timeout)
end
function Queue:put_nowait(...)
  checkitem(select("#", ...), "put_nowait")
  return self:put((...), false)
end
function Queue:get_nowait() return self:get(false) end
function Queue:qsize() return self._q:qsize() end
function Queue:empty() return self._q:empty() end
function Queue:full() return self._q:full() end
function Queue:close() rawset(self, "_closed", true) end
function Queue:join_thread()
  if not self._closed then
    error(errors.AssertionError("Queue {0!r} not closed"), 2)
  end
end
function Queue.cancel_join_thread() end

setmetatable(Queue, { __call = new })

local JoinableQueue = setmetatable({}, { __index = Queue, __call = new })
JoinableQueue.__index = q_index(JoinableQueue)
JoinableQueue.__newindex = q_newindex
JoinableQueue.__name = "JoinableQueue"
M.JoinableQueue = JoinableQueue
function JoinableQueue:task_done() return self._q:task_done() end
function JoinableQueue:join() return self._q:join() end

local SimpleQueue = {}
SimpleQueue.__index = SimpleQueue
SimpleQueue.__name = "SimpleQueue"
M.SimpleQueue = SimpleQueue
setmetatable(SimpleQueue, { __call = function(cls, opts)
  return setmetatable({ _q = core.mp_Queue(0, opts and opts.ring), _closed = false }, cls)
end })
function SimpleQueue:put(...)
  checkitem(select("#", ...), "put")
  checkclosed(self)
  return self._q:put((...))
end
function SimpleQueue:get() checkclosed(self); return self._q:get() end
function SimpleQueue:empty() return self._q:empty() end
function SimpleQueue:close() self._closed = true end

return M

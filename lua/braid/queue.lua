--- Python's `queue` module: FIFO, LIFO, priority and simple queues shared
-- by threads. Items are copied when put (mutating a table afterwards does
-- not change the queued item) and delivered exactly once; a queue passed
-- to a thread is the same queue there.
--
--     local q = queue.Queue(10)
--     q:put({1, "job"}); local item = q:get(true, 0.5)
--
-- Semantics follow Python 3.13 (shutdown and queue.ShutDown included).
-- `PriorityQueue` orders numbers and strings naturally and tables element
-- by element like tuples, so `{priority, payload}` items work; equal
-- priorities come out in the order they were put.
--
-- braid extension: `q:put_many(items)` and `q:get_many(max, block,
-- timeout)` move many items in one locked operation, because per-call
-- overhead dominates small messages.
-- @module braid.queue
local core = require "braid.core"
local errors = require "braid.errors"
_ENV = nil

local M = {}

M.Empty = errors.classes["queue.Empty"]
M.Full = errors.classes["queue.Full"]
M.ShutDown = errors.classes["queue.ShutDown"]

--- `Queue([maxsize])`: FIFO; `maxsize` <= 0 (default) is unbounded.
M.Queue = core.Queue
--- `LifoQueue([maxsize])`: last in, first out.
M.LifoQueue = core.LifoQueue
--- `PriorityQueue([maxsize])`: lowest first.
M.PriorityQueue = core.PriorityQueue
--- `SimpleQueue()`: unbounded FIFO without task tracking.
M.SimpleQueue = core.SimpleQueue

return M

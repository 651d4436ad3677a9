---@meta braid.queue
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.queue"`.

---@class queue
local M = {}

---@class queue.Queue
---@field maxsize integer
---@field is_shutdown boolean
---@field unfinished_tasks integer
local queue_Queue = {}

--- Copies item into the queue.
--- [docs](../../docs/queue.md#L109)
---@param item any
---@param block? boolean
---@param timeout? number
function queue_Queue:put(item, block, timeout) end

--- Python: Queue.put_nowait(item).
--- [docs](../../docs/queue.md#L132)
---@param item any
function queue_Queue:put_nowait(item) end

--- Removes and returns the next item.
--- [docs](../../docs/queue.md#L147)
---@param block? boolean
---@param timeout? number
---@return any
function queue_Queue:get(block, timeout) end

--- Python: Queue.get_nowait().
--- [docs](../../docs/queue.md#L166)
---@return any
function queue_Queue:get_nowait() end

--- braid extension: puts every element of the sequence items (1..items.n
--- [docs](../../docs/queue.md#L179)
---@param items table
---@param block? boolean
---@param timeout? number
function queue_Queue:put_many(items, block, timeout) end

--- braid extension: takes up to max items in one operation, waiting for the
--- [docs](../../docs/queue.md#L200)
---@param max? integer
---@param block? boolean
---@param timeout? number
---@return table
function queue_Queue:get_many(max, block, timeout) end

--- [docs](../../docs/queue.md#L219)
---@return integer
function queue_Queue:qsize() end

--- [docs](../../docs/queue.md#L228)
---@return boolean
function queue_Queue:empty() end

--- [docs](../../docs/queue.md#L236)
---@return boolean
function queue_Queue:full() end

--- Marks one item taken with get as processed (for join).
--- [docs](../../docs/queue.md#L245)
function queue_Queue:task_done() end

--- Blocks until every item put has been marked done with task_done.
--- [docs](../../docs/queue.md#L260)
function queue_Queue:join() end

--- Shuts the queue down: later put calls raise queue.ShutDown; get
--- [docs](../../docs/queue.md#L273)
---@param immediate? boolean
function queue_Queue:shutdown(immediate) end

--- A first-in, first-out queue.
--- [docs](../../docs/queue.md#L40)
---@param maxsize? integer
---@overload fun(opts: {maxsize?: integer}): queue.Queue
---@return queue.Queue
function M.Queue(maxsize) end

--- A last-in, first-out queue (a stack); every queue.Queue method.
--- [docs](../../docs/queue.md#L57)
---@param maxsize? integer
---@overload fun(opts: {maxsize?: integer}): queue.LifoQueue
---@return queue.LifoQueue
function M.LifoQueue(maxsize) end

--- Gives the lowest item first; every queue.Queue method. Numbers and
--- [docs](../../docs/queue.md#L73)
---@param maxsize? integer
---@overload fun(opts: {maxsize?: integer}): queue.PriorityQueue
---@return queue.PriorityQueue
function M.PriorityQueue(maxsize) end

--- An unbounded FIFO queue without task tracking: put, put_nowait,
--- [docs](../../docs/queue.md#L93)
---@return queue.SimpleQueue
function M.SimpleQueue() end

--- [docs](../../docs/queue.md#L320)
---@type table
M["Empty"] = nil

--- [docs](../../docs/queue.md#L330)
---@type table
M["Full"] = nil

--- [docs](../../docs/queue.md#L340)
---@type table
M["ShutDown"] = nil

return M

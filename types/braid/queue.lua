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
--- Reference: docs/queue.md, entry `queue.Queue:put`
---@param item any
---@param block? boolean
---@param timeout? number
function queue_Queue:put(item, block, timeout) end

--- Python: Queue.put_nowait(item).
--- Reference: docs/queue.md, entry `queue.Queue:put_nowait`
---@param item any
function queue_Queue:put_nowait(item) end

--- Removes and returns the next item.
--- Reference: docs/queue.md, entry `queue.Queue:get`
---@param block? boolean
---@param timeout? number
---@return any
function queue_Queue:get(block, timeout) end

--- Python: Queue.get_nowait().
--- Reference: docs/queue.md, entry `queue.Queue:get_nowait`
---@return any
function queue_Queue:get_nowait() end

--- braid extension: puts every element of the sequence items (1..items.n
--- Reference: docs/queue.md, entry `queue.Queue:put_many`
---@param items table
---@param block? boolean
---@param timeout? number
function queue_Queue:put_many(items, block, timeout) end

--- braid extension: takes up to max items in one operation, waiting for the
--- Reference: docs/queue.md, entry `queue.Queue:get_many`
---@param max? integer
---@param block? boolean
---@param timeout? number
---@return table
function queue_Queue:get_many(max, block, timeout) end

--- Reference: docs/queue.md, entry `queue.Queue:qsize`
---@return integer
function queue_Queue:qsize() end

--- Reference: docs/queue.md, entry `queue.Queue:empty`
---@return boolean
function queue_Queue:empty() end

--- Reference: docs/queue.md, entry `queue.Queue:full`
---@return boolean
function queue_Queue:full() end

--- Marks one item taken with get as processed (for join).
--- Reference: docs/queue.md, entry `queue.Queue:task_done`
function queue_Queue:task_done() end

--- Blocks until every item put has been marked done with task_done.
--- Reference: docs/queue.md, entry `queue.Queue:join`
function queue_Queue:join() end

--- Shuts the queue down: later put calls raise queue.ShutDown; get
--- Reference: docs/queue.md, entry `queue.Queue:shutdown`
---@param immediate? boolean
function queue_Queue:shutdown(immediate) end

--- A first-in, first-out queue.
--- Reference: docs/queue.md, entry `queue.Queue`
---@param maxsize? integer
---@overload fun(opts: {maxsize?: integer}): queue.Queue
---@return queue.Queue
function M.Queue(maxsize) end

--- A last-in, first-out queue (a stack); every queue.Queue method.
--- Reference: docs/queue.md, entry `queue.LifoQueue`
---@param maxsize? integer
---@overload fun(opts: {maxsize?: integer}): queue.LifoQueue
---@return queue.LifoQueue
function M.LifoQueue(maxsize) end

--- Gives the lowest item first; every queue.Queue method. Numbers and
--- Reference: docs/queue.md, entry `queue.PriorityQueue`
---@param maxsize? integer
---@overload fun(opts: {maxsize?: integer}): queue.PriorityQueue
---@return queue.PriorityQueue
function M.PriorityQueue(maxsize) end

--- An unbounded FIFO queue without task tracking: put, put_nowait,
--- Reference: docs/queue.md, entry `queue.SimpleQueue`
---@return queue.SimpleQueue
function M.SimpleQueue() end

--- Reference: docs/queue.md, entry `queue.Empty`
---@type table
M["Empty"] = nil

--- Reference: docs/queue.md, entry `queue.Full`
---@type table
M["Full"] = nil

--- Reference: docs/queue.md, entry `queue.ShutDown`
---@type table
M["ShutDown"] = nil

return M

---@meta braid.multiprocessing.pool
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.pool"`.

---@class pool
local M = {}

---@class pool.Pool
local pool_Pool = {}

--- Calls fn(table.unpack(args)) in a worker and waits for it.
--- [docs](../../docs/pool.md#L92)
---@param fn function
---@param args? table
---@return any
function pool_Pool:apply(fn, args) end

--- Python: Pool.apply_async(func, args=(), kwds={}, callback=None,
--- [docs](../../docs/pool.md#L108)
---@param fn function
---@param args? table
---@param callback? function
---@param error_callback? function
---@return pool.AsyncResult
function pool_Pool:apply_async(fn, args, callback, error_callback) end

--- Raises the first task error (see above). Python: Pool.map(func,
--- [docs](../../docs/pool.md#L127)
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param opts? table
---@return table
function pool_Pool:map(fn, iterable, chunksize, opts) end

--- [docs](../../docs/pool.md#L144)
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param callback? function
---@param error_callback? function
---@return pool.MapResult
function pool_Pool:map_async(fn, iterable, chunksize, callback, error_callback) end

--- Like map, each item being a table of arguments.
--- [docs](../../docs/pool.md#L159)
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param opts? table
---@return table
function pool_Pool:starmap(fn, iterable, chunksize, opts) end

--- [docs](../../docs/pool.md#L174)
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param callback? function
---@param error_callback? function
---@return pool.MapResult
function pool_Pool:starmap_async(fn, iterable, chunksize, callback, error_callback) end

--- A generic-for iterator over index, result, in order, results arriving
--- [docs](../../docs/pool.md#L188)
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param opts? table
---@return function
function pool_Pool:imap(fn, iterable, chunksize, opts) end

--- As imap, results in completion order (index still says which input).
--- [docs](../../docs/pool.md#L208)
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param opts? table
---@return function
function pool_Pool:imap_unordered(fn, iterable, chunksize, opts) end

--- No more tasks; workers end once the queued ones are done.
--- [docs](../../docs/pool.md#L227)
function pool_Pool:close() end

--- Cancels tasks not started (their get() raises CancelledError); a
--- [docs](../../docs/pool.md#L238)
function pool_Pool:terminate() end

--- Waits for the workers to end.
--- [docs](../../docs/pool.md#L250)
function pool_Pool:join() end

---@class pool.AsyncResult
local pool_AsyncResult = {}

--- Raises multiprocessing.TimeoutError when it is not ready in time, the
--- [docs](../../docs/pool.md#L295)
---@param timeout? number
---@return any
function pool_AsyncResult:get(timeout) end

--- [docs](../../docs/pool.md#L313)
---@param timeout? number
function pool_AsyncResult:wait(timeout) end

--- [docs](../../docs/pool.md#L323)
---@return boolean
function pool_AsyncResult:ready() end

--- Raises ValueError when it is not ready. Python:
--- [docs](../../docs/pool.md#L332)
---@return boolean
function pool_AsyncResult:successful() end

--- A pool of worker processes, started before it returns.
--- [docs](../../docs/pool.md#L36)
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@param maxtasksperchild? integer
---@param context? table
---@overload fun(opts: {processes?: integer, initializer?: function, initargs?: table, maxtasksperchild?: integer, context?: table}): pool.Pool
---@return pool.Pool
function M.Pool(processes, initializer, initargs, maxtasksperchild, context) end

--- The same API on threads (which share braid objects by reference). If the
--- [docs](../../docs/pool.md#L68)
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@param maxtasksperchild? integer
---@overload fun(opts: {processes?: integer, initializer?: function, initargs?: table, maxtasksperchild?: integer}): pool.ThreadPool
---@return pool.ThreadPool
function M.ThreadPool(processes, initializer, initargs, maxtasksperchild) end

--- [docs](../../docs/pool.md#L265)
---@type table
M["AsyncResult"] = nil

--- [docs](../../docs/pool.md#L275)
---@type table
M["ApplyResult"] = nil

--- [docs](../../docs/pool.md#L284)
---@type table
M["MapResult"] = nil

--- [docs](../../docs/pool.md#L345)
---@type table
M["TimeoutError"] = nil

return M

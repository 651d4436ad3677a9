---@meta braid.multiprocessing.pool
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.pool"`.

---@class pool
local M = {}

---@class pool.Pool
local pool_Pool = {}

--- Calls fn(table.unpack(args)) in a worker and waits for it.
--- Reference: docs/pool.md, entry `pool.Pool:apply`
---@param fn function
---@param args? table
---@return any
function pool_Pool:apply(fn, args) end

--- Python: Pool.apply_async(func, args=(), kwds={}, callback=None,
--- Reference: docs/pool.md, entry `pool.Pool:apply_async`
---@param fn function
---@param args? table
---@param callback? function
---@param error_callback? function
---@return pool.AsyncResult
function pool_Pool:apply_async(fn, args, callback, error_callback) end

--- Raises the first task error (see above), once every task of the map has
--- Reference: docs/pool.md, entry `pool.Pool:map`
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param opts? table
---@return table
function pool_Pool:map(fn, iterable, chunksize, opts) end

--- The result is ready (and a callback runs) once every task has run, also
--- Reference: docs/pool.md, entry `pool.Pool:map_async`
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param callback? function
---@param error_callback? function
---@return pool.MapResult
function pool_Pool:map_async(fn, iterable, chunksize, callback, error_callback) end

--- Like map, each item being a table of arguments.
--- Reference: docs/pool.md, entry `pool.Pool:starmap`
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param opts? table
---@return table
function pool_Pool:starmap(fn, iterable, chunksize, opts) end

--- Reference: docs/pool.md, entry `pool.Pool:starmap_async`
---@param fn function
---@param iterable table
---@param chunksize? integer
---@param callback? function
---@param error_callback? function
---@return pool.MapResult
function pool_Pool:starmap_async(fn, iterable, chunksize, callback, error_callback) end

--- A generic-for iterator over index, result, in order, results arriving
--- Reference: docs/pool.md, entry `pool.Pool:imap`
---@param fn function
---@param iterable table|function
---@param chunksize? integer
---@param opts? integer|table
---@return function
function pool_Pool:imap(fn, iterable, chunksize, opts) end

--- As imap, results in completion order (index still says which input).
--- Reference: docs/pool.md, entry `pool.Pool:imap_unordered`
---@param fn function
---@param iterable table|function
---@param chunksize? integer
---@param opts? integer|table
---@return function
function pool_Pool:imap_unordered(fn, iterable, chunksize, opts) end

--- No more tasks; workers end once the queued ones are done.
--- Reference: docs/pool.md, entry `pool.Pool:close`
function pool_Pool:close() end

--- Cancels tasks not started (their get() raises CancelledError); a
--- Reference: docs/pool.md, entry `pool.Pool:terminate`
function pool_Pool:terminate() end

--- Waits for the workers to end.
--- Reference: docs/pool.md, entry `pool.Pool:join`
function pool_Pool:join() end

---@class pool.IMapIterator
local pool_IMapIterator = {}

--- Cancels the tasks not started (a loop over the iterator that ended early).
--- Reference: docs/pool.md, entry `pool.IMapIterator:cancel`
function pool_IMapIterator:cancel() end

---@class pool.AsyncResult
local pool_AsyncResult = {}

--- Raises multiprocessing.TimeoutError when it is not ready in time, the
--- Reference: docs/pool.md, entry `pool.AsyncResult:get`
---@param timeout? number
---@return any
function pool_AsyncResult:get(timeout) end

--- Reference: docs/pool.md, entry `pool.AsyncResult:wait`
---@param timeout? number
function pool_AsyncResult:wait(timeout) end

--- Reference: docs/pool.md, entry `pool.AsyncResult:ready`
---@return boolean
function pool_AsyncResult:ready() end

--- Raises ValueError when it is not ready. Python:
--- Reference: docs/pool.md, entry `pool.AsyncResult:successful`
---@return boolean
function pool_AsyncResult:successful() end

--- A pool of worker processes, started before it returns.
--- Reference: docs/pool.md, entry `pool.Pool`
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@param maxtasksperchild? integer
---@param context? table
---@overload fun(opts: {processes?: integer, initializer?: function, initargs?: table, maxtasksperchild?: integer, context?: table}): pool.Pool
---@return pool.Pool
function M.Pool(processes, initializer, initargs, maxtasksperchild, context) end

--- The same API on threads (which share braid objects by reference). If the
--- Reference: docs/pool.md, entry `pool.ThreadPool`
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@param maxtasksperchild? integer
---@overload fun(opts: {processes?: integer, initializer?: function, initargs?: table, maxtasksperchild?: integer}): pool.ThreadPool
---@return pool.ThreadPool
function M.ThreadPool(processes, initializer, initargs, maxtasksperchild) end

--- Reference: docs/pool.md, entry `pool.AsyncResult`
---@type table
M["AsyncResult"] = nil

--- Reference: docs/pool.md, entry `pool.ApplyResult`
---@type table
M["ApplyResult"] = nil

--- Reference: docs/pool.md, entry `pool.MapResult`
---@type table
M["MapResult"] = nil

--- Reference: docs/pool.md, entry `pool.IMapIterator`
---@type table
M["IMapIterator"] = nil

--- A task whose result cannot be sent back (a coroutine, a file handle, a
--- Reference: docs/pool.md, entry `pool.MaybeEncodingError`
---@type table
M["MaybeEncodingError"] = nil

--- Reference: docs/pool.md, entry `pool.TimeoutError`
---@type table
M["TimeoutError"] = nil

return M

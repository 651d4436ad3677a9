---@meta braid.futures
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.futures"`.

---@class futures
local M = {}

---@class futures.Executor
local futures_Executor = {}

--- Schedules fn(...) on a worker.
--- Reference: docs/futures.md, entry `futures.Executor:submit`
---@param fn function
---@param ... any
---@return futures.Future
function futures_Executor:submit(fn, ...) end

--- Calls fn(item) for every item of iterable and returns a generic-for
--- Reference: docs/futures.md, entry `futures.Executor:map`
---@param fn function
---@param iterable table|function
---@param opts? table
---@return function
function futures_Executor:map(fn, iterable, opts) end

--- No more submit; with wait, returns once every worker has ended.
--- Reference: docs/futures.md, entry `futures.Executor:shutdown`
---@param wait? boolean
---@param opts? table
function futures_Executor:shutdown(wait, opts) end

---@class futures.Future
local futures_Future = {}

--- Waits for the future and returns every value the call returned.
--- Reference: docs/futures.md, entry `futures.Future:result`
---@param timeout? number
---@return any...
function futures_Future:result(timeout) end

--- Waits like result and returns the call's error.
--- Reference: docs/futures.md, entry `futures.Future:exception`
---@param timeout? number
---@return any
function futures_Future:exception(timeout) end

--- Calls fn(future) when the future is done (at once if it is). The
--- Reference: docs/futures.md, entry `futures.Future:add_done_callback`
---@param fn function
function futures_Future:add_done_callback(fn) end

--- Cancels the call if it has not started.
--- Reference: docs/futures.md, entry `futures.Future:cancel`
---@return boolean
function futures_Future:cancel() end

--- Reference: docs/futures.md, entry `futures.Future:cancelled`
---@return boolean
function futures_Future:cancelled() end

--- Reference: docs/futures.md, entry `futures.Future:running`
---@return boolean
function futures_Future:running() end

--- Reference: docs/futures.md, entry `futures.Future:done`
---@return boolean
function futures_Future:done() end

--- For code that runs the work itself (executors, tests).
--- Reference: docs/futures.md, entry `futures.Future:set_result`
---@param ... any
function futures_Future:set_result(...) end

--- Raises InvalidStateError when already done. Python:
--- Reference: docs/futures.md, entry `futures.Future:set_exception`
---@param err any
function futures_Future:set_exception(err) end

--- Marks the future running before its work starts.
--- Reference: docs/futures.md, entry `futures.Future:set_running_or_notify_cancel`
---@return boolean
function futures_Future:set_running_or_notify_cancel() end

---@class futures.thread
---@field BrokenThreadPool table
local futures_thread = {}

---@class futures.process
---@field BrokenProcessPool table
local futures_process = {}

--- An executor whose workers are threads, started as work arrives, up to
--- Reference: docs/futures.md, entry `futures.ThreadPoolExecutor`
---@param max_workers? integer
---@param thread_name_prefix? string
---@param initializer? function
---@param initargs? table
---@overload fun(opts: {max_workers?: integer, thread_name_prefix?: string, initializer?: function, initargs?: table}): futures.ThreadPoolExecutor
---@return futures.ThreadPoolExecutor
function M.ThreadPoolExecutor(max_workers, thread_name_prefix, initializer, initargs) end

--- An executor whose workers are processes. Functions, arguments and results
--- Reference: docs/futures.md, entry `futures.ProcessPoolExecutor`
---@param max_workers? integer
---@param mp_context? table
---@param initializer? function
---@param initargs? table
---@param max_tasks_per_child? integer
---@overload fun(opts: {max_workers?: integer, mp_context?: table, initializer?: function, initargs?: table, max_tasks_per_child?: integer}): futures.ProcessPoolExecutor
---@return futures.ProcessPoolExecutor
function M.ProcessPoolExecutor(max_workers, mp_context, initializer, initargs, max_tasks_per_child) end

--- Reference: docs/futures.md, entry `futures.Executor`
---@type table
M["Executor"] = nil

--- A future not tied to an executor: complete it with set_result or
--- Reference: docs/futures.md, entry `futures.Future`
---@return futures.Future
function M.Future() end

--- Waits until the futures of fs satisfy return_when, or until
--- Reference: docs/futures.md, entry `futures.wait`
---@param fs table|function
---@param timeout? number
---@param return_when? string
---@return table
---@return table
function M.wait(fs, timeout, return_when) end

--- A generic-for iterator yielding the futures of fs as they complete
--- Reference: docs/futures.md, entry `futures.as_completed`
---@param fs table|function
---@param timeout? number
---@param opts? table
---@return function
function M.as_completed(fs, timeout, opts) end

--- Reference: docs/futures.md, entry `futures.FIRST_COMPLETED`
---@type string
M["FIRST_COMPLETED"] = nil

--- Reference: docs/futures.md, entry `futures.FIRST_EXCEPTION`
---@type string
M["FIRST_EXCEPTION"] = nil

--- Reference: docs/futures.md, entry `futures.ALL_COMPLETED`
---@type string
M["ALL_COMPLETED"] = nil

--- Reference: docs/futures.md, entry `futures.Error`
---@type table
M["Error"] = nil

--- Reference: docs/futures.md, entry `futures.CancelledError`
---@type table
M["CancelledError"] = nil

--- Reference: docs/futures.md, entry `futures.InvalidStateError`
---@type table
M["InvalidStateError"] = nil

--- Reference: docs/futures.md, entry `futures.TimeoutError`
---@type table
M["TimeoutError"] = nil

--- Reference: docs/futures.md, entry `futures.BrokenExecutor`
---@type table
M["BrokenExecutor"] = nil

--- Reference: docs/futures.md, entry `futures.BrokenThreadPool`
---@type table
M["BrokenThreadPool"] = nil

--- Reference: docs/futures.md, entry `futures.BrokenProcessPool`
---@type table
M["BrokenProcessPool"] = nil

--- Reference: docs/futures.md, entry `futures.thread`
---@type table
M["thread"] = nil

--- Reference: docs/futures.md, entry `futures.process`
---@type table
M["process"] = nil

return M

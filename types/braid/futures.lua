---@meta braid.futures
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.futures"`.

---@class futures
local M = {}

---@class futures.Executor
local futures_Executor = {}

--- Schedules fn(...) on a worker.
--- [docs](../../docs/futures.md#L119)
---@param fn function
---@param ... any
---@return futures.Future
function futures_Executor:submit(fn, ...) end

--- Calls fn(item) for every item of iterable, all submitted at once, and
--- [docs](../../docs/futures.md#L140)
---@param fn function
---@param iterable table
---@param opts? table
---@return function
function futures_Executor:map(fn, iterable, opts) end

--- No more submit; with wait, returns once every worker has ended.
--- [docs](../../docs/futures.md#L168)
---@param wait? boolean
---@param opts? table
function futures_Executor:shutdown(wait, opts) end

---@class futures.Future
local futures_Future = {}

--- Waits for the future and returns every value the call returned.
--- [docs](../../docs/futures.md#L209)
---@param timeout? number
---@return any...
function futures_Future:result(timeout) end

--- Waits like result and returns the call's error.
--- [docs](../../docs/futures.md#L227)
---@param timeout? number
---@return any
function futures_Future:exception(timeout) end

--- Calls fn(future) when the future is done (at once if it is). The
--- [docs](../../docs/futures.md#L244)
---@param fn function
function futures_Future:add_done_callback(fn) end

--- Cancels the call if it has not started.
--- [docs](../../docs/futures.md#L265)
---@return boolean
function futures_Future:cancel() end

--- [docs](../../docs/futures.md#L278)
---@return boolean
function futures_Future:cancelled() end

--- [docs](../../docs/futures.md#L286)
---@return boolean
function futures_Future:running() end

--- [docs](../../docs/futures.md#L296)
---@return boolean
function futures_Future:done() end

--- For code that runs the work itself (executors, tests).
--- [docs](../../docs/futures.md#L306)
---@param ... any
function futures_Future:set_result(...) end

--- Raises InvalidStateError when already done. Python:
--- [docs](../../docs/futures.md#L324)
---@param err any
function futures_Future:set_exception(err) end

--- Marks the future running before its work starts.
--- [docs](../../docs/futures.md#L338)
---@return boolean
function futures_Future:set_running_or_notify_cancel() end

---@class futures.thread
---@field BrokenThreadPool table
local futures_thread = {}

---@class futures.process
---@field BrokenProcessPool table
local futures_process = {}

--- An executor whose workers are threads, started as work arrives, up to
--- [docs](../../docs/futures.md#L41)
---@param max_workers? integer
---@param thread_name_prefix? string
---@param initializer? function
---@param initargs? table
---@overload fun(opts: {max_workers?: integer, thread_name_prefix?: string, initializer?: function, initargs?: table}): futures.ThreadPoolExecutor
---@return futures.ThreadPoolExecutor
function M.ThreadPoolExecutor(max_workers, thread_name_prefix, initializer, initargs) end

--- An executor whose workers are processes. Functions, arguments and results
--- [docs](../../docs/futures.md#L71)
---@param max_workers? integer
---@param mp_context? table
---@param initializer? function
---@param initargs? table
---@param max_tasks_per_child? integer
---@overload fun(opts: {max_workers?: integer, mp_context?: table, initializer?: function, initargs?: table, max_tasks_per_child?: integer}): futures.ProcessPoolExecutor
---@return futures.ProcessPoolExecutor
function M.ProcessPoolExecutor(max_workers, mp_context, initializer, initargs, max_tasks_per_child) end

--- [docs](../../docs/futures.md#L108)
---@type table
M["Executor"] = nil

--- A future not tied to an executor: complete it with set_result or
--- [docs](../../docs/futures.md#L189)
---@return futures.Future
function M.Future() end

--- Waits until the futures of fs satisfy return_when, or until
--- [docs](../../docs/futures.md#L356)
---@param fs table
---@param timeout? number
---@param return_when? string
---@return table
---@return table
function M.wait(fs, timeout, return_when) end

--- A generic-for iterator yielding the futures of fs as they complete
--- [docs](../../docs/futures.md#L381)
---@param fs table
---@param timeout? number
---@param opts? table
---@return function
function M.as_completed(fs, timeout, opts) end

--- [docs](../../docs/futures.md#L405)
---@type string
M["FIRST_COMPLETED"] = nil

--- [docs](../../docs/futures.md#L413)
---@type string
M["FIRST_EXCEPTION"] = nil

--- [docs](../../docs/futures.md#L421)
---@type string
M["ALL_COMPLETED"] = nil

--- [docs](../../docs/futures.md#L434)
---@type table
M["Error"] = nil

--- [docs](../../docs/futures.md#L443)
---@type table
M["CancelledError"] = nil

--- [docs](../../docs/futures.md#L454)
---@type table
M["InvalidStateError"] = nil

--- [docs](../../docs/futures.md#L462)
---@type table
M["TimeoutError"] = nil

--- [docs](../../docs/futures.md#L473)
---@type table
M["BrokenExecutor"] = nil

--- [docs](../../docs/futures.md#L482)
---@type table
M["BrokenThreadPool"] = nil

--- [docs](../../docs/futures.md#L494)
---@type table
M["BrokenProcessPool"] = nil

--- [docs](../../docs/futures.md#L506)
---@type table
M["thread"] = nil

--- [docs](../../docs/futures.md#L524)
---@type table
M["process"] = nil

return M

---@meta braid.multiprocessing
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing"`.

---@class mp
local M = {}

---@class mp.Process
---@field name string
---@field daemon boolean
---@field pid integer?
---@field ident integer?
---@field exitcode integer?
---@field sentinel integer
---@field authkey string
local mp_Process = {}

--- A subclass whose run method replaces the target; the whole object is
--- Reference: docs/multiprocessing.md, entry `mp.Process:subclass`
---@param name? string
---@return table
function mp_Process:subclass(name) end

--- What calling the class does: Process:new(opts) is Process(opts)
--- Reference: docs/multiprocessing.md, entry `mp.Process:new`
---@param opts? table
---@return mp.Process
function mp_Process:new(opts) end

--- Starts the child with the process's start method.
--- Reference: docs/multiprocessing.md, entry `mp.Process:start`
function mp_Process:start() end

--- What the child runs: target(table.unpack(args)); subclasses replace it.
--- Reference: docs/multiprocessing.md, entry `mp.Process:run`
function mp_Process:run() end

--- Waits for the child to end.
--- Reference: docs/multiprocessing.md, entry `mp.Process:join`
---@param timeout? number
function mp_Process:join(timeout) end

--- Reference: docs/multiprocessing.md, entry `mp.Process:is_alive`
---@return boolean
function mp_Process:is_alive() end

--- Sends SIGTERM (exit code -15).
--- Reference: docs/multiprocessing.md, entry `mp.Process:terminate`
function mp_Process:terminate() end

--- Sends SIGKILL (exit code -9).
--- Reference: docs/multiprocessing.md, entry `mp.Process:kill`
function mp_Process:kill() end

--- Frees the process's resources; most later uses raise ValueError.
--- Reference: docs/multiprocessing.md, entry `mp.Process:close`
function mp_Process:close() end

---@class mp.Queue
---@field maxsize integer
local mp_Queue = {}

--- Raises queue.Full when there is no room in time, ValueError after
--- Reference: docs/multiprocessing.md, entry `mp.Queue:put`
---@param obj any
---@param block? boolean
---@param timeout? number
function mp_Queue:put(obj, block, timeout) end

--- Raises queue.Empty when nothing comes in time, ValueError after
--- Reference: docs/multiprocessing.md, entry `mp.Queue:get`
---@param block? boolean
---@param timeout? number
---@return any
function mp_Queue:get(block, timeout) end

--- Reference: docs/multiprocessing.md, entry `mp.Queue:put_nowait`
---@param obj any
function mp_Queue:put_nowait(obj) end

--- Reference: docs/multiprocessing.md, entry `mp.Queue:get_nowait`
---@return any
function mp_Queue:get_nowait() end

--- Reference: docs/multiprocessing.md, entry `mp.Queue:qsize`
---@return integer
function mp_Queue:qsize() end

--- Reference: docs/multiprocessing.md, entry `mp.Queue:empty`
---@return boolean
function mp_Queue:empty() end

--- Reference: docs/multiprocessing.md, entry `mp.Queue:full`
---@return boolean
function mp_Queue:full() end

--- Refuses later put/get in this process (ValueError).
--- Reference: docs/multiprocessing.md, entry `mp.Queue:close`
function mp_Queue:close() end

--- Python waits for the feeder thread here; braid has none.
--- Reference: docs/multiprocessing.md, entry `mp.Queue:join_thread`
function mp_Queue:join_thread() end

--- Nothing to cancel in braid (no feeder thread).
--- Reference: docs/multiprocessing.md, entry `mp.Queue:cancel_join_thread`
function mp_Queue:cancel_join_thread() end

---@class mp.JoinableQueue : mp.Queue
local mp_JoinableQueue = {}

--- Reference: docs/multiprocessing.md, entry `mp.JoinableQueue:task_done`
function mp_JoinableQueue:task_done() end

--- Waits until every item put was marked done.
--- Reference: docs/multiprocessing.md, entry `mp.JoinableQueue:join`
function mp_JoinableQueue:join() end

---@class mp.Lock : threading.Lock
local mp_Lock = {}

--- Python: Lock.acquire(block=True, timeout=None).
--- Reference: docs/multiprocessing.md, entry `mp.Lock:acquire`
---@param blocking? boolean
---@param timeout? number
---@return boolean
---@return string?
function mp_Lock:acquire(blocking, timeout) end

--- Raises ValueError for a lock that is not held (an RLock released by a
--- Reference: docs/multiprocessing.md, entry `mp.Lock:release`
function mp_Lock:release() end

---@class mp.Semaphore : threading.Semaphore
local mp_Semaphore = {}

--- Python: Semaphore.get_value().
--- Reference: docs/multiprocessing.md, entry `mp.Semaphore:get_value`
---@return integer
function mp_Semaphore:get_value() end

---@class mp.Value
---@field value any
local mp_Value = {}

--- Reference: docs/multiprocessing.md, entry `mp.Value:get_lock`
---@return any
function mp_Value:get_lock() end

--- Reference: docs/multiprocessing.md, entry `mp.Value:get_obj`
---@return any
function mp_Value:get_obj() end

--- The lock's acquire.
--- Reference: docs/multiprocessing.md, entry `mp.Value:acquire`
---@param blocking? boolean
---@param timeout? number
---@return boolean
function mp_Value:acquire(blocking, timeout) end

--- The lock's release.
--- Reference: docs/multiprocessing.md, entry `mp.Value:release`
function mp_Value:release() end

--- Acquires the lock for a <close> variable.
--- Reference: docs/multiprocessing.md, entry `mp.Value:guard`
---@return mp.Value
function mp_Value:guard() end

--- Calls fn(...) with the lock held.
--- Reference: docs/multiprocessing.md, entry `mp.Value:with`
---@param fn function
---@param ... any
---@return any...
function mp_Value:with(fn, ...) end

---@class mp.Array
---@field value string
---@field raw string
local mp_Array = {}

--- Reference: docs/multiprocessing.md, entry `mp.Array:slice`
---@param i? integer
---@param j? integer
---@return table
function mp_Array:slice(i, j) end

--- Reference: docs/multiprocessing.md, entry `mp.Array:set_slice`
---@param i integer
---@param j integer
---@param values table
function mp_Array:set_slice(i, j, values) end

--- Reference: docs/multiprocessing.md, entry `mp.Array:tolist`
---@return table
function mp_Array:tolist() end

--- Reference: docs/multiprocessing.md, entry `mp.Array:get_lock`
---@return any
function mp_Array:get_lock() end

--- Reference: docs/multiprocessing.md, entry `mp.Array:get_obj`
---@return any
function mp_Array:get_obj() end

--- Reference: docs/multiprocessing.md, entry `mp.Array:acquire`
---@param blocking? boolean
---@param timeout? number
---@return boolean
function mp_Array:acquire(blocking, timeout) end

--- Reference: docs/multiprocessing.md, entry `mp.Array:release`
function mp_Array:release() end

--- Reference: docs/multiprocessing.md, entry `mp.Array:guard`
---@return mp.Array
function mp_Array:guard() end

--- Reference: docs/multiprocessing.md, entry `mp.Array:with`
---@param fn function
---@param ... any
---@return any...
function mp_Array:with(fn, ...) end

--- A process object, not started. One table of named parameters:
--- Reference: docs/multiprocessing.md, entry `mp.Process`
---@param opts? table
---@overload fun(opts: {target?: function, args?: table, name?: string, daemon?: boolean}): mp.Process
---@return mp.Process
function M.Process(opts) end

--- Python: multiprocessing.current_process().
--- Reference: docs/multiprocessing.md, entry `mp.current_process`
---@return mp.Process
function M.current_process() end

--- Reference: docs/multiprocessing.md, entry `mp.parent_process`
---@return mp.Process?
function M.parent_process() end

--- Reaps the children that ended and returns the others.
--- Reference: docs/multiprocessing.md, entry `mp.active_children`
---@return mp.Process[]
function M.active_children() end

--- Reference: docs/multiprocessing.md, entry `mp.cpu_count`
---@return integer
function M.cpu_count() end

--- A context: a table with the whole braid.multiprocessing API whose
--- Reference: docs/multiprocessing.md, entry `mp.get_context`
---@param method? string
---@return context.Context
function M.get_context(method) end

--- Chooses the start method of Process and Pool for the program.
--- Reference: docs/multiprocessing.md, entry `mp.set_start_method`
---@param method? string
---@param force? boolean
function M.set_start_method(method, force) end

--- Reference: docs/multiprocessing.md, entry `mp.get_start_method`
---@param allow_none? boolean
---@return string?
function M.get_start_method(allow_none) end

--- Reference: docs/multiprocessing.md, entry `mp.get_all_start_methods`
---@return string[]
function M.get_all_start_methods() end

--- The program "spawn" and the forkserver run.
--- Reference: docs/multiprocessing.md, entry `mp.set_executable`
---@param path string
---@param builtin? boolean
function M.set_executable(path, builtin) end

--- Two connected Connection objects over a Unix socket pair.
--- Reference: docs/multiprocessing.md, entry `mp.Pipe`
---@param duplex? boolean
---@return connection.Connection
---@return connection.Connection
function M.Pipe(duplex) end

--- Python: multiprocessing.Queue(maxsize=0).
--- Reference: docs/multiprocessing.md, entry `mp.Queue`
---@param maxsize? integer
---@param opts? table
---@overload fun(opts: {maxsize?: integer, ring?: integer}): mp.Queue
---@return mp.Queue
function M.Queue(maxsize, opts) end

--- A mp.Queue with task_done and join.
--- Reference: docs/multiprocessing.md, entry `mp.JoinableQueue`
---@param maxsize? integer
---@param opts? table
---@return mp.JoinableQueue
function M.JoinableQueue(maxsize, opts) end

--- A queue with only put(obj), get(), empty() and close() (the
--- Reference: docs/multiprocessing.md, entry `mp.SimpleQueue`
---@return mp.SimpleQueue
function M.SimpleQueue() end

--- Python: multiprocessing.Lock().
--- Reference: docs/multiprocessing.md, entry `mp.Lock`
---@return mp.Lock
function M.Lock() end

--- Reference: docs/multiprocessing.md, entry `mp.RLock`
---@return mp.RLock
function M.RLock() end

--- Reference: docs/multiprocessing.md, entry `mp.Semaphore`
---@param value? integer
---@return mp.Semaphore
function M.Semaphore(value) end

--- Reference: docs/multiprocessing.md, entry `mp.BoundedSemaphore`
---@param value? integer
---@return mp.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- Reference: docs/multiprocessing.md, entry `mp.Condition`
---@param lock? any
---@return mp.Condition
function M.Condition(lock) end

--- Reference: docs/multiprocessing.md, entry `mp.Event`
---@return mp.Event
function M.Event() end

--- Reference: docs/multiprocessing.md, entry `mp.Barrier`
---@param parties integer
---@param action? function
---@param timeout? number
---@return mp.Barrier
function M.Barrier(parties, action, timeout) end

--- Raises TypeError for an unknown typecode or a bad lock (naming it).
--- Reference: docs/multiprocessing.md, entry `mp.Value`
---@param typecode string
---@param init? any
---@param opts? table
---@return mp.Value
function M.Value(typecode, init, opts) end

--- Reference: docs/multiprocessing.md, entry `mp.RawValue`
---@param typecode string
---@param init? any
---@return mp.RawValue
function M.RawValue(typecode, init) end

--- A fixed number of typed elements: a[i] (1-based), #a, ipairs(a),
--- Reference: docs/multiprocessing.md, entry `mp.Array`
---@param typecode string
---@param size_or_initializer any
---@param opts? table
---@overload fun(opts: {typecode_or_type: string, size_or_initializer: any, lock?: any}): mp.Array
---@return mp.Array
function M.Array(typecode, size_or_initializer, opts) end

--- Reference: docs/multiprocessing.md, entry `mp.RawArray`
---@param typecode string
---@param size_or_initializer any
---@return mp.RawArray
function M.RawArray(typecode, size_or_initializer) end

--- Reference: docs/multiprocessing.md, entry `mp.ProcessError`
---@type table
M["ProcessError"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.BufferTooShort`
---@type table
M["BufferTooShort"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.TimeoutError`
---@type table
M["TimeoutError"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.AuthenticationError`
---@type table
M["AuthenticationError"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.MaybeEncodingError`
---@type table
M["MaybeEncodingError"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.Pool`
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@param maxtasksperchild? integer
---@return pool.Pool
function M.Pool(processes, initializer, initargs, maxtasksperchild) end

--- Starts a managers.SyncManager (its server is a child process of the
--- Reference: docs/multiprocessing.md, entry `mp.Manager`
---@return managers.SyncManager
function M.Manager() end

--- Reference: docs/multiprocessing.md, entry `mp.managers`
---@type table
M["managers"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.pool`
---@type table
M["pool"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.dummy`
---@type table
M["dummy"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.process`
---@type table
M["process"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.connection`
---@type table
M["connection"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.queues`
---@type table
M["queues"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.synchronize`
---@type table
M["synchronize"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.sharedctypes`
---@type table
M["sharedctypes"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.shared_memory`
---@type table
M["shared_memory"] = nil

--- Reference: docs/multiprocessing.md, entry `mp.context`
---@type table
M["context"] = nil

return M

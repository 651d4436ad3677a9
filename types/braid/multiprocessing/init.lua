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
--- [docs](../../docs/multiprocessing.md#L79)
---@param name? string
---@return table
function mp_Process:subclass(name) end

--- What calling the class does: Process:new(opts) is Process(opts)
--- [docs](../../docs/multiprocessing.md#L99)
---@param opts? table
---@return mp.Process
function mp_Process:new(opts) end

--- Starts the child with the process's start method.
--- [docs](../../docs/multiprocessing.md#L112)
function mp_Process:start() end

--- What the child runs: target(table.unpack(args)); subclasses replace it.
--- [docs](../../docs/multiprocessing.md#L129)
function mp_Process:run() end

--- Waits for the child to end.
--- [docs](../../docs/multiprocessing.md#L144)
---@param timeout? number
function mp_Process:join(timeout) end

--- [docs](../../docs/multiprocessing.md#L162)
---@return boolean
function mp_Process:is_alive() end

--- Sends SIGTERM (exit code -15).
--- [docs](../../docs/multiprocessing.md#L173)
function mp_Process:terminate() end

--- Sends SIGKILL (exit code -9).
--- [docs](../../docs/multiprocessing.md#L189)
function mp_Process:kill() end

--- Frees the process's resources; most later uses raise ValueError.
--- [docs](../../docs/multiprocessing.md#L203)
function mp_Process:close() end

---@class mp.Queue
local mp_Queue = {}

--- Raises queue.Full when there is no room in time, ValueError after
--- [docs](../../docs/multiprocessing.md#L651)
---@param obj any
---@param block? boolean
---@param timeout? number
function mp_Queue:put(obj, block, timeout) end

--- Raises queue.Empty when nothing comes in time, ValueError after
--- [docs](../../docs/multiprocessing.md#L668)
---@param block? boolean
---@param timeout? number
---@return any
function mp_Queue:get(block, timeout) end

--- [docs](../../docs/multiprocessing.md#L684)
---@param obj any
function mp_Queue:put_nowait(obj) end

--- [docs](../../docs/multiprocessing.md#L693)
---@return any
function mp_Queue:get_nowait() end

--- [docs](../../docs/multiprocessing.md#L701)
---@return integer
function mp_Queue:qsize() end

--- [docs](../../docs/multiprocessing.md#L709)
---@return boolean
function mp_Queue:empty() end

--- [docs](../../docs/multiprocessing.md#L717)
---@return boolean
function mp_Queue:full() end

--- Refuses later put/get in this process (ValueError).
--- [docs](../../docs/multiprocessing.md#L725)
function mp_Queue:close() end

--- Python waits for the feeder thread here; braid has none.
--- [docs](../../docs/multiprocessing.md#L736)
function mp_Queue:join_thread() end

--- Nothing to cancel in braid (no feeder thread).
--- [docs](../../docs/multiprocessing.md#L746)
function mp_Queue:cancel_join_thread() end

---@class mp.JoinableQueue : mp.Queue
local mp_JoinableQueue = {}

--- [docs](../../docs/multiprocessing.md#L770)
function mp_JoinableQueue:task_done() end

--- Waits until every item put was marked done.
--- [docs](../../docs/multiprocessing.md#L780)
function mp_JoinableQueue:join() end

---@class mp.Lock : threading.Lock
local mp_Lock = {}

--- Python: Lock.acquire(block=True, timeout=None).
--- [docs](../../docs/multiprocessing.md#L836)
---@param blocking? boolean
---@param timeout? number
---@return boolean
---@return string?
function mp_Lock:acquire(blocking, timeout) end

--- Raises ValueError for a lock that is not held (an RLock released by a
--- [docs](../../docs/multiprocessing.md#L852)
function mp_Lock:release() end

---@class mp.Semaphore : threading.Semaphore
local mp_Semaphore = {}

--- Python: Semaphore.get_value().
--- [docs](../../docs/multiprocessing.md#L883)
---@return integer
function mp_Semaphore:get_value() end

---@class mp.Value
---@field value any
local mp_Value = {}

--- [docs](../../docs/multiprocessing.md#L981)
---@return any
function mp_Value:get_lock() end

--- [docs](../../docs/multiprocessing.md#L990)
---@return any
function mp_Value:get_obj() end

--- The lock's acquire.
--- [docs](../../docs/multiprocessing.md#L999)
---@param blocking? boolean
---@param timeout? number
---@return boolean
function mp_Value:acquire(blocking, timeout) end

--- The lock's release.
--- [docs](../../docs/multiprocessing.md#L1012)
function mp_Value:release() end

--- Acquires the lock for a <close> variable.
--- [docs](../../docs/multiprocessing.md#L1022)
---@return mp.Value
function mp_Value:guard() end

--- Calls fn(...) with the lock held.
--- [docs](../../docs/multiprocessing.md#L1033)
---@param fn function
---@param ... any
---@return any...
function mp_Value:with(fn, ...) end

---@class mp.Array
---@field value string
---@field raw string
local mp_Array = {}

--- [docs](../../docs/multiprocessing.md#L1082)
---@param i? integer
---@param j? integer
---@return table
function mp_Array:slice(i, j) end

--- [docs](../../docs/multiprocessing.md#L1094)
---@param i integer
---@param j integer
---@param values table
function mp_Array:set_slice(i, j, values) end

--- [docs](../../docs/multiprocessing.md#L1106)
---@return table
function mp_Array:tolist() end

--- [docs](../../docs/multiprocessing.md#L1115)
---@return any
function mp_Array:get_lock() end

--- [docs](../../docs/multiprocessing.md#L1123)
---@return any
function mp_Array:get_obj() end

--- [docs](../../docs/multiprocessing.md#L1132)
---@param blocking? boolean
---@param timeout? number
---@return boolean
function mp_Array:acquire(blocking, timeout) end

--- [docs](../../docs/multiprocessing.md#L1143)
function mp_Array:release() end

--- [docs](../../docs/multiprocessing.md#L1151)
---@return mp.Array
function mp_Array:guard() end

--- [docs](../../docs/multiprocessing.md#L1161)
---@param fn function
---@param ... any
---@return any...
function mp_Array:with(fn, ...) end

--- A process object, not started. One table of named parameters:
--- [docs](../../docs/multiprocessing.md#L55)
---@param opts? table
---@overload fun(opts: {target?: function, args?: table, name?: string, daemon?: boolean}): mp.Process
---@return mp.Process
function M.Process(opts) end

--- Python: multiprocessing.current_process().
--- [docs](../../docs/multiprocessing.md#L289)
---@return mp.Process
function M.current_process() end

--- [docs](../../docs/multiprocessing.md#L307)
---@return mp.Process?
function M.parent_process() end

--- Reaps the children that ended and returns the others.
--- [docs](../../docs/multiprocessing.md#L316)
---@return mp.Process[]
function M.active_children() end

--- [docs](../../docs/multiprocessing.md#L329)
---@return integer
function M.cpu_count() end

--- A context: a table with the whole braid.multiprocessing API whose
--- [docs](../../docs/multiprocessing.md#L339)
---@param method? string
---@return context.Context
function M.get_context(method) end

--- Chooses the start method of Process and Pool for the program.
--- [docs](../../docs/multiprocessing.md#L390)
---@param method? string
---@param force? boolean
function M.set_start_method(method, force) end

--- [docs](../../docs/multiprocessing.md#L412)
---@param allow_none? boolean
---@return string?
function M.get_start_method(allow_none) end

--- [docs](../../docs/multiprocessing.md#L424)
---@return string[]
function M.get_all_start_methods() end

--- The program "spawn" and the forkserver run.
--- [docs](../../docs/multiprocessing.md#L432)
---@param path string
---@param builtin? boolean
function M.set_executable(path, builtin) end

--- Two connected Connection objects over a Unix socket pair.
--- [docs](../../docs/multiprocessing.md#L454)
---@param duplex? boolean
---@return connection.Connection
---@return connection.Connection
function M.Pipe(duplex) end

--- Python: multiprocessing.Queue(maxsize=0).
--- [docs](../../docs/multiprocessing.md#L630)
---@param maxsize? integer
---@param opts? table
---@overload fun(opts: {maxsize?: integer, ring?: integer}): mp.Queue
---@return mp.Queue
function M.Queue(maxsize, opts) end

--- A mp.Queue with task_done and join.
--- [docs](../../docs/multiprocessing.md#L756)
---@param maxsize? integer
---@param opts? table
---@return mp.JoinableQueue
function M.JoinableQueue(maxsize, opts) end

--- A queue with only put(obj), get(), empty() and close() (the
--- [docs](../../docs/multiprocessing.md#L790)
---@return mp.SimpleQueue
function M.SimpleQueue() end

--- Python: multiprocessing.Lock().
--- [docs](../../docs/multiprocessing.md#L815)
---@return mp.Lock
function M.Lock() end

--- [docs](../../docs/multiprocessing.md#L864)
---@return mp.RLock
function M.RLock() end

--- [docs](../../docs/multiprocessing.md#L873)
---@param value? integer
---@return mp.Semaphore
function M.Semaphore(value) end

--- [docs](../../docs/multiprocessing.md#L893)
---@param value? integer
---@return mp.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- [docs](../../docs/multiprocessing.md#L904)
---@param lock? any
---@return mp.Condition
function M.Condition(lock) end

--- [docs](../../docs/multiprocessing.md#L915)
---@return mp.Event
function M.Event() end

--- [docs](../../docs/multiprocessing.md#L926)
---@param parties integer
---@param action? function
---@param timeout? number
---@return mp.Barrier
function M.Barrier(parties, action, timeout) end

--- Raises TypeError for an unknown typecode or a bad lock (naming it).
--- [docs](../../docs/multiprocessing.md#L953)
---@param typecode string
---@param init? any
---@param opts? table
---@return mp.Value
function M.Value(typecode, init, opts) end

--- [docs](../../docs/multiprocessing.md#L1046)
---@param typecode string
---@param init? any
---@return mp.RawValue
function M.RawValue(typecode, init) end

--- A fixed number of typed elements: a[i] (1-based), #a, ipairs(a),
--- [docs](../../docs/multiprocessing.md#L1059)
---@param typecode string
---@param size_or_initializer any
---@param opts? table
---@overload fun(opts: {typecode_or_type: string, size_or_initializer: any, lock?: any}): mp.Array
---@return mp.Array
function M.Array(typecode, size_or_initializer, opts) end

--- [docs](../../docs/multiprocessing.md#L1191)
---@param typecode string
---@param size_or_initializer any
---@return mp.RawArray
function M.RawArray(typecode, size_or_initializer) end

--- [docs](../../docs/multiprocessing.md#L1206)
---@type table
M["ProcessError"] = nil

--- [docs](../../docs/multiprocessing.md#L1216)
---@type table
M["BufferTooShort"] = nil

--- [docs](../../docs/multiprocessing.md#L1229)
---@type table
M["TimeoutError"] = nil

--- [docs](../../docs/multiprocessing.md#L1238)
---@type table
M["AuthenticationError"] = nil

--- [docs](../../docs/multiprocessing.md#L1249)
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@param maxtasksperchild? integer
---@return pool.Pool
function M.Pool(processes, initializer, initargs, maxtasksperchild) end

--- [docs](../../docs/multiprocessing.md#L1266)
---@type table
M["pool"] = nil

--- [docs](../../docs/multiprocessing.md#L1274)
---@type table
M["dummy"] = nil

--- [docs](../../docs/multiprocessing.md#L1282)
---@type table
M["process"] = nil

--- [docs](../../docs/multiprocessing.md#L1291)
---@type table
M["connection"] = nil

--- [docs](../../docs/multiprocessing.md#L1299)
---@type table
M["queues"] = nil

--- [docs](../../docs/multiprocessing.md#L1308)
---@type table
M["synchronize"] = nil

--- [docs](../../docs/multiprocessing.md#L1317)
---@type table
M["sharedctypes"] = nil

--- [docs](../../docs/multiprocessing.md#L1326)
---@type table
M["shared_memory"] = nil

--- [docs](../../docs/multiprocessing.md#L1334)
---@type table
M["context"] = nil

return M

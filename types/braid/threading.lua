---@meta braid.threading
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.threading"`.

---@class threading
local M = {}

---@class threading.Thread
---@field name string
---@field daemon boolean
---@field ident integer?
---@field native_id integer?
local threading_Thread = {}

--- Makes a subclass of Thread: instances are made by calling it like
--- [docs](../../docs/threading.md#L70)
---@param name? string
---@return table
function threading_Thread:subclass(name) end

--- Starts the thread: run is called in a new OS thread with a Lua state of
--- [docs](../../docs/threading.md#L93)
function threading_Thread:start() end

--- What the thread does. By default it calls target(table.unpack(args));
--- [docs](../../docs/threading.md#L113)
function threading_Thread:run() end

--- Waits until the thread ends, or until timeout seconds pass.
--- [docs](../../docs/threading.md#L130)
---@param timeout? number
function threading_Thread:join(timeout) end

--- Python: Thread.is_alive().
--- [docs](../../docs/threading.md#L151)
---@return boolean
function threading_Thread:is_alive() end

--- Python's old spelling of t.name.
--- [docs](../../docs/threading.md#L163)
---@return string
function threading_Thread:getName() end

--- Python's old spelling of t.name = name.
--- [docs](../../docs/threading.md#L174)
---@param name string
function threading_Thread:setName(name) end

--- Python's old spelling of t.daemon.
--- [docs](../../docs/threading.md#L186)
---@return boolean
function threading_Thread:isDaemon() end

--- Python's old spelling of t.daemon = daemonic.
--- [docs](../../docs/threading.md#L197)
---@param daemonic boolean
function threading_Thread:setDaemon(daemonic) end

---@class threading.Timer : threading.Thread
---@field interval number
---@field fn function
---@field args table
---@field finished threading.Event
local threading_Timer = {}

--- Stops the timer if it has not fired yet (the thread then ends without
--- [docs](../../docs/threading.md#L275)
function threading_Timer:cancel() end

---@class threading.Lock
local threading_Lock = {}

--- Raises ValueError for a timeout with blocking == false or a negative
--- [docs](../../docs/threading.md#L564)
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_Lock:acquire(blocking, timeout) end

--- Raises RuntimeError ("release unlocked lock") when it is not locked.
--- [docs](../../docs/threading.md#L582)
function threading_Lock:release() end

--- Python: Lock.locked().
--- [docs](../../docs/threading.md#L595)
---@return boolean
function threading_Lock:locked() end

--- Acquires the lock (blocking) and returns it for a <close> variable,
--- [docs](../../docs/threading.md#L606)
---@return threading.Lock
function threading_Lock:guard() end

--- Calls fn(...) with the lock held and releases it afterwards, also when
--- [docs](../../docs/threading.md#L625)
---@param fn function
---@param ... any
---@return any...
function threading_Lock:with(fn, ...) end

---@class threading.RLock
local threading_RLock = {}

--- As Lock:acquire; the owner acquiring again succeeds at once.
--- [docs](../../docs/threading.md#L656)
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_RLock:acquire(blocking, timeout) end

--- Raises RuntimeError when the calling thread does not own the lock.
--- [docs](../../docs/threading.md#L672)
function threading_RLock:release() end

--- [docs](../../docs/threading.md#L684)
---@return boolean
function threading_RLock:locked() end

--- Acquires (blocking) for a <close> variable.
--- [docs](../../docs/threading.md#L693)
---@return threading.RLock
function threading_RLock:guard() end

--- Calls fn(...) with the lock held.
--- [docs](../../docs/threading.md#L705)
---@param fn function
---@param ... any
---@return any...
function threading_RLock:with(fn, ...) end

---@class threading.Condition
local threading_Condition = {}

--- Acquires the underlying lock.
--- [docs](../../docs/threading.md#L745)
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_Condition:acquire(blocking, timeout) end

--- Releases the underlying lock.
--- [docs](../../docs/threading.md#L758)
function threading_Condition:release() end

--- Releases the lock, waits for a notify (or the timeout), re-acquires.
--- [docs](../../docs/threading.md#L769)
---@param timeout? number
---@return boolean
function threading_Condition:wait(timeout) end

--- Waits until predicate() returns a true value (checked first, then after
--- [docs](../../docs/threading.md#L787)
---@param predicate function
---@param timeout? number
---@return any
function threading_Condition:wait_for(predicate, timeout) end

--- Wakes up to n threads waiting on the condition.
--- [docs](../../docs/threading.md#L805)
---@param n? integer
function threading_Condition:notify(n) end

--- Wakes every waiting thread.
--- [docs](../../docs/threading.md#L819)
function threading_Condition:notify_all() end

--- Acquires the lock for a <close> variable.
--- [docs](../../docs/threading.md#L832)
---@return threading.Condition
function threading_Condition:guard() end

--- Calls fn(...) with the lock held.
--- [docs](../../docs/threading.md#L843)
---@param fn function
---@param ... any
---@return any...
function threading_Condition:with(fn, ...) end

---@class threading.Semaphore
local threading_Semaphore = {}

--- Raises ValueError for a timeout with blocking == false. Python:
--- [docs](../../docs/threading.md#L874)
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_Semaphore:acquire(blocking, timeout) end

--- Raises ValueError when n < 1, and for a BoundedSemaphore when the
--- [docs](../../docs/threading.md#L888)
---@param n? integer
function threading_Semaphore:release(n) end

--- Takes a unit (blocking) for a <close> variable, which gives it back.
--- [docs](../../docs/threading.md#L903)
---@return threading.Semaphore
function threading_Semaphore:guard() end

--- Calls fn(...) holding a unit.
--- [docs](../../docs/threading.md#L915)
---@param fn function
---@param ... any
---@return any...
function threading_Semaphore:with(fn, ...) end

---@class threading.Event
local threading_Event = {}

--- [docs](../../docs/threading.md#L961)
---@return boolean
function threading_Event:is_set() end

--- Sets the flag and wakes every waiter.
--- [docs](../../docs/threading.md#L970)
function threading_Event:set() end

--- Clears the flag.
--- [docs](../../docs/threading.md#L981)
function threading_Event:clear() end

--- Waits until the flag is set.
--- [docs](../../docs/threading.md#L992)
---@param timeout? number
---@return boolean
function threading_Event:wait(timeout) end

---@class threading.Barrier
---@field parties integer
---@field n_waiting integer
---@field broken boolean
local threading_Barrier = {}

--- Raises threading.BrokenBarrierError when the barrier is broken or breaks
--- [docs](../../docs/threading.md#L1032)
---@param timeout? number
---@return integer
function threading_Barrier:wait(timeout) end

--- Returns the barrier to its initial state; threads waiting get
--- [docs](../../docs/threading.md#L1047)
function threading_Barrier:reset() end

--- Breaks the barrier: current and later wait calls raise
--- [docs](../../docs/threading.md#L1059)
function threading_Barrier:abort() end

--- Makes a thread object (not started). One table of named parameters, as
--- [docs](../../docs/threading.md#L42)
---@param opts? table
---@overload fun(opts: {target?: function, args?: table, name?: string, daemon?: boolean}): threading.Thread
---@return threading.Thread
function M.Thread(opts) end

--- A thread that calls fn(table.unpack(args)) after interval seconds
--- [docs](../../docs/threading.md#L252)
---@param interval number
---@param fn function
---@param args? table
---@overload fun(opts: {interval: number, function?: function, fn?: function, args?: table}): threading.Timer
---@return threading.Timer
function M.Timer(interval, fn, args) end

--- Python: threading.current_thread().
--- [docs](../../docs/threading.md#L323)
---@return threading.Thread
function M.current_thread() end

--- Python's old spelling of current_thread().
--- [docs](../../docs/threading.md#L339)
---@return threading.Thread
function M.currentThread() end

--- Python: threading.main_thread().
--- [docs](../../docs/threading.md#L350)
---@return threading.Thread
function M.main_thread() end

--- Python: threading.enumerate().
--- [docs](../../docs/threading.md#L362)
---@return threading.Thread[]
function M.enumerate() end

--- Python: threading.active_count().
--- [docs](../../docs/threading.md#L374)
---@return integer
function M.active_count() end

--- Python's old spelling of active_count().
--- [docs](../../docs/threading.md#L390)
---@return integer
function M.activeCount() end

--- Python: threading.get_ident().
--- [docs](../../docs/threading.md#L401)
---@return integer
function M.get_ident() end

--- Python: threading.get_native_id().
--- [docs](../../docs/threading.md#L413)
---@return integer
function M.get_native_id() end

--- Gets or sets the stack size of threads started later.
--- [docs](../../docs/threading.md#L423)
---@param size? integer
---@return integer
function M.stack_size(size) end

--- Python: threading.excepthook.
--- [docs](../../docs/threading.md#L441)
---@type function
M["excepthook"] = nil

--- Python: threading.__excepthook__.
--- [docs](../../docs/threading.md#L463)
---@type function
M["__excepthook__"] = nil

--- Python: threading.TIMEOUT_MAX.
--- [docs](../../docs/threading.md#L475)
---@type number
M["TIMEOUT_MAX"] = nil

--- [docs](../../docs/threading.md#L487)
---@type table
M["ThreadError"] = nil

--- [docs](../../docs/threading.md#L496)
---@type table
M["BrokenBarrierError"] = nil

--- An object whose fields are separate in each thread: a thread sees only the
--- [docs](../../docs/threading.md#L508)
---@return userdata
M["local"] = function() end

--- The same constructor as threading["local"].
--- [docs](../../docs/threading.md#L528)
---@return userdata
function M.Local() end

--- A lock any thread may release, shared by reference with the threads it is
--- [docs](../../docs/threading.md#L546)
---@return threading.Lock
function M.Lock() end

--- A re-entrant lock: the thread that holds it may acquire it again and must
--- [docs](../../docs/threading.md#L641)
---@return threading.RLock
function M.RLock() end

--- A condition variable over a lock (by default a new RLock).
--- [docs](../../docs/threading.md#L718)
---@param lock? any
---@overload fun(opts: {lock?: any}): threading.Condition
---@return threading.Condition
function M.Condition(lock) end

--- A counter: acquire takes one unit (waiting while there is none),
--- [docs](../../docs/threading.md#L856)
---@param value? integer
---@overload fun(opts: {value?: integer}): threading.Semaphore
---@return threading.Semaphore
function M.Semaphore(value) end

--- A Semaphore whose release refuses to pass the initial value.
--- [docs](../../docs/threading.md#L928)
---@param value? integer
---@overload fun(opts: {value?: integer}): threading.BoundedSemaphore
---@return threading.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- A flag threads can wait for.
--- [docs](../../docs/threading.md#L944)
---@return threading.Event
function M.Event() end

--- Makes parties threads wait for each other.
--- [docs](../../docs/threading.md#L1006)
---@param parties integer
---@param action? function
---@param timeout? number
---@overload fun(opts: {parties: integer, action?: function, timeout?: number}): threading.Barrier
---@return threading.Barrier
function M.Barrier(parties, action, timeout) end

return M

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

--- Makes a subclass of Thread, of Timer or of any subclass of them:
--- Reference: docs/threading.md, entry `threading.Thread:subclass`
---@param name? string
---@return table
function threading_Thread:subclass(name) end

--- Starts the thread: run is called in a new OS thread with a Lua state of
--- Reference: docs/threading.md, entry `threading.Thread:start`
function threading_Thread:start() end

--- What the thread does. By default it calls target(table.unpack(args));
--- Reference: docs/threading.md, entry `threading.Thread:run`
function threading_Thread:run() end

--- Waits until the thread ends, or until timeout seconds pass.
--- Reference: docs/threading.md, entry `threading.Thread:join`
---@param timeout? number
function threading_Thread:join(timeout) end

--- Python: Thread.is_alive().
--- Reference: docs/threading.md, entry `threading.Thread:is_alive`
---@return boolean
function threading_Thread:is_alive() end

--- Python's old spelling of t.name.
--- Reference: docs/threading.md, entry `threading.Thread:getName`
---@return string
function threading_Thread:getName() end

--- Python's old spelling of t.name = name.
--- Reference: docs/threading.md, entry `threading.Thread:setName`
---@param name string
function threading_Thread:setName(name) end

--- Python's old spelling of t.daemon.
--- Reference: docs/threading.md, entry `threading.Thread:isDaemon`
---@return boolean
function threading_Thread:isDaemon() end

--- Python's old spelling of t.daemon = daemonic.
--- Reference: docs/threading.md, entry `threading.Thread:setDaemon`
---@param daemonic boolean
function threading_Thread:setDaemon(daemonic) end

---@class threading.Timer : threading.Thread
---@field interval number
---@field fn function
---@field args table
---@field finished threading.Event
local threading_Timer = {}

--- Stops the timer if it has not fired yet (the thread then ends without
--- Reference: docs/threading.md, entry `threading.Timer:cancel`
function threading_Timer:cancel() end

---@class threading.local
local threading_local = {}

--- A subclass of threading.local, as Python's class MyLocal(local). Give
--- Reference: docs/threading.md, entry `threading.local:subclass`
---@param name? string
---@return table
function threading_local:subclass(name) end

---@class threading.Lock
local threading_Lock = {}

--- Raises ValueError for a timeout with blocking == false or a negative
--- Reference: docs/threading.md, entry `threading.Lock:acquire`
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_Lock:acquire(blocking, timeout) end

--- Raises RuntimeError ("release unlocked lock") when it is not locked.
--- Reference: docs/threading.md, entry `threading.Lock:release`
function threading_Lock:release() end

--- Python: Lock.locked().
--- Reference: docs/threading.md, entry `threading.Lock:locked`
---@return boolean
function threading_Lock:locked() end

--- Acquires the lock (blocking) and returns it for a <close> variable,
--- Reference: docs/threading.md, entry `threading.Lock:guard`
---@return threading.Lock
function threading_Lock:guard() end

--- Calls fn(...) with the lock held and releases it afterwards, also when
--- Reference: docs/threading.md, entry `threading.Lock:with`
---@param fn function
---@param ... any
---@return any...
function threading_Lock:with(fn, ...) end

---@class threading.RLock
local threading_RLock = {}

--- As Lock:acquire; the owner acquiring again succeeds at once.
--- Reference: docs/threading.md, entry `threading.RLock:acquire`
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_RLock:acquire(blocking, timeout) end

--- Raises RuntimeError when the calling thread does not own the lock.
--- Reference: docs/threading.md, entry `threading.RLock:release`
function threading_RLock:release() end

--- Reference: docs/threading.md, entry `threading.RLock:locked`
---@return boolean
function threading_RLock:locked() end

--- Acquires (blocking) for a <close> variable.
--- Reference: docs/threading.md, entry `threading.RLock:guard`
---@return threading.RLock
function threading_RLock:guard() end

--- Calls fn(...) with the lock held.
--- Reference: docs/threading.md, entry `threading.RLock:with`
---@param fn function
---@param ... any
---@return any...
function threading_RLock:with(fn, ...) end

---@class threading.Condition
local threading_Condition = {}

--- Acquires the underlying lock.
--- Reference: docs/threading.md, entry `threading.Condition:acquire`
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_Condition:acquire(blocking, timeout) end

--- Releases the underlying lock.
--- Reference: docs/threading.md, entry `threading.Condition:release`
function threading_Condition:release() end

--- Releases the lock, waits for a notify (or the timeout), re-acquires.
--- Reference: docs/threading.md, entry `threading.Condition:wait`
---@param timeout? number
---@return boolean
function threading_Condition:wait(timeout) end

--- Waits until predicate() returns a true value (checked first, then after
--- Reference: docs/threading.md, entry `threading.Condition:wait_for`
---@param predicate function
---@param timeout? number
---@return any
function threading_Condition:wait_for(predicate, timeout) end

--- Wakes up to n threads waiting on the condition.
--- Reference: docs/threading.md, entry `threading.Condition:notify`
---@param n? integer
function threading_Condition:notify(n) end

--- Wakes every waiting thread.
--- Reference: docs/threading.md, entry `threading.Condition:notify_all`
function threading_Condition:notify_all() end

--- Acquires the lock for a <close> variable.
--- Reference: docs/threading.md, entry `threading.Condition:guard`
---@return threading.Condition
function threading_Condition:guard() end

--- Calls fn(...) with the lock held.
--- Reference: docs/threading.md, entry `threading.Condition:with`
---@param fn function
---@param ... any
---@return any...
function threading_Condition:with(fn, ...) end

---@class threading.Semaphore
local threading_Semaphore = {}

--- Raises ValueError for a timeout with blocking == false. Python:
--- Reference: docs/threading.md, entry `threading.Semaphore:acquire`
---@param blocking? boolean
---@param timeout? number
---@return boolean
function threading_Semaphore:acquire(blocking, timeout) end

--- Raises ValueError when n < 1, and for a BoundedSemaphore when the
--- Reference: docs/threading.md, entry `threading.Semaphore:release`
---@param n? integer
function threading_Semaphore:release(n) end

--- Takes a unit (blocking) for a <close> variable, which gives it back.
--- Reference: docs/threading.md, entry `threading.Semaphore:guard`
---@return threading.Semaphore
function threading_Semaphore:guard() end

--- Calls fn(...) holding a unit.
--- Reference: docs/threading.md, entry `threading.Semaphore:with`
---@param fn function
---@param ... any
---@return any...
function threading_Semaphore:with(fn, ...) end

---@class threading.Event
local threading_Event = {}

--- Reference: docs/threading.md, entry `threading.Event:is_set`
---@return boolean
function threading_Event:is_set() end

--- Sets the flag and wakes every waiter.
--- Reference: docs/threading.md, entry `threading.Event:set`
function threading_Event:set() end

--- Clears the flag.
--- Reference: docs/threading.md, entry `threading.Event:clear`
function threading_Event:clear() end

--- Waits until the flag is set.
--- Reference: docs/threading.md, entry `threading.Event:wait`
---@param timeout? number
---@return boolean
function threading_Event:wait(timeout) end

---@class threading.Barrier
---@field parties integer
---@field n_waiting integer
---@field broken boolean
local threading_Barrier = {}

--- Raises threading.BrokenBarrierError when the barrier is broken or breaks
--- Reference: docs/threading.md, entry `threading.Barrier:wait`
---@param timeout? number
---@return integer
function threading_Barrier:wait(timeout) end

--- Returns the barrier to its initial state; threads waiting get
--- Reference: docs/threading.md, entry `threading.Barrier:reset`
function threading_Barrier:reset() end

--- Breaks the barrier: current and later wait calls raise
--- Reference: docs/threading.md, entry `threading.Barrier:abort`
function threading_Barrier:abort() end

--- Makes a thread object (not started). One table of named parameters, as
--- Reference: docs/threading.md, entry `threading.Thread`
---@param opts? table
---@overload fun(opts: {target?: function, args?: table, name?: string, daemon?: boolean}): threading.Thread
---@return threading.Thread
function M.Thread(opts) end

--- A thread that calls fn(table.unpack(args)) after interval seconds
--- Reference: docs/threading.md, entry `threading.Timer`
---@param interval number
---@param fn function
---@param args? table
---@overload fun(opts: {interval: number, function?: function, fn?: function, args?: table}): threading.Timer
---@return threading.Timer
function M.Timer(interval, fn, args) end

--- Python: threading.current_thread().
--- Reference: docs/threading.md, entry `threading.current_thread`
---@return threading.Thread
function M.current_thread() end

--- Python's old spelling of current_thread().
--- Reference: docs/threading.md, entry `threading.currentThread`
---@return threading.Thread
function M.currentThread() end

--- Python: threading.main_thread().
--- Reference: docs/threading.md, entry `threading.main_thread`
---@return threading.Thread
function M.main_thread() end

--- Python: threading.enumerate().
--- Reference: docs/threading.md, entry `threading.enumerate`
---@return threading.Thread[]
function M.enumerate() end

--- Python: threading.active_count().
--- Reference: docs/threading.md, entry `threading.active_count`
---@return integer
function M.active_count() end

--- Python's old spelling of active_count().
--- Reference: docs/threading.md, entry `threading.activeCount`
---@return integer
function M.activeCount() end

--- Python: threading.get_ident().
--- Reference: docs/threading.md, entry `threading.get_ident`
---@return integer
function M.get_ident() end

--- Python: threading.get_native_id().
--- Reference: docs/threading.md, entry `threading.get_native_id`
---@return integer
function M.get_native_id() end

--- Gets or sets the stack size of threads started later.
--- Reference: docs/threading.md, entry `threading.stack_size`
---@param size? integer
---@return integer
function M.stack_size(size) end

--- braid: how many OS threads of ended threads stay parked for reuse, and
--- Reference: docs/threading.md, entry `threading.thread_reuse`
---@param max? integer
---@param idle_timeout? number
---@return integer
---@return number
function M.thread_reuse(max, idle_timeout) end

--- Python: threading.excepthook.
--- Reference: docs/threading.md, entry `threading.excepthook`
---@type function
M["excepthook"] = nil

--- Python: threading.__excepthook__.
--- Reference: docs/threading.md, entry `threading.__excepthook__`
---@type function
M["__excepthook__"] = nil

--- Python: threading.TIMEOUT_MAX.
--- Reference: docs/threading.md, entry `threading.TIMEOUT_MAX`
---@type number
M["TIMEOUT_MAX"] = nil

--- Reference: docs/threading.md, entry `threading.ThreadError`
---@type table
M["ThreadError"] = nil

--- Reference: docs/threading.md, entry `threading.BrokenBarrierError`
---@type table
M["BrokenBarrierError"] = nil

--- An object whose fields are separate in each thread: a thread sees only the
--- Reference: docs/threading.md, entry `threading.local`
---@param ... any
---@return userdata
M["local"] = function(...) end

--- The same constructor as threading["local"].
--- Reference: docs/threading.md, entry `threading.Local`
---@return userdata
function M.Local() end

--- A lock any thread may release, shared by reference with the threads it is
--- Reference: docs/threading.md, entry `threading.Lock`
---@return threading.Lock
function M.Lock() end

--- A re-entrant lock: the thread that holds it may acquire it again and must
--- Reference: docs/threading.md, entry `threading.RLock`
---@return threading.RLock
function M.RLock() end

--- A condition variable over a lock (by default a new RLock).
--- Reference: docs/threading.md, entry `threading.Condition`
---@param lock? any
---@overload fun(opts: {lock?: any}): threading.Condition
---@return threading.Condition
function M.Condition(lock) end

--- A counter: acquire takes one unit (waiting while there is none),
--- Reference: docs/threading.md, entry `threading.Semaphore`
---@param value? integer
---@overload fun(opts: {value?: integer}): threading.Semaphore
---@return threading.Semaphore
function M.Semaphore(value) end

--- A Semaphore whose release refuses to pass the initial value.
--- Reference: docs/threading.md, entry `threading.BoundedSemaphore`
---@param value? integer
---@overload fun(opts: {value?: integer}): threading.BoundedSemaphore
---@return threading.BoundedSemaphore
function M.BoundedSemaphore(value) end

--- A flag threads can wait for.
--- Reference: docs/threading.md, entry `threading.Event`
---@return threading.Event
function M.Event() end

--- Makes parties threads wait for each other.
--- Reference: docs/threading.md, entry `threading.Barrier`
---@param parties integer
---@param action? function
---@param timeout? number
---@overload fun(opts: {parties: integer, action?: function, timeout?: number}): threading.Barrier
---@return threading.Barrier
function M.Barrier(parties, action, timeout) end

return M

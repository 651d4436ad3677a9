---@meta braid._thread
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid._thread"`.

---@class _thread
local M = {}

--- Starts a thread that runs fn(args...) and returns its identifier. When
--- Reference: docs/_thread.md, entry `_thread.start_new_thread`
---@param fn function
---@param args table
---@param kwargs? table
---@return integer
function M.start_new_thread(fn, args, kwargs) end

--- Python's old name of start_new_thread: the same function.
--- Reference: docs/_thread.md, entry `_thread.start_new`
---@param fn function
---@param args table
---@param kwargs? table
---@return integer
function M.start_new(fn, args, kwargs) end

--- A new unlocked lock: the same object as threading.Lock(), with
--- Reference: docs/_thread.md, entry `_thread.allocate_lock`
---@return threading.Lock
function M.allocate_lock() end

--- The lock's constructor (Python's _thread.LockType, callable as
--- Reference: docs/_thread.md, entry `_thread.LockType`
---@return threading.Lock
function M.LockType() end

--- A reentrant lock: the same object as threading.RLock().
--- Reference: docs/_thread.md, entry `_thread.RLock`
---@return threading.RLock
function M.RLock() end

--- The calling thread's identifier (the same as threading.get_ident()).
--- Reference: docs/_thread.md, entry `_thread.get_ident`
---@return integer
function M.get_ident() end

--- The calling thread's id given by the OS (the same as
--- Reference: docs/_thread.md, entry `_thread.get_native_id`
---@return integer
function M.get_native_id() end

--- Raises SystemExit: in a thread of start_new_thread it ends the thread
--- Reference: docs/_thread.md, entry `_thread.exit`
function M.exit() end

--- Python's old name of exit: the same function.
--- Reference: docs/_thread.md, entry `_thread.exit_thread`
function M.exit_thread() end

--- Makes the main thread raise KeyboardInterrupt as a Ctrl-C would
--- Reference: docs/_thread.md, entry `_thread.interrupt_main`
---@param signum? integer
function M.interrupt_main(signum) end

--- Reads, and with size sets, the stack size of threads created later (the
--- Reference: docs/_thread.md, entry `_thread.stack_size`
---@param size? integer
---@return integer
function M.stack_size(size) end

--- Python: _thread.TIMEOUT_MAX.
--- Reference: docs/_thread.md, entry `_thread.TIMEOUT_MAX`
---@type number
M["TIMEOUT_MAX"] = nil

--- Python: _thread.error.
--- Reference: docs/_thread.md, entry `_thread.error`
---@type table
M["error"] = nil

return M

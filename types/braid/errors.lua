---@meta braid.errors
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.errors"`.

---@class errors
local M = {}

---@class errors.BaseException
---@field name string
---@field short_name string
---@field super table?
---@field type table
---@field message any
---@field args table?
---@field traceback string?
---@field cause any
---@field value any
---@field code any
local errors_BaseException = {}

--- Reference: docs/errors.md, entry `errors.BaseException:is`
---@param err any
---@return boolean
function errors_BaseException:is(err) end

--- Reference: docs/errors.md, entry `errors.BaseException:subclass`
---@param name string
---@return table
function errors_BaseException:subclass(name) end

--- Defines a class, or returns the existing class of that name.
--- Reference: docs/errors.md, entry `errors.class`
---@param name string
---@param super? table
---@return table
function M.class(name, super) end

--- Reference: docs/errors.md, entry `errors.subclass`
---@param cls table
---@param name string
---@return table
function M.subclass(cls, name) end

--- The function behind Class:is(err).
--- Reference: docs/errors.md, entry `errors.is`
---@param cls table
---@param err any
---@return boolean
function M.is(cls, err) end

--- The class of a qualified name. An unknown name gets a new subclass of
--- Reference: docs/errors.md, entry `errors.lookup`
---@param name string
---@return table
function M.lookup(name) end

--- Raises a new error of the class lookup(name).
--- Reference: docs/errors.md, entry `errors.raise`
---@param name string
---@param message? string
---@param level? integer
function M.raise(name, message, level) end

--- The exit status a SystemExit gives by Python's rules (what sys.exit
--- Reference: docs/errors.md, entry `errors.exit_status`
---@param e table
---@return string?
function M.exit_status(e) end

--- Makes any error value an error object: an error object is returned as is
--- Reference: docs/errors.md, entry `errors.wrap`
---@param value any
---@param traceback? string
---@return table
function M.wrap(value, traceback) end

--- What tostring(err) gives: name: message, then the traceback, then
--- Reference: docs/errors.md, entry `errors.format`
---@param err table
---@return string
function M.format(err) end

--- Python's repr() of a string, a sequence of strings, a number, a
--- Reference: docs/errors.md, entry `errors.pyrepr`
---@param v any
---@return string
function M.pyrepr(v) end

--- Reference: docs/errors.md, entry `errors.classes`
---@type table
M["classes"] = nil

--- Reference: docs/errors.md, entry `errors.BaseException`
---@type table
M["BaseException"] = nil

--- Reference: docs/errors.md, entry `errors.SystemExit`
---@type table
M["SystemExit"] = nil

--- Reference: docs/errors.md, entry `errors.KeyboardInterrupt`
---@type table
M["KeyboardInterrupt"] = nil

--- Reference: docs/errors.md, entry `errors.GeneratorExit`
---@type table
M["GeneratorExit"] = nil

--- Reference: docs/errors.md, entry `errors.Exception`
---@type table
M["Exception"] = nil

--- Reference: docs/errors.md, entry `errors.ArithmeticError`
---@type table
M["ArithmeticError"] = nil

--- Reference: docs/errors.md, entry `errors.OverflowError`
---@type table
M["OverflowError"] = nil

--- Reference: docs/errors.md, entry `errors.ZeroDivisionError`
---@type table
M["ZeroDivisionError"] = nil

--- Reference: docs/errors.md, entry `errors.AssertionError`
---@type table
M["AssertionError"] = nil

--- Reference: docs/errors.md, entry `errors.AttributeError`
---@type table
M["AttributeError"] = nil

--- Reference: docs/errors.md, entry `errors.EOFError`
---@type table
M["EOFError"] = nil

--- Reference: docs/errors.md, entry `errors.MemoryError`
---@type table
M["MemoryError"] = nil

--- Reference: docs/errors.md, entry `errors.NameError`
---@type table
M["NameError"] = nil

--- Reference: docs/errors.md, entry `errors.ImportError`
---@type table
M["ImportError"] = nil

--- Reference: docs/errors.md, entry `errors.ModuleNotFoundError`
---@type table
M["ModuleNotFoundError"] = nil

--- Reference: docs/errors.md, entry `errors.LookupError`
---@type table
M["LookupError"] = nil

--- Reference: docs/errors.md, entry `errors.IndexError`
---@type table
M["IndexError"] = nil

--- Reference: docs/errors.md, entry `errors.KeyError`
---@type table
M["KeyError"] = nil

--- Reference: docs/errors.md, entry `errors.OSError`
---@type table
M["OSError"] = nil

--- Reference: docs/errors.md, entry `errors.FileNotFoundError`
---@type table
M["FileNotFoundError"] = nil

--- Reference: docs/errors.md, entry `errors.FileExistsError`
---@type table
M["FileExistsError"] = nil

--- Reference: docs/errors.md, entry `errors.PermissionError`
---@type table
M["PermissionError"] = nil

--- Reference: docs/errors.md, entry `errors.ProcessLookupError`
---@type table
M["ProcessLookupError"] = nil

--- Reference: docs/errors.md, entry `errors.ChildProcessError`
---@type table
M["ChildProcessError"] = nil

--- Reference: docs/errors.md, entry `errors.ConnectionError`
---@type table
M["ConnectionError"] = nil

--- Reference: docs/errors.md, entry `errors.BrokenPipeError`
---@type table
M["BrokenPipeError"] = nil

--- Reference: docs/errors.md, entry `errors.ConnectionResetError`
---@type table
M["ConnectionResetError"] = nil

--- Reference: docs/errors.md, entry `errors.ConnectionRefusedError`
---@type table
M["ConnectionRefusedError"] = nil

--- Reference: docs/errors.md, entry `errors.ConnectionAbortedError`
---@type table
M["ConnectionAbortedError"] = nil

--- Reference: docs/errors.md, entry `errors.TimeoutError`
---@type table
M["TimeoutError"] = nil

--- Reference: docs/errors.md, entry `errors.InterruptedError`
---@type table
M["InterruptedError"] = nil

--- Reference: docs/errors.md, entry `errors.RuntimeError`
---@type table
M["RuntimeError"] = nil

--- Reference: docs/errors.md, entry `errors.NotImplementedError`
---@type table
M["NotImplementedError"] = nil

--- Reference: docs/errors.md, entry `errors.RecursionError`
---@type table
M["RecursionError"] = nil

--- Reference: docs/errors.md, entry `errors.TypeError`
---@type table
M["TypeError"] = nil

--- Reference: docs/errors.md, entry `errors.ValueError`
---@type table
M["ValueError"] = nil

--- Reference: docs/errors.md, entry `errors.UnicodeError`
---@type table
M["UnicodeError"] = nil

--- Reference: docs/errors.md, entry `errors.StopIteration`
---@type table
M["StopIteration"] = nil

--- Reference: docs/errors.md, entry `errors.LuaError`
---@type table
M["LuaError"] = nil

return M

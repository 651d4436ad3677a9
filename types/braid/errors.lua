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

--- [docs](../../docs/errors.md#L164)
---@param err any
---@return boolean
function errors_BaseException:is(err) end

--- [docs](../../docs/errors.md#L175)
---@param name string
---@return table
function errors_BaseException:subclass(name) end

--- Defines a class, or returns the existing class of that name.
--- [docs](../../docs/errors.md#L42)
---@param name string
---@param super? table
---@return table
function M.class(name, super) end

--- [docs](../../docs/errors.md#L59)
---@param cls table
---@param name string
---@return table
function M.subclass(cls, name) end

--- The function behind Class:is(err).
--- [docs](../../docs/errors.md#L73)
---@param cls table
---@param err any
---@return boolean
function M.is(cls, err) end

--- The class of a qualified name. An unknown name gets a new subclass of
--- [docs](../../docs/errors.md#L88)
---@param name string
---@return table
function M.lookup(name) end

--- Raises a new error of the class lookup(name).
--- [docs](../../docs/errors.md#L104)
---@param name string
---@param message? string
---@param level? integer
function M.raise(name, message, level) end

--- Makes any error value an error object: an error object is returned as is
--- [docs](../../docs/errors.md#L119)
---@param value any
---@param traceback? string
---@return table
function M.wrap(value, traceback) end

--- What tostring(err) gives: name: message, then the traceback, then
--- [docs](../../docs/errors.md#L136)
---@param err table
---@return string
function M.format(err) end

--- [docs](../../docs/errors.md#L149)
---@type table
M["classes"] = nil

--- [docs](../../docs/errors.md#L290)
---@type table
M["BaseException"] = nil

--- [docs](../../docs/errors.md#L300)
---@type table
M["SystemExit"] = nil

--- [docs](../../docs/errors.md#L310)
---@type table
M["KeyboardInterrupt"] = nil

--- [docs](../../docs/errors.md#L320)
---@type table
M["GeneratorExit"] = nil

--- [docs](../../docs/errors.md#L330)
---@type table
M["Exception"] = nil

--- [docs](../../docs/errors.md#L340)
---@type table
M["ArithmeticError"] = nil

--- [docs](../../docs/errors.md#L350)
---@type table
M["OverflowError"] = nil

--- [docs](../../docs/errors.md#L360)
---@type table
M["ZeroDivisionError"] = nil

--- [docs](../../docs/errors.md#L370)
---@type table
M["AssertionError"] = nil

--- [docs](../../docs/errors.md#L380)
---@type table
M["AttributeError"] = nil

--- [docs](../../docs/errors.md#L390)
---@type table
M["EOFError"] = nil

--- [docs](../../docs/errors.md#L400)
---@type table
M["MemoryError"] = nil

--- [docs](../../docs/errors.md#L410)
---@type table
M["NameError"] = nil

--- [docs](../../docs/errors.md#L420)
---@type table
M["ImportError"] = nil

--- [docs](../../docs/errors.md#L430)
---@type table
M["ModuleNotFoundError"] = nil

--- [docs](../../docs/errors.md#L440)
---@type table
M["LookupError"] = nil

--- [docs](../../docs/errors.md#L450)
---@type table
M["IndexError"] = nil

--- [docs](../../docs/errors.md#L460)
---@type table
M["KeyError"] = nil

--- [docs](../../docs/errors.md#L470)
---@type table
M["OSError"] = nil

--- [docs](../../docs/errors.md#L480)
---@type table
M["FileNotFoundError"] = nil

--- [docs](../../docs/errors.md#L490)
---@type table
M["FileExistsError"] = nil

--- [docs](../../docs/errors.md#L500)
---@type table
M["PermissionError"] = nil

--- [docs](../../docs/errors.md#L510)
---@type table
M["ProcessLookupError"] = nil

--- [docs](../../docs/errors.md#L520)
---@type table
M["ChildProcessError"] = nil

--- [docs](../../docs/errors.md#L530)
---@type table
M["ConnectionError"] = nil

--- [docs](../../docs/errors.md#L540)
---@type table
M["BrokenPipeError"] = nil

--- [docs](../../docs/errors.md#L550)
---@type table
M["ConnectionResetError"] = nil

--- [docs](../../docs/errors.md#L560)
---@type table
M["TimeoutError"] = nil

--- [docs](../../docs/errors.md#L570)
---@type table
M["InterruptedError"] = nil

--- [docs](../../docs/errors.md#L580)
---@type table
M["RuntimeError"] = nil

--- [docs](../../docs/errors.md#L590)
---@type table
M["NotImplementedError"] = nil

--- [docs](../../docs/errors.md#L600)
---@type table
M["RecursionError"] = nil

--- [docs](../../docs/errors.md#L610)
---@type table
M["TypeError"] = nil

--- [docs](../../docs/errors.md#L620)
---@type table
M["ValueError"] = nil

--- [docs](../../docs/errors.md#L630)
---@type table
M["UnicodeError"] = nil

--- [docs](../../docs/errors.md#L640)
---@type table
M["StopIteration"] = nil

--- [docs](../../docs/errors.md#L650)
---@type table
M["LuaError"] = nil

return M

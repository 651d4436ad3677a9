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

--- [docs](../../docs/errors.md#L160)
---@param err any
---@return boolean
function errors_BaseException:is(err) end

--- [docs](../../docs/errors.md#L171)
---@param name string
---@return table
function errors_BaseException:subclass(name) end

--- Defines a class, or returns the existing class of that name.
--- [docs](../../docs/errors.md#L38)
---@param name string
---@param super? table
---@return table
function M.class(name, super) end

--- [docs](../../docs/errors.md#L55)
---@param cls table
---@param name string
---@return table
function M.subclass(cls, name) end

--- The function behind Class:is(err).
--- [docs](../../docs/errors.md#L69)
---@param cls table
---@param err any
---@return boolean
function M.is(cls, err) end

--- The class of a qualified name. An unknown name gets a new subclass of
--- [docs](../../docs/errors.md#L84)
---@param name string
---@return table
function M.lookup(name) end

--- Raises a new error of the class lookup(name).
--- [docs](../../docs/errors.md#L100)
---@param name string
---@param message? string
---@param level? integer
function M.raise(name, message, level) end

--- Makes any error value an error object: an error object is returned as is
--- [docs](../../docs/errors.md#L115)
---@param value any
---@param traceback? string
---@return table
function M.wrap(value, traceback) end

--- What tostring(err) gives: name: message, then the traceback, then
--- [docs](../../docs/errors.md#L132)
---@param err table
---@return string
function M.format(err) end

--- [docs](../../docs/errors.md#L145)
---@type table
M["classes"] = nil

--- [docs](../../docs/errors.md#L286)
---@type table
M["BaseException"] = nil

--- [docs](../../docs/errors.md#L296)
---@type table
M["SystemExit"] = nil

--- [docs](../../docs/errors.md#L306)
---@type table
M["KeyboardInterrupt"] = nil

--- [docs](../../docs/errors.md#L316)
---@type table
M["GeneratorExit"] = nil

--- [docs](../../docs/errors.md#L326)
---@type table
M["Exception"] = nil

--- [docs](../../docs/errors.md#L336)
---@type table
M["ArithmeticError"] = nil

--- [docs](../../docs/errors.md#L346)
---@type table
M["OverflowError"] = nil

--- [docs](../../docs/errors.md#L356)
---@type table
M["ZeroDivisionError"] = nil

--- [docs](../../docs/errors.md#L366)
---@type table
M["AssertionError"] = nil

--- [docs](../../docs/errors.md#L376)
---@type table
M["AttributeError"] = nil

--- [docs](../../docs/errors.md#L386)
---@type table
M["EOFError"] = nil

--- [docs](../../docs/errors.md#L396)
---@type table
M["MemoryError"] = nil

--- [docs](../../docs/errors.md#L406)
---@type table
M["NameError"] = nil

--- [docs](../../docs/errors.md#L416)
---@type table
M["ImportError"] = nil

--- [docs](../../docs/errors.md#L426)
---@type table
M["ModuleNotFoundError"] = nil

--- [docs](../../docs/errors.md#L436)
---@type table
M["LookupError"] = nil

--- [docs](../../docs/errors.md#L446)
---@type table
M["IndexError"] = nil

--- [docs](../../docs/errors.md#L456)
---@type table
M["KeyError"] = nil

--- [docs](../../docs/errors.md#L466)
---@type table
M["OSError"] = nil

--- [docs](../../docs/errors.md#L476)
---@type table
M["FileNotFoundError"] = nil

--- [docs](../../docs/errors.md#L486)
---@type table
M["FileExistsError"] = nil

--- [docs](../../docs/errors.md#L496)
---@type table
M["PermissionError"] = nil

--- [docs](../../docs/errors.md#L506)
---@type table
M["ProcessLookupError"] = nil

--- [docs](../../docs/errors.md#L516)
---@type table
M["ChildProcessError"] = nil

--- [docs](../../docs/errors.md#L526)
---@type table
M["ConnectionError"] = nil

--- [docs](../../docs/errors.md#L536)
---@type table
M["BrokenPipeError"] = nil

--- [docs](../../docs/errors.md#L546)
---@type table
M["ConnectionResetError"] = nil

--- [docs](../../docs/errors.md#L556)
---@type table
M["TimeoutError"] = nil

--- [docs](../../docs/errors.md#L566)
---@type table
M["InterruptedError"] = nil

--- [docs](../../docs/errors.md#L576)
---@type table
M["RuntimeError"] = nil

--- [docs](../../docs/errors.md#L586)
---@type table
M["NotImplementedError"] = nil

--- [docs](../../docs/errors.md#L596)
---@type table
M["RecursionError"] = nil

--- [docs](../../docs/errors.md#L606)
---@type table
M["TypeError"] = nil

--- [docs](../../docs/errors.md#L616)
---@type table
M["ValueError"] = nil

--- [docs](../../docs/errors.md#L626)
---@type table
M["UnicodeError"] = nil

--- [docs](../../docs/errors.md#L636)
---@type table
M["StopIteration"] = nil

--- [docs](../../docs/errors.md#L646)
---@type table
M["LuaError"] = nil

return M

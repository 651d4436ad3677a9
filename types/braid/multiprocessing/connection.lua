---@meta braid.multiprocessing.connection
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.connection"`.

---@class connection
local M = {}

---@class connection.Connection
---@field closed boolean
---@field readable boolean
---@field writable boolean
local connection_Connection = {}

--- Sends a copy of obj (value transfer, as between threads). A message
--- [docs](../../docs/multiprocessing.md#L474)
---@param obj any
function connection_Connection:send(obj) end

--- Receives one object sent with send.
--- [docs](../../docs/multiprocessing.md#L493)
---@return any
function connection_Connection:recv() end

--- Sends bytes as one message.
--- [docs](../../docs/multiprocessing.md#L509)
---@param buf string
---@param offset? integer
---@param size? integer
function connection_Connection:send_bytes(buf, offset, size) end

--- Raises OSError for a message longer than maxlength, EOFError at the
--- [docs](../../docs/multiprocessing.md#L527)
---@param maxlength? integer
---@return string
function connection_Connection:recv_bytes(maxlength) end

--- Reads one message into a braid buffer.
--- [docs](../../docs/multiprocessing.md#L541)
---@param buf any
---@param offset? integer
---@return integer
function connection_Connection:recv_bytes_into(buf, offset) end

--- Python: Connection.poll(timeout=0).
--- [docs](../../docs/multiprocessing.md#L561)
---@param timeout? number
---@return boolean
function connection_Connection:poll(timeout) end

--- [docs](../../docs/multiprocessing.md#L575)
---@return integer
function connection_Connection:fileno() end

--- Closes this end (the other end's recv then raises EOFError).
--- [docs](../../docs/multiprocessing.md#L584)
function connection_Connection:close() end

--- [docs](../../docs/multiprocessing-modules.md#L86)
---@param duplex? boolean
---@return connection.Connection
---@return connection.Connection
function M.Pipe(duplex) end

--- Waits until some of objects are ready.
--- [docs](../../docs/multiprocessing-modules.md#L98)
---@param objects table
---@param timeout? number
---@return table
function M.wait(objects, timeout) end

return M

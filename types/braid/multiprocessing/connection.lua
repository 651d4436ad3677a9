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
--- Reference: docs/multiprocessing.md, entry `connection.Connection:send`
---@param obj any
function connection_Connection:send(obj) end

--- Receives one object sent with send.
--- Reference: docs/multiprocessing.md, entry `connection.Connection:recv`
---@return any
function connection_Connection:recv() end

--- Sends bytes as one message.
--- Reference: docs/multiprocessing.md, entry `connection.Connection:send_bytes`
---@param buf string
---@param offset? integer
---@param size? integer
function connection_Connection:send_bytes(buf, offset, size) end

--- Raises OSError for a message longer than maxlength, EOFError at the
--- Reference: docs/multiprocessing.md, entry `connection.Connection:recv_bytes`
---@param maxlength? integer
---@return string
function connection_Connection:recv_bytes(maxlength) end

--- Reads one message into a braid buffer.
--- Reference: docs/multiprocessing.md, entry `connection.Connection:recv_bytes_into`
---@param buf any
---@param offset? integer
---@return integer
function connection_Connection:recv_bytes_into(buf, offset) end

--- Python: Connection.poll(timeout=0).
--- Reference: docs/multiprocessing.md, entry `connection.Connection:poll`
---@param timeout? number
---@return boolean
function connection_Connection:poll(timeout) end

--- Reference: docs/multiprocessing.md, entry `connection.Connection:fileno`
---@return integer
function connection_Connection:fileno() end

--- Closes this end (the other end's recv then raises EOFError).
--- Reference: docs/multiprocessing.md, entry `connection.Connection:close`
function connection_Connection:close() end

--- Reference: docs/multiprocessing-modules.md, entry `connection.Pipe`
---@param duplex? boolean
---@return connection.Connection
---@return connection.Connection
function M.Pipe(duplex) end

--- Waits until some of objects are ready.
--- Reference: docs/multiprocessing-modules.md, entry `connection.wait`
---@param objects table
---@param timeout? number
---@return table
function M.wait(objects, timeout) end

return M

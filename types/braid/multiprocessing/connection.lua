---@meta braid.multiprocessing.connection
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.connection"`.

---@class connection
local M = {}

---@class connection.Connection
---@field closed boolean
---@field readable boolean
---@field writable boolean
---@field allow_code boolean
---@field maxsize integer?
---@field readahead boolean
---@field buffered integer
local connection_Connection = {}

--- Sends a copy of obj (value transfer, as between threads). A message
--- Reference: docs/multiprocessing.md, entry `connection.Connection:send`
---@param obj any
function connection_Connection:send(obj) end

--- Receives one object sent with send. On a connection whose allow_code
--- Reference: docs/multiprocessing.md, entry `connection.Connection:recv`
---@return any
function connection_Connection:recv() end

--- Sends bytes as one message.
--- Reference: docs/multiprocessing.md, entry `connection.Connection:send_bytes`
---@param buf string
---@param offset? integer
---@param size? integer
function connection_Connection:send_bytes(buf, offset, size) end

--- Raises OSError("bad message length") for a message longer than
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

---@class connection.Listener
---@field address any
---@field last_accepted any?
local connection_Listener = {}

--- Waits for a peer and returns its Connection, after the handshake when
--- Reference: docs/multiprocessing-modules.md, entry `connection.Listener:accept`
---@return connection.Connection
function connection_Listener:accept() end

--- Closes the socket (idempotent); removes the socket file it bound (not an
--- Reference: docs/multiprocessing-modules.md, entry `connection.Listener:close`
function connection_Listener:close() end

--- Reference: docs/multiprocessing-modules.md, entry `connection.Listener:fileno`
---@return integer
function connection_Listener:fileno() end

--- Reference: docs/multiprocessing-modules.md, entry `connection.Pipe`
---@param duplex? boolean
---@return connection.Connection
---@return connection.Connection
function M.Pipe(duplex) end

--- A bound, listening socket. Also Listener{address=, family=, backlog=,
--- Reference: docs/multiprocessing-modules.md, entry `connection.Listener`
---@param address? any
---@param family? string
---@param backlog? integer
---@param authkey? string
---@param opts? table
---@return connection.Listener
function M.Listener(address, family, backlog, authkey, opts) end

--- Connects to a Listener (braid's or Python's). Also Client{address=,
--- Reference: docs/multiprocessing-modules.md, entry `connection.Client`
---@param address any
---@param family? string
---@param authkey? string
---@param opts? table
---@return connection.Connection
function M.Client(address, family, authkey, opts) end

--- Reference: docs/multiprocessing-modules.md, entry `connection.families`
---@type table
M["families"] = nil

--- Reference: docs/multiprocessing-modules.md, entry `connection.default_family`
---@type string
M["default_family"] = nil

--- Raises ValueError otherwise. Python: address_type(address).
--- Reference: docs/multiprocessing-modules.md, entry `connection.address_type`
---@param address any
---@return string
function M.address_type(address) end

--- Python: arbitrary_address(family).
--- Reference: docs/multiprocessing-modules.md, entry `connection.arbitrary_address`
---@param family string
---@return any
function M.arbitrary_address(family) end

--- Sends a challenge over connection and checks the answer (the
--- Reference: docs/multiprocessing-modules.md, entry `connection.deliver_challenge`
---@param connection connection.Connection
---@param authkey string
---@param digest_name? string
function M.deliver_challenge(connection, authkey, digest_name) end

--- Answers the peer's challenge (the Client's first half).
--- Reference: docs/multiprocessing-modules.md, entry `connection.answer_challenge`
---@param connection connection.Connection
---@param authkey string
function M.answer_challenge(connection, authkey) end

--- Waits until some of objects are ready.
--- Reference: docs/multiprocessing-modules.md, entry `connection.wait`
---@param objects table
---@param timeout? number
---@return table
function M.wait(objects, timeout) end

return M

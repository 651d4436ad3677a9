--- Python's `multiprocessing.connection`: `Pipe` and `wait`.
--
-- `Pipe(duplex)` returns two `Connection`s over a Unix socket pair (also
-- for `duplex=false`, where the first end only reads and the second only
-- writes): `send(obj)` (value transfer: objects of `braid.multiprocessing`
-- refuse with RuntimeError, as Python's do, and thread-only objects,
-- coroutines and files raise TypeError naming the path), `recv()`,
-- `send_bytes(buf, offset, size)` (0-based byte offset), `recv_bytes(maxlength)`,
-- `recv_bytes_into(buf, offset)` (`buf` a braid `Array` or `SharedMemory`;
-- BufferTooShort carries the message in `err.value`), `poll(timeout)`
-- (true at end of file too), `fileno()`, `close()`, `closed`,
-- `readable`, `writable`. `recv` raises EOFError once the peer closed;
-- `send` to a closed peer raises BrokenPipeError. Frames are an 8-byte
-- length and the bytes; a message larger than the socket buffer blocks the
-- writer until the reader drains it.
-- @module braid.multiprocessing.connection
local core = require "braid.core"
local errors = require "braid.errors"
local type, ipairs, error, getmetatable = type, ipairs, error, getmetatable
local math_type = math.type
_ENV = nil

local M = {}

--- `Pipe([duplex=true])` -> conn1, conn2
function M.Pipe(duplex)
  if duplex == nil then duplex = true end
  return core.Pipe(duplex)
end

local function fdof(o)
  if math_type(o) == "integer" then return o end
  local mt = getmetatable(o)
  if type(o) == "userdata" and o.fileno then return o:fileno() end
  if type(o) == "table" then
    if o.sentinel ~= nil and mt and mt.__name and o.join then return o.sentinel end
    if o._reader then return fdof(o._reader) end
  end
  error(errors.TypeError("wait: objects must be Connections, Process "
                         .. "objects or integer file descriptors"), 3)
end

--- `wait(objects, [timeout])` -> the objects that are ready (a sequence).
-- Objects: Connections (readable or at end of file), Process objects
-- (ended; their `sentinel`), integer descriptors.
function M.wait(objects, timeout)
  local fds = {}
  for i, o in ipairs(objects) do fds[i] = fdof(o) end
  local ready = core.fds_wait(fds, timeout)
  local out = {}
  for i, k in ipairs(ready) do out[i] = objects[k] end
  return out
end

return M

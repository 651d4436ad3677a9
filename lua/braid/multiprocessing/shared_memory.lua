--- Python's `multiprocessing.shared_memory.SharedMemory`: a named POSIX
-- shared memory segment (`shm_open`).
--
--     local shm = SharedMemory(nil, true, 1024)   -- or SharedMemory{create=true, size=1024}
--     shm:write(0, "hello")                       -- byte offsets are 0-based
--     local other = SharedMemory(shm.name)        -- attach by name
--     other:read(0, 5) --> "hello"
--     other:close(); shm:close(); shm:unlink()
--
-- `read(offset, n)`/`write(offset, s)` stand for Python's `buf`; out of range
-- is an IndexError. Attaching to a missing name raises FileNotFoundError,
-- creating an existing one FileExistsError. The object travels by name
-- (threads and processes attach their own mapping).
-- @module braid.multiprocessing.shared_memory
local core = require "braid.core"
local type = type
_ENV = nil

local M = {}

function M.SharedMemory(name, create, size)
  if type(name) == "table" then
    name, create, size = name.name, name.create, name.size
  end
  return core.SharedMemory(name, create or false, size or 0)
end

return M

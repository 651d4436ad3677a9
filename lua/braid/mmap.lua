--- Python's `mmap` module: memory-mapped files and anonymous shared
-- memory that read and write like a mutable byte string.
--
--     local m <close> = mmap.mmap(-1, 4096)       -- anonymous, shared
--     m:write("hello"); m:seek(0); m:read(5)       --> "hello"
--     m:sub(0, 5)                                  -- Python's m[0:5]
--     m:set(0, "HELLO")                            -- m[0:5] = b"HELLO"
--
-- Byte offsets are 0-based, as Python's (`m:sub(i, j)` is `m[i:j]`, `j`
-- excluded). `fileno` is a descriptor number (`braid.os.open`) or a Lua
-- file handle (`io.open`). An mmap travels by reference: a thread gets
-- the same object (one file position), a process of any start method
-- the same memory (a spawned child maps the same file or memfd again).
-- @module braid.mmap
local core = require "braid.core"
local type, pairs = type, pairs
_ENV = nil

local M = {}

for k, v in pairs(core.mmap_constants) do M[k] = v end

--- `mmap(fileno, length, [flags], [prot], [access], [offset])`, or
-- `mmap(fileno, length, {flags=, prot=, access=, offset=})`: Python's
-- `mmap.mmap`; `fileno` -1 maps anonymous memory.
function M.mmap(fileno, length, flags, prot, access, offset)
  if type(flags) == "table" then
    local o = flags
    flags, prot, access, offset = o.flags, o.prot, o.access, o.offset
  end
  return core.mmap(fileno, length, flags, prot, access, offset)
end

return M

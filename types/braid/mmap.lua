---@meta braid.mmap
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.mmap"`.

---@class mmap
local M = {}

---@class mmap.mmap
---@field closed boolean
local mmap_mmap = {}

--- Unmaps the memory and closes the map's descriptor, for every holder in
--- Reference: docs/mmap.md, entry `mmap.mmap:close`
function mmap_mmap:close() end

--- Reads up to n bytes from the position and advances it.
--- Reference: docs/mmap.md, entry `mmap.mmap:read`
---@param n? integer
---@return string
function mmap_mmap:read(n) end

--- Reads up to and including the next "\n" (or to the end) and advances.
--- Reference: docs/mmap.md, entry `mmap.mmap:readline`
---@return string
function mmap_mmap:readline() end

--- Reads the byte at the position and advances by one.
--- Reference: docs/mmap.md, entry `mmap.mmap:read_byte`
---@return integer
function mmap_mmap:read_byte() end

--- Writes the bytes of s at the position and advances past them.
--- Reference: docs/mmap.md, entry `mmap.mmap:write`
---@param s string
---@return integer
function mmap_mmap:write(s) end

--- Writes one byte at the position and advances by one.
--- Reference: docs/mmap.md, entry `mmap.mmap:write_byte`
---@param byte integer
function mmap_mmap:write_byte(byte) end

--- The bytes i to j - 1: Python's m[i:j].
--- Reference: docs/mmap.md, entry `mmap.mmap:sub`
---@param i? integer
---@param j? integer
---@return string
function mmap_mmap:sub(i, j) end

--- Stores s at offset without moving the position: Python's
--- Reference: docs/mmap.md, entry `mmap.mmap:set`
---@param offset integer
---@param s string
function mmap_mmap:set(offset, s) end

--- Moves the position.
--- Reference: docs/mmap.md, entry `mmap.mmap:seek`
---@param pos integer
---@param whence? integer
---@return integer
function mmap_mmap:seek(pos, whence) end

--- Reference: docs/mmap.md, entry `mmap.mmap:seekable`
---@return boolean
function mmap_mmap:seekable() end

--- Reference: docs/mmap.md, entry `mmap.mmap:tell`
---@return integer
function mmap_mmap:tell() end

--- The lowest offset where sub lies wholly in [start, stop).
--- Reference: docs/mmap.md, entry `mmap.mmap:find`
---@param sub string
---@param start? integer
---@param stop? integer
---@return integer
function mmap_mmap:find(sub, start, stop) end

--- The highest offset where sub lies wholly in [start, stop).
--- Reference: docs/mmap.md, entry `mmap.mmap:rfind`
---@param sub string
---@param start? integer
---@param stop? integer
---@return integer
function mmap_mmap:rfind(sub, start, stop) end

--- Copies count bytes from src to dest; the ranges may overlap.
--- Reference: docs/mmap.md, entry `mmap.mmap:move`
---@param dest integer
---@param src integer
---@param count integer
function mmap_mmap:move(dest, src, count) end

--- Changes the map's length, and the length of the file (or memfd) under it;
--- Reference: docs/mmap.md, entry `mmap.mmap:resize`
---@param newsize integer
function mmap_mmap:resize(newsize) end

--- Reference: docs/mmap.md, entry `mmap.mmap:size`
---@return integer
function mmap_mmap:size() end

--- Writes the changes in [offset, offset + size) back to the file
--- Reference: docs/mmap.md, entry `mmap.mmap:flush`
---@param offset? integer
---@param size? integer
function mmap_mmap:flush(offset, size) end

--- Advises the kernel about [start, start + length) (clipped to the map).
--- Reference: docs/mmap.md, entry `mmap.mmap:madvise`
---@param option integer
---@param start? integer
---@param length? integer
function mmap_mmap:madvise(option, start, length) end

--- Maps length bytes of a file, or anonymous memory.
--- Reference: docs/mmap.md, entry `mmap.mmap`
---@param fileno integer|file*
---@param length integer
---@param flags? integer
---@param prot? integer
---@param access? integer
---@param offset? integer
---@overload fun(fileno: integer|file*, length: integer, opts: {flags?: integer, prot?: integer, access?: integer, offset?: integer}): mmap.mmap
---@return mmap.mmap
function M.mmap(fileno, length, flags, prot, access, offset) end

--- The constant ACCESS_DEFAULT: the access of a map made from flags and prot.
--- Reference: docs/mmap.md, entry `mmap.ACCESS_DEFAULT`
---@type integer
M["ACCESS_DEFAULT"] = nil

--- The constant ACCESS_READ: a read-only map: writes raise TypeError.
--- Reference: docs/mmap.md, entry `mmap.ACCESS_READ`
---@type integer
M["ACCESS_READ"] = nil

--- The constant ACCESS_WRITE: a write-through map: writes reach the file.
--- Reference: docs/mmap.md, entry `mmap.ACCESS_WRITE`
---@type integer
M["ACCESS_WRITE"] = nil

--- The constant ACCESS_COPY: a copy-on-write map: writes stay in this process.
--- Reference: docs/mmap.md, entry `mmap.ACCESS_COPY`
---@type integer
M["ACCESS_COPY"] = nil

--- The constant MAP_SHARED: flags: changes are shared with the file and other processes.
--- Reference: docs/mmap.md, entry `mmap.MAP_SHARED`
---@type integer
M["MAP_SHARED"] = nil

--- The constant MAP_PRIVATE: flags: a private copy-on-write map.
--- Reference: docs/mmap.md, entry `mmap.MAP_PRIVATE`
---@type integer
M["MAP_PRIVATE"] = nil

--- The constant MAP_ANONYMOUS: flags: anonymous memory (added by itself for fileno -1).
--- Reference: docs/mmap.md, entry `mmap.MAP_ANONYMOUS`
---@type integer
M["MAP_ANONYMOUS"] = nil

--- The constant PROT_READ: prot: the map can be read.
--- Reference: docs/mmap.md, entry `mmap.PROT_READ`
---@type integer
M["PROT_READ"] = nil

--- The constant PROT_WRITE: prot: the map can be written.
--- Reference: docs/mmap.md, entry `mmap.PROT_WRITE`
---@type integer
M["PROT_WRITE"] = nil

--- The constant PROT_EXEC: prot: the map can be executed.
--- Reference: docs/mmap.md, entry `mmap.PROT_EXEC`
---@type integer
M["PROT_EXEC"] = nil

--- The constant PAGESIZE: the size of a memory page in bytes.
--- Reference: docs/mmap.md, entry `mmap.PAGESIZE`
---@type integer
M["PAGESIZE"] = nil

--- The constant ALLOCATIONGRANULARITY: what offset must be a multiple of (the page size on Linux).
--- Reference: docs/mmap.md, entry `mmap.ALLOCATIONGRANULARITY`
---@type integer
M["ALLOCATIONGRANULARITY"] = nil

--- The constant MADV_NORMAL: madvise: no special treatment.
--- Reference: docs/mmap.md, entry `mmap.MADV_NORMAL`
---@type integer
M["MADV_NORMAL"] = nil

--- The constant MADV_RANDOM: madvise: expect random accesses.
--- Reference: docs/mmap.md, entry `mmap.MADV_RANDOM`
---@type integer
M["MADV_RANDOM"] = nil

--- The constant MADV_SEQUENTIAL: madvise: expect sequential accesses.
--- Reference: docs/mmap.md, entry `mmap.MADV_SEQUENTIAL`
---@type integer
M["MADV_SEQUENTIAL"] = nil

--- The constant MADV_WILLNEED: madvise: read ahead.
--- Reference: docs/mmap.md, entry `mmap.MADV_WILLNEED`
---@type integer
M["MADV_WILLNEED"] = nil

--- The constant MADV_DONTNEED: madvise: the pages may be dropped (an anonymous private map reads zeros again).
--- Reference: docs/mmap.md, entry `mmap.MADV_DONTNEED`
---@type integer
M["MADV_DONTNEED"] = nil

return M

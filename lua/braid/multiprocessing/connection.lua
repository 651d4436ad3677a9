--- Python's `multiprocessing.connection`: `Pipe`, `Listener`, `Client`,
-- the authentication handshake and `wait` (docs/multiprocessing-modules.md).
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
-- `send` to a closed peer raises BrokenPipeError. Frames are Python's (a
-- 4-byte big-endian length, -1 and an 8-byte length past 2 GiB: see
-- src/core/frame.h); a message larger than the socket buffer blocks the
-- writer until the reader drains it. A Listener/Client connection made
-- without an authkey refuses code in `recv` unless `allow_code` is set
-- (the trust model: docs/multiprocessing-modules.md).
-- @module braid.multiprocessing.connection
local core = require "braid.core"
local errors = require "braid.errors"
local type, ipairs, error, getmetatable = type, ipairs, error, getmetatable
local setmetatable, pcall, tostring, select = setmetatable, pcall, tostring, select
local math_type = math.type
local os_remove, os_getenv, string_format = os.remove, os.getenv, string.format
local math_random = math.random
_ENV = nil

local M = {}

--- The families this platform has (Python's `families`).
M.families = { "AF_INET", "AF_UNIX" }
--- The family of `Listener()` without an address (Python's default_family).
M.default_family = "AF_UNIX"

local function valueerror(msg, level)
  error(errors.ValueError(msg), (level or 1) + 1)
end

--- `address_type(address)` -> "AF_INET" for a `{host, port}` table,
-- "AF_UNIX" for a string; ValueError otherwise.
function M.address_type(address)
  if type(address) == "table" then return "AF_INET" end
  if type(address) == "string" then return "AF_UNIX" end
  valueerror("address type of " .. tostring(address) .. " unrecognized", 2)
end

local function check_family(family, level)
  if family ~= "AF_INET" and family ~= "AF_UNIX" then
    valueerror("Family " .. tostring(family) .. " is not recognized.", level + 1)
  end
end

local counter = 0

--- `arbitrary_address(family)` -> a fresh address of that family:
-- `{"localhost", 0}` (the system picks the port) for AF_INET, a new path
-- in the temporary directory for AF_UNIX.
function M.arbitrary_address(family)
  check_family(family, 2)
  if family == "AF_INET" then return { "localhost", 0 } end
  counter = counter + 1
  return string_format("%s/braid-listener-%d-%d-%x",
                       os_getenv("TMPDIR") or "/tmp", core.getpid(), counter,
                       math_random(0, 0x7fffffff))
end

-- The (a, b) the core takes for an address of 'family'.
local function addr_parts(family, address, level)
  if family == "AF_INET" then
    if type(address) ~= "table" or type(address[1]) ~= "string"
        or math_type(address[2]) ~= "integer" then
      valueerror("AF_INET address must be a table {host, port} (a string "
                 .. "and an integer)", level + 1)
    end
    return address[1], address[2]
  end
  if type(address) ~= "string" then
    valueerror("AF_UNIX address must be a string (a path, or a name "
               .. "starting with \\0)", level + 1)
  end
  return address
end

local function check_authkey(authkey, level)
  if authkey ~= nil and type(authkey) ~= "string" then
    error(errors.TypeError("authkey should be a byte string"), level + 1)
  end
end

-- allow_code and maxsize of the connections made with options 'o'.
local function conn_opts(o, authkey, level)
  local allow = o.allow_code
  if allow == nil then allow = authkey ~= nil end
  local maxsize = o.maxsize
  if maxsize ~= nil and (math_type(maxsize) ~= "integer" or maxsize < 0) then
    valueerror("maxsize must be a non-negative integer", level + 1)
  end
  return allow and true or false, maxsize
end

-- A table argument that holds options rather than an AF_INET address.
local function isopts(t)
  return type(t) == "table" and t[1] == nil and getmetatable(t) == nil
end

local Listener = {}
Listener.__index = Listener
Listener.__name = "braid.Listener"

--- `Listener(address, family, backlog, authkey, opts)` or
-- `Listener{address=, family=, backlog=, authkey=, allow_code=, maxsize=}`:
-- a bound, listening socket. `opts`: `allow_code` (default: true when
-- `authkey` is set), `maxsize` (largest message its connections' recv
-- takes).
function M.Listener(address, family, backlog, authkey, opts)
  if isopts(address) and family == nil then
    opts = address
    address, family, backlog, authkey =
      opts.address, opts.family, opts.backlog, opts.authkey
  end
  opts = opts or {}
  family = family or (address ~= nil and M.address_type(address))
           or M.default_family
  check_family(family, 2)
  address = address or M.arbitrary_address(family)
  if backlog == nil then backlog = 1 end
  if math_type(backlog) ~= "integer" then
    error(errors.TypeError("backlog must be an integer"), 2)
  end
  check_authkey(authkey, 2)
  local allow, maxsize = conn_opts(opts, authkey, 2)
  local a, b = addr_parts(family, address, 2)
  local owner, bound = core.net_listen(family, a, b, backlog)
  local self = setmetatable({
    _owner = owner, _family = family, _authkey = authkey,
    _allow = allow, _maxsize = maxsize, _pid = core.getpid(),
    address = bound, last_accepted = nil,
  }, Listener)
  -- a path this process made goes when the listener closes (Python's
  -- Finalize(os.unlink)); an abstract name has no file
  if family == "AF_UNIX" and a:byte(1) ~= 0 then self._unlink = bound end
  return self
end

local function closed()
  error(errors.OSError("listener is closed"), 3)
end


-- Runs the handshake of 'role' ("server": deliver then answer; "client":
-- the reverse) on a new connection when there is an authkey; a failed
-- handshake closes the connection before its error goes on.
local function authenticate(c, role, authkey)
  if authkey ~= nil then
    local ok, err = pcall(core.conn_auth, c, role, authkey)
    if not ok then
      c:close()
      error(err, 0)
    end
  end
  return c
end

--- `listener:accept()` -> a Connection: waits for a peer; with an authkey,
-- runs `deliver_challenge` then `answer_challenge` (AuthenticationError,
-- the connection closed, when the peer fails). Sets `last_accepted`.
function Listener:accept()
  local owner = self._owner
  if owner == nil then closed() end
  local c, peer = core.net_accept(owner:fileno(), self._allow, self._maxsize)
  self.last_accepted = peer
  return authenticate(c, "server", self._authkey)
end

--- `listener:close()`: closes the socket (idempotent); removes the socket
-- file it bound, in the process that bound it.
function Listener:close()
  local owner = self._owner
  if owner == nil then return end
  self._owner = nil
  owner:close()
  if self._unlink and core.getpid() == self._pid then
    os_remove(self._unlink)
  end
end

--- `listener:fileno()`: the listening socket (for `wait`: ready when a
-- peer waits to be accepted).
function Listener:fileno()
  local owner = self._owner
  if owner == nil then closed() end
  return owner:fileno()
end

Listener.__close = Listener.close
Listener.__gc = Listener.close

--- `Client(address, family, authkey, opts)` or
-- `Client{address=, family=, authkey=, allow_code=, maxsize=}` -> a
-- Connection to a Listener; with an authkey, runs `answer_challenge` then
-- `deliver_challenge`.
function M.Client(address, family, authkey, opts)
  if isopts(address) and family == nil then
    opts = address
    address, family, authkey = opts.address, opts.family, opts.authkey
  end
  opts = opts or {}
  family = family or M.address_type(address)
  check_family(family, 2)
  check_authkey(authkey, 2)
  local allow, maxsize = conn_opts(opts, authkey, 2)
  local a, b = addr_parts(family, address, 2)
  local c = core.net_connect(family, a, b, allow, maxsize)
  return authenticate(c, "client", authkey)
end

-- The digests Python's handshake allows (its _ALLOWED_DIGESTS).
local DIGESTS = { md5 = true, sha256 = true, sha384 = true, sha3_256 = true,
                  sha3_384 = true }

local function check_key_bytes(authkey)
  if type(authkey) ~= "string" then
    valueerror("Authkey must be bytes, not " .. type(authkey), 3)
  end
end

--- `deliver_challenge(connection, authkey, [digest_name="sha256"])`:
-- sends a challenge asking for that digest ("md5", "sha256", "sha384",
-- "sha3_256", "sha3_384": ValueError for another) and checks the peer's
-- answer (AuthenticationError).
function M.deliver_challenge(connection, authkey, digest_name)
  check_key_bytes(authkey)
  if digest_name ~= nil and not DIGESTS[digest_name] then
    valueerror("unsupported digest_name " .. tostring(digest_name), 2)
  end
  core.conn_auth(connection, "deliver", authkey, digest_name)
end

--- `answer_challenge(connection, authkey)`: answers the peer's challenge
-- (AuthenticationError when the peer rejects it).
function M.answer_challenge(connection, authkey)
  check_key_bytes(authkey)
  core.conn_auth(connection, "answer", authkey)
end

--- `Pipe([duplex=true])` -> conn1, conn2
function M.Pipe(duplex)
  if duplex == nil then duplex = true end
  return core.Pipe(duplex)
end

local function fdof(o)
  if math_type(o) == "integer" then return o end
  local mt = getmetatable(o)
  if type(o) == "userdata" and o.fileno then return o:fileno() end
  if type(o) == "table" and getmetatable(o) == Listener then return o:fileno() end
  if type(o) == "table" then
    if o.sentinel ~= nil and mt and mt.__name and o.join then return o.sentinel end
    if o._reader then return fdof(o._reader) end
  end
  error(errors.TypeError("wait: objects must be Connections, Process "
                         .. "objects or integer file descriptors"), 3)
end

--- `wait(objects, [timeout])` -> the objects that are ready (a sequence).
-- Objects: Connections (readable or at end of file), Listeners (a peer
-- waits to be accepted), Process objects (ended; their `sentinel`),
-- integer descriptors.
function M.wait(objects, timeout)
  local fds, early = {}, nil
  for i, o in ipairs(objects) do
    fds[i] = fdof(o)
    -- a Connection that read ahead holds data its socket no longer shows
    local b = type(o) == "userdata" and o.buffered
    if type(b) == "number" and b > 0 then early = early or {}; early[i] = true end
  end
  local ready = core.fds_wait(fds, early and 0 or timeout)
  local out = {}
  if early then
    for _, k in ipairs(ready) do early[k] = true end
    for i = 1, #objects do if early[i] then out[#out + 1] = objects[i] end end
    return out
  end
  for i, k in ipairs(ready) do out[i] = objects[k] end
  return out
end

return M

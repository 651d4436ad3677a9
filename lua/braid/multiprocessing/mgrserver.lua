--- The manager server (`multiprocessing.managers.Server`) and the
-- server-side objects of `SyncManager` (dict, list, Namespace, Value, Array).
--
-- One Lua state owns every managed object. Its loop waits on the listener
-- and on every client connection at once (`core.fds_wait`), reads one
-- request, runs it and answers on the same connection. The loop never
-- blocks in a call: a call on a userdata object (a braid Queue, Lock,
-- Event... anything that may block, and that travels to threads by
-- reference) goes to the connection's own server thread, started on first
-- use, which makes the call and answers itself; calls on Lua tables
-- (dicts, lists, namespaces, the objects of registered callables that are
-- tables) run in the loop, so those objects need no copying and no lock.
-- As in Python each client connection has its own server thread, so an
-- RLock or a Condition acquired through one connection is owned by it.
-- The protocol is synchronous per connection (a client sends its next
-- request only after the answer), so the loop and the connection's thread
-- never use one connection at the same time: once the connection is
-- readable again the thread's call is over.
--
-- A request is the values `id, method, drops, n, args...` of one message
-- (a Connection's `_sendv`/`_recvv`: several values, no table around
-- them; `id` 0: the server's own methods create, incref, decref,
-- shutdown, dummy, number_of_objects, debug_info, get_methods), `n` the
-- number of arguments; `drops`, when not nil, lists ids to decref first
-- (proxies collected by the client); `0, "#DECREF", ids, 0` only decrefs
-- and gets no answer (a client's finalizer sends it when no call of its
-- is in flight). Answers are the values `true, results...` (Lua calls may
-- return several values), `"#ERROR", error object` (the class the call
-- raised, with the server's traceback), `"#PROXY", token` (a method
-- listed in `method_to_typeid`) and `"#TRACEBACK", text` (a failure of
-- the server itself, raised by the client as RemoteError). Values, not
-- tables: a round trip's codec work is a good part of its cost, and a
-- call of scalars (d[k] = v) encodes and decodes no table at all. A
-- listener of another kind (M.new's `listener`) whose connections lack
-- `_sendv` gets the same values packed in one table.
-- @module braid.multiprocessing.mgrserver
local core = require "braid.core"
local errors = require "braid.errors"
local require, setmetatable, getmetatable, rawget, rawset, type, pairs, ipairs, next,
      tostring, select, error, pcall, xpcall, unpack, table_sort, table_insert,
      table_remove, math_type, string_format, tonumber, table_concat =
  require, setmetatable, getmetatable, rawget, rawset, type, pairs, ipairs, next,
  tostring, select, error, pcall, xpcall, table.unpack, table.sort, table.insert,
  table.remove, math.type, string.format, tonumber, table.concat
local debug_traceback, debug_getupvalue = debug.traceback, debug.getupvalue
_ENV = nil

local M = {}

local KeyError, IndexError, ValueError, TypeError, AttributeError =
  errors.KeyError, errors.IndexError, errors.ValueError, errors.TypeError,
  errors.AttributeError

--- Servers running in this state, by address key: a proxy rebuilt here for
-- one of them is the object itself (as Python's RebuildProxy does).
M.serving = {}

--- The key of an address (a path, or `{host, port}`).
function M.addrkey(address)
  if type(address) == "table" then
    return tostring(address[1]) .. ":" .. tostring(address[2])
  end
  return tostring(address)
end

local function pack(...) return { n = select("#", ...), ... } end

-- Sends the values as one message (see the wire above).
local function sendv(conn, ...)
  local f = conn._sendv
  if f ~= nil then return f(conn, ...) end
  return conn:send(pack(...))
end

-- Reads one message's values.
local function recvv(conn)
  local f = conn._recvv
  if f ~= nil then return f(conn) end
  local t = conn:recv()
  return unpack(t, 1, t.n)
end

-- {======================================================================
-- Server-side objects. Their methods have Python's names (the proxies
-- call them); every one of them has a __braidreduce that turns it into a
-- proxy token when it leaves the server's state (an answer, or a call
-- handed to a connection's thread), registering it if it was not yet.

local owner_of = setmetatable({}, { __mode = "k" }) -- object -> server

local function reduce_managed(obj)
  local srv = owner_of[obj]
  local mt = getmetatable(obj)
  local tok = srv:_export(obj, mt.__typeid)
  return M.rebuild, tok
end

--- Defined by managers.lua (the proxy side): turns a token into a proxy.
function M.rebuild(tok)
  return require("braid.multiprocessing.managers")._rebuild(tok)
end

local function class(typeid, proxytype)
  local c = { __typeid = typeid, __proxytype = proxytype,
              __braidreduce = reduce_managed }
  c.__index = c
  return c
end

local function checkint(i, what)
  if math_type(i) ~= "integer" then
    if math_type(i) == "float" and i == i // 1 then return i // 1 end
    error(TypeError(what .. " indices must be integers, not " .. type(i)), 3)
  end
  return i
end

-- dict: any Lua value as key except nil (and NaN), Lua values as values,
-- in insertion order as Python's dict: `t` maps keys to values, `ks` holds
-- the keys in the order they were first inserted (a deleted key leaves a
-- HOLE there, removed when holes outnumber keys), `at` maps a key to its
-- index in `ks`. Setting an existing key keeps its place; deleting and
-- inserting again moves it to the end; popitem takes the last (LIFO).
local Dict = class("dict", "DictProxy")
M.Dict = Dict
local HOLE = setmetatable({}, { __name = "hole" })

function Dict.new(init)
  local self = setmetatable({ t = {}, n = 0, ks = {}, top = 0, at = {} }, Dict)
  if init ~= nil then self:update(init) end
  return self
end

-- Squeezes the holes out of `ks` (amortised: only when they are more
-- than the keys).
local function compact(self)
  local ks, at, j = self.ks, self.at, 0
  local out = {}
  for i = 1, self.top do
    local k = ks[i]
    if k ~= HOLE then j = j + 1; out[j] = k; at[k] = j end
  end
  self.ks, self.top = out, j
end

-- The keys in order: for k in keys_in_order(self) do ... end.
local function ordered(self)
  local ks, i, top = self.ks, 0, self.top
  return function()
    repeat
      i = i + 1
      local k = ks[i]
      if k ~= HOLE then return k end
    until i > top
    return nil
  end
end

function Dict:__len__() return self.n end
function Dict:__getitem__(k)
  local v = self.t[k]
  if v == nil then error(KeyError(tostring(k)), 2) end
  return v
end
function Dict:_get(k) return self.t[k] end
function Dict:__setitem__(k, v)
  if k == nil or k ~= k then error(KeyError("invalid key " .. tostring(k)), 2) end
  local t = self.t
  if v == nil then
    if t[k] ~= nil then
      self.n = self.n - 1; t[k] = nil
      local at = self.at
      self.ks[at[k]] = HOLE; at[k] = nil
      if self.top > 2 * self.n + 8 then compact(self) end
    end
    return
  end
  if t[k] == nil then
    self.n = self.n + 1
    local top = self.top + 1
    self.top = top; self.ks[top] = k; self.at[k] = top
  end
  t[k] = v
end
function Dict:__delitem__(k)
  if self.t[k] == nil then error(KeyError(tostring(k)), 2) end
  self:__setitem__(k, nil)
end
function Dict:__contains__(k) return k ~= nil and self.t[k] ~= nil end
function Dict:get(k, default)
  local v = self.t[k]
  if v == nil then return default end
  return v
end
function Dict:keys()
  local out, i = {}, 0
  for k in ordered(self) do i = i + 1; out[i] = k end
  return out
end
function Dict:values()
  local out, i, t = {}, 0, self.t
  for k in ordered(self) do i = i + 1; out[i] = t[k] end
  return out
end
function Dict:items()
  local out, i, t = {}, 0, self.t
  for k in ordered(self) do i = i + 1; out[i] = { k, t[k] } end
  return out
end
function Dict:copy()
  local out = {}
  for k, v in next, self.t do out[k] = v end
  return out
end
-- update(t): a table's pairs (a sequence of {k, v} pairs when
-- `pairs_list` is true, as Python's update of an iterable of pairs).
function Dict:update(t, pairs_list)
  if type(t) ~= "table" then
    error(TypeError("update: argument must be a table, not " .. type(t)), 2)
  end
  if getmetatable(t) == Dict then
    local src = t.t
    for k in ordered(t) do self:__setitem__(k, src[k]) end
  elseif pairs_list then
    for _, kv in ipairs(t) do self:__setitem__(kv[1], kv[2]) end
  else
    for k, v in next, t do self:__setitem__(k, v) end
  end
end
function Dict:pop(k, ...)
  local v = self.t[k]
  if v == nil then
    if select("#", ...) > 0 then return (...) end
    error(KeyError(tostring(k)), 2)
  end
  self:__setitem__(k, nil)
  return v
end
function Dict:popitem()
  -- the last inserted, as Python's (LIFO)
  local ks, top = self.ks, self.top
  while top > 0 and ks[top] == HOLE do ks[top] = nil; top = top - 1 end
  self.top = top
  if top == 0 then error(KeyError("popitem(): dictionary is empty"), 2) end
  local k = ks[top]
  local v = self.t[k]
  self:__setitem__(k, nil)
  return k, v
end
function Dict:setdefault(k, default)
  local v = self.t[k]
  if v ~= nil then return v end
  if default ~= nil then self:__setitem__(k, default) end
  return default
end
function Dict:clear() self.t, self.n, self.ks, self.top, self.at = {}, 0, {}, 0, {} end
function Dict:__repr__()
  return string_format("<managed dict, %d items>", self.n)
end

-- list: a sequence without holes, 1-based.
local List = class("list", "ListProxy")
M.List = List

function List.new(init)
  local self = setmetatable({ a = {}, n = 0 }, List)
  if init ~= nil then self:extend(init) end
  return self
end

local function listidx(self, i, allow_end)
  i = checkint(i, "list")
  if i < 0 then i = self.n + 1 + i end -- -1 the last, as Python's
  if i < 1 or i > self.n + (allow_end and 1 or 0) then
    error(IndexError("list index out of range"), 3)
  end
  return i
end

function List:__len__() return self.n end
function List:__getitem__(i) return self.a[listidx(self, i)] end
function List:_get(i)
  if math_type(i) ~= "integer" or i < 1 then return nil end
  return self.a[i]
end
-- l[i] = v: 1..n replaces, n+1 appends (as a Lua sequence grows); nil
-- at the last index removes it; elsewhere nil would make a hole.
function List:__setitem__(i, v)
  i = checkint(i, "list")
  if v == nil then
    if i == self.n and i >= 1 then self.a[i] = nil; self.n = i - 1; return end
    error(ValueError("a list element can only be set to nil at the end"), 2)
  end
  if i == self.n + 1 then self.n = i; self.a[i] = v; return end
  self.a[listidx(self, i)] = v
end
function List:__delitem__(i)
  table_remove(self.a, listidx(self, i)); self.n = self.n - 1
end
function List:append(v)
  if v == nil then error(ValueError("append: nil cannot be a list element"), 2) end
  local n = self.n + 1
  self.n = n; self.a[n] = v
end
function List:extend(t)
  if type(t) ~= "table" then
    error(TypeError("extend: argument must be a table, not " .. type(t)), 2)
  end
  if getmetatable(t) == List then t = { n = t.n, unpack(t.a, 1, t.n) } end
  local a, n = self.a, self.n
  for i = 1, t.n or #t do
    if t[i] == nil then error(ValueError("extend: nil at index " .. i), 2) end
    n = n + 1; a[n] = t[i]
  end
  self.n = n
end
function List:insert(i, v)
  if v == nil then error(ValueError("insert: nil cannot be a list element"), 2) end
  i = checkint(i, "list")
  if i < 0 then i = self.n + 1 + i end
  if i < 1 then i = 1 elseif i > self.n + 1 then i = self.n + 1 end
  table_insert(self.a, i, v); self.n = self.n + 1
end
function List:pop(i)
  if self.n == 0 then error(IndexError("pop from empty list"), 2) end
  if i == nil then i = self.n else i = listidx(self, i) end
  local v = table_remove(self.a, i); self.n = self.n - 1
  return v
end
local function find(self, v, start, stop)
  local a = self.a
  for i = start or 1, stop or self.n do if a[i] == v then return i end end
  return nil
end
function List:index(v, start, stop)
  local i = find(self, v, start, stop)
  if i == nil then error(ValueError(tostring(v) .. " is not in list"), 2) end
  return i
end
function List:remove(v)
  local i = find(self, v)
  if i == nil then error(ValueError("list.remove(x): x not in list"), 2) end
  table_remove(self.a, i); self.n = self.n - 1
end
function List:count(v)
  local c, a = 0, self.a
  for i = 1, self.n do if a[i] == v then c = c + 1 end end
  return c
end
function List:__contains__(v) return find(self, v) ~= nil end
-- sort([key], [reverse]): `key` a function of one element (it runs in the
-- manager), as Python's; the order is table.sort's on the keys.
function List:sort(key, reverse)
  local a = self.a
  if key == nil and not reverse then table_sort(a); return end
  local ks = {}
  if key ~= nil then for i = 1, self.n do ks[a[i]] = key(a[i]) end end
  local function k(x) if key ~= nil then return ks[x] end return x end
  if reverse then table_sort(a, function(x, y) return k(y) < k(x) end)
  else table_sort(a, function(x, y) return k(x) < k(y) end) end
end
function List:reverse()
  local a, n = self.a, self.n
  for i = 1, n // 2 do a[i], a[n + 1 - i] = a[n + 1 - i], a[i] end
end
-- slice(i, j): elements i..j inclusive (string.sub's rules for negative
-- and out-of-range bounds), a plain sequence.
function List:slice(i, j)
  local n = self.n
  i = i == nil and 1 or checkint(i, "slice")
  j = j == nil and n or checkint(j, "slice")
  if i < 0 then i = n + 1 + i end
  if j < 0 then j = n + 1 + j end
  if i < 1 then i = 1 end
  if j > n then j = n end
  local out, c = {}, 0
  for x = i, j do c = c + 1; out[c] = self.a[x] end
  out.n = c
  return out
end
function List:copy() return self:slice(1, self.n) end
function List:clear() self.a = {}; self.n = 0 end
function List:__repr__()
  return string_format("<managed list, %d items>", self.n)
end

-- Namespace: attributes in a table.
local Namespace = class("Namespace", "NamespaceProxy")
M.Namespace = Namespace

function Namespace.new(init)
  local self = setmetatable({ t = {} }, Namespace)
  if type(init) == "table" then for k, v in pairs(init) do self.t[k] = v end end
  return self
end
function Namespace:__getattribute__(k)
  local v = self.t[k]
  if v == nil then
    error(AttributeError("'Namespace' object has no attribute '" .. tostring(k) .. "'"), 2)
  end
  return v
end
function Namespace:_get(k) return self.t[k] end
function Namespace:__setattr__(k, v) self.t[k] = v end
function Namespace:__delattr__(k)
  if self.t[k] == nil then
    error(AttributeError("'Namespace' object has no attribute '" .. tostring(k) .. "'"), 2)
  end
  self.t[k] = nil
end
function Namespace:_items() return self:_copy() end
function Namespace:_copy()
  local out = {}
  for k, v in next, self.t do out[k] = v end
  return out
end

-- Value (typecode, value): Python's manager Value is a plain object with
-- get/set and the property value (no lock: it is the manager's).
local Value = class("Value", "ValueProxy")
M.Value = Value
function Value.new(typecode, value)
  return setmetatable({ typecode = typecode, v = value }, Value)
end
function Value:get() return self.v end
function Value:set(v) self.v = v end

-- Array (typecode, sequence): a list of numbers of a fixed length.
local Array = class("Array", "ArrayProxy")
M.Array = Array
local INTCODES = { b = 1, B = 1, h = 1, H = 1, i = 1, I = 1, l = 1, L = 1,
                   q = 1, Q = 1, c = 1 }
local FLOATCODES = { f = 1, d = 1 }
function Array.new(typecode, init)
  if not INTCODES[typecode] and not FLOATCODES[typecode] then
    error(ValueError("bad typecode " .. tostring(typecode)), 2)
  end
  local self = setmetatable({ typecode = typecode, a = {}, n = 0 }, Array)
  if math_type(init) == "integer" then
    for i = 1, init do self.a[i] = 0 end
    self.n = init
  elseif type(init) == "table" then
    for i = 1, init.n or #init do self:_store(i, init[i], true) end
    self.n = init.n or #init
  else
    error(TypeError("Array: size or sequence expected"), 2)
  end
  return self
end
function Array:_store(i, v, growing)
  if type(v) ~= "number" then
    error(TypeError("an Array of '" .. self.typecode .. "' holds numbers, not " .. type(v)), 3)
  end
  if INTCODES[self.typecode] then
    if math_type(v) ~= "integer" then
      if v ~= v // 1 then error(TypeError("integer expected, got a float"), 3) end
      v = tonumber(v // 1) // 1
    end
  else
    v = v + 0.0
  end
  if not growing then listidx(self, i) end
  self.a[i] = v
end
Array.__len__ = List.__len__
Array.__getitem__ = List.__getitem__
Array._get = List._get
function Array:__setitem__(i, v) self:_store(checkint(i, "array"), v) end
Array.slice = List.slice
function Array:tolist() return self:slice(1, self.n) end

-- }======================================================================

-- {======================================================================
-- The server

local Server = {}
Server.__index = Server
M.Server = Server
setmetatable(Server, { __call = function(_, ...) return M.new(...) end })

--- `Server(registry, address, authkey)`: a server for the typeids of
-- `registry` (what `BaseManager.register` fills), listening at `address`.
-- `listener` may be given instead (anything with `accept()`, `close()`,
-- `fileno()` and `address`; its connections need `send`, `recv`,
-- `fileno` and `close`): the loop does not depend on the transport.
function M.new(registry, address, authkey, listener)
  if listener == nil then
    local connection = require "braid.multiprocessing.connection"
    listener = connection.Listener(address, nil, 128, authkey)
  end
  local self = setmetatable({
    registry = registry, listener = listener, address = listener.address,
    authkey = authkey, objs = {}, refs = {}, ids = setmetatable({}, { __mode = "k" }),
    next_id = 0, conns = {}, threads = {}, stop = false, parked = {}, ovf = {},
  }, Server)
  M.serving[M.addrkey(self.address)] = self
  return self
end

-- Registers 'obj' (of 'typeid') if it is not yet; returns its id.
function Server:_register(obj, typeid)
  local id = self.ids[obj]
  if id == nil then
    self.next_id = self.next_id + 1
    id = self.next_id
    self.ids[obj] = id
    local entry = self.registry[typeid]
    local exposed = entry and entry.exposed
    if exposed == nil then -- Python's default: the public methods
      exposed = {}
      for _, m in ipairs(M.all_methods(obj)) do exposed[m] = true end
    end
    self.objs[id] = { obj = obj, typeid = typeid, exposed = exposed }
    self.refs[id] = 0
    if type(obj) == "table" and rawget(getmetatable(obj) or {}, "__braidreduce") == reduce_managed then
      owner_of[obj] = self
    end
  end
  return id
end

-- The token of 'obj' for a proxy that will own one reference.
function Server:_export(obj, typeid)
  local id = self:_register(obj, typeid)
  self.refs[id] = self.refs[id] + 1
  local entry = self.registry[typeid]
  return { typeid = typeid, address = self.address, id = id,
           exposed = entry and entry.exposed_list,
           proxytype = entry and entry.proxytype_name, adopt = true }
end

--- The object of 'id' (for a proxy rebuilt in the server's own state).
function Server:_object(id)
  local e = self.objs[id]
  return e and e.obj
end

function Server:_decref(id)
  local r = self.refs[id]
  if r == nil then return end
  r = r - 1
  if r <= 0 then
    local e = self.objs[id]
    self.refs[id], self.objs[id] = nil, nil
    if e then
      self.ids[e.obj] = nil
      local ov = self.ovf[e.obj]
      if ov ~= nil then
        -- the feeder ends once it has moved what is listed (if the ring
        -- never gets room, it waits until the server ends)
        self.ovf[e.obj] = nil
        if ov.feeder ~= nil then ov.list:put(false) end
      end
    end
  else
    self.refs[id] = r
  end
end

local function traced(msg)
  return errors.wrap(msg, debug_traceback(nil, 2))
end

-- The methods a client may call on the server itself (id 0).
local public = {}

function public.create(self, conn, typeid, ...)
  local entry = self.registry[typeid]
  if entry == nil then error(ValueError("unknown typeid " .. tostring(typeid)), 2) end
  local callable = entry.callable
  local obj
  if callable == nil then obj = (...) else obj = callable(...) end
  if obj == nil then error(ValueError("the callable of '" .. typeid .. "' returned nil"), 2) end
  return self:_export(obj, typeid)
end
function public.incref(self, conn, id)
  if self.refs[id] == nil then error(KeyError("no object with id " .. tostring(id)), 2) end
  self.refs[id] = self.refs[id] + 1
end
function public.decref(self, conn, id) self:_decref(id) end
function public.dummy() end
function public.number_of_objects(self)
  local c = 0
  for _ in next, self.objs do c = c + 1 end
  return c
end
-- Python's layout: per object, by id, "  <id>:       refcount=<n>" and
-- on the next line the start of its representation (75 characters).
function public.debug_info(self)
  local ids = {}
  for id in next, self.objs do ids[#ids + 1] = id end
  table_sort(ids)
  local out = {}
  for i, id in ipairs(ids) do
    local obj = self.objs[id].obj
    local ok, r = pcall(function()
      local repr = type(obj) == "table" and obj.__repr__
      if type(repr) == "function" then return repr(obj) end
      return tostring(obj)
    end)
    if not ok then r = tostring(self.objs[id].typeid) end
    out[i] = string_format("  %d:       refcount=%d\n    %s", id, self.refs[id],
                           tostring(r):sub(1, 75))
  end
  return table_concat(out, "\n")
end
function public.get_methods(self, conn, id)
  local e = self.objs[id]
  if e == nil then error(KeyError("no object with id " .. tostring(id)), 2) end
  return M.all_methods(e.obj)
end
function public.shutdown(self) self.stop = true end
-- The shared-memory queue behind a manager's Queue/JoinableQueue (nil
-- for any other object): a proxy on this host runs the calls that do not
-- wait on it directly (docs/managers.md, "The Queue proxy's direct path").
-- It travels by reference (docs/multiprocessing.md, "objects travel").
function public.queue_handle(self, conn, id)
  local e = self.objs[id]
  if e == nil then error(KeyError("no object with id " .. tostring(id)), 2) end
  local mt = getmetatable(e.obj)
  if type(e.obj) == "userdata" and mt and mt.__name == "braid.mp.Queue" then
    return e.obj, self:_overflow(e.obj).count
  end
  return nil
end

--- The public method names of an object (its exposed list by default):
-- the string keys holding functions, in its metatable chain, that do not
-- start with "_" (for a userdata: its methods table).
function M.all_methods(obj)
  local out, seen = {}, {}
  local t = type(obj) == "table" and obj or nil
  local mt = getmetatable(obj)
  local idx = mt and rawget(mt, "__index")
  local function scan(x)
    local guard = 0
    while type(x) == "table" and guard < 32 do
      for k, v in next, x do
        if type(k) == "string" and k:sub(1, 1) ~= "_" and not seen[k]
           and (type(v) == "function") then
          seen[k] = true; out[#out + 1] = k
        end
      end
      local m = getmetatable(x)
      x = m and rawget(m, "__index"); guard = guard + 1
      if type(x) == "function" then break end
    end
  end
  if t then scan(t) end
  if type(idx) == "table" then scan(idx) end
  -- a braid userdata's __index is a C function whose first upvalue is
  -- its methods table (docs/HACKING.md, "Shared objects")
  if type(idx) == "function" and debug_getupvalue then
    local _, methods = debug_getupvalue(idx, 1)
    if type(methods) == "table" then scan(methods) end
  end
  table_sort(out)
  return out
end

-- Finds the function 'method' of 'obj' (exposed check done by the caller).
local function method_of(obj, method)
  local f = obj[method]
  if type(f) ~= "function" then
    local mt = getmetatable(obj)
    if type(f) == "table" and mt and getmetatable(f) and getmetatable(f).__call then
      return f
    end
    error(AttributeError(string_format("'%s' object has no method '%s'",
          type(obj), tostring(method))), 3)
  end
  return f
end

-- A connection's server thread: makes the calls on userdata objects
-- handed to it through 'jobs' and answers on 'conn' itself. Each job is
-- {obj, method, args}; `false` ends the thread. `cancel` is set by the
-- loop when the connection is gone: a wait without a timeout (a queue's
-- get, an acquire, an event's wait) waits in slices and gives up then,
-- so a dead client leaves no thread behind that would take the next
-- item or the lock for nobody (Python's server does).
local function conn_thread(jobs, conn, cancel)
  local errs = require "braid.errors"
  local dtb = require("debug").traceback
  local unpk, sel = require("table").unpack, select
  local Empty = errs.classes["queue.Empty"]
  local SLICE = 0.25
  local QUEUES = { ["braid.Queue"] = true, ["braid.LifoQueue"] = true,
                   ["braid.PriorityQueue"] = true, ["braid.SimpleQueue"] = true,
                   ["braid.mp.Queue"] = true }
  local LOCKS = { ["braid.Lock"] = true, ["braid.RLock"] = true,
                  ["braid.Semaphore"] = true, ["braid.BoundedSemaphore"] = true }
  local function gone() error(errs.EOFError("the client went away during the call")) end
  local function call(obj, method, args)
    if method == "__getattribute__" then return obj[args[1]] end
    local mt = getmetatable(obj)
    local tn = mt and mt.__name
    if args[2] == nil and args[1] ~= false then -- a wait without end
      if method == "get" and QUEUES[tn] then
        while true do
          local ok, v = pcall(obj.get, obj, true, SLICE)
          if ok then
            if cancel:is_set() then pcall(obj.put, obj, v, false); gone() end
            return v
          end
          if not Empty:is(v) then error(v, 0) end
          if cancel:is_set() then gone() end
        end
      elseif method == "acquire" and LOCKS[tn] then
        while not obj:acquire(true, SLICE) do
          if cancel:is_set() then gone() end
        end
        if cancel:is_set() then obj:release(); gone() end
        return true
      elseif method == "join" and tn == "braid.mp.Queue" and args.n == 1
             and getmetatable(args[1]) and getmetatable(args[1]).__name == "braid.Event" then
        -- a manager Queue's join with its overflow's 'drained' event
        while not args[1]:wait(SLICE) do
          if cancel:is_set() then gone() end
        end
        return obj:join()
      elseif method == "wait" and tn == "braid.Event" and args[1] == nil then
        while not obj:wait(SLICE) do
          if cancel:is_set() then gone() end
        end
        return true
      end
    end
    local f = obj[method]
    if f == nil then
      error(errs.AttributeError("'" .. (tn or type(obj))
            .. "' object has no method '" .. tostring(method) .. "'"))
    end
    return f(obj, unpk(args, 1, args.n))
  end
  local function handler(e) return errs.wrap(e, dtb(nil, 2)) end
  while true do
    local job = jobs:get()
    if not job then break end
    local res
    local function collect(ok, ...)
      if ok then res = { n = sel("#", ...) + 1, true, ... } else res = (...) ; return false end
      return true
    end
    local obj, method = job[1], job[2]
    local ok = collect(xpcall(call, handler, obj, method, job[3]))
    local sent, serr = false, nil
    if not cancel:is_set() then
      if ok then sent, serr = pcall(sendv, conn, unpk(res, 1, res.n))
      else sent, serr = pcall(sendv, conn, "#ERROR", res) end
    end
    if cancel:is_set() or (not sent and errs.is(errs.OSError, serr)) then
      -- nobody to answer (the client is gone): undo what a wait took
      local tn = getmetatable(obj) and getmetatable(obj).__name
      if ok and method == "get" and QUEUES[tn] then pcall(obj.put, obj, res[2], false)
      elseif ok and method == "acquire" and LOCKS[tn] and res[2] then pcall(obj.release, obj) end
      break
    end
    if not sent then
      local ok2 = pcall(sendv, conn, "#TRACEBACK",
        "the result of '" .. tostring(job[2]) .. "' cannot be sent")
      if not ok2 then break end
    end
  end
end

-- Returns true when the answer went out; else false and the send's error
-- (an OSError: the client is gone).
local function answer(conn, kind, value)
  local ok, err
  if kind == "#RETURN" then ok, err = pcall(sendv, conn, unpack(value, 1, value.n))
  else ok, err = pcall(sendv, conn, kind, value) end
  if not ok and kind ~= "#TRACEBACK" then
    answer(conn, "#TRACEBACK", "the answer cannot be sent: " .. tostring(err))
  end
  return ok, err
end

-- answer() for the results of xpcall(f, traced, ...) (no table between).
local function reply(conn, ok, ...)
  if not ok then return answer(conn, "#ERROR", (...)) end
  local sent, err = pcall(sendv, conn, true, ...)
  if not sent then
    answer(conn, "#TRACEBACK", "the answer cannot be sent: " .. tostring(err))
  end
end

-- Calls on braid objects that never block run in the loop; calls that
-- may block are first tried without blocking there, and go to the
-- connection's thread only when they would wait (a round trip saved per
-- call: bench/README.md, "managers"). Objects with an owner (RLock,
-- Condition) always go to the thread: it is the owner.
local DELEGATE = {}
local function direct(obj, method, args) return obj[method](obj, unpack(args, 1, args.n)) end
local function try_get(obj, _, args)
  if args[1] == false then return obj:get(false) end
  local ok, v = pcall(obj.get, obj, false)
  if ok then return v end
  if errors.is(errors.classes["queue.Empty"], v) then return DELEGATE end
  error(v, 0)
end
local function try_put(obj, _, args)
  local ok, e = pcall(obj.put, obj, args[1], false)
  if ok then return end
  if errors.is(errors.classes["queue.Full"], e) and args[2] ~= false then return DELEGATE end
  error(e, 0)
end
local function try_acquire(obj, _, args)
  if args[1] == false then return obj:acquire(unpack(args, 1, args.n)) end
  if obj:acquire(false) then return true end
  return DELEGATE
end
local function try_wait(obj)
  if obj:is_set() then return true end
  return DELEGATE
end
local QUEUE = { qsize = direct, empty = direct, full = direct, put_nowait = direct,
                get_nowait = direct, task_done = direct, get = try_get, put = try_put }
-- The shared-memory queue of a manager's Queue/JoinableQueue has no
-- put_nowait/get_nowait of its own (the Lua wrapper's are its put/get
-- with block false). put's item is required (Python's TypeError); nil
-- is an item (None).
local function need_item(args, name)
  if args.n < 1 then error(TypeError("bad argument #1 to '" .. name .. "' (value expected)"), 0) end
end
-- A negative timeout of a get/put that may wait is Python's ValueError
-- (the shared queue's own would read it as no time left).
local function check_timeout(block, timeout)
  if block ~= false and type(timeout) == "number" and timeout < 0 then
    error(ValueError("'timeout' must be a non-negative number"), 0)
  end
end
local MPQUEUE = { qsize = direct, empty = direct, full = direct, task_done = direct,
                  get = function(obj, m, args)
                    check_timeout(args[1], args[2]); return try_get(obj, m, args)
                  end,
                  put = function(obj, m, args)
                    need_item(args, "put"); check_timeout(args[2], args[3])
                    return try_put(obj, m, args)
                  end,
                  get_nowait = function(obj) return obj:get(false) end,
                  put_nowait = function(obj, _, args)
                    need_item(args, "put_nowait")
                    return obj:put(args[1], false)
                  end }
local SEM = { acquire = try_acquire, release = direct }
local FAST = {
  ["braid.Queue"] = QUEUE, ["braid.LifoQueue"] = QUEUE, ["braid.PriorityQueue"] = QUEUE,
  ["braid.SimpleQueue"] = QUEUE, ["braid.mp.Queue"] = MPQUEUE,
  ["braid.Lock"] = SEM, ["braid.Semaphore"] = SEM, ["braid.BoundedSemaphore"] = SEM,
  ["braid.Event"] = { is_set = direct, set = direct, clear = direct, wait = try_wait },
}

-- The overflow of an unbounded manager Queue (Python's manager Queue is
-- a queue.Queue: with maxsize 0 a put never waits). Its shared-memory
-- ring holds QUEUE_RING bytes; a put that does not fit goes to the
-- server (a proxy's direct put raises queue.Full there), which appends
-- the item to this queue's overflow list and answers at once; a feeder
-- thread moves the list's items into the ring, in order, waiting on the
-- ring's space (a blocking put: an item larger than the ring streams).
-- 'count' is a shared word (a raw 64-bit Value, handed to proxies with
-- queue_handle): the items in the list plus the one the feeder holds.
-- While it is not 0 every proxy sends its puts, put_nowait, qsize,
-- empty and full to the server, which answers from the ring and the
-- overflow together; 'drained' is set while it is 0 (join waits for it,
-- then for the ring's tasks: an overflowed item is a task too).
--
-- Order. Only the loop adds to the list (here, holding 'lock'); only the
-- feeder removes from it, and it lowers 'count' (holding 'lock') after
-- the item is in the ring. So 'count' is 0 only when every item ever
-- listed is in the ring. A producer's put X that reached the server is
-- either in the ring or listed (count raised) before X is answered.
-- Its next put Y starts after that answer; if Y's proxy reads 'count' 0,
-- X is in the ring already and the direct put of Y lands behind it; if it
-- reads non-zero (even if the feeder clears it meanwhile), Y goes to the
-- server, which handles it after X: with 'count' > 0 (read under 'lock')
-- Y is listed behind X; with 0, X is in the ring and Y's ring put follows.
-- A direct put that finds the ring full goes to the server the same way.
-- (The proxy's read of 'count' needs no fence of its own: if its direct
-- put of Y took the ring's lock before the feeder's put of X did, its read
-- came before that lock, hence before the feeder's later store of 0, and
-- cannot have seen that 0; the ring's process-shared lock orders the rest.)
-- At shutdown the listed items are dropped with the server, as Python's.
local function ovf_feeder(list, q, count, lock, drained)
  while true do
    local box = list:get()
    if not box then break end
    q:put(box[1], true) -- waits for space: the ring is the limit
    lock:acquire()
    local n = count.value - 1
    count.value = n
    if n == 0 then drained:set() end
    lock:release()
  end
end

-- The overflow state of shared queue 'q' (made on first use).
function Server:_overflow(q)
  local ov = self.ovf[q]
  if ov == nil then
    local threading = require "braid.threading"
    local queue = require "braid.queue"
    ov = { count = core.Value("q", 0), list = queue.Queue(), lock = threading.Lock(),
           drained = threading.Event() }
    ov.drained:set()
    self.ovf[q] = ov
  end
  return ov
end

-- put/put_nowait of item 'args[1]' on unbounded shared queue 'q': into
-- the ring when nothing is listed and it fits, else listed (see above).
function Server:_ovf_put(q, item)
  local ov = self:_overflow(q)
  local lock = ov.lock
  lock:acquire()
  local ok, e = true, nil
  if ov.count.value == 0 then
    ok, e = pcall(q.put, q, item, false)
    if ok then lock:release(); return end
  end
  if not ok and not errors.is(errors.classes["queue.Full"], e) then
    lock:release(); error(e, 0)
  end
  if ov.feeder == nil then
    local threading = require "braid.threading"
    local t = threading.Thread{ target = ovf_feeder, daemon = true, name = "manager-queue-feeder",
                                args = { ov.list, q, ov.count, lock, ov.drained } }
    local sok, serr = pcall(t.start, t)
    if not sok then lock:release(); error(serr, 0) end
    ov.feeder = t
  end
  ov.count.value = ov.count.value + 1
  ov.drained:clear()
  ov.list:put({ item })
  lock:release()
end

-- The calls on an unbounded shared queue the overflow changes (nil: the
-- call is not one of them).
function Server:_ovf_call(q, method, args)
  if method == "put" or method == "put_nowait" then
    need_item(args, method)
    if method == "put" then check_timeout(args[2], args[3]) end
    self:_ovf_put(q, args[1])
    return pack(true)
  end
  local ov = self.ovf[q]
  if ov == nil then return nil end
  if method == "qsize" then return pack(true, q:qsize() + ov.count.value)
  elseif method == "empty" then return pack(true, q:empty() and ov.count.value == 0)
  elseif method == "full" then return pack(true, false)
  end
  return nil
end

-- Parked waits. A call that would block (a get on an empty queue, an
-- acquire of a taken lock, a wait on a clear event, a put on a full
-- queue) first waits in the loop: it is tried again after every request
-- the loop runs (the put that gives it its item is usually one) and is
-- answered from the loop, with no thread to wake on either side. Only a
-- wait still unanswered after PARK_GRACE goes to the connection's thread
-- (an item put by a thread of the server itself, not through the loop,
-- is seen by then at the latest), so a stream through a manager's queue
-- costs no cross-thread hand-off per item. Waits are tried in the order
-- they came (first come, first served among parked waits).
local PARK_GRACE = 0.005
local TIMEOUT_ARG = { get = 2, put = 3, acquire = 2, wait = 1 }

-- 'args' with the timeout argument of 'method' set to 't'.
local function with_timeout(method, args, t)
  local i = TIMEOUT_ARG[method]
  local out = { n = args.n > i and args.n or i, unpack(args, 1, args.n) }
  out[i] = t
  return out
end

function Server:_park(conn, obj, method, args, try)
  local now = core.monotonic()
  local t = args[TIMEOUT_ARG[method]]
  if type(t) == "number" and not (t >= 0) then
    -- not a plain timeout (a lock's -1 is "forever", a queue's negative
    -- one an error, NaN...): the call itself says what it means
    return self:_delegate(conn, obj, method, args)
  end
  local parked = self.parked
  parked[#parked + 1] = { conn = conn, obj = obj, method = method, args = args,
                          try = try, grace = now + PARK_GRACE,
                          due = type(t) == "number" and now + (t > 0 and t or 0) or nil }
end

-- Answers a parked wait that got what it waited for ('r': its results).
-- A client that died while parked (its end of the connection is closed,
-- so the send fails) gets nothing: what the wait took goes back (the item
-- to its queue, the lock released), as conn_thread does for the waits it
-- runs, so nothing is taken for nobody. This happens when the loop runs
-- another client's put or release before it reads the dead one's EOF.
local function answer_taken(p, r)
  local sent, err = answer(p.conn, "#RETURN", r)
  if sent or not errors.is(errors.OSError, err) then return end
  if p.method == "get" then pcall(p.obj.put, p.obj, r[2], false)
  elseif p.method == "acquire" and r[2] == true then pcall(p.obj.release, p.obj) end
end

-- Tries the parked waits again; answers those that can be, hands those
-- past their grace to their connection's thread, and those past their
-- timeout get the call's own answer with no time left. Returns the
-- seconds until the next of these moments (nil: nothing parked).
function Server:_retry_parked()
  local parked = self.parked
  local now = core.monotonic()
  local i, nextt = 1, nil
  while i <= #parked do
    local p = parked[i]
    local r = pack(xpcall(p.try, traced, p.obj, p.method, p.args))
    local done = true
    if not r[1] then
      answer(p.conn, "#ERROR", r[2])
    elseif r[2] ~= DELEGATE then
      answer_taken(p, r)
    elseif p.due ~= nil and now >= p.due then
      r = pack(xpcall(direct, traced, p.obj, p.method, with_timeout(p.method, p.args, 0)))
      if r[1] then answer_taken(p, r) else answer(p.conn, "#ERROR", r[2]) end
    elseif now >= p.grace then
      local args = p.args
      if p.due ~= nil then args = with_timeout(p.method, args, p.due - now) end
      self:_delegate(p.conn, p.obj, p.method, args)
    else
      done = false
      local t = p.due ~= nil and p.due < p.grace and p.due or p.grace
      if nextt == nil or t < nextt then nextt = t end
    end
    if done then table_remove(parked, i) else i = i + 1 end
  end
  return nextt and (nextt > now and nextt - now or 0)
end

function Server:_delegate(conn, obj, method, args)
  local th = self.threads[conn]
  if th == nil then
    local threading = require "braid.threading"
    local queue = require "braid.queue"
    local jobs, cancel = queue.Queue(), threading.Event()
    local t = threading.Thread{ target = conn_thread, args = { jobs, conn, cancel },
                                daemon = true, name = "manager-conn" }
    t:start()
    th = { jobs = jobs, thread = t, cancel = cancel }
    self.threads[conn] = th
  end
  th.jobs:put({ obj, method, args })
end

-- Runs one request read from 'conn' (its values: see the wire above).
function Server:_handle(conn, id, method, drop, n, ...)
  if math_type(n) ~= "integer" or n < 0 or n ~= select("#", ...) then
    return answer(conn, "#TRACEBACK", "malformed request")
  end
  if type(drop) == "table" then for _, d in ipairs(drop) do self:_decref(d) end end
  -- The common call, a method of a table object's class (a dict's
  -- __setitem__): straight to it with the request's values (no args
  -- table, no results table); what it skips is in the general path below.
  local e = id ~= 0 and self.objs[id]
  if e and method ~= "__getattribute__" and (e.exposed == nil or e.exposed[method]) then
    local obj = e.obj
    local entry = self.registry[e.typeid]
    if type(obj) == "table" and rawget(obj, method) == nil
       and not (entry and ((entry.method_to_typeid and entry.method_to_typeid[method])
                           or (entry.delegate and entry.delegate[method]))) then
      local mt = getmetatable(obj)
      local idx = type(mt) == "table" and rawget(mt, "__index")
      local f = type(idx) == "table" and rawget(idx, method)
      if type(f) == "function" then return reply(conn, xpcall(f, traced, obj, ...)) end
    end
  end
  local args = { n = n, ... }
  if id == 0 and method == "#DECREF" then return end -- decrefs only: no answer
  if id == 0 then
    local f = public[method]
    if f == nil then
      return answer(conn, "#TRACEBACK", "unknown server method " .. tostring(method))
    end
    local r = pack(xpcall(f, traced, self, conn, unpack(args, 1, args.n)))
    if r[1] then return answer(conn, "#RETURN", r) end
    return answer(conn, "#ERROR", r[2])
  end
  local e = self.objs[id]
  if e == nil then
    return answer(conn, "#ERROR", KeyError(string_format(
      "no object with id %s in the manager (released, or the manager restarted)", tostring(id))))
  end
  local obj = e.obj
  local exposed = e.exposed
  if exposed ~= nil and not exposed[method] then
    return answer(conn, "#ERROR", AttributeError(string_format(
      "method '%s' of '%s' object is not in exposed", tostring(method), tostring(e.typeid))))
  end
  local entry = self.registry[e.typeid]
  local m2t = entry and entry.method_to_typeid
  local newtype = m2t and m2t[method]
  local deleg = entry and entry.delegate
  if deleg and deleg[method] and newtype == nil then
    -- a table whose blocking methods work on a copy (its state is in
    -- shared handles: a Pool, an AsyncResult)
    return self:_delegate(conn, obj, method, args)
  end
  if type(obj) == "userdata" and newtype == nil then
    local mt = getmetatable(obj)
    local tn = mt and mt.__name
    if tn == "braid.mp.Queue" and obj:maxsize() <= 0 then
      local r = pack(xpcall(self._ovf_call, traced, self, obj, method, args))
      if not r[1] then return answer(conn, "#ERROR", r[2]) end
      if r[2] ~= nil then return answer(conn, "#RETURN", r[2]) end
      if method == "join" and self.ovf[obj] ~= nil then
        -- the overflowed items are tasks too: the thread waits for the
        -- list to drain, then for the ring's tasks
        return self:_delegate(conn, obj, "join", { n = 1, self.ovf[obj].drained })
      end
    end
    local fast = FAST[tn]
    local f = fast and fast[method]
    if f == nil then return self:_delegate(conn, obj, method, args) end
    local r = pack(xpcall(f, traced, obj, method, args))
    if not r[1] then return answer(conn, "#ERROR", r[2]) end
    if r[2] == DELEGATE then return self:_park(conn, obj, method, args, f) end
    return answer(conn, "#RETURN", r)
  end
  local r
  if method == "__getattribute__" and type(obj) ~= "table" then
    r = pack(true, obj[args[1]])
  else
    -- a method of the object's class table (a dict's, a list's: no
    -- lookup that could run code); anything else through method_of
    local f = nil
    if type(obj) == "table" and rawget(obj, method) == nil then
      local mt = getmetatable(obj)
      local idx = type(mt) == "table" and rawget(mt, "__index")
      if type(idx) == "table" then f = rawget(idx, method) end
    end
    if type(f) ~= "function" then
      local ok
      ok, f = pcall(method_of, obj, method)
      if not ok then return answer(conn, "#ERROR", f) end
    end
    r = pack(xpcall(f, traced, obj, unpack(args, 1, args.n)))
  end
  if not r[1] then return answer(conn, "#ERROR", r[2]) end
  if newtype ~= nil then
    local res = r[2]
    if res == nil then return answer(conn, "#RETURN", { n = 1, true }) end
    local tok = self:_export(res, newtype)
    local ne = self.registry[newtype]
    if ne and ne.exposed then self.objs[tok.id].exposed = ne.exposed end
    return answer(conn, "#PROXY", tok)
  end
  return answer(conn, "#RETURN", r)
end

local function fileno(x)
  if type(x.fileno) == "function" then return x:fileno() end
  return x._fd
end

function Server:_drop(i)
  local conn = table_remove(self.conns, i)
  self.dirty = true
  local parked = self.parked
  for j = #parked, 1, -1 do -- its waits end with it (nothing taken for nobody)
    if parked[j].conn == conn then table_remove(parked, j) end
  end
  local th = self.threads[conn]
  if th then self.threads[conn] = nil; th.cancel:set(); th.jobs:put(false) end
  pcall(conn.close, conn)
end

-- Accepting. The loop only accepts (accept(2): the listener is readable,
-- so that does not wait); a short-lived thread runs the authentication,
-- which waits for the peer, and hands the connection back through
-- 'inbox', waking the loop through a pipe. So a peer that connects and
-- never answers the challenge holds its own thread, never the server.
-- (A listener of another kind is accepted from the loop with its accept().)
local function auth_thread(c, authkey, inbox, wake)
  local core_ = require "braid.core"
  if pcall(core_.conn_auth, c, "server", authkey) then
    inbox:put(c)
    pcall(wake.send_bytes, wake, "x")
  else
    pcall(c.close, c)
  end
end

function Server:_accept()
  local l = self.listener
  local owner = rawget(l, "_owner")
  local authkey = rawget(l, "_authkey")
  if owner == nil or authkey == nil or core.net_accept == nil then
    local ok, conn = pcall(l.accept, l)
    if ok and conn then self.conns[#self.conns + 1] = conn end
    return
  end
  local ok, c, peer = pcall(core.net_accept, owner:fileno(), rawget(l, "_allow"),
                            rawget(l, "_maxsize"))
  if not ok then return end
  l.last_accepted = peer
  if self.inbox == nil then
    local queue = require "braid.queue"
    self.inbox = queue.Queue()
    self.wake_r, self.wake_w = core.Pipe(false)
    self.dirty = true
  end
  local threading = require "braid.threading"
  local t = threading.Thread{ target = auth_thread, daemon = true, name = "manager-auth",
                              args = { c, authkey, self.inbox, self.wake_w } }
  if not pcall(t.start, t) then pcall(c.close, c) end
end

-- Connections whose authentication succeeded.
function Server:_take_authenticated()
  pcall(self.wake_r.recv_bytes, self.wake_r)
  while true do
    local ok, c = pcall(self.inbox.get, self.inbox, false)
    if not ok then break end
    -- a request's header and body in one read; what a client sends
    -- ahead (decrefs before its next call) is read from the buffer by
    -- the loop, which its poll would not see
    c.readahead = true
    self.conns[#self.conns + 1] = c
  end
end

-- Reads one request from 'conn' and runs it: true, or nil when the
-- connection is gone (or sends garbage); raises what running it raised.
local function run(self, conn, ok, ...)
  if not ok then return nil end
  self:_handle(conn, ...)
  return true
end
function Server:_serve1(conn)
  if run(self, conn, pcall(recvv, conn)) == nil then return nil end
  return true
end

--- Serves until a client calls `shutdown`.
function Server:serve_forever()
  local lfd = fileno(self.listener)
  local conns, parked = self.conns, self.parked
  local fds, base, nfds = nil, 1, -1
  while not self.stop do
    if nfds ~= #conns or self.dirty then -- rebuilt when the set changed
      fds = { lfd }
      if self.wake_r then fds[2] = self.wake_r:fileno() end
      base = #fds
      for i, c in ipairs(conns) do fds[base + i] = fileno(c) end
      nfds, self.dirty = #conns, false
    end
    local wait = nil
    if parked[1] ~= nil then wait = self:_retry_parked() end
    local ready = core.fds_wait(fds, wait)
    -- connections first, from the end, so removals keep indices valid
    local accept, woken = false, false
    for r = #ready, 1, -1 do
      local k = ready[r]
      if k > base then
        local conn = conns[k - base]
        repeat
          local hok, served = pcall(self._serve1, self, conn)
          if hok and served == nil then
            self:_drop(k - base)
            break
          end
          if not hok then answer(conn, "#TRACEBACK", tostring(served)) end
          -- what this request did (a put, a release, a set) may answer
          -- a parked wait: at once, before the next request is read
          if parked[1] ~= nil then self:_retry_parked() end
          -- requests read ahead are not seen by fds_wait: served now
          local more = conn.buffered
        until self.stop or not (type(more) == "number" and more > 0)
        if self.stop then break end
      elseif k == 1 then accept = true
      else woken = true end
    end
    if woken and not self.stop then self:_take_authenticated() end
    if accept and not self.stop then self:_accept() end
  end
  self:close()
end

function Server:close()
  M.serving[M.addrkey(self.address)] = nil
  for i = #self.conns, 1, -1 do self:_drop(i) end
  pcall(self.listener.close, self.listener)
  if self.wake_r then pcall(self.wake_r.close, self.wake_r); pcall(self.wake_w.close, self.wake_w) end
end

-- }======================================================================

return M

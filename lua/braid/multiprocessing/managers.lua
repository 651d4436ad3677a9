--- Python's `multiprocessing.managers`: a server process owns objects,
-- other threads and processes use them through proxies.
--
-- `multiprocessing.Manager()` starts a `SyncManager` whose `dict`, `list`,
-- `Namespace`, `Queue`, `JoinableQueue`, `Lock`, `RLock`, `Semaphore`,
-- `BoundedSemaphore`, `Condition`, `Event`, `Barrier`, `Value` and `Array`
-- make an object in the server and return its proxy. `BaseManager` takes
-- `register(typeid, callable, proxytype, exposed, method_to_typeid,
-- create_method)` for objects of your own, `start`, `connect`,
-- `get_server():serve_forever()` and `shutdown`.
--
-- A proxy behaves like the Lua value it stands for (`d[k]`, `d[k] = v`,
-- `#l`, `pairs`, `ipairs`, Namespace fields), travels to threads and
-- processes by reference (it reconnects to the manager with the authkey)
-- and can be stored in other managed objects (it stays the same object).
-- Each Lua state keeps one connection per manager, shared by its proxies
-- (a call is synchronous, so a state never has two calls in flight on
-- it); a collected proxy's reference is released at once (a message with
-- no answer), or with the state's next request to that manager when it
-- was collected during a call. Errors raised by the object arrive as their
-- own class with the manager's traceback; a failure of the manager itself
-- raises `RemoteError`; a manager that is gone raises at once (EOFError,
-- BrokenPipeError, ConnectionRefusedError, FileNotFoundError: OSError
-- subclasses but EOFError), never hangs.
-- @module braid.multiprocessing.managers
local core = require "braid.core"
local errors = require "braid.errors"
local mgrserver = require "braid.multiprocessing.mgrserver"
local require, setmetatable, getmetatable, rawget, rawset, type, pairs, ipairs, next,
      tostring, select, error, pcall, unpack, string_format, table_concat,
      math_type =
  require, setmetatable, getmetatable, rawget, rawset, type, pairs, ipairs, next,
  tostring, select, error, pcall, table.unpack, string.format, table.concat,
  math.type
_ENV = nil

local M = {}

local RemoteError = errors.class("multiprocessing.managers.RemoteError",
                                 errors.Exception)
RemoteError.is = errors.is
M.RemoteError = RemoteError
M.Server = mgrserver.Server

local function pack(...) return { n = select("#", ...), ... } end

local function default_authkey()
  return require("braid.multiprocessing.process").current_process().authkey
end

-- {======================================================================
-- Connections of this state, one per manager address

local conns = {}    -- address key -> authkey -> { conn =, pid = } (a
                    -- connection is only reused with the key it proved)
local pending = {}  -- address key -> { pid =, ids... } (decrefs to send)
local receiving_authkey = nil -- the authkey of the call being answered

local function forget(key, authkey)
  local byk = conns[key]
  if byk == nil then return end
  for k, c in pairs(byk) do
    if authkey == nil or k == authkey then
      byk[k] = nil
      if c.pid == core.getpid() then pcall(c.conn.close, c.conn) end
    end
  end
end

local function lost(key, authkey, err)
  forget(key, authkey) -- an answer may still come: the connection is done
  if not errors.is(errors.Exception, err) then error(err, 0) end -- KeyboardInterrupt
  local cls = type(err) == "table" and err.type or errors.EOFError
  local e = cls("the manager at " .. key .. " is gone (shut down, or unreachable): "
                .. tostring(type(err) == "table" and err.message or err))
  e.cause = err
  error(e, 0)
end

local function getconn(address, authkey, key)
  local byk = conns[key]
  local c = byk and byk[authkey]
  local pid = core.getpid()
  if c ~= nil and c.pid == pid then return c.conn end
  local connection = require "braid.multiprocessing.connection"
  local ok, conn = pcall(connection.Client, address, nil, authkey)
  if not ok then
    if errors.is(errors.OSError, conn) then
      local e = conn.type("cannot reach the manager at " .. key .. ": "
                          .. tostring(conn.message))
      e.errno, e.cause = conn.errno, conn
      error(e, 0)
    end
    error(conn, 0)
  end
  -- an answer's header and body in one read (the protocol is one answer
  -- per request: nothing else is read ahead, and nobody else waits on it)
  conn.readahead = true
  if byk == nil then byk = {}; conns[key] = byk end
  byk[authkey] = { conn = conn, pid = pid }
  return conn
end

-- The method of a connection that sends a request and reads its answer,
-- looked up once (each lookup on the userdata is a call of its __index).
local conn_callv

-- Calls of this state between their send and the end of their answer's
-- decoding: while one is, no other message may go on its connection, so
-- the decref of a proxy collected then (a finalizer runs at any
-- allocation) waits for its end.
local busy = 0

local rebuild
local flush_decrefs

-- The wire (mgrserver.lua): a request is the values `id, method, drops,
-- nargs, args...` of one message (`drops`: the ids whose decrefs go with
-- it, or nil), its answer `true, results...`, `"#ERROR", err`,
-- `"#PROXY", token` or `"#TRACEBACK", text`. Values, not tables: a call
-- of scalars encodes and decodes no table.
local function answer_of(key, authkey, saved, ok, kind, ...)
  receiving_authkey = saved
  busy = busy - 1
  if not ok then
    if errors.is(errors.TypeError, kind) or errors.is(errors.RuntimeError, kind) then
      -- an argument that cannot be sent (or a result that cannot be
      -- received): the connection is fine, the frame was read whole
      error(kind, 0)
    end
    lost(key, authkey, kind)
  end
  if pending[key] ~= nil and busy == 0 then flush_decrefs(key) end
  if kind == true then return ... end -- results
  local value = ...
  if kind == "#ERROR" then error(value, 0) end
  if kind == "#PROXY" then value.authkey = authkey; return rebuild(value) end
  error(RemoteError("\n" .. ("-"):rep(75) .. "\n" .. tostring(value)
                    .. "\n" .. ("-"):rep(75)), 0)
end

local function call_with(conn, key, authkey, id, method, n, ...)
  if conn_callv == nil then conn_callv = conn._callv end
  local drops = nil
  local p = pending[key]
  if p ~= nil then
    pending[key] = nil
    if p.pid == core.getpid() then p.pid = nil; drops = p end
  end
  busy = busy + 1
  local saved = receiving_authkey
  receiving_authkey = authkey
  return answer_of(key, authkey, saved,
                   pcall(conn_callv, conn, id, method, drops, n, ...))
end

--- `dispatch(address, authkey, id, method, args, [key])`: one request to
-- a manager (id 0: the server's own methods); returns the results. `key`:
-- the address's key when the caller has it (a proxy keeps it).
local function dispatch(address, authkey, id, method, args, key)
  key = key or mgrserver.addrkey(address)
  local conn = getconn(address, authkey, key)
  return call_with(conn, key, authkey, id, method, args.n, unpack(args, 1, args.n))
end

-- dispatch for a call of one or two arguments, without an args table.
local function dispatch1(address, authkey, id, method, key, a)
  key = key or mgrserver.addrkey(address)
  return call_with(getconn(address, authkey, key), key, authkey, id, method, 1, a)
end
local function dispatch2(address, authkey, id, method, key, a, b)
  key = key or mgrserver.addrkey(address)
  return call_with(getconn(address, authkey, key), key, authkey, id, method, 2, a, b)
end
M.dispatch = dispatch

-- Sends the decrefs waiting for the manager at 'key' at once, as a
-- message with no answer (the server reads it like any request: its
-- 4th field), on this process's connection to it; with none, they go
-- with the next request. Python's proxies decref from their finalizer
-- too: a collected proxy does not keep its referent alive until this
-- state happens to call the manager again.
function flush_decrefs(key)
  local p = pending[key]
  local pid = core.getpid()
  if p == nil or p.pid ~= pid or busy > 0 then return end
  local conn
  for _, c in pairs(conns[key] or {}) do
    if c.pid == pid then conn = c.conn; break end
  end
  if conn == nil then return end
  pending[key] = nil
  p.pid = nil
  busy = busy + 1
  -- a manager that is gone took its objects with it: nothing to release
  pcall(conn._sendv, conn, 0, "#DECREF", p, 0)
  busy = busy - 1
end

local function decref_later(key, id)
  local p = pending[key]
  local pid = core.getpid()
  if p == nil or p.pid ~= pid then p = { pid = pid }; pending[key] = p end
  p[#p + 1] = id
  if busy == 0 then flush_decrefs(key) end
end

-- }======================================================================

-- {======================================================================
-- Token and proxies

local Token = {}
Token.__index = Token
M.Token = Token

-- `Token(typeid, address, id)`: what identifies a managed object.
setmetatable(Token, { __call = function(_, typeid, address, id)
  return setmetatable({ typeid = typeid, address = address, id = id }, Token)
end })
function Token.__tostring(t)
  return string_format("Token(typeid=%q, address=%s, id=%s)", tostring(t.typeid),
                       mgrserver.addrkey(t.address), tostring(t.id))
end

local ProxyMeta = {} -- metatable of proxy classes: lookups go to the parent
function ProxyMeta.__index(cls, k)
  local super = rawget(cls, "__super")
  if super ~= nil then return super[k] end
  return nil
end

local proxytypes = {}   -- name -> class of the proxy types defined here
local received = {}     -- name -> class of a proxy type that came with a proxy
local known = {}        -- typeid -> proxy class (registered in this state)

local function pindex(self, k)
  local cls = getmetatable(self)
  local v = cls[k]
  if v ~= nil then return v end
  local get = cls._get_
  if get ~= nil then return get(self, k) end
  return nil
end

local function pnewindex(self, k, v)
  local set = getmetatable(self)._set_
  if set ~= nil and not (type(k) == "string" and k:sub(1, 1) == "_") then
    return set(self, k, v)
  end
  rawset(self, k, v)
end

local function proxy_gc(self)
  local id = rawget(self, "_id")
  if id ~= nil and rawget(self, "_pid") == core.getpid() and not rawget(self, "_local") then
    decref_later(rawget(self, "_key"), id)
  end
end

local builtin = setmetatable({}, { __mode = "k" }) -- classes defined here

-- A proxy class of the user's travels as the fields it adds to the
-- first class of this module it derives from (the functions it has in
-- common with that class are this module's, found by name on arrival).
local function class_spec(cls)
  local chain, c = {}, cls
  while c ~= nil and not builtin[c] do chain[#chain + 1] = c; c = rawget(c, "__super") end
  if #chain == 0 then return nil end
  local base = c or BaseProxy
  local fields = {}
  for i = #chain, 1, -1 do
    for k, v in pairs(chain[i]) do
      if k ~= "__super" and base[k] ~= v then fields[k] = v end
    end
  end
  return { name = cls.__name, base = base.__name, fields = fields }
end

local function proxy_reduce(self)
  local tok = rawget(self, "_token")
  local cls = getmetatable(self)
  return mgrserver.rebuild, {
    typeid = tok.typeid, address = tok.address, id = tok.id, exposed = tok.exposed,
    proxytype = cls.__name, proxyclass = class_spec(cls),
    authkey = rawget(self, "_authkey"),
  }
end

local BaseProxy = setmetatable({
  __name = "BaseProxy", __index = pindex, __newindex = pnewindex,
  __gc = proxy_gc, __braidreduce = proxy_reduce,
}, ProxyMeta)
M.BaseProxy = BaseProxy
proxytypes.BaseProxy = BaseProxy

function BaseProxy.__tostring(self)
  local tok = rawget(self, "_token")
  return string_format("<%s object, typeid '%s' at %s id %s>", getmetatable(self).__name,
                       tostring(tok.typeid), mgrserver.addrkey(tok.address), tostring(tok.id))
end

--- `Proxy:subclass(name, [exposed], [method_to_typeid])`: a proxy class
-- whose `exposed` methods call the referent's methods of the same name.
function BaseProxy.subclass(base, name, exposed, method_to_typeid)
  local cls = {}
  for k, v in pairs(base) do
    if type(k) == "string" and k:sub(1, 2) == "__" then cls[k] = v end
  end
  cls.__name = name or "Proxy"
  cls.__super = base
  setmetatable(cls, ProxyMeta)
  if exposed ~= nil then
    cls._exposed_ = exposed
    for _, m in ipairs(exposed) do
      if rawget(cls, m) == nil and base[m] == nil then
        cls[m] = function(self, ...) return self:_callmethod(m, ...) end
      end
    end
  end
  if method_to_typeid ~= nil then cls._method_to_typeid_ = method_to_typeid end
  if name ~= nil and proxytypes[name] == nil then proxytypes[name] = cls end
  return cls
end

--- `proxy:_callmethod(name, ...)`: calls the referent's method `name`.
function BaseProxy:_callmethod(name, ...)
  return dispatch(rawget(self, "_token").address, rawget(self, "_authkey"),
                  rawget(self, "_id"), name, pack(...), rawget(self, "_key"))
end

-- A call of one argument or two, straight to dispatch (d[k], d[k] = v:
-- no method lookup, no vararg packing).
local function call1(self, name, a)
  return dispatch1(rawget(self, "_token").address, rawget(self, "_authkey"),
                   rawget(self, "_id"), name, rawget(self, "_key"), a)
end
local function call2(self, name, a, b)
  return dispatch2(rawget(self, "_token").address, rawget(self, "_authkey"),
                   rawget(self, "_id"), name, rawget(self, "_key"), a, b)
end

--- `proxy:_getvalue()`: a copy of the referent (dict, list, namespace:
-- a plain table).
function BaseProxy:_getvalue() return self:_callmethod("copy") end

--- `proxy:_incref()`: takes one more reference on the referent (done
-- for you when a proxy arrives in a state).
function BaseProxy:_incref()
  dispatch(rawget(self, "_token").address, rawget(self, "_authkey"), 0,
           "incref", pack(rawget(self, "_id")))
end

-- The token of a proxy: `proxy._token` (fields typeid, address, id).

local function make_proxy(cls, tok, authkey, owned)
  local self = setmetatable({}, cls)
  rawset(self, "_token", setmetatable({ typeid = tok.typeid, address = tok.address,
                                        id = tok.id, exposed = tok.exposed }, Token))
  rawset(self, "_id", tok.id)
  rawset(self, "_key", mgrserver.addrkey(tok.address))
  rawset(self, "_authkey", authkey)
  rawset(self, "_pid", core.getpid())
  if not owned then
    local ok, err = pcall(BaseProxy._incref, self)
    if not ok then rawset(self, "_local", true); error(err, 0) end
  end
  return self
end

local autoclasses = {}
--- `AutoProxy(token, ...)`: a proxy whose methods are the referent's
-- exposed ones (asked from the manager when the token has none).
local function autoproxy_class(exposed)
  local key = table_concat(exposed, ",")
  local cls = autoclasses[key]
  if cls == nil then
    cls = BaseProxy:subclass(nil, exposed)
    cls.__name = "AutoProxy"
    builtin[cls] = true
    autoclasses[key] = cls
  end
  return cls
end

local AutoProxy = setmetatable({ __name = "AutoProxy", __super = BaseProxy }, ProxyMeta)
builtin[AutoProxy], builtin[BaseProxy] = true, true
M.AutoProxy = AutoProxy
proxytypes.AutoProxy = AutoProxy

-- The proxy of 'tok' in this state (or the object itself in its server).
function rebuild(tok)
  local key = mgrserver.addrkey(tok.address)
  local srv = mgrserver.serving[key]
  if srv ~= nil then
    local obj = srv:_object(tok.id)
    if obj ~= nil then
      if tok.adopt then srv:_decref(tok.id) end
      return obj
    end
  end
  local authkey = tok.authkey or receiving_authkey or default_authkey()
  local cls
  local spec = tok.proxyclass
  if spec ~= nil then
    cls = received[spec.name]
    if cls == nil then
      cls = (proxytypes[spec.base] or BaseProxy):subclass(nil)
      for k, v in pairs(spec.fields) do cls[k] = v end
      received[spec.name] = cls
    end
  end
  cls = cls or (tok.proxytype and proxytypes[tok.proxytype]) or known[tok.typeid]
  if cls == nil or cls == AutoProxy then
    local exposed = tok.exposed
    if exposed == nil then
      exposed = dispatch(tok.address, authkey, 0, "get_methods", pack(tok.id))
    end
    cls = autoproxy_class(exposed)
  end
  return make_proxy(cls, tok, authkey, tok.adopt)
end
M._rebuild = rebuild
M.RebuildProxy = rebuild

local function seqpairs(list)
  local i = 0
  return function()
    i = i + 1
    if i > (list.n or #list) then return nil end
    return i, list[i]
  end
end

-- dict
local DICT = { "__contains__", "__delitem__", "__getitem__", "__len__",
  "__setitem__", "_get", "clear", "copy", "get", "items", "keys", "pop",
  "popitem", "setdefault", "update", "values" }
local DictProxy = BaseProxy:subclass("DictProxy", DICT)
M.DictProxy = DictProxy
function DictProxy._get_(self, k) return call1(self, "_get", k) end
function DictProxy._set_(self, k, v) return call2(self, "__setitem__", k, v) end
function DictProxy.__len(self) return self:_callmethod("__len__") end
function DictProxy.__pairs(self)
  local items = self:_callmethod("items")
  local i = 0
  return function()
    i = i + 1
    local kv = items[i]
    if kv == nil then return nil end
    return kv[1], kv[2]
  end, self, nil
end
--- `d:update(t, [pairs_list])`: also from another dict proxy (in its
-- order).
function DictProxy:update(t, pairs_list)
  if type(t) == "table" and getmetatable(t) ~= nil and rawget(t, "_token") ~= nil then
    if getmetatable(t).items ~= nil then t, pairs_list = t:items(), true
    else t = t:copy() end
  end
  return self:_callmethod("update", t, pairs_list)
end

-- list
local LIST = { "__contains__", "__delitem__", "__getitem__", "__len__",
  "__setitem__", "_get", "append", "clear", "copy", "count", "extend", "index",
  "insert", "pop", "remove", "reverse", "slice", "sort" }
local ListProxy = BaseProxy:subclass("ListProxy", LIST)
M.ListProxy = ListProxy
function ListProxy._get_(self, k)
  if type(k) ~= "number" then return nil end
  return call1(self, "_get", k)
end
function ListProxy._set_(self, k, v) return call2(self, "__setitem__", k, v) end
function ListProxy.__len(self) return self:_callmethod("__len__") end
function ListProxy.__pairs(self) return seqpairs(self:_callmethod("copy")), self, nil end
function ListProxy:extend(t)
  if type(t) == "table" and getmetatable(t) ~= nil and rawget(t, "_token") ~= nil then
    t = t:copy()
  end
  return self:_callmethod("extend", t)
end
function ListProxy:_getvalue() return self:_callmethod("copy") end

-- Namespace: attributes as fields; names starting with "_" stay local.
local NamespaceProxy = BaseProxy:subclass("NamespaceProxy",
  { "__getattribute__", "__setattr__", "__delattr__", "_get", "_copy", "_items" })
M.NamespaceProxy = NamespaceProxy
function NamespaceProxy._get_(self, k)
  if type(k) == "string" and k:sub(1, 1) == "_" then return nil end
  return self:_callmethod("_get", k)
end
function NamespaceProxy._set_(self, k, v)
  if v == nil then return self:_callmethod("__setattr__", k, nil) end
  return self:_callmethod("__setattr__", k, v)
end
function NamespaceProxy.__pairs(self) return next, self:_callmethod("_items"), nil end
function NamespaceProxy:_getvalue() return self:_callmethod("_copy") end
NamespaceProxy.__index = function(self, k)
  -- a namespace's attributes win over inherited names that are not methods
  if type(k) == "string" and k:sub(1, 1) ~= "_" then
    return self:_callmethod("_get", k)
  end
  return pindex(self, k)
end

-- Value: field `value`, methods get/set.
local ValueProxy = BaseProxy:subclass("ValueProxy", { "get", "set" })
M.ValueProxy = ValueProxy
function ValueProxy._get_(self, k)
  if k == "value" then return self:_callmethod("get") end
  return nil
end
function ValueProxy._set_(self, k, v)
  if k == "value" then return self:_callmethod("set", v) end
  rawset(self, k, v)
end

-- Array: elements by index, #a, slice.
local ArrayProxy = BaseProxy:subclass("ArrayProxy",
  { "__len__", "__getitem__", "__setitem__", "_get", "slice", "tolist" })
M.ArrayProxy = ArrayProxy
ArrayProxy._get_ = ListProxy._get_
ArrayProxy._set_ = ListProxy._set_
ArrayProxy.__len = ListProxy.__len
function ArrayProxy.__pairs(self) return seqpairs(self:_callmethod("tolist")), self, nil end

-- Lock-likes: acquire/release, `with(fn, ...)`, `guard()` for <close>.
local AcquirerProxy = BaseProxy:subclass("AcquirerProxy", { "acquire", "release" })
M.AcquirerProxy = AcquirerProxy
local Guard = { __close = function(g) g.lock:release() end }
Guard.__index = Guard
function AcquirerProxy:guard()
  self:acquire()
  return setmetatable({ lock = self }, Guard)
end
function AcquirerProxy:with(fn, ...)
  self:acquire()
  local r = pack(pcall(fn, ...))
  self:release()
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end

local ConditionProxy = AcquirerProxy:subclass("ConditionProxy",
  { "acquire", "release", "wait", "notify", "notify_all" })
M.ConditionProxy = ConditionProxy
--- `cond:wait_for(predicate, [timeout])`: the predicate runs here, as
-- Python's proxy does.
function ConditionProxy:wait_for(predicate, timeout)
  local result = predicate()
  if result then return result end
  local deadline = timeout and core.monotonic and (core.monotonic() + timeout)
  local waittime = timeout
  while not result do
    if deadline then
      waittime = deadline - core.monotonic()
      if waittime <= 0 then break end
    end
    self:wait(waittime)
    result = predicate()
  end
  return result
end

local EventProxy = BaseProxy:subclass("EventProxy", { "is_set", "set", "clear", "wait" })
M.EventProxy = EventProxy

local BarrierProxy = BaseProxy:subclass("BarrierProxy", { "__getattribute__", "wait", "abort", "reset" })
M.BarrierProxy = BarrierProxy
local BARRIER_FIELDS = { parties = true, n_waiting = true, broken = true }
function BarrierProxy._get_(self, k)
  if BARRIER_FIELDS[k] then return self:_callmethod("__getattribute__", k) end
  return nil
end

local QueueProxy = BaseProxy:subclass("QueueProxy", { "empty", "full", "get",
  "get_nowait", "join", "put", "put_nowait", "qsize", "task_done" })
M.QueueProxy = QueueProxy

-- The Queue proxy's direct path (docs/managers.md). A manager's Queue is
-- a shared-memory queue in the server; a proxy on the manager's host
-- (an AF_UNIX address, or a loopback one) asks for that queue once per
-- process and then runs on it every call that does not wait: a put that
-- fits, a get when an item is there, qsize/empty/full, task_done. A call
-- that would wait (a get on an empty queue, a put on a full one, join)
-- goes to the server as before, on the same queue: one FIFO for every
-- client, local or remote, each item taken once. The direct path is used
-- only while this state's connection to the manager is open and not at
-- end of file (with no call in flight nothing may be readable on it), so
-- after shutdown(), or once the manager died, calls go to the server and
-- raise there as every proxy's do.
local Full, Empty = errors.classes["queue.Full"], errors.classes["queue.Empty"]
local function local_address(address)
  if type(address) == "string" then return true end -- AF_UNIX: this host
  if type(address) ~= "table" then return false end
  local h = address[1]
  return h == "localhost" or h == "::1" or (type(h) == "string" and h:match("^127%.") ~= nil)
end

-- The shared queue of proxy 'self' in this process, or nil when its
-- calls go to the server.
local function direct_queue(self, overflow)
  local pid = core.getpid()
  local dq = rawget(self, "_dq")
  if rawget(self, "_dqpid") ~= pid then
    dq = false
    local tok = rawget(self, "_token")
    if tok.typeid ~= nil and local_address(tok.address) then
      -- a manager without it (a server of your own), or a queue that
      -- cannot travel here (another user's sharer): the server's path
      local ok, q, n = pcall(dispatch, tok.address, rawget(self, "_authkey"), 0,
                             "queue_handle", pack(rawget(self, "_id")), rawget(self, "_key"))
      if ok and type(q) == "userdata" then dq = q; rawset(self, "_dqn", n) end
    end
    rawset(self, "_dq", dq); rawset(self, "_dqpid", pid)
  end
  if not dq then return nil end
  -- items in the server's overflow (mgrserver.lua, "The overflow"): puts
  -- and the size go to the server, so that a put cannot overtake an
  -- overflowed one (the argument is there)
  local n = rawget(self, "_dqn")
  if overflow and n ~= nil and n.value ~= 0 then return nil end
  local byk = conns[rawget(self, "_key")]
  local c = byk and byk[rawget(self, "_authkey")]
  if c == nil or c.pid ~= pid then return nil end -- forgotten: shut down or lost
  if busy == 0 and c.conn:poll(0) then
    -- readable with no call in flight: the manager closed it
    forget(rawget(self, "_key"), rawget(self, "_authkey"))
    return nil
  end
  return dq
end

-- Whether (block, timeout) are plain enough for the direct path (what
-- else they may be, the server checks and answers: ValueError, TypeError).
local function plain(block, timeout)
  return (block == nil or type(block) == "boolean")
     and (timeout == nil or (type(timeout) == "number" and timeout >= 0))
end

function QueueProxy:put(...)
  if select("#", ...) >= 1 and plain(select(2, ...)) then
    local dq = direct_queue(self, true)
    if dq ~= nil then
      local ok, e = pcall(dq.put, dq, (...), false)
      if ok then return end
      if not Full:is(e) then error(e, 0) end
    end
  end
  return self:_callmethod("put", ...)
end
function QueueProxy:put_nowait(...)
  if select("#", ...) >= 1 then
    local dq = direct_queue(self, true)
    if dq ~= nil then
      local ok, e = pcall(dq.put, dq, (...), false)
      if ok then return end
      -- unbounded: the ring is full, the server takes it (its overflow)
      if not Full:is(e) or dq:maxsize() > 0 then error(e, 0) end
    end
  end
  return self:_callmethod("put_nowait", ...)
end
function QueueProxy:get(...)
  local dq = plain(...) and direct_queue(self)
  if dq then
    local ok, v = pcall(dq.get, dq, false)
    if ok then return v end
    if not Empty:is(v) then error(v, 0) end
    if (...) == false then error(v, 0) end -- get(false): Empty at once, as the server's
  end
  return self:_callmethod("get", ...)
end
function QueueProxy:get_nowait()
  local dq = direct_queue(self)
  if dq ~= nil then return dq:get(false) end
  return self:_callmethod("get_nowait")
end
for _, name in ipairs({ "qsize", "empty", "full", "task_done" }) do
  local overflow = name ~= "task_done"
  QueueProxy[name] = function(self, ...)
    local dq = direct_queue(self, overflow)
    if dq ~= nil then return dq[name](dq, ...) end
    return self:_callmethod(name, ...)
  end
end

-- Pool: the pool lives in the manager; map, apply and the waits of its
-- results run in the connection's server thread on a copy of the Pool
-- table (its workers and jobs are shared handles), so they block only
-- their client. `imap`/`imap_unordered` over a table are lazy, as
-- Python's IteratorProxy: the manager keeps the job (an IMapIterator) and
-- each step of the loop asks it for the next chunk, so results arrive
-- while later tasks still run. Over an iterator function (or with
-- `buffersize`) they read it as results are consumed, one `map_async` per
-- task (the iterator stays in the client's state).
local AsyncResultProxy = BaseProxy:subclass("AsyncResult",
  { "get", "wait", "ready", "successful" })
AsyncResultProxy._delegate_ = { "get", "wait" }
M.AsyncResultProxy = AsyncResultProxy
--- The proxy of a manager's IMapIterator (typeid "PoolIterator").
local IteratorProxy = BaseProxy:subclass("IteratorProxy", { "_next", "cancel" })
IteratorProxy._delegate_ = { "_next" }
M.IteratorProxy = IteratorProxy
local PoolProxy = BaseProxy:subclass("PoolProxy", { "apply", "apply_async", "close",
  "join", "map", "map_async", "starmap", "starmap_async", "terminate", "_imap_iterator" },
  { apply_async = "AsyncResult", map_async = "AsyncResult", starmap_async = "AsyncResult",
    _imap_iterator = "PoolIterator" })
PoolProxy._delegate_ = { "apply", "map", "starmap", "join" }
M.PoolProxy = PoolProxy

-- A generic-for over an IteratorProxy: `index, result` as each chunk
-- comes; a task's error is raised where its result would be (after the
-- results before it); a loop left early cancels the tasks not started
-- (the fourth value is to-be-closed).
local function iter_proxy(it)
  if it == nil then return function() return nil end end
  local seen, cur, pos, base, exc, finished = 0, nil, 0, 0, nil, false
  local function step()
    while cur == nil or pos >= cur.n do
      if exc ~= nil then finished = true; core.raise_remote(exc) end
      local k, b, res, e = it:_next(seen)
      if k == nil then finished = true; return nil end
      seen, base, cur, pos, exc = seen + 1, b, res, 0, e
    end
    pos = pos + 1
    return base + pos, cur[pos]
  end
  local closer = setmetatable({}, { __close = function()
    if not finished then pcall(it.cancel, it) end
  end })
  return step, nil, nil, closer
end
--- `pool:imap(func, iterable [, chunksize [, buffersize |
-- {buffersize=}]])`: a generic-for iterator over `index, result`, in
-- order, each result as soon as it and those before it are done. A
-- sequence table without `buffersize` is sent to the manager, which
-- keeps the job (see `_imap_iterator`). An iterator function (or any
-- input with `buffersize`) is read as results are consumed: each task (`chunksize` items, default 1) is a
-- `map_async` in the manager, at most `buffersize` (default 256) of them
-- not yet reached by the loop, so an endless iterator works; an error of
-- the iterator is raised after the results of the items before it.
function PoolProxy:imap(func, iterable, chunksize, opts)
  local futures = require "braid.futures"
  local buffersize = opts
  if type(opts) == "table" then buffersize = opts.buffersize end
  buffersize = futures._check_buffersize(buffersize, 3)
  if buffersize == nil and type(iterable) ~= "function" then
    return iter_proxy(self:_imap_iterator(func, iterable, chunksize, false))
  end
  if chunksize == nil then chunksize = 1 end
  if math_type(chunksize) ~= "integer" or chunksize < 1 then
    error(errors.ValueError("Chunksize must be 1+, not " .. tostring(chunksize)), 2)
  end
  if type(iterable) ~= "function" and type(iterable) ~= "table" then
    error(errors.TypeError("bad argument 'iterable' to 'imap' (table or function expected, got "
      .. type(iterable) .. ")"), 2)
  end
  local window = buffersize or futures._lazy_ahead
  local source = futures._source_of(iterable)
  local fifo, head, tail, read, ended, src_err = {}, 1, 0, 0, false, nil
  local function refill()
    while not ended and tail - head + 1 < window do
      local items, n
      items, n, ended, src_err = futures._read_items(source, chunksize)
      if n == 0 then return end
      items.n = n
      tail = tail + 1
      fifo[tail] = { r = self:map_async(func, items, n), base = read }
      read = read + n
    end
  end
  refill()
  local cur, pos = nil, 0
  return function()
    while true do
      if cur ~= nil and pos < cur.n then
        pos = pos + 1
        return cur.base + pos, cur.res[pos]
      end
      cur = nil
      refill()
      if head > tail then
        if src_err ~= nil then
          local e = src_err
          src_err = nil
          error(e, 0)
        end
        return nil
      end
      local rec = fifo[head]
      fifo[head] = nil
      head = head + 1
      rec.res = rec.r:get() -- raises the task's error
      rec.n = rec.res.n
      cur, pos = rec, 0
    end
  end
end
--- `pool:imap_unordered(func, iterable [, chunksize [, buffersize]])`:
-- over a sequence table without `buffersize`, the results in the order
-- the tasks complete (`index`: the input's position); over an iterator
-- function or with `buffersize`, as `imap` (in order).
function PoolProxy:imap_unordered(func, iterable, chunksize, opts)
  if opts == nil and type(iterable) == "table" then
    return iter_proxy(self:_imap_iterator(func, iterable, chunksize, true))
  end
  return self:imap(func, iterable, chunksize, opts)
end
PoolProxy.__close = function(self) self:terminate() end

for _, c in pairs(proxytypes) do builtin[c] = true end

-- }======================================================================

-- {======================================================================
-- Managers

local ManagerMeta = {}
function ManagerMeta.__index(cls, k)
  local super = rawget(cls, "__super")
  if super ~= nil then return super[k] end
  return nil
end

local BaseManager = setmetatable({ __name = "BaseManager", _registry = {} }, ManagerMeta)
BaseManager.__index = BaseManager
M.BaseManager = BaseManager

local INITIAL, STARTED, SHUTDOWN = "initial", "started", "shutdown"

--- `BaseManager{address=, authkey=, ctx=}` or `BaseManager(address,
-- authkey)`: `address` `{host, port}` or a path (nil: a new one when
-- started), `authkey` (default: `current_process().authkey`).
function ManagerMeta.__call(cls, address, authkey, serializer, ctx)
  if type(address) == "table" and address[1] == nil and address[2] == nil then
    local o = address
    address, authkey, ctx = o.address, o.authkey, o.ctx
  end
  if authkey == nil then authkey = default_authkey() end
  if type(authkey) ~= "string" then
    error(errors.TypeError("authkey should be a string, not " .. type(authkey)), 2)
  end
  return setmetatable({ _address = address, _authkey = authkey, _ctx = ctx,
                        _state = INITIAL }, cls)
end

function BaseManager.__index(self, k)
  if k == "address" then return rawget(self, "_address") end
  local cls = getmetatable(self)
  return cls[k]
end

--- `Manager:subclass(name)`: a manager class with its own registry
-- (starting as a copy of the parent's).
function BaseManager.subclass(base, name)
  local cls = { __name = name or "Manager", __super = base, __index = BaseManager.__index,
                __close = base.__close, __tostring = base.__tostring }
  local reg = {}
  for k, v in pairs(base._registry) do reg[k] = v end
  cls._registry = reg
  return setmetatable(cls, ManagerMeta)
end

local function toset(list)
  if list == nil then return nil end
  local s = {}
  for _, m in ipairs(list) do s[m] = true end
  return s
end

--- `Manager:register(typeid, [callable], [proxytype], [exposed],
-- [method_to_typeid], [create_method])`, or one table of these names:
-- a class-level registration (Python's classmethod). `callable` makes
-- the object in the server (nil: only proxies of that typeid are made,
-- e.g. by method_to_typeid); `create_method` (default true) adds
-- `manager:typeid(...)`.
function BaseManager.register(cls, typeid, callable, proxytype, exposed,
                              method_to_typeid, create_method)
  if type(typeid) == "table" then
    local o = typeid
    typeid, callable, proxytype, exposed = o[1] or o.typeid, o.callable, o.proxytype, o.exposed
    method_to_typeid, create_method = o.method_to_typeid, o.create_method
  end
  if type(typeid) ~= "string" then
    error(errors.TypeError("register: typeid must be a string, not " .. type(typeid)), 2)
  end
  if rawget(cls, "_registry") == nil then
    error(errors.TypeError("register is called on a manager class"), 2)
  end
  proxytype = proxytype or AutoProxy
  exposed = exposed or rawget(proxytype, "_exposed_") or proxytype._exposed_
  method_to_typeid = method_to_typeid or proxytype._method_to_typeid_
  cls._registry[typeid] = {
    callable = callable, exposed = toset(exposed), exposed_list = exposed,
    method_to_typeid = method_to_typeid, proxytype = proxytype,
    proxytype_name = proxytype.__name,
  }
  if proxytype ~= AutoProxy then known[typeid] = proxytype end
  if create_method ~= false then
    cls[typeid] = function(self, ...)
      local st = rawget(self, "_state")
      if st == SHUTDOWN then
        error(errors.ValueError("the manager has been shut down"), 2)
      elseif st == INITIAL then
        error(errors.ValueError("the manager is not started (call start() or connect())"), 2)
      end
      local tok = dispatch(self._address, self._authkey, 0, "create", pack(typeid, ...))
      tok.proxytype = proxytype.__name
      tok.exposed = exposed
      local pcls = proxytype
      if pcls == AutoProxy then pcls = autoproxy_class(exposed or dispatch(
        self._address, self._authkey, 0, "get_methods", pack(tok.id))) end
      return make_proxy(pcls, tok, self._authkey, true)
    end
  end
end

-- What the server needs of a registry (no proxy classes).
local function server_registry(cls)
  local out = {}
  for typeid, e in pairs(cls._registry) do
    out[typeid] = { callable = e.callable, exposed = e.exposed, exposed_list = e.exposed_list,
                    method_to_typeid = e.method_to_typeid, proxytype_name = e.proxytype_name,
                    delegate = toset(rawget(e.proxytype, "_delegate_")) }
  end
  return out
end

--- `manager:get_server()`: a `Server` at this manager's address, for
-- `serve_forever()` in this process.
function BaseManager:get_server()
  if rawget(self, "_state") ~= INITIAL then
    error(errors.RuntimeError("the manager was already started or connected"), 2)
  end
  local srv = mgrserver.new(server_registry(getmetatable(self)), self._address, self._authkey)
  rawset(self, "_address", srv.address)
  return srv
end

--- `manager:connect()`: use a manager server already running at `address`.
function BaseManager:connect()
  dispatch(self._address, self._authkey, 0, "dummy", pack())
  rawset(self, "_state", STARTED)
end

-- The child process of start(): runs the server and reports its address.
function M._run_server(registry, address, authkey, writer, initializer, initargs)
  local srvmod = require "braid.multiprocessing.mgrserver"
  -- Ctrl-C reaches the whole process group: the program that started
  -- the manager decides (shutdown()), as with Python's server
  require("braid.core")._intr_ignore()
  if initializer ~= nil then
    initializer(require("table").unpack(initargs or {}, 1, (initargs or {}).n or #(initargs or {})))
  end
  local ok, srv = pcall(srvmod.new, registry, address, authkey)
  if not ok then writer:send({ false, srv }); return end
  writer:send({ true, srv.address })
  writer:close()
  srv:serve_forever()
end

--- `manager:start([initializer], [initargs])`: starts the server in a
-- new process (the manager's `ctx` start method, or the default one) and
-- waits (at most 60 s) for its address.
function BaseManager:start(initializer, initargs)
  if rawget(self, "_state") ~= INITIAL then
    error(errors.RuntimeError("the manager was already started or shut down"), 2)
  end
  if initializer ~= nil and type(initializer) ~= "function" then
    error(errors.TypeError("initializer must be a callable"), 2)
  end
  local mp = require "braid.multiprocessing"
  local ctx = rawget(self, "_ctx") or mp
  local reader, writer = mp.Pipe(false)
  local cls = getmetatable(self)
  local p = ctx.Process{ target = M._run_server, daemon = true,
    name = (cls.__name or "Manager") .. "-server",
    args = { server_registry(cls), self._address, self._authkey, writer,
             initializer, initargs } }
  p:start()
  writer:close()
  local ready = mp.connection.wait({ reader, p }, 60)
  local ok, msg = false, nil
  if #ready > 0 and reader:poll(0) then ok, msg = pcall(reader.recv, reader) end
  reader:close()
  if not ok or not msg[1] then
    if p:is_alive() then p:terminate() end
    p:join(5)
    local cause = ok and msg[2] or msg
    local e = errors.RuntimeError("the manager server did not start: " .. tostring(
      type(cause) == "table" and cause.message or cause or "timed out"))
    e.cause = cause
    error(e, 2)
  end
  rawset(self, "_address", msg[2])
  rawset(self, "_process", p)
  rawset(self, "_state", STARTED)
end

--- `manager:join([timeout])`: waits for the server process to end.
function BaseManager:join(timeout)
  local p = rawget(self, "_process")
  if p then p:join(timeout) end
end

--- `manager:shutdown()`: stops the server this manager started (its
-- proxies raise from then on); nothing for a manager that connect()ed.
function BaseManager:shutdown()
  local p = rawget(self, "_process")
  if rawget(self, "_state") ~= STARTED or p == nil then
    rawset(self, "_state", rawget(self, "_state") == STARTED and SHUTDOWN or rawget(self, "_state"))
    return
  end
  rawset(self, "_state", SHUTDOWN)
  pcall(dispatch, self._address, self._authkey, 0, "shutdown", pack())
  local key = mgrserver.addrkey(self._address)
  forget(key, nil)
  pending[key] = nil
  p:join(1.0)
  if p:is_alive() then p:terminate(); p:join(1.0) end
  if p:is_alive() then p:kill(); p:join(1.0) end
end

BaseManager.__close = function(self) self:shutdown() end
function BaseManager.__tostring(self)
  return string_format("<%s %s address=%s>", getmetatable(self).__name,
                       rawget(self, "_state"), mgrserver.addrkey(rawget(self, "_address")))
end

--- `manager:_number_of_objects()`, `manager:_debug_info()`.
function BaseManager:_number_of_objects()
  return dispatch(self._address, self._authkey, 0, "number_of_objects", pack())
end
function BaseManager:_debug_info()
  return dispatch(self._address, self._authkey, 0, "debug_info", pack())
end

-- SyncManager
local SyncManager = BaseManager:subclass("SyncManager")
M.SyncManager = SyncManager

local function ctor(modname, path1, path2)
  return function(...)
    local m = require(modname)
    local f = m[path1]
    if path2 then f = f[path2] end
    return f(...)
  end
end

SyncManager:register("dict", ctor("braid.multiprocessing.mgrserver", "Dict", "new"), DictProxy)
SyncManager:register("list", ctor("braid.multiprocessing.mgrserver", "List", "new"), ListProxy)
SyncManager:register("Namespace", ctor("braid.multiprocessing.mgrserver", "Namespace", "new"),
                     NamespaceProxy)
SyncManager:register("Value", ctor("braid.multiprocessing.mgrserver", "Value", "new"), ValueProxy)
SyncManager:register("Array", ctor("braid.multiprocessing.mgrserver", "Array", "new"), ArrayProxy)
-- A manager's Queue is a shared-memory queue (the direct path above) with
-- a ring of QUEUE_RING bytes: memory is only used as items fill it. When
-- unbounded, a put that does not fit goes to the server's overflow and
-- never waits (mgrserver.lua, "The overflow"); a bounded queue's put that
-- does not fit waits (put_nowait raises queue.Full) until a get makes room.
local QUEUE_RING = 8 << 20
local function mgr_queue(maxsize)
  if maxsize ~= nil and math_type(maxsize) ~= "integer" then
    if type(maxsize) == "number" and maxsize == maxsize // 1 then maxsize = maxsize // 1
    else
      error(errors.TypeError("bad argument #1 to 'Queue' (maxsize must be an integer, not "
                             .. type(maxsize) .. ")"), 2)
    end
  end
  return core.mp_Queue(maxsize or 0, QUEUE_RING)
end
SyncManager:register("Queue", mgr_queue, QueueProxy)
SyncManager:register("JoinableQueue", mgr_queue, QueueProxy)
SyncManager:register("Lock", ctor("braid.threading", "Lock"), AcquirerProxy)
SyncManager:register("RLock", ctor("braid.threading", "RLock"), AcquirerProxy)
SyncManager:register("Semaphore", ctor("braid.threading", "Semaphore"), AcquirerProxy)
SyncManager:register("BoundedSemaphore", ctor("braid.threading", "BoundedSemaphore"),
                     AcquirerProxy)
SyncManager:register("Condition", ctor("braid.threading", "Condition"), ConditionProxy)
SyncManager:register("Event", ctor("braid.threading", "Event"), EventProxy)
SyncManager:register("Barrier", ctor("braid.threading", "Barrier"), BarrierProxy)
SyncManager:register("Pool", ctor("braid.multiprocessing", "Pool"), PoolProxy)
SyncManager:register("AsyncResult", nil, AsyncResultProxy, nil, nil, false)
SyncManager:register("PoolIterator", nil, IteratorProxy, nil, nil, false)

-- }======================================================================

return M

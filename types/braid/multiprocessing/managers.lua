---@meta braid.multiprocessing.managers
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.multiprocessing.managers"`.

---@class managers
local M = {}

---@class managers.BaseManager
---@field address table|string
local managers_BaseManager = {}

--- A manager class deriving from this one, with its own registry (a copy of
--- Reference: docs/managers.md, entry `managers.BaseManager:subclass`
---@param name? string
---@return table
function managers_BaseManager:subclass(name) end

--- Registers a typeid on the class (Python's classmethod); also
--- Reference: docs/managers.md, entry `managers.BaseManager:register`
---@param typeid string
---@param callable? function
---@param proxytype? table
---@param exposed? string[]
---@param method_to_typeid? table
---@param create_method? boolean
function managers_BaseManager:register(typeid, callable, proxytype, exposed, method_to_typeid, create_method) end

--- Starts the server in a new process (the ctx start method, or the
--- Reference: docs/managers.md, entry `managers.BaseManager:start`
---@param initializer? function
---@param initargs? table
function managers_BaseManager:start(initializer, initargs) end

--- A managers.Server for this manager's address and registry, to run in
--- Reference: docs/managers.md, entry `managers.BaseManager:get_server`
---@return managers.Server
function managers_BaseManager:get_server() end

--- Connects to a server already running at the manager's address (started
--- Reference: docs/managers.md, entry `managers.BaseManager:connect`
function managers_BaseManager:connect() end

--- Stops the server this manager started (waits up to 1 s for it, then
--- Reference: docs/managers.md, entry `managers.BaseManager:shutdown`
function managers_BaseManager:shutdown() end

--- Waits for the server process to end.
--- Reference: docs/managers.md, entry `managers.BaseManager:join`
---@param timeout? number
function managers_BaseManager:join(timeout) end

---@class managers.SyncManager : managers.BaseManager
local managers_SyncManager = {}

--- A new dict in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:dict`
---@param init? table
---@return managers.DictProxy
function managers_SyncManager:dict(init) end

--- A new list in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:list`
---@param init? table
---@return managers.ListProxy
function managers_SyncManager:list(init) end

--- A new namespace: attributes as fields of its proxy.
--- Reference: docs/managers.md, entry `managers.SyncManager:Namespace`
---@param init? table
---@return managers.NamespaceProxy
function managers_SyncManager:Namespace(init) end

--- A value in the server (no lock, as Python's managed Value).
--- Reference: docs/managers.md, entry `managers.SyncManager:Value`
---@param typecode string
---@param value any
---@return managers.ValueProxy
function managers_SyncManager:Value(typecode, value) end

--- An array of numbers in the server: a[i], a[i] = x, #a,
--- Reference: docs/managers.md, entry `managers.SyncManager:Array`
---@param typecode string
---@param sequence table|integer
---@return managers.ArrayProxy
function managers_SyncManager:Array(typecode, sequence) end

--- A shared-memory queue in the server (a multiprocessing JoinableQueue's;
--- Reference: docs/managers.md, entry `managers.SyncManager:Queue`
---@param maxsize? integer
---@return managers.QueueProxy
function managers_SyncManager:Queue(maxsize) end

--- As Queue (the same shared-memory queue: it has task_done and join).
--- Reference: docs/managers.md, entry `managers.SyncManager:JoinableQueue`
---@param maxsize? integer
---@return managers.QueueProxy
function managers_SyncManager:JoinableQueue(maxsize) end

--- A threading.Lock in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:Lock`
---@return managers.AcquirerProxy
function managers_SyncManager:Lock() end

--- A threading.RLock in the server, owned by the client connection
--- Reference: docs/managers.md, entry `managers.SyncManager:RLock`
---@return managers.AcquirerProxy
function managers_SyncManager:RLock() end

--- A threading.Semaphore in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:Semaphore`
---@param value? integer
---@return managers.AcquirerProxy
function managers_SyncManager:Semaphore(value) end

--- A threading.BoundedSemaphore in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:BoundedSemaphore`
---@param value? integer
---@return managers.AcquirerProxy
function managers_SyncManager:BoundedSemaphore(value) end

--- A threading.Condition in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:Condition`
---@param lock? managers.AcquirerProxy
---@return managers.ConditionProxy
function managers_SyncManager:Condition(lock) end

--- A threading.Event in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:Event`
---@return managers.EventProxy
function managers_SyncManager:Event() end

--- A threading.Barrier in the server.
--- Reference: docs/managers.md, entry `managers.SyncManager:Barrier`
---@param parties integer
---@param action? function
---@param timeout? number
---@return managers.BarrierProxy
function managers_SyncManager:Barrier(parties, action, timeout) end

--- A multiprocessing.Pool in the server (its workers are children of the
--- Reference: docs/managers.md, entry `managers.SyncManager:Pool`
---@param processes? integer
---@param initializer? function
---@param initargs? table
---@param maxtasksperchild? integer
---@return managers.PoolProxy
function managers_SyncManager:Pool(processes, initializer, initargs, maxtasksperchild) end

---@class managers.BaseProxy
local managers_BaseProxy = {}

--- A proxy class of your own: each name of exposed becomes a method
--- Reference: docs/managers.md, entry `managers.BaseProxy:subclass`
---@param name? string
---@param exposed? string[]
---@param method_to_typeid? table
---@return table
function managers_BaseProxy:subclass(name, exposed, method_to_typeid) end

---@class managers.Server
local managers_Server = {}

--- Serves clients until one of them asks for shutdown (or the process
--- Reference: docs/managers.md, entry `managers.Server:serve_forever`
function managers_Server:serve_forever() end

--- Closes the listener and every client connection.
--- Reference: docs/managers.md, entry `managers.Server:close`
function managers_Server:close() end

---@class managers.DictProxy : managers.BaseProxy
local managers_DictProxy = {}

--- Python: dict.get(key, default=None).
--- Reference: docs/managers.md, entry `managers.DictProxy:get`
---@param key any
---@param default? any
---@return any
function managers_DictProxy:get(key, default) end

--- Python: dict.keys().
--- Reference: docs/managers.md, entry `managers.DictProxy:keys`
---@return table
function managers_DictProxy:keys() end

--- Python: dict.values().
--- Reference: docs/managers.md, entry `managers.DictProxy:values`
---@return table
function managers_DictProxy:values() end

--- Python: dict.items().
--- Reference: docs/managers.md, entry `managers.DictProxy:items`
---@return table
function managers_DictProxy:items() end

--- Python: dict.copy().
--- Reference: docs/managers.md, entry `managers.DictProxy:copy`
---@return table
function managers_DictProxy:copy() end

--- Python: dict.update(other).
--- Reference: docs/managers.md, entry `managers.DictProxy:update`
---@param other table
---@param pairs_list? boolean
function managers_DictProxy:update(other, pairs_list) end

--- Raises KeyError for an absent key without a default.
--- Reference: docs/managers.md, entry `managers.DictProxy:pop`
---@param key any
---@param default? any
---@return any
function managers_DictProxy:pop(key, default) end

--- Raises KeyError on an empty dict.
--- Reference: docs/managers.md, entry `managers.DictProxy:popitem`
---@return any
---@return any
function managers_DictProxy:popitem() end

--- Python: dict.setdefault(key, default=None).
--- Reference: docs/managers.md, entry `managers.DictProxy:setdefault`
---@param key any
---@param default? any
---@return any
function managers_DictProxy:setdefault(key, default) end

--- Python: dict.clear().
--- Reference: docs/managers.md, entry `managers.DictProxy:clear`
function managers_DictProxy:clear() end

---@class managers.ListProxy : managers.BaseProxy
local managers_ListProxy = {}

--- Python: list.append(x).
--- Reference: docs/managers.md, entry `managers.ListProxy:append`
---@param value any
function managers_ListProxy:append(value) end

--- Python: list.extend(iterable).
--- Reference: docs/managers.md, entry `managers.ListProxy:extend`
---@param values table
function managers_ListProxy:extend(values) end

--- Python: list.insert(i, x).
--- Reference: docs/managers.md, entry `managers.ListProxy:insert`
---@param index integer
---@param value any
function managers_ListProxy:insert(index, value) end

--- Raises IndexError on an empty list or a bad index.
--- Reference: docs/managers.md, entry `managers.ListProxy:pop`
---@param index? integer
---@return any
function managers_ListProxy:pop(index) end

--- Raises ValueError when absent.
--- Reference: docs/managers.md, entry `managers.ListProxy:remove`
---@param value any
function managers_ListProxy:remove(value) end

--- Raises ValueError when absent.
--- Reference: docs/managers.md, entry `managers.ListProxy:index`
---@param value any
---@param start? integer
---@param stop? integer
---@return integer
function managers_ListProxy:index(value, start, stop) end

--- Python: list.count(x).
--- Reference: docs/managers.md, entry `managers.ListProxy:count`
---@param value any
---@return integer
function managers_ListProxy:count(value) end

--- Python: list.sort(key=None, reverse=False).
--- Reference: docs/managers.md, entry `managers.ListProxy:sort`
---@param key? function
---@param reverse? boolean
function managers_ListProxy:sort(key, reverse) end

--- Python: list.reverse().
--- Reference: docs/managers.md, entry `managers.ListProxy:reverse`
function managers_ListProxy:reverse() end

--- Elements i..j inclusive (negative counts from the end, as string.sub).
--- Reference: docs/managers.md, entry `managers.ListProxy:slice`
---@param i? integer
---@param j? integer
---@return table
function managers_ListProxy:slice(i, j) end

--- Python: list.copy().
--- Reference: docs/managers.md, entry `managers.ListProxy:copy`
---@return table
function managers_ListProxy:copy() end

--- Python: list.clear().
--- Reference: docs/managers.md, entry `managers.ListProxy:clear`
function managers_ListProxy:clear() end

--- A manager class: BaseManager{address=, authkey=, ctx=} or
--- Reference: docs/managers.md, entry `managers.BaseManager`
---@param address? table|string
---@param authkey? string
---@return managers.BaseManager
function M.BaseManager(address, authkey) end

--- The manager mp.Manager() starts, with the typeids below registered;
--- Reference: docs/managers.md, entry `managers.SyncManager`
---@param address? table|string
---@param authkey? string
---@return managers.SyncManager
function M.SyncManager(address, authkey) end

--- Python: BaseProxy.
--- Reference: docs/managers.md, entry `managers.BaseProxy`
---@type table
M["BaseProxy"] = nil

--- Python: AutoProxy.
--- Reference: docs/managers.md, entry `managers.AutoProxy`
---@type table
M["AutoProxy"] = nil

--- Python: DictProxy.
--- Reference: docs/managers.md, entry `managers.DictProxy`
---@type table
M["DictProxy"] = nil

--- Python: ListProxy.
--- Reference: docs/managers.md, entry `managers.ListProxy`
---@type table
M["ListProxy"] = nil

--- Python: NamespaceProxy.
--- Reference: docs/managers.md, entry `managers.NamespaceProxy`
---@type table
M["NamespaceProxy"] = nil

--- Python: ValueProxy.
--- Reference: docs/managers.md, entry `managers.ValueProxy`
---@type table
M["ValueProxy"] = nil

--- Python: ArrayProxy.
--- Reference: docs/managers.md, entry `managers.ArrayProxy`
---@type table
M["ArrayProxy"] = nil

--- Python: AcquirerProxy.
--- Reference: docs/managers.md, entry `managers.AcquirerProxy`
---@type table
M["AcquirerProxy"] = nil

--- Python: ConditionProxy.
--- Reference: docs/managers.md, entry `managers.ConditionProxy`
---@type table
M["ConditionProxy"] = nil

--- Python: EventProxy.
--- Reference: docs/managers.md, entry `managers.EventProxy`
---@type table
M["EventProxy"] = nil

--- Python: BarrierProxy.
--- Reference: docs/managers.md, entry `managers.BarrierProxy`
---@type table
M["BarrierProxy"] = nil

--- Python: BaseProxy of queue.Queue.
--- Reference: docs/managers.md, entry `managers.QueueProxy`
---@type table
M["QueueProxy"] = nil

--- Python: PoolProxy.
--- Reference: docs/managers.md, entry `managers.PoolProxy`
---@type table
M["PoolProxy"] = nil

--- Python: IteratorProxy.
--- Reference: docs/managers.md, entry `managers.IteratorProxy`
---@type table
M["IteratorProxy"] = nil

--- Python: the AsyncResult typeid of SyncManager.
--- Reference: docs/managers.md, entry `managers.AsyncResultProxy`
---@type table
M["AsyncResultProxy"] = nil

--- Makes the proxy of a token in this state (what a proxy that arrives in a
--- Reference: docs/managers.md, entry `managers.RebuildProxy`
---@param token table
---@return managers.BaseProxy
function M.RebuildProxy(token) end

--- What identifies a managed object: fields typeid, address, id.
--- Reference: docs/managers.md, entry `managers.Token`
---@param typeid string
---@param address table|string
---@param id integer
---@return managers.Token
function M.Token(typeid, address, id) end

--- Python: multiprocessing.managers.RemoteError.
--- Reference: docs/managers.md, entry `managers.RemoteError`
---@type table
M["RemoteError"] = nil

--- Sends one request to a manager and returns its results (what proxies
--- Reference: docs/managers.md, entry `managers.dispatch`
---@param address table|string
---@param authkey string
---@param id integer
---@param method string
---@param args table
---@return any
function M.dispatch(address, authkey, id, method, args) end

--- A manager server (usually from BaseManager:get_server()). It binds a
--- Reference: docs/managers.md, entry `managers.Server`
---@param registry table
---@param address? table|string
---@param authkey? string
---@param listener? table
---@return managers.Server
function M.Server(registry, address, authkey, listener) end

return M

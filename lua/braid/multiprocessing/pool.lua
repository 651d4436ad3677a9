--- Python's `multiprocessing.pool`: the `Pool` API (`apply`, `apply_async`,
-- `map`, `map_async`, `imap`, `imap_unordered`, `starmap`,
-- `starmap_async`, `close`, `join`, `terminate`) and `AsyncResult`.
-- `ThreadPool` runs it on threads (also `braid.multiprocessing.dummy.Pool`).
--
--     local pool = require "braid.multiprocessing.pool"
--     do
--       local p <close> = pool.ThreadPool(4)    -- terminate() at scope exit
--       local squares = p:map(function(x) return x * x end, {1, 2, 3})
--       print(squares[3], squares.n)           --> 9  3
--     end
--
-- Workers keep their Lua state across tasks; the initializer runs once per
-- worker; a function used many times is copied to each worker once.
-- `map`/`starmap` return a sequence with `n`; `imap`/`imap_unordered` are
-- generic-for iterators yielding `index, result` (`index`: the input's
-- position); a task's error is raised as an error of the same class whose
-- `cause` is the worker's error (with its traceback). `callback` and
-- `error_callback` run in the state that passed them, at its next blocking
-- braid call or `braid.poll()` (before `get()` returns in that state).
-- If an initializer fails the pool is broken: pending results raise
-- BrokenThreadPool (Python's ThreadPool would restart workers forever).
-- `terminate()` cancels tasks not started (their `get()` raises
-- CancelledError) and waits for running ones (threads cannot be killed).
--
-- The Pool class is written against a small backend interface so that
-- other worker kinds plug in (`M._new_pool(make_backend, ...)`); a
-- backend made by `make_backend(processes, initializer, initargs,
-- maxtasksperchild)` has:
--   `b:apply(fn, args)` -> a future (braid.futures.Future API plus
--      `_wait(timeout) -> done`);
--   `b:map(fn, items, n, chunksize, star)` -> a map job (see
--      src/bind/ljob.c: `chunk`, `next_done`, `results`, `iter`, `wait`,
--      `ready`, `future`, `cancel`, `info`);
--   `b:close()` (no more work; queued work still runs),
--   `b:terminate()` (cancel queued work), `b:join([timeout]) -> ended`.
-- @module braid.multiprocessing.pool
local core = require "braid.core"
local errors = require "braid.errors"
local futures = require "braid.futures"
local progress = require "braid.progress"

local setmetatable, type, error, tostring, unpack, math_type, pcall, rawset,
      require, getmetatable =
  setmetatable, type, error, tostring, table.unpack, math.type, pcall, rawset,
  require, getmetatable
local xpcall, io, traceback = xpcall, io, debug.traceback
local raise_remote = core.raise_remote
_ENV = nil

local M = {}

local ValueError, TypeError = errors.ValueError, errors.TypeError
M.TimeoutError = errors.classes["multiprocessing.TimeoutError"]
local TimeoutError = M.TimeoutError
--- A result that could not be sent back from a worker (a coroutine, a
-- file handle...): "Error sending result: '<value>'. Reason: '<error>'",
-- with the fields `value` and `exc` (descriptions, as Python's reprs).
M.MaybeEncodingError = errors.classes["multiprocessing.pool.MaybeEncodingError"]
local callable, collect = futures._callable, futures._collect
local ordered, unordered = futures._ordered, futures._unordered

local RUN, CLOSE, TERMINATE = "RUN", "CLOSE", "TERMINATE"


-- { ------ the thread backend

local ThreadBackend = {}
ThreadBackend.__index = ThreadBackend
local pool_counter = 0

local function thread_backend(processes, initializer, initargs, maxtasks)
  pool_counter = pool_counter + 1
  return setmetatable({
    _pool = core.ThreadPool {
      max_workers = processes, lazy = false, maxtasksperchild = maxtasks,
      prefix = "ThreadPool-" .. pool_counter, initializer = initializer,
      initargs = initargs, mperr = true,
    },
  }, ThreadBackend)
end

function ThreadBackend:apply(fn, args)
  return self._pool:submit(fn, unpack(args, 1, args.n or #args))
end
function ThreadBackend:map(fn, items, n, chunksize, star)
  return self._pool:map(fn, items, n, chunksize, star)
end
function ThreadBackend:close() self._pool:shutdown(false) end
function ThreadBackend:terminate() self._pool:terminate() end
function ThreadBackend:join(timeout) return self._pool:join(timeout) end

M._thread_backend = thread_backend
-- } ------


-- { ------ the process backend (src/bind/lprocpool.c)

-- The body of a worker process: runs the initializer, then serves the
-- pool until it is let go.
local function worker_main(conn, ppid, initializer, initargs, mperr)
  local ok = true
  if initializer ~= nil then
    ok = xpcall(initializer, function(e)
      io.stderr:write("Exception in initializer:\n",
                      tostring(errors.wrap(e, traceback(nil, 2))), "\n")
      io.stderr:flush()
    end, unpack(initargs, 1, initargs.n or #initargs))
  end
  if not core.procpool_serve(conn, ppid, ok, mperr) then
    error(errors.SystemExit(1)) -- the initializer failed (already printed)
  end
end

-- Called by a pool's proxy thread (in its own state): starts one worker
-- process and returns its record.
-- 'mperr': a Pool's (a result that cannot be sent back fails with
-- MaybeEncodingError).
function M._start_worker(method, name, exe, builtin, initializer, initargs,
                         mperr)
  local process = require "braid.multiprocessing.process"
  if exe then process.executable, process.executable_builtin = exe, builtin end
  local a, b = core.Pipe(true)
  local ppid = method ~= "forkserver" and core.getpid() or 0
  local P = process.Process { target = worker_main,
                              args = { b, ppid, initializer, initargs or {},
                                       mperr or false, n = 5 },
                              name = name, daemon = true }
  rawset(P, "_method", method)
  local ok, err = pcall(P.start, P)
  b:close()
  if not ok then a:close(); error(err, 0) end
  return { proc = P, conn = a, fd = a:fileno(), sentinel = P.sentinel,
           pid = P.pid }
end

-- Ends a worker process ('how': "exit" when idle, "terminate", "kill"),
-- reaps it and returns its exit code.
function M._stop_worker(rec, how)
  local P = rec.proc
  if how == "exit" then
    core.procpool_exit(rec.fd)
    P:join()
  else
    if how == "terminate" then P:terminate() else P:kill() end
    P:join(2)
    if P.exitcode == nil then P:kill(); P:join() end
  end
  rec.conn:close()
  local code = P.exitcode
  -- still running: an interrupted exit cut the waits short (intr.h); the
  -- exit's own sweep ends and reaps the child, so leave it listed
  if code == nil then return -9 end
  P:close()
  return code
end

local PREFIX = { fork = "ForkPoolWorker", spawn = "SpawnPoolWorker",
                 forkserver = "ForkServerPoolWorker" }

-- The core pool of M._process_pool, its workers started (unless lazy).
local function start_process_pool(o, method, replace, process)
  local pool = core.ThreadPool {
    max_workers = o.max_workers, lazy = o.lazy,
    maxtasksperchild = o.maxtasksperchild,
    prefix = "PoolProxy-" .. pool_counter, initializer = o.initializer,
    initargs = o.initargs,
    process = { method = method, replace = replace,
                name = o.name or PREFIX[method],
                executable = process.executable,
                builtin = process.executable_builtin,
                raise_start = not o.lazy },
  }
  -- the workers are started before this returns (see procpool_wait_started);
  -- OSError (EMFILE, fork failing) when they cannot be, with nothing left
  if not o.lazy then core.procpool_wait_started(pool, o.max_workers) end
  return pool
end

-- A core pool whose workers are processes started with 'method'.
-- 'replace': a dead worker is replaced (Pool) instead of breaking the
-- pool (ProcessPoolExecutor).
function M._process_pool(o, method, replace)
  local process = require "braid.multiprocessing.process"
  pool_counter = pool_counter + 1
  -- forked workers start on the proxies' threads while this one waits:
  -- none of them runs this state, so its memory is left out of them
  -- meanwhile, and it reuses what it freed after without copying
  -- (core._fork_window, ladopt.c)
  local window = method == "fork" and not o.lazy
  if window then core._fork_window(true) end
  local ok, pool = pcall(start_process_pool, o, method, replace, process)
  if window then core._fork_window(false) end
  if not ok then error(pool, 0) end
  return pool
end

local function process_backend_for(method)
  return function(processes, initializer, initargs, maxtasks)
    return setmetatable({
      _pool = M._process_pool({ max_workers = processes, lazy = false,
                                maxtasksperchild = maxtasks,
                                initializer = initializer,
                                initargs = initargs }, method, true),
    }, ThreadBackend)
  end
end
-- } ------


-- { ------ AsyncResult

local function not_ready(self)
  error(ValueError(tostring(self) .. " not ready"), 3)
end

--- The result of `apply_async`.
local ApplyResult = {}
ApplyResult.__index = ApplyResult
ApplyResult.__name = "multiprocessing.pool.ApplyResult"

local function apply_result(fut, callback, error_callback)
  local self = setmetatable({ _f = fut }, ApplyResult)
  if callback ~= nil or error_callback ~= nil then
    fut:add_done_callback(function(f)
      if f:cancelled() then
        if error_callback then error_callback(futures.CancelledError("")) end
        return
      end
      local e = f:exception()
      if e == nil then
        if callback then callback(f:result()) end
      elseif error_callback then
        error_callback(e)
      end
    end)
  end
  return self
end

--- `r:get([timeout])`: the result; raises the task's error, or
-- multiprocessing.TimeoutError when not ready in time.
-- A result that streams from a process pool's child is decoded while the
-- child encodes it (Future:_result, lfuture.c), yet returned only once
-- the task's outcome is final.
local function got(ok, ...)
  if not ok then error(TimeoutError(""), 3) end
  return ...
end
function ApplyResult:get(timeout)
  return got(self._f:_result(timeout))
end
--- `r:wait([timeout])`: until ready or `timeout` seconds.
function ApplyResult:wait(timeout) self._f:_wait(timeout) end
function ApplyResult:ready() return self._f:done() end
--- `r:successful()`: ValueError before the result is ready.
function ApplyResult:successful()
  if not self._f:done() then not_ready(self) end
  return not self._f:cancelled() and self._f:exception() == nil
end
function ApplyResult:__tostring()
  return "<multiprocessing.pool.ApplyResult " .. tostring(self._f) .. ">"
end

--- The result of `map_async`/`starmap_async`: `get()` is the list.
local MapResult = {}
MapResult.__index = MapResult
MapResult.__name = "multiprocessing.pool.MapResult"

local function collect_results(job)
  local _, failed = job:ready()
  if failed then
    local _, _, exc = job:chunk(failed) -- raises for cancelled/broken
    raise_remote(exc)
  end
  return (job:results())
end

local function map_result(job, callback, error_callback)
  local self = setmetatable({ _job = job }, MapResult)
  if job == nil then -- empty input: ready at once
    if callback then callback({ n = 0 }) end
    return self
  end
  if callback ~= nil or error_callback ~= nil then
    job:future():add_done_callback(function()
      local _, failed = job:ready()
      if failed == nil then
        if callback then callback(collect_results(job)) end
      elseif error_callback then
        -- the worker's error, or CancelledError/BrokenThreadPool
        local ok, a, _, exc = pcall(job.chunk, job, failed)
        error_callback(ok and exc or a)
      end
    end)
  end
  return self
end

function MapResult:get(timeout)
  local job = self._job
  if job == nil then return { n = 0 } end
  if not job:wait(timeout) then error(TimeoutError(""), 2) end
  return collect_results(job)
end
function MapResult:wait(timeout)
  if self._job then self._job:wait(timeout) end
end
function MapResult:ready()
  return self._job == nil or (self._job:ready())
end
function MapResult:successful()
  if self._job == nil then return true end
  local ready, failed = self._job:ready()
  if not ready then not_ready(self) end
  return failed == nil
end
function MapResult.__tostring()
  return "<multiprocessing.pool.MapResult>"
end

--- The results of an `imap` read one chunk at a time by whoever holds
-- it, with no state of its own but the job: what a manager keeps for a
-- Pool proxy's imap/imap_unordered (Python's IteratorProxy over the
-- pool's IMapIterator), whose client says how many chunks it has taken.
local IMapIterator = {}
IMapIterator.__index = IMapIterator
IMapIterator.__name = "multiprocessing.pool.IMapIterator"

--- `it:_next(seen)` -> `k, base, results, exc`: the next chunk after the
-- 'seen' ones taken (in order for imap; the next to complete for
-- imap_unordered), waiting for it: `k` its number (nil once every chunk
-- was taken), `base` the input position before its first result,
-- `results` a sequence with `n` (what came before a failure), `exc` the
-- task's error or nil.
function IMapIterator:_next(seen)
  local job = self._job
  if job == nil then return nil end
  local _, cs, nchunks = job:info()
  local k, ok, v, exc
  if self._unordered then
    k, ok, v, exc = job:next_done(seen)
    if k == nil then return nil end
  else
    k = seen + 1
    if k > nchunks then return nil end
    ok, v, exc = job:chunk(k)
  end
  local res
  if cs == 1 then res = ok and { n = 1, v } or { n = 0 }
  elseif ok then res = v
  else res = v or { n = 0 } end
  return k, (k - 1) * cs, res, (not ok) and exc or nil
end
--- `it:cancel()`: cancels the chunks not started (a loop that ended early).
function IMapIterator:cancel()
  if self._job ~= nil then self._job:cancel() end
end
function IMapIterator.__tostring() return "<multiprocessing.pool.IMapIterator>" end

M.AsyncResult = ApplyResult
M.ApplyResult = ApplyResult
M.MapResult = MapResult
M.IMapIterator = IMapIterator
-- } ------


-- { ------ Pool

local Pool = {}
Pool.__index = Pool
Pool.__name = "multiprocessing.pool.Pool"

--- `_new_pool(make_backend, [processes [, initializer [, initargs
-- [, maxtasksperchild]]]])` (or one table of named parameters).
local function new_pool(make_backend, processes, initializer, initargs,
                        maxtasksperchild, level)
  level = (level or 1) + 1
  if type(processes) == "table" then
    local o = processes
    processes, initializer, initargs, maxtasksperchild =
      o.processes, o.initializer, o.initargs, o.maxtasksperchild
  end
  if processes == nil then
    processes = core.cpu_count and core.cpu_count() or 1
  elseif math_type(processes) ~= "integer" then
    error(TypeError("bad argument 'processes' (integer expected, got "
      .. type(processes) .. ")"), level)
  elseif processes < 1 then
    error(ValueError("Number of processes must be at least 1"), level)
  end
  if maxtasksperchild ~= nil and (math_type(maxtasksperchild) ~= "integer"
                                  or maxtasksperchild <= 0) then
    error(ValueError("maxtasksperchild must be a positive int or None"), level)
  end
  if initializer ~= nil and not callable(initializer) then
    error(TypeError("initializer must be a callable"), level)
  end
  if initargs ~= nil and type(initargs) ~= "table" then
    error(TypeError("bad argument 'initargs' (table expected, got "
      .. type(initargs) .. ")"), level)
  end
  return setmetatable({
    _b = make_backend(processes, initializer, initargs, maxtasksperchild),
    _state = RUN, _processes = processes,
  }, Pool)
end
M._new_pool = new_pool

local function check_running(self)
  if self._state ~= RUN then error(ValueError("Pool not running"), 3) end
end

local function check_fn(fn, name)
  if not callable(fn) then
    error(TypeError(("bad argument #1 to '%s' (function expected, got %s)")
      :format(name, type(fn))), 3)
  end
end

local function check_chunksize(cs)
  if math_type(cs) ~= "integer" or cs < 1 then
    error(ValueError("Chunksize must be 1+, not " .. tostring(cs)), 3)
  end
end

--- `p:apply_async(fn [, args [, callback [, error_callback]]])`; the
-- callbacks may also come as `{callback=, error_callback=}`.
function Pool:apply_async(fn, args, callback, error_callback)
  check_running(self)
  check_fn(fn, "apply_async")
  if type(callback) == "table" then
    callback, error_callback = callback.callback, callback.error_callback
  end
  if args == nil then args = {}
  elseif type(args) ~= "table" then
    error(TypeError("bad argument #2 to 'apply_async' (table expected, got "
      .. type(args) .. ")"), 2)
  end
  return apply_result(self._b:apply(fn, args), callback, error_callback)
end

--- `p:apply(fn [, args])`: calls fn(args...) in a worker, waits, returns.
function Pool:apply(fn, args)
  check_running(self)
  return self:apply_async(fn, args):get()
end

local function map_job(self, fn, iterable, chunksize, star, name)
  check_running(self)
  check_fn(fn, name)
  local items, n = collect(iterable, name)
  if chunksize == nil then
    local extra
    chunksize, extra = n // (self._processes * 4), n % (self._processes * 4)
    if extra > 0 then chunksize = chunksize + 1 end
    if chunksize < 1 then chunksize = 1 end
  else
    check_chunksize(chunksize)
  end
  if n == 0 then return nil end
  return self._b:map(fn, items, n, chunksize, star)
end

local function async_opts(callback, error_callback)
  if type(callback) == "table" then
    return callback.callback, callback.error_callback
  end
  return callback, error_callback
end

--- `p:map_async(fn, iterable [, chunksize [, callback [, error_callback]]])`
function Pool:map_async(fn, iterable, chunksize, callback, error_callback)
  callback, error_callback = async_opts(callback, error_callback)
  return map_result(map_job(self, fn, iterable, chunksize, false, "map_async"),
                    callback, error_callback)
end

--- `p:starmap_async(fn, iterable [, chunksize [, callback [, error_callback]]])`:
-- each item is a table of arguments.
function Pool:starmap_async(fn, iterable, chunksize, callback, error_callback)
  callback, error_callback = async_opts(callback, error_callback)
  return map_result(map_job(self, fn, iterable, chunksize, true,
                            "starmap_async"), callback, error_callback)
end

local function wait_map(job, opts)
  if job == nil then return { n = 0 } end
  if opts and opts.progress then
    local n = job:info()
    local bar = progress.Bar { total = n, force = opts.progress == "force" }
    local seen, count = 0, 0
    local _, cs = job:info()
    while true do
      local k, ok, v = job:next_done(seen)
      if k == nil then break end
      seen = seen + 1
      if not ok then break end
      count = count + (cs == 1 and 1 or v.n)
      bar:update(count)
    end
    bar:close()
  end
  -- results are decoded in order as chunks arrive (overlapping the
  -- workers); at a failure, the rest of the map still runs to its end
  -- (Python's MapResult is ready only once every chunk is done), then the
  -- first failure (in arrival order) is raised
  local out = job:results()
  if out then return out end
  job:wait()
  return collect_results(job)
end

--- `p:map(fn, iterable [, chunksize [, {progress=true}]])` -> results (a
-- sequence with `n`). Raises the first task error (in completion order)
-- once every task of the map has run, as Python does.
function Pool:map(fn, iterable, chunksize, opts)
  return wait_map(map_job(self, fn, iterable, chunksize, false, "map"), opts)
end

--- `p:starmap(fn, iterable [, chunksize [, opts]])`: fn(table.unpack(item)).
function Pool:starmap(fn, iterable, chunksize, opts)
  return wait_map(map_job(self, fn, iterable, chunksize, true, "starmap"), opts)
end

local function empty_iter() return nil end

local function iterate(self, fn, iterable, chunksize, opts, name, make)
  if chunksize == nil then chunksize = 1 end
  local buffersize
  if type(opts) == "table" then buffersize = opts.buffersize
  else buffersize, opts = opts, nil end
  check_running(self)
  check_chunksize(chunksize)
  buffersize = futures._check_buffersize(buffersize, 4)
  if buffersize or type(iterable) == "function" then
    check_fn(fn, name)
    if type(iterable) ~= "function" and (type(iterable) ~= "table"
                                         or getmetatable(iterable) ~= nil) then
      collect(iterable, name) -- raises the TypeError
    end
    local b = self._b
    local it, s, c, cl = futures._lazy(function(items, n)
      return b:map(fn, items, n, chunksize, false)
    end, iterable, chunksize, buffersize or futures._lazy_window(self._processes),
      make == unordered, nil, buffersize == nil and self or nil)
    if opts and opts.progress then
      return progress(it, s, c, cl, { force = opts.progress == "force",
        total = type(iterable) == "table" and (iterable.n or #iterable) or nil })
    end
    return it, s, c, cl
  end
  local job = map_job(self, fn, iterable, chunksize, false, name)
  if job == nil then return empty_iter end
  if opts and opts.progress then
    local it, s, c, cl = make(job)
    return progress(it, s, c, cl, { total = job:info(),
                                    force = opts.progress == "force" })
  end
  return make(job)
end

--- `p:imap(fn, iterable [, chunksize [, buffersize | {buffersize=,
-- progress=true}]])`: generic-for iterator yielding `index, result` in
-- order (chunksize default 1). A sequence table is submitted at once; an
-- iterator function is read as results are consumed, at most
-- `buffersize` tasks (chunks) in flight (Python 3.14's; default 256, or
-- 4 per worker when that is more: Python reads the whole input at once,
-- braid never reads ahead more than that, so an endless iterator works),
-- and with `buffersize` a table is read that way too. A task's error is raised when its element
-- is reached; the iterator's own error after the results before it.
function Pool:imap(fn, iterable, chunksize, opts)
  return iterate(self, fn, iterable, chunksize, opts, "imap", ordered)
end

--- `p:imap_unordered(...)`: like imap, results as they complete (`index`
-- is the input's position).
function Pool:imap_unordered(fn, iterable, chunksize, opts)
  return iterate(self, fn, iterable, chunksize, opts, "imap_unordered",
                 unordered)
end

--- `p:_imap_iterator(fn, iterable, [chunksize=1], [unordered])`: the
-- tasks of an imap (imap_unordered when `unordered`) as an IMapIterator
-- (what a manager's Pool proxy iterates over lazily).
function Pool:_imap_iterator(fn, iterable, chunksize, unordered)
  if chunksize == nil then chunksize = 1 end
  check_running(self)
  check_chunksize(chunksize)
  local job = map_job(self, fn, iterable, chunksize, false,
                      unordered and "imap_unordered" or "imap")
  return setmetatable({ _job = job, _unordered = unordered and true or false },
                      IMapIterator)
end

--- `p:close()`: no more tasks; workers end once the queued ones are done.
function Pool:close()
  if self._state == RUN then
    self._state = CLOSE
    futures._drain_lazy(self) -- Python's imap reads its input after close()
    self._b:close()
  end
end

--- `p:terminate()`: cancels tasks not started, waits for the workers.
function Pool:terminate()
  self._state = TERMINATE
  self._lazies = nil
  self._b:terminate()
  self._b:join()
end

--- `p:join()`: waits for the workers; ValueError before close/terminate.
function Pool:join()
  if self._state == RUN then error(ValueError("Pool is still running"), 2) end
  self._b:join()
end

Pool.__close = function(self) self:terminate() end
-- A table of this state: a Pool's `_home` in the state that made it. A
-- copy of the Pool table in another state (a thread it was sent to, a
-- manager's connection thread) has a copy of it instead.
local HOME = {}
-- a pool nobody holds any more stops its workers (Python's finalizer);
-- only in the state that made it: a copy's collection leaves the shared
-- workers to the others
Pool.__gc = function(self)
  if self._process and self._state ~= TERMINATE and self._home == HOME then
    pcall(self._b.terminate, self._b)
  end
end

function Pool:__tostring()
  return ("<multiprocessing.pool.%s state=%s pool_size=%d>"):format(
    self._name or "Pool", self._state, self._processes)
end

M._PoolClass = Pool

--- `Pool([processes [, initializer [, initargs [, maxtasksperchild
-- [, context]]]]])` (or a table of named parameters): the Pool API on
-- worker processes started by `context`'s method (default: the current
-- start method). `processes` defaults to `cpu_count()`. Functions,
-- arguments and results travel by value between processes (objects of
-- `braid.multiprocessing` by reference, beyond Python's inheritance-only
-- rule: docs/multiprocessing.md). A worker that dies is replaced; the task it ran fails
-- with BrokenProcessPool (Python's Pool would wait for it forever).
-- `terminate()` kills the workers: what they ran fails with
-- CancelledError. Leaving a pool's scope terminates it, and a pool that
-- is collected is terminated too. The workers have started when `Pool()`
-- returns. With "fork", a worker started later (a replacement, or for
-- `maxtasksperchild`) is forked from a pool thread and inherits the
-- descriptors open at that moment (e.g. an `io.popen` pipe, whose reader
-- then waits for that worker): programs that also run subprocesses while
-- such a pool replaces workers should use "forkserver" or "spawn".
function M.Pool(processes, initializer, initargs, maxtasksperchild, context)
  if type(processes) == "table" then context = processes.context end
  local method
  if context == nil then
    method = require("braid.multiprocessing.context").get_start_method()
  else
    method = context.get_start_method and context.get_start_method()
    if type(method) ~= "string" then
      error(TypeError("bad argument 'context' (a multiprocessing context expected)"), 2)
    end
  end
  local p = new_pool(process_backend_for(method), processes, initializer,
                     initargs, maxtasksperchild, 2)
  p._name, p._process, p._home = "Pool", true, HOME
  return p
end

--- `ThreadPool([processes [, initializer [, initargs]]])` (or a table of
-- named parameters; `maxtasksperchild` too): the Pool API on threads.
function M.ThreadPool(processes, initializer, initargs, maxtasksperchild)
  local p = new_pool(thread_backend, processes, initializer, initargs,
                     maxtasksperchild, 2)
  p._name = "ThreadPool"
  return p
end
-- } ------

return M

--- Python's `concurrent.futures` for Lua: `ThreadPoolExecutor`, `Future`,
-- `wait`, `as_completed`. Also `require "braid.concurrent.futures"`.
--
--     local futures = require "braid.futures"
--     local ex <close> = futures.ThreadPoolExecutor(4)
--     local f = ex:submit(function(a, b) return a + b end, 1, 2)
--     print(f:result())                      --> 3
--     for i, sq in ex:map(function(x) return x * x end, {1, 2, 3}) do
--       print(i, sq)
--     end
--
-- Workers are threads that each keep their own Lua state across tasks: the
-- initializer runs once per worker, and a function submitted many times is
-- copied to each worker once (braid caches it by identity, so a function's
-- upvalues are those it had when it was first submitted to that executor;
-- submit a new closure to send new values). Arguments and results are
-- copied (braid objects travel by reference).
--
-- An error in a task reaches `result()` as an error object of the same
-- class whose `cause` is the worker's error, with the worker's traceback;
-- `exception()` returns the worker's error itself.
--
-- Done-callbacks run in the state that added them, at its next blocking
-- braid call or `braid.poll()`; one added to a future that is done runs at
-- once. A callback's error is reported (`exception calling callback for
-- <Future ...>` on stderr) and the later callbacks still run.
--
-- Where braid differs from Python: `wait` and `as_completed` count a
-- future as done as soon as it is cancelled (Python waits until a worker
-- notices the cancellation, which never happens after
-- `shutdown(cancel_futures=true)`); `map` takes one iterable and a
-- trailing options table `{timeout=, chunksize=, progress=}`, and its
-- `chunksize` groups items into one task on threads too (fewer, larger
-- tasks: much less overhead for tiny functions); `Future:result()` returns
-- every value the function returned.
-- @module braid.futures
local core = require "braid.core"
local errors = require "braid.errors"
local progress = require "braid.progress"

local setmetatable, getmetatable, type, error, tostring, require =
  setmetatable, getmetatable, type, error, tostring, require
local next, min, math_type, io, pcall = next, math.min, math.type, io, pcall
local stderr_write = function(...) io.stderr:write(...) end
local now, raise_remote =
  core.monotonic, core.raise_remote
_ENV = nil

local M = {}

M.FIRST_COMPLETED = "FIRST_COMPLETED"
M.FIRST_EXCEPTION = "FIRST_EXCEPTION"
M.ALL_COMPLETED = "ALL_COMPLETED"

local classes = errors.classes
M.Error = classes["concurrent.futures.Error"]
M.CancelledError = classes["concurrent.futures.CancelledError"]
M.InvalidStateError = classes["concurrent.futures.InvalidStateError"]
--- Since Python 3.11 `concurrent.futures.TimeoutError` is the builtin.
M.TimeoutError = errors.TimeoutError
M.BrokenExecutor = classes["concurrent.futures.BrokenExecutor"]
M.BrokenThreadPool = classes["concurrent.futures.thread.BrokenThreadPool"]
M.thread = { BrokenThreadPool = M.BrokenThreadPool }
M.BrokenProcessPool = classes["concurrent.futures.process.BrokenProcessPool"]
M.process = { BrokenProcessPool = M.BrokenProcessPool }

local ValueError, TypeError, RuntimeError =
  errors.ValueError, errors.TypeError, errors.RuntimeError

--- `Future()`: a future not tied to an executor (set_result and friends).
-- Futures are shared objects: one sent to another thread is the same
-- future there.
M.Future = core.Future

local future_meta = getmetatable(core.Future())
local function isfuture(v) return getmetatable(v) == future_meta end
M._isfuture = isfuture

--- How a callback's error is reported (replace it to capture reports).
function M._report_callback_error(fut, err)
  stderr_write("exception calling callback for ", tostring(fut), "\n",
               tostring(err), "\n")
end


-- { ------ iterables

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end
M._callable = callable

--- A sequence table and its length from an iterable: a table (1..t.n or
-- #t) or an iterator function (called until it returns nil; braid's own
-- `index, result` iterators give their results).
local function collect(iterable, fname)
  local t = type(iterable)
  if t == "table" and getmetatable(iterable) == nil then
    return iterable, iterable.n or #iterable
  elseif t == "function" then
    local items, n = {}, 0
    if progress._indexed[iterable] then
      for _, v in iterable do n = n + 1; items[n] = v end
    else
      while true do
        local v = iterable()
        if v == nil then break end
        n = n + 1; items[n] = v
      end
    end
    items.n = n
    return items, n
  end
  error(TypeError(("bad argument 'iterable' to '%s' (table or function expected, got %s)")
    :format(fname, t)), 3)
end
M._collect = collect

--- The unique futures of `fs` (a sequence of futures, a set whose keys
-- are futures, or an iterator function giving futures) as a list, each
-- once in the order first given (Python makes a set of them).
local function unique(fs, fname)
  local tf = type(fs)
  if tf == "function" then
    fs = collect(fs, fname)
  elseif tf ~= "table" then
    error(TypeError(("bad argument #1 to '%s' (iterable of futures expected, got %s)")
      :format(fname, tf)), 3)
  end
  local list, seen, n = {}, {}, 0
  local function add(f)
    if not isfuture(f) then
      error(TypeError(("bad argument #1 to '%s' (futures expected, got %s)")
        :format(fname, type(f))), 4)
    end
    if not seen[f] then seen[f] = true; n = n + 1; list[n] = f end
  end
  if tf == "function" or fs[1] ~= nil or next(fs) == nil then
    for i = 1, fs.n or #fs do add(fs[i]) end
  else
    for f in next, fs do add(f) end
  end
  return list, n
end
-- } ------


-- { ------ wait, as_completed

--- `wait(fs [, timeout [, return_when]])` -> done, not_done (sets:
-- `done[f] == true`). Never raises on timeout. `return_when` is
-- FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED (default).
function M.wait(fs, timeout, return_when)
  return_when = return_when or M.ALL_COMPLETED
  if return_when ~= M.FIRST_COMPLETED and return_when ~= M.FIRST_EXCEPTION
     and return_when ~= M.ALL_COMPLETED then
    error(ValueError("Invalid return condition: " .. tostring(return_when)), 2)
  end
  if timeout ~= nil and type(timeout) ~= "number" then
    error(TypeError("bad argument #2 to 'wait' (number expected, got "
      .. type(timeout) .. ")"), 2)
  end
  local list, n = unique(fs, "wait")
  local done, not_done, ndone = {}, {}, 0
  local failed = false
  local function mark(f)
    if not done[f] then
      done[f] = true; not_done[f] = nil; ndone = ndone + 1
      if not f:cancelled() and f:exception() ~= nil then failed = true end
    end
  end
  local function satisfied()
    if ndone == n then return true end
    if return_when == M.FIRST_COMPLETED then return ndone > 0 end
    if return_when == M.FIRST_EXCEPTION then return failed end
    return false
  end
  for i = 1, n do
    local f = list[i]
    if f:done() then mark(f) else not_done[f] = true end
  end
  if satisfied() then return done, not_done end
  local w = core.FutureWaiter()
  for i = 1, n do
    if not done[list[i]] then w:add(list[i]) end
  end
  local deadline = timeout and now() + timeout
  while not satisfied() do
    local left = deadline and deadline - now()
    if left and left < 0 then left = 0 end
    local got = w:take(left)
    for i = 1, #got do mark(got[i]) end
    if #got == 0 then break end -- timed out
  end
  w:close()
  return done, not_done
end

local closer_meta = { __close = function(c) c.fn() end }
local function closer(fn) return setmetatable({ fn = fn }, closer_meta) end

--- `as_completed(fs [, timeout [, {progress=true}]])`: a generic-for
-- iterator that yields the futures of `fs` as they complete (those done
-- already first); duplicates come once. Raises TimeoutError ("N (of M)
-- futures unfinished") when `timeout` seconds pass from the call.
function M.as_completed(fs, timeout, opts)
  local deadline = timeout and now() + timeout
  local list, total = unique(fs, "as_completed")
  local w = core.FutureWaiter()
  for i = 1, total do w:add(list[i]) end
  local remaining, buf, bi = total, {}, 1
  local function iter()
    if bi > #buf then
      if remaining == 0 then w:close(); return nil end
      local left = deadline and deadline - now()
      if left and left < 0 then left = 0 end
      buf, bi = w:take(left), 1
      if #buf == 0 then
        w:close()
        error(M.TimeoutError(("%d (of %d) futures unfinished")
          :format(remaining, total)), 2)
      end
    end
    local f = buf[bi]
    bi = bi + 1
    remaining = remaining - 1
    return f
  end
  progress._totals[iter] = total
  if opts and opts.progress then
    return progress(iter, nil, nil, closer(function() w:close() end),
                    { total = total, force = opts.progress == "force" })
  end
  return iter, nil, nil, closer(function() w:close() end)
end
-- } ------


-- { ------ map over a job: generic-for iterators yielding index, result

--- Iterator over the results of a job (braid.core map job) in order;
-- `deadline` (monotonic seconds) or nil. Cancels what has not started
-- when the loop ends early (the fourth value is to-be-closed). The
-- iterator is the job's own (C): the per-result step is most of what a
-- map loop over small results costs.
local function ordered(job, deadline)
  local n = job:info()
  local iter, state = job:iter(deadline)
  progress._totals[iter] = n
  progress._indexed[iter] = true
  return iter, nil, nil, state
end

-- A done chunk as (results, count, error): a chunk of one task carries
-- its value alone; a failed chunk keeps the results before its error.
local function chunk_results(cs, ok, v, e)
  if cs == 1 then
    if ok then return { v }, 1, nil end
    return {}, 0, e
  end
  if ok then return v, v.n, nil end
  return v or {}, v and v.n or 0, e
end

--- Iterator over a job's results in completion order, yielding the
-- input's position and the result.
local function unordered(job, deadline)
  local n, cs = job:info()
  local next_done = job.next_done
  local seen, finished = 0, false
  local cur, cn, pos, base, exc = nil, 0, 0, 0, nil
  local function iter()
    while pos >= cn do
      if exc ~= nil then finished = true; raise_remote(exc) end
      local left
      if deadline then left = deadline - now(); if left < 0 then left = 0 end end
      local k, ok, v, e = next_done(job, seen, left)
      if k == nil then finished = true; return nil end
      seen = seen + 1
      base = (k - 1) * cs
      cur, cn, exc = chunk_results(cs, ok, v, e)
      pos = 0
    end
    pos = pos + 1
    return base + pos, cur[pos]
  end
  progress._totals[iter] = n
  progress._indexed[iter] = true
  return iter, nil, nil, closer(function()
    if not finished then job:cancel() end
  end)
end

local function empty_iter() return nil end

M._ordered, M._unordered = ordered, unordered

--- `buffersize` of Executor.map and Pool.imap (Python 3.14): nil, or a
-- positive integer (TypeError, ValueError otherwise, raised at 'level'
-- as error() counts from here).
function M._check_buffersize(b, level)
  if b == nil then return nil end
  if math_type(b) ~= "integer" then
    error(TypeError("buffersize must be an integer or None"), level)
  elseif b < 1 then
    error(ValueError("buffersize must be None or >= 1."), level)
  end
  return b
end

--- How many tasks a lazy map keeps in flight without `buffersize`.
M._lazy_ahead = 256
function M._lazy_window(workers)
  local w = 4 * workers
  return w > M._lazy_ahead and w or M._lazy_ahead
end

--- The items of an iterable one at a time: a function returning true,
-- item or false at the end (a sequence table: its 1..n; an iterator
-- function: until it returns nil; braid's own `index, result` iterators:
-- their results).
local function source_of(iterable)
  if type(iterable) == "table" then
    local i, n = 0, iterable.n or #iterable
    return function()
      if i >= n then return false end
      i = i + 1
      return true, iterable[i]
    end
  elseif progress._indexed[iterable] then
    return function()
      local k, v = iterable()
      if k == nil then return false end
      return true, v
    end
  end
  return function()
    local v = iterable()
    if v == nil then return false end
    return true, v
  end
end

M._source_of = source_of

--- Up to `want` items of an iterator source (source_of): `items, n,
-- ended, err`; `ended` once the source is exhausted or raised, `err` its
-- error (raised to the consumer after the items before it).
function M._read_items(source, want)
  local items, n = {}, 0
  while n < want do
    local ok, has, v = pcall(source)
    if not ok then return items, n, true, has end
    if not has then return items, n, true, nil end
    n = n + 1; items[n] = v
  end
  return items, n, false, nil
end

--- A map that reads its input as results are consumed: a generic-for
-- iterator yielding `index, result` (in order, or with 'any_order' in
-- completion order) like `ordered`/`unordered`, over map jobs of the
-- items read so far: `submit(items, n)` makes one (chunks of 'cs' items).
-- At most 'window' chunks are in flight (submitted and not yielded), in
-- jobs of half the window each (one job costs tens of microseconds: a
-- job per chunk would make small tasks ten times slower), so that the
-- workers go on with one half while the loop reads the other. Out of
-- order, every job rings one semaphore per chunk done (`set_bell`): the
-- loop waits on it for the next chunk of any job, then finds that chunk
-- with `try_next`. An error raised by the iterable is raised after the
-- results of the items before it (Python's imap). Leaving the loop early
-- cancels what has not started. 'deadline': monotonic seconds
-- (TimeoutError) or nil. 'owner' (for a map without buffersize): the
-- executor or Pool, whose shutdown or close() calls
-- `M._drain_lazy(owner)` first: the rest of the input is read and
-- submitted then (Python, which reads it all at once, runs every task of
-- a map made before close() or shutdown()).
function M._lazy(submit, iterable, cs, window, any_order, deadline, owner)
  local source = source_of(iterable)
  local jobs, head, tail = {}, 1, 0 -- not all yielded, in submission order
  local inflight, read, ended, src_err = 0, 0, false, nil
  local per_job = window // 2 > 0 and window // 2 or 1
  local bell = any_order and core.Semaphore(0) or nil
  local finished = false

  local function submit_next()
    local items, n
    items, n, ended, src_err = M._read_items(source, per_job * cs)
    if n == 0 then return end
    local job = submit(items, n)
    local _, jcs, k = job:info() -- a job of fewer items than cs: one chunk
    tail = tail + 1
    jobs[tail] = { job = job, base = read, k = k, cs = jcs, seen = 0 }
    read = read + n
    inflight = inflight + k
    if bell then job:set_bell(bell) end
  end
  local function refill()
    while not ended and inflight + per_job <= window do submit_next() end
  end
  local lazies = owner and owner._lazies
  if owner and lazies == nil then
    lazies = setmetatable({}, { __mode = "k" })
    owner._lazies = lazies
  end
  local function finish()
    finished = true
    if lazies then lazies[submit] = nil end
    if src_err ~= nil then
      local e = src_err
      src_err = nil
      error(e, 0)
    end
    return nil
  end

  local iter
  if not any_order then
    local cur, cur_iter
    iter = function()
      while true do
        if cur == nil then
          refill()
          if head > tail then return finish() end
          cur = jobs[head]
          cur_iter = cur.job:iter(deadline)
        end
        local i, v = cur_iter()
        if i ~= nil then return cur.base + i, v end
        jobs[head] = nil
        head = head + 1
        inflight = inflight - cur.k
        cur = nil
      end
    end
  else
    local cur, cn, pos, base, exc = nil, 0, 0, 0, nil
    -- the next chunk done of any job: its record, then what try_next gave
    local function take()
      local left
      if deadline then left = deadline - now(); if left < 0 then left = 0 end end
      if not bell:acquire(true, left) then error(M.TimeoutError(""), 3) end
      for i = head, tail do
        local rec = jobs[i]
        if rec and rec.seen < rec.k then
          local k, ok, v, e = rec.job:try_next(rec.seen)
          if k then
            rec.seen = rec.seen + 1
            if rec.seen == rec.k then -- every chunk taken: drop the job
              jobs[i] = nil
              while head <= tail and jobs[head] == nil do head = head + 1 end
            end
            return rec, k, ok, v, e
          end
        end
      end
      error("a job rang its bell without a chunk done") -- cannot happen
    end
    iter = function()
      while pos >= cn do
        if exc ~= nil then finished = true; raise_remote(exc) end
        refill()
        if inflight == 0 then return finish() end
        local rec, k, ok, v, e = take()
        inflight = inflight - 1
        base = rec.base + (k - 1) * rec.cs
        if ok == nil then ok = false end
        cur, cn, exc = chunk_results(rec.cs, ok, v, e)
        pos = 0
      end
      pos = pos + 1
      return base + pos, cur[pos]
    end
  end
  refill() -- the first tasks start now, as Python's map submits them
  if lazies and not ended then
    lazies[submit] = function() -- M._drain_lazy
      while not ended do submit_next() end
    end
  end
  progress._indexed[iter] = true
  return iter, nil, nil, closer(function()
    if lazies then lazies[submit] = nil end
    if finished then return end
    finished = true
    for i = head, tail do
      if jobs[i] then jobs[i].job:cancel() end
    end
  end)
end
-- } ------


--- Reads and submits the rest of the input of every lazy map of 'owner'
-- still being read (see M._lazy).
function M._drain_lazy(owner)
  local lazies = owner._lazies
  if lazies == nil then return end
  owner._lazies = nil
  for _, drain in next, lazies do drain() end
end

-- { ------ ThreadPoolExecutor

local Executor = {}
Executor.__index = Executor
Executor.__name = "concurrent.futures.ThreadPoolExecutor"

local counter = 0

-- Checks an executor's common arguments (errors at the caller's caller);
-- returns max_workers or its default.
local function check_executor(name, max_workers, default, initializer,
                              initargs)
  if max_workers == nil then
    max_workers = default
  elseif math_type(max_workers) ~= "integer" then
    error(TypeError("bad argument 'max_workers' to '" .. name .. "' "
      .. "(integer expected, got " .. type(max_workers) .. ")"), 3)
  elseif max_workers <= 0 then
    error(ValueError("max_workers must be greater than 0"), 3)
  end
  if initializer ~= nil and not callable(initializer) then
    error(TypeError("initializer must be a callable"), 3)
  end
  if initargs ~= nil and type(initargs) ~= "table" then
    error(TypeError("bad argument 'initargs' to '" .. name .. "' "
      .. "(table expected, got " .. type(initargs) .. ")"), 3)
  end
  return max_workers
end

--- `ThreadPoolExecutor([max_workers [, thread_name_prefix [, initializer
-- [, initargs]]]])` or the same as one table of named parameters.
-- `max_workers` defaults to min(32, cpu_count + 4). Workers start as work
-- comes, up to `max_workers`. If `initializer` fails in a worker, the
-- executor is broken: pending futures fail with BrokenThreadPool and later
-- submits raise it.
function M.ThreadPoolExecutor(max_workers, thread_name_prefix, initializer,
                              initargs)
  if type(max_workers) == "table" then
    local o = max_workers
    max_workers, thread_name_prefix, initializer, initargs =
      o.max_workers, o.thread_name_prefix, o.initializer, o.initargs
  end
  max_workers = check_executor("ThreadPoolExecutor", max_workers,
    min(32, (core.cpu_count and core.cpu_count() or 1) + 4), initializer,
    initargs)
  counter = counter + 1
  if thread_name_prefix == nil or thread_name_prefix == "" then
    thread_name_prefix = "ThreadPoolExecutor-" .. (counter - 1)
  end
  local pool = core.ThreadPool {
    max_workers = max_workers, lazy = true, prefix = tostring(thread_name_prefix),
    initializer = initializer, initargs = initargs,
  }
  return setmetatable({ _pool = pool, _max_workers = max_workers }, Executor)
end

--- `ex:submit(fn, ...)` -> Future. RuntimeError after shutdown,
-- BrokenThreadPool when an initializer failed.
function Executor:submit(fn, ...)
  return self._pool:submit(fn, ...)
end

--- `ex:map(fn, iterable [, {timeout=, chunksize=, buffersize=,
-- progress=}])`: a generic-for iterator yielding `index, result` in
-- order. A sequence table is submitted at once; an iterator function is
-- read as results are consumed, at most `buffersize` tasks (chunks) in
-- flight (Python 3.14's; default 256, or 4 per worker when that is
-- more), so an endless iterator works; with `buffersize` a table is read
-- that way too. An error is
-- raised when its element is reached (the iterator's own error after the
-- results before it); the timeout counts from this call (TimeoutError).
-- Leaving the loop early cancels what has not started.
function Executor:map(fn, iterable, opts)
  local timeout, chunksize, prog, buffersize
  if type(opts) == "number" then timeout = opts
  elseif opts ~= nil then
    timeout, chunksize, prog, buffersize =
      opts.timeout, opts.chunksize, opts.progress, opts.buffersize
  end
  chunksize = chunksize or 1
  if math_type(chunksize) ~= "integer" or chunksize < 1 then
    error(ValueError("chunksize must be >= 1."), 2)
  end
  buffersize = M._check_buffersize(buffersize, 3)
  if not callable(fn) then
    error(TypeError("bad argument #1 to 'map' (function expected, got "
      .. type(fn) .. ")"), 2)
  end
  local deadline = timeout and now() + timeout
  local pool = self._pool
  if buffersize or type(iterable) == "function" then
    if type(iterable) ~= "function" and (type(iterable) ~= "table"
                                         or getmetatable(iterable) ~= nil) then
      collect(iterable, "map") -- raises the TypeError
    end
    local _, _, broken, down = pool:info()
    if broken then pool:submit(fn) end -- raises BrokenThreadPool
    if down then error(RuntimeError("cannot schedule new futures after shutdown"), 2) end
    local it, s, c, cl = M._lazy(function(items, n)
      return pool:map(fn, items, n, chunksize, false)
    end, iterable, chunksize, buffersize or M._lazy_window(self._max_workers), false,
      deadline, buffersize == nil and self or nil)
    if prog then
      return progress(it, s, c, cl, { force = prog == "force",
        total = type(iterable) == "table" and (iterable.n or #iterable) or nil })
    end
    return it, s, c, cl
  end
  local items, n = collect(iterable, "map")
  if n == 0 then
    local _, _, broken, down = pool:info()
    if broken then pool:submit(fn) end -- raises BrokenThreadPool
    if down then error(RuntimeError("cannot schedule new futures after shutdown"), 2) end
    return empty_iter
  end
  local job = pool:map(fn, items, n, chunksize, false)
  if prog then
    local it, s, c, cl = ordered(job, deadline)
    return progress(it, s, c, cl, { total = n, force = prog == "force" })
  end
  return ordered(job, deadline)
end

--- `ex:shutdown([wait [, {cancel_futures=}]])`: no more submits; with
-- `cancel_futures`, futures not started are cancelled; with `wait`
-- (default true) returns once every worker has ended.
function Executor:shutdown(wait, opts)
  local cancel = type(opts) == "table" and opts.cancel_futures or false
  if cancel then self._lazies = nil else M._drain_lazy(self) end
  self._pool:shutdown(cancel)
  if wait == nil or wait then self._pool:join() end
end

-- A scope left by Ctrl-C (KeyboardInterrupt) also cancels the futures not
-- started: the program is on its way out (docs/HACKING.md "Ctrl-C").
local KeyboardInterrupt = errors.KeyboardInterrupt
Executor.__close = function(self, err)
  local interrupted = err ~= nil and KeyboardInterrupt:is(err)
  self:shutdown(true, { cancel_futures = interrupted })
end

function Executor:__tostring()
  local max, alive, broken, down = self._pool:info()
  return ("<%s max_workers=%d %s=%d%s%s>"):format(
    self._process and "ProcessPoolExecutor" or "ThreadPoolExecutor", max,
    self._process and "processes" or "threads", alive,
    broken and " broken" or "", down and " shutdown" or "")
end

M.Executor = Executor
-- } ------


-- { ------ ProcessPoolExecutor

local ProcessExecutor = setmetatable({}, { __index = Executor })
ProcessExecutor.__index = ProcessExecutor
ProcessExecutor.__name = "concurrent.futures.ProcessPoolExecutor"
ProcessExecutor.__close = Executor.__close
ProcessExecutor.__tostring = Executor.__tostring

local PROCESS_NAMES = { fork = "ForkProcess", spawn = "SpawnProcess",
                        forkserver = "ForkServerProcess" }

--- `ProcessPoolExecutor([max_workers [, mp_context [, initializer
-- [, initargs [, max_tasks_per_child]]]]])` or one table of named
-- parameters: the executor API on worker processes. `max_workers`
-- defaults to `cpu_count()`; `mp_context` (a context from
-- `multiprocessing.get_context`) chooses the start method (default: the
-- current one; with `max_tasks_per_child`, "spawn", and "fork" is refused
-- then, as in Python). Functions, arguments and results travel by value.
-- A worker that dies (killed, crashed, `os.exit`) breaks the executor:
-- what is pending or running fails with BrokenProcessPool, later submits
-- raise it, and the other workers are stopped.
function M.ProcessPoolExecutor(max_workers, mp_context, initializer,
                               initargs, max_tasks_per_child)
  if type(max_workers) == "table" then
    local o = max_workers
    max_workers, mp_context, initializer, initargs, max_tasks_per_child =
      o.max_workers, o.mp_context, o.initializer, o.initargs,
      o.max_tasks_per_child
  end
  max_workers = check_executor("ProcessPoolExecutor", max_workers,
    core.cpu_count and core.cpu_count() or 1, initializer, initargs)
  local method
  if mp_context ~= nil then
    method = type(mp_context) == "table" and mp_context.get_start_method
             and mp_context.get_start_method()
    if type(method) ~= "string" then
      error(TypeError("bad argument 'mp_context' to 'ProcessPoolExecutor' "
        .. "(a multiprocessing context expected)"), 2)
    end
  end
  if max_tasks_per_child ~= nil then
    if math_type(max_tasks_per_child) ~= "integer" then
      error(TypeError("max_tasks_per_child must be an integer"), 2)
    elseif max_tasks_per_child <= 0 then
      error(ValueError("max_tasks_per_child must be >= 1"), 2)
    elseif method == "fork" then
      error(ValueError("max_tasks_per_child is incompatible with the 'fork' "
        .. "multiprocessing start method; supply a different mp_context."), 2)
    end
    method = method or "spawn"
  end
  method = method or require("braid.multiprocessing.context").get_start_method()
  local pool = require("braid.multiprocessing.pool")._process_pool({
    -- forked workers start at once (a later fork from a proxy thread
    -- would inherit descriptors the program opened meanwhile); the others
    -- as work comes, as in Python
    max_workers = max_workers, lazy = method ~= "fork",
    maxtasksperchild = max_tasks_per_child, initializer = initializer,
    initargs = initargs, name = PROCESS_NAMES[method],
  }, method, false)
  return setmetatable({ _pool = pool, _max_workers = max_workers,
                        _process = true }, ProcessExecutor)
end
-- } ------

return M

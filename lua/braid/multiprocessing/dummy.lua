--- Python's `multiprocessing.dummy`: the multiprocessing API on threads.
-- `Pool(processes, initializer, initargs)` is
-- `braid.multiprocessing.pool.ThreadPool`; `Process` is a Thread.
-- @module braid.multiprocessing.dummy
local pool = require "braid.multiprocessing.pool"
local threading = require "braid.threading"
local queue = require "braid.queue"
local core = require "braid.core"
local ipairs = ipairs
_ENV = nil

local M = {}

--- `Pool([processes [, initializer [, initargs]]])`: a ThreadPool.
M.Pool = pool.ThreadPool
M.ThreadPool = pool.ThreadPool
M.TimeoutError = pool.TimeoutError
M.Process = threading.Thread
M.current_process = threading.current_thread
M.active_children = function()
  local out, main, cur = {}, threading.main_thread(), threading.current_thread()
  for _, t in ipairs(threading.enumerate()) do
    if t ~= main and t ~= cur then out[#out + 1] = t end
  end
  return out
end
M.Queue = queue.Queue
M.JoinableQueue = queue.Queue
M.Lock = threading.Lock
M.RLock = threading.RLock
M.Condition = threading.Condition
M.Semaphore = threading.Semaphore
M.BoundedSemaphore = threading.BoundedSemaphore
M.Event = threading.Event
M.Barrier = threading.Barrier
M.cpu_count = core.cpu_count

return M

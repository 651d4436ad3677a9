--- Helpers shared by the specs: typed-error assertions and bounded waits.
local errors = require "braid.errors"

local M = {}

--- Calls fn(...) and asserts it raises an instance of `cls`; returns the
-- error object so that a spec can check its message.
function M.raises(cls, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then
    error(("expected %s, but the call succeeded"):format(cls.name), 2)
  end
  if not errors.is(cls, err) then
    error(("expected %s, got %s"):format(cls.name, tostring(err)), 2)
  end
  return err
end

--- Asserts that the error's message contains `text` (plain find).
function M.message_has(err, text)
  local msg = type(err) == "table" and tostring(err.message) or tostring(err)
  if not msg:find(text, 1, true) then
    error(("message %q does not contain %q"):format(msg, text), 2)
  end
end

--- Runs `fn(...)` in a new braid thread and returns what it returned, as
-- pcall would: `ok, results...`. The results come back through the
-- thread's uncaught error and a custom excepthook, which runs in this
-- state when join() polls (so this works before queues exist, and proves
-- that error objects cross states).
function M.run_in_thread(fn, ...)
  local threading = require "braid.threading"
  local got
  local old = threading.excepthook
  threading.excepthook = function(args) got = args.exc_value end
  local t = threading.Thread{
    target = function(f, ...)
      error({ __result = table.pack(pcall(f, ...)) })
    end,
    args = table.pack(fn, ...),
  }
  t:start()
  t:join(60)
  threading.excepthook = old
  assert(not t:is_alive(), "thread did not finish within 60 s")
  assert(got ~= nil, "no result came back from the thread")
  local r = got.value and got.value.__result
  if r == nil then error("thread failed outside fn: " .. tostring(got), 2) end
  return table.unpack(r, 1, r.n)
end

--- Seconds of a monotonic clock (for generous timing bounds only).
M.now = require("braid.core").monotonic

--- The process start methods the specs run with: fork, spawn and
-- forkserver, or those listed in BRAID_SPEC_METHODS ("spawn,forkserver":
-- the sanitizer passes leave out fork from a process whose threads
-- allocate, since a child forked while another thread holds the ASan or
-- TSan allocator's lock hangs in its first malloc; glibc's malloc takes
-- its locks around fork). With a list, its first method also becomes the
-- default start method. Returns the sequence of names and a set of them.
function M.start_methods()
  local methods = { "fork", "spawn", "forkserver" }
  local only = os.getenv("BRAID_SPEC_METHODS")
  if only and only ~= "" then
    methods = {}
    for m in only:gmatch("[^%s,]+") do methods[#methods + 1] = m end
    require("braid.multiprocessing").set_start_method(methods[1], true)
  end
  local set = {}
  for _, m in ipairs(methods) do set[m] = true end
  return methods, set
end

-- The 'braid' host program of the build under test (sanitizer runs point
-- BRAID_HOST at their own build; BRAID_HOST=none skips the specs that use
-- it, with `local host_it = helpers.HOST == "none" and pending or it` in
-- the spec file, where busted's `it` is: ThreadSanitizer's runtime,
-- preloaded into this process, crashes the shell that io.popen starts).
M.HOST = os.getenv("BRAID_HOST") or "build/bin/braid"

--- Runs Lua source 'code' as a braid host script (60 s at most); returns
-- its exit status and its output (stdout and stderr together).
function M.braid_run(code)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "w"))
  f:write(code)
  f:close()
  local p = io.popen("timeout 60 " .. M.HOST .. " " .. tmp .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  os.remove(tmp)
  return tonumber(out:match("rc=(%d+)%s*$")), (out:gsub("rc=%d+%s*$", ""))
end

--- Live braid objects in the process, once this state has collected its
-- garbage and encoded once more (an encode that raised lets go of the braid
-- objects it met only at the next encode of the same state).
function M.live()
  local core = require "braid.core"
  core.copy({ {} })
  collectgarbage(); collectgarbage()
  return core._test.live()
end

--- Descriptors of process 'pid' (default: this one; not /proc/self, which
-- would be the ls's) open on a memfd named 'name'.
function M.memfd_count(name, pid)
  local p = io.popen("ls -l /proc/" .. (pid or require("braid.core").getpid()) .. "/fd 2>/dev/null")
  local n = 0
  for line in p:lines() do
    if line:find("memfd:" .. name, 1, true) then n = n + 1 end
  end
  p:close()
  return n
end

--- Mappings in this process of a memfd named 'name'.
function M.memfd_maps(name)
  local f = assert(io.open("/proc/" .. require("braid.core").getpid() .. "/maps"))
  local n = 0
  for line in f:lines() do
    if line:find(name, 1, true) then n = n + 1 end
  end
  f:close()
  return n
end

--- ... on an out-of-line segment (a braid memfd).
function M.seg_fds(pid) return M.memfd_count("braid-seg", pid) end

--- Calls fn(...) in a new thread and returns its results, or raises its
-- error here. The results come back through a SimpleQueue (nothing else
-- runs in the thread: the specs that measure a worker's state use it).
function M.call_in_thread(fn, ...)
  local threading = require "braid.threading"
  local q = require("braid.queue").SimpleQueue()
  local t = threading.Thread{
    target = function(q, f, ...) q:put(table.pack(pcall(f, ...))) end,
    args = table.pack(q, fn, ...),
  }
  t:start()
  t:join(60)
  assert(not t:is_alive(), "thread did not end within 60 s")
  local r = q:get(true, 10)
  if not r[1] then error(r[2], 2) end
  return table.unpack(r, 2, r.n)
end

-- n records { id = i, name = tag .. i, vals = { i, 2i, 3i } } (tag
-- "item" by default): the big table of the benchmarks (bench/README.md).
function M.records(n, tag)
  local t = {}
  for i = 1, n do
    t[i] = { id = i, name = (tag or "item") .. i, vals = { i, 2 * i, 3 * i } }
  end
  return t
end

-- The minor page faults of this process so far (/proc/self/stat's field
-- 10): a first touch of a page, or a copy on write.
function M.minor_faults()
  local f = assert(io.open("/proc/self/stat"))
  local s = f:read("a")
  f:close()
  local i = 0
  for w in s:match("%) (.*)$"):gmatch("%S+") do
    i = i + 1
    if i == 8 then return tonumber(w) end
  end
end

-- 'n' bytes of a pattern that repeats every 251 bytes (a prime: a
-- misplaced, shifted or reordered page or chunk shows), varied by 'seed'.
function M.pattern(n, seed)
  local unit = {}
  for i = 1, 251 do unit[i] = string.char((i * 7 + (seed or 0)) % 256) end
  local u = table.concat(unit)
  return (u:rep(n // #u + 1)):sub(1, n)
end

return M

-- braid.os: pids, signals, waitpid and wait statuses, fork (a usable
-- child, Python 3.12's warning), exec*, spawn*, system, popen, the
-- environment (reaching later children only, serialised against spawns),
-- CPU counts and affinity, nice, open/close. Every wait is bounded: a
-- child that could hang is killed by the spec's watchdog (timeout(1)) or
-- waited with WNOHANG polling under a deadline.
local helpers = require "helpers"
local bos = require "braid.os"
local errors = require "braid.errors"
local core = require "braid.core"
local threading = require "braid.threading"
local mp = require "braid.multiprocessing"

local METHODS = helpers.start_methods()
local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
local fork_ok = false
for _, m in ipairs(METHODS) do if m == "fork" then fork_ok = true end end
local it_fork = fork_ok and it or pending

-- Under the ThreadSanitizer pass (LD_PRELOAD of libtsan) the programs the
-- spec starts (sh, sleep, true) would not survive the preloaded runtime:
-- they get an environment without it -- braid.os.environ at work -- and
-- the braid children of multiprocessing get it back (braid_children).
local PRELOAD = os.getenv("LD_PRELOAD")
local TSAN = PRELOAD ~= nil and PRELOAD:find("tsan", 1, true) ~= nil
if TSAN then bos.environ.LD_PRELOAD = nil end
local function braid_children(fn)
  if TSAN then bos.environ.LD_PRELOAD = PRELOAD end
  local ok, err = pcall(fn)
  if TSAN then bos.environ.LD_PRELOAD = nil end
  if not ok then error(err, 0) end
end

-- Waits for 'pid' at most 60 s; returns its wait status.
local function reap(pid)
  local deadline = helpers.now() + 60
  while true do
    local r, st = bos.waitpid(pid, bos.WNOHANG)
    if r == pid then return st end
    if helpers.now() > deadline then
      bos.kill(pid, bos.SIGKILL)
      local _, s = bos.waitpid(pid, 0)
      error("child " .. pid .. " did not end within 60 s (status " .. s .. ")")
    end
    core.sleep(0.005)
  end
end

-- Forks a child that runs fn() and ends with its integer result (or 99 on
-- an error); returns its exit code.
local function in_child(fn)
  local pid = bos.fork()
  if pid == 0 then
    local ok, r = pcall(fn)
    if not ok then io.stderr:write("child: ", tostring(r), "\n") end
    core.proc_exit(ok and (r or 0) or 99)
  end
  return bos.waitstatus_to_exitcode(reap(pid))
end

local function pgid_of_self()
  local f = assert(io.open("/proc/self/stat"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("%) %a %d+ (%d+)")) -- pid (comm) state ppid pgrp
end

describe("braid.os processes", function()
  it("getpid and getppid agree with a child's view", function()
    assert.equal(core.getpid(), bos.getpid())
    assert.is_true(bos.getppid() > 0)
    local r, w = mp.Pipe(false)
    local p = mp.Process{target = function(c)
      local o = require "braid.os"
      c:send({ o.getpid(), o.getppid() })
    end, args = { w }}
    braid_children(function() p:start() end)
    local got = r:recv()
    p:join(60)
    assert.equal(p.pid, got[1])
    assert.equal(bos.getpid(), got[2])
  end)

  it("kill, waitpid with WNOHANG, and the wait-status helpers", function()
    local pid = bos.spawnvp(bos.P_NOWAIT, "sleep", { "sleep", "60" })
    local r, st = bos.waitpid(pid, bos.WNOHANG)
    assert.equal(0, r)
    assert.equal(0, st)
    bos.kill(pid, bos.SIGTERM)
    r, st = bos.waitpid(pid, 0)
    assert.equal(pid, r)
    assert.is_true(bos.WIFSIGNALED(st))
    assert.is_false(bos.WIFEXITED(st))
    assert.equal(bos.SIGTERM, bos.WTERMSIG(st))
    assert.equal(-15, bos.waitstatus_to_exitcode(st))
    helpers.raises(errors.ChildProcessError, bos.waitpid, pid, 0)
    helpers.raises(errors.ProcessLookupError, bos.kill, pid, 0)
    local code = bos.spawnv(bos.P_WAIT, "/bin/sh", { "sh", "-c", "exit 9" })
    assert.equal(9, code)
    local st2 = bos.system("exit 9")
    assert.is_true(bos.WIFEXITED(st2))
    assert.equal(9, bos.WEXITSTATUS(st2))
    assert.equal(9, bos.waitstatus_to_exitcode(st2))
    assert.equal(9 * 256, st2)
    helpers.raises(errors.ValueError, bos.waitstatus_to_exitcode, -1)
    helpers.raises(errors.ValueError, bos.waitstatus_to_exitcode, 0x137f) -- stopped
  end)

  it("killpg signals a process group", function()
    bos.killpg(pgid_of_self(), 0) -- signal 0: permission and existence only
    helpers.raises(errors.ProcessLookupError, bos.killpg, 2 ^ 22 - 7, 0)
  end)

  it("has the signal numbers and the modes", function()
    assert.equal(9, bos.SIGKILL)
    assert.equal(15, bos.SIGTERM)
    assert.equal(2, bos.SIGINT)
    assert.equal(1, bos.SIGHUP)
    assert.equal(0, bos.P_WAIT)
    assert.equal(1, bos.P_NOWAIT)
    assert.equal(1, bos.WNOHANG)
  end)

  it("a blocking waitpid lets other threads run", function()
    local pid = bos.spawnvp(bos.P_NOWAIT, "sleep", { "sleep", "60" })
    local done = threading.Event()
    local t = threading.Thread{target = function(p, d)
      local o = require "braid.os"
      d:set()
      o.kill(p, o.SIGKILL)
    end, args = { pid, done }}
    t:start()
    local r, st = bos.waitpid(pid, 0) -- the thread kills it meanwhile
    t:join(60)
    assert.is_true(done:is_set())
    assert.equal(pid, r)
    assert.equal(-9, bos.waitstatus_to_exitcode(st))
  end)
end)

describe("braid.os.fork", function()
  it_fork("gives a usable child: threads, queues and braid objects work there", function()
    local m = require("braid.mmap").mmap(-1, 16)
    local code = in_child(function()
      local th = require "braid.threading"
      local q = require("braid.queue").Queue()
      local t = th.Thread{target = function(qq) qq:put(41) end, args = { q }}
      t:start()
      t:join(60)
      m:set(0, "child ok")
      return q:get(true, 60) + 1
    end)
    assert.equal(42, code)
    assert.equal("child ok", m:sub(0, 8))
  end)

  local function run_script(body)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(body)
    f:close()
    local p = io.popen(("timeout 60 %s %s 2>&1"):format(HOST, path))
    local out = p:read("a")
    p:close()
    os.remove(path)
    return out
  end

  local it_host = (HOST ~= "none" and fork_ok) and it or pending
  it_host("warns as Python 3.12 does when other threads are alive, not otherwise", function()
    local out = run_script([[
local bos = require "braid.os"
local th = require "braid.threading"
local pid = bos.fork()
if pid == 0 then require("braid.core").proc_exit(0) end
bos.waitpid(pid, 0)
print("single done")
local ev = th.Event()
local t = th.Thread{target = function(e) e:wait(60) end, args = {ev}}
t:start()
pid = bos.fork()
if pid == 0 then require("braid.core").proc_exit(0) end
bos.waitpid(pid, 0)
ev:set(); t:join(60)
print("multi done")
]])
    local single, multi = out:match("^(.-)single done\n(.*)multi done")
    assert(single, out)
    assert.equal("", single)
    assert.truthy(multi:find("DeprecationWarning: This process %(pid=%d+%) is multi%-threaded, "
      .. "use of fork%(%) may lead to deadlocks in the child%."), out)
    assert.truthy(multi:find(":10: DeprecationWarning", 1, true), out) -- the caller's line
  end)
end)

describe("braid.os exec and spawn", function()
  it_fork("execv, execve, execvp, execvpe replace the child's program", function()
    local env = { CODE = "6", PATH = os.getenv("PATH") }
    assert.equal(4, in_child(function() bos.execv("/bin/sh", { "sh", "-c", "exit 4" }) end))
    assert.equal(6, in_child(function() bos.execve("/bin/sh", { "sh", "-c", "exit $CODE" }, env) end))
    assert.equal(5, in_child(function() bos.execvp("sh", { "sh", "-c", "exit 5" }) end))
    assert.equal(6, in_child(function() bos.execvpe("sh", { "sh", "-c", "exit $CODE" }, env) end))
    -- execvpe searches the PATH of the environment it is given
    assert.equal(99, in_child(function()
      bos.execvpe("sh", { "sh", "-c", "exit 0" }, { PATH = "/nonexistent" })
    end))
  end)

  it_fork("execl, execle, execlp, execlpe take the arguments one by one", function()
    local env = { CODE = "7", PATH = os.getenv("PATH") }
    assert.equal(3, in_child(function() bos.execl("/bin/sh", "sh", "-c", "exit 3") end))
    assert.equal(7, in_child(function() bos.execle("/bin/sh", "sh", "-c", "exit $CODE", env) end))
    assert.equal(8, in_child(function() bos.execlp("sh", "sh", "-c", "exit 8") end))
    assert.equal(7, in_child(function() bos.execlpe("sh", "sh", "-c", "exit $CODE", env) end))
  end)

  it("exec errors are Python's, raised in the caller", function()
    helpers.raises(errors.FileNotFoundError, bos.execv, "/nonexistent/prog", { "prog" })
    helpers.raises(errors.FileNotFoundError, bos.execvp, "no-such-program-braid", { "x" })
    helpers.message_has(helpers.raises(errors.ValueError, bos.execv, "/bin/sh", {}),
                        "execv() arg 2 must not be empty")
    helpers.message_has(helpers.raises(errors.ValueError, bos.execv, "/bin/sh", { "" }),
                        "execv() arg 2 first element cannot be empty")
    helpers.raises(errors.TypeError, bos.execv, "/bin/sh", "sh")
    helpers.raises(errors.TypeError, bos.execv, "/bin/sh", { "sh", 1 })
    helpers.raises(errors.ValueError, bos.execv, "/bin/sh\0x", { "sh" })
    helpers.raises(errors.ValueError, bos.execve, "/bin/sh", { "sh" }, { ["A=B"] = "1" })
    helpers.raises(errors.TypeError, bos.execve, "/bin/sh", { "sh" }, { A = 1 })
  end)

  it("spawnv, spawnve, spawnvp: P_WAIT codes, signals, P_NOWAIT pids", function()
    assert.equal(0, bos.spawnv(bos.P_WAIT, "/bin/true", { "true" }))
    assert.equal(-9, bos.spawnv(bos.P_WAIT, "/bin/sh", { "sh", "-c", "kill -9 $$" }))
    assert.equal(12, bos.spawnve(bos.P_WAIT, "/bin/sh", { "sh", "-c", "exit $N" }, { N = "12" }))
    assert.equal(3, bos.spawnvp(bos.P_WAIT, "sh", { "sh", "-c", "exit 3" }))
    local pid = bos.spawnv(bos.P_NOWAIT, "/bin/sh", { "sh", "-c", "exit 2" })
    assert.is_true(pid > 0)
    assert.equal(2, bos.waitstatus_to_exitcode(reap(pid)))
    helpers.raises(errors.FileNotFoundError, bos.spawnv, bos.P_WAIT, "/nonexistent", { "x" })
    helpers.raises(errors.ValueError, bos.spawnv, 7, "/bin/true", { "true" })
  end)

  it("system returns the wait status", function()
    assert.equal(0, bos.system("true"))
    assert.equal(-9, bos.waitstatus_to_exitcode(bos.system("kill -9 $$")))
    helpers.raises(errors.ValueError, bos.system, "true\0")
  end)

  it("popen reads, writes, and closes with Python's status", function()
    local p = bos.popen("echo one; echo two")
    assert.equal("one", p:read("l"))
    assert.equal("two", p:read("l"))
    assert.is_nil(p:close())
    assert.is_nil(p:close())
    p = bos.popen("exit 3")
    assert.equal(3 << 8, p:close())
    p = bos.popen("kill -9 $$")
    assert.equal(-9 << 8, p:close())
    local path = os.tmpname()
    do
      local w <close> = bos.popen("cat > " .. path, "w")
      w:write("through ", "the pipe")
    end
    local f = assert(io.open(path))
    assert.equal("through the pipe", f:read("a"))
    f:close()
    os.remove(path)
    local lines = {}
    for l in bos.popen("printf 'a\\nb\\n'"):lines() do lines[#lines + 1] = l end
    assert.same({ "a", "b" }, lines)
    helpers.raises(errors.ValueError, bos.popen, "true", "rb")
    helpers.raises(errors.ValueError, bos.popen, "true", "r", 0)
    helpers.raises(errors.TypeError, bos.popen, { "true" })
  end)
end)

describe("braid.os.environ", function()
  after_each(function()
    bos.environ.BRAID_T1 = nil
    bos.environ.BRAID_T2 = nil
  end)

  it("reads, sets and removes variables; pairs walks them", function()
    assert.is_nil(bos.environ.BRAID_T1)
    bos.environ.BRAID_T1 = "one"
    assert.equal("one", bos.environ.BRAID_T1)
    assert.equal("one", bos.getenv("BRAID_T1"))
    assert.equal("one", os.getenv("BRAID_T1")) -- the process's environment
    local seen
    for k, v in pairs(bos.environ) do if k == "BRAID_T1" then seen = v end end
    assert.equal("one", seen)
    bos.environ.BRAID_T1 = nil
    assert.is_nil(bos.environ.BRAID_T1)
    assert.is_nil(os.getenv("BRAID_T1"))
    assert.equal("dflt", bos.getenv("BRAID_T1", "dflt"))
    bos.putenv("BRAID_T2", "two")
    assert.equal("two", os.getenv("BRAID_T2"))
    bos.unsetenv("BRAID_T2")
    assert.is_nil(os.getenv("BRAID_T2"))
  end)

  it("raises Python's errors for bad names and values", function()
    helpers.message_has(helpers.raises(errors.TypeError, function() bos.environ.BRAID_T1 = 1 end),
                        "str expected, not integer")
    helpers.raises(errors.TypeError, function() return bos.environ[1] end)
    helpers.message_has(helpers.raises(errors.ValueError, function() bos.environ["A=B"] = "x" end),
                        "illegal environment variable name")
    helpers.raises(errors.ValueError, function() bos.environ[""] = "x" end)
    helpers.message_has(helpers.raises(errors.ValueError, function() bos.environ.BRAID_T1 = "a\0b" end),
                        "embedded null byte")
    helpers.raises(errors.ValueError, bos.putenv, "A=B", "x")
    helpers.raises(errors.ValueError, bos.unsetenv, "A=B")
  end)

  it("reaches children started afterwards, by every start method and spawn", function()
    bos.environ.BRAID_T1 = "inherited"
    assert.equal(0, bos.system('test "$BRAID_T1" = inherited'))
    assert.equal(0, bos.spawnvp(bos.P_WAIT, "sh", { "sh", "-c", 'test "$BRAID_T1" = inherited' }))
    local p = bos.popen('printf %s "$BRAID_T1"')
    assert.equal("inherited", p:read("a"))
    p:close()
    for _, method in ipairs(METHODS) do
      local r, w = mp.Pipe(false)
      local proc = mp.get_context(method).Process{target = function(c)
        c:send(require("braid.os").environ.BRAID_T1)
      end, args = { w }}
      braid_children(function() proc:start() end)
      assert.equal("inherited", r:recv(), method)
      proc:join(60)
    end
  end)

  it("never reaches the parent, nor a child started before the change", function()
    local r, w = mp.Pipe(false)
    local go = mp.Event()
    local proc = mp.Process{target = function(c, g)
      local o = require "braid.os"
      o.environ.BRAID_T2 = "set by the child"
      assert(g:wait(60))
      c:send(o.environ.BRAID_T1 or "unset")
    end, args = { w, go }}
    braid_children(function() proc:start() end)
    bos.environ.BRAID_T1 = "after the start"
    go:set()
    assert.equal("unset", r:recv())
    proc:join(60)
    assert.equal(0, proc.exitcode)
    assert.is_nil(bos.environ.BRAID_T2)
  end)

  it("is serialised against spawns: changes from threads while others spawn", function()
    local go = threading.Barrier(4)
    local ts = {}
    for k = 1, 2 do
      ts[#ts + 1] = threading.Thread{target = function(b, id)
        local o = require "braid.os"
        b:wait(60)
        for i = 1, 300 do
          o.environ["BRAID_CHURN_" .. id .. "_" .. (i % 17)] = ("x"):rep(i)
          if i % 3 == 0 then o.environ["BRAID_CHURN_" .. id .. "_" .. (i % 5)] = nil end
        end
      end, args = { go, k }}
    end
    for _ = 1, 2 do
      ts[#ts + 1] = threading.Thread{target = function(b)
        local o = require "braid.os"
        b:wait(60)
        for _ = 1, 15 do
          assert(o.spawnv(o.P_WAIT, "/bin/sh", { "sh", "-c", 'test "$BRAID_T1" = stable' }) == 0)
        end
      end, args = { go }}
    end
    bos.environ.BRAID_T1 = "stable"
    for _, t in ipairs(ts) do t:start() end
    for _, t in ipairs(ts) do t:join(120); assert.is_false(t:is_alive()) end
    for k, _ in pairs(bos.environ) do
      if k:find("^BRAID_CHURN_") then bos.environ[k] = nil end
    end
  end)
end)

describe("braid.os CPUs, priority, descriptors", function()
  it("counts CPUs, and process_cpu_count follows the affinity", function()
    local n = bos.cpu_count()
    assert.is_true(n >= 1)
    local set = bos.sched_getaffinity(0)
    local k = 0
    for cpu, v in pairs(set) do
      assert.is_true(v)
      assert.is_true(math.type(cpu) == "integer" and cpu >= 0)
      k = k + 1
    end
    assert.equal(k, bos.process_cpu_count())
    local ok, got, pc = helpers.run_in_thread(function()
      local o = require "braid.os"
      o.sched_setaffinity(0, { 0 }) -- this thread only
      return o.sched_getaffinity(0), o.process_cpu_count()
    end)
    assert.is_true(ok, tostring(got))
    assert.same({ [0] = true }, got)
    assert.equal(1, pc)
    ok, got = helpers.run_in_thread(function()
      local o = require "braid.os"
      o.sched_setaffinity(0, { [0] = true })
      return o.process_cpu_count()
    end)
    assert.is_true(ok)
    assert.equal(1, got)
    helpers.raises(errors.OSError, bos.sched_setaffinity, 0, { 100000 })
    helpers.raises(errors.ValueError, bos.sched_setaffinity, 0, { -1 })
    helpers.raises(errors.TypeError, bos.sched_setaffinity, 0, { "x" })
    helpers.raises(errors.ProcessLookupError, bos.sched_getaffinity, 2 ^ 22 - 7)
  end)

  it_fork("nice raises this process's niceness and returns the new value", function()
    local now = bos.nice(0)
    assert.equal(math.min(now + 3, 19), in_child(function() return bos.nice(3) end))
    assert.equal(now, bos.nice(0)) -- the child's, not ours
  end)

  it("open and close descriptors, close-on-exec", function()
    local path = os.tmpname()
    local fd = bos.open(path, bos.O_RDWR | bos.O_TRUNC)
    assert.is_true(fd > 2)
    bos.close(fd)
    helpers.raises(errors.OSError, bos.close, fd)
    helpers.raises(errors.FileNotFoundError, bos.open, "/nonexistent/x", bos.O_RDONLY)
    fd = bos.open(path, bos.O_WRONLY | bos.O_CREAT | bos.O_EXCL == 0 and 0 or bos.O_WRONLY)
    bos.close(fd)
    helpers.raises(errors.FileExistsError, bos.open, path, bos.O_WRONLY | bos.O_CREAT | bos.O_EXCL)
    os.remove(path)
  end)
end)

-- Ctrl-C ends a blocking waitpid (build/sigrun, see spec/sigint_spec.lua).
local sigrun = require "helpers.sigrun"
local it_sig = (HOST ~= "none" and not TSAN) and it or pending
describe("braid.os waits and Ctrl-C", function()
  it_sig("a blocking waitpid ends on SIGINT within 1 s", function()
    local r = sigrun.run_once("waitpid", [[
local bos = require "braid.os"
-- (its output elsewhere: the spec reads the script's until its end)
local pid = bos.spawnvp(bos.P_NOWAIT, "sh", {"sh", "-c", "exec sleep 30 >/dev/null 2>&1"})
io.stdout:write("pid ", pid, "\nready\n"); io.stdout:flush()
bos.waitpid(pid, 0)
print("not reached")
]], "host")
    local ctx = r.out .. r.err
    if r.pids[1] then pcall(bos.kill, r.pids[1], bos.SIGKILL) end -- the script's child
    assert.are.equal("signal 2", r.status, ctx)
    assert.falsy(ctx:find("not reached", 1, true), ctx)
    assert(r.elapsed and r.elapsed < 1.0, ctx)
  end)
end)

--- braid.subprocess: Popen and its options, pipes, communicate, run and
-- the helpers, errors with Python's messages, from the main state, worker
-- threads and a Process; concurrent spawns leak no descriptor and leave no
-- zombie. Every wait is bounded (timeouts, or children that end by
-- themselves once their stdin closes); nothing waits on a guessed delay.
local braid = require "braid"
local sp = braid.subprocess
local errors = require "braid.errors"
local core = require "braid.core"
local helpers = require "helpers"
local T = core._test

if (os.getenv("LD_PRELOAD") or ""):find("tsan", 1, true) then
  -- the children (/bin/sh, cat...) inherit the preloaded TSan runtime,
  -- which they do not survive (as in sigint_spec)
  pending("subprocess_spec: not under ThreadSanitizer (see scripts/test.sh)")
  return
end

local raises, message_has = helpers.raises, helpers.message_has

-- Fields of /proc/<pid>/stat after the command name: state ppid pgrp sid.
local function stat_of(text)
  local rest = text:match("%) (.*)$")
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  return { ppid = tonumber(f[2]), pgrp = tonumber(f[3]), sid = tonumber(f[4]) }
end

local function my_stat()
  local fh = assert(io.open("/proc/self/stat"))
  local s = fh:read("a")
  fh:close()
  return stat_of(s)
end

-- Waits (at most 60 s) until check() holds, collecting garbage and
-- spawning `true` (which reaps collected children) on the way.
local function eventually(check, what)
  local deadline = core.monotonic() + 60
  repeat
    collectgarbage(); collectgarbage()
    sp.run({ "true" })
    if check() then return end
    core.sleep(0.02)
  until core.monotonic() > deadline
  error("not within 60 s: " .. what .. " (" .. T.fd_count() .. " fds, " .. T.child_count() .. " children)", 2)
end

describe("subprocess module", function()
  it("is braid.subprocess with Python's constants and classes", function()
    assert.equal(require("braid.subprocess"), sp)
    assert.equal(-1, sp.PIPE)
    assert.equal(-2, sp.STDOUT)
    assert.equal(-3, sp.DEVNULL)
    assert.is_true(sp.SubprocessError:is(sp.CalledProcessError(1, "x")))
    assert.is_true(sp.SubprocessError:is(sp.TimeoutExpired("x", 1)))
    assert.is_true(errors.Exception:is(sp.SubprocessError("m")))
  end)
end)

describe("subprocess.run", function()
  it("captures output and returns a CompletedProcess", function()
    local r = sp.run({ "sh", "-c", "echo out; echo err >&2; exit 3" },
                     { capture_output = true })
    assert.equal("out\n", r.stdout)
    assert.equal("err\n", r.stderr)
    assert.equal(3, r.returncode)
    assert.same({ "sh", "-c", "echo out; echo err >&2; exit 3" }, r.args)
    local e = raises(sp.CalledProcessError, r.check_returncode, r)
    assert.equal(3, e.returncode)
    assert.equal("out\n", e.output)
    assert.equal("out\n", e.stdout)
    assert.equal("err\n", e.stderr)
    assert.equal("CompletedProcess(args=['true'], returncode=0)",
                 tostring(sp.run({ "true" })))
    sp.run({ "true" }):check_returncode()
  end)

  it("accepts Popen{args=...} style tables", function()
    local r = sp.run{ args = { "echo", "x" }, stdout = sp.PIPE }
    assert.equal("x\n", r.stdout)
    assert.is_nil(r.stderr)
  end)

  it("feeds input and takes a string command as the program", function()
    local r = sp.run({ "cat" }, { input = "hello", capture_output = true })
    assert.equal("hello", r.stdout)
    assert.equal(0, sp.run("true").returncode)
  end)

  it("check raises CalledProcessError with Python's message", function()
    local e = raises(sp.CalledProcessError, sp.run, { "false" }, { check = true })
    assert.equal(1, e.returncode)
    assert.same({ "false" }, e.cmd)
    assert.equal("Command '['false']' returned non-zero exit status 1.", e.message)
    e = raises(sp.CalledProcessError, sp.run, { "sh", "-c", "kill -9 $$" },
               { check = true })
    assert.equal(-9, e.returncode)
    assert.equal("Command '['sh', '-c', 'kill -9 $$']' died with "
                 .. "<Signals.SIGKILL: 9>.", e.message)
    e = raises(sp.CalledProcessError, sp.run, "exit 4", { shell = true, check = true })
    assert.equal("Command 'exit 4' returned non-zero exit status 4.", e.message)
    assert.equal("Command 'x' died with unknown signal 99.",
                 sp.CalledProcessError(-99, "x").message)
  end)

  it("timeout kills the child and raises TimeoutExpired promptly", function()
    local t0 = helpers.now()
    local e = raises(sp.TimeoutExpired, sp.run,
                     { "sh", "-c", "echo partial; exec sleep 30" },
                     { timeout = 0.5, capture_output = true })
    assert.is_true(helpers.now() - t0 < 10)
    assert.equal(0.5, e.timeout)
    assert.same({ "sh", "-c", "echo partial; exec sleep 30" }, e.cmd)
    assert.equal("Command '['sh', '-c', 'echo partial; exec sleep 30']' "
                 .. "timed out after 0.5 seconds", e.message)
    assert.is_nil(e.stderr) -- nothing read: nil, as Python's None
    -- what arrived before the timeout is in output (it may not have, under load)
    assert.is_true(e.output == nil or e.output == "partial\n")
  end)

  it("timeout returns promptly when a grandchild holds the pipes", function()
    local t0 = helpers.now()
    raises(sp.TimeoutExpired, sp.run, { "sh", "-c", "sleep 30 & sleep 30" },
           { timeout = 0.3, capture_output = true })
    assert.is_true(helpers.now() - t0 < 10)
  end)

  it("refuses conflicting options with ValueError", function()
    local e = raises(errors.ValueError, sp.run, { "cat" }, { input = "x", stdin = sp.PIPE })
    message_has(e, "stdin and input arguments may not both be used.")
    e = raises(errors.ValueError, sp.run, { "true" }, { capture_output = true, stdout = sp.PIPE })
    message_has(e, "stdout and stderr arguments may not be used with capture_output.")
    e = raises(errors.ValueError, sp.check_output, { "true" }, { stdout = sp.PIPE })
    message_has(e, "stdout argument not allowed, it will be overridden.")
  end)
end)

describe("subprocess helpers", function()
  it("call and check_call", function()
    assert.equal(5, sp.call({ "sh", "-c", "exit 5" }))
    assert.equal(0, sp.check_call({ "true" }))
    local e = raises(sp.CalledProcessError, sp.check_call, { "sh", "-c", "exit 2" })
    assert.equal(2, e.returncode)
    assert.same({ "sh", "-c", "exit 2" }, e.cmd)
    raises(sp.TimeoutExpired, sp.call, { "sleep", "30" }, { timeout = 0.2 })
  end)

  it("check_output, getoutput, getstatusoutput", function()
    assert.equal("a b\n", sp.check_output({ "echo", "a", "b" }))
    assert.equal("in", sp.check_output({ "cat" }, { input = "in" }))
    local e = raises(sp.CalledProcessError, sp.check_output, { "sh", "-c", "echo so; exit 1" })
    assert.equal("so\n", e.output)
    assert.equal("out\nerr", sp.getoutput("echo out; echo err >&2"))
    local code, out = sp.getstatusoutput("echo x; exit 7")
    assert.equal(7, code)
    assert.equal("x", out)
    code, out = sp.getstatusoutput("nosuchcommand-braid 2>/dev/null")
    assert.equal(127, code)
    assert.equal("", out)
  end)
end)

describe("Popen options", function()
  it("stdout=DEVNULL, stderr=STDOUT, stdin=DEVNULL", function()
    local r = sp.run({ "sh", "-c", "echo o; echo e >&2" }, { stdout = sp.PIPE, stderr = sp.STDOUT })
    assert.equal("o\ne\n", r.stdout)
    r = sp.run({ "sh", "-c", "echo o; echo e >&2" }, { stdout = sp.DEVNULL, stderr = sp.PIPE })
    assert.equal("e\n", r.stderr)
    assert.is_nil(r.stdout)
    r = sp.run({ "cat" }, { stdin = sp.DEVNULL, stdout = sp.PIPE })
    assert.equal("", r.stdout)
    raises(errors.ValueError, sp.Popen, { "true" }, { stdout = sp.STDOUT })
  end)

  it("a Lua file handle and a descriptor number as streams", function()
    local f = io.tmpfile()
    f:write("before\n") -- buffered: flushed before the child writes
    sp.run({ "echo", "child" }, { stdout = f })
    f:seek("set")
    assert.equal("before\nchild\n", f:read("a"))
    f:close()
    raises(errors.ValueError, sp.run, { "true" }, { stdout = f })
    local a = sp.Popen({ "echo", "piped" }, { stdout = sp.PIPE })
    local b = sp.Popen({ "cat" }, { stdin = a.stdout:fileno(), stdout = sp.PIPE })
    a.stdout:close()
    assert.equal("piped\n", (b:communicate()))
    assert.equal(0, a:wait(60))
    raises(errors.TypeError, sp.Popen, { "true" }, { stdin = "nope" })
    -- the stdout of one as the stdin of the next, as in Python
    local c = sp.Popen({ "printf", "z" }, { stdout = sp.PIPE })
    local d = sp.Popen({ "cat" }, { stdin = c.stdout, stdout = sp.PIPE })
    c.stdout:close()
    assert.equal("z", (d:communicate()))
    c:wait(60)
  end)

  it("cwd, and FileNotFoundError naming the cwd or the program", function()
    assert.equal("/\n", sp.check_output({ "pwd" }, { cwd = "/" }))
    local e = raises(errors.FileNotFoundError, sp.run, { "true" }, { cwd = "/nonexistent-braid" })
    message_has(e, "No such file or directory: '/nonexistent-braid'")
    assert.equal(2, e.errno)
    e = raises(errors.FileNotFoundError, sp.run, { "no-such-program-braid" })
    message_has(e, "[Errno 2] No such file or directory: 'no-such-program-braid'")
    e = raises(errors.FileNotFoundError, sp.run, { "./no-such-program-braid" })
    message_has(e, "'./no-such-program-braid'")
    raises(errors.PermissionError, sp.run, { "/etc/passwd" })
  end)

  it("env replaces the environment; PATH is searched in it", function()
    assert.equal("FOO=bar\n", sp.check_output({ "/usr/bin/env" }, { env = { FOO = "bar" } }))
    raises(errors.FileNotFoundError, sp.run, { "true" }, { env = { PATH = "/nonexistent" } })
    assert.equal(0, sp.run({ "true" }, { env = { PATH = "/nonexistent:/bin:/usr/bin" } }).returncode)
    message_has(raises(errors.ValueError, sp.run, { "true" }, { env = { ["A=B"] = "x" } }),
                "illegal environment variable name")
    message_has(raises(errors.ValueError, sp.run, { "true" }, { env = { A = "x\0y" } }),
                "embedded null byte")
    message_has(raises(errors.ValueError, sp.run, { "echo", "a\0b" }), "embedded null byte")
    message_has(raises(errors.ValueError, sp.run, "ec\0ho"), "embedded null byte")
    raises(errors.TypeError, sp.run, { "true" }, { env = { A = 1 } })
    raises(errors.TypeError, sp.run, { "echo", 1 })
    raises(errors.IndexError, sp.run, {})
  end)

  it("shell and executable", function()
    assert.equal("3\n", sp.check_output("echo $((1 + 2))", { shell = true }))
    assert.equal("a b\n", sp.check_output({ "echo $0 $1", "a", "b" }, { shell = true }))
    assert.equal("myname\n", sp.check_output({ "myname", "-c", "echo $0" },
                                             { executable = "/bin/sh" }))
    assert.equal("/bin/sh\n", sp.check_output("echo $0", { shell = true }))
    raises(errors.FileNotFoundError, sp.run, "true",
           { shell = true, executable = "/nonexistent/sh" })
  end)

  it("text translates newlines on reading; bytes stay bytes otherwise", function()
    assert.equal("a\nb\nc\n", sp.check_output({ "printf", "a\\r\\nb\\rc\\n" }, { text = true }))
    assert.equal("a\r\nb\rc\n", sp.check_output({ "printf", "a\\r\\nb\\rc\\n" }))
    assert.equal("\0\255", sp.check_output({ "printf", "\\0\\377" }))
    local p = sp.Popen({ "printf", "x\\r\\ny\\r" }, { stdout = sp.PIPE, universal_newlines = true })
    assert.is_true(p.text_mode)
    raises(errors.ValueError, sp.Popen, { "true" }, { text = true, universal_newlines = false })
    assert.equal("x\n", p.stdout:readline())
    assert.equal("y\n", p.stdout:read("a"))
    assert.equal(0, p:wait(60))
    p.stdout:close()
  end)

  it("close_fds closes inherited descriptors; pass_fds keeps them", function()
    local f = io.tmpfile() -- Lua opens files without close-on-exec
    local fd = core.subproc_fileno(f)
    local probe = ("[ -e /proc/self/fd/%d ] && echo open || echo closed"):format(fd)
    assert.equal("closed\n", sp.check_output({ "sh", "-c", probe }))
    assert.equal("open\n", sp.check_output({ "sh", "-c", probe }, { close_fds = false }))
    assert.equal("open\n", sp.check_output({ "sh", "-c", probe }, { pass_fds = { fd } }))
    f:close()
    -- a braid pipe is close-on-exec; pass_fds hands it over
    local r = sp.Popen({ "cat" }, { stdin = sp.PIPE, stdout = sp.PIPE })
    local wfd = r.stdin:fileno()
    local q = ("[ -e /proc/self/fd/%d ] && echo open || echo closed"):format(wfd)
    assert.equal("closed\n", sp.check_output({ "sh", "-c", q }, { close_fds = false }))
    sp.check_call({ "sh", "-c", ("echo via-pass > /proc/self/fd/%d"):format(wfd) },
                  { pass_fds = { wfd } })
    r.stdin:close()
    assert.equal("via-pass\n", (r:communicate()))
    raises(errors.ValueError, sp.Popen, { "true" }, { pass_fds = { -1 } })
  end)

  it("start_new_session and process_group", function()
    local me = my_stat()
    local p = sp.Popen({ "cat", "/proc/self/stat" }, { stdout = sp.PIPE, start_new_session = true })
    local s = stat_of((p:communicate()))
    assert.equal(p.pid, s.sid)
    assert.equal(p.pid, s.pgrp)
    p = sp.Popen({ "cat", "/proc/self/stat" }, { stdout = sp.PIPE, process_group = 0 })
    s = stat_of((p:communicate()))
    assert.equal(p.pid, s.pgrp)
    assert.equal(me.sid, s.sid)
    p = sp.Popen({ "cat", "/proc/self/stat" }, { stdout = sp.PIPE })
    s = stat_of((p:communicate()))
    assert.equal(me.pgrp, s.pgrp)
    raises(errors.ValueError, sp.Popen, { "true" }, { process_group = -2 })
  end)

  it("umask", function()
    assert.equal("0077\n", sp.check_output({ "sh", "-c", "umask" }, { umask = 63 }))
    assert.equal("0000\n", sp.check_output({ "sh", "-c", "umask" }, { umask = 0 }))
  end)

  it("restore_signals resets an ignored SIGPIPE", function()
    -- a parent that ignores SIGPIPE (the shell's trap), running lua5.4
    local script = [[
      package.cpath = ARGV_CPATH
      local sp = require "braid".subprocess
      local function ign(opts)
        local st = sp.check_output({ "cat", "/proc/self/status" }, opts)
        local mask = tonumber(st:match("SigIgn:%s*(%x+)"), 16)
        return (mask >> 12) & 1 -- SIGPIPE is 13
      end
      io.write(ign({}), ign({ restore_signals = false }), "\n")
    ]]
    script = script:gsub("ARGV_CPATH", ("%q"):format(package.cpath))
    local out = sp.check_output({ "sh", "-c", "trap '' PIPE; exec lua5.4 -", },
                                { input = script, env = { PATH = os.getenv("PATH"),
                                  LUA_PATH = package.path, LD_PRELOAD = os.getenv("LD_PRELOAD") } })
    assert.equal("01\n", out)
  end)

  it("refuses preexec_fn and unknown options", function()
    local e = raises(errors.RuntimeError, sp.Popen, { "true" }, { preexec_fn = function() end })
    message_has(e, "preexec_fn is not supported")
    e = raises(errors.TypeError, sp.run, { "true" }, { stdot = sp.PIPE })
    message_has(e, "unexpected keyword argument 'stdot'")
    raises(errors.TypeError, sp.Popen, 42)
  end)
end)

describe("Popen objects", function()
  it("pid, args, returncode, poll, wait with a timeout", function()
    local p <close> = sp.Popen({ "cat" }, { stdin = sp.PIPE })
    assert.is_true(math.type(p.pid) == "integer" and p.pid > 0)
    assert.same({ "cat" }, p.args)
    assert.is_nil(p.returncode)
    assert.is_nil(p:poll())
    local e = raises(sp.TimeoutExpired, p.wait, p, 0.05)
    assert.equal(0.05, e.timeout)
    p.stdin:close() -- cat ends
    assert.equal(0, p:wait(60))
    assert.equal(0, p.returncode)
    assert.equal(0, p:poll())
    assert.matches("returncode: 0", tostring(p))
  end)

  it("send_signal, terminate, kill", function()
    local p = sp.Popen({ "cat" }, { stdin = sp.PIPE })
    p:terminate()
    assert.equal(-15, p:wait(60))
    p.stdin:close()
    p = sp.Popen({ "cat" }, { stdin = sp.PIPE })
    p:kill()
    assert.equal(-9, p:wait(60))
    p:kill() -- reaped: nothing happens
    p.stdin:close()
    p = sp.Popen({ "cat" }, { stdin = sp.PIPE })
    p:send_signal(sp.signals.SIGUSR1)
    assert.equal(-sp.signals.SIGUSR1, p:wait(60))
    p.stdin:close()
    raises(errors.TypeError, p.send_signal, p, "TERM")
  end)

  it("pipes read, write, lines, readline, fileno, close", function()
    local p = sp.Popen({ "cat" }, { stdin = sp.PIPE, stdout = sp.PIPE })
    assert.is_true(math.type(p.stdin:fileno()) == "integer")
    assert.equal(p.stdin, p.stdin:write("one\n", "two\n", 3, "\n"))
    assert.equal("one", p.stdout:read("l"))
    assert.equal("two\n", p.stdout:readline())
    assert.equal("3", p.stdout:read(1))
    p.stdin:write("x\ny\n")
    p.stdin:close()
    assert.is_true(p.stdin.closed)
    local lines = {}
    for l in p.stdout:lines() do lines[#lines + 1] = l end
    assert.same({ "", "x", "y" }, lines)
    assert.is_nil(p.stdout:read("l"))
    assert.equal("", p.stdout:read())
    assert.equal("", p.stdout:readline())
    p.stdout:close()
    raises(errors.ValueError, p.stdout.read, p.stdout)
    raises(errors.ValueError, p.stdin.write, p.stdin, "late")
    assert.equal(0, p:wait(60))
  end)

  it("writing to a child that left raises BrokenPipeError, not SIGPIPE", function()
    local p = sp.Popen({ "true" }, { stdin = sp.PIPE })
    p:wait(60)
    local big = string.rep("x", 1 << 20)
    raises(errors.BrokenPipeError, p.stdin.write, p.stdin, big)
    p.stdin:close()
  end)

  it("communicate moves more than a pipe buffer both ways", function()
    local big = string.rep("0123456789abcdef", 1 << 18) -- 4 MiB
    local p = sp.Popen({ "sh", "-c", "tee /dev/stderr" },
                       { stdin = sp.PIPE, stdout = sp.PIPE, stderr = sp.PIPE })
    local out, err = p:communicate(big, 120)
    assert.equal(#big, #out)
    assert.is_true(out == big)
    assert.is_true(err == big)
    assert.equal(0, p.returncode)
    raises(errors.ValueError, p.communicate, p, "again")
  end)

  it("after TimeoutExpired a second communicate loses nothing", function()
    -- the child's stdin is a gate we open when we choose
    local gate = sp.Popen({ "cat" }, { stdin = sp.PIPE, stdout = sp.PIPE })
    local p = sp.Popen({ "sh", "-c", "echo first; read x; echo second $x; echo e >&2" },
                       { stdin = gate.stdout, stdout = sp.PIPE, stderr = sp.PIPE })
    gate.stdout:close()
    local deadline, seen = helpers.now() + 60, nil
    repeat
      local ok, e = pcall(p.communicate, p, nil, 0.05)
      assert.is_false(ok)
      assert.is_true(sp.TimeoutExpired:is(e))
      seen = e.output
    until seen == "first\n" or helpers.now() > deadline
    assert.equal("first\n", seen)
    gate.stdin:write("go\n")
    gate.stdin:close()
    local out, err = p:communicate(nil, 60)
    assert.equal("first\nsecond go\n", out)
    assert.equal("e\n", err)
    gate:wait(60)
  end)

  it("<close> closes the pipes and waits", function()
    local pid
    do
      local p <close> = sp.Popen({ "cat" }, { stdin = sp.PIPE, stdout = sp.PIPE })
      pid = p.pid
      p.stdin:write("x")
    end
    assert.equal(0, T.child_count() and select(2, pcall(function()
      local f = io.open("/proc/" .. pid .. "/stat")
      if f then f:close() return 1 end
      return 0
    end)))
  end)

  it("collected Popens leave no zombie and no descriptor", function()
    sp.run({ "true" })
    collectgarbage(); collectgarbage()
    local fds, kids = T.fd_count(), T.child_count()
    for _ = 1, 20 do
      local p = sp.Popen({ "cat" }, { stdin = sp.PIPE, stdout = sp.PIPE, stderr = sp.PIPE })
      p.stdin:write("x")
    end
    for _ = 1, 20 do sp.Popen({ "true" }, { stdout = sp.DEVNULL }) end
    eventually(function()
      return T.fd_count() <= fds and T.child_count() <= kids
    end, ("descriptors and children back to their count (%d fds, %d children)"):format(fds, kids))
  end)
end)

describe("subprocess from workers", function()
  it("works in worker threads, and a wait does not block others", function()
    local threading = require "braid.threading"
    local queue = require "braid.queue"
    local q, res = queue.Queue(), queue.Queue()
    local t = threading.Thread{ target = function(q, res)
      local sp = require "braid.subprocess"
      local p = sp.Popen({ "cat" }, { stdin = sp.PIPE })
      q:put(p.pid)
      res:put(p:wait(60))
      p.stdin:close()
    end, args = { q, res } }
    t:start()
    local pid = q:get(true, 60)
    -- this state spawns and waits while the thread waits
    assert.equal("ok\n", sp.check_output({ "echo", "ok" }))
    sp.check_call({ "kill", "-TERM", tostring(pid) })
    assert.equal(-15, res:get(true, 60))
    t:join(60)
    assert.is_false(t:is_alive())
    local ok, out = helpers.run_in_thread(function()
      local sp = require "braid.subprocess"
      return sp.run({ "cat" }, { input = "thread", capture_output = true }).stdout
    end)
    assert.is_true(ok)
    assert.equal("thread", out)
  end)

  for _, method in ipairs(helpers.start_methods()) do
    it("works in a Process (" .. method .. ")", function()
      local mp = require "braid.multiprocessing"
      local ctx = mp.get_context(method)
      local q = ctx.Queue()
      local p = ctx.Process{ target = function(q)
        local sp = require "braid.subprocess"
        local r = sp.run({ "sh", "-c", "echo proc; exit 3" }, { capture_output = true })
        local e = select(2, pcall(sp.run, { "sleep", "30" }, { timeout = 0.1 }))
        q:put({ r.stdout, r.returncode, sp.TimeoutExpired:is(e) })
      end, args = { q } }
      p:start()
      local got = q:get(true, 60)
      p:join(60)
      assert.same({ "proc\n", 3, true }, got)
      assert.equal(0, p.exitcode)
    end)
  end

  it("many threads spawning at once leak no descriptor into children", function()
    local threading = require "braid.threading"
    local queue = require "braid.queue"
    -- what a child sees with close_fds=false when nothing else is spawning
    local function fdset()
      local out = sp.check_output({ "sh", "-c", "exec ls /proc/self/fd" },
                                  { close_fds = false, stderr = sp.DEVNULL })
      return out
    end
    local base = fdset()
    collectgarbage(); collectgarbage()
    local fds, kids = T.fd_count(), T.child_count()
    local bad = queue.Queue()
    local ts = {}
    for i = 1, 8 do
      ts[i] = threading.Thread{ target = function(base, bad)
        local sp = require "braid.subprocess"
        for _ = 1, 12 do
          local out = sp.check_output({ "sh", "-c", "exec ls /proc/self/fd" },
                                      { close_fds = false, stderr = sp.DEVNULL })
          if out ~= base then bad:put(out) end
          local r = sp.run({ "cat" }, { input = "x", capture_output = true })
          if r.stdout ~= "x" then bad:put("cat: " .. tostring(r.stdout)) end
        end
      end, args = { base, bad } }
      ts[i]:start()
    end
    for i = 1, 8 do ts[i]:join(120); assert.is_false(ts[i]:is_alive()) end
    assert.is_true(bad:empty(), not bad:empty() and bad:get() or "")
    eventually(function()
      return T.fd_count() <= fds and T.child_count() <= kids
    end, ("descriptors and children back to their count (%d fds, %d children)"):format(fds, kids))
  end)
end)

-- subprocess_seeds.lua: the subprocess parts of the seed documents ported
-- to braid, each checked: the recipe chapter's listing 10-9 (seed 004,
-- "Creating a Subprocess") and the book chapter's "Using the Subprocess
-- Module" (seed 001: run with capture_output and text, what to run and
-- how, the subprocess files, Popen's attributes and methods).
--
--   braid examples/seeds/subprocess_seeds.lua [--quick]
local subprocess = require "braid.subprocess"
local threading = require "braid.threading"

-- Listing 10-9: a list of the files in the current directory.
-- (Python prints b'total 216\n...': Lua strings are bytes already.)
local results = subprocess.run({"ls", "-l"}, {stdout = subprocess.PIPE})
print(results.stdout)
assert(results.returncode == 0 and results.stdout:match("^total %d+"))

-- "If the output of the command needs to be captured, the most common
-- argument values would be to set the capture_output and text arguments."
local r = subprocess.run({"sh", "-c", "echo to out; echo to err >&2"},
                         {capture_output = true, text = true})
assert(r.stdout == "to out\n" and r.stderr == "to err\n" and r.returncode == 0)

-- What to run, and how: args a sequence, or a string when there are no
-- arguments; executable overrides which program runs; shell=true runs
-- /bin/sh, or the executable given.
assert(subprocess.run("true").returncode == 0)
local named = subprocess.check_output({"renamed", "-c", "echo $0"},
                                      {executable = "/bin/sh"})
assert(named == "renamed\n")
assert(subprocess.check_output("echo $((2 + 3))", {shell = true}) == "5\n")
assert(subprocess.check_output("echo $0", {shell = true, executable = "/bin/sh"})
       == "/bin/sh\n")

-- Subprocess files: PIPE, nil (the parent's), a file or a descriptor,
-- STDOUT for stderr; close_fds; cwd; env.
local f = io.tmpfile()
subprocess.run({"echo", "into a file"}, {stdout = f})
f:seek("set")
assert(f:read("a") == "into a file\n")
f:close()
local merged = subprocess.run({"sh", "-c", "echo 1; echo 2 >&2"},
                              {stdout = subprocess.PIPE, stderr = subprocess.STDOUT})
assert(merged.stdout == "1\n2\n")
assert(subprocess.check_output({"pwd"}, {cwd = "/"}) == "/\n")
assert(subprocess.check_output({"sh", "-c", "echo $ONLY"},
                               {env = {ONLY = "this", PATH = "/bin:/usr/bin"}}) == "this\n")
-- preexec_fn cannot exist in braid: no Lua runs between fork and exec
assert(not pcall(subprocess.Popen, {"true"}, {preexec_fn = function() end}))

-- Attributes of Popen instances: args, pid, returncode, stdin/stdout/stderr.
local p = subprocess.Popen({"cat"}, {stdin = subprocess.PIPE, stdout = subprocess.PIPE})
assert(p.args[1] == "cat" and p.pid > 0)
assert(p.returncode == nil and p.stderr == nil)

-- Methods: communicate sends input, reads both outputs to their end and
-- waits; poll; wait with a timeout raises TimeoutExpired.
local n = arg and arg[1] == "--quick" and 100000 or 10000000
local so, se = p:communicate(string.rep("x", n))
assert(#so == n and se == nil and p.returncode == 0 and p:poll() == 0)

local sleeper = subprocess.Popen({"sleep", "30"})
local ok, err = pcall(sleeper.wait, sleeper, 0.2)
assert(not ok and subprocess.TimeoutExpired:is(err))
print(err.message)
sleeper:kill()
assert(sleeper:wait() == -9) -- < 0: killed by a signal

-- Children from several threads at once; each thread waits for its own.
local threads = {}
for i = 1, 4 do
  threads[i] = threading.Thread{target = function(i)
    local subprocess = require "braid.subprocess"
    local out = subprocess.check_output({"echo", "thread " .. i})
    assert(out == "thread " .. i .. "\n")
  end, args = {i}}
  threads[i]:start()
end
for i = 1, 4 do threads[i]:join() end
print("subprocess seeds: ok")

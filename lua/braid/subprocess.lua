--- Running other programs: Python's `subprocess` module.
-- `Popen(args, options)` (or `Popen{args=..., ...}`), `run`, `call`,
-- `check_call`, `check_output`, `getoutput`, `getstatusoutput`, the
-- constants `PIPE`, `STDOUT`, `DEVNULL` and the errors `SubprocessError`,
-- `CalledProcessError`, `TimeoutExpired`. Children are started with
-- vfork + exec (src/core/subproc.c); everything braid opens is
-- close-on-exec, so spawns from many threads at once leak nothing.
-- Options are checked here; the C half (src/bind/lsubprocess.c) trusts
-- the spec it is given.
-- @module braid.subprocess
local core = require "braid.core"
local errors = require "braid.errors"
local type, pairs, ipairs, tostring, setmetatable, getmetatable, error,
  pcall, select, rawget, math_type, os_getenv, io_type, table_concat,
  table_unpack =
  type, pairs, ipairs, tostring, setmetatable, getmetatable, error,
  pcall, select, rawget, math.type, os.getenv, io.type, table.concat,
  table.unpack
_ENV = nil

local M = {}

M.PIPE = -1
M.STDOUT = -2
M.DEVNULL = -3

M.SubprocessError = errors.classes["subprocess.SubprocessError"]
M.CalledProcessError = errors.classes["subprocess.CalledProcessError"]
M.TimeoutExpired = errors.classes["subprocess.TimeoutExpired"]

local ValueError, TypeError = errors.ValueError, errors.TypeError
local KeyboardInterrupt = errors.KeyboardInterrupt

local function raise(cls, msg) error(cls(msg), 3) end

-- The options Popen knows (run adds input, capture_output, timeout, check).
local POPEN_KEYS = {
  args = true, stdin = true, stdout = true, stderr = true, cwd = true,
  env = true, shell = true, executable = true, text = true,
  universal_newlines = true, encoding = true, errors = true,
  close_fds = true, pass_fds = true, start_new_session = true,
  process_group = true, umask = true, restore_signals = true,
  preexec_fn = true,
}
local RUN_KEYS = { input = true, capture_output = true, timeout = true,
                   check = true }

local function check_keys(fname, opts, extra)
  for k in pairs(opts) do
    if not POPEN_KEYS[k] and not (extra and extra[k]) then
      raise(TypeError, fname .. "() got an unexpected keyword argument '"
        .. tostring(k) .. "'")
    end
  end
end

local function nul_free(s, what)
  if s:find("\0", 1, true) then
    raise(ValueError, what .. ": embedded null byte")
  end
  return s
end

local function checkstr(v, what)
  if type(v) ~= "string" then
    raise(TypeError, what .. ": expected str, bytes or os.PathLike object, not "
      .. type(v))
  end
  return nul_free(v, what)
end

-- Python's os.get_exec_path(env), joined with the program.
local function exec_paths(program, env)
  if program:find("/", 1, true) then return { program } end
  local path
  if env then path = env.PATH else path = os_getenv("PATH") end
  if path == nil then path = "/bin:/usr/bin" end
  local list = {}
  for dir in (path .. ":"):gmatch("([^:]*):") do
    list[#list + 1] = dir == "" and program or (dir .. "/" .. program)
  end
  return list
end

-- Where a standard stream of the child comes from: an integer for the
-- spec, plus what to close after the start ('owners') and the Pipe
-- ('pipe') the parent keeps.
local function stream(v, which, text, owners)
  if v == nil then return -1 end
  if v == M.PIPE then
    local pipe, child = core.subproc_pipe(which ~= 0, text)
    owners[#owners + 1] = child
    return child:fileno(), pipe
  elseif v == M.DEVNULL then
    local o = core.subproc_devnull(which ~= 0)
    owners[#owners + 1] = o
    return o:fileno()
  elseif v == M.STDOUT then
    if which ~= 2 then
      raise(ValueError, "STDOUT can only be used for stderr")
    end
    return -2
  elseif math_type(v) == "integer" then
    if v < 0 then raise(ValueError, "bad file descriptor " .. v) end
    return v
  end
  local fd = core.subproc_fileno(v)
  if fd then return fd end
  local mt = getmetatable(v)
  if (type(v) == "userdata" or type(v) == "table") and mt then
    local ok, f = pcall(function() return v.fileno end)
    if ok and f then return f(v) end
  end
  local names = { [0] = "stdin", "stdout", "stderr" }
  raise(TypeError, names[which] .. " must be PIPE, DEVNULL"
    .. (which == 2 and ", STDOUT" or "") .. ", a file or a descriptor, not "
    .. (io_type(v) or type(v)))
end

local Popen = {}
Popen.__index = function(self, k)
  if k == "returncode" then return self._child.returncode end
  if k == "pid" then return self._child.pid end
  return Popen[k]
end
Popen.__name = "subprocess.Popen"

local function close_all(list)
  for _, o in ipairs(list) do o:close() end
end

--- Start a program: `Popen(args, options)` or `Popen{args=..., ...}`.
function M.Popen(args, opts)
  if opts == nil and type(args) == "table" and args.args ~= nil then
    opts = args
    args = opts.args
  end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    raise(TypeError, "Popen() options must be a table, not " .. type(opts))
  end
  check_keys("Popen", opts)
  if opts.preexec_fn ~= nil then
    raise(errors.RuntimeError, "preexec_fn is not supported: no Lua code can "
      .. "run in the child between fork and exec (use start_new_session, "
      .. "process_group, umask, cwd or env, or a wrapper program)")
  end
  local shell = opts.shell and true or false
  local argv
  if type(args) == "string" then
    nul_free(args, "args")
    argv = shell and { "/bin/sh", "-c", args } or { args }
  elseif type(args) == "table" then
    argv = {}
    if shell then argv[1], argv[2] = "/bin/sh", "-c" end
    for i = 1, #args do
      argv[#argv + 1] = checkstr(args[i], "args[" .. i .. "]")
    end
    if #argv == 0 then raise(errors.IndexError, "list index out of range") end
  else
    raise(TypeError, "args must be a string or a sequence of strings, not "
      .. type(args))
  end
  local program = argv[1]
  if opts.executable ~= nil then
    program = checkstr(opts.executable, "executable")
  end
  local env, envlist = opts.env, nil
  if env ~= nil then
    if type(env) ~= "table" then
      raise(TypeError, "env must be a table, not " .. type(env))
    end
    envlist = {}
    for k, v in pairs(env) do
      checkstr(k, "env name")
      if k:find("=", 1, true) or k == "" then
        raise(ValueError, "illegal environment variable name")
      end
      checkstr(v, "env[" .. k .. "]")
      envlist[#envlist + 1] = k .. "=" .. v
    end
  end
  local cwd = opts.cwd
  if cwd ~= nil then checkstr(cwd, "cwd") end
  if opts.text ~= nil and opts.universal_newlines ~= nil
      and (not opts.text) ~= (not opts.universal_newlines) then
    raise(ValueError, "Cannot disambiguate when both text and "
      .. "universal_newlines are supplied but different. Pass one or the other.")
  end
  local text = (opts.text or opts.universal_newlines or opts.encoding ~= nil
    or opts.errors ~= nil) and true or false
  local close_fds = opts.close_fds
  if close_fds == nil then close_fds = true end
  local pass = {}
  if opts.pass_fds ~= nil then
    if type(opts.pass_fds) ~= "table" then
      raise(TypeError, "pass_fds must be a sequence of descriptors")
    end
    for i, fd in ipairs(opts.pass_fds) do
      if math_type(fd) ~= "integer" or fd < 0 then
        raise(ValueError, "bad value(s) in fds_to_keep: pass_fds[" .. i .. "]")
      end
      pass[#pass + 1] = fd
    end
    if #pass > 0 then close_fds = true end -- as Python (which warns)
  end
  local pgroup = opts.process_group
  if pgroup ~= nil and (math_type(pgroup) ~= "integer" or pgroup < 0) then
    raise(ValueError, "process_group must be a non-negative integer")
  end
  local um = opts.umask
  if um ~= nil and math_type(um) ~= "integer" then
    raise(TypeError, "umask must be an integer")
  end
  local restore = opts.restore_signals
  if restore == nil then restore = true end

  local owners, pipes = {}, {}
  local ok, err = pcall(function()
    local fd0, fd1, fd2
    fd0, pipes.stdin = stream(opts.stdin, 0, text, owners)
    fd1, pipes.stdout = stream(opts.stdout, 1, text, owners)
    fd2, pipes.stderr = stream(opts.stderr, 2, text, owners)
    return core.subproc_spawn {
      paths = exec_paths(program, env), argv = argv, env = envlist,
      fd0 = fd0, fd1 = fd1, fd2 = fd2, cwd = cwd, close_fds = close_fds,
      pass_fds = pass, new_session = opts.start_new_session and true,
      pgroup = pgroup, umask = um, restore_signals = restore,
      track = not opts.start_new_session and pgroup == nil,
      program = program,
    }
  end)
  close_all(owners)
  if not ok then
    for _, p in pairs(pipes) do p:close() end
    error(err, 2)
  end
  return setmetatable({
    args = args, _child = err, text_mode = text, universal_newlines = text,
    stdin = pipes.stdin, stdout = pipes.stdout, stderr = pipes.stderr,
  }, Popen)
end

--- The exit code if the child ended (reaping it), else nil.
function Popen:poll() return self._child:poll() end

--- Wait for the child: its exit code; TimeoutExpired after `timeout`.
function Popen:wait(timeout)
  local code = self._child:wait(timeout)
  if code == nil then
    error(M.TimeoutExpired(self.args, timeout), 2)
  end
  return code
end

-- What a TimeoutExpired carries: nil until something was read (Python's
-- `b''.join(seq) if seq else None`).
local function partial(list)
  if list == nil or #list == 0 then return nil end
  return table_concat(list)
end

local function joined(list, pipe)
  if pipe == nil then return nil end
  return list and table_concat(list) or ""
end

--- Send `input` (if any), read stdout and stderr to their end, wait:
-- returns `stdout, stderr` (nil for a stream that is not a PIPE).
-- After TimeoutExpired, a second call goes on where the first stopped.
function Popen:communicate(input, timeout)
  local st = self._comm
  if st ~= nil and input ~= nil then
    error(ValueError("Cannot send input after starting communication"), 2)
  end
  if input ~= nil and type(input) ~= "string" then
    error(TypeError("input must be a string, not " .. type(input)), 2)
  end
  if st == nil then
    st = { stdin = self.stdin, stdout = self.stdout, stderr = self.stderr,
           input = input or "", inpos = 0 }
    self._comm = st
  end
  local t0 = timeout and core.monotonic and core.monotonic()
  local done = core.subproc_communicate(st, timeout)
  if not done then
    error(M.TimeoutExpired(self.args, timeout, partial(st.out),
                           partial(st.err)), 2)
  end
  local left = nil
  if timeout ~= nil then
    left = timeout
    if t0 then left = timeout - (core.monotonic() - t0) end
    if left < 0 then left = 0 end
  end
  local code = self._child:wait(left)
  if code == nil then
    error(M.TimeoutExpired(self.args, timeout, partial(st.out),
                           partial(st.err)), 2)
  end
  return joined(st.out, self.stdout), joined(st.err, self.stderr)
end

--- Send signal `sig` (a number) unless the child was reaped.
function Popen:send_signal(sig)
  if math_type(sig) ~= "integer" then
    error(TypeError("bad argument #1 to 'send_signal' (integer expected, got "
      .. type(sig) .. ")"), 2)
  end
  self._child:send_signal(sig)
end

local SIG = core.subproc_signals()
M.signals = SIG

--- SIGTERM (Python's terminate).
function Popen:terminate() self._child:send_signal(SIG.SIGTERM) end

--- SIGKILL (Python's kill).
function Popen:kill() self._child:send_signal(SIG.SIGKILL) end

-- `<close>`: close the pipes, then wait for the child (after Ctrl-C only
-- briefly, as Python's __exit__, so the program can go on unwinding).
function Popen.__close(self, err)
  if self.stdout then self.stdout:close() end
  if self.stderr then self.stderr:close() end
  if self.stdin then self.stdin:close() end
  if err ~= nil and KeyboardInterrupt:is(err) then
    self._child:wait(0.25)
    return
  end
  self._child:wait()
end

function Popen.__tostring(self)
  local rc = self.returncode
  return "<Popen: returncode: " .. (rc == nil and "None" or tostring(rc))
    .. " args: " .. errors.pyrepr(self.args) .. ">"
end

--- The result of `run`.
local CompletedProcess = {}
CompletedProcess.__index = CompletedProcess
CompletedProcess.__name = "subprocess.CompletedProcess"

--- CompletedProcess{args=, returncode=, stdout=, stderr=} or
-- CompletedProcess(args, returncode, stdout, stderr).
function M.CompletedProcess(args, returncode, stdout, stderr)
  if returncode == nil and type(args) == "table" and args.returncode ~= nil then
    args, returncode, stdout, stderr = args.args, args.returncode,
      args.stdout, args.stderr
  end
  return setmetatable({ args = args, returncode = returncode, stdout = stdout,
                        stderr = stderr }, CompletedProcess)
end

--- Raise CalledProcessError if the return code is not 0.
function CompletedProcess:check_returncode()
  if self.returncode ~= 0 then
    error(M.CalledProcessError(self.returncode, self.args, self.stdout,
                               self.stderr), 2)
  end
end

function CompletedProcess.__tostring(self)
  local s = "CompletedProcess(args=" .. errors.pyrepr(self.args)
    .. ", returncode=" .. tostring(self.returncode)
  if self.stdout ~= nil then s = s .. ", stdout=" .. errors.pyrepr(self.stdout) end
  if self.stderr ~= nil then s = s .. ", stderr=" .. errors.pyrepr(self.stderr) end
  return s .. ")"
end

local function split(args, opts)
  if opts == nil and type(args) == "table" and args.args ~= nil then
    opts = args
    args = opts.args
  end
  if opts ~= nil and type(opts) ~= "table" then
    raise(TypeError, "options must be a table, not " .. type(opts))
  end
  local o = {}
  if opts then for k, v in pairs(opts) do o[k] = v end end
  o.args = nil
  return args, o
end

local function popen_opts(o)
  local p = {}
  for k, v in pairs(o) do if not RUN_KEYS[k] then p[k] = v end end
  return p
end

--- Run a command and wait for it: a CompletedProcess.
function M.run(args, opts)
  args, opts = split(args, opts)
  check_keys("run", opts, RUN_KEYS)
  local input = opts.input
  if input ~= nil then
    if opts.stdin ~= nil then
      raise(ValueError, "stdin and input arguments may not both be used.")
    end
    opts.stdin = M.PIPE
  end
  if opts.capture_output then
    if opts.stdout ~= nil or opts.stderr ~= nil then
      raise(ValueError,
        "stdout and stderr arguments may not be used with capture_output.")
    end
    opts.stdout, opts.stderr = M.PIPE, M.PIPE
  end
  local p <close> = M.Popen(args, popen_opts(opts))
  local ok, out, err = pcall(p.communicate, p, input, opts.timeout)
  if not ok then
    -- Kill first: a grandchild may hold the pipes, and the child itself
    -- is then reaped at once by <close>.
    p:kill()
    if M.TimeoutExpired:is(out) then p._child:wait() end
    error(out, 0)
  end
  local rc = p:poll()
  if opts.check and rc ~= 0 then
    error(M.CalledProcessError(rc, p.args, out, err), 2)
  end
  return M.CompletedProcess(p.args, rc, out, err)
end

--- Run and return the exit code.
function M.call(args, opts)
  args, opts = split(args, opts)
  check_keys("call", opts, { timeout = true })
  local timeout = opts.timeout
  opts.timeout = nil
  local p <close> = M.Popen(args, opts)
  local ok, rc = pcall(p.wait, p, timeout)
  if not ok then
    p:kill()
    error(rc, 0)
  end
  return rc
end

--- Run; raise CalledProcessError unless the exit code is 0. Returns 0.
function M.check_call(args, opts)
  local a = split(args, opts)
  local rc = M.call(args, opts)
  if rc ~= 0 then error(M.CalledProcessError(rc, a), 2) end
  return 0
end

--- Run and return its standard output; CalledProcessError unless 0.
function M.check_output(args, opts)
  args, opts = split(args, opts)
  if opts.stdout ~= nil then
    raise(ValueError, "stdout argument not allowed, it will be overridden.")
  end
  opts.stdout = M.PIPE
  opts.check = true
  return M.run(args, opts).stdout
end

--- `exitcode, output` of `cmd` run by the shell (stderr included, one
-- trailing newline removed).
function M.getstatusoutput(cmd)
  local ok, r = pcall(M.check_output, cmd,
                      { shell = true, text = true, stderr = M.STDOUT })
  local code, data = 0, r
  if not ok then
    if not M.CalledProcessError:is(r) then error(r, 0) end
    code, data = r.returncode, r.output
  end
  if data:sub(-1) == "\n" then data = data:sub(1, -2) end
  return code, data
end

--- The output of `cmd` run by the shell (getstatusoutput's second value).
function M.getoutput(cmd)
  local _, out = M.getstatusoutput(cmd)
  return out
end

return M

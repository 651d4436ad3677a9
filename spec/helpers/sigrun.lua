--- The harness of the Ctrl-C specs (sigint_spec, subprocess_sigint_spec):
-- writes a script, runs it under build/sigrun (spec/c/sigrun.c), which
-- sends SIGINT when the script prints "ready" (again on "again") once its
-- main thread sleeps, and parses the driver's report.
--
-- BRAID_HOST names the host ("none": no host runs), BRAID_SIGRUN the
-- driver; plain lua5.4 runs get the first entry of package.cpath.
local M = {}

M.HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
M.SIGRUN = os.getenv("BRAID_SIGRUN") or "build/sigrun"
local CPATH = package.cpath:match("^([^;]*)") or "./build/?.so"

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- A run function for scripts that start with 'prelude', written into
-- 'dir': run(name, body, runner, env) runs the script under 'runner'
-- ("host" or "lua", with the extra environment 'env') and returns its
-- report: out, err, lines (the script's lines, in order), seen (the same
-- as a set), pids (every "pid N" line's N), status ("signal 2", "exit 0"),
-- elapsed (seconds from the last SIGINT to the end).
function M.runner(dir, prelude)
  return function(name, body, runner, env)
    local path = dir .. "/" .. name:gsub("%W", "_") .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(prelude, body, "\n")
    f:close()
    local errpath = path .. ".err"
    local envs = "env"
    for k, v in pairs(env or {}) do envs = envs .. " " .. k .. "=" .. shell_quote(v) end
    local cmd
    if runner == "host" then
      cmd = ("%s %s -t 30 -- %s %s 2>%s"):format(envs, M.SIGRUN, M.HOST, path, errpath)
    else
      envs = envs .. " LUA_PATH=" .. shell_quote("./lua/?.lua;./lua/?/init.lua;;")
        .. " LUA_CPATH=" .. shell_quote(CPATH .. ";;")
      cmd = ("%s %s -t 30 -- lua5.4 %s 2>%s"):format(envs, M.SIGRUN, path, errpath)
    end
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("a")
    p:close()
    local ef = io.open(errpath, "r")
    local err = ef and ef:read("a") or ""
    if ef then ef:close() end
    local r = { name = name, out = out, err = err, lines = {}, seen = {}, pids = {} }
    for line in out:gmatch("[^\n]+") do
      local o = line:match("^out: (.*)$")
      if o then
        r.lines[#r.lines + 1] = o
        r.seen[o] = true
        local pid = o:match("^pid (%d+)$")
        if pid then r.pids[#r.pids + 1] = tonumber(pid) end
      end
      r.status = line:match("^status (.*)$") or r.status
      r.elapsed = tonumber(line:match("^elapsed ([%d.]+)$")) or r.elapsed
    end
    return r
  end
end

--- Runs one script 'body' under 'runner' (see runner) from a scratch
-- directory removed afterwards; returns its report.
function M.run_once(name, body, runner, env)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shell_quote(dir)))
  local ok, r = pcall(M.runner(dir, ""), name, body, runner, env)
  os.execute("rm -rf " .. shell_quote(dir))
  if not ok then error(r, 0) end
  return r
end

--- State letter of process 'pid' ("Z" zombie), or nil when it is gone.
function M.proc_state(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return nil end
  local s = f:read("a") or ""
  f:close()
  return s:match("%) (%a)")
end

return M

---@meta braid.subprocess
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.subprocess"`.

---@class subprocess
local M = {}

---@class subprocess.Popen
---@field args string|string[]
---@field pid integer
---@field returncode integer?
---@field stdin subprocess.PipeFile?
---@field stdout subprocess.PipeFile?
---@field stderr subprocess.PipeFile?
---@field text_mode boolean
---@field universal_newlines boolean
local subprocess_Popen = {}

--- Checks whether the child ended, without waiting.
--- Reference: docs/subprocess.md, entry `subprocess.Popen:poll`
---@return integer?
function subprocess_Popen:poll() end

--- Waits for the child to end (other threads go on meanwhile; Ctrl-C
--- Reference: docs/subprocess.md, entry `subprocess.Popen:wait`
---@param timeout? number
---@return integer
function subprocess_Popen:wait(timeout) end

--- Sends input to the child's stdin (then closes it), reads its stdout and
--- Reference: docs/subprocess.md, entry `subprocess.Popen:communicate`
---@param input? string
---@param timeout? number
---@return string?
---@return string?
function subprocess_Popen:communicate(input, timeout) end

--- Sends signal sig; nothing once the child was reaped.
--- Reference: docs/subprocess.md, entry `subprocess.Popen:send_signal`
---@param sig integer
function subprocess_Popen:send_signal(sig) end

--- Sends SIGTERM.
--- Reference: docs/subprocess.md, entry `subprocess.Popen:terminate`
function subprocess_Popen:terminate() end

--- Sends SIGKILL.
--- Reference: docs/subprocess.md, entry `subprocess.Popen:kill`
function subprocess_Popen:kill() end

---@class subprocess.PipeFile
---@field closed boolean
local subprocess_PipeFile = {}

--- Reads, waiting for the child as needed.
--- Reference: docs/subprocess.md, entry `subprocess.PipeFile:read`
---@param ... string|integer?
---@return string?
function subprocess_PipeFile:read(...) end

--- Reference: docs/subprocess.md, entry `subprocess.PipeFile:readline`
---@return string
function subprocess_PipeFile:readline() end

--- Reference: docs/subprocess.md, entry `subprocess.PipeFile:lines`
---@param fmt? string|integer
---@return function
function subprocess_PipeFile:lines(fmt) end

--- Reference: docs/subprocess.md, entry `subprocess.PipeFile:write`
---@param ... string|number
---@return subprocess.PipeFile
function subprocess_PipeFile:write(...) end

--- Does nothing (writes are not buffered).
--- Reference: docs/subprocess.md, entry `subprocess.PipeFile:flush`
---@return subprocess.PipeFile
function subprocess_PipeFile:flush() end

--- Closes the parent's end (again: nothing). The child then sees end of
--- Reference: docs/subprocess.md, entry `subprocess.PipeFile:close`
function subprocess_PipeFile:close() end

--- Reference: docs/subprocess.md, entry `subprocess.PipeFile:fileno`
---@return integer
function subprocess_PipeFile:fileno() end

---@class subprocess.CompletedProcess
---@field args string|string[]
---@field returncode integer
---@field stdout string?
---@field stderr string?
local subprocess_CompletedProcess = {}

--- Raises CalledProcessError (with the captured output) when returncode
--- Reference: docs/subprocess.md, entry `subprocess.CompletedProcess:check_returncode`
function subprocess_CompletedProcess:check_returncode() end

---@class subprocess.CalledProcessError : errors.BaseException
---@field returncode integer
---@field cmd string|string[]
---@field output string?
---@field stdout string?
---@field stderr string?
local subprocess_CalledProcessError = {}

---@class subprocess.TimeoutExpired : errors.BaseException
---@field cmd string|string[]
---@field timeout number
---@field output string?
---@field stdout string?
---@field stderr string?
local subprocess_TimeoutExpired = {}

--- Reference: docs/subprocess.md, entry `subprocess.PIPE`
---@type integer
M["PIPE"] = nil

--- Reference: docs/subprocess.md, entry `subprocess.STDOUT`
---@type integer
M["STDOUT"] = nil

--- Reference: docs/subprocess.md, entry `subprocess.DEVNULL`
---@type integer
M["DEVNULL"] = nil

--- Reference: docs/subprocess.md, entry `subprocess.signals`
---@type table
M["signals"] = nil

--- Runs the command, waits for it, and returns a CompletedProcess.
--- Reference: docs/subprocess.md, entry `subprocess.run`
---@param args string|string[]
---@param options? table
---@overload fun(opts: {args: string|string[], input?: string, capture_output?: boolean, timeout?: number, check?: boolean}): subprocess.CompletedProcess
---@return subprocess.CompletedProcess
function M.run(args, options) end

--- Runs the command and returns its return code (the child is killed when
--- Reference: docs/subprocess.md, entry `subprocess.call`
---@param args string|string[]
---@param options? table
---@return integer
function M.call(args, options) end

--- Like call, but a non-zero return code raises CalledProcessError.
--- Reference: docs/subprocess.md, entry `subprocess.check_call`
---@param args string|string[]
---@param options? table
---@return integer
function M.check_call(args, options) end

--- Runs the command and returns its standard output; a non-zero return code
--- Reference: docs/subprocess.md, entry `subprocess.check_output`
---@param args string|string[]
---@param options? table
---@return string
function M.check_output(args, options) end

--- Runs cmd with the shell, standard error merged into the output.
--- Reference: docs/subprocess.md, entry `subprocess.getstatusoutput`
---@param cmd string
---@return integer
---@return string
function M.getstatusoutput(cmd) end

--- The output of getstatusoutput(cmd).
--- Reference: docs/subprocess.md, entry `subprocess.getoutput`
---@param cmd string
---@return string
function M.getoutput(cmd) end

--- Starts the program and returns at once.
--- Reference: docs/subprocess.md, entry `subprocess.Popen`
---@param args string|string[]
---@param options? table
---@overload fun(opts: {args: string|string[], stdin?: integer|file*, stdout?: integer|file*, stderr?: integer|file*, cwd?: string, env?: table<string, string>, shell?: boolean, executable?: string, text?: boolean, close_fds?: boolean, pass_fds?: integer[], start_new_session?: boolean, process_group?: integer, umask?: integer, restore_signals?: boolean}): subprocess.Popen
---@return subprocess.Popen
function M.Popen(args, options) end

--- What run returns; also made directly (or from a table with the same
--- Reference: docs/subprocess.md, entry `subprocess.CompletedProcess`
---@param args string|string[]
---@param returncode integer
---@param stdout? string
---@param stderr? string
---@return subprocess.CompletedProcess
function M.CompletedProcess(args, returncode, stdout, stderr) end

--- Reference: docs/subprocess.md, entry `subprocess.SubprocessError`
---@type table
M["SubprocessError"] = nil

--- Reference: docs/subprocess.md, entry `subprocess.CalledProcessError`
---@type table
M["CalledProcessError"] = nil

--- Reference: docs/subprocess.md, entry `subprocess.TimeoutExpired`
---@type table
M["TimeoutExpired"] = nil

return M

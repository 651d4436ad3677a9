---@meta braid.os
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- LuaLS definitions for `require "braid.os"`.

---@class os
local M = {}

---@class os.popen
---@field closed boolean
local os_popen = {}

--- Reads as Lua's file:read.
--- Reference: docs/os.md, entry `os.popen:read`
---@param ... string|integer
---@return string?
function os_popen:read(...) end

--- Writes as Lua's file:write.
--- Reference: docs/os.md, entry `os.popen:write`
---@param ... string|number
---@return os.popen
function os_popen:write(...) end

--- Iterates as Lua's file:lines.
--- Reference: docs/os.md, entry `os.popen:lines`
---@param ... string|integer
---@return function
function os_popen:lines(...) end

--- Flushes what was written.
--- Reference: docs/os.md, entry `os.popen:flush`
function os_popen:flush() end

--- Closes the pipe and waits for the command (a <close> variable does the same).
--- Reference: docs/os.md, entry `os.popen:close`
---@return integer?
function os_popen:close() end

--- Reference: docs/os.md, entry `os.getpid`
---@return integer
function M.getpid() end

--- Reference: docs/os.md, entry `os.getppid`
---@return integer
function M.getppid() end

--- Sends signal sig to process pid.
--- Reference: docs/os.md, entry `os.kill`
---@param pid integer
---@param sig integer
function M.kill(pid, sig) end

--- Sends signal sig to the process group pgid.
--- Reference: docs/os.md, entry `os.killpg`
---@param pgid integer
---@param sig integer
function M.killpg(pgid, sig) end

--- Waits for a child to change state. Other threads run meanwhile; Ctrl-C
--- Reference: docs/os.md, entry `os.waitpid`
---@param pid integer
---@param options integer
---@return integer
---@return integer
function M.waitpid(pid, options) end

--- Raises ValueError for a stopped child or an invalid status.
--- Reference: docs/os.md, entry `os.waitstatus_to_exitcode`
---@param status integer
---@return integer
function M.waitstatus_to_exitcode(status) end

--- Reference: docs/os.md, entry `os.WIFEXITED`
---@param status integer
---@return boolean
function M.WIFEXITED(status) end

--- Reference: docs/os.md, entry `os.WEXITSTATUS`
---@param status integer
---@return integer
function M.WEXITSTATUS(status) end

--- Reference: docs/os.md, entry `os.WIFSIGNALED`
---@param status integer
---@return boolean
function M.WIFSIGNALED(status) end

--- Reference: docs/os.md, entry `os.WTERMSIG`
---@param status integer
---@return integer
function M.WTERMSIG(status) end

--- Reference: docs/os.md, entry `os.WIFSTOPPED`
---@param status integer
---@return boolean
function M.WIFSTOPPED(status) end

--- Reference: docs/os.md, entry `os.WSTOPSIG`
---@param status integer
---@return integer
function M.WSTOPSIG(status) end

--- Makes a child process: a copy of this one that continues from the call.
--- Reference: docs/os.md, entry `os.fork`
---@return integer
function M.fork() end

--- Replaces this process's program (args a sequence, args[1] the program's name); returns only by raising
--- Reference: docs/os.md, entry `os.execv`
---@param path string
---@param args string[]
function M.execv(path, args) end

--- Replaces this process's program (with the environment env (a table of strings)); returns only by raising
--- Reference: docs/os.md, entry `os.execve`
---@param path string
---@param args string[]
---@param env table<string
function M.execve(path, args, env) end

--- Replaces this process's program (file looked up in PATH); returns only by raising
--- Reference: docs/os.md, entry `os.execvp`
---@param file string
---@param args string[]
function M.execvp(file, args) end

--- Replaces this process's program (looked up in env's PATH); returns only by raising
--- Reference: docs/os.md, entry `os.execvpe`
---@param file string
---@param args string[]
---@param env table<string
function M.execvpe(file, args, env) end

--- Replaces this process's program (the arguments one by one); returns only by raising
--- Reference: docs/os.md, entry `os.execl`
---@param path string
---@param ... string|table
function M.execl(path, ...) end

--- Replaces this process's program (the arguments one by one, the environment last); returns only by raising
--- Reference: docs/os.md, entry `os.execle`
---@param path string
---@param ... string|table
function M.execle(path, ...) end

--- Replaces this process's program (looked up in PATH, the arguments one by one); returns only by raising
--- Reference: docs/os.md, entry `os.execlp`
---@param file string
---@param ... string|table
function M.execlp(file, ...) end

--- Replaces this process's program (looked up in the PATH of the environment given last); returns only by raising
--- Reference: docs/os.md, entry `os.execlpe`
---@param file string
---@param ... string|table
function M.execlpe(file, ...) end

--- Runs a program in a new process.
--- Reference: docs/os.md, entry `os.spawnv`
---@param mode integer
---@param path string
---@param args string[]
---@return integer
function M.spawnv(mode, path, args) end

--- As spawnv, with the environment env.
--- Reference: docs/os.md, entry `os.spawnve`
---@param mode integer
---@param path string
---@param args string[]
---@param env table<string
---@return integer
function M.spawnve(mode, path, args, env) end

--- As spawnv, looking file up in PATH.
--- Reference: docs/os.md, entry `os.spawnvp`
---@param mode integer
---@param file string
---@param args string[]
---@return integer
function M.spawnvp(mode, file, args) end

--- Runs command with /bin/sh -c and waits.
--- Reference: docs/os.md, entry `os.system`
---@param command string
---@return integer
function M.system(command) end

--- Runs cmd with the shell and gives a pipe to its standard output
--- Reference: docs/os.md, entry `os.popen`
---@param cmd string
---@param mode? string
---@param buffering? integer
---@return os.popen
function M.popen(cmd, mode, buffering) end

--- The environment as a table-like view (see above).
--- Reference: docs/os.md, entry `os.environ`
---@type table<string, string>
M["environ"] = nil

--- Reference: docs/os.md, entry `os.getenv`
---@param key string
---@param default? string
---@return string?
function M.getenv(key, default) end

--- Sets a variable (as environ[key] = value).
--- Reference: docs/os.md, entry `os.putenv`
---@param key string
---@param value string
function M.putenv(key, value) end

--- Removes a variable (as environ[key] = nil).
--- Reference: docs/os.md, entry `os.unsetenv`
---@param key string
function M.unsetenv(key) end

--- Reference: docs/os.md, entry `os.cpu_count`
---@return integer?
function M.cpu_count() end

--- Reference: docs/os.md, entry `os.process_cpu_count`
---@return integer
function M.process_cpu_count() end

--- Reference: docs/os.md, entry `os.sched_getaffinity`
---@param pid integer
---@return table<integer
---@return boolean>
function M.sched_getaffinity(pid) end

--- Restricts pid to the CPUs of mask.
--- Reference: docs/os.md, entry `os.sched_setaffinity`
---@param pid integer
---@param mask table
function M.sched_setaffinity(pid, mask) end

--- Adds increment to this process's niceness.
--- Reference: docs/os.md, entry `os.nice`
---@param increment integer
---@return integer
function M.nice(increment) end

--- Opens a file descriptor (close-on-exec), e.g. for braid.mmap.
--- Reference: docs/os.md, entry `os.open`
---@param path string
---@param flags integer
---@param mode? integer
---@return integer
function M.open(path, flags, mode) end

--- Reference: docs/os.md, entry `os.close`
---@param fd integer
function M.close(fd) end

--- The constant waitpid: do not wait.
--- Reference: docs/os.md, entry `os.WNOHANG`
---@type integer
M["WNOHANG"] = nil

--- The constant waitpid: report stopped children too.
--- Reference: docs/os.md, entry `os.WUNTRACED`
---@type integer
M["WUNTRACED"] = nil

--- The constant spawn*: wait for the child.
--- Reference: docs/os.md, entry `os.P_WAIT`
---@type integer
M["P_WAIT"] = nil

--- The constant spawn*: return its pid at once.
--- Reference: docs/os.md, entry `os.P_NOWAIT`
---@type integer
M["P_NOWAIT"] = nil

--- The constant open: read only.
--- Reference: docs/os.md, entry `os.O_RDONLY`
---@type integer
M["O_RDONLY"] = nil

--- The constant open: write only.
--- Reference: docs/os.md, entry `os.O_WRONLY`
---@type integer
M["O_WRONLY"] = nil

--- The constant open: read and write.
--- Reference: docs/os.md, entry `os.O_RDWR`
---@type integer
M["O_RDWR"] = nil

--- The constant open: create the file.
--- Reference: docs/os.md, entry `os.O_CREAT`
---@type integer
M["O_CREAT"] = nil

--- The constant open: with O_CREAT, fail if it exists.
--- Reference: docs/os.md, entry `os.O_EXCL`
---@type integer
M["O_EXCL"] = nil

--- The constant open: truncate.
--- Reference: docs/os.md, entry `os.O_TRUNC`
---@type integer
M["O_TRUNC"] = nil

--- The constant open: append.
--- Reference: docs/os.md, entry `os.O_APPEND`
---@type integer
M["O_APPEND"] = nil

--- The constant mmap:seek from the start.
--- Reference: docs/os.md, entry `os.SEEK_SET`
---@type integer
M["SEEK_SET"] = nil

--- The constant mmap:seek from the position.
--- Reference: docs/os.md, entry `os.SEEK_CUR`
---@type integer
M["SEEK_CUR"] = nil

--- The constant mmap:seek from the end.
--- Reference: docs/os.md, entry `os.SEEK_END`
---@type integer
M["SEEK_END"] = nil

--- The constant the signal number of SIGHUP.
--- Reference: docs/os.md, entry `os.SIGHUP`
---@type integer
M["SIGHUP"] = nil

--- The constant the signal number of SIGINT.
--- Reference: docs/os.md, entry `os.SIGINT`
---@type integer
M["SIGINT"] = nil

--- The constant the signal number of SIGQUIT.
--- Reference: docs/os.md, entry `os.SIGQUIT`
---@type integer
M["SIGQUIT"] = nil

--- The constant the signal number of SIGILL.
--- Reference: docs/os.md, entry `os.SIGILL`
---@type integer
M["SIGILL"] = nil

--- The constant the signal number of SIGABRT.
--- Reference: docs/os.md, entry `os.SIGABRT`
---@type integer
M["SIGABRT"] = nil

--- The constant the signal number of SIGKILL.
--- Reference: docs/os.md, entry `os.SIGKILL`
---@type integer
M["SIGKILL"] = nil

--- The constant the signal number of SIGSEGV.
--- Reference: docs/os.md, entry `os.SIGSEGV`
---@type integer
M["SIGSEGV"] = nil

--- The constant the signal number of SIGPIPE.
--- Reference: docs/os.md, entry `os.SIGPIPE`
---@type integer
M["SIGPIPE"] = nil

--- The constant the signal number of SIGALRM.
--- Reference: docs/os.md, entry `os.SIGALRM`
---@type integer
M["SIGALRM"] = nil

--- The constant the signal number of SIGTERM.
--- Reference: docs/os.md, entry `os.SIGTERM`
---@type integer
M["SIGTERM"] = nil

--- The constant the signal number of SIGUSR1.
--- Reference: docs/os.md, entry `os.SIGUSR1`
---@type integer
M["SIGUSR1"] = nil

--- The constant the signal number of SIGUSR2.
--- Reference: docs/os.md, entry `os.SIGUSR2`
---@type integer
M["SIGUSR2"] = nil

--- The constant the signal number of SIGCHLD.
--- Reference: docs/os.md, entry `os.SIGCHLD`
---@type integer
M["SIGCHLD"] = nil

--- The constant the signal number of SIGCONT.
--- Reference: docs/os.md, entry `os.SIGCONT`
---@type integer
M["SIGCONT"] = nil

--- The constant the signal number of SIGSTOP.
--- Reference: docs/os.md, entry `os.SIGSTOP`
---@type integer
M["SIGSTOP"] = nil

--- The constant the signal number of SIGTSTP.
--- Reference: docs/os.md, entry `os.SIGTSTP`
---@type integer
M["SIGTSTP"] = nil

return M

-- nutshell_ch15_os_mmap.lua: seed 001 (book chapter "Concurrency: Threads
-- and Processes"), the sections "Process Environment", "Running Other
-- Programs with the os Module" and "The mmap Module" with "Using mmap
-- Objects for IPC", ported to braid.os and braid.mmap and checked.
--
--   braid examples/seeds/nutshell_ch15_os_mmap.lua [--quick]
local bos = require "braid.os"
local mmap = require "braid.mmap"
local mp = require "braid.multiprocessing"
local quick = arg and arg[1] == "--quick"

-- Process Environment: which shell are we running under?
local shell = bos.getenv("COMSPEC") or bos.getenv("SHELL") or "/bin/sh"
print("shell:", shell)
-- Changes affect this process and the children it starts afterwards only.
bos.environ.NUTSHELL_GREETING = "hello from the parent"
local r, w = mp.Pipe(false)
local child = mp.Process{target = function(conn)
  local o = require "braid.os"
  conn:send(o.environ.NUTSHELL_GREETING)
  o.environ.NUTSHELL_GREETING = "changed by the child" -- never seen by the parent
end, args = {w}}
child:start()
assert(r:recv() == "hello from the parent")
child:join()
assert(bos.environ.NUTSHELL_GREETING == "hello from the parent")

-- Running Other Programs with the os Module: spawnv(P_WAIT, editor,
-- {editor, textfile}) lets "the user edit" a file (here a shell command
-- stands in for the editor), then system and popen.
local textfile = os.tmpname()
local editor = "/bin/sh"
local code = bos.spawnv(bos.P_WAIT, editor,
  {editor, "-c", 'printf "edited text\\n" > "$0"', textfile})
assert(code == 0)
local f = assert(io.open(textfile)); assert(f:read("a") == "edited text\n"); f:close()
assert(bos.system("exit 3") == 3 << 8)         -- a wait status, as on Unix
local p = bos.popen("wc -c < " .. textfile)
assert(tonumber(p:read("a")) == 12)
assert(p:close() == nil)                       -- None: it ended well
os.remove(textfile)

-- Using mmap Objects for IPC: one program rewrites a file with the last
-- line "typed"; another maps the file and prints its contents whenever
-- they change. The seed polls every second; here the two processes take
-- turns through a pair of Events so that every change is seen once.
local path = os.tmpname()
f = assert(io.open(path, "wb")); f:write("\n"); f:close()
local lines = {"first line", "a second, longer line", "third"}
if quick then lines = {"first line", "second"} end
local written, seen, mapped = mp.Event(), mp.Event(), mp.Event()

local writer = mp.Process{target = function(file, typed, wr, sn)
  for _, data in ipairs(typed) do
    local out = assert(io.open(file, "wb")) -- seek(0), write, truncate
    out:write(data)
    out:close()                             -- flush
    wr:set()
    assert(sn:wait(60)); sn:clear()
  end
end, args = {path, lines, written, seen}}

local reader = mp.get_context("spawn").Process{target = function(file, n, wr, sn, ready)
  local o = require "braid.os"
  local mm = require "braid.mmap"
  local mx = mm.mmap(o.open(file, o.O_RDWR), 1)
  ready:set()
  local last
  for _ = 1, n do
    assert(wr:wait(60)); wr:clear()
    mx:resize(mx:size())
    local data = mx:sub()                     -- Python's mx[:]
    if data ~= last then
      print(data)
      last = data
    end
    sn:set()
  end
  mx:close()
end, args = {path, #lines, written, seen, mapped}}

-- The reader maps the file's one byte before the writer's first "wb"
-- empties it (a map longer than its file is refused).
reader:start()
assert(mapped:wait(60))
writer:start()
writer:join(); reader:join()
assert(writer.exitcode == 0 and reader.exitcode == 0)

-- The mmap Module: an mmap behaves like a mutable byte string and a file.
local m = mmap.mmap(-1, 13)
m:write("Hello world!\n")
assert(m:sub(0, 5) == "Hello")
m:set(6, "World")                          -- m[6:11] = b"World"
m:seek(0)
assert(m:readline() == "Hello World!\n")
assert(m:find("World") == -1 and m:rfind("World", 0) == 6)
m:close()
os.remove(path)
print("nutshell ch15 (os, mmap): ok")

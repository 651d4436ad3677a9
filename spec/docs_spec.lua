-- The reference (docs/*.md), the editor types (types/) and the runnable
-- examples stay true to the code: every public name found at run time has
-- an entry, every entry names something that exists, the types are what
-- scripts/gen_types.lua makes from the pages, and every runnable example
-- runs. Which names are public is defined in docs/README.md: a name that
-- does not start with "_", in a module table (walked with pairs) or in
-- the members of its instances (methods tables behind metatables, and the
-- plain fields of table instances). `braid.core` is the implementation
-- and private (its public names are re-exported by the modules).
local docslib = dofile("scripts/docslib.lua")
local errors = require "braid.errors"

local HOST = os.getenv("BRAID_HOST") or "build/bin/braid"
local METHOD = (os.getenv("BRAID_SPEC_METHODS") or "fork"):match("^[^,]+")

local docs = docslib.load("docs")

local function public(k) return type(k) == "string" and k:sub(1, 1) ~= "_" end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do if public(k) then ks[#ks + 1] = k end end
  table.sort(ks)
  return ks
end

-- Instances to walk, by class path as the pages write it. Each function
-- returns one or more samples; a member exists when some sample has it
-- (a property that raises on this sample, such as the sentinel of a
-- process not started, exists too).
local threading = require "braid.threading"
local queue = require "braid.queue"
local futures = require "braid.futures"
local mp = require "braid.multiprocessing"
local progress = require "braid.progress"
local mmap = require "braid.mmap"
local sched = require "braid.sched"
local bos = require "braid.os"

local closers = {}
local function keep(obj, close) closers[#closers + 1] = close or function() end; return obj end

local function started_process()
  -- _method: the start method without a context's subclass (whose `init`
  -- would count as a member)
  local p = mp.Process{target = function() end, _method = METHOD}
  p:start(); p:join(60)
  return p
end

local function remote_error()
  local ex = futures.ThreadPoolExecutor(1)
  local f = ex:submit(function() error(errors.ValueError("from a worker")) end)
  local ok, err = pcall(f.result, f, 60)
  ex:shutdown(true)
  assert(not ok)
  return err
end

local samples = {
  ["threading.Thread"] = function()
    local t = threading.Thread{target = function() end}
    t:start(); t:join(60)
    return t, threading.Thread{target = function() end}
  end,
  ["threading.Timer"] = function() return threading.Timer(1, function() end) end,
  ["threading.Lock"] = function() return threading.Lock() end,
  ["threading.RLock"] = function() return threading.RLock() end,
  ["threading.Condition"] = function() return threading.Condition() end,
  ["threading.Semaphore"] = function() return threading.Semaphore() end,
  ["threading.BoundedSemaphore"] = function() return threading.BoundedSemaphore() end,
  ["threading.Event"] = function() return threading.Event() end,
  ["threading.Barrier"] = function() return threading.Barrier(1) end,
  ["queue.Queue"] = function() return queue.Queue() end,
  ["queue.LifoQueue"] = function() return queue.LifoQueue() end,
  ["queue.PriorityQueue"] = function() return queue.PriorityQueue() end,
  ["queue.SimpleQueue"] = function() return queue.SimpleQueue() end,
  ["futures.Future"] = function() return futures.Future() end,
  ["futures.Executor"] = function()
    local ex = futures.ThreadPoolExecutor(1)
    return keep(ex, function() ex:shutdown(true) end)
  end,
  ["futures.ThreadPoolExecutor"] = function()
    local ex = futures.ThreadPoolExecutor(1)
    return keep(ex, function() ex:shutdown(true) end)
  end,
  ["futures.ProcessPoolExecutor"] = function()
    local ex = futures.ProcessPoolExecutor(1, mp.get_context(METHOD))
    return keep(ex, function() ex:shutdown(true) end)
  end,
  ["mp.Process"] = function() return started_process(), mp.Process{} end,
  ["connection.Connection"] = function()
    local plain, limited = (mp.Pipe()), (mp.Pipe())
    limited.maxsize = 1 << 20 -- a field that is nil by default
    return plain, limited
  end,
  ["connection.Listener"] = function()
    -- one accepted peer, so that last_accepted is set (no thread needed:
    -- the connection completes in the backlog before accept)
    local connection = require "braid.multiprocessing.connection"
    local l = connection.Listener()
    local c = connection.Client(l.address)
    local s = l:accept()
    return keep(l, function() c:close(); s:close(); l:close() end)
  end,
  ["mp.Queue"] = function() return mp.Queue() end,
  ["mp.JoinableQueue"] = function() return mp.JoinableQueue() end,
  ["mp.SimpleQueue"] = function() return mp.SimpleQueue() end,
  ["mp.Lock"] = function() return mp.Lock() end,
  ["mp.RLock"] = function() return mp.RLock() end,
  ["mp.Semaphore"] = function() return mp.Semaphore() end,
  ["mp.BoundedSemaphore"] = function() return mp.BoundedSemaphore() end,
  ["mp.Condition"] = function() return mp.Condition() end,
  ["mp.Event"] = function() return mp.Event() end,
  ["mp.Barrier"] = function() return mp.Barrier(1) end,
  ["mp.Value"] = function() return mp.Value("i", 0) end,
  ["mp.Array"] = function() return mp.Array("c", 3) end,
  ["mp.RawValue"] = function() return mp.RawValue("i", 0) end,
  ["mp.RawArray"] = function() return mp.RawArray("c", 3) end,
  ["shared_memory.SharedMemory"] = function()
    local s = mp.shared_memory.SharedMemory(nil, true, 16)
    return keep(s, function() s:close(); s:unlink() end)
  end,
  ["mmap.mmap"] = function()
    local m = mmap.mmap(-1, 16)
    return keep(m, function() m:close() end)
  end,
  ["sched.scheduler"] = function() return sched.scheduler() end,
  ["os.popen"] = function()
    local p = bos.popen("true")
    return keep(p, function() p:close() end)
  end,
  ["pool.Pool"] = function()
    local p = mp.get_context(METHOD).Pool(1)
    return keep(p, function() p:terminate() end)
  end,
  ["pool.ThreadPool"] = function()
    local p = mp.pool.ThreadPool(1)
    return keep(p, function() p:terminate() end)
  end,
  ["pool.AsyncResult"] = function()
    local p = mp.pool.ThreadPool(1)
    keep(p, function() p:terminate() end)
    local r = p:apply_async(function() end)
    r:wait(60)
    return r
  end,
  ["pool.MapResult"] = function()
    local p = mp.pool.ThreadPool(1)
    keep(p, function() p:terminate() end)
    local r = p:map_async(function() end, {1})
    r:wait(60)
    return r
  end,
  ["context.Context"] = function() return mp.get_context("spawn") end,
  ["managers.SyncManager"] = function()
    local m = mp.get_context(METHOD).Manager()
    return keep(m, function() m:shutdown() end)
  end,
  ["managers.BaseManager"] = function() return mp.managers.BaseManager{ address = { "127.0.0.1", 0 } } end,
  ["managers.DictProxy"] = function()
    local m = mp.get_context(METHOD).Manager()
    keep(m, function() m:shutdown() end)
    return m:dict()
  end,
  ["managers.ListProxy"] = function()
    local m = mp.get_context(METHOD).Manager()
    keep(m, function() m:shutdown() end)
    return m:list()
  end,
  ["progress.Bar"] = function()
    local f = io.open("/dev/null", "w")
    return keep(progress.Bar{total = 3, file = f, desc = "d"}, function() f:close() end)
  end,
  ["subprocess.Popen"] = function()
    local sp = require "braid.subprocess"
    local p = sp.Popen({ "true" }, { stdin = sp.PIPE, stdout = sp.PIPE, stderr = sp.PIPE })
    p:communicate()
    return p
  end,
  ["subprocess.PipeFile"] = function()
    local sp = require "braid.subprocess"
    local p = sp.Popen({ "true" }, { stdout = sp.PIPE })
    p:wait()
    return keep(p.stdout, function() p.stdout:close() end)
  end,
  ["subprocess.CompletedProcess"] = function()
    return require("braid.subprocess").run({ "true" }, { capture_output = true })
  end,
  ["subprocess.CalledProcessError"] = function()
    return require("braid.subprocess").CalledProcessError(1, "x", "o", "e")
  end,
  ["subprocess.TimeoutExpired"] = function()
    return require("braid.subprocess").TimeoutExpired("x", 1, "o", "e")
  end,
  ["errors.BaseException"] = function()
    return errors.ValueError, errors.ValueError("x", 1), remote_error(),
      errors.SystemExit(3), errors.wrap("plain", "tb")
  end,
}

-- The public members of one instance: its own plain fields (tables), the
-- methods tables behind its metatable (followed through __index tables,
-- `__super` class chains, a `__methods` metafield and the table upvalues
-- of an __index function, where the C objects keep their methods).
local function members(obj, raw_only)
  local out = {}
  local function add(t)
    if type(t) ~= "table" then return end
    for k in pairs(t) do if public(k) then out[k] = true end end
  end
  if type(obj) == "table" then add(obj) end
  if raw_only then return out end
  local mt, seen = getmetatable(obj), {}
  while type(mt) == "table" and not seen[mt] do
    seen[mt] = true
    if type(obj) == "table" then add(mt) end
    add(rawget(mt, "__methods"))
    local idx = rawget(mt, "__index")
    if type(idx) == "table" and idx ~= mt then add(idx) end
    if type(idx) == "function" then
      for i = 1, 255 do
        local n, v = debug.getupvalue(idx, i)
        if not n then break end
        if type(v) == "table" and n ~= "_ENV" then add(v) end
      end
    end
    mt = rawget(mt, "__super") or (type(idx) == "table" and idx ~= mt and getmetatable(idx))
      or getmetatable(mt)
  end
  return out
end

-- Members whose owner is listed here are walked on the plain table only
-- (a context's other names are the module's, documented there).
local RAW_ONLY = { ["context.Context"] = true }

local function has_member(objs, k)
  for _, o in ipairs(objs) do
    local ok, v = pcall(function() return o[k] end)
    if not ok or v ~= nil then return true end
  end
  return false
end

local function documented(path)
  if docs.bypath[path] then return true end
  return false
end

local ADD_HINT = "add a heading '### %s' (with its parameters if it is a "
  .. "function) to the page of its module in docs/, then run "
  .. "'lua5.4 scripts/gen_types.lua'"

describe("the reference in docs/", function()
  local instances = {}
  setup(function()
    for cls, make in pairs(samples) do instances[cls] = { make() } end
  end)
  teardown(function()
    for i = #closers, 1, -1 do pcall(closers[i]) end
  end)

  it("links every page of docs/ from docs/README.md", function()
    local p = io.popen("ls docs/*.md")
    local listed = {}
    for _, f in ipairs(docs.files) do listed[f] = true end
    local missing = {}
    for f in p:lines() do
      if not listed[f] and f ~= "docs/HACKING.md" then missing[#missing + 1] = f end
    end
    if p:close() then
      assert(#missing == 0, "not linked from docs/README.md (so not checked): "
        .. table.concat(missing, ", "))
    end
  end)

  it("declares every public module", function()
    local want = { "braid", "braid.threading", "braid.queue", "braid.futures",
      "braid.concurrent.futures", "braid.multiprocessing", "braid.multiprocessing.pool",
      "braid.multiprocessing.connection", "braid.multiprocessing.shared_memory",
      "braid.multiprocessing.sharedctypes", "braid.multiprocessing.dummy",
      "braid.multiprocessing.process", "braid.multiprocessing.context",
      "braid.multiprocessing.queues", "braid.multiprocessing.synchronize",
      "braid.multiprocessing.managers", "braid.progress", "braid.errors",
      "braid.subprocess", "braid.mmap", "braid.sched", "braid.os",
      "braid._thread" }
    local declared = {}
    for _, m in pairs(docs.modules) do declared[m] = true end
    for m, as in pairs(docs.same_modules) do
      assert(require(m) == require(as), m .. " is not the same table as " .. as)
      declared[m] = true
    end
    for _, m in ipairs(want) do
      assert(declared[m], "no page declares module " .. m
        .. " (a line '<!-- module: " .. m .. " = ALIAS -->')")
    end
  end)

  it("documents every public name of every module table", function()
    local missing = {}
    for alias, mod in pairs(docs.modules) do
      local t = require(mod)
      for _, k in ipairs(sorted_keys(t)) do
        local path = alias .. "." .. k
        if not documented(path) then missing[#missing + 1] = path end
      end
    end
    table.sort(missing)
    for i, p in ipairs(missing) do missing[i] = ADD_HINT:format(p) end
    assert(#missing == 0, #missing .. " public name(s) without an entry:\n  "
      .. table.concat(missing, "\n  "))
  end)

  it("documents every public member of every class's instances", function()
    local missing = {}
    for cls, objs in pairs(instances) do
      local names = {}
      for _, o in ipairs(objs) do
        for k in pairs(members(o, RAW_ONLY[cls])) do names[k] = true end
      end
      for k in pairs(names) do
        local p1, p2 = cls .. ":" .. k, cls .. "." .. k
        local ok = documented(p1) or documented(p2)
        local of = docs.methods_of[cls]
        local hops = 0
        while not ok and of and hops < 8 do
          ok = documented(of .. ":" .. k) or documented(of .. "." .. k)
          of, hops = docs.methods_of[of], hops + 1
        end
        if not ok then missing[#missing + 1] = p1 end
      end
    end
    table.sort(missing)
    for i, p in ipairs(missing) do
      missing[i] = ADD_HINT:format(p) .. " (or '" .. p:gsub(":", ".") .. "' for a field)"
    end
    assert(#missing == 0, #missing .. " public member(s) without an entry:\n  "
      .. table.concat(missing, "\n  "))
  end)

  it("documents only names that exist", function()
    local stale = {}
    for _, e in ipairs(docs.entries) do
      local owner, sep, member = docslib.split(e.path)
      local ok
      if owner == nil then
        ok = docs.modules[member] ~= nil
      elseif docs.modules[owner] then
        local t = require(docs.modules[owner])
        ok = t[member] ~= nil
      elseif instances[owner] then
        ok = has_member(instances[owner], member)
      else
        -- a field of a documented table: futures.thread.BrokenThreadPool
        local alias, rest = owner:match("^([%w_]+)%.(.+)$")
        local t = alias and docs.modules[alias] and require(docs.modules[alias])
        for part in (rest or ""):gmatch("[^.]+") do t = type(t) == "table" and t[part] or nil end
        ok = type(t) == "table" and t[member] ~= nil
        if not ok and t == nil then
          stale[#stale + 1] = ("%s:%d: %s: its owner %s is neither a module alias nor "
            .. "a class with samples in spec/docs_spec.lua"):format(e.file, e.line, e.path, owner)
          ok = true
        end
      end
      if not ok then
        stale[#stale + 1] = ("%s:%d: %s documents a name that does not exist")
          :format(e.file, e.line, e.path)
      end
      if sep == ":" and e.params == nil then
        stale[#stale + 1] = ("%s:%d: method %s needs its parameter list"):format(e.file, e.line, e.path)
      end
    end
    assert(#stale == 0, table.concat(stale, "\n"))
  end)

  it("gives every entry a runnable example", function()
    local bad = {}
    for _, e in ipairs(docs.entries) do
      if not e.example then
        bad[#bad + 1] = ("%s:%d: %s has no ```lua run example"):format(e.file, e.line, e.path)
      end
    end
    assert(#bad == 0, table.concat(bad, "\n"))
  end)

  it("matches each entry's parameter bullets to its heading", function()
    local bad = {}
    for _, e in ipairs(docs.entries) do
      local inhead = {}
      for _, p in ipairs(e.params or {}) do inhead[p] = true end
      for _, p in ipairs(e.params_doc) do
        if not inhead[p.name] then
          bad[#bad + 1] = ("%s:%d: %s: bullet `%s` is not a parameter of the heading")
            :format(e.file, e.line, e.path, p.name)
        end
      end
    end
    assert(#bad == 0, table.concat(bad, "\n"))
  end)
end)

describe("docs/c-api.md", function()
  it("has an entry for every BRAID_API function of the public headers", function()
    local page = docslib.read("docs/c-api.md")
    local documented_c = {}
    for name in page:gmatch("\n### ([%w_]+)%(") do documented_c[name] = true end
    local missing, n = {}, 0
    for _, h in ipairs({ "src/include/braid.h", "src/include/braidlib.h" }) do
      local text = docslib.read(h)
      for name in text:gmatch("BRAID_API[^;{]-([%w_]+)%s*%(") do
        n = n + 1
        if not documented_c[name] then missing[#missing + 1] = name end
        documented_c[name] = nil
      end
    end
    assert(n >= 10, "found only " .. n .. " BRAID_API functions")
    assert(#missing == 0, "add '### NAME(args)' to docs/c-api.md for: "
      .. table.concat(missing, ", "))
    local stale = {}
    for name in pairs(documented_c) do stale[#stale + 1] = name end
    assert(#stale == 0, "docs/c-api.md documents functions the headers lack: "
      .. table.concat(stale, ", "))
  end)
end)

describe("the LuaLS definitions in types/", function()
  it("are what scripts/gen_types.lua makes from docs/", function()
    local n = 0
    for path, want in pairs(docslib.all_types(docs)) do
      local f = io.open(path, "rb")
      assert(f, path .. " is missing: run 'lua5.4 scripts/gen_types.lua'")
      local have = f:read("a"); f:close()
      assert(have == want, path .. " is out of date: run 'lua5.4 scripts/gen_types.lua'")
      n = n + 1
    end
    -- and nothing else is there (a file left from a removed module); the
    -- listing needs a shell, which a sanitizer pass may not start
    local p = io.popen("find types -name '*.lua'")
    local m = 0
    for _ in p:lines() do m = m + 1 end
    if p:close() then
      assert(m == n, ("types/ has %d .lua files, the pages make %d"):format(m, n))
    end
  end)

  it("name every public module field", function()
    local missing = {}
    for alias, mod in pairs(docs.modules) do
      local f = assert(io.open(docslib.types_path(docs, mod), "rb"))
      local text = f:read("a"); f:close()
      for _, k in ipairs(sorted_keys(require(mod))) do
        if not (text:find("M." .. k .. "(", 1, true) or text:find(("M[%q]"):format(k), 1, true)) then
          missing[#missing + 1] = alias .. "." .. k
        end
      end
    end
    assert(#missing == 0, "not in types/: " .. table.concat(missing, ", "))
  end)

  it("parse as Lua", function()
    for path in pairs(docslib.all_types(docs)) do
      local ok, err = loadfile(path)
      assert(ok, err)
    end
  end)
end)

describe("the runnable examples of README.md and docs/", function()
  local files = { "README.md" }
  for _, f in ipairs(docs.files) do files[#files + 1] = f end

  local function run(code)
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "wb")); f:write(code); f:close()
    local p = io.popen(("timeout 60 %s %s 2>&1; echo \"exit=$?\""):format(HOST, tmp))
    local out = p:read("a"); p:close()
    os.remove(tmp)
    local rc = tonumber(out:match("exit=(%d+)%s*$"))
    return rc, out
  end

  -- Without "fork" among BRAID_SPEC_METHODS (the sanitizer passes: a fork
  -- under ASan's allocator can hang its child) the examples that start
  -- processes are left out; the others still run under that host.
  local methods = os.getenv("BRAID_SPEC_METHODS") or "fork"
  local no_fork = not (("," .. methods .. ","):find(",fork,", 1, true))
  local function skipped(code)
    return no_fork and (code:find("multiprocessing", 1, true)
      or code:find("ProcessPoolExecutor", 1, true)) ~= nil
  end

  local it_host = HOST == "none" and pending or it
  it_host("all run and exit 0 under the braid host (60 s each)", function()
    local failed, count = {}, 0
    for _, file in ipairs(files) do
      for _, b in ipairs(docslib.extract_runnable(docslib.read(file))) do
        count = count + 1
        local rc, out = 0, ""
        if not skipped(b.code) then rc, out = run(b.code) end
        if rc ~= 0 then
          failed[#failed + 1] = ("%s:%d (exit %s):\n%s"):format(file, b.line, tostring(rc), out)
        end
      end
    end
    assert(count >= 50, "only " .. count .. " runnable examples found")
    assert(#failed == 0, #failed .. " example(s) failed:\n" .. table.concat(failed, "\n"))
  end)

  it("extraction finds fenced and marked blocks only", function()
    local blocks = docslib.extract_runnable(table.concat({
      "```lua run", "print(1)", "```",
      "```lua", "print(2)", "```",
      "<!-- run -->", "```lua", "print(3)", "```",
      "<!-- run -->", "text", "```lua", "print(4)", "```",
    }, "\n"))
    assert.are.equal(2, #blocks)
    assert.are.equal("print(1)\n", blocks[1].code)
    assert.are.equal("print(3)\n", blocks[2].code)
  end)
end)

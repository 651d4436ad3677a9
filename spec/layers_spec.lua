-- The layering rules of the C sources (scripts/check_layers.lua): the tree
-- obeys them, and each rule catches a deliberate violation.
local check = assert(loadfile("scripts/check_layers.lua"))("--as-library")

local function sh(cmd)
  local ok = os.execute(cmd)
  assert(ok, "command failed: " .. cmd)
end

-- A scratch copy of the C sources, for mutating.
local function copy_tree()
  local dir = os.tmpname()
  os.remove(dir)
  sh("mkdir -p '" .. dir .. "' && cp -r src spec examples bench '" .. dir .. "'/")
  return dir
end

local function append(path, text)
  local f = assert(io.open(path, "a"))
  f:write(text)
  f:close()
end

local function count_lines(path)
  local n = 0
  for _ in io.lines(path) do n = n + 1 end
  return n
end

-- The violations of the copy at 'dir' that its pristine state lacked.
local function new_violations(before, dir)
  local seen, out = {}, {}
  for _, v in ipairs(before) do seen[v] = true end
  for _, v in ipairs(check(dir)) do
    if not seen[v] then out[#out + 1] = v end
  end
  return out
end

describe("layers", function()
  it("the tree obeys every rule", function()
    assert.are.same({}, check("."))
  end)

  it("docs/ARCHITECTURE.md has a line for every source file", function()
    local f = assert(io.open("docs/ARCHITECTURE.md"))
    local doc = f:read("a")
    f:close()
    local missing = {}
    local p = io.popen("find src lua/braid -type f -name '*.[chl]*' | LC_ALL=C sort")
    for path in p:lines() do
      local base = path:match("[^/]+$")
      local listed = doc:find("`" .. base .. "`", 1, true)
        or doc:find("`" .. path .. "`", 1, true)
        or (path:match("^lua/braid/multiprocessing/")
            and doc:find("`lua/braid/multiprocessing/*.lua`", 1, true))
        or (path:match("^lua/braid/") and doc:find(base, 1, true))
      if not listed then missing[#missing + 1] = path end
    end
    p:close()
    assert.are.same({}, missing)
  end)

  describe("each rule catches a deliberate violation", function()
    local dir, before
    before_each(function()
      dir = copy_tree()
      before = check(dir)
    end)
    after_each(function() sh("rm -rf '" .. dir .. "'") end)

    -- { what, file, line appended, rule and message of the violation }
    local CASES = {
      { "a Lua header included in src/core", "src/core/queue.c",
        '#include "lua.h"', "lua in core: src/core/queue.c includes the Lua header lua.h" },
      { "lua_State named in src/core, even in a comment", "src/core/handle.h",
        "/* takes a lua_State */",
        "lua in core: src/core/handle.h names the Lua identifier lua_State" },
      { "a Lua API call in src/os", "src/os/os_posix.c",
        'static void f(void *L) { luaL_error(L, "x"); }',
        "lua in core: src/os/os_posix.c names the Lua identifier luaL_error" },
      { "src/os including a core header", "src/os/os_posix.c", '#include "braidint.h"',
        "upward include: src/os/os_posix.c (src/os) includes braidint.h of a higher layer" },
      { "src/core including a binding header", "src/core/queue.c", '#include "lbind.h"',
        "upward include: src/core/queue.c (src/core) includes lbind.h of a higher layer" },
      { "src/core including the binding's public header braidlib.h", "src/core/handle.c",
        '#include "braidlib.h"',
        "upward include: src/core/handle.c (src/core) includes braidlib.h of a higher layer" },
    }
    for _, case in ipairs(CASES) do
      local what, file, line, message = table.unpack(case)
      it(what, function()
        local f = dir .. "/" .. file
        append(f, line .. "\n")
        assert.are.same({ ("%s:%d: %s"):format(file, count_lines(f), message) },
                        new_violations(before, dir))
      end)
    end

    it("a C file over 1,500 lines", function()
      local f = dir .. "/src/bind/lqueue.c"
      append(f, ("/* padding */\n"):rep(1501 - count_lines(f)))
      assert.are.same({ "src/bind/lqueue.c:1501: file too long: src/bind/lqueue.c"
                        .. " has 1501 lines (at most 1500)" },
                      new_violations(before, dir))
    end)

    it("leaves the binding free to use Lua and a public header's comments", function()
      append(dir .. "/src/bind/lqueue.c", "/* lua_State */\n")
      append(dir .. "/src/include/braid.h", "/* see lua_State, lua_Alloc */\n")
      assert.are.same({}, new_violations(before, dir))
    end)
  end)
end)

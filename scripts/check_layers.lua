--[[
check_layers.lua: checks the layering rules of braid's C sources.

  lua5.4 scripts/check_layers.lua [ROOT]

The layers, lowest first (docs/ARCHITECTURE.md):

  src/include  public headers           includes: system, src/include
  src/os       platform seam            includes: system, src/include, src/os
  src/core     the core, no Lua         includes: system, src/include, src/os,
                                                  src/core
  src/bind     the only Lua-aware code  includes: anything but src/host
  src/host     programs                 includes: anything

Rules, each reported as "path:line: rule: what":
  * a file includes a project header of a layer above its own
    ("upward include");
  * a file under src/core or src/os (or a public header, which the core
    includes) includes a Lua header or names a Lua API identifier (lua_*,
    luaL_*, LUA_*, luaopen_*), in code or in comments ("lua in core");
    public headers may name Lua's state as `struct lua_State` only;
  * a C file (.c or .h) anywhere under src/, spec/c/, examples/ or bench/
    is longer than 1,500 lines ("file too long").
Exits 0 when the tree obeys every rule, 1 (listing every violation)
otherwise. loadfile(path)("--as-library") returns a function
check(root) -> sorted list of violation strings, which spec/layers_spec.lua runs
on the tree and on copies with deliberate violations.
]]

local MAX_LINES = 1500

-- Layer of each source directory; a file may include headers of its own
-- layer or of a lower one (smaller rank).
local RANK = {
  ["src/include"] = 1, ["src/os"] = 2, ["src/core"] = 3, ["src/bind"] = 4,
  ["src/host"] = 5,
}
-- Public headers that belong to the binding (Lua entry points, like Lua's
-- own lualib.h): the core must not include them.
local BINDING_PUBLIC = { ["braidlib.h"] = true }

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Every regular file under 'root'/'dir' (relative paths, sorted).
local function list_files(root, dir)
  local out = {}
  local p = io.popen("cd " .. sh_quote(root) .. " && find " .. sh_quote(dir)
                     .. " -type f 2>/dev/null | LC_ALL=C sort")
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

local function read_lines(path)
  local f = assert(io.open(path, "rb"))
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line end
  f:close()
  return lines
end

local function is_c(path) return path:match("%.[ch]$") ~= nil end

-- Lua identifiers a Lua-free file must not name. Frontier patterns: the
-- name must start a word ("braidB_fail_lua_alloc" does not count).
local LUA_NAMES = {
  "%f[%w_]lua_[%w_]+", "%f[%w_]luaL_[%w_]+", "%f[%w_]LUA_[%w_]+",
  "%f[%w_]luaopen_[%w_]+",
}
local LUA_HEADERS = {
  ["lua.h"] = true, ["lauxlib.h"] = true, ["lualib.h"] = true,
  ["luaconf.h"] = true, ["lua.hpp"] = true,
}

-- The layer whose directory holds header 'name', given the headers of
-- each layer; nil for a header that is not the project's (system, Lua).
local function header_layer(headers, name)
  local base = name:match("[^/]+$")
  return headers[base]
end

-- The lines of a C file with its comments blanked out (line count kept).
local function strip_comments(lines)
  local out, in_block = {}, false
  for i, line in ipairs(lines) do
    local res, pos = {}, 1
    while pos <= #line do
      if in_block then
        local e = line:find("*/", pos, true)
        if not e then pos = #line + 1 else in_block = false; pos = e + 2 end
      else
        local b = line:find("/*", pos, true)
        local l = line:find("//", pos, true)
        if l and (not b or l < b) then
          res[#res + 1] = line:sub(pos, l - 1); pos = #line + 1
        elseif b then
          res[#res + 1] = line:sub(pos, b - 1); in_block = true; pos = b + 2
        else
          res[#res + 1] = line:sub(pos); pos = #line + 1
        end
      end
    end
    out[i] = table.concat(res)
  end
  return out
end

local function check(root)
  root = root or "."
  local violations = {}
  local function report(path, lineno, rule, what)
    violations[#violations + 1] = ("%s:%d: %s: %s"):format(path, lineno,
                                                           rule, what)
  end

  -- Which layer each project header belongs to.
  local headers = {}
  for dir, rank in pairs(RANK) do
    for _, path in ipairs(list_files(root, dir)) do
      if path:match("%.h$") then
        local base = path:match("[^/]+$")
        headers[base] = BINDING_PUBLIC[base] and RANK["src/bind"] or rank
      end
    end
  end

  for dir, dir_rank in pairs(RANK) do
    for _, path in ipairs(list_files(root, dir)) do
      local rank = BINDING_PUBLIC[path:match("[^/]+$")] and RANK["src/bind"]
                   or dir_rank
      if is_c(path) then
        local lua_free = rank <= RANK["src/core"]
        -- Public headers speak to users: their comments may name Lua's API.
        local lines = read_lines(root .. "/" .. path)
        if rank == RANK["src/include"] then lines = strip_comments(lines) end
        for i, line in ipairs(lines) do
          local delim, inc = line:match('^%s*#%s*include%s*([<"])([^>"]+)[>"]')
          if inc then
            local base = inc:match("[^/]+$")
            -- Only quoted includes name the project's headers.
            local hl = delim == '"' and header_layer(headers, inc)
            if hl and hl > rank then
              report(path, i, "upward include",
                     ("%s (%s) includes %s of a higher layer"):format(
                       path, dir, inc))
            end
            if lua_free and LUA_HEADERS[base] then
              report(path, i, "lua in core",
                     ("%s includes the Lua header %s"):format(path, inc))
            end
          elseif lua_free then
            -- A public header may declare Lua's state by name only.
            local text = line
            if rank == RANK["src/include"] then
              text = text:gsub("struct%s+lua_State", "")
            end
            for _, pat in ipairs(LUA_NAMES) do
              local name = text:match(pat)
              if name then
                report(path, i, "lua in core",
                       ("%s names the Lua identifier %s"):format(path, name))
                break
              end
            end
          end
        end
      end
    end
  end

  for _, dir in ipairs({ "src", "spec/c", "examples", "bench" }) do
    for _, path in ipairs(list_files(root, dir)) do
      if is_c(path) then
        local n = #read_lines(root .. "/" .. path)
        if n > MAX_LINES then
          report(path, n, "file too long",
                 ("%s has %d lines (at most %d)"):format(path, n, MAX_LINES))
        end
      end
    end
  end
  table.sort(violations)
  return violations
end

-- loadfile(this)("--as-library") returns check; otherwise run as a script.
if ... == "--as-library" then return check end

local violations = check(... or ".")
for _, v in ipairs(violations) do io.stderr:write(v, "\n") end
if #violations > 0 then
  io.stderr:write(("check_layers: %d violation(s)\n"):format(#violations))
  os.exit(1)
end
print(("check_layers: the layers hold (src/include < src/os < src/core"
       .. " < src/bind < src/host; no C file over %d lines)"):format(MAX_LINES))

--- Reads braid's reference pages (docs/*.md) and writes the LuaLS
-- definition files (types/braid/*.lua) from them. Used by
-- scripts/gen_types.lua and by spec/docs_spec.lua, so the pages, the
-- type files and the drift spec agree on one grammar (docs/README.md,
-- "Conventions of these pages", describes it for writers):
--
--   <!-- module: braid.queue = queue -->     the page documents a module
--                                            under a short alias
--   <!-- same-module: braid.concurrent.futures = braid.futures -->
--                                            a second name of a module
--   <!-- methods-of: queue.LifoQueue = queue.Queue -->
--                                            instances of the first class
--                                            have the documented members
--                                            of the second (plus their own)
--   ### queue.Queue(maxsize)                 one entry per public name:
--   ### queue.Queue:put(item, block, timeout)  module field, method, or
--   ### queue.Queue.maxsize                    instance field
--
-- An entry's bullet lines, in any order, give its types:
--   - `name` (type[, default ...]): text      a parameter
--   - returns (type[, type...]): text         results ("returns: nothing")
--   - type (T): text                          the type of a non-callable
--   - overload (fun(...): T): text            another way to call it
-- The types are LuaLS types (`integer`, `number?`, `queue.Queue`, `any`).
-- Runnable examples are ```lua run fences; `extract_runnable` finds them.
local M = {}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
M.read = read

--- Splits a heading's text into its path and parameter list.
-- "queue.Queue:put(item, block)" -> "queue.Queue:put", {"item", "block"}
local function parse_heading(text)
  local path, params = text:match("^([%w_%.:]+)%s*(%b())%s*$")
  if not path then
    path = text:match("^([%w_%.:]+)%s*$")
    if not path then return nil end
    return path, nil
  end
  local list = {}
  for p in params:sub(2, -2):gmatch("[^,%s]+") do
    list[#list + 1] = p:gsub("[%[%]]", "")
  end
  return path, list
end

--- Parses one page. Returns {modules = {alias = module}, aliases_of =
-- {class = class}, entries = {{path, params, line, file, params_doc,
-- returns, type, overloads, summary}...}}.
function M.parse_page(file, text)
  local page = { modules = {}, methods_of = {}, same_modules = {}, entries = {},
                 file = file }
  local entry, ln, infence = nil, 0, false
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    ln = ln + 1
    if line:match("^```") then
      if not infence and entry and line:match("^```lua run%s*$") then entry.example = true end
      infence = not infence
    end
    if not infence then
      local mod, alias = line:match("^<!%-%- module: ([%w_%.]+) = ([%w_]+) %-%->")
      if mod then page.modules[alias] = mod end
      local same, as = line:match("^<!%-%- same%-module: ([%w_%.]+) = ([%w_%.]+) %-%->")
      if same then page.same_modules[same] = as end
      local cls, of = line:match("^<!%-%- methods%-of: ([%w_%.]+) = ([%w_%.]+) %-%->")
      if cls then page.methods_of[cls] = of end
      local h = line:match("^### (.+)$")
      if h then
        local path, params = parse_heading(h)
        if path then
          entry = { path = path, params = params, line = ln, file = file,
                    params_doc = {}, overloads = {} }
          page.entries[#page.entries + 1] = entry
        else
          entry = nil
        end
      elseif line:match("^#") then
        entry = nil
      elseif entry then
        local name, ty, rest = line:match("^%- `([%w_%.]+)` %(([^,%)]+)[^%)]*%)(.*)$")
        if name then
          local default = line:match("default ([^%)]+)%)")
          entry.params_doc[#entry.params_doc + 1] =
            { name = name, type = ty, default = default, text = rest:gsub("^:%s*", "") }
        else
          local r = line:match("^%- returns %((.-)%):")
          if r then entry.returns = r end
          local t = line:match("^%- type %((.-)%)")
          if t then entry.type = t end
          local o = line:match("^%- overload %((fun%b().-)%)")
          if o then entry.overloads[#entry.overloads + 1] = o end
          if not entry.summary and line:match("^%a") then entry.summary = line end
        end
      end
    end
  end
  return page
end

--- The reference pages: `dir`/README.md and every page it links to in
-- `dir` (HACKING.md, for contributors, aside). Read from the index rather
-- than by listing the directory, which needs a shell (io.popen), and the
-- sanitizer passes cannot always start one; spec/docs_spec.lua checks
-- that the index links every page.
function M.list_pages(dir)
  local files, seen = { dir .. "/README.md" }, { ["README.md"] = true, ["HACKING.md"] = true }
  for name in read(dir .. "/README.md"):gmatch("%]%(([%w_%-]+%.md)[#%)]") do
    if not seen[name] then
      seen[name] = true
      files[#files + 1] = dir .. "/" .. name
    end
  end
  return files
end

--- Every page under `dir` (docs/), parsed, merged:
-- {modules = {alias=module}, methods_of = {...}, entries = {...},
--  byalias = {alias = {entries}}}
function M.load(dir)
  local all = { modules = {}, methods_of = {}, same_modules = {}, entries = {},
                files = {} }
  for _, file in ipairs(M.list_pages(dir)) do
    all.files[#all.files + 1] = file
    -- c-api.md documents C functions, not Lua names (the spec checks it
    -- against the headers)
    local page = file:match("c%-api%.md$") and M.parse_page(file, "")
      or M.parse_page(file, read(file))
    for a, m in pairs(page.modules) do
      assert(all.modules[a] == nil or all.modules[a] == m, "alias " .. a .. " declared twice")
      all.modules[a] = m
    end
    for c, o in pairs(page.methods_of) do all.methods_of[c] = o end
    for m, o in pairs(page.same_modules) do all.same_modules[m] = o end
    for _, e in ipairs(page.entries) do all.entries[#all.entries + 1] = e end
  end
  all.bypath = {}
  for _, e in ipairs(all.entries) do
    local prev = all.bypath[e.path]
    if prev then
      error(("%s documented twice (%s:%d and %s:%d)")
        :format(e.path, prev.file, prev.line, e.file, e.line))
    end
    all.bypath[e.path] = e
  end
  return all
end

--- The runnable examples of a markdown text: {{code, line}...}. A block
-- is runnable when its fence reads ```lua run (or it follows a line
-- `<!-- run -->`).
function M.extract_runnable(text)
  local out, ln, cur, marked = {}, 0, nil, false
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    ln = ln + 1
    if cur then
      if line:match("^```%s*$") then
        out[#out + 1] = cur; cur = nil
      else
        cur.code = cur.code .. line .. "\n"
      end
    elseif line:match("^```lua run%s*$") or (marked and line:match("^```lua%s*$")) then
      cur = { code = "", line = ln }
      marked = false
    elseif line:match("^<!%-%- run %-%->") then
      marked = true
    elseif line:match("%S") then
      marked = false
    end
  end
  return out
end

-- { ------ LuaLS definition files

local function ident(s) return (s:gsub("[^%w_]", "_")) end

--- The class part and member of an entry path: "queue.Queue:put" ->
-- "queue.Queue", ":", "put"; "queue.Queue" -> "queue", ".", "Queue".
function M.split(path)
  local cls, m = path:match("^(.+):([%w_]+)$")
  if cls then return cls, ":", m end
  local a, b = path:match("^(.+)%.([%w_]+)$")
  if a then return a, ".", b end
  return nil, nil, path
end

local function comment(e)
  local s = {}
  if e.summary then s[#s + 1] = "--- " .. e.summary:gsub("`", "") end
  s[#s + 1] = ("--- Reference: %s, entry `%s`"):format((e.file:gsub("^.*docs/", "docs/")), e.path)
  return table.concat(s, "\n")
end

local KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil "
  .. "not or repeat return then true until while"):gmatch("%a+") do KEYWORDS[w] = true end

local function function_def(out, e, owner, sep)
  out[#out + 1] = comment(e)
  local byname = {}
  for _, p in ipairs(e.params_doc) do byname[p.name] = p end
  local names = {}
  for _, name in ipairs(e.params or {}) do
    local p = byname[name]
    local ty = p and p.type or "any"
    if name == "..." then
      out[#out + 1] = "---@param ... " .. ty
    else
      local opt = (p and (p.default or ty:match("%?$"))) and "?" or ""
      out[#out + 1] = ("---@param %s%s %s"):format(name, opt, (ty:gsub("%?$", "")))
    end
    names[#names + 1] = name
  end
  for _, o in ipairs(e.overloads) do out[#out + 1] = "---@overload " .. o end
  if e.returns and e.returns ~= "nothing" then
    for r in e.returns:gmatch("[^,]+") do
      out[#out + 1] = "---@return " .. r:match("^%s*(.-)%s*$")
    end
  end
  if KEYWORDS[e.member] then
    out[#out + 1] = ("%s[%q] = function(%s) end\n"):format(owner, e.member,
      table.concat(names, ", "))
  else
    out[#out + 1] = ("function %s%s%s(%s) end\n"):format(owner, sep, e.member,
      table.concat(names, ", "))
  end
end

--- The text of types/braid/<file>.lua for the module of `alias`.
-- `docs` is M.load's result. Classes are the entries' owners that are
-- not the module itself.
function M.types_for(docs, alias)
  local mod = docs.modules[alias]
  local out = { "---@meta " .. mod,
    "-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.",
    "-- LuaLS definitions for `require \"" .. mod .. "\"`.", "" }
  local classes, order, modentries = {}, {}, {}
  for _, e in ipairs(docs.entries) do
    local owner, sep, member = M.split(e.path)
    e.member = member
    if owner == alias then
      modentries[#modentries + 1] = e
    elseif owner and owner:match("^" .. alias .. "%.[%w_%.]+$") then
      if not classes[owner] then classes[owner] = {}; order[#order + 1] = owner end
      local c = classes[owner]
      c[#c + 1] = { e = e, sep = sep }
    end
  end
  out[#out + 1] = ("---@class %s"):format(alias)
  local local_mod = "M"
  out[#out + 1] = "local " .. local_mod .. " = {}\n"
  for _, owner in ipairs(order) do
    local of = docs.methods_of[owner]
    out[#out + 1] = ("---@class %s%s"):format(owner, of and (" : " .. of) or "")
    for _, m in ipairs(classes[owner]) do
      if m.sep == "." and not m.e.params then
        out[#out + 1] = ("---@field %s %s"):format(m.e.member, m.e.type or "any")
      end
    end
    out[#out + 1] = ("local %s = {}\n"):format(ident(owner))
    for _, m in ipairs(classes[owner]) do
      if m.e.params then function_def(out, m.e, ident(owner), m.sep) end
    end
  end
  for _, e in ipairs(modentries) do
    if e.params then
      function_def(out, e, local_mod, ".")
    else
      out[#out + 1] = comment(e)
      out[#out + 1] = ("---@type %s"):format(e.type or "any")
      out[#out + 1] = ("%s[%q] = nil\n"):format(local_mod, e.member)
    end
  end
  out[#out + 1] = "return " .. local_mod
  return table.concat(out, "\n") .. "\n"
end

--- The text of the types file of a module that is another's second name.
function M.types_same(mod, as)
  return table.concat({ "---@meta " .. mod,
    "-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.",
    "-- `require \"" .. mod .. "\"` is the same module as `require \"" .. as .. "\"`.",
    "return require(" .. ("%q"):format(as) .. ")", "" }, "\n")
end

--- Every types file: {path = text}.
function M.all_types(docs)
  local out = {}
  for alias, mod in pairs(docs.modules) do
    out[M.types_path(docs, mod)] = M.types_for(docs, alias)
  end
  for mod, as in pairs(docs.same_modules) do
    out[M.types_path(docs, mod)] = M.types_same(mod, as)
  end
  return out
end

--- The types file path of a module: braid.queue -> types/braid/queue.lua,
-- braid -> types/braid/init.lua, braid.multiprocessing ->
-- types/braid/multiprocessing/init.lua when it has submodules.
function M.types_path(docs, mod)
  local has_children = false
  for _, m in pairs(docs.modules) do
    if m:sub(1, #mod + 1) == mod .. "." then has_children = true end
  end
  local p = "types/" .. mod:gsub("%.", "/")
  return has_children and (p .. "/init.lua") or (p .. ".lua")
end
-- } ------

return M

#!/usr/bin/env lua5.4
-- Writes the LuaLS definition files types/braid/**.lua from the reference
-- pages docs/*.md (see scripts/docslib.lua for the grammar). Run from the
-- repository's root after changing a page: lua5.4 scripts/gen_types.lua
-- spec/docs_spec.lua fails when the committed files differ from its output.
local docslib = dofile("scripts/docslib.lua")
local docs = docslib.load("docs")
local n = 0
for alias, mod in pairs(docs.modules) do
  local path = docslib.types_path(docs, mod)
  os.execute("mkdir -p " .. path:match("^(.*)/[^/]+$"))
  local f = assert(io.open(path, "wb"))
  f:write(docslib.types_for(docs, alias))
  f:close()
  n = n + 1
end
print(("wrote %d files under types/"):format(n))

#!/usr/bin/env lua5.4
-- Writes the LuaLS definition files types/braid/**.lua from the reference
-- pages docs/*.md (see scripts/docslib.lua for the grammar). Run from the
-- repository's root after changing a page: lua5.4 scripts/gen_types.lua
-- spec/docs_spec.lua fails when the committed files differ from its output.
local docslib = dofile("scripts/docslib.lua")
local docs = docslib.load("docs")
local n = 0
for path, text in pairs(docslib.all_types(docs)) do
  os.execute("mkdir -p " .. path:match("^(.*)/[^/]+$"))
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  n = n + 1
end
print(("wrote %d files under types/"):format(n))

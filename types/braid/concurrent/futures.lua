---@meta braid.concurrent.futures
-- Generated from docs/*.md by scripts/gen_types.lua; do not edit.
-- `require "braid.concurrent.futures"` is the same module as `require "braid.futures"`.
return require("braid.futures")

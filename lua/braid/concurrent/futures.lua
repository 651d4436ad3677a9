--- `require "braid.concurrent.futures"`: the same module as `braid.futures`
-- (Python's `concurrent.futures`).
-- @module braid.concurrent.futures
return require "braid.futures"

--- Helpers shared by the specs: typed-error assertions and bounded waits.
local errors = require "braid.errors"

local M = {}

--- Calls fn(...) and asserts it raises an instance of `cls`; returns the
-- error object so that a spec can check its message.
function M.raises(cls, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then
    error(("expected %s, but the call succeeded"):format(cls.name), 2)
  end
  if not errors.is(cls, err) then
    error(("expected %s, got %s"):format(cls.name, tostring(err)), 2)
  end
  return err
end

--- Asserts that the error's message contains `text` (plain find).
function M.message_has(err, text)
  local msg = type(err) == "table" and tostring(err.message) or tostring(err)
  if not msg:find(text, 1, true) then
    error(("message %q does not contain %q"):format(msg, text), 2)
  end
end

--- Seconds of a monotonic clock (for generous timing bounds only).
M.now = require("braid.core").monotonic

return M

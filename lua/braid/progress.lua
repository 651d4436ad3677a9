--- `braid.progress`: a progress bar (count, rate, ETA) for long loops over
-- results or futures, drawn on stderr when it is a terminal and silent
-- otherwise.
--
--     for i, r in braid.progress(ex:map(f, items)) do ... end
--     for f in braid.progress(list_of_futures) do ... end    -- as_completed
--     for i, v in braid.progress(sequence, {desc = "files"}) do ... end
--
-- `braid.progress(iterable [, opts])` takes a sequence table (iterated like
-- ipairs), a table of futures (iterated as they complete), or a
-- generic-for iterator (`f, s, c [, closing]`, such as what `Executor:map`,
-- `Pool:imap` and `as_completed` return: their totals are known). The
-- options: `total` (for other iterators), `desc`, `file` (default
-- io.stderr), `min_interval` (seconds between redraws, default 0.1),
-- `force` (draw even when not a terminal), `enabled` (false: never draw).
-- `Executor:map`, `Pool:map`/`imap`/`imap_unordered` and `as_completed`
-- also take `progress = true` in their options table.
-- @module braid.progress
local core = require "braid.core"

local setmetatable, getmetatable, type, floor, huge, io, require =
  setmetatable, getmetatable, type, math.floor, math.huge, io, require
local now = core.monotonic
_ENV = nil

local M = {}

-- Iterators made by braid whose total is known (weak keys), and those that
-- yield `index, result` (their results are the second value).
M._totals = setmetatable({}, { __mode = "k" })
M._indexed = setmetatable({}, { __mode = "k" })

local function hms(s)
  if s ~= s or s == huge or s < 0 then return "?" end
  s = floor(s + 0.5)
  local h, m = s // 3600, (s % 3600) // 60
  s = s % 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s) end
  return ("%02d:%02d"):format(m, s)
end

local Bar = {}
Bar.__index = Bar

local WIDTH = 25

--- A bar object: `M.Bar{total=, desc=, file=, min_interval=, force=}`
-- with `update(n)` (absolute count) and `close()`.
function M.Bar(opts)
  opts = opts or {}
  local file = opts.file or io.stderr
  local enabled = opts.force and true or false
  if not enabled and opts.enabled ~= false then
    enabled = core.isatty(file == io.stdout and 1 or 2)
  end
  return setmetatable({
    total = opts.total, desc = opts.desc, file = file, enabled = enabled,
    min_interval = opts.min_interval or 0.1, count = 0,
    t0 = now(), last = -huge, closed = false,
  }, Bar)
end

function Bar:render()
  local elapsed = now() - self.t0
  local n, total = self.count, self.total
  local rate = elapsed > 0 and n / elapsed or 0
  local head = self.desc and (self.desc .. ": ") or ""
  local line
  if total and total > 0 then
    local frac = n / total
    if frac > 1 then frac = 1 end
    local fill = floor(frac * WIDTH)
    local eta = rate > 0 and (total - n) / rate or huge
    line = ("%s%3d%%|%s%s| %d/%d [%s<%s, %.1f it/s]"):format(head,
      floor(frac * 100), ("#"):rep(fill), (" "):rep(WIDTH - fill), n, total,
      hms(elapsed), hms(eta), rate)
  else
    line = ("%s%d it [%s, %.1f it/s]"):format(head, n, hms(elapsed), rate)
  end
  return line
end

function Bar:update(n)
  self.count = n
  if not self.enabled or self.closed then return end
  local t = now()
  if t - self.last >= self.min_interval or n == self.total then
    self.last = t
    self.file:write("\r", self:render(), "\27[K")
    if self.file.flush then self.file:flush() end
  end
end

function Bar:close()
  if self.closed then return end
  if self.enabled then
    self.last = -huge
    self:update(self.count)
    self.file:write("\n")
  end
  self.closed = true
end

local function is_opts(t)
  return type(t) == "table" and getmetatable(t) == nil and
    (t.total ~= nil or t.desc ~= nil or t.file ~= nil or t.force ~= nil or
     t.enabled ~= nil or t.min_interval ~= nil)
end

local closer_meta = { __close = function(c)
  c.bar:close()
  local inner = c.inner
  if inner ~= nil then
    local mt = getmetatable(inner)
    if mt and mt.__close then mt.__close(inner) end
  end
end }

local function isfuture(v)
  local futures = require "braid.futures"
  return futures._isfuture(v)
end

--- See the module's description.
local function progress(a, b, c, d, e)
  local f, s, ctl, inner, opts
  if type(a) == "table" then
    opts = b or {}
    if a[1] ~= nil and isfuture(a[1]) then
      local futures = require "braid.futures"
      f, s, ctl, inner = futures.as_completed(a)
      opts.total = opts.total or M._totals[f]
    else
      local t, n = a, a.n or #a
      opts.total = opts.total or n
      f = function(_, i)
        i = i + 1
        if i > n then return nil end
        return i, t[i]
      end
      s, ctl = t, 0
    end
  else
    f = a
    if is_opts(b) then opts = b
    else s, ctl, inner, opts = b, c, d, e end
    opts = opts or {}
    opts.total = opts.total or M._totals[f]
  end
  local bar = M.Bar(opts)
  local count = 0
  bar:update(0)
  local function iter(st, cv)
    local r1, r2, r3, r4 = f(st, cv)
    if r1 == nil then bar:close(); return nil end
    count = count + 1
    bar:update(count)
    return r1, r2, r3, r4
  end
  if M._indexed[f] then M._indexed[iter] = true end
  M._totals[iter] = opts.total
  return iter, s, ctl, setmetatable({ bar = bar, inner = inner }, closer_meta)
end

M.progress = progress

return setmetatable(M, { __call = function(_, ...)
  return progress(...)
end })

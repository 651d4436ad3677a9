-- examples/frame_loop.lua: a game-style frame loop that hands work to a
-- thread pool and never blocks: each frame it submits what it needs, calls
-- braid.poll() once (done-callbacks run here, in this state), and draws.
--   build/bin/braid examples/frame_loop.lua [--quick]
local braid = require "braid"
local futures = braid.futures

local quick = arg and arg[1] == "--quick"
local FRAMES = quick and 60 or 600
local FRAME_TIME = 1 / 60

-- "expensive" work: build a chunk of terrain heights
local function make_chunk(cx, seed)
  local h = {}
  for i = 1, 2000 do
    h[i] = math.floor(50 + 40 * math.sin((cx * 2000 + i) * 0.001 + seed))
  end
  return { cx = cx, heights = h }
end

local ex <close> = futures.ThreadPoolExecutor(2)
local loaded, requested, callbacks = {}, {}, 0

for frame = 1, FRAMES do
  local t0 = braid.core.monotonic()
  -- the camera moves right: ask for the chunks around it
  local cam = frame // 10
  for cx = cam, cam + 2 do
    if not requested[cx] then
      requested[cx] = true
      local f = ex:submit(make_chunk, cx, 0.5)
      f:add_done_callback(function(done)
        -- runs in this (main) state, inside braid.poll() below
        local chunk = done:result()
        loaded[chunk.cx] = chunk
        callbacks = callbacks + 1
      end)
    end
  end
  braid.poll() -- never blocks
  -- "draw": only what has arrived
  local visible = 0
  for cx = cam, cam + 2 do if loaded[cx] then visible = visible + 1 end end
  if frame % 20 == 0 then
    print(("frame %3d: camera at chunk %d, %d of 3 chunks visible"):format(frame, cam, visible))
  end
  local left = FRAME_TIME - (braid.core.monotonic() - t0)
  if left > 0 then braid.core.sleep(left) end
end

ex:shutdown(true)
braid.poll()
print(("%d chunks loaded by callbacks"):format(callbacks))

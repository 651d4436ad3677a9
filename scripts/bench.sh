#!/bin/sh
# bench.sh [workload...]: builds braid into ./build if needed, then runs
# every benchmark (or the named ones: thread_start, big_table, stream,
# stream_batched, ping_pong, fan_out, idle_cpu, ... see bench/README.md)
# and prints the summary table. Results: bench/results/<workload>.json.
set -eu
cd "$(dirname "$0")/.."
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p bench/results
LUA_PATH_5_4="./lua/?.lua;./lua/?/init.lua;;" \
LUA_CPATH_5_4="./build/?.so;${LUA_CPATH_5_4:-;}" \
BRAID_BUILD_DIR=./build \
  exec lua5.4 bench/run.lua "$@"

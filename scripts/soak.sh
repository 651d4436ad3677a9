#!/usr/bin/env bash
# Soak: scripts/soak.sh [MINUTES [POOL_METHOD [EXECUTOR_METHOD]]] (default
# 10 minutes, fork, spawn). Runs scripts/soak.lua with build/bin/braid
# (build it first: scripts/setup.sh): a Pool and a ProcessPoolExecutor
# process streams of tasks while a chaos thread SIGKILLs a random worker
# every 0.5-2 s, threads churn and two queues carry 8 producers x 8
# consumers each. Prints one summary line; exits non-zero on any failure
# (a task lost or settled twice, a wrong sum, a zombie, descriptors or
# memory not back within 5 % of their value after the warm-up).
# BRAID_HOST overrides the host binary. MALLOC_ARENA_MAX defaults to 1:
# malloc_trim gives back the free top of the main arena only, so with
# glibc's per-thread arenas (up to 8 per core) what they keep after a
# burst of threads varies by megabytes from run to run (their high-water
# marks), which would hide a leak's growth in noise.
set -uo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
HOST=${BRAID_HOST:-build/bin/braid}
case "$MINUTES" in
  ''|*[!0-9.]*) echo "usage: scripts/soak.sh [minutes [pool_method [executor_method]]]" >&2; exit 2;;
esac
SECONDS_=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 }')
[ -x "$HOST" ] || { echo "soak: no $HOST (run scripts/setup.sh)" >&2; exit 2; }
# the soak's own bound: its duration, the warm-up (at most 2 x 30 s) and
# draining, with a wide margin
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-1}
exec timeout $((SECONDS_ * 2 + 600)) "$HOST" scripts/soak.lua "$SECONDS_" "${2:-fork}" "${3:-spawn}"

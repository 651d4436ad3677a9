#!/usr/bin/env bash
# Sets everything up, then runs the main demo: a CPU-bound job (counting
# primes) done sequentially and then with one braid thread per core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/bin/braid examples/demo_primes.lua "$@"

#!/bin/sh
# fuzz.sh [seconds] [extra libFuzzer flags...]: builds the libFuzzer targets
# with clang into build-fuzz and runs one for 'seconds' (default 60): the
# target named by BRAID_FUZZ_TARGET (default fuzz_decode, on a copy of
# fuzz/corpus; fuzz_frame, the handshake and frame reader, on a copy of
# fuzz/corpus-frame; fuzz_fdshare, the descriptor sharer's requests, on a
# copy of fuzz/corpus-fdshare; fuzz_poolframe, a process pool's frames
# between proxy and child, on a copy of fuzz/corpus-poolframe), the copy
# fuzz/corpus-run[-frame...] kept between runs, git-ignored.
# Crashing inputs land in build-fuzz/artifacts/. Prints libFuzzer's final stats.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift

if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang cmake -S . -B build-fuzz -DBRAID_FUZZ=ON -DBRAID_BUILD_MODULE=OFF \
    -DBRAID_BUILD_SHARED=OFF -DBRAID_BUILD_HOST=OFF -DBRAID_BUILD_TESTS=OFF \
    >/dev/null
fi
target=${BRAID_FUZZ_TARGET:-fuzz_decode}
case $target in
  fuzz_decode) corpus=fuzz/corpus run=fuzz/corpus-run ;;
  fuzz_frame) corpus=fuzz/corpus-frame run=fuzz/corpus-run-frame ;;
  fuzz_fdshare) corpus=fuzz/corpus-fdshare run=fuzz/corpus-run-fdshare ;;
  fuzz_poolframe) corpus=fuzz/corpus-poolframe run=fuzz/corpus-run-poolframe ;;
  *) echo "fuzz.sh: unknown target $target" >&2; exit 2 ;;
esac
cmake --build build-fuzz -j"$(nproc)" --target "$target" >/dev/null

mkdir -p "$run" build-fuzz/artifacts
cp -n "$corpus"/* "$run"/ 2>/dev/null || true

log=build-fuzz/$target.log
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
./build-fuzz/"$target" -max_total_time="$secs" -timeout=10 \
  -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/artifacts/ "$@" "$run" >"$log" 2>&1
rc=$?
set -e
# the last progress line and the final stats (execution count)
grep -E '^#[0-9]+' "$log" | tail -n 1
grep -E '^Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec' "$log" || true
if [ $rc -ne 0 ]; then
  echo "fuzz.sh: $target exited with $rc: see $log and build-fuzz/artifacts/" >&2
  grep -E 'ERROR: |SUMMARY: |^    #[0-9]+ ' "$log" | head -n 30 >&2
fi
exit $rc

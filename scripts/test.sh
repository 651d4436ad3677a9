#!/usr/bin/env bash
# Sets everything up, then runs every test: the C tests, each busted spec
# file in its own process with a time limit, the examples, the embedding
# example, a luarocks install into a scratch tree, the suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and a short fuzzing run.
# Ends with one line "N passed, N failed" (all runners' counts summed).
#
# Environment: BRAID_QUICK=1 skips the sanitizer and fuzz stages;
# BRAID_TSAN=0 skips the ThreadSanitizer run of the specs.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

scripts/setup.sh -DBRAID_WERROR=ON || { echo "0 passed, 1 failed"; exit 1; }

PASSED=0
FAILED=0
FAILURES=()
LOG_DIR=$(mktemp -d)

pass() { PASSED=$((PASSED + ${1:-1})); }
fail() { FAILED=$((FAILED + ${2:-1})); FAILURES+=("$1"); }

# run_busted LABEL CPATH [env...]: every spec file, each in its own process.
# busted runs inside lua5.4 itself (--ignore-lua): Debian's /usr/bin/busted
# starts under Lua 5.1 and re-executes, which sanitizer runtimes do not
# survive.
BUSTED="lua5.4 $(command -v busted) --ignore-lua"
run_busted() {
  local label=$1 cpath=$2; shift 2
  local f out s fl e
  for f in spec/*_spec.lua; do
    case " ${SKIP_SPECS:-} " in *" $(basename "$f") "*) echo "[$label] $f: skipped"; continue;; esac
    out="$LOG_DIR/$(basename "$f").$label.log"
    env "$@" timeout 600 $BUSTED --cpath="$cpath" -o utfTerminal "$f" >"$out" 2>&1
    local rc=$?
    local line
    line=$(grep -E '^[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$out" | tail -1)
    if [ -n "$line" ]; then
      s=$(echo "$line" | awk '{print $1}')
      fl=$(echo "$line" | awk '{print $4}')
      e=$(echo "$line" | awk '{print $7}')
      pass "$s"
      if [ $((fl + e)) -gt 0 ] || [ $rc -ne 0 ]; then
        fail "$label $f" $((fl + e > 0 ? fl + e : 1))
        sed -n '1,200p' "$out"
      fi
      echo "[$label] $f: $line"
    else
      fail "$label $f (no summary, exit $rc)"
      echo "[$label] $f: crashed or timed out (exit $rc)"
      tail -50 "$out"
    fi
  done
}

# run_ctests DIR [env...]: every C test binary prints "N passed, N failed".
run_ctests() {
  local dir=$1; shift
  local t out line p f
  for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    out="$LOG_DIR/$(basename "$t").log"
    env "$@" timeout 300 "$t" >"$out" 2>&1
    local rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    if [ -n "$line" ]; then
      p=$(echo "$line" | awk '{print $1}')
      f=$(echo "$line" | awk '{print $3}')
      pass "$p"
      if [ "$f" -gt 0 ] || [ $rc -ne 0 ]; then
        fail "C $(basename "$t")" $((f > 0 ? f : 1)); cat "$out"
      fi
      echo "[C] $(basename "$t"): $line"
    else
      fail "C $(basename "$t") (exit $rc)"; cat "$out"
    fi
  done
}

# check LABEL command...: one pass or fail.
check() {
  local label=$1; shift
  local out="$LOG_DIR/check.$(echo "$label" | tr -c 'a-zA-Z0-9' _).log"
  if "$@" >"$out" 2>&1; then
    pass; echo "[check] $label: ok"
  else
    fail "$label"; echo "[check] $label: FAILED"; tail -40 "$out"
  fi
}

echo "== layers (src/include < src/os < src/core < src/bind; docs/ARCHITECTURE.md)"
check "layer rules (scripts/check_layers.lua)" lua5.4 scripts/check_layers.lua

echo "== C tests"
run_ctests build

echo "== busted specs"
run_busted main "./build/?.so"

echo "== examples"
for ex in examples/*.lua examples/seeds/*.lua; do
  check "example ${ex#examples/}" timeout 300 build/bin/braid "$ex" --quick
done
if [ -x build/embed_host ]; then
  check "embedding host (examples/embed)" timeout 120 build/embed_host examples/embed/script.lua
fi

echo "== braid host program"
check "braid -v" build/bin/braid -v
check "braid --help" bash -c 'build/bin/braid --help | grep -q "^usage: " && build/bin/braid -h | grep -q -- "--help"'
check "braid -e" bash -c 'test "$(build/bin/braid -e "print(require(\"braid.threading\").current_thread().name)")" = MainThread'
check "braid exit status" bash -c 'build/bin/braid -e "os.exit(7)"; test $? -eq 7'
check "braid error status" bash -c '! build/bin/braid -e "error(\"x\")" 2>/dev/null'
check "braid - (stdin)" bash -c 'test "$(echo "print(1+1)" | build/bin/braid -)" = 2'
check "braid -i" bash -c 'echo "print(40+2)" | build/bin/braid -i | grep -qx "> 42"'

echo "== soak (1 minute; scripts/soak.sh 10 for the full one)"
# Pools under a chaos thread that SIGKILLs workers, thread churn, queues:
# every task accounted for, exact queue sums, no zombie, fds and RSS back
# to their values after the warm-up. Its summary line is in the log.
check "soak 1 minute" scripts/soak.sh 1
grep -h '^soak:' "$LOG_DIR"/check.soak_1_minute*.log 2>/dev/null || true

echo "== luarocks make (offline, scratch tree)"
ROCKTREE=$(mktemp -d)
check "luarocks make + require" bash -c "
  luarocks --lua-version=5.4 make --tree='$ROCKTREE' --deps-mode=none braid-scm-1.rockspec &&
  cd / && eval \"\$(luarocks --lua-version=5.4 path --tree='$ROCKTREE')\" &&
  lua5.4 -e 'local t = require(\"braid.threading\"); local x = t.Thread{target=function() end}; x:start(); x:join(); print(require(\"braid\").version)'"
rm -rf "$ROCKTREE" build.luarocks

echo "== packaging (offline)"
# the versioned source rock: git archive -> luarocks pack (scripts/rock.sh);
# the full pass also builds that rock into a scratch tree and requires it
check "luarocks pack (braid-0.1.0-1.src.rock)" bash -c '
  rock=$(scripts/rock.sh pack) && unzip -l "$rock" | grep -q "braid-0.1.0-1.rockspec" &&
  unzip -l "$rock" | grep -q "braid-0.1.0.tar.gz"'
check "luarocks lint (both rockspecs)" bash -c '
  luarocks --lua-version=5.4 lint braid-0.1.0-1.rockspec &&
  luarocks --lua-version=5.4 lint braid-scm-1.rockspec'
check "luarocks test (busted, one spec)" scripts/rock.sh test spec/errors_spec.lua
check "C host via find_package(braid) and pkg-config" scripts/check_install.sh

echo "== documentation"
check "LDoc HTML (build/ldoc) without warnings" scripts/ldoc.sh
rm -rf build.luarocks

if [ "${BRAID_QUICK:-0}" != 1 ]; then
  check "luarocks build of the packed source rock + require" scripts/rock.sh build
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
  if cmake -S . -B build-asan -DBRAID_ASAN=ON -DBRAID_WERROR=ON >/dev/null &&
     cmake --build build-asan -j"$(nproc)" >/dev/null; then
    ASAN_LIB=$(gcc -print-file-name=libasan.so)
    UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
    run_ctests build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # procpool_spec without fork: see BRAID_SPEC_METHODS there
    run_busted asan "./build-asan/?.so" BRAID_HOST=build-asan/bin/braid \
      BRAID_SPEC_METHODS=spawn,forkserver \
      LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" \
      ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  else
    fail "sanitizer build"
  fi
  if [ "${BRAID_TSAN:-1}" = 1 ]; then
    echo "== ThreadSanitizer"
    if cmake -S . -B build-tsan -DBRAID_TSAN=ON >/dev/null &&
       cmake --build build-tsan -j"$(nproc)" >/dev/null; then
      # process_spec forks, which the preloaded TSan runtime does not
      # survive; it runs in the main and ASan passes. procpool_spec runs
      # with spawn only here (its pools' proxy threads are what TSan checks).
      # sigint_spec runs its scripts through io.popen, whose /bin/sh
      # does not survive the preloaded runtime (checked by hand instead:
      # docs/HACKING.md "Ctrl-C").
      # oom_spec fails a sample of 100 allocations per scenario here
      # (every one of them in the other passes).
      # deep_spec's values are 10 times smaller here (BRAID_DEEP_NODES):
      # still far deeper than any fixed limit, in a fifth of the time.
      # layers_spec checks source files (no threads) and copies the tree
      # with a shell, which the preloaded runtime does not survive either.
      # subprocess_spec and subprocess_sigint_spec mark themselves pending
      # here: the programs they start (/bin/sh, cat...) inherit the
      # preloaded runtime and do not survive it.
      SKIP_SPECS="process_spec.lua sigint_spec.lua layers_spec.lua" \
      run_busted tsan "./build-tsan/?.so" BRAID_HOST=none BRAID_SPEC_METHODS=spawn \
        BRAID_OOM_RUNS=100 BRAID_DEEP_NODES=10000 \
        LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" \
        TSAN_OPTIONS="halt_on_error=1"
    else
      fail "tsan build"
    fi
  fi
  if [ -x scripts/fuzz.sh ]; then
    echo "== fuzzing the decoder (short run)"
    check "fuzz decoder 30 s" scripts/fuzz.sh 30
    echo "== fuzzing the frame reader and the handshake (short run)"
    check "fuzz frame/handshake 20 s" env BRAID_FUZZ_TARGET=fuzz_frame scripts/fuzz.sh 20
    echo "== fuzzing the descriptor sharer's requests (short run)"
    check "fuzz fdshare 10 s" env BRAID_FUZZ_TARGET=fuzz_fdshare scripts/fuzz.sh 10
    echo "== fuzzing a process pool's frames between proxy and child (short run)"
    check "fuzz poolframe 15 s" env BRAID_FUZZ_TARGET=fuzz_poolframe scripts/fuzz.sh 15
  fi
fi

rm -rf "$LOG_DIR"
if [ ${#FAILURES[@]} -gt 0 ]; then
  echo "Failed:"
  printf '  %s\n' "${FAILURES[@]}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

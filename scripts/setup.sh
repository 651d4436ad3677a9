#!/usr/bin/env bash
# Installs what braid needs (Debian packages) and builds it into ./build.
# Idempotent: installs only what is missing, reconfigures only when needed.
# Usage: scripts/setup.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(lua5.4 liblua5.4-dev lua-cjson lua-busted luarocks cmake make gcc
          clang libclang-rt-14-dev libasan8 libubsan1 libtsan2 python3 pkg-config libssl-dev
          lua-ldoc lua-discount)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "setup: built ./build (module build/braid/core.so, host build/bin/braid)"

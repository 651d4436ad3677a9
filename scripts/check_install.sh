#!/usr/bin/env bash
# Installs ./build into a scratch prefix and builds a C host against it
# twice: with CMake's find_package(braid) and with pkg-config (braid.pc).
# Both hosts must run a braid thread. Usage: scripts/check_install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cmake --install build --prefix "$T/prefix" >/dev/null
# find_package
cmake -S spec/install -B "$T/cm" -DCMAKE_PREFIX_PATH="$T/prefix" >/dev/null
cmake --build "$T/cm" >/dev/null
"$T/cm/host" | grep -q '^braid 0\.1\.0$'
echo "find_package(braid): ok"
# pkg-config: the flags braid.pc gives, libbraid.so found at run time
PC=$(find "$T/prefix" -name braid.pc)
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$PC")
LIBDIR=$(pkg-config --variable=libdir braid)
# shellcheck disable=SC2046
cc -o "$T/pc-host" spec/install/host.c $(pkg-config --cflags --libs --static braid)
LD_LIBRARY_PATH="$LIBDIR" "$T/pc-host" | grep -q '^braid 0\.1\.0$'
echo "pkg-config braid: ok ($(pkg-config --modversion braid))"

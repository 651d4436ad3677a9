#!/usr/bin/env bash
# The versioned rock, offline:
#   scripts/rock.sh pack   git archive of the work tree -> dist/braid-0.1.0-1.src.rock
#   scripts/rock.sh build  pack, then build and install that source rock into
#                          a scratch tree and require braid from it
#   scripts/rock.sh test [spec files...]
#                          `luarocks test braid-0.1.0-1.rockspec` (busted on
#                          ./build; run scripts/setup.sh first)
# luarocks' busted test type needs busted as a rock; Debian installs it as
# a system package, so `test` puts a shim rock that runs the system busted
# into a scratch tree first (no network).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VER=0.1.0
ROCKSPEC=braid-$VER-1.rockspec
LR="luarocks --lua-version=5.4"

pack() {
  mkdir -p dist
  local tmp; tmp=$(mktemp -d)
  # tracked files as they are now (uncommitted changes included)
  local tree; tree=$(git stash create); tree=${tree:-HEAD}
  git archive --format=tar.gz --prefix="braid-$VER/" -o "$tmp/braid-$VER.tar.gz" "$tree"
  sed "s|^  url = .*|  url = \"file://$tmp/braid-$VER.tar.gz\",|" "$ROCKSPEC" > "$tmp/$ROCKSPEC"
  (cd dist && $LR pack "$tmp/$ROCKSPEC" >/dev/null)
  rm -rf "$tmp"
  echo "dist/braid-$VER-1.src.rock"
}

case "${1:-}" in
  pack) pack ;;
  build)
    rock="$ROOT/$(pack)"
    tree=$(mktemp -d); work=$(mktemp -d)
    trap 'rm -rf "$tree" "$work"' EXIT
    (cd "$work" && $LR build --tree="$tree" --deps-mode=none "$rock" >/dev/null)
    (cd / && eval "$($LR path --tree="$tree")" &&
      lua5.4 -e 'local t = require("braid.threading"); local x = t.Thread{target=function() end}; x:start(); x:join(); print(require("braid").version)')
    types=$($LR show --tree="$tree" --rock-dir braid)/share/braid/types/braid/threading.lua
    test -f "$types" && echo "types: $types"
    ;;
  test)
    shift
    tree=$(mktemp -d)
    trap 'rm -rf "$tree"' EXIT
    shim=$(mktemp -d)
    mkdir -p "$shim/bin"
    cat > "$shim/bin/busted" <<'SH'
#!/bin/sh
exec lua5.4 /usr/bin/busted --ignore-lua "$@"
SH
    chmod +x "$shim/bin/busted"
    cat > "$shim/busted-2.1.1-1.rockspec" <<SPEC
package = "busted"
version = "2.1.1-1"
source = { url = "file://$shim/bin/busted" }
build = { type = "builtin", modules = {}, install = { bin = { busted = "bin/busted" } } }
SPEC
    (cd "$shim" && $LR make --tree="$tree" --deps-mode=none busted-2.1.1-1.rockspec >/dev/null)
    rm -rf "$shim"
    # the scratch tree is where luarocks looks for the busted rock
    printf 'rocks_trees = { { name = "braid-test", root = "%s" } }\n' "$tree" > "$tree/config.lua"
    LUAROCKS_CONFIG="$tree/config.lua" $LR test "$ROCKSPEC" -- "$@"
    ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac

#!/usr/bin/env bash
# Builds the HTML reference with LDoc (Debian's lua-ldoc, with lua-discount
# for Markdown) from the Lua layer's doc comments and the pages in docs/
# (config.ld) into build/ldoc, and fails when LDoc prints any warning.
# The output is not committed.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v ldoc >/dev/null || { echo "ldoc not found (apt-get install lua-ldoc lua-discount)"; exit 1; }
out=$(ldoc . 2>&1)
status=$?
# LDoc's normal output is these two lines; anything else is a warning
# (file:line: ..., or a fallback such as "markdown not found").
warnings=$(printf '%s\n' "$out" | grep -v -e '^reading configuration from config.ld$' \
  -e '^output written to ' -e '^$')
if [ $status -ne 0 ] || [ -n "$warnings" ]; then
  printf '%s\n' "$out"
  echo "ldoc: $(printf '%s\n' "$warnings" | grep -c .) warning(s)"
  exit 1
fi
echo "ldoc: build/ldoc/index.html, no warnings"

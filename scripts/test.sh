#!/usr/bin/env bash
# README command 2: install dependencies, build, run every test suite (unit, emulator,
# conformance, e2e) and print one summary; its last line is `N passed, N failed`.
# Exits non-zero if anything failed or if no test ran.
#
#   scripts/test.sh                      # build dir: build/
#   ASANAFS_BUILD_DIR=build-x scripts/test.sh
#   scripts/test.sh --suite unit         # extra arguments go to `meson test`
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${ASANAFS_BUILD_DIR:-build}

scripts/install-deps.sh

if [[ -f $build/build.ninja ]]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build"
fi
meson compile -C "$build"

results=$(cd "$build" && pwd)/test-results
rm -rf "$results" "$build/meson-logs/testlog.json"
mkdir -p "$results"
export GTEST_OUTPUT="xml:$results/"

status=0
meson test -C "$build" --num-processes 2 --print-errorlogs "$@" || status=$?
echo "meson test exited with $status"

/usr/bin/python3 tests/summarize.py "$build"

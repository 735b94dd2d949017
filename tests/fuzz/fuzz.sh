#!/bin/sh
# Fuzzes one target for real (a long session), as tests/fuzz/README.md describes.
# Usage: tests/fuzz/fuzz.sh BUILD_DIR TARGET [libFuzzer flags...]
#   e.g. tests/fuzz/fuzz.sh build-fuzz fuzz_json -runs=10000000
# Works in ${FUZZ_WORK:-/tmp/asanafs-fuzz}/TARGET: the seed corpus and the
# regression inputs are copied there first, new corpus entries and crash
# artifacts (crash-*, leak-*, timeout-*, oom-*) are written there, never
# into the source tree. Copy a crash into regressions/TARGET/ once it is fixed.
# FUZZ_FRESH=1 empties that directory first (the short CI runs of meson test).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
target=$2
shift 2
bin=$(cd "$build" && pwd)/tests/fuzz/$target
[ -x "$bin" ] || { echo "fuzz.sh: $bin not built (configure with -Dfuzz=true)" >&2; exit 2; }
work=${FUZZ_WORK:-/tmp/asanafs-fuzz}/$target
if [ "${FUZZ_FRESH:-0}" = 1 ]; then
  rm -rf "$work"
fi
mkdir -p "$work/corpus" "$work/artifacts"
for d in "$here/corpus/$target" "$here/regressions/$target"; do
  if [ -d "$d" ]; then
    find "$d" -type f ! -name 'README*' -exec cp -n {} "$work/corpus/" \;
  fi
done
dict=
if [ -f "$here/$target.dict" ]; then
  dict=-dict=$here/$target.dict
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp}
cd "$work"
# -print_final_stats=1 prints stat::number_of_executed_units at the end.
# shellcheck disable=SC2086
exec "$bin" -artifact_prefix="$work/artifacts/" -print_final_stats=1 $dict "$@" "$work/corpus"

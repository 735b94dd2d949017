#!/bin/sh
# Replays a fuzz target over its seed corpus and regression inputs, once each
# and without mutating anything: the `meson test --suite fuzz` entry point.
# Usage: replay.sh FUZZ_BINARY DIR...   (missing directories are skipped)
set -eu
bin=$1
shift
dirs=
for d in "$@"; do
  if [ -d "$d" ]; then
    dirs="$dirs $d"
  fi
done
if [ -z "$dirs" ]; then
  echo "replay.sh: none of the input directories exists" >&2
  exit 1
fi
# libFuzzer runs each file given on its command line once and exits non-zero
# on the first crash, leak, UB report or FUZZ_CHECK failure.
# shellcheck disable=SC2086
find $dirs -type f ! -name 'README*' -print0 | sort -z | xargs -0 -r "$bin"

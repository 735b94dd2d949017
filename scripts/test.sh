#!/usr/bin/env bash
# README command 2: install dependencies, build, run every test suite and print one
# summary; its last line is `N passed, N failed`. Three stages, all counted in it:
#   main  the normal build: unit, emulator, conformance and e2e suites
#   asan  a gcc build with -Db_sanitize=address,undefined: unit and e2e suites,
#         with every sanitizer report fatal (the daemon then exits non-zero and
#         its stderr holds the report, which fails the e2e test)
#   fuzz  a clang -Dfuzz=true build (ASan+UBSan): `meson test --suite fuzz`, i.e.
#         replay of tests/fuzz/corpus + regressions and a short run of each target
# Exits non-zero if anything failed, if a stage could not build, or if no test ran.
#
#   scripts/test.sh                      # build dirs: build/, build-asan/, build-fuzz/
#   ASANAFS_BUILD_DIR=build-x ASANAFS_ASAN_BUILD_DIR=build-x-asan \
#     ASANAFS_FUZZ_BUILD_DIR=build-x-fuzz scripts/test.sh
#   ASANAFS_STAGES="main fuzz" scripts/test.sh   # only some stages (default: all three)
#   ASANAFS_FUZZ_SECONDS=0 scripts/test.sh       # fuzz stage: replay only (default 60 s
#                                                # per target, at most 1M executions)
#   scripts/test.sh --suite unit         # extra arguments go to the main stage's `meson test`
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${ASANAFS_BUILD_DIR:-build}
asan_build=${ASANAFS_ASAN_BUILD_DIR:-build-asan}
fuzz_build=${ASANAFS_FUZZ_BUILD_DIR:-build-fuzz}
stages=${ASANAFS_STAGES:-main asan fuzz}
fuzz_seconds=${ASANAFS_FUZZ_SECONDS:-60}

scripts/install-deps.sh

summary_dirs=()    # build dirs whose meson test results count
stage_failures=()  # stages that failed before running their tests

want() { [[ " $stages " == *" $1 "* ]]; }

# setup DIR [meson options...]: configures DIR, or reconfigures it with the options.
setup() {
  local dir=$1
  shift
  if [[ -f $dir/build.ninja ]]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@"
  fi
}

# Empties DIR's results (and points GoogleTest's XML output there) before a run.
fresh_results() {
  local results
  results=$(cd "$1" && pwd)/test-results
  rm -rf "$results" "$1/meson-logs/testlog.json"
  mkdir -p "$results"
  export GTEST_OUTPUT="xml:$results/"
}

# --- main: the normal build, every suite -------------------------------------------
if want main; then
  echo "=== stage main: $build"
  if setup "$build" && meson compile -C "$build"; then
    fresh_results "$build"
    status=0
    meson test -C "$build" --num-processes 2 --print-errorlogs "$@" || status=$?
    echo "meson test ($build) exited with $status"
    summary_dirs+=("$build")
  else
    stage_failures+=("stage main: $build did not configure or build")
  fi
fi

# --- asan: unit + e2e under AddressSanitizer and UndefinedBehaviorSanitizer ---------
if want asan; then
  echo "=== stage asan: $asan_build"
  if setup "$asan_build" -Db_sanitize=address,undefined -Dman=disabled &&
      meson compile -C "$asan_build"; then
    fresh_results "$asan_build"
    status=0
    # Set here (meson test only fills in its own defaults when these are unset),
    # and inherited by the daemon and the emulator the e2e tests start. Any
    # report stops the process with a non-zero exit (UBSan too: halt_on_error),
    # after printing to stderr; the e2e harness fails a test whose daemon exits
    # non-zero or prints "Sanitizer"/"runtime error". Leaks are reported at exit.
    ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      meson test -C "$asan_build" --num-processes 2 --print-errorlogs --timeout-multiplier 3 \
        --suite unit --suite e2e || status=$?
    echo "meson test ($asan_build) exited with $status"
    summary_dirs+=("$asan_build")
  else
    stage_failures+=("stage asan: $asan_build did not configure or build")
  fi
fi

# --- fuzz: libFuzzer targets (clang): replay + short runs ---------------------------
if want fuzz; then
  echo "=== stage fuzz: $fuzz_build"
  fuzz_opts=(-Dfuzz=true -Dfuzz_seconds="$fuzz_seconds" -Db_sanitize=address,undefined
             -Db_lundef=false -Dbuildtype=debugoptimized -De2e=disabled -Dman=disabled)
  fuzz_targets=(fuzz_json fuzz_names fuzz_multipart fuzz_url)
  if [[ -f $fuzz_build/build.ninja ]]; then
    configured=0
    meson setup --reconfigure "$fuzz_build" "${fuzz_opts[@]}" >/dev/null && configured=1
  else
    configured=0
    CC=clang CXX=clang++ meson setup "$fuzz_build" "${fuzz_opts[@]}" && configured=1
  fi
  # Only the fuzz targets: the rest of this build is not tested here.
  if ((configured)) && meson compile -C "$fuzz_build" "${fuzz_targets[@]}"; then
    fresh_results "$fuzz_build"
    status=0
    meson test -C "$fuzz_build" --no-rebuild --num-processes 2 --print-errorlogs \
      --suite fuzz || status=$?
    echo "meson test ($fuzz_build) exited with $status"
    summary_dirs+=("$fuzz_build")
  else
    stage_failures+=("stage fuzz: $fuzz_build did not configure or build (needs clang)")
  fi
fi

summary_args=()
for f in "${stage_failures[@]+"${stage_failures[@]}"}"; do
  summary_args+=(--failure "$f")
done
if ((${#summary_dirs[@]} == 0 && ${#stage_failures[@]} == 0)); then
  echo "scripts/test.sh: no stage selected (ASANAFS_STAGES=$stages)" >&2
  summary_args+=(--failure "no stage ran")
fi
/usr/bin/python3 tests/summarize.py "${summary_args[@]+"${summary_args[@]}"}" \
  "${summary_dirs[@]+"${summary_dirs[@]}"}"

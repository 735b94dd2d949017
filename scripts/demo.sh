#!/usr/bin/env bash
# README command 1: install dependencies, build, start the Asana emulator with its
# `demo` world, mount asanafs over it, show the tree and one file, and leave it mounted.
#
#   scripts/demo.sh          # start (stops an earlier demo first)
#   scripts/demo.sh stop     # unmount and stop the emulator
#
# Everything lives under build/demo/ (ASANAFS_BUILD_DIR changes build/).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${ASANAFS_BUILD_DIR:-build}
demo=$repo/$build/demo
mnt=$demo/mnt
asanafs=$repo/$build/src/cli/asanafs
emulator=$repo/$build/tests/emulator/asana-emulator
token="emulator-token"  # the emulator's default token; not a secret

is_mounted() { mountpoint -q "$mnt" 2>/dev/null; }

# Sends SIGTERM to the pid in $1 if it still runs the program named $2, and waits for it.
stop_pid() {
  local pidfile=$1 name=$2 pid
  [[ -f $pidfile ]] || return 0
  pid=$(<"$pidfile")
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1 | grep -q "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: $name (pid $pid) did not stop; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

stop_demo() {
  if is_mounted; then
    fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
  fi
  # After the unmount the daemon exits by itself; give it a moment before SIGTERM.
  if [[ -f $demo/asanafs.pid ]]; then
    for _ in $(seq 50); do kill -0 "$(<"$demo/asanafs.pid")" 2>/dev/null || break; sleep 0.1; done
  fi
  stop_pid "$demo/asanafs.pid" asanafs
  stop_pid "$demo/emulator.pid" asana-emulator
}

fail() {
  echo "demo: $1" >&2
  [[ -n ${2:-} && -s $2 ]] && { echo "--- $2 ---" >&2; tail -n 30 "$2" >&2; }
  stop_demo
  exit 1
}

case ${1:-start} in
  stop)
    stop_demo
    echo "demo: stopped (files kept in $demo)"
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 [start|stop]" >&2
    exit 2
    ;;
esac

scripts/install-deps.sh
[[ -f $build/build.ninja ]] || meson setup "$build"
meson compile -C "$build" src/cli/asanafs tests/emulator/asana-emulator

stop_demo
rm -rf "$demo/state" "$demo/cache"
mkdir -p "$demo/state" "$mnt"

# The emulator: a local, stateful stand-in for app.asana.com on 127.0.0.1.
setsid "$emulator" --port 0 --state "$demo/state" --seed demo --token "$token" \
  >"$demo/emulator.out" 2>"$demo/emulator.log" </dev/null &
echo $! >"$demo/emulator.pid"
url=
for _ in $(seq 200); do
  url=$(sed -n 's/^READY //p' "$demo/emulator.out" | head -n1)
  [[ -n $url ]] && break
  kill -0 "$(<"$demo/emulator.pid")" 2>/dev/null || fail "the emulator exited" "$demo/emulator.log"
  sleep 0.1
done
[[ -n $url ]] || fail "the emulator did not become ready" "$demo/emulator.log"

# The token goes in a 0600 file, never on the command line.
(umask 077 && printf '%s\n' "$token" >"$demo/token")

setsid "$asanafs" -f "$mnt" -o "api_url=$url,token_file=$demo/token,cache_dir=$demo/cache" \
  >"$demo/asanafs.log" 2>&1 </dev/null &
echo $! >"$demo/asanafs.pid"
for _ in $(seq 200); do
  is_mounted && break
  kill -0 "$(<"$demo/asanafs.pid")" 2>/dev/null || fail "asanafs exited" "$demo/asanafs.log"
  sleep 0.1
done
is_mounted || fail "asanafs did not mount $mnt" "$demo/asanafs.log"

echo
echo "== The emulator's demo world, mounted at $mnt"
echo
find "$mnt" -mindepth 1 -printf '%d\t%y\t%s\t%f\n' | awk -F'\t' '{
  indent = ""; for (i = 1; i < $1; i++) indent = indent "    "
  if ($2 == "d") printf "%s%s/\n", indent, $4
  else printf "%s%s  (%d bytes)\n", indent, $4, $3 }'

sample=$(find "$mnt" -type f \( -name '*.csv' -o -name '*.txt' -o -name '*.md' \) -print -quit)
[[ -n $sample ]] || sample=$(find "$mnt" -type f -name '*.url' -print -quit)
if [[ -n $sample ]]; then
  echo
  echo "== head -n 8 '${sample#"$mnt"/}'"
  echo
  head -n 8 "$sample"
fi

echo
echo "asanafs is mounted at $mnt (emulator at $url; logs in $demo)."
prefix=
[[ $build == build ]] || prefix="ASANAFS_BUILD_DIR=$build "
echo "Stop it with: ${prefix}scripts/demo.sh stop"

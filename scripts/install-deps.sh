#!/usr/bin/env bash
# Installs every Debian 12 package asanafs needs to build, test and run its demo.
# Idempotent: does nothing (not even apt-get update) when all are present.
# Runs apt-get through sudo when not root.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config
  libfuse3-dev fuse3 libcurl4-openssl-dev rapidjson-dev libsqlite3-dev
  libgtest-dev libgmock-dev googletest libcpp-httplib-dev
  python3 python3-pytest python3-docutils python3-yaml
  rsync attr ca-certificates
  clang libclang-rt-14-dev   # the libFuzzer targets of the fuzz stage (-Dfuzz=true)
)
# Node (for the conformance suite's Prism proxy and the official Node client):
# keep a node/npm that is already installed (e.g. from NodeSource).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
echo "install-deps: done"

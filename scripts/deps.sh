#!/usr/bin/env bash
# Installs the Debian 12 packages goro needs, only those that are missing.
#   scripts/deps.sh            build + test dependencies (clang: the ThreadSanitizer build; both
#                              generators the tests use: Ninja and Unix Makefiles)
#   scripts/deps.sh --bench    plus the benchmark peers (Go, Boost.Fiber)
set -euo pipefail
pkgs=(cmake g++ make ninja-build pkg-config libboost-context-dev liburing-dev doctest-dev clang libclang-rt-14-dev libquickfix-dev)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(golang-go libboost-fiber-dev python3 gnuplot-nox)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "goro: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

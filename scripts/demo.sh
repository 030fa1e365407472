#!/usr/bin/env bash
# The main job: build goro (Release) and run the demo program.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DGORO_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j2 --target hello >/dev/null
exec build-release/examples/hello "$@"

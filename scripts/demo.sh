#!/usr/bin/env bash
# The main job: build goro (Release) and run the quote-fanout demo against its built-in exchange
# (10 seconds at 50,000 quotes a second; pass quote_fanout's flags to change that, e.g.
# scripts/demo.sh --duration 30 --rate 100000 --symbols 1000, or --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DGORO_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j2 --target quote_fanout >/dev/null
exec build-release/examples/quote_fanout/quote_fanout "$@"

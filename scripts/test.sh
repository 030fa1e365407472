#!/usr/bin/env bash
# Builds everything and runs all tests: the regular build (each test case three times: default
# worker count, GOMAXPROCS=1, GOMAXPROCS=2, plus the install/find_package check), then the whole
# suite again under AddressSanitizer + UndefinedBehaviorSanitizer (g++) and under
# ThreadSanitizer (clang).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=2

echo "== regular build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j$jobs
(cd build && ctest -j$jobs --output-on-failure --timeout 300)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGORO_SANITIZE=address -DGORO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-asan -j$jobs
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j$jobs --output-on-failure --timeout 600)

echo "== ThreadSanitizer (clang)"
CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DGORO_SANITIZE=thread -DGORO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-tsan -j$jobs
(cd build-tsan && ctest -j$jobs --output-on-failure --timeout 900)

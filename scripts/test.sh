#!/usr/bin/env bash
# Builds everything and runs all tests: the regular build with Ninja (each test case at the
# default worker count, GOMAXPROCS=1, 2 and 16, and with mprotect stack guards, plus goro consumed by other projects:
# find_package, add_subdirectory, FetchContent and the source tarball), then the whole suite again
# under AddressSanitizer + UndefinedBehaviorSanitizer (g++) and under ThreadSanitizer (clang),
# those two with Unix Makefiles: CI keeps both generators working. Last, a clang Release build
# (the optimizer's other compiler) runs each test case once. Every job treats warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=2

# A build tree keeps the generator it was made with: start afresh where an older run used another.
fresh_if_not() {  # <dir> <generator>
  if [[ -f $1/CMakeCache.txt ]] && ! grep -qx "CMAKE_GENERATOR:INTERNAL=$2" "$1/CMakeCache.txt"; then
    rm -rf "$1"
  fi
}

echo "== regular build (RelWithDebInfo, Ninja)"
fresh_if_not build Ninja
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORO_WERROR=ON >/dev/null
cmake --build build -j$jobs
(cd build && ctest -j$jobs --output-on-failure --timeout 300)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer (Unix Makefiles)"
fresh_if_not build-asan "Unix Makefiles"
cmake -S . -B build-asan -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Debug -DGORO_SANITIZE=address -DGORO_BUILD_EXAMPLES=OFF -DGORO_WERROR=ON >/dev/null
cmake --build build-asan -j$jobs
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j$jobs --output-on-failure --timeout 600)

echo "== ThreadSanitizer (clang, Unix Makefiles)"
fresh_if_not build-tsan "Unix Makefiles"
CXX=clang++ cmake -S . -B build-tsan -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Debug -DGORO_SANITIZE=thread -DGORO_BUILD_EXAMPLES=OFF -DGORO_WERROR=ON >/dev/null
cmake --build build-tsan -j$jobs
(cd build-tsan && ctest -j$jobs --output-on-failure --timeout 900)

echo "== clang Release (Ninja): each test case once"
fresh_if_not build-clang Ninja
CXX=clang++ cmake -S . -B build-clang -G Ninja -DCMAKE_BUILD_TYPE=Release -DGORO_WERROR=ON >/dev/null
cmake --build build-clang -j$jobs
(cd build-clang && ctest -j$jobs --output-on-failure --timeout 300 -E "GOMAXPROCS=|^downstream_")

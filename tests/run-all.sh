#!/usr/bin/env bash
# The whole test suite: a normal build and an ASan+UBSan build of everything
# (host, plugins, fixtures, tests), each run through ctest.
#   tests/run-all.sh            both builds
#   MQ_SKIP_ASAN=1 tests/run-all.sh   the normal build only (quick local loop)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ops/install-deps.sh
jobs=$(nproc)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j2

if [ "${MQ_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (ASan + UBSan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMQ_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests under ASan + UBSan (LeakSanitizer on)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j2
fi

#!/usr/bin/env bash
# The project's test command (README, .ci/run):
#   1. installs what is missing (hack/install-deps.sh),
#   2. builds with -Werror and runs every test (unit, then end-to-end); also
#      builds (only) with Release -O3 and with clang, both -Werror; builds
#      the container image (hack/build-image.sh) and runs its test,
#   3. builds again with AddressSanitizer + UndefinedBehaviorSanitizer and
#      runs the unit tests there.
# Exits non-zero on any failure.
#   hack/test.sh            everything
#   hack/test.sh -R REGEX   only the ctest tests matching REGEX (both builds)
#   MC_SKIP_ASAN=1          skip the sanitizer build (local iteration only)
set -euo pipefail
cd "$(dirname "$0")/.."

filter=()
if [ "${1:-}" = "-R" ] && [ -n "${2:-}" ]; then filter=(-R "$2"); fi

hack/install-deps.sh
jobs=$(nproc)

echo "== build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWERROR=ON -DSANITIZE=OFF >/dev/null
cmake --build build -j"$jobs"

# The same sources must build warning-free with the optimiser's extra
# analyses (Release, -O3) and with a second compiler; build only.
echo "== build (Release -O3, gcc, -Werror; build only)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DWERROR=ON -DSANITIZE=OFF >/dev/null
cmake --build build-release -j"$jobs" >/dev/null
echo "== build (clang, -Werror; build only)"
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWERROR=ON -DSANITIZE=OFF >/dev/null
cmake --build build-clang -j"$jobs" >/dev/null

echo "== unit tests"
(cd build && ctest -L unit -j"$jobs" --output-on-failure "${filter[@]}")
echo "== end-to-end tests"
(cd build && ctest -L e2e --output-on-failure "${filter[@]}")
# The container image (Dockerfile, built offline by hack/build-image.sh) and
# its test; with -R only when the filter selects it.
if [ ${#filter[@]} -eq 0 ] || (cd build && ctest -N -L image "${filter[@]}" | grep -q 'Test *#'); then
  echo "== container image (hack/build-image.sh) and its test"
  hack/build-image.sh build/image
  (cd build && ctest -L image --output-on-failure "${filter[@]}")
fi

if [ "${MC_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWERROR=ON -DSANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== unit tests under ASan+UBSan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest -L unit -j"$jobs" --output-on-failure "${filter[@]}")
fi
echo "== all tests passed"

#!/usr/bin/env bash
# The test command: installs what is missing (tests/lab/setup.sh), builds
# greenlight with ASan + UBSan in build-asan/, and runs every unit and
# integration test with ctest. Extra arguments go to ctest (e.g. -L unit,
# -R fetch). GL_BUILD_DIR overrides the build directory, GL_SANITIZE=0
# builds without sanitizers.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${GL_BUILD_DIR:-$top/build-asan}
sanitize=${GL_SANITIZE:-1}

bash "$top/tests/lab/setup.sh"

san=OFF
[ "$sanitize" = 1 ] && san=ON
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DGREENLIGHT_WERROR=ON \
	-DGREENLIGHT_SANITIZE=$san >/dev/null
cmake --build "$build" -j"$(nproc)"

# ASan: fail on leaks too; UBSan: print a stack and fail.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
exec ctest --output-on-failure -j"$(nproc)" "$@"

#!/usr/bin/env bash
# Builds crossrank._native with AddressSanitizer + UndefinedBehaviorSanitizer into its own folder
# (build/sanitize: the regular build and the source tree's _native*.so stay as they are) and runs
# the tokenizer, engine and concurrency tests (tests/engine) against that build.
#
#   scripts/sanitize.sh                 # build, then pytest tests/engine
#   scripts/sanitize.sh -k cancel       # further arguments go to pytest
#   PYTHON=/path/to/python scripts/sanitize.sh
#   CROSSRANK_SANITIZE_TESTS="tests/engine/test_a.py tests/engine/test_b.py" scripts/sanitize.sh
#                                       # other tests than tests/engine (.ci/run runs a subset)
#   PYTHONPATH=/tmp/site-extra scripts/sanitize.sh
#                                       # extra test-only packages, after the sanitized build
#
# Needs g++ with its libasan (Debian: libasan8, a dependency of g++), and in PYTHON's environment
# what the build needs without isolation: scikit-build-core, pybind11 (.ci/run installs them).
#
# Time on 2 cores: ~2 min to build from scratch when idle (8.5 min at load 6-9; ~1 min after a
# one-file change), 6.5-11 min for all of tests/engine, 3.2 min for the subset .ci/run runs (less the
# 10,000-pair tokenizer corpora and the PyTorch comparisons, the tokenizer fuzz at 60 s).
#
# Python itself is not instrumented, so the sanitizer runtime is preloaded. libstdc++ is preloaded
# with it: otherwise ASan's __cxa_throw interceptor resolves before libstdc++ is loaded and the first
# C++ exception (every ValueError the engine raises) kills the run with a false CHECK failure.
# Leak checking is off: CPython, torch and ONNX Runtime keep their allocations until exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
OUT=${CROSSRANK_SANITIZE_DIR:-$PWD/build/sanitize}
SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

echo "sanitize: building into $OUT" >&2
"$PYTHON" -m pip install -q --no-deps --no-build-isolation --upgrade --target "$OUT/site" \
  -C build-dir="$OUT/cmake" -C cmake.build-type=RelWithDebInfo \
  -C cmake.define.CMAKE_CXX_FLAGS="$SANITIZE" \
  -C cmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" .

LIBASAN=$("${CXX:-g++}" -print-file-name=libasan.so)
LIBSTDCXX=$("${CXX:-g++}" -print-file-name=libstdc++.so)
for lib in "$LIBASAN" "$LIBSTDCXX"; do
  [[ -e "$lib" ]] || { echo "sanitize: $lib not found (install the compiler's libasan)" >&2; exit 2; }
done

read -r -a TESTS <<< "${CROSSRANK_SANITIZE_TESTS:-tests/engine}"
echo "sanitize: running ${TESTS[*]} under ASan + UBSan" >&2
LD_PRELOAD="$LIBASAN $LIBSTDCXX" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  PYTHONPATH="$OUT/site${PYTHONPATH:+:$PYTHONPATH}" CROSSRANK_STOP_WITHIN_S=${CROSSRANK_STOP_WITHIN_S:-5} \
  "$PYTHON" -m pytest -x -q -p no:cacheprovider "${TESTS[@]}" "$@"

#!/usr/bin/env bash
# The whole test suite, C and Python, as CI runs it. Fails on any failure, including a
# test stage that collects no test.
#   FUZZ_SECONDS=N   seconds per fuzz target (default 30)
#   PYTEST_ARGS=...  extra pytest arguments (e.g. -m slow)
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
export PIP_CONSTRAINT="$PWD/ci/constraints.txt"

stage() { printf '\n==== %s\n' "$*"; }

stage "lint: ruff, mypy --strict"
ruff check .
ruff format --check .
mypy

stage "C: build with -Werror, C unit tests"
cmake -S . -B build/cmake-ci -G Ninja -DCP_WERROR=ON >/dev/null
cmake --build build/cmake-ci
ctest --test-dir build/cmake-ci --output-on-failure --no-tests=error

stage "C: -march=native build (the AVX2 / AVX-512 paths the benchmarks use), C unit tests"
cmake -S . -B build/cmake-native -G Ninja -DCP_WERROR=ON -DCP_NATIVE_ARCH=ON >/dev/null
cmake --build build/cmake-native
ctest --test-dir build/cmake-native --output-on-failure --no-tests=error

stage "C: ASan + UBSan build, C unit tests"
cmake -S . -B build/cmake-asan -G Ninja -DCP_WERROR=ON -DCP_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCP_PYTHON_EXT=ON \
  -DCP_PYTHON_EXT_DIR="$PWD/build/asan-site/pycontrol" \
  -DPython_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
cmake --build build/cmake-asan
ctest --test-dir build/cmake-asan --output-on-failure --no-tests=error

stage "C: bounded libFuzzer runs (${FUZZ_SECONDS:-30}s per target)"
cmake -S . -B build/cmake-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCP_FUZZ=ON \
  -DCP_FUZZ_SECONDS="${FUZZ_SECONDS:-30}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/cmake-fuzz
ctest --test-dir build/cmake-fuzz --output-on-failure --no-tests=error -R '^fuzz_'

stage "Python: the whole suite against the installed package"
# the pytest script (not python -m pytest) keeps the source tree off sys.path, so the
# installed package with its compiled extension is what runs
pytest -p no:cacheprovider ${PYTEST_ARGS:-}

stage "Benchmarks: the pytest-benchmark suites still run (timing disabled)"
pytest -p no:cacheprovider bench --benchmark-disable -q

stage "Python: native tests again under ASan + UBSan"
tar -c --exclude='*.so' --exclude=__pycache__ pycontrol | tar -x -C build/asan-site
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
  PYTHONPATH="$PWD/build/asan-site" \
  pytest -p no:cacheprovider -m native -q

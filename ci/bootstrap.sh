#!/usr/bin/env bash
# Install everything the build, tests and benchmarks need on Debian 12 (as root), then
# build and install pycontrol into .venv. Idempotent: a second run only rebuilds.
#   CP_NATIVE_ARCH=1  tune the extension for this CPU (benchmarks); never for wheels.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t pkgs < <(grep -v '^\s*#' ci/apt-packages.txt | sed '/^\s*$/d')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
export PIP_CONSTRAINT="$PWD/ci/constraints.txt"
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q --upgrade pip
defines=()
if [ "${CP_NATIVE_ARCH:-0}" = 1 ]; then
  defines+=(-C cmake.define.CP_NATIVE_ARCH=ON -C build-dir=build/skbuild/native)
fi
.venv/bin/python -m pip install -q "${defines[@]}" ".[test]"
# -P keeps the checkout off sys.path: the installed package (not ./pycontrol) must import
.venv/bin/python -P -c "import pycontrol._native" && echo "bootstrap: pycontrol installed in .venv"

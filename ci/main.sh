#!/usr/bin/env bash
# The main job until the node itself runs: install, then the fast-path benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
CP_NATIVE_ARCH=1 bash ci/bootstrap.sh
exec .venv/bin/pycontrol bench all "$@"

#!/usr/bin/env bash
# Build the container images (build/vpp: VPP + both plugins; build/agent: the control
# plane) where a Docker engine is available; skip cleanly, saying so, where it is not.
#   IMAGE_TAG=...  tag of both images (default: dev)
#   VPP_REPO=...   FD.io package repository for the VPP image (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${IMAGE_TAG:-dev}"

if ! command -v docker >/dev/null 2>&1; then
  echo "ci/images.sh: no docker client on this machine: image builds skipped"
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  echo "ci/images.sh: no Docker engine reachable: image builds skipped"
  exit 0
fi

docker build -f build/vpp/Dockerfile --build-arg VPP_REPO="${VPP_REPO:-release}" \
  -t "calico-vpp/vpp:${tag}" .
docker build -f build/agent/Dockerfile -t "calico-vpp/agent:${tag}" .
echo "ci/images.sh: built calico-vpp/vpp:${tag} and calico-vpp/agent:${tag}"

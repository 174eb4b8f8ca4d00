#!/usr/bin/env bash
# Build the server image localhost/containerops/server:0.1.0 from this checkout, without a
# registry: a release build of `containerops` copied onto localhost/containerops/debian-base.
#
#   deploy/build-image.sh [IMAGE]
#
# Uses podman if it is installed, else docker. Then load the image into your cluster's nodes:
# see deploy/kubernetes/README.md ("Build the image and load it into the nodes").
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-localhost/containerops/server:0.1.0}
base=localhost/containerops/debian-base:bookworm

if command -v podman >/dev/null 2>&1; then engine=podman
elif command -v docker >/dev/null 2>&1; then engine=docker
else echo "error: neither podman nor docker is installed" >&2; exit 1
fi

if ! "$engine" image inspect "$base" >/dev/null 2>&1; then
  echo "error: the base image $base is missing; build it with scripts/build-images.sh" >&2
  exit 1
fi

cargo build --release --locked -p containerops
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$target_dir/release/containerops" "$context/"
"$engine" build -f deploy/Containerfile --build-arg "BASE=$base" -t "$image" "$context"
echo "built $image" >&2

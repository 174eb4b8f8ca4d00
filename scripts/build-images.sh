#!/usr/bin/env bash
# Builds, locally, the base images the examples and tests use (no registry is needed):
#   localhost/co-examples/busybox:latest          FROM scratch + Debian's static busybox (~2 MB)
#   localhost/containerops/debian-base:bookworm   debootstrap'd Debian with git (~340 MB)
# Component images are built by `containerops run` itself from their build: sections.
# Idempotent: an image that exists is kept (FORCE=1 rebuilds).
#
# On the engine $DOCKER_HOST names (default Podman's socket), or on every engine of
# $CONTAINEROPS_ENGINE_HOSTS (space-separated unix:// hosts, e.g. Podman's and Docker Engine's:
# scripts/test.sh runs the tests on both). The Debian base is debootstrapped once and copied to
# the other engines through their APIs (GET /images/NAME/get → POST /images/load).
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS=${CONTAINEROPS_ENGINE_HOSTS:-${DOCKER_HOST:-unix:///run/podman/podman.sock}}
BIN=${CONTAINEROPS_BIN:-target/debug/containerops}
FORCE=${FORCE:-0}

log() { printf '==> %s\n' "$*" >&2; }
api() { curl -sf --unix-socket "$SOCK" "$@"; }
image_exists() { [ "$FORCE" != 1 ] && api "http://d/images/$1/json" >/dev/null 2>&1; }

[ -x "$BIN" ] || { echo "no $BIN: build it first (cargo build)" >&2; exit 1; }
[ -x /bin/busybox ] || { apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null; }

for HOST in $HOSTS; do
SOCK=${HOST#unix://}
[ "$SOCK" != "$HOST" ] || { echo "build-images.sh: $HOST is not a unix:// socket" >&2; exit 1; }
curl -sf --max-time 5 --unix-socket "$SOCK" http://d/_ping >/dev/null || {
  echo "no container engine answers at $HOST: run scripts/setup-engine.sh (--docker for Docker Engine)" >&2; exit 1; }
log "images on $HOST"
export DOCKER_HOST=$HOST

# --- busybox: a component with a build: section, built through containerops itself
BUSYBOX_DIR=examples/images/busybox
if ! image_exists localhost/co-examples/busybox:latest; then
  log "building localhost/co-examples/busybox:latest"
  rm -rf "$BUSYBOX_DIR/rootfs"
  mkdir -p "$BUSYBOX_DIR/rootfs/bin"
  cp /bin/busybox "$BUSYBOX_DIR/rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$BUSYBOX_DIR/rootfs/bin/$applet"
  done
  "$BIN" component build "$BUSYBOX_DIR"
fi

# --- Debian base: debootstrap, then import through the engine API
BASE=localhost/containerops/debian-base:bookworm
copied=0
if ! image_exists "$BASE"; then
  for OTHER in $HOSTS; do
    OSOCK=${OTHER#unix://}
    [ "$OSOCK" != "$SOCK" ] || continue
    if curl -sf --unix-socket "$OSOCK" "http://d/images/$BASE/json" >/dev/null 2>&1; then
      log "copying $BASE from $OTHER"
      curl -sf --unix-socket "$OSOCK" "http://d/images/$BASE/get" \
        | api -X POST -H 'Content-Type: application/x-tar' --data-binary @- "http://d/images/load?quiet=1" >/dev/null
      copied=1
      break
    fi
  done
fi
if [ $copied = 0 ] && ! image_exists "$BASE"; then
  log "building $BASE (debootstrap, about a minute)"
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  ROOTFS=$(mktemp -d /var/tmp/co-debian-rootfs.XXXXXX)
  trap 'rm -rf "$ROOTFS"' EXIT
  debootstrap --variant=minbase --include=git,ca-certificates bookworm "$ROOTFS" "$MIRROR" >/dev/null
  # The image's apt should use the same mirror as this machine.
  echo "deb $MIRROR bookworm main" > "$ROOTFS/etc/apt/sources.list"
  tar -C "$ROOTFS" -c . | api -X POST -H 'Content-Type: application/x-tar' --data-binary @- \
    "http://d/images/create?fromSrc=-&repo=localhost%2Fcontainerops%2Fdebian-base%3Abookworm" >/dev/null
  image_exists "$BASE" || { echo "import of $BASE failed" >&2; exit 1; }
  rm -rf "$ROOTFS"
fi
FORCE=0 image_exists "$BASE" || { echo "$BASE is missing on $HOST after the build" >&2; exit 1; }
done
log "images ready"

#!/usr/bin/env bash
# The main job, on a fresh machine: sets up the local engine (Podman) and the images, then runs the
# realistic example pipeline (examples/ci-pipeline) on the embedded default (local engine + SQLite).
# Re-running it reuses what exists.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

log "container engine"
scripts/setup-engine.sh
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/podman/podman.sock}

log "building containerops (release)"
cargo build --release --locked -p containerops
BIN=$PWD/target/release/containerops
export CONTAINEROPS_BIN=$BIN

log "base images"
scripts/build-images.sh

log "a git repository for the pipeline to clone"
SERVE=$(mktemp -d /tmp/co-demo-git.XXXXXX)
WORK=$(mktemp -d /tmp/co-demo-src.XXXXXX)
cp -r examples/ci-pipeline/project/. "$WORK/"
git -C "$WORK" init -q -b main
git -C "$WORK" -c user.name="Demo Developer" -c user.email=dev@example.org add -A
git -C "$WORK" -c user.name="Demo Developer" -c user.email=dev@example.org commit -q \
  -m "Add greet, a tiny C program with tests" -m "Used by the ContainerOps ci-pipeline example."
git clone -q --bare "$WORK" "$SERVE/greet.git"
# A free port, unless one is given.
PORT=${CO_DEMO_GIT_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')}
git daemon --reuseaddr --export-all --base-path="$SERVE" --listen=0.0.0.0 --port="$PORT" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null || true; rm -rf "$SERVE" "$WORK"' EXIT
# Containers reach this machine at its own address.
HOST=$(hostname -I 2>/dev/null | awk '{print $1}')
HOST=${HOST:-host.containers.internal}
for _ in $(seq 1 100); do
  kill -0 $DAEMON 2>/dev/null || { echo "git daemon could not start on port $PORT" >&2; exit 1; }
  git ls-remote "git://127.0.0.1:$PORT/greet.git" >/dev/null 2>&1 && break
  sleep 0.1
done

log "running examples/ci-pipeline/workflow.yaml"
set +e
"$BIN" run examples/ci-pipeline/workflow.yaml --input repo="git://$HOST:$PORT/greet.git"
status=$?
set -e
log "history: containerops runs list"
"$BIN" runs list --limit 5
exit $status

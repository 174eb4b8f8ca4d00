#!/usr/bin/env bash
# The main job, on a fresh machine: sets up the local engine (Podman) and the images, builds the web
# UI and containerops (the UI embedded), runs the realistic example pipeline
# (examples/ci-pipeline) on the embedded default (local engine + SQLite), then starts
# `containerops server` on the same database with that run visible in the web UI and prints the
# UI's address and a login token. Ctrl-C stops the server. Re-running it reuses what exists.
#
#   CO_DEMO_LISTEN=0.0.0.0:8080 scripts/demo.sh   # where the server listens (default: 127.0.0.1, a free port)
#   CO_DEMO_SERVER=0 scripts/demo.sh              # stop after the run (no server)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

log "container engine"
scripts/setup-engine.sh
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/podman/podman.sock}

log "building the web UI (web/dist; embedded into the release binary)"
if ! command -v npm >/dev/null; then
  echo "npm is missing: install Node.js 20 and npm (the web UI is built with them)" >&2
  exit 1
fi
npm --prefix web ci --no-audit --no-fund
npm --prefix web run build

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
SERVER=
trap 'kill $DAEMON 2>/dev/null || true; [ -z "$SERVER" ] || kill $SERVER 2>/dev/null || true; rm -rf "$SERVE" "$WORK"' EXIT
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
RUN_ID=$("$BIN" runs list --limit 1 --output json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
log "what the run kept: containerops artifacts list $RUN_ID"
"$BIN" artifacts list "$RUN_ID"
ARTIFACTS=${CONTAINEROPS_ARTIFACTS:-${XDG_DATA_HOME:-$HOME/.local/share}/containerops/artifacts}
cat >&2 <<EOF

==> the pipeline's package is kept in the artifact store ($ARTIFACTS)

    get it:  $BIN artifacts get $RUN_ID package
             (saves package.tar, which holds dist/greet-1.0.0-<commit>.tar.gz;
              -o FILE names the file, -o - writes it to stdout)
    or:      $BIN run examples/ci-pipeline/workflow.yaml --input repo=... --artifacts-dir out/

EOF
[ "${CO_DEMO_SERVER:-1}" = 0 ] && exit $status

log "the web UI: containerops server on the same database"
# A login token for the demo, kept (mode 0600) next to the database so re-runs reuse it.
DATA=${XDG_DATA_HOME:-$HOME/.local/share}/containerops
mkdir -p "$DATA"
if [ ! -s "$DATA/demo-token" ]; then
  (umask 077; echo "co_demo_$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" >"$DATA/demo-token")
fi
TOKEN=$(cat "$DATA/demo-token")
LISTEN=${CO_DEMO_LISTEN:-127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
CONTAINEROPS_ADMIN_TOKEN=$TOKEN "$BIN" server --listen "$LISTEN" &
SERVER=$!
URL=http://$LISTEN
[ "${LISTEN%%:*}" = 0.0.0.0 ] && URL=http://$HOST:${LISTEN##*:}
for _ in $(seq 1 300); do
  kill -0 $SERVER 2>/dev/null || { echo "containerops server could not start" >&2; exit 1; }
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$URL/healthz" 2>/dev/null && break
  sleep 0.1
done
# The pipeline on the server too: its components registered, its text stored as it is. The
# server then shows the run above (same database) as a graph.
"$BIN" --server "$URL" --token "$TOKEN" workflows apply examples/ci-pipeline/workflow.yaml
cat >&2 <<EOF

==> the web UI is up (Ctrl-C stops the server)

    UI:     $URL/ui/
    run:    $URL/ui/runs/$RUN_ID
    token:  $TOKEN
            (paste it into "API token" on the login page; it is kept in $DATA/demo-token)
    package: $BIN artifacts get $RUN_ID package   (kept in $ARTIFACTS)

EOF
wait $SERVER || true
SERVER=
exit $status

#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: installs and starts what it needs
# (Podman with its Docker API, Docker Engine, PostgreSQL, test images), then runs formatting and
# lint checks and every test (unit, real Podman, real SQLite and PostgreSQL, the web UI's), and the
# Docker backend's and the CLI's end-to-end tests a second time on Docker Engine. Fails loudly if
# any real part is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }
# Free space where the build goes, printed before and after the heavy steps: a full disk is
# then named as such instead of surfacing as a compiler's write error.
disk() { df -h --output=avail,target . | tail -1 | awk -v s="$1" '{ printf "disk: %s free on %s (%s)\n", $1, $2, s }' >&2; }
# A one-shot build gains nothing from incremental compilation, whose caches double the target.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
disk "start"

log "OCI registry (Debian's docker-registry on loopback, for component publish)"
# Before the engines: Podman reads the registry's registries.conf.d drop-in when it starts.
CONTAINEROPS_TEST_REGISTRY=$(scripts/setup-registry.sh)
export CONTAINEROPS_TEST_REGISTRY

log "container engines (Podman, Docker Engine, a one-node swarm on it)"
PODMAN_HOST=unix://${CONTAINEROPS_PODMAN_SOCK:-/run/podman/podman.sock}
DOCKER_ENGINE_HOST=unix://${CONTAINEROPS_DOCKER_SOCK:-/var/run/docker.sock}
# Docker Engine is also a one-node swarm: the Swarm backend's tests run on it
# (crates/backend-swarm/tests, CONTAINEROPS_TEST_SWARM_HOST).
CONTAINEROPS_ENGINES=podman,docker,swarm scripts/setup-engine.sh
# Podman is the engine of every test; Docker Engine's run (below) names its own.
export DOCKER_HOST=$PODMAN_HOST

log "PostgreSQL"
CONTAINEROPS_TEST_POSTGRES_URL=$(scripts/setup-postgres.sh)
export CONTAINEROPS_TEST_POSTGRES_URL

log "Python test tools (the OpenAPI validator, Prometheus' text-format parser)"
scripts/setup-python.sh

log "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

log "building"
cargo build --workspace --all-targets --locked
disk "after the build"
# The server's API tests run the real `containerops` binary. Without this they build it
# themselves with `cargo build -p containerops`, whose narrower feature set recompiles a good
# part of the dependency tree in the middle of the test run.
target_dir=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
CONTAINEROPS_BIN="$target_dir/debug/containerops"
[ -x "$CONTAINEROPS_BIN" ] || { echo "no $CONTAINEROPS_BIN after the build" >&2; exit 1; }
export CONTAINEROPS_BIN

log "images for the tests and examples (on both engines)"
CONTAINEROPS_ENGINE_HOSTS="$PODMAN_HOST $DOCKER_ENGINE_HOST" scripts/build-images.sh

log "web UI: node packages (web/package-lock.json), lint, typecheck, unit tests"
npm --prefix web ci --no-audit --no-fund
npm --prefix web run lint
npm --prefix web run typecheck
npm --prefix web test

log "web UI: end to end in Chromium against a real containerops server on Podman"
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
npm --prefix web run e2e

# The fuzz smoke run (scripts/fuzz-smoke.sh: every fuzz target briefly, nightly toolchain) goes on
# in the background beside the cargo tests, which spend much of their time waiting on Podman; it
# is waited for, and its log shown, at the end.
log "fuzz smoke run (in the background; its log comes at the end)"
fuzz_log=$(mktemp)
# Its own session, so that a failing cargo test stops the whole run (cargo-fuzz and the target).
setsid scripts/fuzz-smoke.sh >"$fuzz_log" 2>&1 &
fuzz_pid=$!
trap 'kill -- -"$fuzz_pid" 2>/dev/null || true' EXIT

log "tests"
# The Go and Rust templates of `component new` install their toolchains in a build stage (~1.5 min
# each on a cold cache): on the first engine only.
CONTAINEROPS_TEST_ALL_LANGS=1 cargo nextest run --workspace --locked --profile ci
cargo test --workspace --doc --locked

# The tests that say how steps behave on an engine, again on Docker Engine, so that a difference
# between the engines fails here. The same built test binaries (same package selection and
# features as above, so nothing is rebuilt), only these binaries run. outage.rs stays on Podman:
# it starts a private `podman system service` it can kill.
log "tests on Docker Engine ($DOCKER_ENGINE_HOST): the Docker backend's and the CLI's end to end"
DOCKER_HOST=$DOCKER_ENGINE_HOST cargo nextest run --workspace --locked --profile ci \
  -E 'binary_id(co-backend-docker::engine) | binary_id(co-backend-docker::reattach) | binary_id(containerops::e2e)'

# The same end-to-end scenarios once more on the Swarm backend (every `containerops run` of them
# reads CONTAINEROPS_BACKEND), on the one-node swarm of that Docker Engine: one list of scenarios
# for every backend, not copies. Its own tests (crates/backend-swarm/tests) ran above.
log "the CLI's end-to-end tests on the Swarm backend ($DOCKER_ENGINE_HOST, a one-node swarm)"
DOCKER_HOST=$DOCKER_ENGINE_HOST CONTAINEROPS_BACKEND=swarm cargo nextest run --workspace --locked \
  --profile ci -E 'binary_id(containerops::e2e)'

log "fuzz smoke run"
if ! wait "$fuzz_pid"; then
    cat "$fuzz_log" >&2
    echo "FUZZ SMOKE RUN FAILED (log above)" >&2
    exit 1
fi
cat "$fuzz_log" >&2

disk "end"
log "all tests passed"

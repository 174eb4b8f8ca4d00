#!/usr/bin/env bash
# Installs and starts a local OCI registry (Debian's docker-registry package, the reference
# registry 2.8) on loopback, for `containerops component publish --registry` in tests and the
# demo, and prints its address (one line on stdout), e.g. 127.0.0.1:5000.
#   export CONTAINEROPS_TEST_REGISTRY="$(scripts/setup-registry.sh)"
#
# Plain HTTP on 127.0.0.1, handled the way engines expect: Docker Engine treats 127.0.0.0/8 as an
# insecure registry by default; for Podman a registries.conf.d drop-in marks this address
# `insecure = true`. No authentication (the engines' usual auth config still applies to others).
# Idempotent: a registry answering on the address is left running. Needs root (apt) on Debian.
# Settings: CONTAINEROPS_REGISTRY_PORT (5000), CONTAINEROPS_REGISTRY_DIR (/var/lib/containerops-registry).
set -euo pipefail

PORT=${CONTAINEROPS_REGISTRY_PORT:-5000}
DIR=${CONTAINEROPS_REGISTRY_DIR:-/var/lib/containerops-registry}
ADDR=127.0.0.1:$PORT

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup-registry: %s\n' "$*" >&2; exit 1; }
answers() { curl -sf --max-time 2 "http://$ADDR/v2/" >/dev/null 2>&1; }

if ! command -v docker-registry >/dev/null 2>&1; then
  log "installing docker-registry (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq docker-registry >&2
fi

# Podman: this plain-HTTP loopback registry is insecure on purpose.
mkdir -p /etc/containers/registries.conf.d
cat > /etc/containers/registries.conf.d/50-containerops-local-registry.conf <<CONF
[[registry]]
location = "$ADDR"
insecure = true
CONF

if ! answers; then
  mkdir -p "$DIR/data"
  cat > "$DIR/config.yml" <<CONF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $DIR/data }
  delete: { enabled: true }
http:
  addr: $ADDR
CONF
  log "starting docker-registry on $ADDR (data in $DIR/data, log in $DIR/registry.log)"
  setsid docker-registry serve "$DIR/config.yml" >"$DIR/registry.log" 2>&1 < /dev/null &
  # Wait until it answers (it binds within a second); give up after 30 s with its log.
  for _ in $(seq 1 60); do
    answers && break
    kill -0 $! 2>/dev/null || { cat "$DIR/registry.log" >&2; die "docker-registry exited"; }
    sleep 0.5
  done
  answers || { cat "$DIR/registry.log" >&2; die "docker-registry does not answer on $ADDR"; }
fi
echo "$ADDR"

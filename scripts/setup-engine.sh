#!/usr/bin/env bash
# Installs and starts what ContainerOps needs on a fresh Debian machine:
# Podman with its Docker-compatible API socket (the local container engine), and catatonit, the
# init process Podman runs as PID 1 of every step container (HostConfig.Init): without it a
# `sh -c` step ignores the SIGTERM of a timeout or cancel. (Docker Engine ships its own,
# docker-init.)
# Idempotent: does nothing that is already done. Needs root (apt).
set -euo pipefail

SOCK=${CONTAINEROPS_PODMAN_SOCK:-/run/podman/podman.sock}

log() { printf '==> %s\n' "$*" >&2; }

need_pkgs=()
command -v podman >/dev/null 2>&1 || need_pkgs+=(podman)
command -v runc >/dev/null 2>&1 || need_pkgs+=(runc)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
[ -x /usr/libexec/podman/catatonit ] || need_pkgs+=(catatonit)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# This kernel: no CAP_SYS_RESOURCE (rlimits cannot be raised) and hybrid cgroup v1 (crun refuses it).
if [ ! -f /etc/containers/containers.conf ] || ! grep -q 'runtime = "runc"' /etc/containers/containers.conf; then
  log "writing /etc/containers/containers.conf (runc, cgroupfs, fixed ulimits)"
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

sock_ok() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
if ! sock_ok; then
  log "starting podman system service on unix://$SOCK"
  mkdir -p "$(dirname "$SOCK")"
  rm -f "$SOCK"
  nohup podman system service --time=0 "unix://$SOCK" >/var/log/podman-service.log 2>&1 &
  for _ in $(seq 1 100); do sock_ok && break; sleep 0.1; done
  sock_ok || { echo "podman API did not come up on $SOCK; see /var/log/podman-service.log" >&2; exit 1; }
fi
log "container engine ready at unix://$SOCK"

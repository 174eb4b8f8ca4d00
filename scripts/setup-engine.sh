#!/usr/bin/env bash
# Installs and starts the container engines ContainerOps runs on, on a fresh Debian machine.
#
#   scripts/setup-engine.sh                 Podman only (the default)
#   scripts/setup-engine.sh --docker        Podman and Docker Engine
#   scripts/setup-engine.sh --swarm         Podman, Docker Engine and a one-node Docker Swarm on it
#   CONTAINEROPS_ENGINES=podman,docker,swarm scripts/setup-engine.sh   the same, as a list
#   CONTAINEROPS_ENGINES=docker scripts/setup-engine.sh                Docker Engine only
#
# podman  Podman with its Docker-compatible API socket ($CONTAINEROPS_PODMAN_SOCK, default
#         /run/podman/podman.sock), and catatonit, the init process Podman runs as PID 1 of every
#         step container (HostConfig.Init): without it a `sh -c` step ignores the SIGTERM of a
#         timeout or cancel.
# docker  Docker Engine from Debian (docker.io, 20.10), dockerd started without systemd on
#         $CONTAINEROPS_DOCKER_SOCK (default: Docker's own /var/run/docker.sock, which discovery
#         tries before Podman's socket when DOCKER_HOST is unset), data in /var/lib/docker, log in
#         /var/log/dockerd.log. Docker ships its own init, docker-init.
# swarm   docker, then `docker swarm init --advertise-addr 127.0.0.1` (a one-node swarm) unless
#         that engine is already a swarm manager.
#
# Every engine asked for must come up, or this fails (nothing is skipped). Idempotent: does
# nothing that is already done. Needs root (apt).
set -euo pipefail

PODMAN_SOCK=${CONTAINEROPS_PODMAN_SOCK:-/run/podman/podman.sock}
DOCKER_SOCK=${CONTAINEROPS_DOCKER_SOCK:-/var/run/docker.sock}
ENGINES=${CONTAINEROPS_ENGINES:-podman}
for arg in "$@"; do
  case "$arg" in
    --docker) ENGINES="$ENGINES,docker" ;;
    --swarm) ENGINES="$ENGINES,swarm" ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-engine.sh: unknown argument $arg (use --docker, --swarm, or CONTAINEROPS_ENGINES)" >&2; exit 2 ;;
  esac
done

want_podman=0 want_docker=0 want_swarm=0
IFS=',' read -ra list <<<"$ENGINES"
for e in "${list[@]}"; do
  case "${e// /}" in
    podman) want_podman=1 ;;
    docker) want_docker=1 ;;
    swarm) want_docker=1 want_swarm=1 ;;
    '') ;;
    *) echo "setup-engine.sh: unknown engine '$e' in CONTAINEROPS_ENGINES (podman, docker, swarm)" >&2; exit 2 ;;
  esac
done

log() { printf '==> %s\n' "$*" >&2; }
sock_ok() { curl -sf --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }
wait_sock() { for _ in $(seq 1 150); do sock_ok "$1" && return 0; sleep 0.1; done; return 1; }

need_pkgs=()
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
if [ $want_podman = 1 ]; then
  command -v podman >/dev/null 2>&1 || need_pkgs+=(podman)
  command -v runc >/dev/null 2>&1 || need_pkgs+=(runc)
  [ -x /usr/libexec/podman/catatonit ] || need_pkgs+=(catatonit)
fi
if [ $want_docker = 1 ]; then
  command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if [ $want_podman = 1 ]; then
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
  if ! sock_ok "$PODMAN_SOCK"; then
    log "starting podman system service on unix://$PODMAN_SOCK"
    mkdir -p "$(dirname "$PODMAN_SOCK")"
    rm -f "$PODMAN_SOCK"
    nohup podman system service --time=0 "unix://$PODMAN_SOCK" >/var/log/podman-service.log 2>&1 &
    wait_sock "$PODMAN_SOCK" || { echo "podman API did not come up on $PODMAN_SOCK; see /var/log/podman-service.log" >&2; exit 1; }
  fi
  log "Podman ready at unix://$PODMAN_SOCK"
fi

if [ $want_docker = 1 ]; then
  if ! sock_ok "$DOCKER_SOCK"; then
    log "starting dockerd on unix://$DOCKER_SOCK (log: /var/log/dockerd.log)"
    mkdir -p "$(dirname "$DOCKER_SOCK")"
    rm -f "$DOCKER_SOCK"
    # No systemd here: dockerd starts its own containerd. Its iptables rules give containers
    # (and image builds) a way out (NAT), as on a usual Docker host.
    nohup dockerd -H "unix://$DOCKER_SOCK" >/var/log/dockerd.log 2>&1 &
    wait_sock "$DOCKER_SOCK" || { tail -20 /var/log/dockerd.log >&2; echo "Docker Engine did not come up on $DOCKER_SOCK; see /var/log/dockerd.log" >&2; exit 1; }
  fi
  log "Docker Engine ready at unix://$DOCKER_SOCK"
fi

if [ $want_swarm = 1 ]; then
  state=$(curl -sf --unix-socket "$DOCKER_SOCK" http://d/info | python3 -c 'import json,sys; s=json.load(sys.stdin)["Swarm"]; print(s.get("LocalNodeState",""), s.get("ControlAvailable",False))')
  case "$state" in
    "active True") ;;
    "inactive "*)
      log "making Docker Engine at $DOCKER_SOCK a one-node swarm (docker swarm init --advertise-addr 127.0.0.1)"
      DOCKER_HOST="unix://$DOCKER_SOCK" docker swarm init --advertise-addr 127.0.0.1 >/dev/null ;;
    *) echo "the Docker Engine at $DOCKER_SOCK is in swarm state '$state', not a manager; fix it by hand (docker swarm leave --force)" >&2; exit 1 ;;
  esac
  log "one-node swarm ready on unix://$DOCKER_SOCK"
fi

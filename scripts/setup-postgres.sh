#!/usr/bin/env bash
# Installs and starts a local PostgreSQL for ContainerOps' tests and shared-store development, and
# prints its URL (one line on stdout), e.g.
#   postgres://containerops:containerops@127.0.0.1:5432/containerops
# Typical use:
#   export CONTAINEROPS_TEST_POSTGRES_URL="$(scripts/setup-postgres.sh)"
#
# Idempotent: installs nothing that is there, creates no cluster, role or database that exists, and
# leaves a running cluster running. Needs root on Debian (apt, and to act as the `postgres` user).
# Works without systemd: the cluster is started with pg_ctlcluster (which runs pg_ctl directly).
#
# Settings (environment): CONTAINEROPS_PG_USER, CONTAINEROPS_PG_PASSWORD, CONTAINEROPS_PG_DB
# (all default to `containerops`), CONTAINEROPS_PG_CLUSTER (Debian cluster name; main),
# CONTAINEROPS_PG_PORT (port for a cluster this script creates; 5432).
set -euo pipefail

PG_USER=${CONTAINEROPS_PG_USER:-containerops}
PG_PASSWORD=${CONTAINEROPS_PG_PASSWORD:-containerops}
PG_DB=${CONTAINEROPS_PG_DB:-containerops}
NEW_PORT=${CONTAINEROPS_PG_PORT:-5432}
CLUSTER=${CONTAINEROPS_PG_CLUSTER:-main}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup-postgres: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run this as root (it uses apt and the postgres system user)"
case "$PG_USER$PG_DB" in *[!a-z0-9_]*) die "CONTAINEROPS_PG_USER/CONTAINEROPS_PG_DB must match [a-z0-9_]+" ;; esac
case "$PG_PASSWORD" in *[!A-Za-z0-9_.-]*) die "CONTAINEROPS_PG_PASSWORD must match [A-Za-z0-9_.-]+ (it goes into a URL)" ;; esac

# 1. Packages.
pg_version() { ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -n 1; }
VERSION=$(pg_version || true)
if [ -z "$VERSION" ] || [ ! -x "/usr/lib/postgresql/$VERSION/bin/postgres" ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing postgresql (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  VERSION=$(pg_version || true)
  [ -n "$VERSION" ] || die "postgresql was installed but no server binaries are under /usr/lib/postgresql"
fi

# 2. A cluster (the package normally creates `main`; a stripped image may not have).
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
  log "creating cluster $VERSION/$CLUSTER on port $NEW_PORT"
  pg_createcluster --port "$NEW_PORT" "$VERSION" "$CLUSTER" >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { print $3 }')
[ -n "$PORT" ] || die "cannot find the port of cluster $VERSION/$CLUSTER (see pg_lsclusters)"

# 3. Start it (no systemd here: pg_ctlcluster then runs pg_ctl itself). /run is a tmpfs, so the socket
#    directory may be gone after a reboot.
install -d -o postgres -g postgres -m 2775 /var/run/postgresql
if ! pg_ctlcluster "$VERSION" "$CLUSTER" status >/dev/null 2>&1; then
  log "starting cluster $VERSION/$CLUSTER (port $PORT)"
  pg_ctlcluster "$VERSION" "$CLUSTER" start >&2 ||
    die "pg_ctlcluster $VERSION $CLUSTER start failed; see /var/log/postgresql/postgresql-$VERSION-$CLUSTER.log"
fi
ready=0
for _ in $(seq 1 300); do
  if pg_isready -q -h 127.0.0.1 -p "$PORT"; then ready=1; break; fi
  sleep 0.1
done
[ "$ready" -eq 1 ] || die "PostgreSQL did not accept connections on 127.0.0.1:$PORT within 30 s; see /var/log/postgresql/postgresql-$VERSION-$CLUSTER.log"

# 4. Role and database (password auth over TCP is Debian's default for 127.0.0.1).
as_postgres_sql() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres -tA "$@"; }
if [ "$(as_postgres_sql -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]; then
  log "creating role $PG_USER"
  as_postgres_sql -c "CREATE ROLE \"$PG_USER\" LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" >&2
else
  # Keep the password the URL below promises.
  as_postgres_sql -c "ALTER ROLE \"$PG_USER\" LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" >&2
fi
if [ "$(as_postgres_sql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
  log "creating database $PG_DB"
  as_postgres_sql -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\"" >&2
fi

URL="postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PORT/$PG_DB"
psql -X -q "$URL" -tAc 'SELECT 1' >/dev/null 2>&1 ||
  die "cannot log in with $URL: check pg_hba.conf of cluster $VERSION/$CLUSTER (host ... 127.0.0.1/32 scram-sha-256)"
log "PostgreSQL ready"
printf '%s\n' "$URL"

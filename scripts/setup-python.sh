#!/usr/bin/env bash
# Installs the Python packages the test suite checks the server's interfaces with (pinned in
# scripts/python-requirements.txt): openapi-spec-validator for docs/openapi.json, and
# prometheus-client's text-format parser for GET /metrics. Idempotent: pip installs nothing that
# is there. The tests run `${CONTAINEROPS_PYTHON:-python3}`; so does this script.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${CONTAINEROPS_PYTHON:-python3}
log() { printf '==> %s\n' "$*" >&2; }

if ! command -v "$PYTHON" >/dev/null || ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  log "installing Python 3 with pip (Debian)"
  apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
fi
pip_install() {
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@" \
    -r scripts/python-requirements.txt
}
# A Debian-managed Python refuses installs outside a virtual environment (PEP 668); these
# packages are test tools that nothing of the system uses.
pip_install 2>/dev/null || pip_install --break-system-packages
"$PYTHON" -c 'import openapi_spec_validator, prometheus_client' \
  || { echo "setup-python: the packages did not import after installing" >&2; exit 1; }
log "Python test tools ready ($("$PYTHON" --version))"

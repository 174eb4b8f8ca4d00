#!/bin/sh
set -u
cd "/workspace/$CO_INPUT_PATH" || exit 2
log=$(mktemp)
make CFLAGS="$CO_INPUT_CFLAGS" "$CO_INPUT_TARGET" >"$log" 2>&1
status=$?
cat "$log"
echo "[COUT] compiler = $(cc --version | head -n 1)"
echo "[COUT] warnings = $(grep -c 'warning:' "$log")"
[ "$status" -eq 0 ] || exit "$status"
echo "[COUT] binary = /workspace/$CO_INPUT_PATH/build/greet"

#!/bin/sh
set -u
cd "/workspace/$CO_INPUT_PATH" || exit 2
log=$(mktemp)
make test >"$log" 2>&1
status=$?
cat "$log"
# The test program ends with "N tests, M failed".
summary=$(grep -E '^[0-9]+ tests, [0-9]+ failed$' "$log" | tail -n 1)
tests=$(echo "${summary:-0 tests, 0 failed}" | cut -d' ' -f1)
failed=$(echo "${summary:-0 tests, 0 failed}" | cut -d' ' -f3)
echo "[COUT] tests = $tests"
echo "[COUT] failed = $failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$tests" -eq 0 ]; then
  echo "[COUT] CO_RESULT = false"
fi

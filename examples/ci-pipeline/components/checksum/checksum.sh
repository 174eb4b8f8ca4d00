#!/bin/sh
set -eu
[ -f "$CO_INPUT_FILE" ] || { echo "no such file: $CO_INPUT_FILE" >&2; exit 1; }
sum=$(sha256sum "$CO_INPUT_FILE" | cut -d' ' -f1)
bytes=$(stat -c %s "$CO_INPUT_FILE")
echo "$sum  $CO_INPUT_FILE"
echo "[COUT] sha256 = $sum"
echo "[COUT] report = {\"file\": \"$CO_INPUT_FILE\", \"bytes\": $bytes, \"sha256\": \"$sum\"}"

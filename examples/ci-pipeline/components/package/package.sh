#!/bin/sh
set -eu
dist=/workspace/dist
stage=$(mktemp -d)
root="$stage/$CO_INPUT_NAME-$CO_INPUT_VERSION"
mkdir -p "$root/bin" "$dist"
cp "$CO_INPUT_BINARY" "$root/bin/"
printf '%s %s\nbuilt by ContainerOps run %s\n' "$CO_INPUT_NAME" "$CO_INPUT_VERSION" "$CO_RUN_ID" > "$root/VERSION"
artifact="$dist/$CO_INPUT_NAME-$CO_INPUT_VERSION.tar.gz"
# Reproducible: fixed owner, order and mtime.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -c "$CO_INPUT_NAME-$CO_INPUT_VERSION" \
  | gzip -n > "$artifact"
tar -tzvf "$artifact"
echo "[COUT] artifact = $artifact"
echo "[COUT] size = $(stat -c %s "$artifact")"

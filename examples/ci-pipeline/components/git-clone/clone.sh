#!/bin/sh
# Inputs arrive as CO_INPUT_* (see component.yaml); outputs leave as [COUT] lines.
set -eu
dest="/workspace/$CO_INPUT_PATH"
rm -rf "$dest"
echo "cloning $CO_INPUT_REPO ($CO_INPUT_REF) into $dest"
git clone --quiet --depth 1 --branch "$CO_INPUT_REF" "$CO_INPUT_REPO" "$dest"
cd "$dest"
echo "[COUT] commit = $(git rev-parse HEAD)"
echo "[COUT] short-commit = $(git rev-parse --short HEAD)"
echo "[COUT] author = $(git log -1 --format=%an)"
echo "[COUT] message<<CO_END_OF_MESSAGE"
git log -1 --format=%B | sed '/^$/d'
echo "CO_END_OF_MESSAGE"

#!/usr/bin/env bash
# A short run of every fuzz target (fuzz/, cargo-fuzz on the nightly toolchain) from its committed
# corpus: catches a parser that panics, hangs or blows up on inputs like the ones the corpora hold
# and their near neighbours. Long fuzzing campaigns are run by hand (fuzz/README.md).
#
# Installs cargo-fuzz (pinned) when it is missing. Builds the targets without a sanitizer (the
# project forbids unsafe code; what fuzzing looks for here is panics, hangs and memory growth).
# FUZZ_SECONDS (default 12) is the time per target. The committed corpora are only read: new
# inputs go to a temporary directory. A failure prints the input that caused it and keeps a copy
# under fuzz/artifacts/TARGET/ (reproduce: see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-12}
start=$(date +%s)
log() { printf '%s fuzz-smoke: %s\n' "$(date +%T)" "$*" >&2; }

rustup toolchain list | grep -q '^nightly' || {
    echo "fuzz-smoke: no nightly Rust toolchain (rustup toolchain list); cargo-fuzz needs one" >&2
    exit 1
}
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

cd fuzz
# `cargo fuzz build` has no --locked: check that fuzz/Cargo.lock is complete first.
cargo +nightly fetch --locked --quiet
log "building the targets"
cargo +nightly fuzz build --sanitizer none
log "built in $(($(date +%s) - start)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for target in $(cargo +nightly fuzz list); do
    [ -d "corpus/$target" ] || { echo "fuzz-smoke: no corpus/$target" >&2; exit 1; }
    mkdir -p "$work/$target/new" "$work/$target/artifacts"
    # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: memory that grows without
    # bound is a failure long before it is a problem for the machine.
    if cargo +nightly fuzz run --sanitizer none "$target" "$work/$target/new" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$work/$target/artifacts/" >"$work/$target.log" 2>&1; then
        log "$target: $(grep -Eo '#[0-9]+[[:space:]]+DONE.*exec/s: [0-9]+' "$work/$target.log" | tail -1)"
    else
        failed+=("$target")
        tail -40 "$work/$target.log" >&2
        mkdir -p "artifacts/$target"
        cp "$work/$target/artifacts/"* "artifacts/$target/" 2>/dev/null || true
        echo "fuzz-smoke: $target FAILED; the input is in fuzz/artifacts/$target/:" >&2
        ls "artifacts/$target" >&2
    fi
done

log "done in $(($(date +%s) - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz-smoke: FAILED targets: ${failed[*]}" >&2
    exit 1
fi

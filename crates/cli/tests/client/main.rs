//! Tests of the `containerops` binary as a client of a real `containerops server` process
//! (`--server URL --token T`): every test starts its own server on a free port with a temp SQLite
//! database, and runs the real CLI binary against it. Runs execute on the real container engine
//! (Podman serving the Docker API at /run/podman/podman.sock) with
//! `localhost/co-examples/busybox:latest` (`scripts/build-images.sh`).
//!
//! Nothing waits on the clock: tests wait for output lines and process exits (a watchdog turns a
//! hang into a failure).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod errors;
mod logs;
mod runs;
mod secrets;
mod workflows;

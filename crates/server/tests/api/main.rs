//! API tests of `containerops server`: the real server (`co_server::Server`, the code behind
//! `containerops server`) on a random port, driven over HTTP with reqwest, every case on SQLite
//! (a temp file) and on PostgreSQL (a fresh schema in `CONTAINEROPS_TEST_POSTGRES_URL`; the
//! PostgreSQL cases fail without it). Runs use the real container engine (Podman) with the
//! images of `scripts/build-images.sh`; a few smoke tests start the real `containerops server`
//! process.
//!
//! ```text
//! export CONTAINEROPS_TEST_POSTGRES_URL="$(sudo scripts/setup-postgres.sh)"
//! cargo test -p co-server
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod artifacts;
mod auth;
mod components;
mod editor;
mod errors;
mod health;
mod hooks;
mod logs;
mod metrics;
mod names;
mod openapi;
mod policy;
mod process;
mod runs;
mod secret_inputs;
mod secrets;
mod session;
mod statuses;
mod ui;
mod workflows;

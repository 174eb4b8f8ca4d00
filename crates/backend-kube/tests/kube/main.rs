//! The Kubernetes backend against scripted API servers (no cluster can run where this is built):
//! - `scripted`: every request of each scenario asserted in order (method, path, query, body),
//!   answered by the test (kube's `tower-test` mock pattern);
//! - `engine`: whole workflows through `co_runner::Runner` on a stateful fake of the API
//!   (`support::cluster`, not a cluster), asserting what the Podman end-to-end tests assert;
//! - `api_calls`: the requests of all scenarios are exactly `API_CALLS`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_calls;
mod engine;
mod scripted;
mod support;

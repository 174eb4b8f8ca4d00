//! The ContainerOps server (`containerops server`): the REST API under `/api/v1`, the run queue
//! and its scheduler, webhooks and cron, crash recovery, health and metrics.
//!
//! Invariants:
//! - One engine, one semantics: a run on the server goes through the same `co-runner` driver
//!   and `co-engine` state machine as `containerops run`.
//! - The store is the only shared state between servers: every state change is stored before it
//!   takes effect, work is claimed with leases, and any server can finish any run.
//! - Secret values are encrypted before they reach the store ([`SecretBox`]) and never
//!   leave the server through the API or its logs; request bodies are never logged.
//! - Every API error has one JSON shape, `{"error": {"code", "message", "details"}}`
//!   ([`ApiError`]), including the framework's own (404, 405, 413).
//!
//! Code map (HTTP side): [`config`] (flags > env > file > defaults), [`policy`] (the registries
//! and service accounts steps may use), `serve` (start/stop),
//! `app` (state, router, middleware), `auth` (bearer tokens, roles), `crypto` (secrets),
//! `catalog` (parsing stored documents), `extract` (body extractors), `api` (handlers),
//! [`openapi`] (the generated document), `metrics` (Prometheus), [`session`] (browser sessions
//! and CSRF), [`ui`] (serving the web UI), `graph` (workflow graphs for display); and the
//! [`coordinator`]. Only the modules linked here are public (the CLI, the deploy tests and this
//! crate's tests use them); the rest is reached through the re-exports below.

mod api;
mod app;
mod auth;
mod catalog;
pub mod config;
pub mod coordinator;
mod crypto;
mod error;
mod extract;
pub mod forge;
mod graph;
mod metrics;
pub mod openapi;
pub mod policy;
pub mod retention;
mod serve;
pub mod session;
pub mod ui;
mod unsealed;

pub use app::{router, AlwaysReady, AppState, BackendProbe};
pub use auth::hash_token;
pub use config::{ServerConfig, ServerOptions};
pub use coordinator::{Coordinator, CoordinatorConfig, RunRequest, Submitted};
pub use crypto::SecretBox;
pub use error::{ApiError, ServerError};
pub use metrics::{
    MetricFamily, MetricKind, BUILD_COMMIT, BUILD_VERSION, FAMILIES as METRIC_FAMILIES,
};
pub use serve::{serve, Server};

//! The ContainerOps server (`containerops server`): the REST API under `/api/v1`, the run queue
//! and its scheduler, webhooks and cron, crash recovery, health and metrics.
//!
//! Invariants:
//! - One engine, one semantics: a run on the server goes through the same `co-runner` driver
//!   and `co-engine` state machine as `containerops run`.
//! - The store is the only shared state between servers: every state change is stored before it
//!   takes effect, work is claimed with leases, and any server can finish any run.

pub mod coordinator;

pub use coordinator::{Coordinator, CoordinatorConfig, RunRequest, Submitted};

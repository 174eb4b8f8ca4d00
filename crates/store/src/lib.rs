//! Run history (SQLite by default, PostgreSQL for shared deployments).
//!
//! Invariants:
//! - Records are written as things happen (a run row before its first step starts, step rows on
//!   every status change, log lines in small group commits), so a crash loses at most the lines
//!   of the last unfinished commit.
//! - Several processes may use one SQLite file at once (WAL, busy timeout) without corrupting it.
//! - Timestamps are UTC RFC 3339 with milliseconds (`2026-11-27T07:49:40.123Z`).

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("no run matches {0:?}")]
    NotFound(String),
    #[error("{0:?} matches several runs; give more characters")]
    Ambiguous(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A run as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled`.
    pub status: String,
    pub inputs: Value,
    pub outputs: Value,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The workflow file's path as given, and its text.
    pub source_path: String,
    pub source: String,
}

/// One step (an action, or a matrix copy) of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub run_id: String,
    /// Position in the plan (stable order for display).
    pub position: i64,
    /// Unique step key in the run.
    pub key: String,
    pub stage: String,
    pub action: String,
    /// `pending`, `waiting`, `running`, `succeeded`, `failed`, `skipped`, `cancelled`.
    pub status: String,
    pub attempts: i64,
    pub exit_code: Option<i64>,
    pub outputs: Value,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub run_id: String,
    pub step_key: String,
    pub attempt: i64,
    pub status: String,
    pub container_id: Option<String>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// One stored (already masked) log line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRecord {
    pub run_id: String,
    /// Per-run sequence number, 1-based, gapless.
    pub seq: i64,
    pub step_key: String,
    pub attempt: i64,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub ts: String,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub workflow: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
}

/// A run with its steps and attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    pub run: RunRecord,
    pub steps: Vec<StepRecord>,
    pub attempts: Vec<AttemptRecord>,
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    // implementation detail
}

impl Store {
    /// Open (creating and migrating if needed): `sqlite://PATH` / a plain file path, or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store> {
        todo!("{url}")
    }
    pub async fn insert_run(&self, run: &RunRecord) -> Result<()> {
        todo!("{run:?}")
    }
    /// Update status, outputs, error and timestamps of a run.
    pub async fn update_run(&self, run: &RunRecord) -> Result<()> {
        todo!("{run:?}")
    }
    /// Insert or replace steps (all in one transaction).
    pub async fn upsert_steps(&self, steps: &[StepRecord]) -> Result<()> {
        todo!("{steps:?}")
    }
    pub async fn upsert_attempt(&self, attempt: &AttemptRecord) -> Result<()> {
        todo!("{attempt:?}")
    }
    /// Append log lines (one transaction). `seq` is assigned by the caller.
    pub async fn append_logs(&self, lines: &[LogRecord]) -> Result<()> {
        todo!("{lines:?}")
    }
    /// Newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        todo!("{filter:?}")
    }
    /// By full id or unique prefix.
    pub async fn get_run(&self, id_or_prefix: &str) -> Result<RunDetail> {
        todo!("{id_or_prefix}")
    }
    /// Log lines of a run (optionally of one step key or action label), with `seq > after`.
    pub async fn logs(
        &self,
        run_id: &str,
        step: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LogRecord>> {
        todo!("{run_id} {step:?} {after} {limit}")
    }
}

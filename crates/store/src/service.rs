//! What the server keeps besides run history: stored workflows and their revisions, registered
//! components, encrypted secrets, API tokens, webhook deliveries, cron ticks, and the run queue
//! with its claims and leases (several servers on one PostgreSQL share the work).
//!
//! Invariants:
//! - Workflow revisions and component versions are immutable once written.
//! - A queued run is claimed by exactly one server (claims are serialised: `BEGIN IMMEDIATE` on
//!   SQLite, a transaction-scoped advisory lock plus `FOR UPDATE SKIP LOCKED` on PostgreSQL), and
//!   per-workflow concurrency limits hold across servers.
//! - A running run is owned by the server whose lease is current; a run whose lease expired is
//!   claimed again (recovered) by exactly one server.
//! - A webhook delivery id and a cron tick start at most one run.

use serde::Serialize;

use crate::{Result, RunRecord, Store};

/// One immutable revision of a stored workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowRevision {
    pub name: String,
    /// 1, 2, 3, … per workflow.
    pub revision: i64,
    /// The YAML as submitted.
    pub yaml: String,
    pub created_at: String,
}

/// A stored workflow (its latest revision).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowSummary {
    pub name: String,
    pub latest_revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A registered component version (immutable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentRecord {
    pub name: String,
    pub version: String,
    /// The `component.yaml` text as submitted.
    pub yaml: String,
    pub created_at: String,
}

/// An API token. Only a hash of the token is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    /// SHA-256 of the token, hex.
    #[serde(skip_serializing)]
    pub hash: String,
    /// `admin` (everything) or `viewer` (read only).
    pub role: String,
    pub created_at: String,
}

/// A run claimed by a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub run: RunRecord,
    /// The run was already running under another (or an earlier) owner whose lease expired: it
    /// must be recovered, not started.
    pub recovered: bool,
}

impl Store {
    // --- workflows --------------------------------------------------------------------------

    /// Store a new revision of workflow `name` (1 if it is new, else latest + 1), atomically.
    pub async fn put_workflow_revision(&self, name: &str, yaml: &str) -> Result<WorkflowRevision> {
        todo!("{name} {yaml}")
    }

    /// Every stored workflow, by name.
    pub async fn list_workflows(&self) -> Result<Vec<WorkflowSummary>> {
        todo!()
    }

    /// One revision (`None`: the latest). `NotFound` if there is no such workflow or revision.
    pub async fn get_workflow_revision(
        &self,
        name: &str,
        revision: Option<i64>,
    ) -> Result<WorkflowRevision> {
        todo!("{name} {revision:?}")
    }

    /// Every revision of a workflow, oldest first.
    pub async fn list_workflow_revisions(&self, name: &str) -> Result<Vec<WorkflowRevision>> {
        todo!("{name}")
    }

    // --- components -------------------------------------------------------------------------

    /// Register a component version. Registering the same text again is fine (idempotent);
    /// different text for an existing name@version is `Conflict`.
    pub async fn put_component(
        &self,
        name: &str,
        version: &str,
        yaml: &str,
    ) -> Result<ComponentRecord> {
        todo!("{name} {version} {yaml}")
    }

    /// Every component version, by name then version (as registered).
    pub async fn list_components(&self) -> Result<Vec<ComponentRecord>> {
        todo!()
    }

    pub async fn get_component(&self, name: &str, version: &str) -> Result<ComponentRecord> {
        todo!("{name} {version}")
    }

    // --- secrets (the store only sees ciphertext) ------------------------------------------

    /// Set a secret (insert or replace).
    pub async fn put_secret(&self, name: &str, ciphertext: &str) -> Result<()> {
        todo!("{name} {ciphertext}")
    }

    /// `true` if it existed.
    pub async fn delete_secret(&self, name: &str) -> Result<bool> {
        todo!("{name}")
    }

    /// Names of every secret, sorted.
    pub async fn list_secret_names(&self) -> Result<Vec<String>> {
        todo!()
    }

    pub async fn get_secret(&self, name: &str) -> Result<Option<String>> {
        todo!("{name}")
    }

    // --- API tokens -------------------------------------------------------------------------

    pub async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        todo!("{token:?}")
    }

    pub async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        todo!("{hash}")
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        todo!()
    }

    /// `true` if it existed.
    pub async fn delete_token(&self, id: &str) -> Result<bool> {
        todo!("{id}")
    }

    // --- triggers ---------------------------------------------------------------------------

    /// Record that webhook `delivery` of `workflow` started `run_id`; if that delivery was already
    /// recorded, nothing changes and the run it started is returned.
    pub async fn record_delivery(
        &self,
        workflow: &str,
        delivery: &str,
        run_id: &str,
    ) -> Result<Option<String>> {
        todo!("{workflow} {delivery} {run_id}")
    }

    /// Claim the cron tick `tick` (RFC 3339) of trigger `trigger` of `workflow`: `true` for
    /// exactly one caller, whatever the number of servers.
    pub async fn claim_cron_tick(&self, workflow: &str, trigger: i64, tick: &str) -> Result<bool> {
        todo!("{workflow} {trigger} {tick}")
    }

    // --- the run queue ----------------------------------------------------------------------

    /// Insert a queued run and its delivery record (if any) in one transaction; returns the run
    /// that delivery already started instead, if it was recorded before (nothing is inserted).
    pub async fn enqueue_run(
        &self,
        run: &RunRecord,
        delivery: Option<(&str, &str)>,
    ) -> Result<Option<String>> {
        todo!("{run:?} {delivery:?}")
    }

    /// Claim the oldest queued run whose workflow is below its concurrency limit, or a running
    /// run whose lease expired before `now_ms` (recovery, preferred); set its owner and lease
    /// (`lease_until_ms`) and, for a queued run, its status to `running`. `None` if there is
    /// nothing to claim. `max_owned`: claim nothing if `owner` already holds this many runs.
    pub async fn claim_run(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        max_owned: Option<i64>,
    ) -> Result<Option<Claim>> {
        todo!("{owner} {now_ms} {lease_until_ms} {max_owned:?}")
    }

    /// Extend the leases of every run `owner` holds; returns the ids of those runs that were asked
    /// to cancel.
    pub async fn renew_leases(&self, owner: &str, lease_until_ms: i64) -> Result<Vec<String>> {
        todo!("{owner} {lease_until_ms}")
    }

    /// The run is over (its row already has its final status): drop the owner and the lease.
    pub async fn release_run(&self, run_id: &str, owner: &str) -> Result<()> {
        todo!("{run_id} {owner}")
    }

    /// Ask a run to cancel: a queued run becomes `cancelled` at once (returns `true`); a running
    /// one is flagged for its owner (returns `false`). `NotFound` for an unknown run.
    pub async fn request_cancel(&self, run_id: &str) -> Result<bool> {
        todo!("{run_id}")
    }

    /// Runs with status `queued` (the queue depth).
    pub async fn count_queued(&self) -> Result<i64> {
        todo!()
    }

    /// Runs newest first, continuing after the run `after` (keyset pagination: `(created_at, id)`
    /// of that run). Same filters as [`Store::list_runs`].
    pub async fn list_runs_after(
        &self,
        filter: &crate::RunFilter,
        after: Option<&str>,
    ) -> Result<Vec<RunRecord>> {
        todo!("{filter:?} {after:?}")
    }

    /// How many log lines of one attempt are stored (recovery resumes after them).
    pub async fn count_attempt_logs(
        &self,
        run_id: &str,
        step_key: &str,
        attempt: i64,
    ) -> Result<i64> {
        todo!("{run_id} {step_key} {attempt}")
    }
}

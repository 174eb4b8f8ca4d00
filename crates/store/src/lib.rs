//! Run history (SQLite by default, PostgreSQL for shared deployments), and what the server keeps
//! besides it: stored workflows and revisions, components, secrets, API tokens, webhook deliveries,
//! cron ticks, and the run queue with claims and leases (below).
//!
//! Invariants:
//! - Records are written as things happen (a run row before its first step starts, step rows on
//!   every status change, log lines in small group commits), so a crash loses at most the lines
//!   of the last unfinished commit.
//! - Several processes may use one SQLite file at once (WAL, busy timeout) without corrupting it.
//! - Timestamps are UTC RFC 3339 with milliseconds (`2026-11-27T07:49:40.123Z`).
//! - A queued run is claimed by exactly one server, per-workflow concurrency limits hold across
//!   servers, and a run whose owner stopped renewing its lease is recovered by exactly one server.
//! - A webhook delivery id and a cron tick start at most one run; workflow revisions are numbered
//!   1, 2, 3, … without gaps or duplicates, even with concurrent writers.
//! - The last token of a role (the last admin token) is never deleted, even by concurrent
//!   deletions on several servers.
//!
//! # Opening
//! [`Store::open`] takes `sqlite://PATH`, `sqlite:PATH`, a plain file path (created with its
//! directories if missing: new directories `0700`, the database and its `-wal`/`-shm` files
//! `0600`, existing ones tightened to that; see [`create_private_dir_all`]), `sqlite::memory:` (private to the `Store` and its clones), or
//! `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (`postgresql://` too). The embedded migrations
//! run on open, inside one write transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL: plus a
//! transaction-scoped advisory lock), so several processes may open a fresh database at once.
//! Errors name the cause and what to do ([`StoreError::Open`]).
//!
//! SQLite connections use WAL, `synchronous = NORMAL`, foreign keys, and a 10 s busy timeout; every
//! multi-statement write starts with `BEGIN IMMEDIATE`, so concurrent writers (tasks or processes)
//! queue for the write lock instead of failing with "database is locked".
//!
//! # How SQL is shared between SQLite and PostgreSQL
//! Through sqlx's `Any` driver: every query is written once, with `$1`-style placeholders, which
//! both SQLite and PostgreSQL accept, and runs on an `AnyPool` connected to either. The `Any`
//! driver only carries `i64`/`String`/`NULL`-like values, which is all this schema uses (ids,
//! JSON and timestamps are TEXT, counters BIGINT), so nothing is lost. The few statements that must
//! differ (how a write or a snapshot-read transaction begins, the migration and claim locks,
//! `FOR UPDATE OF r SKIP LOCKED` on the row a claim takes, which SQLite does not need because
//! `BEGIN IMMEDIATE` already serialises writers) are methods of [`Backend`]. Everything else that
//! looks dialect-specific is in fact shared: `INSERT … ON CONFLICT … DO NOTHING / DO UPDATE`,
//! `UPDATE … RETURNING`, partial indexes (`CREATE INDEX … WHERE status = 'queued'`) and row
//! values work the same on SQLite ≥ 3.35 (sqlx bundles a newer one) and PostgreSQL. Alternatives
//! rejected: code generic over `sqlx::Database` (a wall of trait bounds on every
//! query for no gain), or one module per database (the same queries twice). The price of `Any` is
//! that sqlx's compile-time checked `query!` macros are not available; the conformance suite in
//! `tests/` runs every query on both databases instead.
//!
//! # Schema
//! `migrations/` holds one portable migration set used by both databases: tables `runs`, `steps`
//! (primary key `run_id, step_key`), `attempts` (`run_id, step_key, attempt`) and `log_lines`
//! (`run_id, seq`), with indexes for runs newest-first, runs by workflow and by status, and logs
//! by run+seq (the primary key) and run+step. Steps, attempts and log lines reference their run
//! (`ON DELETE CASCADE`).
//!
//! `0002_server.sql` adds to `runs` what a server run is (`revision`, `trigger` JSON defaulting
//! to `null`, `parent`, `max_concurrency`: fields of [`RunRecord`]) and who holds it (`owner`,
//! `lease_until` in ms since the epoch, `cancel_requested` 0/1: internal, changed only by the
//! queue methods, never by [`Store::update_run`]), with partial indexes for the queue (queued runs
//! by age), running runs per workflow, runs per owner and leases. New tables: `workflows` (the
//! revision counter: name → latest revision) and `workflow_revisions` (name, revision → yaml),
//! `components` (name, version → yaml), `secrets` (name → ciphertext), `tokens` (id, unique
//! hash, role), `deliveries` (workflow, delivery → run id) and `cron_ticks` (workflow, trigger
//! index, tick), whose primary keys make "at most once" hold.
//!
//! `0004_delivery_scope.sql` scopes delivery ids by trigger kind too: `deliveries` is keyed by
//! (workflow, kind, delivery) ([`DeliveryKey`]); deliveries recorded before it count for every
//! kind.
//!
//! `0005_secret_inputs.sql` adds `runs.secret_inputs` (the ciphertext of a run's `secret`-typed
//! inputs, whose values `runs.inputs` shows as `***`) and `steps.inputs` (each step's masked
//! inputs, for display).
//!
//! `0007_unsealed_runs.sql` lists the runs whose inputs may still hold secret values in clear
//! (recorded before 0005) in `unsealed_runs`, for the one-time sweep of [`Store::unsealed_runs`]
//! and [`Store::seal_run_inputs`].
//!
//! `0008_artifacts.sql` adds `artifacts` (run, step, name → attempt, path, kind, sha256, size,
//! created and expired times; [`ArtifactRecord`]): what steps kept, naming blobs of the
//! artifact store by their SHA-256 (`artifacts.rs`).
//!
//! To grow the schema, add numbered migrations (never edit a shipped one). If a migration ever has to differ between the databases,
//! split the directory into `migrations/sqlite` and `migrations/postgres`, keeping the existing
//! files byte-identical in both (sqlx checks their checksums), and pick the migrator by
//! [`Backend`].
//!
//! # The run queue: claims and leases
//! Several servers may share one database; this protocol makes them share the runs. Time is the
//! caller's: instants are milliseconds since the epoch passed as arguments (`now_ms`,
//! `lease_until_ms`), so it is tested with a virtual clock; servers' clocks need only roughly
//! agree (a lease should be much longer than their skew).
//!
//! 1. [`Store::enqueue_run`] inserts the run as `queued`, held by nobody, together with its
//!    webhook delivery record if it has one (a known delivery inserts nothing and returns the run
//!    it started).
//! 2. [`Store::claim_run`] is one serialised transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL a
//!    transaction-scoped advisory lock, plus `FOR UPDATE OF r SKIP LOCKED` on the picked row):
//!    nothing if the caller already holds `max_owned` running runs; else the `running` run whose
//!    lease expired first (`lease_until < now_ms`), which gets the new owner and lease and keeps
//!    its status (`Claim { recovered: true }`); else the oldest `queued` run (by `created_at`,
//!    then id) whose workflow has fewer than `max_concurrency` runs `running` under a lease,
//!    which becomes `running` with owner and lease (`started_at` is the driver's to set;
//!    `recovered: false`). Claims see each other's results, and a run only becomes `running`
//!    through a claim, so each run is claimed once and limits hold across servers.
//! 3. The owner renews well within the lease ([`Store::renew_leases`], e.g. every third of it),
//!    which extends every `running` run it still holds and returns those asked to cancel
//!    ([`Store::request_cancel`]: a queued run is cancelled at once, a running one is flagged).
//!    [`Store::renew_leases_report`] also lists the runs still held, so a server that was too
//!    slow learns that another one recovered a run and stops driving it.
//! 4. When a run ends, the driver writes its final status ([`Store::update_run`], which never
//!    touches owner, lease or cancel flag) and the owner calls [`Store::release_run`]. A run
//!    released while still `running` (or renewed with a lease in the past) is recovered by the
//!    next claim.
//! 5. A server that dies stops renewing; after its leases pass, any server recovers its runs.
//!
//! A `running` run without a lease (a local CLI run recorded with [`Store::insert_run`]) is never
//! claimed and does not count against `max_concurrency`.
//!
//! # Logs on the hot path
//! [`Store::log_writer`] returns a [`LogWriter`]: `push` is a send on a bounded channel (it waits
//! only while [`LOG_QUEUE`] lines are queued: the backpressure of a flood); a background task
//! takes everything queued so far and commits it in one transaction, then repeats (group commit,
//! no timers). [`LogWriter::flush`] returns once everything pushed before it is
//! committed (or reports the failure); [`LogWriter::close`] also stops the task.
//!
//! # What is stored exactly as given, and what is not
//! Everything round-trips exactly (JSON key order and number forms included), except:
//! timestamps are normalised to the format above (any RFC 3339 input is accepted; anything else is
//! [`StoreError::Invalid`]), and NUL characters in free text (log lines, errors, the workflow
//! source) become U+FFFD, because PostgreSQL's TEXT cannot hold them and both stores must agree.
//!
//! # Testing
//! `tests/conformance.rs` runs every case on SQLite (a temp file) and on PostgreSQL (a fresh
//! schema in the database named by `CONTAINEROPS_TEST_POSTGRES_URL`; the PostgreSQL tests fail,
//! never skip, without it). The server's cases are in `tests/conformance/service.rs`, including
//! races between several `Store` instances (like several servers) and many tasks: every queued run
//! claimed exactly once, per-workflow limits and `max_owned` never exceeded, one recovery per
//! expired run, one run per delivery, one winner per cron tick, distinct revision numbers. Time
//! is virtual there (claims take it as an argument): nothing sleeps.
//! ```text
//! export CONTAINEROPS_TEST_POSTGRES_URL="$(sudo scripts/setup-postgres.sh)"
//! cargo test -p co-store
//! ```

mod artifacts;
mod connect;
mod log_writer;
mod outage;
mod private;
mod timestamp;

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};

pub use artifacts::ArtifactRecord;
pub use co_status::{RunStatus, StepStatus, UnknownStatus};
pub use connect::{redact_url, Backend, CONNECT_TIMEOUT, SQLITE_BUSY_TIMEOUT};
pub use log_writer::{LineSlot, LogWriter, LogWriterStats, LOG_QUEUE};
pub use outage::{retry_while_unavailable, MAX_PAUSE};
pub use private::{create_private_dir_all, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE};
pub use service::*;
pub use timestamp::{format_timestamp, normalize_timestamp, now_timestamp};
pub use ui::*;

use timestamp::normalize_opt;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    /// Nothing matches. For runs the payload is the id or prefix that was looked up; for other
    /// records it names them (`workflow "hello"`, `revision 3 of workflow "hello"`,
    /// `component upper@1.0.0`).
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0:?} matches several runs; give more characters")]
    Ambiguous(String),
    /// The database could not be opened or migrated; `reason` says what to do.
    #[error("cannot open the run store {url}: {reason}")]
    Open { url: String, reason: String },
    /// Something with the same identity is already recorded (a run id, a token id or hash) or
    /// recorded differently (a component name@version with other text); the text says what.
    #[error("{0}")]
    Conflict(String),
    /// A record the store refuses (e.g. a timestamp that is not RFC 3339).
    #[error("invalid record: {0}")]
    Invalid(String),
    /// The [`LogWriter`] was closed (or its task is gone); the line was not accepted.
    #[error("the log writer is closed")]
    WriterClosed,
    /// The database cannot take the request now (the connection is lost or refused, the server
    /// is restarting, the disk is full, the database is locked); the same request may succeed
    /// later. The text says what the database said.
    #[error("the run store is unavailable: {0}")]
    Unavailable(String),
    /// A write on behalf of a run's owner ([`Store::record_progress_as`]) found the run held by
    /// another server (it took the run over after this one's lease lapsed): nothing was written.
    #[error("run {run} is now held by {}", .holder.as_deref().unwrap_or("no server"))]
    NotHeld { run: String, holder: Option<String> },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A run as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub status: RunStatus,
    /// The inputs as they may be shown: the value of a `secret`-typed input is `***` (its value
    /// is in `secret_inputs`, encrypted, or nowhere).
    pub inputs: Value,
    /// The values of the run's `secret`-typed inputs, encrypted by the caller (the store only
    /// ever sees ciphertext); `None` when there are none or nothing will need them again (a
    /// local run). Like `inputs`, never changed by [`Store::update_run`].
    pub secret_inputs: Option<String>,
    pub outputs: Value,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The workflow file's path as given, and its text.
    pub source_path: String,
    pub source: String,
    /// The revision of the stored workflow this run uses (`None`: a run of a local file).
    pub revision: Option<i64>,
    /// What started the run: `{"event": "cli"}`, `{"event": "api"}`, `{"event": "cron", …}`,
    /// `{"event": "push", "delivery": …, "payload": …}` (visible to expressions as `trigger.*`).
    pub trigger: Value,
    /// The run this one reruns or resumes.
    pub parent: Option<String>,
    /// At most this many runs of the workflow may run at once (copied from the workflow when the
    /// run is queued); `None`: no limit.
    pub max_concurrency: Option<i64>,
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
    pub status: StepStatus,
    pub attempts: i64,
    pub exit_code: Option<i64>,
    pub outputs: Value,
    /// The inputs of its last launch, masked (a JSON object; `{}` before the first launch).
    pub inputs: Value,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// A `reused` step: the run it ran in (its result was taken from there).
    pub reused_from: Option<String>,
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub run_id: String,
    pub step_key: String,
    pub attempt: i64,
    pub status: StepStatus,
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
    pub status: Option<RunStatus>,
    /// Only runs whose `trigger.event` is this (`api`, `cli`, `cron`, `push`, …).
    pub trigger: Option<String>,
    /// At most this many runs (`None` or a negative number: all).
    pub limit: Option<i64>,
}

/// A run with its steps and attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    pub run: RunRecord,
    pub steps: Vec<StepRecord>,
    pub attempts: Vec<AttemptRecord>,
}

/// The store. Cheap to clone (clones share one connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

// Column lists, written once (macros so that `concat!` can build `&'static str` queries).
macro_rules! run_columns {
    () => {
        "id, workflow, status, inputs, outputs, error, created_at, started_at, finished_at, \
         source_path, source, revision, trigger, parent, max_concurrency, secret_inputs"
    };
}
macro_rules! step_columns {
    () => {
        "run_id, step_key, position, stage, action, status, attempts, exit_code, outputs, error, \
         started_at, finished_at, inputs, reused_from"
    };
}
macro_rules! attempt_columns {
    () => {
        "run_id, step_key, attempt, status, container_id, exit_code, error, started_at, finished_at"
    };
}
macro_rules! log_columns {
    () => {
        "run_id, seq, step_key, attempt, stream, ts, text"
    };
}

// After the column macros, which it uses (macros are scoped textually).
mod service;
mod ui;
mod unsealed;

/// Log lines per INSERT statement (7 values each; far below both databases' parameter limits).
const LOG_ROWS_PER_STATEMENT: usize = 500;

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

impl Store {
    /// Open (creating and migrating if needed): `sqlite://PATH` / a plain file path, or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store> {
        let (pool, backend) = connect::open(url).await?;
        Ok(Store { pool, backend })
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (waits for queries in flight). Later calls on this store or its
    /// clones fail. Not needed for correctness: dropping the last clone closes the pool too.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Record a new run (with the status it has). `Conflict` if its id is taken; `Invalid` for a
    /// timestamp that is not RFC 3339 or a `max_concurrency` below 1. Nobody holds the run: a
    /// `running` run inserted here (a local run) is never claimed by a server.
    pub async fn insert_run(&self, run: &RunRecord) -> Result<()> {
        insert_run_query(run, run.status)?
            .execute(&self.pool)
            .await
            .map_err(|e| insert_run_error(e, &run.id))?;
        Ok(())
    }

    /// Update status, outputs, error and timestamps of a run. Nothing else changes: not what the
    /// run is (workflow, inputs, source, revision, trigger, parent, max_concurrency), and not who
    /// holds it (owner, lease, cancel request).
    pub async fn update_run(&self, run: &RunRecord) -> Result<()> {
        self.update_run_as(None, run).await
    }

    /// [`Store::update_run`] on behalf of `owner`: only while `owner` holds the run, else
    /// [`StoreError::NotHeld`] and nothing is written (see [`Store::record_progress_as`]).
    pub async fn update_run_as(&self, owner: Option<&str>, run: &RunRecord) -> Result<()> {
        let sql = "UPDATE runs SET status = $2, outputs = $3, error = $4, started_at = $5, \
                   finished_at = $6 WHERE id = $1 AND ($7 = '' OR owner = $7)";
        let done = sqlx::query(sql)
            .bind(&run.id)
            .bind(run.status.as_str())
            .bind(json_text(&run.outputs)?)
            .bind(clean_opt(&run.error))
            .bind(normalize_opt(run.started_at.as_deref())?)
            .bind(normalize_opt(run.finished_at.as_deref())?)
            .bind(owner.unwrap_or_default())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, &run.id, "updating run"))?;
        if done.rows_affected() == 0 {
            let row = sqlx::query("SELECT owner FROM runs WHERE id = $1")
                .bind(&run.id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| read_error(e, "checking who holds the run"))?;
            return Err(match row {
                Some(row) => StoreError::NotHeld {
                    run: run.id.clone(),
                    holder: column(&row, "owner")?,
                },
                None => StoreError::NotFound(run.id.clone()),
            });
        }
        Ok(())
    }

    /// Insert or replace steps (all in one transaction).
    pub async fn upsert_steps(&self, steps: &[StepRecord]) -> Result<()> {
        self.record_progress(steps, &[]).await
    }

    /// Insert or replace one attempt of a step.
    pub async fn upsert_attempt(&self, attempt: &AttemptRecord) -> Result<()> {
        self.record_progress(&[], std::slice::from_ref(attempt))
            .await
    }

    /// Insert or replace steps and attempts together, in one transaction: what one engine step
    /// changed is recorded at once (the driver's "persist, then act").
    pub async fn record_progress(
        &self,
        steps: &[StepRecord],
        attempts: &[AttemptRecord],
    ) -> Result<()> {
        self.record_progress_as(None, steps, attempts).await
    }

    /// [`Store::record_progress`] on behalf of `owner` (a server driving the run it claimed):
    /// in the same transaction, the run must still be held by `owner`, else nothing is written
    /// and the answer is [`StoreError::NotHeld`] (a fence: a server that was frozen or cut off
    /// past its lease cannot overwrite what the server that took the run over recorded).
    pub async fn record_progress_as(
        &self,
        owner: Option<&str>,
        steps: &[StepRecord],
        attempts: &[AttemptRecord],
    ) -> Result<()> {
        let run_id = match (steps.first(), attempts.first()) {
            (Some(step), _) => step.run_id.clone(),
            (None, Some(attempt)) => attempt.run_id.clone(),
            (None, None) => return Ok(()),
        };
        let step_sql = concat!(
            "INSERT INTO steps (",
            step_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (run_id, step_key) DO UPDATE SET position = excluded.position, \
             stage = excluded.stage, action = excluded.action, status = excluded.status, \
             attempts = excluded.attempts, exit_code = excluded.exit_code, \
             outputs = excluded.outputs, error = excluded.error, \
             started_at = excluded.started_at, finished_at = excluded.finished_at, \
             inputs = excluded.inputs, reused_from = excluded.reused_from"
        );
        let attempt_sql = concat!(
            "INSERT INTO attempts (",
            attempt_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (run_id, step_key, attempt) DO UPDATE SET status = excluded.status, \
             container_id = excluded.container_id, exit_code = excluded.exit_code, \
             error = excluded.error, started_at = excluded.started_at, \
             finished_at = excluded.finished_at"
        );
        let mut tx = self.begin_write().await?;
        if let Some(owner) = owner {
            let row = sqlx::query("SELECT owner FROM runs WHERE id = $1")
                .bind(&run_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| write_error(e, &run_id, "checking who holds the run"))?;
            let holder: Option<String> = match &row {
                Some(row) => column(row, "owner")?,
                None => return Err(StoreError::NotFound(run_id)),
            };
            if holder.as_deref() != Some(owner) {
                return Err(StoreError::NotHeld {
                    run: run_id,
                    holder,
                });
            }
        }
        for step in steps {
            sqlx::query(step_sql)
                .bind(&step.run_id)
                .bind(&step.key)
                .bind(step.position)
                .bind(&step.stage)
                .bind(&step.action)
                .bind(step.status.as_str())
                .bind(step.attempts)
                .bind(step.exit_code)
                .bind(json_text(&step.outputs)?)
                .bind(clean_opt(&step.error))
                .bind(normalize_opt(step.started_at.as_deref())?)
                .bind(normalize_opt(step.finished_at.as_deref())?)
                .bind(json_text(&step.inputs)?)
                .bind(&step.reused_from)
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, &step.run_id, "recording step"))?;
        }
        for attempt in attempts {
            sqlx::query(attempt_sql)
                .bind(&attempt.run_id)
                .bind(&attempt.step_key)
                .bind(attempt.attempt)
                .bind(attempt.status.as_str())
                .bind(&attempt.container_id)
                .bind(attempt.exit_code)
                .bind(clean_opt(&attempt.error))
                .bind(normalize_opt(attempt.started_at.as_deref())?)
                .bind(normalize_opt(attempt.finished_at.as_deref())?)
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, &attempt.run_id, "recording attempt"))?;
        }
        tx.commit()
            .await
            .map_err(|e| write_error(e, &run_id, "committing progress"))
    }

    /// Append log lines (one transaction). `seq` is assigned by the caller.
    ///
    /// A `(run_id, seq)` that is already stored fails the whole call (nothing is written), as does
    /// a line of a run that is not recorded ([`StoreError::NotFound`]).
    pub async fn append_logs(&self, lines: &[LogRecord]) -> Result<()> {
        let Some(first) = lines.first() else {
            return Ok(());
        };
        // Validate everything before taking the write lock.
        let stamps = lines
            .iter()
            .map(|l| normalize_timestamp(&l.ts))
            .collect::<Result<Vec<_>>>()?;
        let texts: Vec<Cow<'_, str>> = lines.iter().map(|l| clean(&l.text)).collect();
        let mut tx = self.begin_write().await?;
        let mut offset = 0;
        for chunk in lines.chunks(LOG_ROWS_PER_STATEMENT) {
            let sql = format!(
                concat!("INSERT INTO log_lines (", log_columns!(), ") VALUES {}"),
                placeholders(chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql);
            let values = stamps[offset..].iter().zip(&texts[offset..]);
            for (line, (ts, text)) in chunk.iter().zip(values) {
                query = query
                    .bind(&line.run_id)
                    .bind(line.seq)
                    .bind(&line.step_key)
                    .bind(line.attempt)
                    .bind(&line.stream)
                    .bind(ts)
                    .bind(text.as_ref());
            }
            offset += chunk.len();
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, &chunk[0].run_id, "appending log lines"))?;
        }
        tx.commit()
            .await
            .map_err(|e| write_error(e, &first.run_id, "committing log lines"))
    }

    /// A [`LogWriter`] that group-commits pushed lines in the background (see the crate docs).
    ///
    /// Must be called inside a Tokio runtime (it spawns the writer task), like `tokio::spawn`.
    pub fn log_writer(&self) -> LogWriter {
        LogWriter::spawn(self.clone())
    }

    /// Newest first (by `created_at`, then id), optionally one workflow and/or one status, at
    /// most `filter.limit` runs. [`Store::list_runs_after`] continues a listing page by page.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        self.list_runs_after(filter, None).await
    }

    /// By full id or unique prefix.
    pub async fn get_run(&self, id_or_prefix: &str) -> Result<RunDetail> {
        let mut tx = self
            .pool
            .begin_with(self.backend.begin_read())
            .await
            .map_err(|e| read_error(e, "starting a read transaction"))?;
        let id = resolve_run_id(&mut tx, id_or_prefix).await?;
        let run = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = $1"
        ))
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| read_error(e, "reading run"))?
        .ok_or_else(|| StoreError::NotFound(id_or_prefix.to_string()))?;
        let steps = sqlx::query(concat!(
            "SELECT ",
            step_columns!(),
            " FROM steps WHERE run_id = $1 ORDER BY position, step_key"
        ))
        .bind(&id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| read_error(e, "reading steps"))?;
        // Attempts in plan order (attempts of steps without a step row first), then by attempt.
        let attempts = sqlx::query(concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE run_id = $1 ORDER BY COALESCE((SELECT s.position FROM steps s \
             WHERE s.run_id = attempts.run_id AND s.step_key = attempts.step_key), -1), \
             step_key, attempt"
        ))
        .bind(&id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| read_error(e, "reading attempts"))?;
        tx.commit()
            .await
            .map_err(|e| read_error(e, "ending a read transaction"))?;
        Ok(RunDetail {
            run: run_from_row(&run)?,
            steps: steps.iter().map(step_from_row).collect::<Result<_>>()?,
            attempts: attempts
                .iter()
                .map(attempt_from_row)
                .collect::<Result<_>>()?,
        })
    }

    /// Log lines of a run (optionally of one step key or action label), with `seq > after`.
    ///
    /// `run_id` is a full id (resolve prefixes with [`Store::get_run`]). `step` matches lines whose
    /// step key equals it, and lines of every step whose action equals it, so an action label
    /// selects all matrix copies of that action (`build` selects `build[os=linux]`, …). Ordered by
    /// `seq`; at most `limit` lines (a negative `limit`: all).
    pub async fn logs(
        &self,
        run_id: &str,
        step: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LogRecord>> {
        let mut sql = String::from(concat!(
            "SELECT ",
            log_columns!(),
            " FROM log_lines WHERE run_id = $1 AND seq > $2"
        ));
        let mut next = 3;
        if step.is_some() {
            // $3: the label; $4/$5: `label[` and its length, the prefix of a matrix copy's name.
            sql.push_str(
                " AND (step_key = $3 OR substr(step_key, 1, CAST($4 AS INTEGER)) = $5 \
                 OR step_key IN (SELECT step_key FROM steps WHERE run_id = $1 AND \
                 (action = $3 OR substr(action, 1, CAST($4 AS INTEGER)) = $5)))",
            );
            next = 6;
        }
        sql.push_str(" ORDER BY seq");
        if limit >= 0 {
            sql.push_str(&format!(" LIMIT ${next}"));
        }
        let mut query: AnyQuery<'_> = sqlx::query(&sql).bind(run_id).bind(after);
        let copy_prefix = step.map(|s| format!("{s}["));
        if let (Some(step), Some(prefix)) = (step, &copy_prefix) {
            let len = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
            query = query.bind(step).bind(len).bind(prefix.as_str());
        }
        if limit >= 0 {
            query = query.bind(limit);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| read_error(e, "reading log lines"))?;
        rows.iter().map(log_from_row).collect()
    }

    /// The highest stored `seq` of a run's log lines (0 if none): where a restarted writer resumes.
    pub async fn last_log_seq(&self, run_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(seq) AS last FROM log_lines WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| read_error(e, "reading the last log sequence number"))?;
        Ok(column::<Option<i64>>(&row, "last")?.unwrap_or(0))
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>> {
        self.pool
            .begin_with(self.backend.begin_write())
            .await
            .map_err(|e| read_error(e, "starting a write transaction"))
    }
}

/// Full id, or the only id that starts with the prefix.
async fn resolve_run_id(conn: &mut sqlx::AnyConnection, id_or_prefix: &str) -> Result<String> {
    if id_or_prefix.is_empty() {
        return Err(StoreError::NotFound(String::new()));
    }
    let exact = sqlx::query("SELECT id FROM runs WHERE id = $1")
        .bind(id_or_prefix)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| read_error(e, "looking up run"))?;
    if exact.is_some() {
        return Ok(id_or_prefix.to_string());
    }
    let len = i64::try_from(id_or_prefix.chars().count()).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT id FROM runs WHERE substr(id, 1, CAST($2 AS INTEGER)) = $1 ORDER BY id LIMIT 2",
    )
    .bind(id_or_prefix)
    .bind(len)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| read_error(e, "looking up run by prefix"))?;
    match rows.as_slice() {
        [] => Err(StoreError::NotFound(id_or_prefix.to_string())),
        [one] => column(one, "id"),
        _ => Err(StoreError::Ambiguous(id_or_prefix.to_string())),
    }
}

/// `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `cols` values.
fn placeholders(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// PostgreSQL's TEXT cannot hold NUL characters; both databases store U+FFFD instead, so they
/// behave alike (container output may contain anything).
fn clean(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn clean_opt(text: &Option<String>) -> Option<String> {
    text.as_deref().map(|t| clean(t).into_owned())
}

fn json_text(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(format!("unstorable JSON: {e}")))
}

fn column<'r, T>(row: &'r AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Database(format!("reading column {name}: {e}")))
}

/// The `status` column as the status it names (a word no status has is a damaged row).
fn status_column<S: std::str::FromStr<Err = co_status::UnknownStatus>>(row: &AnyRow) -> Result<S> {
    let word: String = column(row, "status")?;
    word.parse()
        .map_err(|e| StoreError::Database(format!("column status: {e}")))
}

fn json_column(row: &AnyRow, name: &str) -> Result<Value> {
    let text: String = column(row, name)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Database(format!("column {name} holds invalid JSON: {e}")))
}

/// `INSERT` of a whole run record, with `status` in place of the record's own (the queue inserts
/// every run as `queued`). Everything is validated before anything is sent.
fn insert_run_query(run: &RunRecord, status: RunStatus) -> Result<AnyQuery<'static>> {
    const SQL: &str = concat!(
        "INSERT INTO runs (",
        run_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    if let Some(limit) = run.max_concurrency.filter(|l| *l < 1) {
        return Err(StoreError::Invalid(format!(
            "max_concurrency of run {:?} is {limit}; it must be at least 1 (or none: no limit)",
            run.id
        )));
    }
    Ok(sqlx::query(SQL)
        .bind(run.id.clone())
        .bind(run.workflow.clone())
        .bind(status.as_str())
        .bind(json_text(&run.inputs)?)
        .bind(json_text(&run.outputs)?)
        .bind(clean_opt(&run.error))
        .bind(normalize_timestamp(&run.created_at)?)
        .bind(normalize_opt(run.started_at.as_deref())?)
        .bind(normalize_opt(run.finished_at.as_deref())?)
        .bind(clean(&run.source_path).into_owned())
        .bind(clean(&run.source).into_owned())
        .bind(run.revision)
        .bind(json_text(&run.trigger)?)
        .bind(clean_opt(&run.parent))
        .bind(run.max_concurrency)
        .bind(run.secret_inputs.clone()))
}

/// A failed run insert: a taken id is [`StoreError::Conflict`].
fn insert_run_error(err: sqlx::Error, run_id: &str) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("a run with id {run_id:?} already exists"))
        }
        _ => write_error(err, run_id, "recording run"),
    }
}

fn run_from_row(row: &AnyRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: column(row, "id")?,
        workflow: column(row, "workflow")?,
        status: status_column(row)?,
        inputs: json_column(row, "inputs")?,
        secret_inputs: column(row, "secret_inputs")?,
        outputs: json_column(row, "outputs")?,
        error: column(row, "error")?,
        created_at: column(row, "created_at")?,
        started_at: column(row, "started_at")?,
        finished_at: column(row, "finished_at")?,
        source_path: column(row, "source_path")?,
        source: column(row, "source")?,
        revision: column(row, "revision")?,
        trigger: json_column(row, "trigger")?,
        parent: column(row, "parent")?,
        max_concurrency: column(row, "max_concurrency")?,
    })
}

fn step_from_row(row: &AnyRow) -> Result<StepRecord> {
    Ok(StepRecord {
        run_id: column(row, "run_id")?,
        position: column(row, "position")?,
        key: column(row, "step_key")?,
        stage: column(row, "stage")?,
        action: column(row, "action")?,
        status: status_column(row)?,
        attempts: column(row, "attempts")?,
        exit_code: column(row, "exit_code")?,
        outputs: json_column(row, "outputs")?,
        inputs: json_column(row, "inputs")?,
        error: column(row, "error")?,
        started_at: column(row, "started_at")?,
        finished_at: column(row, "finished_at")?,
        reused_from: column(row, "reused_from")?,
    })
}

fn attempt_from_row(row: &AnyRow) -> Result<AttemptRecord> {
    Ok(AttemptRecord {
        run_id: column(row, "run_id")?,
        step_key: column(row, "step_key")?,
        attempt: column(row, "attempt")?,
        status: status_column(row)?,
        container_id: column(row, "container_id")?,
        exit_code: column(row, "exit_code")?,
        error: column(row, "error")?,
        started_at: column(row, "started_at")?,
        finished_at: column(row, "finished_at")?,
    })
}

fn log_from_row(row: &AnyRow) -> Result<LogRecord> {
    Ok(LogRecord {
        run_id: column(row, "run_id")?,
        seq: column(row, "seq")?,
        step_key: column(row, "step_key")?,
        attempt: column(row, "attempt")?,
        stream: column(row, "stream")?,
        ts: column(row, "ts")?,
        text: column(row, "text")?,
    })
}

/// Maps a failed write: a missing run (foreign key) is [`StoreError::NotFound`], a database
/// that cannot take it now [`StoreError::Unavailable`], anything else a [`StoreError::Database`]
/// with context.
fn write_error(err: sqlx::Error, run_id: &str, doing: &str) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_foreign_key_violation() => StoreError::NotFound(run_id.to_string()),
        _ if is_unavailable(&err) => {
            StoreError::Unavailable(format!("{doing} (run {run_id}): {err}"))
        }
        _ => StoreError::Database(format!("{doing} (run {run_id}): {err}")),
    }
}

fn read_error(err: sqlx::Error, doing: &str) -> StoreError {
    if is_unavailable(&err) {
        StoreError::Unavailable(format!("{doing}: {err}"))
    } else {
        StoreError::Database(format!("{doing}: {err}"))
    }
}

/// Whether `err` says the database cannot take requests now, rather than that this request is
/// wrong: no connection (refused, reset, timed out), a PostgreSQL server shutting down or
/// starting (SQLSTATE class 08, 57P01–57P03) or out of resources (class 53: disk full, out of
/// memory, too many connections), an SQLite database that is full, locked, busy or failed to do
/// IO (result codes 5, 6, 10, 13, 14).
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if code.starts_with("08") || code.starts_with("53") {
                return true;
            }
            if matches!(&*code, "57P01" | "57P02" | "57P03") {
                return true;
            }
            // SQLite: a (possibly extended) result code; the primary one is its low byte.
            code.parse::<u32>()
                .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(1, 1), "($1)");
    }
}

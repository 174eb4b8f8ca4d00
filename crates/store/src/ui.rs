//! What the web UI needs from the store (migration `0003_ui.sql`): browser sessions, revisions
//! saved with component bindings and conflict detection, and the dashboard's summaries.
//!
//! Invariants:
//! - Only a hash of a session's secret is stored; a session is found only before it expires, and
//!   only while its token exists (deleting the token deletes its sessions).
//! - A token has at most the number of live sessions its caller allows: opening one more ends the
//!   oldest.
//! - A conditional save ([`Store::save_workflow_revision`] with `expected`) stores nothing unless
//!   the latest revision is still the expected one, checked and written in one statement inside
//!   one write transaction, so of two saves based on the same revision exactly one wins.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;

use crate::service::{revision_from_row, token_from_row};
use crate::timestamp::now_timestamp;
use crate::{
    clean, column, read_error, run_from_row, status_column, Result, RunRecord, RunStatus, Store,
    StoreError,
};
use crate::{TokenRecord, WorkflowRevision};

/// A browser session (the cookie's secret is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session secret, hex.
    pub hash: String,
    /// The token the session acts for.
    pub token_id: String,
    pub created_at: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// What [`Store::save_workflow_revision`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum RevisionSave {
    /// A new revision.
    Stored(WorkflowRevision),
    /// The latest revision was not the expected one: nothing was stored. Holds the latest
    /// revision (`None`: the workflow does not exist).
    Conflict(Option<WorkflowRevision>),
}

/// Runs waiting and running (the dashboard's queue depth).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub queued: i64,
    pub running: i64,
}

pub(crate) fn components_column(row: &AnyRow) -> Result<BTreeMap<String, String>> {
    let text: String = column(row, "components")?;
    serde_json::from_str(&text).map_err(|e| {
        StoreError::Database(format!(
            "column components holds invalid JSON (an object of strings expected): {e}"
        ))
    })
}

/// A session's columns (prefixed) and every column of its token, read by `token_from_row`.
const SESSION_COLUMNS: &str = "s.hash AS s_hash, s.token_id AS s_token_id, \
                               s.created_at AS s_created_at, s.expires_at AS s_expires_at, t.*";

impl Store {
    // --- workflow revisions with bindings ---------------------------------------------------

    /// Store a new revision of workflow `name` with its component bindings.
    ///
    /// `expected`: `None` saves unconditionally; `Some(0)` only if the workflow does not exist
    /// yet; `Some(n)` only if its latest revision is `n`. Otherwise nothing is stored and the
    /// answer is [`RevisionSave::Conflict`] with the latest revision.
    pub async fn save_workflow_revision(
        &self,
        name: &str,
        yaml: &str,
        components: &BTreeMap<String, String>,
        expected: Option<i64>,
    ) -> Result<RevisionSave> {
        let now = now_timestamp();
        let yaml = clean(yaml).into_owned();
        let bindings = serde_json::to_string(components)
            .map_err(|e| StoreError::Invalid(format!("unstorable component bindings: {e}")))?;
        let doing = "storing a workflow revision";
        let mut tx = self.begin_write().await?;
        // The counter row: "latest + 1", guarded by the expected revision where there is one.
        let counter = match expected {
            None => sqlx::query(
                "INSERT INTO workflows (name, latest_revision, created_at, updated_at) \
                 VALUES ($1, 1, $2, $2) ON CONFLICT (name) DO UPDATE SET \
                 latest_revision = workflows.latest_revision + 1, updated_at = excluded.updated_at \
                 RETURNING latest_revision",
            )
            .bind(name)
            .bind(&now),
            Some(0) => sqlx::query(
                "INSERT INTO workflows (name, latest_revision, created_at, updated_at) \
                 VALUES ($1, 1, $2, $2) ON CONFLICT (name) DO NOTHING RETURNING latest_revision",
            )
            .bind(name)
            .bind(&now),
            Some(base) => sqlx::query(
                "UPDATE workflows SET latest_revision = latest_revision + 1, updated_at = $2 \
                 WHERE name = $1 AND latest_revision = $3 RETURNING latest_revision",
            )
            .bind(name)
            .bind(&now)
            .bind(base),
        };
        let row = counter
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
        let Some(row) = row else {
            let current = sqlx::query(
                "SELECT name, revision, yaml, created_at, components FROM workflow_revisions \
                 WHERE name = $1 ORDER BY revision DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
            tx.rollback().await.map_err(|e| read_error(e, doing))?;
            return Ok(RevisionSave::Conflict(
                current.as_ref().map(revision_from_row).transpose()?,
            ));
        };
        let revision: i64 = column(&row, "latest_revision")?;
        sqlx::query(
            "INSERT INTO workflow_revisions (name, revision, yaml, created_at, components) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(revision)
        .bind(&yaml)
        .bind(&now)
        .bind(&bindings)
        .execute(&mut *tx)
        .await
        .map_err(|e| read_error(e, doing))?;
        tx.commit().await.map_err(|e| read_error(e, doing))?;
        Ok(RevisionSave::Stored(WorkflowRevision {
            name: name.to_string(),
            revision,
            yaml,
            created_at: now,
            components: components.clone(),
        }))
    }

    // --- dashboard --------------------------------------------------------------------------

    /// The newest run (by `created_at`, then id) of every stored workflow that has one, in no
    /// particular order.
    pub async fn latest_runs_of_workflows(&self) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id IN (SELECT (SELECT r.id FROM runs r WHERE r.workflow = w.name \
             ORDER BY r.created_at DESC, r.id DESC LIMIT 1) FROM workflows w)"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "listing the latest run of every workflow"))?;
        rows.iter().map(run_from_row).collect()
    }

    /// How many runs are queued and how many are running.
    pub async fn queue_depth(&self) -> Result<QueueDepth> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM runs WHERE status IN ('queued', 'running') \
             GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "counting queued and running runs"))?;
        let mut depth = QueueDepth::default();
        for row in &rows {
            let n: i64 = column(row, "n")?;
            match status_column(row)? {
                RunStatus::Queued => depth.queued = n,
                _ => depth.running = n,
            }
        }
        Ok(depth)
    }

    // --- sessions ---------------------------------------------------------------------------

    /// Record a new session. In the same transaction: every session expired at `now_ms` is
    /// removed, and so are the oldest sessions of the same token beyond `max_per_token - 1`, so
    /// that the token has at most `max_per_token` afterwards. `NotFound` if the token does not
    /// exist (any more); `Conflict` if the hash is taken; `Invalid` for `max_per_token < 1`.
    pub async fn insert_session(
        &self,
        session: &SessionRecord,
        now_ms: i64,
        max_per_token: i64,
    ) -> Result<()> {
        if max_per_token < 1 {
            return Err(StoreError::Invalid(format!(
                "max_per_token is {max_per_token}; it must be at least 1"
            )));
        }
        let created_at = crate::normalize_timestamp(&session.created_at)?;
        let doing = "opening a session";
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE token_id = $1")
            .bind(&session.token_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
        let live: i64 = column(&row, "n")?;
        let excess = live - (max_per_token - 1);
        if excess > 0 {
            sqlx::query(
                "DELETE FROM sessions WHERE hash IN (SELECT hash FROM sessions WHERE token_id = $1 \
                 ORDER BY expires_at, hash LIMIT $2)",
            )
            .bind(&session.token_id)
            .bind(excess)
            .execute(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
        }
        sqlx::query(
            "INSERT INTO sessions (hash, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&session.hash)
        .bind(&session.token_id)
        .bind(created_at)
        .bind(session.expires_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("token {:?}", session.token_id))
            }
            Some(db) if db.is_unique_violation() => {
                StoreError::Conflict("a session with the same hash already exists".into())
            }
            _ => read_error(e, doing),
        })?;
        tx.commit().await.map_err(|e| read_error(e, doing))
    }

    /// The live session with this hash (not expired at `now_ms`) and the token it acts for.
    pub async fn find_session(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Option<(SessionRecord, TokenRecord)>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN tokens t ON t.id = s.token_id \
             WHERE s.hash = $1 AND s.expires_at > $2"
        );
        let row = sqlx::query(&sql)
            .bind(hash)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error(e, "looking up a session"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session = SessionRecord {
            hash: column(&row, "s_hash")?,
            token_id: column(&row, "s_token_id")?,
            created_at: column(&row, "s_created_at")?,
            expires_at_ms: column(&row, "s_expires_at")?,
        };
        Ok(Some((session, token_from_row(&row)?)))
    }

    /// End a session; `true` if it existed.
    pub async fn delete_session(&self, hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(|e| read_error(e, "ending a session"))?;
        Ok(done.rows_affected() > 0)
    }

    /// How many live sessions (not expired at `now_ms`) a token has.
    pub async fn count_sessions(&self, token_id: &str, now_ms: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM sessions WHERE token_id = $1 AND expires_at > $2",
        )
        .bind(token_id)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| read_error(e, "counting sessions"))?;
        column(&row, "n")
    }
}

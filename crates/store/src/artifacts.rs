//! What steps kept (migration `0008_artifacts.sql`): one row per run, step and artifact name,
//! naming a blob of the artifact store ([`co_artifacts::ArtifactStore`]) by its SHA-256.
//!
//! Invariants:
//! - A row is written after its blob is in place, so a row never names a blob that was never
//!   stored; a later attempt's artifact of the same name replaces the earlier attempt's row.
//! - Expiry marks rows (`expired_at`) instead of deleting them, so an expired artifact is told
//!   from one that never existed; [`Store::expire_artifacts`] returns the digests no live row
//!   names any more, whose blobs may then be removed.

use co_artifacts::{ArtifactKind, Digest};
use sqlx::any::AnyRow;

use crate::timestamp::normalize_timestamp;
use crate::{column, read_error, write_error, Result, Store, StoreError};

/// One artifact of one step of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRecord {
    pub run_id: String,
    pub step_key: String,
    pub name: String,
    /// The attempt that kept it (1-based).
    pub attempt: u32,
    /// The path or glob as declared.
    pub path: String,
    pub kind: ArtifactKind,
    pub sha256: Digest,
    pub size: u64,
    pub created_at: String,
    /// When the retention sweeper expired it (its blob may be gone).
    pub expired_at: Option<String>,
}

/// Whether a live artifact names the blob `$1`.
const LIVE_BLOB: &str =
    "SELECT 1 AS one FROM artifacts WHERE sha256 = $1 AND expired_at IS NULL LIMIT 1";

const COLUMNS: &str =
    "run_id, step_key, name, attempt, path, kind, sha256, size, created_at, expired_at";

fn from_row(row: &AnyRow) -> Result<ArtifactRecord> {
    let kind: String = column(row, "kind")?;
    let sha: String = column(row, "sha256")?;
    let attempt: i64 = column(row, "attempt")?;
    let size: i64 = column(row, "size")?;
    Ok(ArtifactRecord {
        run_id: column(row, "run_id")?,
        step_key: column(row, "step_key")?,
        name: column(row, "name")?,
        attempt: u32::try_from(attempt)
            .map_err(|_| StoreError::Database(format!("column attempt holds {attempt}")))?,
        path: column(row, "path")?,
        kind: ArtifactKind::parse(&kind)
            .ok_or_else(|| StoreError::Database(format!("column kind holds `{kind}`")))?,
        sha256: Digest::parse(&sha)
            .map_err(|e| StoreError::Database(format!("column sha256: {e}")))?,
        size: u64::try_from(size)
            .map_err(|_| StoreError::Database(format!("column size holds {size}")))?,
        created_at: column(row, "created_at")?,
        expired_at: column(row, "expired_at")?,
    })
}

impl Store {
    /// Record an artifact (replacing the row of the same run, step and name: a later attempt's).
    pub async fn record_artifact(&self, a: &ArtifactRecord) -> Result<()> {
        let created_at = normalize_timestamp(&a.created_at)?;
        let expired_at = a
            .expired_at
            .as_deref()
            .map(normalize_timestamp)
            .transpose()?;
        let size = i64::try_from(a.size)
            .map_err(|_| StoreError::Invalid(format!("artifact size {} is too large", a.size)))?;
        let sql = format!(
            "INSERT INTO artifacts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (run_id, step_key, name) DO UPDATE SET attempt = excluded.attempt, \
             path = excluded.path, kind = excluded.kind, sha256 = excluded.sha256, \
             size = excluded.size, created_at = excluded.created_at, \
             expired_at = excluded.expired_at"
        );
        sqlx::query(&sql)
            .bind(a.run_id.clone())
            .bind(a.step_key.clone())
            .bind(a.name.clone())
            .bind(i64::from(a.attempt))
            .bind(a.path.clone())
            .bind(a.kind.as_str())
            .bind(a.sha256.as_str().to_string())
            .bind(size)
            .bind(created_at)
            .bind(expired_at)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, &a.run_id, "recording an artifact"))?;
        Ok(())
    }

    /// The artifacts of a run (its full id), by step and name.
    pub async fn list_artifacts(&self, run_id: &str) -> Result<Vec<ArtifactRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM artifacts WHERE run_id = $1 ORDER BY created_at, step_key, name"
        );
        let rows = sqlx::query(&sql)
            .bind(run_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| read_error(e, "listing artifacts"))?;
        rows.iter().map(from_row).collect()
    }

    /// Mark every live artifact created before `cutoff` (a timestamp) expired at `now`; returns
    /// the digests they named that no live artifact names any more (their blobs may go).
    pub async fn expire_artifacts(&self, cutoff: &str, now: &str) -> Result<Vec<Digest>> {
        let cutoff = normalize_timestamp(cutoff)?;
        let now = normalize_timestamp(now)?;
        let doing = "expiring artifacts";
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE artifacts SET expired_at = $1 WHERE expired_at IS NULL AND created_at < $2 \
             RETURNING sha256",
        )
        .bind(now)
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| read_error(e, doing))?;
        let mut digests: Vec<String> = rows
            .iter()
            .map(|r| column::<String>(r, "sha256"))
            .collect::<Result<_>>()?;
        digests.sort();
        digests.dedup();
        let mut gone = Vec::new();
        for sha in digests {
            let live = sqlx::query(LIVE_BLOB)
                .bind(sha.clone())
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| read_error(e, doing))?;
            if live.is_none() {
                gone.push(
                    Digest::parse(&sha)
                        .map_err(|e| StoreError::Database(format!("column sha256: {e}")))?,
                );
            }
        }
        tx.commit().await.map_err(|e| read_error(e, doing))?;
        Ok(gone)
    }

    /// Whether any live artifact names `digest`.
    pub async fn artifact_blob_in_use(&self, digest: &Digest) -> Result<bool> {
        let row = sqlx::query(LIVE_BLOB)
            .bind(digest.as_str().to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error(e, "looking up an artifact blob"))?;
        Ok(row.is_some())
    }
}

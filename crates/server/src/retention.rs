//! Artifact retention: artifacts older than `artifact_retention_days` are expired (their rows
//! say when, and a download answers 410) and their blobs removed, unless a live artifact shares
//! the blob or the blob was written in the last hour (a run may be recording the same bytes
//! right now: its blob is renamed into place before its row is written).

use std::time::{Duration, SystemTime};

use co_artifacts::ArtifactStore;
use co_store::Store;
use time::OffsetDateTime;

/// How often the server sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// A blob written more recently than this is never removed by a sweep.
const FRESH_BLOB: Duration = Duration::from_secs(3600);

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Blobs no live artifact names any more.
    pub unreferenced: usize,
    /// Of those, removed from the store (the others were fresh or already gone).
    pub removed: usize,
}

/// Expire the artifacts created more than `days` days before `now`, and remove the blobs no
/// live artifact names any more.
pub async fn sweep(
    store: &Store,
    blobs: &ArtifactStore,
    days: u32,
    now: OffsetDateTime,
) -> Result<Swept, co_store::StoreError> {
    let cutoff = now - time::Duration::days(i64::from(days));
    let gone = store
        .expire_artifacts(
            &co_store::format_timestamp(cutoff),
            &co_store::format_timestamp(now),
        )
        .await?;
    let mut swept = Swept {
        unreferenced: gone.len(),
        removed: 0,
    };
    let fresh_after = SystemTime::now()
        .checked_sub(FRESH_BLOB)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for digest in gone {
        if store.artifact_blob_in_use(&digest).await? {
            continue;
        }
        let path = blobs.blob_path(&digest);
        let fresh = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > fresh_after);
        if fresh {
            continue;
        }
        match blobs.remove_blob(&digest) {
            Ok(()) => swept.removed += 1,
            Err(e) => tracing::warn!(error = %e, "could not remove an expired artifact's blob"),
        }
    }
    Ok(swept)
}

//! Keeping a step's artifacts (`artifacts:`): called through [`co_backend::OutputSink::collect`]
//! while the finished container still exists. Which artifacts apply (`when:`) follows
//! [`co_engine::attempt_succeeded`], the engine's own rule; each one is read as a tar stream from
//! the backend into a temp file of the artifact store (at most twice the size limit plus 1 MiB of
//! archive), made into a blob by [`ArtifactStore::ingest`] (off the async threads), and recorded
//! in the store. A failure of one artifact is a reason its step fails; the others are still kept.

use std::sync::Arc;

use co_artifacts::{size_text, ArtifactError, ArtifactStore, Blob};
use co_backend::{ArtifactSource, Stream};
use co_engine::KeptArtifact;
use co_spec::ArtifactDecl;
use co_store::{ArtifactRecord, Store};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::{format_time, now_millis};

/// Slack for the tar headers around an artifact's bytes, on top of twice its limit.
const ARCHIVE_SLACK: u64 = 1 << 20;

/// Where and how a run's artifacts are kept (shared by its steps).
#[derive(Clone)]
pub(crate) struct ArtifactKeeper {
    pub blobs: ArtifactStore,
    pub records: Store,
    pub max_bytes: u64,
}

/// One attempt's artifacts to collect.
pub(crate) struct StepArtifacts {
    pub keeper: ArtifactKeeper,
    pub action: Arc<co_spec::Action>,
    pub decls: Vec<ArtifactDecl>,
    pub run_id: String,
    pub step_key: String,
    pub attempt: u32,
}

/// What collecting gave: each artifact kept or why it was not, and a line for the log for each.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    pub artifacts: Vec<Result<KeptArtifact, String>>,
    pub notes: Vec<(Stream, String)>,
}

impl StepArtifacts {
    /// Collect the artifacts that apply to an attempt that `succeeded` (or not).
    pub async fn collect(&self, succeeded: bool, files: &mut dyn ArtifactSource) -> Collection {
        let mut out = Collection::default();
        for decl in self.decls.iter().filter(|d| d.when.applies(succeeded)) {
            match self.one(decl, files).await {
                Ok(blob) => {
                    out.notes.push((
                        Stream::Stdout,
                        format!(
                            "artifact {} kept: {} ({}, {}, sha256 {})",
                            decl.name,
                            decl.path.as_written(),
                            blob.kind.as_str(),
                            size_text(blob.size),
                            blob.sha256
                        ),
                    ));
                    out.artifacts.push(Ok(KeptArtifact {
                        name: decl.name.clone(),
                        sha256: blob.sha256.to_string(),
                        size: blob.size,
                    }));
                }
                Err(why) => {
                    let message =
                        format!("artifact {} ({}): {why}", decl.name, decl.path.as_written());
                    out.notes.push((Stream::Stderr, message.clone()));
                    out.artifacts.push(Err(message));
                }
            }
        }
        out
    }

    async fn one(
        &self,
        decl: &ArtifactDecl,
        files: &mut dyn ArtifactSource,
    ) -> Result<Blob, String> {
        let keeper = &self.keeper;
        let root = decl.path.fetch_root();
        let Some(mut stream) = files.archive(&root).await.map_err(|e| e.to_string())? else {
            return Err(if decl.path.is_glob() {
                format!(
                    "{root} does not exist, so `{}` matched nothing",
                    decl.path.as_written()
                )
            } else {
                format!("{root} does not exist")
            });
        };
        let raw = keeper.blobs.temp_file().map_err(|e| e.to_string())?;
        let file = raw
            .reopen()
            .map_err(|e| format!("opening a temp file of the artifact store: {e}"))?;
        let mut file = tokio::fs::File::from_std(file);
        let raw_limit = keeper
            .max_bytes
            .saturating_mul(2)
            .saturating_add(ARCHIVE_SLACK);
        let mut read: u64 = 0;
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| e.to_string())?;
            read = read.saturating_add(u64::try_from(piece.len()).unwrap_or(u64::MAX));
            if read > raw_limit {
                return Err(ArtifactError::TooLarge {
                    limit: keeper.max_bytes,
                }
                .to_string());
            }
            file.write_all(&piece)
                .await
                .map_err(|e| format!("writing to the artifact store: {e}"))?;
        }
        file.flush()
            .await
            .map_err(|e| format!("writing to the artifact store: {e}"))?;
        drop(file);
        let blobs = keeper.blobs.clone();
        let path = decl.path.clone();
        let max = keeper.max_bytes;
        let blob = tokio::task::spawn_blocking(move || {
            let blob = blobs.ingest(raw.path(), &path, max);
            drop(raw);
            blob
        })
        .await
        .map_err(|e| format!("the artifact's task failed: {e}"))?
        .map_err(|e| e.to_string())?;
        let record = ArtifactRecord {
            run_id: self.run_id.clone(),
            step_key: self.step_key.clone(),
            name: decl.name.clone(),
            attempt: self.attempt,
            path: decl.path.as_written().to_string(),
            kind: blob.kind,
            sha256: blob.sha256.clone(),
            size: blob.size,
            created_at: format_time(now_millis()),
            expired_at: None,
        };
        co_store::retry_while_unavailable("recording an artifact", || {
            keeper.records.record_artifact(&record)
        })
        .await
        .map_err(|e| format!("recording it failed: {e}"))?;
        Ok(blob)
    }
}

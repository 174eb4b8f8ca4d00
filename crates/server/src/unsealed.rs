//! The one-time sweep of runs recorded before their `secret`-typed inputs were sealed (store
//! migration 0005): at start, before the coordinator runs anything, each such run's inputs are
//! rewritten as a run queued today would store them — the secret values sealed into
//! `runs.secret_inputs` (so a rerun, resume or recovery still gets them), `runs.inputs` showing
//! `***` — and the run is taken off the store's list (see `co_store::Store::seal_run_inputs`).
//!
//! Which inputs are secret is read from the run's workflow revision, as the coordinator reads it
//! to run it. When that cannot be done any more (the revision was deleted, it no longer parses,
//! its inputs no longer fit), every input value of the run is treated as secret. When a value
//! cannot be sealed, it is masked and kept nowhere.

use co_engine::RunConfig;
use co_store::{RunRecord, Store, StoreError, WorkflowRevision};
use indexmap::IndexMap;
use serde_json::Value;

use crate::coordinator::{load_plan, seal_inputs, SecretCipher};

/// Runs read from the store at a time.
const BATCH: i64 = 100;

/// What the sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Runs gone through (taken off the list).
    pub runs: usize,
    /// Of those, runs that had secret values: now sealed.
    pub sealed: usize,
    /// Runs whose workflow could not tell which inputs are secret: every value sealed.
    pub all_sealed: usize,
    /// Runs whose secret values could not be sealed: masked and kept nowhere.
    pub masked: usize,
}

/// Seal the inputs of every run the store lists as unsealed; logs what it did.
pub async fn seal_old_runs(store: &Store, cipher: &dyn SecretCipher) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    loop {
        let runs = store.unsealed_runs(BATCH).await?;
        if runs.is_empty() {
            break;
        }
        for run in runs {
            let (shown, secret, known) = split_inputs(store, &run).await?;
            let sealed = match seal_inputs(cipher, &run.id, &secret) {
                Ok(sealed) => sealed,
                Err(e) => {
                    tracing::warn!(run = %run.id, "{e}; its secret inputs are masked and dropped");
                    swept.masked += 1;
                    None
                }
            };
            if store
                .seal_run_inputs(
                    &run.id,
                    &Value::Object(shown.into_iter().collect()),
                    sealed.as_deref(),
                )
                .await?
            {
                swept.runs += 1;
                if !secret.is_empty() {
                    swept.sealed += 1;
                    if !known {
                        swept.all_sealed += 1;
                    }
                }
            }
        }
    }
    if swept.runs > 0 {
        let forgotten = store.forget_old_row_versions().await?;
        tracing::info!(
            runs = swept.runs,
            sealed = swept.sealed,
            all_inputs_sealed = swept.all_sealed,
            masked = swept.masked,
            "sealed the secret inputs of runs recorded before they were sealed (once){}",
            if forgotten {
                ""
            } else {
                "; PostgreSQL keeps the replaced row versions until it reuses their space \
                 (VACUUM FULL runs rewrites the table now)"
            }
        );
    }
    Ok(swept)
}

/// The run's inputs as they may be shown, its secret values, and whether its workflow said which
/// inputs are secret (else every value counts as secret).
async fn split_inputs(
    store: &Store,
    run: &RunRecord,
) -> Result<(IndexMap<String, Value>, IndexMap<String, Value>, bool), StoreError> {
    let inputs: IndexMap<String, Value> = run
        .inputs
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let engine = match plan_of(store, run).await? {
        Some(plan) => co_engine::Engine::new(
            plan,
            RunConfig {
                run_id: run.id.clone(),
                inputs: inputs.clone(),
                ..RunConfig::default()
            },
        )
        .ok(),
        None => None,
    };
    Ok(match engine {
        Some(engine) => (engine.shown_inputs(), engine.secret_inputs(), true),
        None => {
            let shown = inputs
                .keys()
                .map(|k| (k.clone(), Value::from(co_protocol::MASK)))
                .collect();
            (shown, inputs, false)
        }
    })
}

/// The plan of the workflow revision the run ran, if it can still be made.
async fn plan_of(
    store: &Store,
    run: &RunRecord,
) -> Result<Option<std::sync::Arc<co_spec::Plan>>, StoreError> {
    let Some(revision) = run.revision else {
        return Ok(None);
    };
    let stored: WorkflowRevision = match store
        .get_workflow_revision(&run.workflow, Some(revision))
        .await
    {
        Ok(stored) => stored,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    match load_plan(store, &stored, &run.source).await {
        Ok((_, plan)) => Ok(Some(plan)),
        Err(crate::coordinator::CoordinatorError::Store(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

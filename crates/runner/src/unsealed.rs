//! The one-time sweep of runs recorded before `secret`-typed inputs were kept apart (store
//! migration 0005), which hold those values in clear in `runs.inputs`: each listed run is
//! rewritten as a run recorded today — `runs.inputs` as [`Engine::shown_inputs`] shows them, the
//! secret values sealed by whoever can ([`InputSealer::seal`]: a server) or dropped (a local
//! database: a local run is never resumed) — and taken off the store's list in the same
//! transaction ([`co_store::Store::seal_run_inputs`]), so the sweep is done once, survives being
//! interrupted, and two servers starting together do each run once.
//!
//! Which inputs are secret is read from the run's workflow ([`InputSealer::plan`]). When that
//! cannot be done any more (the revision or file is gone, it no longer parses, the inputs no
//! longer fit), every input value of the run counts as secret.

use std::sync::Arc;

use async_trait::async_trait;
use co_engine::{Engine, RunConfig};
use co_spec::Plan;
use co_store::{RunRecord, Store, StoreError};
use indexmap::IndexMap;
use serde_json::Value;

/// Runs read from the store at a time.
const BATCH: i64 = 100;

/// What the sweep needs from its caller.
#[async_trait]
pub trait InputSealer: Send + Sync {
    /// The plan of the workflow the run ran, if it can still be made (`Err`: the store failed).
    async fn plan(&self, run: &RunRecord) -> Result<Option<Arc<Plan>>, StoreError>;
    /// The ciphertext of the run's secret values (`Ok(None)`: they are not kept; `Err`: they
    /// could not be sealed, and are not kept either).
    fn seal(
        &self,
        run_id: &str,
        secret: &IndexMap<String, Value>,
    ) -> Result<Option<String>, String>;
}

/// What the sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Runs gone through (taken off the list).
    pub runs: usize,
    /// Of those, runs that had secret values: now sealed, or masked and dropped.
    pub secret: usize,
    /// Of those, runs whose workflow could not tell which inputs are secret (every value counted).
    pub all_inputs: usize,
    /// Of those, runs whose secret values are not kept (not sealed).
    pub dropped: usize,
}

/// Rewrite every run the store lists as unsealed; logs what it did.
pub async fn seal_unsealed_runs(
    store: &Store,
    sealer: &dyn InputSealer,
) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    loop {
        let runs = store.unsealed_runs(BATCH).await?;
        if runs.is_empty() {
            break;
        }
        for run in runs {
            let plan = sealer.plan(&run).await?;
            let (shown, secret, known) = split_inputs(plan, &run);
            let sealed = match sealer.seal(&run.id, &secret) {
                Ok(sealed) => sealed,
                Err(e) => {
                    tracing::warn!(run = %run.id, "{e}; its secret inputs are masked and dropped");
                    None
                }
            };
            let shown = Value::Object(shown.into_iter().collect());
            if store
                .seal_run_inputs(&run.id, &shown, sealed.as_deref())
                .await?
            {
                swept.runs += 1;
                if !secret.is_empty() {
                    swept.secret += 1;
                    swept.all_inputs += usize::from(!known);
                    swept.dropped += usize::from(sealed.is_none());
                }
            }
        }
    }
    if swept.runs > 0 {
        // Not fatal: the rows are right; only the file may keep the old bytes until reused.
        let keeps_old_versions = match store.forget_old_row_versions().await {
            Ok(done) => !done,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "could not rebuild the database file; the replaced inputs stay in its free \
                     pages until SQLite reuses them (VACUUM rebuilds it)"
                );
                false
            }
        };
        tracing::info!(
            runs = swept.runs,
            with_secret_inputs = swept.secret,
            every_input_secret = swept.all_inputs,
            secret_values_dropped = swept.dropped,
            "the secret inputs of runs recorded before they were kept apart are now sealed, or masked \
             where they cannot be (once){}",
            if keeps_old_versions {
                "; PostgreSQL keeps the replaced row versions until it reuses their space \
                 (VACUUM FULL runs rewrites the table now)"
            } else {
                ""
            }
        );
    }
    Ok(swept)
}

/// The run's inputs as they may be shown, its secret values, and whether its workflow said which
/// inputs are secret (else every value counts as secret).
fn split_inputs(
    plan: Option<Arc<Plan>>,
    run: &RunRecord,
) -> (IndexMap<String, Value>, IndexMap<String, Value>, bool) {
    let inputs: IndexMap<String, Value> = run
        .inputs
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let engine = plan.and_then(|plan| {
        Engine::new(
            plan,
            RunConfig {
                run_id: run.id.clone(),
                inputs: inputs.clone(),
                ..RunConfig::default()
            },
        )
        .ok()
    });
    match engine {
        Some(engine) => (engine.shown_inputs(), engine.secret_inputs(), true),
        None => {
            let shown = inputs
                .keys()
                .map(|k| (k.clone(), Value::from(co_protocol::MASK)))
                .collect();
            (shown, inputs, false)
        }
    }
}

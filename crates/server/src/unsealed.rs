//! Runs recorded before secret inputs were sealed (store migration 0005) get them sealed at
//! start, before the coordinator runs anything (`co_runner::seal_unsealed_runs`): the secret
//! values sealed into `runs.secret_inputs` as the coordinator seals a new run's (so a rerun,
//! resume or recovery still gets them), read from the run's workflow revision as the coordinator
//! reads it to run it.

use std::sync::Arc;

use async_trait::async_trait;
use co_runner::InputSealer;
use co_spec::Plan;
use co_store::{RunRecord, Store, StoreError};
use indexmap::IndexMap;
use serde_json::Value;

use crate::coordinator::{load_plan, seal_inputs, CoordinatorError, SecretCipher};

struct ServerSealer<'a> {
    store: &'a Store,
    cipher: &'a dyn SecretCipher,
}

#[async_trait]
impl InputSealer for ServerSealer<'_> {
    async fn plan(&self, run: &RunRecord) -> Result<Option<Arc<Plan>>, StoreError> {
        let Some(revision) = run.revision else {
            return Ok(None);
        };
        let stored = match self
            .store
            .get_workflow_revision(&run.workflow, Some(revision))
            .await
        {
            Ok(stored) => stored,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        match load_plan(self.store, &stored, &run.source).await {
            Ok((_, plan)) => Ok(Some(plan)),
            Err(CoordinatorError::Store(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    fn seal(
        &self,
        run_id: &str,
        secret: &IndexMap<String, Value>,
    ) -> Result<Option<String>, String> {
        seal_inputs(self.cipher, run_id, secret).map_err(|e| e.to_string())
    }
}

/// Seal the inputs of every run the store lists as unsealed (logged with the counts).
pub async fn seal_old_runs(
    store: &Store,
    cipher: &dyn SecretCipher,
) -> Result<co_runner::Swept, StoreError> {
    co_runner::seal_unsealed_runs(store, &ServerSealer { store, cipher }).await
}

//! The coordinator: accepts run requests into the queue, claims queued runs (and runs whose
//! owner died) from the store, runs them through the driver on the backend, renews leases,
//! carries cancel requests, and recovers runs after a crash.

use std::sync::Arc;
use std::time::Duration;

use co_backend::Backend;
use co_store::Store;
use indexmap::IndexMap;
use serde_json::Value;

/// Settings of a coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// This server's id in the store (owner of the runs it claims). Unique per process.
    pub server_id: String,
    /// At most this many runs at once on this server (`None`: no limit).
    pub max_runs: Option<i64>,
    /// How long a claim lasts without renewal; renewed every `lease / 3`.
    pub lease: Duration,
}

/// A request to start a run.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub workflow: String,
    /// `None`: the latest revision.
    pub revision: Option<i64>,
    /// Inputs as given (JSON values; converted to the declared types).
    pub inputs: IndexMap<String, Value>,
    /// `{"event": "api"}`, a webhook's or cron's trigger value.
    pub trigger: Value,
    /// A webhook delivery id: the same id never starts a second run.
    pub delivery: Option<String>,
}

/// What [`Coordinator::submit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub run_id: String,
    /// The delivery was seen before: no new run, `run_id` is the run it started.
    pub duplicate: bool,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// No such workflow, revision or run.
    #[error("{0}")]
    NotFound(String),
    /// Bad inputs, an invalid stored workflow, a run that cannot be resumed: each problem in words.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Store(#[from] co_store::StoreError),
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Coordinator {
    // implementation detail
    #[allow(dead_code)]
    inner: Arc<()>,
}

impl Coordinator {
    /// Start the coordinator's background tasks (dispatch, leases, cron) on the current runtime.
    pub fn start(
        store: Store,
        backend: Arc<dyn Backend>,
        config: CoordinatorConfig,
    ) -> Coordinator {
        todo!("{store:?} {} {config:?}", backend.name())
    }

    /// Validate and queue a run of a stored workflow; the dispatcher starts it within
    /// milliseconds when capacity allows.
    pub async fn submit(&self, request: RunRequest) -> Result<Submitted, CoordinatorError> {
        todo!("{request:?}")
    }

    /// Queue a new run with the same workflow revision, inputs and trigger as `run_id`.
    pub async fn rerun(&self, run_id: &str) -> Result<Submitted, CoordinatorError> {
        todo!("{run_id}")
    }

    /// Queue a new run of the same revision and inputs that reuses the outputs of the steps that
    /// succeeded in `run_id` and runs the rest. `Invalid` if `run_id` succeeded or is not over.
    pub async fn resume(&self, run_id: &str) -> Result<Submitted, CoordinatorError> {
        todo!("{run_id}")
    }

    /// Cancel a run: a queued one at once, a running one through its owner (at once if that is
    /// this server, else at the owner's next lease renewal).
    pub async fn cancel(&self, run_id: &str) -> Result<(), CoordinatorError> {
        todo!("{run_id}")
    }

    /// A receiver that changes whenever new log lines of `run_id` are committed on this server
    /// (`None` if this server does not run it: readers then poll the store).
    pub fn log_notifications(&self, run_id: &str) -> Option<tokio::sync::watch::Receiver<i64>> {
        todo!("{run_id}")
    }

    /// Stop claiming work, cancel nothing, and wait for in-flight store writes (graceful
    /// shutdown: runs in flight are recovered by whichever server claims them next).
    pub async fn shutdown(&self) {
        todo!()
    }
}

//! ContainerOps backend for Docker Engine and Podman, through the Docker Engine API (bollard).
//!
//! - [`DockerBackend::connect`] finds the engine (SPEC §5, see [`discovery`]) and negotiates the
//!   API version; [`DockerBackend::info`] says which engine and version answered.
//! - [`DockerBackend`] implements [`co_backend::Backend`]: one named volume per run
//!   (`co-ws-<run>`), one container per step attempt (`co-<run>-<step>-<attempt>`, see [`names`]),
//!   output streamed from an attach made before start, exits learned from one shared `die` event
//!   subscription (see [`ExitDetection`] for why and the alternatives), removal in the background.
//! - [`DockerBackend::build_image`] builds images through the engine's build API;
//!   [`DockerBackend::image_exists`], [`DockerBackend::list_containers`] and
//!   [`DockerBackend::list_volumes`] let the CLI and tests check what exists.
//!
//! Invariants:
//! - Every container and volume this crate creates carries the `containerops.run` label, so
//!   [`DockerBackend::cleanup_run`] can always find what a run left behind.
//! - A step's output reaches its [`co_backend::OutputSink`] in full before `run_step` returns.
//! - No request uses bollard's typed models where Podman answers outside them (container state
//!   `stopped`); those go through a small raw client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use co_backend::{
    Backend, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Workspace,
};

mod build;
pub mod discovery;
mod error;
mod ignore;
mod inventory;
pub mod names;
mod raw;
mod step;
mod watcher;

pub use build::{BuiltImage, ImageBuild};
pub use discovery::{Candidate, EngineInfo, EngineKind};
pub use inventory::{ContainerSummary, VolumeSummary};

/// How `run_step` learns that a container exited. All three deliver the complete output first
/// (the attach stream's end); they differ in how the exit code is learned.
///
/// Measured on Podman 4.3 here (`cargo run --release --example exit_latency`), time from the start
/// call returning to `run_step` knowing output and exit code: `Events` is the fastest, because
/// Podman's `wait` answers only after its cleanup (a few hundred ms) and an inspect right after
/// the output ends sometimes still sees the container running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExitDetection {
    /// The `die` event of one shared `GET /events` subscription (registered before start, so it
    /// cannot be missed; falls back to inspect + `wait` if the subscription breaks).
    #[default]
    Events,
    /// `POST /containers/{id}/wait` after start.
    Wait,
    /// Inspect once the output stream has ended; `wait` if the container still runs.
    InspectAfterOutput,
}

/// Settings of a [`DockerBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerOptions {
    /// Time between SIGTERM and SIGKILL when a step is cancelled.
    pub stop_grace: Duration,
    pub exit_detection: ExitDetection,
}

impl Default for DockerOptions {
    fn default() -> Self {
        DockerOptions {
            stop_grace: Duration::from_secs(10),
            exit_detection: ExitDetection::default(),
        }
    }
}

/// The Docker/Podman backend. Cheap to clone (shared state).
///
/// Create it inside a Tokio runtime: it runs background tasks (event subscription, removals) on
/// the runtime that first needs them.
#[derive(Clone)]
pub struct DockerBackend {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) conn: discovery::Connection,
    /// The same endpoint without a request timeout, for requests that last as long as a container
    /// or a build does (`wait`, `build`).
    pub(crate) long: Docker,
    pub(crate) watcher: watcher::ExitWatcher,
    pub(crate) options: DockerOptions,
    /// Background container removals per run, awaited by `finish_run`.
    pub(crate) removals: Mutex<HashMap<String, Vec<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for DockerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBackend")
            .field("engine", &self.inner.conn.info)
            .field("options", &self.inner.options)
            .finish()
    }
}

impl DockerBackend {
    /// Find the engine from the environment (SPEC §5) with default options.
    pub async fn connect() -> Result<Self, BackendError> {
        Self::connect_with(&discovery::candidates_from_env(), DockerOptions::default()).await
    }

    /// Try `candidates` in order (see [`discovery::candidates`]); the first that answers wins.
    pub async fn connect_with(
        candidates: &[Candidate],
        options: DockerOptions,
    ) -> Result<Self, BackendError> {
        let conn = discovery::connect(candidates).await?;
        let long = conn
            .docker
            .clone()
            .with_timeout(Duration::from_secs(365 * 24 * 3600));
        let watcher = watcher::ExitWatcher::new(conn.raw.clone(), conn.info.kind);
        Ok(DockerBackend {
            inner: Arc::new(Inner {
                conn,
                long,
                watcher,
                options,
                removals: Mutex::default(),
            }),
        })
    }

    /// Which engine answered, its version and endpoint (for `--help` and diagnostics).
    pub fn info(&self) -> &EngineInfo {
        &self.inner.conn.info
    }

    pub fn options(&self) -> &DockerOptions {
        &self.inner.options
    }

    /// The underlying bollard client, for anything this crate does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.inner.conn.docker
    }

    /// Remove every container and volume labelled with `run_id` (and wait for this backend's
    /// pending removals of that run first). Safe to call for a run that left nothing behind; use
    /// it to clean up after a crash.
    pub async fn cleanup_run(&self, run_id: &str) -> Result<(), BackendError> {
        self.inner.await_removals(run_id).await;
        inventory::remove_run(&self.inner, run_id, None).await
    }
}

#[async_trait]
impl Backend for DockerBackend {
    fn name(&self) -> &str {
        self.inner.conn.info.kind.as_str()
    }

    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError> {
        // Open the event subscription while the volume is created: the first step need not wait.
        if self.inner.options.exit_detection == ExitDetection::Events {
            self.inner.watcher.prewarm();
        }
        inventory::create_workspace(&self.inner, run_id).await
    }

    async fn run_step(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<StepExit, BackendError> {
        step::run_step(&self.inner, launch, workspace, sink, cancel).await
    }

    async fn finish_run(&self, workspace: &Workspace) -> Result<(), BackendError> {
        self.inner.await_removals(&workspace.run_id).await;
        inventory::remove_run(&self.inner, &workspace.run_id, Some(&workspace.name)).await
    }
}

impl Inner {
    /// Wait for the background removals of `run_id`'s containers.
    pub(crate) async fn await_removals(&self, run_id: &str) {
        let handles = {
            let mut map = self.removals.lock().unwrap_or_else(|p| p.into_inner());
            map.remove(run_id).unwrap_or_default()
        };
        for h in handles {
            if let Err(e) = h.await {
                tracing::warn!(error = %e, run = run_id, "a background container removal did not finish");
            }
        }
    }

    /// Remove container `id` of `run_id` in the background (awaited by `finish_run`).
    pub(crate) fn remove_in_background(&self, run_id: &str, id: String) {
        let docker = self.conn.docker.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = inventory::remove_container(&docker, &id).await {
                tracing::warn!(container = %id, error = %e, "removing a finished container failed; finish_run will retry");
            }
        });
        let mut map = self.removals.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.entry(run_id.to_string()).or_default();
        list.retain(|h| !h.is_finished());
        list.push(handle);
    }
}

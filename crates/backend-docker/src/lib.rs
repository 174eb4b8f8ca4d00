//! ContainerOps backend for Docker Engine and Podman, through the Docker Engine API (bollard).
//!
//! - [`DockerBackend::connect`] finds the engine (SPEC §5, see [`discovery`]) and negotiates the
//!   API version; [`DockerBackend::info`] says which engine and version answered.
//! - [`DockerBackend`] implements [`co_backend::Backend`]: one named volume per run
//!   (`co-ws-<run>`), one container per step attempt (`co-<run>-<step>-<attempt>`, see [`names`]),
//!   output streamed from an attach made before start, the exit learned by one inspect when the
//!   output ends (see [`ExitDetection`] for the measurements and alternatives), removal deferred
//!   off every step's path (see [`Removal`]).
//! - `reattach` takes over the container of an attempt an earlier process launched (the server
//!   was restarted): found by name and labels, its whole output from the start replayed from the
//!   engine's log and followed live (an attach is only the doorbell; Podman's followed logs and
//!   attach-with-logs lose or mangle output, see `replay`), the exit learned like `run_step`'s,
//!   then removed. `create_workspace` reuses an existing workspace of the same run.
//! - An engine that stops answering while a step runs (its API service restarted) is waited for
//!   ([`DockerOptions::engine_outage_limit`]); then the step is followed on the same way, its
//!   output replayed from the engine's log from the byte where the broken stream stopped, so no
//!   output is lost or doubled and the container is never started twice.
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
mod files;
mod ignore;
mod inventory;
pub mod logs;
pub mod names;
mod push;
pub use push::{image_registry, is_loopback_registry, PushOptions};
mod raw;
mod reattach;
mod replay;
mod step;
mod watcher;

pub use build::{BuiltImage, ImageBuild};
pub use discovery::{Candidate, EngineInfo, EngineKind};
pub use inventory::{ContainerSummary, VolumeSummary};

/// How `run_step` learns that a container exited. All three deliver the complete output first
/// (the attach stream's end); they differ in how the exit code is learned.
///
/// Measured on this project's Podman 4.3 (`examples/step_overhead.rs`, 20 sequential steps each,
/// medians, shared 2-core machine): from the start call returning to `run_step` knowing output
/// and exit code, `InspectAfterOutput` takes ~7 ms, `Events` ~105 ms and `Wait` ~610 ms. The
/// output stream ends as soon as the process does, and one inspect then almost always confirms
/// the exit; Podman writes its `die` event to a file that its event stream polls every 250 ms
/// (sequential steps lock onto that period: every step then takes a multiple of it), and its
/// `wait` answers only after its cleanup of the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExitDetection {
    /// Inspect once the output stream has ended; if the engine does not see the exit yet, the
    /// `die` event (registered before start), then `wait`.
    #[default]
    InspectAfterOutput,
    /// The `die` event of one shared `GET /events` subscription (registered before start, so it
    /// cannot be missed; inspect and `wait` if the subscription breaks or stays silent).
    Events,
    /// `POST /containers/{id}/wait` after start.
    Wait,
}

/// When a finished step's container is removed. Never on the step's own critical path; the
/// choice is about what the removal costs the steps that follow: on Podman a removal right after
/// the exit waits for the engine's own cleanup of the container and holds up the next create
/// meanwhile. Measured with `examples/step_overhead.rs` (30 sequential steps + `finish_run`, three
/// rounds on a shared 2-core machine): `Deferred { backlog: 16 }` 5.4 / 10.3 / 11.1 s,
/// everything at finish 10.3 / 11.9 / 11.4 s, `AfterEngineCleanup` 11.3 / 11.8 / 12.0 s,
/// `Immediate` 8.5 / 12.3 / 13.2 s.
///
/// Whatever the policy, a container whose step was stopped or failed to run is removed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// In a background task as soon as the step returns.
    Immediate,
    /// In a background task once the engine's `wait` answers (on Podman: after its own cleanup of
    /// the container, so the removal does not contend with it).
    AfterEngineCleanup,
    /// Left until more than `backlog` finished containers of the run wait; then the oldest is
    /// removed in the background (long since cleaned up by the engine). The rest go, in parallel,
    /// in `finish_run`. `usize::MAX`: everything at `finish_run`.
    Deferred { backlog: usize },
}

impl Default for Removal {
    fn default() -> Self {
        Removal::Deferred { backlog: 16 }
    }
}

/// The longest stop grace accepted (see [`DockerOptions::stop_grace`]).
pub const MAX_STOP_GRACE: Duration = Duration::from_secs(3600);

/// Settings of a [`DockerBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerOptions {
    /// Time between SIGTERM and SIGKILL when a step is stopped (timeout or cancel); at most
    /// [`MAX_STOP_GRACE`] (see [`DockerOptions::check_stop_grace`]). Steps run with an init
    /// process, so SIGTERM reaches the step's own process even when it is a shell.
    pub stop_grace: Duration,
    pub exit_detection: ExitDetection,
    pub removal: Removal,
    /// How long a step whose container runs waits for an engine that stopped answering (its API
    /// service restarted, its socket gone) before the step fails with a reason. The container
    /// goes on meanwhile; once the engine answers, the output is read on from the byte where it
    /// broke off (from the engine's log of the container) and the exit is learned as usual.
    pub engine_outage_limit: Duration,
}

impl DockerOptions {
    /// The default [`DockerOptions::stop_grace`].
    pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

    /// `Err` (in words) for a stop grace over [`MAX_STOP_GRACE`].
    pub fn check_stop_grace(grace: Duration) -> Result<Duration, String> {
        if grace > MAX_STOP_GRACE {
            return Err(format!(
                "the stop grace may be at most {}s (1h), not {}s",
                MAX_STOP_GRACE.as_secs(),
                grace.as_secs()
            ));
        }
        Ok(grace)
    }
}

impl Default for DockerOptions {
    fn default() -> Self {
        DockerOptions {
            stop_grace: DockerOptions::DEFAULT_STOP_GRACE,
            exit_detection: ExitDetection::default(),
            removal: Removal::default(),
            engine_outage_limit: Duration::from_secs(120),
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
    /// The engine's CPU count (`GET /info`), fetched when first needed.
    pub(crate) ncpu: tokio::sync::OnceCell<Option<u64>>,
    /// Background container removals per run, awaited by `finish_run`.
    pub(crate) removals: Mutex<HashMap<String, RunRemovals>>,
}

#[derive(Default)]
pub(crate) struct RunRemovals {
    /// Finished containers left for later ([`Removal::Deferred`]), oldest first.
    deferred: std::collections::VecDeque<String>,
    tasks: Vec<PendingRemoval>,
}

pub(crate) struct PendingRemoval {
    /// Fired by `finish_run`: stop waiting for the engine's cleanup and remove now.
    hurry: CancellationToken,
    task: tokio::task::JoinHandle<()>,
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
                ncpu: tokio::sync::OnceCell::new(),
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

    /// Wait until this backend's background removals of `run_id`'s containers are done (those
    /// of finished, stopped and reattached steps; containers the removal policy defers stay until
    /// `finish_run`).
    pub async fn await_removals(&self, run_id: &str) {
        // The deferred ones stay deferred: put them back for `finish_run`.
        let deferred = self.inner.await_removals(run_id).await;
        if !deferred.is_empty() {
            let mut map = self
                .inner
                .removals
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.entry(run_id.to_string())
                .or_default()
                .deferred
                .extend(deferred);
        }
    }

    /// Remove every container and volume labelled with `run_id` (and wait for this backend's
    /// pending removals of that run first). Safe to call for a run that left nothing behind; use
    /// it to clean up after a crash.
    pub async fn cleanup_run(&self, run_id: &str) -> Result<(), BackendError> {
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
        if self.inner.options.exit_detection != ExitDetection::Wait {
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

    async fn reattach(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<Option<StepExit>, BackendError> {
        // The container has its mounts already.
        let _ = workspace;
        reattach::reattach(&self.inner, launch, sink, cancel).await
    }

    async fn finish_run(&self, workspace: &Workspace) -> Result<(), BackendError> {
        inventory::remove_run(&self.inner, &workspace.run_id, Some(&workspace.name)).await
    }
}

impl Inner {
    /// The number of CPUs the engine's machine has, if it says.
    pub(crate) async fn cpu_count(&self) -> Option<u64> {
        #[derive(serde::Deserialize)]
        struct Info {
            #[serde(rename = "NCPU", default)]
            ncpu: u64,
        }
        *self
            .ncpu
            .get_or_init(|| async {
                match self.conn.raw.get_json::<Info>("/info").await {
                    Ok(i) if i.ncpu > 0 => Some(i.ncpu),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read the engine's CPU count");
                        None
                    }
                }
            })
            .await
    }

    /// Wait for the background removals of `run_id`'s containers (telling those still waiting
    /// for the engine's cleanup to remove at once), and forget the run's removals: the ids of the
    /// containers the policy deferred are returned, for the caller to remove.
    pub(crate) async fn await_removals(&self, run_id: &str) -> Vec<String> {
        let pending = {
            let mut map = self.removals.lock().unwrap_or_else(|p| p.into_inner());
            map.remove(run_id).unwrap_or_default()
        };
        for p in &pending.tasks {
            p.hurry.cancel();
        }
        for p in pending.tasks {
            if let Err(e) = p.task.await {
                tracing::warn!(error = %e, run = run_id, "a background container removal did not finish");
            }
        }
        pending.deferred.into()
    }

    /// A step of `run_id` is over: remove its container `id` as the removal policy says
    /// (`now`: at once, whatever the policy, e.g. after a cancellation).
    pub(crate) fn step_finished(&self, run_id: &str, id: String, now: bool) {
        let policy = if now {
            Removal::Immediate
        } else {
            self.options.removal
        };
        let mut map = self.removals.lock().unwrap_or_else(|p| p.into_inner());
        let run = map.entry(run_id.to_string()).or_default();
        run.tasks.retain(|p| !p.task.is_finished());
        let (id, wait_first) = match policy {
            Removal::Immediate => (id, false),
            Removal::AfterEngineCleanup => (id, true),
            Removal::Deferred { backlog } => {
                run.deferred.push_back(id);
                if run.deferred.len() <= backlog {
                    return;
                }
                match run.deferred.pop_front() {
                    Some(oldest) => (oldest, false),
                    None => return,
                }
            }
        };
        let docker = self.conn.docker.clone();
        let long = self.long.clone();
        let hurry = CancellationToken::new();
        let hurried = hurry.clone();
        let task = tokio::spawn(async move {
            if wait_first {
                let mut wait = long.wait_container(&id, None);
                tokio::select! {
                    _ = futures::StreamExt::next(&mut wait) => {}
                    _ = hurried.cancelled() => {}
                }
            }
            if let Err(e) = inventory::remove_container(&docker, &id).await {
                tracing::warn!(container = %id, error = %e, "removing a finished container failed; finish_run will retry");
            }
        });
        run.tasks.push(PendingRemoval { hurry, task });
    }
}

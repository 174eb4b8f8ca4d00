//! ContainerOps backend for Docker Swarm: every step attempt is a service in `replicated-job` mode
//! (one task, one completion, no restart), on a swarm manager's Docker Engine API.
//!
//! - The connection, discovery (`$DOCKER_HOST`, SPEC §5), the run's workspace volume and the
//!   final sweep of containers and volumes by label are [`co_backend_docker`]'s; so is the reading
//!   of multiplexed log frames and their timestamps ([`co_backend_docker::logs`]).
//! - Workspace: a local volume on the node this backend talks to, and every step of the run is
//!   pinned to that node (`node.id==…`), as ReadWriteOnce on Kubernetes.
//! - Output: the service's logs (`GET /services/{id}/logs`, both streams, with timestamps),
//!   followed while the task runs, then read once more in full once the task has ended; each read
//!   passes on only the bytes beyond those already passed on, per stream, so nothing is lost or
//!   doubled.
//! - The exit: the task's status, polled (`GET /tasks?filters=service=…`): `complete`, `failed`
//!   with the container's exit code, `rejected` (a missing image is
//!   [`BackendError::ImageNotFound`], not retried), `shutdown`/`orphaned` (the node left: retriable),
//!   and a task still `pending` with the scheduler's message after
//!   [`SwarmOptions::unschedulable_grace`].
//! - Cancel and timeout stop the task's container (SIGTERM, SIGKILL after the stop grace; removing
//!   a job service does not stop its task on Docker 20.10) and remove the service; a finished attempt's
//!   service is removed in the background, awaited by `finish_run`, which also sweeps every
//!   service labelled with the run, then the task containers the swarm keeps of removed job
//!   services and the volume (by label, as the Docker backend does).
//!
//! Invariant: every service, task container and volume carries the `containerops.run` label.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{Task, TaskState};
use bollard::query_parameters::{
    ListServicesOptions, ListTasksOptions, LogsOptionsBuilder, StopContainerOptions,
};
use bollard::Docker;
use co_backend::{
    labels, Backend, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Stream,
    Workspace,
};
use co_backend_docker::discovery::{self, Candidate, EngineKind};
use co_backend_docker::{logs, names, DockerBackend, DockerOptions};
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod spec;

/// How to make an engine a swarm manager, for [`BackendError::Unavailable`].
pub const SWARM_HINT: &str = "point DOCKER_HOST at a Docker Engine that is a swarm manager \
(`docker swarm init` makes one; scripts/setup-engine.sh --swarm starts Docker Engine and a one-node \
swarm); Podman has no swarm mode";

/// Settings of a [`SwarmBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmOptions {
    /// Time between SIGTERM and SIGKILL when a step is stopped (the service's stop grace).
    pub stop_grace: Duration,
    /// How long a task may stay unscheduled (no node suits it) before the attempt fails with the
    /// scheduler's message.
    pub unschedulable_grace: Duration,
    /// How often the task's state is asked for while it runs.
    pub poll: Duration,
}

impl Default for SwarmOptions {
    fn default() -> Self {
        SwarmOptions {
            stop_grace: Duration::from_secs(10),
            unschedulable_grace: Duration::from_secs(30),
            poll: Duration::from_millis(100),
        }
    }
}

/// The Swarm backend.
#[derive(Clone)]
pub struct SwarmBackend {
    inner: Arc<Inner>,
}

struct Inner {
    engine: DockerBackend,
    node_id: String,
    options: SwarmOptions,
    /// Background removals of finished attempts' services, per run.
    removals: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for SwarmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmBackend")
            .field("engine", self.inner.engine.info())
            .field("node_id", &self.inner.node_id)
            .finish()
    }
}

fn api_error(what: &str, e: &bollard::errors::Error) -> BackendError {
    BackendError::Other(format!("{what}: {e}"))
}

fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// What a task's status says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    /// Not running yet; the scheduler's complaint, if any (`no suitable node (…)`).
    Waiting(Option<String>),
    Running,
    Ended(Result<StepExit, BackendError>),
}

fn classify(task: &Task) -> Progress {
    let Some(status) = &task.status else {
        return Progress::Waiting(None);
    };
    let err = status.err.clone().filter(|e| !e.is_empty());
    let code = status.container_status.as_ref().and_then(|c| c.exit_code);
    let message = || {
        err.clone()
            .or_else(|| status.message.clone())
            .unwrap_or_default()
    };
    match status.state {
        None
        | Some(TaskState::NEW)
        | Some(TaskState::ALLOCATED)
        | Some(TaskState::PENDING)
        | Some(TaskState::ASSIGNED) => Progress::Waiting(err),
        Some(TaskState::ACCEPTED) | Some(TaskState::PREPARING) | Some(TaskState::READY) => {
            Progress::Waiting(None)
        }
        Some(TaskState::STARTING) | Some(TaskState::RUNNING) => Progress::Running,
        Some(TaskState::COMPLETE) => Progress::Ended(Ok(StepExit::exited(code.unwrap_or(0)))),
        Some(TaskState::FAILED) => match code {
            Some(c) if c != 0 => Progress::Ended(Ok(StepExit::exited(c))),
            _ => Progress::Ended(Err(BackendError::Other(format!(
                "the step's task failed: {}",
                message()
            )))),
        },
        Some(TaskState::REJECTED) => {
            let m = message();
            if m.contains("No such image") || (m.contains("not found") && m.contains("image")) {
                Progress::Ended(Err(BackendError::ImageNotFound {
                    image: task
                        .spec
                        .as_ref()
                        .and_then(|s| s.container_spec.as_ref())
                        .and_then(|c| c.image.clone())
                        .unwrap_or_default(),
                    detail: m,
                }))
            } else {
                Progress::Ended(Err(BackendError::Other(format!(
                    "the swarm rejected the step's task: {m}"
                ))))
            }
        }
        Some(TaskState::SHUTDOWN) | Some(TaskState::REMOVE) | Some(TaskState::ORPHANED) => {
            Progress::Ended(Err(BackendError::Other(format!(
                "the step's task was shut down by the swarm ({}), e.g. its node left; {}",
                status.state.map(|s| s.to_string()).unwrap_or_default(),
                message()
            ))))
        }
    }
}

/// The task's container, once the swarm made one.
fn container_of(task: &Task) -> Option<String> {
    task.status
        .as_ref()
        .and_then(|s| s.container_status.as_ref())
        .and_then(|c| c.container_id.clone())
        .filter(|c| !c.is_empty())
}

fn ms_of(t: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .filter(|&ms| ms > 0)
}

fn index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl SwarmBackend {
    /// Find the engine from the environment (SPEC §5); it must be a swarm manager.
    pub async fn connect(options: SwarmOptions) -> Result<Self, BackendError> {
        Self::connect_with(&discovery::candidates_from_env(), options).await
    }

    /// Try `candidates` in order; the first engine that answers must be a swarm manager.
    pub async fn connect_with(
        candidates: &[Candidate],
        options: SwarmOptions,
    ) -> Result<Self, BackendError> {
        let engine = DockerBackend::connect_with(
            candidates,
            DockerOptions {
                stop_grace: options.stop_grace,
                ..DockerOptions::default()
            },
        )
        .await?;
        let unavailable = |message: String| BackendError::Unavailable {
            message,
            hint: SWARM_HINT.to_string(),
        };
        if engine.info().kind == EngineKind::Podman {
            return Err(unavailable(format!("{} has no swarm mode", engine.info())));
        }
        let info = engine
            .docker()
            .info()
            .await
            .map_err(|e| api_error("asking the engine about its swarm", &e))?;
        let swarm = info.swarm.unwrap_or_default();
        let node_id = swarm.node_id.unwrap_or_default();
        if swarm.control_available != Some(true) || node_id.is_empty() {
            return Err(unavailable(format!(
                "{} is not a swarm manager (swarm state: {})",
                engine.info(),
                swarm
                    .local_node_state
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown".into())
            )));
        }
        Ok(SwarmBackend {
            inner: Arc::new(Inner {
                engine,
                node_id,
                options,
                removals: Mutex::default(),
            }),
        })
    }

    /// The Docker backend on the same engine (its volumes, containers, images).
    pub fn engine(&self) -> &DockerBackend {
        &self.inner.engine
    }

    /// The node this backend talks to (where the runs' volumes are).
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    fn docker(&self) -> &Docker {
        self.inner.engine.docker()
    }

    /// Services labelled `key` (`=value`), as (id, name).
    pub async fn list_services(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> Result<Vec<(String, String)>, BackendError> {
        let label = match value {
            Some(v) => format!("{key}={v}"),
            None => key.to_string(),
        };
        let opts = ListServicesOptions {
            filters: Some(HashMap::from([("label".to_string(), vec![label])])),
            ..Default::default()
        };
        let services = self
            .docker()
            .list_services(Some(opts))
            .await
            .map_err(|e| api_error("listing services", &e))?;
        Ok(services
            .into_iter()
            .map(|s| {
                let name = s.spec.and_then(|s| s.name).unwrap_or_default();
                (s.id.unwrap_or_default(), name)
            })
            .collect())
    }

    /// The service's task (a job has one), if the swarm has made it yet.
    async fn task_of(&self, service: &str) -> Result<Option<Task>, BackendError> {
        let opts = ListTasksOptions {
            filters: Some(HashMap::from([(
                "service".to_string(),
                vec![service.to_string()],
            )])),
        };
        let mut tasks = self
            .docker()
            .list_tasks(Some(opts))
            .await
            .map_err(|e| api_error("asking for the step's task", &e))?;
        // The newest one (a job that was never retried has exactly one).
        tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(tasks.pop())
    }

    async fn create_service(
        &self,
        name: &str,
        body: serde_json::Value,
    ) -> Result<String, BackendError> {
        let mut replaced = false;
        loop {
            let spec = spec::service_spec(body.clone())?;
            match self.docker().create_service(spec, None).await {
                Ok(r) => {
                    return r.id.ok_or_else(|| {
                        BackendError::Other("the engine created a service without an id".into())
                    })
                }
                // A service of the same attempt left by an earlier process that did not get to
                // remove it: it is not running anything of ours any more, replace it.
                Err(e) if status_of(&e) == Some(409) && !replaced => {
                    tracing::warn!(
                        service = name,
                        "replacing a leftover service of this attempt"
                    );
                    self.remove_service(name).await?;
                    replaced = true;
                }
                Err(e) => return Err(api_error(&format!("creating service {name}"), &e)),
            }
        }
    }

    /// Remove a service (its task's container is stopped and removed by the swarm, later).
    async fn remove_service(&self, service: &str) -> Result<(), BackendError> {
        match self.docker().delete_service(service).await {
            Ok(()) => {}
            Err(e) if status_of(&e) == Some(404) => return Ok(()),
            Err(e) => return Err(api_error(&format!("removing service {service}"), &e)),
        }
        Ok(())
    }

    fn remove_later(&self, run_id: &str, service: String) {
        let me = self.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = me.remove_service(&service).await {
                tracing::warn!(service, error = %e, "removing a finished step's service");
            }
        });
        let mut map = self
            .inner
            .removals
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(run_id.to_string()).or_default().push(handle);
    }

    async fn await_removals(&self, run_id: &str) {
        let handles = {
            let mut map = self
                .inner
                .removals
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.remove(run_id).unwrap_or_default()
        };
        for h in handles {
            let _ = h.await;
        }
    }

    fn log_stream(
        &self,
        service: &str,
        follow: bool,
    ) -> impl futures::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>>
    {
        let opts = LogsOptionsBuilder::default()
            .follow(follow)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .build();
        self.docker().service_logs(service, Some(opts))
    }

    /// Follow service `id` until its task ends: output to `sink`, the exit from the task.
    async fn follow(
        &self,
        id: &str,
        name: &str,
        launch: &StepLaunch,
        sink: &mut dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<StepExit, BackendError> {
        let mut out = Output::default();
        let mut live: Option<futures::stream::BoxStream<'static, _>> = None;
        let mut tick = tokio::time::interval(self.inner.options.poll);
        let mut unschedulable_since: Option<Instant> = None;
        // The task's container, once the swarm made one.
        let mut container: Option<String> = None;
        let ended = loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    drop(live.take());
                    // Docker 20.10 leaves a removed job service's task running: stop it first.
                    let mut exit = StepExit::STOPPED;
                    if let Some(c) = &container {
                        // The exit code says how it ended: 143 on SIGTERM, 137 when killed.
                        exit.exit_code = self.stop_container(c).await;
                    }
                    self.remove_service(id).await?;
                    return Ok(exit);
                }
                item = async { match live.as_mut() { Some(s) => s.next().await, None => None } }, if live.is_some() => {
                    match item {
                        Some(Ok(frame)) => out.take(frame, sink, id).await,
                        Some(Err(e)) => {
                            tracing::debug!(service = name, error = %e, "the service's log stream broke; reading it again");
                            live = None;
                            out.restart();
                        }
                        None => {
                            live = None;
                            out.restart();
                        }
                    }
                }
                _ = tick.tick() => {
                    let Some(task) = self.task_of(id).await? else { continue };
                    if let Some(c) = container_of(&task) {
                        container = Some(c);
                    }
                    match classify(&task) {
                        Progress::Waiting(Some(why)) => {
                            let since = *unschedulable_since.get_or_insert_with(Instant::now);
                            if since.elapsed() >= self.inner.options.unschedulable_grace {
                                self.remove_service(id).await?;
                                return Err(BackendError::Other(format!(
                                    "no swarm node can run the step after {}s: {why}",
                                    self.inner.options.unschedulable_grace.as_secs()
                                )));
                            }
                        }
                        Progress::Waiting(None) => unschedulable_since = None,
                        Progress::Running => {
                            out.start(sink, id);
                            if live.is_none() {
                                live = Some(self.log_stream(id, true).boxed());
                            }
                        }
                        Progress::Ended(result) => break (result, task),
                    }
                }
            }
        };
        drop(live);
        let (result, task) = ended;
        let mut exit = result?;
        out.start(sink, id);
        // The whole log once more: its end, and whatever the live stream missed.
        out.restart();
        let mut rest = self.log_stream(id, false).boxed();
        while let Some(item) = rest.next().await {
            match item {
                Ok(frame) => out.take(frame, sink, id).await,
                Err(e) => {
                    return Err(BackendError::Other(format!(
                        "reading the log of service {name}: {e}; the step's output is incomplete"
                    )))
                }
            }
        }
        if let Some(t) = task.status.as_ref().and_then(|s| s.timestamp.as_deref()) {
            exit.finished_at = ms_of(t);
        }
        if exit.exit_code.is_some_and(|c| c != 0) {
            if let Some(complaint) = out.first_err.as_deref().and_then(logs::init_complaint) {
                let command = launch
                    .command
                    .as_ref()
                    .map_or_else(|| "the image's command".to_string(), |c| c.join(" "));
                // Not retried: the same command cannot be executed the next time either.
                return Err(BackendError::NotRunnable(format!(
                    "service {name} (image {}) could not start {command}: {complaint}",
                    launch.image
                )));
            }
            exit.oom_killed = self.oom_killed(&task).await;
        }
        // Its artifacts, from the task's container (kept by the swarm on this node, where the
        // run's steps are pinned) before the service and the container go.
        if let Some(c) = container_of(&task) {
            self.inner.engine.collect_from(&c, &exit, sink).await;
        }
        Ok(exit)
    }

    /// Stop the task's container: SIGTERM, SIGKILL after the stop grace. Removing a job
    /// service does not stop its running task on Docker 20.10 (the container runs on), so a
    /// cancel stops it through the engine: on the node that holds the run's volume, which is
    /// where every step of the run is pinned. A failure is logged; `finish_run` removes the
    /// container (by force) in any case.
    /// Returns the container's exit code, if it is known to have exited.
    async fn stop_container(&self, container: &str) -> Option<i64> {
        let grace = self.inner.options.stop_grace;
        let secs = i32::try_from(grace.as_secs() + u64::from(grace.subsec_nanos() > 0))
            .unwrap_or(i32::MAX);
        let opts = StopContainerOptions {
            t: Some(secs),
            signal: None,
        };
        match self.docker().stop_container(container, Some(opts)).await {
            Ok(()) => {}
            Err(e) if matches!(status_of(&e), Some(304 | 404)) => {}
            Err(e) => {
                tracing::warn!(container, error = %e, "stopping a cancelled step's container");
                return None;
            }
        }
        let state = self
            .inner
            .engine
            .inspect_container_json(container)
            .await
            .ok()?;
        let state = &state["State"];
        (state["Running"].as_bool() == Some(false))
            .then(|| state["ExitCode"].as_i64())
            .flatten()
    }

    /// Whether the task's container was killed for memory (its node's engine records it; on
    /// one node that is this engine).
    async fn oom_killed(&self, task: &Task) -> bool {
        let Some(container) = container_of(task) else {
            return false;
        };
        match self.inner.engine.inspect_container_json(&container).await {
            Ok(v) => v["State"]["OOMKilled"].as_bool().unwrap_or(false),
            Err(_) => false,
        }
    }
}

/// What has been passed on of a step's output, per stream, and where the current read is.
#[derive(Default)]
struct Output {
    started: bool,
    /// The step's first stderr line (up to `INIT_LINE_MAX` bytes), to tell the init process's
    /// complaint that it could not exec the command.
    first_err: Option<Vec<u8>>,
    delivered: [u64; 2],
    pos: [u64; 2],
}

impl Output {
    fn start(&mut self, sink: &mut dyn OutputSink, id: &str) {
        if !self.started {
            self.started = true;
            sink.started(id);
        }
    }

    /// A new read of the log begins (from its start).
    fn restart(&mut self) {
        self.pos = [0, 0];
    }

    /// One frame of the current read: pass on what lies beyond what was passed on.
    async fn take(
        &mut self,
        frame: bollard::container::LogOutput,
        sink: &mut dyn OutputSink,
        id: &str,
    ) {
        let Some((stream, bytes)) = logs::frame(frame) else {
            return;
        };
        let (at, bytes) = logs::split_timestamp(bytes);
        let i = index(stream);
        let start = self.pos[i];
        self.pos[i] += bytes.len() as u64;
        if self.pos[i] <= self.delivered[i] {
            return;
        }
        let skip = usize::try_from(self.delivered[i].saturating_sub(start)).unwrap_or(usize::MAX);
        let fresh = bytes.slice(skip.min(bytes.len())..);
        self.delivered[i] = self.pos[i];
        if stream == Stream::Stderr {
            let line = self.first_err.get_or_insert_with(Vec::new);
            if !line.contains(&b'\n') && line.len() < logs::INIT_LINE_MAX {
                let room = logs::INIT_LINE_MAX - line.len();
                line.extend_from_slice(&fresh[..fresh.len().min(room)]);
            }
        }
        self.start(sink, id);
        match at {
            Some(at) => sink.output_at(stream, &fresh, at).await,
            None => sink.output(stream, &fresh).await,
        }
    }
}

#[async_trait]
impl Backend for SwarmBackend {
    fn name(&self) -> &str {
        "swarm"
    }

    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError> {
        self.inner.engine.create_workspace(run_id).await
    }

    async fn run_step(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<StepExit, BackendError> {
        if cancel.is_cancelled() {
            return Ok(StepExit::STOPPED);
        }
        let name = names::service_name(&launch.run_id, &launch.step_key, launch.attempt);
        let mut body = spec::service_json(
            &name,
            launch,
            workspace,
            &self.inner.node_id,
            self.inner.options.stop_grace,
        );
        if !launch.files.is_empty() {
            // Variables too large for the environment: a volume of this node holds them (the
            // step is pinned here), mounted read-only where the protocol says they are.
            let volume = format!("{name}-env");
            self.inner
                .engine
                .fill_volume(&launch.run_id, &volume, &launch.image, &launch.files)
                .await?;
            spec::mount_env_files(&mut body, &volume);
        }
        let id = self.create_service(&name, body).await?;
        let result = self.follow(&id, &name, launch, sink, &cancel).await;
        self.remove_later(&launch.run_id, id);
        result
    }

    async fn reattach(
        &self,
        launch: &StepLaunch,
        _workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<Option<StepExit>, BackendError> {
        let name = names::service_name(&launch.run_id, &launch.step_key, launch.attempt);
        let found = self
            .list_services(labels::RUN, Some(&launch.run_id))
            .await?;
        let Some((id, _)) = found.into_iter().find(|(_, n)| *n == name) else {
            return Ok(None);
        };
        let result = self.follow(&id, &name, launch, sink, &cancel).await;
        self.remove_later(&launch.run_id, id);
        result.map(Some)
    }

    async fn finish_run(&self, workspace: &Workspace) -> Result<(), BackendError> {
        let run_id = &workspace.run_id;
        self.await_removals(run_id).await;
        for (id, _) in self.list_services(labels::RUN, Some(run_id)).await? {
            self.remove_service(&id).await?;
        }
        // The swarm keeps the containers of a removed job service's tasks (for minutes, on
        // Docker 20.10): they go with the volume, swept by label.
        self.inner.engine.finish_run(workspace).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerStatus, TaskStatus};

    fn task(state: TaskState, err: &str, code: Option<i64>) -> Task {
        Task {
            status: Some(TaskStatus {
                state: Some(state),
                err: Some(err.to_string()),
                container_status: Some(ContainerStatus {
                    exit_code: code,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn task_states_decide_the_outcome() {
        assert_eq!(
            classify(&task(TaskState::COMPLETE, "", Some(0))),
            Progress::Ended(Ok(StepExit::exited(0)))
        );
        assert_eq!(
            classify(&task(TaskState::FAILED, "task: non-zero exit (3)", Some(3))),
            Progress::Ended(Ok(StepExit::exited(3)))
        );
        assert_eq!(
            classify(&task(TaskState::RUNNING, "", None)),
            Progress::Running
        );
        assert_eq!(
            classify(&task(
                TaskState::PENDING,
                "no suitable node (scheduling constraints not satisfied on 1 node)",
                None
            )),
            Progress::Waiting(Some(
                "no suitable node (scheduling constraints not satisfied on 1 node)".into()
            ))
        );
        assert!(matches!(
            classify(&task(
                TaskState::REJECTED,
                "No such image: localhost/nope:1",
                None
            )),
            Progress::Ended(Err(BackendError::ImageNotFound { .. }))
        ));
        match classify(&task(TaskState::ORPHANED, "node is down", None)) {
            Progress::Ended(Err(e)) => {
                assert!(e.is_retriable(), "{e}");
                assert!(e.to_string().contains("node is down"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        match classify(&task(TaskState::REJECTED, "invalid mount config", None)) {
            Progress::Ended(Err(BackendError::Other(m))) => assert!(m.contains("invalid mount")),
            other => panic!("{other:?}"),
        }
    }
}

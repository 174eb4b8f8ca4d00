//! The driver of a run: it owns one [`Engine`], feeds it backend events and the clock, carries out
//! its commands on a [`Backend`], and records everything in the [`Store`] as it happens.
//!
//! Invariants:
//! - A step's new state is written to the store before the effect that follows it (a launch, the
//!   run's end) is carried out.
//! - Every log line is masked before it is stored or shown, and gets a gapless per-run sequence
//!   number in the order it was produced.
//! - A run always ends: every launched attempt is awaited (stopped on cancel), the workspace and
//!   every container are removed, and the run row gets its final status.

mod collect;
pub mod fake;
mod hold;
pub mod report;
mod resume;
mod sink;
mod unsealed;

pub use hold::Ownership;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

pub use co_artifacts::ArtifactStore;
use co_backend::{Backend, CancellationToken, Stream, Workspace};
use co_engine::{Command, Engine, Input, Millis, Outcome, RunConfig, RunStatus, StepStatus, Timer};
use co_protocol::Masker;
use co_spec::{NodeId, Plan};
use co_store::{AttemptRecord, LogWriter, RunRecord, StepRecord, Store};
use indexmap::IndexMap;
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};

pub use co_engine::ConfigError;
pub use resume::ResumeFrom;
pub use unsealed::{seal_unsealed_runs, InputSealer, Swept};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("invalid run inputs:\n{0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] co_store::StoreError),
    #[error("{0}")]
    Backend(#[from] co_backend::BackendError),
}

/// A step as shown to an [`Observer`].
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub node: NodeId,
    pub key: String,
    pub stage: String,
    /// The action's name as shown (`say`, `build[os=linux]`, a seed job's name).
    pub action: String,
    pub status: StepStatus,
    pub attempt: u32,
    /// The most attempts the step may take (its `retry.attempts`; 1 without retries).
    pub max_attempts: u32,
    /// While `waiting` for a retry: how long until the next attempt starts.
    pub retry_in: Option<Millis>,
    pub error: Option<String>,
    pub outputs: serde_json::Map<String, Value>,
    /// The inputs of its last launch, masked: `secret`-typed values are `***`, and every known
    /// secret inside the other values is masked too.
    pub inputs: serde_json::Map<String, Value>,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
}

/// Watches a run live (the CLI's progress view, the server's event streams).
pub trait Observer: Send + Sync {
    fn run_started(&self, _run_id: &str, _steps: &[StepView]) {}
    fn step_changed(&self, _step: &StepView) {}
    /// One output line, already masked.
    fn log_line(&self, _step: &str, _action: &str, _attempt: u32, _stream: Stream, _text: &str) {}
    /// The step's attempt ran out of time (`limit`): it is being stopped (SIGTERM, then SIGKILL
    /// after the backend's stop grace); its end follows as a [`Observer::step_changed`].
    fn step_timed_out(&self, _step: &StepView, _limit: std::time::Duration) {}
    fn run_finished(&self, _run_id: &str, _status: RunStatus) {}
}

/// An observer that watches nothing.
pub struct NoObserver;
impl Observer for NoObserver {}

/// Sends cancel requests into a running run (each call is one request; the second one also stops
/// `always()` and `finally` steps).
#[derive(Debug, Clone)]
pub struct CancelHandle(mpsc::UnboundedSender<Event>);

impl CancelHandle {
    pub fn cancel(&self) {
        let _ = self.0.send(Event::Cancel);
    }
}

/// What happened during a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub run_id: String,
    pub status: RunStatus,
    /// When the run started (ms since the Unix epoch; `None` if its stored start is unreadable)
    /// and ended.
    pub started_at: Option<Millis>,
    pub finished_at: Millis,
}

/// What a [`Runner`] allows the runs it drives (the options of `containerops server` and
/// `containerops run`). `None`: the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLimits {
    /// Most step containers launched and running at once, over every run of one runner (a
    /// server's runs share one runner); further launches wait for a free slot, in order
    /// [default: the backend's, [`Backend::default_parallel_steps`]].
    pub max_parallel_steps: Option<usize>,
    /// Most bytes of log lines stored per step (all its attempts; a newline counts one byte);
    /// beyond it lines are counted, not stored, and the log says so [default:
    /// [`DEFAULT_STEP_LOG_BYTES`]].
    pub step_log_bytes: Option<u64>,
    /// Most bytes of log lines stored per run, all steps together [default:
    /// [`DEFAULT_RUN_LOG_BYTES`]].
    pub run_log_bytes: Option<u64>,
    /// Most bytes one artifact may hold as stored; a larger one fails its step [default:
    /// [`co_artifacts::DEFAULT_MAX_ARTIFACT_SIZE`]].
    pub max_artifact_bytes: Option<u64>,
}

/// The default cap on a step's stored log (64 MiB).
pub const DEFAULT_STEP_LOG_BYTES: u64 = 64 << 20;
/// The default cap on a run's stored log (256 MiB).
pub const DEFAULT_RUN_LOG_BYTES: u64 = 256 << 20;
/// The smallest log cap that can be set (1 KiB): room for the notes that say what was not stored.
pub const MIN_LOG_CAP_BYTES: u64 = 1 << 10;

impl RunLimits {
    /// A log cap as given (`64Mi`, `1Gi`, `500k`, bytes): at least [`MIN_LOG_CAP_BYTES`].
    pub fn parse_log_cap(text: &str) -> Result<u64, String> {
        let bytes = co_spec::parse_memory(text).map_err(|e| {
            e.replace("a memory amount", "a size")
                .replace("memory must", "a log cap must")
        })?;
        if bytes < MIN_LOG_CAP_BYTES {
            return Err(format!(
                "a log cap of `{}` is too small; at least 1Ki ({MIN_LOG_CAP_BYTES} bytes)",
                text.trim()
            ));
        }
        Ok(bytes)
    }

    /// A maximum artifact size as given (`1Gi`, `500Mi`, bytes): at least 1 byte.
    pub fn parse_artifact_size(text: &str) -> Result<u64, String> {
        let bytes = co_spec::parse_memory(text).map_err(|e| {
            e.replace("a memory amount", "a size")
                .replace("memory must", "an artifact size must")
        })?;
        if bytes == 0 {
            return Err("a maximum artifact size of 0 keeps nothing; give at least 1".to_string());
        }
        Ok(bytes)
    }
}

/// Runs workflows on one backend, recording them in one store.
#[derive(Clone)]
pub struct Runner {
    backend: Arc<dyn Backend>,
    store: Store,
    logs: LogWriter,
    /// One permit per step container allowed to run at once.
    slots: Arc<Semaphore>,
    max_parallel_steps: usize,
    step_log_bytes: u64,
    run_log_bytes: u64,
    /// Where steps' artifacts are kept (`None`: they are not collected).
    artifacts: Option<ArtifactStore>,
    max_artifact_bytes: u64,
}

#[derive(Debug)]
pub enum Event {
    /// The attempt's container runs (its timeout starts).
    Started {
        node: NodeId,
        attempt: u32,
    },
    Exited {
        node: NodeId,
        attempt: u32,
        outcome: Box<Outcome>,
        container_id: Option<String>,
    },
    Timer(Timer),
    Cancel,
}

/// One run in progress (prepared, not started yet).
pub struct PreparedRun {
    engine: Engine,
    record: RunRecord,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    /// A restored run: the commands that get it going again (instead of starting it).
    restored: Option<Restored>,
    /// The server's hold on the run (`None`: a local run, nobody else can take it).
    ownership: Option<Ownership>,
}

/// What a restored run needs besides its engine.
struct Restored {
    commands: Vec<Command>,
    /// Log lines of each reattached attempt that are already stored (not stored or shown again).
    stored_lines: HashMap<(NodeId, u32), i64>,
    /// The last stored log sequence number of the run.
    last_seq: i64,
}

impl PreparedRun {
    pub fn run_id(&self) -> &str {
        self.engine.run_id()
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(self.tx.clone())
    }

    /// Drive the run on behalf of a server that claimed it (see [`Ownership`]): if another
    /// server takes it over, nothing more is recorded or done, and [`Runner::execute`] ends with
    /// [`co_store::StoreError::NotHeld`] without touching the run or its containers.
    pub fn held_by(mut self, ownership: Ownership) -> PreparedRun {
        self.ownership = Some(ownership);
        self
    }
}

/// Wall-clock now, in ms since the Unix epoch.
pub fn now_millis() -> Millis {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// UTC RFC 3339 with milliseconds, as stored and shown.
pub fn format_time(ms: Millis) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    co_store::format_timestamp(at)
}

/// A new run id: sortable by creation time (ULID, lower case).
pub fn new_run_id() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

impl Runner {
    pub fn new(backend: Arc<dyn Backend>, store: Store) -> Runner {
        let logs = store.log_writer();
        let max_parallel_steps = backend
            .default_parallel_steps()
            .clamp(1, Semaphore::MAX_PERMITS);
        Runner {
            backend,
            store,
            logs,
            slots: Arc::new(Semaphore::new(max_parallel_steps)),
            max_parallel_steps,
            step_log_bytes: DEFAULT_STEP_LOG_BYTES,
            run_log_bytes: DEFAULT_RUN_LOG_BYTES,
            artifacts: None,
            max_artifact_bytes: co_artifacts::DEFAULT_MAX_ARTIFACT_SIZE,
        }
    }

    /// The same runner keeping steps' artifacts in `store` (set it before the first run).
    pub fn with_artifact_store(mut self, store: ArtifactStore) -> Runner {
        self.artifacts = Some(store);
        self
    }

    /// Where this runner keeps artifacts, if it does.
    pub fn artifact_store(&self) -> Option<&ArtifactStore> {
        self.artifacts.as_ref()
    }

    /// The same runner with `limits` (set them before the first run).
    pub fn with_limits(mut self, limits: RunLimits) -> Runner {
        if let Some(n) = limits.max_parallel_steps {
            self.max_parallel_steps = n.clamp(1, Semaphore::MAX_PERMITS);
            self.slots = Arc::new(Semaphore::new(self.max_parallel_steps));
        }
        if let Some(n) = limits.step_log_bytes {
            self.step_log_bytes = n;
        }
        if let Some(n) = limits.run_log_bytes {
            self.run_log_bytes = n;
        }
        if let Some(n) = limits.max_artifact_bytes {
            self.max_artifact_bytes = n;
        }
        self
    }

    /// Most step containers this runner runs at once.
    pub fn max_parallel_steps(&self) -> usize {
        self.max_parallel_steps
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Check the inputs and record the run as `queued`; nothing runs yet.
    pub async fn prepare(
        &self,
        plan: Arc<Plan>,
        config: RunConfig,
    ) -> Result<PreparedRun, RunnerError> {
        let trigger = config.trigger.clone().unwrap_or(Value::Null);
        let engine = Engine::new(plan, config)?;
        let workflow = &engine.plan().workflow;
        let record = RunRecord {
            id: engine.run_id().to_string(),
            workflow: workflow.name.clone(),
            status: RunStatus::Queued,
            // Secret inputs are stored masked and nowhere else: a local run is never resumed
            // or recovered from the store, so nothing needs their values later.
            inputs: map_value(engine.shown_inputs().iter()),
            secret_inputs: None,
            outputs: Value::Object(Default::default()),
            error: None,
            created_at: format_time(now_millis()),
            started_at: None,
            finished_at: None,
            source_path: workflow.path.clone(),
            source: workflow.source.clone(),
            revision: None,
            trigger,
            parent: None,
            max_concurrency: None,
        };
        self.store.insert_run(&record).await?;
        self.store
            .upsert_steps(
                &(0..engine.plan().nodes.len())
                    .filter_map(|n| step_record(&engine, n, &Masker::default()))
                    .collect::<Vec<_>>(),
            )
            .await?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(PreparedRun {
            engine,
            record,
            tx,
            rx,
            restored: None,
            ownership: None,
        })
    }

    /// The artifacts the steps of a recorded run kept — a reused step's, in the run it ran in —
    /// by (run id, step key), for expressions after a restore.
    async fn kept_artifacts(
        &self,
        detail: &co_store::RunDetail,
    ) -> Result<HashMap<(String, String), IndexMap<String, co_engine::KeptArtifact>>, RunnerError>
    {
        let mut runs: Vec<&str> = vec![detail.run.id.as_str()];
        runs.extend(detail.steps.iter().filter_map(|s| s.reused_from.as_deref()));
        runs.sort_unstable();
        runs.dedup();
        let mut out: HashMap<(String, String), IndexMap<String, co_engine::KeptArtifact>> =
            HashMap::new();
        for run in runs {
            for a in self.store.list_artifacts(run).await? {
                out.entry((run.to_string(), a.step_key))
                    .or_default()
                    .insert(
                        a.name.clone(),
                        co_engine::KeptArtifact {
                            name: a.name,
                            sha256: a.sha256.to_string(),
                            size: a.size,
                        },
                    );
            }
        }
        Ok(out)
    }

    /// Rebuild a recorded run from its stored steps and attempts, to go on with it: after a crash
    /// (running attempts are reattached to their containers), or when it was queued with step
    /// rows copied from an earlier run (resume from failure). A run with no step rows starts from
    /// the beginning. Missing step rows are written as `pending`.
    pub async fn restore(
        &self,
        plan: Arc<Plan>,
        config: RunConfig,
        detail: &co_store::RunDetail,
        cancel_requested: bool,
    ) -> Result<PreparedRun, RunnerError> {
        let now = now_millis();
        let parse = |t: &Option<String>| t.as_deref().and_then(parse_time);
        let kept = self.kept_artifacts(detail).await?;
        let snapshot: Vec<co_engine::StepSnapshot> = plan
            .nodes
            .iter()
            .map(|node| {
                let Some(step) = detail.steps.iter().find(|s| s.key == node.key) else {
                    return co_engine::StepSnapshot::default();
                };
                let attempt = u32::try_from(step.attempts).unwrap_or(0);
                let attempt_started_at = detail
                    .attempts
                    .iter()
                    .find(|a| a.step_key == node.key && a.attempt == step.attempts)
                    .and_then(|a| parse(&a.started_at));
                co_engine::StepSnapshot {
                    status: step.status,
                    attempt,
                    exit_code: step.exit_code,
                    outputs: object_entries(&step.outputs),
                    inputs: object_entries(&step.inputs),
                    error: step.error.clone(),
                    started_at: parse(&step.started_at),
                    finished_at: parse(&step.finished_at),
                    attempt_started_at,
                    artifacts: kept
                        .get(&(
                            step.reused_from
                                .clone()
                                .unwrap_or_else(|| detail.run.id.clone()),
                            step.key.clone(),
                        ))
                        .cloned()
                        .unwrap_or_default(),
                }
            })
            .collect();
        let started_at = parse(&detail.run.started_at).unwrap_or(now);
        let (engine, commands) =
            Engine::restore(plan, config, snapshot, cancel_requested, started_at, now)?;
        let mut stored_lines = HashMap::new();
        for command in &commands {
            if let Command::Reattach {
                node,
                attempt,
                launch,
            } = command
            {
                let count = self
                    .store
                    .count_attempt_logs(&launch.run_id, &launch.step_key, i64::from(*attempt))
                    .await?;
                stored_lines.insert((*node, *attempt), count);
            }
        }
        let missing: Vec<StepRecord> = (0..engine.plan().nodes.len())
            .filter(|&n| {
                let key = &engine.plan().nodes[n].key;
                !detail.steps.iter().any(|s| &s.key == key)
            })
            .filter_map(|n| step_record(&engine, n, &Masker::default()))
            .collect();
        self.store.upsert_steps(&missing).await?;
        let last_seq = self.store.last_log_seq(&detail.run.id).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(PreparedRun {
            engine,
            record: detail.run.clone(),
            tx,
            rx,
            restored: Some(Restored {
                commands,
                stored_lines,
                last_seq,
            }),
            ownership: None,
        })
    }

    /// Run a prepared run to its end.
    pub async fn execute(
        &self,
        prepared: PreparedRun,
        observer: Arc<dyn Observer>,
    ) -> Result<RunResult, RunnerError> {
        let PreparedRun {
            engine,
            mut record,
            tx,
            rx,
            restored,
            ownership,
        } = prepared;
        let run_id = record.id.clone();
        let views: Vec<StepView> = (0..engine.plan().nodes.len())
            .filter_map(|n| step_view(&engine, n, &Masker::default()))
            .collect();
        observer.run_started(&run_id, &views);

        let workspace = match self.backend.create_workspace(&run_id).await {
            Ok(ws) => ws,
            Err(e) => {
                record.status = RunStatus::Failed;
                record.error = Some(e.to_string());
                record.finished_at = Some(format_time(now_millis()));
                self.record_run(&record, ownership.as_ref()).await?;
                observer.run_finished(&run_id, RunStatus::Failed);
                return Err(e.into());
            }
        };
        record.status = RunStatus::Running;
        if record.started_at.is_none() {
            record.started_at = Some(format_time(now_millis()));
        }
        self.record_run(&record, ownership.as_ref()).await?;

        let masker = Arc::new(RwLock::new(Masker::new(engine.initial_secrets())));
        let mut driver = Driver {
            runner: self.clone(),
            engine,
            workspace: Arc::new(workspace),
            observer: observer.clone(),
            masker,
            secrets: Vec::new(),
            seq: Arc::new(Mutex::new(restored.as_ref().map_or(0, |r| r.last_seq))),
            tx,
            tokens: HashMap::new(),
            attempt_started: HashMap::new(),
            containers: HashMap::new(),
            container_times: HashMap::new(),
            timers: Vec::new(),
            in_flight: 0,
            stored_lines: HashMap::new(),
            ownership,
            step_tasks: Vec::new(),
            step_logged: HashMap::new(),
            run_logged: Arc::new(AtomicU64::new(0)),
        };
        driver.secrets = driver.engine.initial_secrets();
        let initial = match restored {
            Some(restored) => {
                driver.stored_lines = restored.stored_lines;
                restored.commands
            }
            None => driver.engine.handle(now_millis(), Input::Start),
        };
        let result = driver.drive(rx, initial).await;
        if let Err(RunnerError::Store(e @ co_store::StoreError::NotHeld { .. })) = result {
            // Another server drives the run now: leave it, its containers and its workspace to
            // that server (dropping the driver drops the steps still followed here).
            tracing::warn!(run = %run_id, error = %e, "no longer driving the run");
            return Err(e.into());
        }

        // Whatever happened, clean up and record the end.
        let flushed = self.logs.flush().await;
        let cleanup = self.backend.finish_run(&driver.workspace).await;
        let status = driver.engine.finished().unwrap_or(RunStatus::Failed);
        record.status = status;
        let finished_at = driver.engine.finished_at().unwrap_or_else(now_millis);
        record.finished_at = Some(format_time(finished_at));
        let mut problems = Vec::new();
        if let Err(e) = &result {
            problems.push(e.to_string());
        }
        if let Err(e) = &flushed {
            problems.push(format!("some log lines could not be stored: {e}"));
        }
        if let Err(e) = &cleanup {
            problems.push(format!("cleanup: {e}"));
        }
        record.error = (!problems.is_empty()).then(|| problems.join("; "));
        self.record_run(&record, driver.ownership.as_ref()).await?;
        observer.run_finished(&run_id, status);
        result?;
        Ok(RunResult {
            run_id,
            status,
            started_at: record.started_at.as_deref().and_then(parse_time),
            finished_at,
        })
    }
}

impl Runner {
    /// Record the run row, riding out a store that is unavailable for a while. For a server's
    /// run, only while the server still holds it.
    async fn record_run(
        &self,
        record: &RunRecord,
        ownership: Option<&Ownership>,
    ) -> Result<(), RunnerError> {
        if let Some(ownership) = ownership {
            if !ownership.clone().wait_held().await {
                return Err(not_held(&record.id));
            }
        }
        let owner = ownership.map(|o| o.owner.as_str());
        co_store::retry_while_unavailable("recording the run", || {
            self.store.update_run_as(owner, record)
        })
        .await?;
        Ok(())
    }
}

fn not_held(run_id: &str) -> RunnerError {
    RunnerError::Store(co_store::StoreError::NotHeld {
        run: run_id.to_string(),
        holder: None,
    })
}

fn is_not_held(result: &Result<(), RunnerError>) -> bool {
    matches!(
        result,
        Err(RunnerError::Store(co_store::StoreError::NotHeld { .. }))
    )
}

/// Most commands carried out (and recorded) in one batch.
const MAX_BATCH: usize = 4096;

struct Driver {
    runner: Runner,
    engine: Engine,
    workspace: Arc<Workspace>,
    observer: Arc<dyn Observer>,
    masker: Arc<RwLock<Masker>>,
    secrets: Vec<String>,
    seq: Arc<Mutex<i64>>,
    tx: mpsc::UnboundedSender<Event>,
    tokens: HashMap<(NodeId, u32), CancellationToken>,
    attempt_started: HashMap<(NodeId, u32), Millis>,
    containers: HashMap<(NodeId, u32), String>,
    /// When ended attempts' containers started and ended, by the engine's clock (if known).
    container_times: HashMap<(NodeId, u32), (Option<Millis>, Option<Millis>)>,
    timers: Vec<tokio::task::JoinHandle<()>>,
    in_flight: usize,
    /// Reattached attempts: how many of their lines are already stored.
    stored_lines: HashMap<(NodeId, u32), i64>,
    /// The server's hold on the run (see [`Ownership`]).
    ownership: Option<Ownership>,
    /// The tasks that run or follow the attempts: dropped with the driver (a server that no
    /// longer holds the run stops following its containers, without touching them).
    step_tasks: Vec<tokio::task::AbortHandle>,
    /// Bytes of log stored per step (its cap counts every attempt) and for the run.
    step_logged: HashMap<NodeId, Arc<AtomicU64>>,
    run_logged: Arc<AtomicU64>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        for task in &self.step_tasks {
            task.abort();
        }
    }
}

impl Driver {
    async fn drive(
        &mut self,
        mut rx: mpsc::UnboundedReceiver<Event>,
        initial: Vec<Command>,
    ) -> Result<(), RunnerError> {
        let mut result = self.apply(initial).await;
        while !is_not_held(&result) && (self.engine.finished().is_none() || self.in_flight > 0) {
            let Some(event) = rx.recv().await else {
                break;
            };
            // Whatever else has already arrived joins this batch: one store transaction for all.
            let mut commands = self.feed(event);
            while commands.len() < MAX_BATCH {
                let Ok(event) = rx.try_recv() else {
                    break;
                };
                commands.extend(self.feed(event));
            }
            result = result.and(self.apply(commands).await);
            if is_not_held(&result) {
                break;
            }
            if result.is_err()
                && self.engine.finished().is_none()
                && !self.engine.cancel_requested()
            {
                // The store failed: stop the run rather than run steps nobody can see.
                let commands = self.engine.handle(now_millis(), Input::Cancel);
                let _ = self.apply(commands).await;
            }
        }
        for timer in self.timers.drain(..) {
            timer.abort();
        }
        result
    }

    /// The run's masker as it is now (secret inputs are added as their steps launch).
    fn current_masker(&self) -> Masker {
        match self.masker.read() {
            Ok(masker) => masker.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Hand one event to the engine.
    fn feed(&mut self, event: Event) -> Vec<Command> {
        let input = match event {
            Event::Started { node, attempt } => {
                // The attempt's record counts from its container's start, as its timeout does.
                if let Some(at) = self.attempt_started.get_mut(&(node, attempt)) {
                    *at = now_millis();
                }
                Input::Started { node, attempt }
            }
            Event::Exited {
                node,
                attempt,
                outcome,
                container_id,
            } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.tokens.remove(&(node, attempt));
                if let Some(id) = container_id {
                    self.containers.insert((node, attempt), id);
                }
                self.container_times
                    .insert((node, attempt), (outcome.started_at, outcome.finished_at));
                Input::Exited {
                    node,
                    attempt,
                    outcome: *outcome,
                }
            }
            Event::Timer(timer) => Input::Timer(timer),
            Event::Cancel => Input::Cancel,
        };
        self.engine.handle(now_millis(), input)
    }

    /// Carry out one batch of engine commands: first record every change they carry in one
    /// transaction, then show them, then perform the effects (launches, stops, timers).
    async fn apply(&mut self, commands: Vec<Command>) -> Result<(), RunnerError> {
        if let Some(ownership) = &mut self.ownership {
            if !ownership.wait_held().await {
                return Err(not_held(self.engine.run_id()));
            }
        }
        let now = now_millis();
        let mut changed: Vec<NodeId> = Vec::new();
        let mut attempts: Vec<AttemptRecord> = Vec::new();
        // New secrets first: everything below (records, views, log lines) must already mask them.
        let new_secrets: Vec<String> = commands
            .iter()
            .filter_map(|c| match c {
                Command::MaskSecrets(values) => Some(values.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect();
        if !new_secrets.is_empty() {
            self.secrets.extend(new_secrets);
            let masker = Masker::new(self.secrets.iter());
            match self.masker.write() {
                Ok(mut guard) => *guard = masker,
                Err(poisoned) => *poisoned.into_inner() = masker,
            }
        }
        for command in &commands {
            match command {
                Command::StepChanged { node } if !changed.contains(node) => changed.push(*node),
                Command::Launch {
                    node,
                    attempt,
                    launch,
                } => {
                    self.attempt_started.insert((*node, *attempt), now);
                    attempts.push(AttemptRecord {
                        run_id: launch.run_id.clone(),
                        step_key: launch.step_key.clone(),
                        attempt: i64::from(*attempt),
                        status: StepStatus::Running,
                        container_id: None,
                        exit_code: None,
                        error: None,
                        started_at: Some(format_time(now)),
                        finished_at: None,
                    });
                }
                Command::AttemptEnded {
                    node,
                    attempt,
                    status,
                    exit_code,
                    error,
                } => {
                    if let Some(plan_node) = self.engine.plan().nodes.get(*node) {
                        // The container's own times when the backend knows them (a recovered
                        // run hears of an exit long after it happened).
                        let (container_started, container_finished) = self
                            .container_times
                            .remove(&(*node, *attempt))
                            .unwrap_or_default();
                        let started = container_started
                            .map(|t| t.min(now))
                            .or(self.attempt_started.remove(&(*node, *attempt)));
                        // Never after now, never before the start (another clock).
                        let finished = container_finished
                            .map_or(now, |t| t.min(now).max(started.unwrap_or(t)));
                        attempts.push(AttemptRecord {
                            run_id: self.engine.run_id().to_string(),
                            step_key: plan_node.key.clone(),
                            attempt: i64::from(*attempt),
                            status: *status,
                            container_id: self.containers.remove(&(*node, *attempt)),
                            exit_code: *exit_code,
                            error: error
                                .as_deref()
                                .map(|e| self.current_masker().mask(e).into_owned()),
                            started_at: started.map(format_time),
                            finished_at: Some(format_time(finished)),
                        });
                    }
                }
                _ => {}
            }
        }
        let masker = self.current_masker();
        let steps: Vec<StepRecord> = changed
            .iter()
            .filter_map(|&node| step_record(&self.engine, node, &masker))
            .collect();
        // A store that is unavailable (restarting, full) is waited for: nothing is carried out
        // before it is recorded. On another store failure the effects still happen (the engine
        // already counts on them) and the error makes `drive` cancel the run. A server that no
        // longer holds the run records and does nothing more.
        let owner = self.ownership.as_ref().map(|o| o.owner.clone());
        let store = self.runner.store.clone();
        let recorded = co_store::retry_while_unavailable("recording the run's progress", || {
            store.record_progress_as(owner.as_deref(), &steps, &attempts)
        })
        .await
        .map_err(RunnerError::from);
        if is_not_held(&recorded) {
            return recorded;
        }
        for &node in &changed {
            if let Some(view) = step_view(&self.engine, node, &masker) {
                self.observer.step_changed(&view);
            }
        }
        for command in commands {
            match command {
                Command::Launch {
                    node,
                    attempt,
                    launch,
                } => self.launch(node, attempt, *launch, false),
                Command::Reattach {
                    node,
                    attempt,
                    launch,
                } => self.launch(node, attempt, *launch, true),
                Command::Stop { node, attempt } => {
                    if let Some(limit) = self.engine.timed_out(node) {
                        self.timed_out(node, attempt, limit, &masker);
                    }
                    if let Some(token) = self.tokens.get(&(node, attempt)) {
                        token.cancel();
                    }
                }
                Command::SetTimer { timer, at } => {
                    let tx = self.tx.clone();
                    let wait = u64::try_from(at.saturating_sub(now_millis())).unwrap_or(0);
                    self.timers.push(tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                        let _ = tx.send(Event::Timer(timer));
                    }));
                }
                Command::StepChanged { .. }
                | Command::AttemptEnded { .. }
                | Command::MaskSecrets(_)
                | Command::RunFinished(_) => {}
            }
        }
        recorded
    }

    /// Say that an attempt is being stopped for its timeout (log line and observer).
    fn timed_out(&self, node: NodeId, attempt: u32, limit: std::time::Duration, masker: &Masker) {
        let Some(view) = step_view(&self.engine, node, masker) else {
            return;
        };
        tracing::info!(
            run = %self.engine.run_id(),
            step = %view.key,
            attempt,
            timeout = %co_engine::format_duration(limit),
            "step timed out; stopping its container"
        );
        self.observer.step_timed_out(&view, limit);
    }

    /// The artifacts an attempt of `node` keeps, if its action declares any and this runner
    /// keeps artifacts.
    fn step_artifacts(
        &self,
        node: NodeId,
        launch: &co_backend::StepLaunch,
    ) -> Option<collect::StepArtifacts> {
        let blobs = self.runner.artifacts.clone()?;
        let action = &self.engine.plan().action_of(node)?.action;
        let decls = action.artifacts();
        if decls.is_empty() {
            return None;
        }
        Some(collect::StepArtifacts {
            keeper: collect::ArtifactKeeper {
                blobs,
                records: self.runner.store.clone(),
                max_bytes: self.runner.max_artifact_bytes,
            },
            action: Arc::new(action.clone()),
            decls,
            run_id: launch.run_id.clone(),
            step_key: launch.step_key.clone(),
            attempt: launch.attempt,
        })
    }

    /// Run an attempt on the backend in its own task (or, `reattach`, attach to its container
    /// that an earlier process started); its end comes back as an [`Event::Exited`].
    fn launch(
        &mut self,
        node: NodeId,
        attempt: u32,
        launch: co_backend::StepLaunch,
        reattach: bool,
    ) {
        let token = CancellationToken::new();
        self.tokens.insert((node, attempt), token.clone());
        self.in_flight += 1;
        let action = display_action(self.engine.plan(), node)
            .map(|(_, action)| action)
            .unwrap_or_else(|| launch.step_key.clone());
        let artifacts = self.step_artifacts(node, &launch);
        let mut sink = sink::StepSink::new(
            sink::Started {
                events: self.tx.clone(),
                node,
                attempt,
            },
            sink::LogTarget {
                run_id: launch.run_id.clone(),
                step_key: launch.step_key.clone(),
                action,
                attempt,
                writer: self.runner.logs.clone(),
                seq: self.seq.clone(),
                masker: self.masker.clone(),
                observer: self.observer.clone(),
                already_stored: self.stored_lines.remove(&(node, attempt)).unwrap_or(0),
                ownership: self.ownership.clone(),
                budget: sink::LogBudget {
                    step_cap: self.runner.step_log_bytes,
                    run_cap: self.runner.run_log_bytes,
                    step_used: self.step_logged.entry(node).or_default().clone(),
                    run_used: self.run_logged.clone(),
                },
                at: None,
            },
            artifacts,
        );
        let backend = self.runner.backend.clone();
        let workspace = self.workspace.clone();
        let tx = self.tx.clone();
        let slots = self.runner.slots.clone();
        self.step_tasks.retain(|t| !t.is_finished());
        let attempt_task = tokio::spawn(async move {
            // A launch waits for a free slot (in order); a cancel meanwhile ends it unstarted. A
            // reattached container runs already: it takes a slot if one is free, else none.
            let _slot = if reattach {
                slots.try_acquire_owned().ok()
            } else {
                tokio::select! {
                    biased;
                    _ = token.cancelled() => {
                        let outcome = Outcome {
                            stopped: true,
                            ..Outcome::default()
                        };
                        return (outcome, None);
                    }
                    slot = slots.acquire_owned() => slot.ok(),
                }
            };
            let result = if reattach {
                match backend.reattach(&launch, &workspace, &mut sink, token).await {
                    Ok(Some(exit)) => Ok(exit),
                    Ok(None) => Err(co_backend::BackendError::Other(format!(
                        "the container of attempt {attempt} is gone (the server stopped while it ran)"
                    ))),
                    Err(e) => Err(e),
                }
            } else {
                backend
                    .run_step(&launch, &workspace, &mut sink, token)
                    .await
            };
            let sink::Finished {
                collected,
                container_id,
                artifacts,
            } = sink.finish(result.is_ok()).await;
            let outcome = match result {
                Ok(exit) => Outcome {
                    exit_code: exit.exit_code,
                    stopped: exit.stopped,
                    oom_killed: exit.oom_killed,
                    started_at: exit.started_at,
                    finished_at: exit.finished_at,
                    backend_error: None,
                    collected,
                    artifacts: artifacts.map(|a| Box::new(co_engine::Artifacts(a.artifacts))),
                },
                Err(e) => Outcome {
                    backend_error: Some((e.to_string(), e.is_retriable())),
                    collected,
                    ..Outcome::default()
                },
            };
            (outcome, container_id)
        });
        self.step_tasks.push(attempt_task.abort_handle());
        // The attempt always ends with an event, even if its task panicked (in an observer, say):
        // the run must not wait for it forever.
        tokio::spawn(async move {
            let (outcome, container_id) = attempt_task.await.unwrap_or_else(|e| {
                let outcome = Outcome {
                    backend_error: Some((format!("the attempt's task failed: {e}"), false)),
                    ..Outcome::default()
                };
                (outcome, None)
            });
            let _ = tx.send(Event::Exited {
                node,
                attempt,
                outcome: Box::new(outcome),
                container_id,
            });
        });
    }
}

/// The step rows of a run that has not started: every step `pending` — or, resuming an earlier
/// run (`resume_from`), the steps the resume rule reuses ([`ResumeFrom`], `resume.rs`) are
/// `reused`, with that run's result (attempts, exit code, outputs, times) and the run they ran in
/// (`reused_from`); the engine treats them as succeeded.
pub fn initial_steps(
    plan: &Plan,
    run_id: &str,
    resume_from: Option<ResumeFrom<'_>>,
) -> Vec<StepRecord> {
    let reused = match resume_from {
        Some(from) => resume::reused(plan, from),
        None => vec![None; plan.nodes.len()],
    };
    plan.nodes
        .iter()
        .enumerate()
        .filter_map(|(node, plan_node)| {
            let (stage, action) = display_action(plan, node)?;
            let position = i64::try_from(node).unwrap_or(i64::MAX);
            Some(match reused.get(node).copied().flatten() {
                Some(step) => StepRecord {
                    run_id: run_id.to_string(),
                    position,
                    stage,
                    action,
                    status: StepStatus::Reused,
                    // The run it ran in: a step reused twice names the first one.
                    reused_from: step
                        .reused_from
                        .clone()
                        .or_else(|| Some(step.run_id.clone())),
                    ..step.clone()
                },
                None => StepRecord {
                    run_id: run_id.to_string(),
                    position,
                    key: plan_node.key.clone(),
                    stage,
                    action,
                    status: StepStatus::Pending,
                    attempts: 0,
                    exit_code: None,
                    outputs: Value::Object(Default::default()),
                    inputs: Value::Object(Default::default()),
                    error: None,
                    started_at: None,
                    finished_at: None,
                    reused_from: None,
                },
            })
        })
        .collect()
}

/// A stored timestamp (RFC 3339) as ms since the Unix epoch.
pub fn parse_time(text: &str) -> Option<Millis> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn object_entries(value: &Value) -> indexmap::IndexMap<String, Value> {
    value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn map_value<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>) -> Value {
    Value::Object(entries.map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The action name shown for a node: the label, plus the matrix suffix of a matrix copy.
fn display_action(plan: &Plan, node: NodeId) -> Option<(String, String)> {
    let plan_node = plan.nodes.get(node)?;
    let planned = plan.actions.get(plan_node.action)?;
    let suffix = plan_node
        .key
        .strip_prefix(planned.action.name.as_str())
        .unwrap_or("");
    Some((
        planned.stage.clone(),
        format!("{}{suffix}", planned.action.label),
    ))
}

/// A step as shown and stored: its error, outputs and inputs pass through the run's masker (a
/// secret can reach them through a failing value, a `[COUT]` line or an expression).
fn step_view(engine: &Engine, node: NodeId, masker: &Masker) -> Option<StepView> {
    let step = engine.step(node)?;
    let (stage, action) = display_action(engine.plan(), node)?;
    Some(StepView {
        node,
        key: engine.plan().nodes.get(node)?.key.clone(),
        stage,
        action,
        status: step.status,
        attempt: step.attempt,
        max_attempts: engine
            .plan()
            .action_of(node)
            .map_or(1, |a| a.action.retry.attempts),
        retry_in: step.retry_in,
        error: step.error.as_deref().map(|e| masker.mask(e).into_owned()),
        outputs: step
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), masker.mask_json(v)))
            .collect(),
        inputs: step
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), masker.mask_json(v)))
            .collect(),
        started_at: step.started_at,
        finished_at: step.finished_at,
    })
}

fn step_record(engine: &Engine, node: NodeId, masker: &Masker) -> Option<StepRecord> {
    let view = step_view(engine, node, masker)?;
    let step = engine.step(node)?;
    Some(StepRecord {
        run_id: engine.run_id().to_string(),
        position: i64::try_from(node).unwrap_or(i64::MAX),
        key: view.key,
        stage: view.stage,
        action: view.action,
        status: view.status,
        attempts: i64::from(view.attempt),
        exit_code: step.exit_code,
        outputs: Value::Object(view.outputs),
        inputs: Value::Object(view.inputs),
        error: view.error,
        started_at: view.started_at.map(format_time),
        finished_at: view.finished_at.map(format_time),
        // Steps the engine changes ran in this run.
        reused_from: None,
    })
}

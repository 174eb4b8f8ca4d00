//! The backend boundary: what the engine's driver asks of a container platform.
//!
//! Invariants:
//! - A backend knows containers, volumes and images; it knows nothing of workflows, expressions or
//!   the store. Everything a step needs arrives in a [`StepLaunch`].
//! - Output bytes are handed to the [`OutputSink`] as they arrive, and the next are read only once
//!   it has taken them (backpressure); the backend never interprets them.
//! - Every container and volume a backend creates carries the labels in [`labels`], so anything
//!   left behind by a crash can be found again and removed (`Backend::finish_run` sweeps by label).

use async_trait::async_trait;
pub use co_protocol::{EnvFile, Stream, ENV_FILES_DIR};
pub use tokio_util::sync::CancellationToken;

/// Label keys put on every container and volume.
pub mod labels {
    pub const RUN: &str = "containerops.run";
    pub const STEP: &str = "containerops.step";
    pub const ATTEMPT: &str = "containerops.attempt";
    pub const WORKFLOW: &str = "containerops.workflow";
}

/// Everything needed to start one attempt of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLaunch {
    pub run_id: String,
    pub workflow: String,
    /// Unique step key in the run (`say`, `build[os=linux]`).
    pub step_key: String,
    /// 1-based.
    pub attempt: u32,
    pub image: String,
    /// Entrypoint override (the whole command line); `None`: the image's own.
    pub command: Option<Vec<String>>,
    /// Environment, in order (later entries win on duplicate names).
    pub env: Vec<(String, String)>,
    pub cpu_millis: Option<u64>,
    pub memory_bytes: Option<u64>,
    /// The `kubernetes:` block of the component, for backends that use it.
    pub kubernetes: Option<serde_json::Value>,
    /// The `swarm:` block of the component (placement constraints and preferences,
    /// reservations), for the Swarm backend.
    pub swarm: Option<serde_json::Value>,
    /// Variables too large for the environment, to be delivered as files at these paths before
    /// the command starts (`env` has `NAME_FILE` pointing at each; [`co_protocol::deliver_env`]).
    pub files: Vec<EnvFile>,
}

impl StepLaunch {
    /// The environment as a container gets it: each name once, at its first position, with its
    /// last value (later entries win).
    pub fn effective_env(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::with_capacity(self.env.len());
        let mut index: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::with_capacity(self.env.len());
        for (name, value) in &self.env {
            match index.get(name.as_str()) {
                Some(&i) => {
                    if let Some(slot) = out.get_mut(i) {
                        slot.1 = value.clone();
                    }
                }
                None => {
                    index.insert(name.as_str(), out.len());
                    out.push((name.clone(), value.clone()));
                }
            }
        }
        out
    }
}

/// The run's shared workspace, mounted at `/workspace` in every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub run_id: String,
    /// Backend-specific name (a volume name, a PVC name).
    pub name: String,
}

/// How an attempt's container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepExit {
    /// `None` when the container was stopped before it exited by itself, or never started.
    pub exit_code: Option<i64>,
    /// The container was stopped because the cancellation token fired.
    pub stopped: bool,
    pub oom_killed: bool,
    /// When the container started and ended, by the engine's clock (ms since the Unix epoch), if
    /// the backend knows: a run recovered after a crash learns of an exit long after it happened,
    /// and the step's times must be the container's, not when the driver heard of them.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl StepExit {
    /// The container was stopped on request (cancel or timeout).
    pub const STOPPED: StepExit = StepExit {
        exit_code: None,
        stopped: true,
        oom_killed: false,
        started_at: None,
        finished_at: None,
    };

    /// The step's process exited with `code` on its own.
    pub const fn exited(code: i64) -> StepExit {
        StepExit {
            exit_code: Some(code),
            stopped: false,
            oom_killed: false,
            started_at: None,
            finished_at: None,
        }
    }
}

/// A tar archive read out of a container, in pieces as they arrive.
pub type ArchiveStream = futures::stream::BoxStream<'static, Result<bytes::Bytes, BackendError>>;

/// Reads paths out of an attempt's finished container (its artifacts).
#[async_trait]
pub trait ArtifactSource: Send {
    /// The tar archive of `path` (absolute, in the container; a file, a directory or a
    /// symlink, not followed), with its entries named relative to `path`'s parent directory
    /// (`dist/a.txt` for `/workspace/dist`), as `docker cp` and the engine's archive API name
    /// them. `Ok(None)`: nothing exists at `path`.
    async fn archive(&mut self, path: &str) -> Result<Option<ArchiveStream>, BackendError>;
}

/// Receives a step's output while it runs.
#[async_trait]
pub trait OutputSink: Send {
    /// The container exists and was started (called once, before any output).
    fn started(&mut self, container_id: &str);
    /// Raw bytes from one stream, in order (not necessarily whole lines). This is the
    /// backpressure: a backend reads the next bytes from the engine only once this returns, so a
    /// sink that is behind (its store) slows the reading, and the engine's stream, down.
    async fn output(&mut self, stream: Stream, bytes: &[u8]);
    /// The same, for bytes the engine logged at `at` (ms since the Unix epoch, the engine's
    /// clock): output replayed from the engine's log after a restart keeps the time it was
    /// written, not the time it was read again.
    async fn output_at(&mut self, stream: Stream, bytes: &[u8], at: i64) {
        let _ = at;
        self.output(stream, bytes).await;
    }
    /// The attempt's container has ended (`exit`) and still exists: read what the step leaves
    /// behind (its artifacts) through `files`. A backend that can read a finished container calls
    /// this once, after the output ended and before it removes the container; the default reads
    /// nothing.
    async fn collect(&mut self, exit: &StepExit, files: &mut dyn ArtifactSource) {
        let _ = (exit, files);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No container engine answered. `hint` says how to start one.
    #[error("{message}\nhint: {hint}")]
    Unavailable { message: String, hint: String },
    /// The image is neither present locally nor pullable.
    #[error("image {image} not found{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    ImageNotFound { image: String, detail: String },
    /// The step cannot run as it was given on this platform (e.g. an input too large to
    /// deliver, or an image registry or service account the server's policy does not allow);
    /// retrying cannot help.
    #[error("{0}")]
    NotRunnable(String),
    #[error("{0}")]
    Other(String),
}

impl BackendError {
    /// Whether trying again could help (a missing image will still be missing, a step that
    /// cannot run will not run).
    pub fn is_retriable(&self) -> bool {
        matches!(self, BackendError::Other(_))
    }
}

/// Four step containers per CPU core of this machine, at least four: starting a container costs
/// the local engine CPU time, and a burst of launches far beyond the cores makes it slow for
/// every step (100 six-second steps started at once on two cores timed out spuriously).
pub fn machine_parallel_steps() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_mul(4)
        .max(4)
}

/// A container platform.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Short name for messages (`docker`, `podman`, `kubernetes`, `fake`).
    fn name(&self) -> &str;

    /// How many step containers may run at once on this platform by default (the driver's
    /// `max_parallel_steps`; users can set it): four per CPU core of this machine, at least four.
    /// Backends whose steps run elsewhere (a cluster) say more.
    fn default_parallel_steps(&self) -> usize {
        machine_parallel_steps()
    }

    /// Create the run's workspace (or reuse it, if it exists: recovery).
    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError>;

    /// Run one attempt to its end: create the container (labels, env, limits, workspace at
    /// `/workspace`), start it, pass its output to `sink` as it arrives, wait for it to exit, and
    /// remove it (removal may finish later, but before [`Backend::finish_run`] returns). When
    /// `cancel` fires, stop the container (SIGTERM, then SIGKILL after a grace period) and return
    /// with `stopped: true`.
    async fn run_step(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<StepExit, BackendError>;

    /// Attach to the container of an attempt that an earlier process launched (the server was
    /// restarted while the step ran): pass its whole output from the start to `sink` (the driver
    /// skips what it already stored), wait for it to end and remove it, as [`Backend::run_step`]
    /// does. `Ok(None)` when no container of that attempt exists any more. `cancel` as for
    /// `run_step`. [`Backend::create_workspace`] for a run whose workspace exists reuses it.
    async fn reattach(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<Option<StepExit>, BackendError>;

    /// The run is over: wait for pending removals, remove the workspace and anything else labelled
    /// with this run.
    async fn finish_run(&self, workspace: &Workspace) -> Result<(), BackendError>;
}

/// How far into a log line read with the engine's timestamps its timestamp's space may be: the
/// longest timestamp (`2026-12-03T13:56:41.430261858+01:00`, 35 bytes) with room to spare. A line
/// without a space this early has no timestamp.
pub const LOG_TIME_MAX: usize = 64;

/// The time a container engine put before a log line read with `timestamps=true` (`text`: the
/// bytes before the space; RFC 3339 with any fraction, `Z` or an offset: Docker's, Podman 4.3's
/// whole seconds, the kubelet's fixed-width nanoseconds), in ms since the Unix epoch. `None`: not
/// such a time.
pub fn parse_log_time(text: &[u8]) -> Option<i64> {
    if text.len() >= LOG_TIME_MAX {
        return None;
    }
    let text = std::str::from_utf8(text).ok()?;
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_env_entry_wins_at_the_first_position() {
        let launch = StepLaunch {
            run_id: "r".into(),
            workflow: "w".into(),
            step_key: "s".into(),
            attempt: 1,
            image: "i".into(),
            command: None,
            env: vec![
                ("A".into(), "1".into()),
                ("B".into(), "2".into()),
                ("A".into(), "3".into()),
            ],
            cpu_millis: None,
            memory_bytes: None,
            kubernetes: None,
            swarm: None,
            files: Vec::new(),
        };
        assert_eq!(
            launch.effective_env(),
            [("A".to_string(), "3".to_string()), ("B".into(), "2".into())]
        );
    }

    #[test]
    fn log_times_of_every_engine_parse_to_ms() {
        // Docker (nanoseconds), Podman 4.3 (whole seconds), the kubelet (fixed width, an offset).
        assert_eq!(
            parse_log_time(b"2026-12-03T13:56:41.430261858Z"),
            Some(1_796_306_201_430)
        );
        assert_eq!(
            parse_log_time(b"2026-12-03T13:56:41Z"),
            Some(1_796_306_201_000)
        );
        assert_eq!(
            parse_log_time(b"2026-12-03T14:56:41.430000000+01:00"),
            Some(1_796_306_201_430)
        );
        for bad in [
            &b"hello"[..],
            b"",
            b"2026-12-03",
            b"2026-13-03T13:56:41Z",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_log_time(bad), None, "{bad:?}");
        }
    }
}

//! One attempt of one step: create, attach, start, stream output, learn the exit, remove.

use std::collections::HashMap;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    KillContainerOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use co_backend::{
    labels, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Stream, Workspace,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;

use crate::discovery::EngineKind;
use crate::inventory::{inspect_state, remove_container, Times};
use crate::watcher::Notice;
use crate::{error, names, ExitDetection, Inner};

/// After the output ended, how long to wait for the `die` event before asking the engine.
const DIE_EVENT_GRACE: Duration = Duration::from_secs(2);
/// After the exit is known, how long to wait for the rest of the output.
const OUTPUT_DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// After SIGKILL, how long to wait for the container to die before returning anyway (its forced
/// removal follows).
const KILL_SETTLE: Duration = Duration::from_secs(5);

pub(crate) const STOPPED: StepExit = StepExit::STOPPED;

pub(crate) async fn run_step(
    inner: &Inner,
    launch: &StepLaunch,
    ws: &Workspace,
    sink: &mut dyn OutputSink,
    cancel: CancellationToken,
) -> Result<StepExit, BackendError> {
    if cancel.is_cancelled() {
        return Ok(STOPPED);
    }
    let name = names::container_name(&launch.run_id, &launch.step_key, launch.attempt);
    let mut body = container_body(launch, ws);
    if inner.conn.info.kind == EngineKind::Docker {
        if let Some(hc) = body.host_config.as_mut() {
            hc.log_config = Some(docker_log_config());
        }
    }
    if launch.cpu_millis.is_some_and(|m| m > 1000) {
        // Docker refuses more CPUs than the machine has; a component asking for 4 cores should
        // still run (slower) on a 2-core laptop.
        if let (Some(hc), Some(ncpu)) = (body.host_config.as_mut(), inner.cpu_count().await) {
            let max = i64::try_from(ncpu.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
            hc.nano_cpus = hc.nano_cpus.map(|n| n.min(max));
        }
    }
    let id = match create(inner, &name, body, launch, &cancel).await? {
        Some(id) => id,
        None => return Ok(STOPPED),
    };
    let result = start_and_follow(inner, &id, &name, launch, sink, &cancel).await;
    if let Ok(exit) = &result {
        collect(inner, &id, &name, exit, sink).await;
    }
    // Off the critical path (finish_run waits for it). A stopped or failed container goes at once.
    let now = !matches!(&result, Ok(exit) if !exit.stopped);
    inner.step_finished(&launch.run_id, id, now);
    result
}

/// Let the sink read the finished container's artifacts, before it is removed.
pub(crate) async fn collect(
    inner: &Inner,
    id: &str,
    name: &str,
    exit: &StepExit,
    sink: &mut dyn OutputSink,
) {
    let mut files = crate::files::ContainerFiles {
        docker: inner.conn.docker.clone(),
        id: id.to_string(),
        name: name.to_string(),
    };
    sink.collect(exit, &mut files).await;
}

/// The create request for `launch`.
pub(crate) fn container_body(launch: &StepLaunch, ws: &Workspace) -> ContainerCreateBody {
    let labels = HashMap::from([
        (labels::RUN.to_string(), launch.run_id.clone()),
        (labels::STEP.to_string(), launch.step_key.clone()),
        (labels::ATTEMPT.to_string(), launch.attempt.to_string()),
        (labels::WORKFLOW.to_string(), launch.workflow.clone()),
    ]);
    let memory = launch
        .memory_bytes
        .map(|m| i64::try_from(m).unwrap_or(i64::MAX));
    ContainerCreateBody {
        image: Some(launch.image.clone()),
        // The command replaces the image's entrypoint and its CMD.
        entrypoint: launch.command.clone(),
        cmd: launch.command.as_ref().map(|_| Vec::new()),
        env: Some(
            launch
                .effective_env()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(labels),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(false),
        tty: Some(false),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{}:/workspace", ws.name)]),
            nano_cpus: launch
                .cpu_millis
                .map(|m| i64::try_from(m.saturating_mul(1_000_000)).unwrap_or(i64::MAX)),
            memory,
            // No swap beyond the limit: a memory limit is a limit (and OOM is then reported).
            memory_swap: memory,
            // An init process as PID 1 (Docker's docker-init, Podman's catatonit) passes signals
            // on and reaps zombies: `sh -c 'sleep 300'` as PID 1 would ignore the SIGTERM of a
            // timeout or cancel and linger for the whole stop grace.
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The log driver of step containers on Docker Engine: `json-file`, whatever the daemon's
/// default. The log is what a reattach replays (after a restart, or an engine outage), so it must
/// exist and be readable through the logs API (a daemon whose default driver is `none` or
/// `syslog` cannot be read back); the daemon's own `json-file` options (rotation) still apply.
/// Two things differ from Podman's log, both covered by the reattach tests: `json-file` stores
/// each line as a JSON string, so bytes that are not UTF-8 come back as U+FFFD in a replay (the
/// live attach stream keeps them); and a line is logged only once its newline is written (or the
/// output ends), so a replay shows a half-written last line only later. `local`, the driver that
/// keeps bytes, loses the newline after a line longer than 16 KiB in Docker 20.10.
/// Podman keeps its own (k8s-file) log and is not asked.
pub(crate) fn docker_log_config() -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".to_string()),
        config: None,
    }
}

/// Create the container; on "no such image" pull it once and retry. `None`: cancelled meanwhile.
async fn create(
    inner: &Inner,
    name: &str,
    body: ContainerCreateBody,
    launch: &StepLaunch,
    cancel: &CancellationToken,
) -> Result<Option<String>, BackendError> {
    let docker = &inner.conn.docker;
    let opts = || Some(CreateContainerOptionsBuilder::default().name(name).build());
    let mut pulled = false;
    let mut replaced = false;
    loop {
        match docker.create_container(opts(), body.clone()).await {
            Ok(r) => return Ok(Some(r.id)),
            Err(e) if is_missing_image(&e) => {
                if pulled {
                    return Err(BackendError::ImageNotFound {
                        image: launch.image.clone(),
                        detail: error::shorten(&error::message(&e), 200),
                    });
                }
                pulled = true;
                tokio::select! {
                    r = pull_any(inner, &launch.image) => r?,
                    _ = cancel.cancelled() => return Ok(None),
                }
            }
            Err(e) if is_name_conflict(&e) && !replaced => {
                // Left over from an earlier process running this very attempt (same name, so the
                // same run, step and attempt): it is ours to replace.
                replaced = true;
                tracing::info!(
                    container = name,
                    "replacing a leftover container of the same attempt"
                );
                remove_container(docker, name).await?;
            }
            Err(e) => {
                return Err(error::engine(
                    &format!("creating container {name} from image {}", launch.image),
                    &e,
                ))
            }
        }
    }
}

pub(crate) fn is_missing_image(e: &bollard::errors::Error) -> bool {
    error::status(e) == Some(404) && error::message(e).to_ascii_lowercase().contains("image")
}

fn is_name_conflict(e: &bollard::errors::Error) -> bool {
    let m = error::message(e).to_ascii_lowercase();
    error::status(e) == Some(409) || (error::status(e).is_some() && m.contains("already in use"))
}

/// `(fromImage, tag)` for a pull: an untagged name means `latest` (an empty tag would pull every
/// tag of the repository).
pub(crate) fn pull_ref(image: &str) -> (String, Option<String>) {
    if image.contains('@') {
        return (image.to_string(), None);
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        (image.to_string(), None)
    } else {
        (image.to_string(), Some("latest".to_string()))
    }
}

/// Pull `image`: from a plain-HTTP loopback registry on Podman through its own API, else through
/// the Docker-compatible one.
async fn pull_any(inner: &Inner, image: &str) -> Result<(), BackendError> {
    if crate::push::pull_from_loopback(&inner.conn, image).await? {
        return Ok(());
    }
    pull(&inner.conn.docker, image).await
}

async fn pull(docker: &Docker, image: &str) -> Result<(), BackendError> {
    let (from, tag) = pull_ref(image);
    let mut b = CreateImageOptionsBuilder::default().from_image(&from);
    if let Some(t) = &tag {
        b = b.tag(t);
    }
    tracing::info!(image, "image not present locally; pulling it");
    let mut s = docker.create_image(Some(b.build()), None, None);
    while let Some(item) = s.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(not_found(image, &detail));
                }
            }
            Err(e) => return Err(not_found(image, &error::message(&e))),
        }
    }
    Ok(())
}

fn not_found(image: &str, reason: &str) -> BackendError {
    BackendError::ImageNotFound {
        image: image.to_string(),
        detail: format!(
            "not present locally and the pull failed: {}; build it locally or check the name",
            error::shorten(reason, 200)
        ),
    }
}

fn could_not_start(name: &str, launch: &StepLaunch, e: &bollard::errors::Error) -> BackendError {
    BackendError::Other(format!(
        "container {name} (image {}) could not start: {}",
        launch.image,
        error::describe(e)
    ))
}

/// The init process's own complaint, if `first` (a step's first output, on stderr) is one: with
/// an init process as PID 1 a command that cannot be executed no longer fails the start; the
/// init reports it (catatonit: `ERROR (catatonit:6): failed to exec pid1: No such file or
/// directory`; docker-init: `[FATAL tini (7)] exec /x failed: No such file or directory`) and
/// exits non-zero.
pub(crate) fn init_complaint(first: &[u8]) -> Option<String> {
    let line = first.split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    (line.starts_with("ERROR (catatonit:") || line.starts_with("[FATAL tini"))
        .then(|| error::shorten(line, 300))
}

/// How much of a step's first stderr line is kept to judge whether the init process complained.
pub(crate) const INIT_LINE_MAX: usize = 1024;

/// What an engine query says about the exit.
enum Probe {
    /// The exit code, and the container's times if the query said.
    Exited(Option<i64>, Times),
    StillRunning,
}
type ProbeFuture = BoxFuture<'static, Result<Probe, BackendError>>;
pub(crate) type NoticeFuture = BoxFuture<'static, Notice>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Off,
    /// Output ended, no die event yet: ask the engine directly when this fires.
    DieEvent,
    /// Exit known, output not ended yet.
    Drain,
    /// Cancelled: SIGTERM sent; SIGKILL when this fires.
    Grace,
    /// SIGKILL sent; give up waiting when this fires.
    KillSettle,
}

/// Deliver the variables that are files, attach (before start, so no output is lost), register
/// for the exit, start, follow.
pub(crate) async fn start_and_follow(
    inner: &Inner,
    id: &str,
    name: &str,
    launch: &StepLaunch,
    sink: &mut dyn OutputSink,
    cancel: &CancellationToken,
) -> Result<StepExit, BackendError> {
    let docker = &inner.conn.docker;
    crate::files::upload(inner, id, name, &launch.files).await?;
    let attach = docker
        .attach_container(id, Some(attach_options()))
        .await
        // Podman prepares the container (runtime create) when the first attach comes, so a
        // command that does not exist fails here.
        .map_err(|e| could_not_start(name, launch, &e))?;
    let output = AttachOutput {
        name: name.to_string(),
        stream: attach.output,
        _input: attach.input,
    };
    let notice = register_exit(inner, id, name).await;
    if let Err(e) = docker.start_container(id, None).await {
        inner.watcher.unregister(id);
        return Err(could_not_start(name, launch, &e));
    }
    sink.started(id);
    follow_resuming(
        inner,
        Followed {
            id,
            name,
            launch,
            notice,
            exited: None,
            times: None,
        },
        Box::new(output),
        [0, 0],
        sink,
        cancel,
    )
    .await
}

/// How often an engine that stopped answering is asked again, and how long one ask may take.
const ENGINE_POLL: Duration = Duration::from_millis(500);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the engine answers `_ping` now.
pub(crate) async fn engine_answers(inner: &Inner) -> bool {
    matches!(
        tokio::time::timeout(PING_TIMEOUT, inner.conn.raw.get("/_ping")).await,
        Ok(Ok(_))
    )
}

/// Wait (up to [`crate::DockerOptions::engine_outage_limit`]) for the engine to answer again.
async fn wait_for_engine(
    inner: &Inner,
    name: &str,
    why: &BackendError,
) -> Result<(), BackendError> {
    if engine_answers(inner).await {
        return Ok(());
    }
    let limit = inner.options.engine_outage_limit;
    tracing::warn!(
        container = name,
        reason = %why,
        "the container engine is unreachable; waiting up to {}s for it to answer again (the container goes on)",
        limit.as_secs()
    );
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        tokio::time::sleep(ENGINE_POLL).await;
        if engine_answers(inner).await {
            tracing::info!(
                container = name,
                "the container engine answers again; following the container on from its log"
            );
            return Ok(());
        }
    }
    Err(BackendError::Other(format!(
        "the container engine was unreachable for {}s ({why}); container {name} may still be \
         running, and its output from then on is not recorded",
        limit.as_secs()
    )))
}

/// [`follow`], and when the engine connection breaks meanwhile (the engine's API service is
/// restarted, say): wait for the engine, then follow the container on with its output replayed
/// from the engine's log from where the sink's output ends (`delivered`: bytes of each stream
/// already passed on), so nothing is lost or passed on twice. A container that vanished
/// meanwhile fails the attempt with a reason.
pub(crate) async fn follow_resuming(
    inner: &Inner,
    mut followed: Followed<'_>,
    mut output: Box<dyn OutputSource>,
    delivered: [u64; 2],
    sink: &mut dyn OutputSink,
    cancel: &CancellationToken,
) -> Result<StepExit, BackendError> {
    let mut counted = Counted { sink, delivered };
    loop {
        let (id, name, launch) = (followed.id, followed.name, followed.launch);
        let broken = match follow(inner, followed, output.as_mut(), &mut counted, cancel).await {
            Ok(exit) => return Ok(exit),
            Err(broken) => broken,
        };
        if !broken.lost && engine_answers(inner).await {
            return Err(broken.error);
        }
        wait_for_engine(inner, name, &broken.error).await?;
        match crate::reattach::resume(inner, id, name, launch, counted.delivered).await? {
            Some((again, source)) => {
                followed = again;
                output = source;
            }
            None => {
                return Err(BackendError::Other(format!(
                    "container {name} vanished while the container engine was unreachable \
                     ({}); its output may be incomplete",
                    broken.error
                )))
            }
        }
    }
}

/// A sink that counts the bytes of each stream passed on (where a resumed replay goes on).
struct Counted<'a> {
    sink: &'a mut dyn OutputSink,
    delivered: [u64; 2],
}

#[async_trait::async_trait]
impl OutputSink for Counted<'_> {
    fn started(&mut self, container_id: &str) {
        self.sink.started(container_id);
    }

    async fn output(&mut self, stream: Stream, bytes: &[u8]) {
        self.count(stream, bytes);
        self.sink.output(stream, bytes).await;
    }

    async fn output_at(&mut self, stream: Stream, bytes: &[u8], at: i64) {
        self.count(stream, bytes);
        self.sink.output_at(stream, bytes, at).await;
    }
}

impl Counted<'_> {
    fn count(&mut self, stream: Stream, bytes: &[u8]) {
        let i = match stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        };
        self.delivered[i] += bytes.len() as u64;
    }
}

/// Why [`follow`] stopped before the container's end was known.
pub(crate) struct Broken {
    pub error: BackendError,
    /// The engine connection broke (the output stream, or the event subscription). Otherwise an
    /// engine request failed, which is the same thing when the engine no longer answers.
    pub lost: bool,
}

impl From<BackendError> for Broken {
    fn from(error: BackendError) -> Self {
        Broken { error, lost: false }
    }
}

/// Attach to stdout and stderr, live output only.
pub(crate) fn attach_options() -> bollard::query_parameters::AttachContainerOptions {
    AttachContainerOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false)
        .build()
}

/// Watch for the die event of `id` (unless exits are learned by `wait`). Call before the
/// container can exit unobserved (before start; for a running container, before the inspect that
/// checks whether it still runs).
pub(crate) async fn register_exit(inner: &Inner, id: &str, name: &str) -> Option<NoticeFuture> {
    if inner.options.exit_detection == ExitDetection::Wait {
        return None;
    }
    match inner.watcher.register(id).await {
        Ok(rx) => Some(rx.map(|r| r.unwrap_or(Notice::Lost)).boxed()),
        Err(why) => {
            tracing::warn!(container = name, reason = %why, "no event subscription; learning the exit by inspect/wait");
            None
        }
    }
}

/// One piece of a step's output, and when the engine logged it (ms since the Unix epoch) if it
/// came from the engine's log.
pub(crate) type Chunk = (Stream, Bytes, Option<i64>);

/// Where [`follow`] gets a step's output from: the attach stream of a container this process
/// started, or the engine's log of one an earlier process started (`crate::replay`).
pub(crate) trait OutputSource:
    futures::Stream<Item = Result<Chunk, BackendError>> + Send + Unpin
{
    /// The engine says the container has exited: its output is complete.
    fn container_exited(&mut self) {}
    /// How long to wait for the end of the output once the exit is known (`None`: until it ends).
    fn drain_limit(&self) -> Option<Duration> {
        Some(OUTPUT_DRAIN_LIMIT)
    }
}

/// The attach stream of a container started by this process.
struct AttachOutput {
    name: String,
    stream: std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
    _input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

impl futures::Stream for AttachOutput {
    type Item = Result<Chunk, BackendError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            return match this.stream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(item))) => match chunk(item) {
                    Some(c) => Poll::Ready(Some(Ok(c))),
                    None => continue,
                },
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BackendError::Other(format!(
                    "lost the output stream of container {}: {}; the step's output is incomplete",
                    this.name,
                    error::describe(&e)
                ))))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl OutputSource for AttachOutput {}

/// The stream and bytes of a multiplexed frame (`None` for stdin).
pub(crate) fn chunk(item: LogOutput) -> Option<Chunk> {
    match item {
        // Only a TTY container's output comes without frame headers; ours have none.
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some((Stream::Stdout, message, None))
        }
        LogOutput::StdErr { message } => Some((Stream::Stderr, message, None)),
        LogOutput::StdIn { .. } => None,
    }
}

/// The container [`follow`] watches, and what is known about it already.
pub(crate) struct Followed<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub launch: &'a StepLaunch,
    /// The die event of `id`, if registered.
    pub notice: Option<NoticeFuture>,
    /// `Some(code)`: the container is known to have exited already.
    pub exited: Option<Option<i64>>,
    /// `None` for a container this process started: its step's times are the driver's clock's,
    /// as they are heard of. `Some` for one an earlier process (or a broken stream) left behind:
    /// the engine's record of when it started and ended (as far as known already) is reported,
    /// since the driver hears of them late.
    pub times: Option<Times>,
}

/// Pass the output to `sink` until it ends, learn the exit (see [`ExitDetection`]), stop the
/// container when `cancel` fires. Shared by `run_step` and `reattach`.
pub(crate) async fn follow(
    inner: &Inner,
    followed: Followed<'_>,
    output: &mut dyn OutputSource,
    sink: &mut dyn OutputSink,
    cancel: &CancellationToken,
) -> Result<StepExit, Broken> {
    let Followed {
        id,
        name,
        launch,
        mut notice,
        mut exited,
        mut times,
    } = followed;
    let docker = &inner.conn.docker;
    let mode = inner.options.exit_detection;
    // The one engine query in flight about the exit, if any.
    let mut probe: Option<ProbeFuture> = None;
    if mode == ExitDetection::Wait && exited.is_none() {
        probe = Some(wait_exit(inner.long.clone(), id.to_string()).boxed());
    }
    let mut output_done = false;
    let mut first_output = true;
    // The init process could not run the command (see `init_complaint`). Its line may come in
    // more than one write (catatonit prints its prefix and its message separately): when the
    // step's first output is on stderr, its first line is collected (up to
    // `INIT_LINE_MAX` bytes) before it is judged.
    let mut complaint: Option<String> = None;
    let mut first_line: Option<Vec<u8>> = None;
    // `exited`: `Some(code)` once the container is known to have exited (`code` may be unknown).
    let mut stopping = false;
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut timer_kind = Timer::Off;

    loop {
        if output_done && exited.is_some() {
            break;
        }
        // Safety net: output over and nothing else will tell us the exit.
        if output_done && exited.is_none() && notice.is_none() && probe.is_none() {
            probe = Some(inspect_then_wait(inner, id).boxed());
        }
        tokio::select! {
            // Cancellation and timers first: a step that floods its output must still be stoppable.
            biased;
            _ = cancel.cancelled(), if !stopping && exited.is_none() => {
                stopping = true;
                signal(docker, id, "SIGTERM").await;
                timer.as_mut().reset(Instant::now() + inner.options.stop_grace);
                timer_kind = Timer::Grace;
            },
            _ = &mut timer, if timer_kind != Timer::Off => match timer_kind {
                Timer::DieEvent => {
                    timer_kind = Timer::Off;
                    tracing::debug!(container = name, "no die event yet; asking the engine");
                    if probe.is_none() {
                        probe = Some(inspect_then_wait(inner, id).boxed());
                    }
                }
                Timer::Drain => {
                    tracing::warn!(container = name, "output did not end within {}s of the exit; returning without the rest", OUTPUT_DRAIN_LIMIT.as_secs());
                    break;
                }
                Timer::Grace => {
                    tracing::warn!(
                        container = name,
                        grace = ?inner.options.stop_grace,
                        "the step's container did not stop within the stop grace of its SIGTERM; killing it (SIGKILL)"
                    );
                    signal(docker, id, "SIGKILL").await;
                    timer.as_mut().reset(Instant::now() + KILL_SETTLE);
                    timer_kind = Timer::KillSettle;
                }
                Timer::KillSettle | Timer::Off => {
                    tracing::warn!(container = name, "container did not die within {}s of SIGKILL; leaving it to its forced removal", KILL_SETTLE.as_secs());
                    break;
                }
            },
            n = opt(&mut notice), if notice.is_some() => {
                notice = None;
                match n {
                    Notice::Died { exit_code } => {
                        exited = Some(exit_code);
                        probe = None;
                    }
                    // The loop head asks the engine once the output has ended.
                    Notice::Lost if exited.is_none() => {
                        // The engine connection broke: what the output stream said since may be
                        // cut short too (an ended stream looks like an ended container).
                        inner.watcher.unregister(id);
                        return Err(Broken {
                            error: BackendError::Other(format!(
                                "lost the event subscription while following container {name}"
                            )),
                            lost: true,
                        });
                    }
                    Notice::Lost => {}
                }
            },
            r = opt(&mut probe), if probe.is_some() => {
                probe = None;
                let r = r.inspect_err(|_| inner.watcher.unregister(id));
                match r? {
                    Probe::Exited(code, known) => {
                        exited = Some(code);
                        times = times.map(|t| t.or(known));
                    }
                    // Output ended before the engine saw the exit: the die event (or `wait`)
                    // will tell.
                    Probe::StillRunning if notice.is_some() => {
                        if !stopping {
                            timer.as_mut().reset(Instant::now() + DIE_EVENT_GRACE);
                            timer_kind = Timer::DieEvent;
                        }
                    }
                    Probe::StillRunning => probe = Some(wait_exit(inner.long.clone(), id.to_string()).boxed()),
                }
            },
            item = output.next(), if !output_done => match item {
                Some(Ok((stream, bytes, at))) => {
                    if std::mem::take(&mut first_output) && stream == Stream::Stderr {
                        first_line = Some(Vec::new());
                    }
                    if let (Some(line), Stream::Stderr) = (first_line.as_mut(), stream) {
                        let room = INIT_LINE_MAX.saturating_sub(line.len());
                        line.extend_from_slice(&bytes[..bytes.len().min(room)]);
                        if line.contains(&b'\n') || line.len() >= INIT_LINE_MAX {
                            complaint = first_line.take().and_then(|l| init_complaint(&l));
                        }
                    }
                    // Awaited: a sink that is behind slows the reading down (backpressure).
                    match at {
                        Some(at) => sink.output_at(stream, &bytes, at).await,
                        None => sink.output(stream, &bytes).await,
                    }
                }
                Some(Err(e)) => {
                    inner.watcher.unregister(id);
                    return Err(Broken { error: e, lost: true });
                }
                None => {
                    output_done = true;
                    if exited.is_none() && probe.is_none() {
                        match mode {
                            // The output ends when the container's process does: one inspect
                            // usually confirms the exit at once.
                            ExitDetection::InspectAfterOutput => {
                                probe = Some(inspect_once(inner, id).boxed());
                            }
                            ExitDetection::Events if notice.is_some() && !stopping => {
                                timer.as_mut().reset(Instant::now() + DIE_EVENT_GRACE);
                                timer_kind = Timer::DieEvent;
                            }
                            _ => {}
                        }
                    }
                }
            },
        }
        if exited.is_some() && !output_done {
            output.container_exited();
            if let Some(limit) = output.drain_limit() {
                if !stopping && timer_kind != Timer::Drain {
                    timer.as_mut().reset(Instant::now() + limit);
                    timer_kind = Timer::Drain;
                }
            }
        }
    }
    inner.watcher.unregister(id);
    // A first line that never ended (the output stopped first) is judged as it is.
    if let Some(line) = first_line.take() {
        complaint = init_complaint(&line);
    }

    let Some(code) = exited else {
        // Cancelled and gave up waiting (KillSettle).
        return Ok(STOPPED);
    };
    // A followed-on container's times, its end too (a die event does not say when).
    let times = match times {
        Some(known) if known.finished_at.is_none() => match inspect_state(inner, id).await {
            Ok(state) => known.or(state.times()),
            Err(e) => {
                tracing::debug!(container = name, error = %e, "no end time from the engine");
                known
            }
        },
        known => known.unwrap_or_default(),
    };
    let timed = |exit: StepExit, times: Times| StepExit {
        started_at: times.started_at,
        finished_at: times.finished_at,
        ..exit
    };
    if stopping {
        // The exit code says how it ended: 143 on SIGTERM, 137 when it had to be killed.
        let exit = StepExit {
            exit_code: code,
            ..STOPPED
        };
        return Ok(timed(exit, times));
    }
    if let (Some(complaint), false) = (complaint, code == Some(0)) {
        let command = launch
            .command
            .as_ref()
            .map_or_else(|| "the image's command".to_string(), |c| c.join(" "));
        // Not retried: the same command cannot be executed the next time either.
        return Err(BackendError::NotRunnable(format!(
            "container {name} (image {}) could not start {command}: {complaint}",
            launch.image
        ))
        .into());
    }
    let needs_inspect =
        code.is_none() || code == Some(137) || (code != Some(0) && launch.memory_bytes.is_some());
    if !needs_inspect {
        let exit = StepExit {
            exit_code: code,
            ..StepExit::default()
        };
        return Ok(timed(exit, times));
    }
    let state = inspect_state(inner, id).await?;
    let exit = StepExit {
        oom_killed: state.oom_killed,
        ..StepExit::exited(code.unwrap_or(state.exit_code))
    };
    Ok(timed(exit, times))
}

/// Poll an optional future (only polled when `Some`, see the select guards).
async fn opt<T>(f: &mut Option<BoxFuture<'static, T>>) -> T {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn signal(docker: &Docker, id: &str, sig: &str) {
    let opts = KillContainerOptionsBuilder::default().signal(sig).build();
    if let Err(e) = docker.kill_container(id, Some(opts)).await {
        // 409/404/500 "not running": it already ended, which is what we wanted.
        tracing::debug!(container = id, signal = sig, error = %error::describe(&e), "signal not delivered");
    }
}

/// The exit code from `POST /containers/{id}/wait`.
async fn wait_exit(docker: Docker, id: String) -> Result<Probe, BackendError> {
    let mut s = docker.wait_container(&id, None);
    match s.next().await {
        Some(Ok(r)) => Ok(Probe::Exited(Some(r.status_code), Times::default())),
        // bollard reports a non-zero exit as an error.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
            Ok(Probe::Exited(Some(code), Times::default()))
        }
        Some(Err(e)) => Err(error::engine(&format!("waiting for container {id}"), &e)),
        None => Err(BackendError::Other(format!(
            "the engine ended the wait for container {id} without an exit code"
        ))),
    }
}

/// Inspect once.
fn inspect_once(
    inner: &Inner,
    id: &str,
) -> impl std::future::Future<Output = Result<Probe, BackendError>> + Send + 'static {
    let raw = inner.conn.raw.clone();
    let id = id.to_string();
    async move {
        let state = crate::inventory::inspect_state_raw(&raw, &id).await?;
        Ok(if state.has_exited() {
            Probe::Exited(Some(state.exit_code), state.times())
        } else {
            Probe::StillRunning
        })
    }
}

/// Inspect; if the container still runs, `wait` for it.
fn inspect_then_wait(
    inner: &Inner,
    id: &str,
) -> impl std::future::Future<Output = Result<Probe, BackendError>> + Send + 'static {
    let once = inspect_once(inner, id);
    let long = inner.long.clone();
    let id = id.to_string();
    async move {
        match once.await? {
            Probe::StillRunning => wait_exit(long, id).await,
            exited => Ok(exited),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> StepLaunch {
        StepLaunch {
            run_id: "r1".into(),
            workflow: "wf".into(),
            step_key: "build[os=linux]".into(),
            attempt: 2,
            image: "img:1".into(),
            command: Some(vec!["sh".into(), "-c".into(), "echo hi".into()]),
            env: vec![
                ("A".into(), "1".into()),
                ("B".into(), "2".into()),
                ("A".into(), "3".into()),
            ],
            cpu_millis: Some(500),
            memory_bytes: Some(64 << 20),
            kubernetes: None,
            swarm: None,
            files: Vec::new(),
        }
    }

    #[test]
    fn body_has_labels_env_limits_and_workspace() {
        let ws = Workspace {
            run_id: "r1".into(),
            name: "co-ws-r1".into(),
        };
        let b = container_body(&launch(), &ws);
        let labels = b.labels.unwrap();
        assert_eq!(labels[labels::RUN], "r1");
        assert_eq!(labels[labels::STEP], "build[os=linux]");
        assert_eq!(labels[labels::ATTEMPT], "2");
        assert_eq!(labels[labels::WORKFLOW], "wf");
        assert_eq!(b.env.unwrap(), ["A=3", "B=2"]);
        assert_eq!(b.entrypoint.unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(b.cmd.unwrap(), Vec::<String>::new());
        assert_eq!(b.tty, Some(false));
        let hc = b.host_config.unwrap();
        assert_eq!(hc.nano_cpus, Some(500_000_000));
        assert_eq!(hc.memory, Some(64 << 20));
        assert_eq!(hc.memory_swap, Some(64 << 20));
        assert_eq!(hc.binds.unwrap(), ["co-ws-r1:/workspace"]);
        assert_eq!(hc.init, Some(true));
    }

    #[test]
    fn image_command_kept_without_override() {
        let mut l = launch();
        l.command = None;
        l.cpu_millis = None;
        l.memory_bytes = None;
        let b = container_body(
            &l,
            &Workspace {
                run_id: "r".into(),
                name: "v".into(),
            },
        );
        assert!(b.entrypoint.is_none() && b.cmd.is_none());
        let hc = b.host_config.unwrap();
        assert!(hc.memory.is_none() && hc.nano_cpus.is_none());
    }

    #[test]
    fn the_init_process_saying_it_cannot_run_the_command_is_recognised() {
        assert_eq!(
            init_complaint(
                b"ERROR (catatonit:6): failed to exec pid1: No such file or directory\n"
            ),
            Some("ERROR (catatonit:6): failed to exec pid1: No such file or directory".into())
        );
        assert!(init_complaint(b"[FATAL tini (7)] exec /x failed: No such file\n").is_some());
        assert_eq!(init_complaint(b"error: the step's own message\n"), None);
    }

    #[test]
    fn pull_refs() {
        assert_eq!(pull_ref("alpine"), ("alpine".into(), Some("latest".into())));
        assert_eq!(pull_ref("alpine:3"), ("alpine:3".into(), None));
        assert_eq!(
            pull_ref("localhost:5000/a/b"),
            ("localhost:5000/a/b".into(), Some("latest".into()))
        );
        assert_eq!(pull_ref("a@sha256:00"), ("a@sha256:00".into(), None));
    }
}

//! One attempt of one step: create its Pod, follow its state (the run's watch) and its log, learn
//! how it ended, delete it. `reattach` finds the Pod an earlier process created and follows it the
//! same way.

use std::time::Duration;

use bytes::Bytes;
use co_backend::{
    labels, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Stream, Workspace,
};
use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio::sync::{watch, OwnedMutexGuard};
use tokio::time::Instant;

use crate::logs::{self, Decoder, LogStream, Piece};
use crate::pod_state::{self, PodKind, PodView};
use crate::spec::{self, WorkspaceVolume};
use crate::watch::{PodSeen, RunWatch};
use crate::{error, names, Inner};

/// After the stop grace period, how much longer to wait for a stopped Pod to go.
const STOP_SETTLE: Duration = Duration::from_secs(30);
/// Once the exit is known, how long the rest of the log may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// A followed log that ended while the container still runs is opened again after this long
/// (unless the Pod's exit arrives first).
const LOG_REOPEN: Duration = Duration::from_secs(1);
/// Longest wait between attempts to open a log that failed to open.
const LOG_RETRY_MAX: Duration = Duration::from_secs(10);
/// Failed log reads tolerated once the exit is known, before giving up on the rest of the output.
const LOG_FAILURES_AFTER_EXIT: u32 = 3;
/// How long to wait for a leftover Pod of the same name to go before creating ours.
const REPLACE_WAIT: Duration = Duration::from_secs(60);

pub(crate) const STOPPED: StepExit = StepExit::STOPPED;

pub(crate) async fn run_step(
    inner: &Inner,
    launch: &StepLaunch,
    workspace: &Workspace,
    sink: &mut dyn OutputSink,
    cancel: CancellationToken,
) -> Result<StepExit, BackendError> {
    if cancel.is_cancelled() {
        return Ok(STOPPED);
    }
    let run = inner.run(&launch.run_id);
    tokio::select! {
        biased;
        _ = cancel.cancelled() => return Ok(STOPPED),
        live = run.live() => live?,
    }
    let name = names::pod_name(&launch.run_id, &launch.step_key, launch.attempt);
    let sub = run.subscribe(&name);
    let result = launch_and_follow(inner, &run, &name, launch, workspace, sub, sink, &cancel).await;
    run.unsubscribe(&name);
    result
}

#[allow(clippy::too_many_arguments)]
async fn launch_and_follow(
    inner: &Inner,
    run: &RunWatch,
    name: &str,
    launch: &StepLaunch,
    workspace: &Workspace,
    mut sub: watch::Receiver<PodSeen>,
    sink: &mut dyn OutputSink,
    cancel: &CancellationToken,
) -> Result<StepExit, BackendError> {
    // ReadWriteOnce: every Pod of the run goes to the node of the first one scheduled. The first
    // step to get here leads: its Pod goes anywhere, the others wait for its node.
    let mut leader = None;
    let mut pin_node = None;
    if inner.pins_nodes() {
        let guard = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(STOPPED),
            guard = run.pin.clone().lock_owned() => guard,
        };
        match guard.as_ref() {
            Some(node) => pin_node = Some(node.clone()),
            None => leader = Some(guard),
        }
    }
    let volume = WorkspaceVolume::for_mode(&inner.options.workspace, &workspace.name);
    let pod = spec::pod(
        launch,
        &volume,
        pin_node.as_deref(),
        inner.stop_grace_seconds(),
    )?;
    let Some(created) = create(inner, &pod, name, launch, &mut sub, cancel).await? else {
        return Ok(STOPPED);
    };
    // The Secrets of variables delivered as files, owned by the Pod (the kubelet waits for them
    // before it starts the container). One that exists already is not ours to trust: an earlier
    // process's, perhaps owned by a Pod on its way out; a retry gets new names.
    if let Err(e) = create_env_secrets(inner, launch, &created, false).await {
        delete(&inner.pods(), name, Some(0)).await;
        return Err(e);
    }
    let followed = Followed {
        name,
        launch,
        sub,
        initial: Some(created),
        leader,
        reattached: false,
    };
    follow(inner, followed, sink, cancel).await
}

/// Create the Pod. A Pod of the same name (the same run, step and attempt: left over by an
/// earlier process) is deleted first. `None`: cancelled meanwhile.
async fn create(
    inner: &Inner,
    pod: &Pod,
    name: &str,
    launch: &StepLaunch,
    sub: &mut watch::Receiver<PodSeen>,
    cancel: &CancellationToken,
) -> Result<Option<Pod>, BackendError> {
    let api = inner.pods();
    let mut replaced = false;
    loop {
        match api.create(&PostParams::default(), pod).await {
            Ok(created) => return Ok(Some(created)),
            Err(e) if error::is_conflict(&e) && !replaced => {
                replaced = true;
                tracing::info!(pod = name, "replacing a leftover Pod of the same attempt");
                delete(&api, name, Some(0)).await;
                let gone = sub.wait_for(|s| matches!(s, PodSeen::Deleted(_)));
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(None),
                    _ = tokio::time::timeout(REPLACE_WAIT, gone) => {}
                }
            }
            Err(e) => {
                return Err(error::api(
                    &format!("creating Pod {name} (image {})", launch.image),
                    &e,
                ))
            }
        }
    }
}

/// Create the Secrets of `launch`'s variables delivered as files, owned by `pod`. `reattach`: the
/// Pod was created by an earlier process, which may have stopped before its Secrets existed; any
/// that exist are its own.
async fn create_env_secrets(
    inner: &Inner,
    launch: &StepLaunch,
    pod: &Pod,
    reattach: bool,
) -> Result<(), BackendError> {
    let api = inner.secrets();
    for secret in spec::env_secrets(launch)? {
        let secret = spec::owned_by(secret, pod);
        let name = secret.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => {}
            Err(e) if error::is_conflict(&e) && reattach => {}
            Err(e) if error::is_conflict(&e) => {
                return Err(BackendError::Other(format!(
                    "the Secret {name} (this attempt's variables delivered as files) exists \
                     already, left over by an earlier process; the attempt did not start"
                )))
            }
            Err(e) => {
                return Err(error::api(
                    &format!("creating the Secret {name} (variables delivered as files)"),
                    &e,
                ))
            }
        }
    }
    Ok(())
}

/// Delete a Pod (`grace`: seconds, `None`: its own `terminationGracePeriodSeconds`). Failures are
/// logged: `finish_run` sweeps whatever is left.
async fn delete(api: &Api<Pod>, name: &str, grace: Option<u32>) {
    let params = DeleteParams {
        grace_period_seconds: grace,
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(e) if error::is_not_found(&e) => {}
        Err(e) => {
            tracing::warn!(pod = name, error = %error::describe(&e), "deleting the Pod failed; finish_run will retry")
        }
    }
}

/// Whether `pod` is the Pod of `launch` (by the exact values in its annotations).
fn belongs_to(pod: &Pod, launch: &StepLaunch) -> bool {
    let a = pod.metadata.annotations.as_ref();
    let get = |k: &str| a.and_then(|a| a.get(k)).map(String::as_str);
    get(labels::RUN) == Some(launch.run_id.as_str())
        && get(labels::STEP) == Some(launch.step_key.as_str())
        && get(labels::ATTEMPT) == Some(launch.attempt.to_string().as_str())
}

/// The Pod of `launch`: by name, else by labels.
async fn find(inner: &Inner, launch: &StepLaunch, name: &str) -> Result<Option<Pod>, BackendError> {
    let api = inner.pods();
    match api.get_opt(name).await {
        Ok(Some(pod)) if belongs_to(&pod, launch) => return Ok(Some(pod)),
        Ok(Some(_)) => {
            tracing::warn!(
                pod = name,
                "a Pod has this attempt's name but not its annotations; looking by labels"
            );
        }
        Ok(None) => {}
        Err(e) => return Err(error::api(&format!("looking for Pod {name}"), &e)),
    }
    let params = ListParams::default().labels(&spec::attempt_selector(launch));
    let list = api
        .list(&params)
        .await
        .map_err(|e| error::api("looking for the attempt's Pod by its labels", &e))?;
    Ok(list.items.into_iter().find(|p| belongs_to(p, launch)))
}

pub(crate) async fn reattach(
    inner: &Inner,
    launch: &StepLaunch,
    sink: &mut dyn OutputSink,
    cancel: CancellationToken,
) -> Result<Option<StepExit>, BackendError> {
    let run = inner.run(&launch.run_id);
    run.live().await?;
    let name = names::pod_name(&launch.run_id, &launch.step_key, launch.attempt);
    // Subscribe before looking, so nothing that happens after the look is missed.
    let sub = run.subscribe(&name);
    let found = find(inner, launch, &name).await;
    let pod = match found {
        Ok(Some(pod)) => pod,
        Ok(None) => {
            run.unsubscribe(&name);
            return Ok(None);
        }
        Err(e) => {
            run.unsubscribe(&name);
            return Err(e);
        }
    };
    let actual = pod.metadata.name.clone().unwrap_or_else(|| name.clone());
    let sub = if actual == name {
        sub
    } else {
        run.unsubscribe(&name);
        run.subscribe(&actual)
    };
    if pod.metadata.deletion_timestamp.is_some() {
        // Being deleted (the earlier process was stopping it, or someone else is): its attempt
        // is over without an exit of its own.
        run.unsubscribe(&actual);
        return Ok(None);
    }
    tracing::info!(pod = %actual, "reattaching to the Pod of an earlier process");
    if let Err(e) = create_env_secrets(inner, launch, &pod, true).await {
        run.unsubscribe(&actual);
        return Err(e);
    }
    let followed = Followed {
        name: &actual,
        launch,
        sub,
        initial: Some(pod),
        leader: None,
        reattached: true,
    };
    let result = follow(inner, followed, sink, &cancel).await;
    run.unsubscribe(&actual);
    result.map(Some)
}

/// The Pod [`follow`] watches and what is known about it.
struct Followed<'a> {
    name: &'a str,
    launch: &'a StepLaunch,
    sub: watch::Receiver<PodSeen>,
    /// The Pod as created or found.
    initial: Option<Pod>,
    /// Held while this Pod is the first of a ReadWriteOnce run and its node is not known yet.
    leader: Option<OwnedMutexGuard<Option<String>>>,
    /// An earlier process created the Pod: report its container's start and end from its status
    /// (this process hears of them late), and its log lines with the kubelet's times (read with
    /// `timestamps=true`). A Pod this process created keeps the driver's clock, as it hears of
    /// them.
    reattached: bool,
}

/// Where the log stands.
enum Log {
    NotOpened,
    Opening(BoxFuture<'static, kube::Result<LogStream>>),
    Streaming(LogStream, Decoder),
    /// Ended without an error at the given time (complete if the container has exited), with
    /// what is left of its last line.
    EndedClean(Instant, Decoder),
    /// Failed; open again at the given time.
    Retry(Instant),
    Done,
}

enum Wake {
    Cancel,
    Timer,
    Seen(bool),
    Opened(kube::Result<LogStream>),
    Chunk(Option<std::io::Result<Bytes>>),
}

async fn log_wake(log: &mut Log) -> Wake {
    match log {
        Log::Opening(f) => Wake::Opened(f.await),
        Log::Streaming(s, _) => Wake::Chunk(s.next().await),
        _ => std::future::pending().await,
    }
}

/// Follow the Pod to its end: pass its log to `sink`, learn its exit, handle pull errors,
/// scheduling failures, evictions, deletions and cancellation; then delete it.
async fn follow(
    inner: &Inner,
    followed: Followed<'_>,
    sink: &mut dyn OutputSink,
    cancel: &CancellationToken,
) -> Result<StepExit, BackendError> {
    let Followed {
        name,
        launch,
        mut sub,
        initial,
        mut leader,
        reattached,
    } = followed;
    let api = inner.pods();
    let options = &inner.options;
    let mut current: Option<PodView> = initial.as_ref().map(pod_state::view);
    let mut gone = false;
    let mut watch_lost = false;

    let mut started = false;
    let mut log = Log::NotOpened;
    let mut delivered: u64 = 0;
    let mut log_failures: u32 = 0;

    let mut stop_deadline: Option<Instant> = None;
    let mut deleted_by_us = false;
    let mut pull_since: Option<Instant> = None;
    let mut unschedulable_since: Option<Instant> = None;
    let mut external_delete: Option<String> = None;
    let mut outcome: Option<Result<StepExit, BackendError>> = None;
    let mut drain_until: Option<Instant> = None;
    // What kept the Pod from starting when it was stopped (written to the log as a note).
    let mut stopped_before_start: Option<String> = None;

    loop {
        // Decide on the freshest state the watch has (only what changed since the subscription
        // or the last look: an older value belongs to a Pod of the same name that went before).
        if !watch_lost && sub.has_changed().unwrap_or(false) {
            apply_seen(&sub.borrow_and_update(), &mut current, &mut gone);
        }
        let now = Instant::now();
        let stopping = stop_deadline.is_some();
        // What the latest state means.
        if outcome.is_none() {
            if watch_lost && !gone {
                outcome = Some(Err(BackendError::Other(format!(
                    "lost the watch of Pod {name}; its state is unknown"
                ))));
            } else if let Some(view) = &current {
                if let (Some(node), Some(guard)) = (&view.node, leader.as_mut()) {
                    **guard = Some(node.clone());
                    leader = None;
                }
                if view.deleting
                    && !deleted_by_us
                    && external_delete.as_deref().is_none_or(str::is_empty)
                {
                    external_delete = Some(view.disruption.clone().unwrap_or_default());
                }
                if view.kind.container_started() && !started {
                    started = true;
                    sink.started(name);
                }
                if view.kind.container_started() && matches!(log, Log::NotOpened) && !gone {
                    log = Log::Opening(logs::open(api.clone(), name.to_string(), reattached));
                }
                match &view.kind {
                    PodKind::Pending {
                        unschedulable,
                        pull_error,
                        image_fatal,
                        ..
                    } => {
                        if stopping {
                            // Deleted before its container started: nothing more will come.
                            stopped_before_start = view.kind.problem();
                            outcome = Some(Ok(STOPPED));
                        } else if let Some((reason, message)) = image_fatal {
                            outcome = Some(Err(image_error(launch, name, reason, message, None)));
                        } else {
                            pull_since = pull_error.as_ref().map(|_| pull_since.unwrap_or(now));
                            unschedulable_since = unschedulable
                                .as_ref()
                                .map(|_| unschedulable_since.unwrap_or(now));
                        }
                    }
                    PodKind::Running => {
                        pull_since = None;
                        unschedulable_since = None;
                    }
                    PodKind::Terminated {
                        exit_code,
                        oom_killed,
                        started_at,
                        finished_at,
                    } => {
                        // A reattached Pod's container's own times: this process may hear of its
                        // exit long after it happened.
                        let timed = |exit: StepExit| StepExit {
                            started_at: started_at.filter(|_| reattached),
                            finished_at: finished_at.filter(|_| reattached),
                            ..exit
                        };
                        outcome = Some(if stopping {
                            Ok(timed(STOPPED))
                        } else if external_delete.is_some() && *exit_code != 0 {
                            Err(deleted_error(name, external_delete.as_deref()))
                        } else {
                            Ok(timed(StepExit {
                                oom_killed: *oom_killed,
                                ..StepExit::exited(*exit_code)
                            }))
                        });
                    }
                    PodKind::PodFailed {
                        reason, message, ..
                    } => {
                        outcome = Some(if stopping {
                            Ok(STOPPED)
                        } else {
                            Err(pod_failed(name, reason, message))
                        });
                    }
                }
            }
            if outcome.is_none() && gone {
                // Deleted before it ended (a Pod that had ended keeps its exit, above).
                outcome = Some(if stopping {
                    Ok(STOPPED)
                } else {
                    Err(deleted_error(name, external_delete.as_deref()))
                });
            } else if outcome.is_none() && stopping && current.is_none() {
                // Stopped before the watch ever showed the Pod.
                outcome = Some(Ok(STOPPED));
            }
        }

        // Is the output complete?
        if outcome.is_some() {
            let complete = match &log {
                Log::NotOpened | Log::Done | Log::EndedClean(..) => true,
                Log::Retry(_) => gone || log_failures > LOG_FAILURES_AFTER_EXIT,
                Log::Opening(_) | Log::Streaming(..) => false,
            };
            if complete {
                break;
            }
            if drain_until.is_none() {
                drain_until = Some(now + DRAIN_LIMIT);
            }
        }

        // The next time something is due.
        let pull_due = pull_since
            .filter(|_| outcome.is_none() && !stopping)
            .map(|t| t + options.image_pull_grace);
        let unschedulable_due = unschedulable_since
            .filter(|_| outcome.is_none() && !stopping)
            .map(|t| t + options.unschedulable_grace);
        let log_due = match &log {
            Log::Retry(at) => Some(*at),
            Log::EndedClean(at, _) => Some(*at + LOG_REOPEN),
            _ => None,
        };
        let due = [
            pull_due,
            unschedulable_due,
            log_due,
            stop_deadline,
            drain_until,
        ]
        .into_iter()
        .flatten()
        .min();

        let wake = tokio::select! {
            biased;
            _ = cancel.cancelled(), if !stopping && outcome.is_none() => Wake::Cancel,
            _ = sleep_until(due), if due.is_some() => Wake::Timer,
            r = sub.changed(), if !watch_lost => Wake::Seen(r.is_ok()),
            w = log_wake(&mut log) => w,
        };
        let now = Instant::now();
        match wake {
            Wake::Cancel => {
                let grace = u32::try_from(options.stop_grace.as_secs()).unwrap_or(u32::MAX);
                delete(&api, name, Some(grace)).await;
                deleted_by_us = true;
                stop_deadline = Some(now + options.stop_grace + STOP_SETTLE);
            }
            Wake::Timer => {
                if stop_deadline.is_some_and(|d| now >= d) {
                    tracing::warn!(pod = name, "the stopped Pod did not go within its grace period; returning without the rest of its output");
                    outcome = Some(Ok(STOPPED));
                    log = Log::Done;
                }
                if drain_until.is_some_and(|d| now >= d) {
                    tracing::warn!(
                        pod = name,
                        "the log did not end within {}s of the exit; the step's output may be incomplete",
                        DRAIN_LIMIT.as_secs()
                    );
                    log = Log::Done;
                }
                if outcome.is_none() && pull_due.is_some_and(|d| now >= d) {
                    if let Some(PodKind::Pending {
                        pull_error: Some((reason, message)),
                        ..
                    }) = current.as_ref().map(|v| &v.kind)
                    {
                        outcome = Some(Err(image_error(
                            launch,
                            name,
                            reason,
                            message,
                            Some(options.image_pull_grace),
                        )));
                    }
                }
                if outcome.is_none() && unschedulable_due.is_some_and(|d| now >= d) {
                    if let Some(PodKind::Pending {
                        unschedulable: Some(message),
                        ..
                    }) = current.as_ref().map(|v| &v.kind)
                    {
                        outcome = Some(Err(BackendError::Other(format!(
                            "Pod {name} could not be scheduled within {}: {message}",
                            human(options.unschedulable_grace)
                        ))));
                    }
                }
                if log_due.is_some_and(|d| now >= d) && !matches!(log, Log::Done) {
                    log = Log::Opening(logs::open(api.clone(), name.to_string(), reattached));
                }
            }
            Wake::Seen(true) => apply_seen(&sub.borrow_and_update(), &mut current, &mut gone),
            Wake::Seen(false) => watch_lost = true,
            Wake::Opened(Ok(stream)) => {
                log = Log::Streaming(stream, Decoder::new(delivered, reattached));
            }
            Wake::Opened(Err(e)) => {
                log_failures += 1;
                tracing::debug!(pod = name, error = %error::describe(&e), "opening the log failed");
                log = Log::Retry(now + retry_delay(log_failures));
            }
            Wake::Chunk(Some(Ok(bytes))) => {
                if let Log::Streaming(_, decoder) = &mut log {
                    delivered += pass_on(sink, decoder.feed(bytes)).await;
                }
            }
            Wake::Chunk(Some(Err(e))) => {
                log_failures += 1;
                tracing::debug!(pod = name, error = %e, "reading the log failed; reading it again");
                log = Log::Retry(now + retry_delay(log_failures));
            }
            Wake::Chunk(None) => {
                if let Log::Streaming(_, decoder) = std::mem::replace(&mut log, Log::Done) {
                    log = Log::EndedClean(now, decoder);
                }
            }
        }
    }
    drop(leader);
    if let Log::EndedClean(_, mut decoder) = log {
        // The log is complete: the start of a last line still held back.
        pass_on(sink, decoder.finish()).await;
    }

    // Delete the Pod (a stopped one is being deleted already).
    if !gone && !deleted_by_us {
        let grace = if started { None } else { Some(0) };
        delete(&api, name, grace).await;
    }
    if let Some(problem) = stopped_before_start {
        // The step's error will be the engine's (`timed out after …`, cancelled): say here why
        // it never started. Safe for reattach's line counting: the container wrote nothing.
        sink.started(name);
        sink.output(
            Stream::Stderr,
            format!(
                "containerops: Pod {name} was stopped before its container started: {problem}\n"
            )
            .as_bytes(),
        )
        .await;
    }
    outcome.unwrap_or(Ok(STOPPED))
}

/// Pass `pieces` of the step's output on (with the kubelet's time where known); how many bytes.
async fn pass_on(sink: &mut dyn OutputSink, pieces: Vec<Piece>) -> u64 {
    let mut passed = 0;
    for piece in pieces {
        match piece.at {
            Some(at) => sink.output_at(Stream::Stdout, &piece.bytes, at).await,
            None => sink.output(Stream::Stdout, &piece.bytes).await,
        }
        passed += u64::try_from(piece.bytes.len()).unwrap_or(0);
    }
    passed
}

fn apply_seen(seen: &PodSeen, current: &mut Option<PodView>, gone: &mut bool) {
    match seen {
        PodSeen::Unknown => {}
        PodSeen::Present(pod) => *current = Some(pod_state::view(pod)),
        PodSeen::Deleted(last) => {
            if let Some(pod) = last {
                *current = Some(pod_state::view(pod));
            }
            *gone = true;
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn retry_delay(failures: u32) -> Duration {
    let secs = 1u64 << failures.saturating_sub(1).min(4);
    Duration::from_secs(secs).min(LOG_RETRY_MAX)
}

fn image_error(
    launch: &StepLaunch,
    name: &str,
    reason: &str,
    message: &str,
    grace: Option<Duration>,
) -> BackendError {
    let message = error::shorten(message, 300);
    let detail = match grace {
        Some(g) => format!(
            "{reason}: {message}; Pod {name} could not pull it for {}",
            human(g)
        ),
        None => format!("{reason}: {message}; Pod {name}"),
    };
    BackendError::ImageNotFound {
        image: launch.image.clone(),
        detail,
    }
}

fn pod_failed(name: &str, reason: &str, message: &str) -> BackendError {
    let message = error::shorten(message, 300);
    if reason == "Evicted" {
        BackendError::Other(format!("Pod {name} was evicted: {message}"))
    } else {
        BackendError::Other(format!("Pod {name} failed ({reason}): {message}"))
    }
}

fn deleted_error(name: &str, why: Option<&str>) -> BackendError {
    let why = match why {
        Some(w) if !w.is_empty() => format!(" ({w})"),
        _ => String::new(),
    };
    BackendError::Other(format!(
        "Pod {name} was deleted while the step ran, not by ContainerOps{why}"
    ))
}

/// `90s`, `5m`, `1m30s`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_engine_writes_them() {
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_millis(200)), "200ms");
    }

    #[test]
    fn log_retries_back_off() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(9), LOG_RETRY_MAX);
    }
}

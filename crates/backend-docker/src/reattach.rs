//! `Backend::reattach`: take over the container of an attempt that an earlier process launched.
//!
//! 1. Find it: by its name (`names::container_name`), confirmed by its run, step and attempt
//!    labels; else by those labels. None, or one being removed (`removing`, Docker's `dead`):
//!    `Ok(None)`, nothing passed to the sink.
//! 2. Never started (`created`, Podman's `configured`/`initialized`: the earlier process died
//!    between create and start): start it exactly as `run_step` does; the attempt runs once.
//! 3. Running: register for its die event, attach (the doorbell of [`Replay`]), inspect once more
//!    (it may have exited before the registration), then `sink.started` and the whole output from
//!    the start, from the engine's log, live until it ends. Exited: `sink.started`, its whole
//!    output, its exit code.
//! 4. The exit, OOM flag and cancellation as in `run_step` (the same `follow` loop); then the
//!    container is removed in the background at once (whatever the removal policy: there is no
//!    launch to keep fast, and it has outlived one process already), awaited by `finish_run`.
//!
//! Step 3 ([`resume`]) is also how a step goes on when the engine stops answering in the middle
//! of it (its API service restarted): once the engine answers again, the container is followed
//! on with its log replayed from the byte where the broken output stream stopped.

use co_backend::{labels, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch};

use crate::inventory::{inspect_container, list_containers, Inspected};
use crate::replay::Replay;
use crate::step::{
    attach_options, follow_resuming, register_exit, start_and_follow, Followed, OutputSource,
    STOPPED,
};
use crate::{error, names, Inner};

/// What the container's state says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Being removed, or a removal failed half-way.
    Gone,
    NotStarted,
    Running,
    Exited(i64),
}

fn classify(c: &Inspected) -> Found {
    match c.state.status.as_str() {
        "removing" | "dead" => Found::Gone,
        "created" | "configured" | "initialized" => Found::NotStarted,
        _ if c.state.has_exited() => Found::Exited(c.state.exit_code),
        // running, paused, restarting, stopping: it will end; follow it.
        _ => Found::Running,
    }
}

fn belongs_to(c: &Inspected, launch: &StepLaunch) -> bool {
    c.label(labels::RUN) == Some(launch.run_id.as_str())
        && c.label(labels::STEP) == Some(launch.step_key.as_str())
        && c.label(labels::ATTEMPT) == Some(launch.attempt.to_string().as_str())
}

/// The attempt's container: by name, else by labels.
async fn find(
    inner: &Inner,
    launch: &StepLaunch,
    name: &str,
) -> Result<Option<Inspected>, BackendError> {
    let raw = &inner.conn.raw;
    if let Some(c) = inspect_container(raw, name).await? {
        if belongs_to(&c, launch) {
            return Ok(Some(c));
        }
        tracing::warn!(
            container = name,
            "a container has this attempt's name but not its labels; looking by labels"
        );
    }
    let listed = list_containers(inner, labels::RUN, Some(&launch.run_id)).await?;
    let attempt = launch.attempt.to_string();
    for c in listed.iter().filter(|c| {
        c.labels.get(labels::STEP) == Some(&launch.step_key)
            && c.labels.get(labels::ATTEMPT) == Some(&attempt)
    }) {
        if let Some(doc) = inspect_container(raw, &c.id).await? {
            if belongs_to(&doc, launch) && classify(&doc) != Found::Gone {
                return Ok(Some(doc));
            }
        }
    }
    Ok(None)
}

pub(crate) async fn reattach(
    inner: &Inner,
    launch: &StepLaunch,
    sink: &mut dyn OutputSink,
    cancel: CancellationToken,
) -> Result<Option<StepExit>, BackendError> {
    let name = names::container_name(&launch.run_id, &launch.step_key, launch.attempt);
    let Some(found) = find(inner, launch, &name).await? else {
        return Ok(None);
    };
    let id = found.id.clone();
    let result = match classify(&found) {
        Found::Gone => return Ok(None),
        Found::NotStarted if cancel.is_cancelled() => Ok(STOPPED),
        Found::NotStarted => {
            tracing::info!(
                container = %name,
                "the container of this attempt was created but never started; starting it"
            );
            start_and_follow(inner, &id, &name, launch, sink, &cancel).await
        }
        Found::Exited(_) | Found::Running => {
            match resume(inner, &id, &name, launch, [0, 0]).await? {
                None => return Ok(None),
                Some((followed, output)) => {
                    sink.started(&id);
                    follow_resuming(inner, followed, output, [0, 0], sink, &cancel).await
                }
            }
        }
    };
    if let Ok(exit) = &result {
        crate::step::collect(inner, &id, &name, exit, sink).await;
    }
    inner.step_finished(&launch.run_id, id, true);
    result.map(Some)
}

/// Follow container `id` (started earlier) from its state now: its output from the engine's
/// log beyond `delivered` (bytes of each stream already passed on; `[0, 0]`: from the start),
/// live while it runs, and its exit. `None`: it is gone (or going).
pub(crate) async fn resume<'a>(
    inner: &Inner,
    id: &'a str,
    name: &'a str,
    launch: &'a StepLaunch,
    delivered: [u64; 2],
) -> Result<Option<(Followed<'a>, Box<dyn OutputSource>)>, BackendError> {
    let raw = &inner.conn.raw;
    let Some(found) = inspect_container(raw, id).await? else {
        return Ok(None);
    };
    let followed = |notice, exited, times| Followed {
        id,
        name,
        launch,
        notice,
        exited,
        times,
    };
    let docker = inner.conn.docker.clone();
    match classify(&found) {
        Found::Gone => Ok(None),
        Found::Exited(code) => {
            let output = Replay::new(docker, raw.clone(), id, name, None, true, delivered);
            let times = Some(found.state.times());
            Ok(Some((
                followed(None, Some(Some(code)), times),
                Box::new(output),
            )))
        }
        Found::Running | Found::NotStarted => {
            let notice = register_exit(inner, id, name).await;
            let attach = match docker.attach_container(id, Some(attach_options())).await {
                Ok(a) => Some((a.output, a.input)),
                Err(e) => {
                    // Not fatal: the log is then polled until the exit is known.
                    tracing::warn!(container = name, error = %error::describe(&e), "cannot attach to the container; polling its log");
                    None
                }
            };
            // An exit before the registration above has no die event to come: look once more.
            let state = match inspect_container(raw, id).await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    inner.watcher.unregister(id);
                    return Ok(None);
                }
                Err(e) => {
                    inner.watcher.unregister(id);
                    return Err(e);
                }
            };
            let exited = match classify(&state) {
                Found::Gone => {
                    inner.watcher.unregister(id);
                    return Ok(None);
                }
                Found::Exited(code) => Some(Some(code)),
                Found::Running | Found::NotStarted => None,
            };
            // Podman keeps an attach to a container that has exited open for ever: drop it then.
            let attach = if exited.is_some() { None } else { attach };
            let output = Replay::new(
                docker,
                raw.clone(),
                id,
                name,
                attach,
                exited.is_some(),
                delivered,
            );
            let times = Some(state.state.times());
            Ok(Some((followed(notice, exited, times), Box::new(output))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::State;

    fn inspected(status: &str, running: bool, code: i64) -> Inspected {
        Inspected {
            state: State {
                status: status.into(),
                running,
                exit_code: code,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn states_decide_what_reattach_does() {
        assert_eq!(classify(&inspected("running", true, 0)), Found::Running);
        assert_eq!(classify(&inspected("paused", true, 0)), Found::Running);
        assert_eq!(classify(&inspected("stopping", true, 0)), Found::Running);
        assert_eq!(classify(&inspected("exited", false, 3)), Found::Exited(3));
        assert_eq!(
            classify(&inspected("stopped", false, 137)),
            Found::Exited(137)
        );
        for s in ["created", "configured", "initialized"] {
            assert_eq!(classify(&inspected(s, false, 0)), Found::NotStarted, "{s}");
        }
        for s in ["removing", "dead"] {
            assert_eq!(classify(&inspected(s, false, 0)), Found::Gone, "{s}");
        }
    }

    #[test]
    fn labels_must_name_run_step_and_attempt() {
        let launch = StepLaunch {
            run_id: "r".into(),
            workflow: "w".into(),
            step_key: "s[x=1]".into(),
            attempt: 2,
            image: "i".into(),
            command: None,
            env: vec![],
            cpu_millis: None,
            memory_bytes: None,
            kubernetes: None,
            swarm: None,
            files: Vec::new(),
        };
        let with = |run: &str, step: &str, attempt: &str| Inspected {
            config: crate::inventory::InspectedConfig {
                labels: Some(
                    [
                        (labels::RUN.to_string(), run.to_string()),
                        (labels::STEP.to_string(), step.to_string()),
                        (labels::ATTEMPT.to_string(), attempt.to_string()),
                    ]
                    .into(),
                ),
            },
            ..Default::default()
        };
        assert!(belongs_to(&with("r", "s[x=1]", "2"), &launch));
        assert!(!belongs_to(&with("r", "s[x=1]", "1"), &launch));
        assert!(!belongs_to(&with("r", "s[x=2]", "2"), &launch));
        assert!(!belongs_to(&with("q", "s[x=1]", "2"), &launch));
        assert!(!belongs_to(&Inspected::default(), &launch));
    }
}

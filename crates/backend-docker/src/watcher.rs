//! One shared `GET /events` subscription per backend that reports container exits (`die`) to the
//! steps waiting for them.
//!
//! Race-freedom: a step registers its container id *before* it starts the container, and
//! [`ExitWatcher::register`] returns only once the subscription's response headers have arrived,
//! so the `die` event of a container started afterwards is on that stream. If the stream breaks,
//! every pending waiter gets [`Notice::Lost`] and falls back to asking the engine directly
//! (inspect, then `wait`); the next registration opens a new subscription.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{oneshot, watch};

use crate::discovery::EngineKind;
use crate::raw::{encode_query, RawClient};

/// What a waiter learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    /// The container died; the exit code if the event carried one.
    Died { exit_code: Option<i64> },
    /// The subscription broke; the waiter must find out another way.
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    Connecting,
    Live,
    Failed,
}

struct Sub {
    generation: u64,
    state: watch::Receiver<SubState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    /// Container id → (generation of the subscription it relies on, where to report).
    waiters: HashMap<String, (u64, oneshot::Sender<Notice>)>,
    sub: Option<Sub>,
    next_generation: u64,
}

pub(crate) struct ExitWatcher {
    raw: RawClient,
    kind: EngineKind,
    shared: Arc<Mutex<Shared>>,
}

/// How long a registration waits for the subscription to come up before giving up on it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A poisoned lock only means another thread panicked while holding it; the map is still sound.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl ExitWatcher {
    pub(crate) fn new(raw: RawClient, kind: EngineKind) -> Self {
        ExitWatcher {
            raw,
            kind,
            shared: Arc::default(),
        }
    }

    /// Start the subscription now if none runs (does not wait for it).
    pub(crate) fn prewarm(&self) {
        let mut g = lock(&self.shared);
        self.ensure_sub(&mut g);
    }

    /// Watch for the exit of container `id`. Returns once the subscription is live; an `Err` says
    /// why no subscription could be opened (the caller then uses another way to learn the exit).
    pub(crate) async fn register(&self, id: &str) -> Result<oneshot::Receiver<Notice>, String> {
        let (tx, rx) = oneshot::channel();
        let mut state = {
            let mut g = lock(&self.shared);
            let (generation, state) = self.ensure_sub(&mut g);
            g.waiters.insert(id.to_string(), (generation, tx));
            state
        };
        let outcome = tokio::time::timeout(
            CONNECT_TIMEOUT,
            state.wait_for(|s| *s != SubState::Connecting),
        )
        .await;
        let result = match outcome {
            Ok(Ok(s)) if *s == SubState::Live => Ok(rx),
            Ok(Ok(_)) => Err("the engine refused the event subscription".to_string()),
            Ok(Err(_)) => Err("the event subscription ended while connecting".to_string()),
            Err(_) => Err(format!(
                "the event subscription did not come up within {}s",
                CONNECT_TIMEOUT.as_secs()
            )),
        };
        if result.is_err() {
            self.unregister(id);
        }
        result
    }

    /// Stop watching `id` (its exit is known another way, or it will never start).
    pub(crate) fn unregister(&self, id: &str) {
        lock(&self.shared).waiters.remove(id);
    }

    /// The current subscription's state, starting a new subscription if there is none.
    fn ensure_sub(&self, g: &mut Shared) -> (u64, watch::Receiver<SubState>) {
        if let Some(sub) = &g.sub {
            if !sub.task.is_finished() && *sub.state.borrow() != SubState::Failed {
                return (sub.generation, sub.state.clone());
            }
        }
        let generation = g.next_generation;
        g.next_generation += 1;
        let (state_tx, state_rx) = watch::channel(SubState::Connecting);
        let task = tokio::spawn(subscription(
            self.raw.clone(),
            self.kind,
            Arc::clone(&self.shared),
            generation,
            state_tx,
        ));
        g.sub = Some(Sub {
            generation,
            state: state_rx.clone(),
            task,
        });
        (generation, state_rx)
    }
}

impl Drop for ExitWatcher {
    fn drop(&mut self) {
        if let Some(sub) = lock(&self.shared).sub.take() {
            sub.task.abort();
        }
    }
}

async fn subscription(
    raw: RawClient,
    kind: EngineKind,
    shared: Arc<Mutex<Shared>>,
    generation: u64,
    state: watch::Sender<SubState>,
) {
    // Podman 4 only matches its internal event name `died`; Docker calls it `die`.
    let event = match kind {
        EngineKind::Podman => "died",
        EngineKind::Docker => "die",
    };
    let filters = format!(r#"{{"type":["container"],"event":["{event}"]}}"#);
    let path = format!("/events?filters={}", encode_query(&filters));
    let resp = match raw.get(&path).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot subscribe to container events; falling back to inspect/wait");
            end(&shared, generation);
            let _ = state.send(SubState::Failed);
            return;
        }
    };
    if state.send(SubState::Live).is_err() {
        tracing::trace!("nobody waited for the subscription to come up");
    }
    tracing::debug!(generation, "container event subscription live");
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                    while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                        let line = buf.split_to(pos + 1);
                        handle_line(&shared, &line[..pos]);
                    }
                }
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "container event stream broke");
                break;
            }
            None => {
                tracing::debug!("container event stream ended");
                break;
            }
        }
    }
    if !buf.is_empty() {
        let rest = buf.split();
        handle_line(&shared, rest.chunk());
    }
    end(&shared, generation);
    let _ = state.send(SubState::Failed);
}

/// The subscription is gone: everyone still waiting must find out another way.
fn end(shared: &Mutex<Shared>, generation: u64) {
    let mut g = lock(shared);
    if g.sub.as_ref().is_some_and(|s| s.generation == generation) {
        g.sub = None;
    }
    let lost: Vec<String> = g
        .waiters
        .iter()
        .filter(|(_, (gen, _))| *gen == generation)
        .map(|(id, _)| id.clone())
        .collect();
    for id in lost {
        if let Some((_, tx)) = g.waiters.remove(&id) {
            let _ = tx.send(Notice::Lost);
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct RawActor {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Attributes", default)]
    attributes: HashMap<String, String>,
}

#[derive(serde::Deserialize)]
struct RawEvent {
    #[serde(rename = "Action", default)]
    action: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    id: String,
    #[serde(rename = "Actor", default)]
    actor: RawActor,
}

/// `(container id, exit code)` of a die event line.
pub(crate) fn parse_die(line: &[u8]) -> Option<(String, Option<i64>)> {
    let ev: RawEvent = serde_json::from_slice(line).ok()?;
    let is_die = |s: &str| s == "die" || s == "died";
    if !is_die(&ev.action) && !is_die(&ev.status) {
        return None;
    }
    let id = if ev.actor.id.is_empty() {
        ev.id
    } else {
        ev.actor.id
    };
    if id.is_empty() {
        return None;
    }
    let code = ["exitCode", "containerExitCode"].iter().find_map(|k| {
        ev.actor
            .attributes
            .get(*k)
            .and_then(|v| v.trim().parse().ok())
    });
    Some((id, code))
}

fn handle_line(shared: &Mutex<Shared>, line: &[u8]) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let Some((id, exit_code)) = parse_die(line) else {
        return;
    };
    if let Some((_, tx)) = lock(shared).waiters.remove(&id) {
        let _ = tx.send(Notice::Died { exit_code });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_and_docker_die_events() {
        let podman = br#"{"status":"die","id":"abc","from":"img","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"containerExitCode":"3","exitCode":"3","name":"x"}},"scope":"local","time":1,"timeNano":1}"#;
        assert_eq!(parse_die(podman), Some(("abc".into(), Some(3))));
        let docker = br#"{"Type":"container","Action":"die","Actor":{"ID":"def","Attributes":{"exitCode":"137","image":"i"}},"scope":"local","time":1,"timeNano":2}"#;
        assert_eq!(parse_die(docker), Some(("def".into(), Some(137))));
        let start =
            br#"{"Type":"container","Action":"start","Actor":{"ID":"def","Attributes":{}}}"#;
        assert_eq!(parse_die(start), None);
        assert_eq!(parse_die(b"not json"), None);
        let no_code = br#"{"Type":"container","Action":"die","Actor":{"ID":"x"}}"#;
        assert_eq!(parse_die(no_code), Some(("x".into(), None)));
    }
}

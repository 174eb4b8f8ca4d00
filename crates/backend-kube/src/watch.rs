//! One watch per run: `list` then `watch` of the Pods labelled with the run, shared by all its
//! steps. Each step subscribes to its Pod's name and sees every state the API server reports.
//!
//! The loop is written here rather than taken from kube-runtime's `watcher` so that the backend
//! knows when the watch is established: no Pod is created before the run's watch is live (a
//! missing `watch` permission fails the step before anything runs), and the order of requests is
//! fixed (list, watch, then the Pods), which the scripted tests assert exactly.
//!
//! - `list` (label selector) → the state of every subscribed Pod, and its `resourceVersion`;
//! - `watch` from that version with bookmarks; each event updates the subscribed Pod it names;
//!   the server ends a watch after `timeoutSeconds` (290 s): it is resumed from the last version
//!   seen (events or bookmarks); `410 Gone` (version too old) lists again, and a subscribed Pod
//!   missing from the new list counts as deleted;
//! - a watch silent for longer than [`IDLE_LIMIT`] (no events, no bookmarks: a dead connection)
//!   is replaced; failed requests are retried with a doubling delay (1 s … 30 s).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use tokio::sync::watch;

use co_backend::BackendError;

use crate::error;

/// A watch that delivered nothing (not even a bookmark) for this long is presumed dead.
const IDLE_LIMIT: Duration = Duration::from_secs(290 + 60);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// What the watch says about one Pod.
#[derive(Debug, Clone)]
pub(crate) enum PodSeen {
    /// Not seen since the subscription.
    Unknown,
    Present(Arc<Pod>),
    /// Deleted (with its last state, when the event carried it).
    Deleted(Option<Arc<Pod>>),
}

/// The watch's own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WatchState {
    Starting,
    Live,
    /// It never became live; why (it keeps trying).
    Failed(String),
}

/// The watch of one run, and the run's node pin (ReadWriteOnce workspaces).
pub(crate) struct RunWatch {
    shared: Arc<Shared>,
    state: watch::Receiver<WatchState>,
    task: tokio::task::JoinHandle<()>,
    /// The node every Pod of the run is pinned to, once known. Held by the step whose Pod is the
    /// first to be scheduled ("the leader") until its node is known.
    pub(crate) pin: Arc<tokio::sync::Mutex<Option<String>>>,
}

struct Shared {
    pods: Mutex<HashMap<String, watch::Sender<PodSeen>>>,
    pin: Arc<tokio::sync::Mutex<Option<String>>>,
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunWatch {
    /// Start watching the Pods that match `selector`.
    pub(crate) fn start(api: Api<Pod>, selector: String) -> RunWatch {
        let pin = Arc::new(tokio::sync::Mutex::new(None));
        let shared = Arc::new(Shared {
            pods: Mutex::new(HashMap::new()),
            pin: pin.clone(),
        });
        let (tx, rx) = watch::channel(WatchState::Starting);
        let task = tokio::spawn(run(api, selector, shared.clone(), tx));
        RunWatch {
            shared,
            state: rx,
            task,
            pin,
        }
    }

    /// Wait until the watch is established (`Err` if it could not be, with the reason).
    pub(crate) async fn live(&self) -> Result<(), BackendError> {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| !matches!(s, WatchState::Starting))
            .await
            .map(|s| s.clone());
        match result {
            Ok(WatchState::Live) => Ok(()),
            Ok(WatchState::Failed(why)) => Err(BackendError::Other(why)),
            _ => Err(BackendError::Other(
                "the watch of the run's Pods ended".to_string(),
            )),
        }
    }

    /// Updates of the Pod `name` from now on (the current state first).
    pub(crate) fn subscribe(&self, name: &str) -> watch::Receiver<PodSeen> {
        let mut pods = lock(&self.shared.pods);
        pods.entry(name.to_string())
            .or_insert_with(|| watch::channel(PodSeen::Unknown).0)
            .subscribe()
    }

    pub(crate) fn unsubscribe(&self, name: &str) {
        lock(&self.shared.pods).remove(name);
    }

    /// Stop watching.
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn apply(&self, pod: Pod) {
        self.learn_node(&pod);
        let Some(name) = pod.metadata.name.clone() else {
            return;
        };
        if let Some(tx) = lock(&self.pods).get(&name) {
            tx.send_replace(PodSeen::Present(Arc::new(pod)));
        }
    }

    fn deleted(&self, pod: Pod) {
        let Some(name) = pod.metadata.name.clone() else {
            return;
        };
        if let Some(tx) = lock(&self.pods).get(&name) {
            tx.send_replace(PodSeen::Deleted(Some(Arc::new(pod))));
        }
    }

    /// A fresh list: the complete current state.
    fn apply_list(&self, items: Vec<Pod>) {
        let names: HashSet<String> = items
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        for pod in items {
            self.apply(pod);
        }
        for (name, tx) in lock(&self.pods).iter() {
            if !names.contains(name) && matches!(*tx.borrow(), PodSeen::Present(_)) {
                tx.send_replace(PodSeen::Deleted(None));
            }
        }
    }

    /// A Pod of the run is on a node: the run's node, if none is known and no step is busy
    /// finding it (recovery: Pods of an earlier process).
    fn learn_node(&self, pod: &Pod) {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_ref()) else {
            return;
        };
        if let Ok(mut pin) = self.pin.try_lock() {
            if pin.is_none() {
                *pin = Some(node.clone());
            }
        }
    }
}

struct Backoff(Duration);

impl Backoff {
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
    }
    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }
}

async fn run(
    api: Api<Pod>,
    selector: String,
    shared: Arc<Shared>,
    state: watch::Sender<WatchState>,
) {
    let mut version: Option<String> = None;
    let mut backoff = Backoff(BACKOFF_MIN);
    let fail = |doing: &str, e: &kube::Error| {
        let why = error::describe(e);
        tracing::warn!(selector = %selector, error = %why, "{doing} the run's Pods failed; retrying");
        state.send_if_modified(|s| {
            if *s == WatchState::Live {
                return false;
            }
            *s = WatchState::Failed(format!("{doing} the run's Pods ({selector}): {why}"));
            true
        });
    };
    loop {
        let from = match version.take() {
            Some(v) => v,
            None => match api.list(&ListParams::default().labels(&selector)).await {
                Ok(list) => {
                    let v = list.metadata.resource_version.clone().unwrap_or_default();
                    shared.apply_list(list.items);
                    v
                }
                Err(e) => {
                    fail("listing", &e);
                    backoff.wait().await;
                    continue;
                }
            },
        };
        let params = WatchParams::default().labels(&selector);
        let stream = match api.watch(&params, &from).await {
            Ok(s) => s,
            Err(e) => {
                if error::status(&e) != Some(410) {
                    version = Some(from);
                }
                fail("watching", &e);
                backoff.wait().await;
                continue;
            }
        };
        state.send_if_modified(|s| {
            let changed = *s != WatchState::Live;
            *s = WatchState::Live;
            changed
        });
        backoff.reset();
        version = Some(from);
        let mut stream = std::pin::pin!(stream);
        loop {
            let next = match tokio::time::timeout(IDLE_LIMIT, stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    tracing::warn!(selector = %selector, "the watch of the run's Pods went silent; watching again");
                    break;
                }
            };
            match next {
                // Ended by the server (timeoutSeconds): resume from the last version.
                None => break,
                Some(Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod))) => {
                    if let Some(v) = pod.metadata.resource_version.clone() {
                        version = Some(v);
                    }
                    shared.apply(pod);
                }
                Some(Ok(WatchEvent::Deleted(pod))) => {
                    if let Some(v) = pod.metadata.resource_version.clone() {
                        version = Some(v);
                    }
                    shared.deleted(pod);
                }
                Some(Ok(WatchEvent::Bookmark(b))) => {
                    version = Some(b.metadata.resource_version);
                }
                Some(Ok(WatchEvent::Error(status))) if status.code == 410 => {
                    version = None;
                    break;
                }
                Some(Ok(WatchEvent::Error(status))) => {
                    tracing::warn!(selector = %selector, error = %status.message, "the watch of the run's Pods reported an error; watching again");
                    backoff.wait().await;
                    break;
                }
                Some(Err(e)) => {
                    if error::status(&e) == Some(410) {
                        version = None;
                    }
                    tracing::warn!(selector = %selector, error = %error::describe(&e), "the watch of the run's Pods broke; watching again");
                    backoff.wait().await;
                    break;
                }
            }
        }
    }
}

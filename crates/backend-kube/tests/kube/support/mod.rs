//! Shared test helpers: HTTP bodies for the mock API servers, a recording sink, launches, and the
//! mapping of requests to RBAC triples.

pub mod cluster;
pub mod script;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use co_backend::{OutputSink, StepLaunch, Stream};
use co_backend_kube::{ApiCall, KubeOptions, WorkspaceMode};
use http_body_util::{BodyExt, StreamBody};
use tokio::sync::mpsc;

pub const NS: &str = "ns";
pub const RUN: &str = "01jcz8m9qg3d5n2w7x4y6a8b0c";

/// The body type of the mock services' responses.
pub type TestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// A body whose chunks are sent later; it ends when the sender is dropped.
pub fn channel_body() -> (mpsc::UnboundedSender<Bytes>, TestBody) {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(http_body::Frame::data(b)), rx))
    });
    (tx, StreamBody::new(stream).boxed_unsync())
}

/// Options with the given workspace mode and short, distinct grace periods.
pub fn options(workspace: WorkspaceMode) -> KubeOptions {
    KubeOptions {
        namespace: None,
        context: None,
        workspace,
        image_pull_grace: Duration::from_secs(30),
        stop_grace: Duration::from_secs(7),
        unschedulable_grace: Duration::from_secs(120),
    }
}

pub fn rwo() -> WorkspaceMode {
    WorkspaceMode::Pvc {
        storage_class: Some("standard".into()),
        size: "2Gi".into(),
        read_write_many: false,
    }
}

pub fn launch(step: &str, attempt: u32) -> StepLaunch {
    StepLaunch {
        run_id: RUN.into(),
        workflow: "hello".into(),
        step_key: step.into(),
        attempt,
        image: "localhost/co-examples/busybox:latest".into(),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo \"[COUT] greeting = hello $CO_INPUT_WHO\"".into(),
        ]),
        env: vec![
            ("CO_INPUT_WHO".into(), "world".into()),
            ("CO_ATTEMPT".into(), attempt.to_string()),
        ],
        cpu_millis: Some(500),
        memory_bytes: Some(64 << 20),
        kubernetes: None,
        swarm: None,
        files: Vec::new(),
    }
}

/// Everything a backend gave a sink.
#[derive(Debug, Default)]
pub struct Recorded {
    pub started: Vec<String>,
    pub chunks: Vec<(Stream, Vec<u8>)>,
    /// For each chunk, the time the backend gave with it (`output_at`), if any.
    pub times: Vec<Option<i64>>,
}

impl Recorded {
    pub fn text(&self, stream: Stream) -> String {
        let bytes: Vec<u8> = self
            .chunks
            .iter()
            .filter(|(s, _)| *s == stream)
            .flat_map(|(_, b)| b.clone())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The output as (time, text) runs: consecutive chunks with the same time merged.
    pub fn timed(&self) -> Vec<(Option<i64>, String)> {
        let mut out: Vec<(Option<i64>, String)> = Vec::new();
        for ((_, bytes), at) in self.chunks.iter().zip(&self.times) {
            let text = String::from_utf8_lossy(bytes);
            match out.last_mut() {
                Some((t, s)) if t == at => s.push_str(&text),
                _ => out.push((*at, text.into_owned())),
            }
        }
        out
    }
}

#[async_trait::async_trait]
impl OutputSink for Recorded {
    fn started(&mut self, container_id: &str) {
        self.started.push(container_id.to_string());
    }
    async fn output(&mut self, stream: Stream, bytes: &[u8]) {
        assert!(!self.started.is_empty(), "output before started()");
        self.chunks.push((stream, bytes.to_vec()));
        self.times.push(None);
    }
    async fn output_at(&mut self, stream: Stream, bytes: &[u8], at: i64) {
        assert!(!self.started.is_empty(), "output before started()");
        self.chunks.push((stream, bytes.to_vec()));
        self.times.push(Some(at));
    }
}

/// The RBAC triple of one request (`None`: not a namespaced resource, e.g. `/version`).
pub fn api_call(method: &str, path: &str, query: &[(String, String)]) -> Option<ApiCall> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", "namespaces", _ns, rest @ ..] => ("", rest),
        ["apis", _g, _v, "namespaces", _ns, rest @ ..] => ("?", rest),
        _ => return None,
    };
    let resource: &'static str = match rest {
        [r, ..] => leak(r),
        [] => return None,
    };
    let watch = query.iter().any(|(k, v)| k == "watch" && v == "true");
    let (resource, verb) = match (rest.len(), method) {
        (1, "GET") if watch => (resource, "watch"),
        (1, "GET") => (resource, "list"),
        (1, "POST") => (resource, "create"),
        (1, "DELETE") => (resource, "deletecollection"),
        (2, "GET") => (resource, "get"),
        (2, "DELETE") => (resource, "delete"),
        (2, "PUT") => (resource, "update"),
        (2, "PATCH") => (resource, "patch"),
        (3, m) => (
            leak(&format!("{resource}/{}", rest[2])),
            match m {
                "GET" => "get",
                "POST" => "create",
                _ => "other",
            },
        ),
        _ => (resource, "other"),
    };
    Some(ApiCall {
        group: if group == "?" { "non-core" } else { "" },
        resource,
        verb,
    })
}

/// Test-only: resource names as `&'static str` (a handful per test process).
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

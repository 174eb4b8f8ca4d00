//! A scripted API server, kube's documented `tower-test` pattern: the backend's `kube::Client`
//! sends its requests to a mock service; the test takes them one by one, asserts method, path,
//! query and body, and answers each (JSON, an error `Status`, or a body it streams later: watch
//! events, log bytes).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tower_test::mock::{self, Handle, SendResponse};

use super::{api_call, channel_body, full, TestBody, NS};
use co_backend_kube::ApiCall;

pub const PODS: &str = "/api/v1/namespaces/ns/pods";
pub const PVCS: &str = "/api/v1/namespaces/ns/persistentvolumeclaims";
pub const SECRETS: &str = "/api/v1/namespaces/ns/secrets";

/// The other end of the backend's client.
pub struct ApiServer {
    handle: Handle<Request<Body>, Response<TestBody>>,
    /// Every request so far, as RBAC triples.
    pub calls: Vec<ApiCall>,
}

/// A client whose requests go to the returned [`ApiServer`].
pub fn pair() -> (kube::Client, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<TestBody>>();
    (
        kube::Client::new(service, NS),
        ApiServer {
            handle,
            calls: Vec::new(),
        },
    )
}

/// One request, to be answered.
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The JSON body (`Null` when empty).
    pub body: Value,
    send: SendResponse<Response<TestBody>>,
}

impl ApiServer {
    /// The next request. Under paused time, a request that never comes fails the test after an
    /// hour of virtual time (when nothing else is left to do) instead of hanging.
    pub async fn next(&mut self) -> Exchange {
        let next = tokio::time::timeout(Duration::from_secs(3600), self.handle.next_request())
            .await
            .expect("the backend made no further request")
            .expect("the client is gone");
        let (req, send) = next;
        let (parts, body) = req.into_parts();
        let bytes = body.collect_bytes().await.expect("request body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON request body")
        };
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| {
                url_pairs(q)
                    .into_iter()
                    .filter(|(k, _)| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let path = parts.uri.path().to_string();
        let method = parts.method.to_string();
        if let Some(call) = api_call(&method, &path, &query) {
            self.calls.push(call);
        }
        Exchange {
            method,
            path,
            query,
            body,
            send,
        }
    }

    /// The next request must be exactly `method path?query` (query pairs in order).
    pub async fn expect(&mut self, method: &str, path: &str, query: &[(&str, &str)]) -> Exchange {
        let ex = self.next().await;
        let want: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            (ex.method.as_str(), ex.path.as_str(), &ex.query),
            (method, path, &want),
            "unexpected request (body: {})",
            ex.body
        );
        ex
    }

    /// `GET pods?labelSelector=…` (the run's watch starting) answered with `items` at `rv`.
    pub async fn expect_list(&mut self, selector: &str, items: Vec<Value>, rv: &str) {
        self.expect("GET", PODS, &[("labelSelector", selector)])
            .await
            .json(200, pod_list(items, rv));
    }

    /// `GET pods?watch=true…` from `rv`, answered with an event stream.
    pub async fn expect_watch(&mut self, selector: &str, rv: &str) -> Events {
        Events(
            self.expect(
                "GET",
                PODS,
                &[
                    ("watch", "true"),
                    ("timeoutSeconds", "290"),
                    ("labelSelector", selector),
                    ("allowWatchBookmarks", "true"),
                    ("resourceVersion", rv),
                ],
            )
            .await
            .stream(),
        )
    }

    /// `GET pods/{name}/log?container=step&follow=true`, answered with a byte stream.
    pub async fn expect_log(&mut self, name: &str) -> Log {
        self.log_read(name, &[]).await
    }

    /// The same with `timestamps=true` (a reattached Pod's log): the test writes the kubelet's
    /// time before each line.
    pub async fn expect_stamped_log(&mut self, name: &str) -> Log {
        self.log_read(name, &[("timestamps", "true")]).await
    }

    async fn log_read(&mut self, name: &str, more: &[(&str, &str)]) -> Log {
        let mut query = vec![("container", "step"), ("follow", "true")];
        query.extend_from_slice(more);
        Log(Some(
            self.expect("GET", &format!("{PODS}/{name}/log"), &query)
                .await
                .stream(),
        ))
    }

    /// `DELETE pods/{name}` with exactly `body`, answered with `pod`.
    pub async fn expect_delete(&mut self, name: &str, body: Value, pod: Value) {
        let ex = self.expect("DELETE", &format!("{PODS}/{name}"), &[]).await;
        assert_eq!(ex.body, body, "delete options of {name}");
        ex.json(200, pod);
    }

    /// No request is waiting (everything the backend sent was taken).
    pub fn assert_idle(&mut self) {
        if let std::task::Poll::Ready(Some((req, _))) = self.handle.poll_request() {
            panic!("unexpected request {} {}", req.method(), req.uri());
        }
    }
}

/// `a=b&c=d` → pairs, percent-decoded.
fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

impl Exchange {
    pub fn json(self, status: u16, body: Value) {
        let resp = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(full(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        self.send.send_response(resp);
    }

    /// An API error (`Status`).
    pub fn status(self, code: u16, reason: &str, message: &str) {
        self.json(
            code,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "code": code, "reason": reason, "message": message}),
        );
    }

    /// 200 with a body sent later through the returned sender.
    pub fn stream(self) -> mpsc::UnboundedSender<Bytes> {
        let (tx, body) = channel_body();
        let resp = Response::builder().status(200).body(body).unwrap();
        self.send.send_response(resp);
        tx
    }
}

/// A watch response being streamed.
pub struct Events(pub mpsc::UnboundedSender<Bytes>);

impl Events {
    pub fn send(&self, kind: &str, object: &Value) {
        let line = format!("{}\n", json!({"type": kind, "object": object}));
        let _ = self.0.send(Bytes::from(line));
    }
}

/// A followed log being streamed.
pub struct Log(Option<mpsc::UnboundedSender<Bytes>>);

impl Log {
    pub fn write(&self, text: &str) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(Bytes::copy_from_slice(text.as_bytes()));
        }
    }
    /// The container exited: the followed read ends.
    pub fn end(&mut self) {
        self.0 = None;
    }
}

// ---- Kubernetes objects ---------------------------------------------------------------------

pub fn pod_list(items: Vec<Value>, rv: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": rv}, "items": items})
}

/// `pod` (as created) at resource version `rv` with `status`, on `node` if scheduled.
pub fn pod_at(pod: &Value, rv: u64, node: Option<&str>, status: Value) -> Value {
    let mut p = pod.clone();
    p["metadata"]["resourceVersion"] = json!(rv.to_string());
    p["metadata"]["namespace"] = json!(NS);
    p["metadata"]["uid"] = json!(format!(
        "uid-{}",
        p["metadata"]["name"].as_str().unwrap_or("")
    ));
    if let Some(node) = node {
        p["spec"]["nodeName"] = json!(node);
    }
    p["status"] = status;
    p
}

pub fn deleting(pod: &Value) -> Value {
    let mut p = pod.clone();
    p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:10Z");
    p
}

fn container(state: Value) -> Value {
    json!([{"name": "step", "image": "img", "imageID": "", "ready": false,
            "restartCount": 0, "state": state}])
}

pub fn pending() -> Value {
    json!({"phase": "Pending"})
}

pub fn scheduled() -> Value {
    json!({"phase": "Pending",
           "conditions": [{"type": "PodScheduled", "status": "True"}],
           "containerStatuses": container(json!({"waiting": {"reason": "ContainerCreating"}}))})
}

pub fn unschedulable(message: &str) -> Value {
    json!({"phase": "Pending",
           "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": message}]})
}

pub fn waiting(reason: &str, message: &str) -> Value {
    json!({"phase": "Pending",
           "conditions": [{"type": "PodScheduled", "status": "True"}],
           "containerStatuses": container(json!({"waiting": {"reason": reason, "message": message}}))})
}

pub fn running() -> Value {
    json!({"phase": "Running",
           "containerStatuses": container(json!({"running": {"startedAt": "2026-01-01T00:00:01Z"}}))})
}

pub fn terminated(code: i32, reason: &str) -> Value {
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    json!({"phase": phase,
           "containerStatuses": container(json!({"terminated": {"exitCode": code, "reason": reason}}))})
}

pub fn evicted(message: &str) -> Value {
    json!({"phase": "Failed", "reason": "Evicted", "message": message,
           "containerStatuses": container(json!({"terminated": {"exitCode": 137, "reason": "Error"}}))})
}

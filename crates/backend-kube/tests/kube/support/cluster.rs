//! A small in-memory fake of the Kubernetes API endpoints the backend uses (Pods, their logs,
//! PersistentVolumeClaims, list and watch with label selectors), served as the tower `Service`
//! behind a `kube::Client`. **It is not a cluster**: there is no scheduler, kubelet or container;
//! each Pod does what the test's script says (print this, exit with that, be OOM-killed, fail to
//! pull, stay unschedulable, be evicted, vanish, run until deleted) the moment it is created.
//! What it does model faithfully is the API surface: resource versions, watch events in order
//! (replayed from the version asked for), followed logs that end when the container exits,
//! `409 AlreadyExists`, `404 NotFound`, `400` for the log of a container that has not started,
//! graceful deletion (`deletionTimestamp`, SIGTERM exit 143, then `DELETED`), the kubelet's
//! `$(VAR)`/`$$` expansion of command and env, and `nodeSelector` against its one node.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use co_backend_kube::ApiCall;
use http::{Request, Response};
use indexmap::IndexMap;
use kube::client::Body;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tower_test::mock;

use super::{api_call, channel_body, full, TestBody, NS};

/// The fake's only node.
pub const NODE: &str = "node-1";

/// A created Pod as its container would see it.
#[derive(Debug, Clone)]
pub struct LaunchedPod {
    pub name: String,
    pub step: String,
    pub attempt: u32,
    pub image: String,
    /// After the kubelet's expansion.
    pub command: Option<Vec<String>>,
    /// After the kubelet's expansion, in order.
    pub env: IndexMap<String, String>,
    /// The Pod as posted.
    pub posted: Value,
}

impl LaunchedPod {
    pub fn env(&self, name: &str) -> &str {
        self.env.get(name).map(String::as_str).unwrap_or("")
    }
}

/// What a scripted Pod does.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Exit {
        output: String,
        code: i32,
    },
    OomKilled {
        output: String,
    },
    /// Runs (after printing `output`) until deleted.
    Hang {
        output: String,
    },
    PullError,
    Unschedulable(String),
    Evicted {
        output: String,
    },
    /// Deleted by someone else while it runs.
    Vanish {
        output: String,
    },
}

impl Behaviour {
    pub fn ok(output: impl Into<String>) -> Behaviour {
        Behaviour::Exit {
            output: output.into(),
            code: 0,
        }
    }
    pub fn exit(output: impl Into<String>, code: i32) -> Behaviour {
        Behaviour::Exit {
            output: output.into(),
            code,
        }
    }
}

type Script = Arc<dyn Fn(&LaunchedPod) -> Behaviour + Send + Sync>;

#[derive(Clone)]
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct LogBuf {
    data: Vec<u8>,
    done: bool,
    followers: Vec<mpsc::UnboundedSender<Bytes>>,
}

struct Watcher {
    selector: Vec<(String, String)>,
    tx: mpsc::UnboundedSender<Bytes>,
}

struct State {
    rv: u64,
    pods: BTreeMap<String, Value>,
    pvcs: BTreeMap<String, Value>,
    pvcs_created: Vec<Value>,
    logs: HashMap<String, LogBuf>,
    events: Vec<(u64, &'static str, Value)>,
    watchers: Vec<Watcher>,
    script: Script,
    launched: Vec<LaunchedPod>,
    calls: Vec<ApiCall>,
    pod_deletes: Vec<(String, Value)>,
    unexpected: Vec<String>,
}

impl FakeCluster {
    pub fn new(script: impl Fn(&LaunchedPod) -> Behaviour + Send + Sync + 'static) -> FakeCluster {
        FakeCluster {
            state: Arc::new(Mutex::new(State {
                rv: 100,
                pods: BTreeMap::new(),
                pvcs: BTreeMap::new(),
                pvcs_created: Vec::new(),
                logs: HashMap::new(),
                events: Vec::new(),
                watchers: Vec::new(),
                script: Arc::new(script),
                launched: Vec::new(),
                calls: Vec::new(),
                pod_deletes: Vec::new(),
                unexpected: Vec::new(),
            })),
        }
    }

    /// A client whose requests this fake answers (a task on the current runtime).
    pub fn client(&self) -> kube::Client {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<TestBody>>();
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let resp = me.handle(req).await;
                send.send_response(resp);
            }
        });
        kube::Client::new(service, NS)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn pod_names(&self) -> Vec<String> {
        self.lock().pods.keys().cloned().collect()
    }
    pub fn pvc_names(&self) -> Vec<String> {
        self.lock().pvcs.keys().cloned().collect()
    }
    /// Every PVC created so far (as created), deleted or not.
    pub fn pvcs_created(&self) -> Vec<Value> {
        self.lock().pvcs_created.clone()
    }
    pub fn launched(&self) -> Vec<LaunchedPod> {
        self.lock().launched.clone()
    }
    pub fn calls(&self) -> Vec<ApiCall> {
        self.lock().calls.clone()
    }
    /// Every Pod deletion: name and delete options.
    pub fn pod_deletes(&self) -> Vec<(String, Value)> {
        self.lock().pod_deletes.clone()
    }
    pub fn unexpected(&self) -> Vec<String> {
        self.lock().unexpected.clone()
    }

    async fn handle(&self, req: Request<Body>) -> Response<TestBody> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        let path = parts.uri.path().to_string();
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), decode(v))
            })
            .collect();
        let q = |k: &str| {
            query
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let method = parts.method.to_string();
        let mut st = self.lock();
        if let Some(call) = api_call(&method, &path, &query) {
            st.calls.push(call);
        }
        let rest = path
            .strip_prefix(&format!("/api/v1/namespaces/{NS}/"))
            .unwrap_or("");
        let segs: Vec<&str> = rest.split('/').collect();
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["pods"]) if q("watch").as_deref() == Some("true") => {
                let selector = parse_selector(&q("labelSelector").unwrap_or_default());
                let from: u64 = q("resourceVersion")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let (tx, body) = channel_body();
                for (rv, kind, obj) in &st.events {
                    if *rv > from && matches(obj, &selector) {
                        let _ = tx.send(event_line(kind, obj));
                    }
                }
                st.watchers.push(Watcher { selector, tx });
                respond(200, body)
            }
            ("GET", ["pods"]) => {
                let selector = parse_selector(&q("labelSelector").unwrap_or_default());
                let items: Vec<Value> = st
                    .pods
                    .values()
                    .filter(|p| matches(p, &selector))
                    .cloned()
                    .collect();
                json_response(
                    200,
                    json!({"apiVersion": "v1", "kind": "PodList",
                           "metadata": {"resourceVersion": st.rv.to_string()}, "items": items}),
                )
            }
            ("POST", ["pods"]) => st.create_pod(body),
            ("GET", ["pods", name]) => match st.pods.get(*name) {
                Some(p) => json_response(200, p.clone()),
                None => not_found("pods", name),
            },
            ("DELETE", ["pods", name]) => st.delete_pod(name, body),
            ("GET", ["pods", name, "log"]) => st.log(name, q("follow").as_deref() == Some("true")),
            ("POST", ["persistentvolumeclaims"]) => {
                let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
                if st.pvcs.contains_key(&name) {
                    return status(
                        409,
                        "AlreadyExists",
                        &format!("persistentvolumeclaims \"{name}\" already exists"),
                    );
                }
                st.rv += 1;
                let mut pvc = body;
                pvc["metadata"]["resourceVersion"] = json!(st.rv.to_string());
                pvc["metadata"]["namespace"] = json!(NS);
                pvc["status"] = json!({"phase": "Pending"});
                st.pvcs.insert(name, pvc.clone());
                st.pvcs_created.push(pvc.clone());
                json_response(201, pvc)
            }
            ("GET", ["persistentvolumeclaims", name]) => match st.pvcs.get(*name) {
                Some(p) => json_response(200, p.clone()),
                None => not_found("persistentvolumeclaims", name),
            },
            ("DELETE", ["persistentvolumeclaims", name]) => match st.pvcs.remove(*name) {
                Some(p) => json_response(200, p),
                None => not_found("persistentvolumeclaims", name),
            },
            _ => {
                st.unexpected.push(format!("{method} {path}"));
                status(404, "NotFound", "the fake does not serve this")
            }
        }
    }
}

impl State {
    fn bump(&mut self, pod: &mut Value) {
        self.rv += 1;
        pod["metadata"]["resourceVersion"] = json!(self.rv.to_string());
    }

    fn emit(&mut self, kind: &'static str, obj: &Value) {
        let rv: u64 = obj["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.rv);
        self.events.push((rv, kind, obj.clone()));
        let line = event_line(kind, obj);
        self.watchers
            .retain(|w| !matches(obj, &w.selector) || w.tx.send(line.clone()).is_ok());
    }

    /// Change a Pod's status (a MODIFIED event).
    fn update(&mut self, name: &str, f: impl FnOnce(&mut Value)) {
        let Some(mut pod) = self.pods.get(name).cloned() else {
            return;
        };
        f(&mut pod);
        self.bump(&mut pod);
        self.pods.insert(name.to_string(), pod.clone());
        self.emit("MODIFIED", &pod);
    }

    fn remove(&mut self, name: &str) {
        if let Some(mut pod) = self.pods.remove(name) {
            self.bump(&mut pod);
            self.emit("DELETED", &pod);
        }
        self.end_log(name);
    }

    fn append_log(&mut self, name: &str, text: &str) {
        let log = self.logs.entry(name.to_string()).or_default();
        log.data.extend_from_slice(text.as_bytes());
        let chunk = Bytes::copy_from_slice(text.as_bytes());
        log.followers.retain(|f| f.send(chunk.clone()).is_ok());
    }

    fn end_log(&mut self, name: &str) {
        let log = self.logs.entry(name.to_string()).or_default();
        log.done = true;
        log.followers.clear();
    }

    fn start(&mut self, name: &str) {
        self.update(name, |p| {
            p["status"] = json!({"phase": "Running",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": container(json!({"running": {"startedAt": "2026-01-01T00:00:01Z"}}))});
        });
    }

    fn terminate(&mut self, name: &str, code: i32, reason: &str) {
        self.update(name, |p| {
            let phase = if code == 0 { "Succeeded" } else { "Failed" };
            p["status"] = json!({"phase": phase,
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": container(json!({"terminated": {"exitCode": code, "reason": reason}}))});
        });
        self.end_log(name);
    }

    fn create_pod(&mut self, mut pod: Value) -> Response<TestBody> {
        let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
        if self.pods.contains_key(&name) {
            return status(
                409,
                "AlreadyExists",
                &format!("pods \"{name}\" already exists"),
            );
        }
        let posted = pod.clone();
        self.bump(&mut pod);
        pod["metadata"]["namespace"] = json!(NS);
        pod["metadata"]["uid"] = json!(format!("uid-{name}"));
        pod["status"] = json!({"phase": "Pending"});
        self.pods.insert(name.clone(), pod.clone());
        self.emit("ADDED", &pod);
        let launched = launched(&name, posted);
        let behaviour = (self.script)(&launched);
        self.launched.push(launched);

        // Scheduling: the one node, if the Pod's nodeSelector allows it.
        let selector = pod["spec"]["nodeSelector"].clone();
        let fits = selector
            .as_object()
            .map(|m| {
                m.iter()
                    .all(|(k, v)| k != "kubernetes.io/hostname" || v == NODE)
            })
            .unwrap_or(true);
        let unschedulable = |st: &mut State, message: &str| {
            st.update(&name, |p| {
                p["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
                    "status": "False", "reason": "Unschedulable", "message": message}]});
            });
        };
        if !fits {
            unschedulable(
                self,
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
            );
            return json_response(201, pod);
        }
        if let Behaviour::Unschedulable(message) = &behaviour {
            unschedulable(self, message);
            return json_response(201, pod);
        }
        self.update(&name, |p| {
            p["spec"]["nodeName"] = json!(NODE);
            p["status"] = json!({"phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": container(json!({"waiting": {"reason": "ContainerCreating"}}))});
        });
        let image = pod["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
            .to_string();
        match behaviour {
            Behaviour::PullError => {
                self.update(&name, |p| {
                    p["status"]["containerStatuses"] = container(json!({"waiting": {
                        "reason": "ErrImagePull",
                        "message": format!("rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found")}}));
                });
            }
            Behaviour::Exit { output, code } => {
                self.start(&name);
                self.append_log(&name, &output);
                let reason = if code == 0 { "Completed" } else { "Error" };
                self.terminate(&name, code, reason);
            }
            Behaviour::OomKilled { output } => {
                self.start(&name);
                self.append_log(&name, &output);
                self.terminate(&name, 137, "OOMKilled");
            }
            Behaviour::Hang { output } => {
                self.start(&name);
                self.append_log(&name, &output);
            }
            Behaviour::Evicted { output } => {
                self.start(&name);
                self.append_log(&name, &output);
                self.update(&name, |p| {
                    p["status"] = json!({"phase": "Failed", "reason": "Evicted",
                        "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 12Mi.",
                        "containerStatuses": container(json!({"terminated": {"exitCode": 137, "reason": "Error"}}))});
                });
                self.end_log(&name);
            }
            Behaviour::Vanish { output } => {
                self.start(&name);
                self.append_log(&name, &output);
                self.update(&name, |p| {
                    p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:09Z");
                });
                self.remove(&name);
            }
            Behaviour::Unschedulable(_) => {}
        }
        json_response(201, pod)
    }

    fn delete_pod(&mut self, name: &str, options: Value) -> Response<TestBody> {
        let Some(pod) = self.pods.get(name).cloned() else {
            return not_found("pods", name);
        };
        self.pod_deletes.push((name.to_string(), options));
        let running = pod["status"]["containerStatuses"][0]["state"]["running"].is_object();
        if running {
            // Graceful: marked, SIGTERM (the fake's processes exit on it), then gone.
            self.update(name, |p| {
                p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:09Z");
            });
            self.terminate(name, 143, "Error");
        }
        let last = self.pods.get(name).cloned().unwrap_or(pod);
        self.remove(name);
        json_response(200, last)
    }

    fn log(&mut self, name: &str, follow: bool) -> Response<TestBody> {
        let Some(pod) = self.pods.get(name) else {
            return not_found("pods", name);
        };
        let state = &pod["status"]["containerStatuses"][0]["state"];
        if !state["running"].is_object() && !state["terminated"].is_object() {
            return status(
                400,
                "BadRequest",
                &format!(
                    "container \"step\" in pod \"{name}\" is waiting to start: ContainerCreating"
                ),
            );
        }
        let log = self.logs.entry(name.to_string()).or_default();
        if !follow {
            return respond(200, full(log.data.clone()));
        }
        let (tx, body) = channel_body();
        if !log.data.is_empty() {
            let _ = tx.send(Bytes::copy_from_slice(&log.data));
        }
        if !log.done {
            log.followers.push(tx);
        }
        respond(200, body)
    }
}

fn container(state: Value) -> Value {
    json!([{"name": "step", "image": "img", "imageID": "", "ready": false,
            "restartCount": 0, "state": state}])
}

fn launched(name: &str, posted: Value) -> LaunchedPod {
    let c = &posted["spec"]["containers"][0];
    let mut env: IndexMap<String, String> = IndexMap::new();
    for e in c["env"].as_array().into_iter().flatten() {
        let k = e["name"].as_str().unwrap_or("").to_string();
        let v = expand(e["value"].as_str().unwrap_or(""), &env);
        env.insert(k, v);
    }
    let command = c["command"].as_array().map(|a| {
        a.iter()
            .map(|s| expand(s.as_str().unwrap_or(""), &env))
            .collect()
    });
    let annotations = &posted["metadata"]["annotations"];
    LaunchedPod {
        name: name.to_string(),
        step: annotations["containerops.step"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        attempt: annotations["containerops.attempt"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or(0),
        image: c["image"].as_str().unwrap_or("").to_string(),
        command,
        env,
        posted,
    }
}

/// The kubelet's expansion: `$$` → `$`, `$(NAME)` → NAME's value if defined, else verbatim.
pub fn expand(s: &str, env: &IndexMap<String, String>) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            out.push_str(&s[last..i]);
            match b[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                }
                b'(' => match s[i + 2..].find(')') {
                    Some(end) => {
                        let var = &s[i + 2..i + 2 + end];
                        match env.get(var) {
                            Some(v) => out.push_str(v),
                            None => out.push_str(&s[i..i + 3 + end]),
                        }
                        i += 3 + end;
                    }
                    None => {
                        out.push_str("$(");
                        i += 2;
                    }
                },
                _ => {
                    out.push('$');
                    i += 1;
                }
            }
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

fn parse_selector(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn matches(obj: &Value, selector: &[(String, String)]) -> bool {
    selector
        .iter()
        .all(|(k, v)| obj["metadata"]["labels"][k].as_str() == Some(v.as_str()))
}

fn event_line(kind: &str, obj: &Value) -> Bytes {
    Bytes::from(format!("{}\n", json!({"type": kind, "object": obj})))
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
            i += 3;
        } else if b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(code: u16, body: TestBody) -> Response<TestBody> {
    Response::builder().status(code).body(body).unwrap()
}

fn json_response(code: u16, body: Value) -> Response<TestBody> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Response<TestBody> {
    json_response(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
               "reason": reason, "message": message}),
    )
}

fn not_found(kind: &str, name: &str) -> Response<TestBody> {
    status(404, "NotFound", &format!("{kind} \"{name}\" not found"))
}

#[test]
fn kubelet_expansion() {
    let env: IndexMap<String, String> = [("A".to_string(), "1".to_string())].into();
    assert_eq!(
        expand("$$(A) $(A) $(B) $$ $x $", &env),
        "$(A) 1 $(B) $ $x $"
    );
}

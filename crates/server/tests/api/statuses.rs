//! Commit statuses: runs started by `github`/`gitlab` triggers with `status:` report queued,
//! running and their end to a forge API — here a real HTTP server on loopback that records what
//! it receives (and can answer 500, or not at all). Every wait is on what it received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::support::{both_stores, captured_logs, Api, TestDb, TestServer, BUSYBOX, PATIENCE};

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const HOOK_SECRET: &str = "status-hook-secret";
const FORGE_TOKEN: &str = "forge-api-token-4711";

/// How the recorder answers a request.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Created,
    Fail,
    /// Never answers (the client's timeout ends it).
    Hang,
}

#[derive(Clone, Debug)]
struct Received {
    path: String,
    auth: Option<String>,
    signature: Option<String>,
    raw: Vec<u8>,
    body: Value,
    answered: &'static str,
}

#[derive(Clone, Default)]
struct Recorder {
    received: Arc<Mutex<Vec<Received>>>,
    /// Answers for the next requests, in order; `Created` when empty.
    script: Arc<Mutex<VecDeque<Answer>>>,
    arrived: Arc<Notify>,
}

async fn record(State(r): State<Recorder>, request: Request) -> StatusCode {
    let path = request.uri().path().to_string();
    let headers = request.headers().clone();
    let auth = headers
        .get("authorization")
        .or_else(|| headers.get("private-token"))
        .map(|v| v.to_str().unwrap().to_string());
    let signature = headers
        .get("x-containerops-signature-256")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let answer = r
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Created);
    r.received.lock().unwrap().push(Received {
        path,
        auth,
        signature,
        raw: bytes.to_vec(),
        body: serde_json::from_slice(&bytes).unwrap(),
        answered: match answer {
            Answer::Created => "201",
            Answer::Fail => "500",
            Answer::Hang => "none",
        },
    });
    r.arrived.notify_waiters();
    match answer {
        Answer::Created => StatusCode::CREATED,
        Answer::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Answer::Hang => std::future::pending().await,
    }
}

impl Recorder {
    /// A recorder on a random loopback port; returns it and its base URL.
    async fn start(script: &[Answer]) -> (Recorder, String) {
        let recorder = Recorder::default();
        recorder
            .script
            .lock()
            .unwrap()
            .extend(script.iter().copied());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(recorder.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (recorder, url)
    }

    /// Wait until a request whose state is final was answered 201; everything received by then.
    async fn until_final(&self) -> Vec<Received> {
        self.until(|r| {
            r.answered == "201"
                && ["success", "failure", "failed", "error", "canceled"]
                    .contains(&r.body["state"].as_str().unwrap_or(""))
        })
        .await
    }

    /// Wait until a request that `done` accepts was received; everything received by then.
    async fn until(&self, done: impl Fn(&Received) -> bool) -> Vec<Received> {
        let wait = async {
            loop {
                let arrived = self.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                let got = self.received.lock().unwrap().clone();
                if got.iter().any(&done) {
                    return got;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .unwrap_or_else(|_| panic!("not received: {:?}", self.received.lock().unwrap()))
    }
}

fn workflow(kind: &str, api: &str, exit: u8) -> String {
    format!(
        "name: reported
triggers:
  - {kind}: {{ secret: HOOK, status: {{ token: FORGE_TOKEN, api-url: \"{api}\" }} }}
stages:
  - name: s
    actions:
      - name: check
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"exit {exit}\"]
"
    )
}

fn options(config: &mut co_server::ServerConfig) {
    let s = &mut config.statuses;
    s.public_url = Some("https://ci.example.com/".into());
    s.first_delay = Duration::from_millis(20);
    s.max_delay = Duration::from_millis(40);
    s.timeout = Duration::from_millis(500);
}

async fn server(db: &TestDb, docker: bool) -> (TestServer, Api) {
    let mut config = db.config();
    if docker {
        config.backend = co_server::config::BackendKind::Docker;
    }
    options(&mut config);
    let server = TestServer::start_with(config).await;
    let api = server.api();
    api.set_secret("HOOK", HOOK_SECRET).await;
    api.set_secret("FORGE_TOKEN", FORGE_TOKEN).await;
    (server, api)
}

/// Deliver a GitHub push of SHA to o/r (signed as GitHub signs) or a GitLab push to project 42.
async fn deliver(api: &Api, kind: &str) -> String {
    let (body, headers) = if kind == "github" {
        let body = serde_json::to_vec(
            &json!({"ref": "refs/heads/main", "after": SHA, "repository": {"full_name": "o/r"}}),
        )
        .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
        mac.update(&body);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        (
            body,
            vec![
                ("x-github-event", "push".to_string()),
                ("x-hub-signature-256", signature),
            ],
        )
    } else {
        let body = serde_json::to_vec(
            &json!({"ref": "refs/heads/main", "checkout_sha": SHA, "project": {"id": 42}}),
        )
        .unwrap();
        (
            body,
            vec![
                ("x-gitlab-event", "Push Hook".to_string()),
                ("x-gitlab-token", HOOK_SECRET.to_string()),
            ],
        )
    };
    let mut request = api
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/hooks/reported/{kind}"),
        )
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answer = api.send(request).await.expect(201);
    answer["run_id"].as_str().unwrap().to_string()
}

fn states(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| format!("{} {}", r.body["state"].as_str().unwrap(), r.answered))
        .collect()
}

/// Every transition of a run on real Podman, to GitHub's statuses API: pending (queued),
/// pending (running), success — each with the link to the run's page and the token.
async fn github_reports_every_transition(db: &TestDb) {
    let (recorder, url) = Recorder::start(&[]).await;
    let (server, api) = server(db, true).await;
    api.apply("reported", &workflow("github", &url, 0)).await;
    let run = deliver(&api, "github").await;
    assert_eq!(api.wait(&run).await, "succeeded");
    let got = recorder.until_final().await;
    assert_eq!(states(&got), ["pending 201", "pending 201", "success 201"]);
    let descriptions: Vec<&str> = got
        .iter()
        .map(|r| r.body["description"].as_str().unwrap())
        .collect();
    assert_eq!(descriptions, ["queued", "running", "succeeded"]);
    for r in &got {
        assert_eq!(r.path, format!("/api/repos/o/r/statuses/{SHA}"));
        assert_eq!(r.auth.as_deref(), Some(&*format!("Bearer {FORGE_TOKEN}")));
        assert_eq!(r.body["context"], "containerops/reported");
        assert_eq!(
            r.body["target_url"],
            format!("https://ci.example.com/ui/runs/{run}")
        );
    }
    // The token is a secret: not in the run's trigger value, nor in the log.
    let shown = api.get(&format!("/api/v1/runs/{run}")).await.expect(200);
    assert!(!shown.to_string().contains(FORGE_TOKEN));
    assert_eq!(shown["trigger"]["commit_status"]["token"], "FORGE_TOKEN");
    assert!(!captured_logs().contains(FORGE_TOKEN));
    server.stop().await;
}

/// GitLab's commit status API: pending, running, failed for a failing step.
async fn gitlab_reports_every_transition(db: &TestDb) {
    let (recorder, url) = Recorder::start(&[]).await;
    let (server, api) = server(db, true).await;
    api.apply("reported", &workflow("gitlab", &url, 3)).await;
    let run = deliver(&api, "gitlab").await;
    assert_eq!(api.wait(&run).await, "failed");
    let got = recorder.until_final().await;
    assert_eq!(states(&got), ["pending 201", "running 201", "failed 201"]);
    for r in &got {
        assert_eq!(r.path, format!("/api/projects/42/statuses/{SHA}"));
        assert_eq!(r.auth.as_deref(), Some(FORGE_TOKEN));
        assert_eq!(r.body["name"], "containerops/reported");
    }
    server.stop().await;
}

/// A forge that answers 500, then does not answer at all: each status is tried again, the
/// final one is posted, nothing is posted after it, and the run's result is its own.
async fn failed_posts_are_tried_again(db: &TestDb) {
    let (recorder, url) = Recorder::start(&[Answer::Fail, Answer::Fail, Answer::Hang]).await;
    let (server, api) = server(db, false).await;
    api.apply("reported", &workflow("gitlab", &url, 0)).await;
    let run = deliver(&api, "gitlab").await;
    assert_eq!(api.wait(&run).await, "succeeded");
    let got = recorder.until_final().await;
    let states = states(&got);
    assert_eq!(
        states[..4],
        ["pending 500", "pending 500", "pending none", "pending 201"]
    );
    // `running` is posted unless the run was over first; the final status is last.
    assert_eq!(states.last().unwrap(), "success 201", "{states:?}");
    assert!(states.len() <= 6, "{states:?}");
    let logs = captured_logs();
    assert!(
        logs.contains("commit status not posted; trying again"),
        "{logs}"
    );
    server.stop().await;
}

/// A forge that is down: the run finishes with its own result, the failure is logged.
async fn a_forge_that_is_down_blocks_nothing(db: &TestDb) {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (server, api) = server(db, true).await;
    api.apply(
        "reported",
        &workflow("github", &format!("http://127.0.0.1:{port}"), 1),
    )
    .await;
    let run = deliver(&api, "github").await;
    assert_eq!(api.wait(&run).await, "failed");
    server.stop().await;
}

struct Plain;
impl co_server::coordinator::SecretCipher for Plain {
    fn encrypt(&self, _name: &str, value: &str) -> Result<String, String> {
        Ok(value.to_string())
    }
    fn decrypt(&self, _name: &str, ciphertext: &str) -> Result<String, String> {
        Ok(ciphertext.to_string())
    }
}

/// A server that drives a run after it ended elsewhere (a server that took it over and
/// finished it, or a late `running` after a restart): a queued or running status of a run that
/// is over is never posted; its final status is.
async fn no_stale_running_after_the_run_ended(db: &TestDb) {
    let (recorder, url) = Recorder::start(&[]).await;
    let store = db.store().await;
    store.put_secret("FORGE_TOKEN", FORGE_TOKEN).await.unwrap();
    let options = co_server::forge::StatusOptions {
        public_url: Some("https://ci.example.com".into()),
        ..Default::default()
    };
    let target = co_server::forge::Target {
        forge: co_triggers::status::Forge::GitLab,
        api: url,
        commit: co_triggers::status::CommitRef {
            repository: "42".into(),
            sha: SHA.into(),
        },
        token: "FORGE_TOKEN".into(),
        context: "ci".into(),
    };
    let trigger = json!({"event": "push", "commit_status": target.to_json()});
    let now = co_store::now_timestamp();
    let run = co_store::RunRecord {
        id: co_runner::new_run_id(),
        workflow: "w".into(),
        status: co_status::RunStatus::Queued,
        inputs: json!({}),
        secret_inputs: None,
        outputs: json!({}),
        error: None,
        created_at: now.clone(),
        started_at: None,
        finished_at: None,
        source_path: "w@1".into(),
        source: String::new(),
        revision: None,
        trigger: trigger.clone(),
        parent: None,
        max_concurrency: None,
    };
    store.enqueue_run(&run, None).await.unwrap();
    store
        .update_run(&co_store::RunRecord {
            status: co_status::RunStatus::Succeeded,
            started_at: Some(now.clone()),
            finished_at: Some(now),
            ..run.clone()
        })
        .await
        .unwrap();
    let reporter = co_server::forge::StatusReporter::new(store, Arc::new(Plain), options);
    reporter.report(&run.id, &trigger, co_triggers::status::CommitState::Pending);
    reporter.report(&run.id, &trigger, co_triggers::status::CommitState::Running);
    reporter.report(&run.id, &trigger, co_triggers::status::CommitState::Success);
    let got = recorder.until_final().await;
    assert_eq!(states(&got), ["success 201"]);
    assert_eq!(got[0].auth.as_deref(), Some(FORGE_TOKEN));
    assert_eq!(
        got[0].body["target_url"],
        format!("https://ci.example.com/ui/runs/{}", run.id)
    );
}

const NOTIFY_SECRET: &str = "notify-signing-secret";

fn notifying(url: &str, exit: u8) -> String {
    format!(
        "name: notifying
notify:
  - webhook: {{ url: \"{url}/on-failure\", secret: NOTIFY_SECRET }}
  - on: [success]
    webhook: {{ url: \"{url}/on-success\", secret: NOTIFY_SECRET }}
  - on: always
    slack: {{ secret: SLACK_URL }}
stages:
  - name: s
    actions:
      - name: check
        image: {BUSYBOX}
        command: [\"sh\", \"-c\", \"exit {exit}\"]
"
    )
}

/// What a receiver does: the HMAC-SHA256 of the raw body under the shared secret, in hex.
fn verify(r: &Received) {
    let mut mac = Hmac::<Sha256>::new_from_slice(NOTIFY_SECRET.as_bytes()).unwrap();
    mac.update(&r.raw);
    let signature = r
        .signature
        .as_deref()
        .unwrap()
        .strip_prefix("sha256=")
        .unwrap();
    mac.verify_slice(&hex::decode(signature).unwrap())
        .expect("the signature verifies");
}

/// `notify:` on a run that fails (the first 500 is tried again) and on one that succeeds: the
/// notifications that apply, in order, signed; the Slack one always.
async fn notifications_on_failure_success_and_always(db: &TestDb) {
    let (recorder, url) = Recorder::start(&[Answer::Fail]).await;
    let (server, api) = server(db, true).await;
    api.set_secret("NOTIFY_SECRET", NOTIFY_SECRET).await;
    api.set_secret("SLACK_URL", &format!("{url}/slack")).await;

    api.apply("notifying", &notifying(&url, 2)).await;
    let run = api.start("notifying", json!({})).await;
    assert_eq!(api.wait(&run).await, "failed");
    let got = recorder.until(|r| r.path.ends_with("/slack")).await;
    let paths: Vec<String> = got
        .iter()
        .map(|r| format!("{} {}", r.path, r.answered))
        .collect();
    assert_eq!(
        paths,
        [
            "/api/on-failure 500",
            "/api/on-failure 201",
            "/api/slack 201"
        ]
    );
    let body = &got[1].body;
    verify(&got[1]);
    assert_eq!(body["run_id"], run);
    assert_eq!(body["workflow"], "notifying");
    assert_eq!(body["status"], "failed");
    assert_eq!(
        body["link"],
        format!("https://ci.example.com/ui/runs/{run}")
    );
    assert!(body["duration_ms"].as_i64().unwrap() >= 0);
    assert_eq!(body["failed_steps"][0]["step"], "check");
    assert_eq!(body["failed_steps"][0]["exit_code"], 2);
    let text = got[2].body["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("notifying run {run} failed")),
        "{text}"
    );
    assert!(text.contains("failed: check"), "{text}");
    assert!(got[2].signature.is_none());

    recorder.received.lock().unwrap().clear();
    api.apply("notifying", &notifying(&url, 0)).await;
    let run = api.start("notifying", json!({})).await;
    assert_eq!(api.wait(&run).await, "succeeded");
    let got = recorder.until(|r| r.path.ends_with("/slack")).await;
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/api/on-success", "/api/slack"]);
    verify(&got[0]);
    assert_eq!(got[0].body["status"], "succeeded");
    assert_eq!(got[0].body["failed_steps"], json!([]));
    // Neither secret is in the log.
    let logs = captured_logs();
    assert!(
        !logs.contains(NOTIFY_SECRET) && !logs.contains("/api/slack"),
        "{logs}"
    );
    server.stop().await;
}

both_stores!(
    github_reports_every_transition,
    gitlab_reports_every_transition,
    failed_posts_are_tried_again,
    a_forge_that_is_down_blocks_nothing,
    notifications_on_failure_success_and_always,
    no_stale_running_after_the_run_ended,
);

//! Commit statuses: runs started by a `github` or `gitlab` trigger with `status:` report their
//! states (queued, running, and how they ended) on the delivery's commit, with a link to the
//! run's page (docs/triggers.md#commit-statuses).
//!
//! - What to report on is decided when the delivery is accepted ([`target`]) and kept in the
//!   run's `trigger` value under [`TARGET_KEY`] (the token's secret *name*, never its value), so
//!   a server that recovers the run after a restart reports on the same commit.
//! - Posting happens off the run's path: [`StatusReporter::report`] only queues (at most
//!   [`StatusOptions::queue`] statuses waiting; beyond that they are dropped with a warning), one
//!   task per run posts its statuses in order. A failed post (no answer within
//!   [`StatusOptions::timeout`], a 5xx, 408 or 429) is tried again after a doubling delay from
//!   [`StatusOptions::first_delay`] up to [`StatusOptions::max_delay`], at most
//!   [`StatusOptions::tries`] times; every failure is logged. Nothing here changes or delays a
//!   run's result.
//! - Notifications (`notify:` of the workflow, docs/spec.md#notify): when a run ends, its
//!   workflow's notifications that apply are sent in the background, with the same retries —
//!   a generic webhook gets [`run_summary`] signed with HMAC-SHA256 ([`SIGNATURE_HEADER`]), a
//!   Slack-compatible incoming webhook a `text` and a `blocks` section.
//! - No stale states: a queued or running status is skipped when the run's final status is
//!   already waiting, or when the run has finished meanwhile (a server that recovers a run after
//!   it ended never posts `running` after the final status).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use co_spec::CommitStatus;
use co_store::Store;
use co_triggers::status::{CommitRef, CommitState, Forge};
use serde_json::{json, Value};

use crate::coordinator::SecretCipher;

/// The header of a notification webhook that carries `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-ContainerOps-Signature-256";

/// The key of the run's `trigger` value that holds its commit status target.
pub const TARGET_KEY: &str = "commit_status";

/// Where commit statuses go and how failed posts are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOptions {
    /// The server's address as browsers reach it (`--public-url`); links are
    /// `PUBLIC_URL/ui/runs/ID`. `None`: statuses carry no link.
    pub public_url: Option<String>,
    /// `--github-api-url` (`None`: `https://api.github.com`).
    pub github_api: Option<String>,
    /// `--gitlab-api-url` (`None`: `https://gitlab.com/api/v4`).
    pub gitlab_api: Option<String>,
    /// Tries per status, the first included.
    pub tries: u32,
    /// The wait before the second try; doubled before each next one.
    pub first_delay: Duration,
    /// The longest wait between tries.
    pub max_delay: Duration,
    /// How long one post may take (connecting included).
    pub timeout: Duration,
    /// At most this many statuses wait to be posted (over all runs).
    pub queue: usize,
}

impl Default for StatusOptions {
    fn default() -> Self {
        StatusOptions {
            public_url: None,
            github_api: None,
            gitlab_api: None,
            tries: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            queue: 1000,
        }
    }
}

impl StatusOptions {
    /// The link to a run's page in the web UI.
    pub fn run_link(&self, run_id: &str) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|base| format!("{}/ui/runs/{run_id}", base.trim_end_matches('/')))
    }
}

/// What the statuses of a run go to (stored in its `trigger` value under [`TARGET_KEY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub forge: Forge,
    pub api: String,
    pub commit: CommitRef,
    /// The name of the stored secret holding the API token.
    pub token: String,
    pub context: String,
}

impl Target {
    pub fn to_json(&self) -> Value {
        json!({
            "forge": self.forge.name(),
            "api_url": self.api,
            "repository": self.commit.repository,
            "sha": self.commit.sha,
            "token": self.token,
            "context": self.context,
        })
    }

    /// The target in a run's `trigger` value, if it has one.
    pub fn of_trigger(trigger: &Value) -> Option<Target> {
        let t = trigger.get(TARGET_KEY)?;
        let text = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Target {
            forge: Forge::parse(&text("forge")?)?,
            api: text("api_url")?,
            commit: CommitRef {
                repository: text("repository")?,
                sha: text("sha")?,
            },
            token: text("token")?,
            context: text("context")?,
        })
    }
}

/// The target of a delivery to a trigger with `status:`: `None` when the payload names no
/// commit (the reason is logged).
pub fn target(
    forge: Forge,
    status: &CommitStatus,
    workflow: &str,
    payload: &Value,
    options: &StatusOptions,
) -> Option<Target> {
    let Some(commit) = co_triggers::status::commit_of(forge, payload) else {
        tracing::info!(
            workflow,
            forge = forge.name(),
            "the delivery names no commit: its run reports no commit status"
        );
        return None;
    };
    let server_api = match forge {
        Forge::GitHub => options.github_api.as_deref(),
        Forge::GitLab => options.gitlab_api.as_deref(),
    };
    let api = status
        .api_url
        .as_deref()
        .or(server_api)
        .unwrap_or(forge.default_api())
        .trim_end_matches('/')
        .to_string();
    Some(Target {
        forge,
        api,
        commit,
        token: status.token.clone(),
        context: status
            .context
            .clone()
            .unwrap_or_else(|| format!("containerops/{workflow}")),
    })
}

/// A run's status as a commit status shows it.
pub fn state_of(status: co_status::RunStatus) -> CommitState {
    use co_status::RunStatus;
    match status {
        RunStatus::Queued => CommitState::Pending,
        RunStatus::Running => CommitState::Running,
        RunStatus::Succeeded => CommitState::Success,
        RunStatus::Failed => CommitState::Failure,
        RunStatus::Cancelled => CommitState::Cancelled,
    }
}

struct Job {
    target: Target,
    state: CommitState,
}

struct Reporter {
    store: Store,
    secrets: Arc<dyn SecretCipher>,
    options: StatusOptions,
    /// `None`: no HTTP client could be made (logged at start); statuses are dropped.
    client: Option<reqwest::Client>,
    /// The statuses waiting per run; a run has an entry while its task posts.
    lanes: Mutex<HashMap<String, VecDeque<Job>>>,
    waiting: AtomicUsize,
}

/// Posts commit statuses in the background. Cheap to clone.
#[derive(Clone)]
pub struct StatusReporter {
    inner: Arc<Reporter>,
}

impl StatusReporter {
    pub fn new(store: Store, secrets: Arc<dyn SecretCipher>, options: StatusOptions) -> Self {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent(concat!("containerops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| tracing::warn!(error = %e, "no HTTP client: commit statuses will not be posted"))
            .ok();
        StatusReporter {
            inner: Arc::new(Reporter {
                store,
                secrets,
                options,
                client,
                lanes: Mutex::new(HashMap::new()),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// Queue `state` for run `run_id` if its trigger asks for commit statuses; returns at once.
    pub fn report(&self, run_id: &str, trigger: &Value, state: CommitState) {
        let Some(target) = Target::of_trigger(trigger) else {
            return;
        };
        let inner = &self.inner;
        if inner.waiting.load(Ordering::Relaxed) >= inner.options.queue {
            tracing::warn!(
                run = run_id,
                state = state.description(),
                limit = inner.options.queue,
                "commit status dropped: too many statuses wait to be posted"
            );
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Ok(mut lanes) = inner.lanes.lock() else {
            return;
        };
        inner.waiting.fetch_add(1, Ordering::Relaxed);
        let job = Job { target, state };
        match lanes.get_mut(run_id) {
            Some(lane) => lane.push_back(job),
            None => {
                lanes.insert(run_id.to_string(), VecDeque::from([job]));
                runtime.spawn(post_lane(inner.clone(), run_id.to_string()));
            }
        }
    }
}

impl StatusReporter {
    /// Send the notifications of finished run `run_id` (its workflow's `notify:` that apply to
    /// how it ended), in the background; returns at once.
    pub fn notify_finished(&self, run_id: &str) {
        let inner = &self.inner;
        if inner.waiting.load(Ordering::Relaxed) >= inner.options.queue {
            tracing::warn!(
                run = run_id,
                limit = inner.options.queue,
                "notifications dropped: too many wait to be sent"
            );
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        inner.waiting.fetch_add(1, Ordering::Relaxed);
        let inner = inner.clone();
        let run_id = run_id.to_string();
        runtime.spawn(async move {
            send_notifications(&inner, &run_id).await;
            inner.waiting.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn send_notifications(inner: &Reporter, run_id: &str) {
    let Ok(detail) = inner.store.get_run(run_id).await else {
        return;
    };
    let run = &detail.run;
    if !run.status.is_finished() {
        return;
    }
    let Some(revision) = run.revision else {
        return;
    };
    let workflow = match inner
        .store
        .get_workflow_revision(&run.workflow, Some(revision))
        .await
    {
        Ok(stored) => crate::coordinator::load_plan(&inner.store, &stored, &run.source).await,
        Err(e) => Err(e.into()),
    };
    let workflow = match workflow {
        Ok((workflow, _)) => workflow,
        Err(e) => {
            if run.source.contains("notify") {
                tracing::warn!(run = run_id, error = %e, "notifications not sent: the run's workflow does not load");
            }
            return;
        }
    };
    let succeeded = run.status == co_status::RunStatus::Succeeded;
    let link = inner.options.run_link(run_id);
    let summary = run_summary(&detail, link.as_deref());
    for notify in workflow.notify.iter().filter(|n| n.applies(succeeded)) {
        match &notify.target {
            co_spec::NotifyTarget::Webhook { url, secret } => {
                let Some(key) = secret_value(inner, run_id, secret, "notification").await else {
                    continue;
                };
                let body = serde_json::to_vec(&summary).unwrap_or_default();
                let signature = format!("sha256={}", sign(key.as_bytes(), &body));
                let headers = [
                    (SIGNATURE_HEADER, signature.as_str()),
                    ("X-ContainerOps-Event", "run.finished"),
                ];
                send(inner, run_id, "notification", url, url, &headers, body).await;
            }
            co_spec::NotifyTarget::Slack { secret } => {
                let Some(url) = secret_value(inner, run_id, secret, "notification").await else {
                    continue;
                };
                let body = serde_json::to_vec(&slack_message(&summary)).unwrap_or_default();
                // The URL is the secret: logged by its secret's name only.
                let shown = format!("(the URL in secret {secret})");
                send(
                    inner,
                    run_id,
                    "Slack notification",
                    url.trim(),
                    &shown,
                    &[],
                    body,
                )
                .await;
            }
        }
    }
}

/// The hex HMAC-SHA256 of `body` under `key`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    use hmac::Mac;
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length.
        Err(_) => String::new(),
    }
}

/// The JSON body of a webhook notification: the run's id, workflow, revision, status, times,
/// duration (ms), link, trigger event, and its failed steps with their reasons.
pub fn run_summary(detail: &co_store::RunDetail, link: Option<&str>) -> Value {
    let run = &detail.run;
    let at = |t: &Option<String>| t.as_deref().and_then(co_runner::parse_time);
    let duration_ms = match (at(&run.started_at), at(&run.finished_at)) {
        (Some(a), Some(b)) => Some((b - a).max(0)),
        _ => None,
    };
    let failed: Vec<Value> = detail
        .steps
        .iter()
        .filter(|s| s.status == co_status::StepStatus::Failed)
        .map(|s| json!({"step": s.key, "action": s.action, "exit_code": s.exit_code, "error": s.error}))
        .collect();
    json!({
        "run_id": run.id,
        "workflow": run.workflow,
        "revision": run.revision,
        "status": run.status,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": duration_ms,
        "link": link,
        "event": run.trigger.get("event"),
        "failed_steps": failed,
    })
}

/// A Slack incoming-webhook message for a run summary (`text`, and the same as a `blocks`
/// section).
pub fn slack_message(summary: &Value) -> Value {
    let s = |k: &str| summary.get(k).and_then(Value::as_str).unwrap_or("");
    let status = s("status");
    let mark = match status {
        "succeeded" => ":white_check_mark:",
        "cancelled" => ":no_entry_sign:",
        _ => ":x:",
    };
    let mut text = format!("{mark} {} run {} {status}", s("workflow"), s("run_id"));
    if let Some(ms) = summary.get("duration_ms").and_then(Value::as_i64) {
        text.push_str(&format!(
            " in {}",
            crate::graph::duration_text(Duration::from_millis(ms.unsigned_abs()))
        ));
    }
    let failed: Vec<&str> = summary
        .get("failed_steps")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.get("step").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if !failed.is_empty() {
        text.push_str(&format!("; failed: {}", failed.join(", ")));
    }
    if let Some(link) = summary.get("link").and_then(Value::as_str) {
        text.push_str(&format!(" <{link}|open>"));
    }
    json!({
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    })
}

/// Post the statuses of one run in order until none is waiting.
async fn post_lane(inner: Arc<Reporter>, run_id: String) {
    loop {
        let (job, later) = {
            let Ok(mut lanes) = inner.lanes.lock() else {
                return;
            };
            let Some(lane) = lanes.get_mut(&run_id) else {
                return;
            };
            match lane.pop_front() {
                Some(job) => (job, lane.iter().any(|later| later.state.is_final())),
                None => {
                    lanes.remove(&run_id);
                    return;
                }
            }
        };
        inner.waiting.fetch_sub(1, Ordering::Relaxed);
        if !job.state.is_final() && (later || run_is_over(&inner.store, &run_id).await) {
            tracing::debug!(run = %run_id, state = job.state.description(), "stale commit status skipped");
            continue;
        }
        post(&inner, &run_id, &job).await;
    }
}

/// The value of stored secret `name`; `None` (logged) when it is not set or cannot be read.
async fn secret_value(inner: &Reporter, run_id: &str, name: &str, what: &str) -> Option<String> {
    match inner.store.get_secret(name).await {
        Ok(Some(ciphertext)) => match inner.secrets.decrypt(name, &ciphertext) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(run = run_id, secret = name, error = %e, "{what} not posted: its secret cannot be read");
                None
            }
        },
        Ok(None) => {
            tracing::warn!(
                run = run_id,
                secret = name,
                "{what} not posted: its secret is not set (PUT /api/v1/secrets/NAME)"
            );
            None
        }
        Err(e) => {
            tracing::warn!(run = run_id, secret = name, error = %e, "{what} not posted: its secret cannot be read");
            None
        }
    }
}

async fn run_is_over(store: &Store, run_id: &str) -> bool {
    store
        .get_run(run_id)
        .await
        .is_ok_and(|d| d.run.status.is_finished())
}

async fn post(inner: &Reporter, run_id: &str, job: &Job) {
    let t = &job.target;
    let Some(token) = secret_value(inner, run_id, &t.token, "commit status").await else {
        return;
    };
    let link = inner.options.run_link(run_id);
    let request = co_triggers::status::status_post(
        t.forge,
        &t.api,
        &t.commit,
        job.state,
        &t.context,
        job.state.description(),
        link.as_deref(),
    );
    let body = serde_json::to_vec(&request.body).unwrap_or_default();
    let auth = request.auth_value(&token);
    let headers = [(request.auth_header, auth.as_str())];
    send(
        inner,
        run_id,
        "commit status",
        &request.url,
        &request.url,
        &headers,
        body,
    )
    .await;
}

/// POST `body` (JSON) to `url` with `headers`, tried again as the module says; `what` names it in
/// the log, with `shown` for the URL (a URL that is a secret is not logged); never a header's
/// value.
#[allow(clippy::too_many_arguments)]
async fn send(
    inner: &Reporter,
    run_id: &str,
    what: &str,
    url: &str,
    shown: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) {
    let Some(client) = &inner.client else {
        return;
    };
    let tries = inner.options.tries.max(1);
    let mut delay = inner.options.first_delay;
    for attempt in 1..=tries {
        let mut request = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let problem = match request.send().await {
            Ok(answer) if answer.status().is_success() => {
                tracing::debug!(run = run_id, url = shown, what, "posted");
                return;
            }
            Ok(answer) => {
                let code = answer.status();
                let retry = code.is_server_error()
                    || code == reqwest::StatusCode::REQUEST_TIMEOUT
                    || code == reqwest::StatusCode::TOO_MANY_REQUESTS;
                if !retry {
                    tracing::warn!(run = run_id, url = shown, status = %code, "{what} refused; not tried again");
                    return;
                }
                format!("answered {code}")
            }
            Err(e) => e.without_url().to_string(),
        };
        if attempt == tries {
            tracing::warn!(run = run_id, url = shown, tries, error = %problem, "{what} not posted; giving up");
            return;
        }
        tracing::warn!(run = run_id, url = shown, attempt, error = %problem, retry_in = ?delay, "{what} not posted; trying again");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(inner.options.max_delay);
    }
}

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

async fn run_is_over(store: &Store, run_id: &str) -> bool {
    store
        .get_run(run_id)
        .await
        .is_ok_and(|d| d.run.status.is_finished())
}

async fn post(inner: &Reporter, run_id: &str, job: &Job) {
    let t = &job.target;
    let token = match inner.store.get_secret(&t.token).await {
        Ok(Some(ciphertext)) => match inner.secrets.decrypt(&t.token, &ciphertext) {
            Ok(token) => token,
            Err(e) => {
                tracing::warn!(run = run_id, secret = %t.token, error = %e, "commit status not posted: its token cannot be read");
                return;
            }
        },
        Ok(None) => {
            tracing::warn!(run = run_id, secret = %t.token, "commit status not posted: the token's secret is not set (PUT /api/v1/secrets/NAME)");
            return;
        }
        Err(e) => {
            tracing::warn!(run = run_id, error = %e, "commit status not posted: the token's secret cannot be read");
            return;
        }
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
    let Some(client) = &inner.client else {
        return;
    };
    let tries = inner.options.tries.max(1);
    let mut delay = inner.options.first_delay;
    for attempt in 1..=tries {
        let sent = client
            .post(&request.url)
            .header(request.auth_header, request.auth_value(&token))
            .header("Accept", "application/json")
            .json(&request.body)
            .send()
            .await;
        let problem = match sent {
            Ok(answer) if answer.status().is_success() => {
                tracing::debug!(run = run_id, url = %request.url, state = job.state.description(), "commit status posted");
                return;
            }
            Ok(answer) => {
                let code = answer.status();
                let retry = code.is_server_error()
                    || code == reqwest::StatusCode::REQUEST_TIMEOUT
                    || code == reqwest::StatusCode::TOO_MANY_REQUESTS;
                if !retry {
                    tracing::warn!(run = run_id, url = %request.url, status = %code, "commit status refused; not tried again");
                    return;
                }
                format!("answered {code}")
            }
            Err(e) => e.to_string(),
        };
        if attempt == tries {
            tracing::warn!(run = run_id, url = %request.url, tries, error = %problem, "commit status not posted; giving up");
            return;
        }
        tracing::warn!(run = run_id, url = %request.url, attempt, error = %problem, retry_in = ?delay, "commit status not posted; trying again");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(inner.options.max_delay);
    }
}

//! The coordinator: accepts run requests into the queue, claims queued runs (and runs whose
//! owner died) from the store, runs them through the driver on the backend, renews leases,
//! carries cancel requests, fires cron triggers, and recovers runs after a crash.
//!
//! Work moves through the store only, so any number of servers can share one database:
//! - `submit` writes a `queued` run (one transaction with its webhook delivery id, so a
//!   redelivery starts nothing) and its `pending` steps, then wakes this server's dispatcher —
//!   a run submitted here is claimed within milliseconds; other servers find it on their next
//!   dispatch round (at most [`DISPATCH_POLL`] later).
//! - The dispatcher claims runs (`Store::claim_run`: per-workflow concurrency limits, this
//!   server's `max_runs`, runs whose owner's lease expired first) and runs each in a task.
//! - Every run, fresh or recovered, is rebuilt from its stored steps (`Runner::restore`): a fresh
//!   run has only `pending` steps, a resumed run has the succeeded steps of its parent, a
//!   recovered run has attempts that were running — those are reattached to their containers.
//! - Leases are renewed every `lease / 3`; the renewal also returns the cancel requests that
//!   other servers' APIs stored for runs this server holds.
//! - A server that starts with the id of an earlier process takes that process's runs back at
//!   once (their leases are ended before the first claim), rather than waiting out its lease.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use co_backend::Backend;
use co_engine::{RunConfig, RunStatus, StepStatus};
use co_runner::{CancelHandle, Observer, RunResult, Runner, StepView};
use co_spec::{Plan, TriggerKind, Workflow};
use co_store::{Claim, RunRecord, Store, StoreError, WorkflowRevision};
use indexmap::IndexMap;
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

/// How often a dispatcher looks for work it was not woken for (runs queued on other servers,
/// expired leases).
pub const DISPATCH_POLL: Duration = Duration::from_secs(1);

/// How often the cron scheduler reloads the stored workflows' triggers (a new revision stored on
/// this server reloads them at once).
const CRON_RELOAD: Duration = Duration::from_secs(30);

/// Settings of a coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// This server's id in the store (owner of the runs it claims). Unique per process.
    pub server_id: String,
    /// At most this many runs at once on this server (`None`: no limit).
    pub max_runs: Option<i64>,
    /// How long a claim lasts without renewal; renewed every `lease / 3`.
    pub lease: Duration,
    /// What the driver allows the runs (steps at once over all runs, log caps).
    pub limits: co_runner::RunLimits,
    /// The registries and service accounts steps may use: a run whose workflow breaks it is
    /// refused when queued and fails (with the reason) when it starts.
    pub policy: Arc<crate::policy::LaunchPolicy>,
    /// Where the commit statuses of webhook-started runs go (`crate::forge`).
    pub statuses: crate::forge::StatusOptions,
    /// Where steps' artifacts are kept (`None`: they are not collected).
    pub artifacts: Option<co_runner::ArtifactStore>,
}

/// Encrypts and decrypts what the store keeps secret (the server's secret box): the coordinator
/// decrypts the stored secrets a run needs, and seals the values of a run's `secret`-typed inputs
/// before the run is queued.
pub trait SecretCipher: Send + Sync {
    /// The ciphertext of `value`, bound to `name` (it decrypts under that name only).
    fn encrypt(&self, name: &str, value: &str) -> Result<String, String>;
    /// The plain value of secret `name` from its stored ciphertext.
    fn decrypt(&self, name: &str, ciphertext: &str) -> Result<String, String>;
}

/// A request to start a run.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub workflow: String,
    /// `None`: the latest revision.
    pub revision: Option<i64>,
    /// Inputs as given (JSON values; converted to the declared types).
    pub inputs: IndexMap<String, Value>,
    /// `{"event": "api"}`, a webhook's or cron's trigger value.
    pub trigger: Value,
    /// A webhook delivery: the same id, to the same workflow and trigger kind, never starts a
    /// second run.
    pub delivery: Option<HookDelivery>,
}

/// A webhook delivery id and the kind of trigger it was sent to (ids are the senders', so they
/// are unique per workflow and kind only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDelivery {
    /// `github`, `gitlab` or `webhook` (as in the webhook's URL).
    pub kind: &'static str,
    pub id: String,
}

/// What [`Coordinator::submit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub run_id: String,
    /// The delivery was seen before: no new run, `run_id` is the run it started.
    pub duplicate: bool,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// No such workflow, revision or run.
    #[error("{0}")]
    NotFound(String),
    /// Bad inputs, an invalid stored workflow, a run that cannot be resumed: each problem in words.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A run's secret inputs could not be sealed or opened (no randomness, another key).
    #[error("{0}")]
    Secrets(String),
    #[error(transparent)]
    Store(#[from] co_store::StoreError),
}

fn not_found(e: StoreError) -> CoordinatorError {
    match e {
        StoreError::NotFound(what) => CoordinatorError::NotFound(what),
        other => CoordinatorError::Store(other),
    }
}

/// A run this server is running.
struct Active {
    cancel: CancelHandle,
    logs: watch::Receiver<i64>,
}

struct Inner {
    store: Store,
    runner: Runner,
    config: CoordinatorConfig,
    secrets: Arc<dyn SecretCipher>,
    wake: Notify,
    cron_reload: Notify,
    /// Every run this server finishes driving, with its status.
    finished: tokio::sync::broadcast::Sender<(String, RunStatus)>,
    /// The id of every run that starts or stops being driven here (wakes log streams waiting
    /// for a queued run).
    activity: tokio::sync::broadcast::Sender<String>,
    active: Mutex<HashMap<String, Active>>,
    /// The task driving each run this server holds (aborted if another server takes it over).
    driving: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stop: CancellationToken,
    /// The end of the lease (ms since the Unix epoch) as last renewed for every run held here:
    /// the drivers' [`co_runner::Ownership`] (past it they record and do nothing until renewed).
    renewed_until: watch::Sender<i64>,
    /// Posts the commit statuses of runs whose trigger asks for them.
    statuses: crate::forge::StatusReporter,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

impl Coordinator {
    /// Start the coordinator's background tasks (dispatch, leases, cron) on the current runtime.
    pub fn start(
        store: Store,
        backend: Arc<dyn Backend>,
        config: CoordinatorConfig,
        secrets: Arc<dyn SecretCipher>,
    ) -> Coordinator {
        let statuses = crate::forge::StatusReporter::new(
            store.clone(),
            secrets.clone(),
            config.statuses.clone(),
        );
        let mut runner = Runner::new(backend, store.clone()).with_limits(config.limits);
        if let Some(artifacts) = config.artifacts.clone() {
            runner = runner.with_artifact_store(artifacts);
        }
        let inner = Arc::new(Inner {
            statuses,
            store,
            runner,
            config,
            secrets,
            wake: Notify::new(),
            cron_reload: Notify::new(),
            finished: tokio::sync::broadcast::channel(1024).0,
            activity: tokio::sync::broadcast::channel(1024).0,
            active: Mutex::new(HashMap::new()),
            driving: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
            stop: CancellationToken::new(),
            renewed_until: watch::Sender::new(0),
        });
        let loops = vec![
            tokio::spawn(dispatch_loop(inner.clone())),
            tokio::spawn(lease_loop(inner.clone())),
            tokio::spawn(cron_loop(inner.clone())),
        ];
        if let Ok(mut tasks) = inner.tasks.lock() {
            tasks.extend(loops);
        }
        Coordinator { inner }
    }

    /// The store this coordinator works on.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Where its runs keep their steps' artifacts, if they do.
    pub fn artifact_store(&self) -> Option<&co_runner::ArtifactStore> {
        self.inner.runner.artifact_store()
    }

    /// The registries and service accounts steps may use here.
    pub fn policy(&self) -> &crate::policy::LaunchPolicy {
        &self.inner.config.policy
    }

    /// Where commit statuses go (the server's public URL, the forges' API URLs).
    pub fn status_options(&self) -> &crate::forge::StatusOptions {
        &self.inner.config.statuses
    }

    /// Validate and queue a run of a stored workflow; the dispatcher starts it within
    /// milliseconds when capacity allows.
    pub async fn submit(&self, request: RunRequest) -> Result<Submitted, CoordinatorError> {
        let inner = &self.inner;
        let revision = inner
            .store
            .get_workflow_revision(&request.workflow, request.revision)
            .await
            .map_err(not_found)?;
        let (workflow, plan) = load_runnable(inner, &revision, &revision.yaml).await?;
        let run_id = co_runner::new_run_id();
        // Converts the inputs to their types and reports every problem (nothing is stored then).
        let engine = co_engine::Engine::new(
            plan.clone(),
            RunConfig {
                run_id: run_id.clone(),
                inputs: request.inputs.clone(),
                ..RunConfig::default()
            },
        )
        .map_err(|e| CoordinatorError::Invalid(e.0))?;
        let record = RunRecord {
            id: run_id.clone(),
            workflow: workflow.name.clone(),
            status: RunStatus::Queued,
            // Secret inputs: masked here, their values sealed for this run only.
            inputs: Value::Object(engine.shown_inputs().into_iter().collect()),
            secret_inputs: seal_inputs(&*inner.secrets, &run_id, &engine.secret_inputs())?,
            outputs: json!({}),
            error: None,
            created_at: co_store::now_timestamp(),
            started_at: None,
            finished_at: None,
            source_path: format!("{}@{}", revision.name, revision.revision),
            source: revision.yaml.clone(),
            revision: Some(revision.revision),
            trigger: request.trigger,
            parent: None,
            max_concurrency: workflow.concurrency.map(i64::from),
        };
        let steps = co_runner::initial_steps(&plan, &run_id, None);
        self.enqueue(record, steps, request.delivery.as_ref()).await
    }

    async fn enqueue(
        &self,
        record: RunRecord,
        steps: Vec<co_store::StepRecord>,
        delivery: Option<&HookDelivery>,
    ) -> Result<Submitted, CoordinatorError> {
        let inner = &self.inner;
        let delivery = delivery.map(|d| co_store::DeliveryKey {
            workflow: &record.workflow,
            kind: d.kind,
            id: &d.id,
        });
        if let Some(existing) = inner.store.enqueue_run(&record, delivery).await? {
            return Ok(Submitted {
                run_id: existing,
                duplicate: true,
            });
        }
        inner.store.upsert_steps(&steps).await?;
        crate::metrics::run_queued();
        // Queued before the dispatcher can start it, so `pending` is posted before `running`.
        inner.statuses.report(
            &record.id,
            &record.trigger,
            crate::forge::state_of(RunStatus::Queued),
        );
        inner.wake.notify_one();
        Ok(Submitted {
            run_id: record.id,
            duplicate: false,
        })
    }

    /// Queue a new run with the same inputs and trigger as `run_id`, of the same workflow
    /// revision or of `revision`.
    pub async fn rerun(
        &self,
        run_id: &str,
        revision: Option<i64>,
    ) -> Result<Submitted, CoordinatorError> {
        self.again(run_id, false, revision).await
    }

    /// Queue a new run with the same inputs, of the same revision or of `revision`, that reuses
    /// the results of the steps of `run_id` that succeeded and whose definition did not change
    /// (`co_runner::ResumeFrom`: the rule) as `reused` steps, and runs the rest. `Invalid` if
    /// `run_id` succeeded or is not over, or its inputs do not fit `revision`.
    pub async fn resume(
        &self,
        run_id: &str,
        revision: Option<i64>,
    ) -> Result<Submitted, CoordinatorError> {
        self.again(run_id, true, revision).await
    }

    async fn again(
        &self,
        run_id: &str,
        resume: bool,
        new_revision: Option<i64>,
    ) -> Result<Submitted, CoordinatorError> {
        let inner = &self.inner;
        let old = inner.store.get_run(run_id).await.map_err(not_found)?;
        let Some(revision) = old.run.revision else {
            return Err(CoordinatorError::Invalid(vec![format!(
                "run {} ran a local workflow file, not a stored workflow; run it again with the CLI",
                old.run.id
            )]));
        };
        if resume {
            match old.run.status {
                RunStatus::Failed | RunStatus::Cancelled => {}
                RunStatus::Succeeded => {
                    return Err(CoordinatorError::Invalid(vec![format!(
                        "run {} succeeded: there is nothing to resume (use rerun)",
                        old.run.id
                    )]))
                }
                other @ (RunStatus::Queued | RunStatus::Running) => {
                    return Err(CoordinatorError::Invalid(vec![format!(
                        "run {} is {other}: only a failed or cancelled run can be resumed",
                        old.run.id
                    )]))
                }
            }
        }
        let old_stored = inner
            .store
            .get_workflow_revision(&old.run.workflow, Some(revision))
            .await
            .map_err(not_found)?;
        // What the earlier run ran (for the comparison only), and what the new run runs (which
        // must pass the server's policy).
        let (stored, workflow, plan, old_plan) = match new_revision {
            Some(n) if n != revision => {
                let (_, old_plan) = load_plan(&inner.store, &old_stored, &old_stored.yaml).await?;
                let stored = inner
                    .store
                    .get_workflow_revision(&old.run.workflow, Some(n))
                    .await
                    .map_err(not_found)?;
                let (workflow, plan) = load_runnable(inner, &stored, &stored.yaml).await?;
                (stored, workflow, plan, old_plan)
            }
            _ => {
                let (workflow, plan) = load_runnable(inner, &old_stored, &old_stored.yaml).await?;
                let old_plan = plan.clone();
                (old_stored, workflow, plan, old_plan)
            }
        };
        // The earlier run's inputs (secret ones shown as `***`: their values are sealed apart and
        // carried over below), as the revision to run reads them (it may declare others).
        let given: indexmap::IndexMap<String, Value> = old
            .run
            .inputs
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let inputs = co_engine::resolve_inputs(
            &format!("workflow {}", workflow.name),
            &workflow.inputs,
            given,
        )
        .map_err(|e| {
            CoordinatorError::Invalid(
                e.0.iter()
                    .map(|p| {
                        format!(
                            "the inputs of run {} do not fit revision {} of workflow {:?}: {p}",
                            old.run.id, stored.revision, stored.name
                        )
                    })
                    .collect(),
            )
        })?;
        let inputs = Value::Object(inputs.into_iter().collect());
        let id = co_runner::new_run_id();
        let event = if resume { "resume" } else { "rerun" };
        // The same secret input values, sealed again for the new run.
        let secret_inputs = match &old.run.secret_inputs {
            Some(sealed) => {
                let values = open_inputs(&*inner.secrets, &old.run.id, sealed)?;
                seal_inputs(&*inner.secrets, &id, &values)?
            }
            None => None,
        };
        let record = RunRecord {
            id: id.clone(),
            status: RunStatus::Queued,
            secret_inputs,
            outputs: json!({}),
            error: None,
            created_at: co_store::now_timestamp(),
            started_at: None,
            finished_at: None,
            parent: Some(old.run.id.clone()),
            trigger: json!({ "event": event, "from": old.run.id, "original": old.run.trigger }),
            max_concurrency: workflow.concurrency.map(i64::from),
            source_path: format!("{}@{}", stored.name, stored.revision),
            source: stored.yaml.clone(),
            revision: Some(stored.revision),
            ..old.run.clone()
        };
        let same_inputs = inputs == old.run.inputs;
        let record = RunRecord { inputs, ..record };
        let from = co_runner::ResumeFrom {
            run: &old,
            plan: &old_plan,
            same_inputs,
        };
        let steps = co_runner::initial_steps(&plan, &id, resume.then_some(from));
        self.enqueue(record, steps, None).await
    }

    /// Cancel a run: a queued one at once, a running one through its owner (at once if that is
    /// this server, else at the owner's next lease renewal).
    pub async fn cancel(&self, run_id: &str) -> Result<(), CoordinatorError> {
        let inner = &self.inner;
        let detail = inner.store.get_run(run_id).await.map_err(not_found)?;
        let local = inner
            .active
            .lock()
            .ok()
            .and_then(|a| a.get(&detail.run.id).map(|a| a.cancel.clone()));
        match local {
            Some(handle) => handle.cancel(),
            None => {
                if inner.store.request_cancel(&detail.run.id).await? {
                    // It was queued: cancelled here and now, never started.
                    crate::metrics::run_finished(RunStatus::Cancelled, None);
                    inner.statuses.report(
                        &detail.run.id,
                        &detail.run.trigger,
                        crate::forge::state_of(RunStatus::Cancelled),
                    );
                    inner.statuses.notify_finished(&detail.run.id);
                }
            }
        }
        Ok(())
    }

    /// A receiver that changes whenever new log lines of `run_id` are produced on this server
    /// (`None` if this server does not run it: readers then poll the store).
    pub fn log_notifications(&self, run_id: &str) -> Option<watch::Receiver<i64>> {
        self.inner
            .active
            .lock()
            .ok()
            .and_then(|a| a.get(run_id).map(|a| a.logs.clone()))
    }

    /// Runs this server finishes driving, as they finish: `(run id, status)`.
    pub fn finished_runs(&self) -> tokio::sync::broadcast::Receiver<(String, RunStatus)> {
        self.inner.finished.subscribe()
    }

    /// The id of every run that starts or stops being driven on this server, as it happens (a
    /// reader waiting for a queued run to start subscribes before it looks).
    pub fn run_activity(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.inner.activity.subscribe()
    }

    /// Workflows were stored or changed here: reload the cron triggers now.
    pub fn workflows_changed(&self) {
        self.inner.cron_reload.notify_one();
    }

    /// Stop claiming work and stop driving the runs in flight without cancelling them: their
    /// containers keep running, and their leases are released so that the next server to claim
    /// them (another one, or this one restarted) reattaches to them.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.stop.cancel();
        let tasks: Vec<_> = inner
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        // Only now, with nothing of ours still driving them, hand the runs over.
        if let Err(e) = inner.store.renew_leases(&inner.config.server_id, 0).await {
            tracing::warn!(error = %e, "could not release the leases of the runs in flight");
        }
    }
}

/// [`load_plan`], refused unless the launch policy allows every action's image and service
/// account.
async fn load_runnable(
    inner: &Inner,
    stored: &WorkflowRevision,
    yaml: &str,
) -> Result<(Arc<Workflow>, Arc<Plan>), CoordinatorError> {
    let (workflow, plan) = load_plan(&inner.store, stored, yaml).await?;
    let problems = inner.config.policy.workflow_problems(&workflow);
    if !problems.is_empty() {
        return Err(CoordinatorError::Invalid(
            problems.iter().map(ToString::to_string).collect(),
        ));
    }
    Ok((workflow, plan))
}

/// The name a run's secret inputs are sealed under: the ciphertext opens for that run only.
fn secret_inputs_name(run_id: &str) -> String {
    format!("run {run_id} inputs")
}

/// The ciphertext of a run's `secret`-typed input values (a JSON object), or `None` if it has
/// none.
pub(crate) fn seal_inputs(
    cipher: &dyn SecretCipher,
    run_id: &str,
    values: &IndexMap<String, Value>,
) -> Result<Option<String>, CoordinatorError> {
    if values.is_empty() {
        return Ok(None);
    }
    let text = serde_json::to_string(values)
        .map_err(|e| CoordinatorError::Secrets(format!("cannot encode the secret inputs: {e}")))?;
    cipher
        .encrypt(&secret_inputs_name(run_id), &text)
        .map(Some)
        .map_err(|e| CoordinatorError::Secrets(format!("cannot encrypt the secret inputs: {e}")))
}

/// The values of a run's `secret`-typed inputs from their ciphertext.
fn open_inputs(
    cipher: &dyn SecretCipher,
    run_id: &str,
    sealed: &str,
) -> Result<IndexMap<String, Value>, CoordinatorError> {
    let text = cipher
        .decrypt(&secret_inputs_name(run_id), sealed)
        .map_err(|e| {
            CoordinatorError::Secrets(format!("the secret inputs of run {run_id}: {e}"))
        })?;
    serde_json::from_str(&text).map_err(|e| {
        CoordinatorError::Secrets(format!(
            "the secret inputs of run {run_id} are damaged: {e}"
        ))
    })
}

/// Parse a stored workflow revision with the registered components as its catalog (the same
/// parsing the API validates with, so both report the same problems).
pub(crate) async fn load_plan(
    store: &Store,
    stored: &WorkflowRevision,
    yaml: &str,
) -> Result<(Arc<Workflow>, Arc<Plan>), CoordinatorError> {
    let file = format!("{}@{}", stored.name, stored.revision);
    let workflow = crate::catalog::parse_stored(store, yaml, &file, stored.components.clone())
        .await?
        .map_err(|d| CoordinatorError::Invalid(d.0.iter().map(|d| d.to_string()).collect()))?;
    let workflow = Arc::new(workflow);
    let plan = Arc::new(co_spec::plan(workflow.clone()));
    Ok((workflow, plan))
}

// ---------------------------------------------------------------------------------------------
// Dispatching and running

async fn dispatch_loop(inner: Arc<Inner>) {
    take_back_own_runs(&inner).await;
    loop {
        loop {
            if inner.stop.is_cancelled() {
                return;
            }
            let now = co_runner::now_millis();
            let lease_until = now.saturating_add(millis(inner.config.lease));
            match inner
                .store
                .claim_run(
                    &inner.config.server_id,
                    now,
                    lease_until,
                    inner.config.max_runs,
                )
                .await
            {
                Ok(Some(claim)) => {
                    let run_id = claim.run.id.clone();
                    // Hold the map while spawning, so the task finds its entry when it ends.
                    let mut driving = match inner.driving.lock() {
                        Ok(d) => d,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    if driving.contains_key(&run_id) {
                        // Our own lease had lapsed (a renewal came late) and nobody took the run
                        // over: the claim renewed it. The task that drives it goes on; a second
                        // one would run its steps twice.
                        tracing::info!(run = %run_id, "this server's lease on the run had lapsed; renewed, still driving it");
                        continue;
                    }
                    let task = tokio::spawn(run_claim(inner.clone(), claim, lease_until));
                    driving.insert(run_id, task.abort_handle());
                    drop(driving);
                    if let Ok(mut tasks) = inner.tasks.lock() {
                        tasks.retain(|t| !t.is_finished());
                        tasks.push(task);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming work failed");
                    break;
                }
            }
        }
        if let Ok(depth) = inner.store.count_queued().await {
            crate::metrics::queue_depth(depth);
        }
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(DISPATCH_POLL) => {}
        }
    }
}

/// A server restarted with the same id finds runs that its earlier process held: nothing drives
/// them (this process has just started), so their leases end now and the first claims recover
/// them, instead of waiting out the dead process's lease.
async fn take_back_own_runs(inner: &Inner) {
    let id = &inner.config.server_id;
    match inner.store.renew_leases_report(id, 0).await {
        Ok(renewal) if !renewal.held.is_empty() => tracing::info!(
            server_id = %id,
            runs = ?renewal.held,
            "this server id held runs before it restarted; taking them back at once"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(
            server_id = %id,
            error = %e,
            "cannot take back the runs this server id held before; they are recovered when their leases expire"
        ),
    }
}

/// Run (or recover) one claimed run to its end, then release it and look for more work.
async fn run_claim(inner: Arc<Inner>, claim: Claim, lease_until: i64) {
    let run_id = claim.run.id.clone();
    let now = co_runner::now_millis;
    let queue_wait = if claim.recovered {
        tracing::info!(run = %run_id, "recovering a run whose server stopped");
        None
    } else {
        crate::metrics::between(co_runner::parse_time(&claim.run.created_at), Some(now()))
    };
    let running = crate::metrics::run_started(queue_wait, claim.recovered);
    inner.statuses.report(
        &run_id,
        &claim.run.trigger,
        crate::forge::state_of(RunStatus::Running),
    );
    let (status, duration) = match drive_claim(&inner, &claim, lease_until).await {
        Ok(Some(result)) => (
            result.status,
            crate::metrics::between(result.started_at, Some(result.finished_at)),
        ),
        Ok(None) => {
            // Another server took the run over while this one's lease was in doubt: it is that
            // server's to finish (and to release).
            tracing::warn!(run = %run_id, "another server took this run over; no longer driving it");
            drop(running);
            forget(&inner, &run_id);
            let _ = inner.activity.send(run_id);
            return;
        }
        Err(e) => {
            tracing::warn!(run = %run_id, error = %e, "run could not be carried out");
            fail_run(&inner, &claim.run, &e.to_string()).await;
            let started = claim
                .run
                .started_at
                .as_deref()
                .and_then(co_runner::parse_time);
            (
                RunStatus::Failed,
                crate::metrics::between(started, Some(now())),
            )
        }
    };
    if status.is_finished() {
        crate::metrics::run_finished(status, duration);
        inner
            .statuses
            .report(&run_id, &claim.run.trigger, crate::forge::state_of(status));
        inner.statuses.notify_finished(&run_id);
    }
    drop(running);
    forget(&inner, &run_id);
    if let Err(e) = inner
        .store
        .release_run(&run_id, &inner.config.server_id)
        .await
    {
        tracing::warn!(run = %run_id, error = %e, "could not release the run");
    }
    let _ = inner.activity.send(run_id.clone());
    let _ = inner.finished.send((run_id, status));
    inner.wake.notify_one();
}

/// `None`: the run was taken over by another server meanwhile.
async fn drive_claim(
    inner: &Arc<Inner>,
    claim: &Claim,
    lease_until: i64,
) -> Result<Option<RunResult>, CoordinatorError> {
    let run = &claim.run;
    let revision = run.revision.ok_or_else(|| {
        CoordinatorError::Invalid(vec!["the run has no stored workflow revision".into()])
    })?;
    // The run's own text, with the component bindings of its revision.
    let stored = inner
        .store
        .get_workflow_revision(&run.workflow, Some(revision))
        .await?;
    let (workflow, plan) = load_runnable(inner, &stored, &run.source).await?;
    let mut secrets = IndexMap::new();
    let mut missing = Vec::new();
    for name in workflow.secret_names() {
        match inner.store.get_secret(&name).await? {
            Some(ciphertext) => match inner.secrets.decrypt(&name, &ciphertext) {
                Ok(value) => {
                    secrets.insert(name, value);
                }
                Err(e) => missing.push(format!("secret {name} cannot be read: {e}")),
            },
            None => missing.push(format!(
                "secret {name} is not set (PUT /api/v1/secrets/{name})"
            )),
        }
    }
    if !missing.is_empty() {
        return Err(CoordinatorError::Invalid(missing));
    }
    let detail = inner.store.get_run(&run.id).await?;
    let mut inputs: IndexMap<String, Value> = run
        .inputs
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    // The masked secret inputs get their values back, only in this process, only for the steps.
    if let Some(sealed) = &run.secret_inputs {
        inputs.extend(open_inputs(&*inner.secrets, &run.id, sealed)?);
    }
    let config = RunConfig {
        run_id: run.id.clone(),
        inputs,
        secrets,
        trigger: Some(run.trigger.clone()),
    };
    let prepared = inner
        .runner
        .restore(plan, config, &detail, false)
        .await
        .map_err(|e| CoordinatorError::Invalid(vec![e.to_string()]))?
        .held_by(co_runner::Ownership {
            owner: inner.config.server_id.clone(),
            claimed_until: lease_until,
            renewed_until: inner.renewed_until.subscribe(),
        });
    let (logs_tx, logs_rx) = watch::channel(0i64);
    if let Ok(mut active) = inner.active.lock() {
        active.insert(
            run.id.clone(),
            Active {
                cancel: prepared.cancel_handle(),
                logs: logs_rx,
            },
        );
    }
    let _ = inner.activity.send(run.id.clone());
    let observer = Arc::new(ServerObserver {
        logs: logs_tx,
        lines: std::sync::atomic::AtomicI64::new(0),
        // What was over before this server restored the run (reused by a resume, or finished
        // under a server that stopped) was counted then, or is not this run's doing.
        finished_steps: Mutex::new(
            detail
                .steps
                .iter()
                .filter(|s| s.status.is_finished())
                .map(|s| s.key.clone())
                .collect(),
        ),
    });
    match inner.runner.execute(prepared, observer).await {
        Ok(result) => Ok(Some(result)),
        Err(co_runner::RunnerError::Store(StoreError::NotHeld { .. })) => Ok(None),
        Err(e) => Err(CoordinatorError::Invalid(vec![e.to_string()])),
    }
}

/// Record that a claimed run could not be carried out (its workflow no longer loads, a secret is
/// missing, the backend is gone): the run fails with the reason; no step stays running.
async fn fail_run(inner: &Inner, run: &RunRecord, reason: &str) {
    let Ok(detail) = inner.store.get_run(&run.id).await else {
        return;
    };
    let now = co_store::now_timestamp();
    let steps: Vec<co_store::StepRecord> = detail
        .steps
        .iter()
        .filter(|s| !s.status.is_finished())
        .map(|s| co_store::StepRecord {
            status: if s.status == StepStatus::Running {
                StepStatus::Failed
            } else {
                StepStatus::Skipped
            },
            error: Some(format!("not run: {reason}")),
            finished_at: Some(now.clone()),
            ..s.clone()
        })
        .collect();
    if inner.store.upsert_steps(&steps).await.is_ok() {
        for step in &steps {
            let at = |t: &Option<String>| t.as_deref().and_then(co_runner::parse_time);
            let ran = crate::metrics::between(at(&step.started_at), at(&step.finished_at));
            crate::metrics::step_finished(step.status, ran);
        }
    }
    let record = RunRecord {
        status: RunStatus::Failed,
        error: Some(reason.to_string()),
        finished_at: Some(now),
        ..detail.run
    };
    let _ = inner.store.update_run(&record).await;
}

/// What the server watches of a run it drives: log activity (for live streams) and metrics.
struct ServerObserver {
    logs: watch::Sender<i64>,
    lines: std::sync::atomic::AtomicI64,
    /// The keys of the steps that are over (each is counted in the metrics once, when it ends
    /// here; those stored as over when the run was restored are not).
    finished_steps: Mutex<HashSet<String>>,
}

impl Observer for ServerObserver {
    fn step_changed(&self, step: &StepView) {
        let newly_finished = step.status.is_finished()
            && self
                .finished_steps
                .lock()
                .is_ok_and(|mut finished| finished.insert(step.key.clone()));
        if newly_finished {
            crate::metrics::step_finished(
                step.status,
                crate::metrics::between(step.started_at, step.finished_at),
            );
        }
        self.logs.send_modify(|v| *v += 1);
    }

    fn log_line(
        &self,
        _step: &str,
        _action: &str,
        _attempt: u32,
        _stream: co_backend::Stream,
        _text: &str,
    ) {
        let n = self
            .lines
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self.logs.send(n + 1);
    }

    fn run_finished(&self, _run_id: &str, _status: RunStatus) {
        self.logs.send_modify(|v| *v += 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Leases

async fn lease_loop(inner: Arc<Inner>) {
    let every = (inner.config.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let until = co_runner::now_millis().saturating_add(millis(inner.config.lease));
        match inner
            .store
            .renew_leases_report(&inner.config.server_id, until)
            .await
        {
            Ok(report) => {
                inner.renewed_until.send_replace(until);
                // Runs we drive but no longer hold were taken over by another server (our lease
                // lapsed): stop driving them at once, without touching their containers, so no
                // step runs twice.
                let lost: Vec<(String, tokio::task::AbortHandle)> = inner
                    .driving
                    .lock()
                    .map(|d| {
                        d.iter()
                            .filter(|(id, _)| !report.held.contains(id))
                            .map(|(id, h)| (id.clone(), h.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                for (run_id, task) in lost {
                    tracing::warn!(run = %run_id, "another server took this run over; no longer driving it");
                    task.abort();
                    forget(&inner, &run_id);
                }
                for run_id in report.cancel_requested {
                    let handle = inner
                        .active
                        .lock()
                        .ok()
                        .and_then(|a| a.get(&run_id).map(|a| a.cancel.clone()));
                    if let Some(handle) = handle {
                        handle.cancel();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing leases failed"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cron

/// One cron trigger of a stored workflow.
struct CronEntry {
    workflow: String,
    index: i64,
    expression: String,
    schedule: co_triggers::Schedule,
    inputs: IndexMap<String, co_expr::Template>,
}

async fn cron_entries(inner: &Inner) -> Vec<CronEntry> {
    let mut out = Vec::new();
    let Ok(workflows) = inner.store.list_workflows().await else {
        return out;
    };
    for summary in workflows {
        let Ok(stored) = inner.store.get_workflow_revision(&summary.name, None).await else {
            continue;
        };
        let Ok((workflow, _)) = load_plan(&inner.store, &stored, &stored.yaml).await else {
            continue;
        };
        for (index, trigger) in workflow.triggers.iter().enumerate() {
            if let TriggerKind::Cron { schedule, timezone } = &trigger.kind {
                match co_triggers::Schedule::parse(schedule, timezone.as_deref()) {
                    Ok(parsed) => out.push(CronEntry {
                        workflow: workflow.name.clone(),
                        index: i64::try_from(index).unwrap_or(0),
                        expression: schedule.clone(),
                        schedule: parsed,
                        inputs: trigger.inputs.clone(),
                    }),
                    Err(e) => {
                        tracing::warn!(workflow = %workflow.name, error = %e, "bad cron trigger")
                    }
                }
            }
        }
    }
    out
}

/// Fires every cron trigger of every stored workflow at its ticks. Each tick is claimed in the
/// store first, so it starts one run however many servers run this loop. Ticks that fell while
/// no server was running are not replayed: after a (re)load, only ticks from now on fire.
async fn cron_loop(inner: Arc<Inner>) {
    let coordinator = Coordinator {
        inner: inner.clone(),
    };
    // Ticks up to this moment are handled (fired, or before this server started).
    let mut handled_until = co_runner::now_millis();
    loop {
        let entries = cron_entries(&inner).await;
        let mut next: Vec<Option<i64>> = entries
            .iter()
            .map(|e| e.schedule.next_after(handled_until))
            .collect();
        let reload_at = tokio::time::Instant::now() + CRON_RELOAD;
        loop {
            let now = co_runner::now_millis();
            let soonest = next.iter().flatten().min().copied();
            let wait = soonest
                .map(|t| Duration::from_millis(u64::try_from(t.saturating_sub(now)).unwrap_or(0)))
                .unwrap_or(CRON_RELOAD);
            tokio::select! {
                _ = inner.stop.cancelled() => return,
                _ = inner.cron_reload.notified() => break,
                _ = tokio::time::sleep_until(reload_at) => break,
                _ = tokio::time::sleep(wait) => {}
            }
            let now = co_runner::now_millis();
            for (entry, slot) in entries.iter().zip(next.iter_mut()) {
                while let Some(tick) = slot.filter(|&t| t <= now) {
                    *slot = entry.schedule.next_after(tick);
                    fire_cron(&coordinator, entry, tick).await;
                }
            }
            handled_until = now;
        }
    }
}

async fn fire_cron(coordinator: &Coordinator, entry: &CronEntry, tick: i64) {
    let store = &coordinator.inner.store;
    let tick_text = co_runner::format_time(tick);
    match store
        .claim_cron_tick(&entry.workflow, entry.index, &tick_text)
        .await
    {
        Ok(true) => {}
        Ok(false) => return, // another server fired it
        Err(e) => {
            tracing::warn!(workflow = %entry.workflow, error = %e, "claiming a cron tick failed");
            return;
        }
    }
    let trigger = co_triggers::cron_context(&entry.expression, tick);
    let inputs = match trigger_inputs(&entry.inputs, &trigger) {
        Ok(inputs) => inputs,
        Err(e) => {
            tracing::warn!(workflow = %entry.workflow, error = %e, "cron trigger inputs failed");
            return;
        }
    };
    let request = RunRequest {
        workflow: entry.workflow.clone(),
        revision: None,
        inputs,
        trigger,
        delivery: None,
    };
    match coordinator.submit(request).await {
        Ok(s) => {
            tracing::info!(workflow = %entry.workflow, run = %s.run_id, tick = %tick_text, "cron tick started a run")
        }
        Err(e) => {
            tracing::warn!(workflow = %entry.workflow, error = %e, "cron tick could not start a run")
        }
    }
}

/// Evaluate a trigger's `inputs:` templates, which may only use `trigger.*`.
pub fn trigger_inputs(
    templates: &IndexMap<String, co_expr::Template>,
    trigger: &Value,
) -> Result<IndexMap<String, Value>, String> {
    let ctx = co_expr::ValueContext::new(json!({ "trigger": trigger }));
    templates
        .iter()
        .map(|(name, t)| {
            t.eval(&ctx)
                .map(|v| (name.clone(), v))
                .map_err(|e| format!("input {name}: {e}"))
        })
        .collect()
}

/// This server no longer drives `run_id`.
fn forget(inner: &Inner, run_id: &str) {
    if let Ok(mut active) = inner.active.lock() {
        active.remove(run_id);
    }
    if let Ok(mut driving) = inner.driving.lock() {
        driving.remove(run_id);
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

//! The coordinator on a real SQLite store with a scripted backend: queueing, claiming,
//! concurrency limits, cancel, rerun/resume, deliveries, and two coordinators sharing one store.
//! (The same paths with real containers, PostgreSQL and `kill -9` are in tests/recovery.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use co_backend::Stream;
use co_engine::{RunStatus, StepStatus};
use co_runner::fake::{FakeBackend, FakeStep};
use co_server::coordinator::{CoordinatorError, HookDelivery, SecretCipher};
use co_server::{Coordinator, CoordinatorConfig, RunRequest};
use co_store::Store;
use indexmap::IndexMap;
use serde_json::json;
use tokio::sync::mpsc;

const IMG: &str = "localhost/test/busybox:latest";

struct Plain;
impl SecretCipher for Plain {
    fn encrypt(&self, _name: &str, value: &str) -> Result<String, String> {
        Ok(value.to_string())
    }

    fn decrypt(&self, _name: &str, ciphertext: &str) -> Result<String, String> {
        Ok(ciphertext.to_string())
    }
}

/// Launches as they happen: (run id, step key, attempt).
type Started = mpsc::UnboundedReceiver<(String, String, u32)>;

/// A backend whose steps hang when their key starts with `hang`, fail when it starts with `fail`
/// in a run listed in `failing`, and otherwise print their key and succeed.
fn backend(failing: Arc<Mutex<Vec<String>>>) -> (Arc<FakeBackend>, Started) {
    let (tx, rx) = mpsc::unbounded_channel();
    let backend = FakeBackend::new(move |launch| {
        let _ = tx.send((
            launch.run_id.clone(),
            launch.step_key.clone(),
            launch.attempt,
        ));
        let fails =
            launch.step_key.starts_with("fail") && failing.lock().unwrap().contains(&launch.run_id);
        FakeStep {
            output: vec![(Stream::Stdout, format!("[COUT] from = {}", launch.step_key))],
            exit_code: if fails { 1 } else { 0 },
            hang: launch.step_key.starts_with("hang"),
            error: None,
            hold: None,
        }
    });
    (Arc::new(backend), rx)
}

fn config(id: &str) -> CoordinatorConfig {
    CoordinatorConfig {
        server_id: id.to_string(),
        max_runs: None,
        lease: Duration::from_secs(30),
        limits: co_runner::RunLimits::default(),
        policy: Default::default(),
        statuses: Default::default(),
        artifacts: None,
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    coordinator: Coordinator,
    backend: Arc<FakeBackend>,
    started: Started,
    failing: Arc<Mutex<Vec<String>>>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("server.db").to_string_lossy())
        .await
        .unwrap();
    let failing = Arc::new(Mutex::new(Vec::new()));
    let (backend, started) = backend(failing.clone());
    let coordinator = Coordinator::start(
        store.clone(),
        backend.clone(),
        config("s1"),
        Arc::new(Plain),
    );
    World {
        _dir: dir,
        store,
        coordinator,
        backend,
        started,
        failing,
    }
}

fn request(workflow: &str) -> RunRequest {
    RunRequest {
        workflow: workflow.into(),
        trigger: json!({"event": "api"}),
        ..RunRequest::default()
    }
}

/// Wait until `coordinator` reports `run_id` finished.
async fn finished(
    events: &mut tokio::sync::broadcast::Receiver<(String, RunStatus)>,
    run_id: &str,
) -> RunStatus {
    loop {
        let (id, status) = events.recv().await.unwrap();
        if id == run_id {
            return status;
        }
    }
}

/// Wait until a step whose key is `key` of run `run_id` starts.
async fn step_started(started: &mut Started, run_id: &str, key: &str) -> u32 {
    loop {
        let (run, step, attempt) = started.recv().await.unwrap();
        if run == run_id && step == key {
            return attempt;
        }
    }
}

const CHAIN: &str = r#"name: chain
inputs:
  n: { type: int, default: 1 }
stages:
  - name: one
    actions:
      - { name: first, image: IMG }
  - name: two
    actions:
      - { name: failing, image: IMG, with: { n: "${{ inputs.n }}", from: "${{ actions.first.outputs.from }}" } }
"#;

fn chain() -> String {
    CHAIN.replace("IMG", IMG)
}

#[tokio::test]
async fn a_submitted_run_is_claimed_and_run_to_the_end() {
    let mut w = world().await;
    let mut events = w.coordinator.finished_runs();
    w.store
        .put_workflow_revision("chain", &chain())
        .await
        .unwrap();
    let mut req = request("chain");
    req.inputs = IndexMap::from([("n".to_string(), json!("7"))]);
    let submitted = w.coordinator.submit(req).await.unwrap();
    assert!(!submitted.duplicate);
    assert_eq!(
        finished(&mut events, &submitted.run_id).await,
        RunStatus::Succeeded
    );

    let detail = w.store.get_run(&submitted.run_id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded);
    assert_eq!(detail.run.revision, Some(1));
    assert_eq!(
        detail.run.inputs,
        json!({"n": 7}),
        "inputs stored with their types"
    );
    assert_eq!(detail.run.trigger, json!({"event": "api"}));
    assert_eq!(detail.steps.len(), 2);
    assert!(detail
        .steps
        .iter()
        .all(|s| s.status == StepStatus::Succeeded));
    assert_eq!(detail.steps[1].outputs, json!({"from": "failing"}));
    let launches = w.backend.launches.lock().unwrap().clone();
    let second = launches.iter().find(|l| l.step_key == "failing").unwrap();
    assert!(second
        .env
        .contains(&("CO_INPUT_FROM".to_string(), "first".to_string())));
    assert!(w.started.try_recv().is_ok());
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_stored() {
    let w = world().await;
    w.store
        .put_workflow_revision("chain", &chain())
        .await
        .unwrap();
    let mut req = request("chain");
    req.inputs = IndexMap::from([
        ("n".to_string(), json!("many")),
        ("zzz".to_string(), json!(1)),
    ]);
    match w.coordinator.submit(req).await {
        Err(CoordinatorError::Invalid(problems)) => {
            let text = problems.join("\n");
            assert!(text.contains("input n: expected int"), "{text}");
            assert!(text.contains("unknown input \"zzz\""), "{text}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(matches!(
        w.coordinator.submit(request("nope")).await,
        Err(CoordinatorError::NotFound(_))
    ));
    assert!(w
        .store
        .list_runs(&co_store::RunFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_redelivered_webhook_starts_no_second_run() {
    let w = world().await;
    w.store
        .put_workflow_revision("chain", &chain())
        .await
        .unwrap();
    let mut req = request("chain");
    req.delivery = Some(HookDelivery {
        kind: "github",
        id: "d-1".into(),
    });
    let first = w.coordinator.submit(req.clone()).await.unwrap();
    let again = w.coordinator.submit(req.clone()).await.unwrap();
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.run_id, first.run_id);
    // The same id sent to the workflow's trigger of another kind is another delivery.
    req.delivery = Some(HookDelivery {
        kind: "webhook",
        id: "d-1".into(),
    });
    let other = w.coordinator.submit(req).await.unwrap();
    assert!(!other.duplicate);
    assert_ne!(other.run_id, first.run_id);
    let runs = w
        .store
        .list_runs(&co_store::RunFilter::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
}

#[tokio::test]
async fn the_concurrency_limit_queues_runs_and_cancel_frees_the_slot() {
    let mut w = world().await;
    let mut events = w.coordinator.finished_runs();
    let yaml = format!(
        "name: one-at-a-time\nconcurrency: 1\nstages:\n  - name: s\n    actions: [{{ name: hang, image: {IMG} }}]\n"
    );
    w.store
        .put_workflow_revision("one-at-a-time", &yaml)
        .await
        .unwrap();
    let a = w
        .coordinator
        .submit(request("one-at-a-time"))
        .await
        .unwrap();
    step_started(&mut w.started, &a.run_id, "hang").await;
    let b = w
        .coordinator
        .submit(request("one-at-a-time"))
        .await
        .unwrap();
    // b stays queued while a runs (the workflow is full).
    assert_eq!(
        w.store.get_run(&b.run_id).await.unwrap().run.status,
        co_store::RunStatus::Queued
    );

    w.coordinator.cancel(&a.run_id).await.unwrap();
    assert_eq!(finished(&mut events, &a.run_id).await, RunStatus::Cancelled);
    // The freed slot goes to b.
    step_started(&mut w.started, &b.run_id, "hang").await;
    assert_eq!(
        w.store.get_run(&b.run_id).await.unwrap().run.status,
        co_store::RunStatus::Running
    );
    w.coordinator.cancel(&b.run_id).await.unwrap();
    assert_eq!(finished(&mut events, &b.run_id).await, RunStatus::Cancelled);
}

#[tokio::test]
async fn cancelling_a_queued_run_cancels_it_at_once() {
    let mut w = world().await;
    let yaml = format!(
        "name: one\nconcurrency: 1\nstages:\n  - name: s\n    actions: [{{ name: hang, image: {IMG} }}]\n"
    );
    w.store.put_workflow_revision("one", &yaml).await.unwrap();
    let a = w.coordinator.submit(request("one")).await.unwrap();
    step_started(&mut w.started, &a.run_id, "hang").await;
    let b = w.coordinator.submit(request("one")).await.unwrap();
    w.coordinator.cancel(&b.run_id).await.unwrap();
    let run = w.store.get_run(&b.run_id).await.unwrap().run;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(run.finished_at.is_some());
    w.coordinator.cancel(&a.run_id).await.unwrap();
}

#[tokio::test]
async fn resume_reuses_succeeded_steps_and_rerun_runs_everything() {
    let w = world().await;
    let mut events = w.coordinator.finished_runs();
    let yaml = chain().replace("name: failing", "name: fail-then-ok");
    w.store.put_workflow_revision("chain", &yaml).await.unwrap();
    // The first run's second step fails.
    let first_id = {
        let submitted = w.coordinator.submit(request("chain")).await.unwrap();
        submitted.run_id
    };
    w.failing.lock().unwrap().push(first_id.clone());
    assert_eq!(finished(&mut events, &first_id).await, RunStatus::Failed);
    let launches_before = w.backend.launches.lock().unwrap().len();

    let resumed = w.coordinator.resume(&first_id, None).await.unwrap();
    assert_eq!(
        finished(&mut events, &resumed.run_id).await,
        RunStatus::Succeeded
    );
    let detail = w.store.get_run(&resumed.run_id).await.unwrap();
    assert_eq!(detail.run.parent.as_deref(), Some(first_id.as_str()));
    assert_eq!(detail.run.trigger["event"], "resume");
    // Only the failed step ran again; the first step's result (and output) was reused.
    let new: Vec<String> = w.backend.launches.lock().unwrap()[launches_before..]
        .iter()
        .map(|l| l.step_key.clone())
        .collect();
    assert_eq!(new, ["fail-then-ok"]);
    assert_eq!(detail.steps[0].status, StepStatus::Reused);
    assert_eq!(
        detail.steps[0].reused_from.as_deref(),
        Some(first_id.as_str())
    );
    assert_eq!(detail.steps[0].outputs, json!({"from": "first"}));
    assert_eq!(detail.steps[1].status, StepStatus::Succeeded);
    assert_eq!(detail.steps[1].reused_from, None);

    // A succeeded run cannot be resumed; it can be rerun, which runs every step.
    assert!(matches!(
        w.coordinator.resume(&resumed.run_id, None).await,
        Err(CoordinatorError::Invalid(_))
    ));
    let before = w.backend.launches.lock().unwrap().len();
    let rerun = w.coordinator.rerun(&resumed.run_id, None).await.unwrap();
    assert_eq!(
        finished(&mut events, &rerun.run_id).await,
        RunStatus::Succeeded
    );
    assert_eq!(w.backend.launches.lock().unwrap().len() - before, 2);
}

/// Resuming with another revision reuses only the steps whose definition did not change (and
/// whose dependencies were reused); the run records that revision; the earlier run's inputs must
/// fit it.
#[tokio::test]
async fn resume_with_a_revision_reuses_only_unchanged_steps() {
    let w = world().await;
    let mut events = w.coordinator.finished_runs();
    let v1 = format!(
        "name: fix\ninputs:\n  n: {{ type: int, default: 1 }}\nstages:\n  - name: one\n    actions:\n      - {{ name: first, image: {IMG} }}\n      - {{ name: side, image: {IMG} }}\n  - name: two\n    actions:\n      - {{ name: fail-a, image: {IMG}, needs: [first] }}\n      - {{ name: later, image: {IMG}, needs: [side] }}\n"
    );
    w.store.put_workflow_revision("fix", &v1).await.unwrap();
    let first_id = w.coordinator.submit(request("fix")).await.unwrap().run_id;
    w.failing.lock().unwrap().push(first_id.clone());
    assert_eq!(finished(&mut events, &first_id).await, RunStatus::Failed);

    // Revision 2 changes `side` (an env value) and keeps everything else.
    let v2 = v1.replace(
        &format!("{{ name: side, image: {IMG} }}"),
        &format!("{{ name: side, image: {IMG}, env: {{ X: changed }} }}"),
    );
    assert_ne!(v1, v2);
    w.store.put_workflow_revision("fix", &v2).await.unwrap();
    let before = w.backend.launches.lock().unwrap().len();
    let resumed = w.coordinator.resume(&first_id, Some(2)).await.unwrap();
    assert_eq!(
        finished(&mut events, &resumed.run_id).await,
        RunStatus::Succeeded
    );
    let detail = w.store.get_run(&resumed.run_id).await.unwrap();
    assert_eq!(detail.run.revision, Some(2));
    assert_eq!(detail.run.source, v2);
    let status = |key: &str| {
        let step = detail.steps.iter().find(|s| s.key == key).unwrap();
        (step.status, step.reused_from.clone())
    };
    assert_eq!(
        status("first"),
        (StepStatus::Reused, Some(first_id.clone()))
    );
    assert_eq!(status("side"), (StepStatus::Succeeded, None));
    assert_eq!(status("fail-a"), (StepStatus::Succeeded, None));
    // `later` succeeded before, but waits for `side`, which ran again.
    assert_eq!(status("later"), (StepStatus::Succeeded, None));
    let mut ran: Vec<String> = w.backend.launches.lock().unwrap()[before..]
        .iter()
        .map(|l| l.step_key.clone())
        .collect();
    ran.sort();
    assert_eq!(ran, ["fail-a", "later", "side"]);

    // Inputs that do not fit the revision: refused, saying why; an unknown revision: not found.
    let v3 = v2.replace(
        "n: { type: int, default: 1 }",
        "m: { type: int, required: true }",
    );
    w.store.put_workflow_revision("fix", &v3).await.unwrap();
    match w.coordinator.resume(&first_id, Some(3)).await {
        Err(CoordinatorError::Invalid(problems)) => {
            let text = problems.join("\n");
            assert!(text.contains("do not fit revision 3"), "{text}");
            assert!(text.contains("unknown input \"n\""), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.coordinator.resume(&first_id, Some(9)).await,
        Err(CoordinatorError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_missing_secret_fails_the_run_with_the_reason() {
    let w = world().await;
    let mut events = w.coordinator.finished_runs();
    let yaml = format!(
        "name: sec\nstages:\n  - name: s\n    actions: [{{ name: use, image: {IMG}, with: {{ t: \"${{{{ secrets.TOKEN }}}}\" }} }}]\n"
    );
    w.store.put_workflow_revision("sec", &yaml).await.unwrap();
    let run = w.coordinator.submit(request("sec")).await.unwrap();
    assert_eq!(finished(&mut events, &run.run_id).await, RunStatus::Failed);
    let detail = w.store.get_run(&run.run_id).await.unwrap();
    assert!(
        detail
            .run
            .error
            .as_deref()
            .unwrap_or("")
            .contains("secret TOKEN is not set"),
        "{:?}",
        detail.run.error
    );
    assert_eq!(detail.steps[0].status, StepStatus::Skipped);

    // With the secret stored, the step gets its value.
    w.store.put_secret("TOKEN", "s3cr3t").await.unwrap();
    let run = w.coordinator.submit(request("sec")).await.unwrap();
    assert_eq!(
        finished(&mut events, &run.run_id).await,
        RunStatus::Succeeded
    );
    let launches = w.backend.launches.lock().unwrap().clone();
    assert!(launches.iter().any(|l| l
        .env
        .contains(&("CO_INPUT_T".to_string(), "s3cr3t".to_string()))));
}

#[tokio::test]
async fn two_coordinators_share_the_queue_and_each_run_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("shared.db").to_string_lossy())
        .await
        .unwrap();
    let failing = Arc::new(Mutex::new(Vec::new()));
    let (backend_a, _ra) = backend(failing.clone());
    let (backend_b, _rb) = backend(failing);
    let mut limited = config("a");
    limited.max_runs = Some(2);
    let a = Coordinator::start(store.clone(), backend_a.clone(), limited, Arc::new(Plain));
    let mut limited = config("b");
    limited.max_runs = Some(2);
    let b = Coordinator::start(store.clone(), backend_b.clone(), limited, Arc::new(Plain));
    store
        .put_workflow_revision("chain", &chain())
        .await
        .unwrap();
    let mut events_a = a.finished_runs();
    let mut events_b = b.finished_runs();
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(a.submit(request("chain")).await.unwrap().run_id);
    }
    // Collect finish events from both until every run is done.
    let mut done = std::collections::HashMap::new();
    while done.len() < ids.len() {
        tokio::select! {
            Ok((id, status)) = events_a.recv() => { done.insert(id, status); }
            Ok((id, status)) = events_b.recv() => { done.insert(id, status); }
        }
    }
    assert!(done.values().all(|s| *s == RunStatus::Succeeded));
    // Every step of every run was launched exactly once, by one of the two.
    let mut launches: Vec<(String, String)> = backend_a
        .launches
        .lock()
        .unwrap()
        .iter()
        .chain(backend_b.launches.lock().unwrap().iter())
        .map(|l| (l.run_id.clone(), l.step_key.clone()))
        .collect();
    launches.sort();
    let total = launches.len();
    launches.dedup();
    assert_eq!(total, launches.len(), "a step was launched twice");
    assert_eq!(total, ids.len() * 2);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_run_whose_server_stopped_is_recovered_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("shared.db").to_string_lossy())
        .await
        .unwrap();
    let failing = Arc::new(Mutex::new(Vec::new()));
    let (backend_a, mut started_a) = backend(failing.clone());
    let a = Coordinator::start(store.clone(), backend_a, config("a"), Arc::new(Plain));
    let yaml = format!(
        "name: rec\nstages:\n  - name: s\n    actions:\n      - {{ name: first, image: {IMG} }}\n  - name: t\n    actions:\n      - {{ name: hang, image: {IMG}, retry: {{ attempts: 2 }} }}\n"
    );
    store.put_workflow_revision("rec", &yaml).await.unwrap();
    let run = a.submit(request("rec")).await.unwrap();
    step_started(&mut started_a, &run.run_id, "hang").await;
    // Server a goes away while `hang` runs (its containers would keep running).
    a.shutdown().await;

    // Server b claims the run at once (a released its lease) and recovers it. The fake backend
    // has no container to reattach to, so attempt 1 is "gone" and attempt 2 runs — on b.
    let (backend_b, mut started_b) = backend(Arc::new(Mutex::new(Vec::new())));
    let b = Coordinator::start(
        store.clone(),
        backend_b.clone(),
        config("b"),
        Arc::new(Plain),
    );
    let attempt = step_started(&mut started_b, &run.run_id, "hang").await;
    assert_eq!(attempt, 2);
    let detail = store.get_run(&run.run_id).await.unwrap();
    let first = detail
        .attempts
        .iter()
        .find(|x| x.step_key == "hang" && x.attempt == 1)
        .unwrap();
    assert_eq!(first.status, StepStatus::Failed);
    assert!(
        first.error.as_deref().unwrap_or("").contains("is gone"),
        "{:?}",
        first.error
    );
    // `first` is not run again on b.
    assert!(backend_b
        .launches
        .lock()
        .unwrap()
        .iter()
        .all(|l| l.step_key != "first"));
    let mut events = b.finished_runs();
    b.cancel(&run.run_id).await.unwrap();
    assert_eq!(
        finished(&mut events, &run.run_id).await,
        RunStatus::Cancelled
    );
    b.shutdown().await;
}

#[tokio::test]
async fn a_server_whose_own_lease_lapsed_keeps_driving_its_run_once() {
    let mut w = world().await;
    let yaml = format!(
        "name: held\nstages:\n  - name: s\n    actions:\n      - {{ name: hang, image: {IMG}, retry: {{ attempts: 2 }} }}\n"
    );
    w.store.put_workflow_revision("held", &yaml).await.unwrap();
    w.store
        .put_workflow_revision("chain", &chain())
        .await
        .unwrap();
    let held = w.coordinator.submit(request("held")).await.unwrap().run_id;
    assert_eq!(step_started(&mut w.started, &held, "hang").await, 1);
    // The server's lease lapses while it still drives the run (as when a loaded machine delays a
    // renewal): its next dispatch round finds its own run with an expired lease.
    w.store.renew_leases("s1", 0).await.unwrap();
    let mut events = w.coordinator.finished_runs();
    let next = w.coordinator.submit(request("chain")).await.unwrap().run_id;
    // That round claims the expired run before the queued one; once the queued run's first step
    // has started, the round has handled the held run.
    step_started(&mut w.started, &next, "first").await;
    assert_eq!(finished(&mut events, &next).await, RunStatus::Succeeded);
    w.coordinator.cancel(&held).await.unwrap();
    assert_eq!(finished(&mut events, &held).await, RunStatus::Cancelled);
    let launches: Vec<u32> = w
        .backend
        .launches
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.run_id == held)
        .map(|l| l.attempt)
        .collect();
    assert_eq!(
        launches,
        [1],
        "the step was started again by a second driver"
    );
    assert!(
        w.backend.reattaches.lock().unwrap().is_empty(),
        "a second driver reattached to the running step"
    );
    let detail = w.store.get_run(&held).await.unwrap();
    assert_eq!(detail.attempts.len(), 1, "{:?}", detail.attempts);
    w.coordinator.shutdown().await;
}

/// The launch policy: a run of a workflow whose image is from a registry the server does not
/// allow is refused when it is queued; one queued earlier (under another policy, here by another
/// server) fails with the reason when it would start, and nothing of it is launched.
#[tokio::test]
async fn runs_against_the_launch_policy_are_refused_when_queued_and_when_started() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("shared.db").to_string_lossy())
        .await
        .unwrap();
    let failing = Arc::new(Mutex::new(Vec::new()));
    let (backend_a, mut started_a) = backend(failing.clone());
    let (backend_b, _rb) = backend(failing);
    // `a` allows everything and runs one run at a time; `b` allows `localhost` images only.
    let mut open = config("a");
    open.max_runs = Some(1);
    let a = Coordinator::start(store.clone(), backend_a, open, Arc::new(Plain));
    let strict = co_server::policy::LaunchPolicy {
        registries: Some(vec![
            co_server::policy::RegistryRule::parse("localhost").unwrap()
        ]),
        ..Default::default()
    };
    let mut strict_config = config("b");
    strict_config.policy = Arc::new(strict);
    let hang = format!(
        "name: hold\nstages:\n  - name: s\n    actions: [{{ name: hang, image: {IMG} }}]\n"
    );
    let outside = "name: outside\nstages:\n  - name: s\n    actions: [{ name: pull, image: quay.io/acme/tool:1 }]\n";
    store.put_workflow_revision("hold", &hang).await.unwrap();
    store
        .put_workflow_revision("outside", outside)
        .await
        .unwrap();

    let held = a.submit(request("hold")).await.unwrap().run_id;
    step_started(&mut started_a, &held, "hang").await;
    // Queued behind the held run under `a`'s policy.
    let queued = a.submit(request("outside")).await.unwrap().run_id;

    let b = Coordinator::start(
        store.clone(),
        backend_b.clone(),
        strict_config,
        Arc::new(Plain),
    );
    let mut events = b.finished_runs();
    match b.submit(request("outside")).await {
        Err(CoordinatorError::Invalid(problems)) => {
            let text = problems.join("\n");
            assert!(
                text.contains("action `pull`: image `quay.io/acme/tool:1` is from registry `quay.io`, which this server does not allow (allowed_registries: localhost)"),
                "{text}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(finished(&mut events, &queued).await, RunStatus::Failed);
    let detail = store.get_run(&queued).await.unwrap();
    let error = detail.run.error.unwrap_or_default();
    assert!(error.contains("does not allow"), "{error}");
    assert_eq!(detail.steps[0].status, StepStatus::Skipped);
    assert!(backend_b.launches.lock().unwrap().is_empty());

    a.cancel(&held).await.unwrap();
    a.shutdown().await;
    b.shutdown().await;
}

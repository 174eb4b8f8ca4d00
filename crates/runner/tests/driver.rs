//! The driver with a scripted fake backend and a real SQLite store: what gets recorded, masked,
//! shown and cleaned up. (The same flows on real Podman are in crates/cli/tests.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use co_backend::{BackendError, Stream};
use co_engine::{RunConfig, RunStatus, StepStatus};
use co_runner::fake::{FakeBackend, FakeStep};
use co_runner::{CancelHandle, Observer, Runner, StepView};
use co_spec::{Loader, NoCatalog, Plan};
use co_store::Store;
use indexmap::IndexMap;
use serde_json::json;

const IMG: &str = "localhost/test/busybox:latest";

fn plan(yaml: &str) -> Arc<Plan> {
    let wf = Loader::new(&NoCatalog)
        .parse_workflow(yaml, "wf.yaml", Path::new("."))
        .unwrap_or_else(|d| panic!("{:?}", d.0));
    Arc::new(co_spec::plan(Arc::new(wf)))
}

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("runs.db").to_string_lossy())
        .await
        .unwrap()
}

fn out(text: &str) -> (Stream, String) {
    (Stream::Stdout, text.to_string())
}

/// Records what an observer is told; optionally cancels the run when a step starts running.
#[derive(Default)]
struct Recorder {
    changes: Mutex<Vec<(String, StepStatus)>>,
    lines: Mutex<Vec<(String, String)>>,
    finished: Mutex<Option<RunStatus>>,
    cancel_on_running: Mutex<Option<(String, CancelHandle)>>,
    timed_out: Mutex<Vec<(String, std::time::Duration)>>,
}

impl Observer for Recorder {
    fn step_changed(&self, step: &StepView) {
        self.changes
            .lock()
            .unwrap()
            .push((step.key.clone(), step.status));
        if step.status == StepStatus::Running {
            let guard = self.cancel_on_running.lock().unwrap();
            if let Some((key, handle)) = guard.as_ref() {
                if key == &step.key {
                    handle.cancel();
                }
            }
        }
    }
    fn log_line(&self, _step: &str, action: &str, _attempt: u32, _s: Stream, text: &str) {
        self.lines
            .lock()
            .unwrap()
            .push((action.to_string(), text.to_string()));
    }
    fn run_finished(&self, _run_id: &str, status: RunStatus) {
        *self.finished.lock().unwrap() = Some(status);
    }
    fn step_timed_out(&self, step: &StepView, limit: std::time::Duration) {
        self.timed_out
            .lock()
            .unwrap()
            .push((step.key.clone(), limit));
    }
}

fn config() -> RunConfig {
    RunConfig {
        run_id: co_runner::new_run_id(),
        ..RunConfig::default()
    }
}

#[tokio::test]
async fn a_successful_run_is_recorded_step_by_step_with_outputs_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|launch| match launch.step_key.as_str() {
        "say" => FakeStep {
            output: vec![
                out("saying hello"),
                out("[COUT] greeting = hello world"),
                (Stream::Stderr, "a warning".into()),
            ],
            ..FakeStep::default()
        },
        _ => FakeStep::default(),
    }));
    let runner = Runner::new(backend.clone(), store.clone());
    let yaml = format!(
        "name: hello\nstages:\n  - name: greet\n    actions:\n      - {{ name: say, image: {IMG} }}\n  - name: shout\n    actions:\n      - {{ name: upper, image: {IMG}, with: {{ text: \"${{{{ actions.say.outputs.greeting }}}}\" }} }}\n"
    );
    let recorder = Arc::new(Recorder::default());
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    // Recorded as queued with pending steps before anything runs.
    let queued = store.get_run(&run_id).await.unwrap();
    assert_eq!(queued.run.status, RunStatus::Queued);
    assert_eq!(
        queued
            .steps
            .iter()
            .map(|s| s.status.as_str())
            .collect::<Vec<_>>(),
        ["pending", "pending"]
    );

    let result = runner.execute(prepared, recorder.clone()).await.unwrap();
    assert_eq!(result.status, RunStatus::Succeeded);

    let detail = store.get_run(&run_id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded);
    assert!(detail.run.started_at.is_some() && detail.run.finished_at.is_some());
    let say = &detail.steps[0];
    assert_eq!((say.stage.as_str(), say.action.as_str()), ("greet", "say"));
    assert_eq!(say.status, StepStatus::Succeeded);
    assert_eq!(say.outputs, json!({"greeting": "hello world"}));
    assert_eq!(say.exit_code, Some(0));
    assert_eq!(detail.attempts.len(), 2);
    assert!(detail
        .attempts
        .iter()
        .all(|a| a.status == StepStatus::Succeeded && a.finished_at.is_some()));
    assert_eq!(
        detail.attempts[0].container_id.as_deref(),
        Some("fake-say-1")
    );

    // The second step got the first one's output as its input.
    let upper = backend
        .launches
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.step_key == "upper")
        .cloned()
        .unwrap();
    assert!(upper
        .env
        .contains(&("CO_INPUT_TEXT".to_string(), "hello world".to_string())));

    // Every line stored, in order, with gapless sequence numbers and its stream.
    let logs = store.logs(&run_id, None, 0, 100).await.unwrap();
    let seqs: Vec<i64> = logs.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(logs[0].text, "saying hello");
    assert_eq!(logs[2].stream, "stderr");
    assert_eq!(recorder.lines.lock().unwrap().len(), 3);
    assert_eq!(
        *recorder.finished.lock().unwrap(),
        Some(RunStatus::Succeeded)
    );
    // The workspace was finished.
    assert!(backend.open_workspaces.lock().unwrap().is_empty());
}

#[tokio::test]
async fn secrets_are_masked_in_stored_and_shown_lines() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| FakeStep {
        output: vec![
            out("token is hunter2-token"),
            out("basic aHVudGVyMi10b2tlbg=="),
            out("input s3cr3t-input"),
        ],
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend, store.clone());
    let yaml = format!(
        "name: sec\ninputs:\n  pw: {{ type: secret, required: true }}\nstages:\n  - name: s\n    actions:\n      - {{ name: leak, image: {IMG}, with: {{ t: \"${{{{ secrets.TOKEN }}}}\" }} }}\n"
    );
    let mut cfg = config();
    cfg.secrets.insert("TOKEN".into(), "hunter2-token".into());
    cfg.inputs.insert("pw".into(), json!("s3cr3t-input"));
    let recorder = Arc::new(Recorder::default());
    let prepared = runner.prepare(plan(&yaml), cfg).await.unwrap();
    let run_id = prepared.run_id().to_string();
    runner.execute(prepared, recorder.clone()).await.unwrap();
    let stored: Vec<String> = store
        .logs(&run_id, None, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert_eq!(stored, ["token is ***", "basic ***", "input ***"]);
    let shown: Vec<String> = recorder
        .lines
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(shown, stored);
}

#[tokio::test]
async fn a_failed_step_records_its_reason_and_skips_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|launch| match launch.step_key.as_str() {
        "build" => FakeStep {
            exit_code: 3,
            ..FakeStep::default()
        },
        "pull" => FakeStep {
            error: Some(BackendError::ImageNotFound {
                image: "nope:1".into(),
                detail: "pull access denied".into(),
            }),
            ..FakeStep::default()
        },
        _ => FakeStep::default(),
    }));
    let runner = Runner::new(backend, store.clone());
    let yaml = format!(
        "name: fail\nstages:\n  - name: a\n    actions:\n      - {{ name: build, image: {IMG} }}\n      - {{ name: pull, image: {IMG} }}\n  - name: b\n    actions:\n      - {{ name: ship, image: {IMG} }}\n"
    );
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    let result = runner
        .execute(prepared, Arc::new(co_runner::NoObserver))
        .await
        .unwrap();
    assert_eq!(result.status, RunStatus::Failed);
    let detail = store.get_run(&run_id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Failed);
    let by_key = |k: &str| detail.steps.iter().find(|s| s.key == k).unwrap();
    assert_eq!(by_key("build").error.as_deref(), Some("exit code 3"));
    assert_eq!(by_key("build").exit_code, Some(3));
    assert_eq!(
        by_key("pull").error.as_deref(),
        Some("image nope:1 not found (pull access denied)")
    );
    assert_eq!(by_key("ship").status, StepStatus::Skipped);
    assert_eq!(by_key("ship").started_at, None);
}

#[tokio::test]
async fn every_attempt_of_a_retried_step_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|launch| FakeStep {
        exit_code: if launch.attempt < 3 { 1 } else { 0 },
        output: vec![out(&format!("attempt {}", launch.attempt))],
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend, store.clone());
    let yaml = format!(
        "name: retry\nstages:\n  - name: s\n    actions:\n      - {{ name: flaky, image: {IMG}, retry: {{ attempts: 3 }} }}\n"
    );
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    runner
        .execute(prepared, Arc::new(co_runner::NoObserver))
        .await
        .unwrap();
    let detail = store.get_run(&run_id).await.unwrap();
    assert_eq!(detail.steps[0].status, StepStatus::Succeeded);
    assert_eq!(detail.steps[0].attempts, 3);
    let attempts: Vec<(i64, &str, Option<&str>)> = detail
        .attempts
        .iter()
        .map(|a| (a.attempt, a.status.as_str(), a.error.as_deref()))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, "failed", Some("exit code 1")),
            (2, "failed", Some("exit code 1")),
            (3, "succeeded", None)
        ]
    );
    let lines: Vec<i64> = store
        .logs(&run_id, Some("flaky"), 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|l| l.attempt)
        .collect();
    assert_eq!(lines, [1, 2, 3]);
}

#[tokio::test]
async fn cancelling_stops_running_steps_records_cancelled_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|launch| FakeStep {
        hang: launch.step_key == "long",
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend.clone(), store.clone());
    let yaml = format!(
        "name: cancel\nstages:\n  - name: s\n    actions:\n      - {{ name: long, image: {IMG} }}\n  - name: t\n    actions:\n      - {{ name: next, image: {IMG} }}\nfinally:\n  - {{ name: cleanup, image: {IMG} }}\n"
    );
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    let recorder = Arc::new(Recorder::default());
    *recorder.cancel_on_running.lock().unwrap() = Some(("long".into(), prepared.cancel_handle()));
    let result = runner.execute(prepared, recorder.clone()).await.unwrap();
    assert_eq!(result.status, RunStatus::Cancelled);
    let detail = store.get_run(&run_id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Cancelled);
    let statuses: Vec<(&str, &str)> = detail
        .steps
        .iter()
        .map(|s| (s.key.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("long", "cancelled"),
            ("next", "cancelled"),
            ("cleanup", "succeeded")
        ]
    );
    assert!(backend.open_workspaces.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_timeout_stops_a_hanging_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| FakeStep {
        hang: true,
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend, store.clone());
    // The run waits for the (real) 200 ms timer: the behaviour under test is the timer itself.
    let yaml = format!(
        "name: slow\nstages:\n  - name: s\n    actions:\n      - {{ name: hang, image: {IMG}, timeout: 200ms }}\n"
    );
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    let observer = Arc::new(Recorder::default());
    let result = runner.execute(prepared, observer.clone()).await.unwrap();
    assert_eq!(result.status, RunStatus::Failed);
    let detail = store.get_run(&run_id).await.unwrap();
    assert_eq!(
        detail.steps[0].error.as_deref(),
        Some("timed out after 200ms")
    );
    // The observer heard it when it fired (the CLI prints it).
    assert_eq!(
        *observer.timed_out.lock().unwrap(),
        [("hang".to_string(), std::time::Duration::from_millis(200))]
    );
}

#[tokio::test]
async fn bad_inputs_are_rejected_before_anything_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let runner = Runner::new(
        Arc::new(FakeBackend::new(|_| FakeStep::default())),
        store.clone(),
    );
    let yaml = format!(
        "name: inp\ninputs:\n  n: {{ type: int, required: true }}\nstages:\n  - name: s\n    actions: [{{ name: a, image: {IMG} }}]\n"
    );
    let mut cfg = config();
    cfg.inputs = IndexMap::from([("n".to_string(), json!("many"))]);
    let err = runner.prepare(plan(&yaml), cfg).await.err().unwrap();
    assert!(err.to_string().contains("input n: expected int"), "{err}");
    assert!(store
        .list_runs(&co_store::RunFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn several_runs_at_once_share_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|launch| FakeStep {
        output: (0..50)
            .map(|i| out(&format!("{} line {i}", launch.step_key)))
            .collect(),
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend, store.clone());
    let yaml = format!(
        "name: par\nstages:\n  - name: s\n    actions:\n      - {{ name: a, image: {IMG} }}\n      - {{ name: b, image: {IMG} }}\n"
    );
    let plan = plan(&yaml);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let runner = runner.clone();
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            let prepared = runner.prepare(plan, config()).await.unwrap();
            let id = prepared.run_id().to_string();
            let r = runner
                .execute(prepared, Arc::new(co_runner::NoObserver))
                .await
                .unwrap();
            (id, r.status)
        }));
    }
    for task in tasks {
        let (id, status) = task.await.unwrap();
        assert_eq!(status, RunStatus::Succeeded);
        let logs = store.logs(&id, None, 0, 1000).await.unwrap();
        assert_eq!(logs.len(), 100);
        let seqs: Vec<i64> = logs.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>(), "gapless per run");
    }
}

#[tokio::test]
async fn steps_beyond_max_parallel_steps_wait_for_a_free_slot_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let hold = release.clone();
    let backend = Arc::new(FakeBackend::new(move |_| FakeStep {
        hold: Some(hold.clone()),
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend.clone(), store.clone()).with_limits(co_runner::RunLimits {
        max_parallel_steps: Some(2),
        ..co_runner::RunLimits::default()
    });
    assert_eq!(runner.max_parallel_steps(), 2);
    let yaml = format!(
        "name: wide\nstages:\n  - name: s\n    actions:\n      - {{ name: a, image: {IMG}, matrix: {{ n: [1, 2, 3, 4, 5, 6] }} }}\n"
    );
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run = tokio::spawn({
        let runner = runner.clone();
        async move {
            runner
                .execute(prepared, Arc::new(Recorder::default()))
                .await
        }
    });
    let mut running = backend.running.subscribe();
    running.wait_for(|n| *n == 2).await.unwrap();
    assert_eq!(backend.launches.lock().unwrap().len(), 2, "the rest wait");
    // Each step that ends lets the next one start.
    release.add_permits(6);
    let result = run.await.unwrap().unwrap();
    assert_eq!(result.status, RunStatus::Succeeded);
    assert_eq!(backend.peak.load(std::sync::atomic::Ordering::SeqCst), 2);
    let order: Vec<String> = backend
        .launches
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.step_key.clone())
        .collect();
    assert_eq!(
        order,
        ["a[n=1]", "a[n=2]", "a[n=3]", "a[n=4]", "a[n=5]", "a[n=6]"]
    );
}

#[tokio::test]
async fn a_step_waiting_for_a_slot_is_cancelled_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|launch| FakeStep {
        hang: launch.step_key == "first",
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend.clone(), store.clone()).with_limits(co_runner::RunLimits {
        max_parallel_steps: Some(1),
        ..co_runner::RunLimits::default()
    });
    let yaml = format!(
        "name: two\nstages:\n  - name: s\n    actions:\n      - {{ name: first, image: {IMG} }}\n      - {{ name: second, image: {IMG} }}\n"
    );
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let cancel = prepared.cancel_handle();
    let run_id = prepared.run_id().to_string();
    let run = tokio::spawn({
        let runner = runner.clone();
        async move {
            runner
                .execute(prepared, Arc::new(Recorder::default()))
                .await
        }
    });
    let mut running = backend.running.subscribe();
    running.wait_for(|n| *n == 1).await.unwrap();
    cancel.cancel();
    let result = run.await.unwrap().unwrap();
    assert_eq!(result.status, RunStatus::Cancelled);
    let launched: Vec<String> = backend
        .launches
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.step_key.clone())
        .collect();
    assert_eq!(
        launched,
        ["first"],
        "the second step never reached the backend"
    );
    let detail = store.get_run(&run_id).await.unwrap();
    assert!(detail
        .steps
        .iter()
        .all(|s| s.status == StepStatus::Cancelled));
}

/// An observer that panics on every log line (as `println!` did on a closed stdout).
struct PanicsOnLines;

impl Observer for PanicsOnLines {
    fn log_line(&self, _step: &str, _action: &str, _attempt: u32, _s: Stream, _text: &str) {
        panic!("failed printing to stdout: Broken pipe");
    }
}

/// A step whose output path panics still ends (failed, with the reason), the run finishes and
/// the workspace is cleaned up: nothing waits forever for an attempt whose task died.
#[tokio::test]
async fn a_panicking_attempt_task_ends_the_step_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| FakeStep {
        output: vec![out("hello")],
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend.clone(), store.clone());
    let yaml = format!(
        "name: p\nstages:\n  - name: a\n    actions:\n      - {{ name: talk, image: {IMG} }}\n"
    );
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    let result = runner
        .execute(prepared, Arc::new(PanicsOnLines))
        .await
        .unwrap();
    assert_eq!(result.status, RunStatus::Failed);
    let detail = store.get_run(&run_id).await.unwrap();
    let talk = &detail.steps[0];
    assert_eq!(talk.status, StepStatus::Failed);
    let error = talk.error.as_deref().unwrap_or_default();
    assert!(error.contains("the attempt's task failed"), "{error}");
    assert!(backend.open_workspaces.lock().unwrap().is_empty());
}

/// Lines of `n` numbered lines of 10 bytes each (`line 0001` and a newline).
fn numbered(n: usize) -> Vec<(Stream, String)> {
    (1..=n).map(|i| out(&format!("line {i:04}"))).collect()
}

#[tokio::test]
async fn beyond_the_step_log_cap_lines_are_counted_not_stored_and_outputs_still_collected() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| {
        let mut output = numbered(300);
        output.push(out("[COUT] after = yes"));
        FakeStep {
            output,
            ..FakeStep::default()
        }
    }));
    let runner = Runner::new(backend, store.clone()).with_limits(co_runner::RunLimits {
        step_log_bytes: Some(1024),
        ..co_runner::RunLimits::default()
    });
    let yaml = format!(
        "name: flood\nstages:\n  - name: s\n    actions:\n      - {{ name: loud, image: {IMG} }}\n"
    );
    let recorder = Arc::new(Recorder::default());
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    let result = runner.execute(prepared, recorder.clone()).await.unwrap();
    assert_eq!(result.status, RunStatus::Succeeded);
    let detail = store.get_run(&run_id).await.unwrap();
    assert_eq!(
        detail.steps[0].outputs,
        json!({"after": "yes"}),
        "[COUT] beyond the cap"
    );
    let logs = store.logs(&run_id, None, 0, -1).await.unwrap();
    let texts: Vec<&str> = logs.iter().map(|l| l.text.as_str()).collect();
    // 102 lines of 10 bytes fit in 1 KiB; then the note, then the count of what was not stored.
    assert_eq!(texts.len(), 104, "{texts:?}");
    assert_eq!(texts[101], "line 0102");
    assert_eq!(
        texts[102],
        "… the step's log cap of 1 KiB was reached: further lines are counted, not stored"
    );
    assert_eq!(
        texts[103],
        "… 199 lines (1999 bytes) not stored: the step's log cap of 1 KiB was reached"
    );
    assert_eq!(logs[103].stream, "stderr");
    // What is shown is what is stored.
    assert_eq!(recorder.lines.lock().unwrap().len(), 104);
}

#[tokio::test]
async fn the_run_log_cap_counts_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| FakeStep {
        output: numbered(60),
        ..FakeStep::default()
    }));
    let runner = Runner::new(backend, store.clone()).with_limits(co_runner::RunLimits {
        run_log_bytes: Some(1024),
        ..co_runner::RunLimits::default()
    });
    let yaml = format!("name: two\nstages:\n  - name: s\n    actions:\n      - {{ name: a, image: {IMG} }}\n  - name: t\n    actions:\n      - {{ name: b, image: {IMG} }}\n");
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let run_id = prepared.run_id().to_string();
    runner
        .execute(prepared, Arc::new(Recorder::default()))
        .await
        .unwrap();
    let logs = store.logs(&run_id, None, 0, -1).await.unwrap();
    let of = |key: &str| -> Vec<String> {
        logs.iter()
            .filter(|l| l.step_key == key)
            .map(|l| l.text.clone())
            .collect()
    };
    assert_eq!(of("a").len(), 60);
    let b = of("b");
    // 600 bytes of a's, then 42 of b's lines fill 1020 of the 1024 bytes.
    assert_eq!(b.len(), 44, "{b:?}");
    assert_eq!(
        b[43],
        "… 18 lines (180 bytes) not stored: the run's log cap of 1 KiB was reached"
    );
}

// ---- a server's hold on the run (`Ownership`) ------------------------------------------------

const TWO_STEPS: &str = "name: held\nstages:\n  - name: s\n    actions:\n      - { name: a, image: i }\n  - name: t\n    actions:\n      - { name: b, image: i }\n";

/// A run prepared and claimed by server `owner` (as the coordinator does), with its hold on it.
async fn claimed(
    runner: &Runner,
    store: &Store,
    owner: &str,
    claimed_until: i64,
) -> (co_runner::PreparedRun, tokio::sync::watch::Sender<i64>) {
    let prepared = runner.prepare(plan(TWO_STEPS), config()).await.unwrap();
    let now = co_runner::now_millis();
    let claim = store
        .claim_run(owner, now, now + 60_000, None)
        .await
        .unwrap();
    assert_eq!(claim.map(|c| c.run.id).as_deref(), Some(prepared.run_id()));
    let (renew, renewed_until) = tokio::sync::watch::channel(0);
    let prepared = prepared.held_by(co_runner::Ownership {
        owner: owner.to_string(),
        claimed_until,
        renewed_until,
    });
    (prepared, renew)
}

/// Let the spawned driver run until it opened the run's workspace: in a current-thread runtime
/// it then goes on without pause until it must wait for something (the lease, here).
async fn until_workspace_open(backend: &FakeBackend) {
    for _ in 0..10_000 {
        if !backend.open_workspaces.lock().unwrap().is_empty() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the driver never opened the run's workspace");
}

#[tokio::test(flavor = "current_thread")]
async fn a_driver_whose_lease_lapsed_records_and_launches_nothing_until_it_is_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| FakeStep::default()));
    let runner = Runner::new(backend.clone(), store.clone());
    let lapsed = co_runner::now_millis() - 1;
    let (prepared, renew) = claimed(&runner, &store, "server-a", lapsed).await;
    let run_id = prepared.run_id().to_string();
    let driver = {
        let runner = runner.clone();
        tokio::spawn(async move {
            runner
                .execute(prepared, Arc::new(Recorder::default()))
                .await
        })
    };
    until_workspace_open(&backend).await;
    assert!(backend.launches.lock().unwrap().is_empty());
    assert_eq!(store.get_run(&run_id).await.unwrap().run.started_at, None);

    let renewed_at = co_runner::now_millis();
    renew.send_replace(renewed_at + 60_000);
    let result = driver.await.unwrap().unwrap();
    assert_eq!(result.status, RunStatus::Succeeded);
    let detail = store.get_run(&run_id).await.unwrap();
    assert_eq!(detail.attempts.len(), 2);
    // Every attempt started once the lease was renewed, not before.
    let renewed = co_store::normalize_timestamp(&co_runner::format_time(renewed_at)).unwrap();
    for a in &detail.attempts {
        assert!(
            a.started_at.as_deref().unwrap() >= renewed.as_str(),
            "{a:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_driver_whose_run_was_taken_over_records_and_launches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| FakeStep::default()));
    let runner = Runner::new(backend.clone(), store.clone());
    for lapsed in [true, false] {
        // Lapsed: frozen past its lease, then renewed by mistake (the fence still holds). Not
        // lapsed: a server that believes its lease holds (cut off from the database while
        // another took over, say).
        let until = co_runner::now_millis() + if lapsed { -1 } else { 60_000 };
        let (prepared, renew) = claimed(&runner, &store, "server-a", until).await;
        let run_id = prepared.run_id().to_string();
        // Another server recovers it (its clock says server-a's lease is long over).
        let now = co_runner::now_millis();
        let b = store
            .claim_run("server-b", now + 120_000, now + 180_000, None)
            .await
            .unwrap()
            .unwrap();
        assert!(b.recovered && b.run.id == run_id);
        let before = store.get_run(&run_id).await.unwrap();
        backend.open_workspaces.lock().unwrap().clear();

        let driver = {
            let runner = runner.clone();
            tokio::spawn(async move {
                runner
                    .execute(prepared, Arc::new(Recorder::default()))
                    .await
            })
        };
        until_workspace_open(&backend).await;
        renew.send_replace(co_runner::now_millis() + 60_000);
        let err = driver.await.unwrap().unwrap_err();
        assert!(
            matches!(
                &err,
                co_runner::RunnerError::Store(co_store::StoreError::NotHeld { holder, .. })
                    if holder.as_deref() == Some("server-b")
            ),
            "{err:?}"
        );
        assert!(backend.launches.lock().unwrap().is_empty());
        assert_eq!(store.get_run(&run_id).await.unwrap(), before);
        // Its workspace is the new owner's: not finished here.
        assert_eq!(backend.open_workspaces.lock().unwrap().len(), 1);
    }
}

/// A backend that cannot read a finished container's files (the fake, like Kubernetes for now)
/// runs steps that declare artifacts as usual, and their logs say the artifacts were not kept.
#[tokio::test]
async fn artifacts_a_backend_cannot_collect_are_named_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let backend = Arc::new(FakeBackend::new(|_| FakeStep::default()));
    let blobs = co_runner::ArtifactStore::open(dir.path().join("artifacts")).unwrap();
    let runner = Runner::new(backend, store.clone()).with_artifact_store(blobs);
    let yaml = format!(
        "name: a\nstages:\n  - name: s\n    actions:\n      - name: pack\n        image: {IMG}\n        artifacts: {{ package: dist/app.tgz, log: {{ path: build.log, when: always }} }}\n"
    );
    let recorder = Arc::new(Recorder::default());
    let prepared = runner.prepare(plan(&yaml), config()).await.unwrap();
    let result = runner.execute(prepared, recorder.clone()).await.unwrap();
    assert_eq!(result.status, RunStatus::Succeeded);
    let lines = recorder.lines.lock().unwrap().clone();
    assert_eq!(
        lines,
        [(
            "pack".to_string(),
            "artifacts not kept (package, log): this backend cannot read a finished step's files yet"
                .to_string()
        )]
    );
    assert!(store
        .list_artifacts(&result.run_id)
        .await
        .unwrap()
        .is_empty());
}

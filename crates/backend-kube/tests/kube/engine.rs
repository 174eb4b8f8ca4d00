//! The engine-level scenarios of the Podman end-to-end tests (crates/cli/tests/e2e), run through
//! `co_runner::Runner` with a real SQLite store on this backend, against `support::cluster` — an
//! in-memory fake of the API server's Pod, log, PVC and watch endpoints, **not a cluster**: each
//! Pod does what the scenario's script says (the script plays the part of the step's shell
//! command, reading the environment the Pod really got). The assertions are the e2e tests':
//! statuses, errors, exit codes, outputs, logs; plus what only a cluster shows: Pod specs, node
//! pinning, and that no Pod or PVC is left behind.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use co_backend::Stream;
use co_backend_kube::{KubeBackend, KubeOptions, API_CALLS};
use co_engine::{RunConfig, RunStatus, StepStatus};
use co_runner::{CancelHandle, NoObserver, Observer, Runner};
use co_spec::{Loader, NoCatalog};
use co_store::{RunDetail, StepRecord, Store};
use serde_json::{json, Value};

use crate::support::cluster::{Behaviour, FakeCluster, LaunchedPod, NODE};
use crate::support::{rwo, NS};

const BUSYBOX: &str = "localhost/co-examples/busybox:latest";

fn options() -> KubeOptions {
    KubeOptions {
        workspace: rwo(),
        // The fake reports pull errors and unschedulable Pods at once; no need to wait here (the
        // grace periods themselves are tested in `scripted`).
        image_pull_grace: Duration::ZERO,
        unschedulable_grace: Duration::ZERO,
        stop_grace: Duration::from_secs(7),
        ..KubeOptions::default()
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    cluster: FakeCluster,
    runner: Runner,
}

struct Done {
    status: RunStatus,
    detail: RunDetail,
    logs: Vec<co_store::LogRecord>,
}

impl Done {
    fn step(&self, action: &str) -> &StepRecord {
        self.detail
            .steps
            .iter()
            .find(|s| s.action == action || s.key == action)
            .unwrap_or_else(|| panic!("no step {action}: {:#?}", self.detail.steps))
    }
    fn status_of(&self, action: &str) -> &str {
        self.step(action).status.as_str()
    }
    fn error_of(&self, action: &str) -> String {
        self.step(action).error.clone().unwrap_or_default()
    }
    fn out(&self, action: &str, key: &str) -> Value {
        self.step(action).outputs[key].clone()
    }
    fn logs_of(&self, key: &str) -> String {
        self.logs
            .iter()
            .filter(|l| l.step_key == key)
            .map(|l| format!("{}\n", l.text))
            .collect()
    }
    fn assert_all_succeeded(&self) {
        assert_eq!(
            self.status,
            RunStatus::Succeeded,
            "{:#?}",
            self.detail.steps
        );
        for s in &self.detail.steps {
            assert_eq!(s.status, StepStatus::Succeeded, "{s:#?}");
        }
    }
}

impl World {
    async fn new(script: impl Fn(&LaunchedPod) -> Behaviour + Send + Sync + 'static) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("runs.db").to_string_lossy())
            .await
            .unwrap();
        let cluster = FakeCluster::new(script);
        let backend = KubeBackend::with_client(cluster.client(), NS.into(), options());
        let runner = Runner::new(Arc::new(backend), store.clone());
        World {
            _dir: dir,
            store,
            cluster,
            runner,
        }
    }

    async fn run(&self, yaml: &str, inputs: &[(&str, &str)]) -> Done {
        self.run_observed(yaml, inputs, |_| Arc::new(NoObserver))
            .await
    }

    async fn run_observed(
        &self,
        yaml: &str,
        inputs: &[(&str, &str)],
        observer: impl FnOnce(CancelHandle) -> Arc<dyn Observer>,
    ) -> Done {
        let wf = Loader::new(&NoCatalog)
            .parse_workflow(yaml, "wf.yaml", Path::new("."))
            .unwrap_or_else(|d| panic!("{:?}", d.0));
        let plan = Arc::new(co_spec::plan(Arc::new(wf)));
        let config = RunConfig {
            run_id: co_runner::new_run_id(),
            inputs: inputs
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
            ..RunConfig::default()
        };
        let prepared = self.runner.prepare(plan, config).await.unwrap();
        let run_id = prepared.run_id().to_string();
        let observer = observer(prepared.cancel_handle());
        let result = self.runner.execute(prepared, observer).await.unwrap();
        let detail = self.store.get_run(&run_id).await.unwrap();
        let logs = self.store.logs(&run_id, None, 0, -1).await.unwrap();
        // Nothing left behind, nothing outside the RBAC list, nothing the fake does not serve.
        assert_eq!(self.cluster.pod_names(), Vec::<String>::new(), "Pods left");
        assert_eq!(self.cluster.pvc_names(), Vec::<String>::new(), "PVCs left");
        assert_eq!(self.cluster.unexpected(), Vec::<String>::new());
        for call in self.cluster.calls() {
            assert!(API_CALLS.contains(&call), "{call:?} is not in API_CALLS");
        }
        Done {
            status: result.status,
            detail,
            logs,
        }
    }
}

/// `sh -c SCRIPT` steps, as the e2e tests write them.
fn sh(script: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out =
        format!("{pad}image: {BUSYBOX}\n{pad}command:\n{pad}  - sh\n{pad}  - -c\n{pad}  - |\n");
    for line in script.lines() {
        out.push_str(&format!("{pad}    {line}\n"));
    }
    out
}

/// The examples/hello workflow: outputs flow from step to step; `finally` sees the run status;
/// every Pod after the first is pinned to its node; the PVC is the workspace of all of them.
#[tokio::test]
async fn hello_workflow_outputs_flow_from_step_to_step() {
    let w = World::new(|pod| match pod.step.as_str() {
        "say" => {
            let command = pod.command.clone().unwrap();
            assert_eq!(
                command,
                ["sh", "-c", "echo \"[COUT] greeting = hello $CO_INPUT_WHO\""],
                "the kubelet's expansion gives the shell the workflow's command unchanged"
            );
            Behaviour::ok(format!(
                "[COUT] greeting = hello {}\n",
                pod.env("CO_INPUT_WHO")
            ))
        }
        "upper" => {
            let shouted = pod.env("CO_INPUT_TEXT").to_uppercase();
            Behaviour::ok(format!("shouting: {shouted}\n[COUT] shouted = {shouted}\n"))
        }
        "report" => Behaviour::ok(format!("run ended: {}\n", pod.env("CO_INPUT_STATUS"))),
        other => panic!("unexpected step {other}"),
    })
    .await;
    let yaml = include_str!("../../../../examples/hello/workflow.yaml");
    let run = w.run(yaml, &[("who", "team")]).await;
    run.assert_all_succeeded();
    assert_eq!(run.step("say").outputs, json!({"greeting": "hello team"}));
    assert_eq!(run.step("upper").outputs, json!({"shouted": "HELLO TEAM"}));
    assert_eq!(run.step("say").exit_code, Some(0));
    assert!(run.logs_of("upper").contains("shouting: HELLO TEAM"));
    assert!(run.logs_of("report").contains("run ended: succeeded"));
    let run_id = &run.detail.run.id;

    let pods = w.cluster.launched();
    assert_eq!(pods.len(), 3);
    for (i, pod) in pods.iter().enumerate() {
        assert_eq!(pod.env("LOG_LEVEL"), "info");
        assert_eq!(pod.env("CO_WORKSPACE"), "/workspace");
        assert_eq!(pod.env("CO_RUN_ID"), run_id.as_str());
        assert_eq!(pod.image, BUSYBOX);
        let spec = &pod.posted["spec"];
        assert_eq!(spec["restartPolicy"], "Never");
        assert_eq!(
            spec["volumes"][0]["persistentVolumeClaim"]["claimName"],
            json!(format!("co-ws-{run_id}"))
        );
        let selector = &spec["nodeSelector"];
        if i == 0 {
            assert!(selector.is_null(), "the first Pod goes anywhere");
        } else {
            assert_eq!(*selector, json!({"kubernetes.io/hostname": NODE}));
        }
        assert_eq!(
            pod.posted["metadata"]["labels"]["containerops.run"],
            json!(run_id)
        );
    }
    let upper = pods.iter().find(|p| p.step == "upper").unwrap();
    assert_eq!(upper.env("CO_INPUT_TEXT"), "hello team");
    assert_eq!(upper.env("CO_DATA"), "text=\"hello team\"");
    assert!(pods.iter().all(|p| p.attempt == 1));
    // The run's workspace claim as configured; every attempt's Pod was deleted after it ended,
    // and the claim at the end (checked by `run`: nothing is left).
    let claims = w.cluster.pvcs_created();
    assert_eq!(claims.len(), 1);
    assert_eq!(
        claims[0]["metadata"]["name"],
        json!(format!("co-ws-{run_id}"))
    );
    assert_eq!(
        claims[0]["spec"],
        json!({"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
               "resources": {"requests": {"storage": "2Gi"}}})
    );
    assert_eq!(w.cluster.pod_deletes().len(), 3);
}

#[tokio::test]
async fn nonzero_exit_code_fails_the_step() {
    let w = World::new(|_| Behaviour::exit("about to fail\n", 3)).await;
    let yaml = format!(
        "name: proto-exit\nstages:\n  - name: s\n    actions:\n      - name: three\n{}",
        sh("echo about to fail\nexit 3", 8)
    );
    let run = w.run(&yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    let step = run.step("three");
    assert_eq!(step.status, StepStatus::Failed);
    assert_eq!(step.exit_code, Some(3));
    assert_eq!(step.attempts, 1);
    assert!(run.error_of("three").contains("exit code 3"));
    assert!(run.logs_of("three").contains("about to fail"));
}

#[tokio::test]
async fn co_result_false_fails_a_step_that_exits_zero() {
    let w = World::new(|pod| match pod.step.as_str() {
        "says-no" => Behaviour::ok("[COUT] CO_RESULT = False\n[COUT] kept = 1\n"),
        "says-yes" => Behaviour::ok("[COUT] CO_RESULT = TRUE\n"),
        _ => Behaviour::ok("should not run\n"),
    })
    .await;
    let yaml = format!(
        "name: proto-verdict\nstages:\n  - name: s\n    actions:\n      - name: says-no\n{}      - name: says-yes\n{}  - name: after\n    actions:\n      - name: next\n{}",
        sh("echo \"[COUT] CO_RESULT = False\"\necho \"[COUT] kept = 1\"\nexit 0", 8),
        sh("echo \"[COUT] CO_RESULT = TRUE\"", 8),
        sh("echo should not run", 8),
    );
    let run = w.run(&yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.status_of("says-no"), "failed");
    assert_eq!(run.step("says-no").exit_code, Some(0));
    assert!(run.error_of("says-no").contains("CO_RESULT"));
    assert_eq!(run.status_of("says-yes"), "succeeded");
    assert_eq!(run.status_of("next"), "skipped");
    assert!(w.cluster.launched().iter().all(|p| p.step != "next"));
}

#[tokio::test]
async fn retry_counts_attempts_with_co_attempt() {
    let w = World::new(|pod| match pod.step.as_str() {
        "flaky" if pod.env("CO_ATTEMPT") == "1" => Behaviour::exit("attempt 1\n", 1),
        "flaky" => Behaviour::ok(format!(
            "attempt {0}\n[COUT] attempt = {0}\n",
            pod.env("CO_ATTEMPT")
        )),
        _ => Behaviour::exit("", 4),
    })
    .await;
    let flaky = "echo \"attempt $CO_ATTEMPT\"\nif [ \"$CO_ATTEMPT\" = 1 ]; then exit 1; fi\necho \"[COUT] attempt = $CO_ATTEMPT\"\n";
    let yaml = format!(
        "name: retries\nstages:\n  - name: s\n    actions:\n      - name: flaky\n        retry: {{ attempts: 2, backoff: 1s }}\n{}      - name: hopeless\n        retry: {{ attempts: 2, backoff: 1s }}\n{}",
        sh(flaky, 8),
        sh("exit 4", 8)
    );
    let run = w.run(&yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    let flaky = run.step("flaky");
    assert_eq!(flaky.status, StepStatus::Succeeded);
    assert_eq!(flaky.attempts, 2);
    assert_eq!(flaky.exit_code, Some(0));
    assert_eq!(flaky.outputs, json!({"attempt": "2"}));
    let logs = run.logs_of("flaky");
    assert!(
        logs.contains("attempt 1") && logs.contains("attempt 2"),
        "{logs}"
    );
    let hopeless = run.step("hopeless");
    assert_eq!(hopeless.status, StepStatus::Failed);
    assert_eq!(hopeless.attempts, 2);
    assert_eq!(hopeless.exit_code, Some(4));
    assert!(run.error_of("hopeless").contains("exit code 4"));
    // One Pod per attempt, each named for its attempt.
    let names: Vec<String> = w
        .cluster
        .launched()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let run_id = &run.detail.run.id;
    for n in [
        format!("co-{run_id}-flaky-1"),
        format!("co-{run_id}-flaky-2"),
        format!("co-{run_id}-hopeless-1"),
        format!("co-{run_id}-hopeless-2"),
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
}

/// Evicted and externally deleted Pods fail their attempt with the reason, and the step's retry
/// policy runs it again.
#[tokio::test]
async fn evicted_and_deleted_pods_are_retried_per_the_retry_policy() {
    let w = World::new(|pod| match (pod.step.as_str(), pod.env("CO_ATTEMPT")) {
        ("evicted-once", "1") => Behaviour::Evicted {
            output: "working\n".into(),
        },
        ("vanished-once", "1") => Behaviour::Vanish {
            output: "working\n".into(),
        },
        ("always-evicted", _) => Behaviour::Evicted {
            output: String::new(),
        },
        (_, attempt) => Behaviour::ok(format!("[COUT] attempt = {attempt}\n")),
    })
    .await;
    let yaml = format!(
        "name: disruptions\nstages:\n  - name: s\n    actions:\n      - name: evicted-once\n        retry: {{ attempts: 2 }}\n{}      - name: vanished-once\n        retry: {{ attempts: 2 }}\n{}      - name: always-evicted\n{}",
        sh("echo working", 8),
        sh("echo working", 8),
        sh("echo working", 8)
    );
    let run = w.run(&yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    for action in ["evicted-once", "vanished-once"] {
        assert_eq!(run.status_of(action), "succeeded", "{action}");
        assert_eq!(run.step(action).attempts, 2);
        assert_eq!(run.out(action, "attempt"), json!("2"));
    }
    let first = |key: &str| {
        run.detail
            .attempts
            .iter()
            .find(|a| a.step_key == key && a.attempt == 1)
            .and_then(|a| a.error.clone())
            .unwrap_or_default()
    };
    assert!(first("evicted-once").contains("was evicted: The node was low on resource: memory"));
    assert!(first("vanished-once").contains("was deleted while the step ran, not by ContainerOps"));
    assert_eq!(run.status_of("always-evicted"), "failed");
    assert!(run.error_of("always-evicted").contains("was evicted"));
}

#[tokio::test]
async fn timeout_deletes_the_pod() {
    let w = World::new(|pod| match pod.step.as_str() {
        "sleeper" => Behaviour::Hang {
            output: "sleeping\n".into(),
        },
        _ => Behaviour::ok("[COUT] slept = yes\n"),
    })
    .await;
    // The run waits for the (real) 2 s timer: the behaviour under test is the timer itself.
    let yaml = format!(
        "name: timeouts\nstages:\n  - name: s\n    actions:\n      - name: sleeper\n        timeout: 2s\n{}      - name: quick\n        timeout: 2m\n{}",
        sh("echo sleeping\nsleep 600", 8),
        sh("echo \"[COUT] slept = yes\"", 8)
    );
    let run = w.run(&yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.status_of("sleeper"), "failed");
    assert!(run.error_of("sleeper").contains("timed out after 2s"));
    assert!(run.logs_of("sleeper").contains("sleeping"));
    assert_eq!(run.status_of("quick"), "succeeded");
    let name = format!("co-{}-sleeper-1", run.detail.run.id);
    let deletes = w.cluster.pod_deletes();
    assert!(
        deletes.contains(&(name, json!({"gracePeriodSeconds": 7}))),
        "deleted with the stop grace: {deletes:?}"
    );
}

/// Cancels the run when a given step's first output line arrives (its Pod runs by then).
struct CancelWhenRunning {
    key: String,
    handle: CancelHandle,
    done: Mutex<bool>,
}

impl Observer for CancelWhenRunning {
    fn log_line(&self, step: &str, _action: &str, _attempt: u32, _s: Stream, _text: &str) {
        if step == self.key {
            let mut done = self.done.lock().unwrap();
            if !*done {
                *done = true;
                self.handle.cancel();
            }
        }
    }
}

#[tokio::test]
async fn cancelling_deletes_running_pods_and_records_cancelled() {
    let w = World::new(|pod| match pod.step.as_str() {
        "long" => Behaviour::Hang {
            output: "working\n".into(),
        },
        _ => Behaviour::ok("cleaned\n"),
    })
    .await;
    let yaml = format!(
        "name: cancel\nstages:\n  - name: s\n    actions:\n      - {{ name: long, image: {BUSYBOX} }}\n  - name: t\n    actions:\n      - {{ name: next, image: {BUSYBOX} }}\nfinally:\n  - {{ name: cleanup, image: {BUSYBOX} }}\n"
    );
    let run = w
        .run_observed(&yaml, &[], |handle| {
            Arc::new(CancelWhenRunning {
                key: "long".into(),
                handle,
                done: Mutex::new(false),
            })
        })
        .await;
    assert_eq!(run.status, RunStatus::Cancelled);
    let statuses: Vec<(&str, &str)> = run
        .detail
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
    let long = format!("co-{}-long-1", run.detail.run.id);
    assert!(w
        .cluster
        .pod_deletes()
        .contains(&(long, json!({"gracePeriodSeconds": 7}))));
}

#[tokio::test]
async fn matrix_copies_get_valid_distinct_pod_names() {
    let w = World::new(|pod| {
        Behaviour::ok(format!(
            "[COUT] combo = {}/{}\n[COUT] action = {}\n",
            pod.env("CO_INPUT_OS"),
            pod.env("CO_INPUT_N"),
            pod.env("CO_ACTION")
        ))
    })
    .await;
    let copy = "echo \"[COUT] combo = ${{ matrix.os }}/${{ matrix.n }}\"\necho \"[COUT] action = $CO_ACTION\"\n";
    let yaml = format!(
        "name: matrix\nstages:\n  - name: fan\n    actions:\n      - name: act\n        matrix: {{ os: [a, b], n: [1, 2] }}\n        max-parallel: 1\n        with: {{ os: \"${{{{ matrix.os }}}}\", n: \"${{{{ matrix.n }}}}\" }}\n{}",
        sh(copy, 8)
    );
    let run = w.run(&yaml, &[]).await;
    run.assert_all_succeeded();
    let mut names: Vec<String> = run.detail.steps.iter().map(|s| s.action.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "act[os=a,n=1]",
            "act[os=a,n=2]",
            "act[os=b,n=1]",
            "act[os=b,n=2]"
        ]
    );
    for (os, n) in [("a", 1), ("a", 2), ("b", 1), ("b", 2)] {
        let name = format!("act[os={os},n={n}]");
        assert_eq!(run.out(&name, "combo"), json!(format!("{os}/{n}")));
        let action = run.out(&name, "action");
        assert!(action == json!("act") || action == json!(name), "{action}");
    }
    let pods = w.cluster.launched();
    let mut pod_names: Vec<String> = pods.iter().map(|p| p.name.clone()).collect();
    pod_names.sort();
    pod_names.dedup();
    assert_eq!(pod_names.len(), 4);
    for p in &pods {
        assert!(co_backend_kube::names::is_dns_label(&p.name), "{}", p.name);
        // The exact key in the annotation, a valid label value in the label.
        assert!(p.step.starts_with("act[os="));
        let label = p.posted["metadata"]["labels"]["containerops.step"]
            .as_str()
            .unwrap();
        assert!(co_backend_kube::names::is_label_value(label), "{label}");
    }
}

/// SPEC §4: a seed-format flow with environments, outputs and subscriptions; its job resources
/// become the Pod's requests and limits.
#[tokio::test]
async fn seed_flow_runs_with_environments_outputs_and_subscriptions() {
    // Seed steps are keyed `stage.action.job`.
    let w = World::new(|pod| match pod.step.rsplit('.').next().unwrap_or("") {
        "compile" => Behaviour::ok(format!(
            "[COUT] CO_ARTIFACT = art:{}|{}\n[COUT] stage = {}\n",
            pod.env("CO_DATA"),
            pod.env("JAVA_OPTS"),
            pod.env("CO_STAGE")
        )),
        "package" => Behaviour::ok("[COUT] packaged = yes\n"),
        "upload" => Behaviour::ok(format!("[COUT] got = {}\n", pod.env("ARTIFACT_PATH"))),
        "notify" => Behaviour::ok("[COUT] notified = yes\n"),
        other => panic!("unexpected step {other}"),
    })
    .await;
    // The same file the Podman end-to-end test runs (its `JOB` scripts are env to the fake).
    let flow = include_str!("../../../cli/tests/fixtures/seed-flow.yaml");
    let run = w.run(flow, &[]).await;
    run.assert_all_succeeded();
    assert_eq!(run.detail.run.workflow, "e2e-flow");
    let named: Vec<(String, String)> = run
        .detail
        .steps
        .iter()
        .map(|s| (s.stage.clone(), s.action.clone()))
        .collect();
    assert_eq!(
        named,
        [
            ("build", "compile"),
            ("build", "package"),
            ("publish", "upload"),
            ("publish", "notify"),
        ]
        .map(|(s, a)| (s.to_string(), a.to_string()))
    );
    let artifact = "art:git-url=https://example.org/r.git entry-path=.|-Xmx1g";
    assert_eq!(run.out("compile", "CO_ARTIFACT"), json!(artifact));
    assert_eq!(
        run.out("upload", "got"),
        json!(artifact),
        "subscription wiring"
    );
    assert_eq!(run.out("package", "packaged"), json!("yes"));
    assert_eq!(run.out("notify", "notified"), json!("yes"));
    let compile = w
        .cluster
        .launched()
        .into_iter()
        .find(|p| p.step.ends_with(".compile"))
        .unwrap();
    let resources = &compile.posted["spec"]["containers"][0]["resources"];
    assert_eq!(
        *resources,
        json!({"limits": {"cpu": "1", "memory": "256M"}, "requests": {"cpu": "1", "memory": "256M"}})
    );
    assert!(
        compile.command.is_none(),
        "a seed job runs the image's own command"
    );
}

#[tokio::test]
async fn a_missing_image_fails_at_once_naming_it_and_is_not_retried() {
    let w = World::new(|_| Behaviour::PullError).await;
    let yaml = "name: pull\nstages:\n  - name: s\n    actions:\n      - name: pull\n        image: localhost/nope:1\n        retry: { attempts: 3 }\n";
    let run = w.run(yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    let step = run.step("pull");
    assert_eq!(step.status, StepStatus::Failed);
    assert_eq!(step.attempts, 1, "a missing image is not retried");
    let e = run.error_of("pull");
    assert!(
        e.starts_with("image localhost/nope:1 not found (ErrImagePull: "),
        "{e}"
    );
    let name = format!("co-{}-pull-1", run.detail.run.id);
    assert!(w
        .cluster
        .pod_deletes()
        .contains(&(name, json!({"gracePeriodSeconds": 0}))));
}

#[tokio::test]
async fn oom_killed_is_reported_as_such() {
    let w = World::new(|_| Behaviour::OomKilled {
        output: "allocating\n".into(),
    })
    .await;
    let yaml = format!(
        "name: oom\nstages:\n  - name: s\n    actions:\n      - name: hog\n        resources: {{ memory: 16Mi }}\n{}",
        sh("echo allocating\nhead -c 100000000 /dev/zero | tail", 8)
    );
    let run = w.run(&yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.step("hog").exit_code, Some(137));
    assert_eq!(
        run.error_of("hog"),
        "out of memory (OOM killed), exit code 137"
    );
    let hog = &w.cluster.launched()[0];
    assert_eq!(
        hog.posted["spec"]["containers"][0]["resources"]["limits"]["memory"],
        json!("16Mi")
    );
}

#[tokio::test]
async fn an_unschedulable_pod_fails_with_the_schedulers_message() {
    let w = World::new(|_| {
        Behaviour::Unschedulable("0/1 nodes are available: 1 Insufficient cpu.".into())
    })
    .await;
    let yaml = format!(
        "name: big\nstages:\n  - name: s\n    actions:\n      - name: big\n        resources: {{ cpu: 64 }}\n{}",
        sh("echo never", 8)
    );
    let run = w.run(&yaml, &[]).await;
    assert_eq!(run.status, RunStatus::Failed);
    let e = run.error_of("big");
    assert!(
        e.contains("could not be scheduled")
            && e.contains("0/1 nodes are available: 1 Insufficient cpu."),
        "{e}"
    );
}

/// Lines on the (merged) log reach the store as stdout, in order; secrets are masked as on
/// Docker (the masking is the driver's; the bytes are the backend's).
#[tokio::test]
async fn output_lines_are_stored_in_order_as_stdout() {
    let w = World::new(|_| Behaviour::ok("one\ntwo\n[COUT] k = v\nthree")).await;
    let yaml = format!(
        "name: lines\nstages:\n  - name: s\n    actions:\n      - name: lines\n{}",
        sh("echo one", 8)
    );
    let run = w.run(&yaml, &[]).await;
    run.assert_all_succeeded();
    let texts: Vec<(&str, &str)> = run
        .logs
        .iter()
        .map(|l| (l.text.as_str(), l.stream.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("one", "stdout"),
            ("two", "stdout"),
            ("[COUT] k = v", "stdout"),
            ("three", "stdout")
        ]
    );
    assert_eq!(run.out("lines", "k"), json!("v"));
}

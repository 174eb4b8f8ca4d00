//! Backend scenarios against a scripted API server: every request is asserted in order (method,
//! path, query, body) and answered by the test. Time is paused: grace periods pass as virtual
//! time once nothing else can happen, so no test sleeps or measures wall-clock time.

use co_backend::{
    Backend, BackendError, CancellationToken, EnvFile, StepExit, StepLaunch, Stream, Workspace,
};
use co_backend_kube::{ApiCall, KubeBackend, WorkspaceMode};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::support::script::*;
use crate::support::{launch, options, rwo, Recorded, RUN};

type StepResult = (Result<StepExit, BackendError>, Recorded);

fn selector() -> String {
    format!("containerops.run={RUN}")
}

fn ws() -> Workspace {
    Workspace {
        run_id: RUN.into(),
        name: format!("co-ws-{RUN}"),
    }
}

fn no_ws() -> Workspace {
    Workspace {
        run_id: RUN.into(),
        name: String::new(),
    }
}

fn pod_name(step: &str, attempt: u32) -> String {
    co_backend_kube::names::pod_name(RUN, step, attempt)
}

fn spawn_step(
    backend: &KubeBackend,
    launch: StepLaunch,
    workspace: Workspace,
    cancel: &CancellationToken,
) -> JoinHandle<StepResult> {
    let backend = backend.clone();
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let mut sink = Recorded::default();
        let r = backend
            .run_step(&launch, &workspace, &mut sink, cancel)
            .await;
        (r, sink)
    })
}

fn spawn_reattach(
    backend: &KubeBackend,
    launch: StepLaunch,
) -> JoinHandle<(Result<Option<StepExit>, BackendError>, Recorded)> {
    let backend = backend.clone();
    tokio::spawn(async move {
        let mut sink = Recorded::default();
        let r = backend
            .reattach(&launch, &no_ws(), &mut sink, CancellationToken::new())
            .await;
        (r, sink)
    })
}

/// The run's watch: list (with `existing` Pods), then watch from version 100.
async fn open_watch(api: &mut ApiServer, existing: Vec<Value>) -> Events {
    api.expect_list(&selector(), existing, "100").await;
    api.expect_watch(&selector(), "100").await
}

/// `POST pods`, answered with the Pod pending at `rv`; returns the posted body.
async fn expect_create(api: &mut ApiServer, rv: u64) -> Value {
    let ex = api.expect("POST", PODS, &[]).await;
    let body = ex.body.clone();
    ex.json(201, pod_at(&body, rv, None, pending()));
    body
}

/// What every single-step scenario without a workspace starts with.
struct Started {
    api: ApiServer,
    step: JoinHandle<StepResult>,
    events: Events,
    /// The Pod as the backend posted it (answered as pending at resource version 101).
    posted: Value,
    name: String,
}

/// A backend on a scripted API server, step `key` (attempt 1) spawned, the run's watch opened
/// and the Pod's create asserted and answered.
async fn start_step(key: &str, cancel: &CancellationToken) -> Started {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    // The task holds its own handle on the backend.
    let step = spawn_step(&backend, launch(key, 1), no_ws(), cancel);
    let events = open_watch(&mut api, vec![]).await;
    let posted = expect_create(&mut api, 101).await;
    Started {
        api,
        step,
        events,
        posted,
        name: pod_name(key, 1),
    }
}

// ---- scenarios --------------------------------------------------------------------------------

/// Success with outputs; the Pod spec as posted; the next step of the run is pinned to the
/// first Pod's node (ReadWriteOnce) and shares the run's watch.
pub async fn success_with_outputs_and_node_pinning() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(rwo()));
    let cancel = CancellationToken::new();
    let step = spawn_step(&backend, launch("say", 1), ws(), &cancel);
    let events = open_watch(&mut api, vec![]).await;
    let posted = expect_create(&mut api, 101).await;
    insta::assert_yaml_snapshot!("posted_pod", posted);
    let name = pod_name("say", 1);
    assert_eq!(posted["metadata"]["name"], json!(name));
    assert!(
        posted["spec"].get("nodeSelector").is_none(),
        "the first Pod goes anywhere"
    );

    events.send("ADDED", &pod_at(&posted, 101, None, pending()));
    events.send(
        "MODIFIED",
        &pod_at(&posted, 102, Some("node-a"), scheduled()),
    );
    events.send("MODIFIED", &pod_at(&posted, 103, Some("node-a"), running()));
    let mut log = api.expect_log(&name).await;
    log.write("saying hello\n[COUT] greeting = hello world\n");
    log.write("[COUT] partial = no newline at the end");
    events.send(
        "MODIFIED",
        &pod_at(&posted, 104, Some("node-a"), terminated(0, "Completed")),
    );
    log.end();
    api.expect_delete(
        &name,
        json!({}),
        pod_at(&posted, 105, Some("node-a"), terminated(0, "Completed")),
    )
    .await;
    let (result, sink) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::exited(0));
    assert_eq!(sink.started, std::slice::from_ref(&name));
    assert_eq!(
        sink.text(Stream::Stdout),
        "saying hello\n[COUT] greeting = hello world\n[COUT] partial = no newline at the end"
    );
    assert_eq!(
        sink.text(Stream::Stderr),
        "",
        "Kubernetes merges the streams"
    );
    events.send(
        "DELETED",
        &pod_at(&posted, 105, Some("node-a"), terminated(0, "Completed")),
    );

    // The next step: same watch (no new list/watch), pinned to node-a.
    let step = spawn_step(&backend, launch("upper", 1), ws(), &cancel);
    let ex = api.expect("POST", PODS, &[]).await;
    let second = ex.body.clone();
    assert_eq!(
        second["spec"]["nodeSelector"],
        json!({"kubernetes.io/hostname": "node-a"}),
        "pinned to the first Pod's node"
    );
    assert_eq!(
        second["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        json!(format!("co-ws-{RUN}"))
    );
    ex.json(201, pod_at(&second, 106, None, pending()));
    let name2 = pod_name("upper", 1);
    events.send(
        "MODIFIED",
        &pod_at(&second, 107, Some("node-a"), terminated(0, "Completed")),
    );
    let mut log = api.expect_log(&name2).await;
    log.write("[COUT] shouted = HELLO WORLD\n");
    log.end();
    api.expect_delete(&name2, json!({}), second.clone()).await;
    let (result, sink) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::exited(0));
    assert_eq!(sink.text(Stream::Stdout), "[COUT] shouted = HELLO WORLD\n");
    api.assert_idle();
    api.calls
}

/// Two steps of a ReadWriteOnce run start together: one Pod goes first, unpinned; the other is
/// created only once the first is scheduled, pinned to its node.
pub async fn parallel_first_steps_wait_for_the_first_node() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(rwo()));
    let cancel = CancellationToken::new();
    let left = spawn_step(&backend, launch("left", 1), ws(), &cancel);
    let right = spawn_step(&backend, launch("right", 1), ws(), &cancel);
    let events = open_watch(&mut api, vec![]).await;
    let first = expect_create(&mut api, 101).await;
    assert!(first["spec"].get("nodeSelector").is_none());
    let first_name = first["metadata"]["name"].as_str().unwrap().to_string();
    events.send("ADDED", &pod_at(&first, 101, None, pending()));
    // Give the other step every chance to (wrongly) create its Pod now.
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    api.assert_idle();
    events.send(
        "MODIFIED",
        &pod_at(&first, 102, Some("node-c"), scheduled()),
    );
    let second = expect_create(&mut api, 103).await;
    assert_eq!(
        second["spec"]["nodeSelector"],
        json!({"kubernetes.io/hostname": "node-c"})
    );
    let second_name = second["metadata"]["name"].as_str().unwrap().to_string();
    assert_ne!(first_name, second_name);
    for (pod, name, rv) in [(&first, &first_name, 104), (&second, &second_name, 106)] {
        events.send(
            "MODIFIED",
            &pod_at(pod, rv, Some("node-c"), terminated(0, "Completed")),
        );
        let mut log = api.expect_log(name).await;
        log.end();
        api.expect_delete(name, json!({}), pod.clone()).await;
    }
    assert_eq!(left.await.unwrap().0.unwrap(), StepExit::exited(0));
    assert_eq!(right.await.unwrap().0.unwrap(), StepExit::exited(0));
    api.calls
}

/// A terminated container's status with its start and end times.
fn timed(mut status: Value) -> Value {
    let terminated = &mut status["containerStatuses"][0]["state"]["terminated"];
    terminated["startedAt"] = json!("2026-12-03T13:56:21Z");
    terminated["finishedAt"] = json!("2026-12-03T13:56:41Z");
    status
}

/// A non-zero exit code; WorkspaceMode::None (an emptyDir, no pinning). A step this process
/// launched keeps the driver's clock: its container's times are not reported.
pub async fn nonzero_exit() -> Vec<ApiCall> {
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("three", &CancellationToken::new()).await;
    assert_eq!(
        posted["spec"]["volumes"],
        json!([{"name": "workspace", "emptyDir": {}}])
    );
    events.send("MODIFIED", &pod_at(&posted, 102, Some("n"), running()));
    let mut log = api.expect_log(&name).await;
    log.write("about to fail\n");
    events.send(
        "MODIFIED",
        &pod_at(&posted, 103, Some("n"), timed(terminated(3, "Error"))),
    );
    log.end();
    api.expect_delete(&name, json!({}), posted.clone()).await;
    let (result, sink) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::exited(3));
    assert_eq!(sink.text(Stream::Stdout), "about to fail\n");
    api.calls
}

/// `CO_RESULT = false` with exit 0: the backend passes the bytes and the exit on (the engine
/// decides; see engine::co_result_false_fails_a_step_that_exits_zero).
pub async fn co_result_false() -> Vec<ApiCall> {
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("says-no", &CancellationToken::new()).await;
    // The container has already ended when the watch first reports it.
    events.send(
        "MODIFIED",
        &pod_at(&posted, 102, Some("n"), terminated(0, "Completed")),
    );
    let mut log = api.expect_log(&name).await;
    log.write("[COUT] CO_RESULT = False\n[COUT] kept = 1\n");
    log.end();
    api.expect_delete(&name, json!({}), posted.clone()).await;
    let (result, sink) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::exited(0));
    assert_eq!(
        sink.text(Stream::Stdout),
        "[COUT] CO_RESULT = False\n[COUT] kept = 1\n"
    );
    api.calls
}

/// `OOMKilled` → `oom_killed: true`, exit 137.
pub async fn oom_killed() -> Vec<ApiCall> {
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("hog", &CancellationToken::new()).await;
    events.send("MODIFIED", &pod_at(&posted, 102, Some("n"), running()));
    let mut log = api.expect_log(&name).await;
    log.write("allocating\n");
    events.send(
        "MODIFIED",
        &pod_at(&posted, 103, Some("n"), terminated(137, "OOMKilled")),
    );
    log.end();
    api.expect_delete(&name, json!({}), posted.clone()).await;
    let (result, sink) = step.await.unwrap();
    assert_eq!(
        result.unwrap(),
        StepExit {
            oom_killed: true,
            ..StepExit::exited(137)
        }
    );
    assert_eq!(sink.text(Stream::Stdout), "allocating\n");
    api.calls
}

/// `ErrImagePull`/`ImagePullBackOff` for the whole grace period → `ImageNotFound` (not
/// retriable), the Pod deleted at once.
pub async fn image_pull_error_after_grace() -> Vec<ApiCall> {
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("pull", &CancellationToken::new()).await;
    let first_error = tokio::time::Instant::now();
    events.send(
        "MODIFIED",
        &pod_at(
            &posted,
            102,
            Some("n"),
            waiting("ErrImagePull", "rpc error: not found"),
        ),
    );
    events.send(
        "MODIFIED",
        &pod_at(
            &posted,
            103,
            Some("n"),
            waiting(
                "ImagePullBackOff",
                "Back-off pulling image \"localhost/co-examples/busybox:latest\"",
            ),
        ),
    );
    // Nothing happens until the grace period (30 s) has passed.
    api.expect_delete(&name, json!({"gracePeriodSeconds": 0}), posted.clone())
        .await;
    assert!(first_error.elapsed() >= std::time::Duration::from_secs(30));
    let (result, sink) = step.await.unwrap();
    let err = result.unwrap_err();
    assert!(!err.is_retriable());
    match &err {
        BackendError::ImageNotFound { image, detail } => {
            assert_eq!(image, "localhost/co-examples/busybox:latest");
            assert!(
                detail.contains("ImagePullBackOff") && detail.contains("30s"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("image localhost/co-examples/busybox:latest not found ("));
    assert!(sink.started.is_empty());
    api.calls
}

/// `PodScheduled=False` (Unschedulable) for the whole grace period → a retriable error with the
/// scheduler's message.
pub async fn unschedulable_after_grace() -> Vec<ApiCall> {
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("big", &CancellationToken::new()).await;
    let message =
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available.";
    events.send(
        "MODIFIED",
        &pod_at(&posted, 102, None, unschedulable(message)),
    );
    api.expect_delete(&name, json!({"gracePeriodSeconds": 0}), posted.clone())
        .await;
    let (result, _) = step.await.unwrap();
    let err = result.unwrap_err();
    assert!(err.is_retriable());
    assert_eq!(
        err.to_string(),
        format!("Pod {name} could not be scheduled within 2m: {message}")
    );
    api.calls
}

/// Stopped (timeout or cancel: the engine fires the token) while unschedulable: the Pod is
/// deleted with the stop grace, the step is `stopped`, and the scheduler's message is in its log.
pub async fn unschedulable_then_stopped() -> Vec<ApiCall> {
    let cancel = CancellationToken::new();
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("big", &cancel).await;
    events.send(
        "MODIFIED",
        &pod_at(
            &posted,
            102,
            None,
            unschedulable("0/1 nodes are available: 1 Insufficient memory."),
        ),
    );
    cancel.cancel();
    api.expect_delete(&name, json!({"gracePeriodSeconds": 7}), deleting(&posted))
        .await;
    let (result, sink) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::STOPPED);
    assert_eq!(
        sink.text(Stream::Stderr),
        format!("containerops: Pod {name} was stopped before its container started: it could not be scheduled: 0/1 nodes are available: 1 Insufficient memory.\n")
    );
    assert_eq!(sink.text(Stream::Stdout), "");
    api.calls
}

/// Cancel (and timeout, which the engine carries out by the same token) of a running Pod: deleted
/// with the stop grace, its output until it ends still delivered, `stopped: true`.
pub async fn cancel_running() -> Vec<ApiCall> {
    let cancel = CancellationToken::new();
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("sleeper", &cancel).await;
    events.send("MODIFIED", &pod_at(&posted, 102, Some("n"), running()));
    let mut log = api.expect_log(&name).await;
    log.write("sleeping\n");
    cancel.cancel();
    api.expect_delete(&name, json!({"gracePeriodSeconds": 7}), deleting(&posted))
        .await;
    log.write("got SIGTERM\n");
    events.send(
        "MODIFIED",
        &deleting(&pod_at(&posted, 103, Some("n"), terminated(143, "Error"))),
    );
    log.end();
    events.send(
        "DELETED",
        &deleting(&pod_at(&posted, 104, Some("n"), terminated(143, "Error"))),
    );
    let (result, sink) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::STOPPED);
    assert_eq!(sink.text(Stream::Stdout), "sleeping\ngot SIGTERM\n");
    api.assert_idle();
    api.calls
}

/// Evicted (`status.reason = Evicted`): a retriable error with the reason; the Pod deleted.
pub async fn eviction() -> Vec<ApiCall> {
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("victim", &CancellationToken::new()).await;
    events.send("MODIFIED", &pod_at(&posted, 102, Some("n"), running()));
    let mut log = api.expect_log(&name).await;
    log.write("working\n");
    events.send(
        "MODIFIED",
        &pod_at(
            &posted,
            103,
            Some("n"),
            evicted("The node was low on resource: memory."),
        ),
    );
    log.end();
    api.expect_delete(&name, json!({}), posted.clone()).await;
    let (result, sink) = step.await.unwrap();
    let err = result.unwrap_err();
    assert!(err.is_retriable());
    assert_eq!(
        err.to_string(),
        format!("Pod {name} was evicted: The node was low on resource: memory.")
    );
    assert_eq!(sink.text(Stream::Stdout), "working\n");
    api.calls
}

/// Deleted by someone else while it runs: a retriable error; no delete of ours.
pub async fn deleted_externally() -> Vec<ApiCall> {
    let Started {
        mut api,
        step,
        events,
        posted,
        name,
    } = start_step("victim", &CancellationToken::new()).await;
    events.send("MODIFIED", &pod_at(&posted, 102, Some("n"), running()));
    let mut log = api.expect_log(&name).await;
    log.write("working\n");
    let mut status = running();
    status["conditions"] = json!([{"type": "DisruptionTarget", "status": "True",
        "reason": "PreemptionByScheduler", "message": "preempted by a higher priority Pod"}]);
    let disruption = status["conditions"].clone();
    events.send(
        "MODIFIED",
        &deleting(&pod_at(&posted, 103, Some("n"), status)),
    );
    let mut ended = terminated(143, "Error");
    ended["conditions"] = disruption;
    events.send(
        "MODIFIED",
        &deleting(&pod_at(&posted, 104, Some("n"), ended.clone())),
    );
    log.end();
    events.send(
        "DELETED",
        &deleting(&pod_at(&posted, 105, Some("n"), ended)),
    );
    let (result, sink) = step.await.unwrap();
    let err = result.unwrap_err();
    assert!(err.is_retriable());
    assert_eq!(
        err.to_string(),
        format!("Pod {name} was deleted while the step ran, not by ContainerOps (PreemptionByScheduler: preempted by a higher priority Pod)")
    );
    assert_eq!(sink.text(Stream::Stdout), "working\n");
    api.assert_idle();
    api.calls
}

/// A Pod of the same name left over (same run, step, attempt): deleted, then ours is created.
pub async fn leftover_pod_replaced() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    let step = spawn_step(
        &backend,
        launch("say", 1),
        no_ws(),
        &CancellationToken::new(),
    );
    let events = open_watch(&mut api, vec![]).await;
    let name = pod_name("say", 1);
    let ex = api.expect("POST", PODS, &[]).await;
    let posted = ex.body.clone();
    ex.status(
        409,
        "AlreadyExists",
        &format!("pods \"{name}\" already exists"),
    );
    api.expect_delete(&name, json!({"gracePeriodSeconds": 0}), posted.clone())
        .await;
    events.send(
        "DELETED",
        &pod_at(&posted, 101, Some("n"), terminated(0, "Completed")),
    );
    let again = expect_create(&mut api, 102).await;
    assert_eq!(again, posted);
    events.send(
        "MODIFIED",
        &pod_at(&posted, 103, Some("n"), terminated(0, "Completed")),
    );
    let mut log = api.expect_log(&name).await;
    log.end();
    api.expect_delete(&name, json!({}), posted.clone()).await;
    let (result, _) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::exited(0));
    api.calls
}

/// Without the `watch` permission nothing is created and the step fails saying why.
pub async fn watch_forbidden() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    let step = spawn_step(
        &backend,
        launch("say", 1),
        no_ws(),
        &CancellationToken::new(),
    );
    api.expect("GET", PODS, &[("labelSelector", &selector())])
        .await
        .status(403, "Forbidden", "pods is forbidden: User \"system:serviceaccount:ns:default\" cannot list resource \"pods\"");
    let (result, sink) = step.await.unwrap();
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("listing the run's Pods")
            && err.contains("cannot list resource")
            && err.contains("docs/kubernetes.md#rbac"),
        "{err}"
    );
    assert!(sink.started.is_empty());
    api.calls
}

/// Times the kubelet puts before log lines (`timestamps=true`: fixed-width nanoseconds, `Z` or
/// the node's offset), and the same in ms since the Unix epoch.
const T1: &str = "2026-12-03T13:56:41.100000000Z";
const T2: &str = "2026-12-03T13:56:41.200000000Z";
const T3: &str = "2026-12-03T13:56:42.000000000Z";
const T4: &str = "2026-12-03T14:56:44.500000000+01:00";
const T1_MS: i64 = 1_796_306_201_100;
const T2_MS: i64 = 1_796_306_201_200;
const T3_MS: i64 = 1_796_306_202_000;
const T4_MS: i64 = 1_796_306_204_500;

/// Reattach to a running Pod: its whole log from the start (read with the kubelet's timestamps),
/// then live; a followed read that breaks is opened again and the bytes already passed on are
/// skipped (nothing lost or doubled). Each line is passed on once, without the kubelet's prefix,
/// with the time the kubelet logged it, also when a read breaks within a line or a chunk ends
/// within a prefix.
pub async fn reattach_running() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(rwo()));
    let l = launch("say", 2);
    let name = pod_name("say", 2);
    // The Pod as the earlier process created it.
    let created = serde_json::to_value(
        co_backend_kube::spec::pod(
            &l,
            &co_backend_kube::spec::WorkspaceVolume::Pvc(format!("co-ws-{RUN}")),
            None,
            7,
        )
        .unwrap(),
    )
    .unwrap();
    let now_running = pod_at(&created, 90, Some("node-b"), running());
    let task = spawn_reattach(&backend, l);
    let events = open_watch(&mut api, vec![now_running.clone()]).await;
    api.expect("GET", &format!("{PODS}/{name}"), &[])
        .await
        .json(200, now_running.clone());
    let mut log = api.expect_stamped_log(&name).await;
    log.write(&format!("{T1} line 1\n{T2} line 2\n{T3} line 3, ha"));
    log.write("lf");
    log.end(); // the connection broke; the container still runs
    let mut again = api.expect_stamped_log(&name).await;
    again.write(&format!(
        "{T1} line 1\n{T2} line 2\n{T3} line 3, half and the rest\n{}",
        &T4[..15]
    ));
    again.write(&format!("{} line 4\n", &T4[15..]));
    events.send(
        "MODIFIED",
        &pod_at(&created, 91, Some("node-b"), terminated(0, "Completed")),
    );
    again.end();
    api.expect_delete(&name, json!({}), created.clone()).await;
    let (result, sink) = task.await.unwrap();
    assert_eq!(result.unwrap(), Some(StepExit::exited(0)));
    assert_eq!(sink.started, [name]);
    assert_eq!(
        sink.text(Stream::Stdout),
        "line 1\nline 2\nline 3, half and the rest\nline 4\n"
    );
    assert_eq!(
        sink.timed(),
        [
            (Some(T1_MS), "line 1\n".to_string()),
            (Some(T2_MS), "line 2\n".to_string()),
            (Some(T3_MS), "line 3, half and the rest\n".to_string()),
            (Some(T4_MS), "line 4\n".to_string()),
        ]
    );
    api.calls
}

/// Reattach to a Pod that ended while no process watched it: its whole log, its exit code, and
/// the container's start and end times from its status (not when the reattach heard of them).
/// Its lines keep the kubelet's times; a line that does not start with a valid time (a malformed
/// prefix, a last line too short to have one) is passed on whole, without a time.
pub async fn reattach_finished() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    let l = launch("build[os=linux]", 1);
    let name = pod_name("build[os=linux]", 1);
    let created = serde_json::to_value(
        co_backend_kube::spec::pod(
            &l,
            &co_backend_kube::spec::WorkspaceVolume::EmptyDir,
            None,
            7,
        )
        .unwrap(),
    )
    .unwrap();
    let ended = pod_at(&created, 95, Some("n"), timed(terminated(2, "Error")));
    let task = spawn_reattach(&backend, l);
    let _events = open_watch(&mut api, vec![ended.clone()]).await;
    api.expect("GET", &format!("{PODS}/{name}"), &[])
        .await
        .json(200, ended.clone());
    let mut log = api.expect_stamped_log(&name).await;
    log.write(&format!(
        "{T1} [COUT] half = done\n2026-12-03T25:00:00Z failing now\n{T2} bye\nno-space"
    ));
    log.end();
    api.expect_delete(&name, json!({}), ended.clone()).await;
    let (result, sink) = task.await.unwrap();
    assert_eq!(
        result.unwrap(),
        Some(StepExit {
            started_at: Some(1_796_306_181_000),
            finished_at: Some(1_796_306_201_000),
            ..StepExit::exited(2)
        })
    );
    assert_eq!(
        sink.timed(),
        [
            (Some(T1_MS), "[COUT] half = done\n".to_string()),
            (None, "2026-12-03T25:00:00Z failing now\n".to_string()),
            (Some(T2_MS), "bye\n".to_string()),
            (None, "no-space".to_string()),
        ]
    );
    api.calls
}

/// Reattach when the Pod is gone (not by name, not by labels): `None`, nothing else.
pub async fn reattach_gone() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    let l = launch("build[os=linux]", 1);
    let name = pod_name("build[os=linux]", 1);
    let task = spawn_reattach(&backend, l);
    let _events = open_watch(&mut api, vec![]).await;
    api.expect("GET", &format!("{PODS}/{name}"), &[])
        .await
        .status(404, "NotFound", &format!("pods \"{name}\" not found"));
    let step_label = co_backend_kube::names::label_value("build[os=linux]");
    api.expect(
        "GET",
        PODS,
        &[(
            "labelSelector",
            &format!(
                "containerops.run={RUN},containerops.step={step_label},containerops.attempt=1"
            ),
        )],
    )
    .await
    .json(200, pod_list(vec![], "120"));
    let (result, sink) = task.await.unwrap();
    assert_eq!(result.unwrap(), None);
    assert!(sink.started.is_empty() && sink.chunks.is_empty());
    api.assert_idle();
    api.calls
}

/// The workspace PVC: created (storage class, size, access mode, labels); reused after a restart
/// when it belongs to the run; refused when it belongs to another; `finish_run` deletes the
/// run's leftover Pods (not those being deleted already, not another run's) and the PVC.
pub async fn pvc_create_reuse_and_finish_run() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(rwo()));
    let pvc_name = format!("co-ws-{RUN}");
    let b = backend.clone();
    let task = tokio::spawn(async move { b.create_workspace(RUN).await });
    let ex = api.expect("POST", PVCS, &[]).await;
    insta::assert_yaml_snapshot!("posted_pvc", ex.body);
    let claim = ex.body.clone();
    ex.json(201, claim.clone());
    let _events = open_watch(&mut api, vec![]).await;
    assert_eq!(task.await.unwrap().unwrap(), ws());

    // A restarted process: the claim exists and is the run's.
    let (client2, mut api2) = pair();
    let restarted = KubeBackend::with_client(client2, "ns".into(), options(rwo()));
    let b = restarted.clone();
    let task = tokio::spawn(async move { b.create_workspace(RUN).await });
    api2.expect("POST", PVCS, &[]).await.status(
        409,
        "AlreadyExists",
        &format!("persistentvolumeclaims \"{pvc_name}\" already exists"),
    );
    api2.expect("GET", &format!("{PVCS}/{pvc_name}"), &[])
        .await
        .json(200, claim.clone());
    let _events2 = open_watch(&mut api2, vec![]).await;
    assert_eq!(task.await.unwrap().unwrap(), ws());

    // One of the same name but another run's is not used.
    let (client3, mut api3) = pair();
    let other = KubeBackend::with_client(client3, "ns".into(), options(rwo()));
    let task = tokio::spawn(async move { other.create_workspace(RUN).await });
    api3.expect("POST", PVCS, &[])
        .await
        .status(409, "AlreadyExists", "exists");
    let mut foreign = claim.clone();
    foreign["metadata"]["annotations"]["containerops.run"] = json!("someone-else");
    api3.expect("GET", &format!("{PVCS}/{pvc_name}"), &[])
        .await
        .json(200, foreign);
    let err = task.await.unwrap().unwrap_err().to_string();
    assert!(err.contains("does not belong to run"), "{err}");
    api3.assert_idle();

    // finish_run on the restarted backend: sweep, then the PVC.
    let leftover = |step: &str| {
        serde_json::to_value(
            co_backend_kube::spec::pod(
                &launch(step, 1),
                &co_backend_kube::spec::WorkspaceVolume::Pvc(pvc_name.clone()),
                None,
                7,
            )
            .unwrap(),
        )
        .unwrap()
    };
    let running_leftover = pod_at(&leftover("orphan"), 130, Some("n"), running());
    let already_going = deleting(&pod_at(&leftover("going"), 131, Some("n"), running()));
    let mut foreign_pod = pod_at(&leftover("other"), 132, Some("n"), running());
    foreign_pod["metadata"]["annotations"]["containerops.run"] = json!("another-run");
    let b = restarted.clone();
    let task = tokio::spawn(async move { b.finish_run(&ws()).await });
    api2.expect("GET", PODS, &[("labelSelector", &selector())])
        .await
        .json(
            200,
            pod_list(
                vec![running_leftover.clone(), already_going, foreign_pod],
                "133",
            ),
        );
    api2.expect_delete(
        &pod_name("orphan", 1),
        json!({}),
        deleting(&running_leftover),
    )
    .await;
    let ex = api2
        .expect("DELETE", &format!("{PVCS}/{pvc_name}"), &[])
        .await;
    assert_eq!(ex.body, json!({}));
    ex.json(200, claim);
    task.await.unwrap().unwrap();
    api2.assert_idle();

    let mut calls = api.calls;
    calls.extend(api2.calls);
    calls.extend(api3.calls);
    calls
}

// ---- the tests ------------------------------------------------------------------------------

/// A launch of `step` with two variables delivered as files of `size` bytes each (`x`s).
fn launch_with_files(step: &str, size: usize) -> StepLaunch {
    let mut l = launch(step, 1);
    let big = "x".repeat(size);
    for name in ["CO_DATA", "CO_INPUT_V"] {
        let path = format!("{}/{name}", co_backend::ENV_FILES_DIR);
        l.env.push((format!("{name}_FILE"), path.clone()));
        l.files.push(EnvFile {
            name: name.into(),
            path,
            content: big.clone(),
        });
    }
    l
}

/// Variables too large for the environment: the Pod mounts them from Secrets (two: the files do
/// not fit in one) that it owns, created right after it.
pub async fn large_inputs_are_secrets_owned_by_the_pod() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    let size = 600 * 1024;
    let step = spawn_step(
        &backend,
        launch_with_files("big", size),
        no_ws(),
        &CancellationToken::new(),
    );
    let events = open_watch(&mut api, vec![]).await;
    let posted = expect_create(&mut api, 101).await;
    let name = pod_name("big", 1);
    assert_eq!(
        posted["spec"]["volumes"][1],
        json!({"name": "env-files", "projected": {"defaultMode": 0o444, "sources": [
            {"secret": {"name": format!("{name}-env-1")}},
            {"secret": {"name": format!("{name}-env-2")}}]}})
    );
    assert_eq!(
        posted["spec"]["containers"][0]["volumeMounts"][1],
        json!({"name": "env-files", "mountPath": "/run/containerops/env", "readOnly": true})
    );
    for (i, key) in [(1, "CO_DATA"), (2, "CO_INPUT_V")] {
        let ex = api.expect("POST", SECRETS, &[]).await;
        let body = ex.body.clone();
        assert_eq!(body["metadata"]["name"], json!(format!("{name}-env-{i}")));
        assert_eq!(
            body["metadata"]["ownerReferences"],
            json!([{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": format!("uid-{name}")}])
        );
        assert_eq!(body["metadata"]["labels"]["containerops.run"], json!(RUN));
        assert_eq!(
            (&body["immutable"], &body["type"]),
            (&json!(true), &json!("Opaque"))
        );
        let data = body["data"].as_object().unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), [key]);
        // base64 of `xxx…`: 4 characters per 3 bytes.
        let encoded = data[key].as_str().unwrap();
        assert_eq!(encoded.len(), size.div_ceil(3) * 4);
        assert!(encoded.starts_with("eHh4eHh4"), "{}", &encoded[..16]);
        ex.json(201, body);
    }
    events.send(
        "MODIFIED",
        &pod_at(&posted, 102, Some("n"), terminated(0, "Completed")),
    );
    let mut log = api.expect_log(&name).await;
    log.write("read 614400 bytes\n");
    log.end();
    // Deleting the Pod deletes its Secrets (their owner): nothing else to delete.
    api.expect_delete(&name, json!({}), posted.clone()).await;
    let (result, sink) = step.await.unwrap();
    assert_eq!(result.unwrap(), StepExit::exited(0));
    assert_eq!(sink.text(Stream::Stdout), "read 614400 bytes\n");
    api.assert_idle();
    api.calls
}

/// A file no Secret can hold fails the step before anything is created (not retriable).
pub async fn an_input_file_over_one_mib_fails_before_anything_is_created() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    let step = spawn_step(
        &backend,
        launch_with_files("huge", 1024 * 1024 + 1),
        no_ws(),
        &CancellationToken::new(),
    );
    let _events = open_watch(&mut api, vec![]).await;
    let (result, sink) = step.await.unwrap();
    let err = result.unwrap_err();
    assert!(!err.is_retriable());
    assert_eq!(
        err.to_string(),
        "CO_DATA is 1048577 bytes; on Kubernetes a variable delivered as a file may be at most \
         1048576 bytes (1 MiB, what one Secret holds)"
    );
    assert!(sink.started.is_empty());
    api.assert_idle();
    api.calls
}

/// Reattach to a Pod with files: its Secrets are created if the earlier process stopped before
/// it made them (one exists: fine, it is the Pod's own).
pub async fn reattach_creates_missing_secrets() -> Vec<ApiCall> {
    let (client, mut api) = pair();
    let backend = KubeBackend::with_client(client, "ns".into(), options(WorkspaceMode::None));
    let l = launch_with_files("big", 600 * 1024);
    let name = pod_name("big", 1);
    let created = serde_json::to_value(
        co_backend_kube::spec::pod(
            &l,
            &co_backend_kube::spec::WorkspaceVolume::EmptyDir,
            None,
            7,
        )
        .unwrap(),
    )
    .unwrap();
    let pending_pod = pod_at(&created, 90, Some("n"), pending());
    let task = spawn_reattach(&backend, l);
    let events = open_watch(&mut api, vec![pending_pod.clone()]).await;
    api.expect("GET", &format!("{PODS}/{name}"), &[])
        .await
        .json(200, pending_pod.clone());
    let ex = api.expect("POST", SECRETS, &[]).await;
    assert_eq!(ex.body["metadata"]["name"], json!(format!("{name}-env-1")));
    ex.status(
        409,
        "AlreadyExists",
        &format!("secrets \"{name}-env-1\" already exists"),
    );
    let ex = api.expect("POST", SECRETS, &[]).await;
    assert_eq!(ex.body["metadata"]["name"], json!(format!("{name}-env-2")));
    assert_eq!(
        ex.body["metadata"]["ownerReferences"][0]["uid"],
        json!(format!("uid-{name}"))
    );
    let body = ex.body.clone();
    ex.json(201, body);
    events.send(
        "MODIFIED",
        &pod_at(&created, 91, Some("n"), terminated(0, "Completed")),
    );
    let mut log = api.expect_stamped_log(&name).await;
    log.write(&format!("{T3} done\n"));
    log.end();
    api.expect_delete(&name, json!({}), created.clone()).await;
    let (result, sink) = task.await.unwrap();
    assert_eq!(result.unwrap(), Some(StepExit::exited(0)));
    assert_eq!(sink.text(Stream::Stdout), "done\n");
    api.calls
}

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                crate::scripted::$name().await;
            }
        )*
        /// Every scenario, for the API_CALLS check.
        pub async fn all() -> Vec<ApiCall> {
            let mut calls = Vec::new();
            $( calls.extend(crate::scripted::$name().await); )*
            calls
        }
    };
}

pub mod tests {
    use super::ApiCall;
    scenario_tests!(
        success_with_outputs_and_node_pinning,
        parallel_first_steps_wait_for_the_first_node,
        nonzero_exit,
        co_result_false,
        oom_killed,
        image_pull_error_after_grace,
        unschedulable_after_grace,
        unschedulable_then_stopped,
        cancel_running,
        eviction,
        deleted_externally,
        leftover_pod_replaced,
        watch_forbidden,
        reattach_running,
        reattach_finished,
        reattach_gone,
        pvc_create_reuse_and_finish_run,
        large_inputs_are_secrets_owned_by_the_pod,
        an_input_file_over_one_mib_fails_before_anything_is_created,
        reattach_creates_missing_secrets,
    );
}

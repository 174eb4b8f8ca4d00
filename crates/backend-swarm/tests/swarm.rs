//! The Swarm backend against a real one-node swarm: the Docker Engine at
//! `$CONTAINEROPS_TEST_SWARM_HOST` (default `unix:///var/run/docker.sock`, whatever `$DOCKER_HOST`
//! says: the suite's other tests run on Podman) made a swarm manager by
//! `scripts/setup-engine.sh --swarm`. Without one these tests fail, never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use co_backend::{
    labels, Backend, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Stream,
    Workspace,
};
use co_backend_docker::{Candidate, ImageBuild};
use co_backend_swarm::{SwarmBackend, SwarmOptions};
use tokio::sync::{watch, OnceCell};

const IMAGE: &str = "localhost/containerops-test/backend-swarm-busybox:latest";

async fn backend() -> SwarmBackend {
    backend_with(SwarmOptions {
        stop_grace: Duration::from_secs(2),
        ..SwarmOptions::default()
    })
    .await
}

async fn backend_with(opts: SwarmOptions) -> SwarmBackend {
    let host = std::env::var("CONTAINEROPS_TEST_SWARM_HOST")
        .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
    match SwarmBackend::connect_with(&[Candidate::new("the test swarm", host)], opts).await {
        Ok(b) => b,
        Err(e) => panic!(
            "these tests need a one-node swarm on Docker Engine (scripts/setup-engine.sh --swarm; \
             CONTAINEROPS_TEST_SWARM_HOST names another):\n{e}"
        ),
    }
}

static IMAGE_BUILT: OnceCell<()> = OnceCell::const_new();

async fn image(b: &SwarmBackend) -> &'static str {
    IMAGE_BUILT
        .get_or_init(|| async {
            let dir = tempfile::tempdir().unwrap();
            let bin = dir.path().join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
            for t in ["sh", "echo", "cat", "sleep", "seq", "test", "env", "true"] {
                std::os::unix::fs::symlink("busybox", bin.join(t)).unwrap();
            }
            std::fs::write(
                dir.path().join("Containerfile"),
                "FROM scratch\nCOPY bin /bin\nCMD [\"/bin/sh\"]\n",
            )
            .unwrap();
            b.engine()
                .build_image(&ImageBuild::new(dir.path(), IMAGE), &mut |_| {})
                .await
                .unwrap();
        })
        .await;
    IMAGE
}

fn run_id(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "s{}-{test}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn launch(run: &str, key: &str, image: &str, script: &str) -> StepLaunch {
    StepLaunch {
        run_id: run.to_string(),
        workflow: "tests".into(),
        step_key: key.to_string(),
        attempt: 1,
        image: image.to_string(),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        env: vec![],
        cpu_millis: None,
        memory_bytes: None,
        kubernetes: None,
        swarm: None,
        files: Vec::new(),
    }
}

/// Records output per stream; a test can wait for a text (no sleeps).
#[derive(Clone, Default)]
struct Sink {
    state: Arc<Mutex<State>>,
    changed: Arc<watch::Sender<u64>>,
}

#[derive(Default)]
struct State {
    started: Option<String>,
    out: [Vec<u8>; 2],
    before_start: bool,
    timed: usize,
}

impl Sink {
    fn new() -> Self {
        Sink {
            state: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    fn text(&self, s: Stream) -> String {
        let st = self.state.lock().unwrap();
        String::from_utf8_lossy(&st.out[s as usize]).into_owned()
    }

    async fn wait_for(&self, s: Stream, needle: &str) {
        let mut rx = self.changed.subscribe();
        let wait = async {
            while !self.text(s).contains(needle) {
                rx.changed().await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .unwrap_or_else(|_| panic!("{needle:?} did not come within a minute"));
    }
}

#[async_trait::async_trait]
impl OutputSink for Sink {
    fn started(&mut self, id: &str) {
        let mut st = self.state.lock().unwrap();
        assert!(st.started.is_none(), "started twice");
        st.started = Some(id.to_string());
    }

    async fn output(&mut self, stream: Stream, bytes: &[u8]) {
        {
            let mut st = self.state.lock().unwrap();
            st.before_start |= st.started.is_none();
            st.out[stream as usize].extend_from_slice(bytes);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    async fn output_at(&mut self, stream: Stream, bytes: &[u8], _at: i64) {
        self.state.lock().unwrap().timed += 1;
        self.output(stream, bytes).await;
    }
}

/// No service, container or volume labelled with the run is left.
async fn assert_nothing_left(b: &SwarmBackend, run: &str) {
    let services = b.list_services(labels::RUN, Some(run)).await.unwrap();
    assert!(services.is_empty(), "services left: {services:?}");
    let containers = b
        .engine()
        .list_containers(labels::RUN, Some(run))
        .await
        .unwrap();
    assert!(containers.is_empty(), "containers left: {containers:?}");
    let volumes = b
        .engine()
        .list_volumes(labels::RUN, Some(run))
        .await
        .unwrap();
    assert!(volumes.is_empty(), "volumes left: {volumes:?}");
}

async fn run(
    b: &SwarmBackend,
    l: &StepLaunch,
    ws: &Workspace,
) -> (Result<StepExit, BackendError>, Sink) {
    let mut sink = Sink::new();
    let r = b.run_step(l, ws, &mut sink, CancellationToken::new()).await;
    (r, sink)
}

#[tokio::test]
async fn a_job_service_runs_the_step_with_both_streams_and_its_exit_code() {
    let b = backend().await;
    let img = image(&b).await;
    let run_id = run_id("exit");
    let ws = b.create_workspace(&run_id).await.unwrap();
    let mut l = launch(
        &run_id,
        "say[n=1]",
        img,
        "echo \"out $GREETING\"; echo err >&2; seq 1 3; printf 'no newline'; exit 3",
    );
    l.env = vec![("GREETING".into(), "hello".into())];
    l.memory_bytes = Some(64 << 20);
    l.cpu_millis = Some(500);
    let (exit, sink) = run(&b, &l, &ws).await;
    let exit = exit.unwrap();
    assert_eq!(exit.exit_code, Some(3));
    assert!(!exit.stopped && !exit.oom_killed);
    assert!(exit.finished_at.is_some());
    assert_eq!(sink.text(Stream::Stdout), "out hello\n1\n2\n3\nno newline");
    assert_eq!(sink.text(Stream::Stderr), "err\n");
    {
        let st = sink.state.lock().unwrap();
        assert!(st.started.is_some() && !st.before_start);
        assert!(st.timed > 0, "output comes with the engine's timestamps");
    }
    let (ok, sink) = run(&b, &launch(&run_id, "ok", img, "echo fine"), &ws).await;
    assert_eq!(ok.unwrap().exit_code, Some(0));
    assert_eq!(sink.text(Stream::Stdout), "fine\n");
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run_id).await;
}

#[tokio::test]
async fn steps_of_a_run_share_the_workspace() {
    let b = backend().await;
    let img = image(&b).await;
    let run_id = run_id("ws");
    let ws = b.create_workspace(&run_id).await.unwrap();
    let (w, _) = run(
        &b,
        &launch(&run_id, "write", img, "echo data > /workspace/f"),
        &ws,
    )
    .await;
    assert_eq!(w.unwrap().exit_code, Some(0));
    let (r, sink) = run(&b, &launch(&run_id, "read", img, "cat /workspace/f"), &ws).await;
    assert_eq!(r.unwrap().exit_code, Some(0));
    assert_eq!(sink.text(Stream::Stdout), "data\n");
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run_id).await;
}

#[tokio::test]
async fn a_missing_image_is_image_not_found() {
    let b = backend().await;
    let run_id = run_id("noimg");
    let ws = b.create_workspace(&run_id).await.unwrap();
    let l = launch(
        &run_id,
        "x",
        "localhost/containerops-test/no-such-image:1",
        "true",
    );
    let (r, _) = run(&b, &l, &ws).await;
    match r {
        Err(e @ BackendError::ImageNotFound { .. }) => {
            assert!(!e.is_retriable());
            assert!(e.to_string().contains("no-such-image"), "{e}");
        }
        other => panic!("expected ImageNotFound, got {other:?}"),
    }
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run_id).await;
}

#[tokio::test]
async fn cancel_removes_the_service_and_the_step_stops() {
    let b = backend().await;
    let img = image(&b).await;
    let run_id = run_id("cancel");
    let ws = b.create_workspace(&run_id).await.unwrap();
    let l = launch(&run_id, "long", img, "echo ready; sleep 300");
    let sink = Sink::new();
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (b, l, ws, mut sink, cancel) = (
            b.clone(),
            l.clone(),
            ws.clone(),
            sink.clone(),
            cancel.clone(),
        );
        async move { b.run_step(&l, &ws, &mut sink, cancel).await }
    });
    sink.wait_for(Stream::Stdout, "ready").await;
    cancel.cancel();
    let exit = task.await.unwrap().unwrap();
    assert!(exit.stopped, "{exit:?}");
    // By SIGTERM (passed on by the init process), within the grace: 137 would be SIGKILL.
    assert_eq!(exit.exit_code, Some(143), "{exit:?}");
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run_id).await;
}

#[tokio::test]
async fn reattach_follows_a_service_an_earlier_process_started() {
    let b1 = backend().await;
    let img = image(&b1).await;
    let run_id = run_id("reattach");
    let ws = b1.create_workspace(&run_id).await.unwrap();
    let l = launch(
        &run_id,
        "long",
        img,
        "echo one; until test -f /workspace/go; do sleep 0.05; done; echo two; exit 4",
    );
    let first = Sink::new();
    let task = tokio::spawn({
        let (b, l, ws, mut sink) = (b1.clone(), l.clone(), ws.clone(), first.clone());
        async move {
            b.run_step(&l, &ws, &mut sink, CancellationToken::new())
                .await
        }
    });
    first.wait_for(Stream::Stdout, "one").await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let b2 = backend().await;
    let second = Sink::new();
    let task = tokio::spawn({
        let (b, l, ws, mut sink) = (b2.clone(), l.clone(), ws.clone(), second.clone());
        async move {
            b.reattach(&l, &ws, &mut sink, CancellationToken::new())
                .await
        }
    });
    second.wait_for(Stream::Stdout, "one\n").await;
    let (go, _) = run(&b2, &launch(&run_id, "go", img, ": > /workspace/go"), &ws).await;
    assert_eq!(go.unwrap().exit_code, Some(0));
    let exit = task.await.unwrap().unwrap().unwrap();
    assert_eq!(exit.exit_code, Some(4));
    assert_eq!(second.text(Stream::Stdout), "one\ntwo\n");
    // Nothing of another attempt.
    let mut none = Sink::new();
    let other = StepLaunch {
        attempt: 2,
        ..l.clone()
    };
    assert_eq!(
        b2.reattach(&other, &ws, &mut none, CancellationToken::new())
            .await
            .unwrap(),
        None
    );
    b2.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b2, &run_id).await;
}

#[tokio::test]
async fn the_swarm_block_places_and_reserves_and_an_impossible_constraint_fails_in_words() {
    let b = backend_with(SwarmOptions {
        stop_grace: Duration::from_secs(2),
        unschedulable_grace: Duration::from_secs(1),
        ..SwarmOptions::default()
    })
    .await;
    let img = image(&b).await;
    let run_id = run_id("place");
    let ws = b.create_workspace(&run_id).await.unwrap();
    let mut l = launch(&run_id, "placed", img, "echo here");
    l.swarm = Some(serde_json::json!({
        "constraints": ["node.role == manager"],
        "preferences": ["node.labels.zone"],
        "reservations": { "cpu_millis": 10, "memory_bytes": 4194304 },
    }));
    let (r, sink) = run(&b, &l, &ws).await;
    assert_eq!(r.unwrap().exit_code, Some(0));
    assert_eq!(sink.text(Stream::Stdout), "here\n");

    let mut l = launch(&run_id, "nowhere", img, "echo never");
    l.swarm = Some(serde_json::json!({
        "constraints": ["node.labels.containerops-test-absent == yes"],
    }));
    let (r, sink) = run(&b, &l, &ws).await;
    match r {
        Err(e @ BackendError::Other(_)) => {
            let m = e.to_string();
            assert!(m.contains("no suitable node"), "{m}");
        }
        other => panic!("expected the scheduler's message, got {other:?}"),
    }
    assert!(sink.state.lock().unwrap().started.is_none());
    b.finish_run(&ws).await.unwrap();
    assert_nothing_left(&b, &run_id).await;
}

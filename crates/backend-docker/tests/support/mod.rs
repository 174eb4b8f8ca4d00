//! Shared helpers for the integration tests against the real engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use co_backend::{Backend, BackendError, OutputSink, StepExit, StepLaunch, Stream, Workspace};
use co_backend_docker::{discovery, DockerBackend, DockerOptions, ExitDetection, ImageBuild};
use tokio::sync::{mpsc, OnceCell};
use tokio_util::sync::CancellationToken;

/// Specific to this crate: other crates' tests may build a busybox image with fewer applets.
pub const IMAGE: &str = "localhost/containerops-test/backend-docker-busybox:latest";

/// Busybox applets linked into the test image.
const TOOLS: &[&str] = &[
    "sh", "echo", "cat", "env", "sleep", "seq", "head", "tr", "dd", "wc", "true", "false", "ls",
    "printf", "test", "yes",
];

/// Runs one step to its end (no cancel): its exit and everything it printed.
pub async fn run_to_end(b: &DockerBackend, l: &StepLaunch, ws: &Workspace) -> (StepExit, Recorder) {
    let mut rec = Recorder::default();
    let exit = b
        .run_step(l, ws, &mut rec, CancellationToken::new())
        .await
        .unwrap();
    (exit, rec)
}

/// A backend on the engine this machine runs (SPEC §5 discovery); fails loudly if there is none.
pub async fn backend() -> DockerBackend {
    backend_with(ExitDetection::default()).await
}

pub async fn backend_with(mode: ExitDetection) -> DockerBackend {
    backend_with_options(DockerOptions {
        exit_detection: mode,
        ..DockerOptions::default()
    })
    .await
}

/// `opts` with a short stop grace period (for the tests whose steps must be killed).
pub async fn backend_with_options(opts: DockerOptions) -> DockerBackend {
    connect(DockerOptions {
        stop_grace: Duration::from_millis(500),
        ..opts
    })
    .await
}

/// A backend with a stop grace long enough that a step stopped within it was stopped by SIGTERM.
pub async fn backend_with_grace(stop_grace: Duration) -> DockerBackend {
    connect(DockerOptions {
        stop_grace,
        ..DockerOptions::default()
    })
    .await
}

async fn connect(opts: DockerOptions) -> DockerBackend {
    match DockerBackend::connect_with(&discovery::candidates_from_env(), opts).await {
        Ok(b) => b,
        Err(e) => panic!(
            "these tests need a container engine and none answered; run scripts/setup-engine.sh \
             (as root) to install and start Podman.\n{e}"
        ),
    }
}

static IMAGE_BUILT: OnceCell<()> = OnceCell::const_new();

/// The busybox test image, built once per test binary through `build_image`.
pub async fn image(b: &DockerBackend) -> &'static str {
    IMAGE_BUILT
        .get_or_init(|| async {
            let busybox = std::path::Path::new("/bin/busybox");
            assert!(
                busybox.exists(),
                "/bin/busybox is missing: run `apt-get install -y busybox-static` (or scripts/setup-engine.sh)"
            );
            let dir = tempfile::tempdir().unwrap();
            let bin = dir.path().join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::copy(busybox, bin.join("busybox")).unwrap();
            for t in TOOLS {
                std::os::unix::fs::symlink("busybox", bin.join(t)).unwrap();
            }
            std::fs::write(
                dir.path().join("Containerfile"),
                "FROM scratch\nCOPY bin /bin\nCMD [\"/bin/sh\"]\n",
            )
            .unwrap();
            b.build_image(&ImageBuild::new(dir.path(), IMAGE), &mut |_| {})
                .await
                .unwrap();
        })
        .await;
    IMAGE
}

/// A run id no other test (or test process) uses.
pub fn run_id(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t{}-{}-{}-{nanos:x}",
        std::process::id(),
        test,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn launch(run_id: &str, key: &str, image: &str, script: &str) -> StepLaunch {
    StepLaunch {
        run_id: run_id.to_string(),
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

/// Records what a step printed, per stream, and tells a channel when the container started.
#[derive(Default)]
pub struct Recorder {
    pub started: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub output_before_start: bool,
    pub on_start: Option<mpsc::UnboundedSender<String>>,
    /// Count bytes instead of keeping them.
    pub discard: bool,
    pub bytes: usize,
    /// For each piece of output, when the engine logged it (`output_at`), or `None` (`output`).
    pub times: Vec<Option<i64>>,
}

impl Recorder {
    pub fn notifying() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Recorder {
                on_start: Some(tx),
                ..Default::default()
            },
            rx,
        )
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Recorder {
    fn start(&mut self, container_id: &str) {
        assert!(self.started.is_none(), "started called twice");
        self.started = Some(container_id.to_string());
        if let Some(tx) = &self.on_start {
            let _ = tx.send(container_id.to_string());
        }
    }

    fn record(&mut self, stream: Stream, bytes: &[u8]) {
        if self.started.is_none() {
            self.output_before_start = true;
        }
        self.bytes += bytes.len();
        if self.discard {
            return;
        }
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(bytes),
            Stream::Stderr => self.stderr.extend_from_slice(bytes),
        }
    }
}

#[async_trait::async_trait]
impl OutputSink for Recorder {
    fn started(&mut self, container_id: &str) {
        self.start(container_id);
    }

    async fn output(&mut self, stream: Stream, bytes: &[u8]) {
        self.times.push(None);
        self.record(stream, bytes);
    }

    async fn output_at(&mut self, stream: Stream, bytes: &[u8], at: i64) {
        self.times.push(Some(at));
        self.record(stream, bytes);
    }
}

/// Nothing labelled with `run_id` is left.
pub async fn assert_nothing_left(b: &DockerBackend, run_id: &str) {
    let containers = b
        .list_containers(co_backend::labels::RUN, Some(run_id))
        .await
        .unwrap();
    assert!(
        containers.is_empty(),
        "containers left behind: {containers:?}"
    );
    let volumes = b
        .list_volumes(co_backend::labels::RUN, Some(run_id))
        .await
        .unwrap();
    assert!(volumes.is_empty(), "volumes left behind: {volumes:?}");
}

pub fn expect_other(r: Result<co_backend::StepExit, BackendError>) -> String {
    match r {
        Err(BackendError::Other(m)) => m,
        other => panic!("expected BackendError::Other, got {other:?}"),
    }
}

/// A sink shared between a step's task and the test: records per stream and lets the test wait
/// for a text to appear (no sleeps).
#[derive(Clone)]
pub struct LiveSink {
    state: std::sync::Arc<std::sync::Mutex<Recorder>>,
    changed: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for LiveSink {
    fn default() -> Self {
        LiveSink {
            state: Default::default(),
            changed: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

impl LiveSink {
    pub fn stdout(&self) -> Vec<u8> {
        self.state.lock().unwrap().stdout.clone()
    }

    pub fn stderr(&self) -> Vec<u8> {
        self.state.lock().unwrap().stderr.clone()
    }

    pub fn started(&self) -> Option<String> {
        self.state.lock().unwrap().started.clone()
    }

    pub fn output_before_start(&self) -> bool {
        self.state.lock().unwrap().output_before_start
    }

    /// Wait until `stream` contains `needle` (fails after a minute, showing what arrived).
    pub async fn wait_for(&self, stream: Stream, needle: &str) {
        let mut rx = self.changed.subscribe();
        let wait = async {
            loop {
                let text = match stream {
                    Stream::Stdout => self.stdout(),
                    Stream::Stderr => self.stderr(),
                };
                if String::from_utf8_lossy(&text).contains(needle) {
                    return;
                }
                rx.changed().await.unwrap();
            }
        };
        if tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .is_err()
        {
            panic!(
                "{needle:?} did not appear on {stream:?} within a minute; stdout={:?} stderr={:?}",
                String::from_utf8_lossy(&self.stdout()),
                String::from_utf8_lossy(&self.stderr())
            );
        }
    }
}

#[async_trait::async_trait]
impl OutputSink for LiveSink {
    fn started(&mut self, container_id: &str) {
        self.state.lock().unwrap().start(container_id);
        self.changed.send_modify(|n| *n += 1);
    }

    async fn output(&mut self, stream: Stream, bytes: &[u8]) {
        self.state.lock().unwrap().record(stream, bytes);
        self.changed.send_modify(|n| *n += 1);
    }
}

/// `exit` without the container's times (for comparing how it ended).
pub fn untimed(exit: StepExit) -> StepExit {
    StepExit {
        started_at: None,
        finished_at: None,
        ..exit
    }
}

/// Now, as ms since the Unix epoch.
pub fn now_millis() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_millis()).unwrap()
}

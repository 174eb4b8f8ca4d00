//! The engine's API service stops answering while a step runs (a private `podman system
//! service` on its own socket, killed): the step waits for it, follows the container on from the
//! byte where the output broke off, and fails with a reason if the engine stays away longer than
//! `DockerOptions::engine_outage_limit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use co_backend::{Backend, CancellationToken};
use co_backend_docker::{discovery::Candidate, DockerBackend, DockerOptions};
use support::*;

/// Podman's API service on a socket of its own (the machine's containers and storage).
struct PrivateEngine {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateEngine {
    fn start() -> PrivateEngine {
        let mut e = PrivateEngine {
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        e.launch();
        e
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("podman.sock").display())
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(self.dir.path().join("podman.sock"));
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(self.host())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman (scripts/setup-engine.sh)");
        self.child = Some(child);
        let socket = self.dir.path().join("podman.sock");
        let deadline = Instant::now() + Duration::from_secs(60);
        // Readiness polling of the service (not a timing assumption).
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private engine did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn backend_on(engine: &PrivateEngine, limit: Duration) -> DockerBackend {
    let opts = DockerOptions {
        engine_outage_limit: limit,
        stop_grace: Duration::from_millis(500),
        ..DockerOptions::default()
    };
    DockerBackend::connect_with(&[Candidate::new("the test's engine", engine.host())], opts)
        .await
        .unwrap()
}

#[tokio::test]
async fn output_goes_on_byte_for_byte_across_an_engine_restart() {
    let main = backend().await;
    let img = image(&main).await;
    let mut engine = PrivateEngine::start();
    let b = backend_on(&engine, Duration::from_secs(60)).await;
    let run = run_id("restart");
    let ws = b.create_workspace(&run).await.unwrap();
    // Half its output, a pause until /workspace/go exists, the other half (partial last lines
    // on both streams, so the seam falls inside a line).
    let l = launch(
        &run,
        "talk",
        img,
        "seq 1 5000; printf 'half-'; echo err-a >&2; printf 'e-' >&2; \
         while [ ! -f /workspace/go ]; do sleep 0.05; done; \
         printf 'line\\n'; seq 5001 10000; echo 'rr' >&2",
    );
    let (mut sink, mut started) = Recorder::notifying();
    let step = tokio::spawn({
        let (b, l, ws) = (b.clone(), l.clone(), ws.clone());
        async move {
            let exit = b
                .run_step(&l, &ws, &mut sink, CancellationToken::new())
                .await;
            (exit, sink)
        }
    });
    started.recv().await.unwrap();
    // Wait until the first half was printed (its log holds it), then take the engine away.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = Command::new("podman")
            .args([
                "logs",
                &co_backend_docker::names::container_name(&run, "talk", 1),
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&logs.stderr).contains("e-") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the step never printed its first half"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.kill();
    // The step finishes while the engine is away (the workspace is shared with the machine's
    // engine), then the engine comes back.
    let go = launch(&run, "go", img, ": > /workspace/go");
    main.run_step(&go, &ws, &mut Recorder::default(), CancellationToken::new())
        .await
        .unwrap();
    engine.launch();

    let (exit, sink) = step.await.unwrap();
    assert_eq!(exit.unwrap().exit_code, Some(0));
    let expected: String = (1..=5000).map(|n| format!("{n}\n")).collect::<String>()
        + "half-line\n"
        + &(5001..=10000).map(|n| format!("{n}\n")).collect::<String>();
    assert!(
        sink.stdout() == expected,
        "stdout differs ({} bytes)",
        sink.stdout.len()
    );
    assert_eq!(sink.stderr(), "err-a\ne-rr\n");
    b.finish_run(&ws).await.unwrap();
    main.cleanup_run(&run).await.unwrap();
    assert_nothing_left(&main, &run).await;
}

#[tokio::test]
async fn a_step_fails_with_a_reason_when_the_engine_stays_away_past_the_limit() {
    let main = backend().await;
    let img = image(&main).await;
    let mut engine = PrivateEngine::start();
    let b = backend_on(&engine, Duration::from_secs(1)).await;
    let run = run_id("away");
    let ws = b.create_workspace(&run).await.unwrap();
    let l = launch(&run, "wait", img, "echo up; sleep 60");
    let (mut sink, mut started) = Recorder::notifying();
    let step = tokio::spawn({
        let (b, l, ws) = (b.clone(), l.clone(), ws.clone());
        async move {
            b.run_step(&l, &ws, &mut sink, CancellationToken::new())
                .await
        }
    });
    started.recv().await.unwrap();
    engine.kill();
    let message = expect_other(step.await.unwrap());
    assert!(
        message.contains("the container engine was unreachable for 1s")
            && message.contains("may still be running"),
        "{message}"
    );
    main.cleanup_run(&run).await.unwrap();
    assert_nothing_left(&main, &run).await;
}

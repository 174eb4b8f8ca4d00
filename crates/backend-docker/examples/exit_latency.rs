//! Measures the per-step overhead of each [`ExitDetection`] strategy on the local engine.
//!
//! ```sh
//! cargo run --release -p co-backend-docker --example exit_latency -- [ROUNDS]
//! ```
//!
//! Runs ROUNDS tiny steps (`echo out; echo err >&2; exit 3`) one after another per strategy (in
//! two blocks, A B C C B A, against drift) and reports per strategy (milliseconds, median / p90 /
//! min / max):
//! - `create+attach+start`: from calling `run_step` to `sink.started` (the same for all),
//! - `start→exit known`: from `sink.started` to `run_step` returning (output complete, exit known),
//! - `start→last output`: from `sink.started` to the last output byte,
//! - `total`: the whole `run_step`.
//!
//! Builds `localhost/containerops-test/busybox:latest` from `/bin/busybox` first.

use std::time::Instant;

use co_backend::{Backend, CancellationToken, OutputSink, StepLaunch, Stream};
use co_backend_docker::{DockerBackend, DockerOptions, ExitDetection, ImageBuild};

struct TimingSink {
    started: Option<Instant>,
    last_output: Option<Instant>,
    bytes: usize,
}

impl OutputSink for TimingSink {
    fn started(&mut self, _id: &str) {
        self.started = Some(Instant::now());
    }
    fn output(&mut self, _stream: Stream, bytes: &[u8]) {
        self.last_output = Some(Instant::now());
        self.bytes += bytes.len();
    }
}

const IMAGE: &str = "localhost/containerops-test/busybox:latest";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let modes = [
        ExitDetection::Events,
        ExitDetection::Wait,
        ExitDetection::InspectAfterOutput,
    ];
    let mut backends = Vec::new();
    for mode in modes {
        let opts = DockerOptions {
            exit_detection: mode,
            ..DockerOptions::default()
        };
        backends.push(
            DockerBackend::connect_with(&co_backend_docker::discovery::candidates_from_env(), opts)
                .await?,
        );
    }
    println!("engine: {}", backends[0].info());
    build_image(&backends[0]).await?;

    let run_id = format!("bench{}", std::process::id());
    let ws = backends[0].create_workspace(&run_id).await?;
    // Warm up (first container start on a fresh engine is slower).
    for b in &backends {
        step(b, &ws, &run_id, 0).await?;
    }
    // Blocks of consecutive steps per strategy (Podman's cleanup work after a step slows the
    // next one down, so interleaving would charge one strategy's leftovers to another), in the
    // order A B C C B A to cancel drift.
    let mut samples: Vec<Vec<[f64; 4]>> = vec![Vec::new(); modes.len()];
    let half = rounds.div_ceil(2);
    let order: Vec<usize> = (0..modes.len()).chain((0..modes.len()).rev()).collect();
    let mut n = 1;
    for i in order {
        for _ in 0..half {
            samples[i].push(step(&backends[i], &ws, &run_id, n).await?);
            n += 1;
        }
    }
    backends[0].finish_run(&ws).await?;
    for b in &backends[1..] {
        b.cleanup_run(&run_id).await?;
    }

    let cols = [
        "create+attach+start",
        "start→exit known",
        "start→last output",
        "total",
    ];
    println!(
        "{} steps per strategy; milliseconds: median / p90 / min / max",
        2 * half
    );
    for (i, mode) in modes.iter().enumerate() {
        println!("{mode:?}");
        for (c, col) in cols.iter().enumerate() {
            let mut xs: Vec<f64> = samples[i].iter().map(|s| s[c]).collect();
            xs.sort_by(f64::total_cmp);
            let q = |p: f64| xs[((xs.len() as f64 - 1.0) * p).round() as usize];
            println!(
                "  {col:22} {:7.1} {:7.1} {:7.1} {:7.1}",
                q(0.5),
                q(0.9),
                xs[0],
                xs[xs.len() - 1]
            );
        }
    }
    Ok(())
}

async fn step(
    b: &DockerBackend,
    ws: &co_backend::Workspace,
    run_id: &str,
    n: usize,
) -> Result<[f64; 4], Box<dyn std::error::Error>> {
    let launch = StepLaunch {
        run_id: run_id.to_string(),
        workflow: "bench".into(),
        step_key: format!("{:?}", b.options().exit_detection),
        attempt: n as u32 + 1,
        image: IMAGE.into(),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo out; echo err >&2; exit 3".into(),
        ]),
        env: vec![],
        cpu_millis: None,
        memory_bytes: None,
        kubernetes: None,
    };
    let mut sink = TimingSink {
        started: None,
        last_output: None,
        bytes: 0,
    };
    let t0 = Instant::now();
    let exit = b
        .run_step(&launch, ws, &mut sink, CancellationToken::new())
        .await?;
    let done = Instant::now();
    if exit.exit_code != Some(3) || sink.bytes != 8 {
        return Err(format!("unexpected result {exit:?}, {} bytes", sink.bytes).into());
    }
    let started = sink.started.ok_or("never started")?;
    let last = sink.last_output.ok_or("no output")?;
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
    Ok([
        ms(t0, started),
        ms(started, done),
        ms(started, last),
        ms(t0, done),
    ])
}

async fn build_image(b: &DockerBackend) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("co-bench-ctx-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy("/bin/busybox", bin.join("busybox"))?;
    for tool in ["sh", "echo", "cat", "env", "sleep"] {
        let link = bin.join(tool);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("busybox", &link)?;
        }
    }
    std::fs::write(
        dir.join("Containerfile"),
        "FROM scratch\nCOPY bin /bin\nCMD [\"/bin/sh\"]\n",
    )?;
    b.build_image(&ImageBuild::new(&dir, IMAGE), &mut |_| {})
        .await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

//! Measures the engine overhead of steps on the local engine, per exit-detection strategy and
//! removal policy (see `ExitDetection` and `Removal`).
//!
//! ```sh
//! cargo run --release -p co-backend-docker --example step_overhead -- \
//!     [--steps N] [--exit inspect,events,wait] [--removal immediate,after-cleanup,deferred,at-finish]
//! ```
//!
//! For every combination it runs N tiny steps (`echo out; echo err >&2; exit 3`) one after
//! another in one run, then `finish_run`; combinations run in blocks of N/2 steps in the order
//! A B C … C B A so drift on a shared machine hits all alike. Reported per combination, in ms
//! (median / p90 / min / max over its steps):
//! - `to started`: `run_step` called → `sink.started` (create, attach, start),
//! - `started→done`: `sink.started` → `run_step` returned with all output and the exit code,
//! - `step`: the whole `run_step`,
//!
//! and the sum of all its steps plus its `finish_run`, which is what a sequential workflow pays.
//! Builds `localhost/containerops-test/backend-docker-bench:latest` from `/bin/busybox` first.

use std::time::{Duration, Instant};

use co_backend::{Backend, CancellationToken, OutputSink, StepLaunch, Stream, Workspace};
use co_backend_docker::{
    discovery, DockerBackend, DockerOptions, ExitDetection, ImageBuild, Removal,
};

const IMAGE: &str = "localhost/containerops-test/backend-docker-bench:latest";

struct TimingSink {
    started: Option<Instant>,
    bytes: usize,
}

#[async_trait::async_trait]
impl OutputSink for TimingSink {
    fn started(&mut self, _id: &str) {
        self.started = Some(Instant::now());
    }
    async fn output(&mut self, _stream: Stream, bytes: &[u8]) {
        self.bytes += bytes.len();
    }
}

struct Config {
    label: String,
    backend: DockerBackend,
    run_id: String,
    ws: Option<Workspace>,
    samples: Vec<[f64; 3]>,
    busy: Duration,
}

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut steps = 20usize;
    let mut exits = vec![
        ExitDetection::InspectAfterOutput,
        ExitDetection::Events,
        ExitDetection::Wait,
    ];
    let mut removals = vec![Removal::default()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or("missing value")?;
        match a.as_str() {
            "--steps" => steps = v.parse()?,
            "--exit" => {
                exits = v
                    .split(',')
                    .map(|s| match s {
                        "inspect" => Ok(ExitDetection::InspectAfterOutput),
                        "events" => Ok(ExitDetection::Events),
                        "wait" => Ok(ExitDetection::Wait),
                        o => Err(format!("unknown exit detection {o}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--removal" => {
                removals = v
                    .split(',')
                    .map(|s| match s {
                        "immediate" => Ok(Removal::Immediate),
                        "after-cleanup" => Ok(Removal::AfterEngineCleanup),
                        "deferred" => Ok(Removal::default()),
                        "at-finish" => Ok(Removal::Deferred {
                            backlog: usize::MAX,
                        }),
                        o => Err(format!("unknown removal {o}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            o => return Err(format!("unknown argument {o}").into()),
        }
    }
    let mut configs = Vec::new();
    for &exit_detection in &exits {
        for &removal in &removals {
            let opts = DockerOptions {
                exit_detection,
                removal,
                ..DockerOptions::default()
            };
            let backend =
                DockerBackend::connect_with(&discovery::candidates_from_env(), opts).await?;
            let run_id = format!("bench{}-{}", std::process::id(), configs.len());
            configs.push(Config {
                label: format!("{exit_detection:?} + {removal:?}"),
                backend,
                run_id,
                ws: None,
                samples: Vec::new(),
                busy: Duration::ZERO,
            });
        }
    }
    let first = &configs[0].backend;
    println!("engine: {}", first.info());
    build_image(first).await?;
    for c in &mut configs {
        c.ws = Some(c.backend.create_workspace(&c.run_id).await?);
        // Warm-up step, not counted.
        step(c, 0).await?;
    }
    let half = steps.div_ceil(2);
    let order: Vec<usize> = (0..configs.len()).chain((0..configs.len()).rev()).collect();
    for (block, &i) in order.iter().enumerate() {
        let c = &mut configs[i];
        for k in 0..half {
            let t = Instant::now();
            let s = step(c, block * half + k + 1).await?;
            c.busy += t.elapsed();
            c.samples.push(s);
        }
    }
    println!(
        "{} steps per combination; ms: median / p90 / min / max",
        2 * half
    );
    for c in &mut configs {
        let ws = c.ws.take().ok_or("no workspace")?;
        let t = Instant::now();
        c.backend.finish_run(&ws).await?;
        let finish = t.elapsed();
        println!("{}", c.label);
        for (col, name) in ["to started", "started→done", "step"].iter().enumerate() {
            let mut xs: Vec<f64> = c.samples.iter().map(|s| s[col]).collect();
            xs.sort_by(f64::total_cmp);
            let q = |p: f64| xs[((xs.len() as f64 - 1.0) * p).round() as usize];
            println!(
                "  {name:14} {:7.1} {:7.1} {:7.1} {:7.1}",
                q(0.5),
                q(0.9),
                xs[0],
                xs[xs.len() - 1]
            );
        }
        println!(
            "  all steps + finish_run: {:.0} ms (finish_run {:.0} ms)",
            (c.busy + finish).as_secs_f64() * 1000.0,
            finish.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

async fn step(c: &Config, n: usize) -> Result<[f64; 3], Error> {
    let launch = StepLaunch {
        run_id: c.run_id.clone(),
        workflow: "bench".into(),
        step_key: "s".into(),
        attempt: u32::try_from(n + 1)?,
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
        swarm: None,
        files: Vec::new(),
    };
    let mut sink = TimingSink {
        started: None,
        bytes: 0,
    };
    let ws = c.ws.as_ref().ok_or("no workspace")?;
    let t0 = Instant::now();
    let exit = c
        .backend
        .run_step(&launch, ws, &mut sink, CancellationToken::new())
        .await?;
    let done = Instant::now();
    if exit.exit_code != Some(3) || sink.bytes != 8 {
        return Err(format!("unexpected result {exit:?}, {} bytes", sink.bytes).into());
    }
    let started = sink.started.ok_or("never started")?;
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
    Ok([ms(t0, started), ms(started, done), ms(t0, done)])
}

async fn build_image(b: &DockerBackend) -> Result<(), Error> {
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

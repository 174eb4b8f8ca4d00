//! A step that floods its output: one real Podman step printing `--mb` megabytes of 100-byte
//! lines, through a real `containerops server` (its own process, SQLite, the docker backend) and
//! through the local CLI (`containerops run`). For each: the process's peak RSS (sampled every
//! 50 ms from `/proc/PID/status`, and the kernel's own peak `VmHWM` for the server, which is
//! still running when it is read), the delay from the step's exit (its last line says when it
//! printed it) to the run's recorded end, the run's duration, and the size of the database
//! afterwards. The log caps are the defaults (64 MiB per step), so the figures show backpressure
//! and the cap at once.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::server::{self, TOKEN};

const IMAGE: &str = "localhost/co-examples/busybox:latest";
/// Each line the step prints: 99 bytes and a newline.
const LINE_BYTES: u64 = 100;

fn workflow(name: &str, mb: u64) -> String {
    let bytes = mb * 1_000_000;
    format!(
        r#"name: {name}
stages:
  - name: s
    actions:
      - name: flood
        image: {IMAGE}
        command:
          - sh
          - -c
          - |
            yes "$(head -c {line} /dev/zero | tr '\0' x)" | head -c {bytes}
            echo "[COUT] done = yes"
            echo "[COUT] exited_at = $(cut -d ' ' -f 1 /proc/uptime)"
"#,
        line = LINE_BYTES - 1
    )
}

/// Samples a process's resident memory until stopped; the largest value seen, in KiB.
struct RssSampler {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A number from `/proc/PID/status` (in kB).
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop) = (peak_kib.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = status_kib(pid, "VmRSS:") {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        RssSampler {
            peak_kib,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

/// When the step exited, in ms since the epoch: its last line is the kernel's uptime (10 ms
/// resolution; the container shares the host's kernel and clock), turned into wall-clock time
/// with the uptime read here now. (The engine's `die` event would be the natural source, but
/// Podman 4.3's event stream with its default file logger sends nothing once the events file
/// has been rotated — it sent nothing at all on the benchmark machine — and the container is
/// removed before the run ends, so its `FinishedAt` is gone too.)
fn exit_ms(step: &Value) -> Result<i64> {
    let uptime = |text: &str| -> Result<f64> {
        text.split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an uptime: {text:?}"))
    };
    let exited = uptime(
        step["outputs"]["exited_at"]
            .as_str()
            .context("the step has no exited_at output")?,
    )?;
    let now_uptime = uptime(&std::fs::read_to_string("/proc/uptime")?)?;
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    Ok(now_ms as i64 - ((now_uptime - exited) * 1000.0).round() as i64)
}

fn rfc3339_ms(text: &str) -> Result<i64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("not a time: {text}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn file_bytes(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

/// What was measured around one run.
struct Measured<'a> {
    how: &'static str,
    peak_sampled: f64,
    peak_hwm: Option<f64>,
    elapsed: Duration,
    db: &'a Path,
    mb: u64,
}

/// The figures of one finished run (its JSON as the API and `--output json` give it).
fn figures(run: &Value, m: Measured<'_>) -> Result<Value> {
    let finished = rfc3339_ms(run["finished_at"].as_str().context("no finished_at")?)?;
    let step = &run["steps"][0];
    if run["status"] != "succeeded" || step["outputs"]["done"] != "yes" {
        bail!("the flood run did not succeed with its output: {run}");
    }
    Ok(json!({
        "how": m.how,
        "printed_mb": m.mb,
        "peak_rss_mib_sampled": m.peak_sampled,
        "peak_rss_mib_hwm": m.peak_hwm,
        "exit_to_finished_ms": finished - exit_ms(step)?,
        "run_seconds": m.elapsed.as_secs_f64(),
        "database_mib": file_bytes(m.db) as f64 / 1_048_576.0,
    }))
}

/// Through a real server: store the workflow, start a run, sample the server's memory until the
/// run has finished.
async fn through_server(binary: &str, mb: u64) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("flood.db");
    let server = server::start_server_with(binary, Some(&db.to_string_lossy()), "docker", dir)?;
    let sampler = RssSampler::start(server.pid());
    let client = reqwest::Client::new();
    let name = "flood-server";
    let stored = client
        .post(format!("{}/api/v1/workflows", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({ "yaml": workflow(name, mb) }))
        .send()
        .await?;
    if stored.status().as_u16() != 201 {
        bail!(
            "storing the flood workflow failed: {}",
            stored.text().await?
        );
    }
    let started = Instant::now();
    let body: Value = client
        .post(format!("{}/api/v1/workflows/{name}/runs", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({ "inputs": {} }))
        .send()
        .await?
        .json()
        .await?;
    let id = body["id"].as_str().context("no run id")?.to_string();
    let run = loop {
        let run: Value = client
            .get(format!("{}/api/v1/runs/{id}", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .json()
            .await?;
        if matches!(
            run["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    let hwm = status_kib(server.pid(), "VmHWM:").map(|k| k as f64 / 1024.0);
    let peak = sampler.stop();
    figures(
        &run,
        Measured {
            how: "server",
            peak_sampled: peak,
            peak_hwm: hwm,
            elapsed,
            db: &db,
            mb,
        },
    )
}

/// Through the local CLI: `containerops run --output json`, its memory sampled until it exits.
async fn through_cli(binary: &str, mb: u64) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("flood.db");
    let file = dir.path().join("flood.yaml");
    let name = "flood-cli";
    std::fs::write(&file, workflow(name, mb))?;
    let started = Instant::now();
    let child: Child = Command::new(binary)
        .arg("run")
        .arg(&file)
        .args(["--output", "json"])
        .env("CONTAINEROPS_DB", &db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {binary} run"))?;
    let sampler = RssSampler::start(child.id());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let elapsed = started.elapsed();
    let peak = sampler.stop();
    let run: Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("`containerops run` printed no JSON ({})", output.status))?;
    figures(
        &run,
        Measured {
            how: "cli",
            peak_sampled: peak,
            peak_hwm: None,
            elapsed,
            db: &db,
            mb,
        },
    )
}

pub async fn run(binary: &str, mb: u64) -> Result<Value> {
    let backend = co_backend_docker::DockerBackend::connect()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !backend
        .image_exists(IMAGE)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        bail!("{IMAGE} is missing: run scripts/build-images.sh first");
    }
    eprintln!("flood: {mb} MB through the server");
    let server = through_server(binary, mb).await?;
    eprintln!("  {server}");
    eprintln!("flood: {mb} MB through the CLI");
    let cli = through_cli(binary, mb).await?;
    eprintln!("  {cli}");
    Ok(json!({
        "scenario": format!("one Podman step printing {mb} MB of {LINE_BYTES}-byte lines, default log caps"),
        "runs": [server, cli],
    }))
}

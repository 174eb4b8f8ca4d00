//! A soak: thousands of runs through one `containerops server` on the real container engine, to
//! see whether anything grows that should not — the server's memory and file descriptors, the
//! database beyond what the runs' history needs, containers and volumes left on the engine.
//!
//! Each run is two busybox steps (one prints five lines and an output, the other reads it).
//! `clients` clients each start a run, follow its log stream to the end and start the next, until
//! `runs` runs are done. The server is sampled before the first run, after a warm-up, every tenth
//! of the runs and at the end: resident memory (`VmRSS`), open descriptors (`/proc/PID/fd`), the
//! database's size (the SQLite file with its WAL, or `pg_database_size`), the containers and
//! volumes of this soak's runs still on the engine, and the files in the server's data directory
//! (besides the database) and in its `TMPDIR`. The server's warnings and errors are counted.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use co_backend::labels;
use co_backend_docker::DockerBackend;
use serde_json::{json, Value};

use crate::flood::status_kib;
use crate::ms;
use crate::server::{
    client, percentile, post, start_server_with, submit_and_follow, ServerProcess,
};

const BUSYBOX: &str = "localhost/co-examples/busybox:latest";
/// How long the engine may take to remove the last runs' containers after they finished.
const SETTLE: Duration = Duration::from_secs(60);

fn workflow(name: &str) -> String {
    format!(
        r#"name: {name}
stages:
  - name: make
    actions:
      - name: make
        image: {BUSYBOX}
        command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo \"[COUT] token = t-$CO_RUN_ID\""]
  - name: use
    actions:
      - name: use
        image: {BUSYBOX}
        command: ["sh", "-c", "echo \"got $CO_INPUT_TOKEN\""]
        with: {{ token: "${{{{ actions.make.outputs.token }}}}" }}
"#
    )
}

/// A number from `/proc/PID/status` (in kB), as MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    status_kib(pid, field).map_or(f64::NAN, |kb| (kb as f64 / 1024.0 * 10.0).round() / 10.0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Bytes the database takes: the SQLite file (its write-ahead log apart: it is reused, not
/// grown, once checkpointed), or PostgreSQL's own figure.
fn database_bytes(server: &ServerProcess, postgres: Option<&str>) -> Result<(u64, u64)> {
    match postgres {
        Some(url) => {
            let out = std::process::Command::new("psql")
                .args([url, "-tAc", "SELECT pg_database_size(current_database())"])
                .output()
                .context("running psql")?;
            let size = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .context("pg_database_size")?;
            Ok((size, 0))
        }
        None => {
            let len = |f: &str| std::fs::metadata(server.dir.path().join(f)).map_or(0, |m| m.len());
            Ok((len("bench.db"), len("bench.db-wal")))
        }
    }
}

/// The machine's load averages (1, 5 and 15 minutes), as `/proc/loadavg` has them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" / "))
        .unwrap_or_default()
}

/// Files under `dir` (recursively), leaving out the SQLite database and its companions.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(std::result::Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with("bench.db"))
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => files_under(&e.path()),
                _ => 1,
            })
            .sum()
    })
}

/// Containers and volumes of this soak's runs on the engine.
async fn leftovers(
    engine: &DockerBackend,
    workflow: &str,
    runs: &HashSet<String>,
) -> Result<Value> {
    let containers = engine
        .list_containers(labels::WORKFLOW, Some(workflow))
        .await?;
    let volumes = engine.list_volumes(labels::RUN, None).await?;
    let ours = volumes
        .iter()
        .filter(|v| v.labels.get(labels::RUN).is_some_and(|r| runs.contains(r)))
        .count();
    Ok(json!({ "containers": containers.len(), "volumes": ours }))
}

/// What is sampled, and where.
struct Probe<'a> {
    server: &'a ServerProcess,
    postgres: Option<&'a str>,
    engine: &'a DockerBackend,
    workflow: &'a str,
    started: Instant,
}

impl Probe<'_> {
    async fn sample(&self, label: &str, runs_done: usize, runs: &HashSet<String>) -> Result<Value> {
        let pid = self.server.pid();
        let (database, wal) = database_bytes(self.server, self.postgres)?;
        let s = json!({
            "at": label,
            "runs": runs_done,
            "seconds": (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "rss_mib": status_mib(pid, "VmRSS:"),
            "peak_rss_mib": status_mib(pid, "VmHWM:"),
            "fds": open_fds(pid),
            "threads": std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count),
            "database_bytes": database,
            "wal_bytes": wal,
            "leftover": leftovers(self.engine, self.workflow, runs).await?,
            // The data directory holds `tmp` (the TMPDIR) and the server's key file.
            "data_dir_files": files_under(self.server.dir.path()),
            "tmp_files": files_under(&self.server.dir.path().join("tmp")),
            "warnings_logged": self.server.complaints.lock().map_or(0, |c| c.0),
        });
        eprintln!("  {s}");
        Ok(s)
    }
}

pub async fn run(
    binary: &str,
    postgres: Option<&str>,
    runs: usize,
    clients: usize,
) -> Result<Value> {
    let engine = DockerBackend::connect()
        .await
        .context("the soak needs a container engine (scripts/setup-engine.sh)")?;
    if !engine.image_exists(BUSYBOX).await? {
        bail!("{BUSYBOX} is missing: run scripts/build-images.sh");
    }
    let load_before = load_average();
    let name = format!("soak-{}", std::process::id());
    let server = start_server_with(binary, postgres, "docker", tempfile::tempdir()?)?;
    let client = client()?;
    let (code, body) = post(
        &client,
        &format!("{}/api/v1/workflows", server.base),
        &json!({ "yaml": workflow(&name) }),
    )
    .await?;
    if code != 201 {
        bail!("storing the soak workflow failed: {code} {body}");
    }
    let ids: Arc<Mutex<HashSet<String>>> = Arc::default();
    let snapshot =
        |ids: &Arc<Mutex<HashSet<String>>>| ids.lock().map(|g| g.clone()).unwrap_or_default();
    let probe = Probe {
        server: &server,
        postgres,
        engine: &engine,
        workflow: &name,
        started: Instant::now(),
    };
    let mut samples = vec![probe.sample("start", 0, &HashSet::new()).await?];
    // Warm-up: the first runs pay for lazy setup (connections, the event subscription).
    let warmup = clients.max(1);
    for _ in 0..warmup {
        let (id, status) = submit_and_follow(&client, &server.base, &name).await?;
        if status != "succeeded" {
            bail!("warm-up run {id} ended {status:?}");
        }
        ids.lock().map_err(|_| anyhow::anyhow!("lock"))?.insert(id);
    }
    samples.push(
        probe
            .sample("after warm-up", warmup, &snapshot(&ids))
            .await?,
    );

    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let failed: Arc<Mutex<Vec<String>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let soak_started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base, name) = (client.clone(), server.base.clone(), name.clone());
        let (next, done, failed, latencies, ids) = (
            next.clone(),
            done.clone(),
            failed.clone(),
            latencies.clone(),
            ids.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < runs {
                let t = Instant::now();
                let outcome = submit_and_follow(&client, &base, &name).await;
                let elapsed = ms(t.elapsed());
                match outcome {
                    Ok((id, status)) => {
                        if status != "succeeded" {
                            if let Ok(mut f) = failed.lock() {
                                f.push(format!("{id}: {status}"));
                            }
                        }
                        if let Ok(mut ids) = ids.lock() {
                            ids.insert(id);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failed.lock() {
                            f.push(e.to_string());
                        }
                    }
                }
                if let Ok(mut l) = latencies.lock() {
                    l.push(elapsed);
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Sample every tenth of the runs while the clients work.
    let every = (runs / 10).max(1);
    let mut next_sample = every;
    while tasks.iter().any(|t| !t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = done.load(Ordering::SeqCst);
        if n >= next_sample && n < runs {
            samples.push(probe.sample("running", n, &snapshot(&ids)).await?);
            next_sample = (n / every + 1) * every;
        }
    }
    for task in tasks {
        task.await?;
    }
    let soak_seconds = soak_started.elapsed().as_secs_f64();
    samples.push(probe.sample("done", runs, &snapshot(&ids)).await?);
    // Removals are awaited by each run's end; give the engine a moment for stragglers.
    let all_ids = snapshot(&ids);
    let settle_started = Instant::now();
    loop {
        let left = leftovers(&engine, &name, &all_ids).await?;
        if left["containers"] == 0 && left["volumes"] == 0 {
            break;
        }
        if settle_started.elapsed() > SETTLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    samples.push(probe.sample("settled", runs, &all_ids).await?);

    let failed = failed.lock().map(|f| f.clone()).unwrap_or_default();
    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort_by(f64::total_cmp);
    let last = &samples[samples.len() - 1];
    let growth = |from: &Value, field: &str| {
        let g = last[field].as_f64().unwrap_or(f64::NAN) - from[field].as_f64().unwrap_or(f64::NAN);
        (g * 10.0).round() / 10.0
    };
    let warm = &samples[1];
    // A leak keeps growing once the pools and caches are full: compare the first tenth's end
    // with the end.
    let tenth = samples
        .iter()
        .find(|s| s["at"] == "running")
        .unwrap_or(warm);
    // What the runs added (PostgreSQL's figure starts at its empty database's size).
    let db_bytes = growth(&samples[0], "database_bytes");
    let complaints = server
        .complaints
        .lock()
        .map(|c| c.1.clone())
        .unwrap_or_default();
    Ok(json!({
        "scenario": "soak: two-step busybox runs through one containerops server on the real engine",
        "database": if postgres.is_some() { "postgresql" } else { "sqlite" },
        "runs": runs,
        "clients": clients,
        "load_average": { "before": load_before, "after": load_average() },
        "failed": failed.len(),
        "failures": failed.iter().take(10).collect::<Vec<_>>(),
        "seconds": (soak_seconds * 10.0).round() / 10.0,
        "runs_per_second": runs as f64 / soak_seconds,
        "run_ms": {
            "p50": percentile(&latencies, 50.0),
            "p90": percentile(&latencies, 90.0),
            "p99": percentile(&latencies, 99.0),
            "max": latencies.last().copied().unwrap_or(f64::NAN),
        },
        "growth_after_warm_up": {
            "rss_mib": growth(warm, "rss_mib"),
            "fds": growth(warm, "fds"),
            "database_bytes": growth(warm, "database_bytes"),
        },
        "growth_after_first_tenth": {
            "runs": runs.saturating_sub(tenth["runs"].as_u64().unwrap_or(0) as usize),
            "rss_mib": growth(tenth, "rss_mib"),
            "fds": growth(tenth, "fds"),
            "threads": growth(tenth, "threads"),
        },
        "database_bytes_per_run": (db_bytes / (runs + warmup) as f64).round(),
        "first_warnings": complaints,
        "samples": samples,
    }))
}

//! The server under load, with the no-op backend (`CONTAINEROPS_BACKEND=noop`, so the figures are
//! the server's own): how many run starts per second it accepts (`POST
//! /api/v1/workflows/{name}/runs` → 201) from concurrent clients, and the latency distribution of
//! `GET /api/v1/runs/{id}` under concurrent load. The server is the release `containerops`
//! binary, as a separate process, on SQLite (a temp file) or PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::ms;

pub(crate) const TOKEN: &str = "bench-admin-token";

pub(crate) struct ServerProcess {
    child: Child,
    pub base: String,
    /// Its data directory (and SQLite database, unless it runs on PostgreSQL); its `TMPDIR` is
    /// `tmp` in there.
    pub dir: tempfile::TempDir,
    /// How many warnings and errors it has logged, and the first few of them.
    pub complaints: Arc<Mutex<(usize, Vec<String>)>>,
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(binary: &str, database: Option<&str>) -> Result<ServerProcess> {
    start_server_with(binary, database, "noop", tempfile::tempdir()?)
}

/// The server on `backend` (`noop`, `docker`), its data (and SQLite file) in `dir`, its
/// `TMPDIR` in `dir/tmp`.
pub(crate) fn start_server_with(
    binary: &str,
    database: Option<&str>,
    backend: &str,
    dir: tempfile::TempDir,
) -> Result<ServerProcess> {
    let db = match database {
        Some(url) => url.to_string(),
        None => dir.path().join("bench.db").to_string_lossy().to_string(),
    };
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let mut child = Command::new(binary)
        .args(["server", "--listen", "127.0.0.1:0", "--database", &db])
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--admin-token", TOKEN])
        .env("CONTAINEROPS_BACKEND", backend)
        .env("CONTAINEROPS_LOG", "info")
        .env("NO_COLOR", "1")
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {binary} server"))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .context("the server exited before listening")??;
        if line.contains("listening") {
            break line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .map(str::to_string)
                .context("no address in the listening line")?;
        }
    };
    // Keep draining its log so it never blocks on a full pipe, counting what it complains about.
    let complaints: Arc<Mutex<(usize, Vec<String>)>> = Arc::default();
    let seen = complaints.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(std::result::Result::ok) {
            if line.split_whitespace().any(|w| w == "WARN" || w == "ERROR") {
                if let Ok(mut seen) = seen.lock() {
                    seen.0 += 1;
                    if seen.1.len() < 10 {
                        seen.1.push(line);
                    }
                }
            }
        }
    });
    Ok(ServerProcess {
        child,
        base: format!("http://{addr}"),
        dir,
        complaints,
    })
}

/// A new, empty database next to the one `url` names (so a benchmark never mixes with other
/// data); returns its URL.
pub fn fresh_postgres_database(url: &str) -> Result<String> {
    let name = format!(
        "co_bench_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let status = Command::new("psql")
        .args([url, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .context("running psql")?;
    if !status.success() {
        bail!("cannot create database {name} on {url}");
    }
    let (prefix, _) = url
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("{url} names no database"))?;
    Ok(format!("{prefix}/{name}"))
}

pub(crate) fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?)
}

pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<(u16, Value)> {
    let response = client
        .post(url)
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Run starts accepted per second by `clients` concurrent clients for `seconds`.
async fn starts(base: &str, clients: usize, seconds: u64) -> Result<Value> {
    let client = client()?;
    let url = format!("{base}/api/v1/workflows/bench/runs");
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            let mut other = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match post(&client, &url, &json!({ "inputs": {} })).await {
                    Ok((201, _)) => accepted += 1,
                    _ => other += 1,
                }
            }
            (accepted, other)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut accepted, mut other) = (0, 0);
    for task in tasks {
        let (a, o) = task.await?;
        accepted += a;
        other += o;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if other > 0 {
        bail!("{other} run starts were not accepted");
    }
    Ok(json!({
        "clients": clients,
        "seconds": elapsed,
        "accepted": accepted,
        "starts_per_second": accepted as f64 / elapsed,
    }))
}

/// Latency of `GET /api/v1/runs/{id}` from `clients` concurrent clients for `seconds`.
async fn get_latency(base: &str, ids: &[String], clients: usize, seconds: u64) -> Result<Value> {
    let client = client()?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..clients {
        let (client, stop) = (client.clone(), stop.clone());
        let urls: Vec<String> = ids
            .iter()
            .map(|id| format!("{base}/api/v1/runs/{id}"))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let url = &urls[i % urls.len()];
                i += 1;
                let t = Instant::now();
                match client.get(url).bearer_auth(TOKEN).send().await {
                    Ok(r) if r.status().as_u16() == 200 => {
                        let _ = r.bytes().await;
                        latencies.push(ms(t.elapsed()));
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await?;
        all.extend(l);
        failures += f;
    }
    if failures > 0 {
        bail!("{failures} GET requests failed");
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok(json!({
        "clients": clients,
        "requests": all.len(),
        "requests_per_second": all.len() as f64 / elapsed,
        "p50_ms": percentile(&all, 50.0),
        "p90_ms": percentile(&all, 90.0),
        "p99_ms": percentile(&all, 99.0),
        "max_ms": all.last().copied().unwrap_or(f64::NAN),
    }))
}

/// One run at a time: from `POST …/runs` to the end of its log stream (`event: end`), with the
/// no-op backend — how fast a started run is dispatched and driven to its end.
async fn submit_to_finish(base: &str, runs: usize) -> Result<Value> {
    let client = client()?;
    let mut latencies = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        submit_and_follow(&client, base, "bench").await?;
        latencies.push(ms(t.elapsed()));
    }
    latencies.sort_by(f64::total_cmp);
    Ok(json!({
        "runs": runs,
        "p50_ms": percentile(&latencies, 50.0),
        "p90_ms": percentile(&latencies, 90.0),
        "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
    }))
}

/// Start a run of `workflow` and follow its log stream to its end (`event: end`); returns the
/// run's id and the final status the stream names.
pub(crate) async fn submit_and_follow(
    client: &reqwest::Client,
    base: &str,
    workflow: &str,
) -> Result<(String, String)> {
    let (code, body) = post(
        client,
        &format!("{base}/api/v1/workflows/{workflow}/runs"),
        &json!({ "inputs": {} }),
    )
    .await?;
    if code != 201 {
        bail!("starting a run failed: {code} {body}");
    }
    let id = body["id"].as_str().context("no run id")?.to_string();
    let stream = client
        .get(format!("{base}/api/v1/runs/{id}/logs/stream"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let Some((_, end)) = stream.split_once("event: end") else {
        bail!("the log stream of {id} ended without `end`");
    };
    let status = end
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .and_then(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .and_then(|v| v["status"].as_str().map(str::to_string))
        .unwrap_or_default();
    Ok((id, status))
}

pub async fn run(binary: &str, database: Option<&str>, seconds: u64) -> Result<Value> {
    let server = start_server(binary, database)?;
    let client = client()?;
    let workflow = "name: bench\nstages:\n  - name: s\n    actions:\n      - { name: a, image: localhost/bench/noop:1 }\n";
    let (code, body) = post(
        &client,
        &format!("{}/api/v1/workflows", server.base),
        &json!({ "yaml": workflow }),
    )
    .await?;
    if code != 201 {
        bail!("storing the bench workflow failed: {code} {body}");
    }
    let latency = submit_to_finish(&server.base, 50).await?;
    let starts = starts(&server.base, 32, seconds).await?;
    // Some finished runs to read.
    let list: Value = client
        .get(format!("{}/api/v1/runs?limit=100", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<String> = list["runs"]
        .as_array()
        .ok_or_else(|| anyhow!("no runs listed: {list}"))?
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    if ids.is_empty() {
        bail!("no runs to read");
    }
    let reads = get_latency(&server.base, &ids, 32, seconds).await?;
    Ok(json!({
        "scenario": "containerops server, no-op backend",
        "database": if database.is_some() { "postgresql" } else { "sqlite" },
        "submit_to_finish": latency,
        "run_starts": starts,
        "get_run": reads,
    }))
}

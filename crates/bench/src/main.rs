//! The benchmark harness (not part of the test suite). Results are JSON; figures are ratios or
//! absolute values measured on this machine in the same run. See docs/benchmarks.md.
//!
//!   co-bench all [--out FILE]          everything below, results written as JSON
//!   co-bench engine --shape wide|deep [--steps N] [--store]
//!   co-bench overhead [--steps N] [--rounds R]
//!   co-bench swarm [--steps N] [--rounds R]    Swarm backend vs job services by hand vs Docker
//!                                      backend, on the swarm manager $DOCKER_HOST names
//!   co-bench launch [--bin PATH] [--rounds R]
//!   co-bench server [--bin PATH] [--postgres URL] [--seconds S]
//!   co-bench size [--bin PATH] [--budget-mib N]   the release binary's size, failing above N MiB
//!   co-bench flood [--bin PATH] [--mb MB]
//!   co-bench soak [--bin PATH] [--postgres URL] [--runs N] [--clients C]   thousands of runs on
//!                                      the real engine: memory, descriptors, database, leftovers

mod engine;
mod flood;
mod launch;
mod overhead;
mod server;
mod soak;
mod swarm;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            let text = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?;
            text.parse()
                .map_err(|_| anyhow::anyhow!("{name}: cannot parse {text:?}"))
        }
        None => Ok(default),
    }
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What the shipped binary may weigh (`co-bench size`): the release profile strips debug info
/// and symbols (about 29 MiB); 154 MiB with line tables was the mistake this guards against.
const BINARY_BUDGET_MIB: f64 = 40.0;

/// The size of the binary at `bin`, failing above `budget_mib`.
fn binary_size(bin: &str, budget_mib: f64) -> Result<Value> {
    let bytes = std::fs::metadata(bin)
        .with_context(|| {
            format!("{bin}: build it first with cargo build --release -p containerops")
        })?
        .len();
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib > budget_mib {
        bail!(
            "{bin} is {mib:.1} MiB, over the budget of {budget_mib} MiB: is [profile.release] \
             still free of debug info and stripped (Cargo.toml)?"
        );
    }
    Ok(
        json!({ "bin": bin, "bytes": bytes, "mib": (mib * 10.0).round() / 10.0, "budget_mib": budget_mib }),
    )
}

/// Run one engine scenario in a fresh process, so its peak memory is its own.
fn engine_in_child(shape: &str, steps: usize, store: bool) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["engine", "--shape", shape, "--steps", &steps.to_string()]);
    if store {
        cmd.arg("--store");
    }
    let out = cmd.output()?;
    if !out.status.success() {
        bail!(
            "engine scenario failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("all");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command {
        "engine" => {
            let shape: String = arg(&args, "--shape", "wide".to_string())?;
            let steps: usize = arg(&args, "--steps", 10_000)?;
            let store = args.iter().any(|a| a == "--store");
            let result = runtime.block_on(engine::run(&shape, steps, store))?;
            println!("{result}");
        }
        "overhead" => {
            let steps: usize = arg(&args, "--steps", 40)?;
            let rounds: usize = arg(&args, "--rounds", 5)?;
            let result = runtime.block_on(overhead::run(steps, rounds))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        "swarm" => {
            let steps: usize = arg(&args, "--steps", 10)?;
            let rounds: usize = arg(&args, "--rounds", 3)?;
            let result = runtime.block_on(swarm::run(steps, rounds))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        "launch" => {
            let bin: String = arg(&args, "--bin", "target/release/containerops".to_string())?;
            let rounds: usize = arg(&args, "--rounds", 10)?;
            let result = launch::run(&bin, rounds)?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        "server" => {
            let bin: String = arg(&args, "--bin", "target/release/containerops".to_string())?;
            let postgres: String = arg(&args, "--postgres", String::new())?;
            let seconds: u64 = arg(&args, "--seconds", 5)?;
            let fresh = if postgres.is_empty() {
                None
            } else {
                Some(server::fresh_postgres_database(&postgres)?)
            };
            let result = runtime.block_on(server::run(&bin, fresh.as_deref(), seconds))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        "flood" => {
            let bin: String = arg(&args, "--bin", "target/release/containerops".to_string())?;
            let mb: u64 = arg(&args, "--mb", 500)?;
            let result = runtime.block_on(flood::run(&bin, mb))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        "soak" => {
            let bin: String = arg(&args, "--bin", "target/release/containerops".to_string())?;
            let postgres: String = arg(&args, "--postgres", String::new())?;
            let runs: usize = arg(&args, "--runs", 2000)?;
            let clients: usize = arg(&args, "--clients", 8)?;
            let fresh = if postgres.is_empty() {
                None
            } else {
                Some(server::fresh_postgres_database(&postgres)?)
            };
            let result = runtime.block_on(soak::run(&bin, fresh.as_deref(), runs, clients))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
        "size" => {
            let bin: String = arg(&args, "--bin", "target/release/containerops".to_string())?;
            let budget: f64 = arg(&args, "--budget-mib", BINARY_BUDGET_MIB)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&binary_size(&bin, budget)?)?
            );
        }
        "all" => {
            let out: String = arg(&args, "--out", "bench/results/latest.json".to_string())?;
            let steps: usize = arg(&args, "--steps", 10_000)?;
            let mut engine_results = Vec::new();
            for shape in ["wide", "deep"] {
                for store in [false, true] {
                    eprintln!("engine: {shape}, {steps} steps, store={store}");
                    let r = engine_in_child(shape, steps, store)?;
                    eprintln!("  {r}");
                    engine_results.push(r);
                }
            }
            eprintln!("overhead: 40-step chain vs bare API loop");
            let overhead = runtime.block_on(overhead::run(40, 5))?;
            eprintln!("  {overhead}");
            let bin: String = arg(&args, "--bin", "target/release/containerops".to_string())?;
            eprintln!("size: the release binary");
            let size = binary_size(&bin, BINARY_BUDGET_MIB)?;
            eprintln!("  {size}");
            eprintln!("launch: containerops run vs podman run --rm, 1 and 5 steps");
            let launch = launch::run(&bin, 10)?;
            eprintln!("  {launch}");
            let mut servers = Vec::new();
            eprintln!("server: run starts/s and GET latency (SQLite)");
            servers.push(runtime.block_on(server::run(&bin, None, 5))?);
            if let Ok(url) = std::env::var("CONTAINEROPS_TEST_POSTGRES_URL") {
                eprintln!("server: run starts/s and GET latency (PostgreSQL)");
                let fresh = server::fresh_postgres_database(&url)?;
                servers.push(runtime.block_on(server::run(&bin, Some(&fresh), 5))?);
            }
            eprintln!("flood: a step printing 500 MB, through the server and the CLI");
            let flood = runtime.block_on(flood::run(&bin, 500))?;
            eprintln!("  {flood}");
            let report = json!({
                "machine": machine(),
                "engine": engine_results,
                "overhead": overhead,
                "launch": launch,
                "server": servers,
                "binary": size,
                "flood": flood,
            });
            if let Some(dir) = std::path::Path::new(&out).parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
            eprintln!("written to {out}");
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        other => bail!(
            "unknown command {other:?}: use all, engine, overhead, swarm, launch, server, size, flood or soak"
        ),
    }
    Ok(())
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({ "cpus": cpus, "kernel": kernel.trim() })
}

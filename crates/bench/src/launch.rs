//! What a user waits for: a whole `containerops run` (process start, engine discovery, the store,
//! the engine, the containers, their cleanup, exit) against `podman run --rm` of the same
//! containers — one step, and a chain of five (`podman run --rm` five times in a row). Both run
//! as processes from here; rounds alternate (podman, containerops, …) so both see the same
//! machine; the figures are the ratio of the medians and the median of each round's ratio (the
//! second follows a load that drifts during the benchmark less than the first).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::ms;
use crate::overhead::median;

const IMAGE: &str = "localhost/co-examples/busybox:latest";

fn chain(steps: usize) -> String {
    let mut text = String::from("name: bench-launch\nstages:\n");
    for i in 0..steps {
        text.push_str(&format!(
            "  - name: s{i}\n    actions:\n      - {{ name: a{i}, image: \"{IMAGE}\", command: [\"true\"] }}\n"
        ));
    }
    text
}

/// Run `cmd` to its end (output discarded); the wall time in ms.
fn timed(cmd: &mut Command) -> Result<f64> {
    let t = Instant::now();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let took = ms(t.elapsed());
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(took)
}

/// `podman run --rm IMAGE true`, `steps` times in a row.
fn podman(steps: usize) -> Result<f64> {
    let mut total = 0.0;
    for _ in 0..steps {
        total += timed(Command::new("podman").args(["run", "--rm", IMAGE, "true"]))?;
    }
    Ok(total)
}

fn containerops(bin: &str, db: &Path, workflow: &Path) -> Result<f64> {
    timed(
        Command::new(bin)
            .arg("run")
            .arg(workflow)
            .env("CONTAINEROPS_DB", db),
    )
}

pub fn run(bin: &str, rounds: usize) -> Result<Value> {
    if !Path::new(bin).exists() {
        bail!("{bin} does not exist: cargo build --release -p containerops first (or pass --bin)");
    }
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("history.db");
    let mut scenarios = Vec::new();
    for steps in [1, 5] {
        let workflow = dir.path().join(format!("chain-{steps}.yaml"));
        std::fs::write(&workflow, chain(steps))?;
        // Warm-up: the database file exists and the image is in the page cache, for both.
        podman(1)?;
        containerops(bin, &db, &workflow)?;
        let mut podman_ms = Vec::new();
        let mut co_ms = Vec::new();
        for _ in 0..rounds {
            podman_ms.push(podman(steps)?);
            co_ms.push(containerops(bin, &db, &workflow)?);
        }
        let p = median(&mut podman_ms.clone());
        let c = median(&mut co_ms.clone());
        let mut paired: Vec<f64> = co_ms.iter().zip(&podman_ms).map(|(c, p)| c / p).collect();
        let paired = median(&mut paired);
        eprintln!("  {steps} step(s): containerops {c:.0} ms, podman {p:.0} ms (medians), ratio {:.3}, median of round ratios {paired:.3}", c / p);
        scenarios.push(json!({
            "steps": steps,
            "podman_run_rm_ms": podman_ms,
            "containerops_run_ms": co_ms,
            "podman_median_ms": p,
            "containerops_median_ms": c,
            "ratio_containerops_to_podman": c / p,
            "ratio_median_of_rounds": paired,
        }));
    }
    Ok(json!({
        "scenario": "`containerops run` of a chain of minimal containers vs `podman run --rm` of each in turn",
        "rounds": rounds,
        "chains": scenarios,
    }))
}

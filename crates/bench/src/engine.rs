//! The engine alone on a no-op backend: a 10,000-step DAG, wide (one stage) or deep (a chain).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use co_engine::{Command, Engine, Input, Outcome, RunConfig, RunStatus};
use co_runner::fake::NoopBackend;
use co_runner::{NoObserver, Runner};
use co_spec::{Loader, NoCatalog, Plan};
use serde_json::{json, Value};

use crate::{ms, peak_rss_mib};

fn workflow(shape: &str, steps: usize) -> Result<String> {
    let image = "localhost/bench/noop:1";
    let mut text = format!("name: bench-{shape}\nstages:\n");
    match shape {
        "wide" => {
            text.push_str("  - name: s\n    actions:\n");
            for i in 0..steps {
                text.push_str(&format!("      - {{ name: a{i}, image: {image} }}\n"));
            }
        }
        "deep" => {
            for i in 0..steps {
                text.push_str(&format!(
                    "  - name: s{i}\n    actions:\n      - {{ name: a{i}, image: {image} }}\n"
                ));
            }
        }
        other => return Err(anyhow!("unknown shape {other:?}: wide or deep")),
    }
    Ok(text)
}

fn plan(text: &str) -> Result<Arc<Plan>> {
    let loader = Loader::new(&NoCatalog);
    let wf = loader
        .parse_workflow(text, "bench.yaml", Path::new("."))
        .map_err(|d| anyhow!("bench workflow invalid: {:?}", d.0.first()))?;
    Ok(Arc::new(co_spec::plan(Arc::new(wf))))
}

/// The state machine alone: every launch "exits 0" at once.
fn drive(plan: Arc<Plan>) -> Result<(usize, RunStatus)> {
    let mut engine = Engine::new(
        plan,
        RunConfig {
            run_id: "bench".into(),
            ..RunConfig::default()
        },
    )
    .map_err(|e| anyhow!("{e}"))?;
    let mut inputs = VecDeque::from([Input::Start]);
    let mut launches = 0;
    let mut now = 0;
    while let Some(input) = inputs.pop_front() {
        now += 1;
        for command in engine.handle(now, input) {
            if let Command::Launch { node, attempt, .. } = command {
                launches += 1;
                inputs.push_back(Input::Exited {
                    node,
                    attempt,
                    outcome: Outcome {
                        exit_code: Some(0),
                        ..Outcome::default()
                    },
                });
            }
        }
    }
    let status = engine
        .finished()
        .ok_or_else(|| anyhow!("the run did not finish"))?;
    Ok((launches, status))
}

pub async fn run(shape: &str, steps: usize, with_store: bool) -> Result<Value> {
    let text = workflow(shape, steps)?;
    let t0 = Instant::now();
    let plan = plan(&text)?;
    let plan_time = t0.elapsed();

    let t1 = Instant::now();
    let (launches, status) = if with_store {
        let dir = tempfile::tempdir()?;
        let store = co_store::Store::open(&dir.path().join("bench.db").to_string_lossy()).await?;
        let runner = Runner::new(Arc::new(NoopBackend), store);
        let prepared = runner
            .prepare(
                plan,
                RunConfig {
                    run_id: co_runner::new_run_id(),
                    ..RunConfig::default()
                },
            )
            .await?;
        let result = runner.execute(prepared, Arc::new(NoObserver)).await?;
        (steps, result.status)
    } else {
        drive(plan)?
    };
    let run_time = t1.elapsed();
    if status != RunStatus::Succeeded || launches != steps {
        return Err(anyhow!(
            "unexpected result: {status:?} after {launches} launches"
        ));
    }
    Ok(json!({
        "scenario": if with_store { "runner+sqlite, no-op backend" } else { "engine, no-op backend" },
        "shape": shape,
        "steps": steps,
        "parse_and_plan_ms": ms(plan_time),
        "run_ms": ms(run_time),
        "peak_rss_mib": peak_rss_mib(),
    }))
}

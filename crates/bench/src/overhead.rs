//! Per-step overhead: a chain of N minimal containers run by the engine (the whole local path:
//! workflow, plan, engine, driver, SQLite store, Docker backend) against the same N containers
//! created, started, waited for and removed back to back by a bare loop over the same engine API.
//! A third series runs the same containers through the backend alone (`Backend::run_step` in a
//! loop, no engine, driver or store): the engine-to-backend ratio is the engine's own overhead.
//! Rounds alternate (bare, backend, engine, …) so all see the same machine; the figures are
//! ratios of medians.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use co_backend::{Backend, CancellationToken, OutputSink, StepLaunch, Stream};
use co_backend_docker::DockerBackend;
use co_engine::{RunConfig, RunStatus};
use co_runner::{NoObserver, Runner};
use co_spec::{Loader, NoCatalog};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::ms;

const IMAGE: &str = "localhost/co-examples/busybox:latest";

fn chain(steps: usize) -> String {
    let mut text = String::from("name: bench-chain\nstages:\n");
    for i in 0..steps {
        text.push_str(&format!(
            "  - name: s{i}\n    actions:\n      - {{ name: a{i}, image: \"{IMAGE}\", command: [\"true\"] }}\n"
        ));
    }
    text
}

/// The bare loop: create → start → wait → remove, one container after the other.
async fn bare(docker: &bollard::Docker, steps: usize, round: usize) -> Result<f64> {
    let t = Instant::now();
    for i in 0..steps {
        let name = format!("co-bench-bare-{round}-{i}");
        let body = ContainerCreateBody {
            image: Some(IMAGE.to_string()),
            entrypoint: Some(vec!["true".to_string()]),
            ..ContainerCreateBody::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = docker.create_container(Some(opts), body).await?;
        docker.start_container(&created.id, None).await?;
        let mut wait = docker.wait_container(&created.id, None);
        match wait.next().await {
            Some(Ok(r)) if r.status_code == 0 => {}
            other => bail!("bare container {name} did not exit 0: {other:?}"),
        }
        let rm = RemoveContainerOptionsBuilder::default().force(true).build();
        docker.remove_container(&created.id, Some(rm)).await?;
    }
    Ok(ms(t.elapsed()))
}

/// Discards output.
pub struct Discard;

#[async_trait::async_trait]
impl OutputSink for Discard {
    fn started(&mut self, _container_id: &str) {}
    async fn output(&mut self, _stream: Stream, _bytes: &[u8]) {}
}

/// The backend alone, step after step (the same launches the engine makes), then `finish_run`.
pub(crate) async fn backend_only(backend: &dyn Backend, steps: usize, round: usize) -> Result<f64> {
    let t = Instant::now();
    let run_id = format!(
        "bench-{}-{round}-{}",
        backend.name(),
        co_runner::new_run_id()
    );
    let workspace = backend.create_workspace(&run_id).await?;
    for i in 0..steps {
        let launch = StepLaunch {
            run_id: run_id.clone(),
            workflow: "bench-chain".into(),
            step_key: format!("a{i}"),
            attempt: 1,
            image: IMAGE.into(),
            command: Some(vec!["true".into()]),
            env: Vec::new(),
            cpu_millis: None,
            memory_bytes: None,
            kubernetes: None,
            swarm: None,
            files: Vec::new(),
        };
        let exit = backend
            .run_step(&launch, &workspace, &mut Discard, CancellationToken::new())
            .await?;
        if exit.exit_code != Some(0) {
            bail!("{} step {i} ended {exit:?}", backend.name());
        }
    }
    backend.finish_run(&workspace).await?;
    Ok(ms(t.elapsed()))
}

async fn engine(runner: &Runner, plan: &Arc<co_spec::Plan>) -> Result<f64> {
    let t = Instant::now();
    let prepared = runner
        .prepare(
            plan.clone(),
            RunConfig {
                run_id: co_runner::new_run_id(),
                ..RunConfig::default()
            },
        )
        .await?;
    let result = runner.execute(prepared, Arc::new(NoObserver)).await?;
    if result.status != RunStatus::Succeeded {
        bail!("the engine run {} ended {:?}", result.run_id, result.status);
    }
    Ok(ms(t.elapsed()))
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

pub async fn run(steps: usize, rounds: usize) -> Result<Value> {
    let backend = DockerBackend::connect().await.map_err(|e| anyhow!("{e}"))?;
    if !backend
        .image_exists(IMAGE)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        bail!("{IMAGE} is missing: run scripts/build-images.sh first");
    }
    let docker = backend.docker().clone();
    let dir = tempfile::tempdir()?;
    let store = co_store::Store::open(&dir.path().join("bench.db").to_string_lossy()).await?;
    let runner = Runner::new(Arc::new(backend.clone()), store);
    let wf = Loader::new(&NoCatalog)
        .parse_workflow(&chain(steps), "chain.yaml", Path::new("."))
        .map_err(|d| anyhow!("bench workflow invalid: {:?}", d.0.first()))?;
    let plan = Arc::new(co_spec::plan(Arc::new(wf)));

    // Warm-up (image cache, event subscription, database file).
    bare(&docker, 2, usize::MAX).await?;
    engine(
        &runner,
        &Arc::new(co_spec::plan(Arc::new(
            Loader::new(&NoCatalog)
                .parse_workflow(&chain(2), "warm.yaml", Path::new("."))
                .map_err(|d| anyhow!("{:?}", d.0.first()))?,
        ))),
    )
    .await?;

    let mut bare_ms = Vec::new();
    let mut backend_ms = Vec::new();
    let mut engine_ms = Vec::new();
    for round in 0..rounds {
        bare_ms.push(bare(&docker, steps, round).await?);
        backend_ms.push(backend_only(&backend, steps, round).await?);
        engine_ms.push(engine(&runner, &plan).await?);
    }
    let b = median(&mut bare_ms.clone());
    let k = median(&mut backend_ms.clone());
    let e = median(&mut engine_ms.clone());
    Ok(json!({
        "scenario": format!("{steps}-step chain of minimal containers: engine vs bare create/start/wait/remove loop"),
        "engine": backend.info().kind.as_str(),
        "steps": steps,
        "rounds": rounds,
        "bare_ms": bare_ms,
        "backend_ms": backend_ms,
        "engine_ms": engine_ms,
        "bare_median_ms": b,
        "backend_median_ms": k,
        "engine_median_ms": e,
        "bare_per_step_ms": b / steps as f64,
        "backend_per_step_ms": k / steps as f64,
        "engine_per_step_ms": e / steps as f64,
        "ratio_engine_to_bare": e / b,
        "ratio_engine_to_backend": e / k,
    }))
}

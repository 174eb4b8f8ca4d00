//! Per-step overhead on Docker Swarm: a chain of N minimal steps (`true`) run by the Swarm
//! backend (`Backend::run_step` one after the other, then `finish_run`), against the same N job
//! services made by hand through the API (create a `replicated-job` service, ask for its task's
//! state every 100 ms — the backend's own interval — until it completes, remove the service and its
//! task's container), and against the Docker backend on the same engine (plain containers).
//! Rounds alternate (by hand, swarm, docker, …); the figures are ratios of medians.
//!
//! Needs `$DOCKER_HOST` to be a swarm manager (`scripts/setup-engine.sh --swarm`, then
//! `DOCKER_HOST=unix:///var/run/docker.sock`) with the busybox example image
//! (`scripts/build-images.sh`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bollard::models::{ServiceSpec, TaskState};
use bollard::query_parameters::{ListTasksOptions, RemoveContainerOptionsBuilder};
use co_backend_docker::DockerBackend;
use co_backend_swarm::{SwarmBackend, SwarmOptions};
use serde_json::{json, Value};

use crate::ms;
use crate::overhead::{backend_only, median};

const IMAGE: &str = "localhost/co-examples/busybox:latest";
const POLL: Duration = Duration::from_millis(100);

/// N job services by hand: create, poll the task until it completed, remove service and container.
async fn by_hand(docker: &bollard::Docker, steps: usize, round: usize) -> Result<f64> {
    let t = Instant::now();
    for i in 0..steps {
        let name = format!("co-bench-job-{round}-{i}-{}", std::process::id());
        let spec: ServiceSpec = serde_json::from_value(json!({
            "Name": name,
            "TaskTemplate": {
                "ContainerSpec": { "Image": IMAGE, "Command": ["true"] },
                "RestartPolicy": { "Condition": "none" },
            },
            "Mode": { "ReplicatedJob": { "MaxConcurrent": 1, "TotalCompletions": 1 } },
        }))?;
        let id = docker
            .create_service(spec, None)
            .await?
            .id
            .ok_or_else(|| anyhow!("no service id"))?;
        let container = loop {
            let opts = ListTasksOptions {
                filters: Some(HashMap::from([("service".to_string(), vec![id.clone()])])),
            };
            let task = docker.list_tasks(Some(opts)).await?.pop();
            let status = task.and_then(|t| t.status);
            match status.as_ref().and_then(|s| s.state) {
                Some(TaskState::COMPLETE) => {
                    break status
                        .and_then(|s| s.container_status)
                        .and_then(|c| c.container_id)
                        .unwrap_or_default()
                }
                Some(TaskState::FAILED | TaskState::REJECTED) => {
                    bail!("job {name} failed: {status:?}")
                }
                _ => tokio::time::sleep(POLL).await,
            }
        };
        docker.delete_service(&id).await?;
        let rm = RemoveContainerOptionsBuilder::default().force(true).build();
        docker.remove_container(&container, Some(rm)).await?;
    }
    Ok(ms(t.elapsed()))
}

pub async fn run(steps: usize, rounds: usize) -> Result<Value> {
    let swarm = SwarmBackend::connect(SwarmOptions::default())
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let docker_backend = DockerBackend::connect().await.map_err(|e| anyhow!("{e}"))?;
    if !docker_backend
        .image_exists(IMAGE)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        bail!("{IMAGE} is missing: run scripts/build-images.sh first");
    }
    let docker = docker_backend.docker().clone();
    // Warm-up.
    by_hand(&docker, 1, usize::MAX).await?;
    backend_only(&swarm, 1, usize::MAX).await?;
    backend_only(&docker_backend, 1, usize::MAX).await?;

    let (mut hand_ms, mut swarm_ms, mut docker_ms) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        hand_ms.push(by_hand(&docker, steps, round).await?);
        swarm_ms.push(backend_only(&swarm, steps, round).await?);
        docker_ms.push(backend_only(&docker_backend, steps, round).await?);
    }
    let h = median(&mut hand_ms.clone());
    let s = median(&mut swarm_ms.clone());
    let d = median(&mut docker_ms.clone());
    Ok(json!({
        "scenario": format!("{steps} job steps one after another on a one-node swarm: the Swarm backend vs job services by hand vs the Docker backend on the same engine"),
        "engine": docker_backend.info().to_string(),
        "steps": steps,
        "rounds": rounds,
        "by_hand_ms": hand_ms,
        "swarm_ms": swarm_ms,
        "docker_ms": docker_ms,
        "by_hand_per_step_ms": h / steps as f64,
        "swarm_per_step_ms": s / steps as f64,
        "docker_per_step_ms": d / steps as f64,
        "ratio_swarm_to_by_hand": s / h,
        "ratio_swarm_to_docker": s / d,
    }))
}

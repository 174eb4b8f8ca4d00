//! The service an attempt runs as: a `replicated-job` (one task, one completion, no restart),
//! labelled like the other backends' objects, pinned to the node that holds the run's volume.

use std::time::Duration;

use bollard::models::ServiceSpec;
use co_backend::{labels, BackendError, StepLaunch, Workspace};
use serde_json::{json, Value};

/// The labels of every object of an attempt (service, and its task's container).
pub(crate) fn attempt_labels(launch: &StepLaunch) -> Value {
    json!({
        labels::RUN: launch.run_id,
        labels::STEP: launch.step_key,
        labels::ATTEMPT: launch.attempt.to_string(),
        labels::WORKFLOW: launch.workflow,
    })
}

/// The service's spec as the API takes it (`POST /services/create`).
pub(crate) fn service_json(
    name: &str,
    launch: &StepLaunch,
    ws: &Workspace,
    node_id: &str,
    stop_grace: Duration,
) -> Value {
    let labels = attempt_labels(launch);
    let env: Vec<String> = launch
        .effective_env()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut container = json!({
        "Image": launch.image,
        "Env": env,
        "Labels": labels,
        "Mounts": [{ "Type": "volume", "Source": ws.name, "Target": "/workspace" }],
        "StopGracePeriod": i64::try_from(stop_grace.as_nanos()).unwrap_or(i64::MAX),
        // An init process as PID 1 (docker-init), as on the Docker backend: a stop's SIGTERM
        // reaches a shell's commands.
        "Init": true,
    });
    if let Some(command) = &launch.command {
        // `Command` is the entrypoint, `Args` the CMD: the command replaces both.
        container["Command"] = json!(command);
        container["Args"] = json!([]);
    }
    let block = launch.swarm.as_ref();
    let strings = |key: &str| -> Vec<String> {
        block
            .and_then(|b| b[key].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The run's volume is a local volume of this node: every step runs here; the component's
    // constraints must hold too (a node that does not meet them leaves the step pending, and
    // the scheduler's message fails it after the grace).
    let mut constraints = vec![format!("node.id=={node_id}")];
    constraints.extend(strings("constraints"));
    let preferences: Vec<Value> = strings("preferences")
        .into_iter()
        .map(|p| json!({ "Spread": { "SpreadDescriptor": p } }))
        .collect();
    let mut reservations = json!({});
    if let Some(r) = block.map(|b| &b["reservations"]) {
        if let Some(m) = r["cpu_millis"].as_u64() {
            reservations["NanoCPUs"] =
                json!(i64::try_from(m.saturating_mul(1_000_000)).unwrap_or(i64::MAX));
        }
        if let Some(b) = r["memory_bytes"].as_u64() {
            reservations["MemoryBytes"] = json!(i64::try_from(b).unwrap_or(i64::MAX));
        }
    }
    let mut limits = json!({});
    if let Some(m) = launch.cpu_millis {
        limits["NanoCPUs"] = json!(i64::try_from(m.saturating_mul(1_000_000)).unwrap_or(i64::MAX));
    }
    if let Some(b) = launch.memory_bytes {
        limits["MemoryBytes"] = json!(i64::try_from(b).unwrap_or(i64::MAX));
    }
    json!({
        "Name": name,
        "Labels": labels,
        "TaskTemplate": {
            "ContainerSpec": container,
            // Reservations only when the component asks (`swarm.reservations`): a reservation
            // holds a share of a node, and the scheduler keeps steps pending while shares are
            // taken.
            "Resources": { "Limits": limits, "Reservations": reservations },
            "RestartPolicy": { "Condition": "none", "MaxAttempts": 0 },
            "Placement": { "Constraints": constraints, "Preferences": preferences },
        },
        "Mode": { "ReplicatedJob": { "MaxConcurrent": 1, "TotalCompletions": 1 } },
    })
}

/// Mount `volume` (read-only) at the directory of the variables delivered as files.
pub(crate) fn mount_env_files(service: &mut Value, volume: &str) {
    if let Some(mounts) = service["TaskTemplate"]["ContainerSpec"]["Mounts"].as_array_mut() {
        mounts.push(json!({
            "Type": "volume",
            "Source": volume,
            "Target": co_backend::ENV_FILES_DIR,
            "ReadOnly": true,
        }));
    }
}

pub(crate) fn service_spec(value: Value) -> Result<ServiceSpec, BackendError> {
    serde_json::from_value(value)
        .map_err(|e| BackendError::Other(format!("building the service spec: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> StepLaunch {
        StepLaunch {
            run_id: "r1".into(),
            workflow: "wf".into(),
            step_key: "build[os=linux]".into(),
            attempt: 2,
            image: "localhost/img:1".into(),
            command: Some(vec!["sh".into(), "-c".into(), "echo hi".into()]),
            env: vec![("A".into(), "1".into()), ("A".into(), "2".into())],
            cpu_millis: Some(500),
            memory_bytes: Some(64 << 20),
            kubernetes: None,
            swarm: None,
            files: Vec::new(),
        }
    }

    #[test]
    fn the_service_is_a_one_task_job_labelled_limited_and_pinned() {
        let ws = Workspace {
            run_id: "r1".into(),
            name: "co-ws-r1".into(),
        };
        let v = service_json("svc", &launch(), &ws, "node1", Duration::from_secs(3));
        let spec = service_spec(v.clone()).unwrap();
        assert_eq!(spec.name.as_deref(), Some("svc"));
        assert_eq!(
            v["Mode"],
            json!({ "ReplicatedJob": { "MaxConcurrent": 1, "TotalCompletions": 1 } })
        );
        let t = &v["TaskTemplate"];
        assert_eq!(t["RestartPolicy"]["Condition"], "none");
        assert_eq!(t["Placement"]["Constraints"], json!(["node.id==node1"]));
        let c = &t["ContainerSpec"];
        assert_eq!(c["Command"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(c["Args"], json!([]));
        assert_eq!(c["Env"], json!(["A=2"]));
        assert_eq!(c["StopGracePeriod"], 3_000_000_000_i64);
        assert_eq!(c["Mounts"][0]["Source"], "co-ws-r1");
        assert_eq!(c["Mounts"][0]["Target"], "/workspace");
        for l in [&v["Labels"], &c["Labels"]] {
            assert_eq!(l[labels::RUN], "r1");
            assert_eq!(l[labels::STEP], "build[os=linux]");
            assert_eq!(l[labels::ATTEMPT], "2");
            assert_eq!(l[labels::WORKFLOW], "wf");
        }
        assert_eq!(t["Resources"]["Limits"]["NanoCPUs"], 500_000_000_i64);
        assert_eq!(t["Resources"]["Limits"]["MemoryBytes"], 64_i64 << 20);
        assert_eq!(t["Resources"]["Reservations"], json!({}));
        assert_eq!(t["Placement"]["Preferences"], json!([]));
        // The typed spec keeps what matters.
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["Mode"], v["Mode"]);
        assert_eq!(back["TaskTemplate"]["ContainerSpec"]["Init"], true);
    }

    #[test]
    fn the_swarm_block_adds_constraints_preferences_and_reservations() {
        let mut l = launch();
        l.swarm = Some(json!({
            "constraints": ["node.labels.gpu == true"],
            "preferences": ["node.labels.zone"],
            "reservations": { "cpu_millis": 250, "memory_bytes": 1024 },
        }));
        let ws = Workspace {
            run_id: "r1".into(),
            name: "co-ws-r1".into(),
        };
        let v = service_json("svc", &l, &ws, "n1", Duration::from_secs(1));
        let t = &v["TaskTemplate"];
        assert_eq!(
            t["Placement"]["Constraints"],
            json!(["node.id==n1", "node.labels.gpu == true"])
        );
        assert_eq!(
            t["Placement"]["Preferences"],
            json!([{ "Spread": { "SpreadDescriptor": "node.labels.zone" } }])
        );
        assert_eq!(
            t["Resources"]["Reservations"],
            json!({ "NanoCPUs": 250_000_000_i64, "MemoryBytes": 1024 })
        );
        service_spec(v).unwrap();
    }

    #[test]
    fn without_a_command_the_image_decides() {
        let mut l = launch();
        l.command = None;
        l.cpu_millis = None;
        l.memory_bytes = None;
        let ws = Workspace {
            run_id: "r1".into(),
            name: "co-ws-r1".into(),
        };
        let v = service_json("svc", &l, &ws, "n", Duration::from_secs(1));
        let c = &v["TaskTemplate"]["ContainerSpec"];
        assert!(c.get("Command").is_none() && c.get("Args").is_none());
        assert_eq!(v["TaskTemplate"]["Resources"]["Limits"], json!({}));
    }
}

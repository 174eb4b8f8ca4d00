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
            // Limits only: a reservation would hold a share of the node for the step, and the
            // scheduler keeps steps pending while the node's shares are taken.
            "Resources": { "Limits": limits },
            "RestartPolicy": { "Condition": "none", "MaxAttempts": 0 },
            // The run's volume is a local volume of this node: every step runs here.
            "Placement": { "Constraints": [format!("node.id=={node_id}")] },
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
        assert!(t["Resources"].get("Reservations").is_none());
        // The typed spec keeps what matters.
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["Mode"], v["Mode"]);
        assert_eq!(back["TaskTemplate"]["ContainerSpec"]["Init"], true);
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

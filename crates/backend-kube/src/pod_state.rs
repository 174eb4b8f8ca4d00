//! What a Pod's status means for its step.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use crate::spec::CONTAINER;

/// Waiting reasons that mean the image cannot be had.
const PULL_ERRORS: &[&str] = &["ErrImagePull", "ImagePullBackOff"];
/// Waiting reasons that no amount of waiting fixes.
const IMAGE_FATAL: &[&str] = &["InvalidImageName", "ErrImageNeverPull"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodView {
    /// `spec.nodeName`, once scheduled.
    pub node: Option<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The `DisruptionTarget` condition's reason and message (why Kubernetes is taking it away).
    pub disruption: Option<String>,
    pub kind: PodKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PodKind {
    /// The container has not started.
    Pending {
        /// The scheduler's message while `PodScheduled` is `False` with reason `Unschedulable`.
        unschedulable: Option<String>,
        /// The image cannot be pulled (`ErrImagePull`, `ImagePullBackOff`): reason and message.
        pull_error: Option<(String, String)>,
        /// The image can never be had (`InvalidImageName`, `ErrImageNeverPull`).
        image_fatal: Option<(String, String)>,
        /// Any other waiting reason (`ContainerCreating`, `CreateContainerConfigError`…).
        waiting: Option<String>,
    },
    Running,
    Terminated {
        exit_code: i64,
        oom_killed: bool,
        /// The container's `startedAt` and `finishedAt` (ms since the Unix epoch), when the
        /// status has them.
        started_at: Option<i64>,
        finished_at: Option<i64>,
    },
    /// The Pod itself failed (evicted, preempted, node lost…) or ended without a container exit.
    PodFailed {
        reason: String,
        message: String,
        container_started: bool,
    },
}

impl PodKind {
    pub fn container_started(&self) -> bool {
        match self {
            PodKind::Running | PodKind::Terminated { .. } => true,
            PodKind::PodFailed {
                container_started, ..
            } => *container_started,
            PodKind::Pending { .. } => false,
        }
    }

    /// A description of what keeps a pending Pod from starting, if anything is known.
    pub fn problem(&self) -> Option<String> {
        match self {
            PodKind::Pending {
                unschedulable: Some(m),
                ..
            } => Some(format!("it could not be scheduled: {m}")),
            PodKind::Pending {
                pull_error: Some((r, m)),
                ..
            }
            | PodKind::Pending {
                image_fatal: Some((r, m)),
                ..
            } => Some(format!("its image could not be pulled: {r}: {m}")),
            PodKind::Pending {
                waiting: Some(w), ..
            } => Some(format!("its container was waiting: {w}")),
            _ => None,
        }
    }
}

fn container_status(pod: &Pod) -> Option<&ContainerStatus> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses
        .iter()
        .find(|c| c.name == CONTAINER)
        .or_else(|| statuses.first())
}

pub(crate) fn view(pod: &Pod) -> PodView {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let conditions = status.and_then(|s| s.conditions.as_ref());
    let condition = |kind: &str| conditions.and_then(|c| c.iter().find(|c| c.type_ == kind));
    let disruption = condition("DisruptionTarget")
        .filter(|c| c.status == "True")
        .map(|c| {
            let reason = c.reason.clone().unwrap_or_default();
            match c.message.as_deref() {
                Some(m) if !m.is_empty() => format!("{reason}: {m}"),
                _ => reason,
            }
        });
    let container = container_status(pod);
    let state = container.and_then(|c| c.state.as_ref());
    let started = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some());
    let pod_reason = status.and_then(|s| s.reason.clone()).unwrap_or_default();
    let pod_message = status.and_then(|s| s.message.clone()).unwrap_or_default();

    let kind = if phase == "Failed" && !pod_reason.is_empty() {
        PodKind::PodFailed {
            reason: pod_reason,
            message: pod_message,
            container_started: started,
        }
    } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        PodKind::Terminated {
            exit_code: i64::from(t.exit_code),
            oom_killed: t.reason.as_deref() == Some("OOMKilled"),
            started_at: t.started_at.as_ref().map(|t| t.0.as_millisecond()),
            finished_at: t.finished_at.as_ref().map(|t| t.0.as_millisecond()),
        }
    } else if state.is_some_and(|s| s.running.is_some()) {
        PodKind::Running
    } else if phase == "Succeeded" || phase == "Failed" {
        PodKind::PodFailed {
            reason: phase.to_string(),
            message: if pod_message.is_empty() {
                "the Pod ended without an exit status of its container".to_string()
            } else {
                pod_message
            },
            container_started: started,
        }
    } else {
        let unschedulable = condition("PodScheduled")
            .filter(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
            .map(|c| c.message.clone().unwrap_or_else(|| "Unschedulable".into()));
        let waiting = state.and_then(|s| s.waiting.as_ref());
        let reason = waiting.and_then(|w| w.reason.clone()).unwrap_or_default();
        let message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
        let pair = || (reason.clone(), message.clone());
        PodKind::Pending {
            unschedulable,
            pull_error: PULL_ERRORS.contains(&reason.as_str()).then(pair),
            image_fatal: IMAGE_FATAL.contains(&reason.as_str()).then(pair),
            waiting: (!reason.is_empty()).then(|| {
                if message.is_empty() {
                    reason.clone()
                } else {
                    format!("{reason}: {message}")
                }
            }),
        }
    };
    PodView {
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        deleting: pod.metadata.deletion_timestamp.is_some(),
        disruption,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn states() {
        let pending = view(&pod(json!({"metadata": {"name": "p"}})));
        assert!(matches!(
            pending.kind,
            PodKind::Pending {
                unschedulable: None,
                pull_error: None,
                ..
            }
        ));
        let unsched = view(&pod(json!({"status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/3 nodes are available: 3 Insufficient cpu."}]}})));
        assert_eq!(
            unsched.kind.problem().as_deref(),
            Some("it could not be scheduled: 0/3 nodes are available: 3 Insufficient cpu.")
        );
        let pull = view(&pod(json!({"spec": {"nodeName": "n1", "containers": []},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "step", "image": "x",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}]}})));
        assert_eq!(pull.node.as_deref(), Some("n1"));
        assert!(
            matches!(pull.kind, PodKind::Pending { pull_error: Some((ref r, _)), .. } if r == "ImagePullBackOff")
        );
        let oom = view(&pod(
            json!({"status": {"phase": "Failed", "containerStatuses": [{"name": "step",
            "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                "startedAt": "2026-12-03T13:56:21Z", "finishedAt": "2026-12-03T13:56:41Z"}}}]}}),
        ));
        assert_eq!(
            oom.kind,
            PodKind::Terminated {
                exit_code: 137,
                oom_killed: true,
                started_at: Some(1_796_306_181_000),
                finished_at: Some(1_796_306_201_000),
            }
        );
        let evicted = view(&pod(
            json!({"status": {"phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory.", "containerStatuses": [{"name": "step",
            "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}]}}),
        ));
        assert_eq!(
            evicted.kind,
            PodKind::PodFailed {
                reason: "Evicted".into(),
                message: "The node was low on resource: memory.".into(),
                container_started: true
            }
        );
        let ended = view(&pod(json!({"status": {"phase": "Succeeded"}})));
        assert!(
            matches!(ended.kind, PodKind::PodFailed { ref reason, .. } if reason == "Succeeded")
        );
        let deleting = view(&pod(
            json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"phase": "Running", "conditions": [{"type": "DisruptionTarget", "status": "True",
            "reason": "PreemptionByScheduler", "message": "preempted"}]}}),
        ));
        assert!(deleting.deleting);
        assert_eq!(
            deleting.disruption.as_deref(),
            Some("PreemptionByScheduler: preempted")
        );
    }
}

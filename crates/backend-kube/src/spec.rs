//! The objects the backend creates: a Pod per step attempt, a PersistentVolumeClaim per run.
//!
//! Every object carries the `containerops.*` labels (valid label values, see [`crate::names`])
//! for selecting, and the exact values in annotations of the same keys.

use std::collections::BTreeMap;

use co_backend::{labels, BackendError, StepLaunch};
use k8s_openapi::api::core::v1::{
    Affinity, Container, EmptyDirVolumeSource, EnvVar, LocalObjectReference, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Pod, PodSecurityContext, PodSpec,
    ProjectedVolumeSource, ResourceRequirements, Secret, SecretProjection, Toleration, Volume,
    VolumeMount, VolumeProjection, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::ByteString;
use serde_json::Value;

use crate::names;
use crate::WorkspaceMode;

/// The name of the step's container in its Pod.
pub const CONTAINER: &str = "step";
/// Where the workspace is mounted (SPEC §1 `CO_WORKSPACE`).
pub const WORKSPACE_PATH: &str = "/workspace";
/// The name of the workspace volume in a Pod.
const WORKSPACE_VOLUME: &str = "workspace";
/// The name of the volume of variables delivered as files ([`co_backend::ENV_FILES_DIR`]).
const ENV_FILES_VOLUME: &str = "env-files";
/// Most bytes of data one Secret may hold (the API server refuses more).
pub const MAX_SECRET_BYTES: usize = 1024 * 1024;
/// Mode of the files of variables delivered as files.
const ENV_FILE_MODE: i32 = 0o444;
/// The node label used to pin the steps of a run to one node (ReadWriteOnce workspaces).
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// Marks everything this backend creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "containerops");

/// The label selector of everything belonging to `run_id`.
pub fn run_selector(run_id: &str) -> String {
    format!("{}={}", labels::RUN, names::label_value(run_id))
}

/// The label selector of the Pod of one attempt.
pub fn attempt_selector(launch: &StepLaunch) -> String {
    format!(
        "{},{}={},{}={}",
        run_selector(&launch.run_id),
        labels::STEP,
        names::label_value(&launch.step_key),
        labels::ATTEMPT,
        launch.attempt
    )
}

/// How the workspace reaches a Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceVolume {
    Pvc(String),
    EmptyDir,
}

impl WorkspaceVolume {
    pub fn for_mode(mode: &WorkspaceMode, pvc: &str) -> WorkspaceVolume {
        match mode {
            WorkspaceMode::Pvc { .. } if !pvc.is_empty() => WorkspaceVolume::Pvc(pvc.to_string()),
            _ => WorkspaceVolume::EmptyDir,
        }
    }
}

/// The files of `launch` ([`StepLaunch::files`]) in Secrets of at most [`MAX_SECRET_BYTES`]
/// each, in order, one data key per file (its name in [`co_backend::ENV_FILES_DIR`]); named
/// `<pod>-env-1`, `<pod>-env-2`, … (an attempt's Pod owns them once it exists, so they go with it).
/// A file larger than a Secret can hold fails the step: nothing can deliver it on Kubernetes.
pub fn env_secrets(launch: &StepLaunch) -> Result<Vec<Secret>, BackendError> {
    let pod = names::pod_name(&launch.run_id, &launch.step_key, launch.attempt);
    let mut groups: Vec<(usize, BTreeMap<String, ByteString>)> = Vec::new();
    for file in &launch.files {
        let size = file.content.len();
        if size > MAX_SECRET_BYTES {
            return Err(BackendError::NotRunnable(format!(
                "{} is {size} bytes; on Kubernetes a variable delivered as a file may be at most \
                 {MAX_SECRET_BYTES} bytes (1 MiB, what one Secret holds)",
                file.name
            )));
        }
        let key = file
            .path
            .rsplit('/')
            .next()
            .unwrap_or(file.name.as_str())
            .to_string();
        let value = ByteString(file.content.clone().into_bytes());
        match groups.last_mut() {
            Some((used, data)) if *used + size <= MAX_SECRET_BYTES => {
                *used += size;
                data.insert(key, value);
            }
            _ => groups.push((size, BTreeMap::from([(key, value)]))),
        }
    }
    let (pod_labels, annotations) = attempt_labels(launch);
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(i, (_, data))| Secret {
            metadata: ObjectMeta {
                name: Some(format!("{pod}-env-{}", i + 1)),
                labels: Some(pod_labels.clone()),
                annotations: Some(annotations.clone()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            immutable: Some(true),
            type_: Some("Opaque".to_string()),
            ..Secret::default()
        })
        .collect())
}

/// `secret` owned by the Pod `pod` (deleted with it).
pub fn owned_by(mut secret: Secret, pod: &Pod) -> Secret {
    secret.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".to_string(),
        kind: "Pod".to_string(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        ..OwnerReference::default()
    }]);
    secret
}

/// The labels of an attempt's objects (label values made valid) and the exact values as
/// annotations.
fn attempt_labels(launch: &StepLaunch) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let exact = [
        (labels::RUN, launch.run_id.clone()),
        (labels::STEP, launch.step_key.clone()),
        (labels::ATTEMPT, launch.attempt.to_string()),
        (labels::WORKFLOW, launch.workflow.clone()),
    ];
    let mut label_map = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    for (k, v) in &exact {
        label_map.insert((*k).to_string(), names::label_value(v));
        annotations.insert((*k).to_string(), v.clone());
    }
    label_map.insert(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string());
    (label_map, annotations)
}

/// The Pod of one attempt. `pin_node`: the node every step of the run must run on (ReadWriteOnce
/// workspaces). Fails if the component's `kubernetes:` block does not fit the Pod spec, or a
/// variable delivered as a file is too large for a Secret ([`env_secrets`]).
pub fn pod(
    launch: &StepLaunch,
    workspace: &WorkspaceVolume,
    pin_node: Option<&str>,
    stop_grace_seconds: i64,
) -> Result<Pod, BackendError> {
    let block = KubeBlock::parse(launch.kubernetes.as_ref())?;
    // The component's labels and annotations first; ours win on the same key.
    let (ours, our_annotations) = attempt_labels(launch);
    let mut pod_labels = block.labels.clone().unwrap_or_default();
    pod_labels.extend(ours);
    let mut annotations = block.annotations.clone().unwrap_or_default();
    annotations.extend(our_annotations);

    let mut node_selector = block.node_selector.clone().unwrap_or_default();
    if let Some(node) = pin_node {
        node_selector.insert(HOSTNAME_LABEL.to_string(), node.to_string());
    }

    let (volume_source, claim) = match workspace {
        WorkspaceVolume::Pvc(name) => (None, Some(name.clone())),
        WorkspaceVolume::EmptyDir => (Some(EmptyDirVolumeSource::default()), None),
    };
    let volume = Volume {
        name: WORKSPACE_VOLUME.to_string(),
        empty_dir: volume_source,
        persistent_volume_claim: claim.map(|claim_name| PersistentVolumeClaimVolumeSource {
            claim_name,
            read_only: None,
        }),
        ..Volume::default()
    };
    let mut volumes = vec![volume];
    let mut mounts = vec![VolumeMount {
        name: WORKSPACE_VOLUME.to_string(),
        mount_path: WORKSPACE_PATH.to_string(),
        ..VolumeMount::default()
    }];
    // Variables delivered as files: the attempt's Secrets, all in one directory.
    let secrets = env_secrets(launch)?;
    if !secrets.is_empty() {
        volumes.push(Volume {
            name: ENV_FILES_VOLUME.to_string(),
            projected: Some(ProjectedVolumeSource {
                default_mode: Some(ENV_FILE_MODE),
                sources: Some(
                    secrets
                        .iter()
                        .map(|s| VolumeProjection {
                            secret: Some(SecretProjection {
                                name: s.metadata.name.clone().unwrap_or_default(),
                                ..SecretProjection::default()
                            }),
                            ..VolumeProjection::default()
                        })
                        .collect(),
                ),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: ENV_FILES_VOLUME.to_string(),
            mount_path: co_backend::ENV_FILES_DIR.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }

    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(launch.image.clone()),
        // The whole command line replaces the image's entrypoint and its CMD.
        command: launch
            .command
            .as_ref()
            .map(|c| c.iter().map(|a| escape_expansion(a)).collect()),
        env: Some(
            launch
                .effective_env()
                .into_iter()
                .map(|(name, value)| EnvVar {
                    name,
                    value: Some(escape_expansion(&value)),
                    value_from: None,
                })
                .collect(),
        ),
        resources: resources(launch),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(names::pod_name(
                &launch.run_id,
                &launch.step_key,
                launch.attempt,
            )),
            labels: Some(pod_labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".to_string()),
            termination_grace_period_seconds: Some(stop_grace_seconds),
            // No `<SERVICE>_PORT` variables: a step's environment is what the engine gives it,
            // as on Docker.
            enable_service_links: Some(false),
            containers: vec![container],
            volumes: Some(volumes),
            node_selector: (!node_selector.is_empty()).then_some(node_selector),
            tolerations: block.tolerations,
            affinity: block.affinity,
            service_account_name: block.service_account_name,
            image_pull_secrets: block.image_pull_secrets,
            priority_class_name: block.priority_class_name,
            runtime_class_name: block.runtime_class_name,
            security_context: block.security_context,
            ..PodSpec::default()
        }),
        status: None,
    })
}

/// The run's workspace claim.
pub fn pvc(
    run_id: &str,
    storage_class: Option<&str>,
    size: &str,
    read_write_many: bool,
) -> PersistentVolumeClaim {
    let access = if read_write_many {
        "ReadWriteMany"
    } else {
        "ReadWriteOnce"
    };
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(names::pvc_name(run_id)),
            labels: Some(BTreeMap::from([
                (labels::RUN.to_string(), names::label_value(run_id)),
                (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
            ])),
            annotations: Some(BTreeMap::from([(
                labels::RUN.to_string(),
                run_id.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![access.to_string()]),
            storage_class_name: storage_class.map(str::to_string),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(size.to_string()),
                )])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

/// cpu and memory as requests and limits (the same: a limit is what the step asked for).
fn resources(launch: &StepLaunch) -> Option<ResourceRequirements> {
    let mut amounts = BTreeMap::new();
    if let Some(m) = launch.cpu_millis {
        amounts.insert("cpu".to_string(), Quantity(cpu_quantity(m)));
    }
    if let Some(b) = launch.memory_bytes {
        amounts.insert("memory".to_string(), Quantity(memory_quantity(b)));
    }
    (!amounts.is_empty()).then(|| ResourceRequirements {
        requests: Some(amounts.clone()),
        limits: Some(amounts),
        claims: None,
    })
}

/// Millicores as a Kubernetes quantity: `500m`, `2`.
pub fn cpu_quantity(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        format!("{}", millis / 1000)
    } else {
        format!("{millis}m")
    }
}

/// Bytes as an exact Kubernetes quantity, with the largest suffix that divides it: `64Mi`,
/// `256M`, `1000`.
pub fn memory_quantity(bytes: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 40, "Ti"),
        (1_000_000_000_000, "T"),
        (1 << 30, "Gi"),
        (1_000_000_000, "G"),
        (1 << 20, "Mi"),
        (1_000_000, "M"),
        (1 << 10, "Ki"),
        (1_000, "k"),
    ];
    if bytes == 0 {
        return "0".to_string();
    }
    for (size, suffix) in UNITS {
        if bytes.is_multiple_of(*size) {
            return format!("{}{suffix}", bytes / size);
        }
    }
    bytes.to_string()
}

/// The kubelet expands `$(VAR)` in a container's command, args and env values, and turns `$$`
/// into `$`. Doubling every `$` makes that expansion the identity, so a step sees exactly the
/// bytes it would see on Docker (`echo $$`, a `CO_DATA` value with `$(…)` in it).
pub fn escape_expansion(s: &str) -> String {
    s.replace('$', "$$")
}

/// The component's `kubernetes:` block, typed. The keys were checked when the component was
/// loaded; the shapes inside them are checked here (a field the Pod API does not know is an
/// error, not silently dropped).
#[derive(Debug, Default)]
struct KubeBlock {
    node_selector: Option<BTreeMap<String, String>>,
    tolerations: Option<Vec<Toleration>>,
    affinity: Option<Affinity>,
    service_account_name: Option<String>,
    image_pull_secrets: Option<Vec<LocalObjectReference>>,
    annotations: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    priority_class_name: Option<String>,
    runtime_class_name: Option<String>,
    security_context: Option<PodSecurityContext>,
}

impl KubeBlock {
    fn parse(block: Option<&Value>) -> Result<KubeBlock, BackendError> {
        let Some(block) = block else {
            return Ok(KubeBlock::default());
        };
        let Some(map) = block.as_object() else {
            return Err(bad_block("the block must be a mapping".into()));
        };
        let mut out = KubeBlock::default();
        for (key, value) in map {
            match key.as_str() {
                "nodeSelector" => out.node_selector = Some(typed(key, value)?),
                "tolerations" => out.tolerations = Some(typed(key, value)?),
                "affinity" => out.affinity = Some(typed(key, value)?),
                "serviceAccountName" => out.service_account_name = Some(typed(key, value)?),
                "imagePullSecrets" => out.image_pull_secrets = Some(typed(key, value)?),
                "annotations" => out.annotations = Some(typed(key, value)?),
                "labels" => out.labels = Some(typed(key, value)?),
                "priorityClassName" => out.priority_class_name = Some(typed(key, value)?),
                "runtimeClassName" => out.runtime_class_name = Some(typed(key, value)?),
                "securityContext" => out.security_context = Some(typed(key, value)?),
                other => {
                    return Err(bad_block(format!(
                        "`{other}` is not a Pod setting this backend passes on"
                    )))
                }
            }
        }
        Ok(out)
    }
}

fn bad_block(why: String) -> BackendError {
    BackendError::Other(format!(
        "the component's `kubernetes:` block does not fit a Pod spec: {why}"
    ))
}

/// `value` as `T`, refusing fields `T` does not have (k8s-openapi would ignore them).
fn typed<T>(key: &str, value: &Value) -> Result<T, BackendError>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let parsed: T =
        serde_json::from_value(value.clone()).map_err(|e| bad_block(format!("`{key}`: {e}")))?;
    let back = serde_json::to_value(&parsed).map_err(|e| bad_block(format!("`{key}`: {e}")))?;
    if let Some(path) = dropped(value, &back, key) {
        return Err(bad_block(format!("unknown field `{path}`")));
    }
    Ok(parsed)
}

/// The first path present (and not null) in `orig` but missing from `round`.
fn dropped(orig: &Value, round: &Value, path: &str) -> Option<String> {
    match (orig, round) {
        (Value::Object(o), Value::Object(r)) => o.iter().find_map(|(k, v)| match r.get(k) {
            Some(rv) => dropped(v, rv, &format!("{path}.{k}")),
            None if v.is_null() => None,
            None => Some(format!("{path}.{k}")),
        }),
        (Value::Object(o), _) if !o.is_empty() => Some(path.to_string()),
        (Value::Array(o), Value::Array(r)) => o
            .iter()
            .zip(r)
            .enumerate()
            .find_map(|(i, (v, rv))| dropped(v, rv, &format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn launch() -> StepLaunch {
        StepLaunch {
            run_id: "01jcz8m9qg3d5n2w7x4y6a8b0c".into(),
            workflow: "ci".into(),
            step_key: "build[os=linux,n=1]".into(),
            attempt: 2,
            image: "registry.example/tools/builder:1.4".into(),
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "echo \"[COUT] pid = $$\" $(CO_ACTION) $CO_INPUT_OS".into(),
            ]),
            env: vec![
                ("CO_DATA".into(), "os=linux n=1".into()),
                ("CO_INPUT_OS".into(), "linux".into()),
                ("LOG_LEVEL".into(), "info".into()),
                ("CO_INPUT_OS".into(), "linux-later".into()),
                ("PRICE".into(), "$(HOME) costs $5".into()),
            ],
            cpu_millis: Some(500),
            memory_bytes: Some(64 << 20),
            swarm: None,
            kubernetes: Some(json!({
                "nodeSelector": { "disk": "ssd" },
                "tolerations": [{ "key": "dedicated", "operator": "Equal", "value": "ci", "effect": "NoSchedule" }],
                "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{ "matchExpressions": [
                        { "key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"] }
                    ]}]
                }}},
                "serviceAccountName": "builder",
                "imagePullSecrets": [{ "name": "regcred" }],
                "annotations": { "team": "platform", "containerops.step": "not this" },
                "labels": { "cost-center": "ci", "containerops.run": "not this" },
                "priorityClassName": "batch-low",
                "runtimeClassName": "gvisor",
                "securityContext": { "runAsUser": 1000, "runAsNonRoot": true, "fsGroup": 2000 }
            })),
            files: Vec::new(),
        }
    }

    fn yaml<T: serde::Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap_or_default()
    }

    #[test]
    fn pod_spec_with_block_resources_env_command_and_pvc() {
        let pod = pod(
            &launch(),
            &WorkspaceVolume::Pvc("co-ws-01jcz8m9qg3d5n2w7x4y6a8b0c".into()),
            None,
            10,
        );
        insta::assert_yaml_snapshot!(yaml(&pod.ok()));
    }

    #[test]
    fn pod_spec_plain_image_emptydir_and_pinned_node() {
        let mut l = launch();
        l.step_key = "say".into();
        l.attempt = 1;
        l.command = None;
        l.cpu_millis = Some(2000);
        l.memory_bytes = Some(256_000_000);
        l.kubernetes = Some(json!({ "nodeSelector": { "disk": "ssd" } }));
        l.env = vec![("CO_INPUT_WHO".into(), "world".into())];
        let pod = pod(&l, &WorkspaceVolume::EmptyDir, Some("node-7"), 30);
        insta::assert_yaml_snapshot!(yaml(&pod.ok()));
    }

    #[test]
    fn names_and_labels_at_the_limits() {
        let mut l = launch();
        l.kubernetes = None;
        l.command = None;
        l.env = vec![];
        l.cpu_millis = None;
        l.memory_bytes = None;
        l.run_id = "Run/With Spaces_and_UPPER".into();
        l.step_key = format!("deploy[region={},tier=web]", "eu-west-".repeat(8));
        l.workflow = "w".repeat(70);
        l.attempt = 12;
        let p = pod(&l, &WorkspaceVolume::EmptyDir, None, 10).unwrap_or_default();
        let meta = &p.metadata;
        let name = meta.name.clone().unwrap_or_default();
        assert!(names::is_dns_label(&name), "{name}");
        for (k, v) in meta.labels.iter().flatten() {
            assert!(names::is_label_value(v), "{k}={v}");
        }
        insta::assert_yaml_snapshot!(yaml(&p.metadata));
        let claim = pvc("Run/With Spaces_and_UPPER", None, "1Gi", false);
        insta::assert_yaml_snapshot!(yaml(&claim.metadata));
    }

    #[test]
    fn pvc_specs() {
        insta::assert_yaml_snapshot!(
            "pvc_rwo_default_class",
            yaml(&pvc("01jcz8m9qg3d5n2w7x4y6a8b0c", None, "1Gi", false))
        );
        insta::assert_yaml_snapshot!(
            "pvc_rwx_named_class",
            yaml(&pvc(
                "01jcz8m9qg3d5n2w7x4y6a8b0c",
                Some("nfs"),
                "20Gi",
                true
            ))
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_quantity(500), "500m");
        assert_eq!(cpu_quantity(250), "250m");
        assert_eq!(cpu_quantity(1000), "1");
        assert_eq!(cpu_quantity(1500), "1500m");
        assert_eq!(memory_quantity(64 << 20), "64Mi");
        assert_eq!(memory_quantity(1 << 30), "1Gi");
        assert_eq!(memory_quantity(256_000_000), "256M");
        assert_eq!(memory_quantity(1000), "1k");
        assert_eq!(memory_quantity(1001), "1001");
        assert_eq!(memory_quantity(0), "0");
    }

    #[test]
    fn expansion_escape_is_undone_by_the_kubelet_rule() {
        // The kubelet's rule: `$$` → `$`, `$(X)` → X's value, anything else verbatim.
        fn kubelet(s: &str) -> String {
            let mut out = String::new();
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek() == Some(&'$') {
                    chars.next();
                    out.push('$');
                } else if c == '$' && chars.peek() == Some(&'(') {
                    out.push_str("<expanded>");
                    for c in chars.by_ref() {
                        if c == ')' {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        for s in ["echo $$", "$(HOME)", "a$", "$$(X)", "$ (", "plain", "$$$"] {
            assert_eq!(kubelet(&escape_expansion(s)), s);
        }
    }

    #[test]
    fn block_fields_the_pod_api_does_not_know_are_refused() {
        let mut l = launch();
        l.kubernetes = Some(json!({ "tolerations": [{ "key": "a", "operater": "Exists" }] }));
        let e = pod(&l, &WorkspaceVolume::EmptyDir, None, 10).unwrap_err();
        assert!(e.to_string().contains("tolerations[0].operater"), "{e}");
        l.kubernetes = Some(json!({ "securityContext": { "runAsUser": "root" } }));
        let e = pod(&l, &WorkspaceVolume::EmptyDir, None, 10).unwrap_err();
        assert!(e.to_string().contains("securityContext"), "{e}");
        l.kubernetes = Some(json!({ "hostNetwork": true }));
        assert!(pod(&l, &WorkspaceVolume::EmptyDir, None, 10).is_err());
    }
}

//! The manifests under deploy/kubernetes, parsed and checked as data: every object names itself,
//! the kustomization applies exactly the manifest files, the Role grants exactly the API calls
//! the Kubernetes backend makes, and the Deployment, ServiceAccount, RoleBinding, Service,
//! Secrets and the server's configuration fit together.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use co_deploy_tests::{
    is_dns_label, kubernetes_dir, load_manifests, parse_documents, repo_root, Manifest,
};
use serde_json::{json, Value};

const KUSTOMIZATION: &str = "kustomization.yaml";

fn manifests() -> Vec<Manifest> {
    load_manifests().unwrap_or_else(|e| panic!("{e}"))
}

/// Example files (`*.example.yaml`) document a shape with placeholders; they are never applied.
fn is_example(file: &str) -> bool {
    file.ends_with(".example.yaml") || file.ends_with(".example.yml")
}

fn kustomization() -> Value {
    let all = manifests();
    let docs: Vec<&Manifest> = all.iter().filter(|m| m.file == KUSTOMIZATION).collect();
    assert_eq!(docs.len(), 1, "{KUSTOMIZATION} must hold one document");
    docs[0].doc.clone()
}

/// The kustomization's namespace (every namespaced object must be in it).
fn namespace() -> String {
    kustomization()["namespace"]
        .as_str()
        .expect("kustomization.yaml sets `namespace:`")
        .to_string()
}

/// The documents `kubectl apply -k deploy/kubernetes` applies.
fn applied() -> Vec<Manifest> {
    let listed: BTreeSet<String> = resources().into_iter().collect();
    manifests()
        .into_iter()
        .filter(|m| listed.contains(&m.file))
        .collect()
}

fn resources() -> Vec<String> {
    kustomization()["resources"]
        .as_array()
        .expect("kustomization.yaml lists `resources:`")
        .iter()
        .map(|r| r.as_str().expect("resources are file names").to_string())
        .collect()
}

/// The only applied object of `kind`.
fn one(kind: &str) -> Manifest {
    let found: Vec<Manifest> = applied().into_iter().filter(|m| m.kind() == kind).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind} in the applied manifests, found {:?}",
        found.iter().map(Manifest::describe).collect::<Vec<_>>()
    );
    found.into_iter().next().unwrap()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} must be a string in {v}"))
}

fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{pointer} must be a list"))
}

fn object_at<'a>(v: &'a Value, pointer: &str) -> &'a serde_json::Map<String, Value> {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{pointer} must be a mapping"))
}

/// The server Deployment's pod spec and its one container.
fn server() -> (Manifest, Value, Value) {
    let deployment = one("Deployment");
    let pod = deployment
        .doc
        .pointer("/spec/template/spec")
        .unwrap()
        .clone();
    let containers = array_at(&pod, "/containers");
    assert_eq!(containers.len(), 1, "the server Pod has one container");
    let container = containers[0].clone();
    (deployment, pod, container)
}

/// The environment of `container` by name.
fn env_of(container: &Value) -> BTreeMap<String, Value> {
    container["env"]
        .as_array()
        .map(|vars| {
            vars.iter()
                .map(|v| (str_at(v, "/name").to_string(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Does `port` (a number or a name) name one of `container`'s ports? Returns its number.
fn container_port(container: &Value, port: &Value) -> Option<u64> {
    array_at(container, "/ports").iter().find_map(|p| {
        let number = p["containerPort"].as_u64()?;
        let matches = match port {
            Value::String(name) => p["name"].as_str() == Some(name),
            Value::Number(n) => n.as_u64() == Some(number),
            _ => false,
        };
        matches.then_some(number)
    })
}

#[test]
fn every_document_has_api_version_kind_and_a_valid_name() {
    let all = manifests();
    assert!(
        all.len() >= 9,
        "expected the manifests under {}, found {}",
        kubernetes_dir().display(),
        all.len()
    );
    let namespace = namespace();
    let mut problems = Vec::new();
    for m in &all {
        let api_version = m.doc.get("apiVersion").and_then(Value::as_str);
        let kind = m.doc.get("kind").and_then(Value::as_str);
        if api_version.is_none_or(str::is_empty) {
            problems.push(format!("{}: no apiVersion", m.describe()));
        }
        if kind.is_none_or(str::is_empty) {
            problems.push(format!("{}: no kind", m.describe()));
        }
        if m.file == KUSTOMIZATION {
            if api_version != Some("kustomize.config.k8s.io/v1beta1")
                || kind != Some("Kustomization")
            {
                problems.push(format!("{}: not a Kustomization", m.describe()));
            }
            continue;
        }
        if !is_dns_label(m.name()) {
            problems.push(format!(
                "{}: metadata.name must be a DNS-1123 label",
                m.describe()
            ));
        }
        let cluster_scoped = matches!(m.kind(), "Namespace" | "ClusterRole" | "ClusterRoleBinding");
        let ns = m.doc.pointer("/metadata/namespace").and_then(Value::as_str);
        if cluster_scoped {
            if ns.is_some() {
                problems.push(format!(
                    "{}: a cluster-scoped object has no namespace",
                    m.describe()
                ));
            }
        } else if ns != Some(namespace.as_str()) {
            problems.push(format!(
                "{}: metadata.namespace must be {namespace:?} (the kustomization's), not {ns:?}",
                m.describe()
            ));
        }
        if m.doc.pointer("/metadata/labels/app.kubernetes.io~1part-of")
            != Some(&json!("containerops"))
        {
            problems.push(format!(
                "{}: label app.kubernetes.io/part-of: containerops missing",
                m.describe()
            ));
        }
        if matches!(m.kind(), "ClusterRole" | "ClusterRoleBinding") {
            problems.push(format!(
                "{}: the server needs no cluster-wide rights",
                m.describe()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn kustomization_lists_every_manifest_and_only_existing_files() {
    let dir = kubernetes_dir();
    let listed = resources();
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "duplicates in resources: {listed:?}"
    );

    let files: BTreeSet<String> = co_deploy_tests::yaml_files(&dir)
        .unwrap()
        .into_iter()
        .filter(|f| f != KUSTOMIZATION)
        .collect();
    let manifests: BTreeSet<&String> = files.iter().filter(|f| !is_example(f)).collect();
    let missing: Vec<&&String> = manifests.difference(&unique).collect();
    let not_there: Vec<&String> = listed.iter().filter(|f| !dir.join(f).is_file()).collect();
    let examples: Vec<&String> = listed.iter().filter(|f| is_example(f)).collect();
    assert!(
        missing.is_empty() && not_there.is_empty() && examples.is_empty(),
        "{KUSTOMIZATION} must list every manifest file in {} and nothing else:\n  \
         not listed: {missing:?}\n  listed but missing: {not_there:?}\n  \
         examples with placeholders (must not be applied): {examples:?}",
        dir.display()
    );
    // Every listed file holds at least one object.
    let all = co_deploy_tests::load_manifests().unwrap();
    for file in &listed {
        assert!(
            all.iter().any(|m| &m.file == file),
            "{file} holds no document"
        );
    }
}

#[test]
fn no_object_is_defined_twice() {
    let mut seen = BTreeSet::new();
    for m in applied() {
        assert!(
            seen.insert((m.kind().to_string(), m.name().to_string())),
            "{} is defined twice",
            m.describe()
        );
    }
}

#[test]
fn the_role_grants_exactly_the_api_calls_of_the_backend() {
    let want: BTreeSet<(String, String, String)> = co_backend_kube::API_CALLS
        .iter()
        .map(|c| {
            (
                c.group.to_string(),
                c.resource.to_string(),
                c.verb.to_string(),
            )
        })
        .collect();
    assert!(
        !want.is_empty(),
        "co_backend_kube::API_CALLS is empty: the backend does not declare its calls yet"
    );

    let role = one("Role");
    let mut got = BTreeSet::new();
    let mut problems = Vec::new();
    for (i, rule) in array_at(&role.doc, "/rules").iter().enumerate() {
        for key in ["resourceNames", "nonResourceURLs"] {
            if rule.get(key).is_some() {
                problems.push(format!("rule {i}: unexpected {key}"));
            }
        }
        let list = |key: &str| -> Vec<String> {
            rule.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("<not a string>").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (groups, resources, verbs) = (list("apiGroups"), list("resources"), list("verbs"));
        if groups.is_empty() || resources.is_empty() || verbs.is_empty() {
            problems.push(format!(
                "rule {i}: needs apiGroups, resources and verbs: {rule}"
            ));
        }
        for g in &groups {
            for r in &resources {
                for v in &verbs {
                    if [g, r, v].iter().any(|s| s.contains('*')) {
                        problems.push(format!("rule {i}: wildcard in ({g:?}, {r}, {v})"));
                    }
                    if !got.insert((g.clone(), r.clone(), v.clone())) {
                        problems.push(format!("rule {i}: ({g:?}, {r}, {v}) granted twice"));
                    }
                }
            }
        }
    }
    let show = |set: Vec<&(String, String, String)>| {
        if set.is_empty() {
            "none".to_string()
        } else {
            set.iter()
                .map(|(g, r, v)| format!("\n      group {g:?}, resource {r}, verb {v}"))
                .collect()
        }
    };
    let missing = show(want.difference(&got).collect());
    let extra = show(got.difference(&want).collect());
    assert!(
        want == got && problems.is_empty(),
        "the Role {:?} in {} must grant exactly co_backend_kube::API_CALLS:\n  \
         missing (the backend makes these calls; the Role does not allow them): {missing}\n  \
         extra (allowed, but the backend never makes them): {extra}\n  {}",
        role.name(),
        role.file,
        problems.join("\n  ")
    );
}

#[test]
fn the_role_binding_binds_that_role_to_the_servers_service_account() {
    let role = one("Role");
    let account = one("ServiceAccount");
    let binding = one("RoleBinding");
    assert_eq!(
        binding.doc["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.name()}),
        "{}",
        binding.describe()
    );
    assert_eq!(
        binding.doc["subjects"],
        json!([{
            "kind": "ServiceAccount",
            "name": account.name(),
            "namespace": str_at(&account.doc, "/metadata/namespace"),
        }]),
        "{}",
        binding.describe()
    );
}

#[test]
fn the_deployment_runs_the_server_image_as_the_service_account() {
    let (deployment, pod, container) = server();
    let account = one("ServiceAccount");
    assert_eq!(
        pod["serviceAccountName"],
        json!(account.name()),
        "{}",
        deployment.describe()
    );
    assert_ne!(pod["automountServiceAccountToken"], json!(false));
    assert_eq!(
        container["image"],
        json!(format!(
            "localhost/containerops/server:{}",
            env!("CARGO_PKG_VERSION")
        )),
        "the image is the one deploy/Containerfile builds, tagged with the workspace version"
    );
    assert_eq!(container["args"], json!(["server"]));
    // The selector matches the template's labels.
    let labels = object_at(&deployment.doc, "/spec/template/metadata/labels");
    for (k, v) in object_at(&deployment.doc, "/spec/selector/matchLabels") {
        assert_eq!(labels.get(k), Some(v), "selector {k}={v} not on the Pods");
    }
}

#[test]
fn the_deployment_has_health_probes_on_the_http_port() {
    let (_, _, container) = server();
    let env = env_of(&container);
    let listen = str_at(&env["CONTAINEROPS_LISTEN"], "/value");
    let listen_port: u64 = listen.rsplit_once(':').unwrap().1.parse().unwrap();
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = container
            .pointer(&format!("/{probe}/httpGet"))
            .unwrap_or_else(|| panic!("{probe} must be an httpGet"));
        assert_eq!(get["path"], json!(path), "{probe}");
        assert_eq!(
            container_port(&container, &get["port"]),
            Some(listen_port),
            "{probe} must target the container port the server listens on ({listen})"
        );
    }
}

#[test]
fn every_container_has_resource_requests_and_a_memory_limit() {
    for m in applied() {
        let Some(pod) = m.doc.pointer("/spec/template/spec") else {
            continue;
        };
        for c in array_at(pod, "/containers") {
            for key in [
                "/resources/requests/cpu",
                "/resources/requests/memory",
                "/resources/limits/memory",
            ] {
                assert!(
                    c.pointer(key).is_some(),
                    "{} container {}: {key} missing",
                    m.describe(),
                    c["name"]
                );
            }
        }
    }
}

#[test]
fn workloads_run_as_non_root_with_a_read_only_root_file_system() {
    let workloads: Vec<Manifest> = applied()
        .into_iter()
        .filter(|m| m.doc.pointer("/spec/template/spec").is_some())
        .collect();
    assert_eq!(workloads.len(), 2, "the server and PostgreSQL");
    for m in workloads {
        let pod = m.doc.pointer("/spec/template/spec").unwrap();
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"],
            json!(true),
            "{}",
            m.describe()
        );
        assert!(
            pod["securityContext"]["runAsUser"].as_u64().unwrap_or(0) > 0,
            "{}: runAsUser must not be root",
            m.describe()
        );
        for c in array_at(pod, "/containers") {
            let sc = &c["securityContext"];
            assert_eq!(
                sc["readOnlyRootFilesystem"],
                json!(true),
                "{}",
                m.describe()
            );
            assert_eq!(
                sc["allowPrivilegeEscalation"],
                json!(false),
                "{}",
                m.describe()
            );
            assert_eq!(
                sc["capabilities"]["drop"],
                json!(["ALL"]),
                "{}",
                m.describe()
            );
        }
    }
}

/// Every `secretKeyRef` of the applied workloads, as (Secret name, key, optional).
fn secret_refs() -> Vec<(String, String, bool, String)> {
    let mut out = Vec::new();
    for m in applied() {
        let Some(pod) = m.doc.pointer("/spec/template/spec") else {
            continue;
        };
        for c in array_at(pod, "/containers") {
            for (name, var) in env_of(c) {
                if let Some(r) = var.pointer("/valueFrom/secretKeyRef") {
                    out.push((
                        str_at(r, "/name").to_string(),
                        str_at(r, "/key").to_string(),
                        r["optional"] == json!(true),
                        format!("{} env {name}", m.describe()),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn secret_values_come_from_secrets_and_are_never_written_in_the_manifests() {
    let (_, _, container) = server();
    let env = env_of(&container);
    for var in ["CONTAINEROPS_DATABASE", "CONTAINEROPS_SECRET_KEY"] {
        let r = env[var]
            .pointer("/valueFrom/secretKeyRef")
            .unwrap_or_else(|| panic!("{var} must come from a Secret (valueFrom.secretKeyRef)"));
        assert_ne!(r["optional"], json!(true), "{var} is required");
    }

    // No variable that looks secret has a literal value, in any workload.
    let secretish = [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "DATABASE",
        "KEY",
        "CREDENTIAL",
    ];
    for m in applied() {
        let Some(pod) = m.doc.pointer("/spec/template/spec") else {
            continue;
        };
        for c in array_at(pod, "/containers") {
            for (name, var) in env_of(c) {
                if secretish.iter().any(|s| name.contains(s)) {
                    assert!(
                        var.get("value").is_none(),
                        "{} env {name}: a secret value must come from a Secret, not `value:`",
                        m.describe()
                    );
                }
            }
        }
    }

    // No Secret object is applied (the real ones are created with kubectl), and no applied file
    // holds a URL with a password.
    for m in applied() {
        assert_ne!(
            m.kind(),
            "Secret",
            "{}: create Secrets with kubectl",
            m.describe()
        );
    }
    for file in resources() {
        let text = std::fs::read_to_string(kubernetes_dir().join(&file)).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            if let Some((_, rest)) = line.split_once("://") {
                let authority = rest.split('/').next().unwrap_or("");
                assert!(
                    !authority.contains('@'),
                    "{file}: a URL with credentials: {line}"
                );
            }
        }
    }
}

#[test]
fn the_example_secrets_define_every_key_the_workloads_use_with_placeholders_only() {
    let examples: Vec<Manifest> = manifests()
        .into_iter()
        .filter(|m| is_example(&m.file))
        .collect();
    let mut defined = BTreeSet::new();
    for m in &examples {
        assert_eq!(m.kind(), "Secret", "{}", m.describe());
        for (key, value) in object_at(&m.doc, "/stringData") {
            let value = value.as_str().unwrap_or("");
            assert!(
                value.contains("CHANGE-ME"),
                "{} {key}: example Secrets hold placeholders (CHANGE-ME), not {value:?}",
                m.describe()
            );
            defined.insert((m.name().to_string(), key.clone()));
        }
        assert!(
            m.doc.get("data").is_none(),
            "{}: use stringData",
            m.describe()
        );
    }
    let refs = secret_refs();
    assert!(refs.len() >= 3, "{refs:?}");
    for (secret, key, _, place) in refs {
        assert!(
            defined.contains(&(secret.clone(), key.clone())),
            "{place} reads key {key:?} of Secret {secret:?}, which secrets.example.yaml does not show"
        );
    }
}

#[test]
fn the_service_selects_the_server_pods_and_targets_the_container_port() {
    let (deployment, _, container) = server();
    let services: Vec<Manifest> = applied()
        .into_iter()
        .filter(|m| m.kind() == "Service")
        .collect();
    let labels = object_at(&deployment.doc, "/spec/template/metadata/labels");
    let service = services
        .iter()
        .find(|s| {
            let selector = object_at(&s.doc, "/spec/selector");
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .unwrap_or_else(|| panic!("no Service selects the server's Pods ({labels:?})"));
    assert!(
        matches!(
            service.doc["spec"]["type"].as_str(),
            None | Some("ClusterIP")
        ),
        "{}",
        service.describe()
    );
    let ports = array_at(&service.doc, "/spec/ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["port"], json!(8080));
    let target = ports[0].get("targetPort").unwrap_or(&ports[0]["port"]);
    assert_eq!(
        container_port(&container, target),
        Some(8080),
        "the Service's targetPort {target} must be the server container's port"
    );
    // It selects only the server, not PostgreSQL.
    let postgres = one("StatefulSet");
    let pg_labels = object_at(&postgres.doc, "/spec/template/metadata/labels");
    let selector = object_at(&service.doc, "/spec/selector");
    assert!(!selector.iter().all(|(k, v)| pg_labels.get(k) == Some(v)));
}

#[test]
fn postgres_is_a_stateful_set_with_a_volume_its_service_and_a_password_from_a_secret() {
    let postgres = one("StatefulSet");
    let pod = postgres.doc.pointer("/spec/template/spec").unwrap();
    let container = &array_at(pod, "/containers")[0];
    let env = env_of(container);
    assert!(env["POSTGRES_PASSWORD"]
        .pointer("/valueFrom/secretKeyRef")
        .is_some());
    let claims = array_at(&postgres.doc, "/spec/volumeClaimTemplates");
    assert_eq!(claims.len(), 1);
    assert!(claims[0]
        .pointer("/spec/resources/requests/storage")
        .is_some());
    let data = str_at(&claims[0], "/metadata/name");
    assert!(array_at(container, "/volumeMounts")
        .iter()
        .any(|m| m["name"] == json!(data)));

    // Its governing Service selects it and targets its port.
    let service_name = str_at(&postgres.doc, "/spec/serviceName");
    let service = applied()
        .into_iter()
        .find(|m| m.kind() == "Service" && m.name() == service_name)
        .unwrap_or_else(|| panic!("no Service {service_name}"));
    let labels = object_at(&postgres.doc, "/spec/template/metadata/labels");
    for (k, v) in object_at(&service.doc, "/spec/selector") {
        assert_eq!(labels.get(k), Some(v));
    }
    let port = &array_at(&service.doc, "/spec/ports")[0];
    assert_eq!(container_port(container, &port["targetPort"]), Some(5432));

    // The example database URL points at it, with its user and database.
    let example = manifests()
        .into_iter()
        .find(|m| is_example(&m.file) && m.name() == "containerops")
        .unwrap();
    let url = str_at(&example.doc, "/stringData/database-url");
    let user = str_at(&env["POSTGRES_USER"], "/value");
    let db = str_at(&env["POSTGRES_DB"], "/value");
    assert_eq!(
        url,
        format!("postgres://{user}:CHANGE-ME@{service_name}:5432/{db}")
    );
}

/// The values of the Deployment's environment: Secret values from the example, the namespace from
/// the downward API.
fn env_values(env: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    let examples: Vec<Manifest> = manifests()
        .into_iter()
        .filter(|m| is_example(&m.file))
        .collect();
    let namespace = namespace();
    let mut values = BTreeMap::new();
    for (name, var) in env {
        let value = if let Some(v) = var.get("value") {
            v.as_str().expect("env values are strings").to_string()
        } else if let Some(r) = var.pointer("/valueFrom/secretKeyRef") {
            let secret = examples
                .iter()
                .find(|m| m.name() == str_at(r, "/name"))
                .unwrap();
            str_at(&secret.doc, &format!("/stringData/{}", str_at(r, "/key"))).to_string()
        } else if let Some(path) = var.pointer("/valueFrom/fieldRef/fieldPath") {
            assert_eq!(path, &json!("metadata.namespace"), "{name}");
            namespace.clone()
        } else {
            panic!("{name}: unexpected {var}");
        };
        values.insert(name.clone(), value);
    }
    values
}

/// The server's configuration from these environment variables, resolved by its own code.
/// Every `CONTAINEROPS_` variable must be one the server reads (a typo would be silently ignored).
fn server_config(values: &BTreeMap<String, String>) -> co_server::ServerConfig {
    let server_vars = co_server::config::env_vars();
    for name in values.keys() {
        assert!(
            server_vars.contains(name)
                || ["CONTAINEROPS_LOG", "CONTAINEROPS_LOG_FORMAT"].contains(&name.as_str()),
            "{name} is not a variable of containerops server ({server_vars:?})",
        );
    }
    let lookup = |name: &str| values.get(name).cloned();
    co_server::ServerOptions::parse(&[], &lookup)
        .and_then(|given| co_server::ServerConfig::resolve(given, &lookup))
        .unwrap_or_else(|e| panic!("the Deployment's configuration is rejected: {e}"))
}

/// The server reads its configuration from the Deployment's environment: resolve it with the
/// server's own code (Secret values from the example, the namespace from the downward API).
#[test]
fn the_deployments_environment_configures_a_kubernetes_server() {
    let (_, _, container) = server();
    let env = env_of(&container);
    let namespace = namespace();
    assert_eq!(
        env["CONTAINEROPS_NAMESPACE"].pointer("/valueFrom/fieldRef/fieldPath"),
        Some(&json!("metadata.namespace")),
        "the namespace comes from the downward API"
    );
    let config = server_config(&env_values(&env));
    assert_eq!(config.backend, co_server::config::BackendKind::Kubernetes);
    assert_eq!(
        config.kubernetes.namespace.as_deref(),
        Some(namespace.as_str())
    );
    assert!(config.database.starts_with("postgres://"));
    assert_eq!(config.listen, "0.0.0.0:8080");
    assert!(
        config.data_dir.starts_with("/var/lib/containerops"),
        "{:?}",
        config.data_dir
    );
    // The data directory is a writable volume (the root file system is read-only).
    let mounts = array_at(&container, "/volumeMounts");
    assert!(mounts
        .iter()
        .any(|m| m["mountPath"] == json!(config.data_dir.display().to_string())));
    // The limits a cluster operator should choose are set, not left to the defaults unseen.
    let limits = &config.limits;
    assert!(limits.max_parallel_steps.is_some(), "{limits:?}");
    let (step_cap, run_cap) = (
        limits.step_log_bytes.unwrap(),
        limits.run_log_bytes.unwrap(),
    );
    assert!(step_cap <= run_cap, "{limits:?}");
    // No step may run as the server's own service account whatever the list says; this one
    // allows none at all (the manifests create no other).
    assert_eq!(config.policy.service_accounts, Some(Vec::new()));
}

/// Options shown commented out in the Deployment (`# - name: CONTAINEROPS_…` with its
/// `#   value: …`): each with its value.
fn commented_out_options(text: &str) -> BTreeMap<String, String> {
    let uncomment = |line: &str| {
        line.trim_start()
            .strip_prefix('#')
            .map(|rest| rest.trim().to_string())
    };
    let mut found = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = uncomment(line)
            .and_then(|l| l.strip_prefix("- name: ").map(str::to_string))
            .filter(|n| n.starts_with("CONTAINEROPS_"))
        else {
            continue;
        };
        let value = lines
            .get(i + 1)
            .and_then(|next| uncomment(next))
            .and_then(|l| l.strip_prefix("value: ").map(str::to_string))
            .unwrap_or_else(|| {
                panic!("{name}: a commented-out option needs its `#   value:` line")
            });
        let doc = parse_documents(&format!("v: {value}"), &name).unwrap_or_else(|e| panic!("{e}"));
        let value = doc[0]["v"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: the value must be a string, as in env"))
            .to_string();
        found.insert(name, value);
    }
    found
}

/// What the Deployment shows commented out, for an operator to switch on, is accepted by the
/// server too, together with everything else.
#[test]
fn the_deployments_commented_out_options_are_accepted_too() {
    let (deployment, _, container) = server();
    let text = std::fs::read_to_string(kubernetes_dir().join(&deployment.file)).unwrap();
    let commented = commented_out_options(&text);
    assert!(
        commented.contains_key("CONTAINEROPS_ALLOWED_REGISTRIES"),
        "{commented:?}"
    );
    let mut values = env_values(&env_of(&container));
    for (name, value) in &commented {
        assert!(
            !values.contains_key(name),
            "{name} is set and commented out"
        );
        values.insert(name.clone(), value.clone());
    }
    let config = server_config(&values);
    assert!(config.policy.registries.is_some_and(|r| !r.is_empty()));
}

/// Every option of the server that an operator of a cluster would set is shown in the
/// Deployment, set or commented out (the newer ones were missing once).
#[test]
fn the_deployment_shows_the_servers_cluster_options() {
    let (deployment, _, container) = server();
    let text = std::fs::read_to_string(kubernetes_dir().join(&deployment.file)).unwrap();
    let mut shown: BTreeSet<String> = env_of(&container).into_keys().collect();
    shown.extend(commented_out_options(&text).into_keys());
    for var in [
        "CONTAINEROPS_MAX_PARALLEL_STEPS",
        "CONTAINEROPS_STEP_LOG_CAP",
        "CONTAINEROPS_RUN_LOG_CAP",
        "CONTAINEROPS_K8S_STOP_GRACE",
        "CONTAINEROPS_ALLOWED_REGISTRIES",
        "CONTAINEROPS_ALLOWED_SERVICE_ACCOUNTS",
        "CONTAINEROPS_K8S_WORKSPACE",
        "CONTAINEROPS_K8S_STORAGE_CLASS",
    ] {
        assert!(
            shown.contains(var),
            "{var} is not shown in {}",
            deployment.file
        );
    }
}

#[test]
fn the_containerfile_builds_the_image_the_deployment_runs() {
    let root = repo_root();
    let containerfile = std::fs::read_to_string(root.join("deploy/Containerfile")).unwrap();
    assert!(containerfile.contains("ARG BASE=localhost/containerops/debian-base:bookworm"));
    assert!(containerfile.contains("FROM ${BASE}"));
    let (_, pod, container) = server();
    let user = pod["securityContext"]["runAsUser"].as_u64().unwrap();
    assert!(
        containerfile.contains(&format!("USER {user}:")),
        "the image runs as the Deployment's runAsUser {user}"
    );
    assert!(containerfile.contains("EXPOSE 8080"));
    let script = std::fs::read_to_string(root.join("deploy/build-image.sh")).unwrap();
    let image = str_at(&container, "/image");
    assert!(
        script.contains(&format!("image=${{1:-{image}}}")),
        "deploy/build-image.sh builds {image} by default"
    );
}

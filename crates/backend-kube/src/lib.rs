//! ContainerOps on Kubernetes: each step attempt is a Pod (`restartPolicy: Never`), each run's
//! workspace a PersistentVolumeClaim, status comes from a watch on the run's Pods, output from
//! the Pod's log (followed), the exit code from the container status.
//!
//! Verified against scripted API-server exchanges only (no cluster can run where this was built);
//! see docs/kubernetes.md for what that means.
//!
//! - [`KubeBackend::connect`] reads kubeconfig (`$KUBECONFIG`, `~/.kube/config`, a context) or
//!   the in-cluster service account; [`KubeBackend::with_client`] takes any `kube::Client` (the
//!   tests give it one whose HTTP service is scripted).
//! - `create_workspace`: PVC `co-ws-<run>` (reused if it exists and belongs to the run), and the
//!   run's Pod watch (`watch`: one `list` + `watch` per run, label `containerops.run`).
//! - `run_step`: the Pod `co-<run>-<step>-<attempt>` (see [`names`], [`spec`]), then the Secrets
//!   of its variables too large for the environment (mounted as files, owned by the Pod); its
//!   state from the run's watch; its log followed from the start; the exit code from
//!   `status.containerStatuses[step].state.terminated`; then the Pod is deleted.
//! - `reattach`: the attempt's Pod found by name (else labels), its whole log from the start,
//!   then as `run_step`.
//! - `finish_run`: every Pod labelled with the run and the PVC deleted, the watch stopped.
//!
//! The k8s-openapi version feature is chosen by the binary (`v1_33`, see docs/kubernetes.md);
//! this library enables none.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use co_backend::{
    labels, Backend, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Workspace,
};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};

mod account;
mod error;
mod logs;
pub mod names;
mod pod_state;
pub mod spec;
mod step;
mod watch;

/// One Kubernetes API call the backend makes, for RBAC (the deploy manifests' Role must grant
/// exactly these; a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiCall {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// `pods`, `pods/log`, `persistentvolumeclaims`, …
    pub resource: &'static str,
    /// `create`, `get`, `list`, `watch`, `delete`, …
    pub verb: &'static str,
}

const fn core(resource: &'static str, verb: &'static str) -> ApiCall {
    ApiCall {
        group: "",
        resource,
        verb,
    }
}

/// Every API call the backend makes, all in the backend's namespace (keep in sync with the code;
/// the RBAC test reads it, and this crate's tests check that the scripted exchanges of every
/// scenario use exactly these).
///
/// | call | where |
/// |---|---|
/// | pods create | `run_step` |
/// | pods get | `reattach` (by name) |
/// | pods list | the run's watch (initial list), `reattach` (by labels), `finish_run` (sweep) |
/// | pods watch | the run's watch |
/// | pods delete | after every attempt, cancel/timeout, `finish_run` |
/// | pods/log get | the step's output (followed; a reattached Pod's with `timestamps=true`) |
/// | persistentvolumeclaims create | `create_workspace` |
/// | persistentvolumeclaims get | `create_workspace` (reuse after a restart) |
/// | persistentvolumeclaims delete | `finish_run` |
/// | secrets create | `run_step`, `reattach`: variables too large for the environment, as files (owned by the Pod, so they go with it; never read, listed or deleted) |
///
/// Besides these, [`KubeBackend::connect`] reads `GET /version` (a non-resource URL every
/// authenticated account may read through the default `system:public-info-viewer` role).
pub const API_CALLS: &[ApiCall] = &[
    core("pods", "create"),
    core("pods", "get"),
    core("pods", "list"),
    core("pods", "watch"),
    core("pods", "delete"),
    core("pods/log", "get"),
    core("persistentvolumeclaims", "create"),
    core("persistentvolumeclaims", "get"),
    core("persistentvolumeclaims", "delete"),
    core("secrets", "create"),
];

/// The `rules:` of the RBAC Role the backend needs in its namespace, generated from
/// [`API_CALLS`] (one rule per resource, verbs in the order listed there), as YAML:
///
/// ```yaml
/// rules:
///   - apiGroups: [""]
///     resources: ["pods"]
///     verbs: ["create", "get", "list", "watch", "delete"]
/// ```
pub fn role_rules_yaml() -> String {
    let mut rules: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for call in API_CALLS {
        match rules
            .iter_mut()
            .find(|(g, r, _)| *g == call.group && *r == call.resource)
        {
            Some((_, _, verbs)) => verbs.push(call.verb),
            None => rules.push((call.group, call.resource, vec![call.verb])),
        }
    }
    let quote = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::from("rules:\n");
    for (group, resource, verbs) in rules {
        out.push_str(&format!(
            "  - apiGroups: [{}]\n    resources: [{}]\n    verbs: [{}]\n",
            quote(&[group]),
            quote(&[resource]),
            quote(&verbs)
        ));
    }
    out
}

/// How a run's workspace is provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceMode {
    /// One PersistentVolumeClaim per run, mounted at `/workspace` in every step, deleted when the
    /// run ends.
    Pvc {
        /// `None`: the cluster's default storage class.
        storage_class: Option<String>,
        /// A Kubernetes quantity, e.g. `1Gi`.
        size: String,
        /// `ReadWriteOnce` (every step of a run is pinned to the node of its first step) or
        /// `ReadWriteMany` (steps may run on any node; the class must support it).
        read_write_many: bool,
    },
    /// No volume: `/workspace` is an `emptyDir` of each Pod (steps share nothing).
    None,
}

impl Default for WorkspaceMode {
    fn default() -> Self {
        WorkspaceMode::Pvc {
            storage_class: None,
            size: "1Gi".into(),
            read_write_many: false,
        }
    }
}

/// Settings of a [`KubeBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeOptions {
    /// `None`: the kubeconfig context's namespace, else `default` (in-cluster: the Pod's own).
    pub namespace: Option<String>,
    /// kubeconfig context (`None`: the current one). Ignored in-cluster.
    pub context: Option<String>,
    pub workspace: WorkspaceMode,
    /// How long a Pod may fail to pull its image (`ErrImagePull`/`ImagePullBackOff`) before the
    /// step fails naming the image.
    pub image_pull_grace: Duration,
    /// Grace period of Pod deletion on cancel and timeout.
    pub stop_grace: Duration,
    /// How long a Pod may stay unschedulable (`PodScheduled=False`, reason `Unschedulable`)
    /// before the step fails with the scheduler's message (a retriable failure: the step's retry
    /// policy decides). A step stopped earlier (timeout, cancel) gets the message as a note in
    /// its log.
    pub unschedulable_grace: Duration,
}

impl Default for KubeOptions {
    fn default() -> Self {
        KubeOptions {
            namespace: None,
            context: None,
            workspace: WorkspaceMode::default(),
            image_pull_grace: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
            unschedulable_grace: Duration::from_secs(300),
        }
    }
}

/// The Kubernetes backend (implements `co_backend::Backend`). Cheap to clone.
///
/// Create it inside a Tokio runtime: each run's Pod watch is a background task.
#[derive(Clone)]
pub struct KubeBackend {
    inner: Arc<Inner>,
    /// The service account our credentials are, if they are one's.
    service_account: Option<String>,
}

pub(crate) struct Inner {
    client: kube::Client,
    namespace: String,
    pub(crate) options: KubeOptions,
    /// The Pod watch of each run with steps in flight (until `finish_run`).
    runs: Mutex<HashMap<String, Arc<watch::RunWatch>>>,
}

impl std::fmt::Debug for KubeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeBackend")
            .field("namespace", &self.inner.namespace)
            .field("options", &self.inner.options)
            .finish()
    }
}

/// How long `connect` waits for the API server's `/version`.
/// Step Pods one server (or `containerops run`) has at once by default.
pub const DEFAULT_PARALLEL_STEPS: usize = 100;

const CONNECT_CHECK: Duration = Duration::from_secs(15);

impl KubeBackend {
    /// Connect with kubeconfig (`$KUBECONFIG`, `~/.kube/config`, the given context) or, inside a
    /// cluster, the service account. Errors say what was tried and what to do.
    pub async fn connect(options: KubeOptions) -> Result<KubeBackend, BackendError> {
        use kube::config::{Config, KubeConfigOptions};
        let hint = "point $KUBECONFIG (or ~/.kube/config) at the cluster and pick a context with \
                    --context, or run inside the cluster with a service account (see \
                    docs/kubernetes.md)";
        let (config, source) = match &options.context {
            Some(context) => {
                let opts = KubeConfigOptions {
                    context: Some(context.clone()),
                    ..KubeConfigOptions::default()
                };
                let config = Config::from_kubeconfig(&opts).await.map_err(|e| {
                    BackendError::Unavailable {
                        message: format!("cannot use kubeconfig context {context}: {e}"),
                        hint: hint.to_string(),
                    }
                })?;
                (config, format!("kubeconfig context {context}"))
            }
            None => match Config::from_kubeconfig(&KubeConfigOptions::default()).await {
                Ok(config) => (config, "kubeconfig, current context".to_string()),
                Err(kubeconfig) => match Config::incluster() {
                    Ok(config) => (config, "in-cluster service account".to_string()),
                    Err(in_cluster) => {
                        return Err(BackendError::Unavailable {
                            message: format!(
                                "no Kubernetes configuration found: kubeconfig: {kubeconfig}; in-cluster: {in_cluster}"
                            ),
                            hint: hint.to_string(),
                        })
                    }
                },
            },
        };
        let namespace = options
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let url = config.cluster_url.clone();
        let service_account = account::config_service_account(&config);
        let client = kube::Client::try_from(config).map_err(|e| BackendError::Unavailable {
            message: format!("cannot set up a client for {url} ({source}): {e}"),
            hint: hint.to_string(),
        })?;
        let unavailable = |why: String| BackendError::Unavailable {
            message: format!("the Kubernetes API server at {url} ({source}) {why}"),
            hint: hint.to_string(),
        };
        match tokio::time::timeout(CONNECT_CHECK, client.apiserver_version()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if error::status(&e).is_some_and(|s| s != 401) => {
                // It answered; an account may be denied /version and still have what it needs.
                tracing::warn!(error = %error::describe(&e), "GET /version refused; going on");
            }
            Ok(Err(e)) => {
                return Err(unavailable(format!(
                    "did not answer: {}",
                    error::describe(&e)
                )))
            }
            Err(_) => {
                return Err(unavailable(format!(
                    "did not answer within {}s",
                    CONNECT_CHECK.as_secs()
                )))
            }
        }
        let mut backend = KubeBackend::with_client(client, namespace, options);
        backend.service_account = service_account;
        Ok(backend)
    }

    /// A backend on an existing client, in `namespace` (`options.namespace` and
    /// `options.context` are not used).
    pub fn with_client(client: kube::Client, namespace: String, options: KubeOptions) -> Self {
        KubeBackend {
            inner: Arc::new(Inner {
                client,
                namespace,
                options,
                runs: Mutex::new(HashMap::new()),
            }),
            service_account: None,
        }
    }

    /// The name of the service account the backend's credentials are (in a cluster, the server's
    /// own), when they are a service account token; `None` otherwise (or on
    /// [`KubeBackend::with_client`], unless set with [`KubeBackend::as_service_account`]).
    pub fn service_account(&self) -> Option<&str> {
        self.service_account.as_deref()
    }

    /// The same backend, known to run as service account `name`.
    pub fn as_service_account(mut self, name: impl Into<String>) -> Self {
        self.service_account = Some(name.into());
        self
    }

    /// The namespace Pods and PVCs are created in.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    pub fn options(&self) -> &KubeOptions {
        &self.inner.options
    }

    /// Delete every Pod labelled with `run_id` and the run's PVC (whatever the workspace mode).
    /// Safe to call for a run that left nothing behind; use it to clean up after a crash.
    pub async fn cleanup_run(&self, run_id: &str) -> Result<(), BackendError> {
        self.inner
            .sweep(run_id, Some(&names::pvc_name(run_id)))
            .await
    }
}

impl Inner {
    pub(crate) fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub(crate) fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pvcs(&self) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Whether the steps of a run are pinned to one node (a ReadWriteOnce workspace).
    pub(crate) fn pins_nodes(&self) -> bool {
        matches!(
            self.options.workspace,
            WorkspaceMode::Pvc {
                read_write_many: false,
                ..
            }
        )
    }

    pub(crate) fn stop_grace_seconds(&self) -> i64 {
        i64::try_from(self.options.stop_grace.as_secs()).unwrap_or(i64::MAX)
    }

    /// The run's Pod watch, started if need be.
    pub(crate) fn run(&self, run_id: &str) -> Arc<watch::RunWatch> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.entry(run_id.to_string())
            .or_insert_with(|| {
                Arc::new(watch::RunWatch::start(
                    self.pods(),
                    spec::run_selector(run_id),
                ))
            })
            .clone()
    }

    fn end_run(&self, run_id: &str) {
        let removed = {
            let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
            runs.remove(run_id)
        };
        if let Some(run) = removed {
            run.stop();
        }
    }

    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError> {
        let name = match &self.options.workspace {
            WorkspaceMode::None => String::new(),
            WorkspaceMode::Pvc {
                storage_class,
                size,
                read_write_many,
            } => {
                let claim = spec::pvc(run_id, storage_class.as_deref(), size, *read_write_many);
                let name = names::pvc_name(run_id);
                let api = self.pvcs();
                match api.create(&PostParams::default(), &claim).await {
                    Ok(_) => {}
                    Err(e) if error::is_conflict(&e) => self.reuse_pvc(&api, &name, run_id).await?,
                    Err(e) => {
                        return Err(error::api(
                            &format!(
                            "creating the workspace PersistentVolumeClaim {name} in namespace {}",
                            self.namespace
                        ),
                            &e,
                        ))
                    }
                }
                name
            }
        };
        // Start the run's Pod watch now: the first step need not wait for it.
        self.run(run_id);
        Ok(Workspace {
            run_id: run_id.to_string(),
            name,
        })
    }

    /// The claim exists: ours (an earlier process of this run made it) or not.
    async fn reuse_pvc(
        &self,
        api: &Api<PersistentVolumeClaim>,
        name: &str,
        run_id: &str,
    ) -> Result<(), BackendError> {
        let existing = api.get(name).await.map_err(|e| {
            error::api(
                &format!("reading the existing PersistentVolumeClaim {name}"),
                &e,
            )
        })?;
        let owner = existing
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::RUN));
        if owner.map(String::as_str) != Some(run_id) {
            return Err(BackendError::Other(format!(
                "a PersistentVolumeClaim named {name} exists in namespace {} but does not belong to run {run_id}; not using it",
                self.namespace
            )));
        }
        if existing.metadata.deletion_timestamp.is_some() {
            return Err(BackendError::Other(format!(
                "the workspace PersistentVolumeClaim {name} of run {run_id} is being deleted"
            )));
        }
        tracing::info!(pvc = name, run = run_id, "reusing the run's workspace");
        Ok(())
    }

    /// Delete every Pod labelled with the run (that is not being deleted already) and the PVC.
    async fn sweep(&self, run_id: &str, pvc: Option<&str>) -> Result<(), BackendError> {
        let mut problems = Vec::new();
        let pods = self.pods();
        let selector = spec::run_selector(run_id);
        match pods.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => {
                for pod in list.items {
                    let owner = pod
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(labels::RUN));
                    if owner.map(String::as_str) != Some(run_id)
                        || pod.metadata.deletion_timestamp.is_some()
                    {
                        continue;
                    }
                    let Some(name) = pod.metadata.name else {
                        continue;
                    };
                    match pods.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(e) if error::is_not_found(&e) => {}
                        Err(e) => {
                            problems.push(format!("deleting Pod {name}: {}", error::describe(&e)))
                        }
                    }
                }
            }
            Err(e) => problems.push(format!(
                "listing the run's Pods ({selector}): {}",
                error::describe(&e)
            )),
        }
        if let Some(pvc) = pvc.filter(|p| !p.is_empty()) {
            match self.pvcs().delete(pvc, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if error::is_not_found(&e) => {}
                Err(e) => problems.push(format!(
                    "deleting the workspace PersistentVolumeClaim {pvc}: {}",
                    error::describe(&e)
                )),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(BackendError::Other(problems.join("; ")))
        }
    }
}

#[async_trait]
impl Backend for KubeBackend {
    fn name(&self) -> &str {
        "kubernetes"
    }

    /// The cluster's nodes run the steps and its scheduler queues what does not fit, so the
    /// server's own cores say nothing: [`DEFAULT_PARALLEL_STEPS`] Pods at once.
    fn default_parallel_steps(&self) -> usize {
        DEFAULT_PARALLEL_STEPS
    }

    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError> {
        self.inner.create_workspace(run_id).await
    }

    async fn run_step(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<StepExit, BackendError> {
        step::run_step(&self.inner, launch, workspace, sink, cancel).await
    }

    async fn reattach(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<Option<StepExit>, BackendError> {
        // The Pod has its volumes already.
        let _ = workspace;
        step::reattach(&self.inner, launch, sink, cancel).await
    }

    async fn finish_run(&self, workspace: &Workspace) -> Result<(), BackendError> {
        let result = self
            .inner
            .sweep(&workspace.run_id, Some(&workspace.name))
            .await;
        self.inner.end_run(&workspace.run_id);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rules_follow_api_calls() {
        let rules = role_rules_yaml();
        assert_eq!(
            rules,
            "rules:\n  - apiGroups: [\"\"]\n    resources: [\"pods\"]\n    verbs: [\"create\", \"get\", \"list\", \"watch\", \"delete\"]\n  - apiGroups: [\"\"]\n    resources: [\"pods/log\"]\n    verbs: [\"get\"]\n  - apiGroups: [\"\"]\n    resources: [\"persistentvolumeclaims\"]\n    verbs: [\"create\", \"get\", \"delete\"]\n  - apiGroups: [\"\"]\n    resources: [\"secrets\"]\n    verbs: [\"create\"]\n"
        );
    }

    /// docs/kubernetes.md shows exactly the generated rules.
    #[test]
    fn the_docs_show_the_generated_rules() {
        let docs = include_str!("../../../docs/kubernetes.md");
        assert!(
            docs.contains(&role_rules_yaml()),
            "docs/kubernetes.md must contain:\n{}",
            role_rules_yaml()
        );
    }
}

//! ContainerOps on Kubernetes: each step attempt is a Pod (`restartPolicy: Never`), each run's
//! workspace a PersistentVolumeClaim, status comes from a watch on the run's Pods, output from
//! the Pod's log (followed), the exit code from the container status.
//!
//! Verified against scripted API-server exchanges only (no cluster can run where this was built);
//! see docs/kubernetes.md for what that means.

use std::time::Duration;

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

/// Every API call the backend makes (keep in sync with the code; the RBAC test reads it).
pub const API_CALLS: &[ApiCall] = &[];

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
}

impl Default for KubeOptions {
    fn default() -> Self {
        KubeOptions {
            namespace: None,
            context: None,
            workspace: WorkspaceMode::default(),
            image_pull_grace: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// The Kubernetes backend (implements `co_backend::Backend`). Cheap to clone.
#[derive(Clone)]
pub struct KubeBackend {
    // implementation detail
}

impl KubeBackend {
    /// Connect with kubeconfig (`$KUBECONFIG`, `~/.kube/config`, the given context) or, inside a
    /// cluster, the service account. Errors say what was tried and what to do.
    pub async fn connect(options: KubeOptions) -> Result<KubeBackend, co_backend::BackendError> {
        todo!("{options:?}")
    }
}

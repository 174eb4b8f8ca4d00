//! Connecting to the backend of a local run (the local container engine, or a Kubernetes
//! cluster), the local component catalog, and building the images a workflow's components need.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use co_backend::Backend;
use co_backend_docker::{DockerBackend, DockerOptions, ImageBuild};
use co_backend_kube::{KubeBackend, KubeOptions};
use co_backend_swarm::{SwarmBackend, SwarmOptions};
use co_spec::{Catalog, Component, Workflow};

/// Components by `name@version` from directories laid out as `NAME/VERSION/component.yaml`:
/// `$CONTAINEROPS_CATALOG` (a `:`-separated list), else `<data dir>/containerops/catalog`.
pub struct DirCatalog {
    roots: Vec<PathBuf>,
}

impl DirCatalog {
    /// Its directories, first first.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Where `component publish` records entries: the first root.
    pub fn publish_root(&self) -> Option<&std::path::Path> {
        self.roots.first().map(PathBuf::as_path)
    }
}

pub fn catalog() -> DirCatalog {
    let roots = match std::env::var_os("CONTAINEROPS_CATALOG") {
        Some(list) => std::env::split_paths(&list).collect(),
        None => crate::paths::database()
            .parent()
            .map(|dir| vec![dir.join("catalog")])
            .unwrap_or_default(),
    };
    DirCatalog { roots }
}

impl Catalog for DirCatalog {
    fn find(&self, name: &str, version: &str) -> Option<(String, PathBuf)> {
        self.roots.iter().find_map(|root| {
            let path = root.join(name).join(version).join("component.yaml");
            std::fs::read_to_string(&path).ok().map(|text| (text, path))
        })
    }
}

/// Connect to the local engine (steps stopped with `stop_grace` between SIGTERM and SIGKILL),
/// or explain how to start one.
pub async fn connect(stop_grace: Duration) -> Result<Arc<DockerBackend>, String> {
    let options = DockerOptions {
        stop_grace,
        ..DockerOptions::default()
    };
    DockerBackend::connect_with(
        &co_backend_docker::discovery::candidates_from_env(),
        options,
    )
    .await
    .map(Arc::new)
    .map_err(|e| format!("error: {e}"))
}

/// Connect to a Kubernetes cluster (kubeconfig or in-cluster; `connect` also checks that the API
/// server answers and accepts the credentials), or explain what to do.
/// The Swarm backend on the swarm manager `$DOCKER_HOST` names (else the usual sockets).
pub async fn connect_swarm(stop_grace: Duration) -> Result<Arc<SwarmBackend>, String> {
    let options = SwarmOptions {
        stop_grace,
        ..SwarmOptions::default()
    };
    SwarmBackend::connect(options)
        .await
        .map(Arc::new)
        .map_err(|e| format!("error: Swarm backend: {e}"))
}

pub async fn connect_kubernetes(options: KubeOptions) -> Result<Arc<KubeBackend>, String> {
    let context = options.context.clone();
    KubeBackend::connect(options)
        .await
        .map(Arc::new)
        .map_err(|e| {
            let text = e.to_string();
            if text.contains("\nhint: ") {
                format!("error: Kubernetes backend: {text}")
            } else {
                format!(
                    "error: Kubernetes backend: {text}\nhint: {}",
                    kube_hint(context.as_deref())
                )
            }
        })
}

/// What to try when the cluster cannot be used.
fn kube_hint(context: Option<&str>) -> String {
    let ctx = context.map_or(String::new(), |c| format!(" --context {c}"));
    format!(
        "the cluster comes from $KUBECONFIG, else ~/.kube/config (its current context, or \
         --context), or from the Pod's service account inside a cluster; check that \
         `kubectl{ctx} get pods` works with the same settings"
    )
}

/// The components of `workflow` whose images `containerops run` would build on a local engine,
/// as `(component, image)`: on Kubernetes nothing is built, the cluster pulls them.
pub fn images_not_built(workflow: &Workflow) -> Vec<(String, String)> {
    buildable_components(workflow)
        .into_iter()
        .map(|(image, c)| (format!("{}@{}", c.name, c.version), image))
        .collect()
}

/// The backend as the driver sees it.
pub fn as_backend<B: Backend + 'static>(backend: Arc<B>) -> Arc<dyn Backend> {
    backend
}

/// Every component of the workflow that has a `build:` section, by image.
pub fn buildable_components(workflow: &Workflow) -> BTreeMap<String, Arc<Component>> {
    let mut out = BTreeMap::new();
    for action in workflow
        .stages
        .iter()
        .flat_map(|s| s.actions.iter())
        .chain(workflow.finally.iter())
    {
        if let co_spec::Runs::Component(c) = &action.runs {
            if c.build.is_some() {
                out.entry(c.image.clone()).or_insert_with(|| c.clone());
            }
        }
    }
    out
}

/// Build `component`'s image, printing progress lines to stderr.
pub async fn build_component(backend: &DockerBackend, component: &Component) -> Result<(), String> {
    let Some(build) = &component.build else {
        return Err(format!(
            "component {} has no build: section; add one (context, containerfile) to build it locally",
            component.name
        ));
    };
    eprintln!(
        "building {} (component {}@{}) from {}",
        component.image,
        component.name,
        component.version,
        build.context.display()
    );
    let name = component.name.clone();
    let request =
        ImageBuild::new(&build.context, &component.image).containerfile(&build.containerfile);
    backend
        .build_image(&request, &mut |line: &str| eprintln!("  [{name}] {line}"))
        .await
        .map(|_| ())
        .map_err(|e| format!("error: building {} failed: {e}", component.image))
}

/// Build the images of the workflow's components that are missing locally (or all, with `always`).
pub async fn ensure_images(
    backend: &DockerBackend,
    workflow: &Workflow,
    always: bool,
) -> Result<(), String> {
    for (image, component) in buildable_components(workflow) {
        let present = backend
            .image_exists(&image)
            .await
            .map_err(|e| format!("error: {e}"))?;
        if always || !present {
            build_component(backend, &component).await?;
        }
    }
    Ok(())
}

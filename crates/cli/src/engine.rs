//! Connecting to the local container engine, the local component catalog, and building the
//! images a workflow's components need.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use co_backend_docker::{DockerBackend, ImageBuild};
use co_spec::{Catalog, Component, Workflow};

/// Components by `name@version` from directories laid out as `NAME/VERSION/component.yaml`:
/// `$CONTAINEROPS_CATALOG` (a `:`-separated list), else `<data dir>/containerops/catalog`.
pub struct DirCatalog {
    roots: Vec<PathBuf>,
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

/// Connect to the local engine, or explain how to start one.
pub async fn connect() -> Result<Arc<DockerBackend>, String> {
    DockerBackend::connect()
        .await
        .map(Arc::new)
        .map_err(|e| format!("error: {e}"))
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

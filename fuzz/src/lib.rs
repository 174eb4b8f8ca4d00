//! What the fuzz targets share: a catalog of the example components (so that workflows that use
//! them validate and reach the planner), and the checks run on every loaded workflow.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use co_spec::{Catalog, Loader, ValidateOptions};

/// The components of `examples/` and of the spec crate's fixtures, by name.
const COMPONENTS: &[(&str, &str)] = &[
    (
        "c-build",
        include_str!("../../examples/ci-pipeline/components/c-build/component.yaml"),
    ),
    (
        "c-test",
        include_str!("../../examples/ci-pipeline/components/c-test/component.yaml"),
    ),
    (
        "checksum",
        include_str!("../../examples/ci-pipeline/components/checksum/component.yaml"),
    ),
    (
        "git-clone",
        include_str!("../../examples/ci-pipeline/components/git-clone/component.yaml"),
    ),
    (
        "package",
        include_str!("../../examples/ci-pipeline/components/package/component.yaml"),
    ),
    (
        "busybox",
        include_str!("../../examples/images/busybox/component.yaml"),
    ),
    (
        "upper",
        include_str!("../../crates/spec/tests/fixtures/good/hello/components/upper/component.yaml"),
    ),
];

/// Resolves `name@version` and paths (by their last segment, `./components/upper` → `upper`)
/// from [`COMPONENTS`]; reads no files, as a server's catalog does not.
pub struct ExampleCatalog;

fn component(name: &str) -> Option<(String, PathBuf)> {
    COMPONENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| {
            (
                text.to_string(),
                PathBuf::from(format!("catalog/{n}/component.yaml")),
            )
        })
}

impl Catalog for ExampleCatalog {
    fn find(&self, name: &str, _version: &str) -> Option<(String, PathBuf)> {
        component(name)
    }

    fn find_path(&self, reference: &str) -> Option<(String, PathBuf)> {
        let dir = reference
            .trim_end_matches('/')
            .trim_end_matches("component.yaml");
        let name = dir.trim_end_matches('/').rsplit('/').next()?;
        component(name)
    }
}

/// Load a workflow as a server does (components from the catalog only); when it loads, plan it
/// and check the plan's shape.
pub fn load_workflow(text: &str) {
    let mut loader = Loader::new(&ExampleCatalog);
    loader.options = ValidateOptions {
        secrets: None,
        catalog_only: true,
    };
    let _ = co_spec::component_references(text);
    match loader.parse_workflow(text, "fuzz/workflow.yaml", Path::new("fuzz")) {
        Ok(workflow) => {
            let _ = workflow.secret_names();
            let plan = co_spec::plan(Arc::new(workflow));
            let n = plan.nodes.len();
            let mut keys = std::collections::HashSet::new();
            for node in &plan.nodes {
                assert!(
                    node.deps.iter().all(|&d| d < n),
                    "a dependency outside the plan"
                );
                assert!(
                    keys.insert(node.key.as_str()),
                    "two steps named {}",
                    node.key
                );
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.0.is_empty(), "an error without a diagnostic");
            for d in &diagnostics.0 {
                assert!(d.span.line >= 1 && d.span.col >= 1, "position 0 in {d}");
                let _ = d.to_string();
            }
        }
    }
}

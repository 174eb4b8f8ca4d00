//! Parsing stored documents: a [`Catalog`] over the components registered in the store, and the
//! one way the server turns a workflow's or component's text into the model (same display paths,
//! same base directory everywhere, so the API's diagnostics and the coordinator's agree).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use co_spec::{Catalog, Component, Diagnostics, Loader, Workflow};
use co_store::{ComponentRecord, Store, StoreError};

/// The directory relative paths in stored documents are resolved against. Stored workflows
/// should use catalog components (`name@version`) or images; a path would be read from this
/// server's disk.
pub const BASE_DIR: &str = "/nonexistent/containerops-server";

/// The file name diagnostics of a submitted workflow show when the client names none.
pub const WORKFLOW_FILE: &str = "workflow.yaml";
/// The file name diagnostics of a submitted component show when the client names none.
pub const COMPONENT_FILE: &str = "component.yaml";

/// The components registered in the store (fetched once; the [`Catalog`] trait is synchronous).
#[derive(Debug, Clone, Default)]
pub struct StoreCatalog {
    entries: HashMap<(String, String), String>,
}

impl StoreCatalog {
    /// Every registered component version.
    pub async fn load(store: &Store) -> Result<StoreCatalog, StoreError> {
        Ok(StoreCatalog::from_records(store.list_components().await?))
    }

    pub fn from_records(records: impl IntoIterator<Item = ComponentRecord>) -> StoreCatalog {
        StoreCatalog {
            entries: records
                .into_iter()
                .map(|r| ((r.name, r.version), r.yaml))
                .collect(),
        }
    }

    /// The path diagnostics in a catalog component show: `catalog/NAME/VERSION/component.yaml`.
    pub fn display_path(name: &str, version: &str) -> PathBuf {
        PathBuf::from(format!("catalog/{name}/{version}/component.yaml"))
    }
}

impl Catalog for StoreCatalog {
    fn find(&self, name: &str, version: &str) -> Option<(String, PathBuf)> {
        self.entries
            .get(&(name.to_string(), version.to_string()))
            .map(|yaml| (yaml.clone(), StoreCatalog::display_path(name, version)))
    }
}

/// Parse and validate a workflow's text with `catalog` (`file`: the name diagnostics show).
pub fn parse_workflow(
    catalog: &dyn Catalog,
    text: &str,
    file: &str,
) -> Result<Workflow, Diagnostics> {
    let mut loader = Loader::new(catalog);
    loader.options.catalog_only = true;
    loader.parse_workflow(text, file, Path::new(BASE_DIR))
}

/// Parse and validate a component's text (`file`: the name diagnostics show).
pub fn parse_component(text: &str, file: &str) -> Result<Component, Diagnostics> {
    Loader::new(&co_spec::NoCatalog).parse_component(text, file, Path::new(BASE_DIR))
}

/// A diagnostic as the API shows it.
pub fn diagnostic_json(d: &co_spec::Diagnostic) -> crate::api::DiagnosticView {
    crate::api::DiagnosticView {
        file: d.span.file.to_string(),
        line: d.span.line,
        col: d.span.col,
        message: d.message.clone(),
        rendered: d.to_string(),
    }
}

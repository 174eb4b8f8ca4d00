//! Parsing stored documents: a [`Catalog`] over the components registered in the store, and the
//! one way the server turns a workflow's or component's text into the model (same display paths,
//! same base directory everywhere, so the API's diagnostics and the coordinator's agree).

use std::collections::{BTreeMap, HashMap};
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

/// The components registered in the store (fetched once; the [`Catalog`] trait is synchronous),
/// and the bindings of component paths of the revision being read (see [`StoreCatalog::bind`]).
#[derive(Debug, Clone, Default)]
pub struct StoreCatalog {
    entries: HashMap<(String, String), String>,
    bindings: BTreeMap<String, String>,
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
            bindings: BTreeMap::new(),
        }
    }

    /// Resolve component paths through `bindings` (the reference as written → `name@version`):
    /// how a stored revision's `component: ./components/x` finds the component `containerops
    /// workflows apply` registered for it. The text itself is never changed.
    pub fn bind(mut self, bindings: BTreeMap<String, String>) -> StoreCatalog {
        self.bindings = bindings;
        self
    }

    /// Whether `name@version` is registered.
    pub fn contains(&self, name: &str, version: &str) -> bool {
        self.entries
            .contains_key(&(name.to_string(), version.to_string()))
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

    fn find_path(&self, reference: &str) -> Option<(String, PathBuf)> {
        let (name, version) = split_binding(self.bindings.get(reference)?)?;
        self.find(name, version)
    }
}

/// `name@version` → (name, version).
pub fn split_binding(binding: &str) -> Option<(&str, &str)> {
    binding.split_once('@').filter(|(name, version)| {
        co_spec::NameKind::Component.is_valid(name) && !version.is_empty()
    })
}

/// The bindings `workflow` uses: those of `bindings` whose reference one of its actions uses.
pub fn used_bindings(
    workflow: &Workflow,
    bindings: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let used: std::collections::HashSet<&str> = workflow
        .stages
        .iter()
        .flat_map(|s| s.actions.iter())
        .chain(workflow.finally.iter())
        .filter_map(|a| a.uses.as_deref())
        .collect();
    bindings
        .iter()
        .filter(|(reference, _)| used.contains(reference.as_str()))
        .map(|(r, b)| (r.clone(), b.clone()))
        .collect()
}

/// The value of a document's top-level `name:` line (unquoted), if it has one: which stored
/// workflow's bindings apply to a submitted text before it is parsed. Only a hint: the parse
/// that follows checks everything.
pub fn top_level_name(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("name")?.trim_start().strip_prefix(':')?;
        let value = rest.split(" #").next().unwrap_or_default().trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        co_spec::NameKind::Workflow
            .is_valid(value)
            .then(|| value.to_string())
    })
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

/// Parse and validate a stored text with the registered components and `bindings` (the
/// component paths of its revision): `Err` only when the store fails, `Ok(Err)` for problems.
pub async fn parse_stored(
    store: &Store,
    text: &str,
    file: &str,
    bindings: BTreeMap<String, String>,
) -> Result<Result<Workflow, Diagnostics>, StoreError> {
    let catalog = StoreCatalog::load(store).await?.bind(bindings);
    Ok(parse_workflow(&catalog, text, file))
}

/// Parse and validate a stored revision as submitted (diagnostics name `workflow.yaml`).
pub async fn parse_revision(
    store: &Store,
    revision: &co_store::WorkflowRevision,
) -> Result<Result<Workflow, Diagnostics>, StoreError> {
    parse_stored(
        store,
        &revision.yaml,
        WORKFLOW_FILE,
        revision.components.clone(),
    )
    .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_names_are_found_in_the_usual_spellings() {
        assert_eq!(top_level_name("# c\nname: ci # x\n").as_deref(), Some("ci"));
        assert_eq!(top_level_name("name: \"a-b\"\n").as_deref(), Some("a-b"));
        assert_eq!(top_level_name("name : 'q'\n").as_deref(), Some("q"));
        assert_eq!(top_level_name("stages:\n  - name: s\n"), None);
        assert_eq!(top_level_name("name: Not Valid\n"), None);
        assert_eq!(top_level_name("names: x\n"), None);
    }

    #[test]
    fn bindings_resolve_paths_to_registered_versions() {
        let catalog = StoreCatalog::from_records([ComponentRecord {
            name: "up".into(),
            version: "1.0.0".into(),
            yaml: "name: up\nversion: 1.0.0\nimage: i\n".into(),
            created_at: String::new(),
        }])
        .bind(BTreeMap::from([
            ("./c/up".to_string(), "up@1.0.0".to_string()),
            ("./c/gone".to_string(), "gone@1.0.0".to_string()),
        ]));
        assert!(catalog.find_path("./c/up").is_some());
        assert!(catalog.find_path("./c/gone").is_none());
        assert!(catalog.find_path("./c/other").is_none());
        assert!(catalog.contains("up", "1.0.0") && !catalog.contains("up", "2.0.0"));
        assert_eq!(split_binding("up@1.0.0"), Some(("up", "1.0.0")));
        assert_eq!(split_binding("Up@1"), None);
        assert_eq!(split_binding("up@"), None);
    }
}

//! ContainerOps file formats (SPEC §2–4) and the execution plan built from them.
//!
//! Invariants:
//! - Parsing never panics and never stops at the first problem: every problem found is returned
//!   as a [`Diagnostic`] located at `file:line:col` (1-based).
//! - A [`Plan`] only exists for a workflow without errors: the engine never re-validates.
//! - The only IO is reading the files a workflow names (components by path), through [`Loader`].
//!
//! Layers: `yaml` (a positioned node tree from `saphyr-parser` events) → `decode` (typed field
//! access that collects diagnostics, with "did you mean" suggestions) → `component` /
//! `workflow` / `seed` (the formats; `triggers` for `triggers:` and `concurrency:`) → `validate`
//! (names, `needs`, cycles, references, component inputs, trigger inputs) → `plan`.
//!
//! Decisions worth knowing:
//! - YAML: 1.2 core schema for plain scalars; quoted and block scalars are strings. Aliases are
//!   resolved by copying (bounded), merge keys (`<<: *x`) work, duplicate keys are errors, one
//!   document per file. Top-level keys starting with `x-` are ignored in workflows and components
//!   (a home for anchors).
//! - Positions: errors point at the offending key or value; for an empty value, at its key. A
//!   problem inside an expression points at the reference (or the parse error) inside the string:
//!   the column is found by walking the scalar's source alongside its value, so escapes,
//!   `''`, block-scalar indentation and line folding are accounted for. The only approximation:
//!   when the two cannot be aligned (unusual layouts), the last aligned position is used; values
//!   built from a mapping or list (`with: { cfg: { a: 1 } }`, passed as JSON text) and seed
//!   subscriptions point at the value or key as a whole.
//! - `command` is only allowed on `image:` steps; a component's command belongs to its
//!   component.yaml (overriding it would bypass the component's contract).
//! - `needs` may name actions of earlier stages or the same stage; `finally` actions always wait
//!   for every stage action and may not have `needs`.
//! - Expressions may only use complete references: `inputs.X`, `actions.NAME.outputs.KEY`,
//!   `actions.NAME.status`, `actions.NAME.artifacts.ART[.sha256|.size|.name]` (a declared
//!   artifact), `secrets.X`, `env.X`, `matrix.K`, `run.id`, `run.status` (finally only),
//!   `trigger.*`. In an action's `env`, `env.X` may only name workflow `env` keys; the
//!   workflow's `env` may use `inputs`, `secrets`, `run.id` and `trigger`.
//! - A reference to a matrix action's outputs (or artifacts) is an error (there is one value per copy); its
//!   `status` is the combined status.
//! - `triggers:` (server extension, docs/triggers.md): cron schedules are checked with
//!   `co_triggers::Schedule::parse` and zones with `co_triggers::check_timezone`, each reported
//!   at its value; trigger `inputs` may only refer to `trigger.*` fields the kind provides.
//!   Seed-format flows have no triggers.
//! - Seed-format flows: see the `seed` module (job naming `stage.action.job`, explicit `needs`,
//!   lenient about fields the model does not use).

pub mod artifacts;
pub mod model;
pub mod names;

mod component;
mod component_tests;
mod decode;
pub mod lint;
mod loader;
mod notify;
mod plan;
mod quantity;
mod seed;
mod suggest;
mod triggers;
mod validate;
mod workflow;
mod yaml;

pub use model::*;
pub use names::{NameKind, MAX_NAME_LEN};

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A position in a source file (1-based line and column; column counts characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE:COL: error: MESSAGE` (SPEC §5).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.span, self.message)
    }
}

/// All problems found in one load; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) found", .0.len())]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// Resolves `component: name@version` references (a catalog). Paths are resolved by the loader,
/// except with [`ValidateOptions::catalog_only`], where the catalog may resolve them instead.
pub trait Catalog {
    /// The component's `component.yaml` text and the path to report in diagnostics.
    fn find(&self, name: &str, version: &str) -> Option<(String, std::path::PathBuf)>;

    /// With `catalog_only`: the component a path reference (exactly as written) stands for, as
    /// [`Catalog::find`] answers — e.g. a server that bound `./components/upper` to a registered
    /// `upper@1.0.0`. `None` (the default): paths are refused.
    fn find_path(&self, _reference: &str) -> Option<(String, std::path::PathBuf)> {
        None
    }
}

/// A catalog with nothing in it.
pub struct NoCatalog;

impl Catalog for NoCatalog {
    fn find(&self, _name: &str, _version: &str) -> Option<(String, std::path::PathBuf)> {
        None
    }
}

/// Options that change what validation knows.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// Names of the secrets that will be provided. `None`: unknown (a `secrets.X` reference is not
    /// checked, e.g. `containerops validate`); `Some`: referencing any other secret is an error.
    pub secrets: Option<Vec<String>>,
    /// Components may only be catalog references (`name@version`), never paths: a stored
    /// workflow on a server must not make the server read its own files.
    pub catalog_only: bool,
}

/// Reads files from disk and resolves component references.
pub struct Loader<'a> {
    pub catalog: &'a dyn Catalog,
    pub options: ValidateOptions,
}

impl<'a> Loader<'a> {
    pub fn new(catalog: &'a dyn Catalog) -> Self {
        Loader {
            catalog,
            options: ValidateOptions::default(),
        }
    }

    /// Load and validate a workflow file of either format (a top-level `uri:` means seed format).
    pub fn load_workflow(&self, path: &Path) -> Result<Workflow, Diagnostics> {
        let text = loader::read(path, "the workflow")?;
        let display = path.display().to_string();
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        self.parse_workflow(&text, &display, &base_dir)
    }

    /// Same, from text already in memory (`display_path` is used in diagnostics; relative
    /// component paths are resolved against `base_dir`).
    pub fn parse_workflow(
        &self,
        text: &str,
        display_path: &str,
        base_dir: &Path,
    ) -> Result<Workflow, Diagnostics> {
        loader::workflow_from_text(self.catalog, &self.options, text, display_path, base_dir)
    }

    /// Load and validate a component: `path` is a `component.yaml` file or a directory holding one.
    pub fn load_component(&self, path: &Path) -> Result<Component, Diagnostics> {
        let file = if path.is_dir() {
            path.join("component.yaml")
        } else {
            path.to_path_buf()
        };
        let text = loader::read(&file, "the component")?;
        let display = file.display().to_string();
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let (c, diags) = loader::component_from_text(&text, &display, &dir, file);
        match c {
            Some(c) if diags.is_empty() => match loader::check_build_files(&c) {
                None => Ok(c),
                Some(d) => Err(Diagnostics(vec![d])),
            },
            _ => Err(Diagnostics(diags)),
        }
    }

    /// Same, from text already in memory: `display_path` is used in diagnostics and recorded as
    /// [`Component::path`]; `base_dir` is the component's directory (for `build.context`).
    pub fn parse_component(
        &self,
        text: &str,
        display_path: &str,
        base_dir: &Path,
    ) -> Result<Component, Diagnostics> {
        let (c, diags) = loader::component_from_text(
            text,
            display_path,
            base_dir,
            std::path::PathBuf::from(display_path),
        );
        match c {
            Some(c) if diags.is_empty() => Ok(c),
            _ => Err(Diagnostics(diags)),
        }
    }
}

/// Every `component:` reference of a native workflow's actions exactly as written (paths and
/// `name@version`), in order, without duplicates; nothing is validated (see [`Loader`] for that).
/// What a client must register before a server, which reads no files, can resolve the paths.
pub fn component_references(text: &str) -> Vec<String> {
    loader::component_references(text)
}

/// Whether a `component:` reference is a catalog reference (`name@version`) rather than a path.
pub fn is_catalog_reference(reference: &str) -> bool {
    loader::is_catalog_reference(reference)
}

/// Build the execution plan of a validated workflow (matrix copies expanded, dependencies resolved).
pub fn plan(workflow: Arc<Workflow>) -> Plan {
    plan::plan(workflow)
}

/// The candidate closest to `word`, if it is close enough to be a likely typo ("did you mean …?").
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    suggest::suggest(word, candidates)
}

/// Every candidate close enough to `word` to be what was meant, closest first (for "not found;
/// close names: …" messages).
pub fn close_names<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    suggest::close_names(word, candidates)
}

/// Parse a duration: `90s`, `10m`, `1h30m`, `500ms`, `2h`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    quantity::parse_duration(text)
}

/// Parse a CPU quantity in cores (`0.5`, `2`, `"500m"`) into millicores.
pub fn parse_cpu(text: &str) -> Result<u64, String> {
    quantity::parse_cpu(text)
}

/// Parse a memory quantity (`64Mi`, `1Gi`, `256M`, `512k`, plain bytes) into bytes.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    quantity::parse_memory(text)
}

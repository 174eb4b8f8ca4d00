//! File reading and component resolution: the only IO of this crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::component::normalize;
use crate::decode::{Cx, NameRule};
use crate::model::{Component, Stage, Workflow};
use crate::workflow::Parsed;
use crate::yaml::{Kind, Pos};
use crate::{Catalog, Diagnostic, Diagnostics, Span, ValidateOptions};

/// The outcome of resolving a `component:` reference.
#[derive(Clone)]
pub(crate) enum Resolved {
    Found(Arc<Component>),
    /// The component file has problems (reported in its own file).
    Invalid,
    /// Not found; the message is reported at the `component:` value.
    Missing(String),
}

/// Resolves `component:` references of one workflow, loading each component once.
pub(crate) struct Resolver<'a> {
    catalog: &'a dyn Catalog,
    /// Directory relative paths are resolved against.
    base_dir: PathBuf,
    /// The same directory as shown in diagnostics (the workflow's display path's directory).
    display_dir: PathBuf,
    cache: HashMap<String, Resolved>,
    /// Refuse component paths (see `ValidateOptions::catalog_only`).
    pub catalog_only: bool,
    /// Problems found in component files (located in those files).
    pub diags: Vec<Diagnostic>,
}

impl<'a> Resolver<'a> {
    pub fn new(catalog: &'a dyn Catalog, base_dir: &Path, display_dir: &Path) -> Self {
        Resolver {
            catalog,
            base_dir: base_dir.to_path_buf(),
            display_dir: display_dir.to_path_buf(),
            cache: HashMap::new(),
            catalog_only: false,
            diags: Vec::new(),
        }
    }

    pub fn resolve(&mut self, reference: &str) -> Resolved {
        if let Some(r) = self.cache.get(reference) {
            return r.clone();
        }
        let r = match catalog_ref(reference) {
            Some((name, version)) => self.lookup_catalog(reference, name, version),
            None if self.catalog_only => match self.catalog.find_path(reference) {
                Some((text, path)) => self.catalog_component(&text, path),
                None => Resolved::Missing(format!(
                    "component `{reference}` is a path, but here components come from the \
                     catalog only: refer to a registered component as `name@version`, or store \
                     the workflow with `containerops workflows apply FILE`, which registers the \
                     components it uses by path and binds their paths"
                )),
            },
            None => self.lookup_path(reference),
        };
        self.cache.insert(reference.to_string(), r.clone());
        r
    }

    fn lookup_catalog(&mut self, reference: &str, name: &str, version: &str) -> Resolved {
        let Some((text, path)) = self.catalog.find(name, version) else {
            return Resolved::Missing(format!(
                "component `{reference}` was not found in the catalog; use a path (like \
                 `./components/{name}`) or add `{reference}` to the catalog"
            ));
        };
        match self.catalog_component(&text, path.clone()) {
            Resolved::Found(c) if c.name != name || c.version != version => {
                Resolved::Missing(format!(
                    "the catalog entry for `{reference}` ({}) is component `{}@{}`",
                    path.display(),
                    c.name,
                    c.version
                ))
            }
            other => other,
        }
    }

    /// A component the catalog gave (its text and display path).
    fn catalog_component(&mut self, text: &str, path: PathBuf) -> Resolved {
        let display = path.display().to_string();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        match self.component(text, &display, &dir, path) {
            Some(c) => Resolved::Found(Arc::new(c)),
            None => Resolved::Invalid,
        }
    }

    fn lookup_path(&mut self, reference: &str) -> Resolved {
        let path = self.base_dir.join(reference);
        let display = normalize(&self.display_dir.join(reference));
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                return Resolved::Missing(format!(
                    "component `{reference}` not found: {}: {}",
                    display.display(),
                    io_message(&e)
                ))
            }
        };
        let (file, display) = if meta.is_dir() {
            let file = path.join("component.yaml");
            let display = display.join("component.yaml");
            if !file.is_file() {
                return Resolved::Missing(format!(
                    "component `{reference}` not found: the directory has no component.yaml \
                     (looked for {})",
                    display.display()
                ));
            }
            (file, display)
        } else {
            (path, display)
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                return Resolved::Missing(format!(
                    "cannot read component `{reference}` ({}): {}",
                    display.display(),
                    io_message(&e)
                ))
            }
        };
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        match self.component(&text, &display.display().to_string(), &dir, file) {
            Some(c) => match check_build_files(&c) {
                None => Resolved::Found(Arc::new(c)),
                Some(d) => {
                    self.diags.push(d);
                    Resolved::Invalid
                }
            },
            None => Resolved::Invalid,
        }
    }

    fn component(
        &mut self,
        text: &str,
        display: &str,
        dir: &Path,
        path: PathBuf,
    ) -> Option<Component> {
        let (c, diags) = component_from_text(text, display, dir, path);
        self.diags.extend(diags);
        c
    }
}

/// Every `component:` value of a native workflow's actions (stages and `finally`), as written,
/// in order, without duplicates. Nothing is validated or resolved; a document that is not a
/// native workflow has none.
pub(crate) fn component_references(text: &str) -> Vec<String> {
    let doc = crate::yaml::parse(text);
    let mut out: Vec<String> = Vec::new();
    let entries = |node: &crate::yaml::Node| match &node.kind {
        Kind::Map(entries) => entries.clone(),
        _ => Vec::new(),
    };
    let field = |node: &crate::yaml::Node, key: &str| {
        entries(node)
            .into_iter()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(_, v)| v)
    };
    let items = |node: Option<crate::yaml::Node>| match node.map(|n| n.kind) {
        Some(Kind::Seq(items)) => items,
        _ => Vec::new(),
    };
    let Some(root) = &doc.root else {
        return out;
    };
    let stage_actions = items(field(root, "stages"))
        .into_iter()
        .flat_map(|stage| items(field(&stage, "actions")));
    for action in stage_actions.chain(items(field(root, "finally"))) {
        let reference = field(&action, "component")
            .and_then(|v| v.scalar().map(|s| s.text.clone()))
            .filter(|r| !r.is_empty());
        if let Some(reference) = reference {
            if !out.contains(&reference) {
                out.push(reference);
            }
        }
    }
    out
}

/// See [`crate::is_catalog_reference`].
pub(crate) fn is_catalog_reference(reference: &str) -> bool {
    catalog_ref(reference).is_some()
}

/// `name@version` (a catalog reference) rather than a path?
fn catalog_ref(reference: &str) -> Option<(&str, &str)> {
    let (name, version) = reference.split_once('@')?;
    let ok = NameRule::Lower.matches(name)
        && !version.is_empty()
        && !version.contains(['/', '\\'])
        && !version.chars().any(char::is_whitespace);
    ok.then_some((name, version))
}

/// For a component read from disk: its `build:` context must be a directory holding the
/// Containerfile it names (a component from a catalog's text is not checked: a server has no
/// files). `None` when there is no `build:` or both exist.
pub(crate) fn check_build_files(component: &Component) -> Option<Diagnostic> {
    let build = component.build.as_ref()?;
    if !build.context.is_dir() {
        return Some(Diagnostic {
            span: build.context_span.clone(),
            message: format!(
                "the build context {} of component `{}` is not a directory (`context:` is \
                 relative to the component's file)",
                build.context.display(),
                component.name
            ),
        });
    }
    let file = build.context.join(&build.containerfile);
    if file.is_file() {
        return None;
    }
    Some(Diagnostic {
        span: build.containerfile_span.clone(),
        message: format!(
            "the Containerfile {} of component `{}` does not exist (`containerfile:` is relative \
             to the build context, default `Containerfile`)",
            file.display(),
            component.name
        ),
    })
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Parse and validate a component's text.
pub(crate) fn component_from_text(
    text: &str,
    display: &str,
    dir: &Path,
    path: PathBuf,
) -> (Option<Component>, Vec<Diagnostic>) {
    let mut cx = Cx::new(display, text);
    let doc = crate::yaml::parse(text);
    for p in &doc.problems {
        cx.error(p.pos, p.message.clone());
    }
    let component = match &doc.root {
        Some(root) => crate::component::parse_component(&mut cx, root, dir, path),
        None => {
            if !doc.syntax_error {
                cx.error(
                    Pos::default(),
                    "the file is empty; a component needs at least `name`, `version` and `image`",
                );
            }
            None
        }
    };
    let diags = finish(cx.diags, display);
    if diags.is_empty() {
        (component, diags)
    } else {
        (None, diags)
    }
}

/// Parse and validate a workflow (either format).
pub(crate) fn workflow_from_text(
    catalog: &dyn Catalog,
    options: &ValidateOptions,
    text: &str,
    display: &str,
    base_dir: &Path,
) -> Result<Workflow, Diagnostics> {
    let mut cx = Cx::new(display, text);
    let doc = crate::yaml::parse(text);
    for p in &doc.problems {
        cx.error(p.pos, p.message.clone());
    }
    let Some(root) = &doc.root else {
        if !doc.syntax_error {
            cx.error(
                Pos::default(),
                "the file is empty; a workflow needs at least `name` and `stages`",
            );
        }
        return Err(Diagnostics(finish(cx.diags, display)));
    };
    let display_dir = Path::new(display)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut resolver = Resolver::new(catalog, base_dir, &display_dir);
    resolver.catalog_only = options.catalog_only;
    let is_seed = match &root.kind {
        Kind::Map(entries) => entries.iter().any(|(k, _)| k.text() == Some("uri")),
        _ => false,
    };
    let parsed = if is_seed {
        crate::seed::decode(&mut cx, root)
    } else {
        crate::workflow::decode(&mut cx, root, &mut resolver)
    };
    crate::validate::validate(&mut cx, &parsed, options);
    let mut diags = cx.diags;
    diags.extend(resolver.diags);
    let diags = finish(diags, display);
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    Ok(assemble(parsed, display, text, &cx.file))
}

fn assemble(p: Parsed, display: &str, text: &str, file: &Arc<str>) -> Workflow {
    let mut stages: Vec<Stage> = p
        .stages
        .iter()
        .map(|(name, pos)| Stage {
            name: name.clone(),
            span: Span {
                file: file.clone(),
                line: pos.line.max(1),
                col: pos.col.max(1),
            },
            actions: Vec::new(),
        })
        .collect();
    let mut finally = Vec::new();
    for (action, src) in p.actions {
        match src.stage.and_then(|s| stages.get_mut(s)) {
            Some(stage) => stage.actions.push(action),
            None => finally.push(action),
        }
    }
    Workflow {
        name: p.name,
        description: p.description,
        format: p.format,
        inputs: p.inputs,
        env: p.env,
        stages,
        finally,
        path: display.to_string(),
        source: text.to_string(),
        triggers: p.triggers.into_iter().filter_map(|t| t.trigger).collect(),
        concurrency: p.concurrency,
        notify: p.notify,
    }
}

/// Sort diagnostics by file (the main file first, then others in order of appearance), line
/// and column; drop exact duplicates.
pub(crate) fn finish(mut diags: Vec<Diagnostic>, main: &str) -> Vec<Diagnostic> {
    let mut files: Vec<Arc<str>> = Vec::new();
    for d in &diags {
        if &*d.span.file != main && !files.contains(&d.span.file) {
            files.push(d.span.file.clone());
        }
    }
    let rank = |f: &Arc<str>| {
        if &**f == main {
            0
        } else {
            files
                .iter()
                .position(|x| x == f)
                .map_or(usize::MAX, |i| i + 1)
        }
    };
    diags.sort_by(|a, b| {
        (rank(&a.span.file), a.span.line, a.span.col).cmp(&(
            rank(&b.span.file),
            b.span.line,
            b.span.col,
        ))
    });
    diags.dedup();
    diags
}

/// Read a file, or a diagnostic at `path:1:1` saying why not.
pub(crate) fn read(path: &Path, what: &str) -> Result<String, Diagnostics> {
    std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            span: Span {
                file: Arc::from(path.display().to_string()),
                line: 1,
                col: 1,
            },
            message: format!("cannot read {what}: {e}"),
        }])
    })
}

#[cfg(test)]
mod tests {
    use super::catalog_ref;

    #[test]
    fn catalog_references() {
        assert_eq!(catalog_ref("upper@1.0.0"), Some(("upper", "1.0.0")));
        assert_eq!(catalog_ref("./upper@1.0.0"), None);
        assert_eq!(catalog_ref("components/upper"), None);
        assert_eq!(catalog_ref("upper@"), None);
        assert_eq!(catalog_ref("dir/x@1/y"), None);
    }

    #[test]
    fn component_references_lists_what_actions_use_as_written() {
        let yaml = "# c\nname: w\nstages:\n  - name: s\n    actions:\n      - name: a\n        \
                    component: ./components/up # x\n      - { name: b, component: \"up@1.0.0\" }\n      \
                    - name: c\n        image: i\n      - name: d\n        component: ./components/up\n\
                    finally:\n  - name: f\n    component: ../f/component.yaml\n";
        assert_eq!(
            super::component_references(yaml),
            ["./components/up", "up@1.0.0", "../f/component.yaml"]
        );
        assert!(super::component_references("uri: a/b/c\nstages: []\n").is_empty());
        assert!(super::component_references("{{{").is_empty());
        assert!(super::is_catalog_reference("up@1.0.0"));
        assert!(!super::is_catalog_reference("./components/up"));
    }

    #[test]
    fn catalog_only_refuses_component_paths_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("component.yaml"),
            "name: c\nversion: 1.0.0\nimage: i\n",
        )
        .unwrap();
        let yaml = format!(
            "name: w\nstages:\n  - name: s\n    actions:\n      - name: a\n        component: {}\n",
            dir.path().display()
        );
        let mut loader = crate::Loader::new(&crate::NoCatalog);
        assert!(loader
            .parse_workflow(&yaml, "w.yaml", std::path::Path::new("."))
            .is_ok());
        loader.options.catalog_only = true;
        let err = loader
            .parse_workflow(&yaml, "w.yaml", std::path::Path::new("."))
            .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(err.0[0].message.contains("is a path"), "{}", err.0[0]);
        assert_eq!((err.0[0].span.line, err.0[0].span.col), (6, 20));
    }

    /// A catalog that binds path references (what a server does for `workflows apply`).
    struct Bound;

    impl crate::Catalog for Bound {
        fn find(&self, _name: &str, _version: &str) -> Option<(String, std::path::PathBuf)> {
            None
        }

        fn find_path(&self, reference: &str) -> Option<(String, std::path::PathBuf)> {
            (reference == "./components/up").then(|| {
                (
                    "name: up\nversion: 2.0.0\nimage: i\noutputs: { r: { type: int } }\n".into(),
                    std::path::PathBuf::from("catalog/up/2.0.0/component.yaml"),
                )
            })
        }
    }

    #[test]
    fn catalog_only_resolves_paths_the_catalog_binds_and_records_the_reference() {
        let yaml = "name: w\nstages:\n  - name: s\n    actions:\n      - name: a\n        \
                    component: ./components/up\n      - name: b\n        component: ./other\n";
        let mut loader = crate::Loader::new(&Bound);
        loader.options.catalog_only = true;
        let err = loader
            .parse_workflow(yaml, "w.yaml", std::path::Path::new("/nonexistent"))
            .unwrap_err();
        assert_eq!(err.0.len(), 1, "{err:?}");
        assert!(
            err.0[0].message.contains("`./other` is a path"),
            "{}",
            err.0[0]
        );
        let yaml = yaml.replace("component: ./other", "image: busybox");
        let wf = loader
            .parse_workflow(&yaml, "w.yaml", std::path::Path::new("/nonexistent"))
            .unwrap();
        let a = &wf.stages[0].actions[0];
        assert_eq!(a.uses.as_deref(), Some("./components/up"));
        assert_eq!(a.component().unwrap().version, "2.0.0");
        assert_eq!(wf.stages[0].actions[1].uses, None);
    }
}

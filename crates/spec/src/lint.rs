//! `containerops component lint DIR`: what makes a component hard to use well, beyond what
//! validation refuses. Each finding names a rule, a severity and the place in component.yaml.

use std::sync::Arc;

use co_protocol::ValueType;

use crate::model::Component;
use crate::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule's name (stable; listed in [`RULES`]).
    pub rule: &'static str,
    pub severity: Severity,
    pub span: Span,
    pub message: String,
}

/// Every rule: name, severity, what it asks for.
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        "missing-description",
        Severity::Warning,
        "the component and each input say what they are (`description:`)",
    ),
    (
        "undocumented-output",
        Severity::Warning,
        "each output says what it holds (`description:`)",
    ),
    (
        "untyped-output",
        Severity::Warning,
        "each output has a `type:` (it defaults to string silently)",
    ),
    (
        "untested-output",
        Severity::Warning,
        "each output is checked by at least one case of `tests:`",
    ),
    ("no-tests", Severity::Warning, "the component has `tests:`"),
    (
        "image-without-tag",
        Severity::Error,
        "`image:` names a tag or a digest (`name:1.2.0`, `name@sha256:…`)",
    ),
    (
        "secret-with-default",
        Severity::Error,
        "a `secret` input has no default (a default is stored in the file for everyone to read)",
    ),
];

fn severity(rule: &str) -> Severity {
    RULES
        .iter()
        .find(|(r, _, _)| *r == rule)
        .map_or(Severity::Warning, |(_, s, _)| *s)
}

/// Whether an image reference names a tag or a digest.
pub fn image_has_tag(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    // A `:` after the last `/` is a tag; one before it is a registry's port.
    let last = image.rsplit('/').next().unwrap_or(image);
    last.contains(':')
}

/// The findings for `component`, whose file's text is `text`, most severe first, then in file
/// order.
pub fn lint(component: &Component, text: &str) -> Vec<Finding> {
    let file: Arc<str> = Arc::from(component.path.display().to_string());
    let top = |key: &str| top_level_span(&file, text, key);
    let mut out = Vec::new();
    let mut add = |rule: &'static str, span: Span, message: String| {
        out.push(Finding {
            rule,
            severity: severity(rule),
            span,
            message,
        });
    };
    if component.description.is_none() {
        add(
            "missing-description",
            top("name"),
            format!(
                "component {} has no `description:`; say in one line what it does",
                component.name
            ),
        );
    }
    for (name, decl) in &component.inputs {
        if decl.description.is_none() {
            add(
                "missing-description",
                decl.span.clone(),
                format!("input `{name}` has no `description:`"),
            );
        }
        if decl.ty == ValueType::Secret && decl.default.is_some() {
            add(
                "secret-with-default",
                decl.span.clone(),
                format!(
                    "secret input `{name}` has a default: the value is in the file for anyone to \
                     read; remove it and pass the secret at run time"
                ),
            );
        }
    }
    for (name, decl) in &component.outputs {
        if !decl.typed {
            add(
                "untyped-output",
                decl.span.clone(),
                format!(
                    "output `{name}` has no `type:` (string by default); write `type: string` \
                     or the type it really has"
                ),
            );
        }
        if decl.description.is_none() {
            add(
                "undocumented-output",
                decl.span.clone(),
                format!("output `{name}` has no `description:`"),
            );
        }
        let tested = component
            .tests
            .iter()
            .any(|t| t.expect.outputs.contains_key(name));
        if !component.tests.is_empty() && !tested {
            add(
                "untested-output",
                decl.span.clone(),
                format!("no case of `tests:` checks output `{name}`"),
            );
        }
    }
    if component.tests.is_empty() {
        add(
            "no-tests",
            top("name"),
            format!(
                "component {} has no `tests:`; add cases that `containerops component test` runs",
                component.name
            ),
        );
    }
    if !image_has_tag(&component.image) {
        add(
            "image-without-tag",
            top("image"),
            format!(
                "image `{}` has no tag, so what runs changes when it is rebuilt or pushed; \
                 write `{}:{}`",
                component.image, component.image, component.version
            ),
        );
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.span.line.cmp(&b.span.line))
    });
    out
}

/// Where a top-level key is written (line 1 when it is not found as `key:` at column 1).
fn top_level_span(file: &Arc<str>, text: &str, key: &str) -> Span {
    let line = text
        .lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map_or(1, |i| i + 1);
    Span {
        file: file.clone(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(text: &str) -> Vec<(&'static str, u32)> {
        let catalog = crate::NoCatalog;
        let c = crate::Loader::new(&catalog)
            .parse_component(text, "c/component.yaml", std::path::Path::new("/tmp"))
            .unwrap();
        lint(&c, text)
            .into_iter()
            .map(|f| (f.rule, f.span.line))
            .collect()
    }

    #[test]
    fn every_rule_fires_at_its_line() {
        let text = "name: c\nversion: 1.0.0\nimage: registry:5000/c\ninputs:\n  token: { type: secret, default: hunter2 }\noutputs:\n  sum: { description: the sum }\n  n: { type: int }\ntests:\n  - name: one\n    expect: { outputs: { sum: x } }\n";
        assert_eq!(
            findings(text),
            vec![
                ("image-without-tag", 3),
                ("secret-with-default", 5),
                ("missing-description", 1),
                ("missing-description", 5),
                ("untyped-output", 7),
                ("undocumented-output", 8),
                ("untested-output", 8),
            ]
        );
    }

    #[test]
    fn a_clean_component_has_no_findings() {
        let text = "name: c\nversion: 1.0.0\ndescription: d\nimage: localhost/c@sha256:abc\noutputs:\n  n: { type: int, description: count }\ntests:\n  - name: one\n    expect: { outputs: { n: 1 } }\n";
        assert!(findings(text).is_empty());
        assert!(image_has_tag("localhost:5000/a/b:1"));
        assert!(!image_has_tag("localhost:5000/a/b"));
    }
}

//! `artifacts:` (on an action and in `component.yaml`): named paths or globs under `/workspace`
//! that a step leaves behind, and the path rules every backend and the artifact store share.
//!
//! A path is written relative to `/workspace` (`dist/app.tar.gz`) or absolute under it
//! (`/workspace/dist`); `..` is refused anywhere (no path may leave the workspace, also not to
//! come back), and so is an absolute path elsewhere. A glob uses `*` and `?` within one path
//! segment and `**` for any number of segments (`reports/**/*.xml`).
//!
//! How a backend reads one (the engine's archive API, `tar` in a Pod): it fetches the tar
//! archive of [`ArtifactPath::fetch_root`] — the path itself, or a glob's leading segments
//! without wildcards — whose entries are named relative to that root's parent directory
//! (`dist/app.tar.gz` for `/workspace/dist`, as `docker cp` names them), and keeps the entries
//! [`ArtifactPath::selects`].

use crate::decode::{Cx, Field, Map};
use crate::model::{ArtifactDecl, ArtifactWhen};
use crate::yaml::Kind;

/// Where every step's workspace is mounted.
pub const WORKSPACE: &str = "/workspace";

/// A checked artifact path: relative to `/workspace`, normalised (no `.` segments, no empty
/// segments, no `..`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArtifactPath {
    /// The path as written (for messages).
    written: String,
    /// The segments under `/workspace` (empty: the whole workspace).
    segments: Vec<String>,
}

impl ArtifactPath {
    /// Check and normalise a path as written in `artifacts:`. The error says what is wrong, in
    /// words.
    pub fn parse(text: &str) -> Result<ArtifactPath, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("an artifact path must not be empty".to_string());
        }
        if trimmed.contains('\0') || trimmed.contains(char::is_control) {
            return Err(format!(
                "artifact path `{}` contains a control character",
                crate::yaml::shorten(trimmed)
            ));
        }
        let relative = if let Some(rest) = trimmed.strip_prefix('/') {
            match rest.strip_prefix("workspace") {
                Some("") => "",
                Some(r) if r.starts_with('/') => r,
                _ => {
                    return Err(format!(
                        "artifact path `{}` is outside {WORKSPACE}: give a path under \
                         {WORKSPACE} (relative paths are taken from there)",
                        crate::yaml::shorten(trimmed)
                    ))
                }
            }
        } else {
            trimmed
        };
        let mut segments = Vec::new();
        for seg in relative.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    return Err(format!(
                        "artifact path `{}` uses `..`; artifacts are taken from under \
                         {WORKSPACE} only, so write the path from there without `..`",
                        crate::yaml::shorten(trimmed)
                    ))
                }
                s => {
                    if s.contains("**") && s != "**" {
                        return Err(format!(
                            "artifact path `{}`: `**` must be a whole path segment (like \
                             `reports/**/*.xml`)",
                            crate::yaml::shorten(trimmed)
                        ));
                    }
                    segments.push(s.to_string())
                }
            }
        }
        Ok(ArtifactPath {
            written: trimmed.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// The normalised path under `/workspace` (`dist/app.tar.gz`; empty for the workspace).
    pub fn relative(&self) -> String {
        self.segments.join("/")
    }

    /// The absolute path in the container (`/workspace/dist/app.tar.gz`).
    pub fn absolute(&self) -> String {
        join_abs(&self.segments)
    }

    /// Whether the path has wildcards (`*`, `?`).
    pub fn is_glob(&self) -> bool {
        self.segments.iter().any(|s| is_pattern(s))
    }

    /// The number of leading segments without wildcards.
    fn fixed_len(&self) -> usize {
        self.segments
            .iter()
            .position(|s| is_pattern(s))
            .unwrap_or(self.segments.len())
    }

    /// What a backend fetches as one tar archive: the path itself, or a glob's leading segments
    /// without wildcards (`/workspace/reports` for `reports/**/*.xml`; `/workspace` for `*.log`).
    pub fn fetch_root(&self) -> String {
        join_abs(self.segments.get(..self.fixed_len()).unwrap_or_default())
    }

    /// The archive's entry names are relative to the fetch root's parent: the segments of the
    /// pattern from the root's own name on (`["workspace", "*.log"]` for `*.log`).
    fn entry_pattern(&self) -> Vec<&str> {
        let fixed = self.fixed_len();
        let mut all: Vec<&str> = vec!["workspace"];
        all.extend(self.segments.iter().map(String::as_str));
        // The fetch root is all[..=fixed]; its parent is all[..fixed].
        all.split_off(fixed)
    }

    /// Where the fetch root's parent is, under `/workspace` (segments); entry names are relative
    /// to it. `None` when the fetch root is `/workspace` itself (its parent, `/`, is outside).
    pub fn entry_base(&self) -> Option<Vec<String>> {
        let fixed = self.fixed_len();
        (fixed > 0).then(|| self.segments.iter().take(fixed - 1).cloned().collect())
    }

    /// Whether an entry of the fetched archive (named relative to the fetch root's parent, `/`
    /// separated, a trailing `/` ignored) belongs to the artifact: for a plain path every entry
    /// does; for a glob, an entry the pattern matches or one inside a directory it matches.
    pub fn selects(&self, entry: &str) -> bool {
        if !self.is_glob() {
            return true;
        }
        let pattern = self.entry_pattern();
        let parts: Vec<&str> = entry
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        (1..=parts.len()).any(|n| glob_segments(&pattern, parts.get(..n).unwrap_or_default()))
    }
}

fn join_abs(segments: &[String]) -> String {
    let mut out = WORKSPACE.to_string();
    for s in segments {
        out.push('/');
        out.push_str(s);
    }
    out
}

fn is_pattern(segment: &str) -> bool {
    segment.contains(['*', '?'])
}

/// Whether `parts` (path segments) match `pattern` (segments; `**` matches any number).
fn glob_segments(pattern: &[&str], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((&"**", rest)) => {
            (0..=parts.len()).any(|skip| glob_segments(rest, parts.get(skip..).unwrap_or_default()))
        }
        Some((p, rest)) => match parts.split_first() {
            Some((first, tail)) => glob_one(p, first) && glob_segments(rest, tail),
            None => false,
        },
    }
}

/// `*` (any characters) and `?` (one character) within one segment. A leading `.` is matched
/// only by a pattern that starts with `.` (as shells do), so `*` does not pick up `.git`.
fn glob_one(pattern: &str, text: &str) -> bool {
    if text.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point for the last `*` (linear in practice).
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|c| *c == '*')
}

const ARTIFACT_FIELDS: &[&str] = &["path", "when"];

/// Decode `artifacts:`: a mapping of name → path, or name → `{ path, when }`.
pub(crate) fn decode(cx: &mut Cx, f: Field<'_>) -> Vec<ArtifactDecl> {
    let mut out = Vec::new();
    if f.value.is_null() {
        return out;
    }
    let Kind::Map(_) = f.value.kind else {
        cx.error(
            f.value_pos(),
            format!(
                "`artifacts` must be a mapping of names to paths under {WORKSPACE}, like \
                 `{{ package: dist/app.tar.gz }}`, found {}",
                f.value.describe()
            ),
        );
        return out;
    };
    let Some(m) = cx.map(f.value, f.value_pos(), "`artifacts`") else {
        return out;
    };
    for item in m.fields() {
        let name = match item.key.text() {
            Some(n) => match crate::NameKind::Artifact.check(n) {
                Ok(()) => Some(n.to_string()),
                Err(message) => {
                    cx.error(item.key.pos, message);
                    None
                }
            },
            None => None,
        };
        let decl = match &item.value.kind {
            Kind::Map(_) => entry_map(cx, item),
            _ => path_value(cx, item).map(|path| (path, ArtifactWhen::Success)),
        };
        if let (Some(name), Some((path, when))) = (name, decl) {
            out.push(ArtifactDecl { name, path, when });
        }
    }
    out
}

fn entry_map(cx: &mut Cx, item: Field<'_>) -> Option<(ArtifactPath, ArtifactWhen)> {
    let what = format!("artifact `{}`", item.key_text());
    let m: Map<'_> = cx.map(item.value, item.value_pos(), &what)?;
    cx.check_keys(&m, ARTIFACT_FIELDS, &what);
    let path = cx
        .required(&m, "path", &what)
        .and_then(|p| path_value(cx, p));
    let when = match m.get("when").filter(|w| !w.value.is_null()) {
        None => Some(ArtifactWhen::Success),
        Some(w) => match w.value.scalar().map(|s| s.text.as_str()) {
            Some("success") => Some(ArtifactWhen::Success),
            Some("failure") => Some(ArtifactWhen::Failure),
            Some("always") => Some(ArtifactWhen::Always),
            _ => {
                cx.error(
                    w.value_pos(),
                    format!(
                        "`when` must be `success` (the default), `failure` or `always`, found {}",
                        w.value.describe()
                    ),
                );
                None
            }
        },
    };
    Some((path?, when?))
}

fn path_value(cx: &mut Cx, f: Field<'_>) -> Option<ArtifactPath> {
    let text = match f.value.scalar() {
        Some(s) if !f.value.is_null() => s.text.clone(),
        _ => {
            cx.error(
                f.value_pos(),
                format!(
                    "artifact `{}` needs a path under {WORKSPACE} (a file, a directory or a glob), \
                     found {}",
                    f.key_text(),
                    f.value.describe()
                ),
            );
            return None;
        }
    };
    match ArtifactPath::parse(&text) {
        Ok(p) => Some(p),
        Err(message) => {
            cx.error(f.value_pos(), message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> ArtifactPath {
        ArtifactPath::parse(text).unwrap()
    }

    #[test]
    fn paths_are_normalised_under_the_workspace() {
        assert_eq!(p("dist/app.tar.gz").relative(), "dist/app.tar.gz");
        assert_eq!(p("/workspace/dist/").relative(), "dist");
        assert_eq!(p("./dist//x").absolute(), "/workspace/dist/x");
        assert_eq!(p("/workspace").relative(), "");
        assert_eq!(p(".").fetch_root(), "/workspace");
    }

    #[test]
    fn escaping_paths_are_refused_with_the_reason() {
        let e = ArtifactPath::parse("../etc/passwd").unwrap_err();
        assert!(e.contains("uses `..`"), "{e}");
        let e = ArtifactPath::parse("dist/../../x").unwrap_err();
        assert!(e.contains("uses `..`"), "{e}");
        let e = ArtifactPath::parse("/etc/passwd").unwrap_err();
        assert!(e.contains("is outside /workspace"), "{e}");
        let e = ArtifactPath::parse("/workspaces/x").unwrap_err();
        assert!(e.contains("is outside /workspace"), "{e}");
        assert!(ArtifactPath::parse("  ").is_err());
        assert!(ArtifactPath::parse("a/b**/c").is_err());
    }

    #[test]
    fn globs_fetch_their_fixed_prefix_and_select_entries() {
        let g = p("reports/**/*.xml");
        assert!(g.is_glob());
        assert_eq!(g.fetch_root(), "/workspace/reports");
        assert_eq!(g.entry_base(), Some(vec![]));
        assert!(g.selects("reports/a.xml"));
        assert!(g.selects("reports/x/y/b.xml"));
        assert!(!g.selects("reports/x/b.txt"));
        assert!(!g.selects("reports"));

        let top = p("*.log");
        assert_eq!(top.fetch_root(), "/workspace");
        assert_eq!(top.entry_base(), None);
        assert!(top.selects("workspace/a.log"));
        assert!(!top.selects("workspace/.hidden.log"));
        assert!(!top.selects("workspace/sub/a.log"));

        let dirs = p("out/*");
        assert!(
            dirs.selects("out/sub/deep/file"),
            "inside a matched directory"
        );
        let q = p("dist/app-?.tgz");
        assert!(q.selects("dist/app-1.tgz"));
        assert!(!q.selects("dist/app-10.tgz"));
        let nested = p("a/b/*.txt");
        assert_eq!(nested.entry_base(), Some(vec!["a".to_string()]));
        assert!(nested.selects("b/x.txt"));
        assert!(p("dist").selects("dist/anything"));
    }

    #[test]
    fn star_matching() {
        assert!(glob_one("*", "abc"));
        assert!(glob_one("a*c", "abbbc"));
        assert!(glob_one("*.tar.gz", "app.tar.gz"));
        assert!(!glob_one("*.tar.gz", "app.tar"));
        assert!(glob_one("a**", "abc"));
        assert!(!glob_one("?", ""));
    }
}

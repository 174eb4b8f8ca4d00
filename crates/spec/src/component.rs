//! `component.yaml` (SPEC §2), and the pieces it shares with workflows: parameter declarations
//! and resources.

use std::path::{Component as PathPart, Path, PathBuf};

use co_protocol::ValueType;
use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::decode::{Cx, Field, NameRule, EXTENSIONS};
use crate::model::{Build, Component, ParamDecl, Resources};
use crate::yaml::{Kind, Node, Value};

const COMPONENT_FIELDS: &[&str] = &[
    "name",
    "version",
    "description",
    "image",
    "build",
    "command",
    "inputs",
    "outputs",
    "resources",
    "timeout",
    "kubernetes",
    "swarm",
    "artifacts",
    "tests",
    EXTENSIONS,
];

/// The Pod-spec keys a component may set in `kubernetes:`.
pub(crate) const KUBERNETES_FIELDS: &[&str] = &[
    "nodeSelector",
    "tolerations",
    "affinity",
    "serviceAccountName",
    "imagePullSecrets",
    "annotations",
    "labels",
    "priorityClassName",
    "runtimeClassName",
    "securityContext",
];

/// Decode a component. `dir` is the directory of the component file (for `build.context`).
pub(crate) fn parse_component(
    cx: &mut Cx,
    root: &Node,
    dir: &Path,
    path: PathBuf,
) -> Option<Component> {
    let m = cx.map(root, root.pos, "a component file")?;
    let what = "component.yaml";
    cx.check_keys(&m, COMPONENT_FIELDS, what);

    let name = cx
        .required(&m, "name", what)
        .and_then(|f| cx.stored_name(f, crate::NameKind::Component));
    let version = cx
        .required(&m, "version", what)
        .and_then(|f| version(cx, f));
    let description = cx.opt_string(m.get("description"));
    let image = cx.required(&m, "image", what).and_then(|f| image(cx, f));
    let build = m.get("build").and_then(|f| build(cx, f, dir));
    let command = m.get("command").and_then(|f| command(cx, f));
    let inputs = m
        .get("inputs")
        .map(|f| params(cx, f, ParamKind::ComponentInput))
        .unwrap_or_default();
    let outputs = m
        .get("outputs")
        .map(|f| params(cx, f, ParamKind::Output))
        .unwrap_or_default();
    let resources = m
        .get("resources")
        .map(|f| resources(cx, f))
        .unwrap_or_default();
    let timeout = m
        .get("timeout")
        .filter(|f| !f.value.is_null())
        .and_then(|f| cx.duration(f, true));
    let kubernetes = m.get("kubernetes").and_then(|f| kubernetes(cx, f));
    let swarm = m.get("swarm").and_then(|f| swarm(cx, f));
    let artifacts = m
        .get("artifacts")
        .map(|f| crate::artifacts::decode(cx, f))
        .unwrap_or_default();
    let tests = m
        .get("tests")
        .map(|f| crate::component_tests::decode(cx, f))
        .unwrap_or_default();
    check_tests(cx, &tests, &inputs, &outputs);

    Some(Component {
        name: name?,
        version: version?,
        description,
        image: image?,
        build,
        command,
        inputs,
        outputs,
        resources,
        timeout,
        kubernetes,
        swarm,
        artifacts,
        tests,
        path,
    })
}

/// Test cases name only declared inputs, and declared outputs when the component declares any.
fn check_tests(
    cx: &mut Cx,
    tests: &[crate::model::ComponentTest],
    inputs: &IndexMap<String, ParamDecl>,
    outputs: &IndexMap<String, ParamDecl>,
) {
    let mut problems = Vec::new();
    for case in tests {
        for name in case.inputs.keys() {
            if !inputs.contains_key(name) {
                problems.push((
                    case.span.clone(),
                    format!(
                        "test `{}` sets input `{name}`, which the component does not declare{}",
                        case.name,
                        crate::suggest::did_you_mean(name, inputs.keys().map(String::as_str))
                    ),
                ));
            }
        }
        if outputs.is_empty() {
            continue;
        }
        for (name, (_, span)) in &case.expect.outputs {
            if !outputs.contains_key(name) {
                problems.push((
                    span.clone(),
                    format!(
                        "test `{}` expects output `{name}`, which the component does not declare{}",
                        case.name,
                        crate::suggest::did_you_mean(name, outputs.keys().map(String::as_str))
                    ),
                ));
            }
        }
    }
    for (span, message) in problems {
        cx.error_at(span, message);
    }
}

fn version(cx: &mut Cx, f: Field<'_>) -> Option<String> {
    let text = cx.string(f)?;
    if crate::quantity::is_semver(&text) {
        Some(text)
    } else {
        let hint = match text.split('.').count() {
            1 => format!(" (write `{text}.0.0`)"),
            2 => format!(" (write `{text}.0`)"),
            _ => String::new(),
        };
        cx.error(
            f.value_pos(),
            format!(
                "`version` must be a semantic version like `1.0.0`, found `{}`{hint}",
                crate::yaml::shorten(&text)
            ),
        );
        None
    }
}

pub(crate) fn image(cx: &mut Cx, f: Field<'_>) -> Option<String> {
    let text = cx.string(f)?;
    if text.trim().is_empty() || text.chars().any(char::is_whitespace) {
        cx.error(
            f.value_pos(),
            format!(
                "`{}` must be an image reference without spaces, like `registry/name:tag`",
                f.key_text()
            ),
        );
        return None;
    }
    Some(text)
}

fn build(cx: &mut Cx, f: Field<'_>, dir: &Path) -> Option<Build> {
    if f.value.is_null() {
        return None;
    }
    let m = cx.map(f.value, f.value_pos(), "`build`")?;
    cx.check_keys(&m, &["context", "containerfile"], "`build`");
    let context_pos = m.get("context").map_or(f.key.pos, |f| f.value_pos());
    let containerfile_pos = m.get("containerfile").map_or(f.key.pos, |f| f.value_pos());
    let context = match m.get("context") {
        Some(f) => cx.string(f)?,
        None => ".".to_string(),
    };
    let containerfile = match m.get("containerfile") {
        Some(f) => cx.string(f)?,
        None => "Containerfile".to_string(),
    };
    Some(Build {
        context: absolute(&dir.join(context)),
        containerfile: PathBuf::from(containerfile),
        containerfile_span: cx.span(containerfile_pos),
        context_span: cx.span(context_pos),
    })
}

/// An absolute, lexically normalised path (no `.`; `..` applied). No file system access.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    normalize(&abs)
}

/// Remove `.` parts and apply `..` lexically.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            PathPart::CurDir => {}
            PathPart::ParentDir => {
                let last_is_normal =
                    matches!(out.components().next_back(), Some(PathPart::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else if !matches!(out.components().next_back(), Some(PathPart::RootDir)) {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn command(cx: &mut Cx, f: Field<'_>) -> Option<Vec<String>> {
    if f.value.is_null() {
        return None;
    }
    if let Kind::Scalar(_) = f.value.kind {
        cx.error(
            f.value_pos(),
            "`command` must be a list of strings, like `[\"/bin/upper\", \"--flag\"]`",
        );
        return None;
    }
    let items = cx.string_list(f, false)?;
    if items.is_empty() {
        cx.error(
            f.value_pos(),
            "`command` must not be empty; leave it out to use the image's entrypoint",
        );
        return None;
    }
    Some(items.into_iter().map(|(s, _)| s).collect())
}

/// Which kind of parameter list is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    ComponentInput,
    WorkflowInput,
    Output,
}

impl ParamKind {
    fn noun(self) -> &'static str {
        match self {
            ParamKind::ComponentInput | ParamKind::WorkflowInput => "input",
            ParamKind::Output => "output",
        }
    }
}

/// `inputs:` / `outputs:` — a mapping from name to `{ type, required, default, description }`.
pub(crate) fn params(cx: &mut Cx, f: Field<'_>, kind: ParamKind) -> IndexMap<String, ParamDecl> {
    let mut out = IndexMap::new();
    if f.value.is_null() {
        return out;
    }
    let key = f.key_text();
    let Some(m) = cx.map(f.value, f.value_pos(), &format!("`{key}`")) else {
        return out;
    };
    let rule = match kind {
        ParamKind::Output => NameRule::OutputKey,
        _ => NameRule::Ident,
    };
    for p in m.fields() {
        let Some(name) = p.key.text() else {
            cx.error(
                p.key.pos,
                format!(
                    "{} names must be strings, found {}",
                    kind.noun(),
                    p.key.describe()
                ),
            );
            continue;
        };
        if !rule.matches(name) {
            cx.error(
                p.key.pos,
                format!("invalid {} name `{name}`: {}", kind.noun(), rule.describe()),
            );
            continue;
        }
        if let Some(decl) = param(cx, p, name, kind) {
            out.insert(name.to_string(), decl);
        }
    }
    out
}

fn param(cx: &mut Cx, p: Field<'_>, name: &str, kind: ParamKind) -> Option<ParamDecl> {
    let span = cx.span(p.key.pos);
    let noun = kind.noun();
    if p.value.is_null() {
        return Some(ParamDecl {
            ty: ValueType::String,
            required: false,
            default: None,
            description: None,
            typed: false,
            span,
        });
    }
    let what = format!("{noun} `{name}`");
    let m = match &p.value.kind {
        Kind::Map(_) => cx.map(p.value, p.value.pos, &what)?,
        _ => {
            cx.error(
                p.value_pos(),
                format!(
                    "{what} must be a mapping like `{{ type: string, required: true }}`, found {}",
                    p.value.describe()
                ),
            );
            return None;
        }
    };
    let known: &[&str] = match kind {
        ParamKind::Output => &["type", "required", "description"],
        _ => &["type", "required", "default", "description"],
    };
    cx.check_keys(&m, known, &what);
    let ty = match m.get("type") {
        None => Some(ValueType::String),
        Some(t) => value_type(cx, t),
    };
    let required = match m.get("required") {
        Some(r) => cx.bool(r).unwrap_or(false),
        None => false,
    };
    let description = cx.opt_string(m.get("description"));
    let default = match (m.get("default"), ty) {
        (Some(d), Some(ty)) if !d.value.is_null() || kind != ParamKind::Output => {
            convert_default(cx, d, ty, &what)
        }
        _ => None,
    };
    Some(ParamDecl {
        // An unknown type was reported; keep the name declared so references to it are not
        // reported as unknown too.
        ty: ty.unwrap_or(ValueType::String),
        required,
        default,
        description,
        typed: m.get("type").is_some(),
        span,
    })
}

fn value_type(cx: &mut Cx, f: Field<'_>) -> Option<ValueType> {
    let names: Vec<&str> = ValueType::ALL.iter().map(|t| t.name()).collect();
    let text = f.value.text().unwrap_or("");
    if let Some(t) = ValueType::from_name(text) {
        if f.value.scalar().is_some_and(|s| s.value() != Value::Null) {
            return Some(t);
        }
    }
    let shown = match &f.value.kind {
        Kind::Scalar(_) if !text.is_empty() => format!("`{}`", crate::yaml::shorten(text)),
        _ => f.value.describe(),
    };
    let hint = match text {
        "integer" | "number" => "; did you mean `int`?".to_string(),
        "boolean" => "; did you mean `bool`?".to_string(),
        "str" | "text" => "; did you mean `string`?".to_string(),
        "object" | "array" | "map" | "list" => "; did you mean `json`?".to_string(),
        _ => crate::suggest::did_you_mean(text, names.iter().copied()),
    };
    cx.error(
        f.value_pos(),
        format!("unknown type {shown}{hint} (types: {})", names.join(", ")),
    );
    None
}

fn convert_default(cx: &mut Cx, d: Field<'_>, ty: ValueType, what: &str) -> Option<Json> {
    let value = d.value.to_json();
    match co_protocol::coerce(&value, ty) {
        Ok(v) => Some(v),
        Err(e) => {
            cx.error(
                d.value_pos(),
                format!("wrong type for the default of {what}: {e}"),
            );
            None
        }
    }
}

/// `resources: { cpu, memory }`.
pub(crate) fn resources(cx: &mut Cx, f: Field<'_>) -> Resources {
    let mut r = Resources::default();
    if f.value.is_null() {
        return r;
    }
    let Some(m) = cx.map(f.value, f.value_pos(), "`resources`") else {
        return r;
    };
    cx.check_keys_hint(&m, &["cpu", "memory"], "`resources`", |k| match k {
        "gpu" | "gpus" => {
            Some("GPUs cannot be requested; `resources` takes `cpu` and `memory`".to_string())
        }
        "mem" | "ram" => Some("did you mean `memory`?".to_string()),
        _ => None,
    });
    if let Some(c) = m.get("cpu").filter(|c| !c.value.is_null()) {
        r.cpu_millis = quantity_text(cx, c).and_then(|t| match crate::parse_cpu(&t) {
            Ok(v) => Some(v),
            Err(e) => {
                cx.error(c.value_pos(), format!("invalid `cpu`: {e}"));
                None
            }
        });
    }
    if let Some(mem) = m.get("memory").filter(|c| !c.value.is_null()) {
        r.memory_bytes = quantity_text(cx, mem).and_then(|t| match crate::parse_memory(&t) {
            Ok(v) => Some(v),
            Err(e) => {
                cx.error(mem.value_pos(), format!("invalid `memory`: {e}"));
                None
            }
        });
    }
    r
}

/// The text of a number or string quantity.
pub(crate) fn quantity_text(cx: &mut Cx, f: Field<'_>) -> Option<String> {
    match f.value.scalar().map(|s| (s.value(), s)) {
        Some((Value::Int(i), _)) => Some(i.to_string()),
        Some((Value::Float(_) | Value::Str(_), s)) => Some(s.text.clone()),
        _ => {
            cx.error(
                f.value_pos(),
                format!(
                    "`{}` must be a number or a string, found {}",
                    f.key_text(),
                    f.value.describe()
                ),
            );
            None
        }
    }
}

/// Shape expected of each `kubernetes:` key.
#[derive(Clone, Copy)]
enum KubeShape {
    /// A mapping of strings (values become strings).
    StringMap,
    List,
    Mapping,
    Str,
}

fn kube_shape(key: &str) -> KubeShape {
    match key {
        "nodeSelector" | "annotations" | "labels" => KubeShape::StringMap,
        "tolerations" | "imagePullSecrets" => KubeShape::List,
        "affinity" | "securityContext" => KubeShape::Mapping,
        _ => KubeShape::Str,
    }
}

fn kubernetes(cx: &mut Cx, f: Field<'_>) -> Option<Json> {
    if f.value.is_null() {
        return None;
    }
    let m = cx.map(f.value, f.value_pos(), "`kubernetes`")?;
    cx.check_keys_hint(
        &m,
        KUBERNETES_FIELDS,
        "`kubernetes` (Pod spec settings)",
        |k| match k {
            "resources" | "timeout" | "command" | "image" => Some(format!(
                "set `{k}` at the top level of component.yaml, not under `kubernetes`"
            )),
            _ => None,
        },
    );
    let mut out = serde_json::Map::new();
    let mut ok = true;
    for e in m.fields() {
        let Some(key) = e.key.text() else { continue };
        if !KUBERNETES_FIELDS.contains(&key) {
            ok = false;
            continue;
        }
        let value = match (kube_shape(key), &e.value.kind) {
            (KubeShape::StringMap, Kind::Map(entries)) => {
                let mut obj = serde_json::Map::new();
                for (k, v) in entries {
                    match (k.text(), v.scalar()) {
                        (Some(k), Some(s)) => {
                            obj.insert(k.to_string(), Json::String(s.text.clone()));
                        }
                        _ => {
                            ok = false;
                            cx.error(
                                v.pos,
                                format!(
                                    "values of `kubernetes.{key}` must be strings, found {}",
                                    v.describe()
                                ),
                            );
                        }
                    }
                }
                Json::Object(obj)
            }
            (KubeShape::List, Kind::Seq(_)) | (KubeShape::Mapping, Kind::Map(_)) => {
                e.value.to_json()
            }
            (KubeShape::Str, Kind::Scalar(s)) if s.value() != Value::Null => {
                Json::String(s.text.clone())
            }
            (shape, _) => {
                ok = false;
                let expected = match shape {
                    KubeShape::StringMap | KubeShape::Mapping => "a mapping",
                    KubeShape::List => "a list",
                    KubeShape::Str => "a string",
                };
                cx.error(
                    e.value_pos(),
                    format!(
                        "`kubernetes.{key}` must be {expected}, found {}",
                        e.value.describe()
                    ),
                );
                continue;
            }
        };
        out.insert(key.to_string(), value);
    }
    ok.then_some(Json::Object(out))
}

/// The keys of `swarm:`.
pub(crate) const SWARM_FIELDS: &[&str] = &["constraints", "preferences", "reservations"];

/// `swarm: { constraints: [..], preferences: [..], reservations: { cpu, memory } }`: placement
/// and reservations of the Swarm backend's services, as the JSON that backend reads
/// (`{"constraints": [..], "preferences": [..], "reservations": {"cpu_millis", "memory_bytes"}}`).
fn swarm(cx: &mut Cx, f: Field<'_>) -> Option<Json> {
    if f.value.is_null() {
        return None;
    }
    let m = cx.map(f.value, f.value_pos(), "`swarm`")?;
    cx.check_keys_hint(
        &m,
        SWARM_FIELDS,
        "`swarm` (Swarm service settings)",
        |k| match k {
            "resources" | "timeout" | "command" | "image" => Some(format!(
                "set `{k}` at the top level of component.yaml, not under `swarm`"
            )),
            "placement" => {
                Some("write `constraints` and `preferences` directly under `swarm`".to_string())
            }
            _ => None,
        },
    );
    let mut out = serde_json::Map::new();
    let mut ok = true;
    for key in ["constraints", "preferences"] {
        let Some(e) = m.get(key).filter(|e| !e.value.is_null()) else {
            continue;
        };
        let Kind::Seq(items) = &e.value.kind else {
            ok = false;
            cx.error(
                e.value_pos(),
                format!(
                    "`swarm.{key}` must be a list of strings, found {}",
                    e.value.describe()
                ),
            );
            continue;
        };
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            match item.scalar() {
                Some(s) if s.value() != Value::Null && !s.text.trim().is_empty() => {
                    list.push(Json::String(s.text.trim().to_string()));
                }
                _ => {
                    ok = false;
                    cx.error(
                        item.pos,
                        format!(
                            "entries of `swarm.{key}` must be non-empty strings, found {}",
                            item.describe()
                        ),
                    );
                }
            }
        }
        out.insert(key.to_string(), Json::Array(list));
    }
    if let Some(e) = m.get("reservations").filter(|e| !e.value.is_null()) {
        let r = resources(cx, e);
        out.insert(
            "reservations".to_string(),
            serde_json::json!({ "cpu_millis": r.cpu_millis, "memory_bytes": r.memory_bytes }),
        );
    }
    ok.then_some(Json::Object(out))
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::Path;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(normalize(Path::new("a/../../b")), Path::new("../b"));
        assert_eq!(normalize(Path::new("/..")), Path::new("/"));
        assert_eq!(normalize(Path::new("./")), Path::new("."));
    }
}

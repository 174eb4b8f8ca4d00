//! `containerops component list | show | docs`: the local catalog (`CONTAINEROPS_CATALOG`,
//! entries NAME/VERSION/component.yaml, as `component publish` writes them).

use std::path::{Path, PathBuf};

use clap::Args;
use co_spec::{Component, Loader};
use serde_json::{json, Value};

use crate::exit;

#[derive(Args)]
pub struct ListArgs {
    /// Only components whose name or description contains this text (case-insensitive).
    pub search: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: super::run::OutputFormat,
}

#[derive(Args)]
pub struct ShowArgs {
    /// NAME or NAME@VERSION (without a version: the highest).
    pub reference: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: super::run::OutputFormat,
}

/// One entry of the local catalog.
struct Entry {
    name: String,
    version: String,
    dir: PathBuf,
}

fn entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for root in crate::engine::catalog().roots() {
        let Ok(names) = std::fs::read_dir(root) else {
            continue;
        };
        for name in names.flatten() {
            let Ok(versions) = std::fs::read_dir(name.path()) else {
                continue;
            };
            for version in versions.flatten() {
                let dir = version.path();
                if !dir.join("component.yaml").is_file() {
                    continue;
                }
                let (name, version) = (
                    name.file_name().to_string_lossy().to_string(),
                    version.file_name().to_string_lossy().to_string(),
                );
                // An earlier root wins, as when a workflow resolves NAME@VERSION.
                if !out.iter().any(|e| e.name == name && e.version == version) {
                    out.push(Entry { name, version, dir });
                }
            }
        }
    }
    out.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| semver_key(&a.version).cmp(&semver_key(&b.version)))
    });
    out
}

/// Orders `1.10.0` after `1.9.0` (pre-release and build parts compared as text).
fn semver_key(v: &str) -> (Vec<u64>, String) {
    let (core, rest) = v.split_once(['-', '+']).unwrap_or((v, ""));
    (
        core.split('.').map(|p| p.parse().unwrap_or(0)).collect(),
        rest.to_string(),
    )
}

fn load(entry: &Entry) -> Option<Component> {
    let catalog = co_spec::NoCatalog;
    Loader::new(&catalog).load_component(&entry.dir).ok()
}

fn published(dir: &Path) -> Value {
    std::fs::read_to_string(dir.join("published.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

pub fn list(args: &ListArgs) -> u8 {
    let needle = args.search.as_deref().map(str::to_lowercase);
    let mut rows = Vec::new();
    for e in entries() {
        let c = load(&e);
        let description = c
            .as_ref()
            .and_then(|c| c.description.clone())
            .unwrap_or_default();
        if let Some(n) = &needle {
            if !e.name.to_lowercase().contains(n) && !description.to_lowercase().contains(n) {
                continue;
            }
        }
        let p = published(&e.dir);
        rows.push(json!({
            "name": e.name,
            "version": e.version,
            "description": description,
            "image": c.as_ref().map(|c| c.image.clone()),
            "digest": p.get("digest").cloned().unwrap_or(Value::Null),
        }));
    }
    if args.output == super::run::OutputFormat::Json {
        println!("{}", json!({ "components": rows }));
        return exit::OK;
    }
    if rows.is_empty() && needle.is_some() {
        eprintln!("no component of the local catalog matches; `containerops component list` shows them all");
        return exit::OK;
    }
    if rows.is_empty() {
        eprintln!("no components in the local catalog (CONTAINEROPS_CATALOG); `containerops component publish DIR` adds one");
        return exit::OK;
    }
    for r in &rows {
        println!(
            "{}@{}  {}",
            r["name"].as_str().unwrap_or(""),
            r["version"].as_str().unwrap_or(""),
            r["description"].as_str().unwrap_or("")
        );
    }
    exit::OK
}

fn find(reference: &str) -> Result<(Entry, Component), String> {
    let (name, version) = match reference.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (reference, None),
    };
    let all = entries();
    let entry = all
        .into_iter()
        .rfind(|e| e.name == name && version.is_none_or(|v| e.version == v))
        .ok_or_else(|| {
            format!("{reference} is not in the local catalog; `containerops component list` shows what is")
        })?;
    let c = load(&entry).ok_or_else(|| {
        format!(
            "{}@{}: its component.yaml in {} does not load; `containerops validate` it",
            entry.name,
            entry.version,
            entry.dir.display()
        )
    })?;
    Ok((entry, c))
}

fn params_json(params: &indexmap::IndexMap<String, co_spec::ParamDecl>) -> Value {
    Value::Array(
        params
            .iter()
            .map(|(n, d)| {
                json!({
                    "name": n,
                    "type": d.ty.name(),
                    "required": d.required,
                    "default": d.default,
                    "description": d.description,
                })
            })
            .collect(),
    )
}

pub fn show(args: &ShowArgs) -> u8 {
    let (entry, c) = match find(&args.reference) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let p = published(&entry.dir);
    if args.output == super::run::OutputFormat::Json {
        println!(
            "{}",
            json!({
                "name": c.name,
                "version": c.version,
                "description": c.description,
                "image": c.image,
                "digest": p.get("digest").cloned().unwrap_or(Value::Null),
                "published_at": p.get("published_at").cloned().unwrap_or(Value::Null),
                "inputs": params_json(&c.inputs),
                "outputs": params_json(&c.outputs),
                "tests": c.tests.len(),
                "path": entry.dir,
            })
        );
        return exit::OK;
    }
    println!("{}@{}", c.name, c.version);
    if let Some(d) = &c.description {
        println!("  {d}");
    }
    println!("image:     {}", c.image);
    if let Some(at) = p.get("published_at").and_then(Value::as_str) {
        println!("published: {at}");
    }
    println!("entry:     {}", entry.dir.display());
    print!("{}", params_text(&c));
    exit::OK
}

fn params_text(c: &Component) -> String {
    let mut out = String::new();
    for (title, params) in [("inputs", &c.inputs), ("outputs", &c.outputs)] {
        if params.is_empty() {
            continue;
        }
        out.push_str(&format!("{title}:\n"));
        for (n, d) in params {
            let mut extra = Vec::new();
            if d.required {
                extra.push("required".to_string());
            }
            if let Some(v) = &d.default {
                extra.push(format!("default {v}"));
            }
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(" ({})", extra.join(", "))
            };
            out.push_str(&format!(
                "  {n}: {}{extra}{}\n",
                d.ty.name(),
                d.description
                    .as_deref()
                    .map(|t| format!(" — {t}"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

/// The docs of a catalog entry as Markdown: its contract in tables, then its README.
pub fn docs_markdown(c: &Component, readme: Option<&str>) -> String {
    let mut md = format!("# {}@{}\n\n", c.name, c.version);
    if let Some(d) = &c.description {
        md.push_str(&format!("{d}\n\n"));
    }
    md.push_str(&format!("Image: `{}`\n\n", c.image));
    md.push_str(&format!(
        "```yaml\n- name: {name}\n  component: {name}@{version}\n```\n\n",
        name = c.name,
        version = c.version
    ));
    for (title, params) in [("Inputs", &c.inputs), ("Outputs", &c.outputs)] {
        if params.is_empty() {
            continue;
        }
        md.push_str(&format!(
            "## {title}\n\n| name | type | required | default | description |\n|---|---|---|---|---|\n"
        ));
        for (n, d) in params {
            md.push_str(&format!(
                "| `{n}` | {} | {} | {} | {} |\n",
                d.ty.name(),
                if d.required { "yes" } else { "no" },
                d.default
                    .as_ref()
                    .map(|v| format!("`{v}`"))
                    .unwrap_or_default(),
                d.description.as_deref().unwrap_or("").replace('|', "\\|")
            ));
        }
        md.push('\n');
    }
    if let Some(r) = readme {
        md.push_str("## README\n\n");
        md.push_str(r);
    }
    md
}

pub fn docs(args: &ShowArgs) -> u8 {
    let (entry, c) = match find(&args.reference) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let readme = std::fs::read_to_string(entry.dir.join("README.md")).ok();
    let md = docs_markdown(&c, readme.as_deref());
    if args.output == super::run::OutputFormat::Json {
        println!(
            "{}",
            json!({ "name": c.name, "version": c.version, "markdown": md })
        );
    } else {
        print!("{md}");
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::semver_key;

    #[test]
    fn versions_order_numerically() {
        assert!(semver_key("1.10.0") > semver_key("1.9.0"));
        assert!(semver_key("0.2.0") > semver_key("0.1.5"));
    }
}

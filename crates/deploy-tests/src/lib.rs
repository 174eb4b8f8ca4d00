//! Helpers for the tests of `deploy/` (this crate has tests only; nothing here is shipped).
//!
//! [`load_manifests`] parses every YAML file under `deploy/kubernetes` (multi-document, with
//! serde-saphyr into `serde_json::Value`), so the tests can check the manifests as data: each
//! object names itself, the kustomization lists exactly the files, the Role grants exactly the
//! backend's API calls, the Deployment, Service and RoleBinding fit together. [`promql`] finds
//! the metric names in the Grafana dashboard's queries (`deploy/grafana`), which are checked
//! against the metrics the server exposes.

pub mod promql;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `deploy/kubernetes`.
pub fn kubernetes_dir() -> PathBuf {
    repo_root().join("deploy/kubernetes")
}

/// `deploy/grafana`.
pub fn grafana_dir() -> PathBuf {
    repo_root().join("deploy/grafana")
}

/// One YAML document of a manifest file.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file's path relative to `deploy/kubernetes` (`role.yaml`).
    pub file: String,
    /// 0-based index of the document in its file.
    pub index: usize,
    pub doc: Value,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.doc.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `file#index (Kind/name)`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{}#{} ({}/{})",
            self.file,
            self.index,
            self.kind(),
            self.name()
        )
    }
}

/// Every `.yaml`/`.yml` file under `dir`, recursively, sorted, as paths relative to `dir`.
pub fn yaml_files(dir: &Path) -> Result<Vec<String>, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                out.push(relative.to_string_lossy().into_owned());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Parse a (multi-document) YAML text; empty documents (a trailing `---`) are dropped.
pub fn parse_documents(text: &str, origin: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| format!("{origin}: invalid YAML: {e}"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Every document of every YAML file under `deploy/kubernetes`.
pub fn load_manifests() -> Result<Vec<Manifest>, String> {
    let dir = kubernetes_dir();
    let mut out = Vec::new();
    for file in yaml_files(&dir)? {
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for (index, doc) in parse_documents(&text, &file)?.into_iter().enumerate() {
            out.push(Manifest {
                file: file.clone(),
                index,
                doc,
            });
        }
    }
    Ok(out)
}

/// Whether `name` is a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters):
/// what Kubernetes requires of namespace, Service and container names.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_parses_into_json_values() {
        let docs = parse_documents(
            "a: 1\nb: [x, \"8080\"]\n---\nkind: Role\n---\n",
            "test.yaml",
        )
        .unwrap();
        assert_eq!(
            docs,
            [
                serde_json::json!({"a": 1, "b": ["x", "8080"]}),
                serde_json::json!({"kind": "Role"})
            ]
        );
        let err = parse_documents("a: [1, 2\n", "bad.yaml").unwrap_err();
        assert!(err.starts_with("bad.yaml: invalid YAML"), "{err}");
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("containerops-postgres"));
        assert!(is_dns_label("a1"));
        for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }
}

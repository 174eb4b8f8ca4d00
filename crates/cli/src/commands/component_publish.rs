//! `containerops component publish DIR --registry HOST`: build, run the tests, push the image
//! through the engine's API and record the catalog entry with the image pinned by digest.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::Args;
use co_spec::Loader;

use crate::exit;

#[derive(Args)]
pub struct PublishArgs {
    /// The component directory (holding component.yaml) or its component.yaml.
    pub dir: PathBuf,
    /// The registry to push to, HOST[:PORT] (default: $CONTAINEROPS_REGISTRY).
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
}

/// The engine's usual credentials for `registry`, as an `X-Registry-Auth` value: the first of
/// $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json (Podman), $DOCKER_CONFIG/config.json
/// or ~/.docker/config.json (Docker) with an `auths.REGISTRY.auth` (base64 `user:password`).
pub fn registry_auth(registry: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        files.push(f.into());
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        files.push(Path::new(&d).join("containers/auth.json"));
    }
    match (env("DOCKER_CONFIG"), env("HOME")) {
        (Some(d), _) => files.push(Path::new(&d).join("config.json")),
        (None, Some(h)) => files.push(Path::new(&h).join(".docker/config.json")),
        (None, None) => {}
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(auth) = doc
            .pointer(&format!(
                "/auths/{}/auth",
                registry.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(serde_json::Value::as_str)
        else {
            continue;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(auth.trim()) else {
            continue;
        };
        let decoded = String::from_utf8_lossy(&decoded).to_string();
        let Some((user, password)) = decoded.split_once(':') else {
            continue;
        };
        let header = serde_json::json!({
            "username": user,
            "password": password,
            "serveraddress": registry,
        });
        return Some(base64::engine::general_purpose::URL_SAFE.encode(header.to_string()));
    }
    None
}

/// The component.yaml of a catalog entry: `image:` pinned, the `build:` section left out (the
/// entry runs the pushed image, never a local build).
pub fn pinned_text(text: &str, pinned: &str) -> String {
    let mut out = String::new();
    let mut in_build = false;
    for line in text.lines() {
        let top_level = !line.starts_with([' ', '\t', '#']) && !line.is_empty();
        if top_level {
            in_build = line.starts_with("build:");
        }
        if in_build {
            continue;
        }
        if top_level && line.starts_with("image:") {
            out.push_str(&format!("image: {pinned}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

pub async fn publish(args: PublishArgs) -> u8 {
    let catalog = crate::engine::catalog();
    let loader = Loader::new(&catalog);
    let component = match loader.load_component(&args.dir) {
        Ok(c) => c,
        Err(d) => return super::report_diagnostics(&d),
    };
    let Some(registry) = args
        .registry
        .or_else(|| std::env::var("CONTAINEROPS_REGISTRY").ok())
        .filter(|r| !r.is_empty())
    else {
        eprintln!("error: no registry: give --registry HOST[:PORT] (e.g. 127.0.0.1:5000 from scripts/setup-registry.sh) or set CONTAINEROPS_REGISTRY");
        return exit::INVALID;
    };
    if registry.contains('/') || registry.chars().any(char::is_whitespace) {
        eprintln!("error: --registry takes HOST[:PORT], like 127.0.0.1:5000, found `{registry}`");
        return exit::INVALID;
    }
    let Some(root) = catalog.publish_root() else {
        eprintln!("error: no catalog directory: set CONTAINEROPS_CATALOG");
        return exit::INVALID;
    };
    let entry = root.join(&component.name).join(&component.version);
    if let Ok(existing) = std::fs::read_to_string(entry.join("component.yaml")) {
        let image = existing
            .lines()
            .find_map(|l| l.strip_prefix("image:"))
            .map_or("", str::trim)
            .to_string();
        eprintln!(
            "error: {}@{} is already published ({image}); versions are immutable: raise `version:` in {}",
            component.name,
            component.version,
            component.path.display()
        );
        return exit::INVALID;
    }
    if component.build.is_none() {
        eprintln!(
            "{}: error: publish builds the image it pushes: add a build: section (context, containerfile)",
            component.path.display()
        );
        return exit::INVALID;
    }
    if component.tests.is_empty() {
        eprintln!(
            "{}: error: publish runs the component's tests: and it has none; add cases (docs/components.md)",
            component.path.display()
        );
        return exit::INVALID;
    }
    let text = match std::fs::read_to_string(&component.path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", component.path.display());
            return exit::FAILED;
        }
    };
    let dir = component
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| args.dir.clone());
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);

    // 1. build and test: what is pushed is the image that was tested.
    let code = super::component_test::run_cases(
        &component,
        &dir,
        super::run::OutputFormat::Text,
        None,
        true,
    )
    .await;
    if code != exit::OK {
        eprintln!("error: the tests failed: nothing was pushed");
        return code;
    }
    // 2. push
    let docker =
        match crate::engine::connect(co_backend_docker::DockerOptions::DEFAULT_STOP_GRACE).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return exit::FAILED;
            }
        };
    let repo = format!("{registry}/{}", component.name);
    let options = co_backend_docker::PushOptions {
        registry_auth: registry_auth(&registry, &|k| std::env::var(k).ok()),
        insecure: co_backend_docker::is_loopback_registry(&registry),
    };
    eprintln!("pushing {repo}:{}", component.version);
    let digest = match docker
        .push_image(
            &component.image,
            &repo,
            &component.version,
            &options,
            &mut |line: &str| eprintln!("  {line}"),
        )
        .await
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let pinned = format!("{repo}@{digest}");
    // 3. the catalog entry
    let entry_text = pinned_text(&text, &pinned);
    if let Err(d) = loader.parse_component(&entry_text, &component.path.display().to_string(), &dir)
    {
        return super::report_diagnostics(&d);
    }
    let record = serde_json::json!({
        "name": component.name,
        "version": component.version,
        "image": pinned,
        "digest": digest,
        "registry": registry,
        "built_from": component.image,
        "published_at": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    });
    let written = std::fs::create_dir_all(&entry)
        .and_then(|()| std::fs::write(entry.join("component.yaml"), &entry_text))
        .and_then(|()| std::fs::write(entry.join("published.json"), format!("{record:#}\n")))
        .and_then(|()| match std::fs::read(dir.join("README.md")) {
            Ok(readme) => std::fs::write(entry.join("README.md"), readme),
            Err(_) => Ok(()),
        });
    if let Err(e) = written {
        eprintln!(
            "error: cannot write the catalog entry {}: {e}",
            entry.display()
        );
        return exit::FAILED;
    }
    println!(
        "published {}@{} as {pinned}\ncatalog entry: {}\nuse it: component: {}@{}",
        component.name,
        component.version,
        entry.display(),
        component.name,
        component.version
    );
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_text_is_pinned_without_build() {
        let text = "name: a\nimage: localhost/a:1.0.0\nbuild:\n  context: .\n  containerfile: Containerfile\ncommand: [\"/a\"]\n";
        assert_eq!(
            pinned_text(text, "127.0.0.1:5000/a@sha256:00"),
            "name: a\nimage: 127.0.0.1:5000/a@sha256:00\ncommand: [\"/a\"]\n"
        );
    }

    #[test]
    fn credentials_from_the_engines_auth_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        // user:secret
        std::fs::write(
            &file,
            r#"{"auths": {"reg.example:5000": {"auth": "dXNlcjpzZWNyZXQ="}}}"#,
        )
        .unwrap();
        let path = file.to_string_lossy().to_string();
        let env = |k: &str| (k == "REGISTRY_AUTH_FILE").then(|| path.clone());
        let header = registry_auth("reg.example:5000", &env).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(header)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["username"], "user");
        assert_eq!(v["password"], "secret");
        assert_eq!(registry_auth("other:5000", &env), None);
    }
}

//! What steps may use on this server: the image registries (`allowed_registries`) and the
//! Kubernetes service accounts a component may name (`allowed_service_accounts`; the server's own
//! is never allowed).
//!
//! Checked when a workflow or component is validated or stored (diagnostics at the action, or at
//! the component's line), when a run is queued, when a run starts or is recovered
//! (`coordinator`), and once more for every step launch ([`PolicyBackend`]), so a run queued
//! before the policy changed is held to the policy in force when it runs.
//!
//! Image references are read the way Docker and Podman read them: the first path component is
//! the registry if it has a `.` or a `:port` or is `localhost`; otherwise the image is on Docker
//! Hub, `docker.io` (`alpine` is `docker.io/library/alpine`). `index.docker.io` and
//! `registry-1.docker.io` are `docker.io` too.

use std::sync::Arc;

use async_trait::async_trait;
use co_backend::{
    Backend, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Workspace,
};
use co_spec::{Component, Diagnostic, Diagnostics, Span, Workflow};
use serde_json::Value;

/// Docker Hub's registry name, for images without one.
pub const DOCKER_HUB: &str = "docker.io";

/// One entry of `allowed_registries`: a registry host (with its port, if any), optionally
/// followed by a path prefix (`ghcr.io/acme` allows `ghcr.io/acme/…` only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRule {
    host: String,
    prefix: Option<String>,
}

impl RegistryRule {
    /// Parse one entry; `Err` says what is wrong with it.
    pub fn parse(entry: &str) -> Result<RegistryRule, String> {
        let text = entry.trim();
        if text.is_empty() {
            return Err("an entry is empty".into());
        }
        if text.contains("://") {
            return Err(format!(
                "`{text}`: give the registry without a scheme (e.g. ghcr.io, not https://ghcr.io)"
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c == '@') {
            return Err(format!("`{text}` is not a registry (HOST[:PORT][/PATH])"));
        }
        let (host, prefix) = match text.split_once('/') {
            Some((host, prefix)) => (host, Some(prefix.trim_end_matches('/'))),
            None => (text, None),
        };
        if !is_registry_host(host) {
            return Err(format!(
                "`{host}` is not a registry host: an image's registry has a `.` or a `:port`, or \
                 is `localhost` (an image named `{host}/…` is on Docker Hub; allow `docker.io` for \
                 that)"
            ));
        }
        Ok(RegistryRule {
            host: canonical_host(host),
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_string),
        })
    }

    fn allows(&self, image: &ImageName) -> bool {
        self.host == image.registry
            && self.prefix.as_deref().is_none_or(|prefix| {
                image.path == prefix
                    || image
                        .path
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

impl std::fmt::Display for RegistryRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.prefix {
            Some(prefix) => write!(f, "{}/{prefix}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// An image reference split into its registry and repository path (tag and digest dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// Lower-case host, with its port; `docker.io` for Docker Hub.
    pub registry: String,
    /// `library/alpine`, `acme/tool`, …
    pub path: String,
}

impl ImageName {
    pub fn parse(image: &str) -> ImageName {
        let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
        // A tag is after the last `:` that follows the last `/` (a `:` before it is a port).
        let name = match without_digest.rfind(':') {
            Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
            _ => without_digest,
        };
        match name.split_once('/') {
            Some((first, rest)) if is_registry_host(first) => ImageName {
                registry: canonical_host(first),
                path: rest.to_string(),
            },
            Some(_) => ImageName {
                registry: DOCKER_HUB.into(),
                path: name.to_string(),
            },
            None => ImageName {
                registry: DOCKER_HUB.into(),
                path: format!("library/{name}"),
            },
        }
    }
}

/// Whether the first component of an image name is a registry (Docker's rule).
fn is_registry_host(first: &str) -> bool {
    !first.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost")
}

fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.into(),
        _ => host,
    }
}

/// The server's launch policy. The default allows every registry and every service account (but
/// the server's own, when it is known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchPolicy {
    /// `None`: every registry.
    pub registries: Option<Vec<RegistryRule>>,
    /// `None`: every service account but the server's own.
    pub service_accounts: Option<Vec<String>>,
    /// The service account the server itself runs as (learned from its Kubernetes credentials).
    pub own_service_account: Option<String>,
}

impl LaunchPolicy {
    /// Why `image` may not run here, if it may not.
    pub fn image_problem(&self, image: &str) -> Option<String> {
        let rules = self.registries.as_ref()?;
        let name = ImageName::parse(image);
        if rules.iter().any(|rule| rule.allows(&name)) {
            return None;
        }
        let allowed: Vec<String> = rules.iter().map(ToString::to_string).collect();
        Some(format!(
            "image `{image}` is from registry `{}`, which this server does not allow \
             (allowed_registries: {})",
            name.registry,
            allowed.join(", ")
        ))
    }

    /// Why a component's `kubernetes:` block may not be used here, if it may not.
    pub fn kubernetes_problem(&self, block: Option<&Value>) -> Option<String> {
        let account = block?.get("serviceAccountName")?.as_str()?;
        if self.own_service_account.as_deref() == Some(account) {
            return Some(format!(
                "service account `{account}` is the server's own; no step may use it"
            ));
        }
        let allowed = self.service_accounts.as_ref()?;
        if allowed.iter().any(|a| a == account) {
            return None;
        }
        Some(format!(
            "service account `{account}` is not allowed on this server \
             (allowed_service_accounts: {})",
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            }
        ))
    }

    /// `workflow`, or every problem of its actions.
    pub fn check_workflow(&self, workflow: Workflow) -> Result<Workflow, Diagnostics> {
        let problems = self.workflow_problems(&workflow);
        if problems.is_empty() {
            Ok(workflow)
        } else {
            Err(Diagnostics(problems))
        }
    }

    /// Every problem of every action of `workflow`, at the action.
    pub fn workflow_problems(&self, workflow: &Workflow) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let actions = workflow
            .stages
            .iter()
            .flat_map(|s| s.actions.iter())
            .chain(workflow.finally.iter());
        for action in actions {
            let found = self.image_problem(action.image()).into_iter().chain(
                self.kubernetes_problem(action.component().and_then(|c| c.kubernetes.as_ref())),
            );
            for problem in found {
                problems.push(Diagnostic {
                    span: action.span.clone(),
                    message: format!("action `{}`: {problem}", action.label),
                });
            }
        }
        problems
    }

    /// Every problem of a component, at the line of its `image:` / `serviceAccountName:` key in
    /// `text` (the document it was parsed from), shown as `file`.
    pub fn check_component(
        &self,
        component: Component,
        text: &str,
        file: &str,
    ) -> Result<Component, Diagnostics> {
        let span = |key: &str| {
            let (line, col) = key_position(text, key).unwrap_or((1, 1));
            Span {
                file: Arc::from(file),
                line,
                col,
            }
        };
        let mut problems = Vec::new();
        if let Some(message) = self.image_problem(&component.image) {
            problems.push(Diagnostic {
                span: span("image"),
                message,
            });
        }
        if let Some(message) = self.kubernetes_problem(component.kubernetes.as_ref()) {
            problems.push(Diagnostic {
                span: span("serviceAccountName"),
                message,
            });
        }
        if problems.is_empty() {
            Ok(component)
        } else {
            Err(Diagnostics(problems))
        }
    }

    /// Why a launch may not happen, if it may not.
    pub fn launch_problem(&self, launch: &StepLaunch) -> Option<String> {
        self.image_problem(&launch.image)
            .or_else(|| self.kubernetes_problem(launch.kubernetes.as_ref()))
    }
}

/// Line and column (1-based) of the first `KEY:` in `text` (a mapping key on its own line).
fn key_position(text: &str, key: &str) -> Option<(u32, u32)> {
    text.lines().enumerate().find_map(|(n, line)| {
        let trimmed = line.trim_start();
        let rest = trimmed.strip_prefix(key)?;
        rest.trim_start().starts_with(':').then(|| {
            let col = line.len() - trimmed.len() + 1;
            (
                u32::try_from(n + 1).unwrap_or(u32::MAX),
                u32::try_from(col).unwrap_or(u32::MAX),
            )
        })
    })
}

/// A backend that refuses the launches its policy forbids (the step fails with the reason, and is
/// not retried) and passes everything else to the backend it wraps.
pub struct PolicyBackend {
    inner: Arc<dyn Backend>,
    policy: Arc<LaunchPolicy>,
}

impl PolicyBackend {
    pub fn new(inner: Arc<dyn Backend>, policy: Arc<LaunchPolicy>) -> PolicyBackend {
        PolicyBackend { inner, policy }
    }
}

#[async_trait]
impl Backend for PolicyBackend {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError> {
        self.inner.create_workspace(run_id).await
    }

    async fn run_step(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<StepExit, BackendError> {
        if let Some(problem) = self.policy.launch_problem(launch) {
            return Err(BackendError::NotRunnable(problem));
        }
        self.inner.run_step(launch, workspace, sink, cancel).await
    }

    /// A step that already runs (an earlier server launched it) is followed to its end.
    async fn reattach(
        &self,
        launch: &StepLaunch,
        workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<Option<StepExit>, BackendError> {
        self.inner.reattach(launch, workspace, sink, cancel).await
    }

    async fn finish_run(&self, workspace: &Workspace) -> Result<(), BackendError> {
        self.inner.finish_run(workspace).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name(image: &str) -> (String, String) {
        let n = ImageName::parse(image);
        (n.registry, n.path)
    }

    #[test]
    fn image_names_are_read_as_docker_reads_them() {
        let cases = [
            ("alpine", "docker.io", "library/alpine"),
            ("alpine:3.20", "docker.io", "library/alpine"),
            ("acme/tool:1", "docker.io", "acme/tool"),
            ("docker.io/library/busybox", "docker.io", "library/busybox"),
            ("index.docker.io/acme/x", "docker.io", "acme/x"),
            ("GHCR.io/acme/x:v1", "ghcr.io", "acme/x"),
            (
                "localhost/co-examples/busybox:latest",
                "localhost",
                "co-examples/busybox",
            ),
            ("localhost:5000/x", "localhost:5000", "x"),
            ("registry:5000/team/x:tag", "registry:5000", "team/x"),
            ("quay.io/a/b@sha256:0123", "quay.io", "a/b"),
            ("quay.io/a/b:1@sha256:0123", "quay.io", "a/b"),
            ("registry/x", "docker.io", "registry/x"),
        ];
        for (image, registry, path) in cases {
            assert_eq!(name(image), (registry.into(), path.into()), "{image}");
        }
    }

    fn policy(registries: &[&str]) -> LaunchPolicy {
        LaunchPolicy {
            registries: Some(
                registries
                    .iter()
                    .map(|r| RegistryRule::parse(r).unwrap())
                    .collect(),
            ),
            ..LaunchPolicy::default()
        }
    }

    #[test]
    fn registries_allow_hosts_and_path_prefixes() {
        let p = policy(&["docker.io", "ghcr.io/acme", "localhost:5000"]);
        for ok in [
            "alpine",
            "acme/tool",
            "registry-1.docker.io/x/y",
            "ghcr.io/acme/tool:1",
            "ghcr.io/acme/deep/tool",
            "localhost:5000/x",
        ] {
            assert_eq!(p.image_problem(ok), None, "{ok}");
        }
        for refused in [
            "ghcr.io/acmeevil/tool",
            "ghcr.io/other/tool",
            "quay.io/acme/tool",
            "localhost/x",
            "localhost:5001/x",
            "evil.docker.io/x",
        ] {
            let problem = p.image_problem(refused).unwrap();
            assert!(problem.contains(refused), "{problem}");
            assert!(
                problem.contains("allowed_registries: docker.io, ghcr.io/acme, localhost:5000"),
                "{problem}"
            );
        }
        assert_eq!(
            LaunchPolicy::default().image_problem("evil.example/x"),
            None
        );
    }

    #[test]
    fn bad_registry_entries_say_what_is_wrong() {
        for (entry, says) in [
            ("", "empty"),
            ("https://ghcr.io", "without a scheme"),
            ("myregistry", "not a registry host"),
            ("ghcr.io/a b", "not a registry"),
        ] {
            let err = RegistryRule::parse(entry).unwrap_err();
            assert!(err.contains(says), "{entry}: {err}");
        }
        assert_eq!(
            RegistryRule::parse("Index.Docker.io/library/")
                .unwrap()
                .to_string(),
            "docker.io/library"
        );
    }

    #[test]
    fn service_accounts_are_allowed_by_list_and_the_own_one_never() {
        let block = |sa: &str| json!({ "serviceAccountName": sa });
        let open = LaunchPolicy {
            own_service_account: Some("containerops".into()),
            ..LaunchPolicy::default()
        };
        assert_eq!(open.kubernetes_problem(Some(&block("builder"))), None);
        assert_eq!(open.kubernetes_problem(None), None);
        assert_eq!(
            open.kubernetes_problem(Some(&json!({"nodeSelector": {}}))),
            None
        );
        let own = open
            .kubernetes_problem(Some(&block("containerops")))
            .unwrap();
        assert!(own.contains("the server's own"), "{own}");

        let listed = LaunchPolicy {
            service_accounts: Some(vec!["builder".into(), "containerops".into()]),
            own_service_account: Some("containerops".into()),
            ..LaunchPolicy::default()
        };
        assert_eq!(listed.kubernetes_problem(Some(&block("builder"))), None);
        let other = listed.kubernetes_problem(Some(&block("deployer"))).unwrap();
        assert!(
            other.contains("`deployer` is not allowed")
                && other.contains("allowed_service_accounts: builder, containerops"),
            "{other}"
        );
        // Listed or not, the server's own account is never usable.
        assert!(listed
            .kubernetes_problem(Some(&block("containerops")))
            .unwrap()
            .contains("the server's own"));
    }

    struct Sink;
    #[async_trait::async_trait]
    impl OutputSink for Sink {
        fn started(&mut self, _container_id: &str) {}
        async fn output(&mut self, _stream: co_backend::Stream, _bytes: &[u8]) {}
    }

    #[tokio::test]
    async fn every_launch_is_checked_again() {
        let strict = Arc::new(LaunchPolicy {
            own_service_account: Some("containerops".into()),
            ..policy(&["localhost"])
        });
        let backend = PolicyBackend::new(Arc::new(co_runner::fake::NoopBackend), strict);
        let workspace = backend.create_workspace("r").await.unwrap();
        let mut launch = StepLaunch {
            run_id: "r".into(),
            workflow: "w".into(),
            step_key: "s".into(),
            attempt: 1,
            image: "localhost/co-examples/busybox:latest".into(),
            command: None,
            env: Vec::new(),
            cpu_millis: None,
            memory_bytes: None,
            kubernetes: None,
            swarm: None,
            files: Vec::new(),
        };
        let run = |launch: StepLaunch| {
            let backend = &backend;
            let workspace = workspace.clone();
            async move {
                backend
                    .run_step(&launch, &workspace, &mut Sink, CancellationToken::new())
                    .await
            }
        };
        assert_eq!(run(launch.clone()).await.unwrap(), StepExit::exited(0));
        launch.image = "alpine".into();
        let err = run(launch.clone()).await.unwrap_err();
        assert!(!err.is_retriable());
        assert!(
            err.to_string()
                .contains("image `alpine` is from registry `docker.io`"),
            "{err}"
        );
        launch.image = "localhost/x".into();
        launch.kubernetes = Some(json!({ "serviceAccountName": "containerops" }));
        let err = run(launch).await.unwrap_err();
        assert!(err.to_string().contains("the server's own"), "{err}");
    }

    #[test]
    fn component_problems_point_at_their_keys() {
        let text = "name: c\nversion: 1.0.0\nimage: quay.io/x/y:1\nkubernetes:\n  serviceAccountName: deployer\n";
        let component = crate::catalog::parse_component(text, "c.yaml").unwrap();
        let p = LaunchPolicy {
            service_accounts: Some(vec![]),
            ..policy(&["docker.io"])
        };
        let problems = p.check_component(component, text, "c.yaml").unwrap_err().0;
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), 2, "{rendered:?}");
        assert!(
            rendered[0].starts_with("c.yaml:3:1: error: image `quay.io/x/y:1`"),
            "{rendered:?}"
        );
        assert!(
            rendered[1].starts_with("c.yaml:5:3: error: service account `deployer`")
                && rendered[1].contains("allowed_service_accounts: none"),
            "{rendered:?}"
        );
    }
}

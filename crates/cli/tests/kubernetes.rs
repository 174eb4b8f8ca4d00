//! `containerops run --backend kubernetes`, the real binary: the flags parse, mistakes are usage
//! errors (exit 2), and a cluster that cannot be reached is a clear error with what to do
//! (exit 1). Never a real cluster: every run gets a temporary kubeconfig whose API server is
//! 127.0.0.1:1 (nothing listens there), or none at all, and no in-cluster environment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `containerops` binary cargo built for these tests.
fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_containerops"))
}

/// A temporary home with a workflow, a history database and (optionally) a kubeconfig.
struct Sandbox {
    dir: tempfile::TempDir,
}

const WORKFLOW: &str = "\
name: hello
stages:
  - name: greet
    actions:
      - name: say
        image: localhost/co-examples/busybox:latest
        command: [\"sh\", \"-c\", \"echo '[COUT] greeting = hello'\"]
";

/// A kubeconfig for an API server where nothing listens (port 1 on loopback).
const UNREACHABLE_KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
clusters:
  - name: nowhere
    cluster:
      server: https://127.0.0.1:1
      insecure-skip-tls-verify: true
users:
  - name: nobody
    user:
      token: not-a-real-token
contexts:
  - name: nowhere
    context:
      cluster: nowhere
      user: nobody
      namespace: ci
current-context: nowhere
";

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("workflow.yaml"), WORKFLOW).unwrap();
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn with_kubeconfig(self) -> Sandbox {
        std::fs::write(self.path("kubeconfig"), UNREACHABLE_KUBECONFIG).unwrap();
        self
    }

    /// `containerops ARGS` with only this sandbox's environment for everything that could
    /// reach a cluster, an engine or the user's history.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("CONTAINEROPS_DB", self.path("history.db"))
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.path("no-engine.sock").display()),
            )
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .env_remove("CONTAINEROPS_SERVER")
            .env_remove("CONTAINEROPS_BACKEND")
            .env_remove("CONTAINEROPS_NAMESPACE")
            .env_remove("CONTAINEROPS_CONTEXT")
            .env_remove("CONTAINEROPS_K8S_WORKSPACE")
            .env_remove("CONTAINEROPS_K8S_STORAGE_CLASS")
            .env_remove("CONTAINEROPS_K8S_WORKSPACE_SIZE")
            .env_remove("CONTAINEROPS_K8S_PULL_GRACE")
            .env_remove("CONTAINEROPS_K8S_STOP_GRACE")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy");
        if self.path("kubeconfig").exists() {
            cmd.env("KUBECONFIG", self.path("kubeconfig"));
        } else {
            cmd.env("KUBECONFIG", self.path("no-such-kubeconfig"));
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run containerops")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn run_help_documents_the_kubernetes_backend() {
    let out = Sandbox::new().run(&["run", "--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--backend <BACKEND>",
        "CONTAINEROPS_BACKEND",
        "docker",
        "kubernetes",
        "Kubernetes backend (--backend kubernetes)",
        "--namespace <NS>",
        "--context <CTX>",
        "--k8s-workspace <MODE>",
        "rwo",
        "rwx",
        "--k8s-storage-class <CLASS>",
        "--k8s-workspace-size <SIZE>",
        "--k8s-pull-grace <DURATION>",
        "--k8s-stop-grace <DURATION>",
        "containerops run ci.yaml --backend kubernetes --context staging --namespace ci",
        "must be pullable by the cluster",
    ] {
        assert!(
            help.contains(needle),
            "`run --help` lacks {needle:?}:\n{help}"
        );
    }
}

#[test]
fn an_unreachable_cluster_is_a_clear_error_with_what_to_do() {
    let sandbox = Sandbox::new().with_kubeconfig();
    let out = sandbox.run(
        &[
            "run",
            "workflow.yaml",
            "--backend",
            "kubernetes",
            "--namespace",
            "ci",
            "--context",
            "nowhere",
            "--k8s-workspace",
            "rwo",
            "--k8s-storage-class",
            "standard",
            "--k8s-workspace-size",
            "2Gi",
            "--k8s-pull-grace",
            "30s",
            "--k8s-stop-grace",
            "5s",
            "--output",
            "json",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Kubernetes"), "{err}");
    assert!(
        err.contains("127.0.0.1:1"),
        "the error names the API server: {err}"
    );
    assert!(err.contains("hint: "), "the error says what to do: {err}");
    assert!(out.stdout.is_empty(), "no run report: nothing ran");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_backend_can_come_from_the_environment() {
    let sandbox = Sandbox::new().with_kubeconfig();
    let out = sandbox.run(
        &["run", "workflow.yaml"],
        &[
            ("CONTAINEROPS_BACKEND", "kubernetes"),
            ("CONTAINEROPS_K8S_WORKSPACE", "none"),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

#[test]
fn no_kubeconfig_is_a_clear_error_with_what_to_do() {
    let out = Sandbox::new().run(&["run", "workflow.yaml", "--backend", "kubernetes"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Kubernetes"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert!(err.to_lowercase().contains("kubeconfig"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn kubernetes_options_without_the_kubernetes_backend_are_usage_errors() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["run", "workflow.yaml", "--namespace", "ci"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--namespace only apply to --backend kubernetes"),
        "{err}"
    );

    // Their environment variables are only defaults for kubernetes: a local run ignores them
    // (and here fails for want of an engine, exit 1, not as a usage error).
    let out = sandbox.run(
        &["run", "workflow.yaml"],
        &[
            ("CONTAINEROPS_NAMESPACE", "ci"),
            ("CONTAINEROPS_K8S_WORKSPACE", "bogus"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    for (args, needle) in [
        (
            &["--backend", "kubernetes", "--k8s-workspace", "shared"][..],
            "invalid value 'shared'",
        ),
        (
            &["--backend", "kubernetes", "--k8s-workspace-size", "lots"][..],
            "--k8s-workspace-size \"lots\"",
        ),
        (
            &["--backend", "kubernetes", "--namespace", "Bad_Name"][..],
            "--namespace \"Bad_Name\"",
        ),
        (
            &[
                "--backend",
                "kubernetes",
                "--k8s-workspace",
                "none",
                "--k8s-workspace-size",
                "1Gi",
            ][..],
            "with --k8s-workspace none",
        ),
        (&["--backend", "kubernetes", "--rebuild"][..], "--rebuild"),
        (&["--backend", "nomad"][..], "invalid value 'nomad'"),
    ] {
        let mut all = vec!["run", "workflow.yaml"];
        all.extend_from_slice(args);
        let out = sandbox.run(&all, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn component_builds_are_skipped_on_kubernetes_with_a_note() {
    let sandbox = Sandbox::new().with_kubeconfig();
    let component = sandbox.path("components/upper");
    std::fs::create_dir_all(&component).unwrap();
    std::fs::write(
        component.join("component.yaml"),
        "name: upper\nversion: 1.0.0\nimage: localhost/co-examples/upper:1.0.0\n\
         build: { context: ., containerfile: Containerfile }\n\
         inputs:\n  text: { type: string, required: true }\n",
    )
    .unwrap();
    std::fs::write(component.join("Containerfile"), "FROM scratch\n").unwrap();
    std::fs::write(
        sandbox.path("build.yaml"),
        "name: build\nstages:\n  - name: s\n    actions:\n      - name: up\n        \
         component: ./components/upper\n        with: { text: hi }\n",
    )
    .unwrap();
    let out = sandbox.run(&["run", "build.yaml", "--backend", "kubernetes"], &[]);
    let err = stderr(&out);
    assert!(
        err.contains("component upper@1.0.0 has a build: section")
            && err.contains("localhost/co-examples/upper:1.0.0 must be pullable"),
        "{err}"
    );
    assert!(!err.contains("building"), "nothing is built: {err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the cluster is unreachable: {err}"
    );
}

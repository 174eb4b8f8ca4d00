//! `containerops run FILE`

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use co_engine::{RunConfig, RunStatus};
use co_runner::{report, Runner, RunnerError};
use co_spec::{Loader, ValidateOptions};
use co_store::Store;
use indexmap::IndexMap;
use serde_json::Value;

use crate::exit;
use crate::view;

pub const AFTER_HELP: &str = "\
Examples:
  containerops run examples/hello/workflow.yaml
  containerops run examples/hello/workflow.yaml --input who=team
  containerops run deploy.yaml --secret REGISTRY_TOKEN=abc --secret API_KEY   # API_KEY from env
  containerops run pipeline.yaml --output json > result.json
  containerops run ci.yaml --backend kubernetes                    # kubeconfig's current context
  containerops run ci.yaml --backend kubernetes --context staging --namespace ci
  containerops run ci.yaml --backend kubernetes --k8s-workspace rwx --k8s-storage-class nfs-client
  CONTAINEROPS_BACKEND=kubernetes containerops run ci.yaml --k8s-workspace none
  DOCKER_HOST=unix:///var/run/docker.sock containerops run ci.yaml --backend swarm

On the local engine (--backend docker, the default: Docker or Podman), component images with a
build: section are built first when missing (--rebuild: always). On Kubernetes nothing is built:
every image must be pullable by the cluster's nodes (push it to a registry they reach, or load it
into the nodes); the run records the history locally, as always.

Kubernetes: each step attempt is a Pod in --namespace, each run's workspace a PersistentVolumeClaim
(--k8s-workspace rwo: ReadWriteOnce, the run's steps on one node; rwx: ReadWriteMany, steps on any
node, the storage class must support it; none: each step gets an empty /workspace). The cluster is
the one of $KUBECONFIG, else ~/.kube/config (or the Pod's service account inside a cluster). The
Kubernetes options can also come from CONTAINEROPS_NAMESPACE, CONTAINEROPS_CONTEXT,
CONTAINEROPS_K8S_WORKSPACE, CONTAINEROPS_K8S_STORAGE_CLASS, CONTAINEROPS_K8S_WORKSPACE_SIZE,
CONTAINEROPS_K8S_PULL_GRACE, CONTAINEROPS_K8S_STOP_GRACE and CONTAINEROPS_K8S_UNSCHEDULABLE_GRACE
(used only with --backend kubernetes).

Docker Swarm (--backend swarm): each step attempt is a replicated-job service on the swarm manager
that $DOCKER_HOST names (else the usual sockets), each run's workspace a local volume on that
manager's node, where every step of the run is then placed. Images with a build: section are built
on that node's engine, as on the local engine (docs/swarm.md).

Ctrl-C cancels the run: running steps are stopped and removed, `finally` and always() steps still
run; a second Ctrl-C stops those too. SIGTERM and SIGHUP do the same, and so does closing stdout
(`containerops run … | head`: once head exits, the run is cancelled, cleaned up and recorded). Exit codes: 0 succeeded, 1 failed, 2 invalid, 130 cancelled.";

/// Where the steps of a local run go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// Docker or Podman on this machine ($DOCKER_HOST, else the usual sockets).
    #[value(alias = "podman")]
    Docker,
    /// A Kubernetes cluster: a Pod per step attempt.
    #[value(alias = "k8s")]
    Kubernetes,
    /// A Docker Swarm manager ($DOCKER_HOST): a replicated-job service per step attempt.
    Swarm,
}

/// `--k8s-workspace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkspaceChoice {
    /// A ReadWriteOnce PersistentVolumeClaim per run; the run's steps share one node.
    Rwo,
    /// A ReadWriteMany PersistentVolumeClaim per run; steps on any node.
    Rwx,
    /// No volume: each step gets an empty /workspace of its own.
    None,
}

impl WorkspaceChoice {
    fn as_str(self) -> &'static str {
        match self {
            WorkspaceChoice::Rwo => "rwo",
            WorkspaceChoice::Rwx => "rwx",
            WorkspaceChoice::None => "none",
        }
    }
}

/// The options of `--backend kubernetes`. Their environment variables are read only with that
/// backend (so a CONTAINEROPS_NAMESPACE in the shell does not disturb local runs); the flags
/// themselves are mistakes with `--backend docker`.
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
#[command(next_help_heading = "Kubernetes backend (--backend kubernetes)")]
pub struct KubeArgs {
    /// Namespace of the step Pods and workspaces [default: the context's, else `default`;
    /// env: CONTAINEROPS_NAMESPACE].
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// kubeconfig context [default: the current one; env: CONTAINEROPS_CONTEXT].
    #[arg(long, value_name = "CTX")]
    pub context: Option<String>,
    /// The run's workspace [default: rwo; env: CONTAINEROPS_K8S_WORKSPACE].
    #[arg(long, value_enum, value_name = "MODE")]
    pub k8s_workspace: Option<WorkspaceChoice>,
    /// Storage class of the workspace volume [default: the cluster's default class; env:
    /// CONTAINEROPS_K8S_STORAGE_CLASS].
    #[arg(long, value_name = "CLASS")]
    pub k8s_storage_class: Option<String>,
    /// Size of the workspace volume, a Kubernetes quantity [default: 1Gi; env:
    /// CONTAINEROPS_K8S_WORKSPACE_SIZE].
    #[arg(long, value_name = "SIZE")]
    pub k8s_workspace_size: Option<String>,
    /// How long a step's image may fail to pull before the step fails naming it [default: 60s;
    /// env: CONTAINEROPS_K8S_PULL_GRACE].
    #[arg(long, value_name = "DURATION")]
    pub k8s_pull_grace: Option<String>,
    /// Grace period of step Pods deleted on cancel or timeout [default: 10s; env:
    /// CONTAINEROPS_K8S_STOP_GRACE].
    #[arg(long, value_name = "DURATION")]
    pub k8s_stop_grace: Option<String>,
    /// How long a step Pod may stay unschedulable before the step fails with the scheduler's
    /// message [default: 5m; env: CONTAINEROPS_K8S_UNSCHEDULABLE_GRACE].
    #[arg(long, value_name = "DURATION")]
    pub k8s_unschedulable_grace: Option<String>,
}

impl KubeArgs {
    /// The flags as the settings the server shares.
    fn settings(&self) -> co_server::config::KubeSettings {
        co_server::config::KubeSettings {
            namespace: self.namespace.clone(),
            context: self.context.clone(),
            k8s_workspace: self.k8s_workspace.map(|w| w.as_str().to_string()),
            k8s_storage_class: self.k8s_storage_class.clone(),
            k8s_workspace_size: self.k8s_workspace_size.clone(),
            k8s_pull_grace: self.k8s_pull_grace.clone(),
            k8s_stop_grace: self.k8s_stop_grace.clone(),
            k8s_unschedulable_grace: self.k8s_unschedulable_grace.clone(),
        }
    }

    /// The flags that were given, by name (for the mistake of giving them with docker).
    fn given(&self) -> Vec<String> {
        self.settings().given().into_iter().map(flag_name).collect()
    }

    /// The backend's options: each flag, else its environment variable, else the default.
    pub fn options(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<co_backend_kube::KubeOptions, String> {
        use co_server::config::{KubeSettings, Layer};
        let settings = self
            .settings()
            .or(KubeSettings::from_env(env).map_err(|e| e.0)?);
        settings.options(&|key| flag_name(key)).map_err(|e| e.0)
    }
}

/// A setting's flag (`--k8s-workspace`) from its config-file key (`k8s_workspace`).
fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Live progress and a summary for people.
    Text,
    /// One JSON object on stdout (progress and logs go to stderr).
    Json,
}

#[derive(Args)]
pub struct RunArgs {
    /// The workflow file (workflow.yaml, or a seed-format flow with a top-level `uri:`).
    pub file: PathBuf,
    /// A workflow input, KEY=VALUE (repeatable). Values are converted to the declared type.
    #[arg(short, long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// A secret, KEY=VALUE or KEY to read it from the environment variable KEY (repeatable).
    /// Secrets are masked as *** in every log line.
    #[arg(short, long = "secret", value_name = "KEY[=VALUE]")]
    pub secrets: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// Rebuild every component image that has a build: section, even if it exists (local
    /// engine only).
    #[arg(long)]
    pub rebuild: bool,
    /// Where the steps run: on the local engine (docker: Docker or Podman), on a Kubernetes
    /// cluster (kubernetes: a Pod per step) or on a Docker Swarm (swarm: a job service per
    /// step).
    #[arg(
        long,
        value_enum,
        value_name = "BACKEND",
        default_value = "docker",
        env = "CONTAINEROPS_BACKEND"
    )]
    pub backend: BackendChoice,
    /// At most N step containers at once; further steps wait for a free slot (their timeouts
    /// start when their containers do) [default: docker: 4 per CPU core, at least 4;
    /// kubernetes: 100].
    #[arg(long, value_name = "N", env = "CONTAINEROPS_MAX_PARALLEL_STEPS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel_steps: Option<u32>,
    /// How long a step stopped by its timeout or a cancel gets between SIGTERM and SIGKILL on
    /// the local engine, at most 1h (steps run with an init process, so SIGTERM reaches a
    /// shell's commands too) [default: 10s; env: CONTAINEROPS_STOP_GRACE]. Kubernetes:
    /// --k8s-stop-grace.
    #[arg(long, value_name = "DURATION")]
    pub stop_grace: Option<String>,
    /// Most log stored per step (all its attempts), e.g. 64Mi or 500k; beyond it lines are
    /// counted, not stored ([COUT] lines still count), and the log says so [default: 64Mi].
    #[arg(long, value_name = "SIZE", env = "CONTAINEROPS_STEP_LOG_CAP", value_parser = co_runner::RunLimits::parse_log_cap)]
    pub step_log_cap: Option<u64>,
    /// Most log stored per run, all its steps together [default: 256Mi].
    #[arg(long, value_name = "SIZE", env = "CONTAINEROPS_RUN_LOG_CAP", value_parser = co_runner::RunLimits::parse_log_cap)]
    pub run_log_cap: Option<u64>,
    /// Largest artifact a step may keep (`artifacts:`), e.g. 1Gi or 200Mi; a larger one fails
    /// its step with the reason, the run's other artifacts are kept [default: 1Gi].
    #[arg(long, value_name = "SIZE", env = "CONTAINEROPS_MAX_ARTIFACT_SIZE", value_parser = co_runner::RunLimits::parse_artifact_size)]
    pub max_artifact_size: Option<u64>,
    /// At the end of the run, copy every artifact it kept to DIR/STEP/FILE (a file under its
    /// own name, an archive as NAME.tar), checked against its SHA-256.
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

impl RunArgs {
    /// What the driver allows this run.
    pub fn limits(&self) -> co_runner::RunLimits {
        co_runner::RunLimits {
            max_parallel_steps: self
                .max_parallel_steps
                .and_then(|n| usize::try_from(n).ok()),
            step_log_bytes: self.step_log_cap,
            run_log_bytes: self.run_log_cap,
            max_artifact_bytes: self.max_artifact_size,
        }
    }
}

/// The backend of a run, before connecting: checked arguments only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendPlan {
    Docker {
        rebuild: bool,
        stop_grace: std::time::Duration,
    },
    Kubernetes(co_backend_kube::KubeOptions),
    Swarm {
        rebuild: bool,
        stop_grace: std::time::Duration,
    },
}

impl RunArgs {
    /// Check the backend arguments (with the environment `env`); `Err` is a usage mistake.
    pub fn backend_plan(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BackendPlan, String> {
        match self.backend {
            BackendChoice::Docker | BackendChoice::Swarm => {
                let given = self.kube.given();
                if !given.is_empty() {
                    return Err(format!(
                        "{} only apply to --backend kubernetes; add --backend kubernetes to run on \
                         a cluster, or leave them out to run on the local engine",
                        given.join(", ")
                    ));
                }
                let (rebuild, stop_grace) = (self.rebuild, self.stop_grace(env)?);
                Ok(if self.backend == BackendChoice::Swarm {
                    BackendPlan::Swarm {
                        rebuild,
                        stop_grace,
                    }
                } else {
                    BackendPlan::Docker {
                        rebuild,
                        stop_grace,
                    }
                })
            }
            BackendChoice::Kubernetes => {
                if self.stop_grace.is_some() {
                    return Err("--stop-grace applies to the local engine; with --backend \
                                kubernetes use --k8s-stop-grace"
                        .into());
                }
                if self.rebuild {
                    return Err(
                        "--rebuild builds images on the local engine; with --backend \
                                kubernetes nothing is built (the cluster pulls every image): \
                                build and push them first, e.g. with containerops component build"
                            .into(),
                    );
                }
                self.kube.options(env).map(BackendPlan::Kubernetes)
            }
        }
    }
}

impl RunArgs {
    /// `--stop-grace`, else `$CONTAINEROPS_STOP_GRACE`, else the default.
    fn stop_grace(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<std::time::Duration, String> {
        let (given, name) = match &self.stop_grace {
            Some(text) => (text.clone(), "--stop-grace"),
            None => match env("CONTAINEROPS_STOP_GRACE").filter(|v| !v.trim().is_empty()) {
                Some(text) => (text, "CONTAINEROPS_STOP_GRACE"),
                None => return Ok(co_backend_docker::DockerOptions::DEFAULT_STOP_GRACE),
            },
        };
        co_spec::parse_duration(&given)
            .map_err(|e| e.to_string())
            .and_then(co_backend_docker::DockerOptions::check_stop_grace)
            .map_err(|e| format!("{name} {given:?}: {e}"))
    }
}

pub async fn run(args: RunArgs) -> u8 {
    let inputs = match super::parse_pairs("--input", &args.inputs) {
        Ok(v) => v,
        Err(e) => return usage(&e),
    };
    let secrets = match super::parse_secrets(&args.secrets) {
        Ok(v) => v,
        Err(e) => return usage(&e),
    };

    let catalog = crate::engine::catalog();
    let mut loader = Loader::new(&catalog);
    loader.options = ValidateOptions {
        secrets: Some(secrets.iter().map(|(k, _)| k.clone()).collect()),
        ..ValidateOptions::default()
    };
    let workflow = match loader.load_workflow(&args.file) {
        Ok(w) => Arc::new(w),
        Err(d) => return super::report_diagnostics(&d),
    };
    let backend_plan = match args.backend_plan(&|name| std::env::var(name).ok()) {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    let plan = Arc::new(co_spec::plan(workflow.clone()));

    let backend = match backend_plan {
        BackendPlan::Docker {
            rebuild,
            stop_grace,
        } => {
            let docker = match crate::engine::connect(stop_grace).await {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("{e}");
                    return exit::FAILED;
                }
            };
            if let Err(e) = crate::engine::ensure_images(&docker, &workflow, rebuild).await {
                eprintln!("{e}");
                return exit::FAILED;
            }
            crate::engine::as_backend(docker)
        }
        BackendPlan::Swarm {
            rebuild,
            stop_grace,
        } => {
            let swarm = match crate::engine::connect_swarm(stop_grace).await {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("{e}");
                    return exit::FAILED;
                }
            };
            if let Err(e) = crate::engine::ensure_images(swarm.engine(), &workflow, rebuild).await {
                eprintln!("{e}");
                return exit::FAILED;
            }
            crate::engine::as_backend(swarm)
        }
        BackendPlan::Kubernetes(options) => {
            for (component, image) in crate::engine::images_not_built(&workflow) {
                eprintln!(
                    "note: component {component} has a build: section, but --backend kubernetes \
                     does not build images: {image} must be pullable by the cluster's nodes"
                );
            }
            match crate::engine::connect_kubernetes(options).await {
                Ok(kube) => crate::engine::as_backend(kube),
                Err(e) => {
                    eprintln!("{e}");
                    return exit::FAILED;
                }
            }
        }
    };
    let store = match open_store().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let artifacts = match open_artifact_store() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let runner = Runner::new(backend, store.clone())
        .with_limits(args.limits())
        .with_artifact_store(artifacts.clone());
    let config = RunConfig {
        run_id: co_runner::new_run_id(),
        inputs: inputs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<IndexMap<_, _>>(),
        secrets: secrets.into_iter().collect(),
        trigger: Some(serde_json::json!({ "event": "cli" })),
    };
    let prepared = match runner.prepare(plan.clone(), config).await {
        Ok(p) => p,
        Err(RunnerError::Config(e)) => {
            for problem in &e.0 {
                eprintln!("{}: error: {problem}", args.file.display());
            }
            return exit::INVALID;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let run_id = prepared.run_id().to_string();

    // SIGINT/SIGTERM/SIGHUP and a closed stdout cancel the run; a second signal also stops
    // finally/always() steps.
    let json = args.output == OutputFormat::Json;
    let signals = tokio::spawn(cancel_on_signals(prepared.cancel_handle()));

    let observer = view::observer(json, plan.clone());
    let result = runner.execute(prepared, observer.clone()).await;
    signals.abort();
    observer.close();
    let status = match result {
        Ok(done) => done.status,
        Err(e) => {
            eprintln!("error: {e}");
            RunStatus::Failed
        }
    };
    match store.get_run(&run_id).await {
        Ok(detail) => {
            if json {
                println!("{}", report::run_json(&detail));
            } else {
                view::print_summary(&detail);
            }
        }
        Err(e) => eprintln!("error: reading the run back from the store: {e}"),
    }
    if let Some(dir) = &args.artifacts_dir {
        if !super::artifacts::copy_run_artifacts(&store, &artifacts, &run_id, dir).await
            && status == RunStatus::Succeeded
        {
            return exit::FAILED;
        }
    }
    exit::of_run(Some(status))
}

/// Cancel the run on SIGINT, SIGTERM or SIGHUP, and when stdout is closed (`run … | head`: a
/// run nobody watches any more ends as on Ctrl-C). The second request also stops `finally` and
/// `always()` steps.
async fn cancel_on_signals(cancel: co_runner::CancelHandle) {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    async fn recv(signal: &mut Option<Signal>) -> Option<()> {
        match signal {
            Some(s) => s.recv().await,
            None => std::future::pending().await,
        }
    }
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut output_open = true;
    let mut requests = 0;
    loop {
        let output_closed = tokio::select! {
            Some(()) = recv(&mut int) => false,
            Some(()) = recv(&mut term) => false,
            Some(()) = recv(&mut hup) => false,
            _ = crate::out::closed().cancelled(), if output_open => true,
            else => return,
        };
        requests += 1;
        if output_closed {
            output_open = false;
            eprintln!("\nstdout was closed: cancelling run…");
        } else if requests == 1 {
            eprintln!("\ncancelling run… (press Ctrl-C again to also stop finally steps)");
        } else {
            eprintln!("\nstopping everything…");
        }
        cancel.cancel();
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("error: {message}");
    exit::INVALID
}

/// Open the local store, creating it if needed. Runs recorded before secret inputs were kept
/// apart (store migration 0005) get them masked, once ([`LocalSealer`]).
pub async fn open_store() -> Result<Store, u8> {
    let path = crate::paths::database();
    let fail = |e: co_store::StoreError| {
        eprintln!(
            "error: cannot open the run history at {}: {e}\nhint: set CONTAINEROPS_DB to a writable path",
            path.display()
        );
        exit::FAILED
    };
    let store = Store::open(&path.to_string_lossy()).await.map_err(fail)?;
    co_runner::seal_unsealed_runs(&store, &LocalSealer)
        .await
        .map_err(fail)?;
    Ok(store)
}

/// Local runs keep no secret input values (a local run is never resumed): the old runs' are
/// masked. Which inputs are secret is read from the workflow text the run recorded, its
/// component paths relative to its file as when it ran.
struct LocalSealer;

#[async_trait::async_trait]
impl co_runner::InputSealer for LocalSealer {
    async fn plan(
        &self,
        run: &co_store::RunRecord,
    ) -> Result<Option<Arc<co_spec::Plan>>, co_store::StoreError> {
        let base = std::path::Path::new(&run.source_path).parent().map_or_else(
            || std::path::PathBuf::from("."),
            std::path::Path::to_path_buf,
        );
        let catalog = crate::engine::catalog();
        Ok(Loader::new(&catalog)
            .parse_workflow(&run.source, &run.source_path, &base)
            .ok()
            .map(|w| Arc::new(co_spec::plan(Arc::new(w)))))
    }

    fn seal(
        &self,
        _run_id: &str,
        _secret: &indexmap::IndexMap<String, serde_json::Value>,
    ) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// Open the local artifact store ([`crate::paths::artifact_store`]).
pub fn open_artifact_store() -> Result<co_runner::ArtifactStore, u8> {
    let path = crate::paths::artifact_store();
    co_runner::ArtifactStore::open(&path).map_err(|e| {
        eprintln!(
            "error: cannot open the artifact store at {}: {e}\nhint: set CONTAINEROPS_ARTIFACTS to a writable directory",
            path.display()
        );
        exit::FAILED
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;
    use co_backend_kube::{KubeOptions, WorkspaceMode};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(["run", "wf.yaml"].iter().chain(args)).map(|c| c.run)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn swarm_builds_and_stops_like_docker() {
        let args = parse(&["--backend", "swarm", "--rebuild", "--stop-grace", "3s"]).unwrap();
        assert_eq!(
            args.backend_plan(&no_env),
            Ok(BackendPlan::Swarm {
                rebuild: true,
                stop_grace: Duration::from_secs(3)
            })
        );
        let err = parse(&["--backend", "swarm", "--namespace", "ci"])
            .unwrap()
            .backend_plan(&no_env)
            .unwrap_err();
        assert!(err.contains("only apply to --backend kubernetes"), "{err}");
    }

    #[test]
    fn docker_is_the_default_and_podman_an_alias() {
        let args = parse(&["--backend", "docker"]).unwrap();
        assert_eq!(
            args.backend_plan(&no_env),
            Ok(BackendPlan::Docker {
                rebuild: false,
                stop_grace: Duration::from_secs(10)
            })
        );
        let args = parse(&["--backend", "podman", "--rebuild"]).unwrap();
        assert_eq!(
            args.backend_plan(&no_env),
            Ok(BackendPlan::Docker {
                rebuild: true,
                stop_grace: Duration::from_secs(10)
            })
        );
    }

    #[test]
    fn the_stop_grace_comes_from_the_flag_else_the_environment() {
        let docker = |secs| {
            Ok(BackendPlan::Docker {
                rebuild: false,
                stop_grace: Duration::from_secs(secs),
            })
        };
        let plan = |args: &[&str], env: &dyn Fn(&str) -> Option<String>| {
            parse(args).unwrap().backend_plan(env)
        };
        let env = |name: &str| (name == "CONTAINEROPS_STOP_GRACE").then(|| "3s".to_string());
        assert_eq!(plan(&[], &no_env), docker(10));
        assert_eq!(plan(&["--stop-grace", "2m"], &no_env), docker(120));
        assert_eq!(plan(&[], &env), docker(3));
        assert_eq!(plan(&["--stop-grace", "0s"], &env), docker(0));
        let err = plan(&["--stop-grace", "2h"], &no_env).unwrap_err();
        assert!(
            err.contains("--stop-grace \"2h\"") && err.contains("at most"),
            "{err}"
        );
        let err = plan(&["--stop-grace", "soon"], &no_env).unwrap_err();
        assert!(err.contains("--stop-grace \"soon\""), "{err}");
        let bad = |name: &str| (name == "CONTAINEROPS_STOP_GRACE").then(|| "x".to_string());
        let err = plan(&[], &bad).unwrap_err();
        assert!(err.contains("CONTAINEROPS_STOP_GRACE \"x\""), "{err}");
        let err = plan(&["--backend", "kubernetes", "--stop-grace", "1s"], &no_env).unwrap_err();
        assert!(err.contains("--k8s-stop-grace"), "{err}");
    }

    #[test]
    fn kubernetes_flags_become_the_backend_options() {
        let args = parse(&[
            "--backend",
            "kubernetes",
            "--namespace",
            "ci",
            "--context",
            "staging",
            "--k8s-workspace",
            "rwx",
            "--k8s-storage-class",
            "nfs-client",
            "--k8s-workspace-size",
            "5Gi",
            "--k8s-pull-grace",
            "2m",
            "--k8s-stop-grace",
            "1s",
            "--k8s-unschedulable-grace",
            "90s",
        ])
        .unwrap();
        assert_eq!(
            args.backend_plan(&no_env),
            Ok(BackendPlan::Kubernetes(KubeOptions {
                namespace: Some("ci".into()),
                context: Some("staging".into()),
                workspace: WorkspaceMode::Pvc {
                    storage_class: Some("nfs-client".into()),
                    size: "5Gi".into(),
                    read_write_many: true,
                },
                image_pull_grace: Duration::from_secs(120),
                stop_grace: Duration::from_secs(1),
                unschedulable_grace: Duration::from_secs(90),
            }))
        );
        let args = parse(&["--backend", "k8s", "--k8s-workspace", "none"]).unwrap();
        assert_eq!(
            args.backend_plan(&no_env),
            Ok(BackendPlan::Kubernetes(KubeOptions {
                workspace: WorkspaceMode::None,
                ..KubeOptions::default()
            }))
        );
    }

    #[test]
    fn the_environment_fills_in_kubernetes_options_only_for_kubernetes() {
        let env = |name: &str| match name {
            "CONTAINEROPS_NAMESPACE" => Some("from-env".to_string()),
            "CONTAINEROPS_K8S_WORKSPACE" => Some("none".to_string()),
            _ => None,
        };
        // Docker ignores them.
        let args = parse(&["--backend", "docker"]).unwrap();
        assert_eq!(
            args.backend_plan(&env),
            Ok(BackendPlan::Docker {
                rebuild: false,
                stop_grace: Duration::from_secs(10)
            })
        );
        // Kubernetes uses them; flags win.
        let args = parse(&["--backend", "kubernetes", "--namespace", "flag"]).unwrap();
        let Ok(BackendPlan::Kubernetes(options)) = args.backend_plan(&env) else {
            panic!("not kubernetes");
        };
        assert_eq!(options.namespace.as_deref(), Some("flag"));
        assert_eq!(options.workspace, WorkspaceMode::None);
    }

    #[test]
    fn mistakes_are_usage_errors_in_words() {
        let err = parse(&[
            "--backend",
            "docker",
            "--namespace",
            "ci",
            "--k8s-workspace",
            "rwo",
        ])
        .unwrap()
        .backend_plan(&no_env)
        .unwrap_err();
        assert!(
            err.contains("--namespace, --k8s-workspace only apply to --backend kubernetes"),
            "{err}"
        );
        let err = parse(&["--backend", "kubernetes", "--rebuild"])
            .unwrap()
            .backend_plan(&no_env)
            .unwrap_err();
        assert!(err.contains("--rebuild"), "{err}");
        let err = parse(&["--backend", "kubernetes", "--k8s-workspace-size", "lots"])
            .unwrap()
            .backend_plan(&no_env)
            .unwrap_err();
        assert!(err.contains("--k8s-workspace-size \"lots\""), "{err}");
        let err = parse(&["--backend", "kubernetes", "--namespace", "Not_A_Name"])
            .unwrap()
            .backend_plan(&no_env)
            .unwrap_err();
        assert!(err.contains("--namespace \"Not_A_Name\""), "{err}");
        for bad in [
            &["--backend", "nomad"][..],
            &["--backend", "kubernetes", "--k8s-workspace", "shared"][..],
        ] {
            let err = parse(bad).err().unwrap();
            assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue, "{bad:?}");
        }
    }
}

//! Configuration of `containerops server`.
//!
//! Every option can be given as a command-line flag, as an environment variable
//! `CONTAINEROPS_<NAME>` (upper case, `-` → `_`), or as a key of a TOML config file
//! (`--config FILE` / `CONTAINEROPS_CONFIG`; keys in snake case). Precedence: flags > environment >
//! file > defaults. [`ServerOptions`] is one source's worth of options (all optional);
//! [`ServerConfig::resolve`] merges the sources and fills in the defaults.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use co_backend_kube::{KubeOptions, WorkspaceMode};
use serde::Deserialize;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default request body limit (bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default run lease (how long a claim on a run lasts without renewal).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Every environment variable the server reads its options from (`--listen` is
/// `CONTAINEROPS_LISTEN`, …). `CONTAINEROPS_DB` (the CLI's database) and `CONTAINEROPS_LOG` (the log
/// level) are read too, but are not options.
pub const ENV_VARS: &[&str] = &[
    "CONTAINEROPS_LISTEN",
    "CONTAINEROPS_DATABASE",
    "CONTAINEROPS_CONFIG",
    "CONTAINEROPS_DATA_DIR",
    "CONTAINEROPS_ADMIN_TOKEN",
    "CONTAINEROPS_SECRET_KEY",
    "CONTAINEROPS_MAX_RUNS",
    "CONTAINEROPS_MAX_BODY_BYTES",
    "CONTAINEROPS_SERVER_ID",
    "CONTAINEROPS_BACKEND",
    "CONTAINEROPS_LEASE",
    "CONTAINEROPS_NAMESPACE",
    "CONTAINEROPS_CONTEXT",
    "CONTAINEROPS_K8S_WORKSPACE",
    "CONTAINEROPS_K8S_STORAGE_CLASS",
    "CONTAINEROPS_K8S_WORKSPACE_SIZE",
    "CONTAINEROPS_K8S_PULL_GRACE",
    "CONTAINEROPS_K8S_STOP_GRACE",
    "CONTAINEROPS_K8S_UNSCHEDULABLE_GRACE",
];

/// Shown after the options in `containerops server --help`.
pub const AFTER_HELP: &str = "\
Every option can also be set with an environment variable CONTAINEROPS_<NAME> (CONTAINEROPS_LISTEN,
CONTAINEROPS_DATABASE, CONTAINEROPS_CONFIG, CONTAINEROPS_DATA_DIR, CONTAINEROPS_ADMIN_TOKEN,
CONTAINEROPS_SECRET_KEY, CONTAINEROPS_MAX_RUNS, CONTAINEROPS_MAX_BODY_BYTES, CONTAINEROPS_SERVER_ID,
CONTAINEROPS_BACKEND, CONTAINEROPS_NAMESPACE, CONTAINEROPS_CONTEXT, CONTAINEROPS_K8S_WORKSPACE, …)
or in a TOML file given with --config (keys: listen, database, data_dir, admin_token, secret_key,
max_runs, max_body_bytes, server_id, backend, namespace, context, k8s_workspace, k8s_storage_class,
k8s_workspace_size, k8s_pull_grace, k8s_stop_grace, k8s_unschedulable_grace). Flags win over the
environment, which wins over the file.

Defaults:
  --listen          127.0.0.1:8080
  --data-dir        $XDG_DATA_HOME/containerops, else ~/.local/share/containerops
  --database        $CONTAINEROPS_DB, else <data-dir>/containerops.db (SQLite, shared with the CLI);
                    postgres://USER:PASSWORD@HOST:PORT/DB selects PostgreSQL (several servers may
                    share one PostgreSQL database; they must then share --secret-key too)
  --secret-key      read from <data-dir>/secret.key, created (mode 0600) at first start
  --admin-token     none: if the database has no token yet, one admin token is created at first
                    start and printed once on stderr
  --max-runs        no limit
  --max-body-bytes  1048576 (larger request bodies get 413)
  --server-id       <hostname>-<pid>-<random>
  --backend         docker (Docker or Podman, found from $DOCKER_HOST or the usual sockets)

Kubernetes (--backend kubernetes): every step attempt runs as a Pod, every run's workspace is a
PersistentVolumeClaim, in --namespace. Inside a cluster the server uses its ServiceAccount (the
manifests in deploy/kubernetes grant it exactly what it needs); outside, $KUBECONFIG or
~/.kube/config and --context.
  --namespace           in-cluster: the server's own; else the context's namespace, else default
  --k8s-workspace       rwo: one ReadWriteOnce PVC per run, its steps pinned to one node; rwx: a
                        ReadWriteMany PVC (the storage class must support it), steps anywhere;
                        none: no volume, each step gets an empty /workspace
  --k8s-storage-class   the cluster's default class
  --k8s-workspace-size  1Gi
  --k8s-pull-grace      60s: how long a Pod may fail to pull its image before the step fails
  --k8s-stop-grace      10s: the grace period of Pods deleted on cancel or timeout
  --k8s-unschedulable-grace
                        5m: how long a Pod may stay unschedulable before the step fails with the
                        scheduler's message (the step's retry policy decides what follows)

Examples:
  containerops server
  containerops server --listen 0.0.0.0:8080 --database postgres://co:secret@db:5432/containerops
  CONTAINEROPS_ADMIN_TOKEN=$(cat /run/secrets/co-admin) containerops server --config server.toml
  containerops server --backend kubernetes --context staging --namespace ci \\
    --database postgres://co:secret@db:5432/containerops
  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/api/v1/runs

Config file example (/etc/containerops/server.toml):
  listen = \"0.0.0.0:8080\"
  database = \"postgres://co:secret@db:5432/containerops\"
  secret_key = \"<base64 of 32 bytes, e.g. from: head -c32 /dev/urandom | base64>\"
  max_runs = 8
  backend = \"kubernetes\"
  namespace = \"ci\"
  k8s_workspace = \"rwx\"
  k8s_storage_class = \"nfs-client\"

Logs go to stderr; CONTAINEROPS_LOG sets the level (e.g. info, debug), CONTAINEROPS_LOG_FORMAT=json
makes every line one JSON object (for log collectors). See docs/server.md.";

/// One source's worth of server options (flags, environment, or the config file); `None`: not set
/// by this source.
#[derive(Clone, Default, PartialEq, Eq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerOptions {
    /// Address to listen on (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Database URL: a SQLite file path or sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DB.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// TOML config file with any of these options (snake_case keys).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory for the default SQLite database and the secret key file.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// An admin API token to accept (created in the database if missing).
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Key that encrypts stored secrets: base64 of 32 bytes.
    #[arg(long, value_name = "BASE64")]
    pub secret_key: Option<String>,
    /// At most this many runs at once on this server; more wait as `queued`.
    #[arg(long, value_name = "N")]
    pub max_runs: Option<i64>,
    /// Largest accepted request body in bytes.
    #[arg(long, value_name = "N")]
    pub max_body_bytes: Option<usize>,
    /// This server's id in the database (unique per process).
    #[arg(long, value_name = "ID")]
    pub server_id: Option<String>,
    /// Where steps run: `docker` (Docker or Podman) or `kubernetes` (a Pod per step).
    #[arg(long, value_name = "docker|kubernetes")]
    pub backend: Option<String>,
    /// How long a claim on a run lasts without renewal (e.g. `30s`).
    #[arg(long, value_name = "DURATION", hide = true)]
    pub lease: Option<String>,
    /// Kubernetes namespace for the step Pods and workspaces.
    #[arg(long, value_name = "NS", help_heading = "Kubernetes backend")]
    pub namespace: Option<String>,
    /// kubeconfig context (outside a cluster; default: the current context).
    #[arg(long, value_name = "CTX", help_heading = "Kubernetes backend")]
    pub context: Option<String>,
    /// Run workspaces: `rwo`, `rwx` or `none` (see below).
    #[arg(long, value_name = "MODE", help_heading = "Kubernetes backend")]
    pub k8s_workspace: Option<String>,
    /// Storage class of the workspace PersistentVolumeClaims.
    #[arg(long, value_name = "CLASS", help_heading = "Kubernetes backend")]
    pub k8s_storage_class: Option<String>,
    /// Size of each run's workspace (a Kubernetes quantity: 1Gi, 500Mi).
    #[arg(long, value_name = "SIZE", help_heading = "Kubernetes backend")]
    pub k8s_workspace_size: Option<String>,
    /// How long a step's image may fail to pull before the step fails (e.g. `2m`).
    #[arg(long, value_name = "DURATION", help_heading = "Kubernetes backend")]
    pub k8s_pull_grace: Option<String>,
    /// Grace period of step Pods deleted on cancel or timeout (e.g. `10s`).
    #[arg(long, value_name = "DURATION", help_heading = "Kubernetes backend")]
    pub k8s_stop_grace: Option<String>,
    /// How long a step Pod may stay unschedulable before the step fails (e.g. `5m`).
    #[arg(long, value_name = "DURATION", help_heading = "Kubernetes backend")]
    pub k8s_unschedulable_grace: Option<String>,
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field("listen", &self.listen)
            .field("database", &self.database.as_deref().map(redact_url))
            .field("config", &self.config)
            .field("data_dir", &self.data_dir)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("max_runs", &self.max_runs)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("server_id", &self.server_id)
            .field("backend", &self.backend)
            .field("lease", &self.lease)
            .field("namespace", &self.namespace)
            .field("context", &self.context)
            .field("k8s_workspace", &self.k8s_workspace)
            .field("k8s_storage_class", &self.k8s_storage_class)
            .field("k8s_workspace_size", &self.k8s_workspace_size)
            .field("k8s_pull_grace", &self.k8s_pull_grace)
            .field("k8s_stop_grace", &self.k8s_stop_grace)
            .field("k8s_unschedulable_grace", &self.k8s_unschedulable_grace)
            .finish()
    }
}

impl ServerOptions {
    /// The options set by environment variables (`lookup("CONTAINEROPS_LISTEN")`, …).
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<ServerOptions, ConfigError> {
        let get = |name: &str| {
            let var = format!("CONTAINEROPS_{name}");
            lookup(&var)
                .filter(|v| !v.is_empty())
                .map(|value| (var, value))
        };
        Ok(ServerOptions {
            listen: get("LISTEN").map(|(_, v)| v),
            database: get("DATABASE").map(|(_, v)| v),
            config: get("CONFIG").map(|(_, v)| PathBuf::from(v)),
            data_dir: get("DATA_DIR").map(|(_, v)| PathBuf::from(v)),
            admin_token: get("ADMIN_TOKEN").map(|(_, v)| v),
            secret_key: get("SECRET_KEY").map(|(_, v)| v),
            max_runs: get("MAX_RUNS")
                .map(|(var, v)| parse_number(&var, &v))
                .transpose()?,
            max_body_bytes: get("MAX_BODY_BYTES")
                .map(|(var, v)| parse_number(&var, &v))
                .transpose()?,
            server_id: get("SERVER_ID").map(|(_, v)| v),
            backend: get("BACKEND").map(|(_, v)| v),
            lease: get("LEASE").map(|(_, v)| v),
            namespace: get("NAMESPACE").map(|(_, v)| v),
            context: get("CONTEXT").map(|(_, v)| v),
            k8s_workspace: get("K8S_WORKSPACE").map(|(_, v)| v),
            k8s_storage_class: get("K8S_STORAGE_CLASS").map(|(_, v)| v),
            k8s_workspace_size: get("K8S_WORKSPACE_SIZE").map(|(_, v)| v),
            k8s_pull_grace: get("K8S_PULL_GRACE").map(|(_, v)| v),
            k8s_stop_grace: get("K8S_STOP_GRACE").map(|(_, v)| v),
            k8s_unschedulable_grace: get("K8S_UNSCHEDULABLE_GRACE").map(|(_, v)| v),
        })
    }

    /// The options of a TOML config file's text (`origin` names the file in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<ServerOptions, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(format!("{origin}: {}", e.message())))
    }

    /// Each option from `self` if set, else from `other`.
    pub fn or(self, other: ServerOptions) -> ServerOptions {
        ServerOptions {
            listen: self.listen.or(other.listen),
            database: self.database.or(other.database),
            config: self.config.or(other.config),
            data_dir: self.data_dir.or(other.data_dir),
            admin_token: self.admin_token.or(other.admin_token),
            secret_key: self.secret_key.or(other.secret_key),
            max_runs: self.max_runs.or(other.max_runs),
            max_body_bytes: self.max_body_bytes.or(other.max_body_bytes),
            server_id: self.server_id.or(other.server_id),
            backend: self.backend.or(other.backend),
            lease: self.lease.or(other.lease),
            namespace: self.namespace.or(other.namespace),
            context: self.context.or(other.context),
            k8s_workspace: self.k8s_workspace.or(other.k8s_workspace),
            k8s_storage_class: self.k8s_storage_class.or(other.k8s_storage_class),
            k8s_workspace_size: self.k8s_workspace_size.or(other.k8s_workspace_size),
            k8s_pull_grace: self.k8s_pull_grace.or(other.k8s_pull_grace),
            k8s_stop_grace: self.k8s_stop_grace.or(other.k8s_stop_grace),
            k8s_unschedulable_grace: self
                .k8s_unschedulable_grace
                .or(other.k8s_unschedulable_grace),
        }
    }

    /// The Kubernetes settings among these options.
    pub fn kube_settings(&self) -> KubeSettings {
        KubeSettings {
            namespace: self.namespace.clone(),
            context: self.context.clone(),
            workspace: self.k8s_workspace.clone(),
            storage_class: self.k8s_storage_class.clone(),
            workspace_size: self.k8s_workspace_size.clone(),
            pull_grace: self.k8s_pull_grace.clone(),
            stop_grace: self.k8s_stop_grace.clone(),
            unschedulable_grace: self.k8s_unschedulable_grace.clone(),
        }
    }
}

/// The Kubernetes backend's settings as given (by flags, the environment or a file), before they
/// are checked; [`KubeSettings::options`] checks them. The server and `containerops run
/// --backend kubernetes` share it, so both accept and reject the same values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeSettings {
    pub namespace: Option<String>,
    pub context: Option<String>,
    /// `rwo`, `rwx` or `none`.
    pub workspace: Option<String>,
    pub storage_class: Option<String>,
    /// A Kubernetes quantity (`1Gi`).
    pub workspace_size: Option<String>,
    /// A duration (`60s`, `2m`).
    pub pull_grace: Option<String>,
    /// A duration (`10s`).
    pub stop_grace: Option<String>,
    /// A duration (`5m`).
    pub unschedulable_grace: Option<String>,
}

impl KubeSettings {
    /// The names (config-file keys) of the settings that are set.
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("namespace", &self.namespace),
            ("context", &self.context),
            ("k8s_workspace", &self.workspace),
            ("k8s_storage_class", &self.storage_class),
            ("k8s_workspace_size", &self.workspace_size),
            ("k8s_pull_grace", &self.pull_grace),
            ("k8s_stop_grace", &self.stop_grace),
            ("k8s_unschedulable_grace", &self.unschedulable_grace),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect()
    }

    /// Check the settings and fill in the defaults. `name` turns a setting's config-file key
    /// (`k8s_workspace_size`) into the name the user knows it by (`--k8s-workspace-size`), for
    /// error messages.
    pub fn options(&self, name: &dyn Fn(&str) -> String) -> Result<KubeOptions, ConfigError> {
        let defaults = KubeOptions::default();
        if let Some(ns) = &self.namespace {
            if !is_dns_label(ns) {
                return Err(ConfigError(format!(
                    "{} {ns:?} is not a valid namespace name (lower-case letters, digits and                      `-`, at most 63 characters)",
                    name("namespace")
                )));
            }
        }
        if let Some(context) = &self.context {
            if context.trim().is_empty() {
                return Err(ConfigError(format!(
                    "{} must not be empty",
                    name("context")
                )));
            }
        }
        let read_write_many = match self.workspace.as_deref().map(str::to_ascii_lowercase) {
            None => Some(false),
            Some(mode) => match mode.as_str() {
                "rwo" | "readwriteonce" => Some(false),
                "rwx" | "readwritemany" => Some(true),
                "none" => None,
                _ => {
                    return Err(ConfigError(format!(
                        "{} {mode:?}: use rwo (a ReadWriteOnce volume per run, its steps on one                          node), rwx (a ReadWriteMany volume, steps on any node) or none (no                          shared workspace)",
                        name("k8s_workspace")
                    )))
                }
            },
        };
        if let Some(class) = &self.storage_class {
            if !is_dns_subdomain(class) {
                return Err(ConfigError(format!(
                    "{} {class:?} is not a valid storage class name",
                    name("k8s_storage_class")
                )));
            }
        }
        if let Some(size) = &self.workspace_size {
            if !is_quantity(size) {
                return Err(ConfigError(format!(
                    "{} {size:?} is not a Kubernetes quantity greater than zero (e.g. 1Gi,                      500Mi, 10G)",
                    name("k8s_workspace_size")
                )));
            }
        }
        let workspace = match read_write_many {
            Some(read_write_many) => WorkspaceMode::Pvc {
                storage_class: self.storage_class.clone(),
                size: self
                    .workspace_size
                    .clone()
                    .unwrap_or_else(|| match &defaults.workspace {
                        WorkspaceMode::Pvc { size, .. } => size.clone(),
                        WorkspaceMode::None => "1Gi".into(),
                    }),
                read_write_many,
            },
            None => {
                if self.storage_class.is_some() || self.workspace_size.is_some() {
                    return Err(ConfigError(format!(
                        "{} and {} set up the workspace volume; with {} none there is none",
                        name("k8s_storage_class"),
                        name("k8s_workspace_size"),
                        name("k8s_workspace")
                    )));
                }
                WorkspaceMode::None
            }
        };
        let duration = |key: &str, text: &Option<String>, default: Duration| match text {
            None => Ok(default),
            Some(text) => co_spec::parse_duration(text)
                .map_err(|e| ConfigError(format!("{} {text:?}: {e}", name(key)))),
        };
        Ok(KubeOptions {
            namespace: self.namespace.clone(),
            context: self.context.clone(),
            workspace,
            image_pull_grace: duration(
                "k8s_pull_grace",
                &self.pull_grace,
                defaults.image_pull_grace,
            )?,
            stop_grace: duration("k8s_stop_grace", &self.stop_grace, defaults.stop_grace)?,
            unschedulable_grace: duration(
                "k8s_unschedulable_grace",
                &self.unschedulable_grace,
                defaults.unschedulable_grace,
            )?,
        })
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (namespace names).
fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// DNS-1123 subdomain: dot-separated labels, at most 253 characters (storage class names).
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A Kubernetes quantity for a size: a positive decimal number with an optional binary (`Ki` …
/// `Ei`) or decimal (`k`, `M` … `E`) suffix.
fn is_quantity(text: &str) -> bool {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let valid_number = !number.is_empty()
        && number.matches('.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.parse::<f64>().is_ok_and(|n| n > 0.0);
    let valid_suffix = matches!(
        suffix,
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "M" | "G" | "T" | "P" | "E"
    );
    valid_number && valid_suffix
}

/// Which container backend runs the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Docker or Podman, found like the CLI finds it (`$DOCKER_HOST`, the usual sockets).
    Docker,
    /// Every step succeeds at once without a container (benchmarks of the server itself).
    Noop,
    /// A Pod per step attempt, a PersistentVolumeClaim per run ([`ServerConfig::kubernetes`]).
    Kubernetes,
}

/// The resolved configuration of one server process.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: String,
    /// A SQLite path / `sqlite://` URL, or a `postgres://` URL.
    pub database: String,
    pub data_dir: PathBuf,
    pub admin_token: Option<String>,
    /// Base64 of the 32-byte secrets key; `None`: `<data_dir>/secret.key`.
    pub secret_key: Option<String>,
    pub max_runs: Option<i64>,
    pub max_body_bytes: usize,
    pub server_id: String,
    pub backend: BackendKind,
    pub lease: Duration,
    /// The Kubernetes backend's settings (used when `backend` is [`BackendKind::Kubernetes`]).
    pub kubernetes: KubeOptions,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("database", &redact_url(&self.database))
            .field("data_dir", &self.data_dir)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("max_runs", &self.max_runs)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("server_id", &self.server_id)
            .field("backend", &self.backend)
            .field("lease", &self.lease)
            .field("kubernetes", &self.kubernetes)
            .finish()
    }
}

/// A configuration problem, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ServerConfig {
    /// A configuration with every default, for a server on `database` keeping its files in
    /// `data_dir` (tests and embedding).
    pub fn new(database: impl Into<String>, data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen: DEFAULT_LISTEN.to_string(),
            database: database.into(),
            data_dir: data_dir.into(),
            admin_token: None,
            secret_key: None,
            max_runs: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            server_id: default_server_id(),
            backend: BackendKind::Docker,
            lease: DEFAULT_LEASE,
            kubernetes: KubeOptions::default(),
        }
    }

    /// Flags, then the process environment, then the config file, then defaults.
    pub fn load(flags: ServerOptions) -> Result<ServerConfig, ConfigError> {
        ServerConfig::resolve(flags, &|name| std::env::var(name).ok())
    }

    /// Same as [`ServerConfig::load`] with the environment given as a lookup function.
    pub fn resolve(
        flags: ServerOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServerConfig, ConfigError> {
        let from_env = ServerOptions::from_env(env)?;
        let merged = flags.or(from_env);
        let from_file = match &merged.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                ServerOptions::from_toml(&text, &path.display().to_string())?
            }
            None => ServerOptions::default(),
        };
        let o = merged.or(from_file);
        let kube_settings = o.kube_settings();

        let data_dir = match o.data_dir {
            Some(dir) => dir,
            None => default_data_dir(env("XDG_DATA_HOME"), env("HOME")),
        };
        let database = o
            .database
            .or_else(|| env("CONTAINEROPS_DB").filter(|v| !v.is_empty()))
            .unwrap_or_else(|| data_dir.join("containerops.db").display().to_string());
        let listen = o.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        if listen
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            return Err(ConfigError(format!(
                "listen address {listen:?} must be HOST:PORT (e.g. 127.0.0.1:8080 or 0.0.0.0:80)"
            )));
        }
        if let Some(n) = o.max_runs {
            if n < 1 {
                return Err(ConfigError(format!(
                    "max_runs must be at least 1 (leave it unset for no limit), not {n}"
                )));
            }
        }
        let max_body_bytes = o.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes < 1024 {
            return Err(ConfigError(format!(
                "max_body_bytes must be at least 1024, not {max_body_bytes}"
            )));
        }
        let backend = match o.backend.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("docker") | Some("podman") => BackendKind::Docker,
            Some("kubernetes") | Some("k8s") => BackendKind::Kubernetes,
            Some("noop") => BackendKind::Noop,
            Some(other) => {
                return Err(ConfigError(format!(
                    "unknown backend {other:?}: use docker (Docker or Podman) or kubernetes"
                )))
            }
        };
        let kubernetes = if backend == BackendKind::Kubernetes {
            kube_settings.options(&|key| key.to_string())?
        } else {
            let given = kube_settings.given();
            if !given.is_empty() {
                tracing::warn!(
                    settings = ?given,
                    "Kubernetes settings are ignored: the backend is not kubernetes"
                );
            }
            KubeOptions::default()
        };
        let lease = match o.lease {
            Some(text) => co_spec::parse_duration(&text)
                .map_err(|e| ConfigError(format!("lease {text:?}: {e}")))?,
            None => DEFAULT_LEASE,
        };
        if lease < Duration::from_millis(300) {
            return Err(ConfigError(format!(
                "lease must be at least 300ms, not {lease:?}"
            )));
        }
        let server_id = o.server_id.unwrap_or_else(default_server_id);
        if server_id.trim().is_empty() {
            return Err(ConfigError("server_id must not be empty".into()));
        }
        if let Some(token) = &o.admin_token {
            if token.trim().len() < 16 {
                return Err(ConfigError(
                    "admin_token must be at least 16 characters long".into(),
                ));
            }
        }
        Ok(ServerConfig {
            listen,
            database,
            data_dir,
            admin_token: o.admin_token,
            secret_key: o.secret_key,
            max_runs: o.max_runs,
            max_body_bytes,
            server_id,
            backend,
            lease,
            kubernetes,
        })
    }

    /// Where the secrets key is kept when `secret_key` is not configured.
    pub fn secret_key_file(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }
}

fn parse_number<T: std::str::FromStr>(var: &str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError(format!("{var}={value:?} is not a valid number")))
}

/// `$XDG_DATA_HOME/containerops`, else `$HOME/.local/share/containerops` (the CLI's data directory).
fn default_data_dir(xdg_data: Option<String>, home: Option<String>) -> PathBuf {
    let base = match xdg_data.filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(&home.filter(|v| !v.is_empty()).unwrap_or_else(|| ".".into()))
            .join(".local/share"),
    };
    base.join("containerops")
}

/// `<hostname>-<pid>-<6 random hex digits>`.
pub fn default_server_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    let mut random = [0u8; 3];
    let suffix = match getrandom::fill(&mut random) {
        Ok(()) => hex::encode(random),
        Err(_) => format!("{:06x}", ulid::Ulid::new().random() & 0xff_ffff),
    };
    format!("{host}-{}-{suffix}", std::process::id())
}

/// A database URL with its password replaced by `***` (for logs and `Debug`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_follow_the_cli_data_directory() {
        let c = ServerConfig::resolve(
            ServerOptions::default(),
            &env(&[("XDG_DATA_HOME", "/xdg"), ("HOME", "/home/u")]),
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("/xdg/containerops"));
        assert_eq!(c.database, "/xdg/containerops/containerops.db");
        assert_eq!(
            c.secret_key_file(),
            PathBuf::from("/xdg/containerops/secret.key")
        );
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.max_runs, None);
        assert_eq!(c.backend, BackendKind::Docker);
        assert_eq!(c.lease, DEFAULT_LEASE);
        assert!(c.server_id.contains(&format!("-{}-", std::process::id())));

        let c =
            ServerConfig::resolve(ServerOptions::default(), &env(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(
            c.database,
            "/home/u/.local/share/containerops/containerops.db"
        );
        let c = ServerConfig::resolve(
            ServerOptions::default(),
            &env(&[("HOME", "/home/u"), ("CONTAINEROPS_DB", "/x/runs.db")]),
        )
        .unwrap();
        assert_eq!(c.database, "/x/runs.db");
    }

    #[test]
    fn flags_win_over_environment_which_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            "listen = \"10.0.0.1:1\"\ndatabase = \"postgres://f\"\nmax_runs = 3\n\
             max_body_bytes = 5000\nserver_id = \"file-id\"\ndata_dir = \"/from/file\"\n",
        )
        .unwrap();
        let flags = ServerOptions {
            listen: Some("127.0.0.1:9".into()),
            ..Default::default()
        };
        let c = ServerConfig::resolve(
            flags,
            &env(&[
                ("CONTAINEROPS_CONFIG", file.to_str().unwrap()),
                ("CONTAINEROPS_LISTEN", "127.0.0.1:7"),
                ("CONTAINEROPS_MAX_RUNS", "5"),
                ("CONTAINEROPS_DB", "/ignored.db"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9"); // flag
        assert_eq!(c.max_runs, Some(5)); // env over file
        assert_eq!(c.database, "postgres://f"); // file over CONTAINEROPS_DB
        assert_eq!(c.max_body_bytes, 5000); // file
        assert_eq!(c.server_id, "file-id");
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
    }

    #[test]
    fn mistakes_are_reported_in_words() {
        let bad_env = ServerConfig::resolve(
            ServerOptions::default(),
            &env(&[("CONTAINEROPS_MAX_RUNS", "many")]),
        )
        .unwrap_err();
        assert!(bad_env.0.contains("CONTAINEROPS_MAX_RUNS"), "{bad_env}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\nmax_run = 3\n").unwrap();
        let flags = ServerOptions {
            config: Some(file.clone()),
            ..Default::default()
        };
        let err = ServerConfig::resolve(flags, &env(&[])).unwrap_err();
        assert!(err.0.contains("max_run"), "{err}");
        assert!(err.0.contains("server.toml"), "{err}");

        let flags = ServerOptions {
            config: Some(dir.path().join("missing.toml")),
            ..Default::default()
        };
        let err = ServerConfig::resolve(flags, &env(&[])).unwrap_err();
        assert!(err.0.contains("cannot read config file"), "{err}");

        for (opts, needle) in [
            (
                ServerOptions {
                    listen: Some("8080".into()),
                    ..Default::default()
                },
                "HOST:PORT",
            ),
            (
                ServerOptions {
                    max_runs: Some(0),
                    ..Default::default()
                },
                "max_runs",
            ),
            (
                ServerOptions {
                    backend: Some("kube".into()),
                    ..Default::default()
                },
                "unknown backend",
            ),
            (
                ServerOptions {
                    admin_token: Some("short".into()),
                    ..Default::default()
                },
                "16 characters",
            ),
        ] {
            let err = ServerConfig::resolve(opts, &env(&[])).unwrap_err();
            assert!(err.0.contains(needle), "{err}");
        }
    }

    #[test]
    fn the_kubernetes_backend_takes_its_settings_from_flags_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            "backend = \"kubernetes\"\nnamespace = \"from-file\"\ncontext = \"file-ctx\"\n\
             k8s_workspace = \"rwx\"\nk8s_storage_class = \"nfs-client\"\n\
             k8s_workspace_size = \"5Gi\"\nk8s_pull_grace = \"2m\"\nk8s_stop_grace = \"3s\"\n\
             k8s_unschedulable_grace = \"1m\"\n",
        )
        .unwrap();
        let flags = ServerOptions {
            namespace: Some("from-flag".into()),
            ..Default::default()
        };
        let c = ServerConfig::resolve(
            flags,
            &env(&[
                ("CONTAINEROPS_CONFIG", file.to_str().unwrap()),
                ("CONTAINEROPS_NAMESPACE", "from-env"),
                ("CONTAINEROPS_CONTEXT", "env-ctx"),
            ]),
        )
        .unwrap();
        assert_eq!(c.backend, BackendKind::Kubernetes);
        assert_eq!(
            c.kubernetes,
            KubeOptions {
                namespace: Some("from-flag".into()),
                context: Some("env-ctx".into()),
                workspace: WorkspaceMode::Pvc {
                    storage_class: Some("nfs-client".into()),
                    size: "5Gi".into(),
                    read_write_many: true,
                },
                image_pull_grace: Duration::from_secs(120),
                stop_grace: Duration::from_secs(3),
                unschedulable_grace: Duration::from_secs(60),
            }
        );

        // Defaults: the backend's own.
        let c = ServerConfig::resolve(
            ServerOptions::default(),
            &env(&[("CONTAINEROPS_BACKEND", "Kubernetes")]),
        )
        .unwrap();
        assert_eq!(c.backend, BackendKind::Kubernetes);
        assert_eq!(c.kubernetes, KubeOptions::default());

        let c = ServerConfig::resolve(
            ServerOptions::default(),
            &env(&[
                ("CONTAINEROPS_BACKEND", "k8s"),
                ("CONTAINEROPS_K8S_WORKSPACE", "none"),
            ]),
        )
        .unwrap();
        assert_eq!(c.kubernetes.workspace, WorkspaceMode::None);
    }

    #[test]
    fn kubernetes_settings_are_checked_and_ignored_with_docker() {
        for (vars, needle) in [
            (
                &[("CONTAINEROPS_NAMESPACE", "Bad_NS")][..],
                "namespace \"Bad_NS\"",
            ),
            (&[("CONTAINEROPS_K8S_WORKSPACE", "shared")][..], "use rwo"),
            (
                &[("CONTAINEROPS_K8S_WORKSPACE_SIZE", "lots")][..],
                "quantity",
            ),
            (
                &[("CONTAINEROPS_K8S_WORKSPACE_SIZE", "0Gi")][..],
                "quantity",
            ),
            (
                &[("CONTAINEROPS_K8S_STORAGE_CLASS", "Fast SSD")][..],
                "storage class",
            ),
            (
                &[("CONTAINEROPS_K8S_PULL_GRACE", "soon")][..],
                "k8s_pull_grace",
            ),
            (&[("CONTAINEROPS_CONTEXT", " ")][..], "context"),
            (
                &[
                    ("CONTAINEROPS_K8S_WORKSPACE", "none"),
                    ("CONTAINEROPS_K8S_WORKSPACE_SIZE", "1Gi"),
                ][..],
                "with k8s_workspace none",
            ),
        ] {
            let mut all = vars.to_vec();
            all.push(("CONTAINEROPS_BACKEND", "kubernetes"));
            let err = ServerConfig::resolve(ServerOptions::default(), &env(&all)).unwrap_err();
            assert!(err.0.contains(needle), "{vars:?}: {err}");
            // The same settings mean nothing to the docker backend.
            let c = ServerConfig::resolve(ServerOptions::default(), &env(vars)).unwrap();
            assert_eq!(c.backend, BackendKind::Docker);
            assert_eq!(c.kubernetes, KubeOptions::default());
        }
        for size in ["1Gi", "500Mi", "10G", "1.5Gi", "1073741824", "100k"] {
            assert!(is_quantity(size), "{size}");
        }
        for size in ["", "Gi", "1GB", "-1Gi", "1.Gi", ".5Gi", "1..5Gi", "0"] {
            assert!(!is_quantity(size), "{size}");
        }
    }

    #[test]
    fn every_documented_variable_is_read() {
        let values = [
            ("CONTAINEROPS_LISTEN", "127.0.0.1:1"),
            ("CONTAINEROPS_MAX_RUNS", "1"),
            ("CONTAINEROPS_MAX_BODY_BYTES", "2048"),
        ];
        for var in ENV_VARS {
            let value = values
                .iter()
                .find(|(k, _)| k == var)
                .map_or("x", |(_, v)| v);
            let options =
                ServerOptions::from_env(&|name| (name == *var).then(|| value.into())).unwrap();
            assert_ne!(options, ServerOptions::default(), "{var} is not read");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut c = ServerConfig::new("postgres://co:hunter2@db/x", "/d");
        c.admin_token = Some("admin-token-value-123".into());
        c.secret_key = Some("a2V5".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("admin-token-value"), "{shown}");
        assert!(!shown.contains("a2V5"), "{shown}");
        assert!(shown.contains("postgres://co:***@db/x"), "{shown}");
    }
}

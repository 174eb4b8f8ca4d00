//! Configuration of `containerops server`.
//!
//! Every option is declared once, as a field of [`ServerOptions`] (or of the [`KubeSettings`] it
//! contains): its doc comment is its `--help` text, `#[arg(long, env = "CONTAINEROPS_…")]` makes
//! it a flag and an environment variable (clap reads both; the flag wins), and its field name is
//! its key in the TOML config file (`--config FILE`). Precedence: flags > environment > file >
//! defaults. [`ServerConfig::resolve`] merges the file under what clap read and checks the result;
//! the defaults are [`ServerConfig::new`]'s.
//!
//! Adding an option: a field in [`ServerOptions`] (or [`KubeSettings`]), a field of
//! [`ServerConfig`] with its default in [`ServerConfig::new`] and one statement in
//! [`ServerConfig::resolve`] that checks it, and a row in the table of docs/server.md (a test
//! compares the table with the declarations).

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use co_backend_kube::{KubeOptions, WorkspaceMode};
use co_store::redact_url;
use serde::Deserialize;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default request body limit (bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default run lease (how long a claim on a run lasts without renewal).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Shown after the options in `containerops server --help`.
pub const AFTER_HELP: &str = "\
Every option is also an environment variable (its [env: …] above) and a key of the TOML file
given with --config: the option's name in snake case (--max-runs is max_runs). Flags win over the
environment, which wins over the file, which wins over the defaults.

Kubernetes (--backend kubernetes): every step attempt runs as a Pod, every run's workspace is a
PersistentVolumeClaim, in --namespace. Inside a cluster the server uses its ServiceAccount (the
manifests in deploy/kubernetes grant it exactly what it needs); outside, $KUBECONFIG or
~/.kube/config and --context. The Kubernetes options are ignored (with a warning) with another
backend.

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
  allowed_registries = [\"docker.io\", \"ghcr.io/acme\"]
  backend = \"kubernetes\"
  namespace = \"ci\"
  k8s_workspace = \"rwx\"
  k8s_storage_class = \"nfs-client\"

Logs go to stderr; CONTAINEROPS_LOG sets the level (e.g. info, debug), CONTAINEROPS_LOG_FORMAT=json
makes every line one JSON object (for log collectors). See docs/server.md.";

/// One source's worth of settings, merged with the next source down by [`Layer::or`].
pub trait Layer: Sized {
    /// `self` where it is set, else `other`.
    fn or(self, other: Self) -> Self;
    /// Push the config-file keys of the settings that are set (`key`: this value's own key).
    fn given(&self, key: &'static str, into: &mut Vec<&'static str>);
}

impl<T> Layer for Option<T> {
    fn or(self, other: Self) -> Self {
        self.or(other)
    }

    fn given(&self, key: &'static str, into: &mut Vec<&'static str>) {
        if self.is_some() {
            into.push(key);
        }
    }
}

/// Declares a struct of options — every field one option (an `Option`) or a flattened group of
/// them — and implements [`Layer`] for it from the same field list, so that merging sources
/// never lists the options again.
macro_rules! options {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $type:ty, )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $type, )*
        }

        impl Layer for $name {
            fn or(self, other: Self) -> Self {
                $name { $( $field: Layer::or(self.$field, other.$field), )* }
            }

            fn given(&self, _key: &'static str, into: &mut Vec<&'static str>) {
                $( Layer::given(&self.$field, stringify!($field), into); )*
            }
        }
    };
}

options! {
    /// One source's worth of server options: the flags and environment variables of `containerops
    /// server` (clap reads both), or the config file. `None`: not set by this source.
    #[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args, Deserialize)]
    pub struct ServerOptions {
        /// Address to listen on, HOST:PORT [default: 127.0.0.1:8080].
        #[arg(long, env = "CONTAINEROPS_LISTEN", value_name = "ADDR")]
        pub listen: Option<String>,
        /// Database: a SQLite file (a path or sqlite://PATH) or
        /// postgres://USER:PASSWORD@HOST:PORT/DB; several servers may share one PostgreSQL database
        /// (and then one --secret-key) [default: $CONTAINEROPS_DB, else
        /// <data-dir>/containerops.db, shared with the CLI].
        #[arg(long, env = "CONTAINEROPS_DATABASE", value_name = "URL", hide_env_values = true)]
        pub database: Option<DatabaseUrl>,
        /// TOML file with any of these options, keyed by their names in snake case.
        #[arg(long, env = "CONTAINEROPS_CONFIG", value_name = "FILE")]
        #[serde(skip)]
        pub config: Option<PathBuf>,
        /// Directory of the default SQLite database and the secrets key file [default:
        /// $XDG_DATA_HOME/containerops, else ~/.local/share/containerops].
        #[arg(long, env = "CONTAINEROPS_DATA_DIR", value_name = "DIR")]
        pub data_dir: Option<PathBuf>,
        /// An admin API token to accept, at least 16 characters (created in the database if
        /// missing) [default: none; whenever the server starts with no admin token in the
        /// database, it creates one and prints it once on stderr].
        #[arg(long, env = "CONTAINEROPS_ADMIN_TOKEN", value_name = "TOKEN", hide_env_values = true)]
        pub admin_token: Option<Secret>,
        /// Key that encrypts stored secrets, base64 of 32 bytes [default: read from
        /// <data-dir>/secret.key, created (mode 0600) at first start].
        #[arg(long, env = "CONTAINEROPS_SECRET_KEY", value_name = "BASE64", hide_env_values = true)]
        pub secret_key: Option<Secret>,
        /// At most this many runs at once on this server; more wait as `queued` [default: no
        /// limit].
        #[arg(long, env = "CONTAINEROPS_MAX_RUNS", value_name = "N")]
        pub max_runs: Option<i64>,
        /// At most this many step containers at once over all runs of this server; further
        /// steps wait (in order, still `running`) and their timeouts start only when their
        /// containers do [default: docker: 4 per CPU core, at least 4; kubernetes: 100].
        #[arg(long, env = "CONTAINEROPS_MAX_PARALLEL_STEPS", value_name = "N")]
        pub max_parallel_steps: Option<usize>,
        /// Most log stored per step (all its attempts), a size such as 64Mi or 500k; beyond it
        /// lines are counted, not stored, and the log ends saying how many [default: 64Mi].
        #[arg(long, env = "CONTAINEROPS_STEP_LOG_CAP", value_name = "SIZE")]
        pub step_log_cap: Option<String>,
        /// Most log stored per run, all its steps together [default: 256Mi].
        #[arg(long, env = "CONTAINEROPS_RUN_LOG_CAP", value_name = "SIZE")]
        pub run_log_cap: Option<String>,
        /// Largest artifact a step may keep (`artifacts:`), a size such as 1Gi; a larger one
        /// fails its step with the reason [default: 1Gi].
        #[arg(long, env = "CONTAINEROPS_MAX_ARTIFACT_SIZE", value_name = "SIZE")]
        pub max_artifact_size: Option<String>,
        /// Days artifacts are kept (in <data-dir>/artifacts); older ones are expired (a
        /// download answers 410) by an hourly sweep; 0 keeps them forever [default: 30].
        #[arg(long, env = "CONTAINEROPS_ARTIFACT_RETENTION_DAYS", value_name = "DAYS")]
        pub artifact_retention_days: Option<u32>,
        /// Largest accepted request body in bytes; larger ones get 413 [default: 1048576].
        #[arg(long, env = "CONTAINEROPS_MAX_BODY_BYTES", value_name = "N")]
        pub max_body_bytes: Option<usize>,
        /// This server's id in the database, unique per process [default:
        /// <hostname>-<pid>-<random>].
        #[arg(long, env = "CONTAINEROPS_SERVER_ID", value_name = "ID")]
        pub server_id: Option<String>,
        /// Where steps run: docker (Docker or Podman, found from $DOCKER_HOST or the usual
        /// sockets), kubernetes (a Pod per step attempt) or swarm (a Docker Swarm manager found
        /// like docker: a job service per step attempt) [default: docker].
        #[arg(long, env = "CONTAINEROPS_BACKEND", value_name = "docker|kubernetes|swarm")]
        pub backend: Option<String>,
        /// How long a step stopped by its timeout or a cancel gets between SIGTERM and SIGKILL on
        /// Docker/Podman, at most 1h (steps run with an init process, so SIGTERM reaches a
        /// shell's commands too; on Kubernetes: k8s_stop_grace) [default: 10s].
        #[arg(long, env = "CONTAINEROPS_STOP_GRACE", value_name = "DURATION")]
        pub stop_grace: Option<String>,
        /// How long a claim on a run lasts without renewal [default: 30s].
        #[arg(long, env = "CONTAINEROPS_LEASE", value_name = "DURATION", hide = true)]
        pub lease: Option<String>,
        /// How long a web UI login lasts, from 1m to 720h (30 days; the session cookie's lifetime; a
        /// session ends earlier on logout or when its token is deleted) [default: 12h].
        #[arg(long, env = "CONTAINEROPS_SESSION_TTL", value_name = "DURATION")]
        pub session_ttl: Option<String>,
        /// Serve the web UI from this directory (a `web/dist` built with `npm --prefix web run
        /// build`) instead of the one built into the binary [default: release builds: the UI
        /// embedded at build time; debug builds: the workspace's web/dist].
        #[arg(long, env = "CONTAINEROPS_UI_DIR", value_name = "DIR")]
        pub ui_dir: Option<PathBuf>,
        /// Image registries steps may use, comma-separated (a TOML array in the file): hosts with
        /// their port, if any (docker.io, ghcr.io, localhost:5000), each optionally with a path
        /// prefix (ghcr.io/acme allows ghcr.io/acme/… only). An image without a registry
        /// (alpine, acme/tool) is on docker.io. A workflow or component with an image from
        /// another registry is refused when it is validated or stored, when a run is queued, and
        /// again when the step launches [default: every registry].
        #[arg(long, env = "CONTAINEROPS_ALLOWED_REGISTRIES", value_name = "LIST", value_delimiter = ',')]
        #[serde(default, deserialize_with = "comma_list")]
        pub allowed_registries: Option<Vec<String>>,
        /// Kubernetes service accounts a component's `kubernetes: { serviceAccountName: … }` may
        /// name, comma-separated (a TOML array in the file; empty: none). The service account the
        /// server itself runs as is never allowed, even if listed [default: any but the server's
        /// own].
        #[arg(long, env = "CONTAINEROPS_ALLOWED_SERVICE_ACCOUNTS", value_name = "LIST", value_delimiter = ',')]
        #[serde(default, deserialize_with = "comma_list")]
        pub allowed_service_accounts: Option<Vec<String>>,
        /// The server's address as browsers reach it (https://ci.example.com, with a path prefix if
        /// a proxy adds one): commit statuses and notifications link to a run's page as
        /// PUBLIC_URL/ui/runs/ID [default: none; statuses are posted without a link].
        #[arg(long, env = "CONTAINEROPS_PUBLIC_URL", value_name = "URL")]
        pub public_url: Option<String>,
        /// The GitHub API that `github` triggers' commit statuses go to unless the trigger names
        /// its own `api-url` (GitHub Enterprise: https://HOST/api/v3) [default:
        /// https://api.github.com].
        #[arg(long, env = "CONTAINEROPS_GITHUB_API_URL", value_name = "URL")]
        pub github_api_url: Option<String>,
        /// The GitLab API that `gitlab` triggers' commit statuses go to unless the trigger names
        /// its own `api-url` (self-hosted: https://HOST/api/v4) [default:
        /// https://gitlab.com/api/v4].
        #[arg(long, env = "CONTAINEROPS_GITLAB_API_URL", value_name = "URL")]
        pub gitlab_api_url: Option<String>,
        #[command(flatten)]
        #[serde(flatten)]
        pub kubernetes: KubeSettings,
    }
}

options! {
    /// The Kubernetes backend's settings as given (by flags, the environment or a file), before
    /// they are checked; [`KubeSettings::options`] checks them. The server and `containerops run
    /// --backend kubernetes` share it, so both accept and reject the same values.
    #[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args, Deserialize)]
    #[command(next_help_heading = "Kubernetes backend (--backend kubernetes)")]
    pub struct KubeSettings {
        /// Namespace of the step Pods and workspaces [default: in a cluster the server's own; else
        /// the kubeconfig context's, else `default`].
        #[arg(long, env = "CONTAINEROPS_NAMESPACE", value_name = "NS")]
        pub namespace: Option<String>,
        /// kubeconfig context, outside a cluster [default: the current context].
        #[arg(long, env = "CONTAINEROPS_CONTEXT", value_name = "CTX")]
        pub context: Option<String>,
        /// Run workspaces: rwo (one ReadWriteOnce PersistentVolumeClaim per run, its steps pinned
        /// to one node), rwx (a ReadWriteMany claim, the storage class must support it; steps
        /// anywhere) or none (no volume, each step gets an empty /workspace) [default: rwo].
        #[arg(long, env = "CONTAINEROPS_K8S_WORKSPACE", value_name = "MODE")]
        pub k8s_workspace: Option<String>,
        /// Storage class of the workspace claims [default: the cluster's default class].
        #[arg(long, env = "CONTAINEROPS_K8S_STORAGE_CLASS", value_name = "CLASS")]
        pub k8s_storage_class: Option<String>,
        /// Size of each run's workspace, a Kubernetes quantity (1Gi, 500Mi) [default: 1Gi].
        #[arg(long, env = "CONTAINEROPS_K8S_WORKSPACE_SIZE", value_name = "SIZE")]
        pub k8s_workspace_size: Option<String>,
        /// How long a step's image may fail to pull before the step fails [default: 60s].
        #[arg(long, env = "CONTAINEROPS_K8S_PULL_GRACE", value_name = "DURATION")]
        pub k8s_pull_grace: Option<String>,
        /// Grace period of step Pods deleted on cancel or timeout [default: 10s].
        #[arg(long, env = "CONTAINEROPS_K8S_STOP_GRACE", value_name = "DURATION")]
        pub k8s_stop_grace: Option<String>,
        /// How long a step Pod may stay unschedulable before the step fails with the scheduler's
        /// message (the step's retry policy decides what follows) [default: 5m].
        #[arg(long, env = "CONTAINEROPS_K8S_UNSCHEDULABLE_GRACE", value_name = "DURATION")]
        pub k8s_unschedulable_grace: Option<String>,
    }
}

/// A list option in the config file: a TOML array, or one string of comma-separated entries (as
/// on the command line and in the environment).
fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<List>::deserialize(d)?.map(|list| match list {
        List::One(text) => text.split(',').map(str::to_string).collect(),
        List::Many(entries) => entries,
    }))
}

/// A value that `Debug` does not show (tokens, keys).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

/// A database URL (or SQLite path) whose `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url(&self.0), f)
    }
}

impl fmt::Display for DatabaseUrl {
    /// With the password hidden, as in `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl Deref for DatabaseUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for DatabaseUrl {
    fn from(value: String) -> DatabaseUrl {
        DatabaseUrl(value)
    }
}

impl From<&str> for DatabaseUrl {
    fn from(value: &str) -> DatabaseUrl {
        DatabaseUrl(value.to_string())
    }
}

impl PartialEq<&str> for DatabaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The options clap makes of `args` (what follows the subcommand) and of the environment `env`
/// (looked up instead of the process's): the same options a command that flattens `T` would get,
/// with the variable named in the error if a variable's value is wrong. Tests, and readers of
/// the environment alone (`containerops run --backend kubernetes`), use it.
pub fn parse_options<T: clap::Args + clap::FromArgMatches>(
    args: &[&str],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<T, ConfigError> {
    let command = T::augment_args(clap::Command::new("containerops"))
        .no_binary_name(true)
        .args_override_self(true);
    let from_env: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let var = arg.get_env()?.to_str()?;
            let value = env(var)?;
            Some((var.to_string(), format!("--{}={value}", arg.get_long()?)))
        })
        .collect();
    let command = command.mut_args(|arg| arg.env(None));
    let parse = |argv: &mut dyn Iterator<Item = &str>| {
        command
            .clone()
            .try_get_matches_from(argv)
            .and_then(|matches| T::from_arg_matches(&matches))
            .map_err(|e| clap_message(&e))
    };
    for (var, arg) in &from_env {
        parse(&mut std::iter::once(arg.as_str()))
            .map_err(|e| ConfigError(format!("{var}: {e}")))?;
    }
    // An argument given twice keeps the last value (`args_override_self`): the flags win.
    parse(
        &mut from_env
            .iter()
            .map(|(_, arg)| arg.as_str())
            .chain(args.iter().copied()),
    )
    .map_err(ConfigError)
}

/// The first line of a clap error, without its `error: ` prefix.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// Every option as declared: `(config-file key, flag, environment variable)`, in declaration
/// order. The config file has every key but `config`.
pub fn declared_options() -> Vec<(String, String, String)> {
    use clap::Args;
    ServerOptions::augment_args(clap::Command::new("containerops"))
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let var = arg.get_env()?.to_str()?;
            Some((
                arg.get_id().to_string(),
                format!("--{long}"),
                var.to_string(),
            ))
        })
        .collect()
}

/// Every environment variable the server reads its options from (`--listen` is
/// `CONTAINEROPS_LISTEN`, …). `CONTAINEROPS_DB` (the CLI's database) and `CONTAINEROPS_LOG` (the
/// log level) are read too, but are not options.
pub fn env_vars() -> Vec<String> {
    declared_options()
        .into_iter()
        .map(|(_, _, var)| var)
        .collect()
}

impl ServerOptions {
    /// The options of `containerops server ARGS` in the environment `env` (see [`parse_options`]).
    pub fn parse(
        args: &[&str],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServerOptions, ConfigError> {
        parse_options(args, env)
    }

    /// The options of a TOML config file's text (`origin` names the file in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<ServerOptions, ConfigError> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError(format!("{origin}: {}", e.message().trim_end())))?;
        let declared = declared_options();
        let keys: Vec<&str> = declared
            .iter()
            .map(|(key, _, _)| key.as_str())
            .filter(|key| *key != "config")
            .collect();
        for key in table.keys() {
            if !keys.contains(&key.as_str()) {
                let hint = match co_spec::suggest(key, keys.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("the keys are: {}", keys.join(", ")),
                };
                return Err(ConfigError(format!(
                    "{origin}: unknown key `{key}`; {hint}"
                )));
            }
        }
        toml::from_str(text)
            .map_err(|e| ConfigError(format!("{origin}: {}", e.message().trim_end())))
    }

    /// The config-file keys of the options that are set.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        Layer::given(self, "", &mut given);
        given
    }
}

impl KubeSettings {
    /// The settings set in the environment `env` (`CONTAINEROPS_NAMESPACE`, …).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<KubeSettings, ConfigError> {
        parse_options(&[], env)
    }

    /// The names (config-file keys) of the settings that are set.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        Layer::given(self, "", &mut given);
        given
    }

    /// Check the settings and fill in the defaults. `name` turns a setting's config-file key
    /// (`k8s_workspace_size`) into the name the user knows it by (`--k8s-workspace-size`), for
    /// error messages.
    pub fn options(&self, name: &dyn Fn(&str) -> String) -> Result<KubeOptions, ConfigError> {
        let defaults = KubeOptions::default();
        if let Some(ns) = &self.namespace {
            if !is_dns_label(ns) {
                return Err(ConfigError(format!(
                    "{} {ns:?} is not a valid namespace name (lower-case letters, digits and \
                     `-`, at most 63 characters)",
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
        let read_write_many = match self.k8s_workspace.as_deref().map(str::to_ascii_lowercase) {
            None => Some(false),
            Some(mode) => match mode.as_str() {
                "rwo" | "readwriteonce" => Some(false),
                "rwx" | "readwritemany" => Some(true),
                "none" => None,
                _ => {
                    return Err(ConfigError(format!(
                        "{} {mode:?}: use rwo (a ReadWriteOnce volume per run, its steps on one \
                         node), rwx (a ReadWriteMany volume, steps on any node) or none (no \
                         shared workspace)",
                        name("k8s_workspace")
                    )))
                }
            },
        };
        if let Some(class) = &self.k8s_storage_class {
            if !is_dns_subdomain(class) {
                return Err(ConfigError(format!(
                    "{} {class:?} is not a valid storage class name",
                    name("k8s_storage_class")
                )));
            }
        }
        if let Some(size) = &self.k8s_workspace_size {
            if !is_quantity(size) {
                return Err(ConfigError(format!(
                    "{} {size:?} is not a Kubernetes quantity greater than zero (e.g. 1Gi, \
                     500Mi, 10G)",
                    name("k8s_workspace_size")
                )));
            }
        }
        let workspace = match read_write_many {
            Some(read_write_many) => WorkspaceMode::Pvc {
                storage_class: self.k8s_storage_class.clone(),
                size: self.k8s_workspace_size.clone().unwrap_or_else(|| {
                    match &defaults.workspace {
                        WorkspaceMode::Pvc { size, .. } => size.clone(),
                        WorkspaceMode::None => "1Gi".into(),
                    }
                }),
                read_write_many,
            },
            None => {
                if self.k8s_storage_class.is_some() || self.k8s_workspace_size.is_some() {
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
                &self.k8s_pull_grace,
                defaults.image_pull_grace,
            )?,
            stop_grace: duration("k8s_stop_grace", &self.k8s_stop_grace, defaults.stop_grace)?,
            unschedulable_grace: duration(
                "k8s_unschedulable_grace",
                &self.k8s_unschedulable_grace,
                defaults.unschedulable_grace,
            )?,
        })
    }
}

/// The entries of `allowed_registries`, checked (an empty list would refuse every image).
/// An http:// or https:// URL with a host, without a trailing `/`.
fn http_url(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let host = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"));
    match host {
        Some(h) if !h.is_empty() && !t.contains(char::is_whitespace) => Ok(t.to_string()),
        _ => Err(format!(
            "{text:?} is not an http:// or https:// URL (like https://ci.example.com)"
        )),
    }
}

fn registry_rules(entries: &[String]) -> Result<Vec<crate::policy::RegistryRule>, ConfigError> {
    let rules = entries
        .iter()
        .filter(|e| !e.trim().is_empty())
        .map(|e| crate::policy::RegistryRule::parse(e))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError(format!("allowed_registries: {e}")))?;
    if rules.is_empty() {
        return Err(ConfigError(
            "allowed_registries is empty, which would refuse every image; name the registries \
             steps may use (e.g. docker.io,ghcr.io/acme), or leave it unset to allow every one"
                .into(),
        ));
    }
    Ok(rules)
}

/// The entries of `allowed_service_accounts`, checked (empty entries are dropped: an empty list
/// allows none).
fn service_accounts(entries: &[String]) -> Result<Vec<String>, ConfigError> {
    entries
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .map(|e| {
            if is_dns_subdomain(e) {
                Ok(e.to_string())
            } else {
                Err(ConfigError(format!(
                    "allowed_service_accounts: {e:?} is not a service account name (lower-case \
                     letters, digits, `-` and `.`)"
                )))
            }
        })
        .collect()
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
    /// A Docker Swarm manager (`$DOCKER_HOST`, the usual sockets): a replicated-job service per
    /// step attempt, a local volume per run on the manager's node.
    Swarm,
}

impl BackendKind {
    fn parse(text: &str) -> Result<BackendKind, ConfigError> {
        match text.to_ascii_lowercase().as_str() {
            "docker" | "podman" => Ok(BackendKind::Docker),
            "kubernetes" | "k8s" => Ok(BackendKind::Kubernetes),
            "noop" => Ok(BackendKind::Noop),
            "swarm" => Ok(BackendKind::Swarm),
            other => Err(ConfigError(format!(
                "unknown backend {other:?}: use docker (Docker or Podman), kubernetes or swarm"
            ))),
        }
    }
}

/// Days artifacts are kept by default.
pub const DEFAULT_ARTIFACT_RETENTION_DAYS: u32 = 30;

/// The resolved configuration of one server process. `Debug` hides the secrets and the
/// database password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: String,
    /// A SQLite path / `sqlite://` URL, or a `postgres://` URL.
    pub database: DatabaseUrl,
    pub data_dir: PathBuf,
    pub admin_token: Option<Secret>,
    /// Base64 of the 32-byte secrets key; `None`: `<data_dir>/secret.key`.
    pub secret_key: Option<Secret>,
    pub max_runs: Option<i64>,
    /// What the driver allows runs (`None` fields: the backend's defaults).
    pub limits: co_runner::RunLimits,
    pub max_body_bytes: usize,
    pub server_id: String,
    pub backend: BackendKind,
    /// Between SIGTERM and SIGKILL when a step is stopped on Docker/Podman.
    pub stop_grace: Duration,
    /// Days artifacts are kept; 0: forever.
    pub artifact_retention_days: u32,
    pub lease: Duration,
    /// The Kubernetes backend's settings (used when `backend` is [`BackendKind::Kubernetes`]).
    pub kubernetes: KubeOptions,
    /// How long a browser session lasts (`crate::session`).
    pub session_ttl: Duration,
    /// Where the web UI's files come from.
    pub ui: crate::ui::UiSource,
    /// The image registries and service accounts steps may use (`allowed_registries`,
    /// `allowed_service_accounts`); the server's own service account is added when the
    /// Kubernetes backend connects.
    pub policy: crate::policy::LaunchPolicy,
    /// Where commit statuses go and how they are retried (`crate::forge`).
    pub statuses: crate::forge::StatusOptions,
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
            database: DatabaseUrl(database.into()),
            data_dir: data_dir.into(),
            admin_token: None,
            secret_key: None,
            max_runs: None,
            limits: co_runner::RunLimits::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            server_id: default_server_id(),
            backend: BackendKind::Docker,
            stop_grace: co_backend_docker::DockerOptions::DEFAULT_STOP_GRACE,
            artifact_retention_days: DEFAULT_ARTIFACT_RETENTION_DAYS,
            lease: DEFAULT_LEASE,
            kubernetes: KubeOptions::default(),
            session_ttl: crate::session::DEFAULT_TTL,
            ui: crate::ui::UiSource::default_for_build(),
            policy: crate::policy::LaunchPolicy::default(),
            statuses: crate::forge::StatusOptions::default(),
        }
    }

    /// The configuration from `given` (the flags and environment variables, as clap read them),
    /// the config file they name, and the defaults.
    pub fn load(given: ServerOptions) -> Result<ServerConfig, ConfigError> {
        ServerConfig::resolve(given, &|name| std::env::var(name).ok())
    }

    /// Same as [`ServerConfig::load`] with the environment given as a lookup function (it
    /// supplies `XDG_DATA_HOME`, `HOME` and `CONTAINEROPS_DB` for the defaults; the options'
    /// own variables are in `given`, see [`ServerOptions::parse`]).
    pub fn resolve(
        given: ServerOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServerConfig, ConfigError> {
        let from_file = match &given.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                ServerOptions::from_toml(&text, &path.display().to_string())?
            }
            None => ServerOptions::default(),
        };
        let o = given.or(from_file);

        let data_dir = o
            .data_dir
            .unwrap_or_else(|| default_data_dir(env("XDG_DATA_HOME"), env("HOME")));
        let database = match o.database {
            Some(url) => url.0,
            None => env("CONTAINEROPS_DB")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| data_dir.join("containerops.db").display().to_string()),
        };
        let mut c = ServerConfig::new(database, data_dir);
        if let Some(listen) = o.listen {
            c.listen = listen;
        }
        c.admin_token = o.admin_token;
        c.secret_key = o.secret_key;
        c.max_runs = o.max_runs;
        c.limits.max_parallel_steps = o.max_parallel_steps;
        for (key, given, into) in [
            (
                "step_log_cap",
                &o.step_log_cap,
                &mut c.limits.step_log_bytes,
            ),
            ("run_log_cap", &o.run_log_cap, &mut c.limits.run_log_bytes),
        ] {
            if let Some(text) = given {
                *into = Some(
                    co_runner::RunLimits::parse_log_cap(text)
                        .map_err(|e| ConfigError(format!("{key} {text:?}: {e}")))?,
                );
            }
        }
        if let Some(text) = &o.max_artifact_size {
            c.limits.max_artifact_bytes = Some(
                co_runner::RunLimits::parse_artifact_size(text)
                    .map_err(|e| ConfigError(format!("max_artifact_size {text:?}: {e}")))?,
            );
        }
        if let Some(days) = o.artifact_retention_days {
            c.artifact_retention_days = days;
        }
        if let Some(n) = o.max_body_bytes {
            c.max_body_bytes = n;
        }
        if let Some(id) = o.server_id {
            c.server_id = id;
        }
        if let Some(backend) = o.backend {
            c.backend = BackendKind::parse(&backend)?;
        }
        if let Some(text) = o.stop_grace {
            c.stop_grace = co_spec::parse_duration(&text)
                .map_err(|e| e.to_string())
                .and_then(co_backend_docker::DockerOptions::check_stop_grace)
                .map_err(|e| ConfigError(format!("stop_grace {text:?}: {e}")))?;
        }
        if let Some(text) = o.lease {
            c.lease = co_spec::parse_duration(&text)
                .map_err(|e| ConfigError(format!("lease {text:?}: {e}")))?;
        }
        if let Some(text) = o.session_ttl {
            c.session_ttl = co_spec::parse_duration(&text)
                .map_err(|e| ConfigError(format!("session_ttl {text:?}: {e}")))?;
        }
        if let Some(dir) = o.ui_dir {
            c.ui = crate::ui::UiSource::Dir(dir);
        }
        if let Some(entries) = o.allowed_registries {
            c.policy.registries = Some(registry_rules(&entries)?);
        }
        if let Some(entries) = o.allowed_service_accounts {
            c.policy.service_accounts = Some(service_accounts(&entries)?);
        }
        for (key, given, into) in [
            ("public_url", o.public_url, &mut c.statuses.public_url),
            (
                "github_api_url",
                o.github_api_url,
                &mut c.statuses.github_api,
            ),
            (
                "gitlab_api_url",
                o.gitlab_api_url,
                &mut c.statuses.gitlab_api,
            ),
        ] {
            if let Some(text) = given {
                *into = Some(http_url(&text).map_err(|e| ConfigError(format!("{key}: {e}")))?);
            }
        }
        if c.backend == BackendKind::Kubernetes {
            c.kubernetes = o.kubernetes.options(&|key| key.to_string())?;
        } else {
            let given = o.kubernetes.given();
            if !given.is_empty() {
                tracing::warn!(
                    settings = ?given,
                    "Kubernetes settings are ignored: the backend is not kubernetes"
                );
            }
        }
        c.check()?;
        Ok(c)
    }

    /// Check the values that have limits.
    pub fn check(&self) -> Result<(), ConfigError> {
        let listen = &self.listen;
        if listen
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            return Err(ConfigError(format!(
                "listen address {listen:?} must be HOST:PORT (e.g. 127.0.0.1:8080 or 0.0.0.0:80)"
            )));
        }
        if let Some(n) = self.max_runs {
            if n < 1 {
                return Err(ConfigError(format!(
                    "max_runs must be at least 1 (leave it unset for no limit), not {n}"
                )));
            }
        }
        if self.limits.max_parallel_steps == Some(0) {
            return Err(ConfigError(
                "max_parallel_steps must be at least 1 (leave it unset for the default)".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError(format!(
                "max_body_bytes must be at least 1024, not {}",
                self.max_body_bytes
            )));
        }
        if self.lease < Duration::from_millis(300) {
            return Err(ConfigError(format!(
                "lease must be at least 300ms, not {:?}",
                self.lease
            )));
        }
        let (min, max) = (crate::session::MIN_TTL, crate::session::MAX_TTL);
        if self.session_ttl < min || self.session_ttl > max {
            return Err(ConfigError(format!(
                "session_ttl must be between {} and {}, not {}",
                crate::graph::duration_text(min),
                crate::graph::duration_text(max),
                crate::graph::duration_text(self.session_ttl)
            )));
        }
        if self.server_id.trim().is_empty() {
            return Err(ConfigError("server_id must not be empty".into()));
        }
        if let Some(token) = &self.admin_token {
            if token.expose().trim().len() < 16 {
                return Err(ConfigError(
                    "admin_token must be at least 16 characters long".into(),
                ));
            }
        }
        Ok(())
    }

    /// Where the secrets key is kept when `secret_key` is not configured.
    pub fn secret_key_file(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }
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

    /// What `containerops server ARGS` resolves to in the environment `vars`.
    fn resolve(args: &[&str], vars: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
        let env = env(vars);
        ServerConfig::resolve(ServerOptions::parse(args, &env)?, &env)
    }

    #[test]
    fn swarm_is_a_backend_by_flag_env_or_file() {
        let c = resolve(&["--backend", "swarm"], &[]).unwrap();
        assert_eq!(c.backend, BackendKind::Swarm);
        let c = resolve(&[], &[("CONTAINEROPS_BACKEND", "Swarm")]).unwrap();
        assert_eq!(c.backend, BackendKind::Swarm);
        let err = resolve(&["--backend", "nomad"], &[]).unwrap_err();
        assert!(err.0.contains("kubernetes or swarm"), "{err}");
    }

    #[test]
    fn defaults_follow_the_cli_data_directory() {
        let c = resolve(&[], &[("XDG_DATA_HOME", "/xdg"), ("HOME", "/home/u")]).unwrap();
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

        let c = resolve(&[], &[("HOME", "/home/u")]).unwrap();
        assert_eq!(
            c.database,
            "/home/u/.local/share/containerops/containerops.db"
        );
        let c = resolve(
            &[],
            &[("HOME", "/home/u"), ("CONTAINEROPS_DB", "/x/runs.db")],
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
             max_body_bytes = 5000\nserver_id = \"file-id\"\ndata_dir = \"/from/file\"\n\
             namespace = \"from-file\"\n",
        )
        .unwrap();
        let c = resolve(
            &["--listen", "127.0.0.1:9", "--backend", "kubernetes"],
            &[
                ("CONTAINEROPS_CONFIG", file.to_str().unwrap()),
                ("CONTAINEROPS_LISTEN", "127.0.0.1:7"),
                ("CONTAINEROPS_MAX_RUNS", "5"),
                ("CONTAINEROPS_BACKEND", "docker"),
                ("CONTAINEROPS_DB", "/ignored.db"),
            ],
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9"); // flag
        assert_eq!(c.backend, BackendKind::Kubernetes); // flag over env
        assert_eq!(c.max_runs, Some(5)); // env over file
        assert_eq!(c.database, "postgres://f"); // file over CONTAINEROPS_DB
        assert_eq!(c.max_body_bytes, 5000); // file
        assert_eq!(c.server_id, "file-id");
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.kubernetes.namespace.as_deref(), Some("from-file"));
    }

    #[test]
    fn web_ui_options() {
        let c = resolve(&[], &[]).unwrap();
        assert_eq!(c.session_ttl, crate::session::DEFAULT_TTL);
        assert_eq!(c.ui, crate::ui::UiSource::default_for_build());
        let c = resolve(
            &["--session-ttl", "30m"],
            &[("CONTAINEROPS_UI_DIR", "/srv/ui")],
        )
        .unwrap();
        assert_eq!(c.session_ttl, Duration::from_secs(1800));
        assert_eq!(c.ui, crate::ui::UiSource::Dir(PathBuf::from("/srv/ui")));
    }

    #[test]
    fn the_stop_grace_is_an_option() {
        assert_eq!(
            resolve(&[], &[]).unwrap().stop_grace,
            Duration::from_secs(10)
        );
        let c = resolve(&[], &[("CONTAINEROPS_STOP_GRACE", "2m")]).unwrap();
        assert_eq!(c.stop_grace, Duration::from_secs(120));
        let c = resolve(
            &["--stop-grace", "0s"],
            &[("CONTAINEROPS_STOP_GRACE", "2m")],
        )
        .unwrap();
        assert_eq!(c.stop_grace, Duration::ZERO);
    }

    #[test]
    fn allowed_registries_and_service_accounts() {
        use crate::policy::RegistryRule;
        let c = resolve(&[], &[]).unwrap();
        assert_eq!(c.policy, crate::policy::LaunchPolicy::default());
        let c = resolve(
            &["--allowed-registries", "docker.io, ghcr.io/acme"],
            &[("CONTAINEROPS_ALLOWED_SERVICE_ACCOUNTS", "builder,deployer")],
        )
        .unwrap();
        assert_eq!(
            c.policy.registries,
            Some(vec![
                RegistryRule::parse("docker.io").unwrap(),
                RegistryRule::parse("ghcr.io/acme").unwrap()
            ])
        );
        assert_eq!(
            c.policy.service_accounts,
            Some(vec!["builder".to_string(), "deployer".to_string()])
        );
        // The file takes arrays; an empty list of service accounts allows none.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            "allowed_registries = [\"localhost:5000\"]\nallowed_service_accounts = []\n",
        )
        .unwrap();
        let c = resolve(&["--config", file.to_str().unwrap()], &[]).unwrap();
        assert_eq!(
            c.policy.registries,
            Some(vec![RegistryRule::parse("localhost:5000").unwrap()])
        );
        assert_eq!(c.policy.service_accounts, Some(vec![]));
        std::fs::write(&file, "allowed_service_accounts = \"a, b\"\n").unwrap();
        let c = resolve(&["--config", file.to_str().unwrap()], &[]).unwrap();
        assert_eq!(
            c.policy.service_accounts,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        let c = resolve(&["--allowed-service-accounts", ""], &[]).unwrap();
        assert_eq!(c.policy.service_accounts, Some(vec![]));

        for (args, needle) in [
            (
                &["--allowed-registries", ""][..],
                "allowed_registries is empty",
            ),
            (
                &["--allowed-registries", "docker.io,myregistry"][..],
                "`myregistry` is not a registry host",
            ),
            (
                &["--allowed-registries", "https://ghcr.io"][..],
                "without a scheme",
            ),
            (
                &["--allowed-service-accounts", "Builder"][..],
                "\"Builder\" is not a service account name",
            ),
        ] {
            let err = resolve(args, &[]).unwrap_err();
            assert!(err.0.contains(needle), "{args:?}: {err}");
            assert!(!err.0.contains("  "), "{args:?}: {err}");
        }
    }

    #[test]
    fn mistakes_are_reported_in_words() {
        let bad_env = resolve(&[], &[("CONTAINEROPS_MAX_RUNS", "many")]).unwrap_err();
        assert!(bad_env.0.contains("CONTAINEROPS_MAX_RUNS"), "{bad_env}");
        assert!(bad_env.0.contains("many"), "{bad_env}");
        let bad_flag = resolve(&["--max-body-bytes", "lots"], &[]).unwrap_err();
        assert!(bad_flag.0.contains("--max-body-bytes"), "{bad_flag}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\nmax_run = 3\n").unwrap();
        let err = resolve(&["--config", file.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.0.contains("unknown key `max_run`"), "{err}");
        assert!(err.0.contains("did you mean `max_runs`?"), "{err}");
        assert!(err.0.contains("server.toml"), "{err}");
        // `config` is not a key of the file itself.
        std::fs::write(&file, "config = \"other.toml\"\n").unwrap();
        let err = resolve(&["--config", file.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.0.contains("unknown key `config`"), "{err}");
        std::fs::write(&file, "max_runs = \"three\"\n").unwrap();
        let err = resolve(&["--config", file.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.0.contains("server.toml"), "{err}");
        assert!(err.0.contains("three"), "{err}");

        let missing = dir.path().join("missing.toml");
        let err = resolve(&["--config", missing.to_str().unwrap()], &[]).unwrap_err();
        assert!(err.0.contains("cannot read config file"), "{err}");

        for (args, needle) in [
            (&["--listen", "8080"][..], "HOST:PORT"),
            (&["--max-runs", "0"][..], "max_runs"),
            (&["--max-parallel-steps", "0"][..], "max_parallel_steps"),
            (
                &["--step-log-cap", "lots"][..],
                "step_log_cap \"lots\": `lots` is not a size",
            ),
            (
                &["--run-log-cap", "10"][..],
                "run_log_cap \"10\": a log cap of `10` is too small",
            ),
            (&["--max-body-bytes", "10"][..], "max_body_bytes"),
            (&["--backend", "kube"][..], "unknown backend"),
            (&["--admin-token", "short"][..], "16 characters"),
            (&["--server-id", " "][..], "server_id"),
            (&["--lease", "1ms"][..], "lease"),
            (&["--lease", "soon"][..], "lease \"soon\""),
            (
                &["--stop-grace", "2h"][..],
                "stop_grace \"2h\": the stop grace may be at most",
            ),
            (&["--stop-grace", "soon"][..], "stop_grace \"soon\""),
            (&["--session-ttl", "30s"][..], "between 1m and 720h"),
            (&["--session-ttl", "31d"][..], "session_ttl \"31d\""),
            (&["--session-ttl", "800h"][..], "not 800h"),
        ] {
            let err = resolve(args, &[]).unwrap_err();
            assert!(err.0.contains(needle), "{args:?}: {err}");
            // No message has a run of spaces left by a lost line continuation.
            assert!(!err.0.contains("  "), "{args:?}: {err}");
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
        let c = resolve(
            &["--namespace", "from-flag"],
            &[
                ("CONTAINEROPS_CONFIG", file.to_str().unwrap()),
                ("CONTAINEROPS_NAMESPACE", "from-env"),
                ("CONTAINEROPS_CONTEXT", "env-ctx"),
            ],
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
        let c = resolve(&[], &[("CONTAINEROPS_BACKEND", "Kubernetes")]).unwrap();
        assert_eq!(c.backend, BackendKind::Kubernetes);
        assert_eq!(c.kubernetes, KubeOptions::default());

        let c = resolve(
            &[],
            &[
                ("CONTAINEROPS_BACKEND", "k8s"),
                ("CONTAINEROPS_K8S_WORKSPACE", "none"),
            ],
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
            let err = resolve(&[], &all).unwrap_err();
            assert!(err.0.contains(needle), "{vars:?}: {err}");
            // No message has a run of spaces left by a lost line continuation.
            assert!(!err.0.contains("  "), "{vars:?}: {err}");
            // The same settings mean nothing to the docker backend.
            let c = resolve(&[], vars).unwrap();
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

    /// The one declaration is the flag, the variable and the key: `--k8s-pull-grace` is
    /// `CONTAINEROPS_K8S_PULL_GRACE` and `k8s_pull_grace`, and each is read.
    #[test]
    fn every_option_is_a_flag_a_variable_and_a_key_named_alike() {
        let declared = declared_options();
        assert!(declared.len() >= 19, "{declared:?}");
        let numbers = [
            "max_runs",
            "max_parallel_steps",
            "max_body_bytes",
            "artifact_retention_days",
        ];
        let mut file = String::new();
        for (key, flag, var) in &declared {
            assert_eq!(flag, &format!("--{}", key.replace('_', "-")));
            assert_eq!(var, &format!("CONTAINEROPS_{}", key.to_ascii_uppercase()));
            let value = if numbers.contains(&key.as_str()) {
                "2048"
            } else {
                "x"
            };
            let from_env =
                ServerOptions::parse(&[], &|name| (name == var).then(|| value.into())).unwrap();
            assert_eq!(from_env.given(), [key.as_str()], "{var} is not read");
            let from_flag = ServerOptions::parse(&[flag, value], &|_| None).unwrap();
            assert_eq!(from_flag, from_env, "{flag}");
            if key != "config" {
                let value = if numbers.contains(&key.as_str()) {
                    "2048".to_string()
                } else {
                    format!("{value:?}")
                };
                file.push_str(&format!("{key} = {value}\n"));
            }
        }
        // Every key but `config` is read from the file.
        let from_file = ServerOptions::from_toml(&file, "test.toml").unwrap();
        let mut keys: Vec<&str> = declared.iter().map(|(k, _, _)| k.as_str()).collect();
        keys.retain(|k| *k != "config");
        assert_eq!(from_file.given(), keys);
        assert_eq!(env_vars().len(), declared.len());
    }

    /// docs/server.md has one row per option (flag, variable, key), in declaration order.
    #[test]
    fn the_documented_table_lists_every_option() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md"))
                .unwrap();
        let rows: Vec<(String, String, String)> = doc
            .lines()
            .filter(|line| line.starts_with("| `--"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let unquote = |cell: &str| cell.trim_matches('`').to_string();
                let flag = unquote(cells[1]);
                let flag = flag.split(' ').next().unwrap().to_string();
                let key = match unquote(cells[3]).as_str() {
                    "—" => "config".to_string(),
                    key => key.to_string(),
                };
                (key, flag, unquote(cells[2]))
            })
            .collect();
        let mut declared = declared_options();
        declared.retain(|(key, _, _)| key != "lease"); // hidden: for tests
        assert_eq!(rows, declared);
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
        let options = ServerOptions::parse(
            &["--admin-token", "admin-token-value-123"],
            &env(&[
                ("CONTAINEROPS_DATABASE", "postgres://co:hunter2@db/x"),
                ("CONTAINEROPS_SECRET_KEY", "a2V5"),
            ]),
        )
        .unwrap();
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("admin-token-value"), "{shown}");
        assert!(!shown.contains("a2V5"), "{shown}");
    }
}

//! `containerops`: run workflows of container components, locally or against a server.

// Every print of this crate goes through `out`: std's macros panic when the output is closed
// (`containerops runs list | head`). These shadow them in every module below (textual scope);
// write whole lines (no `print!`).
macro_rules! println {
    () => { $crate::out::stdout_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::stdout_line(format_args!($($arg)*)) };
}
macro_rules! eprintln {
    () => { $crate::out::stderr_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::stderr_line(format_args!($($arg)*)) };
}

mod client;
mod commands;
mod engine;
mod out;
mod paths;
mod view;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit codes (SPEC §5).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
    pub const CANCELLED: u8 = 130;
    /// Stdout was closed before everything was printed (as for a tool killed by SIGPIPE).
    pub const OUTPUT_CLOSED: u8 = 141;

    /// The exit code of a run that ended with `status`: 0 succeeded, 1 failed, 130 cancelled
    /// (a run that is not over, or whose status is unknown, is not a success: 1).
    pub fn of_run(status: Option<co_store::RunStatus>) -> u8 {
        use co_store::RunStatus;
        match status {
            Some(RunStatus::Succeeded) => OK,
            Some(RunStatus::Cancelled) => CANCELLED,
            Some(RunStatus::Failed | RunStatus::Queued | RunStatus::Running) | None => FAILED,
        }
    }
}

const AFTER_HELP: &str = "\
Examples:
  containerops run examples/hello/workflow.yaml --input who=team
  containerops run pipeline.yaml --secret TOKEN      # value read from $TOKEN
  containerops run pipeline.yaml --output json | jq .status
  containerops validate workflows/*.yaml
  containerops component build examples/ci-pipeline/components/c-build
  containerops component test examples/ci-pipeline/components/checksum --input file=/etc/hostname
  containerops runs list
  containerops runs show 01jd… --output json
  containerops logs 01jd… build

With a server (containerops server), the same history commands and more talk to it over HTTP:
  containerops --server http://127.0.0.1:8080 --token $TOKEN workflows apply workflow.yaml
  containerops --server http://127.0.0.1:8080 workflows list
  containerops --server http://127.0.0.1:8080 runs start hello --input who=team --wait
  containerops --server http://127.0.0.1:8080 runs list --status failed
  containerops --server http://127.0.0.1:8080 logs -f 01jd…
  containerops --server http://127.0.0.1:8080 runs cancel 01jd…
  containerops --server http://127.0.0.1:8080 runs resume 01jd…
  containerops --server http://127.0.0.1:8080 secrets set REGISTRY_TOKEN < token.txt
`run`, `validate` and `component` always work locally.

Environment:
  DOCKER_HOST        container engine to use (else /var/run/docker.sock, /run/podman/podman.sock,
                     $XDG_RUNTIME_DIR/podman/podman.sock)
  CONTAINEROPS_DB    run history database (else $XDG_DATA_HOME/containerops/containerops.db, else
                     ~/.local/share/containerops/containerops.db)
  CONTAINEROPS_BACKEND   docker (Docker or Podman, the default) or kubernetes, for `run`
  KUBECONFIG         kubeconfig for --backend kubernetes (else ~/.kube/config, or in-cluster)
  CONTAINEROPS_SERVER, CONTAINEROPS_TOKEN   the same as --server and --token

Exit codes: 0 run succeeded, 1 run failed, 2 invalid input, 130 cancelled (Ctrl-C, SIGTERM, or
stdout closed during `run`), 141 stdout closed before everything was printed (other commands).";

#[derive(Parser)]
#[command(
    name = "containerops",
    version,
    about = "Run workflows of container components on Docker, Podman or Kubernetes, and keep their history",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Talk to this ContainerOps server (http://HOST:PORT) instead of the local store.
    #[arg(
        long,
        global = true,
        env = "CONTAINEROPS_SERVER",
        value_name = "URL",
        help_heading = "Client options",
        display_order = 900
    )]
    server: Option<String>,
    /// API token for --server (sent as `Authorization: Bearer TOKEN`).
    #[arg(
        long,
        global = true,
        env = "CONTAINEROPS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        help_heading = "Client options",
        display_order = 901
    )]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate and run a workflow (workflow.yaml or a seed-format flow) on the local engine or
    /// on Kubernetes (`--backend kubernetes`).
    #[command(after_help = commands::run::AFTER_HELP)]
    Run(Box<commands::run::RunArgs>),
    /// Check workflow and component files without running anything.
    #[command(
        after_help = "Prints every problem as FILE:LINE:COL: error: MESSAGE and exits 2 if any."
    )]
    Validate(commands::validate::ValidateArgs),
    /// Build or try out a component.
    #[command(subcommand)]
    Component(commands::component::ComponentCommand),
    /// Run history from the local store; with --server, the server's runs (start, cancel, resume…).
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    /// The API server: stored workflows, runs from the API, webhooks and cron (see docs/server.md).
    #[command(after_help = co_server::config::AFTER_HELP)]
    Server(Box<commands::server::ServerArgs>),
    /// Print the logs of a run, or of one of its actions (-f: follow until the run ends).
    Logs(commands::runs::LogsArgs),
    /// Workflows stored on a server: apply a file as a new revision, list them (needs --server).
    #[command(subcommand)]
    Workflows(commands::workflows::WorkflowsCommand),
    /// Secrets stored on a server: set one (value from stdin or a file), list names, delete
    /// (needs --server).
    #[command(subcommand)]
    Secrets(commands::secrets::SecretsCommand),
    /// What a run's steps kept (`artifacts:`): list them, save one to a file.
    #[command(subcommand)]
    Artifacts(commands::artifacts::ArtifactsCommand),
}

type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = u8>>>;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let server = cli
        .server
        .clone()
        .filter(|url| !url.trim().is_empty())
        .map(|url| client::Server {
            url,
            token: cli.token.clone(),
        });
    // `run` always runs locally; a --server typed on its command line is a mistake to point out
    // (one from the environment is not: it is meant for the history commands).
    if matches!(cli.command, Command::Run(_))
        && matches.value_source("server") == Some(ValueSource::CommandLine)
    {
        eprintln!(
            "error: `containerops run` runs a file on the local engine and takes no --server\n\
             hint: to run it on the server: containerops --server URL workflows apply FILE, then \
             containerops --server URL runs start NAME --wait"
        );
        return ExitCode::from(exit::INVALID);
    }
    let json_logs = match std::env::var("CONTAINEROPS_LOG_FORMAT").as_deref() {
        Err(_) | Ok("" | "text") => false,
        Ok("json") => true,
        Ok(other) => {
            eprintln!(
                "error: CONTAINEROPS_LOG_FORMAT is {other:?}\n\
                 hint: use `text` (the default) or `json` (one JSON object per line)"
            );
            return ExitCode::from(exit::INVALID);
        }
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("CONTAINEROPS_LOG").unwrap_or_else(|_| {
            let server = matches!(cli.command, Command::Server(_));
            // kube's client logs connection failures that the CLI reports itself, better.
            tracing_subscriber::EnvFilter::new(if server {
                "info,kube_client=warn"
            } else {
                "warn,kube_client=off"
            })
        });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json_logs {
        logs.json().flatten_event(true).init();
    } else {
        logs.with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let code = runtime.block_on(async {
        let command = match cli.command {
            // A run (also `component test`'s) ends as on Ctrl-C when its stdout is closed: it
            // must clean up. The server prints nothing on stdout.
            Command::Run(args) => {
                out::watch_stdout();
                return commands::run::run(*args).await;
            }
            Command::Component(cmd) => {
                out::watch_stdout();
                return commands::component::component(cmd).await;
            }
            Command::Server(args) => return commands::server::server(*args).await,
            Command::Validate(args) => {
                Box::pin(async move { commands::validate::validate(args) }) as Pending
            }
            Command::Runs(cmd) => Box::pin(commands::runs::runs(cmd, server)),
            Command::Logs(args) => Box::pin(commands::runs::logs(args, server)),
            Command::Workflows(cmd) => Box::pin(commands::workflows::workflows(cmd, server)),
            Command::Secrets(cmd) => Box::pin(commands::secrets::secrets(cmd, server)),
            Command::Artifacts(cmd) => Box::pin(commands::artifacts::artifacts(cmd, server)),
        };
        // Anything else stops once nobody reads its output (`logs -f … | head`).
        out::watch_stdout();
        tokio::select! {
            code = command => code,
            _ = out::closed().cancelled() => exit::OUTPUT_CLOSED,
        }
    });
    ExitCode::from(code)
}

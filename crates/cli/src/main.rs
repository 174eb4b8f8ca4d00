//! `containerops`: run workflows of container components, locally or against a server.

mod commands;
mod engine;
mod paths;
mod view;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes (SPEC §5).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
    pub const CANCELLED: u8 = 130;
}

const AFTER_HELP: &str = "\
Examples:
  containerops run examples/hello/workflow.yaml --input who=team
  containerops run pipeline.yaml --secret TOKEN      # value read from $TOKEN
  containerops run pipeline.yaml --output json | jq .status
  containerops validate workflows/*.yaml
  containerops component build examples/ci-pipeline/components/build
  containerops component test examples/components/upper --input text=hello
  containerops runs list
  containerops runs show 01jd… --output json
  containerops logs 01jd… build

Environment:
  DOCKER_HOST        container engine to use (else /var/run/docker.sock, /run/podman/podman.sock,
                     $XDG_RUNTIME_DIR/podman/podman.sock)
  CONTAINEROPS_DB    run history database (else $XDG_DATA_HOME/containerops/containerops.db, else
                     ~/.local/share/containerops/containerops.db)

Exit codes: 0 run succeeded, 1 run failed, 2 invalid input, 130 cancelled.";

#[derive(Parser)]
#[command(
    name = "containerops",
    version,
    about = "Run workflows of container components on Docker or Podman, and keep their history",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate and run a workflow (workflow.yaml or a seed-format flow) on the local engine.
    #[command(after_help = commands::run::AFTER_HELP)]
    Run(commands::run::RunArgs),
    /// Check workflow and component files without running anything.
    #[command(
        after_help = "Prints every problem as FILE:LINE:COL: error: MESSAGE and exits 2 if any."
    )]
    Validate(commands::validate::ValidateArgs),
    /// Build or try out a component.
    #[command(subcommand)]
    Component(commands::component::ComponentCommand),
    /// Run history from the local store.
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    /// The API server: stored workflows, runs from the API, webhooks and cron (see docs/server.md).
    #[command(after_help = co_server::config::AFTER_HELP)]
    Server(commands::server::ServerArgs),
    /// Print the logs of a run, or of one of its actions.
    Logs(commands::runs::LogsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONTAINEROPS_LOG")
                .unwrap_or_else(|_| {
                    let server = matches!(cli.command, Command::Server(_));
                    tracing_subscriber::EnvFilter::new(if server { "info" } else { "warn" })
                }),
        )
        .with_writer(std::io::stderr)
        .init();
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
        match cli.command {
            Command::Run(args) => commands::run::run(args).await,
            Command::Validate(args) => commands::validate::validate(args),
            Command::Component(cmd) => commands::component::component(cmd).await,
            Command::Server(args) => commands::server::server(args).await,
            Command::Runs(cmd) => commands::runs::runs(cmd).await,
            Command::Logs(args) => commands::runs::logs(args).await,
        }
    });
    ExitCode::from(code)
}

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

Component images with a build: section are built first when missing (--rebuild: always).
Ctrl-C cancels the run: running steps are stopped and removed, `finally` and always() steps still
run; a second Ctrl-C stops those too. Exit codes: 0 succeeded, 1 failed, 2 invalid, 130 cancelled.";

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
    /// Rebuild every component image that has a build: section, even if it exists.
    #[arg(long)]
    pub rebuild: bool,
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
    let plan = Arc::new(co_spec::plan(workflow.clone()));

    let backend = match crate::engine::connect().await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return exit::FAILED;
        }
    };
    if let Err(e) = crate::engine::ensure_images(&backend, &workflow, args.rebuild).await {
        eprintln!("{e}");
        return exit::FAILED;
    }
    let store = match open_store().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let runner = Runner::new(backend, store.clone());
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

    // SIGINT/SIGTERM cancel the run; a second one also stops finally/always() steps.
    let cancel = prepared.cancel_handle();
    let json = args.output == OutputFormat::Json;
    let signals = tokio::spawn(async move {
        let mut count = 0;
        while wait_for_signal().await {
            count += 1;
            if count == 1 {
                eprintln!("\ncancelling run… (press Ctrl-C again to also stop finally steps)");
            } else {
                eprintln!("\nstopping everything…");
            }
            cancel.cancel();
        }
    });

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
    match status {
        RunStatus::Succeeded => exit::OK,
        RunStatus::Failed => exit::FAILED,
        RunStatus::Cancelled => exit::CANCELLED,
    }
}

/// Wait for SIGINT or SIGTERM; `false` if signals cannot be watched.
async fn wait_for_signal() -> bool {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return false;
    };
    tokio::select! {
        v = int.recv() => v.is_some(),
        v = term.recv() => v.is_some(),
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("error: {message}");
    exit::INVALID
}

/// Open the local store, creating it if needed.
pub async fn open_store() -> Result<Store, u8> {
    let path = crate::paths::database();
    Store::open(&path.to_string_lossy()).await.map_err(|e| {
        eprintln!(
            "error: cannot open the run history at {}: {e}\nhint: set CONTAINEROPS_DB to a writable path",
            path.display()
        );
        exit::FAILED
    })
}

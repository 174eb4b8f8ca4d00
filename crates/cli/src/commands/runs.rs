//! `containerops runs list|show`, `containerops logs`

use clap::{Args, Subcommand};
use co_runner::report;
use co_store::{RunFilter, StoreError};

use super::run::{open_store, OutputFormat};
use crate::exit;
use crate::view;

#[derive(Subcommand)]
pub enum RunsCommand {
    /// List recorded runs, newest first.
    #[command(
        after_help = "Example:\n  containerops runs list --workflow ci-pipeline --status failed"
    )]
    List(ListArgs),
    /// Show one run: status, steps, attempts, errors, outputs.
    #[command(
        after_help = "ID may be a unique prefix of the run id.\n\nExample:\n  containerops runs show 01jd --output json"
    )]
    Show(ShowArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Only runs of this workflow.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Only runs with this status (queued, running, succeeded, failed, cancelled).
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args)]
pub struct ShowArgs {
    /// Run id (or a unique prefix).
    pub id: String,
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args)]
#[command(after_help = "\
Lines are printed as `ACTION | TEXT` for a whole run, or bare for one action. Secrets were masked
before the lines were stored.

Examples:
  containerops logs 01jd
  containerops logs 01jd compile")]
pub struct LogsArgs {
    /// Run id (or a unique prefix).
    pub id: String,
    /// Only this action's lines (an action name, or a matrix copy like `build[os=linux]`).
    pub action: Option<String>,
}

pub async fn runs(command: RunsCommand) -> u8 {
    let store = match open_store().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    match command {
        RunsCommand::List(args) => {
            let filter = RunFilter {
                workflow: args.workflow,
                status: args.status,
                limit: Some(args.limit),
            };
            match store.list_runs(&filter).await {
                Ok(runs) if args.output == OutputFormat::Json => {
                    let list: Vec<serde_json::Value> = runs
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "id": r.id, "workflow": r.workflow, "status": r.status,
                                "created_at": r.created_at, "started_at": r.started_at,
                                "finished_at": r.finished_at,
                            })
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(list));
                    exit::OK
                }
                Ok(runs) => {
                    if runs.is_empty() {
                        eprintln!("no runs recorded yet (containerops run FILE)");
                        return exit::OK;
                    }
                    println!(
                        "{:<26}  {:<20}  {:<9}  {:<24}  {:>8}",
                        "ID", "WORKFLOW", "STATUS", "STARTED", "DURATION"
                    );
                    for r in runs {
                        let took = match (&r.started_at, &r.finished_at) {
                            (Some(a), Some(b)) => view::millis_between(a, b).map(view::human),
                            _ => None,
                        };
                        println!(
                            "{:<26}  {:<20}  {:<9}  {:<24}  {:>8}",
                            r.id,
                            r.workflow,
                            r.status,
                            r.started_at.as_deref().unwrap_or(&r.created_at),
                            took.unwrap_or_else(|| "-".into())
                        );
                    }
                    exit::OK
                }
                Err(e) => store_error(e),
            }
        }
        RunsCommand::Show(args) => match store.get_run(&args.id).await {
            Ok(detail) => {
                if args.output == OutputFormat::Json {
                    println!("{}", report::run_json(&detail));
                } else {
                    view::print_summary(&detail);
                }
                exit::OK
            }
            Err(e) => store_error(e),
        },
    }
}

pub async fn logs(args: LogsArgs) -> u8 {
    let store = match open_store().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let detail = match store.get_run(&args.id).await {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let run_id = detail.run.id.clone();
    if let Some(action) = &args.action {
        let known = detail.steps.iter().any(|s| {
            &s.key == action || &s.action == action || s.action.starts_with(&format!("{action}["))
        });
        if !known {
            let names: Vec<&str> = detail.steps.iter().map(|s| s.action.as_str()).collect();
            eprintln!(
                "error: run {run_id} has no action {action:?}; its actions: {}",
                names.join(", ")
            );
            return exit::INVALID;
        }
    }
    let labels: std::collections::HashMap<&str, &str> = detail
        .steps
        .iter()
        .map(|s| (s.key.as_str(), s.action.as_str()))
        .collect();
    let mut after = 0;
    loop {
        let page = match store
            .logs(&run_id, args.action.as_deref(), after, 1000)
            .await
        {
            Ok(p) => p,
            Err(e) => return store_error(e),
        };
        let Some(last) = page.last() else {
            break;
        };
        after = last.seq;
        for line in &page {
            if args.action.is_some() {
                println!("{}", line.text);
            } else {
                let action = labels
                    .get(line.step_key.as_str())
                    .copied()
                    .unwrap_or(&line.step_key);
                println!("{action} | {}", line.text);
            }
        }
    }
    exit::OK
}

fn store_error(e: StoreError) -> u8 {
    eprintln!("error: {e}");
    match e {
        StoreError::NotFound(_) | StoreError::Ambiguous(_) => exit::INVALID,
        _ => exit::FAILED,
    }
}

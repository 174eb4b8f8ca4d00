//! `containerops workflows apply|list`: workflows stored on a server (needs `--server`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::run::OutputFormat;
use crate::client::{self, Client, ClientError, Server};
use crate::exit;

#[derive(Subcommand)]
pub enum WorkflowsCommand {
    /// Store a workflow file on the server as its next revision.
    #[command(after_help = "\
Prints `workflow NAME revision N`. A file identical to the latest revision makes no new revision
(`(unchanged)`). Problems are printed as FILE:LINE:COL: error: MESSAGE with your file's name, and
the exit code is 2.

The server resolves nothing on your disk: steps should use images or catalog components
(name@version, registered on the server), not component paths.

Examples:
  containerops --server http://127.0.0.1:8080 --token $TOKEN workflows apply examples/hello/workflow.yaml
  CONTAINEROPS_SERVER=http://ci:8080 containerops workflows apply deploy.yaml")]
    Apply(ApplyArgs),
    /// List the workflows stored on the server.
    #[command(after_help = "\
Examples:
  containerops --server http://127.0.0.1:8080 workflows list
  containerops --server http://127.0.0.1:8080 workflows list --output json | jq -r '.[].name'")]
    List(WorkflowListArgs),
}

#[derive(Args)]
pub struct ApplyArgs {
    /// The workflow file (workflow.yaml, or a seed-format flow with a top-level `uri:`).
    pub file: PathBuf,
    /// Output format (`json`: the server's answer, `{"name", "revision", "unchanged"}`).
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args)]
pub struct WorkflowListArgs {
    /// Output format (`json`: an array of `{"name", "latest_revision", …}`).
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

pub async fn workflows(command: WorkflowsCommand, server: Option<Server>) -> u8 {
    let Some(server) = server else {
        eprintln!(
            "error: workflows are stored on a server: pass --server URL (or set \
             CONTAINEROPS_SERVER)\nhint: to run a workflow file locally: containerops run FILE"
        );
        return exit::INVALID;
    };
    let client = match Client::new(&server) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    match command {
        WorkflowsCommand::Apply(args) => apply(&client, args).await,
        WorkflowsCommand::List(args) => list(&client, args).await,
    }
}

async fn apply(client: &Client, args: ApplyArgs) -> u8 {
    let shown = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{shown}: error: cannot read the file: {e}");
            return exit::INVALID;
        }
    };
    let saved = match client
        .post_yaml(&["workflows"], &[("file", shown.clone())], text)
        .await
    {
        Ok(v) => v,
        Err(e) => return report_apply_error(&shown, &e),
    };
    if args.output == OutputFormat::Json {
        println!("{saved}");
        return exit::OK;
    }
    let name = client::text_field(&saved, "name");
    let revision = saved
        .get("revision")
        .and_then(Value::as_i64)
        .map(|r| r.to_string())
        .unwrap_or_else(|| "?".into());
    let unchanged = saved.get("unchanged").and_then(Value::as_bool) == Some(true);
    println!(
        "workflow {name} revision {revision}{}",
        if unchanged { " (unchanged)" } else { "" }
    );
    exit::OK
}

/// A 400 is about the file: its diagnostics (which name the local file, sent as `?file=`), or
/// its one problem prefixed with the file name. Anything else is reported as usual.
fn report_apply_error(shown: &str, e: &ClientError) -> u8 {
    match e {
        ClientError::Api {
            status,
            message,
            details,
            ..
        } if status.as_u16() == 400 => {
            match client::diagnostic_lines(details) {
                Some(lines) => lines.iter().for_each(|line| eprintln!("{line}")),
                None => eprintln!("{shown}: error: {message}"),
            }
            exit::INVALID
        }
        _ => e.report(),
    }
}

async fn list(client: &Client, args: WorkflowListArgs) -> u8 {
    let answer = match client.get(&["workflows"], &[]).await {
        Ok(v) => v,
        Err(e) => return e.report(),
    };
    // `{"workflows": [...]}`, or a bare array.
    let list = answer
        .get("workflows")
        .unwrap_or(&answer)
        .as_array()
        .cloned()
        .unwrap_or_default();
    if args.output == OutputFormat::Json {
        println!("{}", Value::Array(list));
        return exit::OK;
    }
    if list.is_empty() {
        eprintln!(
            "no workflows stored on {} yet (containerops workflows apply FILE)",
            client.shown_url()
        );
        return exit::OK;
    }
    client::view::print_workflows(&list);
    exit::OK
}

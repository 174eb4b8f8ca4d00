//! `containerops workflows apply|list`: workflows stored on a server (needs `--server`).

use std::path::{Path, PathBuf};

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

The server reads nothing from your disk. Components the file uses by path
(`component: ./components/build`) are registered first (`component NAME@VERSION for PATH`;
registering the same text again changes nothing, a different text under a registered
name@version is refused: give it a new version), and the server stores your text unchanged,
comments and all, with the path bound to that version; later saves (the web UI's) keep the
binding. Catalog references (name@version) must already be registered.

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
    let components = match register_path_components(client, &args.file, &text).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let bindings: serde_json::Map<String, Value> = components
        .iter()
        .map(|c| (c.reference.clone(), Value::String(c.binding.clone())))
        .collect();
    let body = serde_json::json!({ "yaml": text, "file": shown, "components": bindings });
    let saved = match client.post(&["workflows"], Some(&body)).await {
        Ok(v) => v,
        Err(e) => return report_apply_error(&shown, &e),
    };
    if args.output == OutputFormat::Json {
        println!("{saved}");
        return exit::OK;
    }
    for c in &components {
        println!(
            "component {} for {}{}",
            c.binding,
            c.reference,
            if c.created { "" } else { " (unchanged)" }
        );
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

/// A component the workflow uses by path, as registered on the server.
struct Registered {
    /// The `component:` value as written.
    reference: String,
    /// `name@version`.
    binding: String,
    /// Newly registered (else it was registered with the same text already).
    created: bool,
}

/// Register every component `text` uses by path (relative to the workflow file's directory), so
/// the server can bind the paths. Problems are printed; `Err` is the exit code.
async fn register_path_components(
    client: &Client,
    file: &Path,
    text: &str,
) -> Result<Vec<Registered>, u8> {
    let base = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut out = Vec::new();
    for reference in co_spec::component_references(text) {
        if co_spec::is_catalog_reference(&reference) {
            continue;
        }
        // Without `.` segments, as the local validator shows paths.
        let path: PathBuf = base.join(&reference).components().collect();
        let component_file = if path.is_dir() {
            path.join("component.yaml")
        } else {
            path
        };
        let shown = component_file.display().to_string();
        // Checked here first: its problems name the local file.
        let component = co_spec::Loader::new(&co_spec::NoCatalog)
            .load_component(&component_file)
            .map_err(|d| crate::commands::report_diagnostics(&d))?;
        let yaml = std::fs::read_to_string(&component_file).map_err(|e| {
            eprintln!("{shown}: error: cannot read the component: {e}");
            exit::INVALID
        })?;
        let binding = format!("{}@{}", component.name, component.version);
        let answer = client
            .post_json_status(
                &["components"],
                &serde_json::json!({ "yaml": yaml, "file": shown }),
            )
            .await;
        let created = match answer {
            Ok((status, _)) => status.as_u16() == 201,
            Err(ClientError::Api { status, .. }) if status.as_u16() == 409 => {
                eprintln!(
                    "{shown}: error: component {binding} is registered on the server with a \
                     different text\nhint: registered versions never change: give this one a \
                     new `version:`"
                );
                return Err(exit::INVALID);
            }
            Err(e) => return Err(report_apply_error(&shown, &e)),
        };
        out.push(Registered {
            reference,
            binding,
            created,
        });
    }
    Ok(out)
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

//! `containerops runs list|show|start|cancel|resume|rerun`, `containerops logs`: the local run
//! history, or with `--server` the server's runs.

use clap::{Args, Subcommand};
use co_runner::report;
use co_store::{RunFilter, RunStatus, StoreError};
use serde_json::Value;

use super::run::{open_store, OutputFormat};
use crate::client::logs::{Followed, Printer};
use crate::client::progress::Progress;
use crate::client::{self, Client, ClientError, Server};
use crate::exit;
use crate::view;

#[derive(Subcommand)]
pub enum RunsCommand {
    /// List recorded runs, newest first.
    #[command(after_help = "\
Examples:
  containerops runs list --workflow ci-pipeline --status failed
  containerops --server http://127.0.0.1:8080 runs list --status running --limit 100")]
    List(ListArgs),
    /// Show one run: status, steps, attempts, errors, outputs.
    #[command(after_help = "\
ID may be a unique prefix of the run id.

Examples:
  containerops runs show 01jd --output json
  containerops --server http://127.0.0.1:8080 runs show 01jd…")]
    Show(ShowArgs),
    /// Start a run of a workflow stored on the server (needs --server).
    #[command(after_help = "\
Prints the new run's id. With --wait, shows its progress as a local run does (each step, live on a
terminal or as `==> STEP …` lines, with its log lines), prints the summary and exits with the
run's exit code: 0 succeeded, 1 failed, 130 cancelled (2: invalid inputs). Ctrl-C while
waiting cancels the run on the server; a second Ctrl-C stops waiting.

Examples:
  containerops --server http://127.0.0.1:8080 runs start hello --input who=team
  containerops --server http://127.0.0.1:8080 runs start hello --revision 2 --wait
  id=$(containerops --server $URL runs start deploy --input env=prod)
  containerops --server $URL runs start hello --wait --output json | jq .status")]
    Start(StartArgs),
    /// Cancel a run on the server (needs --server).
    #[command(after_help = "\
Running steps are stopped and removed; `finally` and always() steps still run.

Example:
  containerops --server http://127.0.0.1:8080 runs cancel 01jd…")]
    Cancel(CancelArgs),
    /// Resume a failed or cancelled run on the server: a new run that reuses the results of the
    /// steps that succeeded (shown as `reused`, with the run they ran in) and runs the rest
    /// (needs --server).
    #[command(after_help = "\
Prints the new run's id (--wait: follows it like `runs start --wait`).

With --revision N the new run runs revision N of the workflow (e.g. one that fixes the failed
step), with the same inputs. A step is reused when it succeeded in the earlier run, its definition
is unchanged (the same component name@version or image, command, `with` inputs, env and `if:`, as
written), every step it waits for is reused too, and the inputs read the same; every other step
runs.

Examples:
  containerops --server http://127.0.0.1:8080 runs resume 01jd… --wait
  containerops --server http://127.0.0.1:8080 workflows apply fixed.yaml      # revision 4
  containerops --server http://127.0.0.1:8080 runs resume 01jd… --revision 4 --wait")]
    Resume(AgainArgs),
    /// Run a run's workflow again with the same inputs, as a new run: the same revision, or
    /// --revision N (needs --server).
    #[command(after_help = "\
Prints the new run's id (--wait: follows it like `runs start --wait`).

Examples:
  containerops --server http://127.0.0.1:8080 runs rerun 01jd…
  containerops --server http://127.0.0.1:8080 runs rerun 01jd… --revision 5")]
    Rerun(AgainArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Only runs of this workflow.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Only runs with this status (queued, running, succeeded, failed, cancelled).
    #[arg(long)]
    pub status: Option<RunStatus>,
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
pub struct StartArgs {
    /// The name of the workflow stored on the server (see `workflows list`).
    pub workflow: String,
    /// A workflow input, KEY=VALUE (repeatable). Values are converted to the declared type.
    #[arg(short, long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// Run this revision of the workflow (default: the latest).
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
    /// Follow the run until it ends and exit with its exit code.
    #[arg(short, long)]
    pub wait: bool,
    /// Output format (`json`: the server's answer; with --wait, the finished run's JSON on
    /// stdout and its logs on stderr).
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args)]
pub struct CancelArgs {
    /// Run id.
    pub id: String,
}

#[derive(Args)]
pub struct AgainArgs {
    /// The id of the earlier run.
    pub id: String,
    /// Run this revision of the workflow instead of the earlier run's (with `resume`, only steps
    /// whose definition did not change are reused).
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
    /// Follow the new run until it ends and exit with its exit code.
    #[arg(short, long)]
    pub wait: bool,
    /// Output format (as for `runs start`).
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args)]
#[command(after_help = "\
Lines are printed as `ACTION | TEXT` for a whole run, or bare for one action (a matrix action's
lines say which copy printed each: `build[os=linux] | TEXT`). Secrets were masked
before the lines were stored. With -f, lines are printed as they come until the run ends (on a
server: a live stream that picks up where it broke off if the connection drops).

Examples:
  containerops logs 01jd
  containerops logs 01jd compile
  containerops logs -f 01jd
  containerops --server http://127.0.0.1:8080 logs -f 01jd…
  containerops --server http://127.0.0.1:8080 logs 01jd… compile --after 120")]
pub struct LogsArgs {
    /// Run id (or a unique prefix).
    pub id: String,
    /// Only this action's lines (an action name, or a matrix copy like `build[os=linux]`).
    pub action: Option<String>,
    /// Keep printing new lines until the run ends.
    #[arg(short, long)]
    pub follow: bool,
    /// Start after this line sequence number (lines are numbered 1, 2, … per run).
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub after: i64,
}

pub async fn runs(command: RunsCommand, server: Option<Server>) -> u8 {
    if let Some(server) = server {
        return match Client::new(&server) {
            Ok(client) => remote(&client, command).await,
            Err(e) => e.report(),
        };
    }
    let needs_server = match &command {
        RunsCommand::Start(_) => Some("start"),
        RunsCommand::Cancel(_) => Some("cancel"),
        RunsCommand::Resume(_) => Some("resume"),
        RunsCommand::Rerun(_) => Some("rerun"),
        RunsCommand::List(_) | RunsCommand::Show(_) => None,
    };
    if let Some(what) = needs_server {
        eprintln!(
            "error: `runs {what}` works on a server: pass --server URL (or set CONTAINEROPS_SERVER)\n\
             hint: to run a workflow file locally: containerops run FILE"
        );
        return exit::INVALID;
    }
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
                ..RunFilter::default()
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
        RunsCommand::Start(_)
        | RunsCommand::Cancel(_)
        | RunsCommand::Resume(_)
        | RunsCommand::Rerun(_) => exit::INVALID,
    }
}

pub async fn logs(args: LogsArgs, server: Option<Server>) -> u8 {
    if let Some(server) = server {
        return match Client::new(&server) {
            Ok(client) => remote_logs(&client, args).await,
            Err(e) => e.report(),
        };
    }
    let store = match open_store().await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let detail = match store.get_run(&args.id).await {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let run_id = detail.run.id.clone();
    let bare = match action_filter(&detail, args.action.as_deref()) {
        Ok(bare) => bare,
        Err(code) => return code,
    };
    let labels: std::collections::HashMap<&str, &str> = detail
        .steps
        .iter()
        .map(|s| (s.key.as_str(), s.action.as_str()))
        .collect();
    let mut after = args.after.max(0);
    let mut finished = false;
    loop {
        let page = match store
            .logs(&run_id, args.action.as_deref(), after, 1000)
            .await
        {
            Ok(p) => p,
            Err(e) => return store_error(e),
        };
        if let Some(last) = page.last() {
            after = last.seq;
            for line in &page {
                if bare {
                    println!("{}", line.text);
                } else {
                    let action = labels
                        .get(line.step_key.as_str())
                        .copied()
                        .unwrap_or(&line.step_key);
                    println!("{action} | {}", line.text);
                }
            }
            continue;
        }
        // Caught up. With -f, wait for more until the run has finished (and read once more
        // after seeing it finished: its last lines may have been committed just before).
        if !args.follow || finished {
            break;
        }
        match store.get_run(&run_id).await {
            Ok(d) if d.run.status.is_finished() => {
                finished = true;
            }
            Ok(_) => tokio::time::sleep(LOCAL_FOLLOW_INTERVAL).await,
            Err(e) => return store_error(e),
        }
    }
    exit::OK
}

/// Check `logs ID ACTION`'s ACTION against the run's steps: whether lines may be printed bare
/// (the action is one step; a matrix action's copies are told apart as `build[os=linux] | …`),
/// or exit code 2 with the run's actions named.
fn action_filter(detail: &co_store::RunDetail, action: Option<&str>) -> Result<bool, u8> {
    let Some(action) = action else {
        return Ok(false);
    };
    let copy_prefix = format!("{action}[");
    let matching = detail
        .steps
        .iter()
        .filter(|s| s.key == action || s.action == action || s.action.starts_with(&copy_prefix))
        .count();
    if matching == 0 {
        let names: Vec<&str> = detail.steps.iter().map(|s| s.action.as_str()).collect();
        eprintln!(
            "error: run {} has no action {action:?}; its actions: {}",
            detail.run.id,
            names.join(", ")
        );
        return Err(exit::INVALID);
    }
    Ok(matching == 1)
}

/// How often `logs -f` looks for new lines in the local store (another process writes them).
const LOCAL_FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

fn store_error(e: StoreError) -> u8 {
    eprintln!("error: {e}");
    match e {
        StoreError::NotFound(_) | StoreError::Ambiguous(_) => exit::INVALID,
        _ => exit::FAILED,
    }
}

// ---------------------------------------------------------------------------------------------
// With --server: the same commands against the server's API.

/// Runs asked for per page of `GET /api/v1/runs`.
const RUNS_PAGE: i64 = 100;

async fn remote(client: &Client, command: RunsCommand) -> u8 {
    match command {
        RunsCommand::List(args) => remote_list(client, args).await,
        RunsCommand::Show(args) => match client.get(&["runs", &args.id], &[]).await {
            Ok(run) => {
                if args.output == OutputFormat::Json {
                    println!("{run}");
                } else if let Err(e) = client::view::print_run(&run) {
                    return e.report();
                }
                exit::OK
            }
            Err(e) => e.report(),
        },
        RunsCommand::Start(args) => {
            let inputs = match super::parse_pairs("--input", &args.inputs) {
                Ok(pairs) => pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect::<serde_json::Map<_, _>>(),
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::INVALID;
                }
            };
            let mut body = serde_json::json!({ "inputs": inputs });
            if let Some(revision) = args.revision {
                body["revision"] = Value::from(revision);
            }
            let started = client
                .post(&["workflows", &args.workflow, "runs"], Some(&body))
                .await;
            new_run(client, started, args.wait, args.output).await
        }
        RunsCommand::Cancel(args) => match client.post(&["runs", &args.id, "cancel"], None).await {
            Ok(answer) => {
                let id = match client::text_field(&answer, "id") {
                    id if id.is_empty() => args.id.clone(),
                    id => id,
                };
                println!("run {id} cancel requested");
                exit::OK
            }
            Err(e) => e.report(),
        },
        RunsCommand::Resume(args) => again(client, "resume", args).await,
        RunsCommand::Rerun(args) => again(client, "rerun", args).await,
    }
}

/// `runs resume|rerun ID [--revision N]`.
async fn again(client: &Client, what: &str, args: AgainArgs) -> u8 {
    let body = args
        .revision
        .map(|revision| serde_json::json!({ "revision": revision }));
    let answer = client.post(&["runs", &args.id, what], body.as_ref()).await;
    new_run(client, answer, args.wait, args.output).await
}

/// The answer to start/resume/rerun (`{"id", "status"}`): print the id, or wait for the run.
async fn new_run(
    client: &Client,
    answer: Result<Value, ClientError>,
    wait: bool,
    output: OutputFormat,
) -> u8 {
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return e.report(),
    };
    let id = client::text_field(&answer, "id");
    if id.is_empty() {
        return ClientError::Protocol(format!("the server's answer has no run id: {answer}"))
            .report();
    }
    let json = output == OutputFormat::Json;
    if !wait {
        if json {
            println!("{answer}");
        } else {
            println!("{id}");
        }
        return exit::OK;
    }
    if !json {
        println!("{id}");
    }
    wait_for_run(client, &id, json).await
}

/// Follow run `id` until it ends, print its summary (or JSON), return its exit code. The first
/// Ctrl-C cancels the run on the server, a second stops waiting.
async fn wait_for_run(client: &Client, id: &str, json: bool) -> u8 {
    use tokio::signal::unix::{signal, SignalKind};
    // The run's steps first, so that the view (the same as a local run's: live on a terminal,
    // plain lines otherwise; on stderr with --output json) opens with all of them.
    let run = match client.get(&["runs", id], &[]).await {
        Ok(run) => run,
        Err(e) => return e.report(),
    };
    let progress = Progress::start(json, &run);
    let follow = client::logs::follow(client, id, None, 0, &progress);
    tokio::pin!(follow);
    let signals = signal(SignalKind::interrupt())
        .and_then(|int| signal(SignalKind::terminate()).map(|term| (int, term)));
    let followed = match signals {
        Err(_) => follow.await,
        Ok((mut int, mut term)) => {
            let mut interrupted = false;
            loop {
                tokio::select! {
                    result = &mut follow => break result,
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if interrupted {
                    progress.finish(id, None);
                    eprintln!(
                        "\nstopped waiting; the run is being cancelled on the server \
                         (containerops runs show {id})"
                    );
                    return exit::CANCELLED;
                }
                interrupted = true;
                eprintln!("\ncancelling run {id}… (press Ctrl-C again to stop waiting)");
                if let Err(e) = client.post(&["runs", id, "cancel"], None).await {
                    e.report();
                }
            }
        }
    };
    let ended = match followed {
        Ok(Followed::Ended(status)) => status,
        Ok(Followed::OutputClosed) => return exit::OK,
        Err(e) => {
            progress.finish(id, None);
            return e.report();
        }
    };
    progress.finish(id, ended);
    let status = match client.get(&["runs", id], &[]).await {
        Ok(run) => {
            let shown = if json {
                println!("{run}");
                Ok(())
            } else {
                client::view::print_run(&run)
            };
            match shown.and_then(|()| client::view::run_status(&run)) {
                Ok(status) => Some(status),
                Err(e) => {
                    e.report();
                    ended
                }
            }
        }
        Err(e) => {
            e.report();
            ended
        }
    };
    exit::of_run(status)
}

async fn remote_list(client: &Client, args: ListArgs) -> u8 {
    // Like the local store: a negative limit means all.
    let wanted = usize::try_from(args.limit).ok();
    let fetch = |limit: i64, after: Option<String>| {
        let query = [
            ("workflow", args.workflow.clone().unwrap_or_default()),
            (
                "status",
                args.status.map(|s| s.to_string()).unwrap_or_default(),
            ),
            ("limit", limit.to_string()),
            ("after", after.unwrap_or_default()),
        ];
        async move { client.get(&["runs"], &query).await }
    };
    let runs = match collect_pages(wanted, RUNS_PAGE, fetch).await {
        Ok(runs) => runs,
        Err(e) => return e.report(),
    };
    if args.output == OutputFormat::Json {
        println!("{}", Value::Array(runs));
        return exit::OK;
    }
    if runs.is_empty() {
        eprintln!(
            "no runs on {} yet (containerops runs start WORKFLOW)",
            client.shown_url()
        );
        return exit::OK;
    }
    client::view::print_runs(&runs);
    exit::OK
}

/// Runs from `fetch(limit, after)` pages (`{"runs": [...], "next"}`), following `next` until
/// `wanted` runs (all with `None`) or the last page.
async fn collect_pages<F, Fut>(
    wanted: Option<usize>,
    page_max: i64,
    mut fetch: F,
) -> Result<Vec<Value>, ClientError>
where
    F: FnMut(i64, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Value, ClientError>>,
{
    let mut runs: Vec<Value> = Vec::new();
    if wanted == Some(0) {
        return Ok(runs);
    }
    let mut after: Option<String> = None;
    loop {
        let page_size = match wanted {
            Some(n) => i64::try_from(n.saturating_sub(runs.len()))
                .unwrap_or(page_max)
                .min(page_max),
            None => page_max,
        };
        let page = fetch(page_size, after.clone()).await?;
        let items = page
            .get("runs")
            .unwrap_or(&page)
            .as_array()
            .cloned()
            .unwrap_or_default();
        let got = items.len();
        runs.extend(items);
        if let Some(n) = wanted {
            runs.truncate(n);
            if runs.len() >= n {
                return Ok(runs);
            }
        }
        let next = match page.get("next") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Ok(runs),
        };
        if got == 0 || after.as_deref() == Some(next.as_str()) {
            return Ok(runs);
        }
        after = Some(next);
    }
}

async fn remote_logs(client: &Client, args: LogsArgs) -> u8 {
    // The run first: its full id (ID may be a prefix), and a clear answer for an unknown action.
    let run = match client.get(&["runs", &args.id], &[]).await {
        Ok(run) => run,
        Err(e) => return e.report(),
    };
    let run_id = match client::text_field(&run, "id") {
        id if id.is_empty() => args.id.clone(),
        id => id,
    };
    let bare = match args.action.as_deref() {
        None => false,
        Some(action) => {
            let detail = match client::view::run_detail(&run) {
                Ok(detail) => detail,
                Err(e) => return e.report(),
            };
            match action_filter(&detail, Some(action)) {
                Ok(bare) => bare,
                Err(code) => return code,
            }
        }
    };
    let printer = Printer {
        bare,
        to_stderr: false,
    };
    let step = args.action.as_deref();
    let after = args.after.max(0);
    let result = if args.follow {
        client::logs::follow(client, &run_id, step, after, &printer).await
    } else {
        client::logs::pages(client, &run_id, step, after, printer).await
    };
    match result {
        Ok(Followed::Ended(status)) => {
            if let (true, Some(status)) = (args.follow, status) {
                eprintln!("run {run_id} {status}");
            }
            exit::OK
        }
        Ok(Followed::OutputClosed) => exit::OK,
        Err(e) => e.report(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A fake server with `total` runs named r0, r1, …, newest first, pages cut by `limit`.
    fn pages(total: usize) -> impl Fn(i64, Option<String>) -> Value {
        move |limit, after| {
            let start = after.map_or(0, |a| a[1..].parse::<usize>().unwrap() + 1);
            let end = (start + usize::try_from(limit).unwrap()).min(total);
            let runs: Vec<Value> = (start..end)
                .map(|i| serde_json::json!({"id": format!("r{i}")}))
                .collect();
            let next = (end < total).then(|| format!("r{}", end - 1));
            serde_json::json!({"runs": runs, "next": next})
        }
    }

    fn collect(wanted: Option<usize>, total: usize) -> (Vec<String>, Vec<i64>) {
        let server = pages(total);
        let asked = RefCell::new(Vec::new());
        let fetch = |limit: i64, after: Option<String>| {
            asked.borrow_mut().push(limit);
            let page = server(limit, after);
            async move { Ok(page) }
        };
        let runs = futures::executor::block_on(collect_pages(wanted, 3, fetch)).unwrap();
        let ids = runs
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        (ids, asked.into_inner())
    }

    #[test]
    fn pages_are_followed_up_to_the_limit() {
        let (ids, asked) = collect(Some(7), 100);
        assert_eq!(ids, ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
        assert_eq!(asked, [3, 3, 1]);
        let (ids, asked) = collect(None, 7);
        assert_eq!(ids.len(), 7);
        assert_eq!(asked, [3, 3, 3]);
        let (ids, _) = collect(Some(20), 4);
        assert_eq!(ids, ["r0", "r1", "r2", "r3"]);
        let (ids, asked) = collect(Some(2), 0);
        assert!(ids.is_empty());
        assert_eq!(asked, [2]);
        let (ids, asked) = collect(Some(0), 5);
        assert!(ids.is_empty() && asked.is_empty());
    }

    #[test]
    fn exit_codes_follow_the_run_status() {
        assert_eq!(exit::of_run(Some(RunStatus::Succeeded)), exit::OK);
        assert_eq!(exit::of_run(Some(RunStatus::Failed)), exit::FAILED);
        assert_eq!(exit::of_run(Some(RunStatus::Cancelled)), exit::CANCELLED);
        assert_eq!(exit::of_run(Some(RunStatus::Running)), exit::FAILED);
        assert_eq!(exit::of_run(None), exit::FAILED);
    }
}

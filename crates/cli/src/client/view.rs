//! The server's JSON shown the way the local commands show the local store: the run summary
//! (`crate::view::print_summary`) and the tables of runs and workflows.

use std::str::FromStr;

use co_store::{RunDetail, RunRecord, StepRecord, UnknownStatus};
use serde_json::Value;

use super::{text_field, ClientError};
use crate::view;

fn opt_text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The status under `key` of a run or step the server sent.
fn status_field<S: FromStr<Err = UnknownStatus>>(
    value: &Value,
    key: &str,
) -> Result<S, ClientError> {
    text_field(value, key)
        .parse()
        .map_err(|e| ClientError::Protocol(format!("the server answered with an {e}")))
}

/// The status of a run the server sent.
pub fn run_status(value: &Value) -> Result<co_store::RunStatus, ClientError> {
    status_field(value, "status")
}

/// A run as the server shows it (SPEC §5 run JSON and extras) in the store's shape, so that it
/// is summarised exactly like a local run.
pub fn run_detail(value: &Value) -> Result<RunDetail, ClientError> {
    let id = text_field(value, "id");
    let steps = value
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(position, s)| {
            let action = text_field(s, "action");
            Ok(StepRecord {
                run_id: id.clone(),
                position: i64::try_from(position).unwrap_or(i64::MAX),
                key: opt_text(s, "key").unwrap_or_else(|| action.clone()),
                stage: text_field(s, "stage"),
                action,
                status: status_field(s, "status")?,
                attempts: s.get("attempts").and_then(Value::as_i64).unwrap_or(0),
                exit_code: s.get("exit_code").and_then(Value::as_i64),
                outputs: s.get("outputs").cloned().unwrap_or(Value::Null),
                inputs: s.get("inputs").cloned().unwrap_or(Value::Null),
                error: opt_text(s, "error"),
                started_at: opt_text(s, "started_at"),
                finished_at: opt_text(s, "finished_at"),
                reused_from: opt_text(s, "reused_from"),
            })
        })
        .collect::<Result<_, ClientError>>()?;
    Ok(RunDetail {
        run: RunRecord {
            id,
            workflow: text_field(value, "workflow"),
            status: run_status(value)?,
            inputs: value.get("inputs").cloned().unwrap_or(Value::Null),
            secret_inputs: None,
            outputs: value.get("outputs").cloned().unwrap_or(Value::Null),
            error: opt_text(value, "error"),
            created_at: text_field(value, "created_at"),
            started_at: opt_text(value, "started_at"),
            finished_at: opt_text(value, "finished_at"),
            source_path: String::new(),
            source: String::new(),
            revision: value.get("revision").and_then(Value::as_i64),
            trigger: value.get("trigger").cloned().unwrap_or(Value::Null),
            parent: opt_text(value, "parent"),
            max_concurrency: None,
        },
        steps,
        attempts: Vec::new(),
    })
}

/// The summary of a server run: the local summary, then where the run came from.
pub fn print_run(value: &Value) -> Result<(), ClientError> {
    let detail = run_detail(value)?;
    view::print_summary(&detail);
    let mut origin = Vec::new();
    if let Some(revision) = detail.run.revision {
        origin.push(format!("revision {revision}"));
    }
    if let Some(event) = detail.run.trigger.get("event").and_then(Value::as_str) {
        origin.push(format!("started by {event}"));
    }
    if let Some(parent) = &detail.run.parent {
        origin.push(format!("from run {parent}"));
    }
    if !origin.is_empty() {
        println!("  {}", console::style(origin.join(", ")).dim());
    }
    Ok(())
}

/// `runs list`: the same table as the local command.
pub fn print_runs(runs: &[Value]) {
    println!(
        "{:<26}  {:<20}  {:<9}  {:<24}  {:>8}",
        "ID", "WORKFLOW", "STATUS", "STARTED", "DURATION"
    );
    for r in runs {
        let started = opt_text(r, "started_at");
        let finished = opt_text(r, "finished_at");
        let took = match (&started, &finished) {
            (Some(a), Some(b)) => view::millis_between(a, b).map(view::human),
            _ => None,
        };
        println!(
            "{:<26}  {:<20}  {:<9}  {:<24}  {:>8}",
            text_field(r, "id"),
            text_field(r, "workflow"),
            text_field(r, "status"),
            started.unwrap_or_else(|| text_field(r, "created_at")),
            took.unwrap_or_else(|| "-".into())
        );
    }
}

/// `workflows list`: name, latest revision, last update.
pub fn print_workflows(workflows: &[Value]) {
    println!("{:<30}  {:>8}  UPDATED", "NAME", "REVISION");
    for w in workflows {
        let revision = w
            .get("latest_revision")
            .or_else(|| w.get("revision"))
            .and_then(Value::as_i64)
            .map(|r| r.to_string())
            .unwrap_or_else(|| "-".into());
        let updated = opt_text(w, "updated_at")
            .or_else(|| opt_text(w, "created_at"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<30}  {:>8}  {}",
            text_field(w, "name"),
            revision,
            updated
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_run_becomes_a_store_run() {
        let v = serde_json::json!({
            "id": "r1", "workflow": "hello", "status": "failed", "revision": 2,
            "started_at": "2024-01-01T00:00:00Z", "finished_at": "2024-01-01T00:00:01Z",
            "outputs": {}, "parent": "r0", "trigger": {"event": "api"},
            "steps": [{"stage": "s", "action": "a", "status": "failed", "attempts": 2,
                       "exit_code": 3, "outputs": {"k": 1}, "error": "exit code 3",
                       "started_at": null, "finished_at": null}]
        });
        let d = run_detail(&v).unwrap();
        assert_eq!(d.run.id, "r1");
        assert_eq!(d.run.revision, Some(2));
        assert_eq!(d.run.parent.as_deref(), Some("r0"));
        assert_eq!(d.steps.len(), 1);
        assert_eq!(d.steps[0].key, "a");
        assert_eq!(d.steps[0].attempts, 2);
        assert_eq!(d.steps[0].exit_code, Some(3));
        assert_eq!(d.steps[0].error.as_deref(), Some("exit code 3"));
        assert_eq!(d.steps[0].started_at, None);
    }
}

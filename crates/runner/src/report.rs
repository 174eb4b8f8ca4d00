//! The run report: the JSON shape of SPEC §5 (`--output json`, `runs show`, the API).

use co_store::RunDetail;
use serde_json::{json, Value};

/// `{"id", "workflow", "status", "started_at", "finished_at", "outputs", "steps": [...]}`.
pub fn run_json(detail: &RunDetail) -> Value {
    let run = &detail.run;
    let steps: Vec<Value> = detail
        .steps
        .iter()
        .map(|s| {
            let mut step = json!({
                "stage": s.stage,
                "action": s.action,
                "status": s.status,
                "attempts": s.attempts,
                "exit_code": s.exit_code,
                "outputs": s.outputs,
                "error": s.error,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
            });
            // A `reused` step (a resumed run's) names the run it ran in; other steps keep the
            // SPEC's keys exactly.
            if let (Some(from), Some(fields)) = (&s.reused_from, step.as_object_mut()) {
                fields.insert("reused_from".into(), Value::String(from.clone()));
            }
            step
        })
        .collect();
    json!({
        "id": run.id,
        "workflow": run.workflow,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "outputs": run.outputs,
        "steps": steps,
    })
}

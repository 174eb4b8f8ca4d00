//! `runs start --wait` (and `resume`/`rerun --wait`): the progress of a run on a server shown by
//! the same live view or plain lines as a local run ([`crate::view`]), fed from the log stream's
//! `step` events (`?steps=true`) and log lines.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use co_backend::Stream;
use co_runner::StepView;
use co_store::{RunStatus, StepStatus};
use serde_json::Value;

use super::logs::{LogLine, Sink};
use super::text_field;
use crate::view::CliObserver;

/// The run's view, and what it was last shown of each step.
pub struct Progress {
    observer: Arc<dyn CliObserver>,
    steps: Mutex<Shown>,
}

#[derive(Default)]
struct Shown {
    /// Step key → (its node number in the view, the step as last shown).
    nodes: HashMap<String, (usize, Value)>,
}

impl Progress {
    /// Start showing `run` (as `GET /api/v1/runs/{id}` answers): the view opens with its steps.
    pub fn start(json: bool, run: &Value) -> Progress {
        let steps: &[Value] = run
            .get("steps")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let keys: Vec<String> = steps.iter().map(step_key).collect();
        let observer = crate::view::observer_of(json, keys.iter().map(String::as_str));
        let mut shown = Shown::default();
        let views: Vec<StepView> = steps
            .iter()
            .filter_map(|s| {
                let node = shown.nodes.len();
                shown.nodes.insert(step_key(s), (node, s.clone()));
                step_view(node, s)
            })
            .collect();
        observer.run_started(&text_field(run, "id"), &views);
        // Steps already past `pending` (a resumed run's `reused` ones, or those of a run that
        // was already going) are shown as they are now.
        for view in views.iter().filter(|v| v.status != StepStatus::Pending) {
            observer.step_changed(view);
        }
        Progress {
            observer,
            steps: Mutex::new(shown),
        }
    }

    /// The run is over: say so (plain lines) and finish drawing.
    pub fn finish(&self, run_id: &str, status: Option<RunStatus>) {
        if let Some(status) = status {
            self.observer.run_finished(run_id, status);
        }
        self.observer.close();
    }
}

impl Sink for Progress {
    fn line(&self, line: &LogLine) -> bool {
        let stream = if line.stream == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let attempt = u32::try_from(line.attempt).unwrap_or(1);
        self.observer
            .log_line(&line.step, &line.action, attempt, stream, &line.text);
        !crate::out::closed().is_cancelled()
    }

    fn wants_steps(&self) -> bool {
        true
    }

    /// Shown when it changed (after a reconnection the server sends every step again).
    fn step(&self, step: &Value) {
        let view = {
            let Ok(mut shown) = self.steps.lock() else {
                return;
            };
            let key = step_key(step);
            let next = shown.nodes.len();
            let entry = shown.nodes.entry(key).or_insert((next, Value::Null));
            if entry.1 == *step {
                return;
            }
            entry.1 = step.clone();
            step_view(entry.0, step)
        };
        if let Some(view) = view {
            self.observer.step_changed(&view);
        }
    }
}

fn step_key(step: &Value) -> String {
    match text_field(step, "key") {
        k if k.is_empty() => text_field(step, "action"),
        k => k,
    }
}

/// A step of the server's JSON as the view's [`StepView`] (`None` for a status this client does
/// not know). The server does not say how many attempts a step may take, nor when a retry
/// starts: those stay unknown (`0`, `None`).
fn step_view(node: usize, step: &Value) -> Option<StepView> {
    let status: StepStatus = text_field(step, "status").parse().ok()?;
    let time = |key: &str| {
        step.get(key)
            .and_then(Value::as_str)
            .and_then(crate::view::millis_of)
    };
    Some(StepView {
        node,
        key: step_key(step),
        stage: text_field(step, "stage"),
        action: text_field(step, "action"),
        status,
        attempt: step
            .get("attempts")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        max_attempts: 0,
        retry_in: None,
        error: step
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string),
        outputs: step
            .get("outputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        inputs: step
            .get("inputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        started_at: time("started_at"),
        finished_at: time("finished_at"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_steps_become_views() {
        let step = serde_json::json!({
            "key": "build[os=l]", "stage": "s", "action": "build[os=l]", "status": "failed",
            "attempts": 2, "exit_code": 3, "outputs": {"k": "v"}, "error": "exit code 3",
            "started_at": "2026-01-01T00:00:01.000Z", "finished_at": "2026-01-01T00:00:03.500Z"
        });
        let view = step_view(4, &step).unwrap();
        assert_eq!(view.node, 4);
        assert_eq!(view.key, "build[os=l]");
        assert_eq!(view.status, StepStatus::Failed);
        assert_eq!(view.attempt, 2);
        assert_eq!(view.error.as_deref(), Some("exit code 3"));
        assert_eq!(view.finished_at.unwrap() - view.started_at.unwrap(), 2500);
        assert!(step_view(0, &serde_json::json!({"key": "x", "status": "dancing"})).is_none());
    }
}

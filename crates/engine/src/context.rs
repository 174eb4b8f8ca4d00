//! What expressions see while a step is decided or launched.

use co_expr::{Context, StatusFn};
use co_spec::NodeId;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::{Engine, StepStatus};

/// The facts the status functions are computed from, for one step.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatusFlags {
    /// Every step it waits for succeeded.
    pub all_succeeded: bool,
    /// Some step it (transitively) waits for failed.
    pub failed_ancestor: bool,
    /// The run was asked to cancel.
    pub cancelled: bool,
}

impl StatusFlags {
    pub fn eval(&self, f: StatusFn) -> bool {
        match f {
            StatusFn::Success => self.all_succeeded && !self.cancelled,
            StatusFn::Failure => self.failed_ancestor,
            StatusFn::Always => true,
            StatusFn::Cancelled => self.cancelled,
        }
    }
}

pub(crate) struct EvalCtx<'a> {
    engine: &'a Engine,
    node: NodeId,
    env: Option<&'a IndexMap<String, Value>>,
    flags: StatusFlags,
}

impl<'a> EvalCtx<'a> {
    pub fn new(
        engine: &'a Engine,
        node: NodeId,
        env: Option<&'a IndexMap<String, Value>>,
        flags: StatusFlags,
    ) -> Self {
        EvalCtx {
            engine,
            node,
            env,
            flags,
        }
    }

    fn action(&self, name: &str, rest: &[&str]) -> Option<Value> {
        let (_, planned) = self.engine.plan.action_by_name(name)?;
        let nodes = &planned.nodes;
        let status = aggregate_status(
            nodes
                .iter()
                .filter_map(|&n| self.engine.steps.get(n))
                .map(|s| s.status),
        );
        let single = match nodes.as_slice() {
            [only] => self.engine.steps.get(*only),
            _ => None,
        };
        match rest.split_first() {
            None => {
                let mut obj = Map::new();
                obj.insert("status".into(), Value::String(status.into()));
                if let Some(step) = single {
                    obj.insert("outputs".into(), object(&step.outputs));
                }
                Some(Value::Object(obj))
            }
            Some((&"status", more)) => navigate(Value::String(status.into()), more),
            Some((&"outputs", more)) => {
                let step = single?;
                match more.split_first() {
                    None => Some(object(&step.outputs)),
                    Some((key, deeper)) => match step.outputs.get(*key) {
                        Some(value) => navigate(value.clone(), deeper),
                        // A step that did not succeed has no outputs: its references are null.
                        None if !step.status.is_success() => Some(Value::Null),
                        None => None,
                    },
                }
            }
            Some((&"artifacts", more)) => {
                let step = single?;
                match more.split_first() {
                    None => Some(Value::Object(
                        step.artifacts
                            .values()
                            .map(|a| (a.name.clone(), artifact_value(a)))
                            .collect(),
                    )),
                    // Validation allows only declared names: one not kept (its step failed, its
                    // `when:` did not apply, it could not be kept) is null.
                    Some((name, deeper)) => match step.artifacts.get(*name) {
                        Some(a) => navigate(artifact_value(a), deeper),
                        None => Some(Value::Null),
                    },
                }
            }
            Some(_) => None,
        }
    }
}

/// An artifact as expressions see it: `{"name", "sha256", "size"}`.
fn artifact_value(a: &crate::KeptArtifact) -> Value {
    serde_json::json!({"name": a.name, "sha256": a.sha256, "size": a.size})
}

/// The status of an action as a whole (all its matrix copies).
fn aggregate_status(statuses: impl Iterator<Item = StepStatus>) -> &'static str {
    let seen: Vec<StepStatus> = statuses.collect();
    let any = |want: StepStatus| seen.contains(&want);
    let status = if any(StepStatus::Running) || any(StepStatus::Waiting) {
        StepStatus::Running
    } else if any(StepStatus::Pending) {
        StepStatus::Pending
    } else if any(StepStatus::Failed) {
        StepStatus::Failed
    } else if any(StepStatus::Cancelled) {
        StepStatus::Cancelled
    } else if any(StepStatus::Succeeded) || any(StepStatus::Reused) {
        // A reused step succeeded (in the run it came from): expressions see `succeeded`.
        StepStatus::Succeeded
    } else {
        StepStatus::Skipped
    };
    status.as_str()
}

fn object(map: &IndexMap<String, Value>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn navigate(mut value: Value, rest: &[&str]) -> Option<Value> {
    for seg in rest {
        value = match value {
            Value::Object(mut map) => map.remove(*seg)?,
            Value::Array(mut items) => {
                let index: usize = seg.parse().ok()?;
                if index >= items.len() {
                    return None;
                }
                items.swap_remove(index)
            }
            _ => return None,
        };
    }
    Some(value)
}

impl Context for EvalCtx<'_> {
    fn lookup(&self, path: &[&str]) -> Option<Value> {
        let (root, rest) = path.split_first()?;
        let engine = self.engine;
        match *root {
            "inputs" => navigate(object(&engine.inputs), rest),
            "secrets" => {
                let (name, more) = rest.split_first()?;
                let secret = engine.secrets.get(*name)?;
                navigate(Value::String(secret.clone()), more)
            }
            "env" => navigate(object(self.env?), rest),
            "matrix" => {
                let node = engine.plan.nodes.get(self.node)?;
                navigate(object(&node.matrix), rest)
            }
            "run" => {
                let mut obj = Map::new();
                obj.insert("id".into(), Value::String(engine.run_id.clone()));
                obj.insert(
                    "status".into(),
                    Value::String(engine.current_status().as_str().into()),
                );
                navigate(Value::Object(obj), rest)
            }
            "actions" => {
                let (name, more) = rest.split_first()?;
                self.action(name, more)
            }
            "trigger" => navigate(engine.trigger.clone().unwrap_or(Value::Null), rest),
            _ => None,
        }
    }

    fn status(&self, f: StatusFn) -> bool {
        self.flags.eval(f)
    }
}

//! Building a [`StepLaunch`] from the plan and what is known at launch time.

use co_backend::StepLaunch;
use co_expr::Template;
use co_protocol::{StepContext, ValueType};
use co_spec::{NodeId, Runs};
use indexmap::IndexMap;
use serde_json::Value;

use crate::context::{EvalCtx, StatusFlags};
use crate::Engine;

/// A launch, built.
pub(crate) struct Built {
    pub launch: StepLaunch,
    /// The values of its `secret`-typed inputs (to mask from now on).
    pub secrets: Vec<String>,
    /// Its inputs as they may be shown (`secret`-typed values masked): [`crate::StepState::inputs`].
    pub inputs: IndexMap<String, Value>,
}

/// The launch of `attempt` of `node`; or why it cannot be built (an expression failed, an input
/// has the wrong type, a required input has no value).
pub(crate) fn build(engine: &Engine, node: NodeId, attempt: u32) -> Result<Built, String> {
    let plan = &engine.plan;
    let plan_node = plan.nodes.get(node).ok_or("unknown step")?;
    let planned = plan.actions.get(plan_node.action).ok_or("unknown action")?;
    let action = &planned.action;
    let flags = StatusFlags::default();

    // Environment: the workflow's, then the action's (each may use the ones before it).
    let mut env: IndexMap<String, Value> = IndexMap::new();
    for (name, template) in plan.workflow.env.iter().chain(action.env.iter()) {
        let value = {
            let ctx = EvalCtx::new(engine, node, Some(&env), flags);
            eval(template, &ctx).map_err(|e| format!("env {name}: {e}"))?
        };
        env.insert(name.clone(), value);
    }

    let ctx = EvalCtx::new(engine, node, Some(&env), flags);
    let mut secrets = Vec::new();
    let mut shown = IndexMap::new();
    let inputs: Option<Vec<(String, Value)>> = if action.legacy {
        None
    } else {
        let mut inputs = Vec::new();
        match &action.runs {
            Runs::Component(component) => {
                for (name, decl) in &component.inputs {
                    let value = match action.with.get(name) {
                        Some(template) => {
                            let raw =
                                eval(template, &ctx).map_err(|e| format!("input {name}: {e}"))?;
                            co_protocol::coerce(&raw, decl.ty)
                                .map_err(|e| format!("input {name}: {e}"))?
                        }
                        None => match &decl.default {
                            Some(default) => default.clone(),
                            None if decl.required => {
                                return Err(format!("required input {name} has no value"))
                            }
                            None => continue,
                        },
                    };
                    if decl.ty == ValueType::Secret {
                        secrets.push(co_protocol::value_text(&value));
                        shown.insert(name.clone(), Value::from(co_protocol::MASK));
                    } else {
                        shown.insert(name.clone(), value.clone());
                    }
                    inputs.push((name.clone(), value));
                }
            }
            Runs::Image(_) => {
                for (name, template) in &action.with {
                    let value = eval(template, &ctx).map_err(|e| format!("input {name}: {e}"))?;
                    shown.insert(name.clone(), value.clone());
                    inputs.push((name.clone(), value));
                }
            }
        }
        Some(inputs)
    };

    let command = match (&action.command, action.component()) {
        (Some(templates), _) => Some(
            templates
                .iter()
                .map(|t| eval(t, &ctx).map(|v| co_protocol::value_text(&v)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("command: {e}"))?,
        ),
        (None, Some(component)) => component.command.clone(),
        (None, None) => None,
    };
    if let Some(args) = &command {
        co_protocol::check_command(args).map_err(|e| format!("command: {e}"))?;
    }

    let protocol = co_protocol::step_env(
        &StepContext {
            run_id: &engine.run_id,
            workflow: &plan.workflow.name,
            stage: &planned.stage,
            action: &action.label,
            attempt,
        },
        inputs.as_deref(),
    );
    let user = env
        .iter()
        .map(|(k, v)| (k.clone(), co_protocol::value_text(v)));
    // Native steps: the protocol variables are reserved and win. Seed-format jobs: their
    // `environments` are passed verbatim and win (a given CO_DATA is not rewritten).
    let ordered: Vec<(String, String)> = if action.legacy {
        protocol.into_iter().chain(user).collect()
    } else {
        user.chain(protocol).collect()
    };
    let mut merged: IndexMap<String, String> = IndexMap::new();
    for (k, v) in ordered {
        merged.insert(k, v);
    }

    // Values too large for a process environment go to files (SPEC §1 notes, docs/spec.md).
    let (env, files) = co_protocol::deliver_env(merged.into_iter().collect());
    let resources = action.effective_resources();
    secrets.retain(|s| !s.is_empty());
    Ok(Built {
        launch: StepLaunch {
            run_id: engine.run_id.clone(),
            workflow: plan.workflow.name.clone(),
            step_key: plan_node.key.clone(),
            attempt,
            image: action.image().to_string(),
            command,
            env,
            cpu_millis: resources.cpu_millis,
            memory_bytes: resources.memory_bytes,
            kubernetes: action.component().and_then(|c| c.kubernetes.clone()),
            swarm: action.component().and_then(|c| c.swarm.clone()),
            files,
        },
        secrets,
        inputs: shown,
    })
}

fn eval(template: &Template, ctx: &EvalCtx<'_>) -> Result<Value, co_expr::EvalError> {
    template.eval(ctx)
}

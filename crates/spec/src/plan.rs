//! Building the execution [`Plan`] of a validated workflow.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::model::{Matrix, Plan, PlanAction, PlanNode, Workflow};

pub(crate) fn plan(workflow: Arc<Workflow>) -> Plan {
    let mut actions: Vec<PlanAction> = Vec::new();
    // Stage index of each action (`None`: finally).
    let mut stage_of: Vec<Option<usize>> = Vec::new();
    for (si, stage) in workflow.stages.iter().enumerate() {
        for a in &stage.actions {
            actions.push(PlanAction {
                stage: stage.name.clone(),
                action: a.clone(),
                finally: false,
                nodes: Vec::new(),
            });
            stage_of.push(Some(si));
        }
    }
    for a in &workflow.finally {
        actions.push(PlanAction {
            stage: "finally".to_string(),
            action: a.clone(),
            finally: true,
            nodes: Vec::new(),
        });
        stage_of.push(None);
    }

    let mut nodes: Vec<PlanNode> = Vec::new();
    for (ai, pa) in actions.iter_mut().enumerate() {
        for combo in combinations(pa.action.matrix.as_ref()) {
            let key = if combo.is_empty() {
                pa.action.name.clone()
            } else {
                let parts: Vec<String> = combo
                    .iter()
                    .map(|(k, v)| format!("{k}={}", co_protocol::value_text(v)))
                    .collect();
                format!("{}[{}]", pa.action.name, parts.join(","))
            };
            pa.nodes.push(nodes.len());
            nodes.push(PlanNode {
                key,
                action: ai,
                matrix: combo,
                deps: Vec::new(),
            });
        }
    }

    let by_name: HashMap<&str, usize> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a.action.name.as_str(), i))
        .collect();
    // Actions of each stage, and of all stages (what `finally` waits for).
    let mut by_stage: Vec<Vec<usize>> = vec![Vec::new(); workflow.stages.len()];
    for (j, s) in stage_of.iter().enumerate() {
        if let Some(list) = s.and_then(|s| by_stage.get_mut(s)) {
            list.push(j);
        }
    }
    let stage_actions: Vec<usize> = by_stage.iter().flatten().copied().collect();
    let mut action_deps: Vec<Vec<usize>> = Vec::with_capacity(actions.len());
    for (ai, pa) in actions.iter().enumerate() {
        let deps: Vec<usize> = match stage_of.get(ai).copied().flatten() {
            None => stage_actions.clone(),
            Some(si) => match &pa.action.needs {
                Some(needs) => needs
                    .iter()
                    .filter_map(|n| by_name.get(n.as_str()).copied())
                    .filter(|&j| j != ai)
                    .collect(),
                None => si
                    .checked_sub(1)
                    .and_then(|p| by_stage.get(p))
                    .cloned()
                    .unwrap_or_default(),
            },
        };
        action_deps.push(deps);
    }
    for node in &mut nodes {
        let mut deps: Vec<usize> = action_deps
            .get(node.action)
            .into_iter()
            .flatten()
            .filter_map(|&j| actions.get(j))
            .flat_map(|a| a.nodes.iter().copied())
            .collect();
        deps.sort_unstable();
        deps.dedup();
        node.deps = deps;
    }

    Plan {
        workflow,
        actions,
        nodes,
    }
}

/// Every matrix combination in order, the first axis varying slowest. One empty combination
/// without a matrix.
fn combinations(matrix: Option<&Matrix>) -> Vec<IndexMap<String, Value>> {
    let mut out: Vec<IndexMap<String, Value>> = vec![IndexMap::new()];
    let Some(m) = matrix else {
        return out;
    };
    for (axis, values) in &m.axes {
        let mut next = Vec::with_capacity(out.len() * values.len());
        for combo in &out {
            for v in values {
                let mut c = combo.clone();
                c.insert(axis.clone(), v.clone());
                next.push(c);
            }
        }
        out = next;
    }
    out
}

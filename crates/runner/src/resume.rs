//! Which steps a resumed run reuses from the run it resumes.
//!
//! The rule (docs/server.md, "Resume"): a step is reused — recorded as `reused`, with its
//! outputs, naming the run it ran in — when
//!
//! 1. it succeeded in the earlier run (or was reused there itself),
//! 2. its definition is unchanged: the same step key (matrix values included), the same resolved
//!    action (the component's `name@version` — registered versions never change — or the
//!    image), the same `command`, `with` inputs, `env` (the workflow's and the action's) and
//!    `if:`, as written,
//! 3. every step it waits for is reused too (a step that runs again may produce other outputs),
//! 4. and the run's inputs are what they were (a new revision may change their defaults).
//!
//! Everything else runs. For a resume of the same revision, (2) always holds.

use std::collections::{HashMap, VecDeque};

use co_spec::{Action, NodeId, Plan, Runs};
use co_store::{RunDetail, StepRecord};

/// The earlier run a resumed run takes results from, and what it ran.
#[derive(Debug, Clone, Copy)]
pub struct ResumeFrom<'a> {
    pub run: &'a RunDetail,
    /// The plan of the revision `run` ran.
    pub plan: &'a Plan,
    /// Whether the new run's inputs are the earlier run's.
    pub same_inputs: bool,
}

/// For each node of `plan`, the step of the earlier run it reuses, if any.
pub(crate) fn reused<'a>(plan: &Plan, from: ResumeFrom<'a>) -> Vec<Option<&'a StepRecord>> {
    let mut out: Vec<Option<&'a StepRecord>> = vec![None; plan.nodes.len()];
    if !from.same_inputs {
        return out;
    }
    let old_steps: HashMap<&str, &'a StepRecord> =
        from.run.steps.iter().map(|s| (s.key.as_str(), s)).collect();
    let old_nodes: HashMap<&str, NodeId> = from
        .plan
        .nodes
        .iter()
        .enumerate()
        .map(|(n, node)| (node.key.as_str(), n))
        .collect();
    let same_env = from.plan.workflow.env == plan.workflow.env;
    for node in topological_order(plan) {
        let Some(new_node) = plan.nodes.get(node) else {
            continue;
        };
        let key = new_node.key.as_str();
        let candidate = old_steps
            .get(key)
            .copied()
            .filter(|s| s.status.is_success());
        let unchanged = same_env
            && old_nodes
                .get(key)
                .is_some_and(|&old| same_definition(from.plan, old, plan, node));
        let deps_reused = new_node
            .deps
            .iter()
            .all(|&d| out.get(d).is_some_and(Option::is_some));
        if unchanged && deps_reused {
            out[node] = candidate;
        }
    }
    out
}

/// Whether node `old` of `old_plan` and node `new` of `new_plan` are the same step (see the
/// module's rule, point 2).
fn same_definition(old_plan: &Plan, old: NodeId, new_plan: &Plan, new: NodeId) -> bool {
    let (Some(a), Some(b)) = (old_plan.action_of(old), new_plan.action_of(new)) else {
        return false;
    };
    let (Some(old_node), Some(new_node)) = (old_plan.nodes.get(old), new_plan.nodes.get(new))
    else {
        return false;
    };
    old_node.matrix == new_node.matrix
        && a.finally == b.finally
        && same_action(&a.action, &b.action)
}

fn same_action(a: &Action, b: &Action) -> bool {
    let same_runs = match (&a.runs, &b.runs) {
        (Runs::Image(x), Runs::Image(y)) => x == y,
        (Runs::Component(x), Runs::Component(y)) => {
            x.name == y.name && x.version == y.version && x.image == y.image
        }
        _ => false,
    };
    same_runs
        && a.command == b.command
        && a.with == b.with
        && a.env == b.env
        && a.condition == b.condition
        && a.legacy == b.legacy
}

/// The plan's nodes, each after every node it waits for (Kahn's algorithm; a valid plan has no
/// cycles, and nodes of a cycle would be left out).
fn topological_order(plan: &Plan) -> Vec<NodeId> {
    let mut waiting: Vec<usize> = plan.nodes.iter().map(|n| n.deps.len()).collect();
    let mut dependents: Vec<Vec<NodeId>> = vec![Vec::new(); plan.nodes.len()];
    for (node, n) in plan.nodes.iter().enumerate() {
        for &d in &n.deps {
            if let Some(list) = dependents.get_mut(d) {
                list.push(node);
            }
        }
    }
    let mut ready: VecDeque<NodeId> = (0..plan.nodes.len()).filter(|&n| waiting[n] == 0).collect();
    let mut order = Vec::with_capacity(plan.nodes.len());
    while let Some(node) = ready.pop_front() {
        order.push(node);
        for &next in &dependents[node] {
            waiting[next] = waiting[next].saturating_sub(1);
            if waiting[next] == 0 {
                ready.push_back(next);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use co_spec::{Loader, NoCatalog};
    use co_store::{RunRecord, RunStatus, StepStatus};
    use serde_json::{json, Value};

    use super::*;

    fn plan(yaml: &str) -> Plan {
        let workflow = Loader::new(&NoCatalog)
            .parse_workflow(yaml, "w.yaml", Path::new("."))
            .unwrap_or_else(|d| panic!("{d:?}"));
        co_spec::plan(Arc::new(workflow))
    }

    /// An earlier run of `plan` whose steps ended as `statuses` (by key; a `reused` one names
    /// `01first`).
    fn run(plan: &Plan, statuses: &[(&str, StepStatus)]) -> RunDetail {
        let steps = plan
            .nodes
            .iter()
            .enumerate()
            .map(|(n, node)| {
                let status = statuses
                    .iter()
                    .find(|(k, _)| *k == node.key)
                    .map_or(StepStatus::Succeeded, |(_, s)| *s);
                StepRecord {
                    run_id: "01old".into(),
                    position: n as i64,
                    key: node.key.clone(),
                    stage: "s".into(),
                    action: node.key.clone(),
                    status,
                    attempts: 1,
                    exit_code: Some(0),
                    outputs: json!({"k": node.key}),
                    inputs: json!({}),
                    error: None,
                    started_at: None,
                    finished_at: None,
                    reused_from: (status == StepStatus::Reused).then(|| "01first".to_string()),
                }
            })
            .collect();
        RunDetail {
            run: RunRecord {
                id: "01old".into(),
                workflow: "w".into(),
                status: RunStatus::Failed,
                inputs: json!({}),
                secret_inputs: None,
                outputs: json!({}),
                error: None,
                created_at: "2026-01-01T00:00:00Z".into(),
                started_at: None,
                finished_at: None,
                source_path: String::new(),
                source: String::new(),
                revision: Some(1),
                trigger: Value::Null,
                parent: None,
                max_concurrency: None,
            },
            steps,
            attempts: Vec::new(),
        }
    }

    const W: &str = "name: w\nenv: { A: a }\nstages:\n  - name: one\n    actions:\n      - { name: a, image: img:1, with: { x: \"1\" } }\n      - { name: b, image: img:1 }\n  - name: two\n    actions:\n      - { name: c, image: img:1, needs: [a], with: { y: \"${{ actions.a.outputs.k }}\" } }\n      - { name: d, image: img:1, needs: [b] }\n      - { name: m, image: img:1, needs: [a], matrix: { os: [l, w] } }\n";

    /// The keys reused when resuming a run of `old` (with `statuses`) with `new`.
    fn reused_keys(
        old: &str,
        statuses: &[(&str, StepStatus)],
        new: &str,
        inputs: bool,
    ) -> Vec<String> {
        let (old, new) = (plan(old), plan(new));
        let detail = run(&old, statuses);
        let from = ResumeFrom {
            run: &detail,
            plan: &old,
            same_inputs: inputs,
        };
        reused(&new, from)
            .iter()
            .zip(&new.nodes)
            .filter(|(r, _)| r.is_some())
            .map(|(_, n)| n.key.clone())
            .collect()
    }

    #[test]
    fn the_same_revision_reuses_what_succeeded_and_what_only_waits_on_that() {
        let failed = [("b", StepStatus::Failed), ("d", StepStatus::Skipped)];
        assert_eq!(
            reused_keys(W, &failed, W, true),
            ["a", "c", "m[os=l]", "m[os=w]"]
        );
        // A step reused before is reused again.
        let again = [("a", StepStatus::Reused), ("b", StepStatus::Failed)];
        assert_eq!(reused_keys(W, &again, W, true)[0], "a");
        // `c` succeeded, but waits for `a`, which failed and runs again.
        let upstream = [("a", StepStatus::Failed)];
        assert_eq!(reused_keys(W, &upstream, W, true), ["b", "d"]);
        // Other inputs: nothing is reused.
        assert!(reused_keys(W, &failed, W, false).is_empty());
    }

    #[test]
    fn a_changed_definition_runs_again_with_what_waits_for_it() {
        let failed = [("d", StepStatus::Failed)];
        let cases = [
            // another input value of `a`: a, and c and m that wait for it
            (W.replace("x: \"1\"", "x: \"2\""), vec!["b"]),
            // another image of `b`: b (d failed anyway)
            (
                W.replace("{ name: b, image: img:1 }", "{ name: b, image: img:2 }"),
                vec!["a", "c", "m[os=l]", "m[os=w]"],
            ),
            // a new matrix value: the new copy runs, the old one is reused
            (
                W.replace("[l, w]", "[l, x]"),
                vec!["a", "b", "c", "m[os=l]"],
            ),
            // the workflow's env reaches every step
            (W.replace("env: { A: a }", "env: { A: b }"), vec![]),
            // a step's `if:`
            (
                W.replace(
                    "{ name: b, image: img:1 }",
                    "{ name: b, image: img:1, if: always() }",
                ),
                vec!["a", "c", "m[os=l]", "m[os=w]"],
            ),
            // layout only (another stage name and a comment): everything that succeeded
            (
                W.replace("name: one", "name: first # renamed"),
                vec!["a", "b", "c", "m[os=l]", "m[os=w]"],
            ),
        ];
        for (new, expected) in cases {
            assert_eq!(reused_keys(W, &failed, &new, true), expected, "{new}");
        }
    }

    #[test]
    fn reused_rows_name_the_run_the_step_ran_in() {
        let p = plan(W);
        let detail = run(&p, &[("a", StepStatus::Reused), ("b", StepStatus::Failed)]);
        let from = ResumeFrom {
            run: &detail,
            plan: &p,
            same_inputs: true,
        };
        let rows = crate::initial_steps(&p, "01new", Some(from));
        let row = |key: &str| rows.iter().find(|r| r.key == key).unwrap();
        assert_eq!(row("a").status, StepStatus::Reused);
        assert_eq!(row("a").reused_from.as_deref(), Some("01first"));
        assert_eq!(row("a").run_id, "01new");
        assert_eq!(row("a").outputs, json!({"k": "a"}));
        assert_eq!(row("c").reused_from.as_deref(), Some("01old"));
        assert_eq!(row("b").status, StepStatus::Pending);
        assert_eq!(row("b").reused_from, None);
        assert!(crate::initial_steps(&p, "01new", None)
            .iter()
            .all(|r| r.status == StepStatus::Pending));
    }
}

//! A workflow as a graph for display (the web UI's canvas and run pages), derived from the
//! server's own parser and planner, for both formats (native and seed-format flows).
//!
//! One node per action (a matrix action is one node listing its step keys, so copies can be
//! collapsed), its contract (typed inputs and outputs of its component), where it starts in the
//! YAML (line and column, to pin problems to nodes), dependency edges (stage order, `needs:`,
//! `finally`) and data wires (`${{ actions.X.outputs.Y }}` used by an input). Nothing here is
//! layout: positions are the client's to compute, never stored.

use std::collections::BTreeSet;
use std::time::Duration;

use co_spec::{Format, Plan, TriggerKind, Workflow};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::components::ParamView;

/// A workflow's graph.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkflowGraph {
    pub name: String,
    /// The stored revision it was built from (`null`: a submitted text or a local run).
    pub revision: Option<i64>,
    pub format: GraphFormat,
    /// A seed-format flow's `uri:`.
    pub uri: Option<String>,
    pub description: Option<String>,
    /// The workflow's typed `inputs:` (what a run form asks for).
    pub inputs: IndexMap<String, ParamView>,
    pub triggers: Vec<GraphTrigger>,
    /// Stages in order; `finally` actions last, as a stage with `finally: true`.
    pub stages: Vec<GraphStage>,
    /// Actions in plan order (stage by stage, then `finally`).
    pub nodes: Vec<GraphNode>,
    /// Dependencies between actions: `to` waits for `from`.
    pub edges: Vec<GraphEdge>,
    /// Data flow: `to`'s `input` uses `${{ actions.FROM.outputs.OUTPUT }}`.
    pub wires: Vec<GraphWire>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GraphFormat {
    Native,
    /// A seed-format flow (top-level `uri:`).
    Seed,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphTrigger {
    /// `cron`, `github`, `gitlab` or `webhook`.
    pub kind: String,
    /// In words: `cron 0 3 * * 1-5 (Europe/Berlin)`, `github push on main`, …
    pub summary: String,
    /// Where it is in the YAML (1-based).
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphStage {
    pub name: String,
    /// The `finally:` actions (not a stage of the file).
    pub finally: bool,
    /// Where the stage's name is in the YAML (for `finally`: where its first action starts).
    pub line: u32,
    pub col: u32,
    /// Its actions' names, in order.
    pub actions: Vec<String>,
}

/// What a component reference resolved to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphComponent {
    /// The `component:` value as written (`./components/git-clone`, `upper@1.0.0`).
    pub reference: String,
    pub name: String,
    pub version: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphMatrix {
    /// Axis → values, in the order written.
    #[schema(value_type = Object)]
    pub axes: IndexMap<String, Vec<Value>>,
    pub max_parallel: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphRetry {
    /// Total tries.
    pub attempts: u32,
    /// Wait before the second try (doubles each time), e.g. `1s`.
    pub backoff: String,
}

/// One action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphNode {
    /// Unique in the workflow; what `needs:` and `actions.NAME` use (seed format:
    /// `stage.action.job`).
    pub name: String,
    /// As shown (the name; for a seed-format job, the job's name).
    pub label: String,
    /// Its stage (`finally` for `finally:` actions).
    pub stage: String,
    pub finally: bool,
    /// Where the action starts in the YAML (1-based).
    pub line: u32,
    pub col: u32,
    /// The container image it runs.
    pub image: String,
    /// The component it runs (`null`: a plain `image:` step or a seed-format job).
    pub component: Option<GraphComponent>,
    /// `needs:` as written (`null`: waits for the previous stage).
    pub needs: Option<Vec<String>>,
    /// The actions it actually waits for (stage order or `needs:`), in plan order.
    pub depends_on: Vec<String>,
    /// Its `if:` expression (canonical text), `null` for the default `success()`.
    #[serde(rename = "if")]
    pub condition: Option<String>,
    pub matrix: Option<GraphMatrix>,
    /// Its step keys in a run: `[name]`, or one per matrix combination (`build[os=linux]`).
    pub steps: Vec<String>,
    /// `with:` as canonical template text (`${{ inputs.who }}`).
    pub with: IndexMap<String, String>,
    /// The component's declared inputs (empty for image steps).
    pub inputs: IndexMap<String, ParamView>,
    /// Declared outputs (a seed-format job's `outputs:` are strings; empty: an image step keeps
    /// every key it prints).
    pub outputs: IndexMap<String, ParamView>,
    /// Effective timeout (the action's, else its component's), e.g. `5m`.
    pub timeout: Option<String>,
    pub retry: GraphRetry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// Waits for every action of the previous stage (no `needs:`).
    Order,
    /// Named in `needs:`.
    Needs,
    /// A `finally` action waits for every stage action.
    Finally,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphWire {
    /// The action whose output is used.
    pub from: String,
    pub output: String,
    /// The action that uses it.
    pub to: String,
    /// Where: a `with:` input's name, `env.NAME`, `command` or `if`.
    pub input: String,
}

/// The graph of a validated workflow.
pub fn build(workflow: &Workflow, plan: &Plan, revision: Option<i64>) -> WorkflowGraph {
    let params = |decls: &IndexMap<String, co_spec::ParamDecl>| -> IndexMap<String, ParamView> {
        decls
            .iter()
            .map(|(k, d)| (k.clone(), ParamView::of(d)))
            .collect()
    };
    let mut nodes = Vec::with_capacity(plan.actions.len());
    let mut edges = Vec::new();
    let mut wires = Vec::new();
    for pa in &plan.actions {
        let a = &pa.action;
        // Actions this one waits for: the actions of its nodes' dependencies, in plan order.
        let deps: BTreeSet<usize> = pa
            .nodes
            .iter()
            .filter_map(|&n| plan.nodes.get(n))
            .flat_map(|n| n.deps.iter())
            .filter_map(|&d| plan.nodes.get(d).map(|n| n.action))
            .collect();
        let depends_on: Vec<String> = deps
            .iter()
            .filter_map(|&i| plan.actions.get(i))
            .map(|d| d.action.name.clone())
            .collect();
        let kind = if pa.finally {
            EdgeKind::Finally
        } else if a.needs.is_some() {
            EdgeKind::Needs
        } else {
            EdgeKind::Order
        };
        edges.extend(depends_on.iter().map(|from| GraphEdge {
            from: from.clone(),
            to: a.name.clone(),
            kind,
        }));
        let places = a
            .with
            .iter()
            .map(|(k, t)| (k.clone(), t.references()))
            .chain(
                a.env
                    .iter()
                    .map(|(k, t)| (format!("env.{k}"), t.references())),
            )
            .chain(
                a.command
                    .iter()
                    .flatten()
                    .map(|t| ("command".to_string(), t.references())),
            )
            .chain(
                a.condition
                    .iter()
                    .map(|c| ("if".to_string(), c.references())),
            );
        for (input, refs) in places {
            for r in refs {
                if let [root, from, outputs, output, ..] = r.path.as_slice() {
                    if root == "actions" && outputs == "outputs" {
                        let wire = GraphWire {
                            from: from.clone(),
                            output: output.clone(),
                            to: a.name.clone(),
                            input: input.clone(),
                        };
                        if !wires.iter().any(|w: &GraphWire| {
                            w.from == wire.from
                                && w.output == wire.output
                                && w.to == wire.to
                                && w.input == wire.input
                        }) {
                            wires.push(wire);
                        }
                    }
                }
            }
        }
        let outputs = match a.component() {
            Some(c) => params(&c.outputs),
            None => a
                .legacy_outputs
                .iter()
                .map(|k| {
                    (
                        k.clone(),
                        ParamView {
                            ty: "string".into(),
                            required: false,
                            default: None,
                            description: None,
                        },
                    )
                })
                .collect(),
        };
        nodes.push(GraphNode {
            name: a.name.clone(),
            label: a.label.clone(),
            stage: pa.stage.clone(),
            finally: pa.finally,
            line: a.span.line,
            col: a.span.col,
            image: a.image().to_string(),
            component: a.component().map(|c| GraphComponent {
                reference: a
                    .uses
                    .clone()
                    .unwrap_or_else(|| format!("{}@{}", c.name, c.version)),
                name: c.name.clone(),
                version: c.version.clone(),
                description: c.description.clone(),
            }),
            needs: a.needs.clone(),
            depends_on,
            condition: a.condition.as_ref().map(|c| c.to_string()),
            matrix: a.matrix.as_ref().map(|m| GraphMatrix {
                axes: m.axes.clone(),
                max_parallel: m.max_parallel,
            }),
            steps: pa
                .nodes
                .iter()
                .filter_map(|&n| plan.nodes.get(n))
                .map(|n| n.key.clone())
                .collect(),
            with: a
                .with
                .iter()
                .map(|(k, t)| (k.clone(), t.to_string()))
                .collect(),
            inputs: a.component().map(|c| params(&c.inputs)).unwrap_or_default(),
            outputs,
            timeout: a.effective_timeout().map(duration_text),
            retry: GraphRetry {
                attempts: a.retry.attempts,
                backoff: duration_text(a.retry.backoff),
            },
        });
    }
    let mut stages: Vec<GraphStage> = workflow
        .stages
        .iter()
        .map(|s| GraphStage {
            name: s.name.clone(),
            finally: false,
            line: s.span.line,
            col: s.span.col,
            actions: s.actions.iter().map(|a| a.name.clone()).collect(),
        })
        .collect();
    if let Some(first) = workflow.finally.first() {
        stages.push(GraphStage {
            name: "finally".into(),
            finally: true,
            line: first.span.line,
            col: first.span.col,
            actions: workflow.finally.iter().map(|a| a.name.clone()).collect(),
        });
    }
    let (format, uri) = match &workflow.format {
        Format::Native => (GraphFormat::Native, None),
        Format::Seed { uri } => (GraphFormat::Seed, Some(uri.clone())),
    };
    WorkflowGraph {
        name: workflow.name.clone(),
        revision,
        format,
        uri,
        description: workflow.description.clone(),
        inputs: params(&workflow.inputs),
        triggers: workflow
            .triggers
            .iter()
            .map(|t| {
                let (kind, summary) = trigger_summary(&t.kind);
                GraphTrigger {
                    kind: kind.into(),
                    summary,
                    line: t.span.line,
                    col: t.span.col,
                }
            })
            .collect(),
        stages,
        nodes,
        edges,
        wires,
    }
}

fn trigger_summary(kind: &TriggerKind) -> (&'static str, String) {
    let on = |events: &[String], branches: &[String]| {
        let events = if events.is_empty() {
            "push".to_string()
        } else {
            events.join(", ")
        };
        if branches.is_empty() {
            events
        } else {
            format!("{events} on {}", branches.join(", "))
        }
    };
    match kind {
        TriggerKind::Cron { schedule, timezone } => (
            "cron",
            format!("cron {schedule} ({})", timezone.as_deref().unwrap_or("UTC")),
        ),
        TriggerKind::GitHub {
            events, branches, ..
        } => ("github", format!("github {}", on(events, branches))),
        TriggerKind::GitLab {
            events, branches, ..
        } => ("gitlab", format!("gitlab {}", on(events, branches))),
        TriggerKind::Webhook { .. } => ("webhook", "webhook".to_string()),
    }
}

/// `90s` → `1m30s`, `1500ms` → `1500ms`, zero → `0s`.
pub fn duration_text(d: Duration) -> String {
    if d.subsec_millis() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn graph_of(yaml: &str) -> WorkflowGraph {
        let workflow = co_spec::Loader::new(&co_spec::NoCatalog)
            .parse_workflow(yaml, "w.yaml", Path::new("."))
            .unwrap();
        let workflow = Arc::new(workflow);
        let plan = co_spec::plan(workflow.clone());
        build(&workflow, &plan, Some(3))
    }

    #[test]
    fn durations_read_like_the_yaml() {
        assert_eq!(duration_text(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration_text(Duration::from_secs(3600)), "1h");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_text(Duration::ZERO), "0s");
    }

    #[test]
    fn native_workflows_become_nodes_edges_and_wires() {
        let g = graph_of(
            "name: w\ninputs: { who: { type: string, default: x } }\nstages:\n\
             - name: one\n  actions:\n  - name: a\n    image: i\n  - name: m\n    image: i\n    \
             matrix: { os: [l, w] }\n- name: two\n  actions:\n  - name: b\n    image: i\n    \
             with: { t: \"${{ actions.a.outputs.x }}\" }\n    retry: { attempts: 2, backoff: 1s }\n  \
             - name: c\n    image: i\n    needs: [a]\n    if: ${{ failure() }}\n    \
             env: { E: \"${{ actions.a.outputs.y }}\" }\nfinally:\n- name: f\n  image: i\n",
        );
        assert_eq!(g.revision, Some(3));
        assert_eq!(g.format, GraphFormat::Native);
        assert_eq!(g.inputs["who"].ty, "string");
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "m", "b", "c", "f"]);
        let m = &g.nodes[1];
        assert_eq!(m.steps, ["m[os=l]", "m[os=w]"]);
        assert_eq!(m.matrix.as_ref().unwrap().axes["os"].len(), 2);
        let b = &g.nodes[2];
        assert_eq!(b.depends_on, ["a", "m"]);
        assert_eq!(b.with["t"], "${{ actions.a.outputs.x }}");
        assert_eq!((b.retry.attempts, b.retry.backoff.as_str()), (2, "1s"));
        assert_eq!((b.line, b.col), (13, 5));
        let c = &g.nodes[3];
        assert_eq!(c.depends_on, ["a"]);
        assert_eq!(c.needs.as_deref(), Some(&["a".to_string()][..]));
        assert_eq!(c.condition.as_deref(), Some("failure()"));
        let kinds: Vec<(&str, &str, EdgeKind)> = g
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str(), e.kind))
            .collect();
        assert!(kinds.contains(&("a", "b", EdgeKind::Order)));
        assert!(kinds.contains(&("a", "c", EdgeKind::Needs)));
        assert!(kinds.contains(&("c", "f", EdgeKind::Finally)));
        assert!(!kinds.iter().any(|(f, t, _)| *f == "m" && *t == "c"));
        let wires: Vec<(&str, &str, &str, &str)> = g
            .wires
            .iter()
            .map(|w| {
                (
                    w.from.as_str(),
                    w.output.as_str(),
                    w.to.as_str(),
                    w.input.as_str(),
                )
            })
            .collect();
        assert_eq!(wires, [("a", "x", "b", "t"), ("a", "y", "c", "env.E")]);
        let stages: Vec<(&str, bool)> = g
            .stages
            .iter()
            .map(|s| (s.name.as_str(), s.finally))
            .collect();
        assert_eq!(stages, [("one", false), ("two", false), ("finally", true)]);
    }

    #[test]
    fn seed_flows_are_graphs_too() {
        let g = graph_of(
            "uri: demo/ci/flow\ntitle: T\nstages:\n  - { type: start, name: start, title: S }\n  \
             - type: normal\n    name: build\n    sequencing: parallel\n    actions:\n      \
             - name: compile\n        jobs:\n          - type: component\n            name: cc\n            \
             endpoint: img:1\n            outputs: [\"ART\"]\n  - type: normal\n    name: publish\n    \
             sequencing: sequence\n    actions:\n      - name: upload\n        jobs:\n          \
             - type: component\n            name: up\n            endpoint: img:2\n            \
             subscriptions:\n              - build.compile.cc[ART]: P\n  - { type: end, name: end, title: E }\n",
        );
        assert_eq!(g.format, GraphFormat::Seed);
        assert_eq!(g.uri.as_deref(), Some("demo/ci/flow"));
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["build.compile.cc", "publish.upload.up"]);
        assert_eq!(g.nodes[0].label, "cc");
        assert_eq!(g.nodes[0].outputs["ART"].ty, "string");
        assert_eq!(g.nodes[1].depends_on, ["build.compile.cc"]);
        assert_eq!(g.wires.len(), 1);
        assert_eq!(g.wires[0].output, "ART");
        assert_eq!(g.wires[0].input, "env.P");
    }
}

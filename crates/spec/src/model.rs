//! The validated, typed model of components and workflows, and the execution [`Plan`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use co_expr::{Expr, Template};
use co_protocol::{OutputDecl, ValueType};
use indexmap::IndexMap;
use serde_json::Value;

use crate::Span;

/// A declared input or output (of a component or a workflow).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    pub ty: ValueType,
    pub required: bool,
    /// Already converted to `ty`.
    pub default: Option<Value>,
    pub description: Option<String>,
    /// Whether `type:` was written (it defaults to `string`).
    pub typed: bool,
    pub span: Span,
}

/// CPU and memory limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_millis: Option<u64>,
    pub memory_bytes: Option<u64>,
}

impl Resources {
    /// `self` with every value `over` sets replaced by it.
    pub fn overlay(&self, over: &Resources) -> Resources {
        Resources {
            cpu_millis: over.cpu_millis.or(self.cpu_millis),
            memory_bytes: over.memory_bytes.or(self.memory_bytes),
        }
    }
}

/// How to build a component's image locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// Absolute build context directory.
    pub context: PathBuf,
    /// Containerfile path relative to `context`.
    pub containerfile: PathBuf,
    /// Where the Containerfile is named (the `containerfile:` value, else `build:`), for
    /// diagnostics about it.
    pub containerfile_span: Span,
    /// Where the context is named (the `context:` value, else `build:`).
    pub context_span: Span,
}

/// A validated `component.yaml` (SPEC §2).
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub image: String,
    pub build: Option<Build>,
    /// Entrypoint override.
    pub command: Option<Vec<String>>,
    pub inputs: IndexMap<String, ParamDecl>,
    pub outputs: IndexMap<String, ParamDecl>,
    pub resources: Resources,
    pub timeout: Option<Duration>,
    /// The `kubernetes:` block, keys already checked.
    pub kubernetes: Option<Value>,
    /// The `swarm:` block, checked, as the Swarm backend reads it (`co_spec` component docs).
    pub swarm: Option<Value>,
    /// What its steps leave behind (`artifacts:`), in the order written.
    pub artifacts: Vec<ArtifactDecl>,
    /// Its test cases (`tests:`), run by `containerops component test DIR`.
    pub tests: Vec<ComponentTest>,
    /// The file it was read from.
    pub path: PathBuf,
}

/// One case of a component's `tests:`: inputs (and files in the workspace) → what is expected.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentTest {
    pub name: String,
    /// The inputs, as written (checked against the component's inputs when the case runs).
    pub inputs: IndexMap<String, Value>,
    /// Files written into the workspace before the step: path relative to it → content.
    pub workspace: IndexMap<String, String>,
    pub expect: TestExpect,
    /// Where the case starts (its `- name:`).
    pub span: Span,
}

/// What a test case expects. Everything left out is not checked, except the exit code (0).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestExpect {
    /// Expected exit code (0 when not written).
    pub exit_code: i64,
    /// The verdict: `CO_RESULT` as printed (true when it never was).
    pub result: Option<bool>,
    /// Expected outputs, each compared after conversion to its declared type.
    pub outputs: IndexMap<String, (Value, Span)>,
    /// Patterns (regular expressions) that must each match at least one log line.
    pub logs: Vec<(String, Span)>,
}

/// Which format a workflow was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Native,
    /// A seed-format flow (SPEC §4), with its `uri:`.
    Seed {
        uri: String,
    },
}

/// A validated workflow of either format (SPEC §3, §4).
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub name: String,
    pub description: Option<String>,
    pub format: Format,
    pub inputs: IndexMap<String, ParamDecl>,
    pub env: IndexMap<String, Template>,
    pub stages: Vec<Stage>,
    pub finally: Vec<Action>,
    /// The path as given (used in diagnostics).
    pub path: String,
    /// The file's text, recorded with every run.
    pub source: String,
    /// What starts runs of this workflow on a server (`triggers:`); local runs ignore them.
    pub triggers: Vec<Trigger>,
    /// At most this many runs of the workflow at once on a server (`concurrency:`); more wait
    /// as `queued`. `None`: no limit.
    pub concurrency: Option<u32>,
    /// Who is told when a run ends (`notify:`; sent by the server, local runs ignore it).
    pub notify: Vec<Notify>,
}

/// One entry of `notify:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// When: the run failed (or was cancelled), succeeded, or always.
    pub on: Vec<NotifyOn>,
    pub target: NotifyTarget,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOn {
    Failure,
    Success,
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// A JSON body describing the run, signed with HMAC-SHA256 under the stored secret `secret`.
    Webhook { url: String, secret: String },
    /// A Slack-compatible incoming webhook; the stored secret `secret` holds its URL.
    Slack { secret: String },
}

impl Notify {
    /// Whether a run that ended `succeeded` (true) or not (false) is told.
    pub fn applies(&self, succeeded: bool) -> bool {
        self.on.iter().any(|on| match on {
            NotifyOn::Always => true,
            NotifyOn::Success => succeeded,
            NotifyOn::Failure => !succeeded,
        })
    }
}

impl Workflow {
    /// The secrets a run of this workflow needs: the sorted, unique names `X` of every
    /// `secrets.X` referenced by a template or `if:` of any action (`with`, `env`, `command`,
    /// `if`, stage and `finally` actions alike), by the workflow's `env`, or by a trigger's
    /// inputs. The secrets named by webhook triggers (`secret:`) authenticate deliveries and
    /// are not part of it.
    pub fn secret_names(&self) -> Vec<String> {
        let mut names = std::collections::BTreeSet::new();
        let mut add = |refs: Vec<co_expr::RefUse>| {
            for r in refs {
                if let [root, name, ..] = r.path.as_slice() {
                    if root == "secrets" {
                        names.insert(name.clone());
                    }
                }
            }
        };
        for t in self.env.values() {
            add(t.references());
        }
        let actions = self
            .stages
            .iter()
            .flat_map(|s| s.actions.iter())
            .chain(self.finally.iter());
        for a in actions {
            for t in a
                .with
                .values()
                .chain(a.env.values())
                .chain(a.command.iter().flatten())
            {
                add(t.references());
            }
            if let Some(c) = &a.condition {
                add(c.references());
            }
        }
        for t in self.triggers.iter().flat_map(|t| t.inputs.values()) {
            add(t.references());
        }
        names.into_iter().collect()
    }
}

/// One entry of `triggers:` (a server extension of the contract, see docs/triggers.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// Inputs of the runs it starts; templates may use `trigger.*` only.
    pub inputs: IndexMap<String, Template>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerKind {
    /// `cron: "0 3 * * 1-5"` (5 fields), `timezone:` an IANA name (default UTC).
    Cron {
        schedule: String,
        timezone: Option<String>,
    },
    /// GitHub webhooks: `X-Hub-Signature-256` HMAC with the stored secret named `secret`.
    GitHub {
        secret: String,
        /// `X-GitHub-Event` values that start a run (default `push`).
        events: Vec<String>,
        /// Only these branches (push: the pushed branch; pull_request: the base); empty: any.
        branches: Vec<String>,
        /// Report the runs' states back as commit statuses.
        status: Option<CommitStatus>,
    },
    /// GitLab webhooks: `X-Gitlab-Token` equal to the stored secret named `secret`.
    GitLab {
        secret: String,
        /// `push`, `tag_push`, `merge_request`, … (from `X-Gitlab-Event`; default `push`).
        events: Vec<String>,
        branches: Vec<String>,
        /// Report the runs' states back as commit statuses.
        status: Option<CommitStatus>,
    },
    /// Any sender: header `X-ContainerOps-Token` equal to the stored secret named `secret`.
    Webhook { secret: String },
}

/// `status:` of a `github`/`gitlab` trigger: the runs it starts report their states on the
/// delivery's commit (docs/triggers.md#commit-statuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// The name of the stored secret holding the API token.
    pub token: String,
    /// The API base URL (GitHub Enterprise, self-hosted GitLab); `None`: the server's.
    pub api_url: Option<String>,
    /// The status's name on the commit; `None`: `containerops/WORKFLOW`.
    pub context: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub span: Span,
    pub actions: Vec<Action>,
}

/// What an action runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Runs {
    /// A plain image step.
    Image(String),
    /// A component (resolved from a path or the catalog).
    Component(Arc<Component>),
}

/// Retry policy: `attempts` total tries (≥ 1); the wait before try n+1 is `backoff · 2^(n-1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 1,
            backoff: Duration::ZERO,
        }
    }
}

/// `matrix:` and `max-parallel:` of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Axis name → values (scalars), in the order written.
    pub axes: IndexMap<String, Vec<Value>>,
    pub max_parallel: Option<u32>,
}

/// When a step's artifact is kept (`when:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArtifactWhen {
    /// Only when the attempt succeeded (the default).
    #[default]
    Success,
    /// Only when it failed (logs, core dumps, test reports of a failure).
    Failure,
    /// Either way.
    Always,
}

impl ArtifactWhen {
    /// `success`, `failure`, `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactWhen::Success => "success",
            ArtifactWhen::Failure => "failure",
            ArtifactWhen::Always => "always",
        }
    }

    /// Whether an attempt that ended so (`succeeded`) keeps the artifact.
    pub fn applies(self, succeeded: bool) -> bool {
        match self {
            ArtifactWhen::Success => succeeded,
            ArtifactWhen::Failure => !succeeded,
            ArtifactWhen::Always => true,
        }
    }
}

/// One entry of `artifacts:` (on an action or in a component): a named path or glob under
/// `/workspace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactDecl {
    /// [`crate::NameKind::Artifact`]: what `actions.NAME.artifacts.ART` and the CLI name it by.
    pub name: String,
    /// Where it is, checked and normalised ([`crate::artifacts::ArtifactPath`]).
    pub path: crate::artifacts::ArtifactPath,
    pub when: ArtifactWhen,
}

/// One action of a workflow (a seed-format job becomes one action).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Unique in the workflow; what `needs:` and `actions.NAME` refer to. For a seed-format job:
    /// `stage.action.job`.
    pub name: String,
    /// Shown as the step's `action` (the name; for a seed-format job, the job's name).
    pub label: String,
    pub span: Span,
    pub runs: Runs,
    /// The `component:` reference exactly as written (`./components/upper`, `upper@1.0.0`);
    /// `None` for image steps and seed-format jobs.
    pub uses: Option<String>,
    /// Entrypoint override of an image step (templates allowed). `None`: the component's
    /// `command`, else the image's own entrypoint.
    pub command: Option<Vec<Template>>,
    /// Inputs, in the order written.
    pub with: IndexMap<String, Template>,
    pub env: IndexMap<String, Template>,
    /// Explicit `needs:` (action names). `None`: every action of the previous stage.
    pub needs: Option<Vec<String>>,
    /// `if:`. `None` means `success()`.
    pub condition: Option<Expr>,
    /// Overrides the component's timeout.
    pub timeout: Option<Duration>,
    pub retry: Retry,
    /// Overrides the component's resources, key by key.
    pub resources: Resources,
    pub matrix: Option<Matrix>,
    /// Seed-format job: no `CO_DATA`/`CO_DATA_JSON`/`CO_INPUT_*` are generated (its
    /// `environments`, in `env`, are passed verbatim).
    pub legacy: bool,
    /// Output names a seed-format job declares (`outputs: [..]`); empty for native actions.
    pub legacy_outputs: Vec<String>,
    /// `artifacts:` of the action itself (the component's are in [`Action::artifacts`]).
    pub own_artifacts: Vec<ArtifactDecl>,
}

impl Action {
    pub fn image(&self) -> &str {
        match &self.runs {
            Runs::Image(image) => image,
            Runs::Component(c) => &c.image,
        }
    }

    pub fn component(&self) -> Option<&Component> {
        match &self.runs {
            Runs::Image(_) => None,
            Runs::Component(c) => Some(c),
        }
    }

    pub fn effective_timeout(&self) -> Option<Duration> {
        self.timeout
            .or_else(|| self.component().and_then(|c| c.timeout))
    }

    pub fn effective_resources(&self) -> Resources {
        match self.component() {
            Some(c) => c.resources.overlay(&self.resources),
            None => self.resources,
        }
    }

    /// The artifacts its steps keep: the component's, then the action's own; an action's
    /// artifact of the same name as one of its component's replaces it (in the component's place).
    pub fn artifacts(&self) -> Vec<ArtifactDecl> {
        let mut out: Vec<ArtifactDecl> = self
            .component()
            .map(|c| c.artifacts.clone())
            .unwrap_or_default();
        for a in &self.own_artifacts {
            match out.iter_mut().find(|o| o.name == a.name) {
                Some(slot) => *slot = a.clone(),
                None => out.push(a.clone()),
            }
        }
        out
    }

    /// Declared outputs with their types. Empty: keep every key as a string.
    pub fn declared_outputs(&self) -> IndexMap<String, OutputDecl> {
        match self.component() {
            Some(c) => c
                .outputs
                .iter()
                .map(|(k, d)| {
                    (
                        k.clone(),
                        OutputDecl {
                            ty: d.ty,
                            required: d.required,
                        },
                    )
                })
                .collect(),
            None => self
                .legacy_outputs
                .iter()
                .map(|k| {
                    (
                        k.clone(),
                        OutputDecl {
                            ty: ValueType::String,
                            required: false,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// Index of an action in a [`Plan`].
pub type ActionId = usize;
/// Index of a node (one step: an action, or one matrix copy of it) in a [`Plan`].
pub type NodeId = usize;

/// One action as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanAction {
    /// Stage name (`"finally"` for actions of `finally:`).
    pub stage: String,
    pub action: Action,
    pub finally: bool,
    /// Its nodes: one, or one per matrix combination (in combination order).
    pub nodes: Vec<NodeId>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanNode {
    /// Unique step key: the action name, or `name[axis=value,…]` for a matrix copy.
    pub key: String,
    pub action: ActionId,
    /// This copy's matrix values (empty without a matrix).
    pub matrix: IndexMap<String, Value>,
    /// The nodes this one waits for, directly (sorted, no duplicates).
    pub deps: Vec<NodeId>,
}

/// A validated workflow, expanded into the DAG of steps the engine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub workflow: Arc<Workflow>,
    /// Stage actions in order, then `finally` actions.
    pub actions: Vec<PlanAction>,
    /// In action order; matrix copies adjacent.
    pub nodes: Vec<PlanNode>,
}

impl Plan {
    pub fn action_of(&self, node: NodeId) -> Option<&PlanAction> {
        self.nodes
            .get(node)
            .and_then(|n| self.actions.get(n.action))
    }

    pub fn action_by_name(&self, name: &str) -> Option<(ActionId, &PlanAction)> {
        self.actions
            .iter()
            .enumerate()
            .find(|(_, a)| a.action.name == name)
    }
}

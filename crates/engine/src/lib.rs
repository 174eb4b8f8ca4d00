//! The run engine: a deterministic state machine.
//!
//! One [`Engine`] drives one run of a [`Plan`]. It is fed [`Input`]s (start, an attempt's
//! container started, a step attempt ended, a timer fired, cancel) together with the current time, and answers with [`Command`]s
//! (launch an attempt, stop one, set a timer, a step changed, the run finished) for a driver to
//! carry out.
//!
//! Invariants:
//! - No IO, no clock, no randomness, no async: the same inputs at the same times give the same
//!   commands. Time is injected as milliseconds since the Unix epoch.
//! - Work per input is proportional to what changed (dependency counters and ready queues, no scans
//!   over all steps), so a 10,000-step plan runs in milliseconds.
//! - Every step that ends un-run gets a status (`skipped` or `cancelled`), every failed step a
//!   reason in words; the run finishes exactly once, after every step is terminal.

mod context;
mod launch;
mod state;

pub use state::{RunStatus, StepState, StepStatus};

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use co_backend::StepLaunch;
use co_expr::StatusFn;
use co_protocol::{Collected, ValueType};
use co_spec::{NodeId, Plan};
use indexmap::IndexMap;
use serde_json::Value;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Why a timer was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// The attempt's timeout.
    Timeout,
    /// The wait before the next attempt.
    Backoff,
}

/// A timer the driver must fire (feed back as [`Input::Timer`]) at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timer {
    pub node: NodeId,
    pub attempt: u32,
    pub kind: TimerKind,
}

/// How an attempt ended, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The container's exit code; `None` if it was stopped or never started.
    pub exit_code: Option<i64>,
    /// The container was stopped on the engine's request.
    pub stopped: bool,
    pub oom_killed: bool,
    /// What the backend could not do (e.g. `image x not found`), and whether retrying may help.
    pub backend_error: Option<(String, bool)>,
    /// What the component reported through `[COUT]` lines.
    pub collected: Collected,
    /// When the container started and ended by the engine's own record (ms since the Unix
    /// epoch), if the backend knows: the step's times are the container's, not when the driver
    /// heard of them (a recovered run hears of an exit long after it happened).
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// The artifacts the attempt collected, if it declares any (boxed: most steps do not).
    pub artifacts: Option<Box<Artifacts>>,
}

/// The artifacts an attempt collected (`artifacts:` whose `when:` applied), in the order
/// declared: each kept, or why it could not be (a missing path, over the size limit, a symlink
/// out of `/workspace`, …: a reason the attempt failed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Artifacts(pub Vec<Result<KeptArtifact, String>>);

/// An artifact an attempt kept, as expressions see it (`actions.NAME.artifacts.ART.sha256`,
/// `.size`, `.name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptArtifact {
    pub name: String,
    /// 64 lower-case hexadecimal digits.
    pub sha256: String,
    pub size: u64,
}

/// Whether an attempt that ended so succeeded by the rule the engine applies to
/// [`Input::Exited`] (exit code 0, not stopped, no `CO_RESULT = false`, no protocol problem, its
/// declared outputs present and well typed), before artifacts are counted: the driver asks it to
/// decide which `when:` artifacts to keep, while the container still exists.
pub fn attempt_succeeded(outcome: &Outcome, action: &co_spec::Action) -> bool {
    let declared = action.declared_outputs();
    let (_, problems) = co_protocol::typed_outputs(&outcome.collected.outputs, &declared);
    problems.is_empty() && ended_reasons(outcome, None).0.is_empty()
}

/// The reasons an attempt failed from how its container ended and what it printed (not its
/// outputs' types), whether retrying may help, and whether it was cancelled.
fn ended_reasons(outcome: &Outcome, stop: Option<StopReason>) -> (Vec<String>, bool, bool) {
    let mut retriable = true;
    let mut reasons: Vec<String> = Vec::new();
    let mut cancelled = false;
    if let Some((message, can_retry)) = &outcome.backend_error {
        reasons.push(message.clone());
        retriable = *can_retry;
        return (reasons, retriable, cancelled);
    }
    match stop {
        Some(StopReason::Timeout(limit)) => {
            reasons.push(format!("timed out after {}", format_duration(limit)));
        }
        Some(StopReason::Cancel) => cancelled = true,
        None if outcome.stopped => reasons.push("stopped".to_string()),
        None => {}
    }
    if !outcome.stopped {
        match outcome.exit_code {
            Some(0) => {}
            Some(code) if outcome.oom_killed => {
                reasons.push(format!("out of memory (OOM killed), exit code {code}"))
            }
            Some(code) => reasons.push(format!("exit code {code}")),
            None => reasons.push("the container ended without an exit code".to_string()),
        }
    }
    if outcome.collected.verdict == Some(false) {
        reasons.push("CO_RESULT = false".to_string());
    }
    reasons.extend(outcome.collected.errors.iter().cloned());
    (reasons, retriable, cancelled)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Begin the run.
    Start,
    /// The container of a launched attempt is running. Its timeout counts from here, not from the
    /// launch: a launch may wait for a free slot (the driver caps the steps running at once) and
    /// the engine may take a while to create and start the container.
    Started { node: NodeId, attempt: u32 },
    /// An attempt's container ended (or could not be run).
    Exited {
        node: NodeId,
        attempt: u32,
        outcome: Outcome,
    },
    /// A timer set by [`Command::SetTimer`] is due.
    Timer(Timer),
    /// Cancel the run (SIGINT/SIGTERM, API). A second cancel also stops `always()`/`finally` steps.
    Cancel,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start this attempt; report [`Input::Started`] once its container runs (its timeout is
    /// set then), and [`Input::Exited`] when it ended.
    Launch {
        node: NodeId,
        attempt: u32,
        launch: Box<StepLaunch>,
    },
    /// Attach to the running container of this attempt, started before the run was restored
    /// ([`Engine::restore`]); an [`Input::Exited`] follows (with a backend error if it is gone).
    Reattach {
        node: NodeId,
        attempt: u32,
        launch: Box<StepLaunch>,
    },
    /// Stop this attempt's container; an [`Input::Exited`] follows.
    Stop { node: NodeId, attempt: u32 },
    /// Feed [`Input::Timer`] at `at`.
    SetTimer { timer: Timer, at: Millis },
    /// The step's state changed (status, attempt, outputs, error): record and show it.
    StepChanged { node: NodeId },
    /// One attempt ended (emitted before the step's own change, and before any retry launch).
    AttemptEnded {
        node: NodeId,
        attempt: u32,
        status: StepStatus,
        exit_code: Option<i64>,
        error: Option<String>,
    },
    /// More values to mask in every log line from now on (secret inputs).
    MaskSecrets(Vec<String>),
    /// Every step is terminal; the run ended with this status.
    RunFinished(RunStatus),
}

/// What a run starts with.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    pub run_id: String,
    /// Workflow inputs as given (text from the CLI, JSON values from the API); converted to the
    /// declared types and completed with defaults by [`Engine::new`].
    pub inputs: IndexMap<String, Value>,
    pub secrets: IndexMap<String, String>,
    /// What started the run (webhook event and payload), visible as `trigger.*`.
    pub trigger: Option<Value>,
}

/// A step as it was stored, to restore a run from ([`Engine::restore`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepSnapshot {
    pub status: StepStatus,
    /// The current (or last) attempt; 0 if it never started.
    pub attempt: u32,
    pub exit_code: Option<i64>,
    pub outputs: IndexMap<String, Value>,
    /// The inputs of its last launch as stored ([`StepState::inputs`]).
    pub inputs: IndexMap<String, Value>,
    pub error: Option<String>,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// When the current attempt started, for a running step (its timeout counts from there).
    pub attempt_started_at: Option<Millis>,
    /// The artifacts its last attempt kept ([`StepState::artifacts`]).
    pub artifacts: IndexMap<String, KeptArtifact>,
}

/// Why a run could not be set up (bad inputs). Each entry is one problem, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// Why the engine stopped an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Timeout(Duration),
    Cancel,
}

/// The state machine of one run.
pub struct Engine {
    plan: Arc<Plan>,
    run_id: String,
    inputs: IndexMap<String, Value>,
    secrets: IndexMap<String, String>,
    trigger: Option<Value>,
    steps: Vec<StepState>,
    /// Per node: how many of its deps are not terminal yet.
    remaining_deps: Vec<usize>,
    /// Per node: the nodes that wait for it.
    dependents: Vec<Vec<NodeId>>,
    /// Per node: some ancestor failed (for `failure()`).
    failed_ancestor: Vec<bool>,
    /// Per node: why the engine asked to stop its running attempt.
    stop_reason: Vec<Option<StopReason>>,
    /// Per action: attempts running or waiting to retry (for `max-parallel`).
    active: Vec<u32>,
    /// Per action: nodes decided to run but held back by `max-parallel`.
    held: Vec<VecDeque<NodeId>>,
    /// Nodes whose deps are all terminal, to be decided.
    ready: VecDeque<NodeId>,
    terminal: usize,
    started: bool,
    cancel_requested: bool,
    force_cancel: bool,
    finished: Option<RunStatus>,
    started_at: Option<Millis>,
    finished_at: Option<Millis>,
}

impl Engine {
    /// Set up a run: convert and check the inputs (unknown, missing required, wrong type).
    pub fn new(plan: Arc<Plan>, config: RunConfig) -> Result<Engine, ConfigError> {
        let owner = format!("workflow {}", plan.workflow.name);
        let inputs = resolve_inputs(&owner, &plan.workflow.inputs, config.inputs)?;
        let n = plan.nodes.len();
        let mut dependents = vec![Vec::new(); n];
        let mut remaining_deps = vec![0; n];
        for (id, node) in plan.nodes.iter().enumerate() {
            remaining_deps[id] = node.deps.len();
            for &dep in &node.deps {
                if let Some(list) = dependents.get_mut(dep) {
                    list.push(id);
                }
            }
        }
        let actions = plan.actions.len();
        Ok(Engine {
            run_id: config.run_id,
            inputs,
            secrets: config.secrets,
            trigger: config.trigger,
            steps: vec![StepState::default(); n],
            remaining_deps,
            dependents,
            failed_ancestor: vec![false; n],
            stop_reason: vec![None; n],
            active: vec![0; actions],
            held: vec![VecDeque::new(); actions],
            ready: VecDeque::new(),
            terminal: 0,
            started: false,
            cancel_requested: false,
            force_cancel: false,
            finished: None,
            started_at: None,
            finished_at: None,
            plan,
        })
    }

    /// Rebuild a run from its stored steps: after a crash (steps that were running are reattached
    /// to their containers, steps waiting for a retry retry at once) or to resume a failed run
    /// (succeeded steps keep their outputs, every other step is `pending`). `snapshot` has one
    /// entry per plan node (missing entries are `pending`). Returns the engine and the commands
    /// that get the run going again; the run counts as started at `started_at`.
    pub fn restore(
        plan: Arc<Plan>,
        config: RunConfig,
        snapshot: Vec<StepSnapshot>,
        cancel_requested: bool,
        started_at: Millis,
        now: Millis,
    ) -> Result<(Engine, Vec<Command>), ConfigError> {
        let mut engine = Engine::new(plan, config)?;
        engine.started = true;
        engine.started_at = Some(started_at);
        let mut out = Vec::new();
        let mut snapshot = snapshot.into_iter();
        let mut attempt_started = Vec::with_capacity(engine.steps.len());
        for node in 0..engine.steps.len() {
            let snap = snapshot.next().unwrap_or_default();
            attempt_started.push(snap.attempt_started_at);
            let step = &mut engine.steps[node];
            step.status = snap.status;
            step.attempt = snap.attempt;
            step.exit_code = snap.exit_code;
            step.outputs = snap.outputs;
            step.artifacts = snap.artifacts;
            step.inputs = snap.inputs;
            step.error = snap.error;
            step.started_at = snap.started_at;
            step.finished_at = snap.finished_at;
            // An attempt that was running (or about to retry) without an attempt number cannot
            // be found again: run it from the start.
            if matches!(snap.status, StepStatus::Running | StepStatus::Waiting) && snap.attempt == 0
            {
                step.status = StepStatus::Pending;
            }
            if step.status.is_finished() {
                engine.terminal += 1;
            }
            if matches!(step.status, StepStatus::Running | StepStatus::Waiting) {
                if let Some(count) = engine
                    .plan
                    .nodes
                    .get(node)
                    .and_then(|n| engine.active.get_mut(n.action))
                {
                    *count += 1;
                }
            }
        }
        // Dependency counters and failed ancestors, in dependency order.
        for node in engine.topological_order() {
            let deps = engine.plan.nodes[node].deps.clone();
            engine.remaining_deps[node] = deps
                .iter()
                .filter(|&&d| !engine.steps[d].status.is_finished())
                .count();
            engine.failed_ancestor[node] = deps.iter().any(|&d| {
                engine.steps[d].status == StepStatus::Failed || engine.failed_ancestor[d]
            });
            match engine.steps[node].status {
                StepStatus::Pending if engine.remaining_deps[node] == 0 => {
                    engine.ready.push_back(node)
                }
                StepStatus::Running => {
                    let attempt = engine.steps[node].attempt;
                    // A reattached container runs already: its timeout counts from its start.
                    let from = attempt_started[node].unwrap_or(now);
                    engine.steps[node].attempt_started_at = Some(from);
                    match launch::build(&engine, node, attempt) {
                        Ok(built) => {
                            if !built.secrets.is_empty() {
                                out.push(Command::MaskSecrets(built.secrets));
                            }
                            engine.steps[node].inputs = built.inputs;
                            out.push(Command::Reattach {
                                node,
                                attempt,
                                launch: Box::new(built.launch),
                            });
                            let limit = engine
                                .plan
                                .action_of(node)
                                .and_then(|a| a.action.effective_timeout());
                            if let Some(limit) = limit {
                                out.push(set_timer(node, attempt, TimerKind::Timeout, from, limit));
                            }
                        }
                        Err(message) => {
                            engine.steps[node].error = Some(message);
                            engine.settle(now, node, StepStatus::Failed, &mut out);
                        }
                    }
                }
                StepStatus::Waiting => {
                    let attempt = engine.steps[node].attempt;
                    out.push(set_timer(
                        node,
                        attempt,
                        TimerKind::Backoff,
                        now,
                        Duration::ZERO,
                    ));
                }
                _ => {}
            }
        }
        if cancel_requested {
            engine.on_cancel(now, &mut out);
        }
        engine.pump(now, &mut out);
        Ok((engine, out))
    }

    /// Every node once, each after the nodes it depends on.
    fn topological_order(&self) -> Vec<NodeId> {
        let n = self.plan.nodes.len();
        let mut pending: Vec<usize> = self.plan.nodes.iter().map(|p| p.deps.len()).collect();
        let mut queue: VecDeque<NodeId> = (0..n).filter(|&i| pending[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(node) = queue.pop_front() {
            order.push(node);
            for &dependent in &self.dependents[node] {
                pending[dependent] -= 1;
                if pending[dependent] == 0 {
                    queue.push_back(dependent);
                }
            }
        }
        order
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The workflow inputs after conversion and defaults.
    pub fn inputs(&self) -> &IndexMap<String, Value> {
        &self.inputs
    }

    pub fn step(&self, node: NodeId) -> Option<&StepState> {
        self.steps.get(node)
    }

    pub fn steps(&self) -> &[StepState] {
        &self.steps
    }

    /// `Some` once the run is over.
    pub fn finished(&self) -> Option<RunStatus> {
        self.finished
    }

    pub fn started_at(&self) -> Option<Millis> {
        self.started_at
    }

    pub fn finished_at(&self) -> Option<Millis> {
        self.finished_at
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested
    }

    /// The workflow inputs as they may be shown and stored: the value of every input of type
    /// `secret` is [`co_protocol::MASK`], and every other value is masked where it contains a
    /// secret ([`Engine::initial_secrets`]).
    pub fn shown_inputs(&self) -> IndexMap<String, Value> {
        let masker = co_protocol::Masker::new(self.initial_secrets());
        self.inputs
            .iter()
            .map(|(name, value)| {
                let shown = if self.is_secret_input(name) {
                    Value::from(co_protocol::MASK)
                } else {
                    masker.mask_json(value)
                };
                (name.clone(), shown)
            })
            .collect()
    }

    /// The workflow inputs of type `secret` with their values (to keep encrypted, or not at all).
    pub fn secret_inputs(&self) -> IndexMap<String, Value> {
        self.inputs
            .iter()
            .filter(|(name, _)| self.is_secret_input(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    fn is_secret_input(&self, name: &str) -> bool {
        self.plan
            .workflow
            .inputs
            .get(name)
            .is_some_and(|decl| decl.ty == ValueType::Secret)
    }

    /// The timeout of `node`, if the engine is stopping its running attempt because it ran out
    /// of time (after the [`Command::Stop`] that says so, until the attempt's exit).
    pub fn timed_out(&self, node: NodeId) -> Option<Duration> {
        match self.stop_reason.get(node)? {
            Some(StopReason::Timeout(limit)) => Some(*limit),
            _ => None,
        }
    }

    /// Values that must be masked in logs from the start: every `--secret` and every workflow
    /// input of type `secret`.
    pub fn initial_secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.secrets.values().cloned().collect();
        for (name, decl) in &self.plan.workflow.inputs {
            if decl.ty == ValueType::Secret {
                if let Some(v) = self.inputs.get(name) {
                    out.push(co_protocol::value_text(v));
                }
            }
        }
        out.retain(|s| !s.is_empty());
        out
    }

    /// The status the run has so far (what `run.status` shows in `finally`).
    pub fn current_status(&self) -> RunStatus {
        if let Some(done) = self.finished {
            return done;
        }
        if self.cancel_requested {
            RunStatus::Cancelled
        } else if self.steps.iter().any(|s| s.status == StepStatus::Failed) {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        }
    }

    /// Feed one input at time `now`; returns what the driver must do, in order.
    pub fn handle(&mut self, now: Millis, input: Input) -> Vec<Command> {
        let mut out = Vec::new();
        if self.finished.is_some() {
            return out;
        }
        match input {
            Input::Start => self.on_start(now),
            Input::Started { node, attempt } => self.on_started(now, node, attempt, &mut out),
            Input::Exited {
                node,
                attempt,
                outcome,
            } => self.on_exited(now, node, attempt, outcome, &mut out),
            Input::Timer(timer) => self.on_timer(now, timer, &mut out),
            Input::Cancel => self.on_cancel(now, &mut out),
        }
        self.pump(now, &mut out);
        out
    }

    fn on_start(&mut self, now: Millis) {
        if self.started {
            return;
        }
        self.started = true;
        self.started_at = Some(now);
        for (id, &remaining) in self.remaining_deps.iter().enumerate() {
            if remaining == 0 {
                self.ready.push_back(id);
            }
        }
    }

    /// The attempt's container runs: its timeout starts now (once per attempt).
    fn on_started(&mut self, now: Millis, node: NodeId, attempt: u32, out: &mut Vec<Command>) {
        let Some(step) = self.steps.get_mut(node) else {
            return;
        };
        if step.status != StepStatus::Running
            || step.attempt != attempt
            || step.attempt_started_at.is_some()
        {
            return; // stale, or reported twice
        }
        step.attempt_started_at = Some(now);
        let limit = self
            .plan
            .action_of(node)
            .and_then(|a| a.action.effective_timeout());
        if let Some(limit) = limit {
            out.push(set_timer(node, attempt, TimerKind::Timeout, now, limit));
        }
    }

    fn on_exited(
        &mut self,
        now: Millis,
        node: NodeId,
        attempt: u32,
        outcome: Outcome,
        out: &mut Vec<Command>,
    ) {
        let Some(step) = self.steps.get(node) else {
            return;
        };
        if step.status != StepStatus::Running || step.attempt != attempt {
            return; // stale: not the attempt that is running
        }
        let stop = self.stop_reason.get_mut(node).and_then(Option::take);
        let declared = self
            .plan
            .action_of(node)
            .map(|a| a.action.declared_outputs())
            .unwrap_or_default();
        let (outputs, problems) = co_protocol::typed_outputs(&outcome.collected.outputs, &declared);
        let (mut reasons, retriable, cancelled) = ended_reasons(&outcome, stop);
        if outcome.backend_error.is_none() {
            reasons.extend(problems);
            if let Some(artifacts) = &outcome.artifacts {
                reasons.extend(artifacts.0.iter().filter_map(|a| a.clone().err()));
            }
        }

        let Some(step) = self.steps.get_mut(node) else {
            return;
        };
        step.exit_code = outcome.exit_code;
        step.outputs = outputs;
        step.artifacts = outcome
            .artifacts
            .iter()
            .flat_map(|a| a.0.iter().filter_map(|r| r.as_ref().ok()))
            .map(|k| (k.name.clone(), k.clone()))
            .collect();
        let (attempt_status, error) = if reasons.is_empty() && cancelled {
            (StepStatus::Cancelled, Some("cancelled".to_string()))
        } else if reasons.is_empty() {
            (StepStatus::Succeeded, None)
        } else if cancelled {
            (StepStatus::Cancelled, Some(error_text(&reasons)))
        } else {
            (StepStatus::Failed, Some(error_text(&reasons)))
        };
        step.error = error.clone();
        out.push(Command::AttemptEnded {
            node,
            attempt,
            status: attempt_status,
            exit_code: outcome.exit_code,
            error,
        });
        if let (1, Some(started)) = (attempt, outcome.started_at) {
            // The step started when its first container did.
            step.started_at = Some(started.min(now));
        }
        if attempt_status != StepStatus::Failed {
            self.settle(now, node, attempt_status, out);
            self.ended_at(node, outcome.finished_at, now);
            return;
        }
        let retry = self
            .plan
            .action_of(node)
            .map(|a| a.action.retry)
            .unwrap_or_default();
        if retriable && !self.cancel_requested && attempt < retry.attempts {
            let factor = 1u32 << (attempt - 1).min(20);
            let wait = retry.backoff.saturating_mul(factor);
            step.status = StepStatus::Waiting;
            step.retry_in = Some(millis(wait));
            out.push(Command::StepChanged { node });
            if wait.is_zero() {
                self.launch(now, node, attempt + 1, out);
            } else {
                out.push(set_timer(node, attempt, TimerKind::Backoff, now, wait));
            }
            return;
        }
        self.settle(now, node, StepStatus::Failed, out);
        self.ended_at(node, outcome.finished_at, now);
    }

    /// A step that has just settled ended when its container did, if the backend knows when
    /// (never later than `now`, never before the step started).
    fn ended_at(&mut self, node: NodeId, finished: Option<Millis>, now: Millis) {
        let (Some(step), Some(finished)) = (self.steps.get_mut(node), finished) else {
            return;
        };
        let finished = finished.min(now).max(step.started_at.unwrap_or(finished));
        step.finished_at = Some(finished);
    }

    fn on_timer(&mut self, now: Millis, timer: Timer, out: &mut Vec<Command>) {
        let Some(step) = self.steps.get(timer.node) else {
            return;
        };
        if step.attempt != timer.attempt {
            return;
        }
        match timer.kind {
            TimerKind::Timeout => {
                if step.status == StepStatus::Running
                    && self
                        .stop_reason
                        .get(timer.node)
                        .is_some_and(Option::is_none)
                {
                    let limit = self
                        .plan
                        .action_of(timer.node)
                        .and_then(|a| a.action.effective_timeout())
                        .unwrap_or_default();
                    if let Some(slot) = self.stop_reason.get_mut(timer.node) {
                        *slot = Some(StopReason::Timeout(limit));
                    }
                    out.push(Command::Stop {
                        node: timer.node,
                        attempt: timer.attempt,
                    });
                }
            }
            TimerKind::Backoff => {
                if step.status == StepStatus::Waiting {
                    self.launch(now, timer.node, timer.attempt + 1, out);
                }
            }
        }
    }

    fn on_cancel(&mut self, now: Millis, out: &mut Vec<Command>) {
        if self.cancel_requested {
            self.force_cancel = true;
        }
        self.cancel_requested = true;
        for node in 0..self.steps.len() {
            let status = self.steps[node].status;
            match status {
                StepStatus::Running => {
                    // A step started under cancellation (always()/finally) is only stopped by a
                    // second cancel.
                    let runs_anyway = self.steps[node].started_after_cancel;
                    if (!runs_anyway || self.force_cancel)
                        && self.stop_reason[node] != Some(StopReason::Cancel)
                    {
                        self.stop_reason[node] = Some(StopReason::Cancel);
                        out.push(Command::Stop {
                            node,
                            attempt: self.steps[node].attempt,
                        });
                    }
                }
                StepStatus::Waiting => {
                    if let Some(step) = self.steps.get_mut(node) {
                        step.error = Some("cancelled".to_string());
                    }
                    self.settle(now, node, StepStatus::Cancelled, out);
                }
                _ => {}
            }
        }
        if self.force_cancel {
            for action in 0..self.held.len() {
                while let Some(node) = self.held[action].pop_front() {
                    self.settle(now, node, StepStatus::Cancelled, out);
                }
            }
        }
    }

    /// Decide every ready node, then finish the run if all is done.
    fn pump(&mut self, now: Millis, out: &mut Vec<Command>) {
        while let Some(node) = self.ready.pop_front() {
            self.decide(now, node, out);
        }
        if self.started && self.finished.is_none() && self.terminal == self.steps.len() {
            let status = self.current_status();
            self.finished = Some(status);
            self.finished_at = Some(now);
            out.push(Command::RunFinished(status));
        }
    }

    /// All deps of `node` are terminal: run it, or skip/cancel it.
    fn decide(&mut self, now: Millis, node: NodeId, out: &mut Vec<Command>) {
        let Some(plan_node) = self.plan.nodes.get(node) else {
            return;
        };
        let deps = plan_node.deps.clone();
        let failed_ancestor = deps.iter().any(|&d| {
            self.steps
                .get(d)
                .is_some_and(|s| s.status == StepStatus::Failed)
                || self.failed_ancestor.get(d).copied().unwrap_or(false)
        });
        if let Some(flag) = self.failed_ancestor.get_mut(node) {
            *flag = failed_ancestor;
        }
        let all_succeeded = deps
            .iter()
            .all(|&d| self.steps.get(d).is_some_and(|s| s.status.is_success()));
        let Some(action) = self.plan.action_of(node) else {
            return;
        };
        let is_finally = action.finally;
        let condition = action.action.condition.clone();
        let flags = context::StatusFlags {
            all_succeeded,
            failed_ancestor,
            cancelled: self.cancel_requested,
        };
        let (run, explicit) = match &condition {
            None if is_finally => (true, true),
            None => (flags.eval(StatusFn::Success), false),
            Some(expr) => {
                let used = expr.status_functions();
                let explicit = used
                    .iter()
                    .any(|f| matches!(f, StatusFn::Always | StatusFn::Cancelled));
                let implicit_success = used.is_empty();
                let ctx = context::EvalCtx::new(self, node, None, flags);
                match expr.eval(&ctx) {
                    Ok(v) => (
                        co_expr::truthy(&v) && (!implicit_success || flags.eval(StatusFn::Success)),
                        explicit,
                    ),
                    Err(e) => {
                        if let Some(step) = self.steps.get_mut(node) {
                            step.error = Some(format!("if: {e}"));
                        }
                        self.settle(now, node, StepStatus::Failed, out);
                        return;
                    }
                }
            }
        };
        let blocked_by_cancel = self.cancel_requested && (!explicit || self.force_cancel);
        if !run || blocked_by_cancel {
            let status = if self.cancel_requested {
                StepStatus::Cancelled
            } else {
                StepStatus::Skipped
            };
            self.settle(now, node, status, out);
            return;
        }
        if let Some(step) = self.steps.get_mut(node) {
            step.started_after_cancel = self.cancel_requested;
        }
        self.admit(now, node, out);
    }

    /// Launch the first attempt, or hold the node back if its action is at `max-parallel`.
    fn admit(&mut self, now: Millis, node: NodeId, out: &mut Vec<Command>) {
        let Some(plan_node) = self.plan.nodes.get(node) else {
            return;
        };
        let action_id = plan_node.action;
        let cap = self
            .plan
            .actions
            .get(action_id)
            .and_then(|a| a.action.matrix.as_ref())
            .and_then(|m| m.max_parallel);
        let active = self.active.get(action_id).copied().unwrap_or(0);
        if cap.is_some_and(|cap| active >= cap) {
            if let Some(queue) = self.held.get_mut(action_id) {
                queue.push_back(node);
            }
            return;
        }
        if let Some(count) = self.active.get_mut(action_id) {
            *count += 1;
        }
        self.launch(now, node, 1, out);
    }

    /// Build and emit the launch of one attempt (or fail the step if its inputs cannot be built).
    fn launch(&mut self, now: Millis, node: NodeId, attempt: u32, out: &mut Vec<Command>) {
        let built = launch::build(self, node, attempt);
        let Some(step) = self.steps.get_mut(node) else {
            return;
        };
        step.attempt = attempt;
        step.attempt_started_at = None;
        step.retry_in = None;
        step.started_at.get_or_insert(now);
        match built {
            Ok(built) => {
                step.status = StepStatus::Running;
                step.error = None;
                step.inputs = built.inputs;
                if !built.secrets.is_empty() {
                    out.push(Command::MaskSecrets(built.secrets));
                }
                out.push(Command::StepChanged { node });
                // The timeout is set when the container has started (`Input::Started`).
                out.push(Command::Launch {
                    node,
                    attempt,
                    launch: Box::new(built.launch),
                });
            }
            Err(message) => {
                step.error = Some(message);
                self.settle(now, node, StepStatus::Failed, out);
            }
        }
    }

    /// Make `node` terminal with `status` and release what waits for it.
    fn settle(&mut self, now: Millis, node: NodeId, status: StepStatus, out: &mut Vec<Command>) {
        let Some(step) = self.steps.get_mut(node) else {
            return;
        };
        if step.status.is_finished() {
            return;
        }
        let was_active = matches!(step.status, StepStatus::Running | StepStatus::Waiting);
        step.status = status;
        step.finished_at = Some(now);
        self.terminal += 1;
        out.push(Command::StepChanged { node });

        let action_id = self.plan.nodes.get(node).map(|n| n.action);
        if let (true, Some(action_id)) = (was_active, action_id) {
            if let Some(count) = self.active.get_mut(action_id) {
                *count = count.saturating_sub(1);
            }
            let next = self.held.get_mut(action_id).and_then(VecDeque::pop_front);
            if let Some(next) = next {
                if let Some(count) = self.active.get_mut(action_id) {
                    *count += 1;
                }
                self.launch(now, next, 1, out);
            }
        }
        let dependents = self.dependents.get(node).cloned().unwrap_or_default();
        for dependent in dependents {
            if let Some(remaining) = self.remaining_deps.get_mut(dependent) {
                *remaining = remaining.saturating_sub(1);
                if *remaining == 0 {
                    self.ready.push_back(dependent);
                }
            }
        }
    }
}

/// Convert inputs given as `--input`s (text) or JSON to their declared types, add defaults, and
/// report unknown (with a "did you mean" for a likely typo) and missing ones, each in words.
/// `owner` names what declares them (`workflow hello`, `component checksum`).
pub fn resolve_inputs(
    owner: &str,
    declared: &IndexMap<String, co_spec::ParamDecl>,
    given: IndexMap<String, Value>,
) -> Result<IndexMap<String, Value>, ConfigError> {
    let mut problems = Vec::new();
    for name in given.keys() {
        if !declared.contains_key(name) {
            let known: Vec<&str> = declared.keys().map(String::as_str).collect();
            problems.push(if known.is_empty() {
                format!("unknown input {name:?}: {owner} declares no inputs")
            } else {
                match co_spec::suggest(name, known.iter().copied()) {
                    Some(close) => format!(
                        "unknown input {name:?}; did you mean {close:?}? (declared inputs: {})",
                        known.join(", ")
                    ),
                    None => format!(
                        "unknown input {name:?}; declared inputs: {}",
                        known.join(", ")
                    ),
                }
            });
        }
    }
    let mut out = IndexMap::new();
    for (name, decl) in declared {
        match given.get(name) {
            Some(value) => match co_protocol::coerce(value, decl.ty) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => problems.push(format!("input {name}: {e}")),
            },
            None => match &decl.default {
                Some(default) => {
                    out.insert(name.clone(), default.clone());
                }
                None if decl.required => {
                    problems.push(format!("input {name} is required (--input {name}=VALUE)"))
                }
                None => {}
            },
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError(problems))
    }
}

/// Longest step error text kept (4 KiB); the rest is cut with a note of how much.
pub const MAX_STEP_ERROR_BYTES: usize = 4096;

/// A step's reasons joined with `; `, cut at [`MAX_STEP_ERROR_BYTES`] (at a char boundary).
fn error_text(reasons: &[String]) -> String {
    let mut text = reasons.join("; ");
    if text.len() > MAX_STEP_ERROR_BYTES {
        let mut cut = MAX_STEP_ERROR_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let more = text.len() - cut;
        text.truncate(cut);
        text.push_str(&format!(" … ({more} more bytes)"));
    }
    text
}

/// The command for a timer of `kind` due `after` from `now`.
fn set_timer(node: NodeId, attempt: u32, kind: TimerKind, now: Millis, after: Duration) -> Command {
    Command::SetTimer {
        timer: Timer {
            node,
            attempt,
            kind,
        },
        at: now.saturating_add(millis(after)),
    }
}

fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A duration the way users write it: `2s`, `1m30s`, `1h`, `500ms`.
pub fn format_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms < 1000 {
        return format!("{total_ms}ms");
    }
    let secs = d.as_secs();
    let ms = total_ms % 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || ms > 0 {
        if ms > 0 {
            let frac = format!("{:03}", ms);
            out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
        } else {
            out.push_str(&format!("{s}s"));
        }
    }
    out
}

#[cfg(test)]
mod tests;

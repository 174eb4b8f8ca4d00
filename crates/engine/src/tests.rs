//! Engine semantics, tested deterministically: a scripted fake backend and a virtual clock.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use co_protocol::Collected;
use co_spec::{Loader, NoCatalog, Plan};
use indexmap::IndexMap;
use serde_json::{json, Value};

use super::*;

fn plan(yaml: &str) -> Arc<Plan> {
    let loader = Loader::new(&NoCatalog);
    let wf = match loader.parse_workflow(yaml, "test.yaml", Path::new(".")) {
        Ok(wf) => wf,
        Err(d) => panic!(
            "fixture invalid:\n{}",
            d.0.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    Arc::new(co_spec::plan(Arc::new(wf)))
}

/// What a scripted step does on each attempt.
#[derive(Clone)]
enum Script {
    /// Exit with this code, printing these `[COUT]` outputs.
    Exit(i64, Vec<(&'static str, &'static str)>),
    /// Print CO_RESULT = false and exit 0.
    Verdict(bool),
    /// Never exit by itself (until stopped).
    Hang,
    /// The backend cannot run it.
    BackendError(&'static str, bool),
    /// Exit 0, having collected these artifacts (kept, or why not).
    Artifacts(Vec<Result<KeptArtifact, String>>),
}

fn ok() -> Script {
    Script::Exit(0, vec![])
}

/// A virtual-time simulator around one engine.
struct Sim {
    engine: Engine,
    now: Millis,
    scripts: HashMap<String, Vec<Script>>,
    timers: BTreeMap<(Millis, u64), Timer>,
    timer_seq: u64,
    /// Attempts running, by node.
    running: HashMap<NodeId, (u32, Script)>,
    /// Every launch, in order: (step key, attempt, time).
    launches: Vec<(String, u32, Millis)>,
    launched: Vec<StepLaunch>,
    /// Every reattach, in order: (step key, attempt).
    reattached: Vec<(String, u32)>,
    stops: Vec<(String, u32)>,
    /// The backoff announced by every change to `waiting` (step key, `retry_in`).
    retry_waits: Vec<(String, Option<Millis>)>,
    masked: Vec<String>,
    finished: Option<RunStatus>,
    /// Most attempts of one action running at once, by action name.
    peak: HashMap<String, usize>,
    /// Commands returned by `Engine::restore`, not carried out yet.
    pending_commands: Vec<Command>,
    /// Launched containers start at once (`Input::Started` right after the launch); when false,
    /// a test reports their start itself.
    auto_start: bool,
}

impl Sim {
    fn new(yaml: &str) -> Sim {
        Sim::with_config(yaml, RunConfig::default())
    }

    fn with_config(yaml: &str, mut config: RunConfig) -> Sim {
        if config.run_id.is_empty() {
            config.run_id = "r1".into();
        }
        let engine = Engine::new(plan(yaml), config).expect("config ok");
        Sim {
            engine,
            now: 1_000_000,
            scripts: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            running: HashMap::new(),
            launches: Vec::new(),
            launched: Vec::new(),
            reattached: Vec::new(),
            stops: Vec::new(),
            retry_waits: Vec::new(),
            masked: Vec::new(),
            finished: None,
            peak: HashMap::new(),
            pending_commands: Vec::new(),
            auto_start: true,
        }
    }

    /// A simulator around a run restored from `snapshot` (by step key; others pending).
    fn restored(yaml: &str, snapshot: &[(&str, StepSnapshot)], cancel_requested: bool) -> Sim {
        let plan = plan(yaml);
        let snaps: Vec<StepSnapshot> = plan
            .nodes
            .iter()
            .map(|n| {
                snapshot
                    .iter()
                    .find(|(k, _)| *k == n.key)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default()
            })
            .collect();
        let now = 2_000_000;
        let (engine, commands) = Engine::restore(
            plan,
            RunConfig {
                run_id: "r1".into(),
                ..RunConfig::default()
            },
            snaps,
            cancel_requested,
            1_000_000,
            now,
        )
        .expect("restore");
        let mut sim = Sim {
            engine,
            now,
            scripts: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            running: HashMap::new(),
            launches: Vec::new(),
            launched: Vec::new(),
            reattached: Vec::new(),
            stops: Vec::new(),
            retry_waits: Vec::new(),
            masked: Vec::new(),
            finished: None,
            peak: HashMap::new(),
            pending_commands: Vec::new(),
            auto_start: true,
        };
        sim.pending_commands = commands;
        sim
    }

    /// Carry out what `restore` returned, then run to the end.
    fn resume(mut self) -> Sim {
        let commands = std::mem::take(&mut self.pending_commands);
        self.apply(commands);
        self.settle();
        self
    }

    fn script(mut self, key: &str, attempts: Vec<Script>) -> Sim {
        self.scripts.insert(key.to_string(), attempts);
        self
    }

    fn key(&self, node: NodeId) -> String {
        self.engine.plan().nodes[node].key.clone()
    }

    fn node(&self, key: &str) -> NodeId {
        self.engine
            .plan()
            .nodes
            .iter()
            .position(|n| n.key == key)
            .unwrap_or_else(|| panic!("no step {key}"))
    }

    fn feed(&mut self, input: Input) {
        let commands = self.engine.handle(self.now, input);
        self.apply(commands);
    }

    fn apply(&mut self, commands: Vec<Command>) {
        let mut follow = Vec::new();
        for command in commands {
            match command {
                Command::Reattach {
                    node,
                    attempt,
                    launch,
                } => {
                    let key = self.key(node);
                    self.reattached.push((key.clone(), attempt));
                    self.launched.push(*launch);
                    let script = self
                        .scripts
                        .get(&key)
                        .and_then(|s| s.get(attempt as usize - 1).or(s.last()))
                        .cloned()
                        .unwrap_or_else(ok);
                    self.running.insert(node, (attempt, script));
                }
                Command::Launch {
                    node,
                    attempt,
                    launch,
                } => {
                    let key = self.key(node);
                    self.launches.push((key.clone(), attempt, self.now));
                    self.launched.push(*launch);
                    let script = self
                        .scripts
                        .get(&key)
                        .and_then(|s| s.get(attempt as usize - 1).or(s.last()))
                        .cloned()
                        .unwrap_or_else(ok);
                    self.running.insert(node, (attempt, script));
                    let action = self.engine.plan().nodes[node].action;
                    let name = self.engine.plan().actions[action].action.name.clone();
                    let count = self
                        .running
                        .keys()
                        .filter(|n| self.engine.plan().nodes[**n].action == action)
                        .count();
                    let peak = self.peak.entry(name).or_default();
                    *peak = (*peak).max(count);
                    if self.auto_start {
                        follow.push(Input::Started { node, attempt });
                    }
                }
                Command::Stop { node, attempt } => {
                    self.stops.push((self.key(node), attempt));
                    if self.running.remove(&node).is_some() {
                        follow.push(Input::Exited {
                            node,
                            attempt,
                            outcome: Outcome {
                                exit_code: None,
                                stopped: true,
                                ..Outcome::default()
                            },
                        });
                    }
                }
                Command::SetTimer { timer, at } => {
                    self.timer_seq += 1;
                    self.timers.insert((at, self.timer_seq), timer);
                }
                Command::StepChanged { node } => {
                    let waiting = self
                        .engine
                        .step(node)
                        .filter(|step| step.status == StepStatus::Waiting)
                        .map(|step| step.retry_in);
                    if let Some(retry_in) = waiting {
                        let key = self.key(node);
                        self.retry_waits.push((key, retry_in));
                    }
                }
                Command::AttemptEnded { .. } => {}
                Command::MaskSecrets(s) => self.masked.extend(s),
                Command::RunFinished(status) => {
                    assert!(self.finished.is_none(), "run finished twice");
                    self.finished = Some(status);
                }
            }
        }
        for input in follow {
            self.feed(input);
        }
    }

    /// Let every running attempt that does not hang end, in node order.
    fn complete_running(&mut self) -> bool {
        let mut nodes: Vec<NodeId> = self
            .running
            .iter()
            .filter(|(_, (_, s))| !matches!(s, Script::Hang))
            .map(|(n, _)| *n)
            .collect();
        nodes.sort_unstable();
        let progressed = !nodes.is_empty();
        for node in nodes {
            let Some((attempt, script)) = self.running.remove(&node) else {
                continue;
            };
            let outcome = match script {
                Script::Exit(code, outs) => Outcome {
                    exit_code: Some(code),
                    collected: Collected {
                        outputs: outs
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        ..Collected::default()
                    },
                    ..Outcome::default()
                },
                Script::Verdict(v) => Outcome {
                    exit_code: Some(0),
                    collected: Collected {
                        verdict: Some(v),
                        ..Collected::default()
                    },
                    ..Outcome::default()
                },
                Script::BackendError(message, retriable) => Outcome {
                    backend_error: Some((message.to_string(), retriable)),
                    ..Outcome::default()
                },
                Script::Artifacts(results) => Outcome {
                    exit_code: Some(0),
                    artifacts: Some(Box::new(Artifacts(results))),
                    ..Outcome::default()
                },
                Script::Hang => unreachable!(),
            };
            self.feed(Input::Exited {
                node,
                attempt,
                outcome,
            });
        }
        progressed
    }

    /// Advance the clock to the next timer and fire it.
    fn fire_next_timer(&mut self) -> bool {
        let Some((&(at, seq), _)) = self.timers.iter().next() else {
            return false;
        };
        let timer = self.timers.remove(&(at, seq)).expect("timer");
        self.now = self.now.max(at);
        self.feed(Input::Timer(timer));
        true
    }

    /// Run until the run finishes or nothing can move.
    fn run(mut self) -> Sim {
        self.feed(Input::Start);
        self.settle();
        self
    }

    fn settle(&mut self) {
        while self.finished.is_none() {
            if self.complete_running() {
                continue;
            }
            if !self.fire_next_timer() {
                break;
            }
        }
    }

    fn status(&self, key: &str) -> StepStatus {
        self.engine.step(self.node(key)).expect("step").status
    }

    fn error(&self, key: &str) -> Option<String> {
        self.engine
            .step(self.node(key))
            .expect("step")
            .error
            .clone()
    }

    fn outputs(&self, key: &str) -> IndexMap<String, Value> {
        self.engine
            .step(self.node(key))
            .expect("step")
            .outputs
            .clone()
    }

    fn launched_keys(&self) -> Vec<String> {
        self.launches.iter().map(|(k, _, _)| k.clone()).collect()
    }

    fn env(&self, key: &str, name: &str) -> Option<String> {
        self.launched
            .iter()
            .rev()
            .find(|l| l.step_key == key)
            .and_then(|l| l.env.iter().rev().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
    }
}

const IMG: &str = "localhost/test/busybox:latest";

fn chain3() -> String {
    format!(
        "name: chain\nstages:\n  - name: one\n    actions:\n      - {{ name: a, image: {IMG} }}\n      - {{ name: b, image: {IMG} }}\n  - name: two\n    actions:\n      - {{ name: c, image: {IMG} }}\n  - name: three\n    actions:\n      - {{ name: d, image: {IMG} }}\n"
    )
}

#[test]
fn stages_run_in_order_and_actions_of_a_stage_in_parallel() {
    let mut sim = Sim::new(&chain3());
    sim.feed(Input::Start);
    // Both actions of stage one start at once; nothing else yet.
    assert_eq!(sim.launched_keys(), ["a", "b"]);
    sim.settle();
    assert_eq!(sim.launched_keys(), ["a", "b", "c", "d"]);
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
    for key in ["a", "b", "c", "d"] {
        assert_eq!(sim.status(key), StepStatus::Succeeded);
    }
}

#[test]
fn a_failed_step_skips_what_waits_for_it_and_fails_the_run() {
    let sim = Sim::new(&chain3())
        .script("b", vec![Script::Exit(3, vec![])])
        .run();
    assert_eq!(sim.status("a"), StepStatus::Succeeded);
    assert_eq!(sim.status("b"), StepStatus::Failed);
    assert_eq!(sim.error("b").as_deref(), Some("exit code 3"));
    assert_eq!(sim.status("c"), StepStatus::Skipped);
    assert_eq!(sim.status("d"), StepStatus::Skipped);
    assert_eq!(sim.finished, Some(RunStatus::Failed));
    assert_eq!(sim.launched_keys(), ["a", "b"]);
}

#[test]
fn co_result_false_fails_a_step_that_exited_zero() {
    let sim = Sim::new(&chain3())
        .script("a", vec![Script::Verdict(false)])
        .run();
    assert_eq!(sim.status("a"), StepStatus::Failed);
    assert_eq!(sim.error("a").as_deref(), Some("CO_RESULT = false"));
    assert_eq!(sim.finished, Some(RunStatus::Failed));
}

#[test]
fn co_result_true_with_nonzero_exit_still_fails() {
    let sim = Sim::new(&chain3())
        .script("a", vec![Script::Exit(2, vec![("CO_RESULT", "true")])])
        .run();
    assert_eq!(sim.status("a"), StepStatus::Failed);
    assert_eq!(sim.error("a").as_deref(), Some("exit code 2"));
}

fn needs_dag() -> String {
    format!(
        r#"name: dag
stages:
  - name: s1
    actions:
      - {{ name: fetch, image: {IMG} }}
      - {{ name: lint, image: {IMG} }}
  - name: s2
    actions:
      - {{ name: build, image: {IMG}, needs: [fetch] }}
      - {{ name: test, image: {IMG}, needs: [build] }}
      - {{ name: docs, image: {IMG} }}
"#
    )
}

#[test]
fn needs_replaces_the_stage_barrier_with_exact_dependencies() {
    let mut sim = Sim::new(&needs_dag()).script("lint", vec![Script::Hang]);
    sim.feed(Input::Start);
    sim.settle();
    // build and test only wait for fetch; docs waits for all of s1, so it waits on lint.
    assert_eq!(sim.status("build"), StepStatus::Succeeded);
    assert_eq!(sim.status("test"), StepStatus::Succeeded);
    assert_eq!(sim.status("docs"), StepStatus::Pending);
    assert_eq!(sim.finished, None);
    // test (same stage) ran after build.
    let pos = |k: &str| sim.launched_keys().iter().position(|x| x == k).expect(k);
    assert!(pos("build") < pos("test"));
}

#[test]
fn if_failure_runs_a_handler_and_always_runs_regardless() {
    let yaml = format!(
        r#"name: handlers
stages:
  - name: build
    actions:
      - {{ name: compile, image: {IMG} }}
  - name: after
    actions:
      - {{ name: on-fail, image: {IMG}, if: "${{{{ failure() }}}}" }}
      - {{ name: on-ok, image: {IMG} }}
      - {{ name: cleanup, image: {IMG}, if: always() }}
      - {{ name: ok-explicit, image: {IMG}, if: success() }}
"#
    );
    let sim = Sim::new(&yaml)
        .script("compile", vec![Script::Exit(1, vec![])])
        .run();
    assert_eq!(sim.status("on-fail"), StepStatus::Succeeded);
    assert_eq!(sim.status("cleanup"), StepStatus::Succeeded);
    assert_eq!(sim.status("on-ok"), StepStatus::Skipped);
    assert_eq!(sim.status("ok-explicit"), StepStatus::Skipped);
    // The handler ran, but the run still failed.
    assert_eq!(sim.finished, Some(RunStatus::Failed));

    let sim = Sim::new(&yaml).run();
    assert_eq!(sim.status("on-fail"), StepStatus::Skipped);
    assert_eq!(sim.status("on-ok"), StepStatus::Succeeded);
    assert_eq!(sim.status("cleanup"), StepStatus::Succeeded);
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
}

#[test]
fn failure_sees_failed_ancestors_through_skipped_steps() {
    let yaml = format!(
        r#"name: deep
stages:
  - name: a
    actions: [{{ name: one, image: {IMG} }}]
  - name: b
    actions: [{{ name: two, image: {IMG} }}]
  - name: c
    actions: [{{ name: notify, image: {IMG}, if: failure() }}]
"#
    );
    let sim = Sim::new(&yaml)
        .script("one", vec![Script::Exit(1, vec![])])
        .run();
    assert_eq!(sim.status("two"), StepStatus::Skipped);
    assert_eq!(sim.status("notify"), StepStatus::Succeeded);
}

#[test]
fn a_condition_without_status_functions_also_requires_success() {
    let yaml = format!(
        r#"name: cond
inputs:
  deploy: {{ type: bool, default: true }}
stages:
  - name: a
    actions: [{{ name: build, image: {IMG} }}]
  - name: b
    actions: [{{ name: ship, image: {IMG}, if: "${{{{ inputs.deploy }}}}" }}]
"#
    );
    let sim = Sim::new(&yaml).run();
    assert_eq!(sim.status("ship"), StepStatus::Succeeded);
    let sim = Sim::new(&yaml)
        .script("build", vec![Script::Exit(1, vec![])])
        .run();
    assert_eq!(sim.status("ship"), StepStatus::Skipped);
    let mut inputs = IndexMap::new();
    inputs.insert("deploy".to_string(), json!("false"));
    let sim = Sim::with_config(
        &yaml,
        RunConfig {
            inputs,
            ..RunConfig::default()
        },
    )
    .run();
    assert_eq!(sim.status("ship"), StepStatus::Skipped);
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
}

#[test]
fn retries_wait_a_doubling_backoff_then_succeed() {
    let yaml = format!(
        r#"name: flaky
stages:
  - name: s
    actions:
      - name: net
        image: {IMG}
        retry: {{ attempts: 4, backoff: 1s }}
"#
    );
    let sim = Sim::new(&yaml)
        .script(
            "net",
            vec![
                Script::Exit(1, vec![]),
                Script::Exit(1, vec![]),
                Script::Exit(1, vec![]),
                ok(),
            ],
        )
        .run();
    assert_eq!(sim.status("net"), StepStatus::Succeeded);
    let times: Vec<Millis> = sim.launches.iter().map(|(_, _, t)| *t).collect();
    let attempts: Vec<u32> = sim.launches.iter().map(|(_, a, _)| *a).collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    let waits: Vec<Millis> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(waits, [1000, 2000, 4000]);
    // Each change to `waiting` says how long the wait is (the CLI's "retrying in" line).
    let announced: Vec<Option<Millis>> = sim.retry_waits.iter().map(|(_, w)| *w).collect();
    assert_eq!(announced, [Some(1000), Some(2000), Some(4000)]);
    assert_eq!(sim.engine.step(0).expect("step").retry_in, None);
    assert_eq!(sim.engine.step(0).expect("step").attempt, 4);
    assert_eq!(sim.env("net", "CO_ATTEMPT").as_deref(), Some("4"));
}

#[test]
fn retries_give_up_after_the_last_attempt_with_its_reason() {
    let yaml = format!(
        "name: flaky\nstages:\n  - name: s\n    actions:\n      - {{ name: net, image: {IMG}, retry: {{ attempts: 2, backoff: 1s }} }}\n"
    );
    let sim = Sim::new(&yaml)
        .script(
            "net",
            vec![Script::Exit(1, vec![]), Script::Exit(7, vec![])],
        )
        .run();
    assert_eq!(sim.status("net"), StepStatus::Failed);
    assert_eq!(sim.error("net").as_deref(), Some("exit code 7"));
    assert_eq!(sim.launches.len(), 2);
}

#[test]
fn a_missing_image_is_not_retried() {
    let yaml = format!(
        "name: img\nstages:\n  - name: s\n    actions:\n      - {{ name: x, image: {IMG}, retry: {{ attempts: 3, backoff: 1s }} }}\n"
    );
    let sim = Sim::new(&yaml)
        .script(
            "x",
            vec![Script::BackendError("image nope:1 not found", false)],
        )
        .run();
    assert_eq!(sim.status("x"), StepStatus::Failed);
    assert_eq!(sim.error("x").as_deref(), Some("image nope:1 not found"));
    assert_eq!(sim.launches.len(), 1);
}

#[test]
fn a_timeout_stops_the_container_and_fails_the_step() {
    let yaml = format!(
        "name: slow\nstages:\n  - name: s\n    actions:\n      - {{ name: wait, image: {IMG}, timeout: 2s }}\n  - name: t\n    actions:\n      - {{ name: next, image: {IMG} }}\n"
    );
    let sim = Sim::new(&yaml).script("wait", vec![Script::Hang]).run();
    assert_eq!(sim.stops, [("wait".to_string(), 1)]);
    assert_eq!(sim.status("wait"), StepStatus::Failed);
    assert_eq!(sim.error("wait").as_deref(), Some("timed out after 2s"));
    assert_eq!(sim.status("next"), StepStatus::Skipped);
    assert_eq!(sim.finished, Some(RunStatus::Failed));
}

#[test]
fn the_timeout_counts_from_the_container_start_not_from_the_launch() {
    let yaml = format!(
        "name: slow\nstages:\n  - name: s\n    actions:\n      - {{ name: wait, image: {IMG}, timeout: 2s }}\n"
    );
    let mut sim = Sim::new(&yaml).script("wait", vec![Script::Hang]);
    sim.auto_start = false;
    sim.feed(Input::Start);
    assert_eq!(sim.launches.len(), 1);
    // Launched, but waiting for a free slot (or an engine busy creating containers): no timer.
    assert!(
        sim.timers.is_empty(),
        "no timeout before the container runs"
    );
    sim.now += 30_000;
    let node = sim.node("wait");
    sim.feed(Input::Started { node, attempt: 1 });
    let started = sim.now;
    assert_eq!(
        sim.engine.step(node).and_then(|s| s.attempt_started_at),
        Some(started)
    );
    let deadlines: Vec<Millis> = sim.timers.keys().map(|(at, _)| *at).collect();
    assert_eq!(deadlines, [started + 2_000]);
    // A second report of the same start, or one of another attempt, sets no other timer.
    sim.feed(Input::Started { node, attempt: 1 });
    sim.feed(Input::Started { node, attempt: 2 });
    assert_eq!(sim.timers.len(), 1);
    sim.settle();
    assert_eq!(sim.stops, [("wait".to_string(), 1)]);
    assert_eq!(sim.error("wait").as_deref(), Some("timed out after 2s"));
    assert_eq!(
        sim.engine.step(node).and_then(|s| s.finished_at),
        Some(started + 2_000)
    );
}

/// A run recovered after a crash hears of an exit long after it happened: the step's times are
/// the container's (as the backend reports them), not when the engine heard of them.
#[test]
fn a_step_takes_its_times_from_its_container() {
    let yaml = format!(
        "name: late\nstages:\n  - name: s\n    actions:\n      - {{ name: wait, image: {IMG} }}\n"
    );
    let mut sim = Sim::new(&yaml).script("wait", vec![Script::Hang]);
    sim.auto_start = false;
    sim.feed(Input::Start);
    let node = sim.node("wait");
    let launched = sim.now;
    // The container started 1.5 s after the launch, ran 20 s, and its exit is heard 68 s in.
    sim.now = launched + 68_000;
    sim.feed(Input::Exited {
        node,
        attempt: 1,
        outcome: Outcome {
            exit_code: Some(0),
            started_at: Some(launched + 1_500),
            finished_at: Some(launched + 21_500),
            ..Outcome::default()
        },
    });
    let step = sim.engine.step(node).unwrap();
    assert_eq!(step.status, StepStatus::Succeeded);
    assert_eq!(step.started_at, Some(launched + 1_500));
    assert_eq!(step.finished_at, Some(launched + 21_500));
    // Times from another clock never put the end after now or before the start.
    let mut sim = Sim::new(&yaml).script("wait", vec![Script::Hang]);
    sim.auto_start = false;
    sim.feed(Input::Start);
    sim.now += 1_000;
    sim.feed(Input::Exited {
        node,
        attempt: 1,
        outcome: Outcome {
            exit_code: Some(0),
            started_at: Some(sim.now - 500),
            finished_at: Some(sim.now + 60_000),
            ..Outcome::default()
        },
    });
    let step = sim.engine.step(node).unwrap();
    assert_eq!(step.finished_at, Some(sim.now));
}

#[test]
fn a_launch_that_never_started_is_cancelled_without_a_timeout() {
    let yaml = format!(
        "name: slow\nstages:\n  - name: s\n    actions:\n      - {{ name: wait, image: {IMG}, timeout: 2s }}\n"
    );
    let mut sim = Sim::new(&yaml).script("wait", vec![Script::Hang]);
    sim.auto_start = false;
    sim.feed(Input::Start);
    sim.now += 60_000;
    // Still waiting for a slot a minute later: not timed out, and a cancel stops it.
    assert!(sim.timers.is_empty());
    sim.feed(Input::Cancel);
    assert_eq!(sim.stops, [("wait".to_string(), 1)]);
    assert_eq!(sim.status("wait"), StepStatus::Cancelled);
    assert_eq!(sim.finished, Some(RunStatus::Cancelled));
}

#[test]
fn a_timed_out_attempt_is_retried() {
    let yaml = format!(
        "name: slow\nstages:\n  - name: s\n    actions:\n      - {{ name: wait, image: {IMG}, timeout: 2s, retry: {{ attempts: 2, backoff: 1s }} }}\n"
    );
    let sim = Sim::new(&yaml)
        .script("wait", vec![Script::Hang, ok()])
        .run();
    assert_eq!(sim.status("wait"), StepStatus::Succeeded);
    let times: Vec<Millis> = sim.launches.iter().map(|(_, _, t)| *t).collect();
    assert_eq!(times[1] - times[0], 3000, "2s timeout + 1s backoff");
}

#[test]
fn a_stale_timeout_of_an_earlier_attempt_does_nothing() {
    let yaml = format!(
        "name: slow\nstages:\n  - name: s\n    actions:\n      - {{ name: w, image: {IMG}, timeout: 10s, retry: {{ attempts: 2 }} }}\n"
    );
    let mut sim = Sim::new(&yaml).script("w", vec![Script::Exit(1, vec![]), Script::Hang]);
    sim.feed(Input::Start);
    sim.complete_running(); // attempt 1 fails at once, attempt 2 starts (no backoff)
    assert_eq!(sim.launches.len(), 2);
    // The first attempt's timer fires: attempt 2 must not be stopped by it.
    let first = *sim.timers.keys().next().expect("timer");
    let timer = sim.timers.remove(&first).expect("timer");
    assert_eq!(timer.attempt, 1);
    sim.now = first.0;
    sim.feed(Input::Timer(timer));
    assert!(sim.stops.is_empty());
    assert_eq!(sim.status("w"), StepStatus::Running);
}

#[test]
fn finally_runs_after_success_and_after_failure_and_sees_run_status() {
    let yaml = format!(
        r#"name: fin
stages:
  - name: s
    actions: [{{ name: work, image: {IMG} }}]
finally:
  - name: report
    image: {IMG}
    with: {{ status: "${{{{ run.status }}}}" }}
"#
    );
    let sim = Sim::new(&yaml).run();
    assert_eq!(sim.status("report"), StepStatus::Succeeded);
    assert_eq!(
        sim.env("report", "CO_INPUT_STATUS").as_deref(),
        Some("succeeded")
    );
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));

    let sim = Sim::new(&yaml)
        .script("work", vec![Script::Exit(1, vec![])])
        .run();
    assert_eq!(sim.status("report"), StepStatus::Succeeded);
    assert_eq!(
        sim.env("report", "CO_INPUT_STATUS").as_deref(),
        Some("failed")
    );
    assert_eq!(sim.finished, Some(RunStatus::Failed));
}

#[test]
fn a_failing_finally_action_fails_the_run() {
    let yaml = format!(
        "name: fin\nstages:\n  - name: s\n    actions: [{{ name: work, image: {IMG} }}]\nfinally:\n  - {{ name: report, image: {IMG} }}\n"
    );
    let sim = Sim::new(&yaml)
        .script("report", vec![Script::Exit(1, vec![])])
        .run();
    assert_eq!(sim.finished, Some(RunStatus::Failed));
}

fn matrix_yaml(max_parallel: &str) -> String {
    format!(
        r#"name: mx
stages:
  - name: s
    actions:
      - name: build
        image: {IMG}
        matrix: {{ os: [linux, mac], n: [1, 2] }}
        {max_parallel}
        with: {{ target: "${{{{ matrix.os }}}}-${{{{ matrix.n }}}}" }}
  - name: t
    actions:
      - name: gate
        image: {IMG}
        with: {{ all: "${{{{ actions.build.status }}}}" }}
"#
    )
}

#[test]
fn matrix_runs_one_copy_per_combination_with_its_values() {
    let sim = Sim::new(&matrix_yaml("")).run();
    let keys = sim.launched_keys();
    assert_eq!(
        keys[..4],
        [
            "build[os=linux,n=1]",
            "build[os=linux,n=2]",
            "build[os=mac,n=1]",
            "build[os=mac,n=2]"
        ]
    );
    assert_eq!(
        sim.env("build[os=mac,n=2]", "CO_INPUT_TARGET").as_deref(),
        Some("mac-2")
    );
    assert_eq!(
        sim.env("gate", "CO_INPUT_ALL").as_deref(),
        Some("succeeded")
    );
    assert_eq!(sim.peak.get("build"), Some(&4));
}

#[test]
fn max_parallel_caps_running_copies() {
    let sim = Sim::new(&matrix_yaml("max-parallel: 2")).run();
    assert_eq!(sim.peak.get("build"), Some(&2));
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
    for key in ["build[os=linux,n=1]", "build[os=mac,n=2]"] {
        assert_eq!(sim.status(key), StepStatus::Succeeded);
    }
}

#[test]
fn a_failed_matrix_copy_fails_the_aggregate_status() {
    let yaml = matrix_yaml("").replace(
        "      - name: gate\n        image",
        "      - name: gate\n        if: always()\n        image",
    );
    let sim = Sim::new(&yaml)
        .script("build[os=mac,n=1]", vec![Script::Exit(1, vec![])])
        .run();
    assert_eq!(sim.env("gate", "CO_INPUT_ALL").as_deref(), Some("failed"));
}

#[test]
fn outputs_flow_into_later_inputs_with_their_types() {
    let yaml = format!(
        r#"name: flow
inputs:
  who: {{ type: string, default: world }}
stages:
  - name: greet
    actions:
      - name: say
        image: {IMG}
        with: {{ who: "${{{{ inputs.who }}}}" }}
  - name: shout
    actions:
      - name: echo
        image: {IMG}
        with:
          text: "${{{{ actions.say.outputs.greeting }}}}"
          msg: "said: ${{{{ actions.say.outputs.greeting }}}}"
"#
    );
    let sim = Sim::new(&yaml)
        .script(
            "say",
            vec![Script::Exit(0, vec![("greeting", "hello world")])],
        )
        .run();
    assert_eq!(
        sim.outputs("say").get("greeting"),
        Some(&json!("hello world"))
    );
    assert_eq!(sim.env("say", "CO_INPUT_WHO").as_deref(), Some("world"));
    assert_eq!(sim.env("say", "CO_DATA").as_deref(), Some("who=world"));
    assert_eq!(
        sim.env("echo", "CO_INPUT_TEXT").as_deref(),
        Some("hello world")
    );
    assert_eq!(
        sim.env("echo", "CO_DATA").as_deref(),
        Some(r#"text="hello world" msg="said: hello world""#)
    );
    assert_eq!(
        sim.env("echo", "CO_DATA_JSON").as_deref(),
        Some(r#"{"text":"hello world","msg":"said: hello world"}"#)
    );
}

#[test]
fn context_variables_and_env_layering() {
    let yaml = format!(
        r#"name: ctx
env: {{ LOG_LEVEL: info, REGION: eu }}
stages:
  - name: st
    actions:
      - name: act
        image: {IMG}
        env: {{ REGION: us, WHERE: "${{{{ env.REGION }}}}-1" }}
"#
    );
    let sim = Sim::new(&yaml).run();
    assert_eq!(sim.env("act", "LOG_LEVEL").as_deref(), Some("info"));
    assert_eq!(sim.env("act", "REGION").as_deref(), Some("us"));
    assert_eq!(sim.env("act", "WHERE").as_deref(), Some("us-1"));
    assert_eq!(sim.env("act", "CO_RUN_ID").as_deref(), Some("r1"));
    assert_eq!(sim.env("act", "CO_WORKFLOW").as_deref(), Some("ctx"));
    assert_eq!(sim.env("act", "CO_STAGE").as_deref(), Some("st"));
    assert_eq!(sim.env("act", "CO_ACTION").as_deref(), Some("act"));
    assert_eq!(sim.env("act", "CO_ATTEMPT").as_deref(), Some("1"));
    assert_eq!(
        sim.env("act", "CO_WORKSPACE").as_deref(),
        Some("/workspace")
    );
}

#[test]
fn command_templates_are_evaluated() {
    let yaml = format!(
        r#"name: cmd
inputs:
  n: {{ type: int, default: 3 }}
stages:
  - name: s
    actions:
      - name: c
        image: {IMG}
        command: ["sh", "-c", "echo ${{{{ inputs.n }}}}"]
"#
    );
    let sim = Sim::new(&yaml).run();
    let launch = sim
        .launched
        .iter()
        .find(|l| l.step_key == "c")
        .expect("launched");
    assert_eq!(
        launch.command.as_deref(),
        Some(&["sh".to_string(), "-c".into(), "echo 3".into()][..])
    );
    assert_eq!(launch.image, IMG);
}

#[test]
fn secret_inputs_and_secrets_are_masked_from_the_start() {
    let yaml = format!(
        r#"name: sec
inputs:
  token: {{ type: secret, required: true }}
stages:
  - name: s
    actions:
      - name: c
        image: {IMG}
        with: {{ api: "${{{{ secrets.API_KEY }}}}" }}
"#
    );
    let mut inputs = IndexMap::new();
    inputs.insert("token".to_string(), json!("tok-123"));
    let mut secrets = IndexMap::new();
    secrets.insert("API_KEY".to_string(), "key-456".to_string());
    let sim = Sim::with_config(
        &yaml,
        RunConfig {
            inputs,
            secrets,
            ..RunConfig::default()
        },
    );
    let mut initial = sim.engine.initial_secrets();
    initial.sort();
    assert_eq!(initial, ["key-456", "tok-123"]);
    // Shown and stored: the secret input masked; kept (to encrypt): its value.
    assert_eq!(sim.engine.shown_inputs()["token"], json!("***"));
    assert_eq!(sim.engine.secret_inputs()["token"], json!("tok-123"));
    let sim = sim.run();
    assert_eq!(sim.env("c", "CO_INPUT_API").as_deref(), Some("key-456"));
    // An image step's inputs have no types: the runner's masker masks the secret in them.
    let node = sim.node("c");
    assert_eq!(
        sim.engine.step(node).unwrap().inputs["api"],
        json!("key-456")
    );
}

#[test]
fn shown_workflow_inputs_mask_secret_values_wherever_they_appear() {
    let yaml = format!(
        r#"name: sec
inputs:
  token: {{ type: secret }}
  url: {{ type: string }}
  n: {{ type: int, default: 3 }}
stages:
  - name: s
    actions: [{{ name: c, image: {IMG} }}]
"#
    );
    let mut inputs = IndexMap::new();
    inputs.insert("token".to_string(), json!("tok-123456"));
    inputs.insert("url".to_string(), json!("https://u:tok-123456@host/"));
    let sim = Sim::with_config(
        &yaml,
        RunConfig {
            inputs,
            ..RunConfig::default()
        },
    );
    assert_eq!(
        serde_json::to_value(sim.engine.shown_inputs()).unwrap(),
        json!({"token": "***", "url": "https://u:***@host/", "n": 3})
    );
    assert_eq!(
        serde_json::to_value(sim.engine.secret_inputs()).unwrap(),
        json!({"token": "tok-123456"})
    );
}

#[test]
fn bad_run_inputs_are_all_reported() {
    let yaml = format!(
        r#"name: inp
inputs:
  n: {{ type: int, required: true }}
  m: {{ type: int, required: true }}
stages:
  - name: s
    actions: [{{ name: c, image: {IMG} }}]
"#
    );
    let mut inputs = IndexMap::new();
    inputs.insert("n".to_string(), json!("abc"));
    inputs.insert("zzz".to_string(), json!("1"));
    inputs.insert("nn".to_string(), json!("1"));
    let err = Engine::new(
        plan(&yaml),
        RunConfig {
            inputs,
            ..RunConfig::default()
        },
    )
    .err()
    .expect("invalid");
    let text = err.to_string();
    assert!(
        text.contains("unknown input \"zzz\"; declared inputs: n, m"),
        "{text}"
    );
    assert!(
        text.contains("unknown input \"nn\"; did you mean \"n\"?"),
        "{text}"
    );
    assert!(text.contains("input n: expected int"), "{text}");
    assert!(text.contains("input m is required"), "{text}");
}

#[test]
fn cancel_stops_running_steps_and_cancels_the_rest_but_runs_finally() {
    let yaml = format!(
        r#"name: can
stages:
  - name: s
    actions:
      - {{ name: long, image: {IMG} }}
      - {{ name: retrying, image: {IMG}, retry: {{ attempts: 3, backoff: 10s }} }}
  - name: t
    actions:
      - {{ name: after, image: {IMG} }}
      - {{ name: always, image: {IMG}, if: always() }}
finally:
  - name: report
    image: {IMG}
    with: {{ status: "${{{{ run.status }}}}" }}
"#
    );
    let mut sim = Sim::new(&yaml)
        .script("long", vec![Script::Hang])
        .script("retrying", vec![Script::Exit(1, vec![])]);
    sim.feed(Input::Start);
    sim.complete_running(); // retrying fails once and waits 10s
    assert_eq!(sim.status("retrying"), StepStatus::Waiting);
    sim.feed(Input::Cancel);
    assert_eq!(sim.stops, [("long".to_string(), 1)]);
    sim.settle();
    assert_eq!(sim.status("long"), StepStatus::Cancelled);
    assert_eq!(sim.status("retrying"), StepStatus::Cancelled);
    assert_eq!(sim.status("after"), StepStatus::Cancelled);
    assert_eq!(sim.status("always"), StepStatus::Succeeded);
    assert_eq!(sim.status("report"), StepStatus::Succeeded);
    assert_eq!(
        sim.env("report", "CO_INPUT_STATUS").as_deref(),
        Some("cancelled")
    );
    assert_eq!(sim.finished, Some(RunStatus::Cancelled));
    // The retry's backoff timer firing later must not start anything.
    assert_eq!(sim.launches.iter().filter(|l| l.0 == "retrying").count(), 1);
}

#[test]
fn a_second_cancel_also_stops_finally() {
    let yaml = format!(
        "name: can\nstages:\n  - name: s\n    actions: [{{ name: long, image: {IMG} }}]\nfinally:\n  - {{ name: report, image: {IMG} }}\n"
    );
    let mut sim = Sim::new(&yaml)
        .script("long", vec![Script::Hang])
        .script("report", vec![Script::Hang]);
    sim.feed(Input::Start);
    sim.feed(Input::Cancel);
    assert_eq!(sim.status("long"), StepStatus::Cancelled);
    assert_eq!(sim.status("report"), StepStatus::Running);
    sim.feed(Input::Cancel);
    assert_eq!(sim.status("report"), StepStatus::Cancelled);
    assert_eq!(sim.finished, Some(RunStatus::Cancelled));
}

#[test]
fn type_checked_outputs_fail_the_step_with_the_reason() {
    let dir = tempfile_component(
        r#"name: counter
version: 1.0.0
image: localhost/test/counter:1
outputs:
  count: { type: int, required: true }
  extra: { type: string }
"#,
    );
    let yaml = format!(
        "name: typed\nstages:\n  - name: s\n    actions:\n      - {{ name: c, component: {} }}\n",
        dir.path().display()
    );
    let sim = Sim::new(&yaml)
        .script(
            "c",
            vec![Script::Exit(0, vec![("count", "12"), ("junk", "x")])],
        )
        .run();
    assert_eq!(sim.status("c"), StepStatus::Succeeded);
    assert_eq!(sim.outputs("c").get("count"), Some(&json!(12)));
    assert_eq!(
        sim.outputs("c").get("junk"),
        None,
        "undeclared outputs are dropped"
    );

    let sim = Sim::new(&yaml)
        .script("c", vec![Script::Exit(0, vec![("count", "many")])])
        .run();
    assert_eq!(sim.status("c"), StepStatus::Failed);
    assert!(sim.error("c").expect("error").contains("count"));

    let sim = Sim::new(&yaml).script("c", vec![ok()]).run();
    assert_eq!(sim.status("c"), StepStatus::Failed);
    assert!(sim
        .error("c")
        .expect("error")
        .contains("required output count"));
}

#[test]
fn component_inputs_get_defaults_types_and_secrets_masked() {
    let dir = tempfile_component(
        r#"name: upper
version: 1.0.0
image: localhost/test/upper:1
command: ["/bin/upper"]
inputs:
  text: { type: string, required: true }
  times: { type: int, default: 2 }
  token: { type: secret }
resources: { cpu: 0.5, memory: 64Mi }
timeout: 1m
"#,
    );
    let yaml = format!(
        "name: comp\nstages:\n  - name: s\n    actions:\n      - name: up\n        component: {}\n        with: {{ text: hi there, token: s3cr3t }}\n        resources: {{ memory: 128Mi }}\n",
        dir.path().display()
    );
    let sim = Sim::new(&yaml).run();
    assert_eq!(
        sim.env("up", "CO_DATA").as_deref(),
        Some(r#"text="hi there" times=2 token=s3cr3t"#)
    );
    assert_eq!(
        sim.env("up", "CO_DATA_JSON").as_deref(),
        Some(r#"{"text":"hi there","times":2,"token":"s3cr3t"}"#)
    );
    assert_eq!(sim.masked, ["s3cr3t"]);
    // The step's inputs as shown: in the order declared, the secret-typed one masked.
    let inputs = &sim.engine.step(sim.node("up")).unwrap().inputs;
    assert_eq!(
        serde_json::to_value(inputs).unwrap(),
        json!({"text": "hi there", "times": 2, "token": "***"})
    );
    let launch = &sim.launched[0];
    assert_eq!(
        launch.command.as_deref(),
        Some(&["/bin/upper".to_string()][..])
    );
    assert_eq!(launch.cpu_millis, Some(500));
    assert_eq!(launch.memory_bytes, Some(128 * 1024 * 1024));
    // The component's timeout applies (the timer was set for one minute after the container
    // started, here at once).
    let launched_at = sim.launches[0].2;
    let timeouts: Vec<Millis> = sim
        .timers
        .iter()
        .filter(|(_, t)| t.kind == TimerKind::Timeout)
        .map(|((at, _), _)| *at - launched_at)
        .collect();
    assert_eq!(timeouts, [60_000]);
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
}

#[test]
fn a_runtime_input_of_the_wrong_type_fails_the_step_with_the_reason() {
    let dir = tempfile_component(
        "name: n\nversion: 1.0.0\nimage: localhost/test/n:1\ninputs:\n  times: { type: int }\n",
    );
    let yaml = format!(
        "name: comp\nstages:\n  - name: a\n    actions:\n      - name: src\n        image: {IMG}\n  - name: b\n    actions:\n      - name: use\n        component: {}\n        with: {{ times: \"${{{{ actions.src.outputs.n }}}}\" }}\n",
        dir.path().display()
    );
    let sim = Sim::new(&yaml)
        .script("src", vec![Script::Exit(0, vec![("n", "lots")])])
        .run();
    assert_eq!(sim.status("use"), StepStatus::Failed);
    let error = sim.error("use").expect("error");
    assert!(error.starts_with("input times: expected int"), "{error}");
    assert!(
        sim.launched_keys().iter().all(|k| k != "use"),
        "not launched"
    );
}

#[test]
fn seed_flows_pass_environments_verbatim_and_wire_subscriptions() {
    let yaml = format!(
        r#"uri: demo/ci/build-flow
title: Build flow
stages:
  - {{ type: start, name: start, title: Start }}
  - type: normal
    name: build
    sequencing: parallel
    actions:
      - name: compile
        jobs:
          - type: component
            name: compile
            endpoint: {IMG}
            timeout: 60
            environments:
              - CO_DATA: "git-url=https://example.org/r.git entry-path=."
            outputs: ["CO_ARTIFACT"]
  - type: normal
    name: publish
    sequencing: sequence
    actions:
      - name: upload
        jobs:
          - type: component
            name: upload
            endpoint: {IMG}
            subscriptions:
              - build.compile.compile[CO_ARTIFACT]: ARTIFACT_PATH
  - {{ type: end, name: end, title: End }}
"#
    );
    let sim = Sim::new(&yaml)
        .script(
            "build.compile.compile",
            vec![Script::Exit(0, vec![("CO_ARTIFACT", "/workspace/app.jar")])],
        )
        .run();
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
    let compile = "build.compile.compile";
    assert_eq!(
        sim.env(compile, "CO_DATA").as_deref(),
        Some("git-url=https://example.org/r.git entry-path=.")
    );
    assert_eq!(sim.env(compile, "CO_DATA_JSON"), None);
    assert_eq!(sim.env(compile, "CO_ACTION").as_deref(), Some("compile"));
    assert_eq!(sim.env(compile, "CO_STAGE").as_deref(), Some("build"));
    assert_eq!(
        sim.env("publish.upload.upload", "ARTIFACT_PATH").as_deref(),
        Some("/workspace/app.jar")
    );
}

#[test]
fn a_wide_plan_runs_every_step() {
    // Correctness at scale (the timing lives in the benchmark harness).
    let mut wide = String::from("name: wide\nstages:\n  - name: s\n    actions:\n");
    for i in 0..2000 {
        wide.push_str(&format!("      - {{ name: a{i}, image: {IMG} }}\n"));
    }
    let sim = Sim::new(&wide).run();
    assert_eq!(sim.launches.len(), 2000);
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
}

fn tempfile_component(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("component.yaml"), text).expect("write");
    dir
}

#[test]
fn plain_yaml_values_keep_their_type_unless_that_would_change_them() {
    let yaml = format!(
        r#"name: typed
stages:
  - name: s
    actions:
      - name: a
        image: {IMG}
        with:
          n: 12
          flag: true
          ratio: 1.5
          version: 1.10
          padded: 007
          quoted: "12"
          cfg: {{ a: 1 }}
          list: [1, two]
          empty:
"#
    );
    let sim = Sim::new(&yaml).run();
    assert_eq!(
        sim.env("a", "CO_DATA_JSON").as_deref(),
        Some(
            r#"{"n":12,"flag":true,"ratio":1.5,"version":"1.10","padded":"007","quoted":"12","cfg":{"a":1},"list":[1,"two"],"empty":""}"#
        )
    );
    assert_eq!(
        sim.env("a", "CO_DATA").as_deref(),
        Some(
            r#"n=12 flag=true ratio=1.5 version=1.10 padded=007 quoted=12 cfg="{\"a\":1}" list="[1,\"two\"]" empty="""#
        )
    );
    assert_eq!(sim.env("a", "CO_INPUT_VERSION").as_deref(), Some("1.10"));
}

fn done(outputs: &[(&str, Value)]) -> StepSnapshot {
    StepSnapshot {
        status: StepStatus::Succeeded,
        attempt: 1,
        exit_code: Some(0),
        outputs: outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        started_at: Some(1_000_000),
        finished_at: Some(1_000_100),
        ..StepSnapshot::default()
    }
}

fn chain_with_output() -> String {
    format!(
        r#"name: chain
stages:
  - name: one
    actions: [{{ name: a, image: {IMG} }}]
  - name: two
    actions:
      - {{ name: b, image: {IMG}, timeout: 10s, with: {{ v: "${{{{ actions.a.outputs.v }}}}" }} }}
  - name: three
    actions: [{{ name: c, image: {IMG} }}]
"#
    )
}

/// A `reused` step (a resumed run's) counts as succeeded: what waits for it runs with its outputs,
/// expressions see `succeeded`, and it is never launched or changed.
#[test]
fn a_reused_step_is_a_success_with_its_outputs() {
    let yaml = chain_with_output().replace(
        "[{ name: c, image: localhost/test/busybox:latest }]",
        "[{ name: c, image: localhost/test/busybox:latest, if: \"actions.a.status == 'succeeded' && success()\" }]",
    );
    assert_ne!(yaml, chain_with_output(), "the `if:` is in the workflow");
    let reused = StepSnapshot {
        status: StepStatus::Reused,
        ..done(&[("v", json!("from-earlier"))])
    };
    let sim = Sim::restored(&yaml, &[("a", reused)], false).resume();
    assert_eq!(sim.launched_keys(), ["b", "c"]);
    assert_eq!(sim.env("b", "CO_INPUT_V").as_deref(), Some("from-earlier"));
    assert_eq!(sim.status("a"), StepStatus::Reused);
    assert_eq!(sim.status("c"), StepStatus::Succeeded);
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
}

#[test]
fn a_restored_run_reattaches_to_running_attempts_and_goes_on() {
    let running = StepSnapshot {
        status: StepStatus::Running,
        attempt: 2,
        started_at: Some(1_000_200),
        attempt_started_at: Some(1_999_000),
        ..StepSnapshot::default()
    };
    let sim = Sim::restored(
        &chain_with_output(),
        &[("a", done(&[("v", json!("from-a"))])), ("b", running)],
        false,
    );
    // The timeout of the reattached attempt counts from when that attempt started.
    let timeouts: Vec<Millis> = sim
        .pending_commands
        .iter()
        .filter_map(|c| match c {
            Command::SetTimer { timer, at } if timer.kind == TimerKind::Timeout => Some(*at),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts, [1_999_000 + 10_000]);
    let sim = sim.resume();
    assert_eq!(sim.reattached, [("b".to_string(), 2)]);
    // The reattached attempt sees the restored output of `a` in its launch.
    assert_eq!(sim.env("b", "CO_INPUT_V").as_deref(), Some("from-a"));
    assert_eq!(sim.env("b", "CO_ATTEMPT").as_deref(), Some("2"));
    assert_eq!(sim.launched_keys(), ["c"], "only c is launched anew");
    assert_eq!(sim.status("b"), StepStatus::Succeeded);
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
    assert_eq!(sim.engine.started_at(), Some(1_000_000));
}

#[test]
fn a_vanished_attempt_is_retried_or_failed_with_its_reason() {
    let running = StepSnapshot {
        status: StepStatus::Running,
        attempt: 1,
        ..StepSnapshot::default()
    };
    let gone = Script::BackendError("the container of attempt 1 is gone", true);
    // No retries left: the step fails with the reason, the run fails.
    let sim = Sim::restored(
        &chain_with_output(),
        &[("a", done(&[("v", json!("x"))])), ("b", running.clone())],
        false,
    )
    .script("b", vec![gone.clone()])
    .resume();
    assert_eq!(sim.status("b"), StepStatus::Failed);
    assert_eq!(
        sim.error("b").as_deref(),
        Some("the container of attempt 1 is gone")
    );
    assert_eq!(sim.finished, Some(RunStatus::Failed));

    // With retries left: the next attempt runs.
    let yaml = chain_with_output().replace("timeout: 10s", "timeout: 10s, retry: { attempts: 2 }");
    let sim = Sim::restored(
        &yaml,
        &[("a", done(&[("v", json!("x"))])), ("b", running)],
        false,
    )
    .script("b", vec![gone, ok()])
    .resume();
    assert_eq!(sim.status("b"), StepStatus::Succeeded);
    assert_eq!(sim.launches.iter().map(|l| l.1).collect::<Vec<_>>(), [2, 1]);
}

#[test]
fn resuming_a_failed_run_keeps_succeeded_steps_and_runs_the_rest() {
    let sim = Sim::restored(
        &chain_with_output(),
        &[("a", done(&[("v", json!("kept"))]))],
        false,
    )
    .resume();
    assert_eq!(sim.launched_keys(), ["b", "c"]);
    assert_eq!(sim.env("b", "CO_INPUT_V").as_deref(), Some("kept"));
    assert_eq!(sim.env("b", "CO_ATTEMPT").as_deref(), Some("1"));
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
}

#[test]
fn a_step_waiting_for_a_retry_retries_at_once_after_restore() {
    let waiting = StepSnapshot {
        status: StepStatus::Waiting,
        attempt: 1,
        error: Some("exit code 1".into()),
        ..StepSnapshot::default()
    };
    let yaml = chain_with_output().replace("timeout: 10s", "retry: { attempts: 3, backoff: 1h }");
    let sim = Sim::restored(
        &yaml,
        &[("a", done(&[("v", json!("x"))])), ("b", waiting)],
        false,
    )
    .resume();
    assert_eq!(sim.launches[0].0, "b");
    assert_eq!(sim.launches[0].1, 2, "the next attempt");
    assert_eq!(sim.finished, Some(RunStatus::Succeeded));
}

#[test]
fn a_run_cancelled_while_down_is_stopped_after_restore() {
    let running = StepSnapshot {
        status: StepStatus::Running,
        attempt: 1,
        ..StepSnapshot::default()
    };
    let sim = Sim::restored(
        &chain_with_output(),
        &[("a", done(&[("v", json!("x"))])), ("b", running)],
        true,
    )
    .script("b", vec![Script::Hang])
    .resume();
    assert_eq!(sim.stops, [("b".to_string(), 1)]);
    assert_eq!(sim.status("b"), StepStatus::Cancelled);
    assert_eq!(sim.status("c"), StepStatus::Cancelled);
    assert_eq!(sim.finished, Some(RunStatus::Cancelled));
}

#[test]
fn restoring_a_finished_run_finishes_it_at_once() {
    let sim = Sim::restored(
        &chain_with_output(),
        &[
            ("a", done(&[("v", json!("x"))])),
            ("b", done(&[])),
            ("c", done(&[])),
        ],
        false,
    );
    assert!(sim
        .pending_commands
        .iter()
        .any(|c| *c == Command::RunFinished(RunStatus::Succeeded)));
}

#[test]
fn a_step_error_is_cut_at_its_limit_with_a_note() {
    let yaml = format!(
        "name: e\nstages:\n  - name: s\n    actions:\n      - {{ name: x, image: {IMG} }}\n"
    );
    let mut sim = Sim::new(&yaml).script("x", vec![Script::Hang]);
    sim.feed(Input::Start);
    let node = sim.node("x");
    sim.running.remove(&node);
    let long = "é".repeat(1000); // 2000 bytes each
    sim.feed(Input::Exited {
        node,
        attempt: 1,
        outcome: Outcome {
            exit_code: Some(3),
            collected: Collected {
                errors: vec![long.clone(), long.clone(), long.clone()],
                ..Collected::default()
            },
            ..Outcome::default()
        },
    });
    let error = sim.error("x").expect("error");
    assert!(error.starts_with("exit code 3; éé"), "{error}");
    let full = 3 * 2000 + "exit code 3".len() + 3 * "; ".len();
    // "exit code 3; " is 13 bytes, so the limit falls inside an "é": the cut is one byte earlier.
    let kept = MAX_STEP_ERROR_BYTES - 1;
    assert_eq!(
        error,
        format!(
            "{} … ({} more bytes)",
            &format!("exit code 3; {long}; {long}; {long}")[..kept],
            full - kept
        )
    );
}

#[test]
fn a_large_input_is_delivered_as_files_with_variables_pointing_at_them() {
    let big: &'static str = Box::leak("x".repeat(co_protocol::MAX_VALUE_BYTES).into_boxed_str());
    let sim = Sim::new(&chain_with_output())
        .script("a", vec![Script::Exit(0, vec![("v", big)])])
        .run();
    assert_eq!(sim.status("b"), StepStatus::Succeeded);
    let launch = sim
        .launched
        .iter()
        .find(|l| l.step_key == "b")
        .expect("b launched");
    // The value is in no variable; CO_INPUT_V, CO_DATA and CO_DATA_JSON are files.
    assert!(
        launch.env.iter().all(|(_, v)| v.len() < 1024),
        "{:?}",
        launch.env
    );
    let files: Vec<(&str, &str, usize)> = launch
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.path.as_str(), f.content.len()))
        .collect();
    let n = big.len();
    assert_eq!(
        files,
        [
            ("CO_DATA", "/run/containerops/env/CO_DATA", n + 2),
            ("CO_DATA_JSON", "/run/containerops/env/CO_DATA_JSON", n + 8),
            ("CO_INPUT_V", "/run/containerops/env/CO_INPUT_V", n),
        ]
    );
    assert_eq!(
        sim.env("b", "CO_INPUT_V_FILE").as_deref(),
        Some("/run/containerops/env/CO_INPUT_V")
    );
    assert_eq!(sim.env("b", "CO_INPUT_V"), None);
    assert_eq!(sim.env("b", "CO_RUN_ID").as_deref(), Some("r1"));
    // Small inputs stay variables.
    assert!(sim
        .launched
        .iter()
        .find(|l| l.step_key == "c")
        .unwrap()
        .files
        .is_empty());
}

#[test]
fn a_command_line_linux_cannot_start_fails_the_step_with_the_reason() {
    let big: &'static str = Box::leak("x".repeat(200 * 1024).into_boxed_str());
    let yaml = chain_with_output().replace(
        "{ name: b, image: localhost/test/busybox:latest, timeout: 10s,",
        "{ name: b, image: localhost/test/busybox:latest, timeout: 10s, command: [\"echo\", \"${{ actions.a.outputs.v }}\"],",
    );
    let sim = Sim::new(&yaml)
        .script("a", vec![Script::Exit(0, vec![("v", big)])])
        .run();
    assert_eq!(sim.status("b"), StepStatus::Failed);
    let error = sim.error("b").unwrap_or_default();
    assert!(
        error.starts_with("command: argument 2 is 204800 bytes;"),
        "{error}"
    );
    assert!(
        sim.launches.iter().all(|(key, _, _)| key != "b"),
        "never launched"
    );
}

fn kept(name: &str, sha: char, size: u64) -> KeptArtifact {
    KeptArtifact {
        name: name.into(),
        sha256: sha.to_string().repeat(64),
        size,
    }
}

fn artifacts_chain() -> String {
    format!(
        r#"name: arts
stages:
  - name: one
    actions:
      - name: a
        image: {IMG}
        artifacts: {{ pkg: dist/p.tgz, log: {{ path: a.log, when: failure }} }}
  - name: two
    actions:
      - name: b
        image: {IMG}
        with:
          sha: "${{{{ actions.a.artifacts.pkg.sha256 }}}}"
          size: "${{{{ actions.a.artifacts.pkg.size }}}}"
          log: "${{{{ toJSON(actions.a.artifacts.log) }}}}"
"#
    )
}

/// What a step kept is what later expressions see; an artifact it did not keep is null.
#[test]
fn artifacts_a_step_kept_are_seen_by_expressions() {
    let sim = Sim::new(&artifacts_chain())
        .script("a", vec![Script::Artifacts(vec![Ok(kept("pkg", 'a', 42))])])
        .run();
    assert_eq!(sim.status("a"), StepStatus::Succeeded);
    assert_eq!(sim.env("b", "CO_INPUT_SHA"), Some("a".repeat(64)));
    assert_eq!(sim.env("b", "CO_INPUT_SIZE").as_deref(), Some("42"));
    assert_eq!(sim.env("b", "CO_INPUT_LOG").as_deref(), Some("null"));
}

/// An artifact that could not be kept fails its step with the reason (the others are kept).
#[test]
fn an_artifact_that_could_not_be_kept_fails_its_step() {
    let sim = Sim::new(&artifacts_chain())
        .script(
            "a",
            vec![Script::Artifacts(vec![
                Ok(kept("pkg", 'b', 1)),
                Err("artifact log (a.log): /workspace/a.log does not exist".into()),
            ])],
        )
        .run();
    assert_eq!(sim.status("a"), StepStatus::Failed);
    assert_eq!(
        sim.engine.step(0).and_then(|s| s.error.clone()).as_deref(),
        Some("artifact log (a.log): /workspace/a.log does not exist")
    );
    assert_eq!(
        sim.engine.step(0).map(|s| s.artifacts.len()),
        Some(1),
        "the kept one stays"
    );
}

/// A restored run (a resumed run's reused step, a recovered run) gets its steps' artifacts back
/// from the snapshot.
#[test]
fn a_restored_step_keeps_its_artifacts_for_expressions() {
    let reused = StepSnapshot {
        status: StepStatus::Reused,
        artifacts: [("pkg".to_string(), kept("pkg", 'c', 7))]
            .into_iter()
            .collect(),
        ..done(&[])
    };
    let sim = Sim::restored(&artifacts_chain(), &[("a", reused)], false).resume();
    assert_eq!(sim.env("b", "CO_INPUT_SHA"), Some("c".repeat(64)));
    assert_eq!(sim.env("b", "CO_INPUT_SIZE").as_deref(), Some("7"));
}

//! SPEC §5: the CLI's commands, exit codes, errors, cancellation, history and the examples.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::support::{
    api_delete, assert_nothing_left, assert_run_shape, image_exists, sh, World, BUSYBOX,
};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

const GOOD_COMPONENT: &str = r#"name: upper
version: 1.0.0
description: Upper-cases a text
image: localhost/co-examples/busybox:latest
command: ["sh", "-c", "echo \"[COUT] result = $(echo \"$CO_INPUT_TEXT\" | tr a-z A-Z)\"; echo \"[COUT] times = $CO_INPUT_TIMES\""]
inputs:
  text: { type: string, required: true }
  times: { type: int, default: 1 }
outputs:
  result: { type: string, required: true }
  times: { type: int }
"#;

/// `validate` accepts good files of every kind (workflow, seed flow, component dir and file).
#[test]
fn validate_accepts_good_files() {
    let w = World::new();
    let comp = w.write("components/upper/component.yaml", GOOD_COMPONENT);
    let wf = w.write(
        "good.yaml",
        "name: good\nstages:\n  - name: s\n    actions:\n      - name: up\n        component: ./components/upper\n        with: { text: hi }\n",
    );
    let seed = w.write(
        "seed.yaml",
        &format!("uri: a/b/c\nstages:\n  - type: normal\n    name: s\n    actions:\n      - name: a\n        jobs:\n          - name: j\n            endpoint: {BUSYBOX}\n"),
    );
    let hello = repo_root().join("examples/hello/workflow.yaml");
    let pipeline = repo_root().join("examples/ci-pipeline/workflow.yaml");
    let dir = w.path("components/upper");
    let out = w.exec(&[
        "validate".as_ref(),
        wf.as_os_str(),
        seed.as_os_str(),
        comp.as_os_str(),
        dir.as_os_str(),
        hello.as_os_str(),
        pipeline.as_os_str(),
    ]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert_eq!(
        out.stderr.lines().filter(|l| l.ends_with(": ok")).count(),
        6,
        "one `FILE: ok` line per file\n{}",
        out.both()
    );
    assert_eq!(w.list_json(), Vec::<Value>::new(), "validate runs nothing");
}

/// `validate` of a component whose `build:` names a Containerfile that is not there: the
/// problem at the `containerfile:` value, exit 2; with the file there, ok.
#[test]
fn validate_checks_that_the_containerfile_exists() {
    let w = World::new();
    let comp = w.write(
        "components/built/component.yaml",
        &format!("name: built\nversion: 1.0.0\nimage: {BUSYBOX}\nbuild:\n  context: .\n  containerfile: Containerfile\n"),
    );
    let out = w.exec(&["validate".as_ref(), comp.as_os_str()]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(
        out.stderr
            .contains("component.yaml:6:18: error: the Containerfile ")
            && out
                .stderr
                .contains("components/built/Containerfile of component `built` does not exist"),
        "{}",
        out.both()
    );
    w.write(
        "components/built/Containerfile",
        &format!("FROM {BUSYBOX}\n"),
    );
    let out = w.exec(&["validate".as_ref(), comp.as_os_str()]);
    assert_eq!(out.code, 0, "{}", out.both());
}

fn bad_workflow() -> &'static str {
    // line numbers matter: 1-based
    "name: Bad_Name\n\
     inputs:\n\
     \x20 n: { type: integer }\n\
     stages:\n\
     \x20 - name: s\n\
     \x20   actions:\n\
     \x20     - name: a\n\
     \x20       image: localhost/co-examples/busybox:latest\n\
     \x20       with: { x: \"${{ inputs.missing }}\" }\n\
     \x20       needs: [ghost]\n\
     \x20       timeout: soon\n"
}

/// Every `error:` line of stderr, checked to be `FILE:LINE:COL: error: MESSAGE`.
fn diagnostics(stderr: &str, file: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let prefix = format!("{file}:");
    for line in stderr.lines().filter(|l| l.starts_with(&prefix)) {
        let rest = &line[prefix.len()..];
        let mut parts = rest.splitn(3, ':');
        let l: usize = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{line}"));
        let c: usize = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{line}"));
        let msg = parts.next().unwrap();
        let msg = msg
            .strip_prefix(" error: ")
            .unwrap_or_else(|| panic!("{line}"))
            .to_string();
        assert!(!msg.is_empty() && l >= 1 && c >= 1, "{line}");
        out.push((l, c, msg));
    }
    out
}

/// `validate` of bad files exits 2 and prints every problem as FILE:LINE:COL: error: MESSAGE, all
/// at once, for several files.
#[test]
fn validate_reports_all_problems_with_positions() {
    let w = World::new();
    w.write("bad.yaml", bad_workflow());
    w.write(
        "components/broken/component.yaml",
        "name: broken\nversion: one\nimage: x\ninputs:\n  a: { type: strng }\n",
    );
    w.write(
        "seed.yaml",
        "uri: a/b/flow\nstages:\n  - type: middle\n    name: s\n  - type: normal\n    name: t\n    sequencing: random\n    actions:\n      - name: a\n        jobs:\n          - name: j\n            subscriptions:\n              - ghost.job[OUT]: VAR\n",
    );
    let out = w.exec(&[
        "validate",
        "bad.yaml",
        "components/broken/component.yaml",
        "seed.yaml",
    ]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(out.stdout.trim().is_empty(), "{}", out.both());
    let wf = diagnostics(&out.stderr, "bad.yaml");
    let lines: Vec<usize> = wf.iter().map(|d| d.0).collect();
    for expected in [1, 3, 9, 10, 11] {
        assert!(
            lines.contains(&expected),
            "expected a problem on line {expected}: {wf:#?}\n{}",
            out.both()
        );
    }
    let on = |line: usize| {
        wf.iter()
            .filter(|d| d.0 == line)
            .map(|d| d.2.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(on(1).contains("Bad_Name"), "{}", on(1));
    assert!(on(3).contains("integer"), "{}", on(3));
    assert!(on(9).contains("missing"), "{}", on(9));
    assert!(on(10).contains("ghost"), "{}", on(10));
    assert!(on(11).contains("soon"), "{}", on(11));
    let comp = diagnostics(&out.stderr, "components/broken/component.yaml");
    assert!(comp.len() >= 2, "{comp:#?}\n{}", out.both());
    let seed = diagnostics(&out.stderr, "seed.yaml");
    let seed_lines: Vec<usize> = seed.iter().map(|d| d.0).collect();
    for expected in [3, 7, 11, 13] {
        // unknown stage type, bad sequencing, job without endpoint, unknown subscription source
        assert!(
            seed_lines.contains(&expected),
            "expected a seed-flow problem on line {expected}: {seed:#?}"
        );
    }
    // every non-empty stderr line is a diagnostic of one of the two files
    let total = out.stderr.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(total, wf.len() + comp.len() + seed.len(), "{}", out.both());
}

/// References the SPEC makes validation errors: an action the step does not wait for, an unknown
/// output of a component, an unknown input; and a `needs` cycle.
#[test]
fn validate_reports_bad_references_and_cycles() {
    let w = World::new();
    w.write("components/upper/component.yaml", GOOD_COMPONENT);
    let file = "refs.yaml";
    w.write(
        file,
        "name: refs\n\
         inputs:\n\
         \x20 who: { type: string, default: x }\n\
         stages:\n\
         \x20 - name: s\n\
         \x20   actions:\n\
         \x20     - name: up\n\
         \x20       component: ./components/upper\n\
         \x20       with: { text: hi, colour: red }\n\
         \x20     - name: sibling\n\
         \x20       image: localhost/co-examples/busybox:latest\n\
         \x20       with: { a: \"${{ actions.up.outputs.result }}\" }\n\
         \x20 - name: t\n\
         \x20   actions:\n\
         \x20     - name: later\n\
         \x20       image: localhost/co-examples/busybox:latest\n\
         \x20       with: { a: \"${{ actions.up.outputs.nope }}\", b: \"${{ inputs.whom }}\" }\n\
         \x20     - name: c1\n\
         \x20       image: localhost/co-examples/busybox:latest\n\
         \x20       needs: [c2]\n\
         \x20     - name: c2\n\
         \x20       image: localhost/co-examples/busybox:latest\n\
         \x20       needs: [c1]\n",
    );
    let out = w.exec(&["validate", file]);
    assert_eq!(out.code, 2, "{}", out.both());
    let d = diagnostics(&out.stderr, file);
    let on = |line: usize, needle: &str| {
        assert!(
            d.iter().any(|x| x.0 == line && x.2.contains(needle)),
            "expected a problem on line {line} mentioning {needle:?}: {d:#?}"
        );
    };
    on(9, "colour"); // unknown input of the component
    on(12, "up"); // sibling does not wait for `up`
    on(17, "nope"); // unknown output of the component
    on(17, "whom"); // unknown workflow input
    assert!(
        d.iter().any(|x| x.2.contains("cycle")),
        "a needs cycle is reported: {d:#?}"
    );
    let run = w.exec(&["run", file]);
    assert_eq!(run.code, 2, "{}", run.both());
    assert_eq!(w.list_json(), Vec::<Value>::new());
}

/// `run` of an invalid workflow exits 2, prints the problems, and runs and records nothing.
#[test]
fn run_of_an_invalid_workflow_exits_2_and_records_nothing() {
    let w = World::new();
    w.write("bad.yaml", bad_workflow());
    let out = w.exec(&["run", "bad.yaml"]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(
        diagnostics(&out.stderr, "bad.yaml").len() >= 5,
        "{}",
        out.both()
    );
    let out = w.exec(&["run", "bad.yaml", "--output", "json"]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(out.stdout.trim().is_empty(), "{}", out.both());
    assert_eq!(w.list_json(), Vec::<Value>::new(), "no run is recorded");
}

/// `--input` with an unknown key, a value of the wrong type, or no `=` exits 2 and runs nothing.
#[test]
fn bad_inputs_exit_2() {
    let w = World::new();
    let wf = format!(
        "name: typed-inputs\ninputs:\n  count: {{ type: int, default: 1 }}\n  name: {{ type: string, required: true }}\nstages:\n  - name: s\n    actions:\n      - name: a\n        with: {{ c: \"${{{{ inputs.count }}}}\" }}\n{}",
        sh("echo \"[COUT] c = $CO_INPUT_C\"", 8)
    );
    w.write("wf.yaml", &wf);
    for (args, needle) in [
        (vec!["--input", "name=x", "--input", "nope=1"], "nope"),
        (
            vec!["--input", "nmae=x"],
            "unknown input \"nmae\"; did you mean \"name\"?",
        ),
        (vec!["--input", "name=x", "--input", "count=abc"], "count"),
        (vec!["--input", "count=2"], "name"),
        (vec!["--input", "name"], "name"),
    ] {
        let mut all = vec!["run", "wf.yaml"];
        all.extend(args.iter());
        let out = w.exec(&all);
        assert_eq!(out.code, 2, "{args:?}\n{}", out.both());
        assert!(out.stderr.contains(needle), "{args:?}\n{}", out.both());
    }
    assert_eq!(w.list_json(), Vec::<Value>::new(), "no run is recorded");
    // and the good form works, with the value converted to the declared type
    let run = w.run_json(
        &w.path("wf.yaml"),
        &["--input", "name=x", "--input", "count=5"],
    );
    run.assert_all_succeeded();
    assert_eq!(run.out("a", "c"), "5");
}

/// An image that does not exist fails the step with an error naming it; the run exits 1.
#[test]
fn missing_image_fails_the_step_naming_the_image() {
    let w = World::new();
    let image = "localhost/containerops-e2e/does-not-exist:never";
    let yaml = format!(
        "name: no-image\nstages:\n  - name: s\n    actions:\n      - name: ghost\n        image: {image}\n        command: [\"true\"]\n"
    );
    let run = w.run_yaml(&yaml, &[]);
    assert_eq!(run.code, 1, "{}", run.pretty());
    assert_eq!(run.status(), "failed");
    assert_eq!(run.status_of("ghost"), "failed");
    let e = run.error_of("ghost");
    assert!(e.contains(image), "the error names the image: {e}");
    assert!(e.contains("not found"), "{e}");
}

/// A `DOCKER_HOST` nobody answers on: exit 1 with a hint on how to start an engine.
#[test]
fn unreachable_engine_exits_1_with_a_hint() {
    let w = World::new();
    let yaml = format!(
        "name: no-engine\nstages:\n  - name: s\n    actions:\n      - name: a\n{}",
        sh("echo hi", 8)
    );
    let file = w.write("wf.yaml", &yaml);
    let mut cmd = w.command();
    cmd.env("DOCKER_HOST", "unix:///nonexistent.sock")
        .args(["run".as_ref(), file.as_os_str()]);
    let out = crate::support::finish_command(cmd);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains("nonexistent.sock"),
        "says what was tried: {}",
        out.both()
    );
    let lower = out.stderr.to_lowercase();
    assert!(
        lower.contains("start") && (lower.contains("podman") || lower.contains("docker")),
        "says how to start an engine: {}",
        out.both()
    );
}

/// Runs a workflow whose first step sleeps, sends `signal` once the step is running and has
/// printed `ready`, and checks the cancel: exit 130, container removed, run and step cancelled
/// in the store, `finally` still ran and saw `run.status == cancelled`. With `json`, progress is
/// read from stderr and stdout must hold the cancelled run's JSON.
fn cancel_with(signal: &str, json: bool) {
    let w = World::new();
    let yaml = format!(
        "name: cancel-me\nstages:\n  - name: s\n    actions:\n      - name: sleeper\n{}  - name: later\n    actions:\n      - name: never\n{}finally:\n  - name: report\n    with: {{ status: \"${{{{ run.status }}}}\" }}\n{}",
        sh("echo ready\nsleep 600", 8),
        sh("echo never", 8),
        sh("echo \"[COUT] status = $CO_INPUT_STATUS\"", 4)
    );
    w.write("wf.yaml", &yaml);
    let mut args = vec!["run", "wf.yaml"];
    if json {
        args.extend(["--output", "json"]);
    }
    let mut live = w.spawn_watching(&args, json);
    let first = live.wait_for_line("the run started", |l| l.starts_with("run "));
    let id = first.split_whitespace().nth(1).unwrap().to_string();
    live.wait_for_line("`==> sleeper running`", |l| {
        l.starts_with("==> sleeper running")
    });
    live.wait_for_line("the step's `ready` line", |l| l == "sleeper | ready");
    assert_eq!(
        crate::support::containers_of(&id).len(),
        1,
        "the step's container runs"
    );
    live.signal(signal);
    let out = live.finish();
    assert_eq!(out.code, 130, "{}", out.both());
    assert_nothing_left(&id);
    let shown = w.show_json(&id);
    if json {
        let printed: Value = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {}", out.both()));
        assert_eq!(printed, shown);
    }
    assert_eq!(shown["status"], "cancelled", "{shown:#}");
    let steps = shown["steps"].as_array().unwrap();
    let sleeper = steps.iter().find(|s| s["action"] == "sleeper").unwrap();
    assert_eq!(sleeper["status"], "cancelled", "{shown:#}");
    let never = steps.iter().find(|s| s["action"] == "never").unwrap();
    assert!(
        never["status"] == "cancelled" || never["status"] == "skipped",
        "{shown:#}"
    );
    let report = steps.iter().find(|s| s["action"] == "report").unwrap();
    assert_eq!(
        report["status"], "succeeded",
        "finally runs after a cancel: {shown:#}"
    );
    assert_eq!(report["outputs"]["status"], "cancelled", "{shown:#}");
    let list = w.list_json();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "cancelled");
}

/// SIGINT during a `sleep 600` step: exit 130, run cancelled in the store, container removed.
#[test]
fn sigint_cancels_the_run() {
    cancel_with("INT", false);
}

/// SIGTERM does the same; with `--output json` the cancelled run's JSON is still printed.
#[test]
fn sigterm_cancels_the_run_and_prints_its_json() {
    cancel_with("TERM", true);
}

/// `containerops run … | head`: the reader goes away while a step runs. The run ends as on
/// Ctrl-C — exit 130, the step cancelled and its container and volume removed, the run recorded
/// as cancelled — with no panic and no hang (the watchdog of `wait_with_watchdog`).
#[test]
fn a_closed_stdout_cancels_the_run_like_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let w = World::new();
    let yaml = format!(
        "name: piped\nstages:\n  - name: s\n    actions:\n      - name: sleeper\n{}",
        sh("echo ready\nsleep 600", 8)
    );
    w.write("wf.yaml", &yaml);
    let mut cmd = w.command();
    cmd.args(["run", "wf.yaml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut id = String::new();
    {
        // Read like `head` would, up to the step's line, then close the pipe.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("run ") {
                id = rest.split_whitespace().next().unwrap().to_string();
            }
            if line == "sleeper | ready" {
                break;
            }
        }
    }
    assert!(!id.is_empty(), "no `run ID started` line");
    let out = crate::support::wait_output(child, stderr);
    assert_eq!(out.code, 130, "{}", out.both());
    assert!(out.stderr.contains("stdout was closed"), "{}", out.both());
    assert!(!out.stderr.contains("panicked"), "{}", out.both());
    assert_nothing_left(&id);
    let shown = w.show_json(&id);
    assert_eq!(shown["status"], "cancelled", "{shown:#}");
    assert_eq!(shown["steps"][0]["status"], "cancelled", "{shown:#}");
}

/// `runs list -o json | true`: stdout is a pipe nobody reads. No panic (exit 101): the command
/// stops with 141, as a tool killed by SIGPIPE would.
#[test]
fn runs_list_into_a_closed_pipe_exits_without_a_panic() {
    let w = World::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = w.command();
    cmd.args(["runs", "list", "--output", "json"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let out = crate::support::wait_output(child, stderr);
    assert_eq!(out.code, 141, "{}", out.both());
    assert!(!out.stderr.contains("panicked"), "{}", out.both());
}

/// `component test DIR --input …` runs the component once and prints its outputs.
#[test]
fn component_test_prints_outputs() {
    let w = World::new();
    w.write("components/upper/component.yaml", GOOD_COMPONENT);
    let out = w.exec(&[
        "component",
        "test",
        "components/upper",
        "--input",
        "text=hello world",
        "--input",
        "times=3",
    ]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        out.stdout.contains("result = HELLO WORLD"),
        "{}",
        out.both()
    );
    assert!(out.stdout.contains("times = 3"), "{}", out.both());
    let runs = w.list_json();
    assert_eq!(runs.len(), 1, "the test run is recorded: {runs:#?}");
    let id = runs[0]["id"].as_str().unwrap();
    assert_nothing_left(id);
    let shown = w.show_json(id);
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(
        shown["steps"][0]["outputs"],
        json!({"result": "HELLO WORLD", "times": 3})
    );

    // as JSON, and a wrong input type is exit 2
    let out = w.exec(&[
        "component",
        "test",
        "components/upper",
        "--input",
        "text=abc",
        "--output",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.both());
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_run_shape(&v);
    assert_eq!(v["steps"][0]["outputs"]["result"], "ABC");
    assert_nothing_left(v["id"].as_str().unwrap());
    let out = w.exec(&[
        "component",
        "test",
        "components/upper",
        "--input",
        "text=abc",
        "--input",
        "times=many",
    ]);
    assert_eq!(out.code, 2, "{}", out.both());
    // Problems name the user's file, never the temporary workflow around the component; a
    // typo gets a suggestion.
    assert!(
        out.stderr
            .contains("components/upper/component.yaml: error: input times: expected int"),
        "{}",
        out.both()
    );
    let out = w.exec(&["component", "test", "components/upper", "--input", "txt=a"]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(
        out.stderr.contains(
            "components/upper/component.yaml: error: unknown input \"txt\"; did you mean \"text\"?"
        ) && out.stderr.contains("input text is required"),
        "{}",
        out.both()
    );
    assert!(!out.stderr.contains("component-test-"), "{}", out.both());

    // a component whose step fails: exit 1
    w.write(
        "components/fails/component.yaml",
        &format!("name: fails\nversion: 1.0.0\nimage: {BUSYBOX}\ncommand: [\"sh\", \"-c\", \"echo nope; exit 3\"]\n"),
    );
    let out = w.exec(&["component", "test", "components/fails"]);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(out.stdout.contains("exit code 3"), "{}", out.both());
}

/// A component with a `build:` section whose image is `tag`, baking `text` into /baked.txt.
fn buildable_component(w: &World, dir: &str, tag: &str, text: &str) {
    w.write(
        &format!("{dir}/component.yaml"),
        &format!(
            "name: built\nversion: 1.0.0\nimage: {tag}\nbuild:\n  context: .\n  containerfile: Containerfile\ncommand: [\"sh\", \"-c\", \"echo \\\"[COUT] baked = $(cat /baked.txt)\\\"\"]\noutputs:\n  baked: {{ type: string, required: true }}\n"
        ),
    );
    w.write(&format!("{dir}/baked.txt"), &format!("{text}\n"));
    w.write(
        &format!("{dir}/Containerfile"),
        &format!("FROM {BUSYBOX}\nCOPY baked.txt /baked.txt\n"),
    );
}

/// An image tag unique to this test's world.
fn unique_tag(w: &World, what: &str) -> String {
    let unique: String = w
        .dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("localhost/containerops-e2e/{what}-{unique}:1")
}

/// `component build DIR` builds the image from the component's Containerfile and a workflow can
/// run it; `run` builds a missing component image with a `build:` section by itself.
#[test]
fn component_build_builds_an_image() {
    let w = World::new();
    let tag = unique_tag(&w, "built");
    let _cleanup = Cleanup(tag.clone());
    buildable_component(&w, "comp", &tag, "from the build context");
    assert!(!image_exists(&tag));
    let out = w.exec(&["component", "build", "comp"]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        image_exists(&tag),
        "component build made {tag}\n{}",
        out.both()
    );
    let yaml = "name: use-built\nstages:\n  - name: s\n    actions:\n      - name: b\n        component: ./comp\n";
    let run = w.run_yaml(yaml, &[]);
    run.assert_all_succeeded();
    assert_eq!(run.out("b", "baked"), "from the build context");

    let auto = unique_tag(&w, "auto");
    let _cleanup_auto = Cleanup(auto.clone());
    buildable_component(&w, "auto", &auto, "built by run");
    assert!(!image_exists(&auto));
    let yaml = "name: auto-built\nstages:\n  - name: s\n    actions:\n      - name: b\n        component: ./auto\n";
    let run = w.run_yaml(yaml, &[]);
    run.assert_all_succeeded();
    assert_eq!(run.out("b", "baked"), "built by run");
    assert!(image_exists(&auto));

    // a component without build: cannot be built: exit 2
    w.write("components/upper/component.yaml", GOOD_COMPONENT);
    let out = w.exec(&["component", "build", "components/upper"]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(out.stderr.contains("build"), "{}", out.both());
}

/// Removes a test image at the end of a test, pass or fail.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        api_delete(&format!(
            "/v1.41/images/{}?force=true",
            crate::support::encode(&self.0)
        ));
    }
}

/// A local database written before secret inputs were kept apart (store migration 0005) holds
/// them in clear: the first command after the upgrade masks them (a local run keeps no secret
/// value), once, and the file keeps no trace of them.
#[test]
fn secret_inputs_of_local_runs_recorded_before_masking_are_masked() {
    let w = World::new();
    let value = format!("0ld-l0cal-{}", std::process::id());
    let yaml = format!(
        "name: old\ninputs:\n  token: {{ type: secret }}\n  note: {{ type: string }}\nstages:\n  \
         - name: s\n    actions:\n      - {{ name: a, image: {BUSYBOX}, command: [\"true\"] }}\n"
    );
    let run = w.run_yaml(
        &yaml,
        &[
            "--input",
            &format!("token={value}"),
            "--input",
            "note=hello",
        ],
    );
    assert_eq!(run.status(), "succeeded", "{}", run.pretty());
    // The row as a CLI before 0005 wrote it, in a database migrated up to 0006.
    let clear = json!({"token": value, "note": "hello"}).to_string();
    let url = format!("sqlite://{}", w.db.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
        for sql in [
            format!(
                "UPDATE runs SET inputs = '{clear}' WHERE id = '{}'",
                run.id()
            ),
            "DROP TABLE unsealed_runs".to_string(),
            "DELETE FROM _sqlx_migrations WHERE version = 7".to_string(),
        ] {
            conn.execute(sql.as_str()).await.unwrap();
        }
        conn.close().await.unwrap();
    });
    let stored = || {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            let mut name = w.db.as_os_str().to_os_string();
            name.push(suffix);
            bytes.extend(std::fs::read(&name).unwrap_or_default());
        }
        bytes.windows(value.len()).any(|b| b == value.as_bytes())
    };
    assert!(stored(), "the check finds the value in clear");

    let out = w.exec(&["runs", "list"]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        !stored(),
        "the local database still holds the secret input in clear"
    );
    let url = format!("{url}?mode=ro");
    let inputs: String = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
        let inputs = sqlx::query_scalar("SELECT inputs FROM runs WHERE id = $1")
            .bind(run.id())
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        inputs
    });
    assert_eq!(
        serde_json::from_str::<Value>(&inputs).unwrap(),
        json!({"token": "***", "note": "hello"})
    );
}

/// The default local store (`$XDG_DATA_HOME/containerops/containerops.db`) is owner-only: the
/// directories created for it are 0700 and the database 0600, whatever the umask.
#[cfg(unix)]
#[test]
fn the_default_local_store_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let mut cmd = w.command();
    cmd.env_remove("CONTAINEROPS_DB").args(["runs", "list"]);
    let out = crate::support::finish_command(cmd);
    assert_eq!(out.code, 0, "{}", out.both());
    let mode = |rel: &str| {
        std::fs::metadata(w.path(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("xdg"), 0o700);
    assert_eq!(mode("xdg/containerops"), 0o700);
    assert_eq!(mode("xdg/containerops/containerops.db"), 0o600);
}

/// Two runs at the same time on the same database both succeed and are both listed.
#[test]
fn two_runs_at_once_share_the_database() {
    let w = World::new();
    let yaml = format!(
        "name: together\nstages:\n  - name: s\n    actions:\n      - name: a\n{}  - name: t\n    actions:\n      - name: b\n{}",
        sh("echo \"[COUT] x = $CO_RUN_ID\"", 8),
        sh("echo \"[COUT] y = 2\"", 8)
    );
    w.write("wf.yaml", &yaml);
    let first = w.spawn(&["run", "wf.yaml", "--output", "json"]);
    let second = w.spawn(&["run", "wf.yaml", "--output", "json"]);
    let (a, b) = (first.finish(), second.finish());
    let mut ids = Vec::new();
    for out in [a, b] {
        assert_eq!(out.code, 0, "{}", out.both());
        let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_run_shape(&v);
        assert_eq!(v["status"], "succeeded");
        let id = v["id"].as_str().unwrap().to_string();
        assert_eq!(v["steps"][0]["outputs"]["x"], json!(id));
        assert_nothing_left(&id);
        assert_eq!(w.show_json(&id), v);
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    let listed: Vec<String> = w
        .list_json()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for id in &ids {
        assert!(listed.contains(id), "{id} not in {listed:?}");
    }
    let text = w.exec(&["runs", "list"]);
    assert_eq!(text.code, 0, "{}", text.both());
    for id in &ids {
        assert!(text.stdout.contains(id.as_str()), "{}", text.both());
    }
}

/// The hello example runs green, with its documented input; history commands show it.
#[test]
fn hello_example_runs_green_and_is_in_the_history() {
    let w = World::new();
    let file = repo_root().join("examples/hello/workflow.yaml");
    let run = w.run_json(&file, &["--input", "who=team"]);
    run.assert_all_succeeded();
    assert_eq!(run.json["workflow"], "hello");
    assert_eq!(run.out("say", "greeting"), "hello team");
    assert_eq!(run.out("upper", "shouted"), "HELLO TEAM");
    assert_eq!(run.step("say")["stage"], "greet");
    assert_eq!(run.step("upper")["stage"], "shout");
    assert_eq!(run.status_of("report"), "succeeded");
    assert!(
        run.stderr.contains("==> say running") && run.stderr.contains("say | "),
        "with --output json, progress and logs go to stderr:\n{}",
        run.stderr
    );

    // logs: the whole run as `ACTION | TEXT`, one action bare
    let all = w.logs(run.id(), None);
    assert!(all.contains("upper | shouting: HELLO TEAM"), "{all}");
    assert!(all.contains("report | run ended: succeeded"), "{all}");
    let one = w.logs(run.id(), Some("report"));
    assert_eq!(one.trim(), "run ended: succeeded");
    let unknown = w.exec(&["logs", run.id(), "nope"]);
    assert_eq!(unknown.code, 2, "{}", unknown.both());

    // runs list (text and JSON), runs show by a unique prefix
    let list = w.exec(&["runs", "list"]);
    assert_eq!(list.code, 0, "{}", list.both());
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(run.id()))
        .unwrap_or_else(|| panic!("{}", list.both()));
    assert!(row.contains("hello") && row.contains("succeeded"), "{row}");
    let listed = w.list_json();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], run.json["id"]);
    assert_eq!(listed[0]["status"], "succeeded");
    let prefix = &run.id()[..run.id().len() - 4];
    assert_eq!(w.show_json(prefix), run.json);
    let text = w.exec(&["runs", "show", run.id()]);
    assert_eq!(text.code, 0, "{}", text.both());
    assert!(text.stdout.contains("HELLO TEAM"), "{}", text.both());
    let missing = w.exec(&["runs", "show", "zzzz-no-such-run"]);
    assert_eq!(missing.code, 2, "{}", missing.both());

    // and the text mode shows live progress and a summary on stdout
    let out = w.exec(&["run".as_ref(), file.as_os_str()]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(out.stdout.contains("==> say running"), "{}", out.both());
    assert!(out.stdout.contains("say | "), "{}", out.both());
    assert!(out.stdout.contains("hello world"), "{}", out.both());
    let list = w.list_json();
    assert_eq!(list.len(), 2);
    assert_nothing_left(list[0]["id"].as_str().unwrap());
    assert_ne!(list[0]["id"], run.json["id"], "newest first");
    assert_eq!(list[1]["id"], run.json["id"], "newest first");
}

/// Without `CONTAINEROPS_DB` the store is `$XDG_DATA_HOME/containerops/containerops.db`, else
/// `~/.local/share/containerops/containerops.db`; without `DOCKER_HOST` the engine is found by
/// discovery (Docker's default socket first, then Podman's system socket).
#[test]
fn default_store_location_and_engine_discovery() {
    let w = World::new();
    let yaml = format!(
        "name: defaults\nstages:\n  - name: s\n    actions:\n      - name: a\n{}",
        sh("echo \"[COUT] ok = yes\"", 8)
    );
    let file = w.write("wf.yaml", &yaml);
    let xdg = w.path("xdg-data");
    let home = w.path("home");
    for (var, base, expected) in [
        (
            "XDG_DATA_HOME",
            &xdg,
            xdg.join("containerops/containerops.db"),
        ),
        (
            "HOME",
            &home,
            home.join(".local/share/containerops/containerops.db"),
        ),
    ] {
        let mut cmd = w.command();
        cmd.env_remove("CONTAINEROPS_DB")
            .env_remove("XDG_DATA_HOME")
            .env_remove("DOCKER_HOST")
            .env(var, base)
            .args([
                "run".as_ref(),
                file.as_os_str(),
                "--output".as_ref(),
                "json".as_ref(),
            ]);
        let out = crate::support::finish_command(cmd);
        assert_eq!(out.code, 0, "{var}: {}", out.both());
        let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_nothing_left(v["id"].as_str().unwrap());
        assert!(
            expected.is_file(),
            "{var}: no database at {}",
            expected.display()
        );
        let mut cmd = w.command();
        cmd.env_remove("CONTAINEROPS_DB")
            .env_remove("XDG_DATA_HOME")
            .env(var, base)
            .args(["runs", "list", "--output", "json"]);
        let out = crate::support::finish_command(cmd);
        let list: Vec<Value> = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(list.len(), 1, "{var}: {}", out.both());
        assert_eq!(list[0]["id"], v["id"]);
    }
    assert!(
        !w.db.exists(),
        "CONTAINEROPS_DB was not set, so its file is not used"
    );
}

/// The examples in `--help` name files that exist: every `examples/…` path in the help of every
/// command is in the repository.
#[test]
fn help_examples_name_files_that_exist() {
    let root = repo_root();
    let commands: &[&[&str]] = &[
        &[],
        &["run"],
        &["validate"],
        &["component", "build"],
        &["component", "test"],
        &["runs"],
        &["logs"],
        &["workflows"],
        &["workflows", "apply"],
        &["server"],
    ];
    let mut checked = 0;
    for command in commands {
        let out = std::process::Command::new(crate::support::BIN)
            .args(*command)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command:?} --help failed");
        let help = String::from_utf8(out.stdout).unwrap();
        for word in help.split_whitespace() {
            if let Some(start) = word.find("examples/") {
                let path = word[start..].trim_end_matches(|c: char| ",.;:)`'\"".contains(c));
                assert!(
                    root.join(path).exists(),
                    "`containerops {} --help` names {path}, which does not exist",
                    command.join(" ")
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 4,
        "only {checked} example paths found in the help texts"
    );
}

/// A log format that is neither `text` nor `json` is a usage error that says what to use.
#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::support::BIN)
        .args(["runs", "list"])
        .env("CONTAINEROPS_LOG_FORMAT", "yaml")
        .env("CONTAINEROPS_DB", dir.path().join("history.db"))
        .env_remove("CONTAINEROPS_SERVER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CONTAINEROPS_LOG_FORMAT"), "{stderr}");
    assert!(stderr.contains("`json`"), "{stderr}");
}

/// `--step-log-cap`: a step that prints 12.6 MB keeps 64 KiB of it in the store, the log says
/// how much was not stored, and `[COUT]` lines beyond the cap still set outputs.
#[test]
fn beyond_the_step_log_cap_lines_are_counted_not_stored() {
    let w = World::new();
    let script = "yes 'a flood line of forty bytes, give or take' | head -n 300000\necho '[COUT] done = yes'\n";
    let yaml = format!(
        "name: flood\nstages:\n  - name: s\n    actions:\n      - name: loud\n{}",
        sh(script, 8)
    );
    let run = w.run_yaml(&yaml, &["--step-log-cap", "64Ki"]);
    run.assert_all_succeeded();
    assert_eq!(run.out("loud", "done"), "yes");
    let log = w.logs(run.id(), Some("loud"));
    let lines: Vec<&str> = log.lines().collect();
    // 1560 lines of 42 bytes (41 and a newline) fit in 64 KiB.
    assert_eq!(
        lines.len(),
        1562,
        "{}",
        &log[log.len().saturating_sub(400)..]
    );
    assert!(lines[..1560]
        .iter()
        .all(|l| *l == "a flood line of forty bytes, give or take"));
    assert_eq!(
        lines[1560],
        "… the step's log cap of 64 KiB was reached: further lines are counted, not stored"
    );
    assert_eq!(
        lines[1561],
        "… 298441 lines (12534498 bytes) not stored: the step's log cap of 64 KiB was reached"
    );
    // The store stays small: the run's files hold the 64 KiB, not the 12.6 MB.
    let stored: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", w.db.display())).ok())
        .map(|m| m.len())
        .sum();
    assert!(stored < 4 << 20, "the database is {stored} bytes");
}

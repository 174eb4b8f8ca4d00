//! The component lifecycle (issue 13): `component new` gives a component that passes its own
//! tests, and `component test DIR` runs the cases of `tests:` in real containers.

use serde_json::Value;

use crate::support::{api_delete, assert_nothing_left, encode, World};

/// `component new NAME --lang L`, then `component test` on it: every case passes as generated.
/// The image is removed afterwards (its layers stay in the engine's build cache).
fn new_component_passes_its_tests(lang: &str) {
    let w = World::new();
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
    let name = format!("greeter-{lang}-{unique}");
    let out = w.exec(&["component", "new", &name, "--lang", lang]);
    assert_eq!(out.code, 0, "{}", out.both());
    let out = w.exec(&["component", "test", &name]);
    let image = format!("localhost/components/{name}:0.1.0");
    let _ = api_delete(&format!("/v1.41/images/{}?force=true", encode(&image)));
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        out.stdout.contains("3 tests: 3 passed, 0 failed"),
        "{}",
        out.both()
    );
    for run in w.list_json() {
        assert_nothing_left(run["id"].as_str().unwrap());
    }
}

#[test]
fn new_shell_component_passes_its_tests() {
    new_component_passes_its_tests("shell");
}

#[test]
fn new_python_component_passes_its_tests() {
    new_component_passes_its_tests("python");
}

/// Go and Rust install their toolchains from Debian in a build stage (a few minutes on a cold
/// cache): run when CONTAINEROPS_TEST_ALL_LANGS=1 (scripts/test.sh sets it).
#[test]
fn new_go_and_rust_components_pass_their_tests() {
    if std::env::var("CONTAINEROPS_TEST_ALL_LANGS").as_deref() != Ok("1") {
        eprintln!("skipped: set CONTAINEROPS_TEST_ALL_LANGS=1 to build the Go and Rust templates");
        return;
    }
    new_component_passes_its_tests("go");
    new_component_passes_its_tests("rust");
}

#[test]
fn component_new_refuses_bad_names_and_used_directories() {
    let w = World::new();
    let out = w.exec(&["component", "new", "Bad_Name"]);
    assert_eq!(out.code, 2, "{}", out.both());
    w.write("taken/file", "x");
    let out = w.exec(&["component", "new", "ok", "--dir", "taken"]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(out.stderr.contains("is not empty"), "{}", out.both());
    let out = w.exec(&["component", "new", "ok", "--lang", "cobol"]);
    assert_eq!(out.code, 2, "{}", out.both());
}

const CASES: &str = r#"name: wc
version: 1.0.0
description: Counts the lines of a workspace file
image: localhost/co-examples/busybox:latest
command: ["sh", "-c", "n=$(wc -l < \"$CO_WORKSPACE/$CO_INPUT_FILE\"); echo \"counted $n\"; echo \"[COUT] lines = $n\"; [ \"$n\" -lt 100 ] || { echo '[COUT] CO_RESULT = false'; }; exit $CO_INPUT_CODE"]
inputs:
  file: { type: string, required: true, description: a file in the workspace }
  code: { type: int, default: 0, description: the exit code }
outputs:
  lines: { type: int, required: true, description: its line count }
tests:
  - name: counts a fixture
    inputs: { file: in/a.txt }
    workspace:
      in/a.txt: "one\ntwo\nthree\n"
    expect:
      result: true
      outputs: { lines: 3 }
      logs: ["^counted 3$"]
  - name: wrong on purpose
    inputs: { file: b.txt, code: 4 }
    workspace: { b.txt: "x\n" }
    expect:
      exit_code: 0
      outputs: { lines: 2 }
      logs: ["^never printed"]
"#;

/// `component test DIR` runs every case, reports the differences, a summary, JUnit XML and JSON.
#[test]
fn component_test_runs_cases_and_reports_differences() {
    let w = World::new();
    w.write("wc/component.yaml", CASES);
    let out = w.exec(&["component", "test", "wc", "--junit", "report.xml"]);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(out.stdout.contains("✓ counts a fixture"), "{}", out.both());
    assert!(out.stdout.contains("✗ wrong on purpose"), "{}", out.both());
    assert!(
        out.stdout.contains("exit code: expected 0, got 4"),
        "{}",
        out.both()
    );
    assert!(
        out.stdout.contains("output lines: expected 2, got 1"),
        "{}",
        out.both()
    );
    assert!(
        out.stdout
            .contains("logs: no line matches `^never printed`"),
        "{}",
        out.both()
    );
    assert!(
        out.stdout.contains("2 tests: 1 passed, 1 failed"),
        "{}",
        out.both()
    );
    let xml = std::fs::read_to_string(w.path("report.xml")).unwrap();
    assert!(
        xml.contains("<testsuite name=\"wc@1.0.0\" tests=\"2\" failures=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"exit code: expected 0, got 4"),
        "{xml}"
    );

    let out = w.exec(&["component", "test", "wc", "--output", "json"]);
    assert_eq!(out.code, 1, "{}", out.both());
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["passed"], 1);
    assert_eq!(v["failed"], 1);
    assert_eq!(v["tests"][0]["outputs"]["lines"], 3);
    assert_eq!(v["tests"][1]["exit_code"], 4);
    for run in w.list_json() {
        assert_nothing_left(run["id"].as_str().unwrap());
    }
}

/// A case naming an undeclared input or output is a validation error at its line.
#[test]
fn cases_are_checked_against_the_contract() {
    let w = World::new();
    w.write(
        "c/component.yaml",
        &CASES.replace("inputs: { file: b.txt, code: 4 }", "inputs: { fil: b.txt }"),
    );
    let out = w.exec(&["component", "test", "c"]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(
        out.stderr.contains(
            "sets input `fil`, which the component does not declare; did you mean `file`?"
        ),
        "{}",
        out.both()
    );
}

/// `component lint DIR`: findings with file:line:col and rule; exit 1 on errors, 0 on warnings.
#[test]
fn component_lint_reports_rules_at_their_lines() {
    let w = World::new();
    w.write(
        "bad/component.yaml",
        "name: bad\nversion: 1.0.0\nimage: localhost/bad\ninputs:\n  token: { type: secret, default: hunter2, description: the token }\noutputs:\n  n: { description: a count }\n",
    );
    let out = w.exec(&["component", "lint", "bad"]);
    assert_eq!(out.code, 1, "{}", out.both());
    for line in [
        "bad/component.yaml:3:1: error: image `localhost/bad` has no tag",
        "bad/component.yaml:5:3: error: secret input `token` has a default",
        "bad/component.yaml:1:1: warning: component bad has no `description:`",
        "bad/component.yaml:7:3: warning: output `n` has no `type:`",
        "[no-tests]",
        "bad@1.0.0: 2 errors, 3 warnings",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.both());
    }
    let out = w.exec(&["component", "lint", "bad", "-o", "json"]);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["errors"], 2);
    assert_eq!(v["findings"][0]["rule"], "image-without-tag");
    assert_eq!(v["findings"][0]["line"], 3);

    // warnings only: exit 0; a new component: nothing to say
    w.write("wc/component.yaml", CASES);
    let out = w.exec(&["component", "lint", "wc"]);
    assert_eq!(out.code, 0, "{}", out.both());
    let out = w.exec(&["component", "new", "fresh"]);
    assert_eq!(out.code, 0, "{}", out.both());
    let out = w.exec(&["component", "lint", "fresh"]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        out.stdout.contains("fresh@0.1.0: 0 errors, 0 warnings"),
        "{}",
        out.both()
    );
}

/// `component publish`: build, test, push to the real loopback registry (scripts/setup-registry.sh,
/// CONTAINEROPS_TEST_REGISTRY), a catalog entry pinned by digest that a workflow runs — pulled
/// from the registry once the local copy is gone —, and versions that stay immutable.
#[test]
fn publish_pins_the_tested_image_by_digest() {
    let registry =
        std::env::var("CONTAINEROPS_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let w = World::new();
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
    let name = format!("pub-{unique}");
    assert_eq!(w.exec(&["component", "new", &name]).code, 0);
    let out = w.exec(&["component", "publish", &name, "--registry", &registry]);
    let built = format!("localhost/components/{name}:0.1.0");
    let _ = api_delete(&format!("/v1.41/images/{}?force=true", encode(&built)));
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(out.stdout.contains("3 tests: 3 passed"), "{}", out.both());
    let prefix = format!("published {name}@0.1.0 as {registry}/{name}@sha256:");
    assert!(out.stdout.contains(&prefix), "{}", out.both());
    let entry =
        std::fs::read_to_string(w.path(&format!("catalog/{name}/0.1.0/component.yaml"))).unwrap();
    let image = entry
        .lines()
        .find_map(|l| l.strip_prefix("image: "))
        .unwrap()
        .to_string();
    assert!(
        image.starts_with(&format!("{registry}/{name}@sha256:")),
        "{entry}"
    );
    assert!(!entry.contains("build:"), "{entry}");
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(w.path(&format!("catalog/{name}/0.1.0/published.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["image"], image.as_str());

    // what runs is the pushed image, pulled by digest when the engine does not have it
    let tag = format!("{registry}/{name}:0.1.0");
    let _ = api_delete(&format!("/v1.41/images/{}?force=true", encode(&tag)));
    let _ = api_delete(&format!("/v1.41/images/{}?force=true", encode(&image)));
    let file = w.write(
        "use.yaml",
        &format!("name: use\nstages:\n  - name: a\n    actions:\n      - name: hi\n        component: {name}@0.1.0\n        with: {{ who: Ada }}\n"),
    );
    let run = w.run_json(&file, &[]);
    let _ = api_delete(&format!("/v1.41/images/{}?force=true", encode(&image)));
    assert_eq!(run.status(), "succeeded", "{}", run.pretty());
    assert_eq!(run.out("hi", "greeting"), "Hello, Ada.");

    // the local catalog: list (with search), show, docs
    let out = w.exec(&["component", "list", "greets", "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.both());
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["components"][0]["name"], name.as_str());
    assert_eq!(v["components"][0]["digest"], record["digest"]);
    let out = w.exec(&["component", "show", &name, "-o", "json"]);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["image"], image.as_str());
    assert_eq!(v["outputs"][1]["type"], "int");
    let out = w.exec(&["component", "docs", &format!("{name}@0.1.0")]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        out.stdout.contains("| `greeting` | string | yes |"),
        "{}",
        out.both()
    );
    assert!(out.stdout.contains("## README"), "{}", out.both());
    assert_eq!(w.exec(&["component", "show", "nope@1.0.0"]).code, 2);

    // versions are immutable
    let out = w.exec(&["component", "publish", &name, "--registry", &registry]);
    assert_eq!(out.code, 2, "{}", out.both());
    assert!(
        out.stderr.contains("versions are immutable"),
        "{}",
        out.both()
    );
}

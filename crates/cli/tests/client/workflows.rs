//! `workflows apply` and `workflows list` against the server.

use serde_json::Value;

use crate::support::{one_step, Cli, Server};

/// A workflow with three problems (an unknown field, an unknown input, a reference to an action
/// it does not wait for).
const BROKEN: &str = "name: broken
stages:
  - name: one
    actions:
      - name: a
        image: localhost/co-examples/busybox:latest
        with: { x: \"${{ inputs.nope }}\" }
      - name: b
        image: localhost/co-examples/busybox:latest
        with: { y: \"${{ actions.a.outputs.z }}\" }
        retires: 3
";

#[test]
fn apply_stores_revisions_and_list_shows_them() {
    let server = Server::start();
    let file = server.file("hello.yaml", &one_step("hello", "echo hello $CO_INPUT_WHO"));

    let first = server.cli().args(["workflows", "apply"]).arg(&file).run();
    first.success();
    assert_eq!(first.stdout, "workflow hello revision 1\n", "{first:?}");

    // The same text again: no new revision.
    let same = server.cli().args(["workflows", "apply"]).arg(&file).run();
    same.success();
    assert_eq!(same.stdout, "workflow hello revision 1 (unchanged)\n");

    std::fs::write(&file, one_step("hello", "echo hi $CO_INPUT_WHO")).unwrap();
    let second = server
        .cli()
        .args(["workflows", "apply", "--output", "json"])
        .arg(&file)
        .run();
    second.success();
    let saved: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(saved["name"], "hello");
    assert_eq!(saved["revision"], 2);

    server.apply("other", &one_step("other", "true"));

    let table = server.cli().args(["workflows", "list"]).run();
    table.success();
    let lines = table.stdout_lines();
    assert!(lines[0].starts_with("NAME"), "{table:?}");
    let hello = lines.iter().find(|l| l.starts_with("hello ")).unwrap();
    assert_eq!(hello.split_whitespace().nth(1), Some("2"), "{table:?}");
    assert!(lines.iter().any(|l| l.starts_with("other ")), "{table:?}");

    let json = server
        .cli()
        .args(["workflows", "list", "--output", "json"])
        .run();
    json.success();
    let list: Value = serde_json::from_str(&json.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"hello") && names.contains(&"other"),
        "{names:?}"
    );
    let hello = list
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "hello")
        .unwrap();
    assert_eq!(hello["latest_revision"], 2);
}

#[test]
fn apply_prints_the_validators_diagnostics_with_the_local_file_name() {
    let server = Server::start();
    let file = server.file("broken.yaml", BROKEN);
    let applied = server
        .cli()
        .args(["--server", &server.url, "workflows", "apply"])
        .arg(&file)
        .run();
    applied.code(2);
    assert_eq!(applied.stdout, "");

    // Exactly what the local validator says about the same file.
    let local = Cli::new(&server.dir.path().join("local"))
        .arg("validate")
        .arg(&file)
        .run();
    local.code(2);
    let diagnostics = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(": error: "))
            .map(str::to_string)
            .collect()
    };
    let remote = diagnostics(&applied.stderr);
    assert_eq!(remote.len(), 3, "{applied:?}");
    assert_eq!(remote, diagnostics(&local.stderr), "{applied:?}\n{local:?}");
    let prefix = format!("{}:", file.display());
    assert!(remote.iter().all(|l| l.starts_with(&prefix)), "{remote:?}");

    // Nothing was stored.
    let list = server
        .cli()
        .args(["workflows", "list", "--output", "json"])
        .run();
    list.success();
    assert_eq!(list.stdout.trim(), "[]");
}

#[test]
fn an_unreadable_file_is_reported_without_asking_the_server() {
    let server = Server::start();
    let missing = server.dir.path().join("missing.yaml");
    let out = server
        .cli()
        .args(["workflows", "apply"])
        .arg(&missing)
        .run();
    out.code(2);
    assert!(
        out.stderr.starts_with(&format!(
            "{}: error: cannot read the file",
            missing.display()
        )),
        "{out:?}"
    );
}

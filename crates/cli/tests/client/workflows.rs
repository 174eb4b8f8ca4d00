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

/// `examples/ci-pipeline` uses its components by path: apply registers them, and the server keeps
/// the file's text exactly (comments included) with the paths bound to those versions.
#[test]
fn apply_registers_path_components_and_keeps_the_text() {
    let server = Server::start();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/ci-pipeline/workflow.yaml");
    let text = std::fs::read_to_string(&example).unwrap();
    let applied = server
        .cli()
        .args(["workflows", "apply"])
        .arg(&example)
        .run();
    applied.success();
    let components = ["git-clone", "c-build", "c-test", "package", "checksum"];
    let expected: Vec<String> = components
        .iter()
        .map(|c| format!("component {c}@1.0.0 for ./components/{c}"))
        .chain(["workflow ci-pipeline revision 1".to_string()])
        .collect();
    assert_eq!(applied.stdout_lines(), expected, "{applied:?}");
    let (status, stored) = server.get_json("/api/v1/workflows/ci-pipeline");
    assert_eq!(status, 200);
    assert_eq!(
        stored["yaml"],
        text.as_str(),
        "the text is stored unchanged"
    );
    assert_eq!(
        stored["components"]["./components/c-build"],
        "c-build@1.0.0"
    );
    let (_, graph) = server.get_json("/api/v1/workflows/ci-pipeline/graph");
    assert_eq!(
        graph["nodes"][0]["component"]["reference"],
        "./components/git-clone"
    );
    assert_eq!(
        graph["nodes"][0]["outputs"]["short-commit"]["required"],
        true
    );

    // Again: everything is there already.
    let again = server
        .cli()
        .args(["workflows", "apply"])
        .arg(&example)
        .run();
    again.success();
    assert!(
        again.stdout_lines()[0].ends_with("(unchanged)"),
        "{again:?}"
    );
    assert_eq!(
        again.stdout_lines().last().copied(),
        Some("workflow ci-pipeline revision 1 (unchanged)")
    );

    // A changed component under a registered version is refused, and nothing is stored.
    let dir = server.dir.path().join("copy");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(example.parent().unwrap())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let c_build = dir.join("components/c-build/component.yaml");
    let changed = std::fs::read_to_string(&c_build)
        .unwrap()
        .replace("Builds a C project", "Builds C");
    std::fs::write(&c_build, changed).unwrap();
    let copy = dir.join("workflow.yaml");
    std::fs::write(&copy, text.replace("Clone, build", "Clone and build")).unwrap();
    let refused = server.cli().args(["workflows", "apply"]).arg(&copy).run();
    refused.code(2);
    assert!(
        refused
            .stderr
            .contains("c-build@1.0.0 is registered on the server with a different text"),
        "{refused:?}"
    );
    assert!(
        refused.stderr.contains(&c_build.display().to_string()),
        "{refused:?}"
    );
    let (_, revisions) = server.get_json("/api/v1/workflows/ci-pipeline/revisions");
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 1);
}
